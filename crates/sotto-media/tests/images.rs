//! Image probing and scaling with generated images, and sniffing of other types.
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "test code"
)]

mod common;

use image::codecs::jpeg::JpegEncoder;
use image::codecs::png::PngEncoder;
use image::codecs::webp::WebPEncoder;
use image::{DynamicImage, RgbImage};
use sotto_media::image::{MAX_IMAGE_SIDE, prepare, probe};
use sotto_media::{MediaError, sniff};

fn gradient(w: u32, h: u32) -> DynamicImage {
    DynamicImage::ImageRgb8(RgbImage::from_fn(w, h, |x, y| {
        image::Rgb([
            (x * 255 / w) as u8,
            (y * 255 / h) as u8,
            ((x + y) % 256) as u8,
        ])
    }))
}

fn png(img: &DynamicImage) -> Vec<u8> {
    let mut out = Vec::new();
    img.write_with_encoder(PngEncoder::new(&mut out)).unwrap();
    out
}

fn jpeg(img: &DynamicImage) -> Vec<u8> {
    let mut out = Vec::new();
    img.write_with_encoder(JpegEncoder::new_with_quality(&mut out, 90))
        .unwrap();
    out
}

#[test]
fn a_large_png_is_scaled_within_the_bounds_with_its_aspect_kept() {
    let bytes = png(&gradient(2400, 1800));
    assert_eq!(
        probe(&bytes).unwrap(),
        sotto_media::image::ImageInfo {
            mime: "image/png",
            width: 2400,
            height: 1800
        }
    );
    let out = prepare(&bytes).unwrap();
    assert!(out.was_processed());
    assert_eq!((out.mime, out.width, out.height), ("image/png", 2000, 1500));
    let info = probe(&out.bytes).unwrap();
    assert_eq!(
        (info.mime, info.width, info.height),
        ("image/png", 2000, 1500)
    );
    // The content is the same picture, smaller: compare a pixel.
    let scaled = image::load_from_memory(&out.bytes).unwrap().to_rgb8();
    let p = scaled.get_pixel(1000, 750);
    assert!(
        (i32::from(p[0]) - 127).abs() <= 3 && (i32::from(p[1]) - 127).abs() <= 3,
        "{p:?}"
    );
}

#[test]
fn a_tall_jpeg_is_scaled_and_re_encoded_as_jpeg() {
    let bytes = jpeg(&gradient(1500, 2500));
    let out = prepare(&bytes).unwrap();
    assert_eq!(
        (out.mime, out.width, out.height),
        ("image/jpeg", 1200, MAX_IMAGE_SIDE)
    );
    let info = probe(&out.bytes).unwrap();
    assert_eq!((info.width, info.height), (1200, 2000));
}

#[test]
fn a_large_webp_becomes_a_scaled_jpeg() {
    let img = gradient(2200, 880);
    let mut bytes = Vec::new();
    img.write_with_encoder(WebPEncoder::new_lossless(&mut bytes))
        .unwrap();
    assert_eq!(sniff(&bytes).mime, "image/webp");
    assert_eq!(probe(&bytes).unwrap().width, 2200);
    let out = prepare(&bytes).unwrap();
    assert_eq!((out.mime, out.width, out.height), ("image/jpeg", 2000, 800));
}

#[test]
fn images_within_the_bounds_are_sent_untouched_with_their_size() {
    for (bytes, mime) in [
        (jpeg(&gradient(640, 480)), "image/jpeg"),
        (png(&gradient(2000, 10)), "image/png"),
    ] {
        let out = prepare(&bytes).unwrap();
        assert!(!out.was_processed());
        assert_eq!(&*out.bytes, &bytes[..]);
        assert_eq!(out.mime, mime);
        let info = probe(&bytes).unwrap();
        assert_eq!((out.width, out.height), (info.width, info.height));
    }
    // A GIF (possibly animated) is never re-encoded.
    let gif = b"GIF89a\x10\x00\x08\x00\x00\x00\x00;";
    let info = probe(gif).unwrap();
    assert_eq!((info.mime, info.width, info.height), ("image/gif", 16, 8));
    assert!(!prepare(gif).unwrap().was_processed());
}

