//! `node`: real `sotto-node` processes on loopback (a directory and 7 nodes: one swarm, started
//! with `sotto_testkit::net`), driven over HTTPS by a tokio client with [`IN_FLIGHT`] requests in
//! flight, spread over [`CLIENT_ADDRS`] 127.x client addresses (so the per-address rate limit of
//! spec §2.8, 300 requests/s, does not cap the figures). Every figure has its bound, measured in the same run:
//!
//! - signed retrieves through one node vs Ed25519 verifications;
//! - unsigned namespace-0 stores through one node, each replicated to the 6 other swarm members,
//!   vs sotto-store inserts into a temporary SQLite file;
//! - 3-hop onion requests (guard, middle, exit, then a destination node answering `info`) vs
//!   X25519 agreements;
//! - p50/p99 latency of a store through a 3-hop onion, one request at a time.
//!
//! The binaries come from `SOTTO_BIN_DIR`, or from the bench's own target dir: `cargo xtask bench`
//! builds them together with the bench, so they are always current (run directly, the bench
//! builds them only when they are missing).
//!
//! When `taskset` exists, the node processes (and the directory) run pinned to core
//! [`NODE_CORE`] and this process (the load generator) to core [`CLIENT_CORE`], so that the
//! client's work does not count against the nodes. Each rate is also reported per node
//! CPU-second: the nodes' own CPU time (`utime + stime` from `/proc/<pid>/stat`, summed over the
//! 7 nodes) across the phase. Each figure has a **work bound**, the unavoidable operations per
//! request on the nodes times their cost measured in this run:
//!
//! - a signed retrieve: 1 Ed25519 verification ([`RETRIEVE_VERIFIES`]);
//! - a store replicated to 7 nodes: 7 SQLite inserts ([`STORE_INSERTS`]);
//! - a 3-hop onion request to a node: 4 X25519 agreements, one per layer peeled by the guard,
//!   middle, exit and destination ([`RELAY_X25519`]; the client's are not node work).
//!
//! `*_work_ratio` is the rate per node CPU-second over its bound (1.0: the nodes do nothing but
//! the unavoidable work).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, anyhow, bail, ensure};
use sotto_crypto::{Ed25519PublicKey, OsRng, X25519SecretKey};
use sotto_identity::{Account, IdPrefix, PrefixedId};
use sotto_onion::{Destination, EncType, NodeKeys, ResponseKey};
use sotto_rpc::request::{Lifetime, Retrieve, Store};
use sotto_rpc::response::{NodeOutcome, RetrieveResponse, SwarmResponse};
use sotto_rpc::{AccountId, Encoding, Method, Namespace, Request, Signer};
use sotto_store::NewMessage;
use sotto_testkit::net::{Testnet, TestnetConfig};
use sotto_transport::HttpsClient;

use crate::harness::{Report, per_second};

/// Nodes in the network: one swarm, so a store is replicated to 6 peers.
const NODES: usize = 7;
/// Second octet of every address (tests use other subnets).
const SUBNET: u8 = 77;
/// The directory's port; nodes listen on the next one.
const PORT: u16 = 23_770;
/// Requests in flight during the rate phases (one task each).
pub(crate) const IN_FLIGHT: usize = 32;
/// Client addresses the requests rotate over.
const CLIENT_ADDRS: u8 = 128;
/// How long each rate phase runs at most.
const PHASE: Duration = Duration::from_secs(4);
/// The most requests in one rate phase.
const PHASE_MAX: usize = 50_000;
/// Onion requests built ahead of the relay phase (its request cap).
const ONIONS: usize = 6_000;
/// Latency samples, and how long the latency phase may take.
const SAMPLES: usize = 200;
const SAMPLES_WITHIN: Duration = Duration::from_secs(20);
/// Per-request timeout.
const TIMEOUT: Duration = Duration::from_secs(10);
/// Message body size, in the network and in the SQLite bound.
const DATA_LEN: usize = 256;
const TTL_MS: u64 = 3_600_000;
const INFO_RPC: &[u8] = br#"{"method":"info","params":{}}"#;
/// The core the node processes are pinned to.
pub(crate) const NODE_CORE: &str = "0";
/// The core the load generator (this process) is pinned to.
pub(crate) const CLIENT_CORE: &str = "1";
/// Ed25519 verifications a signed retrieve needs on the nodes.
const RETRIEVE_VERIFIES: f64 = 1.0;
/// SQLite inserts a store replicated to every member needs on the nodes.
const STORE_INSERTS: f64 = NODES as f64;
/// X25519 agreements a 3-hop onion request to a node's `info` needs on the nodes.
const RELAY_X25519: f64 = 4.0;

