//! Voice messages round trip: generated audio → voice::prepare (MP3) → decode, checked by
//! duration and by correlation with the original signal, not by bytes.
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "test code"
)]

mod common;

use common::{best_correlation, flac, ogg_opus, sine, wav};
use sotto_media::{MediaError, audio, sniff, voice};
use std::time::Duration;

fn ms(d: Duration) -> i128 {
    d.as_millis() as i128
}

/// Transcodes `input` to MP3 and checks the result against `reference` (mono at `ref_rate`).
fn check_round_trip(name: &str, input: &[u8], reference: &[f32], ref_rate: u32, min_corr: f64) {
    let prepared = voice::prepare(input).unwrap();
    assert!(prepared.was_transcoded(), "{name}");
    assert_eq!(prepared.mime, "audio/mpeg", "{name}");
    assert_eq!(sniff(&prepared.bytes).mime, "audio/mpeg", "{name}");
    let expected = reference.len() as f64 / f64::from(ref_rate);
    let reported = prepared.duration.as_secs_f64();
    assert!(
        (reported - expected).abs() < 0.01,
        "{name}: reported {reported} s, expected {expected} s"
    );

    // Decoding the MP3 gives the same duration (the LAME tag trims the encoder delay)…
    let measured = audio::duration(&prepared.bytes).unwrap().as_secs_f64();
    assert!(
        (measured - expected).abs() < 0.03,
        "{name}: MP3 decodes to {measured} s, expected {expected} s"
    );
    // …and the same signal.
    let decoded = audio::decode_mono(&prepared.bytes, Duration::from_secs(600)).unwrap();
    assert_eq!(decoded.sample_rate, ref_rate, "{name}");
    let (corr, lag) = best_correlation(reference, &decoded.samples, 1200);
    println!(
        "{name}: {} bytes in, {} bytes MP3, {reported:.3} s, MP3 decodes to {measured:.3} s, correlation {corr:.4} at lag {lag}",
        input.len(),
        prepared.bytes.len()
    );
    assert!(corr > min_corr, "{name}: correlation {corr} at lag {lag}");
    assert!(
        lag.abs() < 50,
        "{name}: lag {lag}: the encoder delay was not trimmed"
    );
}

#[test]
fn sine_wav_round_trips_through_mp3() {
    let pcm = sine(44_100, 440.0, 3.0);
    // The measure can fail: another tone does not correlate.
    let (other, _) = best_correlation(&pcm, &sine(44_100, 660.0, 3.0), 1200);
    assert!(other < 0.5, "{other}");
    check_round_trip(
        "44.1 kHz mono sine",
        &wav(44_100, 1, &pcm),
        &pcm,
        44_100,
        0.98,
    );
}

#[test]
fn stereo_and_low_rate_wavs_become_mono_mp3() {
    // Stereo at 48 kHz: the channels are averaged.
    let left = sine(48_000, 300.0, 2.0);
    let interleaved: Vec<f32> = left.iter().flat_map(|&s| [s, s * 0.5]).collect();
    let mono: Vec<f32> = left.iter().map(|s| s * 0.75).collect();
    check_round_trip(
        "48 kHz stereo sine",
        &wav(48_000, 2, &interleaved),
        &mono,
        48_000,
        0.98,
    );
    // 16 kHz (an MPEG-2 rate): kept as it is.
    let pcm = sine(16_000, 500.0, 1.5);
    check_round_trip(
        "16 kHz mono sine",
        &wav(16_000, 1, &pcm),
        &pcm,
        16_000,
        0.95,
    );
}

#[test]
fn a_rate_mp3_cannot_carry_is_resampled() {
    let pcm = sine(37_800, 440.0, 2.0);
    let input = wav(37_800, 1, &pcm);
    let prepared = voice::prepare(&input).unwrap();
    let decoded = audio::decode_mono(&prepared.bytes, Duration::from_secs(10)).unwrap();
    assert_eq!(decoded.sample_rate, 44_100);
    assert!((decoded.duration().as_secs_f64() - 2.0).abs() < 0.03);
    // Same tone: correlate with the ideal sine at the new rate.
    let ideal = sine(44_100, 440.0, 2.0);
    let (corr, _) = best_correlation(&ideal, &decoded.samples, 120);
    assert!(corr > 0.97, "correlation {corr}");
}

#[test]
fn ogg_opus_is_decoded_and_transcoded() {
    let pcm = sine(48_000, 440.0, 2.0);
    let opus = ogg_opus(&pcm);
    assert_eq!(sniff(&opus).mime, "audio/opus");
    assert!(audio::is_ogg_opus(&opus));
    let d = audio::duration(&opus).unwrap().as_secs_f64();
    // Less the encoder's pre-skip (6.5 ms, which the writer above never flushes), plus at most
    // the padding of the last 20 ms frame (its final granule is not trimmed).
    assert!((1.99..2.03).contains(&d), "{d}");
    let prepared = voice::prepare(&opus).unwrap();
    assert_eq!(prepared.mime, "audio/mpeg");
    let decoded = audio::decode_mono(&prepared.bytes, Duration::from_secs(10)).unwrap();
    assert_eq!(decoded.sample_rate, 48_000);
    assert!((decoded.duration().as_secs_f64() - d).abs() < 0.03);
    // Opus shifts the signal by its pre-skip at most; correlate with the original.
    let (corr, lag) = best_correlation(&pcm, &decoded.samples, 1200);
    assert!(corr > 0.95, "correlation {corr} at lag {lag}");
}

