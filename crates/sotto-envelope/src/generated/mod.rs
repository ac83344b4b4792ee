//! Types generated from `proto/*.proto` by `cargo xtask codegen` (protox + prost-build), private
//! to this crate: the public API is the validated domain types built from them.
//!
//! The two files next to this one are generated and committed; CI checks them with
//! `cargo xtask codegen --check`. They are neither formatted nor linted here.

#![allow(
    dead_code,
    missing_docs,
    clippy::all,
    clippy::pedantic,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

#[rustfmt::skip]
#[path = "session_protos.rs"]
pub(crate) mod session;

#[rustfmt::skip]
#[path = "web_socket_protos.rs"]
pub(crate) mod web_socket;
