//! The client's errors: local database, network, API misuse, and why a received message was
//! skipped.

use sotto_envelope::{EncryptError, ReceiveError};
use sotto_rpc::MessageHash;
use sotto_rpc::response::SwarmNode;
use thiserror::Error;

use crate::model::MessageId;

/// Why the local database failed.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum DbError {
    /// The file holds a newer schema than this build understands.
    #[error("the database has schema version {found}; this build understands up to {supported}")]
    SchemaTooNew {
        /// The version in the file.
        found: i64,
        /// The newest version this build knows.
        supported: i64,
    },
    /// A row that does not decode (the file was changed by something else).
    #[error("corrupt row in the client database: {0}")]
    Corrupt(&'static str),
    /// A value too large to store (a time beyond the 63-bit range).
    #[error("{0} is out of the range the database stores")]
    OutOfRange(&'static str),
    /// The file's message text is encrypted under another account's key (the database of
    /// another account).
    #[error(
        "the client database belongs to another account: use that account's profile, or move \
         the file away to start a new history"
    )]
    OtherAccount,
    /// Creating the file or setting its permissions failed.
    #[error("cannot prepare the database file: {0}")]
    File(#[source] std::io::Error),
    /// Any other SQLite failure.
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
}

/// Why a network operation failed. Implementations of [`crate::Network`] return these.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum NetworkError {
    /// The node answered 421 and the signed node list, fetched again, agrees that it is not in
    /// the account's swarm: the swarm recomputed from that list (never the 421's body).
    #[error("wrong swarm: the signed node list puts the account on {} other nodes", .0.len())]
    WrongSwarm(Vec<SwarmNode>),
    /// The node answered 421 (wrong swarm) but the signed node list, fetched again, still
    /// places the account in its swarm: the node or the directory is wrong, and the client
    /// tries another member of the swarm.
    #[error(
        "the node answered 421 (wrong swarm) but the signed node list, fetched {refreshes} \
         times, still places the account in its swarm"
    )]
    WrongSwarmUnconfirmed {
        /// How many times the list was fetched.
        refreshes: u32,
    },
    /// The node is not in the signed node list: only listed nodes are used.
    #[error("the node is not in the signed node list")]
    UnlistedNode,
    /// No onion path can carry the request: every path would go through the target, its
    /// swarm, the user's own swarm or the target's subnet (or no guard is usable), with the
    /// reason.
    #[error("no onion path for this request: {0}")]
    NoPath(String),
    /// No answer in time.
    #[error("the request timed out")]
    Timeout,
    /// The node (or a hop on the way) answered with an HTTP status other than 200.
    #[error("the request failed with status {0}")]
    Status(u16),
    /// The answer did not parse.
    #[error("the answer is malformed: {0}")]
    InvalidResponse(#[from] sotto_rpc::ParseError),
    /// The swarm of the account is empty or unknown.
    #[error("no node is known for the account's swarm")]
    NoSwarm,
    /// The network cannot be used (no path, not bootstrapped, shut down), with the reason.
    #[error("the network is unavailable: {0}")]
    Unavailable(&'static str),
    /// This network does not implement the request (its name).
    #[error("this network does not support `{0}` requests")]
    Unsupported(&'static str),
    /// The onion network failed: a guard, the directory, or an answer that cannot be used.
    #[error(transparent)]
    Onion(#[from] OnionFailure),
    /// A failure of the transport below (TLS, socket); displays as that failure.
    #[error(transparent)]
    Transport(Box<dyn std::error::Error + Send + Sync>),
}

/// Why the onion network failed, with its cause.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum OnionFailure {
    /// The path's guard gave no HTTP answer.
    #[error("guard {} failed: {source}", guard.as_ref().map(ToString::to_string).unwrap_or_default())]
    Guard {
        /// The guard, when the path had one.
        guard: Option<crate::net::Hop>,
        /// The connection's failure.
        #[source]
        source: sotto_transport::TransportError,
    },
    /// A hop answered with a body none of the path's keys opens.
    #[error("the answer (status {status}) did not decrypt")]
    Undecryptable {
        /// The HTTP status it came with.
        status: u16,
    },
    /// The target's key is not a valid X25519 public key, so no request can be built for it.
    #[error("the target's key is not a valid public key")]
    InvalidTargetKey,
    /// The target answered in the other kind: a node like a server, or a server like a node.
    #[error("a {target} answered like a {answered_as}")]
    WrongKind {
        /// What was asked: `"node"` or `"server"`.
        target: &'static str,
        /// What the answer looked like.
        answered_as: &'static str,
    },
    /// The exit reached no swarm node at the target's address; the exit's words.
    #[error("swarm node {node} is unreachable: {reason}")]
    TargetUnreachable {
        /// The swarm node.
        node: crate::net::Hop,
        /// The last line of the exit's error text (remote data, at most a few hundred bytes).
        reason: String,
    },
    /// No node the directory lists answered as a guard.
    #[error(
        "no guard node answered among the {listed} nodes the directory at {directory} lists: \
         is the network running?"
    )]
    NoGuard {
        /// How many nodes are listed.
        listed: usize,
        /// The directory's address.
        directory: std::net::SocketAddr,
    },
    /// The directory cannot be reached or its list does not verify.
    #[error(
        "cannot get the node list from the directory at {directory}: {source}; is the network \
         running (`cargo xtask testnet`)?"
    )]
    Directory {
        /// The directory's address.
        directory: std::net::SocketAddr,
        /// What failed.
        #[source]
        source: sotto_nodelist::ClientError,
    },
    /// The directory lists no node yet.
    #[error("the directory at {directory} lists no nodes yet: wait for the nodes to register")]
    EmptyNodeList {
        /// The directory's address.
        directory: std::net::SocketAddr,
    },
    /// The directory offered a list older than the one held (a replay or a rollback).
    #[error("the directory offered a node list older than the one held")]
    StaleNodeList,
}

