//! Typed errors, one enum per operation family.

use thiserror::Error;

/// Why multi-recipient encryption or decryption failed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum MultiError {
    /// API misuse: the number of messages is neither 1 nor the number of recipients.
    #[error(
        "multi-encryption needs one message or one per recipient ({recipients}), got {messages}"
    )]
    MessageCount {
        /// Messages given.
        messages: usize,
        /// Recipients given.
        recipients: usize,
    },
    /// API misuse: the domain is empty or longer than 64 bytes.
    #[error("multi-encryption domain must be 1 to 64 bytes, got {0}")]
    Domain(usize),
    /// A recipient key gives a degenerate X25519 agreement (and invalid keys were not skipped).
    #[error("recipient {index} has an invalid X25519 public key")]
    InvalidRecipient {
        /// Position in the recipient list.
        index: usize,
    },
    /// The sender key gives a degenerate X25519 agreement with ours.
    #[error("the sender's X25519 public key is invalid")]
    InvalidSender,
    /// No copy decrypts with our key (not a recipient, wrong sender or wrong domain).
    #[error("no copy of the multi-encrypted message is for this recipient")]
    NotARecipient,
    /// The self-contained ("simple") encoding is malformed.
    #[error("malformed multi-encrypted message: {0}")]
    Malformed(&'static str),
}

/// Why building or loading a keys message (namespace 12) failed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum KeysError {
    /// The message is not canonical bencode.
    #[error("keys message is not canonical bencode: {0}")]
    Bencode(#[from] sotto_bencode::Error),
    /// A field is missing or has the wrong type or size.
    #[error("keys message: {0}")]
    Malformed(&'static str),
    /// A member key list whose length is not a multiple of 75 (junk padding missing).
    #[error("keys message member key list has {0} entries, not a multiple of 75")]
    KeyListSize(usize),
    /// The group signature is missing, not last, or does not verify.
    #[error("keys message group signature is missing or invalid")]
    BadSignature,
    /// An admin could not open the admin copy `K` of the key.
    #[error("keys message admin key does not decrypt with this group's admin key")]
    AdminKeyMismatch,
    /// API misuse: the operation needs the group's secret seed (an admin).
    #[error("this operation needs the group's admin key")]
    NotAdmin,
    /// API misuse: no group key is known yet.
    #[error("no group encryption key is known yet")]
    NoKeys,
    /// A generation outside 0..=i64::MAX.
    #[error("invalid generation {0}")]
    Generation(i64),
    /// The admin seed given does not belong to this group.
    #[error("the admin seed does not match the group's public key")]
    WrongAdminSeed,
    /// A saved keys state (`GroupKeys::dump`) is malformed.
    #[error("saved group keys state: {0}")]
    Dump(&'static str),
    /// A saved keys state of a version this build does not read.
    #[error("saved group keys state has version {0}; this build reads version 1")]
    DumpVersion(i64),
    /// Multi-encryption failed.
    #[error(transparent)]
    Multi(#[from] MultiError),
}

/// Why a group message (namespace 11) could not be encrypted or decrypted.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum MessageError {
    /// API misuse: the plaintext is longer than 1,000,000 bytes.
    #[error("group message plaintext is {0} bytes; the limit is 1,000,000")]
    TooLong(usize),
    /// The ciphertext is shorter than a nonce and a tag.
    #[error("group message ciphertext is {0} bytes, shorter than nonce and tag")]
    TooShort(usize),
    /// No known key (pending or retained) decrypts it.
    #[error("no known group key decrypts the message (tried {tried})")]
    NoKey {
        /// Keys tried.
        tried: usize,
    },
    /// The decrypted bytes are not a valid message dict.
    #[error("group message: {0}")]
    Malformed(&'static str),
    /// The version `""` is not 1.
    #[error("group message version {0} is not supported")]
    Version(i64),
    /// The author's signature does not verify.
    #[error("group message author signature is invalid")]
    BadSignature,
    /// The compressed data does not decompress, or exceeds 1,000,000 bytes.
    #[error("group message compressed data is invalid or too large")]
    Decompress,
    /// The author key has no X25519 form.
    #[error("group message author key is not a valid Ed25519 key")]
    BadAuthor,
    /// The plaintext Envelope is malformed or not a group message.
    #[error("group message envelope: {0}")]
    Envelope(#[from] sotto_envelope::DecodeError),
    /// The plaintext Envelope is not of type CLOSED_GROUP_MESSAGE.
    #[error("group message envelope is not of type CLOSED_GROUP_MESSAGE")]
    EnvelopeType,
    /// The Envelope's `source` names another group.
    #[error("group message envelope source is not this group")]
    WrongSource,
}

/// Why legacy group message decryption failed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum LegacyError {
    /// No known encryption key pair opens it.
    #[error("no legacy group key pair decrypts the message (tried {tried})")]
    NoKey {
        /// Key pairs tried.
        tried: usize,
    },
    /// The decrypted Content does not decode.
    #[error("legacy group message content: {0}")]
    Content(sotto_envelope::DecodeError),
}

/// Why subaccount auth data could not be made, used or accepted.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum AuthError {
    /// Auth data is not 100 bytes.
    #[error("subaccount auth data must be 100 bytes, got {0}")]
    Length(usize),
    /// The prefix byte is not 03 and the any-prefix flag is not set.
    #[error("subaccount auth data is not for a group (03) account")]
    Prefix,
    /// A permission the caller requires is missing (read is always required).
    #[error("subaccount auth data lacks a required permission")]
    Permission,
    /// The scalar or a point is invalid (bad Session ID, bad auth data).
    #[error("subaccount auth data gives an invalid key")]
    InvalidKey,
    /// The group's signature over the token does not verify.
    #[error("subaccount auth data is not signed by the group")]
    BadSignature,
}

/// Why an admin-signed control message, or a kicked notice, was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum ControlError {
    /// The protobuf does not decode, or a field has the wrong size.
    #[error("group update message: {0}")]
    Malformed(&'static str),
    /// Not exactly one kind of update is set.
    #[error("group update message must carry exactly one update, found {0}")]
    Kinds(usize),
    /// The admin signature is required but absent.
    #[error("group update message has no admin signature")]
    MissingSignature,
    /// The admin signature does not verify with the group key.
    #[error("group update message admin signature is invalid")]
    BadSignature,
    /// A kicked notice that is not for us, or for an older generation.
    #[error("kicked notice does not apply: {0}")]
    NotApplicable(&'static str),
    /// Multi-decryption of a kicked notice failed.
    #[error(transparent)]
    Multi(#[from] MultiError),
}

/// Why a group Info or Members config push could not be opened.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum GroupConfigError {
    /// Only group Info and Members are group configs.
    #[error("{0:?} is not a group config")]
    NotAGroupConfig(sotto_config::ConfigKind),
    /// None of the group's known keys decrypts it.
    #[error("no known group key decrypts this config push")]
    NoKey,
    /// It decrypts, but its padding or compression is malformed.
    #[error(transparent)]
    Crypt(#[from] sotto_config::CryptError),
    /// It decrypts, but is not a config message signed by the group.
    #[error(transparent)]
    Load(#[from] sotto_config::LoadError),
}
