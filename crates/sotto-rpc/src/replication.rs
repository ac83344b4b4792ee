//! The bulk replication blob between swarm members (spec §3.2, `sn.data`): a version byte
//! `0x01` and a bencoded list of messages, each `[33-byte account, hash, timestamp, expiry,
//! data]` with the namespace appended as a sixth element by newer nodes.

use sotto_bencode::Value;
use thiserror::Error;

use crate::{AccountId, Namespace};

/// The version byte.
pub const BLOB_VERSION: u8 = 0x01;
/// Blobs are cut to stay under this many bytes.
pub const MAX_BLOB_LEN: usize = 9_000_000;

/// Whether messages carry their namespace (newer nodes) or not (older nodes store everything
/// they receive in namespace 0).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlobFormat {
    /// Five elements per message.
    V1,
    /// Six elements: the namespace appended.
    V1WithNamespace,
}

/// One replicated message. `Debug` shows the data's length, not the data.
#[derive(Clone, PartialEq, Eq)]
pub struct ReplicatedMessage {
    /// The owner.
    pub account: AccountId,
    /// The hash as stored (43 base64 characters from real nodes; kept as bytes, as sent).
    pub hash: Vec<u8>,
    /// Message timestamp, ms.
    pub timestamp: u64,
    /// Expiry, ms.
    pub expiry: u64,
    /// The data.
    pub data: Vec<u8>,
    /// The namespace (0 when the blob carries none).
    pub namespace: Namespace,
}

impl core::fmt::Debug for ReplicatedMessage {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("ReplicatedMessage")
            .field("account", &self.account)
            .field("hash", &String::from_utf8_lossy(&self.hash))
            .field("timestamp", &self.timestamp)
            .field("expiry", &self.expiry)
            .field("data_len", &self.data.len())
            .field("namespace", &self.namespace)
            .finish()
    }
}

/// Why bytes are not a replication blob.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum BlobError {
    /// Empty input.
    #[error("replication blob: empty")]
    Empty,
    /// A version byte other than 0x01.
    #[error("replication blob: unknown version {0:#04x}")]
    Version(u8),
    /// The rest is not canonical bencode.
    #[error("replication blob: {0}")]
    Bencode(#[from] sotto_bencode::Error),
    /// The bencoded value does not have the blob's shape.
    #[error("replication blob: message {index}: {what}")]
    Shape {
        /// Which message (0-based).
        index: usize,
        /// What is wrong.
        what: &'static str,
    },
}

impl ReplicatedMessage {
    fn to_value(&self, format: BlobFormat) -> Value {
        let mut items = vec![
            Value::Bytes(self.account.to_bytes().to_vec()),
            Value::Bytes(self.hash.clone()),
            Value::Int(i64::try_from(self.timestamp).unwrap_or(i64::MAX)),
            Value::Int(i64::try_from(self.expiry).unwrap_or(i64::MAX)),
            Value::Bytes(self.data.clone()),
        ];
        if format == BlobFormat::V1WithNamespace {
            items.push(Value::Int(self.namespace.get().into()));
        }
        Value::List(items)
    }

    fn from_value(index: usize, value: &Value) -> Result<Self, BlobError> {
        let shape = |what| BlobError::Shape { index, what };
        let (account, hash, timestamp, expiry, data, namespace) = match value.as_list() {
            Some([a, h, t, e, d]) => (a, h, t, e, d, None),
            Some([a, h, t, e, d, n]) => (a, h, t, e, d, Some(n)),
            _ => return Err(shape("not a list of 5 or 6 elements")),
        };
        let account: &[u8; 33] = account
            .as_bytes()
            .and_then(|b| b.try_into().ok())
            .ok_or(shape("account is not 33 bytes"))?;
        let millis = |v: &Value, what| {
            v.as_int()
                .and_then(|i| u64::try_from(i).ok())
                .ok_or(shape(what))
        };
        let namespace = match namespace {
            None => Namespace::DEFAULT,
            Some(n) => n
                .as_int()
                .and_then(|i| i16::try_from(i).ok())
                .map(Namespace::new)
                .ok_or(shape("namespace is not a 16-bit integer"))?,
        };
        Ok(Self {
            account: AccountId::from_bytes(account),
            hash: hash.as_bytes().ok_or(shape("hash is not bytes"))?.to_vec(),
            timestamp: millis(timestamp, "timestamp is not a non-negative integer")?,
            expiry: millis(expiry, "expiry is not a non-negative integer")?,
            data: data.as_bytes().ok_or(shape("data is not bytes"))?.to_vec(),
            namespace,
        })
    }
}

