//! libsodium's sealed boxes (`crypto_box_seal`): anonymous public-key encryption to an X25519 key.
//!
//! [`seal`] and [`seal_open`] are RustCrypto's `crypto_box` (feature `seal`, libsodium-compatible).
//! Two variants are not expressible with `crypto_box`'s sealed-box API, which draws the ephemeral key
//! from its RNG itself and always re-derives the recipient's public key from the secret key:
//! [`seal_with_ephemeral`] (a caller-chosen ephemeral key) and [`seal_open_with_public`] (a known
//! public key, saving a scalar multiplication). They use `crypto_box`'s `SalsaBox` (the
//! `crypto_box_beforenm` + XSalsa20-Poly1305 construction) and add only what the sealed-box format
//! puts around it: the nonce `BLAKE2b-192(epk ‖ recipient)` and the `epk ‖ box` layout.
//!
//! `crypto_box` does not refuse low-order keys, which make the shared secret all zeros (a key anyone
//! knows); libsodium does. Every function here refuses them first, with libsodium's own list of
//! low-order u-coordinates (`has_small_order`), compared in constant time.

use crypto_box::SalsaBox;
use crypto_box::aead::Aead;
use sha2::{Digest, Sha512};
use subtle::{Choice, ConstantTimeEq};
use zeroize::Zeroize;

use crate::{Blake2b, CryptoError, X25519PublicKey, X25519SecretKey};

/// Bytes a sealed box adds to its plaintext: the ephemeral public key and the Poly1305 tag.
pub const SEALED_BOX_OVERHEAD: usize = 32 + 16;

/// libsodium `crypto_box_seed_keypair`: the secret key is the first half of SHA-512(seed).
#[must_use]
pub fn box_seed_keypair(seed: &[u8; 32]) -> (X25519SecretKey, X25519PublicKey) {
    let mut digest: [u8; 64] = Sha512::digest(seed).into();
    let mut sk = [0u8; 32];
    sk.copy_from_slice(digest.split_at(32).0);
    let secret = X25519SecretKey::from_bytes(&sk);
    sk.zeroize();
    digest.zeroize();
    let public = secret.public_key();
    (secret, public)
}

/// `p − 1`, `p` and `p + 1` (p = 2²⁵⁵ − 19) differ from each other only in the first byte.
const fn near_p(first: u8) -> [u8; 32] {
    let mut out = [0xff; 32];
    out[0] = first;
    out[31] = 0x7f;
    out
}

/// libsodium's `has_small_order` list: the u-coordinates (and their non-canonical encodings) of
/// the points of order 1, 2, 4 and 8 on Curve25519 and its twist.
const LOW_ORDER: [[u8; 32]; 7] = [
    [0; 32],
    {
        let mut one = [0; 32];
        one[0] = 1;
        one
    },
    [
        0xe0, 0xeb, 0x7a, 0x7c, 0x3b, 0x41, 0xb8, 0xae, 0x16, 0x56, 0xe3, 0xfa, 0xf1, 0x9f, 0xc4,
        0x6a, 0xda, 0x09, 0x8d, 0xeb, 0x9c, 0x32, 0xb1, 0xfd, 0x86, 0x62, 0x05, 0x16, 0x5f, 0x49,
        0xb8, 0x00,
    ],
    [
        0x5f, 0x9c, 0x95, 0xbc, 0xa3, 0x50, 0x8c, 0x24, 0xb1, 0xd0, 0xb1, 0x55, 0x9c, 0x83, 0xef,
        0x5b, 0x04, 0x44, 0x5c, 0xc4, 0x58, 0x1c, 0x8e, 0x86, 0xd8, 0x22, 0x4e, 0xdd, 0xd0, 0x9f,
        0x11, 0x57,
    ],
    near_p(0xec),
    near_p(0xed),
    near_p(0xee),
];

/// Whether `key` is of low order (X25519 ignores the top bit, so it is masked here too).
fn has_small_order(key: &X25519PublicKey) -> bool {
    let mut masked = *key.as_bytes();
    if let Some(last) = masked.last_mut() {
        *last &= 0x7f;
    }
    let found = LOW_ORDER
        .iter()
        .fold(Choice::from(0), |acc, bad| acc | masked.ct_eq(bad));
    found.into()
}

fn box_public(key: &X25519PublicKey) -> Result<crypto_box::PublicKey, CryptoError> {
    if has_small_order(key) {
        return Err(CryptoError::WeakKeyAgreement);
    }
    Ok(crypto_box::PublicKey::from_bytes(*key.as_bytes()))
}

fn box_secret(key: &X25519SecretKey) -> crypto_box::SecretKey {
    crypto_box::SecretKey::from_bytes(*key.to_bytes().expose())
}

fn seal_nonce(epk: &X25519PublicKey, recipient: &X25519PublicKey) -> Result<[u8; 24], CryptoError> {
    let mut nonce = [0u8; 24];
    Blake2b::new(24)?
        .update(epk.as_bytes())
        .update(recipient.as_bytes())
        .finalize_into(&mut nonce)?;
    Ok(nonce)
}

/// A sealed box (libsodium `crypto_box_seal`) with a fresh random ephemeral key. Fails for a
/// low-order recipient key, as libsodium does.
pub fn seal(
    recipient: &X25519PublicKey,
    msg: &[u8],
    rng: &mut impl rand_core::CryptoRngCore,
) -> Result<Vec<u8>, CryptoError> {
    box_public(recipient)?
        .seal(rng, msg)
        .map_err(|_| CryptoError::InvalidParameter("message too long for a sealed box"))
}