/// Pins every thread of process `pid` to `cores` with `taskset`; whether that worked.
fn pin(pid: u32, cores: &str) -> bool {
    Command::new("taskset")
        .args(["-a", "-p", "-c", cores, &pid.to_string()])
        .stdout(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Clock ticks per second of `/proc/<pid>/stat` times (`getconf CLK_TCK`, else 100).
fn clock_ticks() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|t| t.trim().parse::<f64>().ok())
        .filter(|t| *t > 0.0)
        .unwrap_or(100.0)
}

/// The CPU time (user + system) process `pid` has used, in clock ticks.
fn cpu_ticks(pid: u32) -> anyhow::Result<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .with_context(|| format!("reading /proc/{pid}/stat"))?;
    // Fields after the command name (which may hold spaces) in parentheses: field 3 (state)
    // is the first; utime and stime are fields 14 and 15.
    let rest = stat
        .rsplit_once(')')
        .map(|(_, r)| r)
        .ok_or_else(|| anyhow!("/proc/{pid}/stat: no command name"))?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let tick = |i: usize| -> anyhow::Result<u64> {
        Ok(fields
            .get(i)
            .ok_or_else(|| anyhow!("/proc/{pid}/stat: too few fields"))?
            .parse()?)
    };
    Ok(tick(11)? + tick(12)?)
}

/// The node processes' CPU time, for per-CPU-second figures.
struct NodeClock {
    pids: Vec<u32>,
    ticks_per_s: f64,
}

impl NodeClock {
    /// Total CPU seconds used by the nodes so far.
    fn seconds(&self) -> anyhow::Result<f64> {
        let mut ticks = 0u64;
        for pid in &self.pids {
            ticks += cpu_ticks(*pid)?;
        }
        Ok(ticks as f64 / self.ticks_per_s)
    }
}

/// Records a rate phase: its wall rate, its rate per node CPU-second, and that over its work
/// bound (`ops` unavoidable operations per request at `bound` operations per second).
#[allow(clippy::too_many_arguments)]
fn record(
    report: &mut Report,
    name: &str,
    phase: Phase,
    cpu_s: f64,
    ops: f64,
    bound: f64,
    what: &str,
) {
    let wall = phase.ok as f64 / phase.secs;
    let per_cpu = if cpu_s > 0.0 {
        phase.ok as f64 / cpu_s
    } else {
        0.0
    };
    let work_bound = bound / ops;
    println!(
        "{name}: work bound {work_bound:.0}/s = {what} ({ops} per request at {bound:.0}/s); \
         nodes used {cpu_s:.2} CPU-s for {} requests",
        phase.ok
    );
    report.figure(&format!("{name}_per_s"), wall, "op/s");
    report.figure(&format!("{name}_per_node_cpu_s"), per_cpu, "op/CPU-s");
    report.figure(&format!("{name}_work_bound_per_s"), work_bound, "op/CPU-s");
    report.ratio(&format!("{name}_work_ratio"), per_cpu, work_bound);
}

