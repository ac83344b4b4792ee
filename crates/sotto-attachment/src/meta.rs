//! What an `AttachmentPointer` says about its file (files.md §4.2): content type, plaintext size,
//! pixel size, the voice-message flag, file name and caption, as a validated type.
//!
//! Sending builds an [`AttachmentMeta`] with checked values and turns it into a pointer with
//! [`AttachmentMeta::to_pointer`]. Receiving reads one with [`AttachmentMeta::from_pointer`],
//! which refuses what would make the file unusable (no size, a size over the largest encrypted
//! file) and normalises the rest (an unusable content type becomes `application/octet-stream`, a
//! zero width or height is dropped, a file name is reduced to a safe base name).

use crate::url::AttachmentUrl;
use crate::{MAX_PLAINTEXT_LEN, deterministic, legacy};
use sotto_envelope::{AttachmentPointer, KeyBytes};
use std::fmt;
use thiserror::Error;

/// The longest file name kept, in bytes.
pub const MAX_FILE_NAME_LEN: usize = 255;
/// The longest caption sent or kept, in bytes (Sotto's bound; Session sets none).
pub const MAX_CAPTION_LEN: usize = 2000;
/// The longest content type, in bytes (RFC 6838: 127 for each of type and subtype).
const MAX_CONTENT_TYPE_LEN: usize = 255;
/// The content type of a file whose type is unknown.
pub const OCTET_STREAM: &str = "application/octet-stream";

/// Why attachment metadata was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum MetaError {
    /// The content type is not `type/subtype` of RFC 6838 name characters.
    #[error("content type is not a valid type/subtype")]
    ContentType,
    /// The size is 0, or over the limit.
    #[error("attachment size {size} is not within 1..={max}")]
    Size {
        /// The size given.
        size: u64,
        /// The limit.
        max: u64,
    },
    /// A received pointer has no size: its padding cannot be removed.
    #[error("attachment pointer has no size")]
    MissingSize,
    /// A width or height of 0.
    #[error("image width and height must both be above 0")]
    Dimensions,
    /// The voice flag on a file whose content type is not `audio/*`.
    #[error("a voice message must have an audio/* content type")]
    VoiceNotAudio,
    /// The file name is empty, too long, a path, or has control characters.
    #[error("file name must be 1-255 bytes with no path separators or control characters")]
    FileName,
    /// The caption is over [`MAX_CAPTION_LEN`].
    #[error("caption is {len} bytes, over the limit of {max}")]
    CaptionTooLong {
        /// Its length.
        len: usize,
        /// [`MAX_CAPTION_LEN`].
        max: usize,
    },
    /// The key's length fits neither encryption format named by the URL.
    #[error("attachment key is {found} bytes; the URL's format needs {expected}")]
    KeyLength {
        /// The length the URL's format needs.
        expected: usize,
        /// The length given.
        found: usize,
    },
}

/// A MIME type, `type/subtype`, lower-cased, without parameters.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ContentType(String);

impl ContentType {
    /// Parses and lower-cases a content type; parameters (`; codecs=…`) are refused.
    pub fn parse(s: &str) -> Result<Self, MetaError> {
        let (ty, sub) = s.split_once('/').ok_or(MetaError::ContentType)?;
        let name_ok = |n: &str| {
            !n.is_empty()
                && n.len() <= 127
                && n.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric())
                && n.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"!#$&-^_.+".contains(&b))
        };
        if s.len() > MAX_CONTENT_TYPE_LEN || !name_ok(ty) || !name_ok(sub) {
            return Err(MetaError::ContentType);
        }
        Ok(Self(s.to_ascii_lowercase()))
    }

    /// `application/octet-stream`.
    #[must_use]
    pub fn octet_stream() -> Self {
        Self(OCTET_STREAM.to_owned())
    }

    /// The type as a string.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The top-level type (`image` in `image/png`).
    #[must_use]
    pub fn top_level(&self) -> &str {
        self.0.split_once('/').map_or("", |(t, _)| t)
    }

    /// `image/*`.
    #[must_use]
    pub fn is_image(&self) -> bool {
        self.top_level() == "image"
    }

    /// `audio/*`.
    #[must_use]
    pub fn is_audio(&self) -> bool {
        self.top_level() == "audio"
    }

    /// `video/*`.
    #[must_use]
    pub fn is_video(&self) -> bool {
        self.top_level() == "video"
    }
}

