//! libsession's deterministic attachment format ("S"): the key and stream header are a keyed
//! BLAKE2b of the plaintext, so the same file from the same uploader always encrypts to the same
//! bytes, and the data is encrypted as a libsodium secretstream in 32 KiB chunks.
//!
//! Layout: `'S' ‖ header (24) ‖ chunks`, where the chunks encrypt `padding ‖ data` (the padding
//! is [`padding_len`] bytes: zeros then one `0x01`) 32768 bytes at a time, each growing by 17
//! bytes, the last one tagged FINAL.
//!
//! Everything here streams in constant memory: [`KeyDeriver`] hashes the plaintext in pieces,
//! [`Encryptor`] and [`Decryptor`] turn pieces of input into pieces of output and hold at most one
//! chunk, and [`encrypt_seekable`], [`encrypt_reader`] and [`decrypt_reader`] drive them over
//! `Read`/`Write`. Deriving the key needs the whole plaintext, so encryption reads it twice.

use std::io::{ErrorKind, Read, Seek, SeekFrom, Write};

use sotto_crypto::secretstream::{self, ABYTES, HEADER_LEN, Tag};
use sotto_crypto::{Blake2b, SecretBytes, SymmetricKey};
use zeroize::{Zeroize, Zeroizing};

use crate::{AttachmentError, MAX_PLAINTEXT_LEN, check_plaintext_len, len_u64};

/// Plaintext bytes per chunk (of `padding ‖ data`).
pub const CHUNK_LEN: usize = 32 * 1024;
/// Bytes of one full encrypted chunk: the plaintext chunk plus the 17-byte tag and MAC.
pub const ENCRYPTED_CHUNK_LEN: usize = CHUNK_LEN + ABYTES;
/// The format byte that starts every deterministic attachment.
pub const FORMAT_BYTE: u8 = b'S';
/// Length of the prefix: the format byte and the secretstream header.
pub const PREFIX_LEN: usize = 1 + HEADER_LEN;
/// Length of the attachment key (`AttachmentPointer.key`, or the profile key).
pub const KEY_LEN: usize = 32;
/// Shortest well-formed encryption: prefix and one chunk holding one byte of padding.
pub const MIN_ENCRYPTED_LEN: u64 = (PREFIX_LEN + ABYTES + 1) as u64;
/// Longest encrypted input accepted: the encryption of a [`MAX_PLAINTEXT_LEN`]-byte plaintext.
pub const MAX_ENCRYPTED_LEN: u64 = match encrypted_size(MAX_PLAINTEXT_LEN) {
    Some(len) => len,
    None => 0,
};

const CHUNK: u64 = CHUNK_LEN as u64;
const ENCRYPTED_CHUNK: u64 = ENCRYPTED_CHUNK_LEN as u64;
const OVERHEAD: u64 = ABYTES as u64;

/// What is being encrypted: the two uses get unrelated keys for the same bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Domain {
    /// An attachment (libsession `Domain::ATTACHMENT`).
    Attachment,
    /// A profile picture (libsession `Domain::PROFILE_PIC`).
    ProfilePic,
}

impl Domain {
    /// The 16-byte BLAKE2b personalisation of the domain.
    #[must_use]
    pub const fn personalisation(self) -> &'static [u8; 16] {
        match self {
            Self::Attachment => b"SessionAttachmnt",
            Self::ProfilePic => b"Session_Prof_Pic",
        }
    }
}

/// The number of padding bytes (at least 1) placed before a `plaintext_len`-byte plaintext, as
/// libsession's `encrypted_padding`: the encrypted size is rounded up to a multiple of 1/32 of
/// the largest power of two below it (at least 4096), counting the tag and MAC of any chunk the
/// padding adds. `None` when the size does not fit in a `u64`, or for lengths so far beyond any
/// limit that the rule would leave no padding.
#[must_use]
pub const fn padding_len(plaintext_len: u64) -> Option<u64> {
    let chunks = plaintext_len.div_ceil(CHUNK);
    let Some(tags) = chunks.checked_mul(OVERHEAD) else {
        return None;
    };
    let Some(unpadded) = plaintext_len.checked_add((PREFIX_LEN + 1) as u64 + tags) else {
        return None;
    };
    let base = if unpadded > 131_072 {
        unpadded
    } else {
        131_072
    };
    let factor = (1u64 << (63 - base.leading_zeros())) >> 5;
    let Some(padded) = unpadded.checked_next_multiple_of(factor) else {
        return None;
    };
    let padding = padded - unpadded + 1;
    // Padding that fills whole chunks brings their tags along: count them as padding.
    let mut implicit = padding / ENCRYPTED_CHUNK * OVERHEAD;
    // So does padding that spills over the room left in the data's last chunk.
    let free = chunks * CHUNK - plaintext_len;
    if padding % ENCRYPTED_CHUNK > free {
        implicit += OVERHEAD;
    }
    match padding.checked_sub(implicit) {
        Some(0) | None => None,
        padding => padding,
    }
}