pub fn run(report: &mut Report) -> anyhow::Result<()> {
    // The bounds, before the processes start competing for the core.
    let signer = Account::from_ed25519_seed(&[1; 32]);
    let key = signer.ed25519_secret();
    let (msg, pk) = (b"retrieve01700000000000", key.public_key());
    let sig = key.sign(msg);
    let ed25519 = per_second(|| pk.verify(msg, &sig));
    let (a, b) = (
        X25519SecretKey::from_bytes(&[2; 32]),
        X25519SecretKey::from_bytes(&[3; 32]).public_key(),
    );
    let x25519 = per_second(|| a.diffie_hellman(&b));
    let sqlite = sqlite_inserts_per_s()?;
    report.figure("ed25519_verify_per_s", ed25519, "op/s");
    report.figure("x25519_per_s", x25519, "op/s");
    report.figure("sqlite_insert_per_s", sqlite, "op/s");

    let pinned = pin(std::process::id(), CLIENT_CORE);
    let dir = tempfile::tempdir().context("creating the testnet directory")?;
    let mut cfg = TestnetConfig::new(dir.path().to_owned(), bin_dir()?);
    cfg.nodes = NODES;
    cfg.subnet = SUBNET;
    cfg.port = PORT;
    cfg.decommission_after_s = 60;
    let mut net = Testnet::start(cfg)?;
    let mut pids: Vec<u32> = Vec::new();
    for node in &net.nodes {
        pids.push(node.pid().ok_or_else(|| anyhow!("a node is not running"))?);
    }
    let pinned = pinned
        && pids
            .iter()
            .chain(net.directory.pid().as_ref())
            .all(|pid| pin(*pid, NODE_CORE));
    println!(
        "pinning: {}",
        if pinned {
            "nodes on core 0, load generator on core 1"
        } else {
            "none (no taskset, or it failed)"
        }
    );
    report.figure("pinned", if pinned { 1.0 } else { 0.0 }, "bool");
    let clock = NodeClock {
        pids,
        ticks_per_s: clock_ticks(),
    };
    let result = measure(&mut net, report, &clock, ed25519, sqlite, x25519);
    if result.is_err() {
        eprintln!("{}", net.logs_tail(20));
    }
    result
}

/// sotto-store inserts of new `DATA_LEN`-byte messages into a temporary file, per second.
fn sqlite_inserts_per_s() -> anyhow::Result<f64> {
    let file = tempfile::NamedTempFile::new().context("creating the SQLite file")?;
    let mut store = sotto_store::Store::open(file.path(), 1 << 30)?;
    let owner = PrefixedId::new(IdPrefix::Standard, [5; 32]);
    let mut n = 0u64;
    let mut failed = None;
    let rate = per_second(|| {
        n += 1;
        let msg = NewMessage {
            owner,
            swarm_space: 1,
            namespace: 0,
            hash: format!("{n:043}"),
            timestamp_ms: 1_700_000_000_000,
            expiry_ms: 1_700_000_000_000 + TTL_MS,
            data: vec![0x5a; DATA_LEN],
        };
        if let Err(e) = store.store(&msg, false) {
            failed.get_or_insert(e);
        }
    });
    match failed {
        Some(e) => Err(e).context("SQLite insert"),
        None => Ok(rate),
    }
}

/// `SOTTO_BIN_DIR`, or this executable's directory, where the node binaries are built with
/// `cargo build` if missing. (Not rebuilt when present: building them and this bench in turn
/// rebuilds shared dependencies each time.)
pub(crate) fn bin_dir() -> anyhow::Result<PathBuf> {
    const BINS: [&str; 2] = ["sotto-node", "sotto-directory"];
    if let Some(dir) = std::env::var_os("SOTTO_BIN_DIR") {
        return Ok(PathBuf::from(dir));
    }
    let exe = std::env::current_exe().context("finding the bench executable")?;
    let dir = exe
        .parent()
        .ok_or_else(|| anyhow!("{} has no parent directory", exe.display()))?
        .to_owned();
    if BINS.iter().any(|bin| !dir.join(bin).exists()) {
        let mut cmd = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
        cmd.args([
            "build",
            "--quiet",
            "-p",
            "sotto-node",
            "-p",
            "sotto-directory",
        ]);
        if dir.file_name() == Some("release".as_ref()) {
            cmd.arg("--release");
        }
        let built = cmd.status().is_ok_and(|s| s.success());
        for bin in BINS {
            ensure!(
                built && dir.join(bin).exists(),
                "{} is missing: run `cargo build --release -p sotto-node -p sotto-directory`, \
                 or point SOTTO_BIN_DIR at a directory holding sotto-node and sotto-directory",
                dir.join(bin).display()
            );
        }
    }
    Ok(dir)
}

pub(crate) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// A node's address and identity.
#[derive(Clone, Copy)]
struct Target {
    addr: SocketAddr,
    key: Ed25519PublicKey,
}

