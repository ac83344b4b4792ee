use hmac::{Hmac, Mac};
use sha2::Sha256;

/// HMAC-SHA256 (RFC 2104) over the concatenation of `parts`, with a key of any length
/// (libsodium `crypto_auth_hmacsha256`), computed by RustCrypto's `hmac` crate. The output is a
/// MAC tag or, where a protocol derives keys this way, a secret: wrap it in
/// [`crate::SymmetricKey`] then. To check a tag, compare in constant time (`subtle`).
#[must_use]
pub fn hmac_sha256(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    // `new_from_slice` accepts keys of every length (longer than a block: hashed first).
    let Ok(mut mac) = <Hmac<Sha256> as Mac>::new_from_slice(key) else {
        // HMAC has no invalid key length; `hmac` never takes this branch.
        return [0u8; 32];
    };
    for part in parts {
        mac.update(part);
    }
    mac.finalize().into_bytes().into()
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
