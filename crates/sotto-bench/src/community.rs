//! `cargo xtask bench community`: a community server (`sotto-community`, room `lobby`) on a
//! local 5-node testnet, reached by sotto-client's `Communities` through 3-hop onion paths;
//! once on SQLite (subnet 73) and, when PostgreSQL is installed, once on PostgreSQL (subnet
//! 74, the database server on 127.74.0.200).
//!
//! Figures, per backend (`sqlite_…`, `postgres_…`): `posts_per_s` ([`POSTERS`] clients, all
//! room moderators so the posting rate limit does not apply, posting for [`PHASE`]);
//! `polls_per_s` and `poll_p99_ms` ([`POLLERS`] joined clients polling the room: one batch of
//! pollInfo, messages since, inbox and outbox); `onion_rtt_per_s`, the bound: unauthenticated
//! `GET /capabilities` round trips through the same onion paths at the same concurrency, in
//! the same run; `post_ratio` and `poll_ratio` over that bound; `verify_ratio`: signed
//! requests per second (the faster of the post and poll phases; a poll is one signed batch) over the Ed25519 verifications per second of this
//! machine, measured in the same run. Also `rooms`, `messages` (in the room when the polls
//! run) and `clients`.

use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, anyhow};
use sotto_client::community::{Communities, JoinLink, ServerTransport, V4Request, V4Response};
use sotto_client::net::OnionServer;
use sotto_client::{Account, NetworkError, NetworkFile, OnionConfig, OnionNetwork};
use sotto_testkit::net::{Testnet, TestnetConfig};
use tokio::task::JoinSet;

use crate::harness::{Report, per_second};

/// Second octet of the SQLite run's addresses.
const SUBNET_SQLITE: u8 = 73;
/// Second octet of the PostgreSQL run's addresses.
const SUBNET_POSTGRES: u8 = 74;
/// The directory's port.
const PORT: u16 = 27_300;
/// Clients posting.
const POSTERS: usize = 20;
/// Clients polling.
const POLLERS: usize = 40;
/// How long each phase is measured for.
const PHASE: Duration = Duration::from_secs(3);
/// How long one onion request may take.
const TIMEOUT: Duration = Duration::from_secs(20);

fn bin_dir() -> anyhow::Result<PathBuf> {
    let dir = crate::node::bin_dir()?;
    if !dir.join("sotto-community").exists() {
        let mut cmd = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
        cmd.args(["build", "--quiet", "-p", "sotto-community"]);
        if dir.file_name() == Some("release".as_ref()) {
            cmd.arg("--release");
        }
        sotto_testkit::net::without_cargo_run_env(&mut cmd);
        let status = cmd.status().context("running cargo build")?;
        if !status.success() {
            return Err(anyhow!("cargo build -p sotto-community failed"));
        }
    }
    Ok(dir)
}

/// One onion network shared by every client task.
#[derive(Clone)]
struct Shared(Arc<OnionNetwork>);

impl ServerTransport for Shared {
    fn request(
        &self,
        server: &OnionServer,
        request: &V4Request,
        timeout: Duration,
    ) -> impl Future<Output = Result<V4Response, NetworkError>> + Send {
        self.0.server_request(server, request, timeout)
    }
}

pub fn run(report: &mut Report) -> anyhow::Result<()> {
    let bins = bin_dir()?;
    // The bound of `verify_ratio`: one Ed25519 verification of a request-sized message.
    let key = Account::from_ed25519_seed(&[3; 32])
        .ed25519_secret()
        .clone();
    let msg = [7u8; 200];
    let sig = key.sign(&msg);
    let pk = key.public_key();
    let verify = per_second(|| pk.verify(&msg, &sig));
    report.figure("ed25519_verify_per_s", verify, "op/s");
    report.figure("rooms", 1.0, "");
    report.figure("clients", (POSTERS + POLLERS) as f64, "");

    backend(report, &bins, "sqlite", SUBNET_SQLITE, None, verify)?;
    match sotto_testkit::postgres::PgServer::start(std::net::Ipv4Addr::new(
        127,
        SUBNET_POSTGRES,
        0,
        200,
    )) {
        Ok(pg) => {
            let extra = format!("database_url = {:?}", pg.url());
            backend(
                report,
                &bins,
                "postgres",
                SUBNET_POSTGRES,
                Some(&extra),
                verify,
            )?;
        }
        Err(e) => println!("postgres: skipped ({e})"),
    }
    Ok(())
}

