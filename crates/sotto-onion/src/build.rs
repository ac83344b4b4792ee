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

/// Whether [`build_with`] pads a request to a size bucket (Sotto's extension; see the crate
/// documentation).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Padding {
    /// No padding: the bytes of [`build`] (the default).
    #[default]
    None,
    /// Pad so that the guard's body is exactly one of [`SIZE_BUCKETS`] and every later hop
    /// receives that bucket less a constant that depends only on its position.
    SizeBuckets,
}

/// The sizes a padded guard body takes: powers of two from 1 KiB to 8 MiB, then 10 MiB (the
/// largest body a node accepts).
pub const SIZE_BUCKETS: [usize; 15] = [
    1 << 10,
    1 << 11,
    1 << 12,
    1 << 13,
    1 << 14,
    1 << 15,
    1 << 16,
    1 << 17,
    1 << 18,
    1 << 19,
    1 << 20,
    1 << 21,
    1 << 22,
    1 << 23,
    10 << 20,
];

/// The JSON key that carries the padding; nodes ignore keys they do not know.
const PAD_KEY: &str = "sotto_pad";

/// The smallest bucket of [`SIZE_BUCKETS`] that holds `len` bytes, if any.
#[must_use]
pub fn size_bucket(len: usize) -> Option<usize> {
    SIZE_BUCKETS.iter().copied().find(|&b| b >= len)
}

/// Builds an onion request along `path` (guard first) to `destination`, every layer with
/// `enc_type` and its own ephemeral key from `rng`. Unpadded: [`build_with`] with
/// [`Padding::None`].
pub fn build(
    path: &[NodeKeys],
    destination: &Destination<'_>,
    enc_type: EncType,
    rng: &mut impl CryptoRngCore,
) -> Result<BuiltOnion, OnionError> {
    build_with(path, destination, enc_type, Padding::None, rng)
}

/// [`build`], with `padding`. With [`Padding::SizeBuckets`] the padding is a `"sotto_pad"`
/// string of `0`s in the deepest layer JSON that only Sotto/Session nodes read: the
/// destination node's final JSON, or for a server the exit's routing JSON in the layer before
/// it (the first hop's request JSON on a one-node path). A request whose padded size would
/// exceed the last bucket is refused ([`OnionError::TooLarge`]).
pub fn build_with(
    path: &[NodeKeys],
    destination: &Destination<'_>,
    enc_type: EncType,
    padding: Padding,
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

    if let Destination::Server(server) = destination {
        if !is_target_allowed(server.target) {
            return Err(OnionError::BadServerTarget(server.target.to_owned()));
        }
        if parse_host(server.host).is_err() || server.port == Some(0) {
            return Err(OnionError::BadServerHost(server.host.to_owned()));
        }
    }
    let pad = match padding {
        Padding::None => None,
        Padding::SizeBuckets => Some(pad_len(path.len(), destination, enc_type)?),
    };
    // Which JSON carries the padding.
    let server_pad_at = match (destination, path.len()) {
        (Destination::Node { .. }, _) => None,
        (Destination::Server(_), 1) => Some(0),
        (Destination::Server(_), n) => Some(n.saturating_sub(1)),
    };

    let eph = X25519Keypair::generate(rng);
    let (mut blob, mut routing, response_key) = match destination {
        Destination::Node { node, rpc } => {
            let key = HopKey::for_client(enc_type, &eph, &node.x25519)?;
            let mut json = FINAL_NODE_JSON.to_vec();
            add_pad(&mut json, pad);
            let blob = key.encrypt(&layer::join(rpc, &json)?, rng)?;
            (
                blob,
                relay_json(&node.ed25519, eph.public_key(), enc_type),
                key,
            )
        }
        Destination::Server(server) => {
            let key = HopKey::for_client(enc_type, &eph, &server.x25519)?;
            let blob = key.encrypt(server.request, rng)?;
            (blob, server_json(server, eph.public_key(), enc_type), key)
        }
    };
    let mut outer_key = *eph.public_key();
    let mut hop_keys = Vec::with_capacity(path.len());
    for (i, node) in path.iter().enumerate().rev() {
        let eph = X25519Keypair::generate(rng);
        let key = HopKey::for_client(enc_type, &eph, &node.x25519)?;
        blob = key.encrypt(&layer::join(&blob, &routing)?, rng)?;
        hop_keys.push(key);
        outer_key = *eph.public_key();
        if i > 0 {
            routing = relay_json(&node.ed25519, eph.public_key(), enc_type);
            if server_pad_at == Some(i) {
                add_pad(&mut routing, pad);
            }
        }
    }
    let mut body = OnionRequest {
        blob: blob.into(),
        ephemeral_key: outer_key,
        enc_type,
        hop_no: 0,
    }
    .to_client_body()?;
    if server_pad_at == Some(0) {
        add_pad(&mut body, pad);
    }
    hop_keys.reverse();
    Ok(BuiltOnion {
        guard,
        body,
        response_key: ResponseKey::new(response_key),
        hop_keys,
    })
}

