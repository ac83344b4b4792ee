#![doc = include_str!("../README.md")]

mod aead;
mod blake2b;
mod cbc;
mod ed25519;
mod error;
mod hmac;
mod scalar;
mod sealed_box;
mod secret;
pub mod secretstream;
mod x25519;

pub use aead::{
    AEAD_TAG_LEN, AES_GCM_NONCE_LEN, XCHACHA_NONCE_LEN, aes256gcm_decrypt, aes256gcm_encrypt,
    xchacha20poly1305_decrypt, xchacha20poly1305_encrypt,
};
pub use blake2b::{Blake2b, blake2b_32, blake2b_64};
pub use cbc::{AES_CBC_IV_LEN, aes256cbc_decrypt, aes256cbc_encrypt};
pub use ed25519::{Ed25519PublicKey, Ed25519SecretKey, SIGNATURE_LEN, Signature};
pub use error::CryptoError;
pub use hmac::hmac_sha256;
pub use scalar::{SecretScalar, sha512};
pub use sealed_box::{
    SEALED_BOX_OVERHEAD, box_seed_keypair, seal, seal_open, seal_open_with_public,
    seal_with_ephemeral,
};
pub use secret::{SecretBytes, SymmetricKey, ct_eq};
pub use x25519::{X25519PublicKey, X25519SecretKey, x25519};

/// Re-exported so callers can name the RNG bound without depending on `rand_core` themselves.
pub use rand_core::{CryptoRngCore, OsRng};