/// The size of the encryption of a `plaintext_len`-byte plaintext (libsession `encrypted_size`).
/// `None` only when it does not fit in a `u64`.
#[must_use]
pub const fn encrypted_size(plaintext_len: u64) -> Option<u64> {
    let Some(padding) = padding_len(plaintext_len) else {
        return None;
    };
    let Some(stream) = plaintext_len.checked_add(padding) else {
        return None;
    };
    let Some(tags) = stream.div_ceil(CHUNK).checked_mul(OVERHEAD) else {
        return None;
    };
    let Some(total) = stream.checked_add(tags) else {
        return None;
    };
    total.checked_add(PREFIX_LEN as u64)
}

/// Refuses, before any work, an encrypted input whose declared length (a file size, a
/// `Content-Length`) is over [`MAX_ENCRYPTED_LEN`] or under [`MIN_ENCRYPTED_LEN`].
pub fn check_encrypted_len(len: u64) -> Result<(), AttachmentError> {
    if len > MAX_ENCRYPTED_LEN {
        return Err(AttachmentError::TooLarge {
            what: "encrypted attachment",
            len,
            max: MAX_ENCRYPTED_LEN,
        });
    }
    if len < MIN_ENCRYPTED_LEN {
        return Err(AttachmentError::TooShort {
            what: "encrypted attachment",
            min: MIN_ENCRYPTED_LEN,
            found: len,
        });
    }
    Ok(())
}

/// The key and stream header derived from a plaintext, and the plaintext length they were
/// derived for. The key is secret; the header is sent in the clear.
#[derive(Debug)]
pub struct StreamKey {
    key: SymmetricKey,
    header: [u8; HEADER_LEN],
    plaintext_len: u64,
}

impl StreamKey {
    /// The 32-byte key for the pointer.
    #[must_use]
    pub fn key(&self) -> &SymmetricKey {
        &self.key
    }

    /// The 24-byte secretstream header (bytes 1..25 of the encryption).
    #[must_use]
    pub fn header(&self) -> &[u8; HEADER_LEN] {
        &self.header
    }

    /// The plaintext length this key was derived for.
    #[must_use]
    pub fn plaintext_len(&self) -> u64 {
        self.plaintext_len
    }

    /// The size of the encryption.
    #[must_use]
    pub fn encrypted_size(&self) -> Option<u64> {
        encrypted_size(self.plaintext_len)
    }
}

/// Hashes a plaintext, in as many pieces as convenient, into its [`StreamKey`]:
/// `BLAKE2b(out = 56, key = seed, personal = domain, msg = plaintext)`, split into header (24) ‖
/// key (32).
pub struct KeyDeriver {
    hash: Blake2b,
    len: u64,
}

impl KeyDeriver {
    /// Starts hashing for the uploader with this Ed25519 seed (`Account::ed25519_seed`).
    pub fn new(seed: &SecretBytes<32>, domain: Domain) -> Result<Self, AttachmentError> {
        let hash = Blake2b::with_params(
            HEADER_LEN + KEY_LEN,
            seed.expose(),
            &[],
            domain.personalisation(),
        )
        .map_err(AttachmentError::Primitive)?;
        Ok(Self { hash, len: 0 })
    }

    /// Hashes the next piece. Fails as soon as the total passes [`MAX_PLAINTEXT_LEN`].
    pub fn update(&mut self, piece: &[u8]) -> Result<(), AttachmentError> {
        let len = self.len.saturating_add(len_u64(piece.len()));
        check_plaintext_len(len)?;
        self.len = len;
        self.hash.update(piece);
        Ok(())
    }

    /// The key and header for the plaintext hashed so far.
    #[must_use]
    pub fn finish(self) -> StreamKey {
        let digest = Zeroizing::new(self.hash.finalize());
        let mut header = [0u8; HEADER_LEN];
        let mut key = Zeroizing::new([0u8; KEY_LEN]);
        for (dst, src) in header.iter_mut().chain(key.iter_mut()).zip(digest.iter()) {
            *dst = *src;
        }
        StreamKey {
            key: SymmetricKey::new(*key),
            header,
            plaintext_len: self.len,
        }
    }
}