#[test]
fn a_pixel_bomb_is_refused_before_decoding() {
    // A PNG header claiming 100,000 × 100,000 pixels, and nothing else.
    let mut bomb = b"\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR".to_vec();
    bomb.extend_from_slice(&100_000u32.to_be_bytes());
    bomb.extend_from_slice(&100_000u32.to_be_bytes());
    bomb.extend_from_slice(&[8, 2, 0, 0, 0, 0, 0, 0, 0]);
    assert_eq!(probe(&bomb).unwrap().width, 100_000);
    assert!(matches!(
        prepare(&bomb),
        Err(MediaError::TooManyPixels { .. })
    ));
    // Within the pixel limit but truncated: a typed error, not a panic.
    let mut cut = png(&gradient(3000, 100));
    cut.truncate(cut.len() / 2);
    assert!(matches!(prepare(&cut), Err(MediaError::Malformed { .. })));
}

#[test]
fn non_images_are_sniffed_as_their_types() {
    let wav = common::wav(8_000, 1, &common::sine(8_000, 440.0, 0.1));
    let cases: [(&[u8], &str); 8] = [
        (&wav, "audio/wav"),
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj", "application/pdf"),
        (b"PK\x03\x04\x14\x00\x00\x00\x08\x00", "application/zip"),
        (b"\x1f\x8b\x08\x00\x00\x00\x00\x00", "application/gzip"),
        (b"fLaC\x00\x00\x00\x22", "audio/flac"),
        (
            b"\x00\x00\x00\x20ftypM4A \x00\x00\x00\x00M4A mp42isom",
            "audio/mp4",
        ),
        ("Hello, Bob! Ça va?\n".as_bytes(), "text/plain"),
        (
            &[0u8, 1, 2, 3, 0xfe, 0xff, 7, 9],
            "application/octet-stream",
        ),
    ];
    for (bytes, mime) in cases {
        assert_eq!(sniff(bytes).mime, mime, "{bytes:?}");
        assert!(matches!(
            probe(bytes),
            Err(MediaError::UnknownFormat { .. })
        ));
    }
    assert_eq!(sniff(&[]).mime, "application/octet-stream");
    assert_eq!(sniff(&png(&gradient(2, 2))).mime, "image/png");
}

#[test]
fn files_are_described_for_their_pointer() {
    let bytes = jpeg(&gradient(320, 200));
    let meta = sotto_media::describe_file(&bytes, Some("../holiday/beach.jpg")).unwrap();
    assert_eq!(meta.content_type().as_str(), "image/jpeg");
    assert_eq!(u64::from(meta.size()), bytes.len() as u64);
    assert_eq!(meta.dimensions(), Some((320, 200)));
    assert_eq!(meta.file_name().unwrap().as_str(), "beach.jpg");
    assert!(!meta.is_voice_message());

    let pdf = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj";
    let meta = sotto_media::describe_file(pdf, None).unwrap();
    assert_eq!(meta.content_type().as_str(), "application/pdf");
    assert_eq!(meta.dimensions(), None);
    assert_eq!(meta.file_name(), None);
    assert!(matches!(
        sotto_media::describe_file(&[], None),
        Err(MediaError::Meta(sotto_attachment::MetaError::Size { .. }))
    ));
}

#[test]
fn profile_pictures_are_scaled_to_fit_600_pixels() {
    use sotto_media::image::{MAX_PROFILE_PICTURE_SIDE, prepare_profile_picture};
    assert_eq!(MAX_PROFILE_PICTURE_SIDE, 600);
    // A PNG stays PNG, a JPEG stays JPEG; both fit 600×600 with their aspect kept.
    let wide = png(&gradient(1200, 800));
    let out = prepare_profile_picture(&wide).unwrap();
    assert!(out.was_processed());
    assert_eq!((out.mime, out.width, out.height), ("image/png", 600, 400));
    let tall = jpeg(&gradient(700, 1400));
    let out = prepare_profile_picture(&tall).unwrap();
    let info = probe(&out.bytes).unwrap();
    assert_eq!(
        (info.mime, info.width, info.height),
        ("image/jpeg", 300, 600)
    );
    // One that already fits goes as it is; an image sent in a message keeps its 2000 px bound.
    let small = png(&gradient(600, 300));
    let out = prepare_profile_picture(&small).unwrap();
    assert!(!out.was_processed());
    assert_eq!(&*out.bytes, small.as_slice());
    let big = png(&gradient(1200, 800));
    assert!(!prepare(&big).unwrap().was_processed());
}
