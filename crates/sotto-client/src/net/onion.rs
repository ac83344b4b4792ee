//! [`OnionNetwork`]: the node cache, guards and paths, and each request's attempts.

use std::collections::{HashMap, HashSet, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use sotto_crypto::{Ed25519PublicKey, OsRng};
use sotto_nodelist::{DirectoryClient, now_ms};
use sotto_onion::path::{
    NODE_FAILURE_THRESHOLD, PathAction, PathNode, PathState, Reply, RequestAction, RequestInfo,
    RetryReason, SwarmInfo, handle_error, retry_delay,
};
use sotto_onion::{Destination, EncType, NodeKeys, ServerDestination, V4Request, V4Response};
use sotto_rpc::request::{Delete, Expire, GetExpiries, Retrieve, Store};
use sotto_rpc::response::{GetExpiriesResponse, RetrieveResponse, SwarmNode, SwarmResponse};
use sotto_rpc::{AccountId, Encoding, Method, Request};
use sotto_swarm::NodeListing;
use sotto_transport::{HttpsClient, TransportError};

use super::cache::{self, NodeCache};
use super::file::NetworkFile;
use super::guards::{GUARD_RETRY_INTERVAL, Guards};
use super::paths;
use super::server::OnionServer;
use super::{
    CACHE_EXPIRY, CACHE_MIN_LIFETIME, GUARD_PROBE_TIMEOUT, Hop, MAX_421_REFRESHES, MAX_ATTEMPTS,
    MAX_ERROR_TEXT, MAX_GUARD_PROBES, MAX_TRACES, MIN_CACHE_SIZE, OnionConfig, SMALL_CACHE_REFRESH,
    Trace,
};
use crate::error::{NetworkError, OnionFailure};
use crate::network::Network;

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
    guards: Guards,
    /// The guards changed since they were last saved.
    guards_dirty: bool,
    /// When a search for new guards last found none (searches wait [`GUARD_RETRY_INTERVAL`]).
    failed_search: Option<Instant>,
    /// The user's own account (its swarm is kept out of every path).
    own: Option<AccountId>,
    paths: Vec<OnionPath>,
    next_path_id: u64,
    turn: usize,
    traces: VecDeque<Trace>,
}

impl State {
    fn bad(&self) -> HashSet<Ed25519PublicKey> {
        self.strikes
            .iter()
            .filter(|&(_, &s)| s >= NODE_FAILURE_THRESHOLD)
            .map(|(k, _)| *k)
            .collect()
    }

    /// Takes a struck-out node out of every path (its strikes keep it out of new ones until
    /// the next refresh of the list; it stays in the cache, so it may still be a request's
    /// target). A guard stays a guard (one bad spell does not strike it out): it gets a
    /// failure and is set aside until a probe finds it back.
    fn drop_node(&mut self, key: &Ed25519PublicKey) {
        if self.guards.contains(key) {
            self.guard_failed(key);
        }
        self.paths
            .retain(|p| p.nodes.iter().all(|n| n.pubkey_ed25519() != *key));
    }

    /// Records a failure of guard `key` and drops the paths starting there.
    fn guard_failed(&mut self, key: &Ed25519PublicKey) {
        self.guards.record_failure(key, now_ms());
        self.guards_dirty = true;
        self.paths
            .retain(|p| p.nodes.first().is_none_or(|g| g.pubkey_ed25519() != *key));
    }

