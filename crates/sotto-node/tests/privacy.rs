//! Privacy and fairness over real processes (`sotto_testkit::net`, subnets 140–149): an onion
//! request's target sees only the exit node and the guard never learns the target, shown from
//! the nodes' own debug logs (which never hold the client's address); and a flood from one client address is rate limited while another
//! address keeps being served.
//!
//! The nodes run with onion handling logged at debug level (`TestnetConfig::log_filter`).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

mod common;

use sotto_crypto::OsRng;
use sotto_onion::{Destination, EncType, NodeKeys};
use sotto_testkit::net::{Testnet, TestnetConfig};
use sotto_transport::{HttpsClient, Response};

/// What the node processes log: onion handling at debug, the rest at info.
const NODE_LOG: &str = "info,sotto_node::onion=debug";

const INFO_RPC: &[u8] = br#"{"method":"info","params":{}}"#;

/// A running network in a temporary directory; prints the end of every log if the test fails.
struct Net {
    net: Testnet,
    _dir: tempfile::TempDir,
}

impl Net {
    /// Starts the network and waits until the directory lists every node (off the async
    /// runtime: the harness blocks).
    async fn start(subnet: u8, nodes: usize) -> Self {
        tokio::task::spawn_blocking(move || Self::start_blocking(subnet, nodes))
            .await
            .unwrap()
    }

    fn start_blocking(subnet: u8, nodes: usize) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut cfg = TestnetConfig::new(dir.path().join("net"), common::bin_dir());
        cfg.log_filter = NODE_LOG.to_owned();
        cfg.subnet = subnet;
        cfg.nodes = nodes;
        let mut net = Testnet::start(cfg).unwrap();
        let ready = net.wait_ready(Duration::from_secs(30));
        let this = Self { net, _dir: dir };
        ready.unwrap();
        this
    }

    /// A node's log without terminal colour codes.
    fn log(&self, node: usize) -> String {
        strip_ansi(&std::fs::read_to_string(self.net.nodes[node].log_path()).unwrap())
    }

    async fn post(
        &self,
        client: &HttpsClient,
        node: usize,
        path: &str,
        body: Vec<u8>,
    ) -> Option<Response> {
        let n = &self.net.nodes[node];
        client
            .post(n.addr, &n.pubkey, path, &[], body, Duration::from_secs(10))
            .await
            .ok()
    }
}

impl Drop for Net {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("{}", self.net.logs_tail(60));
        }
    }
}

