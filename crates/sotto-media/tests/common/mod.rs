//! Generated test media.
#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::needless_range_loop,
    reason = "test helpers"
)]

/// A 16-bit PCM WAV file from interleaved samples in [-1, 1].
pub fn wav(rate: u32, channels: u16, samples: &[f32]) -> Vec<u8> {
    let data_len = (samples.len() * 2) as u32;
    let mut out = Vec::with_capacity(44 + samples.len() * 2);
    out.extend_from_slice(b"RIFF");
    out.extend_from_slice(&(36 + data_len).to_le_bytes());
    out.extend_from_slice(b"WAVEfmt ");
    out.extend_from_slice(&16u32.to_le_bytes());
    out.extend_from_slice(&1u16.to_le_bytes());
    out.extend_from_slice(&channels.to_le_bytes());
    out.extend_from_slice(&rate.to_le_bytes());
    out.extend_from_slice(&(rate * u32::from(channels) * 2).to_le_bytes());
    out.extend_from_slice(&(channels * 2).to_le_bytes());
    out.extend_from_slice(&16u16.to_le_bytes());
    out.extend_from_slice(b"data");
    out.extend_from_slice(&data_len.to_le_bytes());
    for s in samples {
        out.extend_from_slice(&((s.clamp(-1.0, 1.0) * 32767.0) as i16).to_le_bytes());
    }
    out
}

/// `secs` seconds of a `freq` Hz sine at amplitude 0.5, mono.
pub fn sine(rate: u32, freq: f32, secs: f32) -> Vec<f32> {
    let n = (rate as f32 * secs) as usize;
    (0..n)
        .map(|i| (i as f32 * freq * std::f32::consts::TAU / rate as f32).sin() * 0.5)
        .collect()
}

/// The largest normalised cross-correlation between `a` and `b` over lags in `-max_lag..=max_lag`
/// (b shifted), searched on a window of `a`, then measured over the whole overlap at the best
/// lag. Returns (correlation, lag).
pub fn best_correlation(a: &[f32], b: &[f32], max_lag: isize) -> (f64, isize) {
    let window = a.len().min(b.len()).min(16_384);
    let start = (a.len().min(b.len()) / 4).min(a.len().saturating_sub(window));
    let mut best = (f64::MIN, 0);
    for lag in -max_lag..=max_lag {
        let c = correlation_at(a, b, lag, start, window);
        if c > best.0 {
            best = (c, lag);
        }
    }
    let full = correlation_at(a, b, best.1, 0, a.len());
    (full, best.1)
}

fn correlation_at(a: &[f32], b: &[f32], lag: isize, start: usize, len: usize) -> f64 {
    let (mut ab, mut aa, mut bb) = (0f64, 0f64, 0f64);
    for i in start..(start + len).min(a.len()) {
        let j = i as isize + lag;
        if j < 0 || j as usize >= b.len() {
            continue;
        }
        let (x, y) = (f64::from(a[i]), f64::from(b[j as usize]));
        ab += x * y;
        aa += x * x;
        bb += y * y;
    }
    if aa == 0.0 || bb == 0.0 {
        return 0.0;
    }
    ab / (aa.sqrt() * bb.sqrt())
}

/// An Ogg Opus file of mono samples at 48 kHz, made with opus-pure's encoder.
pub fn ogg_opus(samples_48k: &[f32]) -> Vec<u8> {
    use opus_pure::{Application, MAX_PACKET_BYTES, OggOpusWriter, OpusEncoder, OpusHead};
    let frame = 960;
    let mut encoder = OpusEncoder::new(48_000, 1, Application::Audio).unwrap();
    encoder.bitrate_bps = 64_000;
    let head = OpusHead::for_encoder(&encoder, 48_000);
    let mut writer = OggOpusWriter::new(Vec::new(), head).unwrap();
    let mut packet = vec![0u8; MAX_PACKET_BYTES];
    let mut padded = samples_48k.to_vec();
    padded.resize(samples_48k.len().div_ceil(frame) * frame, 0.0);
    for block in padded.chunks_exact(frame) {
        let n = encoder.encode(block, frame, &mut packet).unwrap();
        writer.write_packet(&packet[..n]).unwrap();
    }
    writer.finish().unwrap()
}

/// A FLAC file of mono 16-bit samples, with VERBATIM subframes (no compression: a tiny encoder
/// written for the tests, following the FLAC format specification).
pub fn flac(rate: u32, samples: &[f32]) -> Vec<u8> {
    const BLOCK: usize = 4096;
    let pcm: Vec<i16> = samples
        .iter()
        .map(|s| (s.clamp(-1.0, 1.0) * 32767.0) as i16)
        .collect();
    let mut out = b"fLaC".to_vec();
    // STREAMINFO, the last metadata block.
    out.extend_from_slice(&[0x80, 0, 0, 34]);
    out.extend_from_slice(&(BLOCK as u16).to_be_bytes());
    out.extend_from_slice(&(BLOCK as u16).to_be_bytes());
    out.extend_from_slice(&[0; 6]); // frame sizes unknown
    // rate (20) | channels-1 (3) | bps-1 (5) | total samples (36)
    // Channels - 1 is 0 (mono).
    let packed: u64 = (u64::from(rate) << 44) | (15 << 36) | pcm.len() as u64;
    out.extend_from_slice(&packed.to_be_bytes());
    out.extend_from_slice(&[0; 16]); // MD5 unknown
    for (index, block) in pcm.chunks(BLOCK).enumerate() {
        let mut frame = vec![0xff, 0xf8, 0x70, 0x08];
        frame.extend_from_slice(&utf8_number(index as u32));
        frame.extend_from_slice(&((block.len() - 1) as u16).to_be_bytes());
        frame.push(crc8(&frame));
        frame.push(0x02); // VERBATIM subframe, no wasted bits
        for s in block {
            frame.extend_from_slice(&s.to_be_bytes());
        }
        let crc = crc16(&frame);
        frame.extend_from_slice(&crc.to_be_bytes());
        out.extend_from_slice(&frame);
    }
    out
}

fn utf8_number(n: u32) -> Vec<u8> {
    match n {
        0..=0x7f => vec![n as u8],
        0x80..=0x7ff => vec![0xc0 | (n >> 6) as u8, 0x80 | (n & 0x3f) as u8],
        _ => vec![
            0xe0 | (n >> 12) as u8,
            0x80 | ((n >> 6) & 0x3f) as u8,
            0x80 | (n & 0x3f) as u8,
        ],
    }
}

fn crc8(data: &[u8]) -> u8 {
    let mut crc = 0u8;
    for &b in data {
        crc ^= b;
        for _ in 0..8 {
            crc = if crc & 0x80 != 0 {
                (crc << 1) ^ 0x07
            } else {
                crc << 1
            };
        }
    }
    crc
}

fn crc16(data: &[u8]) -> u16 {
    let mut crc = 0u16;
    for &b in data {
        crc ^= u16::from(b) << 8;
        for _ in 0..8 {
            crc = if crc & 0x8000 != 0 {
                (crc << 1) ^ 0x8005
            } else {
                crc << 1
            };
        }
    }
    crc
}
