//! The signed node list: its hash (the `block_hash` of the oxend-shaped answer), the string the
//! directory signs, and the verification a client runs on a `get_service_nodes` answer.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::Value;
use sotto_crypto::{Ed25519PublicKey, Ed25519SecretKey, Signature, blake2b_32};
use sotto_swarm::{NodeListing, NodeListingError};
use thiserror::Error;

use crate::signed::{NODE_LIST_CONTEXT, signed_bytes};

/// The active nodes as of one height, with the epoch their swarms come from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeList {
    /// Counts every change of the list (the oxend "block height").
    pub height: u64,
    /// Counts changes of the active set; swarms are reassigned once per epoch.
    pub epoch: u64,
    /// [`list_hash`] of `nodes`.
    pub block_hash: [u8; 32],
    /// The active nodes, sorted by Ed25519 key.
    pub nodes: Vec<NodeListing>,
}

impl NodeList {
    /// A list of `nodes` (in any order) at `height` and `epoch`; sorts them and computes the hash.
    #[must_use]
    pub fn new(height: u64, epoch: u64, mut nodes: Vec<NodeListing>) -> Self {
        nodes.sort_by_key(NodeListing::pubkey_ed25519);
        Self {
            height,
            epoch,
            block_hash: list_hash(&nodes),
            nodes,
        }
    }

    /// The directory's signature over this list: Ed25519 over [`signing_bytes`].
    #[must_use]
    pub fn sign(&self, directory_key: &Ed25519SecretKey) -> Signature {
        directory_key.sign(&signing_bytes(self.height, self.epoch, &self.block_hash))
    }
}

/// The bytes the directory signs: [`signed_bytes`] with [`NODE_LIST_CONTEXT`] over the height
/// and the epoch (8 bytes each, big-endian) and `block_hash` (32 bytes). Signing the height
/// lets nodes and clients refuse a list older than the one they hold (review S-19).
#[must_use]
pub fn signing_bytes(height: u64, epoch: u64, block_hash: &[u8; 32]) -> Vec<u8> {
    signed_bytes(
        NODE_LIST_CONTEXT,
        &[&height.to_be_bytes(), &epoch.to_be_bytes(), block_hash],
    )
}

/// BLAKE2b-256 over the canonical bencoded list `[[pubkey_ed25519 (32 bytes), swarm_id, ip
/// (dotted string), port], …]` of `nodes`, which must be sorted by Ed25519 key.
#[must_use]
pub fn list_hash(nodes: &[NodeListing]) -> [u8; 32] {
    let mut out = Vec::with_capacity(2 + nodes.len() * 80);
    out.push(b'l');
    for node in nodes {
        out.push(b'l');
        bencode_bytes(&mut out, node.pubkey_ed25519().as_bytes());
        bencode_uint(&mut out, node.swarm_id().0);
        bencode_bytes(&mut out, node.public_ip().to_string().as_bytes());
        bencode_uint(&mut out, node.storage_port().into());
        out.push(b'e');
    }
    out.push(b'e');
    blake2b_32(&[], &[&out])
}

/// Bencodes a byte string (`len:bytes`).
pub fn bencode_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend_from_slice(bytes.len().to_string().as_bytes());
    out.push(b':');
    out.extend_from_slice(bytes);
}

/// Bencodes an unsigned integer (`i…e`; bencode integers have no size limit, and swarm ids use
/// the full `u64` range).
fn bencode_uint(out: &mut Vec<u8>, n: u64) {
    out.push(b'i');
    out.extend_from_slice(n.to_string().as_bytes());
    out.push(b'e');
}

/// Why a node-list answer was not accepted.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum ListError {
    /// The body is not JSON.
    #[error("node list: not JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// The directory answered with a JSON-RPC error.
    #[error("node list: the directory answered with error {code}: {message}")]
    RpcError {
        /// The JSON-RPC error code.
        code: i64,
        /// Its message.
        message: String,
    },
    /// A field the verification needs is missing or has the wrong type.
    #[error("node list: field {field} is missing or malformed")]
    Field {
        /// The field.
        field: &'static str,
    },
    /// The answer says "unchanged" and carries no list.
    #[error("node list: the answer is `unchanged` and carries no nodes")]
    Unchanged,
    /// A node entry is not a valid listing (a field left out by `fields`, a bad key, …).
    #[error("node list: entry {index}: {source}")]
    Entry {
        /// Its position in `service_node_states`.
        index: usize,
        /// Why.
        #[source]
        source: NodeListingError,
    },
    /// The same node is listed twice.
    #[error("node list: entry {index} repeats a node")]
    DuplicateNode {
        /// The position of the repeat.
        index: usize,
    },
    /// `block_hash` is not the hash of the active nodes listed (a partial or altered list).
    #[error("node list: block_hash does not match the nodes listed")]
    HashMismatch,
    /// `directory_signature` does not verify under the pinned directory key.
    #[error("node list: the directory signature does not verify")]
    BadSignature,
}

