//! The node: its keys, store, view of the network and rate limiter, and the HTTP router.

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use sotto_crypto::{Ed25519PublicKey, Ed25519SecretKey};
use sotto_onion::X25519Keypair;
use sotto_store::{Store, StoreError};
use sotto_swarm::{NodeListing, SwarmRange};
use sotto_transport::{HttpsClient, Request, RequestHead, Response, ServerLimits, TransportError};

use crate::error::NodeError;
use crate::peer_auth::{self, PeerAuthError, PeerHeaders};
use crate::ratelimit::RateLimiter;
use crate::replicate::Replicator;
use crate::storage::StoreThread;
use crate::view::NetworkView;

/// The storage-server version this node announces (its protocol level; Sotto's own version is
/// the crate version).
pub const PROTOCOL_VERSION: [u16; 3] = [2, 8, 0];
/// The network version (`hf`) in responses.
pub const HARDFORK: [u16; 2] = [19, 4];
/// Largest request body read (spec §2.1: 10 MiB): the cap of the onion routes.
pub const MAX_BODY_BYTES: usize = 10 << 20;
/// Room for one store's fields besides its data in a JSON batch (keys, account, signature,
/// subaccount and its signature, timestamps, namespace), with a wide margin.
const STORE_FIELDS_JSON: usize = 12 * 1024;
/// Largest `/storage_rpc/v1` body: a batch of [`sotto_rpc::request::MAX_BATCH`] stores, each
/// with [`sotto_rpc::request::MAX_DATA_LEN`] bytes of data in base64, and their fields: about
/// 2.2 MiB.
pub const MAX_STORAGE_RPC_BODY: usize = sotto_rpc::request::MAX_BATCH
    * (sotto_rpc::request::MAX_DATA_LEN / 3 * 4 + STORE_FIELDS_JSON)
    + 4096;
/// Largest `/sn/storage_cc`, `/sn/storage_batch`, `/sn/sync` and `/sn/deleted` body: one
/// forwarded request (a store's data and fields in bencode, or a list of hashes), a batch of
/// them, a sync query, or a query of [`crate::wire::MAX_DELETED_QUERY`] hashes.
pub const MAX_PEER_BODY: usize = 512 * 1024;
/// Largest body of any other route (`/ping_test/v1`, `/get_stats/v1`, unknown paths).
pub const MAX_OTHER_BODY: usize = 64 * 1024;
/// Body bytes that cost one more rate-limit token on `/storage_rpc/v1` (besides one token per
/// subrequest).
pub const BYTES_PER_TOKEN: usize = 4096;

/// The server limits of a node: body caps per route, connection caps and the shell's default
/// deadlines.
#[must_use]
pub fn server_limits(max_connections: usize, max_connections_per_ip: usize) -> ServerLimits {
    let mut limits = ServerLimits::new(MAX_OTHER_BODY)
        .with_route_body("/storage_rpc/v1", MAX_STORAGE_RPC_BODY)
        .with_route_body("/onion_req/v2", MAX_BODY_BYTES)
        .with_route_body("/sn/onion", MAX_BODY_BYTES)
        .with_route_body("/sn/storage_cc", MAX_PEER_BODY)
        .with_route_body("/sn/storage_batch", MAX_PEER_BODY)
        .with_route_body("/sn/sync", MAX_PEER_BODY)
        .with_route_body("/sn/deleted", MAX_PEER_BODY);
    limits.max_connections = max_connections;
    limits.max_connections_per_ip = max_connections_per_ip;
    limits
}

/// The rate-limit tokens a `/storage_rpc/v1` request declaring a `content_length`-byte body
/// costs before its body is read: one, and one per [`BYTES_PER_TOKEN`] bytes, at most a full
/// bucket. The rest of [`request_cost`] is charged once the body is parsed.
#[must_use]
pub fn admission_cost(content_length: Option<u64>) -> u32 {
    let bytes = content_length.unwrap_or(0) / BYTES_PER_TOKEN as u64;
    u32::try_from(bytes.saturating_add(1))
        .unwrap_or(u32::MAX)
        .min(crate::ratelimit::BUCKET_SIZE)
}

/// The rate-limit tokens a parsed `/storage_rpc/v1` request of `body_len` bytes costs: one per
/// subrequest and one per [`BYTES_PER_TOKEN`] bytes of body, at most a full bucket.
#[must_use]
pub fn request_cost(request: &sotto_rpc::Request, body_len: usize) -> u32 {
    let subrequests = match request {
        sotto_rpc::Request::Batch(b) => b.requests.len(),
        sotto_rpc::Request::Sequence(b) => b.requests.len(),
        _ => 1,
    }
    .max(1);
    let tokens = subrequests.saturating_add(body_len / BYTES_PER_TOKEN);
    u32::try_from(tokens)
        .unwrap_or(u32::MAX)
        .min(crate::ratelimit::BUCKET_SIZE)
}

