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
mod rpc;
pub mod run;
pub mod sync;
pub mod view;
pub mod wire;

pub use config::{ConfigError, NodeConfig};
pub use error::NodeError;
pub use node::{HARDFORK, MAX_BODY_BYTES, Node, PROTOCOL_VERSION, short, unix_now_ms};
pub use rpc::{Answer, FORWARD_TIMEOUT};

#[cfg(test)]
mod tests;