    /// The members of the user's own swarm, when paths must avoid it.
    fn own_swarm(&self, avoid_swarms: bool) -> HashSet<Ed25519PublicKey> {
        match self.own {
            Some(own) if avoid_swarms => self
                .cache
                .swarm_for(own.key())
                .into_iter()
                .map(NodeListing::pubkey_ed25519)
                .collect(),
            _ => HashSet::new(),
        }
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

/// Where one request goes.
enum Target<'a> {
    /// A storage RPC for a listed node.
    Node {
        /// The node, as the signed list gives it.
        node: NodeListing,
        /// The account the RPC is for (its swarm is kept off the path).
        account: AccountId,
        /// The RPC body.
        rpc: &'a [u8],
    },
    /// A v4 request to a server, proxied by the path's exit.
    Server {
        /// The server.
        server: &'a OnionServer,
        /// The encoded v4 request.
        request: &'a [u8],
    },
}

/// What a request brought back.
enum Delivered {
    /// A storage RPC's body (status 200).
    Rpc(String),
    /// A server's v4 response, whatever its code.
    Server(V4Response),
}

/// How the attempt ended.
enum Answer {
    /// The target answered 200: its body.
    Ok(String),
    /// The server answered (any code): its v4 response.
    Server(V4Response),
    /// The target answered 421 (its body is not trusted, so not kept).
    WrongSwarm,
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
    fn into_error(self, guard: Option<&NodeListing>) -> NetworkError {
        match (self.error, self.status) {
            (Some(TransportError::Timeout(_)), _) => NetworkError::Timeout,
            (Some(source), _) => OnionFailure::Guard {
                guard: guard.map(Hop::of),
                source,
            }
            .into(),
            (None, Some(status)) if self.decryption_failed => {
                OnionFailure::Undecryptable { status }.into()
            }
            (None, Some(s)) => NetworkError::Status(s),
            (None, None) => OnionFailure::InvalidTargetKey.into(),
        }
    }
}

impl OnionNetwork {
    /// Fetches and verifies the node list from the directory (or uses a fresh cache file),
    /// picks guards (checked reachable) and builds paths.
    ///
    /// # Errors
    /// [`NetworkError::Onion`] saying what to do when the directory cannot be reached and no
    /// cache is usable ([`OnionFailure::Directory`], [`OnionFailure::EmptyNodeList`]), or when no
    /// guard answers ([`OnionFailure::NoGuard`]); [`NetworkError::Unavailable`] when
    /// the configuration cannot make a path.
    pub async fn connect(
        file: &NetworkFile,
        mut config: OnionConfig,
    ) -> Result<Self, NetworkError> {
        if let Some(spread) = file.spread {
            config.spread = spread;
        }
        if let Some(avoid) = file.avoid_swarms {
            config.avoid_swarms = avoid;
        }
        if config.spread != super::SpreadRule::DistinctSubnet24 || !config.avoid_swarms {
            tracing::info!(spread = ?config.spread, avoid_swarms = config.avoid_swarms,
                "path rules relaxed (a loopback testnet)");
        }
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
        let guards = config.guard_file.as_deref().and_then(|path| {
            match Guards::load(path, &file.directory_pubkey, &cache) {
                Ok(guards) => guards,
                Err(e) => {
                    tracing::warn!(file = %path.display(), error = %e, "guard file ignored");
                    None
                }
            }
        });
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
                    guards: guards.unwrap_or_default(),
                    guards_dirty: false,
                    failed_search: None,
                    own: None,
                    paths: Vec::new(),
                    next_path_id: 1,
                    turn: 0,
                    traces: VecDeque::new(),
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

    /// The current guards (those set aside after a failure included), in the order picked.
    #[must_use]
    pub fn guards(&self) -> Vec<Hop> {
        lock(&self.inner.state)
            .guards
            .all()
            .iter()
            .map(|g| Hop::of(&g.node))
            .collect()
    }

    /// Keeps the swarm of `account` (the user's own) out of every path from now on.
    pub fn set_own_account(&self, account: AccountId) {
        let avoid = self.inner.config.avoid_swarms;
        let mut state = lock(&self.inner.state);
        state.own = Some(account);
        let own = state.own_swarm(avoid);
        state
            .paths
            .retain(|p| p.nodes.iter().all(|n| !own.contains(&n.pubkey_ed25519())));
    }

    fn save_guards(&self) {
        let Some(path) = &self.inner.config.guard_file else {
            return;
        };
        let guards = {
            let mut state = lock(&self.inner.state);
            if !state.guards_dirty {
                return;
            }
            state.guards_dirty = false;
            state.guards.clone()
        };
        if let Err(e) = guards.save(path, &self.inner.directory_key) {
            tracing::warn!(file = %path.display(), error = %e, "cannot save the guards");
        }
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
            return Err(OnionFailure::StaleNodeList.into());
        }
        tracing::debug!(nodes = fresh.nodes.len(), "node cache refreshed");
        // The directory lists the nodes that prove their uptime: strikes start over.
        state.strikes.clear();
        let listed: HashSet<Ed25519PublicKey> = fresh
            .nodes
            .iter()
            .map(NodeListing::pubkey_ed25519)
            .collect();
        for (key, why) in state.guards.prune(&fresh, &HashSet::new(), now_ms()) {
            tracing::trace!(guard = %hex::encode(key.as_bytes().get(..4).unwrap_or_default()), ?why, "guard dropped");
            state.guards_dirty = true;
        }
        state
            .paths
            .retain(|p| p.nodes.iter().all(|n| listed.contains(&n.pubkey_ed25519())));
        state.cache = fresh;
        drop(state);
        self.save_cache();
        Ok(())
    }

