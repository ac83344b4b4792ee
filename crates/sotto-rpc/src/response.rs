//! Typed storage RPC responses (spec §2.4): what a node builds and signs, what a client reads
//! and verifies. Every type encodes to and parses from JSON (binary values in base64) and
//! bencode (raw bytes), except [`BatchResponse`], which is JSON only.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use serde_json::{Map, Value as Json};
use sotto_crypto::{Ed25519PublicKey, Ed25519SecretKey, Signature};
use thiserror::Error;

use crate::encoding::decode_hex;
use crate::error::ParseError;
use crate::params::{Doc, DocMap, Item, Params};
use crate::request::{Delete, Encoding, Expire, ExpireMode, Method, Store, SubaccountRevocation};
use crate::{AccountId, MessageHash, Namespace, to_sign};

/// Why a node's result does not attest what the client asked.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum ResponseError {
    /// The node's signature does not verify with its key.
    #[error("the node's signature does not verify")]
    BadSignature,
    /// The result is about something else (e.g. another message hash).
    #[error("the node's result does not match the request: {0}")]
    Mismatch(&'static str),
}

fn response(what: &'static str) -> ParseError {
    ParseError::Response(what)
}

/// Decodes a body and hands its top-level dictionary to `f`.
fn decode<T>(
    body: &[u8],
    encoding: Encoding,
    f: impl FnOnce(Params<'_>) -> Result<T, ParseError>,
) -> Result<T, ParseError> {
    match encoding {
        Encoding::Json => {
            let v: Json = serde_json::from_slice(body).map_err(|_| ParseError::Json)?;
            f(Params::Json(
                v.as_object().ok_or(response("not an object"))?,
            ))
        }
        Encoding::Bencode => {
            let v = sotto_bencode::decode(body).map_err(|_| ParseError::Body)?;
            f(Params::Bt(v.as_dict().ok_or(response("not a dictionary"))?))
        }
    }
}

fn encode(doc: &Doc, encoding: Encoding) -> Vec<u8> {
    match encoding {
        Encoding::Json => doc.to_json().to_string().into_bytes(),
        Encoding::Bencode => sotto_bencode::encode(&doc.to_bt()),
    }
}

fn verify_node(
    node: &Ed25519PublicKey,
    message: &[u8],
    sig: &Signature,
) -> Result<(), ResponseError> {
    node.verify(message, sig)
        .map_err(|_| ResponseError::BadSignature)
}

fn hash_item(item: Item<'_>, what: &'static str) -> Result<MessageHash, ParseError> {
    item.bytes()
        .and_then(MessageHash::parse)
        .ok_or(response(what))
}

fn hashes_at(p: Params<'_>, key: &'static str) -> Result<Vec<MessageHash>, ParseError> {
    p.list(key)
        .ok_or(response(key))?
        .into_iter()
        .map(|i| hash_item(i, key))
        .collect()
}

fn hash_docs(list: &[MessageHash]) -> Doc {
    Doc::List(list.iter().map(|h| Doc::Str(h.to_string())).collect())
}

/// `t` (node time, ms) and `hf` (`[major, minor]`), added to most responses.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Meta {
    /// The node's clock, ms.
    pub t: Option<u64>,
    /// The network version `[major, minor]`.
    pub hf: Option<[u16; 2]>,
}

impl Meta {
    /// `t = now_ms` and the given network version.
    #[must_use]
    pub fn new(now_ms: u64, hf: [u16; 2]) -> Self {
        Self {
            t: Some(now_ms),
            hf: Some(hf),
        }
    }

    fn read(p: Params<'_>) -> Result<Self, ParseError> {
        let t = p.unsigned("t").map_err(|_| response("t"))?;
        let hf = match p.list("hf") {
            None => None,
            Some(items) => Some(u16_array::<2>(&items).ok_or(response("hf"))?),
        };
        Ok(Self { t, hf })
    }

    fn write(&self, out: &mut DocMap) {
        out.put_opt("t", self.t.map(Doc::uint));
        out.put_opt(
            "hf",
            self.hf
                .map(|v| Doc::List(v.iter().map(|x| Doc::Int((*x).into())).collect())),
        );
    }
}

