//! The real `sotto-directory` binary on loopback, reached over real HTTPS by
//! `DirectoryClient` and by a bare `HttpsClient`, with node keys generated here.
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "test helpers outside #[test] functions"
)]

use std::future::Future;
use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rand::{RngCore as _, SeedableRng as _};
use sotto_crypto::{Ed25519PublicKey, Ed25519SecretKey};
use sotto_directory::{ClientError, DirectoryClient, NodeList, Registration, now_ms};
use sotto_swarm::{INVALID_SWARM_ID, NodeListing, NodeVersion};
use sotto_transport::{HttpsClient, Response, TlsIdentity, TransportError};

const BIN: &str = env!("CARGO_BIN_EXE_sotto-directory");

/// A `sotto-directory run` process; killed on drop, its log printed if the test failed.
struct Process {
    child: Option<Child>,
    config: PathBuf,
    log: PathBuf,
    addr: SocketAddr,
    pubkey: Ed25519PublicKey,
}

impl Process {
    /// Writes a config for a directory at `ip` (a free port) in `dir`, and starts it.
    fn start(dir: &Path, ip: Ipv4Addr, extra: &str) -> Self {
        let data = dir.join("data");
        let out = Command::new(BIN)
            .args(["keygen", "--data-dir"])
            .arg(&data)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let hex_key = String::from_utf8(out.stdout).unwrap();
        let mut key = [0u8; 32];
        hex::decode_to_slice(hex_key.trim(), &mut key).unwrap();
        let port = TcpListener::bind((ip, 0))
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let addr = SocketAddr::from((ip, port));
        let config = dir.join("directory.toml");
        std::fs::write(
            &config,
            format!(
                "data_dir = {:?}\nlisten = \"{addr}\"\n{extra}\n",
                data.display().to_string()
            ),
        )
        .unwrap();
        let mut p = Self {
            child: None,
            config,
            log: dir.join("directory.log"),
            addr,
            pubkey: Ed25519PublicKey(key),
        };
        p.spawn();
        p
    }

    fn spawn(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .unwrap();
        let child = Command::new(BIN)
            .args(["run", "--config"])
            .arg(&self.config)
            .env("RUST_LOG", "debug")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        self.child = Some(child);
    }

    /// `kill -9`, wait, start again with the same config and data.
    fn restart(&mut self) {
        self.kill();
        self.spawn();
    }

    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    fn client(&self) -> DirectoryClient {
        DirectoryClient::new(self.addr, self.pubkey).with_timeout(Duration::from_secs(3))
    }

    /// Waits until the directory answers with a verified list.
    async fn ready(&self) -> NodeList {
        let client = self.client();
        wait_for(
            "the directory to answer",
            Duration::from_secs(30),
            || async { client.fetch_nodes().await.ok() },
        )
        .await
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.kill();
        if std::thread::panicking() {
            eprintln!(
                "--- directory log ---\n{}",
                std::fs::read_to_string(&self.log).unwrap_or_default()
            );
        }
    }
}