/// Encrypts a plaintext whose [`StreamKey`] is known, piece by piece, holding at most one chunk.
///
/// Feed exactly [`StreamKey::plaintext_len`] bytes through [`update`](Self::update), then call
/// [`finish`](Self::finish). Output is appended to the caller's buffer as chunks complete (the
/// prefix and padding chunks on the first call).
pub struct Encryptor {
    stream: secretstream::Encryptor,
    prefix: Option<[u8; PREFIX_LEN]>,
    declared: u64,
    padding_left: u64,
    data_left: u64,
    buf: Zeroizing<Vec<u8>>,
    done: bool,
}

impl Encryptor {
    /// Starts encrypting. Fails if the plaintext length is over [`MAX_PLAINTEXT_LEN`].
    pub fn new(key: &StreamKey) -> Result<Self, AttachmentError> {
        check_plaintext_len(key.plaintext_len)?;
        let padding_left = padding_len(key.plaintext_len).ok_or(AttachmentError::TooLarge {
            what: "attachment plaintext",
            len: key.plaintext_len,
            max: MAX_PLAINTEXT_LEN,
        })?;
        let mut prefix = [FORMAT_BYTE; PREFIX_LEN];
        if let Some(dst) = prefix.get_mut(1..) {
            dst.copy_from_slice(&key.header);
        }
        Ok(Self {
            stream: secretstream::Encryptor::with_header(&key.key, &key.header),
            prefix: Some(prefix),
            declared: key.plaintext_len,
            padding_left,
            data_left: key.plaintext_len,
            buf: Zeroizing::new(Vec::with_capacity(CHUNK_LEN)),
            done: false,
        })
    }

    /// Encrypts the next piece of plaintext, appending any completed chunks to `out`.
    pub fn update(&mut self, piece: &[u8], out: &mut Vec<u8>) -> Result<(), AttachmentError> {
        self.start(out)?;
        let given = len_u64(piece.len());
        if given > self.data_left {
            return Err(AttachmentError::LengthMismatch {
                declared: self.declared,
                given: (self.declared - self.data_left).saturating_add(given),
            });
        }
        let mut rest = piece;
        while !rest.is_empty() {
            let room = CHUNK_LEN - self.buf.len();
            let (take, tail) = rest.split_at(room.min(rest.len()));
            self.buf.extend_from_slice(take);
            self.data_left -= len_u64(take.len());
            rest = tail;
            self.flush(out)?;
        }
        Ok(())
    }

    /// Ends the stream, appending the last chunk to `out`. Fails if fewer bytes were given than
    /// the key was derived for.
    pub fn finish(mut self, out: &mut Vec<u8>) -> Result<(), AttachmentError> {
        self.start(out)?;
        if self.data_left != 0 {
            return Err(AttachmentError::LengthMismatch {
                declared: self.declared,
                given: self.declared - self.data_left,
            });
        }
        if self.done {
            Ok(())
        } else {
            Err(AttachmentError::StreamClosed)
        }
    }

    /// On the first call: writes the prefix and the padding.
    fn start(&mut self, out: &mut Vec<u8>) -> Result<(), AttachmentError> {
        let Some(prefix) = self.prefix.take() else {
            return Ok(());
        };
        out.extend_from_slice(&prefix);
        while self.padding_left > 0 {
            let room = CHUNK_LEN - self.buf.len();
            let left = usize::try_from(self.padding_left).unwrap_or(usize::MAX);
            if left <= room {
                let len = self.buf.len() + left - 1;
                self.buf.resize(len, 0);
                self.buf.push(1);
                self.padding_left = 0;
            } else {
                self.buf.resize(CHUNK_LEN, 0);
                self.padding_left -= len_u64(room);
            }
            self.flush(out)?;
        }
        Ok(())
    }

    /// Pushes the buffer when it is a full chunk, or the last one.
    fn flush(&mut self, out: &mut Vec<u8>) -> Result<(), AttachmentError> {
        let last = self.padding_left == 0 && self.data_left == 0;
        let tag = if last {
            Tag::Final
        } else if self.buf.len() == CHUNK_LEN {
            Tag::Message
        } else {
            return Ok(());
        };
        if self.done {
            return Err(AttachmentError::StreamClosed);
        }
        self.stream
            .push_into(&self.buf, &[], tag, out)
            .map_err(|_| AttachmentError::StreamClosed)?;
        self.buf.clear();
        self.done = last;
        Ok(())
    }
}

/// Decrypts a deterministic-format stream piece by piece, holding at most one chunk.
///
/// Feed the encrypted bytes through [`update`](Self::update) in pieces of any size, then call
/// [`finish`](Self::finish), which detects truncation. Plaintext is appended to the caller's
/// buffer chunk by chunk: each chunk is authentic when released, but the file is complete only
/// once `finish` succeeds, so discard the output on any error.
pub struct Decryptor {
    key: SymmetricKey,
    stream: Option<secretstream::Decryptor>,
    buf: Vec<u8>,
    consumed: u64,
    chunks: u64,
    in_padding: bool,
    final_seen: bool,
    failed: bool,
}

