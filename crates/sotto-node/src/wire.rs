//! Bodies of the node-to-node endpoints (besides the onion frame, which is `sotto-onion`'s).
//!
//! - `POST /sn/storage_cc`: a recursive request forwarded to a swarm peer, as the storage
//!   server's two OxenMQ parts (spec §3.1) in one bencoded list:
//!   `l <method name> <bencoded params dict> e`. The answer is the peer's own result
//!   (bencoded) or an error status with a text body.
//! - `POST /sn/storage_batch`: recursive requests forwarded to a swarm peer together, executed
//!   there in order: the bencoded list `l <forwarded> <forwarded> … e` of at most
//!   [`MAX_BATCH_ITEMS`] byte strings, each a `/sn/storage_cc` body. The answer (200) is
//!   `l (l i<status>e <body> e) … e`, one entry per request in order, each what
//!   `/sn/storage_cc` would have answered for that request alone ([`BatchAnswer`]). A
//!   refusal of the whole batch (authentication, not a swarm peer) is an error status with a
//!   text body, as for `/sn/storage_cc`.
//! - `POST /sn/sync`: catch-up. JSON `{"lower", "upper", "after_row", "max_bytes"}` asks for
//!   the messages whose owners lie in the swarm-space range `(lower, upper]` stored after row
//!   `after_row`; the answer is a replication blob (`sotto_rpc::replication`, with namespaces)
//!   and the header `X-Sotto-Next-Row` to resume from.
//! - `POST /sn/deleted`: catch-up of deletes. JSON `{"hashes": [...]}` (at most
//!   [`MAX_DELETED_QUERY`] message hashes) asks which of them the peer deleted; the answer is
//!   `{"deleted": [{"hash": …, "proof": i}, …], "proofs": [base64, …]}` ([`DeletedAnswer`]):
//!   each deleted hash with the owner's signed request that deleted it (a [`Forwarded`]
//!   request, each once), which the asking node verifies before it deletes anything.
//! - `POST /sn/revocations`: catch-up of subaccount revocations. JSON `{"lower", "upper",
//!   "after"}` asks for the owners' signed `revoke_subaccount` / `unrevoke_subaccount`
//!   requests that the peer holds as the newest for some token of an account in `(lower,
//!   upper]`, after its row `after`; the answer is `{"proofs": [base64, …], "next": row}`
//!   ([`RevocationsAnswer`]: at most [`MAX_REVOCATIONS_PAGE`] [`Forwarded`] requests; none
//!   when there are no more), which the asking node verifies before it applies any.
//!
//! A node serves `/sn/sync`, `/sn/deleted` and `/sn/revocations` only for ranges the sender is entitled to: its
//! own swarm's range under the current list, where this node's swarm holds (or held, before
//! the list changed) that range. A whole-space range (`lower == upper`) is always refused; a
//! single swarm asks for its range in two halves.

use serde::{Deserialize, Serialize};
use sotto_bencode::Value;
use sotto_store::DeletionProofs;
use thiserror::Error;

/// The header carrying the row to resume a sync from.
pub const NEXT_ROW_HEADER: &str = "x-sotto-next-row";
/// The most data one sync answer carries.
pub const MAX_SYNC_BYTES: u64 = 4 << 20;
/// The most hashes one `/sn/deleted` query may ask about.
pub const MAX_DELETED_QUERY: usize = 1000;
/// The longest message hash accepted in a `/sn/deleted` query (client hashes are 43).
const MAX_HASH_LEN: usize = 128;
/// The longest method name accepted in a forwarded request.
const MAX_METHOD_LEN: usize = 64;

