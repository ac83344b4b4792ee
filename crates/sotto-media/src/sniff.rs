//! Content-type sniffing from magic numbers (the `infer` crate's table), with the names Session's
//! clients use for voice formats.

/// What [`sniff`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sniffed {
    /// The MIME type to put in the pointer's `contentType`.
    pub mime: &'static str,
    /// The usual file extension, without the dot.
    pub extension: &'static str,
}

impl Sniffed {
    const OCTET: Self = Self {
        mime: "application/octet-stream",
        extension: "bin",
    };
    const TEXT: Self = Self {
        mime: "text/plain",
        extension: "txt",
    };

    /// `image/*`.
    #[must_use]
    pub fn is_image(&self) -> bool {
        self.mime.starts_with("image/")
    }

    /// `audio/*`.
    #[must_use]
    pub fn is_audio(&self) -> bool {
        self.mime.starts_with("audio/")
    }
}

/// How many leading bytes [`sniff`] looks at.
pub const SNIFF_LEN: usize = 8192;

/// The content type of a file from its first bytes (at most [`SNIFF_LEN`] are read). Unknown
/// binary data is `application/octet-stream`; valid UTF-8 without control characters (other
/// than tab, CR, LF) is `text/plain`.
#[must_use]
pub fn sniff(bytes: &[u8]) -> Sniffed {
    let head = bytes.get(..SNIFF_LEN).unwrap_or(bytes);
    if let Some(kind) = infer::get(head) {
        return Sniffed {
            mime: normalise(kind.mime_type()),
            extension: kind.extension(),
        };
    }
    if is_mpeg_audio(head) {
        return Sniffed {
            mime: "audio/mpeg",
            extension: "mp3",
        };
    }
    if !head.is_empty() && looks_like_text(head) {
        return Sniffed::TEXT;
    }
    Sniffed::OCTET
}

/// Names Session's clients use where `infer`'s differ: M4A is `audio/mp4` (files.md §5), WAV and
/// FLAC are `audio/wav` and `audio/flac`.
fn normalise(mime: &'static str) -> &'static str {
    match mime {
        "audio/m4a" | "audio/x-m4a" => "audio/mp4",
        "audio/x-wav" => "audio/wav",
        "audio/x-flac" => "audio/flac",
        other => other,
    }
}

/// An MPEG audio frame header with a valid layer, bitrate and sample rate (MP3 files without an
/// ID3 tag whose sync word `infer` does not list).
fn is_mpeg_audio(head: &[u8]) -> bool {
    match head {
        [0xff, b1, b2, ..] => {
            b1 & 0xe0 == 0xe0
                && b1 & 0x06 != 0
                && b1 & 0x18 != 0x08
                && b2 >> 4 != 0xf
                && b2 >> 4 != 0
                && (b2 >> 2) & 0x03 != 0x03
        }
        _ => false,
    }
}

fn looks_like_text(head: &[u8]) -> bool {
    // The head may cut a multi-byte character: accept an incomplete one at the very end.
    let valid = match std::str::from_utf8(head) {
        Ok(s) => s,
        Err(e) if e.error_len().is_none() => {
            std::str::from_utf8(head.get(..e.valid_up_to()).unwrap_or_default()).unwrap_or_default()
        }
        Err(_) => return false,
    };
    !valid.is_empty()
        && !valid
            .chars()
            .any(|c| c.is_control() && !matches!(c, '\t' | '\n' | '\r'))
}
