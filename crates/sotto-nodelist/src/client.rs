//! [`DirectoryClient`]: what nodes and clients use to talk to the directory over HTTPS, with
//! the directory's Ed25519 key pinned.

use std::net::SocketAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sotto_crypto::{Ed25519PublicKey, Ed25519SecretKey};
use sotto_swarm::NodeListing;
use sotto_transport::{HttpsClient, Response, TransportError};
use thiserror::Error;

use crate::announce::{Ack, AnnounceError, Proof, Registration};
use crate::list::{ListError, NodeList, verify_node_list};

/// How long one exchange with the directory may take, unless set otherwise.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

/// The `get_service_nodes` request [`DirectoryClient::fetch_nodes`] sends: every active node
/// with the fields the list hash covers.
pub const FETCH_REQUEST: &str = r#"{"jsonrpc":"2.0","id":0,"method":"get_service_nodes","params":{"active_only":true,"fields":["pubkey_ed25519","pubkey_x25519","public_ip","storage_port","storage_lmq_port","swarm_id","active","storage_server_version"]}}"#;

/// Why a call to the directory failed.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The registration could not be built: the listing's key is not `node_key`'s, or its
    /// address or port is unusable (API misuse).
    #[error("cannot build the registration: {0}")]
    Registration(#[from] AnnounceError),
    /// The listing given to [`DirectoryClient::register`] is another node's.
    #[error("the listing's pubkey_ed25519 is not node_key's public key")]
    KeyMismatch,
    /// Connecting, TLS (including a directory that does not hold the pinned key), timeout.
    #[error("directory: {0}")]
    Transport(#[from] TransportError),
    /// The directory refused the request. `status` is 400 malformed, 401 bad signature, 403 not
    /// admitted (allowlist) or over a per-address or per-/24 cap, 404 not registered (register,
    /// then send proofs), 406 clock skew, 409 replayed timestamp, 422 the announced address did
    /// not answer with the node's key, 429 rate-limited, 503 list full or busy.
    #[error("directory refused the request ({status}): {message}")]
    Refused {
        /// The HTTP status.
        status: u16,
        /// The directory's explanation.
        message: String,
    },
    /// An answer to a registration or proof that is not the expected JSON.
    #[error("directory: unreadable answer: {0}")]
    Answer(#[source] serde_json::Error),
    /// The node list did not verify.
    #[error(transparent)]
    List(#[from] ListError),
}

impl ClientError {
    /// Whether the directory does not know the node: it should register again.
    #[must_use]
    pub fn is_not_registered(&self) -> bool {
        matches!(self, Self::Refused { status: 404, .. })
    }
}

/// A client of one directory, whose address and Ed25519 key come from configuration (a node's
/// `directory`/`directory_pubkey`, a client's network file). Cheap to clone.
#[derive(Clone, Debug)]
pub struct DirectoryClient {
    addr: SocketAddr,
    pubkey: Ed25519PublicKey,
    http: HttpsClient,
    timeout: Duration,
}

impl DirectoryClient {
    /// A client of the directory at `addr` holding `directory_pubkey`, with its own connection
    /// pool and [`DEFAULT_TIMEOUT`].
    #[must_use]
    pub fn new(addr: SocketAddr, directory_pubkey: Ed25519PublicKey) -> Self {
        Self {
            addr,
            pubkey: directory_pubkey,
            http: HttpsClient::new(),
            timeout: DEFAULT_TIMEOUT,
        }
    }

    /// The same client using `http` (to share a pool or bind a source address).
    #[must_use]
    pub fn with_http(mut self, http: HttpsClient) -> Self {
        self.http = http;
        self
    }

    /// The same client with another per-request timeout.
    #[must_use]
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The directory's address.
    #[must_use]
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The directory's pinned key.
    #[must_use]
    pub fn pubkey(&self) -> Ed25519PublicKey {
        self.pubkey
    }

    /// Registers the node `node_key` with the address, port and version of `listing` (its swarm
    /// is ignored: the directory assigns swarms). Call it at start and whenever a proof gets
    /// [`ClientError::is_not_registered`].
    pub async fn register(
        &self,
        node_key: &Ed25519SecretKey,
        listing: &NodeListing,
    ) -> Result<Ack, ClientError> {
        if listing.pubkey_ed25519() != node_key.public_key() {
            return Err(ClientError::KeyMismatch);
        }
        let reg = Registration::sign(
            node_key,
            listing.public_ip(),
            listing.storage_port(),
            listing.version(),
            now_ms(),
        )?;
        self.announce("/register", reg.to_json()).await
    }

    /// Sends an uptime proof for `node_key`.
    pub async fn proof(&self, node_key: &Ed25519SecretKey) -> Result<Ack, ClientError> {
        self.announce("/proof", Proof::sign(node_key, now_ms()).to_json())
            .await
    }

    /// Fetches the node list and verifies it: the directory's signature and the block hash
    /// recomputed from the nodes. Returns every active node.
    pub async fn fetch_nodes(&self) -> Result<NodeList, ClientError> {
        let resp = self.post("/json_rpc", FETCH_REQUEST.into()).await?;
        Ok(verify_node_list(&resp.body, &self.pubkey)?)
    }

    async fn announce(&self, path: &str, body: String) -> Result<Ack, ClientError> {
        let resp = self.post(path, body).await?;
        serde_json::from_slice(&resp.body).map_err(ClientError::Answer)
    }

    /// POSTs JSON and returns a 200 answer; any other status is [`ClientError::Refused`].
    async fn post(&self, path: &str, body: String) -> Result<Response, ClientError> {
        let resp = self
            .http
            .post(
                self.addr,
                &self.pubkey,
                path,
                &[("content-type", "application/json")],
                body.into_bytes(),
                self.timeout,
            )
            .await?;
        if resp.status != 200 {
            let message: String = String::from_utf8_lossy(&resp.body)
                .chars()
                .take(512)
                .collect();
            return Err(ClientError::Refused {
                status: resp.status,
                message,
            });
        }
        Ok(resp)
    }
}

/// The system clock in Unix milliseconds.
#[must_use]
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}
