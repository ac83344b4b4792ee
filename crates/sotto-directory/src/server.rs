//! The directory process: a thin async shell around [`Directory`] that serves HTTPS, reads the
//! clock, ticks, and saves the state after every change.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use sotto_crypto::{Ed25519PublicKey, Ed25519SecretKey, OsRng};
use sotto_swarm::NodeListing;
use sotto_transport::{
    Admission as AdmitRequest, HttpsClient, Request, Response, ServerLimits, TlsIdentity,
    TransportError, serve_with,
};
use thiserror::Error;
use tracing::{debug, error, info, warn};

use crate::config::Config;
use crate::directory::Unreachable;
use crate::identity::{self, IdentityError};
use crate::ratelimit::{MAX_TRACKED, RateLimiter};
use crate::{
    Admission, Directory, DirectoryError, Proof, Registration, StateError, json_rpc, short_key,
};
use sotto_nodelist::now_ms;

/// The state file's name inside the data directory.
pub const STATE_FILE: &str = "state.json";
/// The largest request body the directory reads.
pub const MAX_BODY: usize = 64 * 1024;
/// The path of the node endpoint the directory calls to check an announced address (the
/// node's `ping_test`, answered with 200 by the node holding the announced key).
pub const CALLBACK_PATH: &str = "/ping_test/v1";
/// How long one reachability call may take.
pub const CALLBACK_TIMEOUT: Duration = Duration::from_secs(2);
/// How many reachability calls run at once; a registration that waits longer than
/// [`CALLBACK_TIMEOUT`] for a turn gets 503.
pub const MAX_CALLBACKS: usize = 32;

