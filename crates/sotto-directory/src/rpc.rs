//! `POST /json_rpc`: oxend's `get_service_nodes` (also `get_n_service_nodes`,
//! `get_all_service_nodes`) over JSON-RPC 2.0, answered from a [`Directory`] and signed by the
//! directory key.

use std::collections::BTreeSet;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use rand::Rng;
use rand::seq::SliceRandom as _;
use serde_json::{Map, Value, json};
use sotto_crypto::{Ed25519PublicKey, Ed25519SecretKey};

use crate::directory::{Directory, NodeEntry};

/// The hard fork the answers report (oxend's `hardfork`); Session storage servers need ≥ 19.3.
pub const HARDFORK: u64 = 19;
/// The `snode_revision` the answers report.
pub const SNODE_REVISION: u64 = 3;

/// JSON-RPC 2.0 error codes.
const PARSE_ERROR: i64 = -32700;
const INVALID_REQUEST: i64 = -32600;
const METHOD_NOT_FOUND: i64 = -32601;
const INVALID_PARAMS: i64 = -32602;

/// The per-node fields an answer can carry.
pub const NODE_FIELDS: [&str; 11] = [
    "service_node_pubkey",
    "pubkey_ed25519",
    "pubkey_x25519",
    "public_ip",
    "storage_port",
    "storage_lmq_port",
    "swarm_id",
    "swarm",
    "active",
    "funded",
    "storage_server_version",
];

/// The methods served.
pub const METHODS: [&str; 3] = [
    "get_service_nodes",
    "get_n_service_nodes",
    "get_all_service_nodes",
];

/// Answers one JSON-RPC request body: the response object to send with
/// `Content-Type: application/json` and status 200 (JSON-RPC errors included).
///
/// `rng` shuffles or samples the nodes when the request has a `limit`.
pub fn json_rpc(
    dir: &Directory,
    directory_key: &Ed25519SecretKey,
    body: &[u8],
    rng: &mut impl Rng,
) -> Value {
    let request: Value = match serde_json::from_slice(body) {
        Ok(v) => v,
        Err(e) => return error(Value::Null, PARSE_ERROR, &format!("parse error: {e}")),
    };
    let Some(request) = request.as_object() else {
        return error(
            Value::Null,
            INVALID_REQUEST,
            "invalid request: expected a JSON object (batches are not supported)",
        );
    };
    let id = request.get("id").cloned().unwrap_or(Value::Null);
    if let Some(version) = request.get("jsonrpc")
        && version.as_str() != Some("2.0")
    {
        return error(
            id,
            INVALID_REQUEST,
            "invalid request: jsonrpc must be \"2.0\"",
        );
    }
    let Some(method) = request.get("method").and_then(Value::as_str) else {
        return error(
            id,
            INVALID_REQUEST,
            "invalid request: method must be a string",
        );
    };
    if !METHODS.contains(&method) {
        return error(
            id,
            METHOD_NOT_FOUND,
            &format!("method not found: {method:.64}"),
        );
    }
    let params = match Params::parse(request.get("params")) {
        Ok(p) => p,
        Err(msg) => return error(id, INVALID_PARAMS, &format!("invalid params: {msg}")),
    };
    json!({"jsonrpc": "2.0", "id": id, "result": result(dir, directory_key, &params, rng)})
}

fn error(id: Value, code: i64, message: &str) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "error": {"code": code, "message": message}})
}

/// `get_service_nodes` parameters.
struct Params {
    fields: BTreeSet<&'static str>,
    active_only: bool,
    limit: i64,
    pubkeys: Option<BTreeSet<Ed25519PublicKey>>,
    poll_block_hash: Option<String>,
}

impl Params {
    fn parse(params: Option<&Value>) -> Result<Self, String> {
        let empty = Map::new();
        let params = match params {
            None | Some(Value::Null) => &empty,
            Some(Value::Object(m)) => m,
            Some(_) => return Err("params must be an object".to_owned()),
        };
        let active_only = match params.get("active_only") {
            None | Some(Value::Null) => false,
            Some(v) => v.as_bool().ok_or("active_only must be a boolean")?,
        };
        let limit = match params.get("limit") {
            None | Some(Value::Null) => 0,
            Some(v) => v.as_i64().ok_or("limit must be an integer")?,
        };
        let pubkeys = match params.get("service_node_pubkeys") {
            None | Some(Value::Null) => None,
            Some(Value::Array(keys)) => Some(
                keys.iter()
                    .map(|k| {
                        let mut key = [0u8; 32];
                        k.as_str()
                            .and_then(|s| hex::decode_to_slice(s, &mut key).ok())
                            .map(|()| Ed25519PublicKey(key))
                            .ok_or("service_node_pubkeys must be 64-hex-digit strings")
                    })
                    .collect::<Result<BTreeSet<_>, _>>()?,
            ),
            Some(_) => return Err("service_node_pubkeys must be a list".to_owned()),
        };
        let poll_block_hash = match params.get("poll_block_hash") {
            None | Some(Value::Null) => None,
            Some(v) => Some(
                v.as_str()
                    .ok_or("poll_block_hash must be a string")?
                    .to_ascii_lowercase(),
            ),
        };
        Ok(Self {
            fields: parse_fields(params.get("fields"))?,
            active_only,
            limit,
            pubkeys,
            poll_block_hash,
        })
    }
}

