//! The node: its keys, store, view of the network and rate limiter, and the HTTP router.

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use sotto_crypto::{Ed25519PublicKey, Ed25519SecretKey};
use sotto_onion::X25519Keypair;
use sotto_store::{Store, StoreError};
use sotto_swarm::NodeListing;
use sotto_transport::{HttpsClient, Request, Response, TransportError};

use crate::error::NodeError;
use crate::peer_auth::{self, PeerAuthError, PeerHeaders};
use crate::ratelimit::RateLimiter;
use crate::view::NetworkView;

/// The storage-server version this node announces (its protocol level; Sotto's own version is
/// the crate version).
pub const PROTOCOL_VERSION: [u16; 3] = [2, 8, 0];
/// The network version (`hf`) in responses.
pub const HARDFORK: [u16; 2] = [19, 4];
/// Largest request body read (spec §2.1: 10 MiB).
pub const MAX_BODY_BYTES: usize = 10 << 20;

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
    store: Mutex<Store>,
    view: RwLock<Arc<NetworkView>>,
    limiter: Mutex<RateLimiter>,
    pub(crate) client: HttpsClient,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Node {
    /// A node with identity `key` over `store`, talking to other processes with `client`
    /// (bound to the node's own address so peers see which node called).
    #[must_use]
    pub fn new(key: Ed25519SecretKey, store: Store, client: HttpsClient) -> Self {
        let pubkey = key.public_key();
        Self {
            onion_key: X25519Keypair::from_ed25519(&key),
            pubkey,
            view: RwLock::new(Arc::new(NetworkView::empty(pubkey))),
            key,
            store: Mutex::new(store),
            limiter: Mutex::new(RateLimiter::new()),
            client,
        }
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
        std::mem::replace(&mut *guard, new)
    }

    /// Runs `f` on the store (never across an await).
    pub fn with_store<T>(
        &self,
        f: impl FnOnce(&mut Store) -> Result<T, StoreError>,
    ) -> Result<T, NodeError> {
        Ok(f(&mut lock(&self.store))?)
    }

    /// Takes a client token for `ip`.
    pub(crate) fn allow_client(&self, ip: IpAddr, now_ms: u64) -> Result<(), NodeError> {
        if lock(&self.limiter).allow_client(ip, now_ms.saturating_mul(1000)) {
            Ok(())
        } else {
            Err(NodeError::RateLimited)
        }
    }

    /// Takes a node token for `node`.
    pub(crate) fn allow_node(&self, node: Ed25519PublicKey, now_ms: u64) -> Result<(), NodeError> {
        if lock(&self.limiter).allow_node(node, now_ms.saturating_mul(1000)) {
            Ok(())
        } else {
            Err(NodeError::RateLimited)
        }
    }

    /// Checks a node-to-node request's signed headers; returns the sender's listing.
    pub(crate) fn authenticate_peer(
        &self,
        req: &Request,
        now_ms: u64,
    ) -> Result<NodeListing, NodeError> {
        let headers = PeerHeaders::parse(&req.headers)?;
        headers.verify(path_only(&req.path), &req.body, now_ms)?;
        self.view()
            .node(&headers.node)
            .cloned()
            .ok_or(NodeError::PeerAuth(PeerAuthError::UnknownNode))
    }

    /// POSTs a signed node-to-node request to `peer`.
    pub(crate) async fn post_to_node(
        &self,
        peer: &NodeListing,
        path: &str,
        body: Vec<u8>,
        timeout: Duration,
    ) -> Result<Response, TransportError> {
        let signed = peer_auth::sign(&self.key, path, unix_now_ms(), &body);
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

    /// Answers one HTTP request at time `now_ms`.
    pub async fn handle(self: &Arc<Self>, req: Request, now_ms: u64) -> Response {
        let result = match (req.method.as_str(), path_only(&req.path)) {
            ("POST", "/storage_rpc/v1") => self.storage_rpc_http(&req, now_ms).await,
            ("POST", "/onion_req/v2") => self.onion_http(&req, now_ms).await,
            ("POST", "/sn/onion") => self.onion_from_node(&req, now_ms).await,
            ("POST", "/sn/storage_cc") => self.storage_cc(&req, now_ms),
            ("POST", "/sn/sync") => self.serve_sync(&req, now_ms),
            ("POST", "/sn/deleted") => self.serve_deleted(&req, now_ms),
            ("GET" | "POST", "/ping_test/v1") => Ok(self.ping()),
            ("GET", "/get_stats/v1") => Ok(Response::json(
                200,
                &serde_json::json!({ "version": version_string() }),
            )),
            (
                _,
                "/storage_rpc/v1" | "/onion_req/v2" | "/sn/onion" | "/sn/storage_cc" | "/sn/sync"
                | "/sn/deleted" | "/ping_test/v1" | "/get_stats/v1",
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
    let mut out: String = text
        .chars()
        .take(MAX_LOGGED_LEN)
        .flat_map(char::escape_default)
        .collect();
    if text.chars().nth(MAX_LOGGED_LEN).is_some() {
        out.push('…');
    }
    out
}
