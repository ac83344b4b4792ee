#![doc = include_str!("../README.md")]

pub mod deterministic;
mod error;
pub mod legacy;
pub mod profile_pic;

pub use error::AttachmentError;

/// The largest plaintext this crate encrypts, in bytes (the file server's upload limit as
/// Session clients apply it). Decryptors refuse inputs larger than the encryption of a plaintext
/// this long, before doing any work.
pub const MAX_PLAINTEXT_LEN: u64 = 10_000_000;

/// Refuses a plaintext longer than [`MAX_PLAINTEXT_LEN`].
fn check_plaintext_len(len: u64) -> Result<(), AttachmentError> {
    if len > MAX_PLAINTEXT_LEN {
        return Err(AttachmentError::TooLarge {
            what: "attachment plaintext",
            len,
            max: MAX_PLAINTEXT_LEN,
        });
    }
    Ok(())
}

/// `usize` to `u64`, which never truncates on the platforms Rust supports.
fn len_u64(len: usize) -> u64 {
    u64::try_from(len).unwrap_or(u64::MAX)
}
