//! Sealed relay errors: Sotto's extension to `shared/spec/network.md` §4.2.
//!
//! In Session a hop that cannot find or reach the next node answers in plain text, `502 "Next
//! node not found: <ed25519 hex>"`, and every hop before it passes that text back to the
//! client. The guard, which knows the client's address, then learns the node the request was
//! going to; when the failing hop is the exit, that is the target and so the account's swarm.
//!
//! A Sotto node instead seals such an error with the key of its own layer ([`HopKey`], which
//! the client derived when it built the onion, so it holds every hop's key: see
//! [`crate::BuiltOnion::hop_keys`]). The HTTP status stays in the clear (502); the body is
//!
//! ```text
//! "sotto-sealed-error:" ‖ base64( hop_key.encrypt( "sotto relay error v1\n" ‖ status (3 ASCII
//!                                 digits) ‖ " " ‖ text ‖ zero bytes up to PADDED_LEN ) )
//! ```
//!
//! Every sealed error is [`PADDED_LEN`] bytes before encryption, so its length does not say
//! which error it is. Hops before it pass the body back as opaque bytes. The client tries its
//! hop keys in path order ([`open`]); the one that opens it names the hop that reported the
//! error, and the text goes to the path-failure policy ([`crate::path::handle_error`]) exactly
//! as the plain text would have. The fixed prefix inside the ciphertext keeps a sealed error
//! apart from any other message encrypted under a hop key (a request layer starts with its
//! length). A client that does not know the extension sees an unknown 502 body, which its
//! policy counts as an ordinary path failure.

use base64::Engine as _;
use sotto_crypto::CryptoRngCore;

use crate::OnionError;
use crate::hop::HopKey;

/// What a sealed error body starts with (then base64 of the ciphertext).
pub const PREFIX: &str = "sotto-sealed-error:";
/// The first bytes of every sealed error's plaintext.
const TAG: &[u8] = b"sotto relay error v1\n";
/// Every plaintext is padded with zero bytes to this length.
pub const PADDED_LEN: usize = 160;
/// The longest error text that fits in [`PADDED_LEN`].
pub const MAX_TEXT_LEN: usize = PADDED_LEN - TAG.len() - 4;
/// The longest body [`open`] looks at.
const MAX_BODY_LEN: usize = 1024;

/// A hop's error, as the client reads it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RelayError {
    /// The HTTP-like status (502 for an unknown or unreachable next node).
    pub status: u16,
    /// The error text, as the spec words it in plain text (e.g. `Next node not found:
    /// <ed25519 hex>`).
    pub text: String,
}

impl RelayError {
    /// The plaintext that is sealed: tag, status, text, zero padding.
    pub fn encode(&self) -> Result<Vec<u8>, OnionError> {
        if !(100..=999).contains(&self.status) {
            return Err(OnionError::Field {
                what: "relay error status",
                reason: "must have three digits",
            });
        }
        if self.text.len() > MAX_TEXT_LEN || self.text.contains('\0') {
            return Err(OnionError::TooLarge {
                what: "relay error text",
                len: self.text.len(),
            });
        }
        let mut out = Vec::with_capacity(PADDED_LEN);
        out.extend_from_slice(TAG);
        out.extend_from_slice(format!("{} ", self.status).as_bytes());
        out.extend_from_slice(self.text.as_bytes());
        out.resize(PADDED_LEN, 0);
        Ok(out)
    }

    /// Reads a plaintext written by [`RelayError::encode`]: exactly [`PADDED_LEN`] bytes, the
    /// tag, three digits, a space, UTF-8 text without NUL, then only zero bytes.
    pub fn decode(plaintext: &[u8]) -> Result<Self, OnionError> {
        let bad = |reason| OnionError::Field {
            what: "relay error",
            reason,
        };
        if plaintext.len() != PADDED_LEN {
            return Err(bad("has the wrong length"));
        }
        let rest = plaintext.strip_prefix(TAG).ok_or(bad("has no tag"))?;
        let (digits, rest) = rest.split_at_checked(3).ok_or(bad("has no status"))?;
        let rest = rest
            .strip_prefix(b" ")
            .ok_or(bad("has no space after the status"))?;
        if !digits.iter().all(u8::is_ascii_digit) {
            return Err(bad("status is not three digits"));
        }
        let status = core::str::from_utf8(digits)
            .ok()
            .and_then(|d| d.parse::<u16>().ok())
            .filter(|s| *s >= 100)
            .ok_or(bad("status is not three digits"))?;
        let end = rest.iter().position(|b| *b == 0).unwrap_or(rest.len());
        let (text, padding) = rest.split_at(end);
        if padding.iter().any(|b| *b != 0) {
            return Err(bad("padding is not zero"));
        }
        let text = core::str::from_utf8(text).map_err(|_| bad("text is not UTF-8"))?;
        Ok(Self {
            status,
            text: text.to_owned(),
        })
    }
}

/// Seals `error` with a hop's layer key: the HTTP body to answer with (status 502 in the
/// clear).
pub fn seal(
    key: &HopKey,
    error: &RelayError,
    rng: &mut impl CryptoRngCore,
) -> Result<Vec<u8>, OnionError> {
    let sealed = key.encrypt(&error.encode()?, rng)?;
    let mut body = PREFIX.as_bytes().to_vec();
    body.extend_from_slice(
        base64::engine::general_purpose::STANDARD
            .encode(sealed)
            .as_bytes(),
    );
    Ok(body)
}