/// Encodes one blob holding every message.
#[must_use]
pub fn encode_blob(messages: &[ReplicatedMessage], format: BlobFormat) -> Vec<u8> {
    let list = Value::List(messages.iter().map(|m| m.to_value(format)).collect());
    let mut out = vec![BLOB_VERSION];
    sotto_bencode::encode_into(&list, &mut out);
    out
}

/// Encodes messages into as many blobs as needed to keep each under `max_len` bytes (use
/// [`MAX_BLOB_LEN`]); a message too large for any blob gets a blob of its own.
#[must_use]
pub fn encode_blobs(
    messages: &[ReplicatedMessage],
    format: BlobFormat,
    max_len: usize,
) -> Vec<Vec<u8>> {
    // Version byte plus the list's `l` and `e`.
    const FRAME: usize = 3;
    let mut blobs = Vec::new();
    let mut current: Vec<u8> = Vec::new();
    for m in messages {
        let encoded = sotto_bencode::encode(&m.to_value(format));
        if !current.is_empty() && current.len() + encoded.len() + FRAME >= max_len {
            blobs.push(frame(&current));
            current.clear();
        }
        current.extend_from_slice(&encoded);
    }
    if !current.is_empty() {
        blobs.push(frame(&current));
    }
    blobs
}

fn frame(items: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(items.len() + 3);
    out.extend_from_slice(&[BLOB_VERSION, b'l']);
    out.extend_from_slice(items);
    out.push(b'e');
    out
}

/// Parses a blob (either format; messages may mix them).
pub fn parse_blob(blob: &[u8]) -> Result<Vec<ReplicatedMessage>, BlobError> {
    let (&version, rest) = blob.split_first().ok_or(BlobError::Empty)?;
    if version != BLOB_VERSION {
        return Err(BlobError::Version(version));
    }
    let value = sotto_bencode::decode(rest)?;
    let list = value.as_list().ok_or(BlobError::Shape {
        index: 0,
        what: "the blob is not a list",
    })?;
    list.iter()
        .enumerate()
        .map(|(i, v)| ReplicatedMessage::from_value(i, v))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(ns: i16, data_len: usize) -> ReplicatedMessage {
        ReplicatedMessage {
            account: AccountId::new(5, [7; 32]),
            hash: b"h".repeat(43),
            timestamp: 1_700_000_000_000,
            expiry: 1_700_000_100_000,
            data: vec![9; data_len],
            namespace: Namespace::new(ns),
        }
    }

    #[test]
    fn round_trips_and_formats() {
        let ms = vec![msg(-10, 3), msg(0, 0), msg(32767, 5)];
        let blob = encode_blob(&ms, BlobFormat::V1WithNamespace);
        assert_eq!(parse_blob(&blob).unwrap(), ms);
        let old = parse_blob(&encode_blob(&ms, BlobFormat::V1)).unwrap();
        assert!(old.iter().all(|m| m.namespace == Namespace::DEFAULT));
        assert_eq!(
            parse_blob(&encode_blob(&[], BlobFormat::V1)).unwrap(),
            vec![]
        );
    }

    #[test]
    fn rejects() {
        assert_eq!(parse_blob(b""), Err(BlobError::Empty));
        assert_eq!(parse_blob(b"\x02le"), Err(BlobError::Version(2)));
        assert!(matches!(parse_blob(b"\x01le0"), Err(BlobError::Bencode(_))));
        assert!(matches!(
            parse_blob(b"\x01i1e"),
            Err(BlobError::Shape { .. })
        ));
        assert!(matches!(
            parse_blob(b"\x01llee"),
            Err(BlobError::Shape { index: 0, .. })
        ));
        let mut m = msg(0, 1).to_value(BlobFormat::V1WithNamespace);
        if let Value::List(items) = &mut m {
            items[5] = Value::Int(40_000);
        }
        let bad = [vec![1, b'l'], sotto_bencode::encode(&m), vec![b'e']].concat();
        assert!(matches!(parse_blob(&bad), Err(BlobError::Shape { .. })));
    }

    #[test]
    fn splits_under_the_limit() {
        let ms: Vec<_> = (0..10).map(|_| msg(1, 1000)).collect();
        let one = encode_blob(&ms, BlobFormat::V1WithNamespace);
        assert_eq!(
            encode_blobs(&ms, BlobFormat::V1WithNamespace, MAX_BLOB_LEN),
            vec![one]
        );
        let limit = 3500;
        let blobs = encode_blobs(&ms, BlobFormat::V1WithNamespace, limit);
        assert!(blobs.len() > 1);
        let mut back = Vec::new();
        for b in &blobs {
            assert!(b.len() < limit, "{}", b.len());
            back.extend(parse_blob(b).unwrap());
        }
        assert_eq!(back, ms);
    }
}
