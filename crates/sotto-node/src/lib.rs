#![doc = include_str!("../README.md")]

pub mod config;
pub mod directory;
pub mod directory_client;
mod error;
pub use sotto_transport::identity;
mod node;
mod onion;
pub mod peer_auth;
pub mod ratelimit;
mod replicate;
mod rpc;
pub mod run;
pub mod storage;
pub mod sync;
pub mod view;
pub mod wire;

pub use config::{ConfigError, NodeConfig};
pub use error::NodeError;
pub use node::{
    BYTES_PER_TOKEN, HARDFORK, MAX_BODY_BYTES, MAX_OTHER_BODY, MAX_PEER_BODY, MAX_STORAGE_RPC_BODY,
    Node, PROTOCOL_VERSION, admission_cost, request_cost, server_limits, short, unix_now_ms,
};
pub use rpc::{Answer, FORWARD_TIMEOUT, MAX_HASHES_PER_REQUEST};

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_groups;
#[cfg(test)]
mod tests_revocations;
