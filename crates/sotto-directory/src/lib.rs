#![doc = include_str!("../README.md")]

pub mod config;
mod directory;
pub use sotto_transport::identity;
mod ratelimit;
mod rpc;
pub mod server;
#[cfg(test)]
mod tests;

pub use directory::{
    Admission, Directory, DirectoryError, FORGET_AFTER_PERIODS, Limits, MAX_CLOCK_SKEW_MS,
    NodeEntry, Policy, STATE_VERSION, StateError, Unreachable, short_key,
};
pub use rpc::{HARDFORK, METHODS, NODE_FIELDS, SNODE_REVISION, json_rpc};
pub use sotto_nodelist::{
    Ack, AnnounceError, ClientError, DEFAULT_TIMEOUT, DirectoryClient, FETCH_REQUEST, ListError,
    NodeList, Proof, Registration, list_hash, now_ms, proof_bytes, registration_bytes, signed,
    signing_bytes, verify_node_list,
};
