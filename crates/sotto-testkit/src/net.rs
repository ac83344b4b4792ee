//! A local Sotto network of real processes: one directory and N service nodes, each on its own
//! loopback address with its own data directory, for integration tests and `cargo xtask testnet`.
//!
//! Keys are made here before the processes start, so the harness knows every identity up front
//! (processes load `DATA_DIR/identity.key` when it exists). Each process writes its output to
//! `DATA_DIR/process.log`; [`Testnet::logs_tail`] shows the end of every log for a failing test.
//! Nothing here sleeps to synchronise: [`wait_until`] polls a condition against a deadline.

use std::fmt::Write as _;
use std::fs;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use sotto_crypto::{Ed25519PublicKey, Ed25519SecretKey, OsRng};

/// Why the harness failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NetError {
    /// A file or process operation failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// A binary is missing: the message says how to build it.
    #[error("{0} not found: build it with `cargo build -p sotto-node -p sotto-directory`")]
    MissingBinary(PathBuf),
    /// A condition did not hold before its deadline.
    #[error("timed out after {after:?} waiting for {what}")]
    Timeout {
        /// What was awaited.
        what: String,
        /// How long.
        after: Duration,
    },
    /// No such node.
    #[error("no node {0}")]
    NoSuchNode(usize),
    /// Building the node binaries failed.
    #[error("building the node binaries: {0}")]
    Build(String),
    /// An operator command of a server failed (the command and its error output).
    #[error("operator command failed: {0}")]
    Operator(String),
}

fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> NetError {
    let what = what.into();
    move |source| NetError::Io { what, source }
}

/// How to lay out a network.
#[derive(Debug, Clone)]
pub struct TestnetConfig {
    /// Where the data directories, configs and logs go.
    pub dir: PathBuf,
    /// How many service nodes.
    pub nodes: usize,
    /// The second octet of every address: the directory is `127.S.0.1`, node `i` (0-based) is
    /// `127.S.0.(11 + i)`. Give concurrent networks different values.
    pub subnet: u8,
    /// The directory's port; nodes listen on `port + 1` on their own addresses.
    pub port: u16,
    /// The directory holding the `sotto-node` and `sotto-directory` binaries.
    pub bin_dir: PathBuf,
    /// How often nodes send uptime proofs, seconds.
    pub proof_interval_s: u64,
    /// How long without a proof before the directory drops a node, seconds.
    pub decommission_after_s: u64,
    /// The processes' log filter (`RUST_LOG`), e.g. `info,sotto_node::onion=debug`. Defaults to
    /// the caller's `RUST_LOG`, else `info`.
    pub log_filter: String,
    /// Lines appended to every node's configuration file (e.g. `server_ca_file = "…"`).
    pub node_extra_config: String,
    /// The directory's admission, limit and epoch-rate settings (TOML lines): by default
    /// [`TESTNET_DIRECTORY_LIMITS`]. Replace the whole text to test other settings.
    pub directory_limits: String,
    /// Every node's `store_limit_mb` (256 by default).
    pub store_limit_mb: u64,
    /// Whether nodes proxy onion requests to loopback and private addresses
    /// (`allow_private_targets`): on by default, since a testnet's servers live on loopback.
    pub allow_private_targets: bool,
}

/// The directory settings of a local testnet: open admission (the harness starts nodes with
/// keys nobody listed), limits that fit every node of the testnet in its one loopback /24
/// (`127.S.0.0/24`, one address per node), rate limits far above what its nodes and clients
/// send, and epochs at most every 200 ms so that a starting network settles fast.
pub const TESTNET_DIRECTORY_LIMITS: &str = "admission = \"open\"
max_nodes = 1000
max_nodes_per_ip = 2
max_nodes_per_subnet = 256
min_epoch_interval_ms = 200
requests_per_s_per_ip = 2000
request_burst_per_ip = 4000
requests_per_s_per_subnet = 5000
request_burst_per_subnet = 10000
";

impl TestnetConfig {
    /// A layout with the defaults of `cargo xtask testnet`: 14 nodes (two swarms of 7), port 22020.
    #[must_use]
    pub fn new(dir: PathBuf, bin_dir: PathBuf) -> Self {
        Self {
            dir,
            nodes: 14,
            subnet: 0,
            port: 22020,
            bin_dir,
            proof_interval_s: 2,
            decommission_after_s: 10,
            log_filter: std::env::var("RUST_LOG").unwrap_or_else(|_| "info".into()),
            node_extra_config: String::new(),
            directory_limits: TESTNET_DIRECTORY_LIMITS.to_owned(),
            store_limit_mb: 256,
            allow_private_targets: true,
        }
    }
}