/// Why a node-to-node body was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum WireError {
    /// The forwarded request is not a bencoded list of a method name and a params dict.
    #[error("forwarded request: {0}")]
    Forward(&'static str),
    /// The sync request is not the expected JSON object.
    #[error("sync request: {0}")]
    Sync(String),
    /// The deleted-hashes query is not the expected JSON object.
    #[error("deleted query: {0}")]
    Deleted(String),
    /// The `/sn/storage_batch` body is not a list of forwarded requests.
    #[error("forwarded batch: {0}")]
    Batch(&'static str),
    /// The `/sn/storage_batch` answer is not a list of statuses and bodies.
    #[error("batch answer: {0}")]
    BatchAnswer(&'static str),
    /// The `/sn/revocations` query or answer is not the expected JSON object.
    #[error("revocations: {0}")]
    Revocations(String),
    /// The next-row header is not a non-negative integer.
    #[error("sync answer: malformed {NEXT_ROW_HEADER} header")]
    NextRow,
}

/// A recursive request as forwarded between swarm peers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Forwarded {
    /// The method name.
    pub method: String,
    /// The bencoded parameter dictionary.
    pub params: Vec<u8>,
}

impl Forwarded {
    /// `l <method> <params> e`.
    #[must_use]
    pub fn encode(&self) -> Vec<u8> {
        sotto_bencode::encode(&Value::List(vec![
            Value::from(self.method.as_str()),
            Value::from(self.params.as_slice()),
        ]))
    }

    /// Reads `l <method> <params> e`; the params must start like a bencoded dictionary (the
    /// RPC parser reads them).
    pub fn parse(body: &[u8]) -> Result<Self, WireError> {
        let value = sotto_bencode::decode(body).map_err(|_| WireError::Forward("not bencode"))?;
        let Some([method, params]) = value.as_list() else {
            return Err(WireError::Forward("not a list of two elements"));
        };
        let method = method
            .as_str()
            .filter(|m| !m.is_empty() && m.len() <= MAX_METHOD_LEN)
            .ok_or(WireError::Forward("method is not a short UTF-8 string"))?;
        let params = params
            .as_bytes()
            .filter(|p| p.first() == Some(&b'd'))
            .ok_or(WireError::Forward("params are not a bencoded dictionary"))?;
        Ok(Self {
            method: method.to_owned(),
            params: params.to_vec(),
        })
    }
}

/// A catch-up request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SyncRequest {
    /// The range's lower end (exclusive).
    pub lower: u64,
    /// The range's upper end (inclusive); `lower == upper` is the whole space.
    pub upper: u64,
    /// Return rows after this one (0 = from the start).
    pub after_row: i64,
    /// Data bytes wanted (capped at [`MAX_SYNC_BYTES`]; at least one message is returned).
    pub max_bytes: u64,
}

impl SyncRequest {
    /// Reads the JSON body.
    pub fn parse(body: &[u8]) -> Result<Self, WireError> {
        let req: Self = serde_json::from_slice(body).map_err(|e| WireError::Sync(e.to_string()))?;
        if req.after_row < 0 {
            return Err(WireError::Sync("after_row is negative".to_owned()));
        }
        Ok(req)
    }

    /// Writes the JSON body.
    #[must_use]
    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }
}

/// A `/sn/deleted` query or answer: message hashes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Hashes {
    /// In a query: the hashes asked about. In an answer: the ones deleted.
    #[serde(alias = "deleted")]
    pub hashes: Vec<String>,
}

impl Hashes {
    /// Reads a query or answer, refusing more than [`MAX_DELETED_QUERY`] hashes or any longer
    /// than a message hash can be.
    pub fn parse(body: &[u8]) -> Result<Self, WireError> {
        let q: Self =
            serde_json::from_slice(body).map_err(|e| WireError::Deleted(e.to_string()))?;
        if q.hashes.len() > MAX_DELETED_QUERY {
            return Err(WireError::Deleted(format!(
                "{} hashes; at most {MAX_DELETED_QUERY}",
                q.hashes.len()
            )));
        }
        if q.hashes
            .iter()
            .any(|h| h.is_empty() || h.len() > MAX_HASH_LEN)
        {
            return Err(WireError::Deleted("a hash is empty or too long".to_owned()));
        }
        Ok(q)
    }

    /// Writes the JSON body.
    #[must_use]
    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }
}

/// The largest proof accepted in a `/sn/deleted` answer (a delete request listing many
/// hashes, bencoded).
pub const MAX_PROOF_LEN: usize = 256 << 10;

/// One entry of a `/sn/deleted` answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeletedEntry {
    /// The deleted message's hash.
    pub hash: String,
    /// The index in [`DeletedAnswer::proofs`] of the owner's signed request that deleted it.
    pub proof: usize,
}

/// A `/sn/deleted` answer: the hashes asked about that the node deleted, each pointing to the
/// owner's signed request that deleted it (as forwarded between nodes, base64; each request
/// once, however many hashes it deleted).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeletedAnswer {
    /// The entries.
    pub deleted: Vec<DeletedEntry>,
    /// The proofs, base64.
    pub proofs: Vec<String>,
}

impl DeletedAnswer {
    /// The answer for these deletes.
    #[must_use]
    pub fn new(found: &DeletionProofs) -> Self {
        use base64::Engine as _;
        Self {
            deleted: found
                .hashes
                .iter()
                .map(|(hash, proof)| DeletedEntry {
                    hash: hash.clone(),
                    proof: *proof,
                })
                .collect(),
            proofs: found
                .proofs
                .iter()
                .map(|p| base64::engine::general_purpose::STANDARD.encode(p))
                .collect(),
        }
    }

