use core::fmt;

use curve25519_dalek::edwards::{CompressedEdwardsY, EdwardsPoint};
use curve25519_dalek::scalar::Scalar;
use sha2::{Digest, Sha512};
use zeroize::Zeroize;

use crate::{CryptoError, Ed25519PublicKey, Signature};

/// SHA-512 over the concatenation of `parts`.
#[must_use]
pub fn sha512(parts: &[&[u8]]) -> [u8; 64] {
    let mut h = Sha512::new();
    for part in parts {
        h.update(part);
    }
    h.finalize().into()
}

/// A scalar mod L (the Ed25519 group order), treated as secret: zeroized on drop, never printed.
///
/// This is the arithmetic that community blinding needs (libsodium's `crypto_core_ed25519_scalar_*`
/// and `crypto_scalarmult_ed25519_*_noclamp`).
#[derive(Clone)]
pub struct SecretScalar(Scalar);

impl SecretScalar {
    /// Reduces a 32-byte little-endian integer mod L.
    #[must_use]
    pub fn from_bytes_mod_order(bytes: &[u8; 32]) -> Self {
        Self(Scalar::from_bytes_mod_order(*bytes))
    }

    /// Reduces a 64-byte little-endian integer mod L (libsodium `crypto_core_ed25519_scalar_reduce`).
    #[must_use]
    pub fn from_bytes_mod_order_wide(bytes: &[u8; 64]) -> Self {
        Self(Scalar::from_bytes_mod_order_wide(bytes))
    }

    /// `self · other mod L`.
    #[must_use]
    pub fn mul(&self, other: &Self) -> Self {
        Self(self.0 * other.0)
    }

    /// `−self mod L`.
    #[must_use]
    pub fn negate(&self) -> Self {
        Self(-self.0)
    }

    /// The canonical 32-byte encoding.
    #[must_use]
    pub fn to_bytes(&self) -> crate::SecretBytes<32> {
        crate::SecretBytes::new(self.0.to_bytes())
    }

    /// `self · G` (no clamping).
    #[must_use]
    pub fn public_point(&self) -> Ed25519PublicKey {
        Ed25519PublicKey(EdwardsPoint::mul_base(&self.0).compress().to_bytes())
    }

    /// `self · P` without clamping (libsodium `crypto_scalarmult_ed25519_noclamp`): `P` must be a
    /// canonical encoding of a point in the prime-order subgroup, and the result must not be the
    /// identity.
    pub fn mul_point(&self, point: &Ed25519PublicKey) -> Result<Ed25519PublicKey, CryptoError> {
        let compressed = CompressedEdwardsY(point.0);
        let p = compressed
            .decompress()
            .ok_or(CryptoError::InvalidEd25519Point)?;
        if p.compress() != compressed || p.is_small_order() || !p.is_torsion_free() {
            return Err(CryptoError::InvalidEd25519Point);
        }
        let q = self.0 * p;
        if q.is_small_order() {
            return Err(CryptoError::InvalidEd25519Point);
        }
        Ok(Ed25519PublicKey(q.compress().to_bytes()))
    }

    /// An Ed25519 signature made with an explicit private scalar and nonce:
    /// `R = r·G`, `S = r + reduce(SHA-512(R ‖ A ‖ M))·a`. It verifies as an ordinary Ed25519
    /// signature under `public_key = a·G`. Used by blinded signing, where the private scalar is
    /// not derived from a seed.
    #[must_use]
    pub fn sign_with_nonce(
        &self,
        public_key: &Ed25519PublicKey,
        nonce: &SecretScalar,
        msg: &[u8],
    ) -> Signature {
        let r_point = EdwardsPoint::mul_base(&nonce.0).compress().to_bytes();
        let mut h = Sha512::new();
        h.update(r_point);
        h.update(public_key.0);
        h.update(msg);
        let hram = Scalar::from_hash(h);
        let s = nonce.0 + hram * self.0;
        let mut sig = [0u8; 64];
        let (r_half, s_half) = sig.split_at_mut(32);
        r_half.copy_from_slice(&r_point);
        s_half.copy_from_slice(s.as_bytes());
        Signature(sig)
    }
}

impl Drop for SecretScalar {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl fmt::Debug for SecretScalar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretScalar(redacted)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Ed25519SecretKey;

    #[test]
    fn scalar_signature_verifies_and_matches_standard_signing() {
        let key = Ed25519SecretKey::from_seed(&[7; 32]);
        let a = key.scalar();
        assert_eq!(a.public_point(), key.public_key());
        // Standard Ed25519: r = reduce(SHA-512(prefix ‖ M)).
        let msg = b"a message";
        let r =
            SecretScalar::from_bytes_mod_order_wide(&sha512(&[key.nonce_prefix().expose(), msg]));
        let sig = a.sign_with_nonce(&key.public_key(), &r, msg);
        assert_eq!(sig, key.sign(msg));
        key.public_key().verify(msg, &sig).unwrap();
    }

    #[test]
    fn mul_point_rejects_bad_points() {
        let s = SecretScalar::from_bytes_mod_order(&[3; 32]);
        // The identity encoding (small order).
        let mut identity = [0u8; 32];
        identity[0] = 1;
        assert!(s.mul_point(&Ed25519PublicKey(identity)).is_err());
        // Not on the curve.
        assert!(s.mul_point(&Ed25519PublicKey([0xff; 32])).is_err());
    }
}
