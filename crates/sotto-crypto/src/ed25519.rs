use core::fmt;

use ed25519_dalek::{Signer, SigningKey, VerifyingKey};
use sha2::{Digest, Sha512};
use zeroize::Zeroize;

use crate::{CryptoError, SecretBytes, SecretScalar, X25519PublicKey, X25519SecretKey};

/// Length of an Ed25519 signature.
pub const SIGNATURE_LEN: usize = 64;

/// An Ed25519 signature, `R ‖ S`.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Signature(pub [u8; SIGNATURE_LEN]);

impl Signature {
    /// Reads a signature from exactly 64 bytes.
    pub fn from_slice(bytes: &[u8]) -> Result<Self, CryptoError> {
        bytes.try_into().map(Self).map_err(|_| CryptoError::Length {
            what: "Ed25519 signature",
            expected: SIGNATURE_LEN,
            found: bytes.len(),
        })
    }

    /// The 64 signature bytes.
    #[must_use]
    pub fn to_bytes(&self) -> [u8; SIGNATURE_LEN] {
        self.0
    }
}

impl fmt::Debug for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Signature({})", hex_prefix(&self.0))
    }
}

/// An Ed25519 public key (compressed Edwards point). Construction does not validate the point;
/// operations that need a valid point say so in their errors.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Ed25519PublicKey(pub [u8; 32]);

impl Ed25519PublicKey {
    /// Reads a key from exactly 32 bytes.
    pub fn from_slice(bytes: &[u8]) -> Result<Self, CryptoError> {
        bytes.try_into().map(Self).map_err(|_| CryptoError::Length {
            what: "Ed25519 public key",
            expected: 32,
            found: bytes.len(),
        })
    }

    /// The 32 key bytes.
    #[must_use]
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Whether the point's x coordinate is negative (bit 0x80 of the last byte set).
    #[must_use]
    pub fn is_negative(&self) -> bool {
        self.0[31] & 0x80 != 0
    }

    /// Verifies a detached signature with libsodium's strictness: non-canonical encodings and
    /// small-order keys are rejected.
    pub fn verify(&self, msg: &[u8], sig: &Signature) -> Result<(), CryptoError> {
        let key =
            VerifyingKey::from_bytes(&self.0).map_err(|_| CryptoError::InvalidEd25519Point)?;
        key.verify_strict(msg, &ed25519_dalek::Signature::from_bytes(&sig.0))
            .map_err(|_| CryptoError::BadSignature)
    }

    /// The birationally equivalent X25519 public key (libsodium
    /// `crypto_sign_ed25519_pk_to_curve25519`): u = (1 + y) / (1 − y).
    pub fn to_x25519(&self) -> Result<X25519PublicKey, CryptoError> {
        let point = curve25519_dalek::edwards::CompressedEdwardsY(self.0)
            .decompress()
            .ok_or(CryptoError::InvalidEd25519Point)?;
        if point.is_small_order() || !point.is_torsion_free() {
            return Err(CryptoError::InvalidEd25519Point);
        }
        Ok(X25519PublicKey(point.to_montgomery().to_bytes()))
    }
}

impl fmt::Debug for Ed25519PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Ed25519PublicKey({})", hex_prefix(&self.0))
    }
}

/// An Ed25519 secret key, held as its 32-byte seed. Zeroized on drop; `Debug` shows only the
/// public key.
#[derive(Clone)]
pub struct Ed25519SecretKey {
    signing: SigningKey,
}

impl Ed25519SecretKey {
    /// The key pair of a 32-byte seed (libsodium `crypto_sign_seed_keypair`).
    #[must_use]
    pub fn from_seed(seed: &[u8; 32]) -> Self {
        Self {
            signing: SigningKey::from_bytes(seed),
        }
    }

