//! storage_rpc suite: message hashes, replication blobs, client signature strings (checked
//! through signed requests that a node then accepts), `active_nodes_bin` records and the
//! desktop retrieve-size heuristic.

use std::net::Ipv4Addr;

use serde_json::{Map, Value};
use sotto_crypto::Ed25519PublicKey;
use sotto_identity::Account;
use sotto_rpc::heuristics::retrieve_max_sizes;
use sotto_rpc::nodes::{ActiveNode, version_byte};
use sotto_rpc::replication::{BlobFormat, ReplicatedMessage, encode_blob, parse_blob};
use sotto_rpc::request::{
    Delete, DeleteAll, DeleteBefore, Encoding, Expire, ExpireAll, ExpireMode, GetExpiries,
    Lifetime, Retrieve, Revocation, Store, SubaccountRevocation,
};
use sotto_rpc::{
    AccountId, MessageHash, Namespace, Namespaces, NodeContext, Request, Signer, SubaccountToken,
    to_sign,
};

use super::case::{eq, eq_hex};
use super::{Case, CaseResult, Handler};

pub(super) fn handler(group: &str) -> Option<Handler> {
    Some(match group {
        "message_hash" => message_hash,
        "replication_blob" => replication_blob,
        "client_signature_strings" => client_signature_strings,
        "active_nodes_bin" => active_nodes_bin,
        "retrieve_max_size_heuristic" => retrieve_max_size_heuristic,
        _ => return None,
    })
}

fn account(hex: &str) -> Result<AccountId, String> {
    hex.parse().map_err(|e| format!("pubkey: {e}"))
}

fn namespace_of(v: &Value, what: &str) -> Result<Namespace, String> {
    v.as_i64()
        .and_then(|n| i16::try_from(n).ok())
        .map(Namespace::new)
        .ok_or_else(|| format!("{what} is not a 16-bit namespace"))
}

fn message_hash(case: &Case<'_>) -> CaseResult {
    let account = account(case.str("pubkey_hex")?)?;
    let namespace = namespace_of(case.json("namespace")?, "namespace")?;
    let hash = MessageHash::compute(&account, namespace, &case.b64("data_b64")?);
    eq("hash", hash.as_str(), case.str("expected_hash_b64")?)
}

/// Reads a nested object's fields, failing on keys the handler does not know.
struct Obj<'a> {
    fields: &'a Map<String, Value>,
    what: &'static str,
}

impl<'a> Obj<'a> {
    fn new(v: &'a Value, what: &'static str, known: &[&str]) -> Result<Self, String> {
        let fields = v
            .as_object()
            .ok_or_else(|| format!("{what} is not an object"))?;
        if let Some(k) = fields.keys().find(|k| !known.contains(&k.as_str())) {
            return Err(format!("{what} has an unknown field {k}"));
        }
        Ok(Self { fields, what })
    }

    fn get(&self, key: &str) -> Result<&'a Value, String> {
        self.fields
            .get(key)
            .ok_or_else(|| format!("{}.{key} missing", self.what))
    }

    fn str(&self, key: &str) -> Result<&'a str, String> {
        self.get(key)?
            .as_str()
            .ok_or_else(|| format!("{}.{key} is not a string", self.what))
    }

    fn hex(&self, key: &str) -> Result<Vec<u8>, String> {
        hex::decode(self.str(key)?).map_err(|e| format!("{}.{key}: {e}", self.what))
    }

    fn u64(&self, key: &str) -> Result<u64, String> {
        let v = self.get(key)?;
        v.as_u64()
            .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
            .ok_or_else(|| format!("{}.{key} is not a u64", self.what))
    }
}

fn replication_blob(case: &Case<'_>) -> CaseResult {
    let format = match case.str("format")? {
        "v1" => BlobFormat::V1,
        "v1_with_namespace" => BlobFormat::V1WithNamespace,
        other => return Err(format!("unknown format {other}")),
    };
    const KEYS: &[&str] = &[
        "pubkey_hex",
        "hash_hex",
        "timestamp_ms",
        "expiry_ms",
        "data_hex",
        "namespace",
    ];
    let messages = case
        .json_list("messages")?
        .iter()
        .map(|v| {
            let m = Obj::new(v, "message", KEYS)?;
            let namespace = match m.fields.get("namespace") {
                Some(ns) => namespace_of(ns, "message.namespace")?,
                None => Namespace::DEFAULT,
            };
            Ok(ReplicatedMessage {
                account: account(m.str("pubkey_hex")?)?,
                hash: m.hex("hash_hex")?,
                timestamp: m.u64("timestamp_ms")?,
                expiry: m.u64("expiry_ms")?,
                data: m.hex("data_hex")?,
                namespace,
            })
        })
        .collect::<Result<Vec<_>, String>>()?;
    let expected = case.hex("expected_blob_hex")?;
    eq_hex("blob", &encode_blob(&messages, format), &expected)?;
    let parsed = parse_blob(&expected).map_err(|e| e.to_string())?;
    eq("parsed messages", parsed, messages)
}

