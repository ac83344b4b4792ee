//! Errors of this crate, one enum per kind of operation.

use thiserror::Error;

/// Why bytes are not a config message (malformed input).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum ParseError {
    /// Not canonical bencode.
    #[error("config message is not canonical bencode: {0}")]
    Bencode(#[from] sotto_bencode::Error),
    /// The top-level value is not a dictionary.
    #[error("config message is not a bt dictionary")]
    NotADict,
    /// A key sorts before `#`: a future format this code cannot read.
    #[error("config message has a key before \"#\": unparseable future format")]
    FutureFormat,
    /// The first key is not `#`, or its value is not an integer.
    #[error("config message must start with the integer seqno \"#\"")]
    MissingSeqno,
    /// `&` is absent or not a dictionary.
    #[error("config message has no \"&\" data dictionary")]
    MissingData,
    /// A known key holds the wrong kind of value.
    #[error("config message key {key:?} holds the wrong kind of value")]
    WrongType {
        /// The key.
        key: &'static str,
    },
    /// The data holds an empty set, which must have been pruned.
    #[error("config data contains an unpruned, empty set")]
    EmptySet,
    /// The data holds an empty dictionary, which must have been pruned.
    #[error("config data contains an unpruned, empty dict")]
    EmptyDict,
    /// A set's elements are not in order.
    #[error("config data contains an unsorted set")]
    UnsortedSet,
    /// A set holds an element twice.
    #[error("config data contains a set with duplicates")]
    DuplicateInSet,
    /// A set holds a list or dictionary.
    #[error("config data contains a set with a non-scalar value")]
    NonScalarInSet,
    /// A diff entry is malformed.
    #[error("config diff is invalid: {reason}")]
    InvalidDiff {
        /// What is wrong.
        reason: &'static str,
    },
    /// The lagged diff list is malformed.
    #[error("config lagged diffs are invalid: {reason}")]
    InvalidLaggedDiff {
        /// What is wrong.
        reason: &'static str,
    },
    /// A key sorts after the signature `~`.
    #[error("config message has keys after the signature \"~\"")]
    KeyAfterSignature,
    /// The signature is not 64 bytes.
    #[error("config signature must be 64 bytes, got {found}")]
    SignatureLength {
        /// The length found.
        found: usize,
    },
}

/// Why a config message is not accepted although it parses (not authorised).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum SignatureError {
    /// A verifier is configured but the message carries no signature.
    #[error("config signature is missing")]
    Missing,
    /// The signature does not verify with the configured key.
    #[error("config signature failed verification")]
    Invalid,
}

/// Why a config message could not be loaded.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum LoadError {
    /// Malformed.
    #[error(transparent)]
    Parse(#[from] ParseError),
    /// Not signed by the configured key.
    #[error(transparent)]
    Signature(#[from] SignatureError),
}

/// Why a merge produced nothing.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum MergeError {
    /// None of the inputs could be loaded (each input's error is in `errors`, by index).
    #[error("no valid config message among {count} inputs")]
    NoValidMessage {
        /// How many inputs were given.
        count: usize,
        /// Each input's index and why it failed.
        errors: Vec<(usize, LoadError)>,
    },
}

/// Why a mutation of the data tree was refused (API misuse).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum EditError {
    /// The path is empty.
    #[error("a config path needs at least one key")]
    EmptyPath,
    /// A key on the path holds a scalar or set, not a dictionary.
    #[error("config path component {index} is not a dictionary")]
    NotADict {
        /// Which path component.
        index: usize,
    },
    /// The value at the path is not a set.
    #[error("the config value at this path is not a set")]
    NotASet,
}

/// Why config encryption, decryption or decompression failed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum CryptError {
    /// The domain must be 1 to 24 bytes.
    #[error("config encryption domain must be 1 to 24 bytes, got {found}")]
    DomainLength {
        /// The length given.
        found: usize,
    },
    /// The ciphertext is shorter than nonce and tag.
    #[error("config ciphertext too short: {found} bytes, at least {min} needed")]
    TooShort {
        /// The minimum.
        min: usize,
        /// The length found.
        found: usize,
    },
    /// Authentication failed: wrong key, wrong domain, or tampered bytes.
    #[error("config ciphertext does not decrypt with this key and domain")]
    Decrypt,
    /// The plaintext is only padding.
    #[error("config plaintext is empty after removing padding")]
    Empty,
    /// A multipart (`m`) message, which this code does not support yet.
    #[error("multipart config messages are not supported")]
    MultipartUnsupported,
    /// The compressed body is not valid zstd.
    #[error("config message is not valid zstd")]
    Decompress,
    /// The compressed body expands beyond the limit.
    #[error("config message decompresses to more than {limit} bytes")]
    TooLarge {
        /// The limit.
        limit: usize,
    },
    /// The message to push exceeds the swarm's limit.
    #[error("config push of {found} bytes exceeds the {limit}-byte limit")]
    PushTooLarge {
        /// The size.
        found: usize,
        /// The limit.
        limit: usize,
    },
    /// Compression failed (the compressor reported an error).
    #[error("config message compression failed")]
    Compress,
    /// The cipher refused its input.
    #[error("config encryption failed")]
    Encrypt,
}
