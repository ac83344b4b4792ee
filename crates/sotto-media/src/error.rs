use thiserror::Error;

/// Why media could not be sniffed, probed, scaled, decoded or encoded.
///
/// Malformed input ([`Malformed`](Self::Malformed), [`UnknownFormat`](Self::UnknownFormat)),
/// limits that protect memory and time ([`TooLarge`](Self::TooLarge),
/// [`TooManyPixels`](Self::TooManyPixels), [`TooLong`](Self::TooLong)), the voice-message rules
/// ([`TooShort`](Self::TooShort)), and formats this crate does not handle
/// ([`Unsupported`](Self::Unsupported)) are kept apart.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum MediaError {
    /// The bytes are not in any format this operation takes.
    #[error("{what}: unrecognised format")]
    UnknownFormat {
        /// What was being read.
        what: &'static str,
    },
    /// The format is recognised but this crate does not handle it here.
    #[error("{what}: {format} is not supported")]
    Unsupported {
        /// What was being done.
        what: &'static str,
        /// The format.
        format: &'static str,
    },
    /// The data is malformed or truncated.
    #[error("{what} is malformed: {reason}")]
    Malformed {
        /// What was being read.
        what: &'static str,
        /// Why (from the decoder; never contains input bytes).
        reason: &'static str,
    },
    /// The input or the result is over a byte limit.
    #[error("{what} is {len} bytes, over the limit of {max}")]
    TooLarge {
        /// What was measured.
        what: &'static str,
        /// Its length.
        len: u64,
        /// The limit.
        max: u64,
    },
    /// An image has more pixels than this crate decodes.
    #[error("image is {width}x{height} pixels, over the decoding limit of {max_pixels} pixels")]
    TooManyPixels {
        /// Width.
        width: u32,
        /// Height.
        height: u32,
        /// The limit.
        max_pixels: u64,
    },
    /// Audio is longer than allowed.
    #[error("audio is longer than {max_ms} ms")]
    TooLong {
        /// The limit in milliseconds.
        max_ms: u64,
    },
    /// A voice message is shorter than the official clients accept.
    #[error("voice message is {ms} ms, shorter than the minimum of {min_ms} ms")]
    TooShort {
        /// Its duration.
        ms: u64,
        /// The minimum.
        min_ms: u64,
    },
    /// The metadata derived from the file is not valid pointer metadata (e.g. an empty file).
    #[error("attachment metadata: {0}")]
    Meta(#[from] sotto_attachment::MetaError),
    /// Encoding failed (an encoder refused its own input: a bug, never caused by input).
    #[error("{what} encoding failed: {reason}")]
    Encode {
        /// What was being encoded.
        what: &'static str,
        /// Why.
        reason: &'static str,
    },
}
