//! Audio decoding (pure Rust) and duration, for voice messages and received audio.
//!
//! WAV, FLAC, Ogg Vorbis, MP3 and AAC in MP4/M4A (or ADTS) are decoded with `symphonia`; Ogg Opus,
//! which symphonia has no decoder for, with `opus-pure`. Every entry point takes untrusted bytes:
//! the input is capped at the largest attachment, decoding stops at a duration limit, and a
//! stream with many undecodable packets is refused as malformed.

use crate::MediaError;
use std::io::Cursor;
use std::time::Duration;
use symphonia::core::codecs::audio::AudioDecoderOptions;
use symphonia::core::common::Limit;
use symphonia::core::errors::Error as SymphoniaError;
use symphonia::core::formats::probe::Hint;
use symphonia::core::formats::{FormatOptions, TrackType};
use symphonia::core::io::{MediaSourceStream, MediaSourceStreamOptions};
use symphonia::core::meta::MetadataOptions;

/// The largest input taken, in bytes: the largest encrypted attachment (files.md §2.5).
pub const MAX_AUDIO_INPUT: u64 = sotto_attachment::deterministic::MAX_ENCRYPTED_LEN;
/// The longest audio decoded to samples, for transcoding: 10 minutes (voice messages are at
/// most 5).
pub const MAX_DECODE_DURATION: Duration = Duration::from_secs(600);
/// The longest audio [`duration`] measures: 10 hours (it keeps no samples).
pub const MAX_MEASURED_DURATION: Duration = Duration::from_secs(36_000);
/// Undecodable packets tolerated before the stream is refused.
const MAX_BAD_PACKETS: u32 = 16;

/// Mono audio as `f32` samples in `[-1, 1]`.
#[derive(Debug, Clone, PartialEq)]
pub struct MonoAudio {
    /// Samples per second.
    pub sample_rate: u32,
    /// The samples (channels of the source averaged).
    pub samples: Vec<f32>,
}

impl MonoAudio {
    /// The duration of the samples.
    #[must_use]
    pub fn duration(&self) -> Duration {
        frames_to_duration(
            u64::try_from(self.samples.len()).unwrap_or(u64::MAX),
            self.sample_rate,
        )
    }
}

/// Decodes audio to mono, refusing audio longer than `max` (at most [`MAX_DECODE_DURATION`]).
pub fn decode_mono(bytes: &[u8], max: Duration) -> Result<MonoAudio, MediaError> {
    let max = max.min(MAX_DECODE_DURATION);
    let mut samples = Vec::new();
    let rate = drive(bytes, max, |interleaved, channels| {
        if channels <= 1 {
            samples.extend_from_slice(interleaved);
        } else {
            #[allow(clippy::cast_precision_loss)]
            let scale = 1.0 / channels as f32;
            samples.extend(
                interleaved
                    .chunks_exact(channels)
                    .map(|frame| frame.iter().sum::<f32>() * scale),
            );
        }
    })?;
    Ok(MonoAudio {
        sample_rate: rate,
        samples,
    })
}

/// The duration of audio, computed by decoding it (nothing about duration is in the pointer,
/// files.md §4.3, and container headers can lie). Keeps no samples.
pub fn duration(bytes: &[u8]) -> Result<Duration, MediaError> {
    let mut frames = 0u64;
    let rate = drive(bytes, MAX_MEASURED_DURATION, |interleaved, channels| {
        let n = interleaved.len() / channels.max(1);
        frames += u64::try_from(n).unwrap_or(u64::MAX);
    })?;
    Ok(frames_to_duration(frames, rate))
}

fn frames_to_duration(frames: u64, rate: u32) -> Duration {
    if rate == 0 {
        return Duration::ZERO;
    }
    let rate = u64::from(rate);
    let secs = frames / rate;
    let rem = frames % rate;
    // rem < rate ≤ u32::MAX, so rem * 1e9 fits in u64.
    let nanos = u32::try_from(rem * 1_000_000_000 / rate).unwrap_or(0);
    Duration::new(secs, nanos)
}

/// Whether the bytes are an Ogg stream whose first packet is an Opus header.
#[must_use]
pub fn is_ogg_opus(bytes: &[u8]) -> bool {
    bytes.starts_with(b"OggS") && bytes.get(28..36) == Some(b"OpusHead")
}

