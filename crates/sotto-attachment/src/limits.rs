//! The file server's upload cap, checked before anything is encrypted or sent.
//!
//! Session's clients and libsession refuse an upload whose encrypted body would be over
//! [`MAX_UPLOAD_LEN`] (files.md §2.5). Sotto applies the same rule to the ciphertext, so that a
//! file that is too large fails at once, with the reason, instead of after an upload the server
//! refuses.

use crate::{deterministic, legacy, len_u64};
use thiserror::Error;

/// The largest encrypted upload body, in bytes (files.md §2.5: desktop, iOS, libsession and SOGS
/// all use 10,000,000). This is the one place the cap is written down.
pub const MAX_UPLOAD_LEN: u64 = 10_000_000;

/// The encryption an upload will use; its overhead decides how large a plaintext fits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum UploadFormat {
    /// libsession's deterministic "S" stream format (what Sotto sends; URL fragment `d`).
    Deterministic,
    /// The legacy AES-CBC+HMAC format, zero-padded.
    Legacy,
    /// No encryption (community uploads: the body is the file).
    Plain,
}

impl UploadFormat {
    /// The upload body length for a `plaintext_len`-byte file; `None` if it does not fit a `u64`.
    #[must_use]
    pub fn encrypted_len(self, plaintext_len: u64) -> Option<u64> {
        match self {
            Self::Deterministic => deterministic::encrypted_size(plaintext_len),
            Self::Legacy => {
                let padded = legacy::padded_size(plaintext_len);
                let blocks = (padded / 16).checked_add(1)?;
                blocks
                    .checked_mul(16)?
                    .checked_add(len_u64(legacy::IV_LEN + legacy::MAC_LEN))
            }
            Self::Plain => Some(plaintext_len),
        }
    }

    /// The largest plaintext whose upload body fits [`MAX_UPLOAD_LEN`] (computed from the
    /// format's padding rule, which never shrinks as the plaintext grows).
    #[must_use]
    pub fn max_plaintext_len(self) -> u64 {
        let fits = |len: u64| {
            self.encrypted_len(len)
                .is_some_and(|enc| enc <= MAX_UPLOAD_LEN)
        };
        // Invariant: `lo` fits, `hi` does not.
        let (mut lo, mut hi) = (0u64, MAX_UPLOAD_LEN + 1);
        while hi - lo > 1 {
            let mid = lo + (hi - lo) / 2;
            if fits(mid) {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        lo
    }
}

/// A file that [`check_upload`] accepted, with the lengths the upload will have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UploadSize {
    /// The file's length: the pointer's `size`.
    pub plaintext_len: u64,
    /// The upload body's length.
    pub upload_len: u64,
}

/// Why a file cannot be uploaded.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum UploadLimitError {
    /// The file is empty: the file server refuses empty bodies (413).
    #[error("the file is empty; the file server accepts no empty uploads")]
    Empty,
    /// The encrypted file would be over the file server's cap.
    #[error(
        "the file is {plaintext_len} bytes; encrypted it would be {upload_len} bytes, over the file \
         server's cap of {max_upload} bytes (the largest file that can be sent is {max_plaintext} bytes)"
    )]
    TooLarge {
        /// The file's length.
        plaintext_len: u64,
        /// What its upload body would be (`u64::MAX` when that overflows).
        upload_len: u64,
        /// [`MAX_UPLOAD_LEN`].
        max_upload: u64,
        /// The largest file length that fits, in this format.
        max_plaintext: u64,
    },
}

/// Checks a file's length against the file server's cap before anything is encrypted or
/// uploaded. Call it first: a 10,000,001-byte file fails here, with the reason.
pub fn check_upload(
    plaintext_len: u64,
    format: UploadFormat,
) -> Result<UploadSize, UploadLimitError> {
    if plaintext_len == 0 {
        return Err(UploadLimitError::Empty);
    }
    match format.encrypted_len(plaintext_len) {
        Some(upload_len) if upload_len <= MAX_UPLOAD_LEN => Ok(UploadSize {
            plaintext_len,
            upload_len,
        }),
        upload_len => Err(UploadLimitError::TooLarge {
            plaintext_len,
            upload_len: upload_len.unwrap_or(u64::MAX),
            max_upload: MAX_UPLOAD_LEN,
            max_plaintext: format.max_plaintext_len(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ten_million_and_one_bytes_fail_at_once_with_the_reason() {
        for format in [
            UploadFormat::Deterministic,
            UploadFormat::Legacy,
            UploadFormat::Plain,
        ] {
            let err = check_upload(10_000_001, format).unwrap_err();
            let UploadLimitError::TooLarge {
                plaintext_len,
                max_upload,
                ..
            } = err
            else {
                panic!("{err:?}");
            };
            assert_eq!(plaintext_len, 10_000_001);
            assert_eq!(max_upload, 10_000_000);
            let text = err.to_string();
            assert!(text.contains("10000001 bytes"), "{text}");
            assert!(text.contains("cap of 10000000 bytes"), "{text}");
        }
    }

    #[test]
    fn largest_sendable_files_match_the_spec() {
        // files.md §2.5: deterministic ≤ 9,956,278 B → 9,961,472 B; the next byte → 10,223,616 B.
        assert_eq!(UploadFormat::Deterministic.max_plaintext_len(), 9_956_278);
        let ok = check_upload(9_956_278, UploadFormat::Deterministic).unwrap();
        assert_eq!(ok.upload_len, 9_961_472);
        let err = check_upload(9_956_279, UploadFormat::Deterministic).unwrap_err();
        assert!(matches!(
            err,
            UploadLimitError::TooLarge {
                upload_len: 10_223_616,
                max_plaintext: 9_956_278,
                ..
            }
        ));
        // Legacy: ≤ 9,828,080 B pads to 9,828,080 → 9,828,144 B; above that, 10,000,064 B.
        assert_eq!(UploadFormat::Legacy.max_plaintext_len(), 9_828_080);
        assert_eq!(
            check_upload(9_828_080, UploadFormat::Legacy)
                .unwrap()
                .upload_len,
            9_828_144
        );
        assert_eq!(
            UploadFormat::Legacy.encrypted_len(9_828_081),
            Some(10_000_064)
        );
        assert_eq!(UploadFormat::Plain.max_plaintext_len(), MAX_UPLOAD_LEN);
        assert!(check_upload(MAX_UPLOAD_LEN, UploadFormat::Plain).is_ok());
    }

    #[test]
    fn empty_files_are_refused() {
        assert_eq!(
            check_upload(0, UploadFormat::Deterministic),
            Err(UploadLimitError::Empty)
        );
    }

    #[test]
    fn the_legacy_length_matches_the_encryptor() {
        let mut rng = <rand_chacha::ChaCha20Rng as rand_core::SeedableRng>::seed_from_u64(7);
        for len in [1usize, 540, 541, 542, 4096, 100_000] {
            let enc = legacy::encrypt(&vec![1u8; len], legacy::Padding::Padded, &mut rng).unwrap();
            assert_eq!(
                UploadFormat::Legacy.encrypted_len(len as u64),
                Some(enc.blob.len() as u64),
                "len {len}"
            );
        }
    }
}
