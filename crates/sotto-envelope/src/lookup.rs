//! Two small decryptions that live next to the 1:1 code: name-service (ONS) lookup answers and
//! push-notification payloads.

use sotto_crypto::{
    AEAD_TAG_LEN, SymmetricKey, XCHACHA_NONCE_LEN, blake2b_32, xchacha20poly1305_decrypt,
};
use sotto_identity::SessionId;
use zeroize::Zeroizing;

use crate::DecryptError;

/// The length of an ONS answer's ciphertext: a 33-byte Session ID and its tag.
pub const ONS_CIPHERTEXT_LEN: usize = 33 + AEAD_TAG_LEN;

/// Decrypts a Session name-service lookup answer for `name` (current format, with a nonce): the
/// key is `BLAKE2b-256(key = BLAKE2b-256(name), name)` over the lower-cased name, and the
/// plaintext is the Session ID the name points to.
pub fn decrypt_ons_response(
    name: &str,
    ciphertext: &[u8],
    nonce: &[u8; XCHACHA_NONCE_LEN],
) -> Result<SessionId, DecryptError> {
    if ciphertext.len() != ONS_CIPHERTEXT_LEN {
        return Err(DecryptError::Length {
            what: "ONS answer ciphertext",
            expected: ONS_CIPHERTEXT_LEN,
            found: ciphertext.len(),
        });
    }
    let name = name.to_lowercase();
    let name_hash = blake2b_32(&[], &[name.as_bytes()]);
    let key = SymmetricKey::new(*Zeroizing::new(blake2b_32(&name_hash, &[name.as_bytes()])));
    let plaintext = xchacha20poly1305_decrypt(&key, nonce, &[], ciphertext)
        .map_err(|_| DecryptError::NotAuthentic { what: "ONS answer" })?;
    SessionId::from_bytes(&plaintext).map_err(DecryptError::NotASessionId)
}

/// Decrypts a push-notification payload (`nonce ‖ ciphertext`) with the key the device
/// registered when it subscribed, and strips the trailing zero bytes of its padding.
pub fn decrypt_push_notification(
    payload: &[u8],
    key: &SymmetricKey,
) -> Result<Vec<u8>, DecryptError> {
    let min = XCHACHA_NONCE_LEN + AEAD_TAG_LEN;
    let (nonce, ciphertext) = payload
        .split_first_chunk::<XCHACHA_NONCE_LEN>()
        .filter(|_| payload.len() >= min)
        .ok_or(DecryptError::TooShort {
            what: "push notification",
            min,
            found: payload.len(),
        })?;
    let mut plaintext = xchacha20poly1305_decrypt(key, nonce, &[], ciphertext).map_err(|_| {
        DecryptError::NotAuthentic {
            what: "push notification",
        }
    })?;
    let end = plaintext.iter().rposition(|&b| b != 0).map_or(0, |i| i + 1);
    plaintext.truncate(end);
    Ok(plaintext)
}

#[cfg(test)]
mod tests {
    use super::*;
    use sotto_crypto::xchacha20poly1305_encrypt;

    #[test]
    fn push_round_trip_strips_zeros_and_rejects_bad_input() {
        let key = SymmetricKey::new([4; 32]);
        let nonce = [9u8; 24];
        let sealed = xchacha20poly1305_encrypt(&key, &nonce, &[], b"note\0\0\0").unwrap();
        let payload = [&nonce[..], &sealed].concat();
        assert_eq!(decrypt_push_notification(&payload, &key).unwrap(), b"note");
        assert!(matches!(
            decrypt_push_notification(&payload[..39], &key),
            Err(DecryptError::TooShort { min: 40, .. })
        ));
        let mut bad = payload.clone();
        bad[30] ^= 1;
        assert!(matches!(
            decrypt_push_notification(&bad, &key),
            Err(DecryptError::NotAuthentic { .. })
        ));
    }

    #[test]
    fn ons_answer_must_be_a_session_id() {
        let name = "alice";
        let key = blake2b_32(&blake2b_32(&[], &[name.as_bytes()]), &[name.as_bytes()]);
        let nonce = [1u8; 24];
        let seal = |plain: &[u8]| {
            xchacha20poly1305_encrypt(&SymmetricKey::new(key), &nonce, &[], plain).unwrap()
        };
        let mut id = [0x05u8; 33];
        id[1] = 0xab;
        let got = decrypt_ons_response("Alice", &seal(&id), &nonce).unwrap();
        assert_eq!(got.to_bytes(), id);
        id[0] = 0x15;
        assert!(matches!(
            decrypt_ons_response(name, &seal(&id), &nonce),
            Err(DecryptError::NotASessionId(_))
        ));
        assert!(matches!(
            decrypt_ons_response(name, &seal(&id[..32]), &nonce),
            Err(DecryptError::Length { .. })
        ));
        assert!(matches!(
            decrypt_ons_response("bob", &seal(&id), &nonce),
            Err(DecryptError::NotAuthentic { .. })
        ));
    }
}