    /// Reads an answer: at most [`MAX_DELETED_QUERY`] entries and as many proofs, each proof
    /// base64 of at most [`MAX_PROOF_LEN`] bytes, every index pointing to a proof.
    pub fn parse(body: &[u8]) -> Result<DeletionProofs, WireError> {
        use base64::Engine as _;
        let a: Self =
            serde_json::from_slice(body).map_err(|e| WireError::Deleted(e.to_string()))?;
        if a.deleted.len() > MAX_DELETED_QUERY || a.proofs.len() > MAX_DELETED_QUERY {
            return Err(WireError::Deleted("too many entries".to_owned()));
        }
        let proofs = a
            .proofs
            .iter()
            .map(|p| {
                if p.len() > MAX_PROOF_LEN / 3 * 4 + 4 {
                    return Err(WireError::Deleted("a proof is too long".to_owned()));
                }
                base64::engine::general_purpose::STANDARD
                    .decode(p)
                    .map_err(|_| WireError::Deleted("a proof is not base64".to_owned()))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let hashes = a
            .deleted
            .into_iter()
            .map(|e| {
                if e.hash.is_empty() || e.hash.len() > MAX_HASH_LEN || e.proof >= proofs.len() {
                    return Err(WireError::Deleted("a malformed entry".to_owned()));
                }
                Ok((e.hash, e.proof))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(DeletionProofs { hashes, proofs })
    }

    /// Writes the JSON body.
    #[must_use]
    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }
}

/// Reads the `X-Sotto-Next-Row` header value.
pub fn parse_next_row(value: &str) -> Result<i64, WireError> {
    let v = value.trim();
    if v.is_empty() || v.len() > 19 || !v.bytes().all(|b| b.is_ascii_digit()) {
        return Err(WireError::NextRow);
    }
    v.parse().map_err(|_| WireError::NextRow)
}

/// The most signed requests one `/sn/revocations` answer carries.
pub const MAX_REVOCATIONS_PAGE: usize = 64;

/// A `/sn/revocations` query.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RevocationsQuery {
    /// The range's lower end (exclusive).
    pub lower: u64,
    /// The range's upper end (inclusive); `lower == upper` (the whole space) is refused.
    pub upper: u64,
    /// Return requests after this row (0 = from the start).
    pub after: i64,
}

impl RevocationsQuery {
    /// Reads the JSON body.
    pub fn parse(body: &[u8]) -> Result<Self, WireError> {
        let q: Self =
            serde_json::from_slice(body).map_err(|e| WireError::Revocations(e.to_string()))?;
        if q.after < 0 {
            return Err(WireError::Revocations("after is negative".to_owned()));
        }
        Ok(q)
    }

    /// Writes the JSON body.
    #[must_use]
    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }
}

/// A `/sn/revocations` answer: signed revoke/unrevoke requests (as forwarded between nodes)
/// and the row to resume after.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RevocationsAnswer {
    /// The requests' bytes.
    pub proofs: Vec<Vec<u8>>,
    /// The row to ask after next.
    pub next: i64,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RevocationsJson {
    proofs: Vec<String>,
    next: i64,
}

impl RevocationsAnswer {
    /// Reads an answer: at most [`MAX_REVOCATIONS_PAGE`] proofs, each base64 of at most
    /// [`MAX_PROOF_LEN`] bytes, and a non-negative `next`.
    pub fn parse(body: &[u8]) -> Result<Self, WireError> {
        use base64::Engine as _;
        let a: RevocationsJson =
            serde_json::from_slice(body).map_err(|e| WireError::Revocations(e.to_string()))?;
        if a.proofs.len() > MAX_REVOCATIONS_PAGE {
            return Err(WireError::Revocations("too many proofs".to_owned()));
        }
        if a.next < 0 {
            return Err(WireError::Revocations("next is negative".to_owned()));
        }
        let proofs = a
            .proofs
            .iter()
            .map(|p| {
                if p.len() > MAX_PROOF_LEN / 3 * 4 + 4 {
                    return Err(WireError::Revocations("a proof is too long".to_owned()));
                }
                base64::engine::general_purpose::STANDARD
                    .decode(p)
                    .map_err(|_| WireError::Revocations("a proof is not base64".to_owned()))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            proofs,
            next: a.next,
        })
    }