/// What a process is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// The directory.
    Directory,
    /// A service node.
    Node,
    /// The file server ([`Testnet::start_file_server`]).
    FileServer,
    /// The community server ([`Testnet::start_community_server`]).
    Community,
}

/// One process of the network.
#[derive(Debug)]
pub struct Process {
    /// `directory` or `node-01`, `node-02`, …
    pub name: String,
    /// Its role.
    pub role: Role,
    /// Where it listens (HTTPS).
    pub addr: SocketAddr,
    /// Its Ed25519 identity (pin this).
    pub pubkey: Ed25519PublicKey,
    /// Its data directory.
    pub data_dir: PathBuf,
    config: PathBuf,
    child: Option<Child>,
}

impl Process {
    /// The process id, if it is running.
    #[must_use]
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Its log file.
    #[must_use]
    pub fn log_path(&self) -> PathBuf {
        self.data_dir.join("process.log")
    }

    /// Whether it is still running.
    pub fn is_running(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }
}

/// A running network. Dropping it kills every process.
#[derive(Debug)]
pub struct Testnet {
    cfg: TestnetConfig,
    /// The directory.
    pub directory: Process,
    /// The nodes, in order.
    pub nodes: Vec<Process>,
    /// The file server, once [`Testnet::start_file_server`] started it.
    pub file_server: Option<Process>,
    /// The community server, once [`Testnet::start_community_server`] started it.
    pub community: Option<Process>,
    /// The join link of the community server's room `lobby`, once started.
    pub community_link: Option<String>,
}

