//! Audio probing (duration) and voice preparation take downloaded (hostile) bytes: no panics,
//! bounded duration and memory.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sotto_media::{audio, voice};
use std::time::Duration;

fuzz_target!(|data: &[u8]| {
    let _ = audio::duration(data);
    if let Ok(pcm) = audio::decode_mono(data, Duration::from_secs(30)) {
        assert!(pcm.duration() <= Duration::from_secs(31));
    }
    if let Ok(v) = voice::prepare(data) {
        assert!(v.duration <= voice::MAX_VOICE_DURATION);
    }
});
