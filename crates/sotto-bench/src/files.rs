//! `cargo xtask bench files`: a 10 MB attachment (the largest sendable file, 9,956,278 bytes)
//! sent by Alice and downloaded by Bob through 3-hop onion paths on a local testnet (5 nodes
//! and a file server, subnet 124), with sotto-client's attachment pipeline; against the
//! attachment encryption throughput measured in the same run.
//!
//! Figures: `bytes`; `upload_mb_s` (one POST through an onion path, the encrypted body) and
//! `download_mb_s` (one GET); `crypto_mb_s` (deterministic encryption of the same file);
//! `transfer_ratio` = end-to-end MB/s (Alice's `send_attachments`: encrypt, upload, send the
//! message; then Bob's `download_attachment`: download, decrypt, verify, save) over
//! `crypto_mb_s`; `peak_rss_mb_file_server` and `peak_rss_mb_client` (this process, which
//! runs both clients); `voice_encode_realtime_x` (seconds of a 30 s WAV transcoded to MP3
//! per second).

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context as _, anyhow};
use sotto_attachment::deterministic;
use sotto_client::attachments::{Downloaded, SendAs, TransferPolicy, file_server_of, stage_bytes};
use sotto_client::{Account, Client, ClientConfig, NetworkFile, OnionConfig, OnionNetwork};
use sotto_onion::V4Request;
use sotto_testkit::net::{Testnet, TestnetConfig};

use crate::harness::Report;

/// Second octet of every address.
const SUBNET: u8 = 124;
/// The directory's port.
const PORT: u16 = 24_240;
/// The largest file that fits the file server's cap once encrypted.
const BYTES: usize = 9_956_278;

fn bin_dir() -> anyhow::Result<PathBuf> {
    let dir = crate::node::bin_dir()?;
    if !dir.join("sotto-fileserver").exists() {
        let mut cmd = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
        cmd.args(["build", "--quiet", "-p", "sotto-fileserver"]);
        if dir.file_name() == Some("release".as_ref()) {
            cmd.arg("--release");
        }
        sotto_testkit::net::without_cargo_run_env(&mut cmd);
        let status = cmd.status().context("running cargo build")?;
        if !status.success() {
            return Err(anyhow!("cargo build -p sotto-fileserver failed"));
        }
    }
    Ok(dir)
}

/// Peak resident set of a process (`VmHWM`), MB.
fn peak_rss_mb(pid: &str) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

fn mb_s(bytes: usize, d: Duration) -> f64 {
    bytes as f64 / 1e6 / d.as_secs_f64().max(1e-9)
}

pub fn run(report: &mut Report) -> anyhow::Result<()> {
    let dir = tempfile::tempdir().context("creating the testnet directory")?;
    let mut cfg = TestnetConfig::new(dir.path().join("net"), bin_dir()?);
    cfg.nodes = 5;
    cfg.subnet = SUBNET;
    cfg.port = PORT;
    cfg.proof_interval_s = 1;
    cfg.decommission_after_s = 120;
    let mut net = Testnet::start(cfg)?;
    net.start_file_server("")?;
    net.wait_ready(Duration::from_secs(60))?;
    let result = measure(&mut net, dir.path(), report);
    if result.is_err() {
        eprintln!("{}", net.logs_tail(20));
    }
    result
}

