#![doc = include_str!("../README.md")]

pub mod audio;
mod error;
pub mod image;
pub mod sniff;
pub mod voice;

pub use error::MediaError;
pub use sniff::{Sniffed, sniff};