/// The current time, ms since the Unix epoch.
#[must_use]
pub fn unix_now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// A key shortened for logs: its first 8 hex digits.
#[must_use]
pub fn short(key: &Ed25519PublicKey) -> String {
    hex::encode(key.0.get(..4).unwrap_or_default())
}

/// A running node's state. Handlers take the time as a parameter; only the node-to-node
/// client reads the clock itself (to sign its requests).
pub struct Node {
    key: Ed25519SecretKey,
    pubkey: Ed25519PublicKey,
    pub(crate) onion_key: X25519Keypair,
    store: StoreThread,
    pub(crate) replicator: Replicator,
    view: RwLock<Arc<NetworkView>>,
    previous_range: RwLock<Option<SwarmRange>>,
    limiter: Mutex<RateLimiter>,
    pub(crate) client: HttpsClient,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Node {
    /// A node with identity `key` over `store`, talking to other processes with `client`
    /// (bound to the node's own address so peers see which node called). The store moves to
    /// a thread of its own ([`StoreThread`]); this fails only if that thread cannot start.
    pub fn new(key: Ed25519SecretKey, store: Store, client: HttpsClient) -> std::io::Result<Self> {
        let pubkey = key.public_key();
        Ok(Self {
            onion_key: X25519Keypair::from_ed25519(&key),
            pubkey,
            view: RwLock::new(Arc::new(NetworkView::empty(pubkey))),
            previous_range: RwLock::new(None),
            key,
            store: StoreThread::start(store)?,
            replicator: Replicator::default(),
            limiter: Mutex::new(RateLimiter::new()),
            client,
        })
    }

    /// The node's Ed25519 key.
    #[must_use]
    pub fn pubkey(&self) -> Ed25519PublicKey {
        self.pubkey
    }

    pub(crate) fn secret(&self) -> &Ed25519SecretKey {
        &self.key
    }

    /// The current view of the network.
    #[must_use]
    pub fn view(&self) -> Arc<NetworkView> {
        self.view
            .read()
            .map_or_else(|p| p.into_inner().clone(), |v| v.clone())
    }

    /// Installs a new view; returns the previous one.
    pub fn set_view(&self, view: NetworkView) -> Arc<NetworkView> {
        let new = Arc::new(view);
        let mut guard = self
            .view
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let (held, now) = (guard.my_range(), new.my_range());
        if held.is_some() && held != now {
            *self
                .previous_range
                .write()
                .unwrap_or_else(std::sync::PoisonError::into_inner) = held;
        }
        std::mem::replace(&mut *guard, new)
    }

    /// Runs `f` on the store thread (group-committed with the other writes queued with it)
    /// and returns its result once committed.
    pub async fn with_store<T, F>(&self, f: F) -> Result<T, NodeError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Store) -> Result<T, StoreError> + Send + 'static,
    {
        self.store.run(f).await
    }

    /// Takes a client token for `ip`.
    pub(crate) fn allow_client(&self, ip: IpAddr, now_ms: u64) -> Result<(), NodeError> {
        if lock(&self.limiter).allow_client(ip, now_ms.saturating_mul(1000)) {
            Ok(())
        } else {
            Err(NodeError::RateLimited)
        }
    }

    /// Takes `tokens` client tokens for `ip` (all or none).
    pub(crate) fn charge_client(
        &self,
        ip: IpAddr,
        tokens: u32,
        now_ms: u64,
    ) -> Result<(), NodeError> {
        if tokens == 0
            || lock(&self.limiter).allow_client_cost(ip, tokens, now_ms.saturating_mul(1000))
        {
            Ok(())
        } else {
            Err(NodeError::RateLimited)
        }
    }

    /// Admission before a request's body is read: a client route takes its first rate-limit
    /// token here (and on `/storage_rpc/v1` the tokens for its declared length, see
    /// [`admission_cost`]), so that a flooding address is refused without reading its bodies. Requests
    /// admitted here are answered by [`Node::handle_admitted`].
    pub fn admit(&self, head: &RequestHead<'_>, now_ms: u64) -> Result<(), Response> {
        let tokens = match (head.method, head.path) {
            ("POST", "/storage_rpc/v1") => admission_cost(head.content_length),
            ("POST", "/onion_req/v2") => 1,
            _ => return Ok(()),
        };
        self.charge_client(head.peer.ip(), tokens, now_ms)
            .map_err(|e| e.to_response())
    }

    /// Takes a node token for `node`.
    pub(crate) fn allow_node(&self, node: Ed25519PublicKey, now_ms: u64) -> Result<(), NodeError> {
        if lock(&self.limiter).allow_node(node, now_ms.saturating_mul(1000)) {
            Ok(())
        } else {
            Err(NodeError::RateLimited)
        }
    }

