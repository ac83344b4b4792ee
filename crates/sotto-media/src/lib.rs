#![doc = include_str!("../README.md")]

pub mod audio;
mod describe;
mod error;
pub mod image;
pub mod sniff;
pub mod voice;

pub use describe::{describe_file, describe_voice};
pub use error::MediaError;
pub use sniff::{Sniffed, sniff};