impl NetworkError {
    /// Whether the swarm refused the request in a way no retry can change: an HTTP status
    /// 4xx other than 421 (wrong swarm) and 429 (too many requests).
    #[must_use]
    pub fn is_refusal(&self) -> bool {
        matches!(self, Self::Status(s) if (400..500).contains(s) && *s != 421 && *s != 429)
    }
}

/// Why a client operation failed.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The local database failed; nothing was changed.
    #[error(transparent)]
    Database(#[from] DbError),
    /// The network failed.
    #[error(transparent)]
    Network(#[from] NetworkError),
    /// A message could not be encrypted (an unusable recipient key).
    #[error("cannot encrypt the message: {0}")]
    Encrypt(#[from] EncryptError),
    /// No message has this id (misuse).
    #[error("no message {0}")]
    UnknownMessage(MessageId),
    /// The message was deleted (misuse: reacting to or unsending it).
    #[error("message {0} was deleted")]
    MessageDeleted(MessageId),
    /// Only one's own messages can be unsent (misuse).
    #[error("message {0} was written by someone else; only your own messages can be unsent")]
    NotOwnMessage(MessageId),
    /// There is no pending message request from this Session ID (misuse).
    #[error("no message request from {0}")]
    NoRequest(String),
    /// The peer is blocked: unblock them before writing to them (misuse).
    #[error("{0} is blocked; unblock them first")]
    Blocked(String),
    /// An empty text or emoji (misuse).
    #[error("the {0} is empty")]
    Empty(&'static str),
    /// A message larger than a swarm stores (misuse); nothing was sent or saved.
    #[error(
        "the message is too large for the network: {size} bytes once encrypted, and a swarm \
         stores at most {limit} bytes per message (a text of up to {max_text} bytes); shorten \
         it or split it into several messages (long texts will go as a file once Sotto sends \
         files)",
        max_text = crate::outgoing::MAX_TEXT_LEN
    )]
    TooLarge {
        /// The message's size once encrypted and framed, bytes.
        size: usize,
        /// The most a swarm stores, bytes ([`crate::outgoing::MAX_MESSAGE_LEN`]).
        limit: usize,
    },
    /// A config message could not be prepared for its push (too large once sealed).
    #[error("config push: {0}")]
    ConfigPush(#[from] crate::configs::ConfigPushError),
    /// There is no conversation with this Session ID (misuse: pinning, hiding or marking
    /// unread someone never written with).
    #[error("no conversation with {0}")]
    NoConversation(String),
    /// This Session ID is not known here (misuse: removing someone who is not a contact).
    #[error("{0} is not in your contacts")]
    UnknownContact(String),
}

/// Why a received message was not applied. Skipped messages are reported, and polling goes on.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum SkipReason {
    /// The node's hash for the message is not the hash of its data (the node misbehaved).
    #[error("the node's hash {claimed} is not the hash of the data")]
    HashMismatch {
        /// The hash the node gave.
        claimed: MessageHash,
    },
    /// The data is malformed, tampered with, not for this account, or not validly signed.
    #[error("undecryptable message: {0}")]
    Undecryptable(#[from] ReceiveError),
    /// The message names an ID that is not a Session ID where one is required.
    #[error("{0} is not a Session ID")]
    NotASessionId(&'static str),
    /// A field the message needs is absent.
    #[error("the {0} is missing")]
    Missing(&'static str),
    /// A time or number beyond what the client stores (2⁶³ − 1).
    #[error("the {0} is out of range")]
    OutOfRange(&'static str),
    /// A reaction or unsend request for a message this device does not have.
    #[error("the {0} names a message this device does not have")]
    UnknownTarget(&'static str),
    /// An unsend request for a message its sender did not write (not authorised).
    #[error("an unsend request for a message the sender did not write")]
    NotAuthor,
    /// A kind of message this client does not handle (calls, screenshot notices).
    #[error("unsupported kind of message: {0}")]
    Unsupported(&'static str),
    /// A config message (namespaces 2–5) was rejected; nothing local changed.
    #[error("config message rejected: {0}")]
    Config(#[from] crate::configs::ConfigRejection),
}