impl Decryptor {
    /// Starts decrypting with the pointer's 32-byte key.
    #[must_use]
    pub fn new(key: &SymmetricKey) -> Self {
        Self {
            key: key.clone(),
            stream: None,
            buf: Vec::with_capacity(ENCRYPTED_CHUNK_LEN),
            consumed: 0,
            chunks: 0,
            in_padding: true,
            final_seen: false,
            failed: false,
        }
    }

    /// Decrypts the next piece of the encrypted stream, appending plaintext to `out`. Fails as
    /// soon as the total passes [`MAX_ENCRYPTED_LEN`]. After an error the decryptor refuses
    /// further input.
    pub fn update(&mut self, piece: &[u8], out: &mut Vec<u8>) -> Result<(), AttachmentError> {
        if self.failed {
            return Err(AttachmentError::StreamClosed);
        }
        let result = self.feed(piece, out);
        self.failed = result.is_err();
        result
    }

    /// Ends the stream: decrypts the last, shorter chunk if any and requires the FINAL tag.
    pub fn finish(mut self, out: &mut Vec<u8>) -> Result<(), AttachmentError> {
        if self.failed {
            return Err(AttachmentError::StreamClosed);
        }
        if self.stream.is_none() {
            return Err(AttachmentError::TooShort {
                what: "encrypted attachment",
                min: MIN_ENCRYPTED_LEN,
                found: self.consumed,
            });
        }
        if !self.buf.is_empty() {
            if self.buf.len() <= ABYTES {
                return Err(AttachmentError::TooShort {
                    what: "last encrypted chunk",
                    min: OVERHEAD + 1,
                    found: len_u64(self.buf.len()),
                });
            }
            self.chunk(out)?;
        }
        if self.final_seen {
            Ok(())
        } else {
            Err(AttachmentError::Truncated)
        }
    }

    fn feed(&mut self, piece: &[u8], out: &mut Vec<u8>) -> Result<(), AttachmentError> {
        self.consumed = self.consumed.saturating_add(len_u64(piece.len()));
        if self.consumed > MAX_ENCRYPTED_LEN {
            return Err(AttachmentError::TooLarge {
                what: "encrypted attachment",
                len: self.consumed,
                max: MAX_ENCRYPTED_LEN,
            });
        }
        let mut rest = piece;
        while !rest.is_empty() {
            if self.final_seen {
                return Err(AttachmentError::TrailingData);
            }
            let want = if self.stream.is_none() {
                PREFIX_LEN
            } else {
                ENCRYPTED_CHUNK_LEN
            };
            let (take, tail) = rest.split_at((want - self.buf.len()).min(rest.len()));
            self.buf.extend_from_slice(take);
            rest = tail;
            if self.stream.is_none() {
                if let Some(&first) = self.buf.first().filter(|&&b| b != FORMAT_BYTE) {
                    return Err(AttachmentError::UnknownFormat(first));
                }
                if let Some(header) = self.buf.get(1..).and_then(|h| h.first_chunk()) {
                    self.stream = Some(secretstream::Decryptor::new(&self.key, header));
                    self.buf.clear();
                }
            } else if self.buf.len() == ENCRYPTED_CHUNK_LEN {
                self.chunk(out)?;
            }
        }
        Ok(())
    }

    /// Decrypts the buffered chunk and strips any padding from it.
    fn chunk(&mut self, out: &mut Vec<u8>) -> Result<(), AttachmentError> {
        let index = self.chunks;
        self.chunks += 1;
        let stream = self.stream.as_mut().ok_or(AttachmentError::StreamClosed)?;
        let (plain, tag) = stream
            .pull(&self.buf, &[])
            .map_err(|_| AttachmentError::ChunkNotAuthentic { index })?;
        let plain = Zeroizing::new(plain);
        let full = self.buf.len() == ENCRYPTED_CHUNK_LEN;
        self.buf.clear();
        match tag {
            Tag::Final => self.final_seen = true,
            Tag::Message if full => {}
            Tag::Message => return Err(AttachmentError::Truncated),
            _ => return Err(AttachmentError::UnexpectedTag { index }),
        }
        let data = if self.in_padding {
            match plain.iter().position(|&b| b != 0) {
                None => &[][..],
                Some(at) => {
                    if plain.get(at) != Some(&1) {
                        return Err(AttachmentError::BadPadding(
                            "a byte other than 0x01 ends the zero padding",
                        ));
                    }
                    self.in_padding = false;
                    plain.get(at + 1..).unwrap_or_default()
                }
            }
        } else {
            &plain[..]
        };
        if self.final_seen && self.in_padding {
            return Err(AttachmentError::BadPadding(
                "the stream ends inside the padding",
            ));
        }
        out.extend_from_slice(data);
        Ok(())
    }
}

