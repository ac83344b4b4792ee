//! libsodium's `crypto_secretstream_xchacha20poly1305`: a sequence of authenticated messages under
//! one key, each carrying a tag, where reordering, dropping or truncating messages is detected.
//!
//! Byte-compatible with libsodium, including its quirk of padding the ciphertext to the MAC with
//! `len mod 16` zero bytes.
//!
//! Why this stays hand-written (checked December 2026; the primitives underneath are RustCrypto's
//! `chacha20` and `poly1305`, only the stream framing is ours):
//! - `crypto_secretstream` 0.2.0 (RustCrypto `nacl-compat`, the same format): has no explicit
//!   rekey (libsodium's `crypto_secretstream_xchacha20poly1305_rekey`, which our protocol and the
//!   libsodium cross-tests use), makes the push side's header only from its RNG (the deterministic
//!   constructions and the cross-tests need a given header), does not zeroize its stream key,
//!   and keeps accepting messages after the `FINAL` tag.
//! - `dryoc` 2.0.0 (pure-Rust libsodium): matches the format but brings its own implementation of
//!   the whole libsodium surface (field arithmetic, ChaCha20, Poly1305, Salsa20, SHA-2) beside the
//!   RustCrypto/dalek code we already audit, and its push side also makes the header itself.
//! - `sodiumoxide` / `libsodium-sys`: C bindings (deprecated; need a C toolchain and `unsafe`).
//!
//! Revisit when `crypto_secretstream` gains rekey and a given-header constructor.

use chacha20::ChaCha20;
use chacha20::cipher::{KeyIvInit, StreamCipher, StreamCipherSeek};
use poly1305::Poly1305;
use poly1305::universal_hash::{KeyInit, UniversalHash};
use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::{CryptoError, SymmetricKey};

/// Length of the stream header (sent once, before the first message).
pub const HEADER_LEN: usize = 24;
/// Bytes each message grows by: one encrypted tag byte and a 16-byte MAC.
pub const ABYTES: usize = 17;

/// The tag carried by each message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Tag {
    /// An ordinary message.
    Message,
    /// The end of a batch of messages (`TAG_PUSH`).
    Push,
    /// The key is rotated after this message.
    Rekey,
    /// The last message of the stream.
    Final,
}

impl Tag {
    fn to_byte(self) -> u8 {
        match self {
            Self::Message => 0,
            Self::Push => 1,
            Self::Rekey => 2,
            Self::Final => 3,
        }
    }

    /// Decodes libsodium's tag byte. libsodium treats the byte as flags; any value other than the
    /// four defined ones is reported as malformed here.
    fn from_byte(byte: u8) -> Option<Self> {
        match byte {
            0 => Some(Self::Message),
            1 => Some(Self::Push),
            2 => Some(Self::Rekey),
            3 => Some(Self::Final),
            _ => None,
        }
    }
}

#[derive(Zeroize, ZeroizeOnDrop)]
struct State {
    key: [u8; 32],
    /// `counter (4 bytes LE) ‖ inonce (8 bytes)`.
    nonce: [u8; 12],
    finished: bool,
}

/// Feeds bytes into Poly1305 as one continuous stream (libsodium's secretstream MAC input is not
/// block-aligned).
struct MacInput {
    mac: Poly1305,
    pending: [u8; 16],
    pending_len: usize,
}

impl MacInput {
    fn new(key: &[u8; 32]) -> Self {
        Self {
            mac: Poly1305::new(key.into()),
            pending: [0; 16],
            pending_len: 0,
        }
    }

    fn update(&mut self, mut data: &[u8]) {
        if self.pending_len > 0 {
            let take = (16 - self.pending_len).min(data.len());
            let (head, rest) = data.split_at(take);
            if let Some(dst) = self
                .pending
                .get_mut(self.pending_len..self.pending_len + take)
            {
                dst.copy_from_slice(head);
            }
            self.pending_len += take;
            data = rest;
            if self.pending_len < 16 {
                return;
            }
            self.mac.update(&[self.pending.into()]);
            self.pending_len = 0;
        }
        let mut blocks = data.chunks_exact(16);
        for block in &mut blocks {
            self.mac.update(&[poly1305::Block::clone_from_slice(block)]);
        }
        let rest = blocks.remainder();
        if let Some(dst) = self.pending.get_mut(..rest.len()) {
            dst.copy_from_slice(rest);
            self.pending_len = rest.len();
        }
    }

    fn zeros(&mut self, n: usize) {
        self.update([0u8; 16].get(..n.min(16)).unwrap_or_default());
    }

    fn finalize(self) -> [u8; 16] {
        let tail = self.pending.get(..self.pending_len).unwrap_or_default();
        self.mac.compute_unpadded(tail).into()
    }
}