fn u16_array<const N: usize>(items: &[Item<'_>]) -> Option<[u16; N]> {
    let values: Vec<u16> = items
        .iter()
        .map(|i| i.int().and_then(|v| u16::try_from(v).ok()))
        .collect::<Option<_>>()?;
    values.try_into().ok()
}

/// A node's `store` result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreResult {
    /// The message hash.
    pub hash: MessageHash,
    /// The node's signature of the hash text.
    pub signature: Signature,
    /// The expiry in effect (possibly an older, later one).
    pub expiry: u64,
    /// Whether the message was already stored.
    pub already: bool,
}

impl StoreResult {
    /// The node's result for a stored message.
    #[must_use]
    pub fn sign(node: &Ed25519SecretKey, hash: MessageHash, expiry: u64, already: bool) -> Self {
        Self {
            signature: node.sign(&to_sign::node::store(&hash)),
            hash,
            expiry,
            already,
        }
    }

    /// Checks that the result is for `request`'s message and signed by `node`.
    pub fn verify(&self, node: &Ed25519PublicKey, request: &Store) -> Result<(), ResponseError> {
        if self.hash != request.message_hash() {
            return Err(ResponseError::Mismatch("message hash"));
        }
        verify_node(node, &to_sign::node::store(&self.hash), &self.signature)
    }
}

/// A node's `delete` result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeleteResult {
    /// The hashes it deleted, sorted.
    pub deleted: Vec<MessageHash>,
    /// Its signature of `PUBKEY_HEX ‖ requested… ‖ deleted…`.
    pub signature: Signature,
}

impl DeleteResult {
    /// The node's result after deleting `deleted` (sorted here).
    #[must_use]
    pub fn sign(node: &Ed25519SecretKey, request: &Delete, mut deleted: Vec<MessageHash>) -> Self {
        deleted.sort_unstable();
        let signature = node.sign(&to_sign::node::delete(
            &request.account,
            &request.messages,
            &deleted,
        ));
        Self { deleted, signature }
    }

    /// Checks the node's signature.
    pub fn verify(&self, node: &Ed25519PublicKey, request: &Delete) -> Result<(), ResponseError> {
        let msg = to_sign::node::delete(&request.account, &request.messages, &self.deleted);
        verify_node(node, &msg, &self.signature)
    }
}

/// The hashes a `delete_all` / `delete_before` deleted or an `expire_all` updated: a sorted list
/// for one namespace, or per namespace for `all`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Affected {
    /// One namespace.
    One(Vec<MessageHash>),
    /// Every namespace.
    PerNamespace(BTreeMap<Namespace, Vec<MessageHash>>),
}

impl Affected {
    /// Every hash, sorted (what the node signs).
    #[must_use]
    pub fn sorted(&self) -> Vec<MessageHash> {
        let mut all: Vec<MessageHash> = match self {
            Self::One(list) => list.clone(),
            Self::PerNamespace(map) => map.values().flatten().copied().collect(),
        };
        all.sort_unstable();
        all
    }

    fn sort(&mut self) {
        match self {
            Self::One(list) => list.sort_unstable(),
            Self::PerNamespace(map) => map.values_mut().for_each(|l| l.sort_unstable()),
        }
    }

    fn doc(&self) -> Doc {
        match self {
            Self::One(list) => hash_docs(list),
            Self::PerNamespace(map) => Doc::Map(
                map.iter()
                    .map(|(ns, list)| (ns.to_string(), hash_docs(list)))
                    .collect(),
            ),
        }
    }

    fn read(p: Params<'_>, key: &'static str) -> Result<Self, ParseError> {
        let item = p.item(key).ok_or(response(key))?;
        if let Some(dict) = item.params() {
            let mut map = BTreeMap::new();
            for (ns, list) in dict.entries() {
                let ns = core::str::from_utf8(ns)
                    .ok()
                    .and_then(|s| s.parse::<i16>().ok())
                    .ok_or(response(key))?;
                let hashes = list
                    .list()
                    .ok_or(response(key))?
                    .into_iter()
                    .map(|i| hash_item(i, key))
                    .collect::<Result<_, _>>()?;
                map.insert(Namespace::new(ns), hashes);
            }
            Ok(Self::PerNamespace(map))
        } else {
            hashes_at(p, key).map(Self::One)
        }
    }
}

/// A node's `delete_all`, `delete_before` or `expire_all` result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BulkResult {
    /// `deleted` (or `updated` for `expire_all`).
    pub affected: Affected,
    /// The node's signature of `PUBKEY_HEX ‖ value ‖ sorted hashes…`, where value is the
    /// request's `timestamp`, `before` or `expiry`.
    pub signature: Signature,
}