impl fmt::Display for ContentType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A file name that is safe to show and to save under: one path component, no control
/// characters, at most [`MAX_FILE_NAME_LEN`] bytes.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FileName(String);

impl FileName {
    /// Accepts a name as it is, or refuses it.
    pub fn new(name: &str) -> Result<Self, MetaError> {
        if name.is_empty()
            || name.len() > MAX_FILE_NAME_LEN
            || name == "."
            || name == ".."
            || name
                .chars()
                .any(|c| c == '/' || c == '\\' || c.is_control())
        {
            return Err(MetaError::FileName);
        }
        Ok(Self(name.to_owned()))
    }

    /// Reduces a received name to a safe one: the last path component, control characters
    /// replaced by `_`, cut to [`MAX_FILE_NAME_LEN`] bytes on a character boundary. `None` when
    /// nothing usable is left.
    #[must_use]
    pub fn sanitize(name: &str) -> Option<Self> {
        let base = name.rsplit(['/', '\\']).next().unwrap_or(name);
        let mut out = String::new();
        for c in base.chars() {
            let c = if c.is_control() { '_' } else { c };
            if out.len() + c.len_utf8() > MAX_FILE_NAME_LEN {
                break;
            }
            out.push(c);
        }
        Self::new(&out).ok()
    }

    /// The name.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for FileName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An attachment's metadata, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttachmentMeta {
    content_type: ContentType,
    size: u32,
    dimensions: Option<(u32, u32)>,
    voice: bool,
    file_name: Option<FileName>,
    caption: Option<String>,
}

impl AttachmentMeta {
    /// Metadata for a file to send: its type and plaintext size (1 to [`MAX_PLAINTEXT_LEN`];
    /// check the upload cap with [`check_upload`](crate::check_upload) too).
    pub fn new(content_type: ContentType, size: u64) -> Result<Self, MetaError> {
        let size = u32::try_from(size)
            .ok()
            .filter(|s| *s > 0 && u64::from(*s) <= MAX_PLAINTEXT_LEN)
            .ok_or(MetaError::Size {
                size,
                max: MAX_PLAINTEXT_LEN,
            })?;
        Ok(Self {
            content_type,
            size,
            dimensions: None,
            voice: false,
            file_name: None,
            caption: None,
        })
    }

    /// Sets the pixel size of an image or video (both above 0).
    pub fn with_dimensions(mut self, width: u32, height: u32) -> Result<Self, MetaError> {
        if width == 0 || height == 0 {
            return Err(MetaError::Dimensions);
        }
        self.dimensions = Some((width, height));
        Ok(self)
    }

    /// Marks the file as a voice message (`flags = 1`); its type must be `audio/*`.
    pub fn voice_message(mut self) -> Result<Self, MetaError> {
        if !self.content_type.is_audio() {
            return Err(MetaError::VoiceNotAudio);
        }
        self.voice = true;
        Ok(self)
    }

    /// Sets the file name.
    #[must_use]
    pub fn with_file_name(mut self, name: FileName) -> Self {
        self.file_name = Some(name);
        self
    }

    /// Sets the caption (at most [`MAX_CAPTION_LEN`] bytes).
    pub fn with_caption(mut self, caption: &str) -> Result<Self, MetaError> {
        if caption.len() > MAX_CAPTION_LEN {
            return Err(MetaError::CaptionTooLong {
                len: caption.len(),
                max: MAX_CAPTION_LEN,
            });
        }
        self.caption = (!caption.is_empty()).then(|| caption.to_owned());
        Ok(self)
    }

    /// The content type.
    #[must_use]
    pub fn content_type(&self) -> &ContentType {
        &self.content_type
    }

    /// The plaintext size in bytes (what decryption trims to).
    #[must_use]
    pub fn size(&self) -> u32 {
        self.size
    }

    /// Width and height in pixels, when known.
    #[must_use]
    pub fn dimensions(&self) -> Option<(u32, u32)> {
        self.dimensions
    }

    /// Whether this is a voice message.
    #[must_use]
    pub fn is_voice_message(&self) -> bool {
        self.voice
    }

    /// The file name.
    #[must_use]
    pub fn file_name(&self) -> Option<&FileName> {
        self.file_name.as_ref()
    }

