//! X-SOGS request authentication (spec groups.md §4.3): parsing the four headers and checking
//! the signature. Time and the server key are parameters; nonces are checked by the caller
//! against the database.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use sotto_crypto::{Ed25519PublicKey, Signature};
use sotto_identity::sogs::SogsRequest;
use sotto_identity::{IdPrefix, PrefixedId};
use thiserror::Error;

/// The timestamp window: requests more than this far from the server's clock get `425`.
pub const TIMESTAMP_WINDOW_S: i64 = 24 * 60 * 60;

/// Why a request's authentication was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum AuthError {
    /// Some, but not all four, X-SOGS headers were given.
    #[error("Invalid authentication headers: missing {0}/4 required X-SOGS-* headers")]
    MissingHeaders(usize),
    /// `X-SOGS-Pubkey` is not 66 hex digits with a known prefix.
    #[error("Invalid authentication: X-SOGS-Pubkey is not a valid 66-hex digit id")]
    BadPubkey,
    /// An unblinded key while the server requires blinded ones.
    #[error("Invalid authentication: this server requires the use of blinded ids")]
    BlindingRequired,
    /// `X-SOGS-Pubkey` is not a valid Ed25519 point.
    #[error("Invalid authentication: X-SOGS-Pubkey is not a valid Ed25519 public key")]
    BadPoint,
    /// `X-SOGS-Nonce` is not 16 bytes in base64 or hex.
    #[error("Invalid authentication: X-SOGS-Nonce must be 16 bytes (encoded as base64 or hex)")]
    BadNonce,
    /// `X-SOGS-Timestamp` is not a decimal integer.
    #[error("Invalid authentication: X-SOGS-Timestamp is not a valid timestamp")]
    BadTimestamp,
    /// `X-SOGS-Signature` is not 64 bytes in base64 or hex.
    #[error("Invalid authentication: X-SOGS-Signature is not base64[88] or hex[128]")]
    BadSignatureEncoding,
    /// The path is not valid percent-encoded UTF-8.
    #[error("Invalid authentication: the request path is not valid UTF-8")]
    BadPath,
    /// The timestamp is more than 24 h from the server's clock.
    #[error("Invalid authentication: X-SOGS-Timestamp is too far from current time")]
    Skewed,
    /// The nonce was used before by this user.
    #[error("Invalid authentication: X-SOGS-Nonce cannot be reused")]
    NonceReused,
    /// The signature does not verify.
    #[error("Invalid authentication: X-SOGS-Signature verification failed")]
    BadSignature,
    /// The user is banned from the whole server.
    #[error("Banned")]
    Banned,
}

impl AuthError {
    /// The HTTP status of this refusal (spec §4.3).
    #[must_use]
    pub fn status(&self) -> u16 {
        match self {
            Self::Skewed | Self::NonceReused => 425,
            Self::BadSignature => 401,
            Self::Banned => 403,
            Self::MissingHeaders(_)
            | Self::BadPubkey
            | Self::BlindingRequired
            | Self::BadPoint
            | Self::BadNonce
            | Self::BadTimestamp
            | Self::BadSignatureEncoding
            | Self::BadPath => 400,
        }
    }
}

/// The four X-SOGS headers, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthHeaders {
    /// `X-SOGS-Pubkey`.
    pub pubkey: PrefixedId,
    /// `X-SOGS-Nonce`, decoded.
    pub nonce: [u8; 16],
    /// `X-SOGS-Timestamp`.
    pub timestamp: u64,
    /// `X-SOGS-Signature`, decoded.
    pub signature: Signature,
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.trim())
        .filter(|v| !v.is_empty())
}

/// Decodes `N` bytes given as base64 (padded or not) or as hex.
fn decode_b64_or_hex<const N: usize>(text: &str) -> Option<[u8; N]> {
    let bytes = if text.len() == 2 * N && text.bytes().all(|b| b.is_ascii_hexdigit()) {
        hex::decode(text).ok()?
    } else {
        STANDARD_NO_PAD.decode(text.trim_end_matches('=')).ok()?
    };
    bytes.try_into().ok()
}

