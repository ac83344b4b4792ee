//! [`OnionNetwork`]: the node cache, guards and paths, and each request's attempts.

use std::collections::{HashMap, HashSet, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use sotto_crypto::{Ed25519PublicKey, OsRng, X25519PublicKey};
use sotto_directory::{DirectoryClient, now_ms};
use sotto_onion::path::{
    NODE_FAILURE_THRESHOLD, PathAction, PathNode, PathState, Reply, RequestAction, RequestInfo,
    RetryReason, SwarmInfo, handle_error, retry_delay,
};
use sotto_onion::{Destination, EncType, NodeKeys};
use sotto_rpc::request::{Retrieve, Store};
use sotto_rpc::response::{GetSwarmResponse, RetrieveResponse, SwarmNode, SwarmResponse};
use sotto_rpc::{AccountId, Encoding, Method, Request};
use sotto_swarm::NodeListing;
use sotto_transport::{HttpsClient, TransportError};

use super::cache::{self, NodeCache};
use super::file::NetworkFile;
use super::paths;
use super::{
    CACHE_EXPIRY, CACHE_MIN_LIFETIME, GUARD_PROBE_TIMEOUT, Hop, MAX_ATTEMPTS, MAX_ERROR_TEXT,
    MAX_GUARD_PROBES, MAX_TRACES, MIN_CACHE_SIZE, OnionConfig, REDIRECT_WINDOW,
    SMALL_CACHE_REFRESH, Trace,
};
use crate::error::NetworkError;
use crate::network::Network;

/// A failure described in words (wrapped in [`NetworkError::Transport`]).
#[derive(Debug)]
struct Failure(String);

impl core::fmt::Display for Failure {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Failure {}

fn failure(text: impl Into<String>) -> NetworkError {
    NetworkError::Transport(Box::new(Failure(text.into())))
}

/// A built path.
#[derive(Debug, Clone)]
struct OnionPath {
    /// Distinguishes paths across rebuilds (0: a one-off path, not kept).
    id: u64,
    /// Guard first.
    nodes: Vec<NodeListing>,
    /// Strikes of the path.
    failures: u8,
}

#[derive(Debug)]
struct State {
    cache: NodeCache,
    /// When the cache was last refreshed by this process (or loaded).
    refreshed: Instant,
    strikes: HashMap<Ed25519PublicKey, u8>,
    guards: Vec<NodeListing>,
    paths: Vec<OnionPath>,
    next_path_id: u64,
    turn: usize,
    traces: VecDeque<Trace>,
    redirects: HashMap<AccountId, (u8, Instant)>,
}

impl State {
    fn bad(&self) -> HashSet<Ed25519PublicKey> {
        self.strikes
            .iter()
            .filter(|&(_, &s)| s >= NODE_FAILURE_THRESHOLD)
            .map(|(k, _)| *k)
            .collect()
    }

    /// Forgets a node: out of the cache, the guards and every path through it.
    fn drop_node(&mut self, key: &Ed25519PublicKey) {
        self.cache.remove(key);
        self.guards.retain(|g| g.pubkey_ed25519() != *key);
        self.paths
            .retain(|p| p.nodes.iter().all(|n| n.pubkey_ed25519() != *key));
    }

    fn record(&mut self, trace: Trace) {
        if self.traces.len() >= MAX_TRACES {
            self.traces.pop_front();
        }
        self.traces.push_back(trace);
    }

    fn in_paths(&self) -> HashSet<Ed25519PublicKey> {
        self.paths
            .iter()
            .flat_map(|p| p.nodes.iter().map(NodeListing::pubkey_ed25519))
            .collect()
    }
}

struct Inner {
    directory_key: Ed25519PublicKey,
    directory: DirectoryClient,
    config: OnionConfig,
    http: HttpsClient,
    state: Mutex<State>,
    /// Serialises the slow upkeep (cache refresh, guard probes).
    upkeep: tokio::sync::Mutex<()>,
}

/// The onion-routed [`Network`]. Cheap to clone (shared state inside).
#[derive(Clone)]
pub struct OnionNetwork {
    inner: Arc<Inner>,
}

impl core::fmt::Debug for OnionNetwork {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("OnionNetwork")
            .field("directory", &self.inner.directory.addr())
            .field("paths", &self.paths())
            .finish_non_exhaustive()
    }
}

fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    state
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn elapsed_ms(since: Instant) -> u64 {
    u64::try_from(since.elapsed().as_millis()).unwrap_or(u64::MAX)
}

/// How the attempt ended.
enum Answer {
    /// The target answered 200: its body.
    Ok(String),
    /// The target answered 421 with this body.
    WrongSwarm(String),
    /// Anything else.
    Failed(Failed),
}

/// A failed attempt, as the failure policy sees it.
#[derive(Default)]
struct Failed {
    status: Option<u16>,
    timeout: bool,
    body: Option<String>,
    decryption_failed: bool,
    /// The guard's connection failed (no HTTP answer at all).
    connection_failed: bool,
    /// The answer came from the target itself: another path would get the same.
    from_target: bool,
    error: Option<TransportError>,
}

impl Failed {
    /// No HTTP answer from the guard.
    fn no_answer(error: TransportError) -> Self {
        let timeout = matches!(error, TransportError::Timeout(_));
        Self {
            timeout,
            connection_failed: !timeout,
            error: Some(error),
            ..Self::default()
        }
    }

    /// An answer (`status`, `body`) from a hop, or from the target when `from_target`.
    fn answer(status: u16, body: &str, from_target: bool) -> Self {
        Self {
            status: Some(status),
            timeout: !from_target && status == 504,
            body: Some(body.chars().take(MAX_ERROR_TEXT).collect()),
            from_target,
            ..Self::default()
        }
    }

    /// What the caller is told if this is the last attempt.
    fn to_error(&self, guard: Option<&NodeListing>) -> NetworkError {
        match (&self.error, self.status) {
            (Some(TransportError::Timeout(_)), _) => NetworkError::Timeout,
            (Some(e), _) => failure(format!(
                "guard {} failed: {e}",
                guard
                    .map(Hop::of)
                    .map(|h| h.to_string())
                    .unwrap_or_default()
            )),
            (None, Some(s)) if self.decryption_failed => {
                failure(format!("the answer (status {s}) did not decrypt"))
            }
            (None, Some(s)) => NetworkError::Status(s),
            (None, None) => failure("the target's key is not a valid public key"),
        }
    }
}

impl OnionNetwork {
    /// Fetches and verifies the node list from the directory (or uses a fresh cache file),
    /// picks guards (checked reachable) and builds paths.
    ///
    /// # Errors
    /// [`NetworkError::Transport`] saying what to do when the directory cannot be reached
    /// and no cache is usable, or when no guard answers; [`NetworkError::Unavailable`] when
    /// the configuration cannot make a path.
    pub async fn connect(file: &NetworkFile, config: OnionConfig) -> Result<Self, NetworkError> {
        if config.hops == 0 || config.guards == 0 || config.paths == 0 {
            return Err(NetworkError::Unavailable(
                "the onion configuration needs at least one guard, one path and one hop",
            ));
        }
        let http = HttpsClient::new();
        let directory = DirectoryClient::new(file.directory, file.directory_pubkey)
            .with_http(http.clone())
            .with_timeout(config.request_timeout);
        let loaded = config.cache_file.as_deref().and_then(|path| {
            match NodeCache::load(path, &file.directory_pubkey) {
                Ok(cache) => cache,
                Err(e) => {
                    tracing::warn!(file = %path.display(), error = %e, "node cache file ignored");
                    None
                }
            }
        });
        let cache = match loaded {
            Some(cache) if !cache_needs_refresh(&cache, now_ms()) => cache,
            stale => match fetch(&directory).await {
                Ok(fresh) => match stale {
                    Some(held) if held.is_newer_than(&fresh) => {
                        tracing::warn!(
                            held = held.height,
                            offered = fresh.height,
                            "refused a node list older than the cached one"
                        );
                        held
                    }
                    _ => fresh,
                },
                Err(e) => match stale {
                    Some(cache) if !cache.nodes.is_empty() => {
                        tracing::warn!(error = %e, "directory unreachable: cached nodes used");
                        cache
                    }
                    _ => return Err(e),
                },
            },
        };
        let network = Self {
            inner: Arc::new(Inner {
                directory_key: file.directory_pubkey,
                directory,
                config,
                http,
                state: Mutex::new(State {
                    cache,
                    refreshed: Instant::now(),
                    strikes: HashMap::new(),
                    guards: Vec::new(),
                    paths: Vec::new(),
                    next_path_id: 1,
                    turn: 0,
                    traces: VecDeque::new(),
                    redirects: HashMap::new(),
                }),
                upkeep: tokio::sync::Mutex::new(()),
            }),
        };
        network.save_cache();
        network.upkeep().await?;
        Ok(network)
    }

    /// Drains the traces recorded since the last call (at most [`MAX_TRACES`], oldest
    /// dropped).
    #[must_use]
    pub fn take_traces(&self) -> Vec<Trace> {
        lock(&self.inner.state).traces.drain(..).collect()
    }

    /// The current paths, guard first.
    #[must_use]
    pub fn paths(&self) -> Vec<Vec<Hop>> {
        lock(&self.inner.state)
            .paths
            .iter()
            .map(|p| p.nodes.iter().map(Hop::of).collect())
            .collect()
    }

    /// The current guards.
    #[must_use]
    pub fn guards(&self) -> Vec<Hop> {
        lock(&self.inner.state).guards.iter().map(Hop::of).collect()
    }

    /// How many nodes the node cache holds.
    #[must_use]
    pub fn cached_nodes(&self) -> usize {
        lock(&self.inner.state).cache.nodes.len()
    }

    fn save_cache(&self) {
        if let Some(path) = &self.inner.config.cache_file {
            let cache = lock(&self.inner.state).cache.clone();
            if let Err(e) = cache.save(path, &self.inner.directory_key) {
                tracing::warn!(file = %path.display(), error = %e, "cannot save the node cache");
            }
        }
    }

    /// Refreshes the node cache from the directory unless it was refreshed less than
    /// [`CACHE_MIN_LIFETIME`] ago. Keeps the old cache when the directory fails.
    async fn refresh_cache(&self) -> Result<(), NetworkError> {
        if lock(&self.inner.state).refreshed.elapsed() < CACHE_MIN_LIFETIME {
            return Ok(());
        }
        let fresh = fetch(&self.inner.directory).await;
        let mut state = lock(&self.inner.state);
        state.refreshed = Instant::now();
        let fresh = fresh?;
        if state.cache.is_newer_than(&fresh) {
            tracing::warn!(
                held = state.cache.height,
                offered = fresh.height,
                "refused a node list older than the one held"
            );
            return Err(failure(
                "the directory offered a node list older than the one held",
            ));
        }
        tracing::debug!(nodes = fresh.nodes.len(), "node cache refreshed");
        // The directory lists the nodes that prove their uptime: strikes start over.
        state.strikes.clear();
        let listed: HashSet<Ed25519PublicKey> = fresh
            .nodes
            .iter()
            .map(NodeListing::pubkey_ed25519)
            .collect();
        state
            .guards
            .retain(|g| listed.contains(&g.pubkey_ed25519()));
        state
            .paths
            .retain(|p| p.nodes.iter().all(|n| listed.contains(&n.pubkey_ed25519())));
        state.cache = fresh;
        drop(state);
        self.save_cache();
        Ok(())
    }

    /// Brings the cache, guards and paths up to the configuration: refreshes a stale cache,
    /// probes guard candidates, builds missing paths.
    ///
    /// # Errors
    /// When not a single path exists afterwards.
    async fn upkeep(&self) -> Result<(), NetworkError> {
        let _serial = self.inner.upkeep.lock().await;
        let config = &self.inner.config;
        let stale = {
            let state = lock(&self.inner.state);
            let enough = state.guards.len() >= config.guards && state.paths.len() >= config.paths;
            if enough && !cache_needs_refresh(&state.cache, now_ms()) {
                return Ok(());
            }
            cache_needs_refresh(&state.cache, now_ms())
        };
        if stale && let Err(e) = self.refresh_cache().await {
            tracing::info!(error = %e, "node cache refresh failed");
        }
        for round in 0..2 {
            self.find_guards().await;
            self.build_paths();
            let done = {
                let state = lock(&self.inner.state);
                state.guards.len() >= config.guards && state.paths.len() >= config.paths
            };
            if done {
                return Ok(());
            }
            if round == 0
                && let Err(e) = self.refresh_cache().await
            {
                tracing::info!(error = %e, "node cache refresh failed");
            }
        }
        let state = lock(&self.inner.state);
        match (state.guards.is_empty(), state.paths.is_empty()) {
            (true, _) => Err(failure(format!(
                "no guard node answered among the {} nodes the directory at {} lists: \
                 is the network running?",
                state.cache.nodes.len(),
                self.inner.directory.addr()
            ))),
            (false, true) => Err(NetworkError::Unavailable(
                "cannot build an onion path: too few nodes for the configured hops and spread rule",
            )),
            _ => Ok(()),
        }
    }

    /// Probes candidates until there are enough guards.
    async fn find_guards(&self) {
        let want = self.inner.config.guards;
        let candidates: Vec<NodeListing> = {
            let state = lock(&self.inner.state);
            if state.guards.len() >= want {
                return;
            }
            let mut exclude = state.bad();
            exclude.extend(state.guards.iter().map(NodeListing::pubkey_ed25519));
            let mut rng = OsRng;
            paths::shuffled(&state.cache.nodes, &exclude, &mut rng)
                .into_iter()
                .take(MAX_GUARD_PROBES)
                .cloned()
                .collect()
        };
        for candidate in candidates {
            if lock(&self.inner.state).guards.len() >= want {
                return;
            }
            if self.probe(&candidate).await {
                tracing::trace!(guard = %Hop::of(&candidate), "guard picked");
                lock(&self.inner.state).guards.push(candidate);
            } else {
                let mut state = lock(&self.inner.state);
                state
                    .strikes
                    .insert(candidate.pubkey_ed25519(), NODE_FAILURE_THRESHOLD);
            }
        }
    }

    /// Whether `node` answers a direct, pinned `info` call (any HTTP answer counts).
    async fn probe(&self, node: &NodeListing) -> bool {
        self.inner
            .http
            .post(
                SocketAddr::V4(node.https_addr()),
                &node.pubkey_ed25519(),
                "/storage_rpc/v1",
                &[("content-type", "application/json")],
                Request::Info.to_http_body(),
                GUARD_PROBE_TIMEOUT,
            )
            .await
            .is_ok()
    }

    /// Builds paths until there are enough (or the cache cannot make more).
    fn build_paths(&self) {
        let config = &self.inner.config;
        let mut state = lock(&self.inner.state);
        let mut rng = OsRng;
        let mut tries = 0;
        while state.paths.len() < config.paths
            && !state.guards.is_empty()
            && tries < config.paths * 2
        {
            tries += 1;
            // The guard with the fewest paths; a failed try moves on to the next one.
            let Some(guard) = state
                .guards
                .iter()
                .enumerate()
                .min_by_key(|(i, g)| {
                    let uses = state
                        .paths
                        .iter()
                        .filter(|p| p.nodes.first() == Some(*g))
                        .count();
                    (uses, (i + tries) % state.guards.len())
                })
                .map(|(_, g)| g.clone())
            else {
                break;
            };
            let exclude = state.bad();
            // Other paths' nodes and the other guards only when nothing else fits.
            let mut avoid = state.in_paths();
            avoid.extend(state.guards.iter().map(NodeListing::pubkey_ed25519));
            let Some(nodes) = paths::pick_path(
                &guard,
                &state.cache.nodes,
                config.hops,
                config.spread,
                &exclude,
                &avoid,
                &mut rng,
            ) else {
                continue;
            };
            let id = state.next_path_id;
            state.next_path_id += 1;
            let addrs: Vec<SocketAddr> = nodes.iter().map(|n| Hop::of(n).addr).collect();
            tracing::trace!(path = ?addrs, "path built");
            state.paths.push(OnionPath {
                id,
                nodes,
                failures: 0,
            });
        }
    }

    /// The path for a request to `target`: a kept path without it (fewest strikes, taken in
    /// turn), else a one-off path without it, else any kept path.
    fn choose_path(&self, target: &Ed25519PublicKey) -> Option<OnionPath> {
        let config = &self.inner.config;
        let mut state = lock(&self.inner.state);
        state.turn = state.turn.wrapping_add(1);
        let turn = state.turn;
        let usable: Vec<&OnionPath> = state
            .paths
            .iter()
            .filter(|p| p.nodes.iter().all(|n| n.pubkey_ed25519() != *target))
            .collect();
        if let Some(least) = usable.iter().map(|p| p.failures).min() {
            let best: Vec<&&OnionPath> = usable.iter().filter(|p| p.failures == least).collect();
            return best.get(turn % best.len().max(1)).map(|p| (**p).clone());
        }
        let mut exclude = state.bad();
        exclude.insert(*target);
        let mut rng = OsRng;
        let avoid = HashSet::new();
        let one_off = state.guards.iter().find_map(|g| {
            paths::pick_path(
                g,
                &state.cache.nodes,
                config.hops,
                config.spread,
                &exclude,
                &avoid,
                &mut rng,
            )
        });
        if let Some(nodes) = one_off {
            return Some(OnionPath {
                id: 0,
                nodes,
                failures: 0,
            });
        }
        let any = state.paths.len();
        state.paths.get(turn % any.max(1)).cloned()
    }

    /// Sends one storage RPC to `target` through a path, retrying on other paths.
    async fn send(
        &self,
        method: &'static str,
        account: AccountId,
        target: &SwarmNode,
        rpc: &[u8],
    ) -> Result<String, NetworkError> {
        let timeout = self.inner.config.request_timeout;
        let started = Instant::now();
        let deadline = started + timeout;
        let target_keys = NodeKeys {
            ed25519: target.pubkey_ed25519,
            x25519: X25519PublicKey(target.pubkey_x25519),
        };
        let mut retry: Option<RetryReason> = None;
        let mut last: Option<NetworkError> = None;
        let mut attempt = 0u32;
        while attempt < MAX_ATTEMPTS {
            attempt += 1;
            let remaining = deadline.saturating_duration_since(Instant::now());
            if remaining.is_zero() {
                break;
            }
            if let Err(e) = self.upkeep().await {
                tracing::info!(error = %e, "path upkeep failed");
            }
            let Some(path) = self.choose_path(&target.pubkey_ed25519) else {
                last = Some(NetworkError::Unavailable(
                    "no onion path: every guard failed",
                ));
                tokio::time::sleep(retry_delay(attempt, remaining / 4)).await;
                continue;
            };
            let sent = Instant::now();
            let per_attempt = (timeout / 2).max(Duration::from_secs(1)).min(remaining);
            let answer = self.attempt(&path, target_keys, rpc, per_attempt).await;
            let status = match &answer {
                Answer::Ok(_) => Some(200),
                Answer::WrongSwarm(_) => Some(421),
                Answer::Failed(f) => f.status,
            };
            lock(&self.inner.state).record(Trace {
                method,
                path: path.nodes.iter().map(Hop::of).collect(),
                target: Hop::of_swarm_node(target),
                status,
                elapsed_ms: elapsed_ms(sent),
                attempt,
            });
            let failed = match answer {
                Answer::Ok(body) => {
                    lock(&self.inner.state).redirects.remove(&account);
                    return Ok(body);
                }
                Answer::WrongSwarm(body) => return self.wrong_swarm(&path, account, &body).await,
                Answer::Failed(failed) => failed,
            };
            // The exit could not reach the target: the target is down, not the path.
            if let Some(text) = &failed.body
                && names_node(text) == Some(target.pubkey_ed25519)
            {
                return Err(failure(format!(
                    "swarm node {} is unreachable: {}",
                    Hop::of_swarm_node(target),
                    text.lines().last().unwrap_or_default()
                )));
            }
            if failed.connection_failed
                && let Some(guard) = path.nodes.first()
                && !self.probe(guard).await
            {
                tracing::trace!(guard = %Hop::of(guard), "guard unreachable: replacing it");
                lock(&self.inner.state)
                    .strikes
                    .insert(guard.pubkey_ed25519(), NODE_FAILURE_THRESHOLD);
                lock(&self.inner.state).drop_node(&guard.pubkey_ed25519());
            }
            let policy_body = failed.body.as_deref().map(as_not_found);
            let reply = Reply {
                status: failed.status,
                timeout: failed.timeout,
                body: policy_body.as_deref(),
                decryption_failed: failed.decryption_failed,
            };
            let action = self.apply_policy(&path, retry, &reply, failed.connection_failed);
            last = Some(failed.to_error(path.nodes.first()));
            match action {
                RequestAction::Retry { reason, .. } => retry = Some(reason),
                RequestAction::Report { .. } if failed.from_target => break,
                RequestAction::Report { .. } => {
                    let left = deadline.saturating_duration_since(Instant::now());
                    tokio::time::sleep(retry_delay(attempt.saturating_sub(1), left / 4)).await;
                }
            }
        }
        Err(last.unwrap_or(NetworkError::Timeout))
    }

    /// One attempt: builds the onion, POSTs it to the guard, reads the answer.
    async fn attempt(
        &self,
        path: &OnionPath,
        target: NodeKeys,
        rpc: &[u8],
        timeout: Duration,
    ) -> Answer {
        let keys: Vec<NodeKeys> = path
            .nodes
            .iter()
            .map(|n| NodeKeys {
                ed25519: n.pubkey_ed25519(),
                x25519: n.pubkey_x25519(),
            })
            .collect();
        let (Some(guard), Ok(onion)) = (
            path.nodes.first(),
            sotto_onion::build(
                &keys,
                &Destination::Node { node: target, rpc },
                EncType::XChaCha20,
                &mut OsRng,
            ),
        ) else {
            // Only a target key that is not a curve point gets here.
            return Answer::Failed(Failed {
                from_target: true,
                ..Failed::default()
            });
        };
        let sent = self
            .inner
            .http
            .post(
                SocketAddr::V4(guard.https_addr()),
                &guard.pubkey_ed25519(),
                "/onion_req/v2",
                &[],
                onion.body,
                timeout,
            )
            .await;
        let resp = match sent {
            Ok(resp) => resp,
            Err(e) => return Answer::Failed(Failed::no_answer(e)),
        };
        if resp.status != 200 {
            return Answer::Failed(hop_error(&onion.hop_keys, resp.status, &resp.body));
        }
        match onion.response_key.open_v3(&resp.body) {
            Ok(v3) if v3.status == 200 => Answer::Ok(v3.body),
            Ok(v3) if v3.status == 421 => Answer::WrongSwarm(v3.body),
            Ok(v3) => Answer::Failed(Failed::answer(v3.status, &v3.body, true)),
            Err(_) => Answer::Failed(Failed {
                status: Some(200),
                decryption_failed: true,
                ..Failed::default()
            }),
        }
    }

    /// Runs the failure policy for a failed attempt on `path` and applies its verdict to the
    /// strikes, the path and the node cache. Returns what to do with the request.
    fn apply_policy(
        &self,
        path: &OnionPath,
        retry: Option<RetryReason>,
        reply: &Reply<'_>,
        connection_failed: bool,
    ) -> RequestAction {
        let config = &self.inner.config;
        let mut state = lock(&self.inner.state);
        let kept = state
            .paths
            .iter()
            .find(|p| p.id == path.id && path.id != 0)
            .cloned();
        let current = kept.as_ref().unwrap_or(path);
        let view = PathState {
            nodes: current
                .nodes
                .iter()
                .map(|n| PathNode {
                    ed25519: n.pubkey_ed25519(),
                    failures: state.strikes.get(&n.pubkey_ed25519()).copied().unwrap_or(0),
                })
                .collect(),
            failures: current.failures,
            connection_open: !connection_failed,
        };
        let mut exclude = state.bad();
        exclude.extend(state.in_paths());
        let spare = state
            .cache
            .nodes
            .iter()
            .any(|n| !exclude.contains(&n.pubkey_ed25519()));
        let request = RequestInfo {
            to_node: true,
            retry,
            swarm: SwarmInfo::Cached { other_node: true },
        };
        let outcome = handle_error(&view, &request, reply, spare);
        for (node, strikes) in current.nodes.iter().zip(&outcome.node_failures) {
            state.strikes.insert(node.pubkey_ed25519(), *strikes);
        }
        match outcome.path {
            PathAction::Keep => {
                if let Some(p) = state.paths.iter_mut().find(|p| p.id == current.id) {
                    p.failures = outcome.path_failures;
                }
            }
            PathAction::ReplaceNode { index } => {
                let mut rng = OsRng;
                let replacement = paths::pick_replacement(
                    &current.nodes,
                    index,
                    &state.cache.nodes,
                    config.spread,
                    &exclude,
                    &mut rng,
                );
                let id = current.id;
                match (replacement, state.paths.iter_mut().find(|p| p.id == id)) {
                    (Some(node), Some(p)) => {
                        if let Some(slot) = p.nodes.get_mut(index) {
                            tracing::trace!(old = %Hop::of(slot), new = %Hop::of(&node), "node replaced");
                            *slot = node;
                        }
                        p.failures = outcome.path_failures;
                    }
                    (None, _) => state.paths.retain(|p| p.id != id),
                    (Some(_), None) => {}
                }
            }
            PathAction::Drop => {
                if let Some(guard) = current.nodes.first() {
                    tracing::trace!(guard = %Hop::of(guard), "path dropped");
                }
                let id = current.id;
                state.paths.retain(|p| p.id != id);
            }
        }
        let bad: Vec<Ed25519PublicKey> = current
            .nodes
            .iter()
            .map(NodeListing::pubkey_ed25519)
            .filter(|k| state.strikes.get(k).copied().unwrap_or(0) >= NODE_FAILURE_THRESHOLD)
            .collect();
        for key in &bad {
            state.drop_node(key);
        }
        outcome.request
    }

    /// A 421: the swarm the node named, after the failure policy had its say (a second 421
    /// for the account refreshes the node cache).
    async fn wrong_swarm(
        &self,
        path: &OnionPath,
        account: AccountId,
        body: &str,
    ) -> Result<String, NetworkError> {
        let retry = {
            let mut state = lock(&self.inner.state);
            state
                .redirects
                .retain(|_, (_, at)| at.elapsed() < REDIRECT_WINDOW);
            let seen = state
                .redirects
                .get(&account)
                .filter(|(_, at)| at.elapsed() < REDIRECT_WINDOW)
                .map_or(0, |(n, _)| *n);
            state
                .redirects
                .insert(account, (seen.saturating_add(1), Instant::now()));
            match seen {
                0 => None,
                1 => Some(RetryReason::Redirect),
                _ => Some(RetryReason::RedirectSwarmRefresh),
            }
        };
        let reply = Reply {
            status: Some(421),
            timeout: false,
            body: None,
            decryption_failed: false,
        };
        if let RequestAction::Retry {
            refresh_node_cache: true,
            ..
        } = self.apply_policy(path, retry, &reply, false)
            && let Err(e) = self.refresh_cache().await
        {
            tracing::info!(error = %e, "node cache refresh after a second 421 failed");
        }
        let swarm = GetSwarmResponse::parse(body.as_bytes(), Encoding::Json)?;
        Err(NetworkError::WrongSwarm(swarm.snodes))
    }
}

/// Whether the cache should be fetched again.
fn cache_needs_refresh(cache: &NodeCache, now_ms: u64) -> bool {
    let age = Duration::from_millis(now_ms.saturating_sub(cache.fetched_ms));
    cache.nodes.is_empty()
        || age >= CACHE_EXPIRY
        || (cache.nodes.len() < MIN_CACHE_SIZE && age >= SMALL_CACHE_REFRESH)
}

/// Fetches and verifies the node list.
async fn fetch(directory: &DirectoryClient) -> Result<NodeCache, NetworkError> {
    let list = directory.fetch_nodes().await.map_err(|e| {
        failure(format!(
            "cannot get the node list from the directory at {}: {e}; \
             is the network running (`cargo xtask testnet`)?",
            directory.addr()
        ))
    })?;
    let nodes: Vec<NodeListing> = list.nodes.into_iter().take(cache::MAX_NODES).collect();
    if nodes.is_empty() {
        return Err(failure(format!(
            "the directory at {} lists no nodes yet: wait for the nodes to register",
            directory.addr()
        )));
    }
    Ok(NodeCache::new(nodes, now_ms()).with_height(list.height))
}

/// A hop's error (a non-200 answer from the guard): sealed by the hop that produced it with
/// its layer key (Sotto's extension, `sotto_onion::relay_error`), which one of `hop_keys`
/// opens, or in plain text (a Session node, or an error that names no node). Either way the
/// text goes to the failure policy as the spec words it.
fn hop_error(hop_keys: &[sotto_onion::HopKey], status: u16, body: &[u8]) -> Failed {
    match sotto_onion::relay_error::open(hop_keys, body) {
        Some((_hop, error)) => Failed::answer(error.status, &error.text, false),
        None => Failed::answer(status, &String::from_utf8_lossy(body), false),
    }
}

/// Reply prefixes naming a node the previous hop could not reach.
const UNREACHABLE: [&str; 2] = ["Next node not found: ", "Next node not reachable: "];

/// The node a hop's error names as unreachable.
fn names_node(body: &str) -> Option<Ed25519PublicKey> {
    let line = body.lines().last()?;
    let key = UNREACHABLE.iter().find_map(|p| line.strip_prefix(p))?;
    let mut bytes = [0u8; 32];
    hex::decode_to_slice(key.trim(), &mut bytes).ok()?;
    Some(Ed25519PublicKey(bytes))
}

/// A body naming an unreachable node, in the words the failure policy knows.
fn as_not_found(body: &str) -> String {
    match names_node(body) {
        Some(key) => format!("Next node not found: {}", hex::encode(key.as_bytes())),
        None => body.to_owned(),
    }
}

fn swarm_node(node: &NodeListing) -> SwarmNode {
    SwarmNode {
        pubkey_ed25519: node.pubkey_ed25519(),
        pubkey_x25519: node.pubkey_x25519().0,
        ip: node.public_ip(),
        port_https: node.storage_port(),
        port_omq: node.storage_lmq_port().unwrap_or(0),
    }
}

impl Network for OnionNetwork {
    async fn get_swarm(&self, account: AccountId) -> Result<Vec<SwarmNode>, NetworkError> {
        if let Err(e) = self.upkeep().await {
            tracing::info!(error = %e, "path upkeep failed");
        }
        let lookup = || -> Vec<SwarmNode> {
            let state = lock(&self.inner.state);
            state
                .cache
                .swarm_for(account.key())
                .into_iter()
                .map(swarm_node)
                .collect()
        };
        let nodes = lookup();
        if !nodes.is_empty() {
            return Ok(nodes);
        }
        self.refresh_cache().await?;
        let nodes = lookup();
        if nodes.is_empty() {
            Err(NetworkError::NoSwarm)
        } else {
            Ok(nodes)
        }
    }

    async fn store(&self, node: SwarmNode, request: Store) -> Result<SwarmResponse, NetworkError> {
        let account = request.account;
        let rpc = Request::from(request).to_http_body();
        let body = self.send("store", account, &node, &rpc).await?;
        Ok(SwarmResponse::parse(
            Method::Store,
            body.as_bytes(),
            Encoding::Json,
        )?)
    }

    async fn retrieve(
        &self,
        node: SwarmNode,
        request: Retrieve,
    ) -> Result<RetrieveResponse, NetworkError> {
        let account = request.account;
        let rpc = Request::from(request).to_http_body();
        let body = self.send("retrieve", account, &node, &rpc).await?;
        Ok(RetrieveResponse::parse(body.as_bytes(), Encoding::Json)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::SpreadRule;

    #[test]
    fn unreachable_node_bodies_are_read() {
        let key = [7u8; 32];
        let hexed = hex::encode(key);
        for body in [
            format!("Next node not found: {hexed}"),
            format!("Next node not reachable: {hexed}"),
            format!("502 Bad Gateway\n\nNext node not found: {hexed}"),
        ] {
            assert_eq!(names_node(&body), Some(Ed25519PublicKey(key)), "{body}");
            assert_eq!(as_not_found(&body), format!("Next node not found: {hexed}"));
        }
        assert_eq!(names_node("Next node not found: 12"), None);
        assert_eq!(names_node("Invalid ciphertext"), None);
        assert_eq!(as_not_found("Invalid ciphertext"), "Invalid ciphertext");
    }

    #[test]
    fn sealed_hop_errors_are_opened_for_the_failure_policy() {
        use sotto_onion::{HopKey, RelayError, X25519Keypair, relay_error};
        let hops: Vec<HopKey> = (0..3)
            .map(|_| {
                let node = X25519Keypair::generate(&mut OsRng);
                let eph = X25519Keypair::generate(&mut OsRng);
                HopKey::for_client(EncType::XChaCha20, &eph, node.public_key()).unwrap()
            })
            .collect();
        let key = [7u8; 32];
        let error = RelayError {
            status: 502,
            text: format!("Next node not found: {}", hex::encode(key)),
        };
        let sealed = relay_error::seal(&hops[2], &error, &mut OsRng).unwrap();
        let failed = hop_error(&hops, 502, &sealed);
        assert_eq!(failed.status, Some(502));
        let body = failed.body.unwrap();
        assert_eq!(names_node(&body), Some(Ed25519PublicKey(key)));
        assert_eq!(as_not_found(&body), error.text);
        // A plain-text error (a Session node) is read as before.
        let plain = hop_error(&hops, 502, error.text.as_bytes());
        assert_eq!(plain.body.as_deref(), Some(error.text.as_str()));
        // A sealed error no hop key opens stays opaque: it names no node.
        let foreign = hop_error(&hops[..2], 502, &sealed);
        assert_eq!(names_node(foreign.body.as_deref().unwrap()), None);
    }

    #[test]
    fn small_or_old_caches_are_refreshed() {
        use std::net::Ipv4Addr;
        let node = |i| cache::tests::listing(Ipv4Addr::new(10, 0, 0, i), 1);
        let now = 10 * 3600 * 1000;
        let small = NodeCache::new((1..=3).map(node).collect(), now);
        assert!(!cache_needs_refresh(&small, now + 1000));
        assert!(cache_needs_refresh(&small, now + 61_000));
        let big = NodeCache::new((1..=20).map(node).collect(), now);
        assert!(!cache_needs_refresh(&big, now + 3_600_000));
        assert!(cache_needs_refresh(&big, now + 7_200_000));
        assert!(cache_needs_refresh(&NodeCache::new(Vec::new(), now), now));
    }

    #[test]
    fn default_config_matches_the_spec() {
        let c = OnionConfig::default();
        assert_eq!((c.guards, c.paths, c.hops), (2, 2, 3));
        assert_eq!(c.spread, SpreadRule::DistinctAddress);
        assert_eq!(c.request_timeout, Duration::from_secs(10));
    }
}