    /// Checks a node-to-node request; returns the sender's listing. The cheap checks come
    /// first: the named sender must be in the current list and the connection must come from
    /// its listed address, and it takes a token from the sender's bucket; only then are the
    /// clock and the signature over the body checked.
    pub(crate) fn authenticate_peer(
        &self,
        req: &Request,
        now_ms: u64,
    ) -> Result<NodeListing, NodeError> {
        let headers = PeerHeaders::parse(&req.headers)?;
        let listing = self
            .view()
            .node(&headers.node)
            .cloned()
            .ok_or(NodeError::PeerAuth(PeerAuthError::UnknownNode))?;
        if req.peer.ip().to_canonical() != IpAddr::V4(listing.public_ip()) {
            return Err(PeerAuthError::WrongAddress.into());
        }
        self.allow_node(headers.node, now_ms)?;
        headers.verify(&self.pubkey, path_only(&req.path), &req.body, now_ms)?;
        Ok(listing)
    }

    /// The swarm-space range this node's swarm owned before the current list, if that list
    /// changed it (a node that handed part of its range to a new swarm serves it to that
    /// swarm's catch-up).
    pub(crate) fn previous_range(&self) -> Option<SwarmRange> {
        *self
            .previous_range
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// POSTs a signed node-to-node request to `peer`.
    pub(crate) async fn post_to_node(
        &self,
        peer: &NodeListing,
        path: &str,
        body: Vec<u8>,
        timeout: Duration,
    ) -> Result<Response, TransportError> {
        let signed = peer_auth::sign(
            &self.key,
            &peer.pubkey_ed25519(),
            path,
            unix_now_ms(),
            &body,
        );
        let mut headers: Vec<(&str, &str)> = signed
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        headers.push(("content-type", "application/octet-stream"));
        self.client
            .post(
                SocketAddr::V4(peer.https_addr()),
                &peer.pubkey_ed25519(),
                path,
                &headers,
                body,
                timeout,
            )
            .await
    }

    /// Answers one HTTP request at time `now_ms`, taking its rate-limit tokens.
    pub async fn handle(self: &Arc<Self>, req: Request, now_ms: u64) -> Response {
        self.dispatch(req, now_ms, false).await
    }

    /// Answers one HTTP request that [`Node::admit`] let in (its first token is taken).
    pub async fn handle_admitted(self: &Arc<Self>, req: Request, now_ms: u64) -> Response {
        self.dispatch(req, now_ms, true).await
    }

    async fn dispatch(self: &Arc<Self>, req: Request, now_ms: u64, admitted: bool) -> Response {
        let result = match (req.method.as_str(), path_only(&req.path)) {
            ("POST", "/storage_rpc/v1") => self.storage_rpc_http(&req, now_ms, admitted).await,
            ("POST", "/onion_req/v2") => self.onion_http(&req, now_ms, admitted).await,
            ("POST", "/sn/onion") => self.onion_from_node(&req, now_ms).await,
            ("POST", "/sn/storage_cc") => self.storage_cc(&req, now_ms).await,
            ("POST", "/sn/storage_batch") => self.storage_batch(&req, now_ms).await,
            ("POST", "/sn/sync") => self.serve_sync(&req, now_ms).await,
            ("POST", "/sn/deleted") => self.serve_deleted(&req, now_ms).await,
            ("POST", "/sn/revocations") => self.serve_revocations(&req, now_ms).await,
            ("GET" | "POST", "/ping_test/v1") => Ok(self.ping()),
            ("GET", "/get_stats/v1") => Ok(Response::json(
                200,
                &serde_json::json!({ "version": version_string() }),
            )),
            (
                _,
                "/storage_rpc/v1" | "/onion_req/v2" | "/sn/onion" | "/sn/storage_cc"
                | "/sn/storage_batch" | "/sn/sync" | "/sn/deleted" | "/sn/revocations"
                | "/ping_test/v1" | "/get_stats/v1",
            ) => Err(NodeError::MethodNotAllowed),
            _ => Err(NodeError::NotFound),
        };
        result.unwrap_or_else(|e| {
            tracing::debug!(
                path = %loggable(path_only(&req.path)),
                status = e.status(),
                error = %loggable(&e.to_string()),
                "request refused"
            );
            e.to_response()
        })
    }

    fn ping(&self) -> Response {
        let mut resp = Response::text(200, "");
        resp.headers.push((
            "x-oxen-snode-pubkey".into(),
            base64::engine::general_purpose::STANDARD.encode(self.pubkey.0),
        ));
        resp
    }
}

/// `a.b.c` of [`PROTOCOL_VERSION`].
#[must_use]
pub fn version_string() -> String {
    let [a, b, c] = PROTOCOL_VERSION;
    format!("{a}.{b}.{c}")
}

/// The path without its query.
pub(crate) fn path_only(path: &str) -> &str {
    path.split_once('?').map_or(path, |(p, _)| p)
}

/// The most characters of an untrusted string that [`loggable`] keeps.
const MAX_LOGGED_LEN: usize = 160;

/// A string that may carry a client's bytes (a path, an error naming a field or method),
/// made safe to log: at most [`MAX_LOGGED_LEN`] characters, control and non-ASCII
/// characters escaped, so one request cannot write fake lines or flood the log.
pub(crate) fn loggable(text: &str) -> String {
    sotto_rpc::escaped_prefix(text, MAX_LOGGED_LEN)
}
