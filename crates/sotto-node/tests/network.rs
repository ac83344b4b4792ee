//! Real processes on loopback: a `sotto-directory` and five `sotto-node`s, each on its own
//! 127.0.x.y address with its own data directory. The directory binary is taken from the same
//! target directory as `sotto-node` (built with `cargo build -p sotto-directory` here if it is
//! missing; `cargo test --workspace` builds it anyway).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::fs::File;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value as Json;
use sotto_crypto::{Ed25519SecretKey, OsRng};
use sotto_identity::Account;
use sotto_onion::{Destination, EncType, NodeKeys};
use sotto_rpc::request::{Lifetime, Retrieve, Store};
use sotto_rpc::response::{GetSwarmResponse, NodeOutcome, RetrieveResponse, SwarmResponse};
use sotto_rpc::{AccountId, Encoding, Method, Namespace, Request, Signer};
use sotto_swarm::{SwarmId, SwarmIds, swarm_space};
use sotto_transport::{HttpsClient, Response};

const NODES: usize = 5;

/// One child process; killed (SIGKILL) and reaped when dropped.
struct Proc {
    name: String,
    program: PathBuf,
    args: Vec<String>,
    log: PathBuf,
    child: Option<Child>,
}

impl Proc {
    fn start(name: &str, program: &Path, args: &[&str], log: PathBuf) -> Self {
        let mut p = Self {
            name: name.to_owned(),
            program: program.to_owned(),
            args: args.iter().map(|s| (*s).to_owned()).collect(),
            log,
            child: None,
        };
        p.spawn();
        p
    }

    fn spawn(&mut self) {
        let out = File::options()
            .create(true)
            .append(true)
            .open(&self.log)
            .unwrap();
        let err = out.try_clone().unwrap();
        let child = Command::new(&self.program)
            .args(&self.args)
            .env("RUST_LOG", "info,sotto_node=debug")
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", self.program.display()));
        self.child = Some(child);
    }

    /// `kill -9`.
    fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    fn print_log(&self) {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        let start = lines.len().saturating_sub(150);
        eprintln!("===== {} ({}) =====", self.name, self.log.display());
        for line in &lines[start..] {
            eprintln!("{line}");
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.kill();
    }
}

struct TestNode {
    key: Ed25519SecretKey,
    addr: SocketAddrV4,
    proc: Proc,
}

/// A directory and its nodes. Prints every log if the test panics (or always with
/// `SOTTO_TEST_LOGS=1`).
struct Net {
    nodes: Vec<TestNode>,
    directory: Proc,
    client: HttpsClient,
    seed: u64,
    net: u8,
    port: u16,
    dir_addr: SocketAddrV4,
    dir_key: Ed25519SecretKey,
    dir: tempfile::TempDir,
}

impl Drop for Net {
    fn drop(&mut self) {
        if std::thread::panicking() || std::env::var_os("SOTTO_TEST_LOGS").is_some() {
            self.directory.print_log();
            for n in &self.nodes {
                n.proc.print_log();
            }
        }
    }
}

fn write_identity(data_dir: &Path, key: &Ed25519SecretKey) {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    std::fs::create_dir_all(data_dir).unwrap();
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(data_dir.join("identity.key"))
        .unwrap();
    writeln!(f, "{}", hex::encode(key.seed().expose())).unwrap();
}

fn directory_binary() -> PathBuf {
    let node = PathBuf::from(env!("CARGO_BIN_EXE_sotto-node"));
    let dir = node.with_file_name("sotto-directory");
    if !dir.exists() {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let mut cmd = Command::new(cargo);
        cmd.args(["build", "-p", "sotto-directory", "--bin", "sotto-directory"]);
        if node.parent().and_then(Path::file_name) == Some("release".as_ref()) {
            cmd.arg("--release");
        }
        let status = cmd.status().expect("run cargo build -p sotto-directory");
        assert!(status.success(), "cargo build -p sotto-directory failed");
    }
    assert!(dir.exists(), "{} is missing", dir.display());
    dir
}

/// A port unlikely to be taken by another test run on this machine.
fn port() -> u16 {
    20_000 + (std::process::id() % 20_000) as u16
}

impl Net {
    /// Starts the directory on 127.0.`net`.1 and `nodes` nodes on 127.0.`net`.11…
    fn start(net: u8, nodes: usize) -> Self {
        let seed: u64 = rand_seed();
        eprintln!("network {net}: key seed {seed}");
        let dir = tempfile::tempdir().unwrap();
        let port = port();
        let dir_key = key_from(seed, 0);
        let dir_data = dir.path().join("directory");
        write_identity(&dir_data, &dir_key);
        let dir_addr = SocketAddrV4::new(Ipv4Addr::new(127, 0, net, 1), port);
        let dir_conf = dir.path().join("directory.toml");
        std::fs::write(
            &dir_conf,
            format!(
                "data_dir = {dir_data:?}\nlisten = \"{dir_addr}\"\ndecommission_after_s = 60\nallowlist = []\n"
            ),
        )
        .unwrap();
        let directory = Proc::start(
            "directory",
            &directory_binary(),
            &["run", "--config", dir_conf.to_str().unwrap()],
            dir.path().join("directory.log"),
        );
        let mut this = Self {
            nodes: Vec::new(),
            directory,
            client: HttpsClient::with_local_addr(Ipv4Addr::new(127, 0, net, 250).into()),
            seed,
            net,
            port,
            dir_addr,
            dir_key,
            dir,
        };
        for _ in 0..nodes {
            this.add_node();
        }
        this
    }

