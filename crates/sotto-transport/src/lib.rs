#![doc = include_str!("../README.md")]

mod client;
mod error;
pub mod identity;
mod message;
mod server;
pub mod target;
mod tls;

pub use client::HttpsClient;
pub use error::TransportError;
pub use message::{Request, Response};
pub use server::serve;
pub use target::TargetPolicy;
pub use tls::TlsIdentity;
