use sha2::{Digest, Sha256};
use zeroize::Zeroize;

const BLOCK: usize = 64;

/// HMAC-SHA256 (RFC 2104) over the concatenation of `parts`, with a key of any length
/// (libsodium `crypto_auth_hmacsha256`). The output is a MAC tag or, where a protocol derives
/// keys this way, a secret: wrap it in [`crate::SymmetricKey`] then.
#[must_use]
pub fn hmac_sha256(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    // Keys longer than a block are hashed first; shorter ones are zero-padded.
    let mut hashed = [0u8; 32];
    let key = if key.len() > BLOCK {
        hashed = Sha256::digest(key).into();
        &hashed[..]
    } else {
        key
    };
    let mut block = [0u8; BLOCK];
    for (b, k) in block.iter_mut().zip(key) {
        *b = *k;
    }
    hashed.zeroize();
    let mut pad = block.map(|b| b ^ 0x36);
    let mut inner = Sha256::new_with_prefix(pad);
    for part in parts {
        inner.update(part);
    }
    pad = block.map(|b| b ^ 0x5c);
    let out = Sha256::new_with_prefix(pad)
        .chain_update(inner.finalize())
        .finalize()
        .into();
    pad.zeroize();
    block.zeroize();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    // RFC 4231 §4.3 (test case 2) and §4.7 (test case 6: a key longer than the block size).
    #[test]
    fn rfc4231_known_answers() {
        assert_eq!(
            hex::encode(hmac_sha256(
                b"Jefe",
                &[b"what do ya want ", b"for nothing?"]
            )),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        assert_eq!(
            hex::encode(hmac_sha256(
                &[0xaa; 131],
                &[b"Test Using Larger Than Block-Size Key - Hash Key First"]
            )),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
        );
    }
}
