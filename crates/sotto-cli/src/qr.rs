//! QR codes of Session IDs: drawn in the terminal, written as PNG, read back from images.
//!
//! The QR code holds the Session ID as its 66 hex characters, as the Session apps show it.

use std::io::Cursor;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use image::{DynamicImage, GrayImage, ImageFormat, ImageReader, Luma};
use qrcode::QrCode;
use qrcode::render::unicode::Dense1x2;
use sotto_identity::{IdError, SessionId};

/// Smallest side of a written PNG, in pixels.
const PNG_MIN_SIDE: u32 = 320;
/// How much of a non-ID payload to quote in an error.
const QUOTE_CHARS: usize = 80;

/// Why a QR code could not be made, written or read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum QrError {
    /// The text does not fit in a QR code (cannot happen for a Session ID).
    #[error("cannot make a QR code")]
    Encode(#[source] qrcode::types::QrError),
    /// PNG encoding failed.
    #[error("cannot encode the QR code as PNG")]
    EncodePng(#[source] image::ImageError),
    /// Writing the PNG file failed.
    #[error("cannot write {}", path.display())]
    Write {
        /// The output file.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// The image file could not be opened or decoded. (The decoder's message repeats its own
    /// source, so it is shown rather than chained.)
    #[error("cannot read the image {} (sotto reads PNG and JPEG): {cause}", path.display())]
    ReadImage {
        /// The image file.
        path: PathBuf,
        /// The decoder's error.
        cause: image::ImageError,
    },
    /// No QR code was found at all.
    #[error(
        "no QR code found in {}: use a sharp, well-lit image that shows the whole code with a \
         margin around it",
        path.display()
    )]
    NoQrCode {
        /// The image file.
        path: PathBuf,
    },
    /// Something that looks like a QR code was found, but it did not decode.
    #[error(
        "found a QR code in {} but could not read it (blurred, damaged or cut off): try a clearer \
         image",
        path.display()
    )]
    Unreadable {
        /// The image file.
        path: PathBuf,
    },
    /// A QR code was read, but it does not hold a Session ID.
    #[error("the QR code in {} is not a Session ID: it holds {quoted}", path.display())]
    NotSessionId {
        /// The image file.
        path: PathBuf,
        /// The payload, quoted and shortened.
        quoted: String,
        /// Why the payload is not a Session ID.
        #[source]
        source: IdError,
    },
    /// Several QR codes with different Session IDs.
    #[error(
        "the image {} holds QR codes of {count} different Session IDs: crop it to the one you want",
        path.display()
    )]
    Ambiguous {
        /// The image file.
        path: PathBuf,
        /// How many different IDs.
        count: usize,
    },
}

fn encode(id: &SessionId) -> Result<QrCode, QrError> {
    QrCode::new(id.to_string().as_bytes()).map_err(QrError::Encode)
}

/// Draws the QR code of `id` with Unicode half blocks, two modules per character cell.
///
/// Light modules are drawn as filled blocks, so the code reads correctly on the usual light text
/// on a dark background; set `dark_on_light` for terminals with dark text on a light background.
pub fn render_terminal(id: &SessionId, dark_on_light: bool) -> Result<String, QrError> {
    let code = encode(id)?;
    let mut renderer = code.render::<Dense1x2>();
    if !dark_on_light {
        renderer
            .dark_color(Dense1x2::Light)
            .light_color(Dense1x2::Dark);
    }
    Ok(renderer.quiet_zone(true).build())
}

/// The QR code of `id` as PNG bytes.
pub fn render_png(id: &SessionId) -> Result<Vec<u8>, QrError> {
    let image: GrayImage = encode(id)?
        .render::<Luma<u8>>()
        .min_dimensions(PNG_MIN_SIDE, PNG_MIN_SIDE)
        .build();
    let mut png = Vec::new();
    DynamicImage::ImageLuma8(image)
        .write_to(&mut Cursor::new(&mut png), ImageFormat::Png)
        .map_err(QrError::EncodePng)?;
    Ok(png)
}

/// Writes the QR code of `id` to `path` as a PNG.
pub fn write_png(id: &SessionId, path: &Path) -> Result<(), QrError> {
    let png = render_png(id)?;
    std::fs::write(path, png).map_err(|source| QrError::Write {
        path: path.to_owned(),
        source,
    })
}

/// Reads a Session ID from the QR code in an image file (PNG or JPEG, recognised by content).
pub fn decode_file(path: &Path) -> Result<SessionId, QrError> {
    let read_err = |cause| QrError::ReadImage {
        path: path.to_owned(),
        cause,
    };
    let image = ImageReader::open(path)
        .map_err(|e| read_err(image::ImageError::IoError(e)))?
        .with_guessed_format()
        .map_err(|e| read_err(image::ImageError::IoError(e)))?
        .decode()
        .map_err(read_err)?;
    decode_image(&image.to_luma8()).map_err(|e| e.at(path))
}

/// What [`decode_image`] found, before a file name is attached.
#[derive(Debug)]
pub enum ScanError {
    /// No QR code.
    NoQrCode,
    /// A QR code that did not decode.
    Unreadable,
    /// A QR code whose payload is not a Session ID.
    NotSessionId {
        /// The payload, quoted and shortened.
        quoted: String,
        /// Why it is not a Session ID.
        source: IdError,
    },
    /// QR codes of several different Session IDs.
    Ambiguous(usize),
}

