use crate::CryptoError;

/// BLAKE2b with any output length (1–64 bytes), an optional key (up to 64 bytes), and optional
/// 16-byte salt and personalisation, as libsodium's `crypto_generichash_blake2b_salt_personal`.
///
/// ```
/// use sotto_crypto::Blake2b;
/// let mut out = [0u8; 24];
/// Blake2b::new(24)?.update(b"epk").update(b"pk").finalize_into(&mut out)?;
/// # Ok::<(), sotto_crypto::CryptoError>(())
/// ```
#[derive(Clone)]
pub struct Blake2b {
    state: blake2b_simd::State,
    out_len: usize,
}

impl Blake2b {
    /// Unkeyed BLAKE2b with `out_len` bytes of output.
    pub fn new(out_len: usize) -> Result<Self, CryptoError> {
        Self::with_params(out_len, &[], &[], &[])
    }

    /// Keyed BLAKE2b (a MAC when the key is secret).
    pub fn keyed(out_len: usize, key: &[u8]) -> Result<Self, CryptoError> {
        Self::with_params(out_len, key, &[], &[])
    }

    /// BLAKE2b with every parameter. `key`, `salt` and `personal` may be empty; a non-empty salt or
    /// personalisation shorter than 16 bytes is zero-padded, as libsodium does.
    pub fn with_params(
        out_len: usize,
        key: &[u8],
        salt: &[u8],
        personal: &[u8],
    ) -> Result<Self, CryptoError> {
        if !(1..=64).contains(&out_len) {
            return Err(CryptoError::InvalidParameter(
                "BLAKE2b output length must be 1 to 64",
            ));
        }
        if key.len() > 64 {
            return Err(CryptoError::InvalidParameter(
                "BLAKE2b key is longer than 64 bytes",
            ));
        }
        if salt.len() > 16 || personal.len() > 16 {
            return Err(CryptoError::InvalidParameter(
                "BLAKE2b salt and personalisation are at most 16 bytes",
            ));
        }
        let state = blake2b_simd::Params::new()
            .hash_length(out_len)
            .key(key)
            .salt(salt)
            .personal(personal)
            .to_state();
        Ok(Self { state, out_len })
    }

    /// Feeds more input.
    pub fn update(&mut self, data: &[u8]) -> &mut Self {
        self.state.update(data);
        self
    }

    /// Writes the digest into `out`, which must be exactly the output length.
    pub fn finalize_into(&self, out: &mut [u8]) -> Result<(), CryptoError> {
        if out.len() != self.out_len {
            return Err(CryptoError::Length {
                what: "BLAKE2b output buffer",
                expected: self.out_len,
                found: out.len(),
            });
        }
        out.copy_from_slice(self.state.finalize().as_bytes());
        Ok(())
    }

    /// The digest as a vector of the output length.
    #[must_use]
    pub fn finalize(&self) -> Vec<u8> {
        self.state.finalize().as_bytes().to_vec()
    }
}

fn fixed<const N: usize, const K: usize>(key: &[u8; K], parts: &[&[u8]]) -> [u8; N] {
    const { assert!(K <= 64, "BLAKE2b keys are at most 64 bytes") };
    let mut state = blake2b_simd::Params::new()
        .hash_length(N)
        .key(key)
        .to_state();
    for part in parts {
        state.update(part);
    }
    let mut out = [0u8; N];
    out.copy_from_slice(state.finalize().as_bytes());
    out
}

/// BLAKE2b-256 over the concatenation of `parts`, keyed with `key` (`&[]` for unkeyed). The key
/// length is checked at compile time.
#[must_use]
pub fn blake2b_32<const K: usize>(key: &[u8; K], parts: &[&[u8]]) -> [u8; 32] {
    fixed::<32, K>(key, parts)
}

/// BLAKE2b-512 over the concatenation of `parts`, keyed with `key` (`&[]` for unkeyed).
#[must_use]
pub fn blake2b_64<const K: usize>(key: &[u8; K], parts: &[&[u8]]) -> [u8; 64] {
    fixed::<64, K>(key, parts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_out_of_range_parameters() {
        assert!(Blake2b::new(0).is_err());
        assert!(Blake2b::new(65).is_err());
        assert!(Blake2b::keyed(32, &[0; 65]).is_err());
        assert!(Blake2b::with_params(32, &[], &[0; 17], &[]).is_err());
        assert!(Blake2b::with_params(32, &[], &[], &[0; 17]).is_err());
        let h = Blake2b::new(32).unwrap();
        assert!(h.finalize_into(&mut [0u8; 31]).is_err());
    }

    #[test]
    fn incremental_equals_one_shot() {
        let mut h = Blake2b::keyed(32, b"key").unwrap();
        h.update(b"hello ").update(b"world");
        assert_eq!(h.finalize(), blake2b_32(b"key", &[b"hello world"]).to_vec());
    }
}