#[test]
fn flac_round_trips_through_mp3() {
    let pcm = sine(22_050, 440.0, 2.5);
    let file = flac(22_050, &pcm);
    assert_eq!(sniff(&file).mime, "audio/flac");
    let decoded = audio::decode_mono(&file, Duration::from_secs(10)).unwrap();
    assert_eq!(decoded.samples.len(), pcm.len());
    check_round_trip("22.05 kHz FLAC sine", &file, &pcm, 22_050, 0.98);
}

/// Ogg Vorbis made by `oggenc` (vorbis-tools), when it is installed: no pure-Rust Vorbis encoder
/// exists to make one in the test.
#[test]
fn ogg_vorbis_round_trips_through_mp3() {
    let dir = std::env::temp_dir().join(format!("sotto-media-oggenc-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (wav_path, ogg_path) = (dir.join("in.wav"), dir.join("out.ogg"));
    let pcm = sine(44_100, 440.0, 2.0);
    std::fs::write(&wav_path, wav(44_100, 1, &pcm)).unwrap();
    let status = std::process::Command::new("oggenc")
        .arg("-Q")
        .arg("-o")
        .arg(&ogg_path)
        .arg(&wav_path)
        .status();
    match status {
        Ok(s) if s.success() => {}
        other => {
            std::fs::remove_dir_all(&dir).unwrap();
            println!(
                "SKIPPED ogg_vorbis_round_trips_through_mp3: oggenc (vorbis-tools) is not usable: {other:?}"
            );
            return;
        }
    }
    let ogg = std::fs::read(&ogg_path).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(sniff(&ogg).mime, "audio/ogg");
    check_round_trip("44.1 kHz Ogg Vorbis sine", &ogg, &pcm, 44_100, 0.97);
}

#[test]
fn mp3_passes_through_as_it_is() {
    let pcm = sine(44_100, 440.0, 1.5);
    let mp3 = voice::prepare(&wav(44_100, 1, &pcm))
        .unwrap()
        .bytes
        .into_owned();
    let again = voice::prepare(&mp3).unwrap();
    assert!(!again.was_transcoded());
    let meta = sotto_media::describe_voice(&again).unwrap();
    assert!(meta.is_voice_message());
    assert_eq!(meta.content_type().as_str(), "audio/mpeg");
    assert_eq!(meta.size() as usize, mp3.len());
    assert_eq!(meta.file_name().unwrap().as_str(), "voice-message.mp3");
    assert_eq!(&*again.bytes, &mp3[..]);
    assert_eq!(again.mime, "audio/mpeg");
    assert!((again.duration.as_secs_f64() - 1.5).abs() < 0.03);
}

#[test]
fn durations_outside_the_clients_limits_are_refused() {
    let short = wav(8_000, 1, &sine(8_000, 440.0, 0.5));
    assert!(matches!(
        voice::prepare(&short),
        Err(MediaError::TooShort { min_ms: 1000, .. })
    ));
    let long = wav(8_000, 1, &vec![0.0; 8_000 * 302]);
    assert_eq!(
        voice::prepare(&long),
        Err(MediaError::TooLong { max_ms: 300_000 })
    );
    assert!(matches!(
        voice::prepare(b"%PDF-1.4 not audio"),
        Err(MediaError::UnknownFormat { .. })
    ));
}

#[test]
fn truncated_and_corrupted_audio_fail_or_decode_without_panicking() {
    let pcm = sine(44_100, 440.0, 1.2);
    let mp3 = voice::prepare(&wav(44_100, 1, &pcm))
        .unwrap()
        .bytes
        .into_owned();
    let opus = ogg_opus(&sine(48_000, 440.0, 1.2));
    for file in [&mp3, &opus, &wav(44_100, 1, &pcm)] {
        for cut in [1, 10, 100, file.len() / 2] {
            let _ = audio::duration(&file[..cut]);
            let _ = voice::prepare(&file[..cut]);
        }
        let mut flipped = file.clone();
        for i in (0..flipped.len()).step_by(97) {
            flipped[i] ^= 0x5a;
        }
        let _ = audio::duration(&flipped);
        let _ = voice::prepare(&flipped);
    }
}

/// Speech from espeak-ng, when it is installed.
#[test]
fn espeak_speech_round_trips_through_mp3() {
    let dir = std::env::temp_dir().join(format!("sotto-media-espeak-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("speech.wav");
    let status = std::process::Command::new("espeak-ng")
        .arg("-w")
        .arg(&path)
        .arg("Hello Bob. This is a voice message from Alice, sent through Sotto.")
        .status();
    match status {
        Ok(s) if s.success() => {}
        Ok(s) => {
            println!("SKIPPED espeak_speech_round_trips_through_mp3: espeak-ng exited with {s}");
            return;
        }
        Err(e) => {
            println!(
                "SKIPPED espeak_speech_round_trips_through_mp3: espeak-ng is not installed ({e})"
            );
            return;
        }
    }
    let speech = std::fs::read(&path).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(sniff(&speech).mime, "audio/wav");
    let original = audio::decode_mono(&speech, Duration::from_secs(60)).unwrap();
    assert!(
        original.duration() > Duration::from_secs(2),
        "{:?}",
        original.duration()
    );
    check_round_trip(
        "espeak-ng speech",
        &speech,
        &original.samples,
        original.sample_rate,
        0.9,
    );
    let _ = ms(original.duration());
}