fn backend(
    report: &mut Report,
    bins: &std::path::Path,
    name: &str,
    subnet: u8,
    extra: Option<&str>,
    verify: f64,
) -> anyhow::Result<()> {
    let dir = tempfile::tempdir().context("creating the testnet directory")?;
    let mut cfg = TestnetConfig::new(dir.path().join("net"), bins.to_owned());
    cfg.nodes = 5;
    cfg.subnet = subnet;
    cfg.port = PORT;
    cfg.proof_interval_s = 1;
    cfg.decommission_after_s = 120;
    cfg.log_filter = "warn".into();
    let mut net = Testnet::start(cfg)?;
    net.start_community_server(extra.unwrap_or(""))?;
    net.wait_ready(Duration::from_secs(60))?;
    let posters: Vec<Account> = (0..POSTERS)
        .map(|i| Account::from_ed25519_seed(&[u8::try_from(i + 1).unwrap_or(1); 32]))
        .collect();
    for a in &posters {
        net.community_cli(&[
            "user",
            "moderator",
            "--room",
            "lobby",
            &a.session_id().to_string(),
        ])?;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let result = runtime.block_on(measure(&net, posters, name, verify, report));
    if result.is_err() {
        eprintln!("{}", net.logs_tail(20));
    }
    result
}

/// Runs `work` on `n` tasks until [`PHASE`] has passed; how many calls succeeded, the
/// duration, and every successful call's latency.
async fn phase<C, F, Fut>(
    clients: Vec<C>,
    work: F,
) -> anyhow::Result<(u64, Duration, Vec<Duration>)>
where
    C: Clone + Send + 'static,
    F: Fn(C, u64) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = anyhow::Result<()>> + Send,
{
    let start = Instant::now();
    let mut tasks = JoinSet::new();
    for c in clients {
        let work = work.clone();
        tasks.spawn(async move {
            let mut times = Vec::new();
            let mut failed = 0u64;
            let mut n = 0u64;
            while start.elapsed() < PHASE {
                let t = Instant::now();
                match work(c.clone(), n).await {
                    Ok(()) => times.push(t.elapsed()),
                    Err(e) => {
                        failed += 1;
                        if failed > 20 {
                            return Err(e);
                        }
                    }
                }
                n += 1;
            }
            Ok(times)
        });
    }
    let mut all = Vec::new();
    while let Some(done) = tasks.join_next().await {
        all.extend(done??);
    }
    Ok((all.len() as u64, start.elapsed(), all))
}

fn rate(count: u64, took: Duration) -> f64 {
    count as f64 / took.as_secs_f64().max(1e-9)
}

async fn measure(
    net: &Testnet,
    posters: Vec<Account>,
    name: &str,
    verify: f64,
    report: &mut Report,
) -> anyhow::Result<()> {
    let file = NetworkFile::parse(net.network_file().to_string().as_bytes())?;
    let link = JoinLink::parse(
        net.community_link
            .as_deref()
            .ok_or_else(|| anyhow!("no community link"))?,
    )?;
    let network = sotto_testkit::net::eventually(
        "an onion path to the community server",
        Duration::from_secs(60),
        || async {
            let network = OnionNetwork::connect(&file, OnionConfig::default())
                .await
                .ok()?;
            let probe =
                Communities::in_memory(Account::from_ed25519_seed(&[200; 32]), &network).ok()?;
            probe.server_rooms(&link).await.ok()?;
            Some(network)
        },
    )
    .await?;
    let shared = Shared(Arc::new(network));
    let open = |account: Account| -> anyhow::Result<_> {
        Ok(Arc::new(Communities::in_memory(account, shared.clone())?))
    };
    let mut writers = Vec::new();
    for account in posters {
        let c = open(account)?;
        let (room, _) = c.join(&link).await?;
        writers.push((c, Arc::new(room)));
    }

    // Posts.
    let (posts, took, _) = phase(writers, |(c, room), n| async move {
        c.post(&room, &format!("bench post {n}"), None, None)
            .await?;
        Ok(())
    })
    .await?;
    let posts_per_s = rate(posts, took);

    // Polls: joined clients (each join fetched the whole room) polling for news.
    let mut readers = Vec::new();
    for i in 0..POLLERS {
        let seed = [u8::try_from(100 + i).unwrap_or(100); 32];
        let c = open(Account::from_ed25519_seed(&seed))?;
        let (room, _) = c.join(&link).await?;
        readers.push((c, Arc::new(room)));
    }
    let messages = readers
        .first()
        .map(|(c, room)| c.messages(room, 100_000).map(|m| m.len()))
        .transpose()?
        .unwrap_or(0);
    let (polls, took, mut times) = phase(readers, |(c, room), _| async move {
        c.poll(&room).await?;
        Ok(())
    })
    .await?;
    let polls_per_s = rate(polls, took);
    times.sort();
    let p99 = times
        .get(times.len().saturating_sub(1) * 99 / 100)
        .copied()
        .unwrap_or_default();

    // The bound: bare onion round trips to the same server at each phase's concurrency.
    let server = link.server()?;
    let capabilities = V4Request {
        method: "GET".into(),
        endpoint: "/capabilities".into(),
        headers: vec![],
        body: None,
    };
    let bound = |n: usize| {
        let one = (shared.clone(), server.clone(), capabilities.clone());
        let lanes = vec![one; n];
        phase(lanes, |(net, server, req), _| async move {
            let r = net.request(&server, &req, TIMEOUT).await?;
            anyhow::ensure!(r.code == 200, "capabilities answered {}", r.code);
            Ok(())
        })
    };
    let (rtt, took, _) = bound(POSTERS).await?;
    let rtt_posters = rate(rtt, took);
    let (rtt, took, _) = bound(POLLERS).await?;
    let rtt_pollers = rate(rtt, took);

    report.figure(&format!("{name}_messages"), messages as f64, "");
    report.figure(&format!("{name}_posts_per_s"), posts_per_s, "op/s");
    report.figure(&format!("{name}_polls_per_s"), polls_per_s, "op/s");
    report.figure(
        &format!("{name}_poll_p99_ms"),
        p99.as_secs_f64() * 1e3,
        "ms",
    );
    report.figure(
        &format!("{name}_onion_rtt_per_s_{POSTERS}"),
        rtt_posters,
        "op/s",
    );
    report.figure(
        &format!("{name}_onion_rtt_per_s_{POLLERS}"),
        rtt_pollers,
        "op/s",
    );
    report.ratio(&format!("{name}_post_ratio"), posts_per_s, rtt_posters);
    report.ratio(&format!("{name}_poll_ratio"), polls_per_s, rtt_pollers);
    report.ratio(
        &format!("{name}_verify_ratio"),
        posts_per_s.max(polls_per_s),
        verify,
    );
    Ok(())
}