impl BulkResult {
    /// The node's result; `value` is the request's `timestamp`, `before` or `expiry`.
    #[must_use]
    pub fn sign(
        node: &Ed25519SecretKey,
        account: &AccountId,
        value: u64,
        mut affected: Affected,
    ) -> Self {
        affected.sort();
        let signature = node.sign(&to_sign::node::bulk(account, value, &affected.sorted()));
        Self {
            affected,
            signature,
        }
    }

    /// Checks the node's signature.
    pub fn verify(
        &self,
        node: &Ed25519PublicKey,
        account: &AccountId,
        value: u64,
    ) -> Result<(), ResponseError> {
        let msg = to_sign::node::bulk(account, value, &self.affected.sorted());
        verify_node(node, &msg, &self.signature)
    }
}

/// The expiry an `expire` applied: one value, or one per updated message when the request gave
/// a list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AppliedExpiry {
    /// The single (clamped) expiry.
    Single(u64),
    /// Per updated message, aligned with `updated`.
    PerMessage(Vec<u64>),
}

impl AppliedExpiry {
    fn values(&self) -> &[u64] {
        match self {
            Self::Single(e) => core::slice::from_ref(e),
            Self::PerMessage(list) => list,
        }
    }
}

/// A node's `expire` result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpireResult {
    /// The updated hashes, sorted.
    pub updated: Vec<MessageHash>,
    /// Requested messages left as they were, with their expiry (only with shorten/extend).
    pub unchanged: Option<BTreeMap<MessageHash, u64>>,
    /// The expiry applied.
    pub expiry: AppliedExpiry,
    /// The node's signature.
    pub signature: Signature,
}

impl ExpireResult {
    /// The node's result: `updated` pairs each updated hash with the expiry it now has,
    /// `unchanged` the requested messages that kept theirs.
    #[must_use]
    pub fn sign(
        node: &Ed25519SecretKey,
        request: &Expire,
        now_ms: u64,
        mut updated: Vec<(MessageHash, u64)>,
        unchanged: BTreeMap<MessageHash, u64>,
    ) -> Self {
        updated.sort_unstable_by_key(|(hash, _)| *hash);
        let expiry = if request.expiry.len() > 1 {
            AppliedExpiry::PerMessage(updated.iter().map(|(_, e)| *e).collect())
        } else {
            let first = request.applied_expiries(now_ms).first().copied();
            AppliedExpiry::Single(first.unwrap_or_default())
        };
        let updated: Vec<MessageHash> = updated.into_iter().map(|(h, _)| h).collect();
        let unchanged = (request.mode != ExpireMode::Any).then_some(unchanged);
        let signature = node.sign(&Self::message(
            request,
            &expiry,
            &updated,
            unchanged.as_ref(),
        ));
        Self {
            updated,
            unchanged,
            expiry,
            signature,
        }
    }

    fn message(
        request: &Expire,
        expiry: &AppliedExpiry,
        updated: &[MessageHash],
        unchanged: Option<&BTreeMap<MessageHash, u64>>,
    ) -> Vec<u8> {
        to_sign::node::expire(
            &request.account,
            expiry.values(),
            &request.messages,
            updated,
            unchanged.unwrap_or(&BTreeMap::new()),
        )
    }

    /// Checks the node's signature.
    pub fn verify(&self, node: &Ed25519PublicKey, request: &Expire) -> Result<(), ResponseError> {
        let msg = Self::message(
            request,
            &self.expiry,
            &self.updated,
            self.unchanged.as_ref(),
        );
        verify_node(node, &msg, &self.signature)
    }
}

/// A node's `revoke_subaccount` / `unrevoke_subaccount` result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RevocationResult {
    /// `unrevoke_subaccount`: how many revocations were removed.
    pub count: Option<u64>,
    /// The node's signature of `PUBKEY_HEX ‖ timestamp ‖ token bytes…`.
    pub signature: Signature,
}

impl RevocationResult {
    /// The node's result.
    #[must_use]
    pub fn sign(
        node: &Ed25519SecretKey,
        request: &SubaccountRevocation,
        count: Option<u64>,
    ) -> Self {
        let msg = to_sign::node::revocation(&request.account, request.timestamp, &request.tokens);
        Self {
            count,
            signature: node.sign(&msg),
        }
    }

