use crypto_secretbox::XSalsa20Poly1305;
use crypto_secretbox::aead::{Aead, KeyInit};
use sha2::{Digest, Sha512};
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

fn seal_nonce(epk: &X25519PublicKey, recipient: &X25519PublicKey) -> Result<[u8; 24], CryptoError> {
    let mut nonce = [0u8; 24];
    Blake2b::new(24)?
        .update(epk.as_bytes())
        .update(recipient.as_bytes())
        .finalize_into(&mut nonce)?;
    Ok(nonce)
}

/// libsodium `crypto_box_beforenm`: HSalsa20 of the X25519 secret, refusing an all-zero secret.
fn salsa_box(sk: &X25519SecretKey, pk: &X25519PublicKey) -> Result<XSalsa20Poly1305, CryptoError> {
    let shared = sk.diffie_hellman(pk)?;
    let mut key = salsa20::hsalsa::<salsa20::cipher::consts::U10>(
        shared.expose().into(),
        &Default::default(),
    );
    let cipher = XSalsa20Poly1305::new(&key);
    key.zeroize();
    Ok(cipher)
}

/// A sealed box (libsodium `crypto_box_seal`) with a fresh random ephemeral key.
pub fn seal(
    recipient: &X25519PublicKey,
    msg: &[u8],
    rng: &mut impl rand_core::CryptoRngCore,
) -> Result<Vec<u8>, CryptoError> {
    seal_with_ephemeral(recipient, msg, &X25519SecretKey::generate(rng))
}

/// A sealed box made with a caller-chosen ephemeral secret key. Only for deterministic
/// constructions where the ephemeral key is itself derived from secret inputs; the result is an
/// ordinary sealed box that [`seal_open`] opens.
pub fn seal_with_ephemeral(
    recipient: &X25519PublicKey,
    msg: &[u8],
    ephemeral: &X25519SecretKey,
) -> Result<Vec<u8>, CryptoError> {
    let epk = ephemeral.public_key();
    let nonce = seal_nonce(&epk, recipient)?;
    let boxed = salsa_box(ephemeral, recipient)?
        .encrypt(&nonce.into(), msg)
        .map_err(|_| CryptoError::InvalidParameter("message too long for a sealed box"))?;
    let mut out = Vec::with_capacity(32 + boxed.len());
    out.extend_from_slice(epk.as_bytes());
    out.extend_from_slice(&boxed);
    Ok(out)
}

/// Opens a sealed box (libsodium `crypto_box_seal_open`) with the recipient's secret key.
pub fn seal_open(recipient: &X25519SecretKey, ciphertext: &[u8]) -> Result<Vec<u8>, CryptoError> {
    seal_open_with_public(recipient, &recipient.public_key(), ciphertext)
}

/// [`seal_open`] for a caller that already holds the recipient's public key, saving the scalar
/// multiplication that derives it. A `public` that does not match `recipient` fails to open.
pub fn seal_open_with_public(
    recipient: &X25519SecretKey,
    public: &X25519PublicKey,
    ciphertext: &[u8],
) -> Result<Vec<u8>, CryptoError> {
    if ciphertext.len() < SEALED_BOX_OVERHEAD {
        return Err(CryptoError::TooShort {
            what: "sealed box",
            min: SEALED_BOX_OVERHEAD,
            found: ciphertext.len(),
        });
    }
    let (epk_bytes, boxed) = ciphertext.split_at(32);
    let epk = X25519PublicKey::from_slice(epk_bytes)?;
    let nonce = seal_nonce(&epk, public)?;
    salsa_box(recipient, &epk)
        .map_err(|_| CryptoError::Decrypt)?
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
}
