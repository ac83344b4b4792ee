//! Voice messages (files.md §5): MP3 and M4A pass through as they are; WAV, FLAC, Ogg Vorbis and
//! Ogg Opus are decoded and encoded to MP3 (mono, [`VOICE_BITRATE_KBPS`]), the one format besides
//! AAC-in-MP4 that every official client plays. The duration is computed from the audio.

use crate::MediaError;
use crate::audio::{self, MonoAudio};
use crate::sniff::sniff;
use std::borrow::Cow;
use std::time::Duration;

/// The longest voice message: desktop's and Android's 5 minutes (iOS records at most 3).
pub const MAX_VOICE_DURATION: Duration = Duration::from_secs(300);
/// The shortest voice message Android and iOS accept.
pub const MIN_VOICE_DURATION: Duration = Duration::from_secs(1);
/// The MP3 bitrate of transcoded voice messages, in kbit/s (mono speech; desktop records at 128,
/// Android's AAC at 32).
pub const VOICE_BITRATE_KBPS: u32 = 64;
/// The MIME type of transcoded and passed-through MP3 voice messages.
pub const MP3_MIME: &str = "audio/mpeg";
/// The MIME type of passed-through M4A voice messages (what Android and iOS send).
pub const M4A_MIME: &str = "audio/mp4";

/// A voice message ready to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreparedVoice<'a> {
    /// The bytes to upload: the original MP3/M4A, or the MP3 encoding.
    pub bytes: Cow<'a, [u8]>,
    /// [`MP3_MIME`] or [`M4A_MIME`].
    pub mime: &'static str,
    /// The file extension matching `mime`.
    pub extension: &'static str,
    /// The duration of the audio.
    pub duration: Duration,
}

impl PreparedVoice<'_> {
    /// Whether the input was transcoded.
    #[must_use]
    pub fn was_transcoded(&self) -> bool {
        matches!(self.bytes, Cow::Owned(_))
    }
}

/// Prepares a voice message: MP3 and M4A are kept (after checking they decode), WAV, FLAC, Ogg
/// Vorbis and Ogg Opus are transcoded to MP3. Durations outside
/// [`MIN_VOICE_DURATION`]..=[`MAX_VOICE_DURATION`] are refused.
pub fn prepare(bytes: &[u8]) -> Result<PreparedVoice<'_>, MediaError> {
    let sniffed = sniff(bytes);
    let prepared = match sniffed.mime {
        "audio/mpeg" | "audio/mp4" | "video/mp4" => {
            let duration = audio::duration(bytes)?;
            check_duration(duration)?;
            let (mime, extension) = if sniffed.mime == "audio/mpeg" {
                (MP3_MIME, "mp3")
            } else {
                (M4A_MIME, "m4a")
            };
            PreparedVoice {
                bytes: Cow::Borrowed(bytes),
                mime,
                extension,
                duration,
            }
        }
        "audio/wav" | "audio/flac" | "audio/ogg" | "audio/opus" => {
            // Decode a little past the limit, to report it as too long rather than cut it.
            let pcm = audio::decode_mono(bytes, MAX_VOICE_DURATION + Duration::from_secs(1))
                .map_err(|e| match e {
                    MediaError::TooLong { .. } => too_long(),
                    e => e,
                })?;
            check_duration(pcm.duration())?;
            let mp3 = encode_mp3(&pcm, VOICE_BITRATE_KBPS)?;
            PreparedVoice {
                bytes: Cow::Owned(mp3),
                mime: MP3_MIME,
                extension: "mp3",
                duration: pcm.duration(),
            }
        }
        _ => {
            return Err(MediaError::UnknownFormat {
                what: "voice message",
            });
        }
    };
    Ok(prepared)
}

fn too_long() -> MediaError {
    #[allow(clippy::cast_possible_truncation)]
    MediaError::TooLong {
        max_ms: MAX_VOICE_DURATION.as_millis() as u64,
    }
}

fn check_duration(d: Duration) -> Result<(), MediaError> {
    if d > MAX_VOICE_DURATION {
        return Err(too_long());
    }
    if d < MIN_VOICE_DURATION {
        #[allow(clippy::cast_possible_truncation)]
        return Err(MediaError::TooShort {
            ms: d.as_millis() as u64,
            min_ms: MIN_VOICE_DURATION.as_millis() as u64,
        });
    }
    Ok(())
}

/// Sample rates MP3 can carry (MPEG-1, 2 and 2.5).
const MP3_RATES: [u32; 9] = [
    8000, 11_025, 12_000, 16_000, 22_050, 24_000, 32_000, 44_100, 48_000,
];

/// Encodes mono audio to a constant-bitrate MP3 stream (with a LAME/Info tag, so decoders trim
/// the encoder delay). A sample rate MP3 cannot carry is first resampled to 44.1 kHz (linear
/// interpolation, adequate for speech).
pub fn encode_mp3(audio: &MonoAudio, bitrate_kbps: u32) -> Result<Vec<u8>, MediaError> {
    let resampled;
    let (samples, rate) = if MP3_RATES.contains(&audio.sample_rate) {
        (&audio.samples[..], audio.sample_rate)
    } else {
        resampled = resample_linear(&audio.samples, audio.sample_rate, 44_100);
        (&resampled[..], 44_100)
    };
    let fail = |_| MediaError::Encode {
        what: "MP3",
        reason: "the encoder refused its input",
    };
    let mut encoder = rusty_mp3::Mp3Encoder::new(rusty_mp3::Mp3EncoderConfig {
        bitrate_kbps,
        vbr_quality: None,
    });
    // Push in pieces: the encoder keeps only a frame's worth of samples between calls.
    for piece in samples.chunks(1152 * 16) {
        encoder.push_pcm_f32(piece, 1, rate).map_err(fail)?;
    }
    encoder.finish();
    let mut out = Vec::new();
    loop {
        match encoder.next_packet() {
            Ok(packet) => out.extend_from_slice(&packet),
            Err(rusty_mp3::Error::Eof) => break,
            Err(_) => {
                return Err(MediaError::Encode {
                    what: "MP3",
                    reason: "the encoder stopped early",
                });
            }
        }
    }
    if out.is_empty() {
        return Err(MediaError::Encode {
            what: "MP3",
            reason: "no audio to encode",
        });
    }
    Ok(out)
}

/// Linear-interpolation resampling from `from` Hz to `to` Hz.
fn resample_linear(samples: &[f32], from: u32, to: u32) -> Vec<f32> {
    if from == 0 || samples.is_empty() {
        return Vec::new();
    }
    let out_len =
        u64::try_from(samples.len()).unwrap_or(u64::MAX) * u64::from(to) / u64::from(from);
    let step = f64::from(from) / f64::from(to);
    let last = samples.len() - 1;
    (0..out_len)
        .map(|i| {
            #[allow(clippy::cast_precision_loss)]
            let pos = i as f64 * step;
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            let idx = (pos as usize).min(last);
            #[allow(clippy::cast_possible_truncation)]
            let frac = (pos - pos.floor()) as f32;
            let a = samples.get(idx).copied().unwrap_or(0.0);
            let b = samples.get((idx + 1).min(last)).copied().unwrap_or(a);
            a + (b - a) * frac
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resampling_keeps_duration_and_shape() {
        let input: Vec<f32> = (0..1000).map(|i| i as f32 / 1000.0).collect();
        let out = resample_linear(&input, 1000, 2000);
        assert_eq!(out.len(), 2000);
        assert!((out[1001] - 0.5005).abs() < 1e-3, "{}", out[1001]);
        assert!(resample_linear(&[], 1, 2).is_empty());
    }
}