    /// Checks the node's signature.
    pub fn verify(
        &self,
        node: &Ed25519PublicKey,
        request: &SubaccountRevocation,
    ) -> Result<(), ResponseError> {
        let msg = to_sign::node::revocation(&request.account, request.timestamp, &request.tokens);
        verify_node(node, &msg, &self.signature)
    }
}

/// One node's own result of a recursive request.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum NodeResult {
    /// `store`.
    Store(StoreResult),
    /// `delete`.
    Delete(DeleteResult),
    /// `delete_all`, `delete_before` or `expire_all`.
    Bulk(BulkResult),
    /// `expire`.
    Expire(ExpireResult),
    /// `revoke_subaccount` or `unrevoke_subaccount`.
    Revocation(RevocationResult),
}

/// Why a swarm peer has no result.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Failure {
    /// The forwarded request timed out.
    pub timeout: bool,
    /// The peer answered with this status code.
    pub code: Option<u16>,
    /// A reason text.
    pub reason: Option<String>,
    /// The peer's answer could not be parsed.
    pub bad_peer_response: bool,
    /// The database failed.
    pub query_failure: bool,
}

/// One entry of `swarm`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NodeOutcome {
    /// The node's result.
    Ok(NodeResult),
    /// `{"failed": true, …}`.
    Failed(Failure),
}

fn bulk_key(method: Method) -> &'static str {
    if method == Method::ExpireAll {
        "updated"
    } else {
        "deleted"
    }
}

impl NodeResult {
    /// Writes a result as a peer returns it to the entry node (or as the entry node lists it).
    #[must_use]
    pub fn encode(&self, method: Method, encoding: Encoding) -> Vec<u8> {
        encode(&self.doc(method), encoding)
    }

    /// Reads a peer's own result for `method`.
    pub fn parse(method: Method, body: &[u8], encoding: Encoding) -> Result<Self, ParseError> {
        decode(body, encoding, |p| Self::read(method, p))
    }

    fn doc(&self, method: Method) -> Doc {
        let mut out = DocMap::new();
        let signature = match self {
            Self::Store(r) => {
                out.put("hash", Doc::Str(r.hash.to_string()));
                out.put("expiry", Doc::uint(r.expiry));
                if r.already {
                    out.put("already", Doc::Bool(true));
                }
                r.signature
            }
            Self::Delete(r) => {
                out.put("deleted", hash_docs(&r.deleted));
                r.signature
            }
            Self::Bulk(r) => {
                out.put(bulk_key(method), r.affected.doc());
                r.signature
            }
            Self::Expire(r) => {
                out.put("updated", hash_docs(&r.updated));
                if let Some(unchanged) = &r.unchanged {
                    let map = unchanged
                        .iter()
                        .map(|(h, e)| (h.to_string(), Doc::uint(*e)))
                        .collect();
                    out.put("unchanged", Doc::Map(map));
                }
                let expiry = match &r.expiry {
                    AppliedExpiry::Single(e) => Doc::uint(*e),
                    AppliedExpiry::PerMessage(l) => {
                        Doc::List(l.iter().copied().map(Doc::uint).collect())
                    }
                };
                out.put("expiry", expiry);
                r.signature
            }
            Self::Revocation(r) => {
                out.put_opt("count", r.count.map(Doc::uint));
                r.signature
            }
        };
        out.put("signature", Doc::Bin(signature.0.to_vec()));
        out.done()
    }