/// Whether `body` looks like a sealed relay error (it starts with [`PREFIX`]).
#[must_use]
pub fn is_sealed(body: &[u8]) -> bool {
    body.starts_with(PREFIX.as_bytes())
}

/// Opens a sealed relay error with the client's hop keys (guard first): the index of the hop
/// whose key opened it, and the error. `None` when `body` is not a sealed error or no key
/// opens it.
#[must_use]
pub fn open(keys: &[HopKey], body: &[u8]) -> Option<(usize, RelayError)> {
    if body.len() > MAX_BODY_LEN {
        return None;
    }
    let encoded = body.strip_prefix(PREFIX.as_bytes())?;
    let sealed = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .ok()?;
    keys.iter().enumerate().find_map(|(i, key)| {
        let plaintext = key.decrypt(&sealed).ok()?;
        RelayError::decode(&plaintext).ok().map(|e| (i, e))
    })
}

#[cfg(test)]
mod tests {
    use sotto_crypto::OsRng;

    use super::*;
    use crate::hop::{EncType, X25519Keypair};

    fn keys(n: usize, enc: EncType) -> Vec<HopKey> {
        (0..n)
            .map(|_| {
                let node = X25519Keypair::generate(&mut OsRng);
                let eph = X25519Keypair::generate(&mut OsRng);
                HopKey::for_client(enc, &eph, node.public_key()).unwrap()
            })
            .collect()
    }

    fn not_found(key: [u8; 32]) -> RelayError {
        RelayError {
            status: 502,
            text: format!("Next node not found: {}", hex::encode(key)),
        }
    }

    #[test]
    fn the_hop_that_sealed_is_found_and_the_key_is_not_in_the_clear() {
        for enc in [EncType::AesGcm, EncType::XChaCha20] {
            let hops = keys(3, enc);
            let target = [0xab; 32];
            for (i, hop) in hops.iter().enumerate() {
                let body = seal(hop, &not_found(target), &mut OsRng).unwrap();
                assert!(is_sealed(&body));
                let text = String::from_utf8(body.clone()).unwrap();
                assert!(!text.contains(&hex::encode(target)));
                assert!(!body.windows(32).any(|w| w == target));
                assert_eq!(open(&hops, &body), Some((i, not_found(target))));
                // Nobody else's keys open it.
                assert_eq!(open(&keys(3, enc), &body), None);
            }
        }
    }

    #[test]
    fn errors_have_one_length() {
        let hops = keys(1, EncType::XChaCha20);
        let short = RelayError {
            status: 502,
            text: "x".into(),
        };
        let long = RelayError {
            status: 502,
            text: format!("Next node not reachable: {}", hex::encode([1u8; 32])),
        };
        let a = seal(&hops[0], &short, &mut OsRng).unwrap();
        let b = seal(&hops[0], &long, &mut OsRng).unwrap();
        assert_eq!(a.len(), b.len());
    }

    #[test]
    fn plaintext_round_trips_and_malformed_ones_are_refused() {
        let e = not_found([3; 32]);
        let encoded = e.encode().unwrap();
        assert_eq!(encoded.len(), PADDED_LEN);
        assert_eq!(RelayError::decode(&encoded).unwrap(), e);
        let mut tampered = encoded.clone();
        *tampered.last_mut().unwrap() = b'x';
        assert!(RelayError::decode(&tampered).is_err());
        let mut bad_status = encoded.clone();
        bad_status[TAG.len()] = b'x';
        assert!(RelayError::decode(&bad_status).is_err());
        assert!(RelayError::decode(&encoded[..PADDED_LEN - 1]).is_err());
        assert!(RelayError::decode(&[0; PADDED_LEN]).is_err());
        // A layer plaintext (length prefix first) is never a relay error.
        let layer = crate::layer::join(b"blob", b"{}").unwrap();
        assert!(RelayError::decode(&layer).is_err());
        for bad in [
            RelayError {
                status: 99,
                text: String::new(),
            },
            RelayError {
                status: 502,
                text: "a\0b".into(),
            },
            RelayError {
                status: 502,
                text: "x".repeat(MAX_TEXT_LEN + 1),
            },
        ] {
            assert!(bad.encode().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn plain_and_garbled_bodies_do_not_open() {
        let hops = keys(3, EncType::AesGcm);
        let plain = format!("Next node not found: {}", hex::encode([5u8; 32]));
        assert!(!is_sealed(plain.as_bytes()));
        assert_eq!(open(&hops, plain.as_bytes()), None);
        assert_eq!(open(&hops, b"sotto-sealed-error:not base64!"), None);
        assert_eq!(open(&hops, b"sotto-sealed-error:"), None);
        assert_eq!(open(&[], b"sotto-sealed-error:AAAA"), None);
        let huge = [PREFIX.as_bytes(), &[b'A'; MAX_BODY_LEN]].concat();
        assert_eq!(open(&hops, &huge), None);
    }
}
