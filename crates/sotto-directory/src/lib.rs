#![doc = include_str!("../README.md")]

mod announce;
mod client;
pub mod config;
mod directory;
pub use sotto_transport::identity;
mod list;
mod ratelimit;
mod rpc;
pub mod server;
pub mod signed;
#[cfg(test)]
mod tests;

pub use announce::{Ack, AnnounceError, Proof, Registration, proof_bytes, registration_bytes};
pub use client::{ClientError, DEFAULT_TIMEOUT, DirectoryClient, FETCH_REQUEST, now_ms};
pub use directory::{
    Admission, Directory, DirectoryError, FORGET_AFTER_PERIODS, Limits, MAX_CLOCK_SKEW_MS,
    NodeEntry, Policy, STATE_VERSION, StateError, Unreachable, short_key,
};
pub use list::{ListError, NodeList, list_hash, signing_bytes, verify_node_list};
pub use rpc::{HARDFORK, METHODS, NODE_FIELDS, SNODE_REVISION, json_rpc};