    fn read(method: Method, p: Params<'_>) -> Result<Self, ParseError> {
        let signature = p.signature("signature")?;
        Ok(match method {
            Method::Store => Self::Store(StoreResult {
                hash: p
                    .item("hash")
                    .ok_or(response("hash"))
                    .and_then(|i| hash_item(i, "hash"))?,
                signature,
                expiry: p.unsigned("expiry")?.ok_or(response("expiry"))?,
                already: p.bool("already")?.unwrap_or(false),
            }),
            Method::Delete => Self::Delete(DeleteResult {
                deleted: hashes_at(p, "deleted")?,
                signature,
            }),
            Method::DeleteAll | Method::DeleteBefore | Method::ExpireAll => {
                Self::Bulk(BulkResult {
                    affected: Affected::read(p, bulk_key(method))?,
                    signature,
                })
            }
            Method::Expire => {
                let unchanged = match p.item("unchanged").map(|i| i.params()) {
                    None => None,
                    Some(None) => return Err(response("unchanged")),
                    Some(Some(d)) => Some(
                        d.entries()
                            .into_iter()
                            .map(|(h, e)| {
                                let hash = MessageHash::parse(h).ok_or(response("unchanged"))?;
                                let exp = e
                                    .int()
                                    .and_then(|v| u64::try_from(v).ok())
                                    .ok_or(response("unchanged"))?;
                                Ok((hash, exp))
                            })
                            .collect::<Result<_, ParseError>>()?,
                    ),
                };
                let expiry = match p.list("expiry") {
                    Some(_) => AppliedExpiry::PerMessage(
                        p.timestamp_list("expiry")?.ok_or(response("expiry"))?,
                    ),
                    None => AppliedExpiry::Single(p.unsigned("expiry")?.ok_or(response("expiry"))?),
                };
                Self::Expire(ExpireResult {
                    updated: hashes_at(p, "updated")?,
                    unchanged,
                    expiry,
                    signature,
                })
            }
            Method::RevokeSubaccount | Method::UnrevokeSubaccount => {
                Self::Revocation(RevocationResult {
                    count: p.unsigned("count")?,
                    signature,
                })
            }
            _ => return Err(response("not a recursive method")),
        })
    }
}

/// The answer to a recursive request: each swarm member's own result, keyed by its Ed25519
/// key. HTTP status 200 unless every entry failed (then 500).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SwarmResponse {
    /// The method answered.
    pub method: Method,
    /// Per node.
    pub swarm: BTreeMap<Ed25519PublicKey, NodeOutcome>,
    /// `store` only: the hash again at top level (compatibility).
    pub hash: Option<MessageHash>,
    /// `t`, `hf`.
    pub meta: Meta,
}

impl SwarmResponse {
    /// 200 if any node succeeded, else 500.
    #[must_use]
    pub fn status(&self) -> u16 {
        if self.swarm.values().any(|o| matches!(o, NodeOutcome::Ok(_))) {
            200
        } else {
            500
        }
    }

    /// Encodes the response.
    #[must_use]
    pub fn encode(&self, encoding: Encoding) -> Vec<u8> {
        let mut swarm = DocMap::new();
        for (node, outcome) in &self.swarm {
            let doc = match outcome {
                NodeOutcome::Ok(r) => r.doc(self.method),
                NodeOutcome::Failed(f) => DocMap::new()
                    .put("failed", Doc::Bool(true))
                    .put_opt("timeout", f.timeout.then_some(Doc::Bool(true)))
                    .put_opt("code", f.code.map(|c| Doc::Str(c.to_string())))
                    .put_opt("reason", f.reason.clone().map(Doc::Str))
                    .put_opt(
                        "bad_peer_response",
                        f.bad_peer_response.then_some(Doc::Bool(true)),
                    )
                    .put_opt("query_failure", f.query_failure.then_some(Doc::Bool(true)))
                    .done(),
            };
            swarm.put(&hex::encode(node.0), doc);
        }
        let mut out = DocMap::new();
        out.put("swarm", swarm.done());
        out.put_opt("hash", self.hash.map(|h| Doc::Str(h.to_string())));
        self.meta.write(&mut out);
        encode(&out.done(), encoding)
    }

    /// Parses the response to a recursive `method`.
    pub fn parse(method: Method, body: &[u8], encoding: Encoding) -> Result<Self, ParseError> {
        decode(body, encoding, |p| {
            let entries = p
                .item("swarm")
                .and_then(Item::params)
                .ok_or(response("swarm"))?;
            let mut swarm = BTreeMap::new();
            for (key, value) in entries.entries() {
                let node = decode_hex::<32>(key)
                    .map(Ed25519PublicKey)
                    .ok_or(response("swarm key"))?;
                let entry = value.params().ok_or(response("swarm entry"))?;
                let outcome = if entry.has("failed") {
                    NodeOutcome::Failed(Failure {
                        timeout: entry.bool("timeout")?.unwrap_or(false),
                        code: entry.item("code").and_then(|c| {
                            c.int()
                                .or_else(|| {
                                    c.bytes()
                                        .and_then(|b| core::str::from_utf8(b).ok()?.parse().ok())
                                })
                                .and_then(|v| u16::try_from(v).ok())
                        }),
                        reason: entry
                            .bytes("reason")?
                            .map(|r| String::from_utf8_lossy(r).into_owned()),
                        bad_peer_response: entry.bool("bad_peer_response")?.unwrap_or(false),
                        query_failure: entry.bool("query_failure")?.unwrap_or(false),
                    })
                } else {
                    NodeOutcome::Ok(NodeResult::read(method, entry)?)
                };
                swarm.insert(node, outcome);
            }
            let hash = match p.item("hash") {
                Some(i) => Some(hash_item(i, "hash")?),
                None => None,
            };
            Ok(Self {
                method,
                swarm,
                hash,
                meta: Meta::read(p)?,
            })
        })
    }
}