    /// Starts one more node.
    fn add_node(&mut self) {
        let i = self.nodes.len();
        let key = key_from(self.seed, i as u64 + 1);
        let data = self.dir.path().join(format!("node-{i:02}"));
        write_identity(&data, &key);
        let addr = SocketAddrV4::new(Ipv4Addr::new(127, 0, self.net, 11 + i as u8), self.port);
        let conf = self.dir.path().join(format!("node-{i:02}.toml"));
        std::fs::write(
            &conf,
            format!(
                "data_dir = {data:?}\nlisten = \"{addr}\"\ndirectory = \"{}\"\n\
                 directory_pubkey = \"{}\"\nstore_limit_mb = 64\nproof_interval_s = 1\n\
                 list_poll_interval_s = 1\n",
                self.dir_addr,
                hex::encode(self.dir_key.public_key().0)
            ),
        )
        .unwrap();
        let proc = Proc::start(
            &format!("node-{i:02} {addr}"),
            Path::new(env!("CARGO_BIN_EXE_sotto-node")),
            &["run", "--config", conf.to_str().unwrap()],
            self.dir.path().join(format!("node-{i:02}.log")),
        );
        self.nodes.push(TestNode { key, addr, proc });
    }

    /// The index of the node with this key.
    fn index_of(&self, key: &str) -> usize {
        self.nodes
            .iter()
            .position(|n| hex::encode(n.key.public_key().0) == key)
            .unwrap()
    }

    async fn post(&self, node: usize, body: Vec<u8>) -> Option<Response> {
        let n = &self.nodes[node];
        self.client
            .post(
                SocketAddr::V4(n.addr),
                &n.key.public_key(),
                "/storage_rpc/v1",
                &[("content-type", "application/json")],
                body,
                Duration::from_secs(10),
            )
            .await
            .ok()
    }

    async fn post_path(&self, node: usize, path: &str, body: Vec<u8>) -> Option<Response> {
        let n = &self.nodes[node];
        self.client
            .post(
                SocketAddr::V4(n.addr),
                &n.key.public_key(),
                path,
                &[],
                body,
                Duration::from_secs(40),
            )
            .await
            .ok()
    }

    /// The node list a node serves (`oxend_request`), if it answers.
    async fn list_of(&self, node: usize) -> Option<Json> {
        let body = br#"{"method":"oxend_request","params":{"endpoint":"get_service_nodes"}}"#;
        let resp = self.post(node, body.to_vec()).await?;
        (resp.status == 200).then(|| serde_json::from_slice::<Json>(&resp.body).ok())?
    }

