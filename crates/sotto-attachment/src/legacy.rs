//! The legacy attachment format (Signal-derived, Session desktop's default): the plaintext is
//! zero-padded to a size bucket, encrypted with AES-256-CBC (PKCS#7), and authenticated with a
//! full 32-byte HMAC-SHA256 over `IV ‖ ciphertext`. The blob is `IV ‖ ciphertext ‖ MAC`; its
//! SHA-256 is the pointer's digest, and the pointer's size is the unpadded length.
//!
//! The whole blob is authenticated before any of it is decrypted, so this format works on
//! buffers (at most about 10 MB) rather than streams.

use sha2::{Digest, Sha256};
use sotto_crypto::{
    AES_CBC_IV_LEN, SecretBytes, SymmetricKey, aes256cbc_decrypt, aes256cbc_encrypt, ct_eq,
    hmac_sha256,
};
use zeroize::Zeroize;

use crate::{AttachmentError, MAX_PLAINTEXT_LEN, check_plaintext_len, len_u64};

/// Length of the attachment key: the AES-256 key followed by the HMAC-SHA256 key.
pub const KEY_LEN: usize = 64;
/// Length of the CBC initialisation vector at the start of the blob.
pub const IV_LEN: usize = AES_CBC_IV_LEN;
/// Length of the HMAC-SHA256 at the end of the blob.
pub const MAC_LEN: usize = 32;
/// Length of the blob's SHA-256 digest carried in the pointer.
pub const DIGEST_LEN: usize = 32;
/// Smallest padded plaintext: every padded attachment is at least this long.
pub const MIN_PADDED_LEN: u64 = 541;
/// Shortest well-formed blob: IV, one cipher block and the MAC.
pub const MIN_BLOB_LEN: u64 = (IV_LEN + AES_CBC_IV_LEN + MAC_LEN) as u64;
/// Longest blob accepted: the encryption of a [`MAX_PLAINTEXT_LEN`]-byte plaintext (padding
/// never takes a plaintext of at most that length past it).
pub const MAX_BLOB_LEN: u64 =
    (IV_LEN + MAC_LEN) as u64 + (MAX_PLAINTEXT_LEN / 16 + 1) * AES_CBC_IV_LEN as u64;

/// Whether the plaintext is padded before encryption: attachments sent to the file server are,
/// link-preview images are not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Padding {
    /// Zero-pad to [`padded_size`].
    Padded,
    /// Encrypt the plaintext as it is.
    Unpadded,
}

/// The padded length of an `len`-byte attachment: `max(541, ⌊1.05^⌈ln(len)/ln(1.05)⌉⌋)`,
/// computed in IEEE doubles as Session desktop does, and clamped to [`MAX_PLAINTEXT_LEN`] when it
/// would exceed it while `len` does not.
#[must_use]
pub fn padded_size(len: u64) -> u64 {
    // Precision loss above 2^53 does not matter: such lengths are far over every limit.
    #[allow(clippy::cast_precision_loss)]
    let exponent = ((len as f64).ln() / 1.05f64.ln()).ceil();
    // `as` saturates: ln(0) = -inf gives 1.05^-inf = 0.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let bucket = 1.05f64.powf(exponent).floor() as u64;
    let padded = bucket.max(MIN_PADDED_LEN);
    if padded > MAX_PLAINTEXT_LEN && len <= MAX_PLAINTEXT_LEN {
        MAX_PLAINTEXT_LEN
    } else {
        padded
    }
}

/// The 64-byte attachment key: AES-256 key ‖ HMAC-SHA256 key. Zeroized on drop, never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct LegacyKey {
    aes: SymmetricKey,
    mac: SymmetricKey,
}

impl LegacyKey {
    /// Splits a 64-byte key (as carried in `AttachmentPointer.key`).
    pub fn from_slice(bytes: &[u8]) -> Result<Self, AttachmentError> {
        let wrong_length = || AttachmentError::Length {
            what: "legacy attachment key",
            expected: KEY_LEN,
            found: bytes.len(),
        };
        if bytes.len() != KEY_LEN {
            return Err(wrong_length());
        }
        let (aes, mac) = bytes.split_at(KEY_LEN / 2);
        Ok(Self {
            aes: SymmetricKey::from_slice(aes).map_err(|_| wrong_length())?,
            mac: SymmetricKey::from_slice(mac).map_err(|_| wrong_length())?,
        })
    }

    /// A fresh random key.
    pub fn random(rng: &mut impl rand_core::CryptoRngCore) -> Self {
        Self {
            aes: SymmetricKey::random(rng),
            mac: SymmetricKey::random(rng),
        }
    }

    /// The 64 bytes for the attachment pointer.
    #[must_use]
    pub fn to_bytes(&self) -> SecretBytes<KEY_LEN> {
        let mut bytes = [0u8; KEY_LEN];
        let (aes, mac) = bytes.split_at_mut(KEY_LEN / 2);
        aes.copy_from_slice(self.aes.expose());
        mac.copy_from_slice(self.mac.expose());
        let key = SecretBytes::new(bytes);
        bytes.zeroize();
        key
    }
}