/// One message of a `retrieve` answer. `Debug` shows the data's length, not the data.
#[derive(Clone, PartialEq, Eq)]
pub struct RetrievedMessage {
    /// The hash.
    pub hash: MessageHash,
    /// The message timestamp, ms.
    pub timestamp: u64,
    /// The expiry, ms (the key is `expiration`).
    pub expiration: u64,
    /// The data.
    pub data: Vec<u8>,
}

impl core::fmt::Debug for RetrievedMessage {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("RetrievedMessage")
            .field("hash", &self.hash)
            .field("timestamp", &self.timestamp)
            .field("expiration", &self.expiration)
            .field("data_len", &self.data.len())
            .finish()
    }
}

/// The answer to `retrieve`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetrieveResponse {
    /// The messages, in storage order.
    pub messages: Vec<RetrievedMessage>,
    /// Whether more messages were left out by the limits.
    pub more: bool,
    /// `t`, `hf`.
    pub meta: Meta,
}

impl RetrieveResponse {
    /// Encodes the response.
    #[must_use]
    pub fn encode(&self, encoding: Encoding) -> Vec<u8> {
        let messages = self
            .messages
            .iter()
            .map(|m| {
                DocMap::new()
                    .put("hash", Doc::Str(m.hash.to_string()))
                    .put("timestamp", Doc::uint(m.timestamp))
                    .put("expiration", Doc::uint(m.expiration))
                    .put("data", Doc::Bin(m.data.clone()))
                    .done()
            })
            .collect();
        let mut out = DocMap::new();
        out.put("messages", Doc::List(messages));
        out.put("more", Doc::Bool(self.more));
        self.meta.write(&mut out);
        encode(&out.done(), encoding)
    }

    /// Parses the response.
    pub fn parse(body: &[u8], encoding: Encoding) -> Result<Self, ParseError> {
        decode(body, encoding, |p| {
            let messages = p
                .list("messages")
                .ok_or(response("messages"))?
                .into_iter()
                .map(|i| {
                    let m = i.params().ok_or(response("messages"))?;
                    let raw = m.bytes("data")?.ok_or(response("data"))?;
                    let data = if m.is_json() {
                        crate::encoding::decode_base64(raw).ok_or(response("data"))?
                    } else {
                        raw.to_vec()
                    };
                    Ok(RetrievedMessage {
                        hash: m
                            .item("hash")
                            .ok_or(response("hash"))
                            .and_then(|h| hash_item(h, "hash"))?,
                        timestamp: m.unsigned("timestamp")?.ok_or(response("timestamp"))?,
                        expiration: m.unsigned("expiration")?.ok_or(response("expiration"))?,
                        data,
                    })
                })
                .collect::<Result<_, ParseError>>()?;
            Ok(Self {
                messages,
                more: p.bool("more")?.unwrap_or(false),
                meta: Meta::read(p)?,
            })
        })
    }
}

/// The answer to `info`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InfoResponse {
    /// The node software version.
    pub version: [u16; 3],
    /// The node's clock, ms.
    pub timestamp: u64,
    /// `t`, `hf`.
    pub meta: Meta,
}

impl InfoResponse {
    /// Encodes the response.
    #[must_use]
    pub fn encode(&self, encoding: Encoding) -> Vec<u8> {
        let mut out = DocMap::new();
        out.put(
            "version",
            Doc::List(self.version.iter().map(|v| Doc::Int((*v).into())).collect()),
        );
        out.put("timestamp", Doc::uint(self.timestamp));
        self.meta.write(&mut out);
        encode(&out.done(), encoding)
    }

