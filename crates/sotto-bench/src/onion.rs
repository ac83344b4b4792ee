//! `onion`: peeling one onion layer against the one X25519 agreement it needs, and building a
//! whole 3-hop onion against the eight scalar multiplications it needs, and the cost of the
//! optional size buckets: 3-hop builds with them on against off, and the bytes they add.

use std::hint::black_box;
use std::time::{Duration, Instant};

use sotto_crypto::{Ed25519SecretKey, OsRng};
use sotto_onion::{
    Decision, Destination, EncType, NodeKeys, OnionRequest, Padding, X25519Keypair, build,
    build_with,
};

use crate::harness::Report;

/// The storage-RPC payload size the figures are for.
const PAYLOAD: usize = 1024;

/// How long all figures are measured for, together.
const MEASURE: Duration = Duration::from_secs(8);

pub fn run(report: &mut Report) -> anyhow::Result<()> {
    let identities: Vec<Ed25519SecretKey> = (1..=4u8)
        .map(|i| Ed25519SecretKey::from_seed(&[i; 32]))
        .collect();
    let keys = identities
        .iter()
        .map(|sk| NodeKeys::from_ed25519(sk.public_key()))
        .collect::<Result<Vec<_>, _>>()?;
    let ([guard_id, ..], [guard, middle, exit, dest]) = (identities.as_slice(), keys.as_slice())
    else {
        anyhow::bail!("four nodes");
    };
    let guard_key = X25519Keypair::from_ed25519(guard_id);
    let peer = X25519Keypair::generate(&mut OsRng);
    let rpc = vec![b'x'; PAYLOAD];

    // (a) The bound: one X25519 shared secret with the library the peel uses.
    let mut x25519 = || black_box(guard_key.secret_key().diffie_hellman(peer.public_key())).is_ok();

    // (b) A guard peeling its layer of a 1 KiB storage RPC: parse the request, open the layer
    // (one X25519, one key derivation, one AEAD decryption), decide to relay.
    let to_middle = Destination::Node {
        node: *middle,
        rpc: &rpc,
    };
    let aes_body = build(&[*guard], &to_middle, EncType::AesGcm, &mut OsRng)?.body;
    let xchacha_body = build(&[*guard], &to_middle, EncType::XChaCha20, &mut OsRng)?.body;
    let peel = |body: &[u8]| -> bool {
        let Ok(request) = OnionRequest::from_client_body(body) else {
            return false;
        };
        let Ok(layer) = guard_key.open(&request) else {
            return false;
        };
        matches!(
            layer.route(),
            Ok(Decision::RelayToNode { request, .. }) if request.blob.len() > PAYLOAD
        )
    };
    let mut peel_aes = || peel(&aes_body);
    let mut peel_xchacha = || peel(&xchacha_body);

    // (c) Building a 3-hop onion to a node: four layers, each a fresh keypair (a fixed-base
    // multiplication, cheaper than X25519) and one agreement: at most 8 X25519s' worth.
    let to_dest = Destination::Node {
        node: *dest,
        rpc: &rpc,
    };
    let path = [*guard, *middle, *exit];
    let mut build_3hop = || build(&path, &to_dest, EncType::AesGcm, &mut OsRng).is_ok();
    // (d) The same with size buckets: a 1 KiB RPC lands in the 2 KiB bucket.
    let mut build_3hop_buckets = || {
        build_with(
            &path,
            &to_dest,
            EncType::AesGcm,
            Padding::SizeBuckets,
            &mut OsRng,
        )
        .is_ok()
    };

    let rates = interleaved(
        &mut [
            (32, &mut x25519),
            (32, &mut peel_aes),
            (32, &mut peel_xchacha),
            (4, &mut build_3hop),
            (4, &mut build_3hop_buckets),
        ],
        MEASURE,
    )?;
    let [x25519, peel_aes, peel_xchacha, builds, builds_buckets] = rates[..] else {
        anyhow::bail!("one rate per operation");
    };
    report.figure("x25519_per_s", x25519, "op/s");
    report.figure("peel_per_s", peel_aes, "op/s");
    report.ratio("ratio", peel_aes, x25519);
    report.figure("peel_aes_gcm_per_s", peel_aes, "op/s");
    report.ratio("ratio_aes_gcm", peel_aes, x25519);
    report.figure("peel_xchacha20_per_s", peel_xchacha, "op/s");
    report.ratio("ratio_xchacha20", peel_xchacha, x25519);
    report.figure("build_3hop_per_s", builds, "op/s");
    report.ratio("build_ratio_vs_8_x25519", builds, x25519 / 8.0);
    report.figure("build_3hop_buckets_per_s", builds_buckets, "op/s");
    report.ratio("build_buckets_ratio_vs_off", builds_buckets, builds);

    // The bytes buckets add to the guard's body, averaged over RPCs of every length from 0 to
    // 64 KiB in steps of 61 bytes.
    let (mut off_bytes, mut on_bytes, mut n) = (0usize, 0usize, 0u32);
    for len in (0..=64 << 10).step_by(61) {
        let rpc = vec![b'x'; len];
        let dest = Destination::Node {
            node: *dest,
            rpc: &rpc,
        };
        off_bytes += build(&path, &dest, EncType::AesGcm, &mut OsRng)?.body.len();
        on_bytes += build_with(
            &path,
            &dest,
            EncType::AesGcm,
            Padding::SizeBuckets,
            &mut OsRng,
        )?
        .body
        .len();
        n += 1;
    }
    let overhead = on_bytes.saturating_sub(off_bytes) as f64 / f64::from(n.max(1));
    report.figure("buckets_avg_overhead_bytes_0_64k", overhead, "B");
    report.ratio(
        "buckets_bytes_ratio_0_64k",
        on_bytes as f64,
        off_bytes as f64,
    );
    Ok(())
}

/// Calls each `(batch, op)` in turn, `batch` calls at a time, for about `total`, and returns each
/// op's calls per second from its median batch time. Other processes share this machine: the
/// alternation puts their load on every op alike, and the median ignores batches a preemption
/// landed in. An op returning `false` is an error.
fn interleaved(
    ops: &mut [(u32, &mut dyn FnMut() -> bool)],
    total: Duration,
) -> anyhow::Result<Vec<f64>> {
    let mut batches: Vec<Vec<Duration>> = vec![Vec::new(); ops.len()];
    let start = Instant::now();
    let mut round = 0;
    while round < 3 || start.elapsed() < total {
        for ((batch, op), times) in ops.iter_mut().zip(&mut batches) {
            let t = Instant::now();
            for _ in 0..*batch {
                anyhow::ensure!(op(), "a benchmarked operation failed");
            }
            // The first round warms up.
            if round > 0 {
                times.push(t.elapsed());
            }
        }
        round += 1;
    }
    Ok(ops
        .iter()
        .zip(&mut batches)
        .map(|((batch, _), times)| {
            times.sort();
            let median = times.get(times.len() / 2).copied().unwrap_or_default();
            f64::from(*batch) / median.as_secs_f64().max(f64::MIN_POSITIVE)
        })
        .collect())
}