/// Decodes `bytes`, giving `sink` interleaved blocks with their channel count; returns the sample
/// rate. Stops with [`MediaError::TooLong`] once more than `max` has been decoded.
fn drive(
    bytes: &[u8],
    max: Duration,
    mut sink: impl FnMut(&[f32], usize),
) -> Result<u32, MediaError> {
    let len = u64::try_from(bytes.len()).unwrap_or(u64::MAX);
    if len > MAX_AUDIO_INPUT {
        return Err(MediaError::TooLarge {
            what: "audio",
            len,
            max: MAX_AUDIO_INPUT,
        });
    }
    check_wav_header(bytes)?;
    // Defence in depth: a third-party decoder that panics on hostile input (symphonia's WAV
    // reader overflowed a u16 on a huge channel count in debug builds, which the check above now
    // refuses) gives a typed error instead of taking the caller down.
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        if is_ogg_opus(bytes) {
            drive_opus(bytes, max, &mut sink)
        } else {
            drive_symphonia(bytes, max, &mut sink)
        }
    }))
    .unwrap_or(Err(malformed("the decoder failed on it")))
}

/// The most channels a WAV file may declare.
const MAX_WAV_CHANNELS: u16 = 8;

/// Refuses a RIFF/WAVE file whose `fmt ` chunk declares no channels or more than
/// [`MAX_WAV_CHANNELS`], or a sample size over 64 bits, before any decoder sees it. Other
/// inputs pass.
fn check_wav_header(bytes: &[u8]) -> Result<(), MediaError> {
    if !(bytes.starts_with(b"RIFF") && bytes.get(8..12) == Some(b"WAVE")) {
        return Ok(());
    }
    let mut pos = 12usize;
    // Walk at most 64 chunks to the `fmt ` chunk.
    for _ in 0..64 {
        let Some(header) = bytes.get(pos..pos.saturating_add(8)) else {
            return Ok(());
        };
        let (id, len) = header.split_at(4);
        let len = len
            .try_into()
            .map(u32::from_le_bytes)
            .map_err(|_| malformed("truncated WAV chunk"))?;
        if id == b"fmt " {
            let body = bytes
                .get(pos.saturating_add(8)..pos.saturating_add(24))
                .ok_or(malformed("truncated WAV format chunk"))?;
            let u16_at = |i: usize| {
                body.get(i..i + 2)
                    .and_then(|b| b.try_into().ok())
                    .map_or(0, u16::from_le_bytes)
            };
            let (channels, bits) = (u16_at(2), u16_at(14));
            if channels == 0 || channels > MAX_WAV_CHANNELS || bits > 64 {
                return Err(malformed("WAV format chunk out of range"));
            }
            return Ok(());
        }
        let padded = usize::try_from(len)
            .unwrap_or(usize::MAX)
            .saturating_add(usize::try_from(len % 2).unwrap_or(0));
        pos = pos.saturating_add(8).saturating_add(padded);
    }
    Ok(())
}

/// Counts decoded frames against the limit.
struct Budget {
    rate: u32,
    frames: u64,
    max: Duration,
}

impl Budget {
    fn add(&mut self, frames: usize) -> Result<(), MediaError> {
        self.frames = self
            .frames
            .saturating_add(u64::try_from(frames).unwrap_or(u64::MAX));
        if frames_to_duration(self.frames, self.rate) > self.max {
            #[allow(clippy::cast_possible_truncation)]
            let max_ms = self.max.as_millis() as u64;
            return Err(MediaError::TooLong { max_ms });
        }
        Ok(())
    }
}

fn malformed(reason: &'static str) -> MediaError {
    MediaError::Malformed {
        what: "audio",
        reason,
    }
}

fn map_symphonia(e: &SymphoniaError) -> MediaError {
    match e {
        SymphoniaError::Unsupported(_) => MediaError::Unsupported {
            what: "audio decoding",
            format: "this codec or container",
        },
        SymphoniaError::LimitError(_) => malformed("a decoder limit was reached"),
        SymphoniaError::IoError(_) => malformed("truncated"),
        _ => malformed("the decoder refused it"),
    }
}