    /// Parses the response.
    pub fn parse(body: &[u8], encoding: Encoding) -> Result<Self, ParseError> {
        decode(body, encoding, |p| {
            Ok(Self {
                version: p
                    .list("version")
                    .and_then(|l| u16_array::<3>(&l))
                    .ok_or(response("version"))?,
                timestamp: p.unsigned("timestamp")?.ok_or(response("timestamp"))?,
                meta: Meta::read(p)?,
            })
        })
    }
}

/// One node of a `get_swarm` answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SwarmNode {
    /// Its Ed25519 key (its identity).
    pub pubkey_ed25519: Ed25519PublicKey,
    /// Its X25519 key (onion encryption).
    pub pubkey_x25519: [u8; 32],
    /// Its public IPv4 address.
    pub ip: Ipv4Addr,
    /// HTTPS port.
    pub port_https: u16,
    /// OMQ / QUIC port.
    pub port_omq: u16,
}

/// The answer to `get_swarm`, and the body of a 421 (wrong swarm).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GetSwarmResponse {
    /// The swarm's nodes.
    pub snodes: Vec<SwarmNode>,
    /// The swarm id (`ffffffffffffffff` when none is known).
    pub swarm_id: u64,
    /// `t`, `hf`.
    pub meta: Meta,
}

impl GetSwarmResponse {
    /// Encodes the response. Per node: `pubkey_ed25519`, `pubkey_legacy` (the Ed25519 key
    /// again: Sotto nodes have no separate legacy key), `pubkey_x25519` (hex), `ip`, `port`
    /// (the HTTPS port as a string), `port_https`, `port_omq`, `port_quic`. The swarm id is
    /// lowercase hex without leading zeros.
    #[must_use]
    pub fn encode(&self, encoding: Encoding) -> Vec<u8> {
        let snodes = self
            .snodes
            .iter()
            .map(|n| {
                DocMap::new()
                    .put("pubkey_ed25519", Doc::Str(hex::encode(n.pubkey_ed25519.0)))
                    .put("pubkey_legacy", Doc::Str(hex::encode(n.pubkey_ed25519.0)))
                    .put("pubkey_x25519", Doc::Str(hex::encode(n.pubkey_x25519)))
                    .put("ip", Doc::Str(n.ip.to_string()))
                    .put("port", Doc::Str(n.port_https.to_string()))
                    .put("port_https", Doc::Int(n.port_https.into()))
                    .put("port_omq", Doc::Int(n.port_omq.into()))
                    .put("port_quic", Doc::Int(n.port_omq.into()))
                    .done()
            })
            .collect();
        let mut out = DocMap::new();
        out.put("snodes", Doc::List(snodes));
        out.put("swarm", Doc::Str(format!("{:x}", self.swarm_id)));
        self.meta.write(&mut out);
        encode(&out.done(), encoding)
    }

    /// Parses the response.
    pub fn parse(body: &[u8], encoding: Encoding) -> Result<Self, ParseError> {
        decode(body, encoding, |p| {
            let swarm = p.bytes("swarm")?.ok_or(response("swarm"))?;
            let swarm_id = core::str::from_utf8(swarm)
                .ok()
                .filter(|s| !s.is_empty() && s.len() <= 16)
                .and_then(|s| u64::from_str_radix(s, 16).ok())
                .ok_or(response("swarm"))?;
            let snodes = p
                .list("snodes")
                .ok_or(response("snodes"))?
                .into_iter()
                .map(|i| {
                    let n = i.params().ok_or(response("snodes"))?;
                    let key = |name: &'static str| -> Result<[u8; 32], ParseError> {
                        n.bytes(name)?
                            .and_then(decode_hex::<32>)
                            .ok_or(response(name))
                    };
                    let port = |name: &'static str| -> Result<u16, ParseError> {
                        n.item(name)
                            .and_then(|i| i.int())
                            .and_then(|v| u16::try_from(v).ok())
                            .ok_or(response(name))
                    };
                    Ok(SwarmNode {
                        pubkey_ed25519: Ed25519PublicKey(key("pubkey_ed25519")?),
                        pubkey_x25519: key("pubkey_x25519")?,
                        ip: n
                            .bytes("ip")?
                            .and_then(|b| core::str::from_utf8(b).ok()?.parse().ok())
                            .ok_or(response("ip"))?,
                        port_https: port("port_https")?,
                        port_omq: port("port_omq")?,
                    })
                })
                .collect::<Result<_, ParseError>>()?;
            Ok(Self {
                snodes,
                swarm_id,
                meta: Meta::read(p)?,
            })
        })
    }
}