    /// Accepts either a 32-byte seed or libsodium's 64-byte `seed ‖ public key`; in the latter
    /// case the public half must match the seed.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, CryptoError> {
        match bytes.len() {
            32 => {
                let mut seed = [0u8; 32];
                seed.copy_from_slice(bytes);
                let key = Self::from_seed(&seed);
                seed.zeroize();
                Ok(key)
            }
            64 => {
                let (seed_part, pk_part) = bytes.split_at(32);
                let key = Self::from_bytes(seed_part)?;
                if key.public_key().0.as_slice() != pk_part {
                    return Err(CryptoError::InvalidParameter(
                        "the public half of a 64-byte Ed25519 secret key does not match its seed",
                    ));
                }
                Ok(key)
            }
            found => Err(CryptoError::Length {
                what: "Ed25519 secret key (seed or seed‖pk)",
                expected: 32,
                found,
            }),
        }
    }

    /// A fresh random key.
    pub fn generate(rng: &mut impl rand_core::CryptoRngCore) -> Self {
        let mut seed = [0u8; 32];
        rng.fill_bytes(&mut seed);
        let key = Self::from_seed(&seed);
        seed.zeroize();
        key
    }

    /// The 32-byte seed.
    #[must_use]
    pub fn seed(&self) -> SecretBytes<32> {
        SecretBytes::new(self.signing.to_bytes())
    }

    /// libsodium's 64-byte secret key: `seed ‖ public key`.
    #[must_use]
    pub fn to_libsodium_bytes(&self) -> SecretBytes<64> {
        SecretBytes::new(self.signing.to_keypair_bytes())
    }

    /// The public key.
    #[must_use]
    pub fn public_key(&self) -> Ed25519PublicKey {
        Ed25519PublicKey(self.signing.verifying_key().to_bytes())
    }

    /// A standard (RFC 8032) detached signature.
    #[must_use]
    pub fn sign(&self, msg: &[u8]) -> Signature {
        Signature(self.signing.sign(msg).to_bytes())
    }

    fn expanded(&self) -> SecretBytes<64> {
        let mut digest: [u8; 64] = Sha512::digest(self.signing.as_bytes()).into();
        let out = SecretBytes::new(digest);
        digest.zeroize();
        out
    }

    /// The clamped private scalar `a` (first half of SHA-512(seed), clamped), which is also the
    /// X25519 secret key (libsodium `crypto_sign_ed25519_sk_to_curve25519`).
    #[must_use]
    pub fn clamped_scalar_bytes(&self) -> SecretBytes<32> {
        let expanded = self.expanded();
        let mut a = [0u8; 32];
        a.copy_from_slice(expanded.expose().split_at(32).0);
        a[0] &= 248;
        a[31] &= 127;
        a[31] |= 64;
        let out = SecretBytes::new(a);
        a.zeroize();
        out
    }

    /// The private scalar as a field element mod L, for blinding arithmetic.
    #[must_use]
    pub fn scalar(&self) -> SecretScalar {
        SecretScalar::from_bytes_mod_order(self.clamped_scalar_bytes().expose())
    }

    /// The standard nonce prefix: the second half of SHA-512(seed).
    #[must_use]
    pub fn nonce_prefix(&self) -> SecretBytes<32> {
        let expanded = self.expanded();
        let mut prefix = [0u8; 32];
        prefix.copy_from_slice(expanded.expose().split_at(32).1);
        let out = SecretBytes::new(prefix);
        prefix.zeroize();
        out
    }

    /// The X25519 secret key of this account.
    #[must_use]
    pub fn to_x25519(&self) -> X25519SecretKey {
        X25519SecretKey::from_bytes(self.clamped_scalar_bytes().expose())
    }
}

impl fmt::Debug for Ed25519SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Ed25519SecretKey(public {})",
            hex_prefix(&self.public_key().0)
        )
    }
}

/// The first four bytes in hex followed by an ellipsis: enough to tell keys apart in logs.
pub(crate) fn hex_prefix(bytes: &[u8]) -> String {
    let mut s: String = bytes.iter().take(4).map(|b| format!("{b:02x}")).collect();
    s.push('…');
    s
}
