//! Shared pieces of the end-to-end tests: a real testnet (`sotto_testkit::net`: `sotto-node` and
//! `sotto-directory` processes on 127.S.0.x), users (a [`Client`] over an [`OnionNetwork`] with
//! its own SQLite file), waits on conditions with deadlines, and the client's log captured in
//! memory (printed, with the end of every process log, when a test fails).
#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use sotto_client::outgoing::RetryPolicy;
use sotto_client::poll::PollPolicy;
use sotto_client::{
    Account, Client, ClientConfig, Engine, Event, Events, Hop, MessageRecord, NetworkFile,
    OnionConfig, OnionNetwork, SessionId,
};
use sotto_crypto::OsRng;
use sotto_rpc::request::{Lifetime, Store};
use sotto_rpc::{AccountId, MessageHash, Namespace, Request};
use sotto_testkit::net::{Testnet, TestnetConfig};
use sotto_transport::HttpsClient;

/// How long one step may wait for something to arrive (a few polls and store retries).
pub const STEP: Duration = Duration::from_secs(30);

/// The time now, ms since the Unix epoch.
pub fn now_ms() -> u64 {
    u64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis(),
    )
    .unwrap()
}

// The client's log, in memory.

#[derive(Clone)]
struct LogBuf(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for LogBuf {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn log_buf() -> &'static LogBuf {
    static LOG: OnceLock<LogBuf> = OnceLock::new();
    LOG.get_or_init(|| {
        let buf = LogBuf(Arc::new(Mutex::new(Vec::new())));
        let writer = buf.clone();
        let filter = std::env::var("SOTTO_TEST_CLIENT_LOG")
            .unwrap_or_else(|_| "sotto_client=debug,warn".into());
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .try_init();
        buf
    })
}

/// Starts capturing the client's log (idempotent).
pub fn capture_logs() {
    log_buf();
}

/// The client log captured so far.
pub fn client_log() -> String {
    String::from_utf8_lossy(&log_buf().0.lock().unwrap()).into_owned()
}

fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

// Binaries.

/// The directory holding `sotto-node` and `sotto-directory` (built once per test binary).
pub fn bin_dir() -> PathBuf {
    sotto_testkit::net::node_binaries().unwrap()
}

// The network.

/// A running testnet: one directory and `nodes` nodes on 127.`subnet`.0.x, all in one swarm
/// (fewer than twice the minimum swarm size). Prints the end of every process log and of the
/// client log when dropped during a panic (or always with `SOTTO_TEST_LOGS=1`).
pub struct TestNet {
    pub tn: Testnet,
    pub file: NetworkFile,
    pub subnet: u8,
    http: HttpsClient,
    pub dir: tempfile::TempDir,
}

impl Drop for TestNet {
    fn drop(&mut self) {
        if std::thread::panicking() || std::env::var_os("SOTTO_TEST_LOGS").is_some() {
            eprintln!("{}", self.tn.logs_tail(60));
            eprintln!("==== client log ====\n{}", tail(&client_log(), 300));
        }
    }
}

impl TestNet {
    /// Starts the processes and waits until the directory lists every node and every node
    /// serves the same full list with swarms.
    pub async fn start(subnet: u8, nodes: usize) -> Self {
        capture_logs();
        let started = Instant::now();
        let bins = bin_dir();
        let dir = tempfile::tempdir().unwrap();
        let mut cfg = TestnetConfig::new(dir.path().to_owned(), bins);
        cfg.nodes = nodes;
        cfg.subnet = subnet;
        // A port unlikely to be taken by another run of the same test on this machine.
        cfg.port = 20_000 + u16::try_from(std::process::id() % 20_000).unwrap();
        cfg.proof_interval_s = 1;
        // Killed nodes stay listed (and in their swarm): the client has to cope with them.
        cfg.decommission_after_s = 300;
        let tn = tokio::task::spawn_blocking(move || {
            let mut tn = Testnet::start(cfg).unwrap();
            if let Err(e) = tn.wait_ready(Duration::from_secs(40)) {
                eprintln!("{}", tn.logs_tail(40));
                panic!("testnet on subnet {subnet} not ready: {e}");
            }
            tn
        })
        .await
        .unwrap();
        let file = NetworkFile::parse(tn.network_file().to_string().as_bytes()).unwrap();
        let net = Self {
            tn,
            file,
            subnet,
            http: HttpsClient::with_local_addr(IpAddr::V4(Ipv4Addr::new(127, subnet, 0, 250))),
            dir,
        };
        eprintln!(
            "testnet 127.{subnet}.0.x: {nodes} nodes ready in {:?}",
            started.elapsed()
        );
        net
    }

    /// The index of the node with this Ed25519 key (hex).
    pub fn index_of(&self, key: &str) -> usize {
        self.tn
            .nodes
            .iter()
            .position(|n| hex::encode(n.pubkey.as_bytes()) == key)
            .unwrap_or_else(|| panic!("no node with key {key}"))
    }

    /// The node a hop names.
    pub fn index_of_hop(&self, hop: &Hop) -> usize {
        let i = self.index_of(&hop.ed25519);
        assert_eq!(self.tn.nodes[i].addr, hop.addr, "hop {hop:?}");
        i
    }

    /// `kill -9` node `i`.
    pub fn kill(&mut self, i: usize) {
        self.tn.kill(i).unwrap();
        eprintln!(
            "killed {} ({})",
            self.tn.nodes[i].name, self.tn.nodes[i].addr
        );
    }

    async fn post(&self, node: usize, body: Vec<u8>) -> Option<sotto_transport::Response> {
        let n = &self.tn.nodes[node];
        self.http
            .post(
                n.addr,
                &n.pubkey,
                "/storage_rpc/v1",
                &[("content-type", "application/json")],
                body,
                Duration::from_secs(10),
            )
            .await
            .ok()
    }

    /// Stores `data` in namespace 0 of `to` directly on node `node` (an unsigned store, as
    /// anyone may make to someone's inbox): what a malicious or broken sender could put there.
    /// Returns the hash the recipient will see.
    pub async fn inject(&self, node: usize, to: &SessionId, data: &[u8]) -> MessageHash {
        let account = AccountId::from(*to);
        let store = Store::new(
            account,
            Namespace::DEFAULT,
            data.to_vec(),
            now_ms(),
            Lifetime::Ttl(3_600_000),
        );
        let resp = self
            .post(node, Request::from(store).to_http_body())
            .await
            .expect("the node answered the store");
        assert_eq!(
            resp.status,
            200,
            "injected store: {}",
            String::from_utf8_lossy(&resp.body)
        );
        MessageHash::compute(&account, Namespace::DEFAULT, data)
    }

    /// A user of this network (database and node cache in the network's temporary
    /// directory), connected with the background poller running.
    pub async fn user(&self, name: &'static str, account: &Account) -> User {
        let db = self.dir.path().join(format!("{name}.db"));
        User::connect(self, name, account.clone(), db).await
    }
}

/// The onion settings of the tests: the defaults, with a shorter request timeout, and the
/// guards next to the node cache file (the path rules come from the testnet's network file).
pub fn onion_config(cache: Option<PathBuf>) -> OnionConfig {
    OnionConfig {
        request_timeout: Duration::from_secs(5),
        guard_file: cache.as_ref().map(|c| c.with_extension("guards.json")),
        cache_file: cache,
        ..OnionConfig::default()
    }
}

/// A fast client: polls every 200 ms while chatting, retries failed stores after 300 ms.
pub fn client_config(db: &Path) -> ClientConfig {
    ClientConfig {
        poll: PollPolicy {
            active_ms: 200,
            active_window_ms: 60_000,
            recent_ms: 300,
            recent_window_ms: 600_000,
            idle_ms: 400,
            max_ms: 2_000,
        },
        retry: RetryPolicy {
            first_delay_ms: 300,
            max_delay_ms: 2_000,
            max_attempts: 30,
        },
        ..ClientConfig::new(db)
    }
}

/// A fresh account.
pub fn new_account() -> Account {
    Account::generate(&mut OsRng)
}

/// Adds `contact` (with a nickname) to the database at `db` without a network, as
/// `sotto contacts add` does before a client runs.
pub fn add_contact_offline(db: &Path, account: &Account, contact: &SessionId, nickname: &str) {
    let mut engine = Engine::open(db, account.clone()).unwrap();
    engine
        .add_contact(contact, Some(nickname), now_ms())
        .unwrap();
}

/// One person: a client with its own database, and every event it published since it
/// connected.
pub struct User {
    pub name: &'static str,
    pub account: Account,
    pub db: PathBuf,
    pub client: Client<OnionNetwork>,
    events: Events,
    /// Events taken from the stream so far.
    pub seen: Vec<Event>,
}

impl User {
    /// Connects over a new [`OnionNetwork`] with the database at `db`.
    pub async fn connect(net: &TestNet, name: &'static str, account: Account, db: PathBuf) -> Self {
        let cache = db.with_extension("nodes.json");
        let onion = OnionNetwork::connect(&net.file, onion_config(Some(cache)))
            .await
            .unwrap_or_else(|e| panic!("{name}: OnionNetwork::connect: {e}"));
        let client = Client::connect(onion, account.clone(), client_config(&db))
            .await
            .unwrap_or_else(|e| panic!("{name}: Client::connect: {e}"));
        let events = client.events();
        Self {
            name,
            account,
            db,
            client,
            events,
            seen: Vec::new(),
        }
    }

    /// This user's Session ID.
    pub fn id(&self) -> SessionId {
        self.account.session_id()
    }

    /// The network under the client.
    pub fn onion(&self) -> &OnionNetwork {
        self.client.network()
    }

    /// The conversation with `peer`, oldest first.
    pub fn history(&self, peer: &SessionId) -> Vec<MessageRecord> {
        self.client
            .with_engine(|e| e.messages(peer, 1_000))
            .unwrap()
    }

    /// Waits (up to `limit`) for an event matching `pred` among those seen or still to come,
    /// and returns it.
    pub async fn wait_event(
        &mut self,
        what: &str,
        limit: Duration,
        pred: impl Fn(&Event) -> bool,
    ) -> Event {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(e) = self.seen.iter().find(|e| pred(e)) {
                return e.clone();
            }
            let left = deadline.saturating_duration_since(Instant::now());
            match tokio::time::timeout(left, self.events.next()).await {
                Ok(Some(event)) => self.seen.push(event),
                Ok(None) => panic!("{}: the client's event stream ended", self.name),
                Err(_) => panic!(
                    "{}: timed out after {limit:?} waiting for {what}; events seen: {:#?}",
                    self.name, self.seen
                ),
            }
        }
    }

    /// Waits (up to `limit`) until `check` on the client's state gives a value.
    pub async fn wait_state<T>(
        &self,
        what: &str,
        limit: Duration,
        mut check: impl FnMut(&Self) -> Option<T>,
    ) -> T {
        let start = Instant::now();
        loop {
            if let Some(v) = check(self) {
                return v;
            }
            assert!(
                start.elapsed() < limit,
                "{}: timed out after {limit:?} waiting for {what}",
                self.name
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits until a message from `peer` with text `body` is in the conversation, and returns
    /// it.
    pub async fn wait_message(&self, peer: &SessionId, body: &str) -> MessageRecord {
        self.wait_state(&format!("the message {body:?}"), STEP, |u| {
            u.history(peer)
                .into_iter()
                .find(|m| !m.outgoing && m.body.as_deref() == Some(body))
        })
        .await
    }
}

/// Polls `check` (every 100 ms) until it gives a value, failing after `limit`.
pub async fn wait_for<T, F, Fut>(what: &str, limit: Duration, check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    sotto_testkit::net::eventually(what, limit, check)
        .await
        .unwrap()
}

/// The guard (first hop) of each of the network's current paths.
pub fn guards(onion: &OnionNetwork) -> Vec<Hop> {
    onion
        .paths()
        .iter()
        .filter_map(|p| p.first().cloned())
        .collect()
}

/// Whether `addr` is a node's address on this network.
pub fn on_subnet(addr: &SocketAddr, subnet: u8) -> bool {
    matches!(addr.ip(), IpAddr::V4(ip) if ip.octets()[1] == subnet)
}

// What the swarm holds, asked of each node directly.

impl TestNet {
    /// The hashes node `node` holds in `account`'s namespace 0, by a signed retrieve sent to
    /// it straight over HTTPS (not through the client); `None` when it does not answer 200.
    pub async fn held_on(&self, node: usize, account: &Account) -> Option<Vec<MessageHash>> {
        let retrieve = sotto_rpc::request::Retrieve::new(
            AccountId::from(account.session_id()),
            Namespace::DEFAULT,
        )
        .signed(
            &sotto_rpc::Signer::session(account.ed25519_secret()),
            now_ms(),
        );
        let resp = self
            .post(node, Request::from(retrieve).to_http_body())
            .await?;
        if resp.status != 200 {
            return None;
        }
        let parsed =
            sotto_rpc::response::RetrieveResponse::parse(&resp.body, sotto_rpc::Encoding::Json)
                .ok()?;
        Some(parsed.messages.iter().map(|m| m.hash).collect())
    }

    /// [`TestNet::held_on`] for every node of the network not killed by the test, by index.
    pub async fn held_everywhere(
        &self,
        account: &Account,
    ) -> Vec<(usize, Option<Vec<MessageHash>>)> {
        let mut out = Vec::new();
        for i in 0..self.tn.nodes.len() {
            if self.tn.nodes[i].pid().is_some() {
                out.push((i, self.held_on(i, account).await));
            }
        }
        out
    }
}

impl TestNet {
    /// Each running node's expiry of `hash` in `account`'s swarm, by a signed `get_expiries`
    /// sent to it straight over HTTPS: by node index, `None` when it does not hold it; a node
    /// that does not answer 200 is left out.
    pub async fn expiries_everywhere(
        &self,
        account: &Account,
        hash: MessageHash,
    ) -> Vec<(usize, Option<u64>)> {
        let mut out = Vec::new();
        for i in 0..self.tn.nodes.len() {
            if self.tn.nodes[i].pid().is_none() {
                continue;
            }
            let request = sotto_rpc::request::GetExpiries::new(
                AccountId::from(account.session_id()),
                vec![hash],
                now_ms(),
                &sotto_rpc::Signer::session(account.ed25519_secret()),
            );
            let Some(resp) = self
                .post(i, Request::GetExpiries(request).to_http_body())
                .await
            else {
                continue;
            };
            if resp.status != 200 {
                continue;
            }
            if let Ok(parsed) = sotto_rpc::response::GetExpiriesResponse::parse(
                &resp.body,
                sotto_rpc::Encoding::Json,
            ) {
                out.push((i, parsed.expiries.get(&hash).copied()));
            }
        }
        out
    }
}
