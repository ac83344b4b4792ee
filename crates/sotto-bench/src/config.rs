//! `config`: libsession config messages. The merge of a Contacts config holding [`CONTACTS`]
//! contacts with [`DIFFS`] concurrent edits of it; config encryption against raw
//! XChaCha20-Poly1305 over the same bytes; and a change on one device of an account seen by
//! another device over a local testnet (push, then the other device's fetch and merge).

use std::time::{Duration, Instant};

use anyhow::Context as _;
use sotto_client::{Account, NetworkFile};
use sotto_config::{ConfigMessage, Contact, Contacts, encrypt, seal_for_push};
use sotto_crypto::{SymmetricKey, xchacha20poly1305_encrypt};
use sotto_testkit::net::{Testnet, TestnetConfig};

use crate::harness::{Report, mb_per_second, onion_client, per_second};
use crate::node::{bin_dir, now_ms};

/// Contacts in the merged config.
const CONTACTS: usize = 1000;
/// Concurrent edits (devices) merged with it.
const DIFFS: usize = 10;
/// Nodes of the sync testnet (one swarm).
const NODES: usize = 5;
/// Second octet of the testnet's addresses.
const SUBNET: u8 = 113;
/// The directory's port; nodes listen on the next ones.
const PORT: u16 = 23_980;
/// Changes timed from device A to device B.
const SYNC_SAMPLES: usize = 10;

fn contact_id(i: usize) -> Vec<u8> {
    let mut id = vec![0x05u8; 33];
    for (slot, byte) in id.iter_mut().skip(1).zip(i.to_be_bytes()) {
        *slot = byte;
    }
    id
}

fn base_config() -> ConfigMessage {
    let mut next = ConfigMessage::empty().increment();
    for i in 0..CONTACTS {
        Contacts::set(
            next.data_mut(),
            &Contact {
                session_id: contact_id(i),
                name: format!("contact {i}"),
                nickname: Some(format!("nick {i}")),
                approved: true,
                approved_me: true,
                created: 1_700_000_000,
                ..Contact::default()
            },
        );
    }
    next.finish(None)
}

pub fn run(report: &mut Report) -> anyhow::Result<()> {
    // Merge: the base and DIFFS devices' concurrent edits of it (each renames one contact and
    // blocks another).
    let base = base_config();
    let edits: Vec<ConfigMessage> = (0..DIFFS)
        .map(|d| {
            let mut next = base.increment();
            let id = contact_id(d * 7);
            if let Some(mut c) = Contacts::get(next.data(), &id) {
                c.nickname = Some(format!("renamed by device {d}"));
                Contacts::set(next.data_mut(), &c);
            }
            if let Some(mut c) = Contacts::get(next.data(), &contact_id(d * 13 + 1)) {
                c.blocked = true;
                Contacts::set(next.data_mut(), &c);
            }
            next.finish(None)
        })
        .collect();
    let inputs: Vec<&[u8]> = core::iter::once(base.serialized())
        .chain(edits.iter().map(ConfigMessage::serialized))
        .collect();
    let merged = ConfigMessage::merge(&inputs, None, None)?;
    anyhow::ensure!(
        Contacts::list(merged.message.data()).len() == CONTACTS,
        "the merge lost contacts"
    );
    let merges = per_second(|| ConfigMessage::merge(&inputs, None, None));
    report.figure("contacts", CONTACTS as f64, "contacts");
    report.figure("diffs", DIFFS as f64, "messages");
    report.figure("config_bytes", base.serialized().len() as f64, "bytes");
    report.figure("merge_ms", 1e3 / merges, "ms");
    let parses = per_second(|| ConfigMessage::parse(base.serialized(), None));
    report.figure("parse_ms", 1e3 / parses, "ms");
    report.ratio("merge_over_parses", 1e3 / merges, 1e3 / parses);

    // Encryption: config_encrypt (key and nonce hashing included) and the whole push seal
    // (compression, padding) against raw XChaCha20-Poly1305 over the same bytes.
    let key_base = [7u8; 32];
    let plain = base.serialized().to_vec();
    let raw_key = SymmetricKey::new([3; 32]);
    let raw = mb_per_second(plain.len(), || {
        xchacha20poly1305_encrypt(&raw_key, &[4; 24], b"", &plain)
    });
    let config = mb_per_second(plain.len(), || encrypt(&plain, &key_base, "Contacts"));
    let sealed = mb_per_second(plain.len(), || seal_for_push(&plain, &key_base, "Contacts"));
    report.figure("xchacha20poly1305_mb_per_s", raw, "MB/s");
    report.figure("config_encrypt_mb_per_s", config, "MB/s");
    report.figure("seal_for_push_mb_per_s", sealed, "MB/s");
    report.ratio("encrypt_ratio", config, raw);
    report.ratio("seal_ratio", sealed, raw);

    sync(report)
}

/// Device A changes a contact and pushes; device B syncs until it shows the change.
fn sync(report: &mut Report) -> anyhow::Result<()> {
    let dir = tempfile::tempdir().context("creating the testnet directory")?;
    let mut cfg = TestnetConfig::new(dir.path().to_owned(), bin_dir()?);
    cfg.nodes = NODES;
    cfg.subnet = SUBNET;
    cfg.port = PORT;
    cfg.decommission_after_s = 60;
    let mut net = Testnet::start(cfg)?;
    net.wait_ready(Duration::from_secs(40))?;
    let file = NetworkFile::parse(&serde_json::to_vec(&net.network_file())?)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting tokio")?;
    let samples = runtime.block_on(async {
        let client =
            |name: &str| onion_client(&file, dir.path().join(format!("{name}.db")), [0xc0; 32]);
        let (a, b) = (client("a").await?, client("b").await?);
        let peer = Account::from_ed25519_seed(&[0xc1; 32]).session_id();
        // Warm up paths and swarm lookups.
        a.sync_configs().await?;
        b.sync_configs().await?;
        let mut samples = Vec::with_capacity(SYNC_SAMPLES);
        for i in 0..SYNC_SAMPLES {
            let nickname = format!("sample {i}");
            a.with_engine(|e| e.add_contact(&peer, Some(&nickname), now_ms()))?;
            let start = Instant::now();
            a.push_configs().await?;
            loop {
                b.sync_configs().await?;
                let seen = b
                    .with_engine(|e| e.contact(&peer))?
                    .and_then(|c| c.nickname)
                    .is_some_and(|n| n == nickname);
                if seen {
                    break;
                }
                anyhow::ensure!(
                    start.elapsed() < Duration::from_secs(30),
                    "device B never saw change {i}"
                );
            }
            samples.push(start.elapsed().as_secs_f64() * 1e3);
        }
        anyhow::Ok(samples)
    });
    let mut samples = match samples {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{}", net.logs_tail(20));
            return Err(e);
        }
    };
    samples.sort_by(f64::total_cmp);
    let p50 = samples.get(samples.len() / 2).copied().unwrap_or(0.0);
    report.figure("sync_samples", samples.len() as f64, "changes");
    report.figure("sync_p50_ms", p50, "ms");
    report.figure("sync_max_ms", samples.last().copied().unwrap_or(0.0), "ms");
    Ok(())
}