/// Why the directory could not start or stopped.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum RunError {
    /// The identity key could not be loaded or created.
    #[error("identity: {0}")]
    Identity(#[from] IdentityError),
    /// The state file is unreadable.
    #[error("cannot read {path}: {source}")]
    ReadState {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The state file's contents are not a directory state.
    #[error("{path}: {source} (move the file away to start with an empty directory)")]
    State {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: StateError,
    },
    /// The TLS identity could not be built.
    #[error("TLS: {0}")]
    Tls(#[from] TransportError),
    /// Another process already listens on the address.
    #[error("cannot listen on {addr}: the address is already in use (another directory running?)")]
    AddrInUse {
        /// The address.
        addr: SocketAddr,
    },
    /// Listening failed for another reason.
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        /// The address.
        addr: SocketAddr,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// Accepting connections failed.
    #[error("accepting connections failed: {0}")]
    Serve(#[source] std::io::Error),
}

struct Shared {
    dir: Mutex<Directory>,
    key: Ed25519SecretKey,
    state_path: PathBuf,
    /// Held while writing the state file, so writes happen one at a time, newest last.
    save_lock: tokio::sync::Mutex<()>,
    limiter: Mutex<RateLimiter>,
    callbacks: tokio::sync::Semaphore,
    /// The monotonic clock of the rate limiter.
    started: std::time::Instant,
}

impl Shared {
    fn dir(&self) -> MutexGuard<'_, Directory> {
        self.dir.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Runs the directory described by `config` until Ctrl-C or SIGTERM.
pub async fn run(config: Config) -> Result<(), RunError> {
    let identity::Identity { key, created } =
        identity::load_or_create(&config.data_dir, &mut OsRng)?;
    let state_path = config.data_dir.join(STATE_FILE);
    let (dir, changed) = match std::fs::read(&state_path) {
        Ok(bytes) => Directory::restore(&bytes, config.policy(), now_ms()).map_err(|source| {
            RunError::State {
                path: state_path.clone(),
                source,
            }
        })?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            (Directory::new(config.policy()), true)
        }
        Err(source) => {
            return Err(RunError::ReadState {
                path: state_path,
                source,
            });
        }
    };
    let tls = TlsIdentity::new(&key)?;
    let listener =
        tokio::net::TcpListener::bind(config.listen)
            .await
            .map_err(|source| match source.kind() {
                std::io::ErrorKind::AddrInUse => RunError::AddrInUse {
                    addr: config.listen,
                },
                _ => RunError::Listen {
                    addr: config.listen,
                    source,
                },
            })?;
    let addr = listener.local_addr().map_err(|source| RunError::Listen {
        addr: config.listen,
        source,
    })?;
    info!(
        pubkey = %hex::encode(key.public_key().as_bytes()),
        %addr,
        new_identity = created,
        "directory listening"
    );
    {
        let list = dir.node_list();
        info!(
            height = list.height,
            epoch = list.epoch,
            active = list.nodes.len(),
            registered = dir.entries().count(),
            allowlist = config.allowlist.len(),
            decommission_after_s = config.decommission_after_s,
            min_epoch_interval_ms = config.min_epoch_interval_ms,
            "state loaded"
        );
    }
    if config.admits_no_one() {
        warn!(
            "admission is by allowlist and the allowlist is empty: no node can join; list node \
             keys in `allowlist`, or set `admission = \"open\"`"
        );
    } else if config.admission == Admission::Open {
        warn!(
            max_nodes = config.limits.max_nodes,
            max_nodes_per_ip = config.limits.max_nodes_per_ip,
            max_nodes_per_subnet = config.limits.max_nodes_per_subnet,
            "open admission: any node that answers at its announced address may join, within \
             the limits"
        );
    }
    let shared = Arc::new(Shared {
        dir: Mutex::new(dir),
        key,
        state_path,
        save_lock: tokio::sync::Mutex::new(()),
        limiter: Mutex::new(RateLimiter::new(config.rates, MAX_TRACKED)),
        callbacks: tokio::sync::Semaphore::new(MAX_CALLBACKS),
        started: std::time::Instant::now(),
    });
    if changed {
        save(&shared).await;
    }

    let handler = {
        let shared = Arc::clone(&shared);
        move |req: Request| {
            let shared = Arc::clone(&shared);
            async move { handle(&shared, req).await }
        }
    };
    let period = Duration::from_millis(
        (config.decommission_after_s * 1000 / 4)
            .min(config.min_epoch_interval_ms.max(1))
            .clamp(20, 1000),
    );
    // Rate limits apply before the body is read, so a flood costs the directory no reads.
    let admission: AdmitRequest = {
        let shared = Arc::clone(&shared);
        Arc::new(move |head| {
            let now = u64::try_from(shared.started.elapsed().as_micros()).unwrap_or(u64::MAX);
            let allowed = shared
                .limiter
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .allow(head.peer.ip(), now);
            if allowed {
                Ok(())
            } else {
                let e = DirectoryError::RateLimited;
                Err(Response::text(e.status(), e.to_string()))
            }
        })
    };
    let limits = ServerLimits::new(MAX_BODY);
    tokio::select! {
        result = serve_with(listener, tls, limits, Some(admission), handler) => {
            result.map_err(RunError::Serve)
        }
        () = tick_loop(&shared, period) => Ok(()),
        () = shutdown_signal() => {
            info!("shutting down");
            Ok(())
        }
    }
}

async fn handle(shared: &Shared, req: Request) -> Response {
    let path = req.path.split('?').next().unwrap_or_default();
    match (req.method.as_str(), path) {
        ("POST", "/json_rpc") => {
            let answer = json_rpc(
                &shared.dir(),
                &shared.key,
                &req.body,
                &mut rand::thread_rng(),
            );
            Response::json(200, &answer)
        }
        ("POST", "/register") => announce(shared, &req, Kind::Register).await,
        ("POST", "/proof") => announce(shared, &req, Kind::Proof).await,
        _ => Response::text(
            404,
            "not found: the directory serves POST /register, POST /proof and POST /json_rpc",
        ),
    }
}

#[derive(Clone, Copy, Debug)]
enum Kind {
    Register,
    Proof,
}

async fn announce(shared: &Shared, req: &Request, kind: Kind) -> Response {
    let result = match kind {
        Kind::Register => match Registration::from_json(&req.body) {
            Ok(reg) => register(shared, &reg)
                .await
                .map(|(ack, before)| (reg.pubkey(), ack, before, Some(reg))),
            Err(e) => Err(e.into()),
        },
        Kind::Proof => Proof::from_json(&req.body)
            .map_err(DirectoryError::from)
            .and_then(|p| {
                let mut dir = shared.dir();
                let before = (dir.height(), dir.epoch(), dir.revision());
                Ok((p.pubkey(), dir.proof(&p, now_ms())?, before, None))
            }),
    };
    match result {
        Ok((key, ack, before, reg)) => {
            let node = short_key(&key);
            if ack.epoch != before.1 {
                info!(%node, ?kind, epoch = ack.epoch, height = ack.height, swarm = %ack.swarm_id,
                      "node joined the active set");
            } else if ack.height != before.0 {
                if let Some(reg) = reg {
                    let l = reg.listing();
                    info!(%node, address = %l.https_addr(), version = %l.version(),
                          height = ack.height, "node updated its listing");
                }
            } else if !ack.active {
                info!(%node, ?kind, "node accepted; it joins the list at the next epoch");
            } else {
                debug!(%node, ?kind, "node still up");
            }
            if shared.dir().revision() != before.2 {
                save(shared).await;
            }
            match serde_json::to_value(ack) {
                Ok(body) => Response::json(200, &body),
                Err(_) => Response::text(500, "cannot encode the answer"),
            }
        }
        Err(e) => {
            debug!(peer = %req.peer, ?kind, error = %e, "announcement refused");
            if !matches!(
                e,
                DirectoryError::Announce(_)
                    | DirectoryError::NotRegistered { .. }
                    | DirectoryError::Replayed { .. }
            ) {
                info!(?kind, error = %e, "announcement refused");
            }
            Response::text(e.status(), e.to_string())
        }
    }
}

/// A registration: the checks, then (for a new node or address) a pinned call to the announced
/// address, then the change. Returns the ack and the (height, epoch, revision) before it.
async fn register(
    shared: &Shared,
    reg: &Registration,
) -> Result<(crate::Ack, (u64, u64, u64)), DirectoryError> {
    let needs_callback = shared.dir().check_registration(reg, now_ms())?;
    if needs_callback {
        let _turn = tokio::time::timeout(CALLBACK_TIMEOUT, shared.callbacks.acquire())
            .await
            .map_err(|_| DirectoryError::Busy)?
            .map_err(|_| DirectoryError::Busy)?;
        check_reachable(reg.listing()).await?;
    }
    let mut dir = shared.dir();
    let before = (dir.height(), dir.epoch(), dir.revision());
    let ack = dir.register(reg, now_ms())?;
    Ok((ack, before))
}

/// Calls the announced address with the node's key pinned, and wants a 200 to a ping: the
/// node holding the key answers there. One retry after a short pause covers a node whose
/// server was still starting.
async fn check_reachable(listing: &NodeListing) -> Result<(), DirectoryError> {
    let addr = SocketAddr::V4(listing.https_addr());
    let key = listing.pubkey_ed25519();
    // A client of its own: nothing is pooled for addresses that are not listed yet.
    let http = HttpsClient::new();
    let mut last = Unreachable::Status(0);
    for attempt in 0..2 {
        if attempt > 0 {
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
        match http
            .post(addr, &key, CALLBACK_PATH, &[], Vec::new(), CALLBACK_TIMEOUT)
            .await
        {
            Ok(resp) if resp.status == 200 => return Ok(()),
            Ok(resp) => last = Unreachable::Status(resp.status),
            // Another key there will not change its mind.
            Err(e @ TransportError::Tls { .. }) => {
                last = e.into();
                break;
            }
            Err(e) => last = e.into(),
        }
    }
    Err(DirectoryError::Unreachable { addr, reason: last })
}

async fn tick_loop(shared: &Shared, period: Duration) {
    let mut interval = tokio::time::interval(period);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        interval.tick().await;
        let changes = {
            let mut dir = shared.dir();
            let before = active_keys(&dir);
            let epoch = dir.epoch();
            if dir.tick(now_ms()) {
                let after = active_keys(&dir);
                let list = dir.node_list();
                Some((before, after, epoch != dir.epoch(), list))
            } else {
                None
            }
        };
        let Some((before, after, new_epoch, list)) = changes else {
            continue;
        };
        for key in before.difference(&after) {
            warn!(node = %short_key(key), "node decommissioned: no uptime proof in time");
        }
        if new_epoch {
            let swarms: BTreeSet<_> = list.nodes.iter().map(|n| n.swarm_id()).collect();
            info!(
                epoch = list.epoch,
                height = list.height,
                active = list.nodes.len(),
                swarms = swarms.len(),
                "new epoch"
            );
        }
        save(shared).await;
    }
}

fn active_keys(dir: &Directory) -> BTreeSet<Ed25519PublicKey> {
    dir.entries()
        .filter(|e| e.active)
        .map(|e| e.listing.pubkey_ed25519())
        .collect()
}

/// Writes the current state; the lock makes concurrent saves write in order, newest last.
async fn save(shared: &Shared) {
    let _writing = shared.save_lock.lock().await;
    let json = shared.dir().save();
    let path = shared.state_path.clone();
    let written =
        tokio::task::spawn_blocking(move || write_atomically(&path, json.as_bytes())).await;
    match written {
        Ok(Ok(())) => {}
        Ok(Err(e)) => {
            error!(path = %shared.state_path.display(), error = %e, "cannot save the state")
        }
        Err(e) => error!(error = %e, "the state-saving task failed"),
    }
}

/// Writes `bytes` to a temporary file, syncs it, and renames it over `path`.
fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write as _;
    let tmp = path.with_extension("json.tmp");
    let mut file = std::fs::File::create(&tmp)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    std::fs::rename(&tmp, path)?;
    if let Some(parent) = path.parent()
        && let Ok(dir) = std::fs::File::open(parent)
    {
        // Makes the rename itself durable; not every platform can sync a directory.
        let _ = dir.sync_all();
    }
    Ok(())
}

/// Resolves on Ctrl-C or SIGTERM; never, if no signal handler can be installed.
async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                term.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
}