impl core::fmt::Debug for LegacyKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("LegacyKey(redacted)")
    }
}

/// An encrypted attachment and what its pointer carries.
#[derive(Debug)]
pub struct Encrypted {
    /// `IV ‖ ciphertext ‖ MAC`: the bytes to upload.
    pub blob: Vec<u8>,
    /// The key (`AttachmentPointer.key`).
    pub key: LegacyKey,
    /// SHA-256 of the blob (`AttachmentPointer.digest`).
    pub digest: [u8; DIGEST_LEN],
    /// The unpadded plaintext length (`AttachmentPointer.size`).
    pub size: u64,
}

/// Encrypts an attachment with a fresh random key and IV.
pub fn encrypt(
    plaintext: &[u8],
    padding: Padding,
    rng: &mut impl rand_core::CryptoRngCore,
) -> Result<Encrypted, AttachmentError> {
    check_plaintext_len(len_u64(plaintext.len()))?;
    let key = LegacyKey::random(rng);
    let mut iv = [0u8; IV_LEN];
    rng.fill_bytes(&mut iv);
    encrypt_with(key, &iv, plaintext, padding)
}

/// Encrypts an attachment with a given key and IV. Never reuse an IV with the same key.
pub fn encrypt_with(
    key: LegacyKey,
    iv: &[u8; IV_LEN],
    plaintext: &[u8],
    padding: Padding,
) -> Result<Encrypted, AttachmentError> {
    let size = len_u64(plaintext.len());
    check_plaintext_len(size)?;
    let ciphertext = match padding {
        Padding::Unpadded => aes256cbc_encrypt(&key.aes, iv, plaintext),
        Padding::Padded => {
            let target = usize::try_from(padded_size(size))
                .unwrap_or(usize::MAX)
                .max(plaintext.len());
            let mut padded = Vec::with_capacity(target);
            padded.extend_from_slice(plaintext);
            padded.resize(target, 0);
            let ciphertext = aes256cbc_encrypt(&key.aes, iv, &padded);
            padded.zeroize();
            ciphertext
        }
    };
    let mac = hmac_sha256(key.mac.expose(), &[iv, &ciphertext]);
    let mut blob = Vec::with_capacity(IV_LEN + ciphertext.len() + MAC_LEN);
    blob.extend_from_slice(iv);
    blob.extend_from_slice(&ciphertext);
    blob.extend_from_slice(&mac);
    let digest = digest(&blob);
    Ok(Encrypted {
        blob,
        key,
        digest,
        size,
    })
}

/// The pointer digest of a blob: its SHA-256.
#[must_use]
pub fn digest(blob: &[u8]) -> [u8; DIGEST_LEN] {
    Sha256::digest(blob).into()
}