impl State {
    fn new(key: &SymmetricKey, header: &[u8; HEADER_LEN]) -> Self {
        let (salt, inonce) = header.split_at(16);
        let subkey =
            chacha20::hchacha::<chacha20::cipher::consts::U10>(key.expose().into(), salt.into());
        let mut state = Self {
            key: subkey.into(),
            nonce: [0; 12],
            finished: false,
        };
        state.nonce.split_at_mut(4).1.copy_from_slice(inonce);
        state.reset_counter();
        state
    }

    fn reset_counter(&mut self) {
        self.nonce
            .split_at_mut(4)
            .0
            .copy_from_slice(&1u32.to_le_bytes());
    }

    fn cipher(&self, block_counter: u32) -> ChaCha20 {
        let mut c = ChaCha20::new((&self.key).into(), (&self.nonce).into());
        c.seek(u64::from(block_counter) * 64);
        c
    }

    /// Computes the MAC over `ad`, the 64-byte tag block and the ciphertext, as libsodium does.
    fn mac(&self, ad: &[u8], tag_block: &[u8; 64], ciphertext: &[u8]) -> [u8; 16] {
        let mut poly_key = [0u8; 64];
        self.cipher(0).apply_keystream(&mut poly_key);
        let mut mac = MacInput::new(poly_key.split_at(32).0.try_into().unwrap_or(&[0; 32]));
        poly_key.zeroize();
        mac.update(ad);
        mac.zeros((16 - ad.len() % 16) % 16);
        mac.update(tag_block);
        mac.update(ciphertext);
        // libsodium pads with (0x10 - 64 + mlen) & 0xf bytes, which is mlen mod 16.
        mac.zeros(ciphertext.len() % 16);
        mac.update(&(ad.len() as u64).to_le_bytes());
        mac.update(&((64 + ciphertext.len()) as u64).to_le_bytes());
        mac.finalize()
    }

    fn advance(&mut self, mac: &[u8; 16], tag: u8) {
        for (n, m) in self.nonce.iter_mut().skip(4).zip(mac) {
            *n ^= m;
        }
        let mut counter = [0u8; 4];
        counter.copy_from_slice(self.nonce.split_at(4).0);
        let next = u32::from_le_bytes(counter).wrapping_add(1);
        self.nonce
            .split_at_mut(4)
            .0
            .copy_from_slice(&next.to_le_bytes());
        if tag & Tag::Rekey.to_byte() != 0 || next == 0 {
            self.rekey();
        }
    }

    fn rekey(&mut self) {
        let mut buf = [0u8; 40];
        let (k, n) = buf.split_at_mut(32);
        k.copy_from_slice(&self.key);
        n.copy_from_slice(self.nonce.split_at(4).1);
        self.cipher(0).apply_keystream(&mut buf);
        let (k, n) = buf.split_at(32);
        self.key.copy_from_slice(k);
        self.nonce.split_at_mut(4).1.copy_from_slice(n);
        buf.zeroize();
        self.reset_counter();
    }
}

/// The sending side of a stream.
pub struct Encryptor {
    state: State,
}

impl Encryptor {
    /// Starts a stream with a random header (libsodium `init_push`). Send the header first.
    pub fn new(
        key: &SymmetricKey,
        rng: &mut impl rand_core::CryptoRngCore,
    ) -> (Self, [u8; HEADER_LEN]) {
        let mut header = [0u8; HEADER_LEN];
        rng.fill_bytes(&mut header);
        (Self::with_header(key, &header), header)
    }

    /// Starts a stream with a caller-chosen header, for deterministic constructions that derive
    /// the header from secret inputs. Never reuse a (key, header) pair for different data.
    #[must_use]
    pub fn with_header(key: &SymmetricKey, header: &[u8; HEADER_LEN]) -> Self {
        Self {
            state: State::new(key, header),
        }
    }

    /// Encrypts one message; the output is `ABYTES` longer than `msg`.
    pub fn push(&mut self, msg: &[u8], ad: &[u8], tag: Tag) -> Result<Vec<u8>, CryptoError> {
        let mut out = Vec::with_capacity(msg.len() + ABYTES);
        self.push_into(msg, ad, tag, &mut out)?;
        Ok(out)
    }

