//! Compression, padding and the deterministic per-domain encryption of config messages.

use std::io::Read;

use sotto_crypto::{
    AEAD_TAG_LEN, Blake2b, SymmetricKey, XCHACHA_NONCE_LEN, xchacha20poly1305_decrypt,
    xchacha20poly1305_encrypt,
};

use crate::CryptError;

/// Bytes encryption adds: the Poly1305 tag and the appended nonce.
pub const ENCRYPTION_OVERHEAD: usize = AEAD_TAG_LEN + XCHACHA_NONCE_LEN;

/// The largest config push the swarm accepts.
pub const MAX_PUSH_SIZE: usize = 76_800;

/// The most a compressed config message may expand to (guards against zip bombs).
pub const MAX_DECOMPRESSED_SIZE: usize = 1 << 21;

/// The zstd level libsession compresses with.
pub const ZSTD_LEVEL: i32 = 1;

const NONCE_KEY_PREFIX: &[u8] = b"libsessionutil-config-encrypted-";

/// The size a message of `size` bytes is padded to so that `size + overhead` fills whole
/// chunks: 256-byte chunks below 5 120 bytes, then 1 024 below 20 480, 2 048 below 40 960 and
/// 5 120 above.
#[must_use]
pub fn padded_size(size: usize, overhead: usize) -> usize {
    let s2 = size.saturating_add(overhead);
    let chunk = if s2 < 5120 {
        256
    } else if s2 < 20480 {
        1024
    } else if s2 < 40960 {
        2048
    } else {
        5120
    };
    s2.div_ceil(chunk)
        .saturating_mul(chunk)
        .saturating_sub(overhead)
}

/// `z ‖ zstd(level 1)(message)` if that is strictly shorter, else `message` unchanged.
pub fn compress(message: &[u8]) -> Result<Vec<u8>, CryptError> {
    let compressed = zstd::bulk::compress(message, ZSTD_LEVEL).map_err(|_| CryptError::Compress)?;
    if compressed.len() + 1 < message.len() {
        let mut out = Vec::with_capacity(compressed.len() + 1);
        out.push(b'z');
        out.extend_from_slice(&compressed);
        Ok(out)
    } else {
        Ok(message.to_vec())
    }
}

/// Prefix-pads `body` with zero bytes to [`padded_size`]`(len, ENCRYPTION_OVERHEAD)`.
#[must_use]
pub fn pad(body: &[u8]) -> Vec<u8> {
    let target = padded_size(body.len(), ENCRYPTION_OVERHEAD);
    let mut out = vec![0u8; target.saturating_sub(body.len())];
    out.extend_from_slice(body);
    out
}

/// Undoes [`pad`] and [`compress`]: strips leading zero bytes, decompresses a `z` body (up to
/// [`MAX_DECOMPRESSED_SIZE`]) and refuses multipart (`m`) bodies.
pub fn unpad_and_decompress(plaintext: &[u8]) -> Result<Vec<u8>, CryptError> {
    let start = plaintext
        .iter()
        .position(|&b| b != 0)
        .ok_or(CryptError::Empty)?;
    let body = plaintext.get(start..).unwrap_or_default();
    match body.split_first() {
        Some((b'z', rest)) => decompress(rest),
        Some((b'm', _)) => Err(CryptError::MultipartUnsupported),
        _ => Ok(body.to_vec()),
    }
}

fn decompress(compressed: &[u8]) -> Result<Vec<u8>, CryptError> {
    decompress_limited(compressed, MAX_DECOMPRESSED_SIZE)
}

/// zstd-decompresses `compressed`, refusing output over `limit` bytes (a zip bomb) without
/// allocating more than `limit + 1` bytes.
pub fn decompress_limited(compressed: &[u8], limit: usize) -> Result<Vec<u8>, CryptError> {
    let decoder =
        zstd::stream::read::Decoder::with_buffer(compressed).map_err(|_| CryptError::Decompress)?;
    let mut out = Vec::new();
    decoder
        .take(u64::try_from(limit).unwrap_or(u64::MAX).saturating_add(1))
        .read_to_end(&mut out)
        .map_err(|_| CryptError::Decompress)?;
    if out.len() > limit {
        return Err(CryptError::TooLarge { limit });
    }
    Ok(out)
}

fn check_domain(domain: &str) -> Result<(), CryptError> {
    if (1..=24).contains(&domain.len()) {
        Ok(())
    } else {
        Err(CryptError::DomainLength {
            found: domain.len(),
        })
    }
}

fn key_for(key_base: &[u8; 32], len: usize, domain: &str) -> Result<SymmetricKey, CryptError> {
    let len = u64::try_from(len).map_err(|_| CryptError::Encrypt)?;
    let mut h = Blake2b::new(32).map_err(|_| CryptError::Encrypt)?;
    h.update(key_base)
        .update(&len.to_be_bytes())
        .update(domain.as_bytes());
    let mut key = [0u8; 32];
    h.finalize_into(&mut key).map_err(|_| CryptError::Encrypt)?;
    Ok(SymmetricKey::new(key))
}