    /// Waits until every running node serves the same list of all nodes, each in a swarm;
    /// returns each node's swarm (by index).
    async fn wait_converged(&self, running: &[usize]) -> Vec<u64> {
        let total = self.nodes.len();
        wait_until(
            "every node to see every node in a swarm",
            Duration::from_secs(30),
            || async {
                let mut hashes = Vec::new();
                let mut swarms = vec![u64::MAX; total];
                for &i in running {
                    let list = self.list_of(i).await?;
                    let states = list["result"]["service_node_states"].as_array()?;
                    let in_swarms = states
                        .iter()
                        .filter(|s| s["swarm_id"].as_u64().is_some_and(|id| id != u64::MAX))
                        .count();
                    if states.len() != total || in_swarms != total {
                        return None;
                    }
                    hashes.push(list["result"]["block_hash"].as_str()?.to_owned());
                    for st in states {
                        let idx = self.index_of(st["pubkey_ed25519"].as_str()?);
                        swarms[idx] = st["swarm_id"].as_u64()?;
                    }
                }
                hashes
                    .windows(2)
                    .all(|w| w[0] == w[1])
                    .then_some(swarms.clone())
            },
        )
        .await
    }

    async fn retrieve(&self, node: usize, account: &Account) -> Option<Vec<Vec<u8>>> {
        let signer = Signer::session(account.ed25519_secret());
        let now = sotto_node::unix_now_ms();
        let req = Retrieve::new(AccountId::from(account.session_id()), Namespace::DEFAULT)
            .signed(&signer, now);
        let resp = self.post(node, Request::from(req).to_http_body()).await?;
        if resp.status != 200 {
            return None;
        }
        let page = RetrieveResponse::parse(&resp.body, Encoding::Json).ok()?;
        Some(page.messages.into_iter().map(|m| m.data).collect())
    }