impl ScanError {
    fn at(self, path: &Path) -> QrError {
        let path = path.to_owned();
        match self {
            Self::NoQrCode => QrError::NoQrCode { path },
            Self::Unreadable => QrError::Unreadable { path },
            Self::NotSessionId { quoted, source } => QrError::NotSessionId {
                path,
                quoted,
                source,
            },
            Self::Ambiguous(count) => QrError::Ambiguous { path, count },
        }
    }
}

/// Reads a Session ID from the QR codes in a greyscale image. Tries the inverted image too, for
/// codes drawn light on dark (such as a photo of a terminal).
pub fn decode_image(image: &GrayImage) -> Result<SessionId, ScanError> {
    let mut payloads = scan(image.clone());
    if payloads.is_none() {
        let mut inverted = image.clone();
        image::imageops::invert(&mut inverted);
        payloads = scan(inverted);
    }
    let payloads = payloads.ok_or(ScanError::NoQrCode)?;
    if payloads.is_empty() {
        return Err(ScanError::Unreadable);
    }

    let mut ids: Vec<SessionId> = Vec::new();
    let mut first_error = None;
    for payload in payloads {
        match parse_session_id(&payload) {
            Ok(id) => {
                if !ids.contains(&id) {
                    ids.push(id);
                }
            }
            Err(source) => {
                first_error.get_or_insert(ScanError::NotSessionId {
                    quoted: quote(&payload),
                    source,
                });
            }
        }
    }
    match ids.as_slice() {
        [id] => Ok(*id),
        [] => Err(first_error.unwrap_or(ScanError::Unreadable)),
        many => Err(ScanError::Ambiguous(many.len())),
    }
}

/// `None` if no QR code was detected; otherwise the payloads that decoded (maybe none).
fn scan(image: GrayImage) -> Option<Vec<String>> {
    let mut prepared = rqrr::PreparedImage::prepare(image);
    let grids = prepared.detect_grids();
    if grids.is_empty() {
        return None;
    }
    Some(
        grids
            .iter()
            .filter_map(|grid| grid.decode().ok().map(|(_meta, text)| text))
            .collect(),
    )
}

/// Accepts surrounding whitespace and upper-case hex (QR alphanumeric mode is upper case).
fn parse_session_id(payload: &str) -> Result<SessionId, IdError> {
    SessionId::from_str(&payload.trim().to_ascii_lowercase())
}

fn quote(payload: &str) -> String {
    let mut short: String = payload.chars().take(QUOTE_CHARS).collect();
    if short.len() < payload.len() {
        short.push('…');
    }
    format!("{short:?}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use sotto_crypto::OsRng;
    use sotto_identity::Account;

    /// Turns a terminal rendering back into pixels (light = 255), `scale` pixels per module.
    fn terminal_to_image(text: &str, dark_on_light: bool, scale: u32) -> GrayImage {
        let rows: Vec<Vec<(bool, bool)>> = text
            .lines()
            .map(|line| {
                line.chars()
                    .map(|c| match c {
                        ' ' => (false, false),
                        '\u{2584}' => (false, true),
                        '\u{2580}' => (true, false),
                        '\u{2588}' => (true, true),
                        other => panic!("unexpected {other:?}"),
                    })
                    .collect()
            })
            .collect();
        let width = rows[0].len() as u32;
        let height = rows.len() as u32 * 2;
        GrayImage::from_fn(width * scale, height * scale, |x, y| {
            let (top, bottom) = rows[(y / scale / 2) as usize][(x / scale) as usize];
            let filled = if (y / scale).is_multiple_of(2) {
                top
            } else {
                bottom
            };
            // A filled cell is a light module unless drawing dark on light.
            Luma([if filled != dark_on_light { 255 } else { 0 }])
        })
    }

    #[test]
    fn terminal_rendering_scans_back() {
        let id = Account::generate(&mut OsRng).session_id();
        for dark_on_light in [false, true] {
            let text = render_terminal(&id, dark_on_light).unwrap();
            let image = terminal_to_image(&text, dark_on_light, 4);
            assert_eq!(decode_image(&image).unwrap(), id);
        }
    }

    #[test]
    fn png_scans_back_and_inverted_too() {
        let id = Account::generate(&mut OsRng).session_id();
        let png = render_png(&id).unwrap();
        let mut image = image::load_from_memory(&png).unwrap().to_luma8();
        assert!(image.width() >= PNG_MIN_SIDE);
        assert_eq!(decode_image(&image).unwrap(), id);
        image::imageops::invert(&mut image);
        assert_eq!(decode_image(&image).unwrap(), id);
    }

    #[test]
    fn upper_case_payload_is_accepted() {
        let id = Account::generate(&mut OsRng).session_id();
        let code = QrCode::new(id.to_string().to_uppercase().as_bytes()).unwrap();
        let image = code.render::<Luma<u8>>().min_dimensions(200, 200).build();
        assert_eq!(decode_image(&image).unwrap(), id);
    }

    #[test]
    fn tells_missing_code_from_wrong_payload() {
        let blank = GrayImage::from_pixel(200, 200, Luma([255]));
        assert!(matches!(decode_image(&blank), Err(ScanError::NoQrCode)));
        let code = QrCode::new(b"https://example.org/not-an-id").unwrap();
        let image = code.render::<Luma<u8>>().min_dimensions(200, 200).build();
        match decode_image(&image) {
            Err(ScanError::NotSessionId { quoted, .. }) => assert!(quoted.contains("example.org")),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn quote_shortens_long_payloads() {
        let long = "x".repeat(500);
        let quoted = quote(&long);
        assert!(quoted.chars().count() < 100, "{quoted}");
        assert!(quoted.ends_with("…\""));
        assert_eq!(quote("ab\"c"), "\"ab\\\"c\"");
    }
}