/// Parses the X-SOGS headers: `Ok(None)` when none is given (an anonymous request).
/// `require_blind` refuses unblinded (`00`) keys.
pub fn parse_headers(
    headers: &[(String, String)],
    require_blind: bool,
) -> Result<Option<AuthHeaders>, AuthError> {
    let values = [
        header(headers, "X-SOGS-Pubkey"),
        header(headers, "X-SOGS-Nonce"),
        header(headers, "X-SOGS-Timestamp"),
        header(headers, "X-SOGS-Signature"),
    ];
    let missing = values.iter().filter(|v| v.is_none()).count();
    if missing == 4 {
        return Ok(None);
    }
    let [Some(pk), Some(nonce), Some(ts), Some(sig)] = values else {
        return Err(AuthError::MissingHeaders(missing));
    };
    if pk.len() != 66 || !pk.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(AuthError::BadPubkey);
    }
    let raw = hex::decode(pk).map_err(|_| AuthError::BadPubkey)?;
    let pubkey = PrefixedId::from_bytes(&raw).map_err(|_| AuthError::BadPubkey)?;
    match pubkey.prefix() {
        IdPrefix::Blinded15 | IdPrefix::Blinded25 => {}
        IdPrefix::Unblinded if !require_blind => {}
        IdPrefix::Unblinded => return Err(AuthError::BlindingRequired),
        _ => return Err(AuthError::BadPubkey),
    }
    let nonce = decode_b64_or_hex::<16>(nonce).ok_or(AuthError::BadNonce)?;
    // Decimal digits only, as clients write them (the signed bytes are these very digits).
    if ts.is_empty() || ts.len() > 19 || !ts.bytes().all(|b| b.is_ascii_digit()) {
        return Err(AuthError::BadTimestamp);
    }
    let timestamp: u64 = ts.parse().map_err(|_| AuthError::BadTimestamp)?;
    if timestamp.to_string() != ts {
        return Err(AuthError::BadTimestamp);
    }
    let sig = decode_b64_or_hex::<64>(sig).ok_or(AuthError::BadSignatureEncoding)?;
    Ok(Some(AuthHeaders {
        pubkey,
        nonce,
        timestamp,
        signature: Signature(sig),
    }))
}

/// Whether the timestamp is within ±24 h of `now` (unix seconds).
pub fn check_timestamp(auth: &AuthHeaders, now: i64) -> Result<(), AuthError> {
    let ts = i64::try_from(auth.timestamp).map_err(|_| AuthError::Skewed)?;
    if (ts - now).abs() > TIMESTAMP_WINDOW_S {
        return Err(AuthError::Skewed);
    }
    Ok(())
}

/// Percent-decodes `text` into UTF-8 (`+` stays `+`).
pub fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b == b'%' {
            let hi = bytes.get(i + 1).and_then(|c| (*c as char).to_digit(16))?;
            let lo = bytes.get(i + 2).and_then(|c| (*c as char).to_digit(16))?;
            out.push(u8::try_from(hi * 16 + lo).ok()?);
            i += 3;
        } else {
            out.push(b);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// The path as it is signed: the URL-decoded path, then `?` and the query as sent when there
/// is one.
pub fn signed_path(raw: &str) -> Result<String, AuthError> {
    let (path, query) = match raw.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (raw, None),
    };
    let mut out = percent_decode(path).ok_or(AuthError::BadPath)?;
    if let Some(q) = query.filter(|q| !q.is_empty()) {
        out.push('?');
        out.push_str(q);
    }
    Ok(out)
}

/// The Ed25519 key that signs for this id: the key itself for `15`/`25`/`00` ids.
pub fn signing_key(pubkey: &PrefixedId) -> Result<Ed25519PublicKey, AuthError> {
    let key = pubkey.ed25519_key();
    // Refuse keys that are not points (a `400`, as pysogs does for a bad point).
    key.to_x25519().map_err(|_| AuthError::BadPoint)?;
    Ok(key)
}

/// Checks the request signature over `server_pk ‖ nonce ‖ timestamp ‖ method ‖ path ‖
/// [BLAKE2b-512(body)]`, where `raw_path` is the path and query as received.
pub fn verify_signature(
    auth: &AuthHeaders,
    server_pk: &[u8; 32],
    method: &str,
    raw_path: &str,
    body: &[u8],
) -> Result<(), AuthError> {
    let key = signing_key(&auth.pubkey)?;
    let path = signed_path(raw_path)?;
    let msg = SogsRequest {
        server_pk,
        nonce: &auth.nonce,
        timestamp: auth.timestamp,
        method,
        path: &path,
        body: (!body.is_empty()).then_some(body),
    }
    .signed_message();
    key.verify(&msg, &auth.signature)
        .map_err(|_| AuthError::BadSignature)
}

/// The session id the server records for an authenticated key: the blinded id itself, or for an
/// unblinded `00` key the `05` Session ID of that Ed25519 key (as pysogs does).
pub fn session_id_of(pubkey: &PrefixedId) -> Result<String, AuthError> {
    match pubkey.prefix() {
        IdPrefix::Unblinded => {
            let x = pubkey
                .ed25519_key()
                .to_x25519()
                .map_err(|_| AuthError::BadPoint)?;
            Ok(format!("05{}", hex::encode(x.as_bytes())))
        }
        _ => Ok(pubkey.to_string()),
    }
}