fn measure(net: &mut Testnet, dir: &std::path::Path, report: &mut Report) -> anyhow::Result<()> {
    let file = NetworkFile::parse(net.network_file().to_string().as_bytes())?;
    let entry = file
        .file_server
        .clone()
        .ok_or_else(|| anyhow!("no file server in the network file"))?;
    let server = file_server_of(&entry)?;
    let onion_server = entry.onion_server()?;
    let fs_pid = net
        .file_server
        .as_ref()
        .and_then(sotto_testkit::net::Process::pid)
        .ok_or_else(|| anyhow!("the file server is not running"))?
        .to_string();

    let data: Vec<u8> = (0..BYTES).map(|i| (i * 7 % 251) as u8).collect();
    report.figure("bytes", BYTES as f64, "B");

    // The bound: deterministic encryption of the same file, in this run.
    let seed = sotto_crypto::SecretBytes::new([7u8; 32]);
    let start = Instant::now();
    let mut runs = 0;
    let mut encrypted = None;
    while runs < 3 || start.elapsed() < Duration::from_secs(2) {
        encrypted = Some(deterministic::encrypt(
            &seed,
            deterministic::Domain::Attachment,
            &data,
        )?);
        runs += 1;
    }
    let crypto_mb_s = mb_s(BYTES * runs, start.elapsed());
    report.figure("crypto_mb_s", crypto_mb_s, "MB/s");
    let blob = encrypted
        .ok_or_else(|| anyhow!("no encryption"))?
        .ciphertext;

    // Voice: 30 s of WAV transcoded to MP3.
    let wav = sotto_testkit::media::sine_wav(440.0, 30.0, 44_100);
    let start = Instant::now();
    let voice = sotto_media::voice::prepare(&wav)?;
    let took = start.elapsed();
    report.figure(
        "voice_encode_realtime_x",
        voice.duration.as_secs_f64() / took.as_secs_f64().max(1e-9),
        "x",
    );

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let connect = || async {
            let mut last = None;
            for _ in 0..30 {
                match OnionNetwork::connect(&file, OnionConfig::default()).await {
                    Ok(n) => return Ok(n),
                    Err(e) => last = Some(e),
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            Err(anyhow!("cannot connect: {last:?}"))
        };
        // Raw transfers of the encrypted body through 3-hop onion paths.
        let onion = connect().await?;
        let upload = V4Request {
            method: "POST".into(),
            endpoint: "/file".into(),
            headers: vec![("Content-Type".into(), "application/octet-stream".into())],
            body: Some(blob.clone()),
        };
        let timeout = Duration::from_secs(120);
        // A first upload warms the paths.
        let r = onion
            .server_request(&onion_server, &upload, timeout)
            .await?;
        anyhow::ensure!(r.code == 200, "upload answered {}", r.code);
        let start = Instant::now();
        let r = onion
            .server_request(&onion_server, &upload, timeout)
            .await?;
        let up = start.elapsed();
        anyhow::ensure!(r.code == 200, "upload answered {}", r.code);
        let json: serde_json::Value = serde_json::from_slice(r.body.as_deref().unwrap_or(&[]))?;
        let id = json
            .get("id")
            .and_then(serde_json::Value::as_str)
            .ok_or_else(|| anyhow!("no id"))?
            .to_owned();
        let start = Instant::now();
        let r = onion
            .server_request(
                &onion_server,
                &V4Request {
                    method: "GET".into(),
                    endpoint: format!("/file/{id}"),
                    headers: vec![],
                    body: None,
                },
                timeout,
            )
            .await?;
        let down = start.elapsed();
        anyhow::ensure!(
            r.code == 200 && r.body.as_ref().map(Vec::len) == Some(blob.len()),
            "download answered {}",
            r.code
        );
        report.figure("upload_mb_s", mb_s(blob.len(), up), "MB/s");
        report.figure("download_mb_s", mb_s(blob.len(), down), "MB/s");

        // End to end through the client library.
        let alice = Account::from_ed25519_seed(&[11; 32]);
        let bob = Account::from_ed25519_seed(&[12; 32]);
        let client = |account: Account, name: &'static str| {
            let db = dir.join(format!("{name}.db"));
            async move {
                let mut config = ClientConfig::new(db);
                config.background = false;
                Client::connect(connect().await?, account, config)
                    .await
                    .map_err(anyhow::Error::from)
            }
        };
        let a = client(alice, "alice").await?;
        let b = client(bob.clone(), "bob").await?;
        let staged = stage_bytes(data.clone(), Some("bench.bin"), SendAs::File)?;
        let policy = TransferPolicy::default();
        let start = Instant::now();
        a.send_attachments(
            &bob.session_id(),
            vec![staged],
            None,
            None,
            &server,
            &policy,
            &None,
        )
        .await?;
        let send = start.elapsed();
        let mut message = None;
        for _ in 0..100 {
            b.poll_once().await?;
            let alice_id = a.session_id();
            message = b
                .with_engine(|e| e.messages(&alice_id, 10))?
                .into_iter()
                .find(|m| !m.outgoing);
            if message.is_some() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let message = message.ok_or_else(|| anyhow!("Bob never got the message"))?;
        let start = Instant::now();
        let saved = b
            .download_attachment(message.id, 0, &dir.join("out"), &policy, &None)
            .await?;
        let fetch = start.elapsed();
        let Downloaded::Saved(path) = saved else {
            return Err(anyhow!("the file expired"));
        };
        anyhow::ensure!(std::fs::read(&path)? == data, "the download differs");
        let e2e = mb_s(BYTES, send + fetch);
        report.figure("end_to_end_mb_s", e2e, "MB/s");
        report.figure("send_s", send.as_secs_f64(), "s");
        report.figure("fetch_s", fetch.as_secs_f64(), "s");
        report.ratio("transfer_ratio", e2e, crypto_mb_s);
        Ok::<_, anyhow::Error>(())
    })?;
    report.figure("peak_rss_mb_file_server", peak_rss_mb(&fs_pid), "MB");
    report.figure("peak_rss_mb_client", peak_rss_mb("self"), "MB");
    Ok(())
}