/// Decrypts a blob given its pointer's key, digest and size.
///
/// Checks, in order: the pointer's size and the blob's length against the limits (before any
/// work), the MAC (constant time), the digest, then decrypts and keeps the first `size` bytes.
pub fn decrypt(
    blob: &[u8],
    key: &LegacyKey,
    digest: &[u8; DIGEST_LEN],
    size: u64,
) -> Result<Vec<u8>, AttachmentError> {
    check_plaintext_len(size)?;
    let found = len_u64(blob.len());
    if found > MAX_BLOB_LEN {
        return Err(AttachmentError::TooLarge {
            what: "legacy attachment blob",
            len: found,
            max: MAX_BLOB_LEN,
        });
    }
    let too_short = AttachmentError::TooShort {
        what: "legacy attachment blob",
        min: MIN_BLOB_LEN,
        found,
    };
    let Some((iv, rest)) = blob.split_first_chunk::<IV_LEN>() else {
        return Err(too_short);
    };
    let Some((ciphertext, mac)) = rest.split_last_chunk::<MAC_LEN>() else {
        return Err(too_short);
    };
    if ciphertext.is_empty() {
        return Err(too_short);
    }
    if ciphertext.len() % AES_CBC_IV_LEN != 0 {
        return Err(AttachmentError::Length {
            what: "legacy attachment ciphertext (a multiple of 16)",
            expected: ciphertext.len().next_multiple_of(AES_CBC_IV_LEN),
            found: ciphertext.len(),
        });
    }
    if !ct_eq(&hmac_sha256(key.mac.expose(), &[iv, ciphertext]), mac) {
        return Err(AttachmentError::BadMac);
    }
    if !ct_eq(&self::digest(blob), digest) {
        return Err(AttachmentError::DigestMismatch);
    }
    let mut plaintext = aes256cbc_decrypt(&key.aes, iv, ciphertext)
        .map_err(|_| AttachmentError::BadPadding("legacy attachment PKCS#7 padding"))?;
    let found = len_u64(plaintext.len());
    if found < size {
        plaintext.zeroize();
        return Err(AttachmentError::ShorterThanSize { size, found });
    }
    plaintext.truncate(usize::try_from(size).unwrap_or(usize::MAX));
    Ok(plaintext)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_core::SeedableRng;

    fn rng() -> rand_chacha::ChaCha20Rng {
        rand_chacha::ChaCha20Rng::seed_from_u64(7)
    }

    #[test]
    fn padded_size_is_monotonic_and_never_shrinks() {
        let mut last = 0;
        for len in (0..2_000_000).step_by(997).chain([MAX_PLAINTEXT_LEN]) {
            let padded = padded_size(len);
            assert!(padded >= len.max(MIN_PADDED_LEN), "{len} -> {padded}");
            assert!(padded >= last);
            last = padded;
        }
        assert_eq!(padded_size(MAX_PLAINTEXT_LEN - 1), MAX_PLAINTEXT_LEN);
    }

    #[test]
    fn round_trip_padded_and_unpadded() {
        for padding in [Padding::Padded, Padding::Unpadded] {
            for len in [0, 1, 15, 16, 17, 540, 541, 542, 5000] {
                let plaintext: Vec<u8> = (0..len).map(|i| (i * 31 % 251) as u8).collect();
                let enc = encrypt(&plaintext, padding, &mut rng()).unwrap();
                assert_eq!(enc.size, len as u64);
                let expected_ct = match padding {
                    Padding::Padded => padded_size(len as u64) / 16 * 16 + 16,
                    Padding::Unpadded => len as u64 / 16 * 16 + 16,
                };
                assert_eq!(enc.blob.len() as u64, expected_ct + 48);
                let key = LegacyKey::from_slice(enc.key.to_bytes().expose()).unwrap();
                let got = decrypt(&enc.blob, &key, &enc.digest, enc.size).unwrap();
                assert_eq!(got, plaintext);
            }
        }
    }

    #[test]
    fn every_bit_flip_and_truncation_is_rejected() {
        let enc = encrypt(b"attachment body", Padding::Unpadded, &mut rng()).unwrap();
        for i in 0..enc.blob.len() {
            let mut bad = enc.blob.clone();
            bad[i] ^= 0x01;
            assert!(matches!(
                decrypt(&bad, &enc.key, &enc.digest, enc.size),
                Err(AttachmentError::BadMac)
            ));
        }
        for len in 0..enc.blob.len() {
            assert!(decrypt(&enc.blob[..len], &enc.key, &enc.digest, enc.size).is_err());
        }
        let mut digest = enc.digest;
        digest[0] ^= 1;
        assert!(matches!(
            decrypt(&enc.blob, &enc.key, &digest, enc.size),
            Err(AttachmentError::DigestMismatch)
        ));
        assert!(matches!(
            decrypt(&enc.blob, &enc.key, &enc.digest, 17),
            Err(AttachmentError::ShorterThanSize {
                size: 17,
                found: 15
            })
        ));
        let other = LegacyKey::from_slice(&[1; 64]).unwrap();
        assert!(decrypt(&enc.blob, &other, &enc.digest, enc.size).is_err());
    }

    #[test]
    fn limits_are_checked_before_any_work() {
        let big = vec![0u8; (MAX_PLAINTEXT_LEN + 1) as usize];
        assert!(matches!(
            encrypt(&big, Padding::Padded, &mut rng()),
            Err(AttachmentError::TooLarge { len, .. }) if len == MAX_PLAINTEXT_LEN + 1
        ));
        let key = LegacyKey::random(&mut rng());
        assert!(matches!(
            decrypt(&[], &key, &[0; 32], MAX_PLAINTEXT_LEN + 1),
            Err(AttachmentError::TooLarge { .. })
        ));
        let blob = vec![0u8; (MAX_BLOB_LEN + 16) as usize];
        assert!(matches!(
            decrypt(&blob, &key, &[0; 32], 0),
            Err(AttachmentError::TooLarge { .. })
        ));
        // The largest plaintext fits in the largest blob.
        let max = vec![7u8; MAX_PLAINTEXT_LEN as usize];
        let enc = encrypt(&max, Padding::Padded, &mut rng()).unwrap();
        assert_eq!(enc.blob.len() as u64, MAX_BLOB_LEN);
        assert_eq!(
            decrypt(&enc.blob, &enc.key, &enc.digest, enc.size).unwrap(),
            max
        );
    }

    #[test]
    fn key_has_exactly_64_bytes_and_never_prints() {
        assert!(matches!(
            LegacyKey::from_slice(&[1; 63]),
            Err(AttachmentError::Length {
                expected: 64,
                found: 63,
                ..
            })
        ));
        let key = LegacyKey::from_slice(&[0xab; 64]).unwrap();
        assert_eq!(key.to_bytes().expose(), &[0xab; 64]);
        assert!(!format!("{key:?}").contains("ab"));
    }
}