/// The signer every constructed request uses (any key does: the string is what is compared).
fn signer_account() -> Account {
    Account::from_ed25519_seed(&[0x5a; 32])
}

fn namespaces_of(case: &Case<'_>) -> Result<Namespaces, String> {
    match case.json("namespace")? {
        Value::String(s) if s == "all" => Ok(Namespaces::All),
        v => namespace_of(v, "namespace").map(Namespaces::One),
    }
}

fn hashes_of(case: &Case<'_>) -> Result<Vec<MessageHash>, String> {
    case.str_list("messages_b64")?
        .into_iter()
        .map(|h| h.parse::<MessageHash>().map_err(|e| e.to_string()))
        .collect()
}

/// The string a case signs and, for requests, the request and the node clock at which it must
/// be accepted.
type Built = (Vec<u8>, Option<(Request, u64)>);

/// Builds the signed request (or the monitor string) from the case.
fn build(case: &Case<'_>) -> Result<Built, String> {
    let owner = signer_account();
    let id = AccountId::from(owner.session_id());
    let signer = Signer::session(owner.ed25519_secret());
    let req: (Request, u64) = match case.str("method")? {
        "retrieve" => {
            let ts = case.u64("timestamp")?;
            let ns = namespace_of(case.json("namespace")?, "namespace")?;
            (Retrieve::new(id, ns).signed(&signer, ts).into(), ts)
        }
        "store" => {
            let ts = case.u64("sig_timestamp")?;
            let ns = namespace_of(case.json("namespace")?, "namespace")?;
            let store = Store::new(id, ns, b"data".to_vec(), ts, Lifetime::Ttl(86_400_000));
            (store.signed(&signer, ts).into(), ts)
        }
        "delete" => {
            let req = Delete::new(id, hashes_of(case)?, &signer);
            (Request::Delete(req), 1_700_000_000_000)
        }
        "delete_all" => {
            let ts = case.u64("timestamp")?;
            (
                Request::DeleteAll(DeleteAll::new(id, namespaces_of(case)?, ts, &signer)),
                ts,
            )
        }
        "delete_before" => {
            let before = case.u64("before")?;
            (
                Request::DeleteBefore(DeleteBefore::new(id, namespaces_of(case)?, before, &signer)),
                before,
            )
        }
        "expire_all" => {
            let expiry = case.u64("expiry")?;
            (
                Request::ExpireAll(ExpireAll::new(id, namespaces_of(case)?, expiry, &signer)),
                expiry,
            )
        }
        "expire" => {
            let expiry: Vec<u64> = match case.json("expiry")? {
                Value::Array(list) => list
                    .iter()
                    .map(|v| v.as_u64().ok_or("expiry item is not a u64"))
                    .collect::<Result<_, _>>()?,
                v => vec![v.as_u64().ok_or("expiry is not a u64")?],
            };
            let flag = |key| {
                if case.has(key) {
                    case.bool(key)
                } else {
                    Ok(false)
                }
            };
            let mode = match (flag("shorten")?, flag("extend")?) {
                (true, true) => return Err("both shorten and extend".into()),
                (true, false) => ExpireMode::Shorten,
                (false, true) => ExpireMode::Extend,
                (false, false) => ExpireMode::Any,
            };
            let now = expiry.iter().copied().min().unwrap_or_default();
            let req = Expire::new(id, hashes_of(case)?, expiry, mode, &signer);
            (Request::Expire(req), now)
        }
        "get_expiries" => {
            let ts = case.u64("timestamp")?;
            let req = GetExpiries::new(id, hashes_of(case)?, ts, &signer);
            (Request::GetExpiries(req), ts)
        }
        kind @ ("revoke_subaccount" | "unrevoke_subaccount") => {
            let ts = case.u64("timestamp")?;
            let key = if kind == "revoke_subaccount" {
                "revoke_tokens_hex"
            } else {
                "unrevoke_tokens_hex"
            };
            let tokens = case
                .str_list(key)?
                .into_iter()
                .map(|t| {
                    hex::decode(t)
                        .ok()
                        .and_then(|b| SubaccountToken::from_slice(&b))
                        .ok_or_else(|| format!("{key}: not a 36-byte token"))
                })
                .collect::<Result<_, _>>()?;
            let which = if kind == "revoke_subaccount" {
                Revocation::Revoke
            } else {
                Revocation::Unrevoke
            };
            let req = SubaccountRevocation::new(which, id, tokens, ts, &signer);
            (Request::Revocation(req), ts)
        }
        "monitor" => {
            let account = account(case.str("account_hex")?)?;
            let namespaces = case
                .json_list("namespaces")?
                .iter()
                .map(|v| namespace_of(v, "namespaces item"))
                .collect::<Result<Vec<_>, _>>()?;
            let with_data = match case.u64("d")? {
                0 => false,
                1 => true,
                other => return Err(format!("d = {other}")),
            };
            let msg = to_sign::monitor(&account, case.u64("t_seconds")?, with_data, &namespaces);
            return Ok((msg, None));
        }
        other => return Err(format!("unknown method {other}")),
    };
    let msg = match &req.0 {
        Request::Retrieve(r) => r.signed_message().unwrap_or_default(),
        Request::Store(r) => r.signed_message(),
        Request::Delete(r) => r.signed_message(),
        Request::DeleteAll(r) => r.signed_message(),
        Request::DeleteBefore(r) => r.signed_message(),
        Request::ExpireAll(r) => r.signed_message(),
        Request::Expire(r) => r.signed_message(),
        Request::GetExpiries(r) => r.signed_message(),
        Request::Revocation(r) => r.signed_message(),
        _ => return Err("unexpected request".into()),
    };
    Ok((msg, Some(req)))
}