/// Verifies a `get_service_nodes` answer (the whole JSON-RPC response body, or just its
/// `result` object) against the directory's pinned key, and returns the active nodes.
///
/// The answer must list every active node with at least `pubkey_ed25519`, `pubkey_x25519`,
/// `public_ip`, `storage_port`, `swarm_id` and `storage_server_version`; entries with
/// `"active": false` are skipped. A `limit`ed or field-filtered answer fails with
/// [`ListError::HashMismatch`] or [`ListError::Entry`].
pub fn verify_node_list(body: &[u8], directory: &Ed25519PublicKey) -> Result<NodeList, ListError> {
    let value: Value = serde_json::from_slice(body)?;
    let result = match (value.get("result"), value.get("error")) {
        (Some(result), _) => result,
        (None, Some(error)) => {
            return Err(ListError::RpcError {
                code: error.get("code").and_then(Value::as_i64).unwrap_or(0),
                message: error
                    .get("message")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned(),
            });
        }
        (None, None) => &value,
    };
    if result.get("unchanged").and_then(Value::as_bool) == Some(true) {
        return Err(ListError::Unchanged);
    }
    let height = u64_field(result, "height")?;
    let epoch = u64_field(result, "epoch")?;
    let block_hash = hash_field(result)?;
    let signature = result
        .get("directory_signature")
        .and_then(Value::as_str)
        .filter(|s| s.len() <= 88)
        .and_then(|s| STANDARD.decode(s).ok())
        .and_then(|b| Signature::from_slice(&b).ok())
        .ok_or(ListError::Field {
            field: "directory_signature",
        })?;
    let states = result
        .get("service_node_states")
        .and_then(Value::as_array)
        .ok_or(ListError::Field {
            field: "service_node_states",
        })?;

    let mut nodes = Vec::with_capacity(states.len());
    for (index, entry) in states.iter().enumerate() {
        let active = match entry.get("active") {
            None => true,
            Some(v) => v.as_bool().ok_or(ListError::Field { field: "active" })?,
        };
        if !active {
            continue;
        }
        // Through text so that the listing's own typed errors come back (a JSON value would
        // fold them into a generic message).
        let listing = NodeListing::from_json(entry.to_string().as_bytes())
            .map_err(|source| ListError::Entry { index, source })?;
        nodes.push((index, listing));
    }
    nodes.sort_by_key(|(_, n)| n.pubkey_ed25519());
    for pair in nodes.windows(2) {
        if let [(_, a), (index, b)] = pair
            && a.pubkey_ed25519() == b.pubkey_ed25519()
        {
            return Err(ListError::DuplicateNode { index: *index });
        }
    }
    let nodes: Vec<NodeListing> = nodes.into_iter().map(|(_, n)| n).collect();
    if list_hash(&nodes) != block_hash {
        return Err(ListError::HashMismatch);
    }
    directory
        .verify(&signing_bytes(height, epoch, &block_hash), &signature)
        .map_err(|_| ListError::BadSignature)?;
    Ok(NodeList {
        height,
        epoch,
        block_hash,
        nodes,
    })
}

fn u64_field(v: &Value, field: &'static str) -> Result<u64, ListError> {
    v.get(field)
        .and_then(Value::as_u64)
        .ok_or(ListError::Field { field })
}

fn hash_field(v: &Value) -> Result<[u8; 32], ListError> {
    let mut hash = [0u8; 32];
    let text = v
        .get("block_hash")
        .and_then(Value::as_str)
        .ok_or(ListError::Field {
            field: "block_hash",
        })?;
    hex::decode_to_slice(text, &mut hash).map_err(|_| ListError::Field {
        field: "block_hash",
    })?;
    Ok(hash)
}
