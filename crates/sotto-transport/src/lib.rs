#![doc = include_str!("../README.md")]

mod client;
mod error;
pub mod identity;
mod message;
pub mod ratelimit;
mod server;
mod stream;
pub mod target;
mod tls;

pub use client::HttpsClient;
pub use error::TransportError;
pub use message::{Request, Response};
pub use server::{
    Admission, DEFAULT_HANDSHAKE_TIMEOUT, DEFAULT_HEADER_TIMEOUT, DEFAULT_IDLE_TIMEOUT,
    DEFAULT_MAX_CONNECTIONS, DEFAULT_MAX_CONNECTIONS_PER_IP, DEFAULT_REQUEST_TIMEOUT, RequestHead,
    ServerLimits, serve, serve_plain_with, serve_with,
};
pub use stream::{
    BodyError, BodyReader, ResponseBody, StreamRequest, StreamResponse, serve_http_streaming,
};
pub use target::TargetPolicy;
pub use tls::TlsIdentity;
