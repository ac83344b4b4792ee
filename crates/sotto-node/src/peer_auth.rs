//! Node-to-node request signing: `X-Sotto-Node` (the sender's Ed25519 key, hex),
//! `X-Sotto-Timestamp` (ms) and `X-Sotto-Signature` (base64 Ed25519 signature over
//! [`signed_message`]: a context tag, the recipient's key, and the length-prefixed path,
//! timestamp and body). Naming the recipient means a signed request cannot be replayed to a
//! third node; the tag keeps these signatures apart from every other use of the node key.
//! The receiver checks that the sender is listed (and calls from its listed address) before
//! anything else, then the clock (±60 s) and the signature.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use sotto_crypto::{Ed25519PublicKey, Ed25519SecretKey, Signature};
use thiserror::Error;

/// The sender's Ed25519 key.
pub const NODE_HEADER: &str = "x-sotto-node";
/// The signing time, ms.
pub const TIMESTAMP_HEADER: &str = "x-sotto-timestamp";
/// The signature.
pub const SIGNATURE_HEADER: &str = "x-sotto-signature";
/// How far the signing time may be from the receiver's clock.
pub const TOLERANCE_MS: u64 = 60_000;

/// Why a node-to-node request is refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum PeerAuthError {
    /// A header is absent.
    #[error("missing header {0}")]
    Missing(&'static str),
    /// A header is present more than once.
    #[error("header {0} given more than once")]
    Duplicate(&'static str),
    /// A header's value does not parse.
    #[error("malformed header {0}")]
    Malformed(&'static str),
    /// The signing time is more than 60 s from the receiver's clock.
    #[error("node request timestamp too far from current time")]
    Stale,
    /// The signature does not verify.
    #[error("node request signature verification failed")]
    BadSignature,
    /// The sender is not in the receiver's current node list.
    #[error("sender is not a listed service node")]
    UnknownNode,
    /// The request does not come from the sender's listed address.
    #[error("request does not come from the sender's listed address")]
    WrongAddress,
}

/// The signed headers of one node-to-node request, parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PeerHeaders {
    /// The sender.
    pub node: Ed25519PublicKey,
    /// The signing time, ms.
    pub timestamp: u64,
    /// The signature.
    pub signature: Signature,
}

/// The context tag that starts every node-to-node request signature.
pub const CONTEXT: &[u8] = b"sotto-node-request-v1";

fn put(m: &mut Vec<u8>, part: &[u8]) {
    m.extend_from_slice(&u64::try_from(part.len()).unwrap_or(u64::MAX).to_be_bytes());
    m.extend_from_slice(part);
}

/// The bytes a request to `recipient` at `path` with `body`, signed at `timestamp`, signs:
/// `CONTEXT ‖ 0 ‖ recipient (32 bytes) ‖ len ‖ path ‖ len ‖ timestamp (decimal) ‖ len ‖ body`,
/// each `len` a big-endian u64.
#[must_use]
pub fn signed_message(
    recipient: &Ed25519PublicKey,
    path: &str,
    timestamp: u64,
    body: &[u8],
) -> Vec<u8> {
    let ts = timestamp.to_string();
    let mut m =
        Vec::with_capacity(CONTEXT.len() + 1 + 32 + 24 + path.len() + ts.len() + body.len());
    m.extend_from_slice(CONTEXT);
    m.push(0);
    m.extend_from_slice(&recipient.0);
    put(&mut m, path.as_bytes());
    put(&mut m, ts.as_bytes());
    put(&mut m, body);
    m
}

/// The three headers for a request to the node `recipient` at `path` with `body`, signed at
/// `now_ms`.
#[must_use]
pub fn sign(
    key: &Ed25519SecretKey,
    recipient: &Ed25519PublicKey,
    path: &str,
    now_ms: u64,
    body: &[u8],
) -> Vec<(String, String)> {
    let sig = key.sign(&signed_message(recipient, path, now_ms, body));
    vec![
        (NODE_HEADER.to_owned(), hex::encode(key.public_key().0)),
        (TIMESTAMP_HEADER.to_owned(), now_ms.to_string()),
        (SIGNATURE_HEADER.to_owned(), STANDARD.encode(sig.0)),
    ]
}

fn header<'a>(
    headers: &'a [(String, String)],
    name: &'static str,
) -> Result<&'a str, PeerAuthError> {
    let mut found = headers
        .iter()
        .filter(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str());
    let value = found.next().ok_or(PeerAuthError::Missing(name))?;
    if found.next().is_some() {
        return Err(PeerAuthError::Duplicate(name));
    }
    Ok(value.trim())
}

impl PeerHeaders {
    /// Reads the three headers (names in any case; each exactly once).
    pub fn parse(headers: &[(String, String)]) -> Result<Self, PeerAuthError> {
        let node = header(headers, NODE_HEADER)?;
        let node: [u8; 32] = (node.len() == 64)
            .then(|| hex::decode(node).ok())
            .flatten()
            .and_then(|v| v.try_into().ok())
            .ok_or(PeerAuthError::Malformed(NODE_HEADER))?;
        let ts = header(headers, TIMESTAMP_HEADER)?;
        let timestamp =
            (!ts.is_empty() && ts.len() <= 20 && ts.bytes().all(|b| b.is_ascii_digit()))
                .then(|| ts.parse::<u64>().ok())
                .flatten()
                .ok_or(PeerAuthError::Malformed(TIMESTAMP_HEADER))?;
        let sig = header(headers, SIGNATURE_HEADER)?;
        let signature = (sig.len() <= 88)
            .then(|| {
                STANDARD
                    .decode(sig)
                    .or_else(|_| STANDARD_NO_PAD.decode(sig))
                    .ok()
            })
            .flatten()
            .and_then(|b| Signature::from_slice(&b).ok())
            .ok_or(PeerAuthError::Malformed(SIGNATURE_HEADER))?;
        Ok(Self {
            node: Ed25519PublicKey(node),
            timestamp,
            signature,
        })
    }

