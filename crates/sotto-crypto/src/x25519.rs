use core::fmt;

use curve25519_dalek::montgomery::MontgomeryPoint;

use crate::ed25519::hex_prefix;
use crate::{CryptoError, Ed25519PublicKey, SecretBytes};

/// An X25519 public key (Montgomery u-coordinate).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct X25519PublicKey(pub [u8; 32]);

impl X25519PublicKey {
    /// Reads a key from exactly 32 bytes.
    pub fn from_slice(bytes: &[u8]) -> Result<Self, CryptoError> {
        bytes.try_into().map(Self).map_err(|_| CryptoError::Length {
            what: "X25519 public key",
            expected: 32,
            found: bytes.len(),
        })
    }

    /// The 32 key bytes.
    #[must_use]
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// The Ed25519 point with this u-coordinate and a positive x (sign bit clear):
    /// y = (u − 1) / (u + 1). The sign of the original Ed25519 key cannot be recovered.
    pub fn to_ed25519_positive(&self) -> Result<Ed25519PublicKey, CryptoError> {
        MontgomeryPoint(self.0)
            .to_edwards(0)
            .map(|p| Ed25519PublicKey(p.compress().to_bytes()))
            .ok_or(CryptoError::InvalidX25519Point)
    }
}

impl fmt::Debug for X25519PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "X25519PublicKey({})", hex_prefix(&self.0))
    }
}

/// An X25519 secret key. Zeroized on drop; `Debug` shows only the public key.
#[derive(Clone)]
pub struct X25519SecretKey(x25519_dalek::StaticSecret);

impl X25519SecretKey {
    /// Wraps 32 secret bytes (clamped when used, as libsodium does).
    #[must_use]
    pub fn from_bytes(bytes: &[u8; 32]) -> Self {
        Self(x25519_dalek::StaticSecret::from(*bytes))
    }

    /// A fresh random key.
    pub fn generate(rng: &mut impl rand_core::CryptoRngCore) -> Self {
        let mut bytes = [0u8; 32];
        rng.fill_bytes(&mut bytes);
        let key = Self::from_bytes(&bytes);
        zeroize::Zeroize::zeroize(&mut bytes);
        key
    }

    /// The secret bytes, as given.
    #[must_use]
    pub fn to_bytes(&self) -> SecretBytes<32> {
        SecretBytes::new(self.0.to_bytes())
    }

    /// The public key `a·B`.
    #[must_use]
    pub fn public_key(&self) -> X25519PublicKey {
        X25519PublicKey(x25519_dalek::PublicKey::from(&self.0).to_bytes())
    }

    /// Diffie-Hellman with a peer's public key. Fails, as libsodium does, when the result is all
    /// zeros (a low-order peer key).
    pub fn diffie_hellman(&self, peer: &X25519PublicKey) -> Result<SecretBytes<32>, CryptoError> {
        let shared = self
            .0
            .diffie_hellman(&x25519_dalek::PublicKey::from(peer.0));
        if !shared.was_contributory() {
            return Err(CryptoError::WeakKeyAgreement);
        }
        Ok(SecretBytes::new(shared.to_bytes()))
    }
}

impl fmt::Debug for X25519SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "X25519SecretKey(public {})",
            hex_prefix(&self.public_key().0)
        )
    }
}

/// X25519 scalar multiplication `sk · pk` (libsodium `crypto_scalarmult`).
pub fn x25519(sk: &X25519SecretKey, pk: &X25519PublicKey) -> Result<SecretBytes<32>, CryptoError> {
    sk.diffie_hellman(pk)
}
