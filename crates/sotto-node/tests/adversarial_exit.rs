//! Adversarial tests of the onion exit and relay errors over real processes
//! (`sotto_testkit::net`, subnets 180–189):
//! - an exit asked to POST to a loopback "admin" server, through a `host` that smuggles a
//!   port, path, query, fragment or user info into the URL, or through a plain loopback
//!   target while the node does not allow private targets, refuses, and the admin server
//!   receives nothing (S-06);
//! - when a hop cannot reach the next node, the bytes that pass back through the guard never
//!   name that node, while the client, holding every hop's key, still learns which node failed
//!   and who reported it (S-07);
//! - nodes logging at debug level never write the client's address (S-14).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

mod common;

use sotto_crypto::{Ed25519PublicKey, OsRng};
use sotto_onion::{
    Destination, EncType, HopKey, NodeKeys, OnionRequest, X25519Keypair, layer, relay_error,
};
use sotto_testkit::net::{Testnet, TestnetConfig};
use sotto_transport::{HttpsClient, Response};

const INFO_RPC: &[u8] = br#"{"method":"info","params":{}}"#;

struct Net {
    net: Testnet,
    _dir: tempfile::TempDir,
}

impl Drop for Net {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("{}", self.net.logs_tail(60));
        }
    }
}

impl Net {
    async fn start(subnet: u8, nodes: usize, log_filter: &str, allow_private: bool) -> Self {
        let log_filter = log_filter.to_owned();
        tokio::task::spawn_blocking(move || {
            let dir = tempfile::tempdir().unwrap();
            let mut cfg = TestnetConfig::new(dir.path().join("net"), common::bin_dir());
            cfg.subnet = subnet;
            cfg.nodes = nodes;
            cfg.log_filter = log_filter;
            cfg.allow_private_targets = allow_private;
            let mut net = Testnet::start(cfg).unwrap();
            let ready = net.wait_ready(Duration::from_secs(30));
            let this = Self { net, _dir: dir };
            ready.unwrap();
            this
        })
        .await
        .unwrap()
    }

    fn keys(&self) -> Vec<NodeKeys> {
        self.net
            .nodes
            .iter()
            .map(|n| NodeKeys::from_ed25519(n.pubkey).unwrap())
            .collect()
    }

    /// A node's log without terminal colour codes.
    fn log(&self, node: usize) -> String {
        strip_ansi(&std::fs::read_to_string(self.net.nodes[node].log_path()).unwrap())
    }

    async fn to_guard(&self, client: &HttpsClient, body: Vec<u8>) -> Option<Response> {
        let guard = &self.net.nodes[0];
        client
            .post(
                guard.addr,
                &guard.pubkey,
                "/onion_req/v2",
                &[],
                body,
                Duration::from_secs(15),
            )
            .await
            .ok()
    }