/// `fields`: absent or `"all"` for every field; a list of names (`"all"` adds every field,
/// `"-name"` removes one); or the deprecated object of booleans. Names this directory does not
/// have are ignored.
fn parse_fields(fields: Option<&Value>) -> Result<BTreeSet<&'static str>, String> {
    let all = || NODE_FIELDS.into_iter().collect::<BTreeSet<_>>();
    let known = |name: &str| NODE_FIELDS.into_iter().find(|f| *f == name);
    match fields {
        None | Some(Value::Null) => Ok(all()),
        Some(Value::String(s)) if s == "all" => Ok(all()),
        Some(Value::Array(names)) => {
            let mut set = BTreeSet::new();
            for name in names {
                let name = name.as_str().ok_or("fields must be strings")?;
                if name == "all" {
                    set.extend(all());
                } else if let Some(removed) = name.strip_prefix('-') {
                    if let Some(f) = known(removed) {
                        set.remove(f);
                    }
                } else if let Some(f) = known(name) {
                    set.insert(f);
                }
            }
            Ok(set)
        }
        Some(Value::Object(flags)) => {
            let mut set = BTreeSet::new();
            for (name, on) in flags {
                let on = on.as_bool().ok_or("fields values must be booleans")?;
                if on {
                    if name == "all" {
                        set.extend(all());
                    } else if let Some(f) = known(name) {
                        set.insert(f);
                    }
                }
            }
            Ok(set)
        }
        Some(_) => Err("fields must be \"all\", a list of names or an object of booleans".into()),
    }
}

fn result(
    dir: &Directory,
    directory_key: &Ed25519SecretKey,
    params: &Params,
    rng: &mut impl Rng,
) -> Value {
    let list = dir.node_list();
    let block_hash = hex::encode(list.block_hash);
    let mut out = Map::new();
    out.insert("height".into(), list.height.into());
    out.insert("target_height".into(), list.height.into());
    out.insert("block_hash".into(), block_hash.clone().into());
    out.insert("hardfork".into(), HARDFORK.into());
    out.insert("snode_revision".into(), SNODE_REVISION.into());
    out.insert("status".into(), "OK".into());
    out.insert("epoch".into(), list.epoch.into());
    out.insert(
        "directory_signature".into(),
        STANDARD.encode(list.sign(directory_key).to_bytes()).into(),
    );
    if params.poll_block_hash.as_deref() == Some(block_hash.as_str()) {
        out.insert("unchanged".into(), true.into());
        return Value::Object(out);
    }
    let mut entries: Vec<NodeEntry> = dir
        .entries()
        .filter(|e| e.active || !params.active_only)
        .filter(|e| {
            params
                .pubkeys
                .as_ref()
                .is_none_or(|keys| keys.contains(&e.listing.pubkey_ed25519()))
        })
        .collect();
    if params.limit != 0 {
        entries.shuffle(rng);
        if let Ok(limit) = usize::try_from(params.limit) {
            entries.truncate(limit);
        }
    }
    let states: Vec<Value> = entries
        .iter()
        .map(|e| node_state(e, &params.fields))
        .collect();
    out.insert("service_node_states".into(), states.into());
    Value::Object(out)
}

fn node_state(entry: &NodeEntry, fields: &BTreeSet<&'static str>) -> Value {
    let l = &entry.listing;
    let ed = hex::encode(l.pubkey_ed25519().as_bytes());
    let mut out = Map::new();
    for field in NODE_FIELDS {
        if !fields.contains(field) {
            continue;
        }
        let value: Value = match field {
            "service_node_pubkey" | "pubkey_ed25519" => ed.clone().into(),
            "pubkey_x25519" => hex::encode(l.pubkey_x25519().as_bytes()).into(),
            "public_ip" => l.public_ip().to_string().into(),
            "storage_port" => l.storage_port().into(),
            // Sotto nodes have no OxenMQ/QUIC port: the field is left out rather than faked.
            "storage_lmq_port" => match l.storage_lmq_port() {
                Some(port) => port.into(),
                None => continue,
            },
            "swarm_id" => l.swarm_id().0.into(),
            "swarm" => format!("{:x}", l.swarm_id().0).into(),
            "active" => entry.active.into(),
            "funded" => true.into(),
            "storage_server_version" => json!(l.version()),
            _ => continue,
        };
        out.insert(field.into(), value);
    }
    Value::Object(out)
}