/// A sealed box made with a caller-chosen ephemeral secret key. Only for deterministic
/// constructions where the ephemeral key is itself derived from secret inputs; the result is an
/// ordinary sealed box that [`seal_open`] opens. (`crypto_box`'s `seal` cannot take the ephemeral
/// key, so this one assembles the format around its `SalsaBox`.)
pub fn seal_with_ephemeral(
    recipient: &X25519PublicKey,
    msg: &[u8],
    ephemeral: &X25519SecretKey,
) -> Result<Vec<u8>, CryptoError> {
    let epk = ephemeral.public_key();
    let nonce = seal_nonce(&epk, recipient)?;
    let boxed = SalsaBox::new(&box_public(recipient)?, &box_secret(ephemeral))
        .encrypt(&nonce.into(), msg)
        .map_err(|_| CryptoError::InvalidParameter("message too long for a sealed box"))?;
    let mut out = Vec::with_capacity(32 + boxed.len());
    out.extend_from_slice(epk.as_bytes());
    out.extend_from_slice(&boxed);
    Ok(out)
}

fn split_sealed(ciphertext: &[u8]) -> Result<(X25519PublicKey, &[u8]), CryptoError> {
    if ciphertext.len() < SEALED_BOX_OVERHEAD {
        return Err(CryptoError::TooShort {
            what: "sealed box",
            min: SEALED_BOX_OVERHEAD,
            found: ciphertext.len(),
        });
    }
    let (epk, boxed) = ciphertext.split_at(32);
    let epk = X25519PublicKey::from_slice(epk)?;
    if has_small_order(&epk) {
        return Err(CryptoError::Decrypt);
    }
    Ok((epk, boxed))
}

/// Opens a sealed box (libsodium `crypto_box_seal_open`) with the recipient's secret key.
pub fn seal_open(recipient: &X25519SecretKey, ciphertext: &[u8]) -> Result<Vec<u8>, CryptoError> {
    split_sealed(ciphertext)?;
    box_secret(recipient)
        .unseal(ciphertext)
        .map_err(|_| CryptoError::Decrypt)
}

/// [`seal_open`] for a caller that already holds the recipient's public key, saving the scalar
/// multiplication that derives it. A `public` that does not match `recipient` fails to open.
/// (`crypto_box`'s `unseal` always derives the public key, so this one assembles the format around
/// its `SalsaBox`.)
pub fn seal_open_with_public(
    recipient: &X25519SecretKey,
    public: &X25519PublicKey,
    ciphertext: &[u8],
) -> Result<Vec<u8>, CryptoError> {
    let (epk, boxed) = split_sealed(ciphertext)?;
    let nonce = seal_nonce(&epk, public)?;
    SalsaBox::new(
        &crypto_box::PublicKey::from_bytes(*epk.as_bytes()),
        &box_secret(recipient),
    )
    .decrypt(&nonce.into(), boxed)
    .map_err(|_| CryptoError::Decrypt)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_tamper() {
        let (sk, pk) = box_seed_keypair(&[5; 32]);
        let ct = seal(&pk, b"hi there", &mut rand_core::OsRng).unwrap();
        assert_eq!(ct.len(), 8 + SEALED_BOX_OVERHEAD);
        assert_eq!(seal_open(&sk, &ct).unwrap(), b"hi there");
        for i in 0..ct.len() {
            let mut bad = ct.clone();
            bad[i] ^= 0x10;
            assert!(seal_open(&sk, &bad).is_err(), "flip at {i} accepted");
        }
        assert!(seal_open(&sk, &ct[..40]).is_err());
    }

    #[test]
    fn low_order_ephemeral_key_is_rejected() {
        let (sk, _) = box_seed_keypair(&[5; 32]);
        let ct = [0u8; 64];
        assert_eq!(seal_open(&sk, &ct), Err(CryptoError::Decrypt));
    }

    /// Every listed key is of low order (X25519 with it gives all zeros), and `seal`, `seal_open`
    /// and `seal_open_with_public` refuse each of them, with or without the top bit set.
    #[test]
    fn libsodium_low_order_list_is_refused_everywhere() {
        let (sk, pk) = box_seed_keypair(&[9; 32]);
        for bad in LOW_ORDER {
            for top in [0, 0x80] {
                let mut key = bad;
                key[31] |= top;
                let key = X25519PublicKey(key);
                assert!(sk.diffie_hellman(&key).is_err(), "{key:?} is not low order");
                assert_eq!(
                    seal(&key, b"x", &mut rand_core::OsRng),
                    Err(CryptoError::WeakKeyAgreement)
                );
                let mut ct = key.as_bytes().to_vec();
                ct.extend_from_slice(&[0; 17]);
                assert_eq!(seal_open(&sk, &ct), Err(CryptoError::Decrypt));
                assert_eq!(
                    seal_open_with_public(&sk, &pk, &ct),
                    Err(CryptoError::Decrypt)
                );
            }
        }
    }

    #[test]
    fn the_four_functions_agree() {
        let (sk, pk) = box_seed_keypair(&[3; 32]);
        let (esk, _) = box_seed_keypair(&[4; 32]);
        let a = seal(&pk, b"one", &mut rand_core::OsRng).unwrap();
        let b = seal_with_ephemeral(&pk, b"two", &esk).unwrap();
        assert_eq!(seal_open_with_public(&sk, &pk, &a).unwrap(), b"one");
        assert_eq!(seal_open(&sk, &b).unwrap(), b"two");
        let (_, other) = box_seed_keypair(&[5; 32]);
        assert_eq!(
            seal_open_with_public(&sk, &other, &a),
            Err(CryptoError::Decrypt)
        );
    }
}
