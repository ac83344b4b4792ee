//! Pointer metadata from a file's bytes: what the client fills in before an upload (files.md
//! §4.2: content type, size, width and height for images, the voice flag, file name).

use crate::MediaError;
use crate::image::probe;
use crate::sniff::sniff;
use crate::voice::PreparedVoice;
use sotto_attachment::{AttachmentMeta, ContentType, FileName};

/// Metadata for a file sent as it is: the sniffed content type, its size, the pixel size of an
/// image whose header can be read, and the file name reduced to a safe base name.
pub fn describe_file(bytes: &[u8], file_name: Option<&str>) -> Result<AttachmentMeta, MediaError> {
    let sniffed = sniff(bytes);
    let content_type = ContentType::parse(sniffed.mime)?;
    let len = u64::try_from(bytes.len()).unwrap_or(u64::MAX);
    let mut meta = AttachmentMeta::new(content_type, len)?;
    if let Some(info) = sniffed.is_image().then(|| probe(bytes).ok()).flatten() {
        meta = meta.with_dimensions(info.width, info.height)?;
    }
    if let Some(name) = file_name.and_then(FileName::sanitize) {
        meta = meta.with_file_name(name);
    }
    Ok(meta)
}

/// Metadata for a prepared voice message: its MIME type, size, the voice flag, and the name
/// `voice-message.<mp3|m4a>`.
pub fn describe_voice(voice: &PreparedVoice<'_>) -> Result<AttachmentMeta, MediaError> {
    let len = u64::try_from(voice.bytes.len()).unwrap_or(u64::MAX);
    let name = FileName::new(&format!("voice-message.{}", voice.extension))?;
    Ok(AttachmentMeta::new(ContentType::parse(voice.mime)?, len)?
        .voice_message()?
        .with_file_name(name))
}
