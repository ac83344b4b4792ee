use thiserror::Error;

/// Why an attachment could not be encrypted or decrypted.
///
/// The variants fall into four groups: the size limit ([`TooLarge`](Self::TooLarge)), malformed
/// input (lengths, format byte, padding, truncation), failed authentication (a MAC, digest or
/// chunk that does not verify: wrong key or tampered data), and API misuse (a plaintext whose
/// length differs from the one the key was derived for, a stream used after it ended). I/O errors
/// of the streaming helpers are passed through.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum AttachmentError {
    /// The input is over the size limit; nothing was processed.
    #[error("{what} is {len} bytes, over the limit of {max} bytes")]
    TooLarge {
        /// What was measured.
        what: &'static str,
        /// Its length (for streams: the count when the limit was passed).
        len: u64,
        /// The limit.
        max: u64,
    },
    /// The input is shorter than the smallest valid value.
    #[error("{what} is too short: need at least {min} bytes, got {found}")]
    TooShort {
        /// What was being read.
        what: &'static str,
        /// The minimum length.
        min: u64,
        /// The length given.
        found: u64,
    },
    /// A key or ciphertext had the wrong length.
    #[error("{what} must be {expected} bytes, got {found}")]
    Length {
        /// What was being read.
        what: &'static str,
        /// The required length.
        expected: usize,
        /// The length given.
        found: usize,
    },
    /// The first byte names no format this crate knows (deterministic attachments start with `S`).
    #[error("unknown attachment format: first byte 0x{0:02x}, expected 0x53 ('S')")]
    UnknownFormat(u8),
    /// The legacy HMAC-SHA256 does not match: wrong key or tampered data.
    #[error("attachment MAC does not match: wrong key or tampered data")]
    BadMac,
    /// The SHA-256 of a legacy blob differs from the digest in its pointer.
    #[error("attachment digest does not match the pointer's digest")]
    DigestMismatch,
    /// A deterministic-format chunk does not authenticate: wrong key, tampered, reordered or
    /// dropped data.
    #[error("encrypted chunk {index} is not authentic: wrong key or tampered data")]
    ChunkNotAuthentic {
        /// The chunk's position in the stream, from 0.
        index: u64,
    },
    /// An AES-GCM profile picture does not authenticate: wrong key or tampered data.
    #[error("profile picture is not authentic: wrong key or tampered data")]
    ProfilePicNotAuthentic,
    /// Authenticated data whose padding is malformed.
    #[error("malformed padding: {0}")]
    BadPadding(&'static str),
    /// A legacy attachment decrypted to fewer bytes than its pointer's size.
    #[error("decrypted attachment has {found} bytes, fewer than the pointer's size {size}")]
    ShorterThanSize {
        /// The size from the pointer.
        size: u64,
        /// The decrypted length.
        found: u64,
    },
    /// A deterministic-format stream ended without its FINAL chunk: it was truncated.
    #[error("encrypted attachment is truncated: the stream ends without its FINAL chunk")]
    Truncated,
    /// Data follows the FINAL chunk of a deterministic-format stream.
    #[error("encrypted attachment has data after its FINAL chunk")]
    TrailingData,
    /// A chunk carries a secretstream tag the format never uses (push or rekey).
    #[error("encrypted chunk {index} carries a tag the attachment format does not use")]
    UnexpectedTag {
        /// The chunk's position in the stream, from 0.
        index: u64,
    },
    /// Misuse: the plaintext given to an encryptor has a different length from the one its key
    /// was derived for.
    #[error("plaintext has {given} bytes but the key was derived for {declared}")]
    LengthMismatch {
        /// The length the key was derived for.
        declared: u64,
        /// The length given (at least this much, when too much was given).
        given: u64,
    },
    /// Misuse: the encryptor or decryptor was used after it finished or failed.
    #[error("the stream has already finished or failed")]
    StreamClosed,
    /// A cryptographic primitive refused its parameters: a bug, never caused by input.
    #[error("cryptographic primitive failed: {0}")]
    Primitive(sotto_crypto::CryptoError),
    /// Reading the input or writing the output failed.
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
}
