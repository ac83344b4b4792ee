//! [`OnionNetwork`]: each request's attempts over the paths. The upkeep of the node cache,
//! guards and paths is in `upkeep`; what a failed attempt does to them is in `failure`.

use std::collections::{HashMap, HashSet, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use sotto_crypto::{Ed25519PublicKey, OsRng};
use sotto_nodelist::{DirectoryClient, now_ms};
use sotto_onion::path::{NODE_FAILURE_THRESHOLD, Reply, RequestAction, RetryReason, retry_delay};
use sotto_onion::{Destination, EncType, NodeKeys, ServerDestination, V4Request, V4Response};
use sotto_rpc::request::{Delete, Expire, GetExpiries, Retrieve, Store};
use sotto_rpc::response::{GetExpiriesResponse, RetrieveResponse, SwarmNode, SwarmResponse};
use sotto_rpc::{AccountId, Encoding, Method, Request};
use sotto_swarm::NodeListing;
use sotto_transport::HttpsClient;

use super::cache::NodeCache;
use super::file::NetworkFile;
use super::guards::Guards;
use super::server::OnionServer;
use super::{Hop, MAX_ATTEMPTS, MAX_TRACES, OnionConfig, Trace};
use crate::error::{NetworkError, OnionFailure};
use crate::network::Network;

mod failure;
mod upkeep;

use failure::{Failed, as_not_found, hop_error, names_node};
use upkeep::{cache_needs_refresh, fetch};

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

    /// How many nodes the node cache holds.
    #[must_use]
    pub fn cached_nodes(&self) -> usize {
        lock(&self.inner.state).cache.nodes.len()
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
    fn default_config_matches_the_spec() {
        let c = OnionConfig::default();
        assert_eq!((c.guards, c.paths, c.hops), (2, 2, 3));
        assert_eq!(c.spread, SpreadRule::DistinctSubnet24);
        assert!(c.avoid_swarms);
        assert_eq!(c.request_timeout, Duration::from_secs(10));
    }
}