    /// Brings the cache, guards and paths up to the configuration: refreshes a stale cache,
    /// probes set-aside guards that are due, replaces guards that must go, builds missing paths.
    ///
    /// # Errors
    /// When not a single path exists afterwards.
    async fn upkeep(&self) -> Result<(), NetworkError> {
        let _serial = self.inner.upkeep.lock().await;
        let config = &self.inner.config;
        let stale = {
            let state = lock(&self.inner.state);
            let now = now_ms();
            let enough = state.guards.len() >= config.guards
                && state.paths.len() >= config.paths
                && state.guards.due_for_retry(now).is_empty()
                && state.guards.dead(now).is_empty();
            if enough && !cache_needs_refresh(&state.cache, now) {
                return Ok(());
            }
            cache_needs_refresh(&state.cache, now)
        };
        if stale && let Err(e) = self.refresh_cache().await {
            tracing::info!(error = %e, "node cache refresh failed");
        }
        for round in 0..2 {
            self.find_guards(round > 0).await;
            self.build_paths();
            let done = {
                let state = lock(&self.inner.state);
                state.guards.len() >= config.guards && state.paths.len() >= config.paths
            };
            if done {
                break;
            }
            if round == 0
                && let Err(e) = self.refresh_cache().await
            {
                tracing::info!(error = %e, "node cache refresh failed");
            }
        }
        self.save_guards();
        let state = lock(&self.inner.state);
        match (state.guards.usable().is_empty(), state.paths.is_empty()) {
            (true, _) if state.guards.len() > 0 => Err(NetworkError::NoPath(format!(
                "none of your {} guard nodes answers; a guard is replaced once it has failed \
                 for an hour (at most {} new guards a day)",
                state.guards.len(),
                config.guards + super::guards::GUARD_REPLACEMENTS
            ))),
            (true, _) => Err(OnionFailure::NoGuard {
                listed: state.cache.nodes.len(),
                directory: self.inner.directory.addr(),
            }
            .into()),
            (false, true) => Err(NetworkError::Unavailable(
                "cannot build an onion path: too few nodes for the configured hops and spread rule",
            )),
            _ => Ok(()),
        }
    }

