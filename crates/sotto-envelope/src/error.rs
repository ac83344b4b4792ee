use sotto_identity::IdError;
use thiserror::Error;

use crate::wire::WireError;

/// Why received bytes are not a valid message (malformed input).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// The bytes are not a sequence of protobuf records.
    #[error("{message} is not protobuf: {reason}")]
    Malformed {
        /// The protobuf message being read.
        message: &'static str,
        /// What is wrong with the records.
        reason: WireError,
    },
    /// Well-formed records that do not fit the schema (a wrong wire type for a declared field,
    /// a string that is not UTF-8, …), as reported by the protobuf decoder.
    #[error("{message} does not match its schema: {detail}")]
    Protobuf {
        /// The protobuf message being read.
        message: &'static str,
        /// The decoder's description.
        detail: String,
    },
    /// A required field is absent.
    #[error("{field} is required but absent")]
    MissingField {
        /// `Message.field`.
        field: &'static str,
    },
    /// A required enum field holds a value the schema does not define.
    #[error("{field} has the undefined value {value}")]
    UnknownEnumValue {
        /// `Message.field`.
        field: &'static str,
        /// The value found.
        value: i32,
    },
    /// A field that must hold a Session-style ID does not.
    #[error("{field} is not a valid ID: {source}")]
    InvalidId {
        /// `Message.field`.
        field: &'static str,
        /// Why it does not parse.
        source: IdError,
    },
    /// A bytes field has the wrong length.
    #[error("{field} must be {expected} bytes, got {found}")]
    Length {
        /// `Message.field`.
        field: &'static str,
        /// The required length.
        expected: usize,
        /// The length found.
        found: usize,
    },
    /// A Content that carries none of the message kinds this crate knows.
    #[error("the Content carries no known kind of message")]
    NoMessage,
    /// Swarm data that is not standard base64.
    #[error("swarm data is not base64")]
    Base64,
}

/// Why a message could not be encrypted.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum EncryptError {
    /// The recipient's X25519 key has small order (no shared secret).
    #[error("the recipient's key is not usable for encryption")]
    InvalidRecipientKey,
    /// The message is longer than the cipher can encrypt.
    #[error("the message is too long to encrypt")]
    MessageTooLong,
    /// A blinded ID that is not a 15- or 25-blinded ID, or whose key is not a valid point.
    #[error("{which} is not a usable blinded ID")]
    InvalidBlindedId {
        /// "recipient" or "sender".
        which: &'static str,
    },
    /// The Content's `sigTimestamp` differs from the sent timestamp (API misuse).
    #[error("the Content's sigTimestamp {content} differs from the sent timestamp {sent}")]
    TimestampMismatch {
        /// `Content.sigTimestamp`.
        content: u64,
        /// The sent timestamp given.
        sent: u64,
    },
    /// A sync copy was requested for a message that has no DataMessage (API misuse).
    #[error("only messages carried in a DataMessage have sync copies")]
    NotSyncable,
}

/// Why an encrypted message was rejected.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum DecryptError {
    /// The ciphertext is shorter than the smallest valid one (malformed).
    #[error("{what} is too short: need at least {min} bytes, got {found}")]
    TooShort {
        /// What was being read.
        what: &'static str,
        /// The minimum length.
        min: usize,
        /// The length given.
        found: usize,
    },
    /// The ciphertext has a length its format does not allow (malformed).
    #[error("{what} must be {expected} bytes, got {found}")]
    Length {
        /// What was being read.
        what: &'static str,
        /// The required length.
        expected: usize,
        /// The length given.
        found: usize,
    },
    /// A version byte this crate does not know (malformed, or a newer format).
    #[error("unsupported {what} version {version}")]
    UnsupportedVersion {
        /// What was being read.
        what: &'static str,
        /// The version byte found.
        version: u8,
    },
    /// Authenticated decryption failed: not encrypted for this key, or altered.
    #[error("{what} does not decrypt with this key (not for us, or altered)")]
    NotAuthentic {
        /// What was being decrypted.
        what: &'static str,
    },
    /// The sender's Ed25519 key inside the message is not a valid public key (peer misbehaved).
    #[error("the sender key inside the message is not a valid Ed25519 key")]
    InvalidSenderKey,
    /// The sender's signature does not verify (peer misbehaved, or altered).
    #[error("the sender's signature does not verify")]
    BadSignature,
    /// A blinded DM whose sender key does not belong to the blinded ID it claims to come from
    /// (not authorised).
    #[error("the sender key inside the message does not match the claimed sender {claimed}")]
    SenderMismatch {
        /// The claimed sender ID.
        claimed: sotto_identity::PrefixedId,
    },
    /// Neither blinded ID of a DM is this account's (API misuse).
    #[error("neither the sender nor the recipient ID is this account's blinded ID")]
    NotOurs,
    /// Sender and recipient IDs of a blinded DM are not both 15- or both 25-blinded, or one
    /// is not a valid blinded ID (API misuse).
    #[error("{which} is not a usable blinded ID of the DM's scheme")]
    InvalidBlindedId {
        /// "recipient" or "sender".
        which: &'static str,
    },
    /// A decrypted name-service answer that is not a Session ID (peer misbehaved).
    #[error("the decrypted value is not a Session ID: {0}")]
    NotASessionId(IdError),
}

/// Why a message received from a swarm was rejected: the framing, the decryption or the Content.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum ReceiveError {
    /// The base64, WebSocket or Envelope framing, or the decrypted Content, is malformed.
    #[error(transparent)]
    Decode(#[from] DecodeError),
    /// The Envelope content did not decrypt or verify.
    #[error(transparent)]
    Decrypt(#[from] DecryptError),
    /// The Envelope is not a 1:1 (session protocol) message.
    #[error("expected a 1:1 envelope (type SESSION_MESSAGE), got {0:?}")]
    NotOneToOne(crate::EnvelopeType),
    /// The signed Content's `sigTimestamp` differs from the unauthenticated Envelope timestamp.
    #[error("the Envelope timestamp {envelope} differs from the signed timestamp {signed}")]
    TimestampMismatch {
        /// `Envelope.timestamp`.
        envelope: u64,
        /// `Content.sigTimestamp`.
        signed: u64,
    },
}