/// The answer to `get_expiries`: the expiry of each requested message that exists.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GetExpiriesResponse {
    /// Hash → expiry, ms.
    pub expiries: BTreeMap<MessageHash, u64>,
}

impl GetExpiriesResponse {
    /// Encodes the response.
    #[must_use]
    pub fn encode(&self, encoding: Encoding) -> Vec<u8> {
        let map = self
            .expiries
            .iter()
            .map(|(h, e)| (h.to_string(), Doc::uint(*e)))
            .collect();
        encode(
            &DocMap::new().put("expiries", Doc::Map(map)).done(),
            encoding,
        )
    }

    /// Parses the response.
    pub fn parse(body: &[u8], encoding: Encoding) -> Result<Self, ParseError> {
        decode(body, encoding, |p| {
            let entries = p
                .item("expiries")
                .and_then(Item::params)
                .ok_or(response("expiries"))?;
            let expiries = entries
                .entries()
                .into_iter()
                .map(|(h, e)| {
                    let hash = MessageHash::parse(h).ok_or(response("expiries"))?;
                    let exp = e
                        .int()
                        .and_then(|v| u64::try_from(v).ok())
                        .ok_or(response("expiries"))?;
                    Ok((hash, exp))
                })
                .collect::<Result<_, ParseError>>()?;
            Ok(Self { expiries })
        })
    }
}

/// The answer to `oxend_request`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OxendResponse {
    /// The directory's JSON result.
    pub result: Json,
    /// `t`, `hf`.
    pub meta: Meta,
}

impl OxendResponse {
    /// Encodes the response (in bencode the result is a JSON string).
    #[must_use]
    pub fn encode(&self, encoding: Encoding) -> Vec<u8> {
        let mut out = DocMap::new();
        out.put("result", Doc::JsonText(self.result.clone()));
        self.meta.write(&mut out);
        encode(&out.done(), encoding)
    }

    /// Parses the response.
    pub fn parse(body: &[u8], encoding: Encoding) -> Result<Self, ParseError> {
        decode(body, encoding, |p| {
            let result = match (p, p.item("result")) {
                (Params::Json(m), Some(_)) => m.get("result").cloned().ok_or(response("result"))?,
                (Params::Bt(_), Some(i)) => i
                    .bytes()
                    .and_then(|b| serde_json::from_slice(b).ok())
                    .ok_or(response("result"))?,
                (_, None) => return Err(response("result")),
            };
            Ok(Self {
                result,
                meta: Meta::read(p)?,
            })
        })
    }
}

/// One subrequest's answer in a `batch` / `sequence`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubResponse {
    /// Its HTTP status.
    pub code: u16,
    /// Its body: the JSON response, or a string (error text, or base64 of binary bodies).
    pub body: Json,
}

/// The answer to `batch` / `sequence` (always 200 once parsed). JSON only.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BatchResponse {
    /// One per subrequest run, in order.
    pub results: Vec<SubResponse>,
}

impl BatchResponse {
    /// Encodes the response as JSON.
    #[must_use]
    pub fn to_json(&self) -> Vec<u8> {
        let results: Vec<Json> = self
            .results
            .iter()
            .map(|r| {
                let mut m = Map::new();
                m.insert("code".into(), Json::from(r.code));
                m.insert("body".into(), r.body.clone());
                Json::Object(m)
            })
            .collect();
        let mut top = Map::new();
        top.insert("results".into(), Json::Array(results));
        Json::Object(top).to_string().into_bytes()
    }

    /// Parses a JSON response.
    pub fn parse_json(body: &[u8]) -> Result<Self, ParseError> {
        let v: Json = serde_json::from_slice(body).map_err(|_| ParseError::Json)?;
        let results = v
            .get("results")
            .and_then(Json::as_array)
            .ok_or(response("results"))?
            .iter()
            .map(|r| {
                let code = r
                    .get("code")
                    .and_then(Json::as_u64)
                    .and_then(|c| u16::try_from(c).ok())
                    .ok_or(response("code"))?;
                let body = r.get("body").cloned().ok_or(response("body"))?;
                Ok(SubResponse { code, body })
            })
            .collect::<Result<_, ParseError>>()?;
        Ok(Self { results })
    }
}