    /// The caption.
    #[must_use]
    pub fn caption(&self) -> Option<&str> {
        self.caption.as_deref()
    }

    /// Builds the pointer for an uploaded file: `id` from the URL (§3), the key (32 bytes for a
    /// deterministic URL, 64 for legacy), and the digest (legacy only; deterministic pointers
    /// carry none, §9.7).
    pub fn to_pointer(
        &self,
        url: &AttachmentUrl,
        key: &[u8],
        legacy_digest: Option<[u8; legacy::DIGEST_LEN]>,
    ) -> Result<AttachmentPointer, MetaError> {
        let expected = if url.is_deterministic() {
            deterministic::KEY_LEN
        } else {
            legacy::KEY_LEN
        };
        if key.len() != expected {
            return Err(MetaError::KeyLength {
                expected,
                found: key.len(),
            });
        }
        Ok(AttachmentPointer {
            id: url.numeric_id(),
            content_type: Some(self.content_type.0.clone()),
            key: Some(KeyBytes::new(key.to_vec())),
            size: Some(self.size),
            digest: if url.is_deterministic() {
                None
            } else {
                legacy_digest.map(|d| d.to_vec())
            },
            file_name: self.file_name.as_ref().map(|n| n.0.clone()),
            flags: self.voice.then_some(AttachmentPointer::VOICE_MESSAGE),
            width: self.dimensions.map(|(w, _)| w),
            height: self.dimensions.map(|(_, h)| h),
            caption: self.caption.clone(),
            url: Some(url.to_string()),
            ..AttachmentPointer::default()
        })
    }