/// Polls `check` until it gives a value, failing after `limit`.
async fn wait_for<T, F, Fut>(what: &str, limit: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + limit;
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Node keys from a seeded RNG (the seed is printed so a failure can be replayed).
fn node_keys(n: usize) -> Vec<Ed25519SecretKey> {
    let seed = rand::random::<u64>();
    eprintln!("node key seed: {seed}");
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    (0..n)
        .map(|_| {
            let mut s = [0u8; 32];
            rng.fill_bytes(&mut s);
            Ed25519SecretKey::from_seed(&s)
        })
        .collect()
}

/// Settings for the tests that exercise the state machine rather than admission: open
/// admission, no caps that matter, an epoch per change, and rate limits they never reach.
const OPEN: &str = "admission = \"open\"
max_nodes_per_ip = 100
max_nodes_per_subnet = 100
min_epoch_interval_ms = 0
requests_per_s_per_ip = 10000
request_burst_per_ip = 10000
requests_per_s_per_subnet = 10000
request_burst_per_subnet = 10000";

/// A node's HTTPS server as the directory's reachability check sees it: TLS with `key`, a
/// free port on `ip`, 200 to `POST /ping_test/v1`. Stops when the handle is dropped.
struct Answerer {
    listing: NodeListing,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Drop for Answerer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Starts an [`Answerer`] holding `tls_key`, announced for `key` (pass the same key for an
/// honest node).
async fn answer_as(key: &Ed25519SecretKey, tls_key: &Ed25519SecretKey, ip: Ipv4Addr) -> Answerer {
    let listener = tokio::net::TcpListener::bind((ip, 0)).await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let tls = TlsIdentity::new(tls_key).unwrap();
    let task = tokio::spawn(sotto_transport::serve(
        listener,
        tls,
        1024,
        |req| async move {
            if req.path == "/ping_test/v1" {
                Response::text(200, "")
            } else {
                Response::text(404, "")
            }
        },
    ));
    let listing = NodeListing::new(
        key.public_key(),
        ip,
        port,
        INVALID_SWARM_ID,
        NodeVersion::from([2, 8, 0]),
    )
    .unwrap();
    Answerer { listing, task }
}

/// An honest node `i` answering at `127.0.1.(10 + i)`.
async fn answering(key: &Ed25519SecretKey, i: usize) -> Answerer {
    answer_as(
        key,
        key,
        Ipv4Addr::new(127, 0, 1, u8::try_from(10 + i).unwrap()),
    )
    .await
}

fn sorted_keys(keys: &[Ed25519SecretKey]) -> Vec<Ed25519PublicKey> {
    let mut k: Vec<_> = keys.iter().map(Ed25519SecretKey::public_key).collect();
    k.sort();
    k
}

fn listed_keys(list: &NodeList) -> Vec<Ed25519PublicKey> {
    list.nodes.iter().map(NodeListing::pubkey_ed25519).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_register_and_the_list_verifies_and_survives_restart() {
    let tmp = tempfile::tempdir().unwrap();
    let mut dir = Process::start(
        tmp.path(),
        Ipv4Addr::new(127, 0, 0, 231),
        &format!("decommission_after_s = 120\n{OPEN}"),
    );
    let empty = dir.ready().await;
    assert!(empty.nodes.is_empty());
    let client = dir.client();

    let keys = node_keys(8);
    let mut nodes = Vec::new();
    for (i, key) in keys.iter().enumerate() {
        nodes.push(answering(key, i).await);
    }
    for (i, key) in keys.iter().enumerate() {
        let ack = client.register(key, &nodes[i].listing).await.unwrap();
        assert!(ack.active && ack.swarm_id.is_valid());
        assert_eq!(ack.epoch, u64::try_from(i + 1).unwrap());
        let ack = client.proof(key).await.unwrap();
        assert!(ack.active);
    }
    let list = client.fetch_nodes().await.unwrap();
    assert_eq!((list.height, list.epoch), (8, 8));
    assert_eq!(listed_keys(&list), sorted_keys(&keys));
    for node in &list.nodes {
        let i = keys
            .iter()
            .position(|k| k.public_key() == node.pubkey_ed25519())
            .unwrap();
        assert_eq!(node.https_addr(), nodes[i].listing.https_addr());
        assert!(node.swarm_id().is_valid());
    }

    // Session Desktop's request, as it sends it to a seed node.
    let http = HttpsClient::new();
    let resp = http
        .post(
            dir.addr,
            &dir.pubkey,
            "/json_rpc",
            &[("content-type", "application/json")],
            br#"{"jsonrpc":"2.0","method":"get_n_service_nodes","params":{"active_only":true,"fields":{"public_ip":true,"storage_port":true,"pubkey_x25519":true,"pubkey_ed25519":true,"storage_server_version":true}}}"#.to_vec(),
            Duration::from_secs(3),
        )
        .await
        .unwrap();
    assert_eq!(resp.status, 200);
    assert_eq!(resp.header("content-type"), Some("application/json"));
    let v: serde_json::Value = serde_json::from_slice(&resp.body).unwrap();
    let states = v["result"]["service_node_states"].as_array().unwrap();
    assert_eq!(states.len(), 8);
    assert_eq!(states[0].as_object().unwrap().len(), 5);
    assert!(v["result"]["directory_signature"].is_string());

    // A bad JSON-RPC request gets a JSON-RPC error.
    let resp = http
        .post(
            dir.addr,
            &dir.pubkey,
            "/json_rpc",
            &[],
            b"{nope".to_vec(),
            Duration::from_secs(3),
        )
        .await
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&resp.body).unwrap();
    assert_eq!(v["error"]["code"], -32700);

    // A registration whose signature does not match its contents: 401, nothing changes.
    let extra = node_keys(1).pop().unwrap();
    let good = Registration::sign(
        &extra,
        Ipv4Addr::new(127, 0, 1, 99),
        22021,
        NodeVersion::from([2, 8, 0]),
        now_ms(),
    )
    .unwrap();
    let mut body: serde_json::Value = serde_json::from_str(&good.to_json()).unwrap();
    body["storage_port"] = 22022.into();
    let resp = http
        .post(
            dir.addr,
            &dir.pubkey,
            "/register",
            &[],
            body.to_string().into_bytes(),
            Duration::from_secs(3),
        )
        .await
        .unwrap();
    assert_eq!(resp.status, 401, "{}", String::from_utf8_lossy(&resp.body));
    // A stale one: 406.
    let stale = Registration::sign(
        &extra,
        Ipv4Addr::new(127, 0, 1, 99),
        22021,
        NodeVersion::from([2, 8, 0]),
        now_ms() - 120_000,
    )
    .unwrap();
    let resp = http
        .post(
            dir.addr,
            &dir.pubkey,
            "/register",
            &[],
            stale.to_json().into_bytes(),
            Duration::from_secs(3),
        )
        .await
        .unwrap();
    assert_eq!(resp.status, 406);
    // A proof from a node that never registered: register first.
    let err = client.proof(&extra).await.unwrap_err();
    assert!(err.is_not_registered(), "{err}");
    assert_eq!(client.fetch_nodes().await.unwrap(), list);

    // Pinning another key refuses the connection.
    let wrong = DirectoryClient::new(dir.addr, extra.public_key());
    let err = wrong.fetch_nodes().await.unwrap_err();
    assert!(
        matches!(err, ClientError::Transport(TransportError::Tls { .. })),
        "{err}"
    );

    // kill -9 and restart: same height, epoch and swarms.
    dir.restart();
    let back = dir.ready().await;
    assert_eq!(back, list);
    let ack = client.proof(&keys[0]).await.unwrap();
    assert_eq!((ack.height, ack.epoch), (8, 8));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_node_is_decommissioned_and_comes_back() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = Process::start(
        tmp.path(),
        Ipv4Addr::new(127, 0, 0, 232),
        &format!("decommission_after_s = 2\n{OPEN}"),
    );
    dir.ready().await;
    let client = dir.client();
    let keys = node_keys(6);
    let mut nodes = Vec::new();
    for (i, key) in keys.iter().enumerate() {
        nodes.push(answering(key, i).await);
        client.register(key, &nodes[i].listing).await.unwrap();
    }
    let (silent, talking) = keys.split_last().unwrap();
    let before = client.fetch_nodes().await.unwrap();
    assert_eq!(before.nodes.len(), 6);

    // The others keep proving; the silent one drops out in a new epoch.
    let after = wait_for(
        "the silent node to be decommissioned",
        Duration::from_secs(20),
        || async {
            for key in talking {
                client.proof(key).await.unwrap();
            }
            let list = client.fetch_nodes().await.unwrap();
            (list.nodes.len() == 5).then_some(list)
        },
    )
    .await;
    assert_eq!(after.epoch, before.epoch + 1);
    assert!(!listed_keys(&after).contains(&silent.public_key()));
    assert_eq!(listed_keys(&after), sorted_keys(talking));

    // Its next proof puts it back, in another epoch, with a swarm.
    let ack = client.proof(silent).await.unwrap();
    assert!(ack.active && ack.swarm_id.is_valid());
    assert_eq!(ack.epoch, before.epoch + 2);
    let back = client.fetch_nodes().await.unwrap();
    assert!(listed_keys(&back).contains(&silent.public_key()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn allowlist_and_startup_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let keys = node_keys(2);
    let allow = format!(
        "allowlist = [\"{}\"]",
        hex::encode(keys[0].public_key().as_bytes())
    );
    let dir = Process::start(tmp.path(), Ipv4Addr::new(127, 0, 0, 233), &allow);
    dir.ready().await;
    let client = dir.client();
    let nodes = [answering(&keys[0], 0).await, answering(&keys[1], 1).await];
    client.register(&keys[0], &nodes[0].listing).await.unwrap();
    let err = client
        .register(&keys[1], &nodes[1].listing)
        .await
        .unwrap_err();
    assert!(
        matches!(err, ClientError::Refused { status: 403, .. }),
        "{err}"
    );
    assert_eq!(client.fetch_nodes().await.unwrap().nodes.len(), 1);

    // A second directory on the same address says the address is in use.
    let out = Command::new(BIN)
        .args(["run", "--config"])
        .arg(&dir.config)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("already in use"), "{stderr}");

    // A bad config names the key.
    let bad = tmp.path().join("bad.toml");
    std::fs::write(&bad, "data_dir = \"x\"\nlisten = \"localhost\"\n").unwrap();
    let out = Command::new(BIN)
        .args(["run", "--config"])
        .arg(&bad)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("`listen`"), "{stderr}");

    // --help teaches: what the directory is, and an example config.
    let out = Command::new(BIN).arg("--help").output().unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(help.contains("replaces Session's blockchain"), "{help}");
    assert!(help.contains("decommission_after_s = 20"), "{help}");
    assert!(help.contains("admission = \"allowlist\""), "{help}");
    assert!(help.contains("max_nodes_per_subnet"), "{help}");
}

/// The status a raw POST from source address `from` gets.
async fn status_from(dir: &Process, from: Ipv4Addr, path: &str, body: &str) -> u16 {
    HttpsClient::with_local_addr(from.into())
        .post(
            dir.addr,
            &dir.pubkey,
            path,
            &[],
            body.as_bytes().to_vec(),
            Duration::from_secs(3),
        )
        .await
        .unwrap()
        .status
}

/// S-03: with no admission settings the directory admits no one, says so at start, and
/// refuses a node (that answers at its address) with a message naming the fix.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_default_config_refuses_an_unlisted_key() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = Process::start(tmp.path(), Ipv4Addr::new(127, 161, 0, 1), "");
    dir.ready().await;
    let key = node_keys(1).pop().unwrap();
    let node = answer_as(&key, &key, Ipv4Addr::new(127, 161, 0, 11)).await;
    let err = dir
        .client()
        .register(&key, &node.listing)
        .await
        .unwrap_err();
    match &err {
        ClientError::Refused { status, message } => {
            assert_eq!(*status, 403);
            assert!(message.contains("admission = \"open\""), "{message}");
            assert!(message.contains("allowlist"), "{message}");
        }
        other => panic!("{other}"),
    }
    assert!(dir.client().fetch_nodes().await.unwrap().nodes.is_empty());
    let log = std::fs::read_to_string(&dir.log).unwrap();
    assert!(log.contains("no node can join"), "{log}");
}

/// S-03: a node is listed only after the directory reached it at its announced address with
/// its key pinned. An address where nothing listens, or where another key answers, is
/// refused with 422 and not listed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_announced_address_must_answer_with_the_nodes_key() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = Process::start(
        tmp.path(),
        Ipv4Addr::new(127, 162, 0, 1),
        "admission = \"open\"\nmin_epoch_interval_ms = 0",
    );
    dir.ready().await;
    let client = dir.client();
    let keys = node_keys(3);

    // Nothing listens there (a port just released).
    let closed = {
        let probe = TcpListener::bind((Ipv4Addr::new(127, 162, 0, 11), 0)).unwrap();
        probe.local_addr().unwrap().port()
    };
    let silent = NodeListing::new(
        keys[0].public_key(),
        Ipv4Addr::new(127, 162, 0, 11),
        closed,
        INVALID_SWARM_ID,
        NodeVersion::from([2, 8, 0]),
    )
    .unwrap();
    let err = client.register(&keys[0], &silent).await.unwrap_err();
    assert!(
        matches!(err, ClientError::Refused { status: 422, .. }),
        "{err}"
    );

    // Someone else's server: it answers, but with another key.
    let impostor = answer_as(&keys[1], &keys[2], Ipv4Addr::new(127, 162, 0, 12)).await;
    let err = client
        .register(&keys[1], &impostor.listing)
        .await
        .unwrap_err();
    assert!(
        matches!(err, ClientError::Refused { status: 422, .. }),
        "{err}"
    );
    assert!(client.fetch_nodes().await.unwrap().nodes.is_empty());

    // The same key, answering itself: listed.
    let honest = answer_as(&keys[1], &keys[1], Ipv4Addr::new(127, 162, 0, 13)).await;
    let ack = client.register(&keys[1], &honest.listing).await.unwrap();
    assert!(ack.active);
    let list = client.fetch_nodes().await.unwrap();
    assert_eq!(listed_keys(&list), vec![keys[1].public_key()]);
}