/// An encrypted attachment and its key.
#[derive(Debug)]
pub struct Encrypted {
    /// The bytes to upload.
    pub ciphertext: Vec<u8>,
    /// The 32-byte key (`AttachmentPointer.key`, or the profile key).
    pub key: SymmetricKey,
}

/// Encrypts a plaintext held in memory.
pub fn encrypt(
    seed: &SecretBytes<32>,
    domain: Domain,
    plaintext: &[u8],
) -> Result<Encrypted, AttachmentError> {
    check_plaintext_len(len_u64(plaintext.len()))?;
    let mut deriver = KeyDeriver::new(seed, domain)?;
    deriver.update(plaintext)?;
    let key = deriver.finish();
    let size = key.encrypted_size().unwrap_or_default();
    let mut ciphertext = Vec::with_capacity(usize::try_from(size).unwrap_or_default());
    let mut encryptor = Encryptor::new(&key)?;
    encryptor.update(plaintext, &mut ciphertext)?;
    encryptor.finish(&mut ciphertext)?;
    Ok(Encrypted {
        ciphertext,
        key: key.key,
    })
}

/// Decrypts an encryption held in memory.
pub fn decrypt(encrypted: &[u8], key: &SymmetricKey) -> Result<Vec<u8>, AttachmentError> {
    check_encrypted_len(len_u64(encrypted.len()))?;
    let mut plaintext = Vec::with_capacity(encrypted.len());
    let mut decryptor = Decryptor::new(key);
    let result = decryptor
        .update(encrypted, &mut plaintext)
        .and_then(|()| decryptor.finish(&mut plaintext));
    match result {
        Ok(()) => Ok(plaintext),
        Err(e) => {
            plaintext.zeroize();
            Err(e)
        }
    }
}

/// Derives the key of a plaintext read to its end.
pub fn derive_key_reader(
    seed: &SecretBytes<32>,
    domain: Domain,
    mut reader: impl Read,
) -> Result<StreamKey, AttachmentError> {
    let mut deriver = KeyDeriver::new(seed, domain)?;
    let mut buf = Zeroizing::new(vec![0u8; CHUNK_LEN]);
    loop {
        let n = read_some(&mut reader, &mut buf)?;
        let Some(piece) = buf.get(..n).filter(|p| !p.is_empty()) else {
            return Ok(deriver.finish());
        };
        deriver.update(piece)?;
    }
}

/// Encrypts a plaintext read to its end, whose key was derived beforehand (for instance with
/// [`derive_key_reader`] over the same bytes), writing the encryption to `writer`. Returns the
/// number of bytes written. Fails if the reader yields a different length than the key's.
pub fn encrypt_reader(
    key: &StreamKey,
    mut reader: impl Read,
    mut writer: impl Write,
) -> Result<u64, AttachmentError> {
    let mut encryptor = Encryptor::new(key)?;
    let mut buf = Zeroizing::new(vec![0u8; CHUNK_LEN]);
    let mut out = Vec::with_capacity(2 * ENCRYPTED_CHUNK_LEN);
    let mut written = 0u64;
    loop {
        let n = read_some(&mut reader, &mut buf)?;
        let Some(piece) = buf.get(..n).filter(|p| !p.is_empty()) else {
            break;
        };
        encryptor.update(piece, &mut out)?;
        writer.write_all(&out)?;
        written += len_u64(out.len());
        out.clear();
    }
    encryptor.finish(&mut out)?;
    writer.write_all(&out)?;
    writer.flush()?;
    Ok(written + len_u64(out.len()))
}

/// Encrypts the rest of a seekable plaintext (a file) in two passes, writing the encryption to
/// `writer`, and returns the key. The length is taken from the reader first and checked against
/// [`MAX_PLAINTEXT_LEN`] before anything is read.
pub fn encrypt_seekable<R: Read + Seek>(
    seed: &SecretBytes<32>,
    domain: Domain,
    mut reader: R,
    writer: impl Write,
) -> Result<SymmetricKey, AttachmentError> {
    let start = reader.stream_position()?;
    let end = reader.seek(SeekFrom::End(0))?;
    check_plaintext_len(end.saturating_sub(start))?;
    reader.seek(SeekFrom::Start(start))?;
    let key = derive_key_reader(seed, domain, &mut reader)?;
    reader.seek(SeekFrom::Start(start))?;
    encrypt_reader(&key, &mut reader, writer)?;
    Ok(key.key)
}