    /// Sends `info` to the last node through the others until it answers (the nodes learn
    /// each other from the directory a little after it lists them).
    async fn wait_onion_ready(&self, client: &HttpsClient) {
        let keys = self.keys();
        let (path, target) = keys.split_at(keys.len() - 1);
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let onion = sotto_onion::build(
                path,
                &Destination::Node {
                    node: target[0],
                    rpc: INFO_RPC,
                },
                EncType::XChaCha20,
                &mut OsRng,
            )
            .unwrap();
            if let Some(resp) = self.to_guard(client, onion.body).await
                && resp.status == 200
                && onion.response_key.open_v3(&resp.body).unwrap().status == 200
            {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "onion requests never got through"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

fn strip_ansi(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
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

/// Wraps `exit_json` (the routing JSON the exit reads) and an inner blob in one layer per
/// path node, as a client would, but with the routing JSON given verbatim. Returns the
/// guard's body and the hop keys, guard first.
fn onion_with_exit_json(path: &[NodeKeys], exit_json: &str) -> (Vec<u8>, Vec<HopKey>) {
    let mut blob = b"inner layer for a server".to_vec();
    let mut routing = exit_json.to_owned();
    let mut keys = Vec::new();
    let mut outer = None;
    for node in path.iter().rev() {
        let eph = X25519Keypair::generate(&mut OsRng);
        let key = HopKey::for_client(EncType::XChaCha20, &eph, &node.x25519).unwrap();
        blob = key
            .encrypt(&layer::join(&blob, routing.as_bytes()).unwrap(), &mut OsRng)
            .unwrap();
        routing = format!(
            r#"{{"destination":"{}","ephemeral_key":"{}","enc_type":"xchacha20"}}"#,
            hex::encode(node.ed25519.0),
            hex::encode(eph.public_key().0)
        );
        keys.push(key);
        outer = Some(*eph.public_key());
    }
    keys.reverse();
    let body = OnionRequest {
        blob: blob.into(),
        ephemeral_key: outer.unwrap(),
        enc_type: EncType::XChaCha20,
        hop_no: 0,
    }
    .to_client_body()
    .unwrap();
    (body, keys)
}

fn server_json(host: &str, port: u16) -> String {
    format!(
        r#"{{"host":{},"target":"/oxen/v4/lsrpc","method":"POST","protocol":"http","port":{port},"ephemeral_key":"{}","enc_type":"xchacha20"}}"#,
        serde_json::Value::from(host),
        hex::encode([9u8; 32])
    )
}

/// S-06: the exit (node 2, which does not allow private targets) is asked to POST to a
/// loopback admin server: through hosts that carry their own port, path, query, fragment or
/// user info, and plainly. Every request is refused (an encrypted 400 "Invalid url" for a
/// malformed host, the plaintext 502 of an unreachable server for a private address) and
/// the admin server is never called.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exit_refuses_injected_and_private_targets() {
    const S: u8 = 180;
    let started = Instant::now();
    let net = Net::start(S, 3, "info", false).await;
    let client = HttpsClient::with_local_addr(IpAddr::V4(Ipv4Addr::new(127, S, 0, 201)));
    net.wait_onion_ready(&client).await;

    let hits = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&hits);
    let admin_ip = Ipv4Addr::new(127, S, 0, 200);
    let admin = sotto_testkit::web::serve(
        SocketAddr::new(IpAddr::V4(admin_ip), 0),
        None,
        Arc::new(move |_path, _body| {
            counter.fetch_add(1, Ordering::SeqCst);
            (200, b"admin: all secrets".to_vec())
        }),
    )
    .await
    .unwrap();
    let port = admin.port();

    let keys = net.keys();
    let injected = [
        format!("{admin_ip}:{port}/admin?"),
        format!("{admin_ip}:{port}/admin#"),
        format!("{admin_ip}:{port}"),
        format!("{admin_ip}/admin?"),
        format!("{admin_ip}?x="),
        format!("user@{admin_ip}"),
        format!("x@{admin_ip}:{port}/"),
        format!("{admin_ip}#"),
        format!("{admin_ip}\\admin"),
        format!("{admin_ip} "),
    ];
    for host in &injected {
        let (body, hops) = onion_with_exit_json(&keys, &server_json(host, port));
        let resp = net
            .to_guard(&client, body)
            .await
            .expect("the guard answers");
        assert_eq!(resp.status, 200, "{host:?}: {:?}", resp.body);
        // The exit's own answer, encrypted with its layer key.
        let answer = sotto_onion::ResponseKey::new(hops[2].clone())
            .open_v3(&resp.body)
            .unwrap_or_else(|e| panic!("{host:?}: not the exit's sealed answer: {e}"));
        assert_eq!(
            (answer.status, answer.body.as_str()),
            (400, "Invalid url"),
            "{host:?}"
        );
    }
    let private = [
        admin_ip.to_string(),
        "127.0.0.1".to_owned(),
        "localhost".to_owned(),
        format!("::ffff:{admin_ip}"),
        "0.0.0.0".to_owned(),
    ];
    for host in &private {
        let (body, _) = onion_with_exit_json(&keys, &server_json(host, port));
        let resp = net
            .to_guard(&client, body)
            .await
            .expect("the guard answers");
        let text = String::from_utf8_lossy(&resp.body);
        assert_eq!(
            (resp.status, text.as_ref()),
            (502, "Unable to reach the server"),
            "{host:?}"
        );
    }
    assert_eq!(
        hits.load(Ordering::SeqCst),
        0,
        "the admin server was called through the exit"
    );
    eprintln!("exit target test took {:?}", started.elapsed());
}

/// Sends `info` for `target` along `path`; the guard's answer and the hop keys.
async fn ask(
    net: &Net,
    client: &HttpsClient,
    path: &[NodeKeys],
    target: NodeKeys,
) -> (Response, Vec<HopKey>) {
    let onion = sotto_onion::build(
        path,
        &Destination::Node {
            node: target,
            rpc: INFO_RPC,
        },
        EncType::XChaCha20,
        &mut OsRng,
    )
    .unwrap();
    let resp = net.to_guard(client, onion.body).await.unwrap();
    (resp, onion.hop_keys)
}

/// S-07 and S-14: guard (node 0) → middle (1) → exit (2) → a target the exit cannot reach:
/// first a key nobody lists, then node 3 after it was killed. What the guard passes back to
/// the client never contains the target's key (hex, short hex or bytes); the client opens
/// the sealed error with the exit's key and reads which node failed. Every node logs at
/// debug level, and no log holds the client's address.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relay_errors_are_sealed_and_logs_hold_no_client_address() {
    const S: u8 = 181;
    let started = Instant::now();
    let mut net = Net::start(S, 4, "debug", true).await;
    let client_ip = Ipv4Addr::new(127, S, 0, 201);
    let client = HttpsClient::with_local_addr(IpAddr::V4(client_ip));
    net.wait_onion_ready(&client).await;
    let keys = net.keys();

    let unlisted =
        NodeKeys::from_ed25519(sotto_crypto::Ed25519SecretKey::from_seed(&[77; 32]).public_key())
            .unwrap();
    let check = |what: &str, target: Ed25519PublicKey, resp: &Response, hops: &[HopKey]| {
        let bytes = &resp.body[..];
        let text = String::from_utf8_lossy(bytes).to_ascii_lowercase();
        let hexed = hex::encode(target.0);
        assert_eq!(resp.status, 502, "{what}: {text}");
        assert!(
            !text.contains(&hexed) && !text.contains(&hexed[..8]),
            "{what}: the guard passed back the target's key in plain text: {text}"
        );
        assert!(
            !bytes.windows(32).any(|w| w == target.0),
            "{what}: the target's key bytes pass through the guard"
        );
        let (hop, error) = relay_error::open(hops, bytes)
            .unwrap_or_else(|| panic!("{what}: no hop key opens the error: {text}"));
        assert_eq!(hop, 2, "{what}: the exit reports the failure");
        assert_eq!(error.status, 502, "{what}");
        assert!(
            error.text.ends_with(&hex::encode(target.0)),
            "{what}: the client learns which node failed: {}",
            error.text
        );
        error.text
    };

    let (resp, hops) = ask(&net, &client, &keys[..3], unlisted).await;
    let text = check("unlisted target", unlisted.ed25519, &resp, &hops);
    assert!(text.starts_with("Next node not found: "), "{text}");

    let down = keys[3];
    tokio::task::block_in_place(|| net.net.kill(3)).unwrap();
    let (resp, hops) = ask(&net, &client, &keys[..3], down).await;
    let text = check("target down", down.ed25519, &resp, &hops);
    assert!(text.starts_with("Next node not reachable: "), "{text}");

    let client_ip = client_ip.to_string();
    let target_hex = hex::encode(down.ed25519.0);
    for node in 0..4 {
        let log = net.log(node);
        assert!(
            log.lines().any(|l| l.contains("DEBUG")),
            "node {node} does not log at debug level"
        );
        assert!(
            !log.contains(&client_ip),
            "node {node}'s log holds the client's address"
        );
    }
    // The guard's onion lines (it may know the target otherwise, e.g. as a swarm peer).
    let guard = net.log(0);
    assert!(
        guard.contains("onion request from a client"),
        "the guard logs client requests at debug level"
    );
    for line in guard.lines().filter(|l| l.contains("onion")) {
        assert!(
            !line.contains(&target_hex) && !line.contains(&target_hex[..8]),
            "the guard's log names the target: {line}"
        );
    }
    eprintln!("relay error test took {:?}", started.elapsed());
}
