use thiserror::Error;

/// Why a cryptographic operation failed.
///
/// Variants separate malformed input (bad lengths, bytes that are not a key), failed authentication
/// (a tag or signature that does not verify) and API misuse (parameters out of range).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum CryptoError {
    /// An input had the wrong length.
    #[error("{what} must be {expected} bytes, got {found}")]
    Length {
        /// What was being read.
        what: &'static str,
        /// The required length (or a minimum, as the message of the caller says).
        expected: usize,
        /// The length given.
        found: usize,
    },
    /// An input was shorter than the smallest valid value.
    #[error("{what} is too short: need at least {min} bytes, got {found}")]
    TooShort {
        /// What was being read.
        what: &'static str,
        /// The minimum length.
        min: usize,
        /// The length given.
        found: usize,
    },
    /// 32 bytes that do not encode a point on the Ed25519 curve (or one of small order).
    #[error("not a valid Ed25519 public key")]
    InvalidEd25519Point,
    /// A Montgomery u-coordinate with no Edwards equivalent.
    #[error("not a valid X25519 public key")]
    InvalidX25519Point,
    /// A Diffie-Hellman exchange produced the all-zero secret (the peer key has small order).
    #[error("key agreement with a low-order public key")]
    WeakKeyAgreement,
    /// A signature did not verify.
    #[error("signature verification failed")]
    BadSignature,
    /// An authenticated ciphertext did not decrypt (wrong key, nonce or associated data, or tampering).
    #[error("decryption failed: the ciphertext is not authentic")]
    Decrypt,
    /// A parameter was outside the range the primitive supports.
    #[error("invalid parameter: {0}")]
    InvalidParameter(&'static str),
    /// A secretstream was used after its final message.
    #[error("the stream has already ended")]
    StreamFinished,
}
