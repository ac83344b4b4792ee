//! Generated media for tests, benchmarks and the demo.

/// A mono 16-bit PCM WAV file of a `freq_hz` sine wave at half of full scale, `seconds` long,
/// sampled at `rate` Hz.
#[must_use]
pub fn sine_wav(freq_hz: f64, seconds: f64, rate: u32) -> Vec<u8> {
    // Saturating float-to-int casts: a negative or huge duration gives no or u32::MAX samples.
    let samples = (f64::from(rate) * seconds) as u32;
    let data_len = samples.saturating_mul(2);
    let mut out = Vec::with_capacity(44usize.saturating_add(data_len as usize));
    out.extend_from_slice(b"RIFF");
    out.extend_from_slice(&data_len.saturating_add(36).to_le_bytes());
    out.extend_from_slice(b"WAVEfmt ");
    out.extend_from_slice(&16u32.to_le_bytes()); // format chunk length
    out.extend_from_slice(&1u16.to_le_bytes()); // PCM
    out.extend_from_slice(&1u16.to_le_bytes()); // mono
    out.extend_from_slice(&rate.to_le_bytes());
    out.extend_from_slice(&rate.saturating_mul(2).to_le_bytes()); // bytes per second
    out.extend_from_slice(&2u16.to_le_bytes()); // bytes per frame
    out.extend_from_slice(&16u16.to_le_bytes()); // bits per sample
    out.extend_from_slice(b"data");
    out.extend_from_slice(&data_len.to_le_bytes());
    for n in 0..samples {
        let t = f64::from(n) / f64::from(rate);
        let v = (t * freq_hz * std::f64::consts::TAU).sin() * 0.5 * f64::from(i16::MAX);
        out.extend_from_slice(&(v as i16).to_le_bytes());
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_second_of_sine_is_a_wav_of_that_length() {
        let wav = super::sine_wav(440.0, 1.0, 8000);
        assert_eq!(wav.len(), 44 + 16_000);
        assert_eq!(&wav[..4], b"RIFF");
        assert_eq!(&wav[8..16], b"WAVEfmt ");
        // The first sample is 0, the one a quarter period later near the peak.
        assert_eq!(i16::from_le_bytes([wav[44], wav[45]]), 0);
        let quarter = 44 + 2 * (8000 / 440 / 4);
        assert!(i16::from_le_bytes([wav[quarter], wav[quarter + 1]]) > 10_000);
    }
}
