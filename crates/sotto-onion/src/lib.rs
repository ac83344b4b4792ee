#![doc = include_str!("../README.md")]

mod build;
mod error;
pub mod hop;
pub mod layer;
pub mod path;
mod peel;
pub mod relay_error;
mod response;
mod server;
pub mod url;
mod v4;

pub use build::{
    BuiltOnion, Destination, NodeKeys, Padding, SIZE_BUCKETS, ServerDestination, build, build_with,
    size_bucket,
};
pub use error::OnionError;
pub use hop::{EncType, HopKey, X25519Keypair};
pub use peel::{Decision, FinalDestination, OnionRequest, OpenedLayer, Protocol, RelayToServer};
pub use relay_error::RelayError;
pub use response::{ReplyBody, ReplyOptions, ResponseKey, V3Response, seal_v3, v3_plaintext};
pub use server::{INVALID_V4_REQUEST, OpenedV4, V4ReplyKey, open_v4};
pub use v4::{Headers, V4_TARGET, V4Request, V4Response};

/// The most hops a request may have crossed when a node receives it; beyond it the node
/// answers 400 "onion request max path length exceeded".
pub const MAX_HOPS: u64 = 15;
