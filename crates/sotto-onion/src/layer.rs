//! The layer framing `u32le N ‖ N bytes ‖ UTF-8 JSON` and the JSON objects it carries.

use std::borrow::Cow;

use serde::Deserialize;
use serde::de::{Deserializer, IgnoredAny};
use sotto_crypto::X25519PublicKey;

use crate::OnionError;

/// Splits `u32le N ‖ N bytes ‖ rest` into the `N`-byte blob and the rest (the JSON text).
pub fn split(bytes: &[u8]) -> Result<(&[u8], &[u8]), OnionError> {
    let (prefix, rest) = bytes
        .split_first_chunk::<4>()
        .ok_or(OnionError::Truncated {
            what: "layer length prefix",
            need: 4,
            have: bytes.len(),
        })?;
    let len = usize::try_from(u32::from_le_bytes(*prefix)).unwrap_or(usize::MAX);
    if rest.len() < len {
        return Err(OnionError::Truncated {
            what: "layer blob",
            need: len,
            have: rest.len(),
        });
    }
    Ok(rest.split_at(len))
}

/// Writes `u32le(len(blob)) ‖ blob ‖ json`.
pub fn join(blob: &[u8], json: &[u8]) -> Result<Vec<u8>, OnionError> {
    let len = u32::try_from(blob.len()).map_err(|_| OnionError::TooLarge {
        what: "layer blob",
        len: blob.len(),
    })?;
    let mut out = Vec::with_capacity(4 + blob.len() + json.len());
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(blob);
    out.extend_from_slice(json);
    Ok(out)
}

/// Parses a JSON object of type `T`, naming `what` in the error.
pub(crate) fn parse_json<'a, T: Deserialize<'a>>(
    what: &'static str,
    json: &'a [u8],
) -> Result<T, OnionError> {
    serde_json::from_slice(json).map_err(|e| OnionError::json(what, &e))
}

/// `true` when the key is present, whatever its value (even `null`).
fn present<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    IgnoredAny::deserialize(d).map(|_| true)
}

/// Every key a decrypted layer's JSON may carry (storage-server names). Unknown keys are
/// ignored, as the storage server ignores them; duplicate keys are rejected.
#[derive(Deserialize)]
pub(crate) struct LayerJson<'a> {
    // Final destination.
    #[serde(default, deserialize_with = "present")]
    pub headers: bool,
    pub json: Option<bool>,
    pub base64: Option<bool>,
    // Relay to a server.
    #[serde(borrow)]
    pub host: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub target: Option<Cow<'a, str>>,
    pub port: Option<u16>,
    #[serde(borrow)]
    pub protocol: Option<Cow<'a, str>>,
    // Relay to a node (and the outer request).
    #[serde(borrow)]
    pub destination: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub ephemeral_key: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub enc_type: Option<Cow<'a, str>>,
    pub hop_no: Option<u64>,
}

/// Decodes 64 hex digits into 32 bytes.
pub(crate) fn hex32(what: &'static str, text: &str) -> Result<[u8; 32], OnionError> {
    let mut out = [0u8; 32];
    hex::decode_to_slice(text, &mut out).map_err(|_| OnionError::Field {
        what,
        reason: "must be 64 hex digits",
    })?;
    Ok(out)
}

pub(crate) fn x25519_hex(what: &'static str, text: &str) -> Result<X25519PublicKey, OnionError> {
    hex32(what, text).map(X25519PublicKey)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_and_join_round_trip() {
        let framed = join(b"blob", b"{}").unwrap();
        assert_eq!(framed, b"\x04\0\0\0blob{}");
        assert_eq!(split(&framed).unwrap(), (&b"blob"[..], &b"{}"[..]));
        assert_eq!(split(b"\0\0\0\0").unwrap(), (&b""[..], &b""[..]));
    }

    #[test]
    fn split_rejects_short_input() {
        assert!(matches!(
            split(b"\x01\0\0"),
            Err(OnionError::Truncated { need: 4, .. })
        ));
        assert!(matches!(
            split(b"\xff\xff\xff\xffabc"),
            Err(OnionError::Truncated { have: 3, .. })
        ));
    }

    #[test]
    fn headers_key_is_detected_with_any_value() {
        for text in [
            r#"{"headers":""}"#,
            r#"{"headers":null}"#,
            r#"{"headers":{}}"#,
        ] {
            let j: LayerJson<'_> = parse_json("test", text.as_bytes()).unwrap();
            assert!(j.headers, "{text}");
        }
        let j: LayerJson<'_> = parse_json("test", b"{}").unwrap();
        assert!(!j.headers);
        assert!(parse_json::<LayerJson<'_>>("test", br#"{"host":"a","host":"b"}"#).is_err());
        assert!(parse_json::<LayerJson<'_>>("test", b"[]").is_err());
        let escaped: LayerJson<'_> = parse_json("test", br#"{"host":"a\u0062"}"#).unwrap();
        assert_eq!(escaped.host.as_deref(), Some("ab"));
    }
}