    /// Checks the clock and the signature of a request to `recipient` (the receiving node's
    /// own key) at `path` with `body`. Whether the sender is listed is the caller's check, made
    /// first because it is cheap.
    pub fn verify(
        &self,
        recipient: &Ed25519PublicKey,
        path: &str,
        body: &[u8],
        now_ms: u64,
    ) -> Result<(), PeerAuthError> {
        if self.timestamp.abs_diff(now_ms) > TOLERANCE_MS {
            return Err(PeerAuthError::Stale);
        }
        self.node
            .verify(
                &signed_message(recipient, path, self.timestamp, body),
                &self.signature,
            )
            .map_err(|_| PeerAuthError::BadSignature)
    }

    /// Writes the headers back (for round-trip checks).
    #[must_use]
    pub fn to_headers(&self) -> Vec<(String, String)> {
        vec![
            (NODE_HEADER.to_owned(), hex::encode(self.node.0)),
            (TIMESTAMP_HEADER.to_owned(), self.timestamp.to_string()),
            (
                SIGNATURE_HEADER.to_owned(),
                STANDARD.encode(self.signature.0),
            ),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_parse_verify() {
        let key = Ed25519SecretKey::from_seed(&[3; 32]);
        let now = 1_700_000_000_000;
        let to = Ed25519SecretKey::from_seed(&[4; 32]).public_key();
        let third = Ed25519SecretKey::from_seed(&[5; 32]).public_key();
        let headers = sign(&key, &to, "/sn/sync", now, b"body");
        let parsed = PeerHeaders::parse(&headers).unwrap();
        assert_eq!(parsed.node, key.public_key());
        assert_eq!(PeerHeaders::parse(&parsed.to_headers()).unwrap(), parsed);
        parsed
            .verify(&to, "/sn/sync", b"body", now + 59_000)
            .unwrap();
        assert_eq!(
            parsed.verify(&to, "/sn/sync", b"body", now + 61_000),
            Err(PeerAuthError::Stale)
        );
        assert_eq!(
            parsed.verify(&to, "/sn/onion", b"body", now),
            Err(PeerAuthError::BadSignature)
        );
        assert_eq!(
            parsed.verify(&to, "/sn/sync", b"bodx", now),
            Err(PeerAuthError::BadSignature)
        );
        // Replayed to a third node: refused.
        assert_eq!(
            parsed.verify(&third, "/sn/sync", b"body", now),
            Err(PeerAuthError::BadSignature)
        );
        // Moving bytes between the path and the body changes the signed bytes.
        assert_ne!(
            signed_message(&to, "/sn/sync", now, b"body"),
            signed_message(&to, "/sn/syncb", now, b"ody")
        );
        // The signed bytes are not an unframed `path ‖ timestamp ‖ body`.
        assert!(!signed_message(&to, "/p", 1, b"x").starts_with(b"/p"));
        // Header names in another case are accepted.
        let upper: Vec<_> = headers
            .iter()
            .map(|(k, v)| (k.to_uppercase(), v.clone()))
            .collect();
        assert_eq!(PeerHeaders::parse(&upper).unwrap(), parsed);
    }

    #[test]
    fn malformed_headers() {
        let key = Ed25519SecretKey::from_seed(&[3; 32]);
        let good = sign(&key, &key.public_key(), "/p", 1, b"");
        let with = |name: &str, value: &str| -> Vec<(String, String)> {
            good.iter()
                .map(|(k, v)| {
                    if k == name {
                        (k.clone(), value.to_owned())
                    } else {
                        (k.clone(), v.clone())
                    }
                })
                .collect()
        };
        assert_eq!(
            PeerHeaders::parse(&good[1..]),
            Err(PeerAuthError::Missing(NODE_HEADER))
        );
        let mut dup = good.clone();
        dup.push(good[1].clone());
        assert_eq!(
            PeerHeaders::parse(&dup),
            Err(PeerAuthError::Duplicate(TIMESTAMP_HEADER))
        );
        for (name, value) in [
            (NODE_HEADER, "zz"),
            (NODE_HEADER, &"g".repeat(64)),
            (TIMESTAMP_HEADER, "-1"),
            (TIMESTAMP_HEADER, "+5"),
            (TIMESTAMP_HEADER, "99999999999999999999"),
            (TIMESTAMP_HEADER, ""),
            (SIGNATURE_HEADER, "AAAA"),
            (SIGNATURE_HEADER, &"A".repeat(1000)),
        ] {
            assert_eq!(
                PeerHeaders::parse(&with(name, value)),
                Err(PeerAuthError::Malformed(name)),
                "{name}={value}"
            );
        }
    }
}