/// S-03: a flood of registrations from one address and one /24 is capped (per address, per
/// /24) and every route is rate-limited (per address, per /24), while an allowlisted node still
/// joins.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_registration_flood_is_capped_and_rate_limited() {
    let tmp = tempfile::tempdir().unwrap();
    let mut keys = node_keys(21);
    let honest = keys.pop().unwrap();
    let dir = Process::start(
        tmp.path(),
        Ipv4Addr::new(127, 163, 0, 1),
        &format!(
            "admission = \"open\"\nallowlist = [\"{}\"]\nmin_epoch_interval_ms = 0\n\
             max_nodes_per_ip = 2\nmax_nodes_per_subnet = 4\n\
             requests_per_s_per_ip = 1\nrequest_burst_per_ip = 30\n\
             requests_per_s_per_subnet = 1\nrequest_burst_per_subnet = 60",
            hex::encode(honest.public_key().as_bytes())
        ),
    );
    dir.ready().await;

    // Ten keys at one address, sent from it: two are listed.
    let one_ip = Ipv4Addr::new(127, 163, 1, 1);
    let from_one = dir
        .client()
        .with_http(HttpsClient::with_local_addr(one_ip.into()));
    let mut refused = Vec::new();
    let mut servers = Vec::new();
    for key in &keys[..10] {
        let node = answer_as(key, key, one_ip).await;
        if let Err(e) = from_one.register(key, &node.listing).await {
            refused.push(e.to_string());
        }
        servers.push(node);
    }
    assert_eq!(refused.len(), 8, "{refused:?}");
    assert!(
        refused
            .iter()
            .all(|e| e.contains("(403)") && e.contains("per address")),
        "{refused:?}"
    );

    // Ten keys at ten addresses of one /24, each sent from its own address: four are listed.
    let mut refused = Vec::new();
    for (i, key) in keys[10..].iter().enumerate() {
        let ip = Ipv4Addr::new(127, 163, 2, u8::try_from(1 + i).unwrap());
        let node = answer_as(key, key, ip).await;
        let from = dir
            .client()
            .with_http(HttpsClient::with_local_addr(ip.into()));
        if let Err(e) = from.register(key, &node.listing).await {
            refused.push(e.to_string());
        }
        servers.push(node);
    }
    assert_eq!(refused.len(), 6, "{refused:?}");
    assert!(
        refused
            .iter()
            .all(|e| e.contains("(403)") && e.contains("per /24")),
        "{refused:?}"
    );

    // One address hammering any route runs out of tokens: 429, on every route.
    let hammer = Ipv4Addr::new(127, 163, 3, 1);
    let mut limited = 0;
    for _ in 0..40 {
        if status_from(&dir, hammer, "/json_rpc", "{}").await == 429 {
            limited += 1;
        }
    }
    assert!(limited >= 5, "{limited} of 40 requests limited");
    for path in ["/register", "/proof", "/json_rpc", "/anything"] {
        assert_eq!(status_from(&dir, hammer, path, "{}").await, 429, "{path}");
    }
    // Many addresses of one /24 share its bucket: fresh addresses are limited too.
    let mut limited = 0;
    for host in 1..=80u8 {
        let from = Ipv4Addr::new(127, 163, 4, host);
        if status_from(&dir, from, "/json_rpc", "{}").await == 429 {
            limited += 1;
        }
    }
    assert!(limited >= 10, "{limited} of 80 requests limited");

    // The allowlisted node joins, from the flooded (and full) /24, at the full address.
    let node = answer_as(&honest, &honest, one_ip).await;
    let from = dir.client().with_http(HttpsClient::with_local_addr(
        Ipv4Addr::new(127, 163, 5, 1).into(),
    ));
    let ack = from.register(&honest, &node.listing).await.unwrap();
    assert!(ack.active);
    let list = from.fetch_nodes().await.unwrap();
    assert_eq!(list.nodes.len(), 2 + 4 + 1);
    assert!(listed_keys(&list).contains(&honest.public_key()));
}