/// Polls the async `check` every 100 ms until it gives a value, or fails with
/// [`NetError::Timeout`] after `limit` (for async tests; [`wait_until`] is the blocking form).
pub async fn eventually<T, F, Fut>(what: &str, limit: Duration, mut check: F) -> Result<T, NetError>
where
    F: FnMut() -> Fut,
    Fut: core::future::Future<Output = Option<T>>,
{
    let start = Instant::now();
    loop {
        if let Some(v) = check().await {
            return Ok(v);
        }
        if start.elapsed() >= limit {
            return Err(NetError::Timeout {
                what: what.to_owned(),
                after: limit,
            });
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Polls `cond` every 50 ms until it returns true, or fails after `deadline`.
pub fn wait_until(
    what: &str,
    deadline: Duration,
    mut cond: impl FnMut() -> bool,
) -> Result<(), NetError> {
    let start = Instant::now();
    loop {
        if cond() {
            return Ok(());
        }
        if start.elapsed() >= deadline {
            return Err(NetError::Timeout {
                what: what.to_owned(),
                after: deadline,
            });
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn write_private(path: &Path, text: &str) -> Result<(), NetError> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .map_err(io(format!("writing {}", path.display())))?;
    f.write_all(text.as_bytes())
        .map_err(io(format!("writing {}", path.display())))
}

/// Loads `DATA_DIR/identity.key`, or makes one.
fn identity(data_dir: &Path) -> Result<Ed25519PublicKey, NetError> {
    fs::create_dir_all(data_dir).map_err(io(format!("creating {}", data_dir.display())))?;
    let path = data_dir.join("identity.key");
    let existing = fs::read_to_string(&path)
        .ok()
        .and_then(|text| hex::decode(text.trim()).ok())
        .and_then(|bytes| Ed25519SecretKey::from_bytes(&bytes).ok());
    if let Some(key) = existing {
        return Ok(key.public_key());
    }
    let key = Ed25519SecretKey::generate(&mut OsRng);
    write_private(&path, &format!("{}\n", hex::encode(key.seed().expose())))?;
    Ok(key.public_key())
}

impl Testnet {
    /// Lays out and starts the directory and every node. It does not wait for them to be ready:
    /// use [`wait_until`] with a condition that fits the test.
    pub fn start(cfg: TestnetConfig) -> Result<Self, NetError> {
        for bin in ["sotto-node", "sotto-directory"] {
            let path = cfg.bin_dir.join(bin);
            if !path.exists() {
                return Err(NetError::MissingBinary(path));
            }
        }
        let dir_addr = SocketAddr::V4(SocketAddrV4::new(
            Ipv4Addr::new(127, cfg.subnet, 0, 1),
            cfg.port,
        ));
        let data_dir = cfg.dir.join("directory");
        let pubkey = identity(&data_dir)?;
        let config = data_dir.join("directory.toml");
        let text = format!(
            "data_dir = {:?}\nlisten = \"{dir_addr}\"\ndecommission_after_s = {}\n{}\n",
            data_dir.display().to_string(),
            cfg.decommission_after_s,
            cfg.directory_limits,
        );
        write_private(&config, &text)?;
        let directory = Process {
            name: "directory".into(),
            role: Role::Directory,
            addr: dir_addr,
            pubkey,
            data_dir,
            config,
            child: None,
        };
        let mut net = Self {
            cfg,
            directory,
            nodes: Vec::new(),
            file_server: None,
            community: None,
            community_link: None,
        };
        net.spawn_directory()?;
        for _ in 0..net.cfg.nodes {
            net.add_node()?;
        }
        Ok(net)
    }

    fn spawn(bin: &Path, log_filter: &str, p: &mut Process) -> Result<(), NetError> {
        let log = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(p.log_path())
            .map_err(io(format!("opening {}", p.log_path().display())))?;
        let log2 = log.try_clone().map_err(io("duplicating the log handle"))?;
        let child = Command::new(bin)
            .arg("run")
            .arg("--config")
            .arg(&p.config)
            .env("RUST_LOG", log_filter)
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log2)
            .spawn()
            .map_err(io(format!("starting {}", bin.display())))?;
        p.child = Some(child);
        Ok(())
    }

    fn spawn_directory(&mut self) -> Result<(), NetError> {
        Self::spawn(
            &self.cfg.bin_dir.join("sotto-directory"),
            &self.cfg.log_filter,
            &mut self.directory,
        )
    }

    /// Adds a node (config, key, process) and returns its index.
    pub fn add_node(&mut self) -> Result<usize, NetError> {
        let index = self.nodes.len();
        let host = u8::try_from(11 + index).map_err(|_| NetError::NoSuchNode(index))?;
        let addr = SocketAddr::V4(SocketAddrV4::new(
            Ipv4Addr::new(127, self.cfg.subnet, 0, host),
            self.cfg.port + 1,
        ));
        let name = format!("node-{:02}", index + 1);
        let data_dir = self.cfg.dir.join(&name);
        let pubkey = identity(&data_dir)?;
        let config = data_dir.join("node.toml");
        let text = format!(
            "data_dir = {:?}\nlisten = \"{addr}\"\ndirectory = \"{}\"\ndirectory_pubkey = \"{}\"\nstore_limit_mb = {}\nproof_interval_s = {}\nlist_poll_interval_s = 1\nallow_private_targets = {}\n{}",
            data_dir.display().to_string(),
            self.directory.addr,
            hex::encode(self.directory.pubkey.as_bytes()),
            self.cfg.store_limit_mb,
            self.cfg.proof_interval_s,
            self.cfg.allow_private_targets,
            self.cfg.node_extra_config,
        );
        write_private(&config, &text)?;
        let mut p = Process {
            name,
            role: Role::Node,
            addr,
            pubkey,
            data_dir,
            config,
            child: None,
        };
        Self::spawn(
            &self.cfg.bin_dir.join("sotto-node"),
            &self.cfg.log_filter,
            &mut p,
        )?;
        self.nodes.push(p);
        Ok(index)
    }

    /// Starts a file server (`sotto-fileserver` from the binary directory, see
    /// [`fileserver_binary`]) on `127.S.0.2`, port `port + 10`, plain HTTP, with rate limits
    /// far above what tests send, and waits until it accepts connections. `extra_config` is
    /// appended to its configuration (e.g. `quota_bytes = 1000`). The network file then names
    /// it ([`Self::network_file`]).
    pub fn start_file_server(&mut self, extra_config: &str) -> Result<&Process, NetError> {
        let bin = self.cfg.bin_dir.join("sotto-fileserver");
        if !bin.exists() {
            return Err(NetError::MissingBinary(bin));
        }
        let addr = SocketAddr::V4(SocketAddrV4::new(
            Ipv4Addr::new(127, self.cfg.subnet, 0, 2),
            self.cfg.port + 10,
        ));
        let data_dir = self.cfg.dir.join("fileserver");
        let pubkey = identity(&data_dir)?;
        let config = data_dir.join("fileserver.toml");
        let text = format!(
            "data_dir = {:?}\nlisten = \"{addr}\"\nrequests_per_s_per_ip = 2000\nrequest_burst_per_ip = 4000\n{extra_config}\n",
            data_dir.display().to_string(),
        );
        write_private(&config, &text)?;
        let mut p = Process {
            name: "fileserver".into(),
            role: Role::FileServer,
            addr,
            pubkey,
            data_dir,
            config,
            child: None,
        };
        Self::spawn(&bin, &self.cfg.log_filter, &mut p)?;
        let started = wait_until("the file server listens", Duration::from_secs(20), || {
            std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(500)).is_ok()
        });
        let p = self.file_server.insert(p);
        started?;
        Ok(p)
    }

    /// Starts a community server (`sotto-community` from the binary directory, see
    /// [`community_binary`]) on `127.S.0.3`, port `port + 11`, plain HTTP, with a room
    /// `lobby` ("Lobby") and rate limits far above what tests send, and waits until it accepts
    /// connections. `extra_config` is appended to its configuration. The lobby's join link is
    /// kept in [`Self::community_link`] and the network file names it
    /// ([`Self::network_file`]).
    pub fn start_community_server(&mut self, extra_config: &str) -> Result<&Process, NetError> {
        let bin = self.cfg.bin_dir.join("sotto-community");
        if !bin.exists() {
            return Err(NetError::MissingBinary(bin));
        }
        let addr = SocketAddr::V4(SocketAddrV4::new(
            Ipv4Addr::new(127, self.cfg.subnet, 0, 3),
            self.cfg.port + 11,
        ));
        let data_dir = self.cfg.dir.join("community");
        fs::create_dir_all(&data_dir).map_err(io(format!("creating {}", data_dir.display())))?;
        let config = data_dir.join("community.toml");
        let text = format!(
            "data_dir = {:?}\nlisten = \"{addr}\"\nrequests_per_s_per_ip = 2000\nrequest_burst_per_ip = 4000\n{extra_config}\n",
            data_dir.display().to_string(),
        );
        write_private(&config, &text)?;
        let link = community_command(&bin, &config, &["room", "add", "lobby", "Lobby"])?;
        let key = link
            .rsplit_once("public_key=")
            .and_then(|(_, k)| hex::decode(k.trim()).ok())
            .and_then(|k| <[u8; 32]>::try_from(k).ok())
            .ok_or_else(|| NetError::Operator(format!("room add printed no join link: {link}")))?;
        let mut p = Process {
            name: "community".into(),
            role: Role::Community,
            addr,
            // The community server's key is an X25519 key (the join link's `public_key`).
            pubkey: Ed25519PublicKey(key),
            data_dir,
            config,
            child: None,
        };
        Self::spawn(&bin, &self.cfg.log_filter, &mut p)?;
        let started = wait_until(
            "the community server listens",
            Duration::from_secs(20),
            || std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(500)).is_ok(),
        );
        self.community_link = Some(link.trim().to_owned());
        let p = self.community.insert(p);
        started?;
        Ok(p)
    }

    /// Runs an operator command of the running community server (`sotto-community ARGS
    /// --config FILE`, e.g. `["user", "moderator", "--room", "lobby", SESSION_ID]`) and returns
    /// its standard output.
    pub fn community_cli(&self, args: &[&str]) -> Result<String, NetError> {
        let p = self
            .community
            .as_ref()
            .ok_or_else(|| NetError::Operator("no community server was started".into()))?;
        community_command(&self.cfg.bin_dir.join("sotto-community"), &p.config, args)
    }

    /// The file server's base URL (`http://127.S.0.2:PORT`), once started.
    #[must_use]
    pub fn file_server_url(&self) -> Option<String> {
        self.file_server
            .as_ref()
            .map(|p| format!("http://{}", p.addr))
    }

    fn node(&mut self, index: usize) -> Result<&mut Process, NetError> {
        self.nodes.get_mut(index).ok_or(NetError::NoSuchNode(index))
    }

    /// `kill -9` a node: no chance to clean up.
    pub fn kill(&mut self, index: usize) -> Result<(), NetError> {
        if let Some(mut child) = self.node(index)?.child.take() {
            child.kill().map_err(io("killing a node"))?;
            child.wait().map_err(io("reaping a node"))?;
        }
        Ok(())
    }

    /// Stops a node gracefully (SIGTERM), waiting up to 10 s before killing it.
    pub fn stop(&mut self, index: usize) -> Result<(), NetError> {
        let node = self.node(index)?;
        if let Some(mut child) = node.child.take() {
            let _ = Command::new("kill")
                .arg("-TERM")
                .arg(child.id().to_string())
                .status();
            let start = Instant::now();
            while matches!(child.try_wait(), Ok(None)) && start.elapsed() < Duration::from_secs(10)
            {
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = child.kill();
            child.wait().map_err(io("reaping a node"))?;
        }
        Ok(())
    }

    /// Starts a stopped or killed node again with the same data.
    pub fn restart(&mut self, index: usize) -> Result<(), NetError> {
        let bin = self.cfg.bin_dir.join("sotto-node");
        let filter = self.cfg.log_filter.clone();
        let node = self.node(index)?;
        if node.is_running() {
            return Ok(());
        }
        Self::spawn(&bin, &filter, node)
    }

    /// `kill -9` the directory (its state file stays).
    pub fn kill_directory(&mut self) -> Result<(), NetError> {
        if let Some(mut child) = self.directory.child.take() {
            child.kill().map_err(io("killing the directory"))?;
            child.wait().map_err(io("reaping the directory"))?;
        }
        Ok(())
    }

    /// Starts a killed directory again with the same configuration and data directory.
    pub fn restart_directory(&mut self) -> Result<(), NetError> {
        if self.directory.is_running() {
            return Ok(());
        }
        self.spawn_directory()
    }

    /// The network file clients load. Every process of a testnet is on one loopback /24, and
    /// small testnets have one swarm: the file tells clients to spread paths over distinct
    /// addresses (`"spread": "address"`) and not to keep hops out of the target's and their own
    /// swarm (`"avoid_swarms": false`), which a public network's defaults require.
    #[must_use]
    ///
    /// With a file server running, the file also names it: `"file_server": {"url":
    /// "http://…", "pubkey": Ed25519 hex}` (clients derive its X25519 key, as Session clients
    /// do from an attachment URL's `p=`).
    pub fn network_file(&self) -> serde_json::Value {
        let mut file = serde_json::json!({
            "directory": self.directory.addr.to_string(),
            "directory_pubkey": hex::encode(self.directory.pubkey.as_bytes()),
            "nodes_hint": self.nodes.iter().map(|n| n.addr.to_string()).collect::<Vec<_>>(),
            "spread": "address",
            "avoid_swarms": false,
        });
        if let (Some(link), Some(obj)) = (&self.community_link, file.as_object_mut()) {
            obj.insert("community".into(), serde_json::json!({ "lobby": link }));
        }
        if let (Some(fs), Some(obj)) = (&self.file_server, file.as_object_mut()) {
            obj.insert(
                "file_server".into(),
                serde_json::json!({
                    "url": format!("http://{}", fs.addr),
                    "pubkey": hex::encode(fs.pubkey.as_bytes()),
                }),
            );
        }
        file
    }

    /// The last `lines` lines of every process's log, for a failing test.
    #[must_use]
    pub fn logs_tail(&self, lines: usize) -> String {
        let mut out = String::new();
        for p in std::iter::once(&self.directory)
            .chain(&self.nodes)
            .chain(&self.file_server)
            .chain(&self.community)
        {
            let text = fs::read_to_string(p.log_path()).unwrap_or_default();
            let all: Vec<&str> = text.lines().collect();
            let _ = writeln!(out, "==== {} ({}) ====", p.name, p.addr);
            for line in all.iter().skip(all.len().saturating_sub(lines)) {
                let _ = writeln!(out, "{line}");
            }
        }
        out
    }

    /// The directory's current list of active nodes that have a swarm: `(Ed25519 hex, swarm id)`.
    /// `None` while the directory does not answer.
    #[must_use]
    pub fn active_nodes(&self) -> Option<Vec<(String, u64)>> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .ok()?;
        let body = serde_json::json!({
            "jsonrpc": "2.0", "id": 0, "method": "get_n_service_nodes",
            "params": {"active_only": true, "fields": {"pubkey_ed25519": true, "swarm_id": true}},
        });
        let resp = runtime
            .block_on(sotto_transport::HttpsClient::new().post(
                self.directory.addr,
                &self.directory.pubkey,
                "/json_rpc",
                &[("content-type", "application/json")],
                body.to_string().into_bytes(),
                Duration::from_secs(3),
            ))
            .ok()?;
        let doc: serde_json::Value = serde_json::from_slice(&resp.body).ok()?;
        let states = doc.get("result")?.get("service_node_states")?.as_array()?;
        Some(
            states
                .iter()
                .filter_map(|s| {
                    let key = s.get("pubkey_ed25519")?.as_str()?.to_owned();
                    let swarm = s.get("swarm_id")?.as_u64().filter(|&id| id != u64::MAX)?;
                    Some((key, swarm))
                })
                .collect(),
        )
    }

    /// Waits until the directory lists every running node as active with a swarm, and then
    /// until every running node's own view lists every running node in a swarm, all views of
    /// the same epoch. The directory listing them is not enough: nodes poll it, and until they know each other they refuse each
    /// other's requests (403 to an unknown peer, 502 "Next node not found" for an onion's next
    /// hop), which a client would see as failed first attempts.
    pub fn wait_ready(&mut self, deadline: Duration) -> Result<(), NetError> {
        let running: Vec<(SocketAddr, Ed25519PublicKey)> = self
            .nodes
            .iter_mut()
            .filter_map(|n| n.is_running().then_some((n.addr, n.pubkey)))
            .collect();
        let want: Vec<String> = running
            .iter()
            .map(|(_, k)| hex::encode(k.as_bytes()))
            .collect();
        let what = format!("the directory to list {} nodes in swarms", want.len());
        wait_until(&what, deadline, || {
            self.active_nodes()
                .is_some_and(|listed| want.iter().all(|k| listed.iter().any(|(l, _)| l == k)))
        })?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(io("starting a runtime"))?;
        let client = sotto_transport::HttpsClient::new();
        let what = format!(
            "every node to know the {} others, in the same epoch",
            want.len().saturating_sub(1)
        );
        wait_until(&what, deadline, || {
            runtime.block_on(async {
                let mut epochs = Vec::new();
                for (addr, key) in &running {
                    match epoch_listing_all(&client, *addr, key, &want).await {
                        Some(epoch) => epochs.push(epoch),
                        None => return false,
                    }
                }
                epochs.windows(2).all(|w| w.first() == w.last())
            })
        })
    }

    /// The configuration.
    #[must_use]
    pub fn config(&self) -> &TestnetConfig {
        &self.cfg
    }
}

impl Drop for Testnet {
    fn drop(&mut self) {
        for p in self
            .nodes
            .iter_mut()
            .chain(std::iter::once(&mut self.directory))
            .chain(self.file_server.as_mut())
            .chain(self.community.as_mut())
        {
            if let Some(mut child) = p.child.take() {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
    }
}

/// The epoch (block hash) of the node at `addr`'s view of the network, if that view lists
/// every key of `want` in a swarm.
async fn epoch_listing_all(
    client: &sotto_transport::HttpsClient,
    addr: SocketAddr,
    key: &Ed25519PublicKey,
    want: &[String],
) -> Option<String> {
    let body = br#"{"method":"oxend_request","params":{"endpoint":"get_service_nodes"}}"#;
    let resp = client
        .post(
            addr,
            key,
            "/storage_rpc/v1",
            &[("content-type", "application/json")],
            body.to_vec(),
            Duration::from_secs(5),
        )
        .await
        .ok()?;
    let listed: serde_json::Value = serde_json::from_slice(&resp.body).ok()?;
    let result = listed.get("result")?;
    let in_swarms: Vec<&str> = result
        .get("service_node_states")?
        .as_array()?
        .iter()
        .filter(|s| {
            s.get("swarm_id")
                .and_then(serde_json::Value::as_u64)
                .is_some_and(|id| id != u64::MAX)
        })
        .filter_map(|s| s.get("service_node_pubkey")?.as_str())
        .collect();
    if !want.iter().all(|k| in_swarms.contains(&k.as_str())) {
        return None;
    }
    result.get("block_hash")?.as_str().map(str::to_owned)
}

/// The directory holding the `sotto-node` and `sotto-directory` binaries for an integration
/// test: `SOTTO_BIN_DIR` if set, else the test's own target profile directory
/// (`target/<profile>/deps/<test>` → `target/<profile>`), where they are built once per test
/// process with the test's profile.
///
/// The build runs [`without_cargo_run_env`].
pub fn node_binaries() -> Result<PathBuf, NetError> {
    static BUILT: std::sync::OnceLock<Result<PathBuf, String>> = std::sync::OnceLock::new();
    if let Some(dir) = std::env::var_os("SOTTO_BIN_DIR") {
        return Ok(PathBuf::from(dir));
    }
    BUILT
        .get_or_init(build_node_binaries)
        .clone()
        .map_err(NetError::Build)
}

/// [`node_binaries`], with `sotto-fileserver` built there too (for tests that call
/// [`Testnet::start_file_server`]).
pub fn fileserver_binary() -> Result<PathBuf, NetError> {
    static BUILT: std::sync::OnceLock<Result<PathBuf, String>> = std::sync::OnceLock::new();
    let dir = node_binaries()?;
    if std::env::var_os("SOTTO_BIN_DIR").is_some() {
        return Ok(dir);
    }
    BUILT
        .get_or_init(|| build_packages(&["sotto-fileserver"]))
        .clone()
        .map_err(NetError::Build)
}

/// [`node_binaries`], with `sotto-community` built there too (for tests that call
/// [`Testnet::start_community_server`]).
pub fn community_binary() -> Result<PathBuf, NetError> {
    static BUILT: std::sync::OnceLock<Result<PathBuf, String>> = std::sync::OnceLock::new();
    let dir = node_binaries()?;
    if std::env::var_os("SOTTO_BIN_DIR").is_some() {
        return Ok(dir);
    }
    BUILT
        .get_or_init(|| build_packages(&["sotto-community"]))
        .clone()
        .map_err(NetError::Build)
}

/// Runs `bin ARGS --config CONFIG` to completion; its standard output, or its failure.
fn community_command(bin: &Path, config: &Path, args: &[&str]) -> Result<String, NetError> {
    let out = Command::new(bin)
        .args(args)
        .arg("--config")
        .arg(config)
        .stdin(Stdio::null())
        .output()
        .map_err(io(format!("running {}", bin.display())))?;
    if !out.status.success() {
        return Err(NetError::Operator(format!(
            "sotto-community {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn build_node_binaries() -> Result<PathBuf, String> {
    build_packages(&["sotto-node", "sotto-directory"])
}

fn build_packages(packages: &[&str]) -> Result<PathBuf, String> {
    let exe = std::env::current_exe().map_err(|e| format!("locating the test binary: {e}"))?;
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .ok_or("the test binary is not in target/<profile>/deps")?
        .to_owned();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.arg("build");
    for p in packages {
        cmd.args(["-p", p]);
    }
    cmd.arg("--bins");
    if dir.file_name() == Some("release".as_ref()) {
        cmd.arg("--release");
    }
    without_cargo_run_env(&mut cmd);
    let status = cmd
        .status()
        .map_err(|e| format!("running cargo build: {e}"))?;
    if !status.success() {
        return Err(format!("cargo build -p {} failed", packages.join(" -p ")));
    }
    Ok(dir)
}

/// Removes from `cmd`'s environment the variables `cargo test` and `cargo run` set for the
/// program they start (`CARGO_PKG_*`, `CARGO_MANIFEST_DIR`, `OUT_DIR`, …), for a `cargo`
/// command started from a test or an xtask: build scripts that watch them (ring's does) would
/// otherwise rerun, and rebuild everything above them, each time a build from a shell came in
/// between.
pub fn without_cargo_run_env(cmd: &mut Command) {
    for (key, _) in std::env::vars_os() {
        let key = key.to_string_lossy();
        let set_for_the_program = key.starts_with("CARGO_PKG_")
            || key.starts_with("CARGO_BIN_EXE_")
            || [
                "CARGO_MANIFEST_DIR",
                "CARGO_MANIFEST_PATH",
                "CARGO_MANIFEST_LINKS",
                "CARGO_CRATE_NAME",
                "CARGO_BIN_NAME",
                "CARGO_PRIMARY_PACKAGE",
                "CARGO_TARGET_TMPDIR",
                "CARGO_RUSTC_CURRENT_DIR",
                "OUT_DIR",
            ]
            .contains(&&*key);
        if set_for_the_program {
            cmd.env_remove(&*key);
        }
    }
}