fn strip_ansi(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            // CSI: ESC [ parameters final-byte
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

fn short(key: &sotto_crypto::Ed25519PublicKey) -> String {
    hex::encode(&key.0[..4])
}

fn ip(subnet: u8, host: u8) -> Ipv4Addr {
    Ipv4Addr::new(127, subnet, 0, host)
}

/// Guard (node 0) → middle (1) → exit (2) → a storage RPC on node 3, from a client on its own
/// address. The answer decrypts at the client; each node's debug log shows only its neighbours.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn onion_target_sees_the_exit_and_the_guard_never_sees_the_target() {
    const S: u8 = 140;
    let started = Instant::now();
    let net = Net::start(S, 4).await;
    let client_ip = ip(S, 200);
    let client = HttpsClient::with_local_addr(IpAddr::V4(client_ip));
    let keys: Vec<NodeKeys> = net
        .net
        .nodes
        .iter()
        .map(|n| NodeKeys::from_ed25519(n.pubkey).unwrap())
        .collect();

    // The nodes learn each other from the directory a little after it lists them: retry (a
    // fresh onion each time) until the request goes through.
    let deadline = Instant::now() + Duration::from_secs(30);
    let answer = loop {
        let onion = sotto_onion::build(
            &keys[..3],
            &Destination::Node {
                node: keys[3],
                rpc: INFO_RPC,
            },
            EncType::XChaCha20,
            &mut OsRng,
        )
        .unwrap();
        let resp = net.post(&client, 0, "/onion_req/v2", onion.body).await;
        if let Some(resp) = resp.filter(|r| r.status == 200) {
            break onion.response_key.open_v3(&resp.body).unwrap();
        }
        assert!(
            Instant::now() < deadline,
            "the onion request never got through"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(answer.status, 200, "{}", answer.body);
    let info: serde_json::Value = serde_json::from_str(&answer.body).unwrap();
    assert!(info.get("version").is_some(), "{info}");

    let addr = |i: usize| ip(S, 11 + i as u8).to_string();
    let name = |i: usize| short(&net.net.nodes[i].pubkey);
    let onion_lines = |i: usize| -> Vec<String> {
        net.log(i)
            .lines()
            .filter(|l| l.contains("onion"))
            .map(str::to_owned)
            .collect()
    };
    let has = |lines: &[String], parts: &[&str]| {
        lines.iter().any(|l| parts.iter().all(|p| l.contains(p)))
    };
    let client_ip = client_ip.to_string();
    let target_hex = hex::encode(net.net.nodes[3].pubkey.0);

    // The guard: a request from a client (whose address no node logs, at any level), the
    // middle node as next hop, never the target.
    let guard = onion_lines(0);
    assert!(has(&guard, &["onion request from a client"]), "{guard:#?}");
    for i in 0..4 {
        assert!(
            !net.log(i).contains(&client_ip),
            "node {i}'s log names the client's address"
        );
    }
    assert!(
        has(&guard, &["relaying onion request", &name(1)]),
        "{guard:#?}"
    );
    for line in &guard {
        assert!(
            !line.contains(&name(3)) && !line.contains(&addr(3)) && !line.contains(&target_hex),
            "the guard's log names the target: {line}"
        );
        assert!(!line.contains("serving a storage rpc"), "{line}");
    }
    // The middle: from the guard, to the exit.
    let middle = onion_lines(1);
    assert!(
        has(&middle, &["onion request from a node", &addr(0), &name(0)]),
        "{middle:#?}"
    );
    assert!(
        has(&middle, &["relaying onion request", &name(2)]),
        "{middle:#?}"
    );
    // The exit: from the middle, to the target.
    let exit = onion_lines(2);
    assert!(
        has(&exit, &["onion request from a node", &addr(1), &name(1)]),
        "{exit:#?}"
    );
    assert!(
        has(&exit, &["relaying onion request", &name(3)]),
        "{exit:#?}"
    );
    // The target: the request arrives from the exit and is served there; the client's address
    // appears nowhere in its log, and only the exit delivers onion requests to it.
    let target = onion_lines(3);
    assert!(
        has(&target, &["onion request from a node", &addr(2), &name(2)]),
        "{target:#?}"
    );
    assert!(has(&target, &["serving a storage rpc"]), "{target:#?}");
    assert!(
        !net.log(3).contains(&client_ip),
        "the target's log names the client"
    );
    for line in target.iter().filter(|l| l.contains("onion request from")) {
        assert!(
            line.contains(&addr(2)),
            "the target got an onion request from elsewhere: {line}"
        );
    }
    eprintln!("onion privacy test took {:?}", started.elapsed());
}

/// One client address floods `info` requests at about 1,000 per second (16 tasks, one request
/// every 16 ms each: over three times the 300/s refill) while another address asks every 20 ms:
/// the flood gets 429s, the other address only 200s. Bounded to 4,000 flood requests and 10 s.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_from_one_address_is_limited_while_another_is_served() {
    const S: u8 = 141;
    const FLOOD_MAX: usize = 4_000;
    const TASKS: usize = 16;
    let started = Instant::now();
    let net = Arc::new(Net::start(S, 1).await);
    let flooder = Arc::new(HttpsClient::with_local_addr(IpAddr::V4(ip(S, 200))));
    let polite = HttpsClient::with_local_addr(IpAddr::V4(ip(S, 201)));

    // The node answers before the flood starts (asked from a third address).
    let probe = HttpsClient::with_local_addr(IpAddr::V4(ip(S, 202)));
    let deadline = Instant::now() + Duration::from_secs(20);
    while net
        .post(&probe, 0, "/storage_rpc/v1", INFO_RPC.to_vec())
        .await
        .is_none_or(|r| r.status != 200)
    {
        assert!(Instant::now() < deadline, "the node never answered info");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let sent = Arc::new(AtomicUsize::new(0));
    let ok = Arc::new(AtomicUsize::new(0));
    let limited = Arc::new(AtomicUsize::new(0));
    let other = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let end = Instant::now() + Duration::from_secs(10);
    let mut tasks = Vec::new();
    for _ in 0..TASKS {
        let (net, flooder) = (net.clone(), flooder.clone());
        let (sent, ok, limited, other, stop) = (
            sent.clone(),
            ok.clone(),
            limited.clone(),
            other.clone(),
            stop.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(16));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                if stop.load(Ordering::Relaxed)
                    || Instant::now() >= end
                    || sent.fetch_add(1, Ordering::Relaxed) >= FLOOD_MAX
                {
                    break;
                }
                let counter = match net
                    .post(&flooder, 0, "/storage_rpc/v1", INFO_RPC.to_vec())
                    .await
                    .map(|r| r.status)
                {
                    Some(200) => &ok,
                    Some(429) => &limited,
                    _ => &other,
                };
                counter.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }

    // The other address, paced, while the flood runs; it counts only answers received after
    // the flood has been limited at least once.
    let mut polite_statuses = Vec::new();
    let mut served_during_limit = 0;
    let mut tick = tokio::time::interval(Duration::from_millis(20));
    while Instant::now() < end && !tasks.iter().all(|t| t.is_finished()) {
        tick.tick().await;
        let limited_before = limited.load(Ordering::Relaxed) > 0;
        let status = net
            .post(&polite, 0, "/storage_rpc/v1", INFO_RPC.to_vec())
            .await
            .map(|r| r.status);
        let flooding = !tasks.iter().all(|t| t.is_finished());
        if limited_before && flooding && status == Some(200) {
            served_during_limit += 1;
        }
        polite_statuses.push(status);
        if served_during_limit >= 50 && limited.load(Ordering::Relaxed) >= 100 {
            break;
        }
    }
    stop.store(true, Ordering::Relaxed);
    for t in tasks {
        t.await.unwrap();
    }
    let (ok, limited, other) = (
        ok.load(Ordering::Relaxed),
        limited.load(Ordering::Relaxed),
        other.load(Ordering::Relaxed),
    );
    eprintln!(
        "flood: {ok} × 200, {limited} × 429, {other} other; other address: {} requests, {served_during_limit} served while the flood was limited; {:?}",
        polite_statuses.len(),
        started.elapsed()
    );
    assert!(
        limited > 0,
        "the flood was never rate limited ({ok} served)"
    );
    assert_eq!(other, 0, "flood requests failed otherwise");
    assert!(
        polite_statuses.iter().all(|s| *s == Some(200)),
        "the other address was not always served: {polite_statuses:?}"
    );
    assert!(
        served_during_limit >= 50,
        "the other address was served only {served_during_limit} times during the flood"
    );
}
