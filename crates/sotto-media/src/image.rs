//! Image probing and scaling to the official clients' bounds (files.md §6).
//!
//! Policy (desktop's `processForFileServerUpload`, with Sotto's choices where clients differ):
//!
//! * JPEG and WebP larger than [`MAX_IMAGE_SIDE`] on a side, or of at least
//!   [`MAX_UPLOAD_LEN`](sotto_attachment::MAX_UPLOAD_LEN) bytes, are turned upright (EXIF
//!   orientation), scaled to fit `MAX_IMAGE_SIDE`², and re-encoded as JPEG at quality
//!   95 → 85 → 75 → 55 → 30 until under the cap; smaller ones are sent untouched.
//! * PNG larger than `MAX_IMAGE_SIDE` on a side is scaled and stays PNG (lossless) — desktop
//!   sends such a PNG as it is, Android scales to 4096 px; Sotto scales like Android, to
//!   desktop's tighter bound.
//! * Every other image (GIF, which may be animated, BMP, TIFF, HEIF, AVIF, …) is sent as it is.
//! * Anything still at or over the cap is refused.
//!
//! Hostile input: sizes are read from the header first ([`probe`]); images of more than
//! [`MAX_DECODE_PIXELS`] pixels are refused before decoding, and the decoder runs under
//! `image::Limits` that cap its allocations at [`MAX_DECODE_ALLOC`] bytes.

use crate::MediaError;
use crate::sniff::sniff;
use image::codecs::jpeg::JpegEncoder;
use image::codecs::png::PngEncoder;
use image::imageops::FilterType;
use image::{DynamicImage, ImageDecoder, ImageFormat, ImageReader, Limits};
use sotto_attachment::MAX_UPLOAD_LEN;
use std::borrow::Cow;
use std::io::Cursor;

/// The longest side of a scaled image, in pixels (desktop's bound; Android's is 4096).
pub const MAX_IMAGE_SIDE: u32 = 2000;
/// The longest side of a profile picture, in pixels (every official client's bound, files.md
/// §4.5).
pub const MAX_PROFILE_PICTURE_SIDE: u32 = 600;
/// The most pixels decoded (e.g. 8,000 × 6,250).
pub const MAX_DECODE_PIXELS: u64 = 50_000_000;
/// The most bytes the decoder may allocate.
pub const MAX_DECODE_ALLOC: u64 = 256 * 1024 * 1024;
/// JPEG qualities tried in turn (desktop's ladder).
const JPEG_QUALITIES: [u8; 5] = [95, 85, 75, 55, 30];

/// An image's type and pixel size, read from its header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImageInfo {
    /// MIME type.
    pub mime: &'static str,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
}

/// Reads an image's type and size from its header, without decoding it.
pub fn probe(bytes: &[u8]) -> Result<ImageInfo, MediaError> {
    let sniffed = sniff(bytes);
    if !sniffed.is_image() {
        return Err(MediaError::UnknownFormat { what: "image" });
    }
    let size = imagesize::blob_size(bytes).map_err(|e| match e {
        imagesize::ImageError::NotSupported => MediaError::Unsupported {
            what: "image size",
            format: sniffed.mime,
        },
        _ => MediaError::Malformed {
            what: "image header",
            reason: "cannot read the size",
        },
    })?;
    let (Ok(width), Ok(height)) = (u32::try_from(size.width), u32::try_from(size.height)) else {
        return Err(MediaError::Malformed {
            what: "image header",
            reason: "size out of range",
        });
    };
    if width == 0 || height == 0 {
        return Err(MediaError::Malformed {
            what: "image header",
            reason: "zero width or height",
        });
    }
    Ok(ImageInfo {
        mime: sniffed.mime,
        width,
        height,
    })
}

/// The size that fits `width`×`height` within `max`×`max`, aspect kept (rounded, at least 1),
/// or the size itself when it already fits.
#[must_use]
pub fn fit_within(width: u32, height: u32, max: u32) -> (u32, u32) {
    if width <= max && height <= max {
        return (width, height);
    }
    let scale = |a: u32, b: u32| -> u32 {
        // a * max / b, rounded; a <= b here so the result is at most max.
        let v = (u64::from(a) * u64::from(max) + u64::from(b) / 2) / u64::from(b);
        u32::try_from(v).unwrap_or(max).max(1)
    };
    if width >= height {
        (max, scale(height, width))
    } else {
        (scale(width, height), max)
    }
}

/// An image ready to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreparedImage<'a> {
    /// The bytes to upload: the original, or the scaled re-encoding.
    pub bytes: Cow<'a, [u8]>,
    /// MIME type of `bytes`.
    pub mime: &'static str,
    /// Width of `bytes` in pixels.
    pub width: u32,
    /// Height of `bytes` in pixels.
    pub height: u32,
}

impl PreparedImage<'_> {
    /// Whether the image was re-encoded.
    #[must_use]
    pub fn was_processed(&self) -> bool {
        matches!(self.bytes, Cow::Owned(_))
    }
}

/// Applies the module's policy to an image to be sent as an image (not as a file).
pub fn prepare(bytes: &[u8]) -> Result<PreparedImage<'_>, MediaError> {
    prepare_within(bytes, MAX_IMAGE_SIDE)
}