fn client_signature_strings(case: &Case<'_>) -> CaseResult {
    let (msg, req) = build(case)?;
    match (
        case.opt_str("expected_to_sign_utf8")?,
        case.opt_hex("expected_to_sign_hex")?,
    ) {
        (Some(text), None) => eq_hex("string to sign", &msg, text.as_bytes())?,
        (None, Some(bytes)) => eq_hex("string to sign", &msg, &bytes)?,
        _ => return Err("need exactly one of expected_to_sign_utf8 / _hex".into()),
    }
    // The request travels as JSON and as bencode, parses back to itself, and a node whose
    // clock reads the signed time accepts its signature.
    let Some((req, now_ms)) = req else {
        return Ok(());
    };
    let (from_bt, encoding) = Request::from_command(req.method().name(), &req.params_bencoded())
        .map_err(|e| e.to_string())?;
    eq("bencoded encoding", encoding, Encoding::Bencode)?;
    let from_json = Request::from_http_body(&req.to_http_body()).map_err(|e| e.to_string())?;
    eq("request from JSON", &from_json, &req)?;
    eq("request from bencode", &from_bt, &req)?;
    let ctx = NodeContext {
        now_ms,
        revoked: &[],
        forwarded: false,
    };
    req.check(&ctx)
        .map_err(|e| format!("node rejects the signed request: {e}"))
}

fn active_nodes_bin(case: &Case<'_>) -> CaseResult {
    const KEYS: &[&str] = &[
        "ed25519_pk_hex",
        "swarm_id_u64",
        "ipv4_utf8",
        "https_port",
        "omq_quic_port",
        "version",
    ];
    let n = Obj::new(case.json("node")?, "node", KEYS)?;
    let port = |key| u16::try_from(n.u64(key)?).map_err(|_| format!("node.{key} is not a port"));
    let version: Vec<u8> = n
        .get("version")?
        .as_array()
        .ok_or("node.version is not a list")?
        .iter()
        .map(|v| v.as_u64().map(version_byte).ok_or("node.version item"))
        .collect::<Result<_, _>>()?;
    let node = ActiveNode {
        pubkey_ed25519: Ed25519PublicKey::from_slice(&n.hex("ed25519_pk_hex")?)
            .map_err(|e| e.to_string())?,
        swarm_id: n.u64("swarm_id_u64")?,
        ip: n
            .str("ipv4_utf8")?
            .parse::<Ipv4Addr>()
            .map_err(|e| format!("node.ipv4_utf8: {e}"))?,
        port_https: port("https_port")?,
        port_omq: port("omq_quic_port")?,
        version: version
            .try_into()
            .map_err(|_| "node.version needs 3 components")?,
    };
    let expected = case.hex("expected_record_hex")?;
    eq_hex("record", &node.to_record(), &expected)?;
    let record: [u8; 51] = expected
        .as_slice()
        .try_into()
        .map_err(|_| format!("expected_record_hex has {} bytes", expected.len()))?;
    eq("decoded record", ActiveNode::from_record(&record), node)
}

fn retrieve_max_size_heuristic(case: &Case<'_>) -> CaseResult {
    let namespaces = case
        .json_list("namespaces")?
        .iter()
        .map(|v| namespace_of(v, "namespaces item"))
        .collect::<Result<Vec<_>, _>>()?;
    let expected = case
        .json_list("expected")?
        .iter()
        .map(|v| {
            let e = Obj::new(v, "expected item", &["namespace", "max_size"])?;
            let size = e
                .get("max_size")?
                .as_i64()
                .and_then(|s| i32::try_from(s).ok())
                .ok_or("expected.max_size is not an i32")?;
            Ok((
                namespace_of(e.get("namespace")?, "expected.namespace")?,
                size,
            ))
        })
        .collect::<Result<Vec<_>, String>>()?;
    eq("max sizes", retrieve_max_sizes(&namespaces), expected)
}
