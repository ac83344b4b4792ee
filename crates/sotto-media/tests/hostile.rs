//! Downloaded attachments are hostile input: seeded mutations of valid files of every format
//! go through every entry point that takes bytes, which must answer without panicking. (The fuzz
//! targets in fuzz/ do the same at scale.)
#![allow(clippy::unwrap_used, clippy::indexing_slicing, reason = "test code")]

mod common;

use sotto_media::{audio, image, sniff, voice};
use std::time::Duration;

struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn mutate(rng: &mut XorShift, input: &[u8]) -> Vec<u8> {
    let mut out = input.to_vec();
    match rng.below(4) {
        0 => out.truncate(rng.below(input.len() + 1)),
        1 => {
            for _ in 0..=rng.below(8) {
                let i = rng.below(out.len());
                out[i] = rng.next() as u8;
            }
        }
        2 => {
            // Overwrite a header field with extreme values.
            let i = rng.below(out.len().min(64));
            let end = (i + 4).min(out.len());
            out[i..end].fill(if rng.below(2) == 0 { 0xff } else { 0 });
        }
        _ => {
            let i = rng.below(out.len());
            let extra: Vec<u8> = (0..rng.below(64)).map(|_| rng.next() as u8).collect();
            out.splice(i..i, extra);
        }
    }
    out
}

#[test]
fn mutated_media_never_panics() {
    let seed = 0x005e_ed0f_5077_u64;
    println!("seed {seed:#x}");
    let mut rng = XorShift(seed);
    let pcm = common::sine(16_000, 440.0, 1.2);
    let wav = common::wav(16_000, 1, &pcm);
    let mp3 = voice::prepare(&wav).unwrap().bytes.into_owned();
    let inputs: Vec<Vec<u8>> = vec![
        wav.clone(),
        common::flac(16_000, &pcm),
        common::ogg_opus(&common::sine(48_000, 440.0, 1.2)),
        mp3,
        png(),
        jpeg(),
    ];
    for input in &inputs {
        for _ in 0..100 {
            let bytes = mutate(&mut rng, input);
            let _ = sniff(&bytes);
            let _ = image::probe(&bytes);
            let _ = image::prepare(&bytes);
            let _ = audio::duration(&bytes);
            if let Ok(a) = audio::decode_mono(&bytes, Duration::from_secs(5)) {
                assert!(a.duration() <= Duration::from_secs(6));
            }
            let _ = voice::prepare(&bytes);
        }
    }
}

fn png() -> Vec<u8> {
    let img = ::image::DynamicImage::ImageRgb8(::image::RgbImage::from_fn(64, 48, |x, y| {
        ::image::Rgb([x as u8, y as u8, 7])
    }));
    let mut out = Vec::new();
    img.write_with_encoder(::image::codecs::png::PngEncoder::new(&mut out))
        .unwrap();
    out
}

fn jpeg() -> Vec<u8> {
    let img = ::image::DynamicImage::ImageRgb8(::image::RgbImage::from_fn(64, 48, |x, y| {
        ::image::Rgb([x as u8, y as u8, 7])
    }));
    let mut out = Vec::new();
    img.write_with_encoder(::image::codecs::jpeg::JpegEncoder::new_with_quality(
        &mut out, 80,
    ))
    .unwrap();
    out
}
