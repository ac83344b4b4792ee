//! Profile pictures.
//!
//! * Legacy: AES-256-GCM under the 32-byte profile key (random, reused on re-upload), a 12-byte
//!   random IV and a 16-byte tag: `IV ‖ ciphertext ‖ tag`.
//! * Deterministic: the "S" format of [`crate::deterministic`] in the
//!   [`Domain::ProfilePic`](crate::deterministic::Domain::ProfilePic) domain; the derived key is
//!   the profile key, and the URL carries `#d=`.

use sotto_crypto::{
    AEAD_TAG_LEN, AES_GCM_NONCE_LEN, SecretBytes, SymmetricKey, aes256gcm_decrypt,
    aes256gcm_encrypt,
};

use crate::deterministic::{self, Domain, Encrypted};
use crate::{AttachmentError, MAX_PLAINTEXT_LEN, check_plaintext_len, len_u64};

/// Length of the AES-GCM IV at the start of a legacy profile picture.
pub const IV_LEN: usize = AES_GCM_NONCE_LEN;
/// Bytes a legacy profile picture grows by: IV and tag.
pub const LEGACY_OVERHEAD: usize = AES_GCM_NONCE_LEN + AEAD_TAG_LEN;
/// Longest legacy blob accepted: the encryption of a [`MAX_PLAINTEXT_LEN`]-byte picture.
pub const MAX_LEGACY_BLOB_LEN: u64 = MAX_PLAINTEXT_LEN + LEGACY_OVERHEAD as u64;

/// Encrypts a picture in the legacy format with a fresh random IV.
pub fn encrypt_legacy(
    profile_key: &SymmetricKey,
    image: &[u8],
    rng: &mut impl rand_core::CryptoRngCore,
) -> Result<Vec<u8>, AttachmentError> {
    check_plaintext_len(len_u64(image.len()))?;
    let mut iv = [0u8; IV_LEN];
    rng.fill_bytes(&mut iv);
    encrypt_legacy_with_iv(profile_key, &iv, image)
}

/// Encrypts a picture in the legacy format with a given IV. Never reuse an IV with the same key.
pub fn encrypt_legacy_with_iv(
    profile_key: &SymmetricKey,
    iv: &[u8; IV_LEN],
    image: &[u8],
) -> Result<Vec<u8>, AttachmentError> {
    check_plaintext_len(len_u64(image.len()))?;
    let sealed =
        aes256gcm_encrypt(profile_key, iv, &[], image).map_err(AttachmentError::Primitive)?;
    let mut blob = Vec::with_capacity(IV_LEN + sealed.len());
    blob.extend_from_slice(iv);
    blob.extend_from_slice(&sealed);
    Ok(blob)
}

/// Decrypts a legacy profile picture.
pub fn decrypt_legacy(profile_key: &SymmetricKey, blob: &[u8]) -> Result<Vec<u8>, AttachmentError> {
    let found = len_u64(blob.len());
    if found > MAX_LEGACY_BLOB_LEN {
        return Err(AttachmentError::TooLarge {
            what: "legacy profile picture",
            len: found,
            max: MAX_LEGACY_BLOB_LEN,
        });
    }
    let too_short = AttachmentError::TooShort {
        what: "legacy profile picture",
        min: LEGACY_OVERHEAD as u64,
        found,
    };
    let Some((iv, sealed)) = blob.split_first_chunk::<IV_LEN>() else {
        return Err(too_short);
    };
    if sealed.len() < AEAD_TAG_LEN {
        return Err(too_short);
    }
    aes256gcm_decrypt(profile_key, iv, &[], sealed)
        .map_err(|_| AttachmentError::ProfilePicNotAuthentic)
}

/// Encrypts a picture in the deterministic format; the returned key is the profile key.
pub fn encrypt(seed: &SecretBytes<32>, image: &[u8]) -> Result<Encrypted, AttachmentError> {
    deterministic::encrypt(seed, Domain::ProfilePic, image)
}

/// Decrypts a deterministic-format profile picture with the profile key.
pub fn decrypt(encrypted: &[u8], profile_key: &SymmetricKey) -> Result<Vec<u8>, AttachmentError> {
    deterministic::decrypt(encrypted, profile_key)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_core::SeedableRng;

    #[test]
    fn legacy_round_trip_and_tampering() {
        let key = SymmetricKey::new([5; 32]);
        let blob = encrypt_legacy_with_iv(&key, &[9; 12], b"avatar").unwrap();
        assert_eq!(blob.len(), 6 + LEGACY_OVERHEAD);
        assert_eq!(&blob[..12], &[9; 12]);
        assert_eq!(decrypt_legacy(&key, &blob).unwrap(), b"avatar");
        for i in 0..blob.len() {
            let mut bad = blob.clone();
            bad[i] ^= 0x40;
            assert!(matches!(
                decrypt_legacy(&key, &bad),
                Err(AttachmentError::ProfilePicNotAuthentic)
            ));
        }
        for len in 0..LEGACY_OVERHEAD {
            assert!(matches!(
                decrypt_legacy(&key, &blob[..len]),
                Err(AttachmentError::TooShort { .. })
            ));
        }
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(3);
        let random = encrypt_legacy(&key, b"", &mut rng).unwrap();
        assert_eq!(decrypt_legacy(&key, &random).unwrap(), b"");
    }

    #[test]
    fn deterministic_profile_pictures_use_their_own_domain() {
        let seed = SecretBytes::new([1; 32]);
        let pic = encrypt(&seed, b"avatar").unwrap();
        let att = deterministic::encrypt(&seed, Domain::Attachment, b"avatar").unwrap();
        assert_ne!(pic.key, att.key);
        assert_eq!(
            pic.ciphertext,
            encrypt(&seed, b"avatar").unwrap().ciphertext
        );
        assert_eq!(decrypt(&pic.ciphertext, &pic.key).unwrap(), b"avatar");
        assert!(decrypt(&pic.ciphertext, &att.key).is_err());
    }

    #[test]
    fn oversized_pictures_are_refused_before_work() {
        let key = SymmetricKey::new([5; 32]);
        let big = vec![0u8; MAX_PLAINTEXT_LEN as usize + 1];
        assert!(matches!(
            encrypt_legacy_with_iv(&key, &[0; 12], &big),
            Err(AttachmentError::TooLarge { .. })
        ));
        assert!(matches!(
            encrypt(&SecretBytes::new([1; 32]), &big),
            Err(AttachmentError::TooLarge { .. })
        ));
        let blob = vec![0u8; MAX_LEGACY_BLOB_LEN as usize + 1];
        assert!(matches!(
            decrypt_legacy(&key, &blob),
            Err(AttachmentError::TooLarge { .. })
        ));
    }
}