    /// Reads a received pointer's metadata (see the module documentation for what is refused
    /// and what is normalised).
    pub fn from_pointer(pointer: &AttachmentPointer) -> Result<Self, MetaError> {
        let size = pointer.size.ok_or(MetaError::MissingSize)?;
        if size == 0 || u64::from(size) > deterministic::MAX_ENCRYPTED_LEN {
            return Err(MetaError::Size {
                size: u64::from(size),
                max: deterministic::MAX_ENCRYPTED_LEN,
            });
        }
        let content_type = pointer
            .content_type
            .as_deref()
            .and_then(|t| ContentType::parse(t.trim()).ok())
            .unwrap_or_else(ContentType::octet_stream);
        let dimensions = match (pointer.width, pointer.height) {
            (Some(w), Some(h)) if w > 0 && h > 0 => Some((w, h)),
            _ => None,
        };
        let caption = pointer
            .caption
            .as_deref()
            .filter(|c| !c.is_empty())
            .map(|c| {
                let mut end = c.len().min(MAX_CAPTION_LEN);
                while !c.is_char_boundary(end) {
                    end -= 1;
                }
                c.get(..end).unwrap_or_default().to_owned()
            });
        Ok(Self {
            content_type,
            size,
            dimensions,
            voice: pointer.is_voice_message(),
            file_name: pointer.file_name.as_deref().and_then(FileName::sanitize),
            caption,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::url::FileServer;

    const ID: &str = "aBcD-_0123456789aBcD-_0123456789aBcD-_012345";

    #[test]
    fn content_types_are_validated_and_lower_cased() {
        let t = ContentType::parse("Image/JPEG").unwrap();
        assert_eq!(t.as_str(), "image/jpeg");
        assert!(t.is_image() && !t.is_audio());
        assert!(ContentType::parse("audio/mp3").unwrap().is_audio());
        assert!(
            ContentType::parse(
                "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
            )
            .is_ok()
        );
        for bad in [
            "",
            "image",
            "image/",
            "/png",
            "image/png; q=1",
            "ima ge/png",
            "image/png/x",
            "a/\u{e9}",
        ] {
            assert_eq!(
                ContentType::parse(bad),
                Err(MetaError::ContentType),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn file_names_are_checked_and_sanitized() {
        assert!(FileName::new("photo.jpg").is_ok());
        for bad in ["", ".", "..", "a/b", "a\\b", "a\nb", &"x".repeat(256)] {
            assert_eq!(FileName::new(bad), Err(MetaError::FileName), "{bad:?}");
        }
        assert_eq!(
            FileName::sanitize("../../etc/passwd").unwrap().as_str(),
            "passwd"
        );
        assert_eq!(
            FileName::sanitize("C:\\x\\a\u{7}b.txt").unwrap().as_str(),
            "a_b.txt"
        );
        assert_eq!(FileName::sanitize("dir/.."), None);
        assert_eq!(
            FileName::sanitize(&"é".repeat(200)).unwrap().as_str().len(),
            254
        );
    }

    #[test]
    fn builders_refuse_bad_values() {
        let jpeg = ContentType::parse("image/jpeg").unwrap();
        assert!(matches!(
            AttachmentMeta::new(jpeg.clone(), 0),
            Err(MetaError::Size { .. })
        ));
        assert!(matches!(
            AttachmentMeta::new(jpeg.clone(), 10_000_001),
            Err(MetaError::Size {
                size: 10_000_001,
                max: 10_000_000
            })
        ));
        let m = AttachmentMeta::new(jpeg, 10).unwrap();
        assert_eq!(m.clone().with_dimensions(0, 5), Err(MetaError::Dimensions));
        assert_eq!(m.clone().voice_message(), Err(MetaError::VoiceNotAudio));
        assert!(matches!(
            m.with_caption(&"c".repeat(MAX_CAPTION_LEN + 1)),
            Err(MetaError::CaptionTooLong { .. })
        ));
    }

    #[test]
    fn pointer_round_trip_for_an_image_and_a_voice_message() {
        let url = FileServer::session_default().file_url(ID, true).unwrap();
        let image = AttachmentMeta::new(ContentType::parse("image/png").unwrap(), 1234)
            .unwrap()
            .with_dimensions(640, 480)
            .unwrap()
            .with_file_name(FileName::new("a.png").unwrap())
            .with_caption("hello")
            .unwrap();
        let p = image.to_pointer(&url, &[7; 32], Some([1; 32])).unwrap();
        assert_eq!(p.id, 0);
        assert_eq!(p.size, Some(1234));
        assert_eq!((p.width, p.height), (Some(640), Some(480)));
        assert_eq!(p.digest, None, "deterministic pointers carry no digest");
        assert_eq!(p.flags, None);
        assert_eq!(
            p.url.as_deref(),
            Some(&*format!("http://filev2.getsession.org/file/{ID}#d"))
        );
        assert_eq!(AttachmentMeta::from_pointer(&p).unwrap(), image);

        let voice = AttachmentMeta::new(ContentType::parse("audio/mpeg").unwrap(), 5000)
            .unwrap()
            .voice_message()
            .unwrap();
        let legacy_url = FileServer::session_default().file_url("42", false).unwrap();
        let p = voice
            .to_pointer(&legacy_url, &[7; 64], Some([1; 32]))
            .unwrap();
        assert_eq!(p.id, 42);
        assert_eq!(p.flags, Some(AttachmentPointer::VOICE_MESSAGE));
        assert_eq!(p.digest, Some(vec![1; 32]));
        assert!(p.is_voice_message());
        assert_eq!(AttachmentMeta::from_pointer(&p).unwrap(), voice);

        assert_eq!(
            voice.to_pointer(&url, &[7; 64], None),
            Err(MetaError::KeyLength {
                expected: 32,
                found: 64
            })
        );
    }

    #[test]
    fn received_pointers_are_normalised_or_refused() {
        let mut p = AttachmentPointer {
            content_type: Some("not a type".into()),
            size: Some(10),
            width: Some(0),
            height: Some(5),
            file_name: Some("../x.bin".into()),
            caption: Some("é".repeat(MAX_CAPTION_LEN)),
            ..AttachmentPointer::default()
        };
        let m = AttachmentMeta::from_pointer(&p).unwrap();
        assert_eq!(m.content_type().as_str(), OCTET_STREAM);
        assert_eq!(m.dimensions(), None);
        assert_eq!(m.file_name().unwrap().as_str(), "x.bin");
        assert_eq!(m.caption().unwrap().len(), MAX_CAPTION_LEN);
        p.size = None;
        assert_eq!(
            AttachmentMeta::from_pointer(&p),
            Err(MetaError::MissingSize)
        );
        p.size = Some(0);
        assert!(matches!(
            AttachmentMeta::from_pointer(&p),
            Err(MetaError::Size { .. })
        ));
        p.size = Some(u32::MAX);
        assert!(matches!(
            AttachmentMeta::from_pointer(&p),
            Err(MetaError::Size { .. })
        ));
    }
}
