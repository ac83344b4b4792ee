#![doc = include_str!("../README.md")]

pub mod deterministic;
mod error;
pub mod legacy;
pub mod limits;
pub mod meta;
pub mod profile_pic;
pub mod url;

pub use error::AttachmentError;
pub use limits::{MAX_UPLOAD_LEN, UploadFormat, UploadLimitError, UploadSize, check_upload};
pub use meta::{AttachmentMeta, ContentType, FileName, MetaError};
pub use url::{AttachmentUrl, FileServer, Scheme, UrlError};

/// The largest plaintext this crate encrypts, in bytes: the file server's cap
/// [`MAX_UPLOAD_LEN`], which Session clients also apply to plaintexts. Decryptors refuse inputs
/// larger than the encryption of a plaintext this long, before doing any work. What can actually
/// be sent is smaller, as the cap applies to the encrypted body: see [`check_upload`].
pub const MAX_PLAINTEXT_LEN: u64 = MAX_UPLOAD_LEN;

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