/// Applies the module's policy to a profile picture: the same as [`prepare`], within
/// [`MAX_PROFILE_PICTURE_SIDE`]² (a larger JPEG or WebP becomes a JPEG, a larger PNG stays
/// PNG; GIF and other formats go as they are).
pub fn prepare_profile_picture(bytes: &[u8]) -> Result<PreparedImage<'_>, MediaError> {
    prepare_within(bytes, MAX_PROFILE_PICTURE_SIDE)
}

fn prepare_within(bytes: &[u8], max_side: u32) -> Result<PreparedImage<'_>, MediaError> {
    let info = probe(bytes)?;
    let len = u64::try_from(bytes.len()).unwrap_or(u64::MAX);
    let too_big_side = info.width > max_side || info.height > max_side;
    let too_many_bytes = len >= MAX_UPLOAD_LEN;
    let untouched = || PreparedImage {
        bytes: Cow::Borrowed(bytes),
        mime: info.mime,
        width: info.width,
        height: info.height,
    };
    let result = match info.mime {
        "image/jpeg" | "image/webp" if too_big_side || too_many_bytes => {
            let img = decode(bytes, info)?;
            let img = scale(img, max_side);
            encode_jpeg_under_cap(&img)?
        }
        "image/png" if too_big_side => {
            let img = scale(decode(bytes, info)?, max_side);
            let mut out = Vec::new();
            img.write_with_encoder(PngEncoder::new(&mut out))
                .map_err(|_| MediaError::Encode {
                    what: "PNG",
                    reason: "the encoder refused the image",
                })?;
            PreparedImage {
                bytes: Cow::Owned(out),
                mime: "image/png",
                width: img.width(),
                height: img.height(),
            }
        }
        _ => untouched(),
    };
    let out_len = u64::try_from(result.bytes.len()).unwrap_or(u64::MAX);
    if out_len >= MAX_UPLOAD_LEN {
        return Err(MediaError::TooLarge {
            what: "image",
            len: out_len,
            max: MAX_UPLOAD_LEN - 1,
        });
    }
    Ok(result)
}

/// Decodes an image under the module's limits, turned upright by its EXIF orientation.
pub fn decode(bytes: &[u8], info: ImageInfo) -> Result<DynamicImage, MediaError> {
    let pixels = u64::from(info.width) * u64::from(info.height);
    if pixels > MAX_DECODE_PIXELS {
        return Err(MediaError::TooManyPixels {
            width: info.width,
            height: info.height,
            max_pixels: MAX_DECODE_PIXELS,
        });
    }
    let format = match info.mime {
        "image/jpeg" => ImageFormat::Jpeg,
        "image/png" => ImageFormat::Png,
        "image/webp" => ImageFormat::WebP,
        other => {
            return Err(MediaError::Unsupported {
                what: "image decoding",
                format: other,
            });
        }
    };
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    reader.limits(limits());
    let malformed = |_| MediaError::Malformed {
        what: "image",
        reason: "the decoder refused it",
    };
    // Defence in depth, as for audio: a decoder panic on hostile input is a typed error.
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let mut decoder = reader.into_decoder().map_err(malformed)?;
        let orientation = decoder.orientation().map_err(malformed)?;
        let mut img = DynamicImage::from_decoder(decoder).map_err(malformed)?;
        img.apply_orientation(orientation);
        Ok(img)
    }))
    .unwrap_or(Err(MediaError::Malformed {
        what: "image",
        reason: "the decoder failed on it",
    }))
}

fn limits() -> Limits {
    let mut limits = Limits::default();
    let side = u32::try_from(MAX_DECODE_PIXELS).unwrap_or(u32::MAX);
    limits.max_image_width = Some(side);
    limits.max_image_height = Some(side);
    limits.max_alloc = Some(MAX_DECODE_ALLOC);
    limits
}

fn scale(img: DynamicImage, max_side: u32) -> DynamicImage {
    let (w, h) = fit_within(img.width(), img.height(), max_side);
    if (w, h) == (img.width(), img.height()) {
        img
    } else {
        img.resize_exact(w, h, FilterType::Triangle)
    }
}

fn encode_jpeg_under_cap(img: &DynamicImage) -> Result<PreparedImage<'static>, MediaError> {
    let rgb = DynamicImage::ImageRgb8(img.to_rgb8());
    let mut last_len = 0;
    for quality in JPEG_QUALITIES {
        let mut out = Vec::new();
        rgb.write_with_encoder(JpegEncoder::new_with_quality(&mut out, quality))
            .map_err(|_| MediaError::Encode {
                what: "JPEG",
                reason: "the encoder refused the image",
            })?;
        last_len = u64::try_from(out.len()).unwrap_or(u64::MAX);
        if last_len < MAX_UPLOAD_LEN {
            return Ok(PreparedImage {
                bytes: Cow::Owned(out),
                mime: "image/jpeg",
                width: rgb.width(),
                height: rgb.height(),
            });
        }
    }
    Err(MediaError::TooLarge {
        what: "image at the lowest JPEG quality",
        len: last_len,
        max: MAX_UPLOAD_LEN - 1,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fit_keeps_the_aspect_ratio() {
        assert_eq!(fit_within(4000, 3000, 2000), (2000, 1500));
        assert_eq!(fit_within(3000, 4000, 2000), (1500, 2000));
        assert_eq!(fit_within(2000, 2000, 2000), (2000, 2000));
        assert_eq!(fit_within(100, 50, 2000), (100, 50));
        assert_eq!(fit_within(100_000, 1, 2000), (2000, 1));
        assert_eq!(fit_within(u32::MAX, u32::MAX - 1, 2000), (2000, 2000));
    }
}