    /// Probes the set-aside guards that are due, drops guards that must go (unlisted,
    /// expired, in the user's own swarm), and probes candidates to fill the set or replace a
    /// dead guard, within the replacement rate limit. `force` searches even when the last
    /// search found nobody less than [`GUARD_RETRY_INTERVAL`] ago.
    async fn find_guards(&self, force: bool) {
        let want = self.inner.config.guards;
        let avoid_swarms = self.inner.config.avoid_swarms;
        let due = {
            let state = lock(&self.inner.state);
            if state.guards.usable().is_empty() {
                // Nothing works: every set-aside guard is tried again at once.
                state.guards.due_for_retry(u64::MAX)
            } else {
                state.guards.due_for_retry(now_ms())
            }
        };
        for guard in due {
            let up = self.probe(&guard).await;
            let mut state = lock(&self.inner.state);
            let key = guard.pubkey_ed25519();
            if up {
                state.guards.record_success(&key);
                state.strikes.remove(&key);
            } else {
                state.guards.record_failure(&key, now_ms());
            }
            state.guards_dirty = true;
        }
        let (candidates, mut dead) = {
            let mut state = lock(&self.inner.state);
            let own = state.own_swarm(avoid_swarms);
            let now = now_ms();
            let cache = state.cache.clone();
            for (key, why) in state.guards.prune(&cache, &own, now) {
                tracing::trace!(guard = %hex::encode(key.as_bytes().get(..4).unwrap_or_default()), ?why, "guard dropped");
                state.guards_dirty = true;
                state
                    .paths
                    .retain(|p| p.nodes.first().is_none_or(|g| g.pubkey_ed25519() != key));
            }
            let dead = state.guards.dead(now);
            let missing = want.saturating_sub(state.guards.len());
            let recently_failed = state
                .failed_search
                .is_some_and(|t| t.elapsed() < GUARD_RETRY_INTERVAL);
            if missing + dead.len() == 0 || (recently_failed && !force) {
                return;
            }
            if !state.guards.may_add(want, now) {
                let wait_s = state
                    .guards
                    .next_addition_ms(want, now)
                    .map_or(0, |t| t.saturating_sub(now) / 1000);
                tracing::debug!(
                    guards = state.guards.len(),
                    wait_s,
                    "no new guard: the replacement limit is reached"
                );
                return;
            }
            let mut exclude = state.bad();
            exclude.extend(state.guards.all().iter().map(|g| g.node.pubkey_ed25519()));
            exclude.extend(own);
            // Candidates in the swarm of a guard last: guards in distinct swarms mean no one
            // target swarm holds them all.
            let guard_swarms: HashSet<_> = state
                .guards
                .all()
                .iter()
                .map(|g| g.node.swarm_id())
                .collect();
            let mut rng = OsRng;
            let mut candidates: Vec<NodeListing> =
                paths::shuffled(&state.cache.nodes, &exclude, &mut rng)
                    .into_iter()
                    .take(MAX_GUARD_PROBES)
                    .cloned()
                    .collect();
            candidates.sort_by_key(|c| guard_swarms.contains(&c.swarm_id()));
            (candidates, dead)
        };
        let mut found = false;
        for candidate in candidates {
            let done = {
                let state = lock(&self.inner.state);
                (state.guards.len() >= want && dead.is_empty())
                    || !state.guards.may_add(want, now_ms())
            };
            if done {
                break;
            }
            if self.probe(&candidate).await {
                tracing::trace!(guard = %Hop::of(&candidate), "guard picked");
                found = true;
                let mut state = lock(&self.inner.state);
                if state.guards.len() >= want
                    && let Some(old) = dead.pop()
                {
                    state.guards.remove(&old);
                    state
                        .paths
                        .retain(|p| p.nodes.first().is_none_or(|g| g.pubkey_ed25519() != old));
                }
                state.guards.add(candidate, now_ms(), &mut OsRng);
                state.guards_dirty = true;
            } else {
                let mut state = lock(&self.inner.state);
                state
                    .strikes
                    .insert(candidate.pubkey_ed25519(), NODE_FAILURE_THRESHOLD);
            }
        }
        lock(&self.inner.state).failed_search = (!found).then(Instant::now);
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

    /// Builds paths until there are enough (or the cache cannot make more), on the usable
    /// guards, outside the user's own swarm.
    fn build_paths(&self) {
        let config = &self.inner.config;
        let mut state = lock(&self.inner.state);
        let mut rng = OsRng;
        let mut tries = 0;
        let guards: Vec<NodeListing> = state.guards.usable().into_iter().cloned().collect();
        let own = state.own_swarm(config.avoid_swarms);
        while state.paths.len() < config.paths && !guards.is_empty() && tries < config.paths * 2 {
            tries += 1;
            // The guard with the fewest paths; a failed try moves on to the next one.
            let Some(guard) = guards
                .iter()
                .enumerate()
                .min_by_key(|(i, g)| {
                    let uses = state
                        .paths
                        .iter()
                        .filter(|p| p.nodes.first() == Some(*g))
                        .count();
                    (uses, (i + tries) % guards.len())
                })
                .map(|(_, g)| g.clone())
            else {
                break;
            };
            let mut exclude = state.bad();
            exclude.extend(own.iter().copied());
            // Other paths' nodes and the other guards only when nothing else fits.
            let mut avoid = state.in_paths();
            avoid.extend(state.guards.all().iter().map(|g| g.node.pubkey_ed25519()));
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

    /// The path for a request to `target` of `account`: a kept path that avoids the target,
    /// its swarm, the user's own swarm and the nodes the spread rule puts too close to the
    /// target (fewest strikes, taken in turn), else a one-off path from a usable guard that
    /// does.
    ///
    /// # Errors
    /// [`NetworkError::NoPath`] when no path can: never a path through the target.
    /// A server target (`None`) only keeps the user's own swarm off the path.
    fn choose_path(
        &self,
        target: Option<(&NodeListing, AccountId)>,
    ) -> Result<OnionPath, NetworkError> {
        let config = &self.inner.config;
        let mut state = lock(&self.inner.state);
        state.turn = state.turn.wrapping_add(1);
        let turn = state.turn;
        let mut exclude = state.bad();
        let mut swarms = state.own_swarm(config.avoid_swarms);
        if let Some((target, account)) = target {
            if config.avoid_swarms {
                swarms.extend(
                    state
                        .cache
                        .swarm_for(account.key())
                        .into_iter()
                        .map(NodeListing::pubkey_ed25519),
                );
            }
            exclude.extend(paths::excluded_for_target(
                &state.cache.nodes,
                target.pubkey_ed25519(),
                target.public_ip(),
                config.spread,
                std::iter::empty(),
            ));
        }
        exclude.extend(swarms);
        let guards: Vec<NodeListing> = state.guards.usable().into_iter().cloned().collect();
        let usable: Vec<&OnionPath> = state
            .paths
            .iter()
            .filter(|p| paths::allowed(&p.nodes, &exclude))
            .filter(|p| p.nodes.first().is_some_and(|g| guards.contains(g)))
            .collect();
        if let Some(least) = usable.iter().map(|p| p.failures).min() {
            let best: Vec<&&OnionPath> = usable.iter().filter(|p| p.failures == least).collect();
            if let Some(path) = best.get(turn % best.len().max(1)) {
                return Ok((**path).clone());
            }
        }
        let mut rng = OsRng;
        let avoid = HashSet::new();
        let one_off = guards.iter().find_map(|g| {
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
        match one_off {
            Some(nodes) => Ok(OnionPath {
                id: 0,
                nodes,
                failures: 0,
            }),
            None if guards.is_empty() => Err(NetworkError::NoPath(
                "every guard node is unreachable".to_owned(),
            )),
            None => Err(NetworkError::NoPath(format!(
                "no path from your {} usable guard(s) avoids the target, its swarm, your own \
                 swarm and the nodes too close to the target ({:?})",
                guards.len(),
                config.spread
            ))),
        }
    }

    /// Sends one storage RPC to `target` through a path, retrying on other paths.
    async fn send(
        &self,
        method: &'static str,
        account: AccountId,
        target: &SwarmNode,
        rpc: &[u8],
    ) -> Result<String, NetworkError> {
        // Only nodes of the signed list, with the keys and address it gives (its X25519 key
        // derived from the Ed25519 key), whatever the caller passed.
        let node = lock(&self.inner.state)
            .cache
            .get(&target.pubkey_ed25519)
            .cloned()
            .ok_or(NetworkError::UnlistedNode)?;
        let target = Target::Node { node, account, rpc };
        match self
            .send_to(method, &target, self.inner.config.request_timeout)
            .await?
        {
            Delivered::Rpc(body) => Ok(body),
            Delivered::Server(_) => Err(OnionFailure::WrongKind {
                target: "node",
                answered_as: "server",
            }
            .into()),
        }
    }

    /// Sends a v4 request to `server` through a 3-hop onion path (the path's exit proxies it
    /// to the server's `/oxen/v4/lsrpc`), with the same retries, strikes and path policy as
    /// storage RPCs, and returns the server's v4 response whatever its code. `timeout`
    /// bounds the whole request, retries included (each attempt gets half of it, at least a
    /// second); large uploads need more than [`super::OnionConfig::request_timeout`].
    ///
    /// # Errors
    /// [`NetworkError::NoPath`] when no path can be built, [`NetworkError::Timeout`] or
    /// another [`NetworkError`] when every attempt failed before the server answered.
    pub async fn server_request(
        &self,
        server: &OnionServer,
        request: &V4Request,
        timeout: Duration,
    ) -> Result<V4Response, NetworkError> {
        let encoded = request.encode();
        let target = Target::Server {
            server,
            request: &encoded,
        };
        match self.send_to("server", &target, timeout).await? {
            Delivered::Server(response) => Ok(response),
            Delivered::Rpc(_) => Err(OnionFailure::WrongKind {
                target: "server",
                answered_as: "node",
            }
            .into()),
        }
    }

    /// The request loop: one attempt per path until the target answers or the attempts,
    /// or `timeout`, run out.
    async fn send_to(
        &self,
        method: &'static str,
        target: &Target<'_>,
        timeout: Duration,
    ) -> Result<Delivered, NetworkError> {
        let started = Instant::now();
        let deadline = started + timeout;
        let node_target = match target {
            Target::Node { node, account, .. } => Some((node, *account)),
            Target::Server { .. } => None,
        };
        let traced = match target {
            Target::Node { node, .. } => Hop::of(node),
            Target::Server { server, .. } => server_hop(server),
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
            let path = match self.choose_path(node_target) {
                Ok(path) => path,
                Err(e) => {
                    let usable = !lock(&self.inner.state).guards.usable().is_empty();
                    if usable {
                        // The rules cannot be met with these nodes: waiting does not help.
                        return Err(e);
                    }
                    last = Some(e);
                    tokio::time::sleep(retry_delay(attempt, remaining / 4)).await;
                    continue;
                }
            };
            let sent = Instant::now();
            let per_attempt = (timeout / 2).max(Duration::from_secs(1)).min(remaining);
            let answer = self.attempt(&path, target, per_attempt).await;
            let status = match &answer {
                Answer::Ok(_) => Some(200),
                Answer::Server(r) => Some(r.code),
                Answer::WrongSwarm => Some(421),
                Answer::Failed(f) => f.status,
            };
            lock(&self.inner.state).record(Trace {
                method,
                path: path.nodes.iter().map(Hop::of).collect(),
                target: traced.clone(),
                status,
                elapsed_ms: elapsed_ms(sent),
                attempt,
            });
            let failed = match answer {
                Answer::Ok(body) => {
                    self.save_guards();
                    return Ok(Delivered::Rpc(body));
                }
                Answer::Server(response) => {
                    self.save_guards();
                    return Ok(Delivered::Server(response));
                }
                Answer::WrongSwarm => {
                    self.save_guards();
                    let Some((node, account)) = node_target else {
                        return Err(NetworkError::Status(421));
                    };
                    return self
                        .wrong_swarm(account, node, deadline)
                        .await
                        .map(Delivered::Rpc);
                }
                Answer::Failed(failed) => failed,
            };
            // The exit could not reach the target: the target is down, not the path.
            if let Some(text) = &failed.body
                && let Some((node, _)) = node_target
                && names_node(text) == Some(node.pubkey_ed25519())
            {
                self.save_guards();
                return Err(OnionFailure::TargetUnreachable {
                    node: Hop::of(node),
                    reason: text.lines().last().unwrap_or_default().to_owned(),
                }
                .into());
            }
            if failed.connection_failed
                && let Some(guard) = path.nodes.first()
                && !self.probe(guard).await
            {
                tracing::trace!(guard = %Hop::of(guard), "guard unreachable: set aside until it answers again");
                lock(&self.inner.state).guard_failed(&guard.pubkey_ed25519());
            }
            let policy_body = failed.body.as_deref().map(as_not_found);
            let reply = Reply {
                status: failed.status,
                timeout: failed.timeout,
                body: policy_body.as_deref(),
                decryption_failed: failed.decryption_failed,
            };
            let action = self.apply_policy(
                &path,
                retry,
                &reply,
                failed.connection_failed,
                node_target.is_some(),
            );
            let from_target = failed.from_target;
            last = Some(failed.into_error(path.nodes.first()));
            match action {
                RequestAction::Retry { reason, .. } => retry = Some(reason),
                RequestAction::Report { .. } if from_target => break,
                RequestAction::Report { .. } => {
                    let left = deadline.saturating_duration_since(Instant::now());
                    tokio::time::sleep(retry_delay(attempt.saturating_sub(1), left / 4)).await;
                }
            }
        }
        self.save_guards();
        Err(last.unwrap_or(NetworkError::Timeout))
    }

    /// One attempt: builds the onion, POSTs it to the guard, reads the answer.
    async fn attempt(&self, path: &OnionPath, target: &Target<'_>, timeout: Duration) -> Answer {
        let keys: Vec<NodeKeys> = path
            .nodes
            .iter()
            .map(|n| NodeKeys {
                ed25519: n.pubkey_ed25519(),
                x25519: n.pubkey_x25519(),
            })
            .collect();
        let destination = match target {
            Target::Node { node, rpc, .. } => Destination::Node {
                node: NodeKeys {
                    ed25519: node.pubkey_ed25519(),
                    x25519: node.pubkey_x25519(),
                },
                rpc,
            },
            Target::Server { server, request } => Destination::Server(ServerDestination {
                host: &server.host,
                port: Some(server.port_or_default()),
                protocol: server.protocol,
                target: sotto_onion::V4_TARGET,
                x25519: server.x25519,
                request,
            }),
        };
        let (Some(guard), Ok(onion)) = (
            path.nodes.first(),
            sotto_onion::build_with(
                &keys,
                &destination,
                EncType::XChaCha20,
                if self.inner.config.size_buckets {
                    sotto_onion::Padding::SizeBuckets
                } else {
                    sotto_onion::Padding::None
                },
                &mut OsRng,
            ),
        ) else {
            // Only a target key that is not a curve point (or, with size buckets, an RPC
            // beyond the last bucket) gets here.
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
        if matches!(target, Target::Server { .. }) {
            return match onion.response_key.open_v4(&resp.body) {
                Ok(v4) => Answer::Server(v4),
                Err(_) => Answer::Failed(Failed {
                    status: Some(200),
                    decryption_failed: true,
                    ..Failed::default()
                }),
            };
        }
        match onion.response_key.open_v3(&resp.body) {
            Ok(v3) if v3.status == 200 => Answer::Ok(v3.body),
            // The body (the swarm the node names) is never used.
            Ok(v3) if v3.status == 421 => Answer::WrongSwarm,
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
        to_node: bool,
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
            to_node,
            retry,
            swarm: if to_node {
                SwarmInfo::Cached { other_node: true }
            } else {
                SwarmInfo::None
            },
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

    /// A 421 from `target`: a hint that the node list is stale, nothing more. The signed list
    /// is fetched again (at most every [`CACHE_MIN_LIFETIME`], up to [`MAX_421_REFRESHES`]
    /// times, within the request's `deadline`) and the account's swarm recomputed from it.
    ///
    /// # Errors
    /// Always: [`NetworkError::WrongSwarm`] with the recomputed swarm once the list no longer
    /// puts `target` in it, else [`NetworkError::WrongSwarmUnconfirmed`].
    async fn wrong_swarm(
        &self,
        account: AccountId,
        target: &NodeListing,
        deadline: Instant,
    ) -> Result<String, NetworkError> {
        // Nothing on the path is to blame (the failure policy leaves a 421's path unchanged).
        let mut refreshes = 0;
        loop {
            let swarm: Vec<SwarmNode> = lock(&self.inner.state)
                .cache
                .swarm_for(account.key())
                .into_iter()
                .map(swarm_node)
                .collect();
            if !swarm.is_empty()
                && swarm
                    .iter()
                    .all(|n| n.pubkey_ed25519 != target.pubkey_ed25519())
            {
                return Err(NetworkError::WrongSwarm(swarm));
            }
            if refreshes >= MAX_421_REFRESHES {
                break;
            }
            let since = lock(&self.inner.state).refreshed.elapsed();
            let wait = CACHE_MIN_LIFETIME.saturating_sub(since);
            if Instant::now() + wait > deadline {
                break;
            }
            tokio::time::sleep(wait).await;
            refreshes += 1;
            if let Err(e) = self.refresh_cache().await {
                tracing::info!(error = %e, "node cache refresh after a 421 failed");
            }
        }
        tracing::info!(
            node = %Hop::of(target),
            refreshes,
            "a 421 the signed node list does not confirm"
        );
        Err(NetworkError::WrongSwarmUnconfirmed { refreshes })
    }
}

/// A server as a trace shows it: its X25519 key and, when its host is an IP address, its
/// address (else the unspecified address with its port).
fn server_hop(server: &OnionServer) -> Hop {
    let ip = server
        .host
        .parse()
        .unwrap_or(std::net::IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED));
    Hop {
        ed25519: hex::encode(server.x25519.0),
        addr: SocketAddr::new(ip, server.port_or_default()),
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
    let list = directory
        .fetch_nodes()
        .await
        .map_err(|source| OnionFailure::Directory {
            directory: directory.addr(),
            source,
        })?;
    let nodes: Vec<NodeListing> = list.nodes.into_iter().take(cache::MAX_NODES).collect();
    if nodes.is_empty() {
        return Err(OnionFailure::EmptyNodeList {
            directory: directory.addr(),
        }
        .into());
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
    fn set_own_account(&self, account: AccountId) {
        Self::set_own_account(self, account);
    }

    async fn server_request(
        &self,
        server: &OnionServer,
        request: &V4Request,
        timeout: Duration,
    ) -> Result<V4Response, NetworkError> {
        Self::server_request(self, server, request, timeout).await
    }

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

    async fn delete(
        &self,
        node: SwarmNode,
        request: Delete,
    ) -> Result<SwarmResponse, NetworkError> {
        let account = request.account;
        let rpc = Request::Delete(request).to_http_body();
        let body = self.send("delete", account, &node, &rpc).await?;
        Ok(SwarmResponse::parse(
            Method::Delete,
            body.as_bytes(),
            Encoding::Json,
        )?)
    }

    async fn expire(
        &self,
        node: SwarmNode,
        request: Expire,
    ) -> Result<SwarmResponse, NetworkError> {
        let account = request.account;
        let rpc = Request::Expire(request).to_http_body();
        let body = self.send("expire", account, &node, &rpc).await?;
        Ok(SwarmResponse::parse(
            Method::Expire,
            body.as_bytes(),
            Encoding::Json,
        )?)
    }

    async fn revoke_subaccount(
        &self,
        node: SwarmNode,
        request: sotto_rpc::request::SubaccountRevocation,
    ) -> Result<SwarmResponse, NetworkError> {
        let account = request.account;
        let method = request.method();
        let rpc = Request::Revocation(request).to_http_body();
        let body = self.send(method.name(), account, &node, &rpc).await?;
        Ok(SwarmResponse::parse(
            method,
            body.as_bytes(),
            Encoding::Json,
        )?)
    }

    async fn get_expiries(
        &self,
        node: SwarmNode,
        request: GetExpiries,
    ) -> Result<GetExpiriesResponse, NetworkError> {
        let account = request.account;
        let rpc = Request::GetExpiries(request).to_http_body();
        let body = self.send("get_expiries", account, &node, &rpc).await?;
        Ok(GetExpiriesResponse::parse(body.as_bytes(), Encoding::Json)?)
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
        assert_eq!(c.spread, SpreadRule::DistinctSubnet24);
        assert!(c.avoid_swarms);
        assert_eq!(c.request_timeout, Duration::from_secs(10));
    }
}
