//! Measures MP3 encoding speed for voice messages: seconds of audio encoded per second of CPU
//! time (`voice_encode_realtime_x`), on 60 s of generated speech-like audio (a gliding tone with
//! syllable-rate amplitude changes and a little noise) at 44.1 kHz mono, 64 kbit/s.
//!
//! `cargo run -p sotto-media --example voice_encode_bench` prints one JSON object. The encoder
//! is a dependency, so it is optimised (`opt-level = 3`) even in a debug build.

use sotto_media::audio::MonoAudio;
use sotto_media::voice::{VOICE_BITRATE_KBPS, encode_mp3};
use std::time::{Duration, Instant};

/// CPU time (user + system) of the whole process, all threads included (Linux `/proc/self/stat`,
/// in clock ticks of 10 ms), or `None` elsewhere.
fn thread_cpu_time() -> Option<Duration> {
    let text = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name, which is in parentheses and may contain spaces.
    let rest = text.rsplit_once(')')?.1;
    let mut fields = rest.split_whitespace();
    let utime: u64 = fields.nth(11)?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(Duration::from_millis((utime + stime) * 10))
}

fn main() -> Result<(), sotto_media::MediaError> {
    let rate = 44_100u32;
    let secs = 60u32;
    let mut noise = 0x1234_5678u32;
    let samples: Vec<f32> = (0..rate * secs)
        .map(|i| {
            let t = i as f32 / rate as f32;
            let freq = 150.0 + 100.0 * (t * 0.7).sin();
            let envelope = 0.5 + 0.5 * (t * 4.0 * std::f32::consts::TAU).sin().abs();
            noise ^= noise << 13;
            noise ^= noise >> 17;
            noise ^= noise << 5;
            let n = (noise as f32 / u32::MAX as f32 - 0.5) * 0.02;
            (t * freq * std::f32::consts::TAU).sin() * 0.4 * envelope + n
        })
        .collect();
    let audio = MonoAudio {
        sample_rate: rate,
        samples,
    };
    let audio_secs = audio.duration().as_secs_f64();

    let wall = Instant::now();
    let cpu = thread_cpu_time();
    let mp3 = encode_mp3(&audio, VOICE_BITRATE_KBPS)?;
    let wall = wall.elapsed().as_secs_f64();
    let cpu = match (cpu, thread_cpu_time()) {
        (Some(a), Some(b)) => (b - a).as_secs_f64(),
        _ => wall,
    };
    println!(
        "{{\"audio_seconds\": {audio_secs:.1}, \"mp3_bytes\": {}, \"cpu_seconds\": {cpu:.3}, \"wall_seconds\": {wall:.3}, \"voice_encode_realtime_x\": {:.1}}}",
        mp3.len(),
        audio_secs / cpu
    );
    Ok(())
}