    async fn store(&self, node: usize, account: &Account, data: &[u8]) -> SwarmResponse {
        let now = sotto_node::unix_now_ms();
        let req = Store::new(
            AccountId::from(account.session_id()),
            Namespace::DEFAULT,
            data.to_vec(),
            now,
            Lifetime::Ttl(3_600_000),
        );
        let resp = self
            .post(node, Request::from(req).to_http_body())
            .await
            .expect("store answered");
        assert_eq!(resp.status, 200, "{}", String::from_utf8_lossy(&resp.body));
        SwarmResponse::parse(Method::Store, &resp.body, Encoding::Json).unwrap()
    }
}

fn rand_seed() -> u64 {
    u64::from_le_bytes(*sotto_crypto::SecretBytes::<8>::random(&mut OsRng).expose())
}

fn key_from(seed: u64, i: u64) -> Ed25519SecretKey {
    let mut s = [0u8; 32];
    s[..8].copy_from_slice(&seed.to_le_bytes());
    s[8..16].copy_from_slice(&i.to_le_bytes());
    Ed25519SecretKey::from_seed(&s)
}

/// Polls `check` every 100 ms until it gives a value or `limit` passes.
async fn wait_until<T, F, Fut>(what: &str, limit: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let start = Instant::now();
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(
            start.elapsed() < limit,
            "timed out after {limit:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn ok_count(resp: &SwarmResponse) -> usize {
    resp.swarm
        .values()
        .filter(|o| matches!(o, NodeOutcome::Ok(_)))
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn swarm_replication_catch_up_and_onion() {
    let mut net = Net::start(91, NODES);
    let all: Vec<usize> = (0..NODES).collect();
    net.wait_converged(&all).await;
    let alice = Account::from_ed25519_seed(&[0xa1; 32]);

    // A store through one node reaches every node of the swarm.
    let resp = net.store(0, &alice, b"first").await;
    assert_eq!(ok_count(&resp), NODES, "{resp:?}");
    for node in &resp.swarm {
        assert!(net.nodes.iter().any(|n| n.key.public_key() == *node.0));
    }
    for i in 0..NODES {
        assert_eq!(
            net.retrieve(i, &alice).await.unwrap(),
            vec![b"first".to_vec()],
            "node {i}"
        );
    }

    // kill -9 one node; stores keep working; the node catches up after a restart.
    net.nodes[4].proc.kill();
    let mut sent = vec![b"first".to_vec()];
    for k in 0..3u8 {
        let data = vec![b'm', k];
        let resp = net.store(1, &alice, &data).await;
        assert_eq!(ok_count(&resp), NODES - 1, "{resp:?}");
        sent.push(data);
    }
    net.nodes[4].proc.spawn();
    let got = wait_until(
        "the restarted node to catch up",
        Duration::from_secs(30),
        || async {
            net.retrieve(4, &alice)
                .await
                .filter(|m| m.len() == sent.len())
        },
    )
    .await;
    assert_eq!(got, sent);
    for i in 0..NODES {
        assert_eq!(net.retrieve(i, &alice).await.unwrap(), sent, "node {i}");
    }

    // An onion request through nodes 0 → 1 → 2 reaches node 3's storage RPC, and the answer
    // comes back encrypted to the client.
    let keys: Vec<NodeKeys> = net
        .nodes
        .iter()
        .map(|n| NodeKeys::from_ed25519(n.key.public_key()).unwrap())
        .collect();
    let signer = Signer::session(alice.ed25519_secret());
    let retrieve = Request::from(
        Retrieve::new(AccountId::from(alice.session_id()), Namespace::DEFAULT)
            .signed(&signer, sotto_node::unix_now_ms()),
    )
    .to_http_body();
    let onion = sotto_onion::build(
        &keys[..3],
        &Destination::Node {
            node: keys[3],
            rpc: &retrieve,
        },
        EncType::XChaCha20,
        &mut OsRng,
    )
    .unwrap();
    let resp = net.post_path(0, "/onion_req/v2", onion.body).await.unwrap();
    assert_eq!(resp.status, 200, "{}", String::from_utf8_lossy(&resp.body));
    let answer = onion.response_key.open_v3(&resp.body).unwrap();
    assert_eq!(answer.status, 200, "{}", answer.body);
    let page = RetrieveResponse::parse(answer.body.as_bytes(), Encoding::Json).unwrap();
    assert_eq!(page.messages.len(), sent.len());
}

/// Thirteen nodes form one swarm; a fourteenth splits it in two (oxend's rule: 9 excess nodes
/// make a new swarm of 7). Every account's messages are then on every node of the swarm that
/// owns it, the new node included, and the other swarm's nodes answer 421 naming the owner.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_node_splits_the_swarm_and_421_names_the_owner() {
    let mut net = Net::start(92, 13);
    let first: Vec<usize> = (0..13).collect();
    let swarms = net.wait_converged(&first).await;
    assert!(swarms[..13].iter().all(|s| *s == swarms[0]), "{swarms:?}");
    let accounts: Vec<Account> = (0..16u8)
        .map(|i| Account::from_ed25519_seed(&[0x40 + i; 32]))
        .collect();
    for (k, a) in accounts.iter().enumerate() {
        let resp = net.store(k % 13, a, &[k as u8]).await;
        assert_eq!(ok_count(&resp), 13, "{resp:?}");
    }

    net.add_node();
    let all: Vec<usize> = (0..14).collect();
    let swarms = net.wait_converged(&all).await;
    let ids: SwarmIds = swarms.iter().map(|s| SwarmId(*s)).collect();
    assert_eq!(ids.len(), 2, "{swarms:?}");
    for (k, a) in accounts.iter().enumerate() {
        let account = AccountId::from(a.session_id());
        let owner = ids.pick(swarm_space(account.key())).unwrap().0;
        let members: Vec<usize> = (0..14).filter(|i| swarms[*i] == owner).collect();
        for &i in &members {
            wait_until(
                &format!("account {k} on node {i}"),
                Duration::from_secs(20),
                || async {
                    net.retrieve(i, a)
                        .await
                        .filter(|m| *m == vec![vec![k as u8]])
                },
            )
            .await;
        }
        let other = (0..14).find(|i| swarms[*i] != owner).unwrap();
        let store = Store::new(
            account,
            Namespace::DEFAULT,
            b"x".to_vec(),
            sotto_node::unix_now_ms(),
            Lifetime::Ttl(3_600_000),
        );
        let resp = net
            .post(other, Request::from(store).to_http_body())
            .await
            .unwrap();
        assert_eq!(resp.status, 421, "{}", String::from_utf8_lossy(&resp.body));
        let named = GetSwarmResponse::parse(&resp.body, Encoding::Json).unwrap();
        assert_eq!(named.swarm_id, owner);
        let mut listed: Vec<_> = named.snodes.iter().map(|n| n.pubkey_ed25519).collect();
        let mut expected: Vec<_> = members
            .iter()
            .map(|i| net.nodes[*i].key.public_key())
            .collect();
        listed.sort();
        expected.sort();
        assert_eq!(listed, expected);
    }
}