/// Decrypts an encryption read to its end, writing the plaintext to `writer` chunk by chunk, and
/// returns the plaintext length. On error the writer may have received part of the plaintext:
/// discard it.
pub fn decrypt_reader(
    key: &SymmetricKey,
    mut reader: impl Read,
    mut writer: impl Write,
) -> Result<u64, AttachmentError> {
    let mut decryptor = Decryptor::new(key);
    let mut buf = vec![0u8; ENCRYPTED_CHUNK_LEN];
    let mut out = Zeroizing::new(Vec::with_capacity(2 * CHUNK_LEN));
    let mut written = 0u64;
    loop {
        let n = read_some(&mut reader, &mut buf)?;
        let Some(piece) = buf.get(..n).filter(|p| !p.is_empty()) else {
            break;
        };
        decryptor.update(piece, &mut out)?;
        writer.write_all(&out)?;
        written += len_u64(out.len());
        out.clear();
    }
    decryptor.finish(&mut out)?;
    writer.write_all(&out)?;
    writer.flush()?;
    Ok(written + len_u64(out.len()))
}

/// One `read`, retried on `Interrupted`; 0 means the end.
fn read_some(reader: &mut impl Read, buf: &mut [u8]) -> Result<usize, AttachmentError> {
    loop {
        match reader.read(buf) {
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            other => return Ok(other?),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seed() -> SecretBytes<32> {
        SecretBytes::new([0x42; 32])
    }

    fn sample(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i * 131 % 251) as u8).collect()
    }

    #[test]
    fn max_encrypted_len_is_the_encryption_of_the_largest_plaintext() {
        assert_eq!(Some(MAX_ENCRYPTED_LEN), encrypted_size(MAX_PLAINTEXT_LEN));
        const { assert!(MAX_ENCRYPTED_LEN > MAX_PLAINTEXT_LEN) };
        assert_eq!(Some(MIN_ENCRYPTED_LEN), Some(43));
    }

    #[test]
    fn sizes_are_consistent_around_chunk_boundaries() {
        for len in (0..300_000u64).step_by(977).chain([
            32767, 32768, 32769, 65535, 65536, 65537, 4053, 4054, 8149, 8150,
        ]) {
            let padding = padding_len(len).unwrap();
            assert!(padding >= 1);
            let stream = len + padding;
            let size = encrypted_size(len).unwrap();
            assert_eq!(size, 25 + stream + 17 * stream.div_ceil(32768), "{len}");
            // The encrypted size is a multiple of the padding factor (a power of two ≥ 4096).
            assert_eq!(size % 4096, 0, "{len}");
        }
        assert_eq!(padding_len(u64::MAX), None);
        assert_eq!(encrypted_size(u64::MAX - 10), None);
    }

    #[test]
    fn streaming_matches_one_shot_for_any_piece_size() {
        for len in [0, 1, 4053, 32767, 32768, 32769, 70_000] {
            let plaintext = sample(len);
            let enc = encrypt(&seed(), Domain::Attachment, &plaintext).unwrap();
            assert_eq!(
                enc.ciphertext.len() as u64,
                encrypted_size(len as u64).unwrap()
            );
            for piece in [1usize, 7, 4096, 32785, 100_000] {
                let mut out = Vec::new();
                let mut dec = Decryptor::new(&enc.key);
                for part in enc.ciphertext.chunks(piece) {
                    dec.update(part, &mut out).unwrap();
                }
                dec.finish(&mut out).unwrap();
                assert_eq!(out, plaintext, "len {len} piece {piece}");
            }
        }
    }

    #[test]
    fn truncation_is_a_typed_error() {
        let enc = encrypt(&seed(), Domain::Attachment, &sample(100_000)).unwrap();
        let ct = &enc.ciphertext;
        // Cut at a chunk boundary: every chunk authenticates, the FINAL one is missing.
        let boundary = PREFIX_LEN + 2 * ENCRYPTED_CHUNK_LEN;
        let mut out = Vec::new();
        let mut dec = Decryptor::new(&enc.key);
        dec.update(&ct[..boundary], &mut out).unwrap();
        assert!(matches!(
            dec.finish(&mut out),
            Err(AttachmentError::Truncated)
        ));
        assert!(matches!(
            decrypt(&ct[..boundary], &enc.key),
            Err(AttachmentError::Truncated)
        ));
        // Cut inside a chunk: the partial chunk does not authenticate.
        assert!(matches!(
            decrypt(&ct[..boundary + 100], &enc.key),
            Err(AttachmentError::ChunkNotAuthentic { index: 2 })
        ));
        // Only the prefix, or less.
        assert!(matches!(
            decrypt(&ct[..PREFIX_LEN], &enc.key),
            Err(AttachmentError::TooShort { .. })
        ));
        let mut dec = Decryptor::new(&enc.key);
        dec.update(&ct[..PREFIX_LEN], &mut out).unwrap();
        assert!(matches!(
            dec.finish(&mut out),
            Err(AttachmentError::Truncated)
        ));
        let mut dec = Decryptor::new(&enc.key);
        dec.update(&ct[..10], &mut out).unwrap();
        assert!(matches!(
            dec.finish(&mut out),
            Err(AttachmentError::TooShort { .. })
        ));
    }

    #[test]
    fn trailing_data_wrong_format_and_tampering_are_rejected() {
        let enc = encrypt(&seed(), Domain::Attachment, b"hello").unwrap();
        // A byte after a short last chunk makes that chunk fail; see the next test for data
        // after a full FINAL chunk.
        let mut long = enc.ciphertext.clone();
        long.push(0);
        assert!(matches!(
            decrypt(&long, &enc.key),
            Err(AttachmentError::ChunkNotAuthentic { index: 0 })
        ));
        let mut other = enc.ciphertext.clone();
        other[0] = b'T';
        assert!(matches!(
            decrypt(&other, &enc.key),
            Err(AttachmentError::UnknownFormat(b'T'))
        ));
        for i in 1..enc.ciphertext.len() {
            let mut bad = enc.ciphertext.clone();
            bad[i] ^= 0x10;
            assert!(
                matches!(
                    decrypt(&bad, &enc.key),
                    Err(AttachmentError::ChunkNotAuthentic { index: 0 })
                ),
                "flip at {i}"
            );
        }
        let wrong = SymmetricKey::new([1; 32]);
        assert!(decrypt(&enc.ciphertext, &wrong).is_err());
    }

    /// Builds a stream with chosen chunk contents and tags, as a hostile sender could.
    fn forge(key: &SymmetricKey, chunks: &[(&[u8], Tag)]) -> Vec<u8> {
        let header = [3u8; HEADER_LEN];
        let mut out = vec![FORMAT_BYTE];
        out.extend_from_slice(&header);
        let mut enc = secretstream::Encryptor::with_header(key, &header);
        for (msg, tag) in chunks {
            enc.push_into(msg, &[], *tag, &mut out).unwrap();
        }
        out
    }

    #[test]
    fn forged_streams_are_rejected_by_structure() {
        let key = SymmetricKey::new([9; 32]);
        let err = |chunks: &[(&[u8], Tag)]| decrypt(&forge(&key, chunks), &key).unwrap_err();
        let pad = vec![0u8; CHUNK_LEN];
        // Padding that never ends, in one chunk or in a full FINAL chunk.
        assert!(matches!(
            err(&[(&[0, 0, 0], Tag::Final)]),
            AttachmentError::BadPadding(_)
        ));
        assert!(matches!(
            err(&[(&pad, Tag::Final)]),
            AttachmentError::BadPadding(_)
        ));
        // Padding ended by a byte other than 0x01.
        assert!(matches!(
            err(&[(&[0, 2, 5], Tag::Final)]),
            AttachmentError::BadPadding(_)
        ));
        // A short last chunk that is not FINAL.
        assert!(matches!(
            err(&[(&[1, 5], Tag::Message)]),
            AttachmentError::Truncated
        ));
        // Tags the format never uses.
        assert!(matches!(
            err(&[(&pad, Tag::Rekey), (&[1], Tag::Final)]),
            AttachmentError::UnexpectedTag { index: 0 }
        ));
        assert!(matches!(
            err(&[(&[1, 5], Tag::Push)]),
            AttachmentError::UnexpectedTag { index: 0 }
        ));
        // An empty last chunk.
        assert!(matches!(
            err(&[(&[1; CHUNK_LEN], Tag::Message), (&[], Tag::Final)]),
            AttachmentError::TooShort { .. }
        ));
        // Padding spanning two chunks, data in the third: accepted.
        let ok = forge(
            &key,
            &[
                (&pad, Tag::Message),
                (&pad, Tag::Message),
                (&[0, 1, 7, 8], Tag::Final),
            ],
        );
        assert_eq!(decrypt(&ok, &key).unwrap(), [7, 8]);
    }

    #[test]
    fn data_after_a_full_final_chunk_is_trailing() {
        let key = SymmetricKey::new([9; 32]);
        let mut last = vec![7u8; CHUNK_LEN];
        last[0] = 1;
        let stream = forge(&key, &[(&last, Tag::Final)]);
        assert_eq!(decrypt(&stream, &key).unwrap(), &last[1..]);
        let mut long = stream.clone();
        long.push(0);
        assert!(matches!(
            decrypt(&long, &key),
            Err(AttachmentError::TrailingData)
        ));
        let mut out = Vec::new();
        let mut dec = Decryptor::new(&key);
        dec.update(&stream, &mut out).unwrap();
        assert!(matches!(
            dec.update(&[0], &mut out),
            Err(AttachmentError::TrailingData)
        ));
        assert!(matches!(
            dec.update(&[], &mut out),
            Err(AttachmentError::StreamClosed)
        ));
    }

    #[test]
    fn limits_are_checked_before_any_work() {
        let key = SymmetricKey::new([9; 32]);
        assert!(matches!(
            check_encrypted_len(MAX_ENCRYPTED_LEN + 1),
            Err(AttachmentError::TooLarge { .. })
        ));
        assert!(check_encrypted_len(MAX_ENCRYPTED_LEN).is_ok());
        // A stream refuses input as soon as the count passes the limit, before decrypting it.
        let mut dec = Decryptor::new(&key);
        let mut out = Vec::new();
        let zeros = vec![0u8; 1 << 20];
        let mut fed = 0u64;
        let err = loop {
            match dec.update(&zeros, &mut out) {
                Ok(()) => fed += zeros.len() as u64,
                Err(e) => break e,
            }
        };
        // The first piece already fails: the format byte is not 'S'.
        assert_eq!(fed, 0);
        assert!(matches!(err, AttachmentError::UnknownFormat(0)));
        let mut dec = Decryptor::new(&key);
        let big = vec![0u8; MAX_ENCRYPTED_LEN as usize + 1];
        assert!(matches!(
            dec.update(&big, &mut out),
            Err(AttachmentError::TooLarge { .. })
        ));
        assert!(out.is_empty());
        // Key derivation refuses once the count passes the plaintext limit.
        let mut deriver = KeyDeriver::new(&seed(), Domain::Attachment).unwrap();
        let piece = vec![0u8; 1_000_000];
        for _ in 0..10 {
            deriver.update(&piece).unwrap();
        }
        assert!(matches!(
            deriver.update(&[0]),
            Err(AttachmentError::TooLarge {
                len: 10_000_001,
                ..
            })
        ));
        // A seekable source is measured before it is read.
        struct Unreadable(u64);
        impl Read for Unreadable {
            fn read(&mut self, _: &mut [u8]) -> std::io::Result<usize> {
                panic!("read before the length check")
            }
        }
        impl Seek for Unreadable {
            fn seek(&mut self, pos: SeekFrom) -> std::io::Result<u64> {
                Ok(match pos {
                    SeekFrom::End(0) => self.0,
                    _ => 0,
                })
            }
        }
        assert!(matches!(
            encrypt_seekable(
                &seed(),
                Domain::Attachment,
                Unreadable(MAX_PLAINTEXT_LEN + 1),
                std::io::sink()
            ),
            Err(AttachmentError::TooLarge { .. })
        ));
    }

    #[test]
    fn encryptor_refuses_a_different_length() {
        let mut deriver = KeyDeriver::new(&seed(), Domain::Attachment).unwrap();
        deriver.update(b"four").unwrap();
        let key = deriver.finish();
        let mut out = Vec::new();
        let mut enc = Encryptor::new(&key).unwrap();
        assert!(matches!(
            enc.update(b"fives", &mut out),
            Err(AttachmentError::LengthMismatch {
                declared: 4,
                given: 5
            })
        ));
        let mut enc = Encryptor::new(&key).unwrap();
        enc.update(b"fou", &mut out).unwrap();
        assert!(matches!(
            enc.finish(&mut out),
            Err(AttachmentError::LengthMismatch {
                declared: 4,
                given: 3
            })
        ));
        // A reader that yields a different length than the key's.
        assert!(matches!(
            encrypt_reader(&key, &b"toolong"[..], std::io::sink()),
            Err(AttachmentError::LengthMismatch { .. })
        ));
    }

    #[test]
    fn readers_and_writers_round_trip() {
        let plaintext = sample(100_000);
        let mut encrypted = Vec::new();
        let key = encrypt_seekable(
            &seed(),
            Domain::ProfilePic,
            std::io::Cursor::new(&plaintext),
            &mut encrypted,
        )
        .unwrap();
        let one_shot = encrypt(&seed(), Domain::ProfilePic, &plaintext).unwrap();
        assert_eq!(encrypted, one_shot.ciphertext);
        assert_eq!(key, one_shot.key);
        let mut decrypted = Vec::new();
        let n = decrypt_reader(&key, encrypted.as_slice(), &mut decrypted).unwrap();
        assert_eq!(n, plaintext.len() as u64);
        assert_eq!(decrypted, plaintext);
    }
}
