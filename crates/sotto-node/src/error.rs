//! The node's errors and the one place that maps them to HTTP status codes and bodies.

use sotto_rpc::{ParseError, RpcError};
use sotto_store::StoreError;
use sotto_transport::Response;
use thiserror::Error;

use crate::peer_auth::PeerAuthError;

/// Why a request to the node failed.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum NodeError {
    /// A storage RPC error: its status and message are the storage server's.
    #[error(transparent)]
    Rpc(#[from] RpcError),
    /// 421: the account belongs to another swarm; the body is that swarm (`get_swarm` JSON).
    #[error("wrong swarm")]
    WrongSwarm(Vec<u8>),
    /// 503: no node list yet, or this node is in no swarm.
    #[error("Service node is not ready: {0}")]
    NotReady(&'static str),
    /// The message store failed.
    #[error("storage failure: {0}")]
    Store(#[from] StoreError),
    /// 500: the store thread is gone (it could not start, or stopped).
    #[error("the store thread is not running")]
    StorageStopped,
    /// A node-to-node request's signed headers are refused.
    #[error(transparent)]
    PeerAuth(#[from] PeerAuthError),
    /// A node-to-node request body that does not parse.
    #[error("invalid node request: {0}")]
    PeerBody(&'static str),
    /// 403: a node-to-node request only a member of this node's swarm may make.
    #[error("sender is not in this node's swarm")]
    NotSwarmPeer,
    /// 403: a forwarded request for an account this node's swarm does not own.
    #[error("account is not owned by this node's swarm")]
    NotOwned,
    /// 403: a catch-up request for a range the sender is not entitled to (the whole space,
    /// or a range outside the sender's own swarm or this node's).
    #[error("range refused: {0}")]
    RangeRefused(&'static str),
    /// 429.
    #[error("Too Many Requests")]
    RateLimited,
    /// 400: a request lists more message hashes than one request may.
    #[error(
        "Too many message hashes: {listed} listed, at most {max} per request",
        max = crate::rpc::MAX_HASHES_PER_REQUEST
    )]
    TooManyHashes {
        /// How many the request listed.
        listed: usize,
    },
    /// 404: no such endpoint.
    #[error("Not Found")]
    NotFound,
    /// 405: wrong HTTP method for the endpoint.
    #[error("Method Not Allowed")]
    MethodNotAllowed,
}

impl NodeError {
    /// The HTTP status.
    #[must_use]
    pub fn status(&self) -> u16 {
        match self {
            Self::Rpc(e) => e.status(),
            Self::WrongSwarm(_) => 421,
            Self::NotReady(_) => 503,
            Self::Store(StoreError::QuotaExceeded) => 507,
            Self::Store(_) | Self::StorageStopped => 500,
            Self::PeerAuth(e) => match e {
                PeerAuthError::Missing(_)
                | PeerAuthError::Duplicate(_)
                | PeerAuthError::Malformed(_) => 400,
                PeerAuthError::BadSignature => 401,
                PeerAuthError::UnknownNode | PeerAuthError::WrongAddress => 403,
                PeerAuthError::Stale => 406,
            },
            Self::PeerBody(_) => 400,
            Self::NotSwarmPeer | Self::NotOwned | Self::RangeRefused(_) => 403,
            Self::RateLimited => 429,
            Self::TooManyHashes { .. } => 400,
            Self::NotFound => 404,
            Self::MethodNotAllowed => 405,
        }
    }

    /// The text the client sees. Store failures do not reveal their details.
    #[must_use]
    pub fn message(&self) -> String {
        match self {
            Self::Store(e @ StoreError::QuotaExceeded) => e.to_string(),
            Self::Store(_) | Self::StorageStopped => RpcError::Internal.message(),
            other => other.to_string(),
        }
    }

    /// The status and the text a peer sees (as in [`Self::to_response`]; the 421 body is
    /// JSON text).
    #[must_use]
    pub fn status_and_message(&self) -> (u16, String) {
        match self {
            Self::WrongSwarm(body) => (421, String::from_utf8_lossy(body).into_owned()),
            other => (other.status(), other.message()),
        }
    }

    /// The HTTP response: [`Self::message`] as plain text, except the 421 swarm body (JSON).
    #[must_use]
    pub fn to_response(&self) -> Response {
        match self {
            Self::WrongSwarm(body) => Response::bytes(421, "application/json", body.clone()),
            other => Response::text(other.status(), other.message()),
        }
    }

    /// A malformed-pubkey error (an account prefix the store cannot key).
    #[must_use]
    pub fn bad_pubkey() -> Self {
        Self::Rpc(RpcError::Malformed(ParseError::Pubkey))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses() {
        assert_eq!(NodeError::from(RpcError::InvalidTtl).status(), 403);
        assert_eq!(
            NodeError::WrongSwarm(b"{}".to_vec()).to_response().status,
            421
        );
        assert_eq!(NodeError::NotReady("x").to_response().status, 503);
        assert_eq!(NodeError::from(StoreError::Full).to_response().status, 500);
        assert_eq!(
            NodeError::from(StoreError::Full)
                .to_response()
                .body
                .as_ref(),
            b"request failed"
        );
        assert_eq!(NodeError::from(PeerAuthError::Stale).status(), 406);
        assert_eq!(NodeError::from(PeerAuthError::UnknownNode).status(), 403);
        assert_eq!(NodeError::RateLimited.to_response().status, 429);
        assert_eq!(NodeError::bad_pubkey().status(), 400);
    }
}