    /// Writes the JSON body.
    #[must_use]
    pub fn to_json(&self) -> Vec<u8> {
        use base64::Engine as _;
        serde_json::to_vec(&RevocationsJson {
            proofs: self
                .proofs
                .iter()
                .map(|p| base64::engine::general_purpose::STANDARD.encode(p))
                .collect(),
            next: self.next,
        })
        .unwrap_or_default()
    }
}

/// The most requests one `/sn/storage_batch` body may carry.
pub const MAX_BATCH_ITEMS: usize = 256;
/// Bytes a batch adds around each forwarded request (its bencode length prefix), at most.
pub const BATCH_ITEM_OVERHEAD: usize = 8;

/// A `/sn/storage_batch` body: forwarded requests ([`Forwarded`] encodings, opaque here) to be
/// executed in order, as the bencoded list `l <forwarded> <forwarded> … e`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForwardBatch {
    /// The encoded forwarded requests, in order.
    pub items: Vec<Vec<u8>>,
}

impl ForwardBatch {
    /// `l <item> … e`, each item a byte string.
    #[must_use]
    pub fn encode(&self) -> Vec<u8> {
        sotto_bencode::encode(&Value::List(
            self.items
                .iter()
                .map(|i| Value::from(i.as_slice()))
                .collect(),
        ))
    }

    /// The size of [`ForwardBatch::encode`] with `items` of these lengths, at most.
    #[must_use]
    pub fn encoded_len(item_lens: impl IntoIterator<Item = usize>) -> usize {
        item_lens.into_iter().fold(2, |n, l| {
            n.saturating_add(l).saturating_add(BATCH_ITEM_OVERHEAD)
        })
    }

    /// Reads a batch: a non-empty list of at most [`MAX_BATCH_ITEMS`] byte strings.
    pub fn parse(body: &[u8]) -> Result<Self, WireError> {
        let value = sotto_bencode::decode(body).map_err(|_| WireError::Batch("not bencode"))?;
        let list = value.as_list().ok_or(WireError::Batch("not a list"))?;
        if list.is_empty() || list.len() > MAX_BATCH_ITEMS {
            return Err(WireError::Batch("empty or too many requests"));
        }
        let items = list
            .iter()
            .map(|v| v.as_bytes().map(<[u8]>::to_vec))
            .collect::<Option<Vec<_>>>()
            .ok_or(WireError::Batch("an item is not a byte string"))?;
        Ok(Self { items })
    }
}

/// One request's answer in a `/sn/storage_batch` answer: what `/sn/storage_cc` would have
/// answered for it alone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchItemAnswer {
    /// The status (200 with the bencoded result, or the error status with its text).
    pub status: u16,
    /// The body.
    pub body: Vec<u8>,
}

/// A `/sn/storage_batch` answer: one [`BatchItemAnswer`] per request, in order, as
/// `l (l i<status>e <body> e)… e`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchAnswer {
    /// The answers.
    pub items: Vec<BatchItemAnswer>,
}

impl BatchAnswer {
    /// Writes the answer.
    #[must_use]
    pub fn encode(&self) -> Vec<u8> {
        sotto_bencode::encode(&Value::List(
            self.items
                .iter()
                .map(|a| {
                    Value::List(vec![
                        Value::Int(i64::from(a.status)),
                        Value::from(a.body.as_slice()),
                    ])
                })
                .collect(),
        ))
    }