/// Encrypts a (padded) config message with `key_base` for `domain` (1–24 bytes): the nonce is a
/// keyed hash of the message, so equal inputs give equal ciphertexts. Output:
/// `XChaCha20-Poly1305(key, nonce, message) ‖ nonce`.
pub fn encrypt(message: &[u8], key_base: &[u8; 32], domain: &str) -> Result<Vec<u8>, CryptError> {
    check_domain(domain)?;
    let mut nonce_key = NONCE_KEY_PREFIX.to_vec();
    nonce_key.extend_from_slice(domain.as_bytes());
    let mut h = Blake2b::keyed(XCHACHA_NONCE_LEN, &nonce_key).map_err(|_| CryptError::Encrypt)?;
    h.update(message);
    let mut nonce = [0u8; XCHACHA_NONCE_LEN];
    h.finalize_into(&mut nonce)
        .map_err(|_| CryptError::Encrypt)?;
    let key = key_for(key_base, message.len(), domain)?;
    let mut out =
        xchacha20poly1305_encrypt(&key, &nonce, &[], message).map_err(|_| CryptError::Encrypt)?;
    out.extend_from_slice(&nonce);
    Ok(out)
}

/// Decrypts what [`encrypt`] produced (still padded and possibly compressed).
pub fn decrypt(
    ciphertext: &[u8],
    key_base: &[u8; 32],
    domain: &str,
) -> Result<Vec<u8>, CryptError> {
    check_domain(domain)?;
    let too_short = CryptError::TooShort {
        min: ENCRYPTION_OVERHEAD,
        found: ciphertext.len(),
    };
    if ciphertext.len() < ENCRYPTION_OVERHEAD {
        return Err(too_short);
    }
    let (body, nonce) = ciphertext
        .split_last_chunk::<XCHACHA_NONCE_LEN>()
        .ok_or(too_short)?;
    let key = key_for(key_base, ciphertext.len() - ENCRYPTION_OVERHEAD, domain)?;
    xchacha20poly1305_decrypt(&key, nonce, &[], body).map_err(|_| CryptError::Decrypt)
}

/// The whole push transform of a serialized message: compress if shorter, pad, encrypt; refuses
/// a result over [`MAX_PUSH_SIZE`].
pub fn seal_for_push(
    serialized: &[u8],
    key_base: &[u8; 32],
    domain: &str,
) -> Result<Vec<u8>, CryptError> {
    let out = encrypt(&pad(&compress(serialized)?), key_base, domain)?;
    if out.len() > MAX_PUSH_SIZE {
        return Err(CryptError::PushTooLarge {
            found: out.len(),
            limit: MAX_PUSH_SIZE,
        });
    }
    Ok(out)
}

/// The receive transform: decrypt, unpad, decompress. The result is a serialized message to
/// parse.
pub fn open_pushed(
    ciphertext: &[u8],
    key_base: &[u8; 32],
    domain: &str,
) -> Result<Vec<u8>, CryptError> {
    unpad_and_decompress(&decrypt(ciphertext, key_base, domain)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compression_round_trip_and_bomb_limit() {
        let msg = vec![b'a'; 10_000];
        let c = compress(&msg).unwrap();
        assert_eq!(c.first(), Some(&b'z'));
        assert!(c.len() < msg.len());
        assert_eq!(unpad_and_decompress(&pad(&c)).unwrap(), msg);
        let short = b"d1:#i0ee";
        assert_eq!(compress(short).unwrap(), short);
        let bomb = vec![0u8; MAX_DECOMPRESSED_SIZE + 10];
        let mut z = vec![b'z'];
        z.extend(zstd::bulk::compress(&bomb, 1).unwrap());
        assert_eq!(
            unpad_and_decompress(&z),
            Err(CryptError::TooLarge {
                limit: MAX_DECOMPRESSED_SIZE
            })
        );
        assert_eq!(
            unpad_and_decompress(b"\0\0m1"),
            Err(CryptError::MultipartUnsupported)
        );
    }

    #[test]
    fn push_round_trip() {
        let key = [7u8; 32];
        let msg = b"d1:#i0e1:&de1:<le1:=dee";
        let sealed = seal_for_push(msg, &key, "Contacts").unwrap();
        assert_eq!(sealed.len() % 256, 0);
        assert_eq!(open_pushed(&sealed, &key, "Contacts").unwrap(), msg);
        assert_eq!(
            open_pushed(&sealed, &key, "UserGroups"),
            Err(CryptError::Decrypt)
        );
        assert!(matches!(
            encrypt(msg, &key, ""),
            Err(CryptError::DomainLength { found: 0 })
        ));
    }
}
