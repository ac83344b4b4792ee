#![doc = include_str!("../README.md")]

pub mod api;
pub mod config;
pub mod id;
pub mod server;
pub mod store;

pub use config::{Config, ConfigError, EXAMPLE, MAX_LEGAL_UPLOAD};
pub use server::{FileServer, ServerError, run};