fn drive_symphonia(
    bytes: &[u8],
    max: Duration,
    sink: &mut impl FnMut(&[f32], usize),
) -> Result<u32, MediaError> {
    let mss = MediaSourceStream::new(
        Box::new(Cursor::new(bytes)),
        MediaSourceStreamOptions::default(),
    );
    let meta_opts = MetadataOptions::default()
        .limit_tag_bytes(Limit::Maximum(64 * 1024))
        .limit_visual_bytes(Limit::Maximum(0));
    let mut format = symphonia::default::get_probe()
        .probe(&Hint::new(), mss, FormatOptions::default(), meta_opts)
        .map_err(|e| match e {
            SymphoniaError::Unsupported(_) => MediaError::UnknownFormat { what: "audio" },
            e => map_symphonia(&e),
        })?;
    let track = format
        .default_track(TrackType::Audio)
        .ok_or(MediaError::UnknownFormat { what: "audio" })?;
    let track_id = track.id;
    let params = track
        .codec_params
        .as_ref()
        .and_then(|p| p.audio())
        .ok_or(MediaError::UnknownFormat { what: "audio" })?
        .clone();
    let mut decoder = symphonia::default::get_codecs()
        .make_audio_decoder(&params, &AudioDecoderOptions::default())
        .map_err(|e| map_symphonia(&e))?;
    let mut budget = Budget {
        rate: params.sample_rate.unwrap_or(0),
        frames: 0,
        max,
    };
    let mut bad = 0u32;
    let mut block: Vec<f32> = Vec::new();
    loop {
        let packet = match format.next_packet() {
            Ok(Some(p)) => p,
            Ok(None) => break,
            // A reader that hits the end of the data mid-packet: keep what was decoded.
            Err(SymphoniaError::IoError(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                break;
            }
            Err(SymphoniaError::ResetRequired) => break,
            Err(e) => return Err(map_symphonia(&e)),
        };
        if packet.track_id != track_id {
            continue;
        }
        match decoder.decode(&packet) {
            Ok(buf) => {
                let channels = buf.spec().channels().count();
                let rate = buf.spec().rate();
                if channels == 0 || rate == 0 {
                    return Err(malformed("no channels or no sample rate"));
                }
                if budget.rate != rate {
                    if budget.frames != 0 {
                        return Err(malformed("the sample rate changes mid-stream"));
                    }
                    budget.rate = rate;
                }
                budget.add(buf.frames())?;
                block.clear();
                buf.copy_to_vec_interleaved(&mut block);
                sink(&block, channels);
            }
            Err(SymphoniaError::DecodeError(_)) => {
                bad += 1;
                if bad > MAX_BAD_PACKETS {
                    return Err(malformed("too many undecodable packets"));
                }
            }
            Err(e) => return Err(map_symphonia(&e)),
        }
    }
    if budget.frames == 0 || budget.rate == 0 {
        return Err(malformed("no audio decoded"));
    }
    Ok(budget.rate)
}

fn drive_opus(
    bytes: &[u8],
    max: Duration,
    sink: &mut impl FnMut(&[f32], usize),
) -> Result<u32, MediaError> {
    const RATE: u32 = 48_000;
    let bad = |_| malformed("the Ogg Opus decoder refused it");
    let mut reader = opus_pure::OggOpusReader::new(Cursor::new(bytes)).map_err(bad)?;
    let head = reader.head().clone();
    let channels = usize::from(head.channel_count);
    if channels == 0 {
        return Err(malformed("no channels"));
    }
    #[allow(clippy::cast_possible_wrap)]
    let mut decoder = head.decoder(RATE as i32).map_err(bad)?;
    #[allow(clippy::cast_possible_wrap)]
    let mut trim = opus_pure::Trim::new(&head, RATE as i32, channels).map_err(bad)?;
    let mut block = vec![0.0f32; opus_pure::MAX_PACKET_SAMPLES * channels];
    let mut budget = Budget {
        rate: RATE,
        frames: 0,
        max,
    };
    while let Some(packet) = reader.read_packet().map_err(bad)? {
        let n = decoder
            .decode(&packet.data, opus_pure::MAX_PACKET_SAMPLES, &mut block)
            .map_err(bad)?;
        let decoded = block
            .get(..n * channels)
            .ok_or(malformed("decoder overran"))?;
        let kept = trim.keep(&packet, decoded);
        budget.add(kept.len() / channels)?;
        sink(kept, channels);
    }
    if budget.frames == 0 {
        return Err(malformed("no audio decoded"));
    }
    Ok(RATE)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_counts_become_durations() {
        assert_eq!(frames_to_duration(44_100, 44_100), Duration::from_secs(1));
        assert_eq!(
            frames_to_duration(22_050, 44_100),
            Duration::from_millis(500)
        );
        assert_eq!(frames_to_duration(5, 0), Duration::ZERO);
        assert_eq!(
            frames_to_duration(u64::MAX, u32::MAX).as_secs(),
            u64::MAX / u64::from(u32::MAX)
        );
    }

    #[test]
    fn a_wav_with_absurd_channels_is_refused_before_decoding() {
        // Found by tests/hostile.rs: symphonia's WAV reader multiplied a u16 channel count.
        let mut wav = b"RIFF\x24\0\0\0WAVEfmt \x10\0\0\0\x01\0".to_vec();
        wav.extend_from_slice(&20_000u16.to_le_bytes());
        wav.extend_from_slice(&[0x40, 0x1f, 0, 0, 0, 0, 0, 0, 4, 0, 16, 0]);
        wav.extend_from_slice(b"data\0\0\0\0");
        assert_eq!(
            duration(&wav),
            Err(MediaError::Malformed {
                what: "audio",
                reason: "WAV format chunk out of range"
            })
        );
    }

    #[test]
    fn garbage_is_refused_without_panicking() {
        for bytes in [
            &b""[..],
            b"hello",
            b"OggS",
            b"RIFF\0\0\0\0WAVE",
            b"fLaC\0\0\0\x22",
        ] {
            assert!(decode_mono(bytes, Duration::from_secs(1)).is_err());
            assert!(duration(bytes).is_err());
        }
    }
}