/// Encodes `bytes` as standard padded base64 (as SOGS JSON carries binary values).
#[must_use]
pub fn b64(bytes: &[u8]) -> String {
    STANDARD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use sotto_identity::Account;
    use sotto_identity::blinding::Blind15Nonce;
    use sotto_identity::sogs::SogsAuth;

    fn headers(pairs: &[(&str, String)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(n, v)| ((*n).to_owned(), v.clone()))
            .collect()
    }

    #[test]
    fn signed_blinded_request_verifies_and_tampering_fails() {
        let account = Account::from_ed25519_seed(&[7; 32]);
        let server_pk = [9u8; 32];
        let nonce = [3u8; 16];
        let req = SogsRequest {
            server_pk: &server_pk,
            nonce: &nonce,
            timestamp: 1_700_000_000,
            method: "PUT",
            path: "/room/lobby/reaction/1/👍",
            body: Some(b"{}"),
        };
        let signed = req.sign(&account, SogsAuth::Blinded15(Blind15Nonce::Standard));
        let hs = headers(&signed.to_pairs().map(|(n, v)| (n, v)));
        let auth = parse_headers(&hs, true).unwrap().unwrap();
        // The client signs the raw emoji; the URL carries it percent-encoded.
        verify_signature(
            &auth,
            &server_pk,
            "PUT",
            "/room/lobby/reaction/1/%F0%9F%91%8D",
            b"{}",
        )
        .unwrap();
        assert_eq!(
            verify_signature(&auth, &server_pk, "PUT", "/room/lobby/reaction/1/x", b"{}"),
            Err(AuthError::BadSignature)
        );
        assert_eq!(
            verify_signature(
                &auth,
                &server_pk,
                "PUT",
                "/room/lobby/reaction/1/%F0%9F%91%8D",
                b"{ }"
            ),
            Err(AuthError::BadSignature)
        );
        check_timestamp(&auth, 1_700_000_000 + TIMESTAMP_WINDOW_S).unwrap();
        assert_eq!(
            check_timestamp(&auth, 1_700_000_000 - TIMESTAMP_WINDOW_S - 1),
            Err(AuthError::Skewed)
        );
    }

    #[test]
    fn header_errors_have_the_spec_codes() {
        assert_eq!(parse_headers(&[], true), Ok(None));
        let partial = headers(&[("X-SOGS-Pubkey", "15".repeat(33))]);
        let err = parse_headers(&partial, true).unwrap_err();
        assert_eq!(
            (err.clone(), err.status()),
            (AuthError::MissingHeaders(3), 400)
        );
        let good_nonce = b64(&[1; 16]);
        let sig = b64(&[0; 64]);
        let mk = |pk: String, nonce: String, ts: &str| {
            headers(&[
                ("x-sogs-pubkey", pk),
                ("x-sogs-nonce", nonce),
                ("x-sogs-timestamp", ts.to_owned()),
                ("x-sogs-signature", sig.clone()),
            ])
        };
        let unblinded = format!("00{}", "11".repeat(32));
        assert_eq!(
            parse_headers(&mk(unblinded.clone(), good_nonce.clone(), "5"), true),
            Err(AuthError::BlindingRequired)
        );
        assert!(parse_headers(&mk(unblinded, good_nonce.clone(), "5"), false).is_ok());
        assert_eq!(
            parse_headers(
                &mk(format!("05{}", "11".repeat(32)), good_nonce.clone(), "5"),
                false
            ),
            Err(AuthError::BadPubkey)
        );
        let blinded = format!("15{}", "11".repeat(32));
        assert_eq!(
            parse_headers(&mk(blinded.clone(), "abc".into(), "5"), true),
            Err(AuthError::BadNonce)
        );
        // Hex and unpadded base64 nonces are accepted.
        assert!(parse_headers(&mk(blinded.clone(), "ab".repeat(16), "5"), true).is_ok());
        let unpadded = good_nonce.trim_end_matches('=').to_owned();
        assert!(parse_headers(&mk(blinded.clone(), unpadded, "5"), true).is_ok());
        assert_eq!(
            parse_headers(&mk(blinded.clone(), good_nonce.clone(), "-5"), true),
            Err(AuthError::BadTimestamp)
        );
        assert_eq!(
            parse_headers(&mk(blinded, good_nonce, "05"), true),
            Err(AuthError::BadTimestamp)
        );
    }

    #[test]
    fn signed_path_decodes_the_path_only() {
        assert_eq!(signed_path("/a%20b?x=%20").unwrap(), "/a b?x=%20");
        assert_eq!(signed_path("/a?").unwrap(), "/a");
        assert_eq!(signed_path("/%FF"), Err(AuthError::BadPath));
        assert_eq!(signed_path("/%4"), Err(AuthError::BadPath));
    }
}