    /// Reads an answer of at most [`MAX_BATCH_ITEMS`] items, each a status from 100 to 599
    /// and a byte string.
    pub fn parse(body: &[u8]) -> Result<Self, WireError> {
        let value =
            sotto_bencode::decode(body).map_err(|_| WireError::BatchAnswer("not bencode"))?;
        let list = value
            .as_list()
            .filter(|l| l.len() <= MAX_BATCH_ITEMS)
            .ok_or(WireError::BatchAnswer(
                "not a list of at most the batch size",
            ))?;
        let items = list
            .iter()
            .map(|item| {
                let [status, body] = item.as_list()? else {
                    return None;
                };
                let status = status
                    .as_int()
                    .and_then(|s| u16::try_from(s).ok())
                    .filter(|s| (100..600).contains(s))?;
                Some(BatchItemAnswer {
                    status,
                    body: body.as_bytes()?.to_vec(),
                })
            })
            .collect::<Option<Vec<_>>>()
            .ok_or(WireError::BatchAnswer("an item is not a status and a body"))?;
        Ok(Self { items })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_round_trip_and_refuse_what_they_cannot_be() {
        let batch = ForwardBatch {
            items: vec![b"l5:store3:d1:xee".to_vec(), vec![0, 1, 2]],
        };
        let bytes = batch.encode();
        assert!(bytes.len() <= ForwardBatch::encoded_len(batch.items.iter().map(Vec::len)));
        assert_eq!(ForwardBatch::parse(&bytes).unwrap(), batch);
        assert!(ForwardBatch::parse(b"le").is_err(), "empty");
        assert!(ForwardBatch::parse(b"li1ee").is_err(), "not bytes");
        assert!(ForwardBatch::parse(b"d1:a1:be").is_err(), "not a list");
        let many = ForwardBatch {
            items: vec![b"x".to_vec(); MAX_BATCH_ITEMS + 1],
        };
        assert!(ForwardBatch::parse(&many.encode()).is_err(), "too many");

        let answer = BatchAnswer {
            items: vec![
                BatchItemAnswer {
                    status: 200,
                    body: b"d1:ai1ee".to_vec(),
                },
                BatchItemAnswer {
                    status: 403,
                    body: b"refused".to_vec(),
                },
            ],
        };
        assert_eq!(BatchAnswer::parse(&answer.encode()).unwrap(), answer);
        assert!(
            BatchAnswer::parse(b"lli99e0:ee").is_err(),
            "status below 100"
        );
        assert!(BatchAnswer::parse(b"lli200eee").is_err(), "no body");
        assert!(BatchAnswer::parse(b"l1:xe").is_err(), "not a pair");
    }

    #[test]
    fn deleted_queries() {
        let q = Hashes {
            hashes: vec!["a".into(), "b".into()],
        };
        assert_eq!(Hashes::parse(&q.to_json()).unwrap(), q);
        assert_eq!(Hashes::parse(br#"{"deleted":["a","b"]}"#).unwrap(), q);
        let many = Hashes {
            hashes: vec!["h".into(); MAX_DELETED_QUERY + 1],
        };
        assert!(Hashes::parse(&many.to_json()).is_err());
        for bad in [
            &br#"{"hashes":[""]}"#[..],
            br#"{"hashes":"a"}"#,
            br#"{"hashes":[],"x":1}"#,
            b"[",
        ] {
            assert!(
                Hashes::parse(bad).is_err(),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
        let long = format!(r#"{{"hashes":["{}"]}}"#, "h".repeat(MAX_HASH_LEN + 1));
        assert!(Hashes::parse(long.as_bytes()).is_err());
    }

    #[test]
    fn deleted_answers() {
        let found = DeletionProofs {
            hashes: vec![("h".into(), 0), ("i".into(), 0), ("j".into(), 1)],
            proofs: vec![b"proof".to_vec(), b"other".to_vec()],
        };
        let a = DeletedAnswer::new(&found);
        assert_eq!(a.proofs.len(), 2);
        assert_eq!(DeletedAnswer::parse(&a.to_json()).unwrap(), found);
        // A bare list of hashes (a claim without proofs) does not parse; nor an index
        // without its proof.
        for bad in [
            &br#"{"deleted":["h"]}"#[..],
            br#"{"deleted":[{"hash":"h"}],"proofs":[]}"#,
            br#"{"deleted":[{"hash":"h","proof":0}],"proofs":[]}"#,
            br#"{"deleted":[{"hash":"h","proof":0}],"proofs":["!!"]}"#,
            br#"{"deleted":[{"hash":"","proof":0}],"proofs":["AA=="]}"#,
        ] {
            assert!(
                DeletedAnswer::parse(bad).is_err(),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn forwarded_round_trip() {
        let f = Forwarded {
            method: "store".into(),
            params: b"d4:datai1ee".to_vec(),
        };
        assert_eq!(Forwarded::parse(&f.encode()).unwrap(), f);
        for bad in [
            &b""[..],
            b"le",
            b"l5:storee",
            b"l5:store3:abce",
            b"l0:2:dee",
            b"li1e2:dee",
            b"l5:store2:de1:xe",
            b"d1:ai1ee",
        ] {
            assert!(
                Forwarded::parse(bad).is_err(),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn sync_request() {
        let r = SyncRequest {
            lower: 1,
            upper: u64::MAX,
            after_row: 7,
            max_bytes: 100,
        };
        assert_eq!(SyncRequest::parse(&r.to_json()).unwrap(), r);
        assert!(
            SyncRequest::parse(br#"{"lower":1,"upper":2,"after_row":-1,"max_bytes":1}"#).is_err()
        );
        assert!(SyncRequest::parse(br#"{"lower":1,"upper":2,"after_row":0}"#).is_err());
        assert!(
            SyncRequest::parse(br#"{"lower":1,"upper":2,"after_row":0,"max_bytes":1,"x":1}"#)
                .is_err()
        );
        assert_eq!(parse_next_row("42"), Ok(42));
        for bad in ["", "-1", "+1", "1.0", "99999999999999999999"] {
            assert_eq!(parse_next_row(bad), Err(WireError::NextRow), "{bad}");
        }
    }
}