    /// Encrypts one message, appending the output to `out`.
    pub fn push_into(
        &mut self,
        msg: &[u8],
        ad: &[u8],
        tag: Tag,
        out: &mut Vec<u8>,
    ) -> Result<(), CryptoError> {
        if self.state.finished {
            return Err(CryptoError::StreamFinished);
        }
        let mut block = [0u8; 64];
        block[0] = tag.to_byte();
        self.state.cipher(1).apply_keystream(&mut block);
        let start = out.len();
        out.push(block[0]);
        out.extend_from_slice(msg);
        let ciphertext = out.get_mut(start + 1..).unwrap_or_default();
        self.state.cipher(2).apply_keystream(ciphertext);
        let mac = self.state.mac(ad, &block, ciphertext);
        out.extend_from_slice(&mac);
        self.state.advance(&mac, tag.to_byte());
        if tag == Tag::Final {
            self.state.finished = true;
        }
        Ok(())
    }

    /// Rotates the key explicitly (libsodium `crypto_secretstream_xchacha20poly1305_rekey`); the
    /// receiver must do the same at the same point.
    pub fn rekey(&mut self) {
        self.state.rekey();
    }
}

/// The receiving side of a stream.
pub struct Decryptor {
    state: State,
}

impl Decryptor {
    /// Starts reading a stream from its header (libsodium `init_pull`).
    #[must_use]
    pub fn new(key: &SymmetricKey, header: &[u8; HEADER_LEN]) -> Self {
        Self {
            state: State::new(key, header),
        }
    }

    /// Decrypts and authenticates the next message, returning it with its tag. A failed message
    /// leaves the state unchanged.
    pub fn pull(&mut self, ciphertext: &[u8], ad: &[u8]) -> Result<(Vec<u8>, Tag), CryptoError> {
        if self.state.finished {
            return Err(CryptoError::StreamFinished);
        }
        let Some((&first, rest)) = ciphertext.split_first() else {
            return Err(CryptoError::TooShort {
                what: "secretstream message",
                min: ABYTES,
                found: 0,
            });
        };
        let Some(body_len) = rest.len().checked_sub(16) else {
            return Err(CryptoError::TooShort {
                what: "secretstream message",
                min: ABYTES,
                found: ciphertext.len(),
            });
        };
        let (body, stored_mac) = rest.split_at(body_len);
        let mut block = [0u8; 64];
        block[0] = first;
        self.state.cipher(1).apply_keystream(&mut block);
        let tag_byte = block[0];
        block[0] = first;
        let mac = self.state.mac(ad, &block, body);
        if !crate::ct_eq(&mac, stored_mac) {
            return Err(CryptoError::Decrypt);
        }
        let tag = Tag::from_byte(tag_byte).ok_or(CryptoError::Decrypt)?;
        let mut msg = body.to_vec();
        self.state.cipher(2).apply_keystream(&mut msg);
        self.state.advance(&mac, tag_byte);
        if tag == Tag::Final {
            self.state.finished = true;
        }
        Ok((msg, tag))
    }

    /// Rotates the key explicitly, mirroring [`Encryptor::rekey`].
    pub fn rekey(&mut self) {
        self.state.rekey();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_with_rekey_and_final() {
        let key = SymmetricKey::new([3; 32]);
        let (mut enc, header) = Encryptor::new(&key, &mut rand_core::OsRng);
        let msgs: [(&[u8], Tag); 4] = [
            (b"", Tag::Message),
            (b"hello", Tag::Rekey),
            (&[7; 100], Tag::Push),
            (b"end", Tag::Final),
        ];
        let cts: Vec<_> = msgs
            .iter()
            .map(|(m, t)| enc.push(m, b"ad", *t).unwrap())
            .collect();
        assert!(enc.push(b"x", b"", Tag::Message).is_err());
        let mut dec = Decryptor::new(&key, &header);
        // A reordered message fails and leaves the state usable.
        assert!(dec.pull(&cts[1], b"ad").is_err());
        for ((m, t), ct) in msgs.iter().zip(&cts) {
            assert_eq!(ct.len(), m.len() + ABYTES);
            let (plain, tag) = dec.pull(ct, b"ad").unwrap();
            assert_eq!((plain.as_slice(), tag), (*m, *t));
        }
        assert!(dec.pull(&cts[0], b"ad").is_err());
    }

    #[test]
    fn short_and_tampered_input_is_rejected() {
        let key = SymmetricKey::new([4; 32]);
        let mut enc = Encryptor::with_header(&key, &[1; 24]);
        let ct = enc.push(b"data", b"", Tag::Message).unwrap();
        for len in 0..ABYTES {
            assert!(
                Decryptor::new(&key, &[1; 24])
                    .pull(&ct[..len.min(ct.len())], b"")
                    .is_err()
            );
        }
        for i in 0..ct.len() {
            let mut bad = ct.clone();
            bad[i] ^= 1;
            assert!(
                Decryptor::new(&key, &[1; 24]).pull(&bad, b"").is_err(),
                "flip at {i} of {}",
                ct.len()
            );
        }
    }
}
