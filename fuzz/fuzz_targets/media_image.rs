//! Image probing and preparation take downloaded (hostile) bytes: no panics, and the decoder's
//! pixel and allocation limits hold.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sotto_media::image::{MAX_IMAGE_SIDE, prepare, probe};

fuzz_target!(|data: &[u8]| {
    if let Ok(info) = probe(data) {
        assert!(info.width > 0 && info.height > 0);
    }
    if let Ok(out) = prepare(data) {
        if out.was_processed() {
            assert!(out.width <= MAX_IMAGE_SIDE && out.height <= MAX_IMAGE_SIDE);
        }
    }
});