/// What the rate phases share.
struct Ctx {
    nodes: Vec<Target>,
    clients: Vec<HttpsClient>,
}

impl Ctx {
    async fn post(
        &self,
        client: usize,
        node: usize,
        path: &str,
        body: Vec<u8>,
    ) -> anyhow::Result<sotto_transport::Response> {
        let n = self
            .nodes
            .get(node % self.nodes.len())
            .ok_or_else(|| anyhow!("no nodes"))?;
        let c = self
            .clients
            .get(client % self.clients.len())
            .ok_or_else(|| anyhow!("no clients"))?;
        let headers: &[(&str, &str)] = if path == "/storage_rpc/v1" {
            &[("content-type", "application/json")]
        } else {
            &[]
        };
        let resp = c.post(n.addr, &n.key, path, headers, body, TIMEOUT).await?;
        ensure!(
            resp.status == 200,
            "{path}: status {}: {}",
            resp.status,
            String::from_utf8_lossy(&resp.body)
        );
        Ok(resp)
    }

    /// The onion keys of the path `first, first+1, first+2` and of the destination after it.
    fn onion_keys(&self, first: usize) -> anyhow::Result<(Vec<NodeKeys>, NodeKeys)> {
        let keys = (first..first + 4)
            .map(|i| {
                let n = self
                    .nodes
                    .get(i % self.nodes.len())
                    .ok_or_else(|| anyhow!("no nodes"))?;
                Ok(NodeKeys::from_ed25519(n.key)?)
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        match keys.as_slice() {
            [a, b, c, dest] => Ok((vec![*a, *b, *c], *dest)),
            _ => bail!("a 3-hop path needs 4 nodes"),
        }
    }
}

/// An unsigned namespace-0 store for `account`, its data made unique by `seq`.
fn store_body(account: &Account, seq: usize) -> Vec<u8> {
    let mut data = vec![0x5a; DATA_LEN];
    for (d, s) in data.iter_mut().zip(seq.to_le_bytes()) {
        *d = s;
    }
    let req = Store::new(
        AccountId::from(account.session_id()),
        Namespace::DEFAULT,
        data,
        now_ms(),
        Lifetime::Ttl(TTL_MS),
    );
    Request::from(req).to_http_body()
}

/// How many swarm members acknowledged a store.
fn acks(body: &[u8]) -> anyhow::Result<usize> {
    let resp = SwarmResponse::parse(Method::Store, body, Encoding::Json)?;
    Ok(resp
        .swarm
        .values()
        .filter(|o| matches!(o, NodeOutcome::Ok(_)))
        .count())
}

fn ensure_replicated(body: &[u8]) -> anyhow::Result<()> {
    let n = acks(body)?;
    ensure!(n == NODES, "store acknowledged by {n} of {NODES} nodes");
    Ok(())
}

/// What a rate phase did.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Phase {
    /// Requests that succeeded.
    ok: usize,
    /// Wall-clock seconds.
    secs: f64,
}

/// Runs `op(seq)` from [`IN_FLIGHT`] tasks until [`PHASE`] passes or `max` requests
/// started; returns successes per second. Fails if fewer than 99% succeeded.
pub(crate) async fn saturate<F, Fut>(what: &str, max: usize, op: F) -> anyhow::Result<f64>
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = anyhow::Result<()>> + Send + 'static,
{
    let phase = saturate_phase(what, max, op).await?;
    Ok(phase.ok as f64 / phase.secs)
}

/// [`saturate`], returning the successes and the seconds.
pub(crate) async fn saturate_phase<F, Fut>(what: &str, max: usize, op: F) -> anyhow::Result<Phase>
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = anyhow::Result<()>> + Send + 'static,
{
    let op = Arc::new(op);
    let next = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..IN_FLIGHT {
        let (op, next) = (Arc::clone(&op), Arc::clone(&next));
        tasks.spawn(async move {
            let (mut ok, mut failed, mut first_error) = (0usize, 0usize, None);
            while start.elapsed() < PHASE {
                let seq = next.fetch_add(1, Ordering::Relaxed);
                if seq >= max {
                    break;
                }
                match op(seq).await {
                    Ok(()) => ok += 1,
                    Err(e) => {
                        failed += 1;
                        first_error.get_or_insert(e);
                    }
                }
            }
            (ok, failed, first_error)
        });
    }
    let (mut ok, mut failed, mut first_error) = (0usize, 0usize, None);
    while let Some(done) = tasks.join_next().await {
        let (o, f, e) = done?;
        ok += o;
        failed += f;
        first_error = first_error.or(e);
    }
    let secs = start.elapsed().as_secs_f64();
    println!("{what}: {ok} ok, {failed} failed in {secs:.2} s, {IN_FLIGHT} in flight");
    if let Some(e) = first_error {
        ensure!(
            failed * 100 <= ok,
            "{what}: {failed} of {} failed: {e:#}",
            ok + failed
        );
        eprintln!("{what}: first failure: {e:#}");
    }
    ensure!(ok > 0, "{what}: nothing succeeded");
    Ok(Phase { ok, secs })
}

fn measure(
    net: &mut Testnet,
    report: &mut Report,
    clock: &NodeClock,
    ed25519: f64,
    sqlite: f64,
    x25519: f64,
) -> anyhow::Result<()> {
    net.wait_ready(Duration::from_secs(40))?;
    let ctx = Arc::new(Ctx {
        nodes: net
            .nodes
            .iter()
            .map(|n| Target {
                addr: n.addr,
                key: n.pubkey,
            })
            .collect(),
        clients: (1..=CLIENT_ADDRS)
            .map(|i| HttpsClient::with_local_addr(IpAddr::V4(Ipv4Addr::new(127, SUBNET, 1, i))))
            .collect(),
    });
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting tokio")?;
    runtime.block_on(async {
        // Every node must know the whole swarm: wait until a store reaches all 7.
        let probe = Account::from_ed25519_seed(&[0x70; 32]);
        let deadline = Instant::now() + Duration::from_secs(40);
        let mut seq = 0;
        loop {
            seq += 1;
            let replicated = match ctx
                .post(0, 0, "/storage_rpc/v1", store_body(&probe, seq))
                .await
            {
                Ok(resp) => ensure_replicated(&resp.body),
                Err(e) => Err(e),
            };
            match replicated {
                Ok(()) => break,
                Err(e) if Instant::now() >= deadline => {
                    return Err(e.context("waiting for the swarm to form"));
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
            }
        }

        // Signed retrieves through node 0, of 16 accounts holding one message each.
        let accounts: Vec<Account> = (0..16u8)
            .map(|i| Account::from_ed25519_seed(&[0x80 + i; 32]))
            .collect();
        for (i, account) in accounts.iter().enumerate() {
            ctx.post(0, 0, "/storage_rpc/v1", store_body(account, i))
                .await?;
        }
        let now = now_ms();
        let bodies: Arc<Vec<Vec<u8>>> = Arc::new(
            accounts
                .iter()
                .map(|a| {
                    let req = Retrieve::new(AccountId::from(a.session_id()), Namespace::DEFAULT)
                        .signed(&Signer::session(a.ed25519_secret()), now);
                    Request::from(req).to_http_body()
                })
                .collect(),
        );
        let c = Arc::clone(&ctx);
        let cpu = clock.seconds()?;
        let retrieve = saturate_phase("retrieve", PHASE_MAX, move |seq| {
            let (ctx, bodies) = (Arc::clone(&c), Arc::clone(&bodies));
            async move {
                let body = bodies.get(seq % bodies.len()).cloned().unwrap_or_default();
                let resp = ctx.post(seq, 0, "/storage_rpc/v1", body).await?;
                let page = RetrieveResponse::parse(&resp.body, Encoding::Json)?;
                ensure!(page.messages.len() == 1, "{} messages", page.messages.len());
                Ok(())
            }
        })
        .await?;
        let cpu = clock.seconds()? - cpu;
        let wall = retrieve.ok as f64 / retrieve.secs;
        record(
            report,
            "retrieve",
            retrieve,
            cpu,
            RETRIEVE_VERIFIES,
            ed25519,
            "Ed25519 verifies",
        );
        report.ratio("retrieve_ratio", wall, ed25519);

        // Unsigned stores through node 0, each replicated to the 6 other members.
        let senders: Arc<Vec<Account>> = Arc::new(
            (0..16u8)
                .map(|i| Account::from_ed25519_seed(&[0x90 + i; 32]))
                .collect(),
        );
        let c = Arc::clone(&ctx);
        let cpu = clock.seconds()?;
        let store = saturate_phase("store", PHASE_MAX, move |seq| {
            let (ctx, senders) = (Arc::clone(&c), Arc::clone(&senders));
            async move {
                let account = senders
                    .get(seq % senders.len())
                    .ok_or_else(|| anyhow!("no accounts"))?;
                let resp = ctx
                    .post(seq, 0, "/storage_rpc/v1", store_body(account, seq))
                    .await?;
                ensure_replicated(&resp.body)
            }
        })
        .await?;
        let cpu = clock.seconds()? - cpu;
        let wall = store.ok as f64 / store.secs;
        record(
            report,
            "store",
            store,
            cpu,
            STORE_INSERTS,
            sqlite,
            "SQLite inserts",
        );
        report.ratio("store_ratio", wall, sqlite);

        // 3-hop onion requests to a node's `info`, built ahead so the client's own X25519 work
        // is not counted; paths rotate over the nodes.
        let mut onions = Vec::with_capacity(ONIONS);
        for i in 0..ONIONS {
            let (path, node) = ctx.onion_keys(i)?;
            let built = sotto_onion::build(
                &path,
                &Destination::Node {
                    node,
                    rpc: INFO_RPC,
                },
                EncType::XChaCha20,
                &mut OsRng,
            )?;
            onions.push((i, built.body, built.response_key));
        }
        let onions: Arc<Vec<(usize, Vec<u8>, ResponseKey)>> = Arc::new(onions);
        let c = Arc::clone(&ctx);
        let cpu = clock.seconds()?;
        let relay = saturate_phase("onion 3-hop", ONIONS, move |seq| {
            let (ctx, onions) = (Arc::clone(&c), Arc::clone(&onions));
            async move {
                let (guard, body, key) = onions
                    .get(seq)
                    .ok_or_else(|| anyhow!("onion {seq} not built"))?;
                let resp = ctx.post(seq, *guard, "/onion_req/v2", body.clone()).await?;
                let answer = key.open_v3(&resp.body)?;
                ensure!(
                    answer.status == 200,
                    "info: {}: {}",
                    answer.status,
                    answer.body
                );
                Ok(())
            }
        })
        .await?;
        let cpu = clock.seconds()? - cpu;
        let wall = relay.ok as f64 / relay.secs;
        record(
            report,
            "relay",
            relay,
            cpu,
            RELAY_X25519,
            x25519,
            "X25519 agreements",
        );
        report.ratio("relay_ratio", wall, x25519);

        // Store latency through a 3-hop onion, one at a time, onion built per request.
        let start = Instant::now();
        let mut ms = Vec::with_capacity(SAMPLES);
        let sender = Account::from_ed25519_seed(&[0xa0; 32]);
        for i in 0..SAMPLES {
            if start.elapsed() >= SAMPLES_WITHIN {
                break;
            }
            let t = Instant::now();
            let rpc = store_body(&sender, i);
            let (path, node) = ctx.onion_keys(i)?;
            let built = sotto_onion::build(
                &path,
                &Destination::Node { node, rpc: &rpc },
                EncType::XChaCha20,
                &mut OsRng,
            )?;
            let resp = ctx.post(i, i, "/onion_req/v2", built.body).await?;
            let answer = built.response_key.open_v3(&resp.body)?;
            ensure!(
                answer.status == 200,
                "store: {}: {}",
                answer.status,
                answer.body
            );
            ensure_replicated(answer.body.as_bytes())?;
            ms.push(t.elapsed().as_secs_f64() * 1e3);
        }
        ms.sort_by(f64::total_cmp);
        let pct = |p: usize| ms.get(ms.len() * p / 100).copied().unwrap_or(0.0);
        println!("onion store latency: {} samples", ms.len());
        report.figure("store_onion_p50_ms", pct(50), "ms");
        report.figure("store_onion_p99_ms", pct(99), "ms");
        report.figure("in_flight", IN_FLIGHT as f64, "requests");
        Ok(())
    })
}
