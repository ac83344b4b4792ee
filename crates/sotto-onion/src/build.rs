//! The client side: wrap a request in one layer per hop.

use sotto_crypto::{CryptoError, CryptoRngCore, Ed25519PublicKey, X25519PublicKey};

use crate::hop::{EncType, HopKey, X25519Keypair};
use crate::peel::{OnionRequest, Protocol};
use crate::response::ResponseKey;
use crate::url::{is_target_allowed, parse_host};
use crate::{MAX_HOPS, OnionError, layer};

/// The keys of a node: its Ed25519 identity (named in routing JSON) and its X25519 onion key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct NodeKeys {
    /// Identity key.
    pub ed25519: Ed25519PublicKey,
    /// Onion (layer encryption) key.
    pub x25519: X25519PublicKey,
}

impl NodeKeys {
    /// A node known by its Ed25519 key; the onion key is its X25519 conversion.
    pub fn from_ed25519(ed25519: Ed25519PublicKey) -> Result<Self, CryptoError> {
        Ok(Self {
            x25519: ed25519.to_x25519()?,
            ed25519,
        })
    }
}

/// Where the innermost layer goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Destination<'a> {
    /// A storage RPC handled by a node (which the request reaches after the path's exit).
    Node {
        /// The node.
        node: NodeKeys,
        /// The RPC body, JSON `{"method": …, "params": …}`.
        rpc: &'a [u8],
    },
    /// A server (community or file server) reached through the exit node.
    Server(ServerDestination<'a>),
}

/// A server destination: where the exit node proxies to, and the server's key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ServerDestination<'a> {
    /// Host name or address.
    pub host: &'a str,
    /// Port; the protocol's default when `None`.
    pub port: Option<u16>,
    /// `http` or `https`.
    pub protocol: Protocol,
    /// Path on the server, normally [`crate::V4_TARGET`].
    pub target: &'a str,
    /// The server's X25519 key.
    pub x25519: X25519PublicKey,
    /// The request, normally [`crate::V4Request::encode`]d.
    pub request: &'a [u8],
}

/// A built onion request.
#[derive(Debug)]
pub struct BuiltOnion {
    /// The node to send it to (the path's first node).
    pub guard: NodeKeys,
    /// The body to `POST /onion_req/v2` to the guard.
    pub body: Vec<u8>,
    /// Reads the destination's response.
    pub response_key: ResponseKey,
    /// Each path node's layer key, guard first: they open the errors a hop seals for the
    /// client ([`crate::relay_error::open`]).
    pub hop_keys: Vec<HopKey>,
}

/// The final layer's JSON when the destination is a node.
const FINAL_NODE_JSON: &[u8] = br#"{"headers":""}"#;

/// Builds an onion request along `path` (guard first) to `destination`, every layer with
/// `enc_type` and its own ephemeral key from `rng`.
pub fn build(
    path: &[NodeKeys],
    destination: &Destination<'_>,
    enc_type: EncType,
    rng: &mut impl CryptoRngCore,
) -> Result<BuiltOnion, OnionError> {
    // The destination node, when there is one, is one more hop; the last node to receive the
    // request arrives with hop number `nodes - 1`, which may be at most MAX_HOPS.
    let max = usize::try_from(MAX_HOPS).unwrap_or(usize::MAX)
        + usize::from(matches!(destination, Destination::Server(_)));
    let guard = *path
        .first()
        .ok_or(OnionError::PathLength { nodes: 0, max })?;
    if path.len() > max {
        return Err(OnionError::PathLength {
            nodes: path.len(),
            max,
        });
    }

    let eph = X25519Keypair::generate(rng);
    let (mut blob, mut routing, response_key) = match destination {
        Destination::Node { node, rpc } => {
            let key = HopKey::for_client(enc_type, &eph, &node.x25519)?;
            let blob = key.encrypt(&layer::join(rpc, FINAL_NODE_JSON)?, rng)?;
            (blob, relay_json(&node.ed25519, &eph, enc_type), key)
        }
        Destination::Server(server) => {
            if !is_target_allowed(server.target) {
                return Err(OnionError::BadServerTarget(server.target.to_owned()));
            }
            if parse_host(server.host).is_err() || server.port == Some(0) {
                return Err(OnionError::BadServerHost(server.host.to_owned()));
            }
            let key = HopKey::for_client(enc_type, &eph, &server.x25519)?;
            let blob = key.encrypt(server.request, rng)?;
            (blob, server_json(server, &eph, enc_type), key)
        }
    };
    let mut outer_key = *eph.public_key();
    let mut hop_keys = Vec::with_capacity(path.len());
    for (i, node) in path.iter().enumerate().rev() {
        let eph = X25519Keypair::generate(rng);
        let key = HopKey::for_client(enc_type, &eph, &node.x25519)?;
        blob = key.encrypt(&layer::join(&blob, routing.as_bytes())?, rng)?;
        hop_keys.push(key);
        outer_key = *eph.public_key();
        if i > 0 {
            routing = relay_json(&node.ed25519, &eph, enc_type);
        }
    }
    let body = OnionRequest {
        blob: blob.into(),
        ephemeral_key: outer_key,
        enc_type,
        hop_no: 0,
    }
    .to_client_body()?;
    hop_keys.reverse();
    Ok(BuiltOnion {
        guard,
        body,
        response_key: ResponseKey::new(response_key),
        hop_keys,
    })
}

fn relay_json(next: &Ed25519PublicKey, eph: &X25519Keypair, enc_type: EncType) -> String {
    format!(
        r#"{{"destination":"{}","ephemeral_key":"{}","enc_type":"{enc_type}"}}"#,
        hex::encode(next.0),
        hex::encode(eph.public_key().0),
    )
}

fn server_json(server: &ServerDestination<'_>, eph: &X25519Keypair, enc_type: EncType) -> String {
    format!(
        r#"{{"host":{},"target":{},"method":"POST","protocol":"{}","port":{},"ephemeral_key":"{}","enc_type":"{enc_type}"}}"#,
        serde_json::Value::from(server.host),
        serde_json::Value::from(server.target),
        server.protocol,
        server.port.unwrap_or(server.protocol.default_port()),
        hex::encode(eph.public_key().0),
    )
}
