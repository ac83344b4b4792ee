#![doc = include_str!("../README.md")]

pub mod attachments;
mod client;
pub mod community;
mod convo_state;
mod db;
pub mod deletion;
mod engine;
mod error;
pub mod groups;
mod incoming;
mod model;
pub mod net;
mod network;
pub mod outgoing;
pub mod poll;

#[cfg(test)]
mod testing;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_configs;
#[cfg(test)]
mod tests_convo_state;
#[cfg(test)]
mod tests_deletion;
#[cfg(test)]
mod tests_group_sync;
#[cfg(test)]
mod tests_quotes;

pub use client::{Client, ClientConfig, Clock, Events, Messages, SendOutcome};
pub use convo_state::Placement;
pub use db::{Job, JobId};
pub use engine::configs;
pub use engine::{Engine, LEASE_MS, POLL_POSITION_LIFETIME_MS, SWARM_EXPIRY_SLACK_MS, Sent};
pub use error::{ClientError, DbError, NetworkError, OnionFailure, SkipReason};
pub use incoming::{Event, IncomingMessage, Opened, open};
pub use model::{
    Contact, Conversation, Disappearing, MessageId, MessageKey, MessageRecord, MessageState,
    QuoteRef, QuotedFile, ReactionRecord, Settings,
};
pub use net::{
    CacheFileError, Hop, NetworkFile, NetworkFileError, NodeCache, OnionConfig, OnionNetwork,
    SpreadRule, Trace,
};
pub use network::Network;
pub use sotto_identity::{Account, SessionId};
