use aes_gcm::Aes256Gcm;
use chacha20poly1305::XChaCha20Poly1305;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};

use crate::{CryptoError, SymmetricKey};

/// Nonce length of XChaCha20-Poly1305.
pub const XCHACHA_NONCE_LEN: usize = 24;
/// Nonce length of AES-256-GCM.
pub const AES_GCM_NONCE_LEN: usize = 12;
/// Authentication tag length of both AEADs.
pub const AEAD_TAG_LEN: usize = 16;

fn seal<A: Aead + KeyInit>(
    key: &SymmetricKey,
    nonce: &chacha20poly1305::aead::Nonce<A>,
    aad: &[u8],
    msg: &[u8],
    what: &'static str,
) -> Result<Vec<u8>, CryptoError> {
    let cipher =
        A::new_from_slice(key.expose()).map_err(|_| CryptoError::InvalidParameter(what))?;
    cipher
        .encrypt(nonce, Payload { msg, aad })
        .map_err(|_| CryptoError::InvalidParameter(what))
}

fn open<A: Aead + KeyInit>(
    key: &SymmetricKey,
    nonce: &chacha20poly1305::aead::Nonce<A>,
    aad: &[u8],
    ciphertext: &[u8],
    what: &'static str,
) -> Result<Vec<u8>, CryptoError> {
    if ciphertext.len() < AEAD_TAG_LEN {
        return Err(CryptoError::TooShort {
            what,
            min: AEAD_TAG_LEN,
            found: ciphertext.len(),
        });
    }
    let cipher =
        A::new_from_slice(key.expose()).map_err(|_| CryptoError::InvalidParameter(what))?;
    cipher
        .decrypt(
            nonce,
            Payload {
                msg: ciphertext,
                aad,
            },
        )
        .map_err(|_| CryptoError::Decrypt)
}

/// XChaCha20-Poly1305-IETF encryption (libsodium `crypto_aead_xchacha20poly1305_ietf_encrypt`):
/// returns `ciphertext ‖ tag`.
pub fn xchacha20poly1305_encrypt(
    key: &SymmetricKey,
    nonce: &[u8; XCHACHA_NONCE_LEN],
    aad: &[u8],
    msg: &[u8],
) -> Result<Vec<u8>, CryptoError> {
    seal::<XChaCha20Poly1305>(key, nonce.into(), aad, msg, "XChaCha20-Poly1305 message")
}

/// XChaCha20-Poly1305-IETF decryption of `ciphertext ‖ tag`.
pub fn xchacha20poly1305_decrypt(
    key: &SymmetricKey,
    nonce: &[u8; XCHACHA_NONCE_LEN],
    aad: &[u8],
    ciphertext: &[u8],
) -> Result<Vec<u8>, CryptoError> {
    open::<XChaCha20Poly1305>(
        key,
        nonce.into(),
        aad,
        ciphertext,
        "XChaCha20-Poly1305 ciphertext",
    )
}

/// AES-256-GCM encryption: returns `ciphertext ‖ tag`.
pub fn aes256gcm_encrypt(
    key: &SymmetricKey,
    nonce: &[u8; AES_GCM_NONCE_LEN],
    aad: &[u8],
    msg: &[u8],
) -> Result<Vec<u8>, CryptoError> {
    seal::<Aes256Gcm>(key, nonce.into(), aad, msg, "AES-256-GCM message")
}

/// AES-256-GCM decryption of `ciphertext ‖ tag`.
pub fn aes256gcm_decrypt(
    key: &SymmetricKey,
    nonce: &[u8; AES_GCM_NONCE_LEN],
    aad: &[u8],
    ciphertext: &[u8],
) -> Result<Vec<u8>, CryptoError> {
    open::<Aes256Gcm>(key, nonce.into(), aad, ciphertext, "AES-256-GCM ciphertext")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_detects_tampering() {
        let key = SymmetricKey::new([9; 32]);
        let ct = xchacha20poly1305_encrypt(&key, &[1; 24], b"ad", b"hello").unwrap();
        assert_eq!(
            xchacha20poly1305_decrypt(&key, &[1; 24], b"ad", &ct).unwrap(),
            b"hello"
        );
        assert_eq!(
            xchacha20poly1305_decrypt(&key, &[1; 24], b"xx", &ct),
            Err(CryptoError::Decrypt)
        );
        assert!(xchacha20poly1305_decrypt(&key, &[1; 24], b"", &[0; 3]).is_err());
        let ct = aes256gcm_encrypt(&key, &[2; 12], b"", b"hello").unwrap();
        let mut bad = ct.clone();
        bad[0] ^= 1;
        assert_eq!(
            aes256gcm_decrypt(&key, &[2; 12], b"", &ct).unwrap(),
            b"hello"
        );
        assert_eq!(
            aes256gcm_decrypt(&key, &[2; 12], b"", &bad),
            Err(CryptoError::Decrypt)
        );
    }
}