/// The number of `0`s of padding that makes the guard's body a bucket. Every JSON but the
/// padded one has a length that does not depend on the keys, so the unpadded length is
/// computed with zero keys, and the padding adds its bytes to every layer around it alike.
fn pad_len(
    path_len: usize,
    destination: &Destination<'_>,
    enc_type: EncType,
) -> Result<usize, OnionError> {
    let zero_x = X25519PublicKey([0; 32]);
    let relay = relay_json(&Ed25519PublicKey([0; 32]), &zero_x, enc_type).len();
    let layer = |inner: usize, json: usize| {
        inner
            .saturating_add(4)
            .saturating_add(json)
            .saturating_add(enc_type.overhead())
    };
    let (mut blob, mut routing) = match destination {
        Destination::Node { rpc, .. } => (layer(rpc.len(), FINAL_NODE_JSON.len()), relay),
        Destination::Server(server) => (
            server.request.len().saturating_add(enc_type.overhead()),
            server_json(server, &zero_x, enc_type).len(),
        ),
    };
    for _ in 0..path_len {
        blob = layer(blob, routing);
        routing = relay;
    }
    let client_json = OnionRequest {
        blob: Vec::new().into(),
        ephemeral_key: zero_x,
        enc_type,
        hop_no: 0,
    }
    .to_client_body()?
    .len();
    // `,"sotto_pad":""`
    let key_len = PAD_KEY.len().saturating_add(6);
    let unpadded = blob.saturating_add(client_json).saturating_add(key_len);
    let bucket = size_bucket(unpadded).ok_or(OnionError::TooLarge {
        what: "padded onion request",
        len: unpadded,
    })?;
    Ok(bucket.saturating_sub(unpadded))
}

/// Adds `,"sotto_pad":"0…0"` (`pad` zeros) before the closing brace of a JSON object.
fn add_pad(json: &mut Vec<u8>, pad: Option<usize>) {
    let Some(pad) = pad else { return };
    if json.pop() != Some(b'}') {
        return;
    }
    json.extend_from_slice(format!(r#","{PAD_KEY}":""#).as_bytes());
    json.resize(json.len().saturating_add(pad), b'0');
    json.extend_from_slice(b"\"}");
}

fn relay_json(next: &Ed25519PublicKey, eph: &X25519PublicKey, enc_type: EncType) -> Vec<u8> {
    format!(
        r#"{{"destination":"{}","ephemeral_key":"{}","enc_type":"{enc_type}"}}"#,
        hex::encode(next.0),
        hex::encode(eph.0),
    )
    .into_bytes()
}

fn server_json(
    server: &ServerDestination<'_>,
    eph: &X25519PublicKey,
    enc_type: EncType,
) -> Vec<u8> {
    format!(
        r#"{{"host":{},"target":{},"method":"POST","protocol":"{}","port":{},"ephemeral_key":"{}","enc_type":"{enc_type}"}}"#,
        serde_json::Value::from(server.host),
        serde_json::Value::from(server.target),
        server.protocol,
        server.port.unwrap_or(server.protocol.default_port()),
        hex::encode(eph.0),
    )
    .into_bytes()
}
