#![doc = include_str!("../README.md")]

mod announce;
mod client;
mod list;
pub mod signed;

pub use announce::{
    Ack, AnnounceError, Proof, Registration, key_hex, proof_bytes, registration_bytes,
};
pub use client::{ClientError, DEFAULT_TIMEOUT, DirectoryClient, FETCH_REQUEST, now_ms};
pub use list::{ListError, NodeList, bencode_bytes, list_hash, signing_bytes, verify_node_list};
