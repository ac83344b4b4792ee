use aes_gcm::aes::Aes256;
use cbc::cipher::block_padding::Pkcs7;
use cbc::cipher::{BlockDecryptMut, BlockEncryptMut, KeyIvInit};

use crate::{CryptoError, SymmetricKey};

/// Block and IV length of AES-CBC.
pub const AES_CBC_IV_LEN: usize = 16;

/// AES-256-CBC encryption with PKCS#7 padding (OpenSSL `EVP_aes_256_cbc`): the output is
/// `len + 16 - len % 16` bytes. CBC does not authenticate: only legacy formats need it.
#[must_use]
pub fn aes256cbc_encrypt(key: &SymmetricKey, iv: &[u8; AES_CBC_IV_LEN], msg: &[u8]) -> Vec<u8> {
    cbc::Encryptor::<Aes256>::new(key.expose().into(), iv.into())
        .encrypt_padded_vec_mut::<Pkcs7>(msg)
}

/// AES-256-CBC decryption that removes PKCS#7 padding. Fails when the ciphertext is not a
/// non-empty multiple of 16 bytes or the padding is malformed. Unauthenticated: a wrong key
/// usually, but not always, fails here.
pub fn aes256cbc_decrypt(
    key: &SymmetricKey,
    iv: &[u8; AES_CBC_IV_LEN],
    ciphertext: &[u8],
) -> Result<Vec<u8>, CryptoError> {
    if ciphertext.is_empty() || !ciphertext.len().is_multiple_of(AES_CBC_IV_LEN) {
        return Err(CryptoError::Length {
            what: "AES-CBC ciphertext (a non-empty multiple of 16)",
            expected: ciphertext.len().div_ceil(AES_CBC_IV_LEN).max(1) * AES_CBC_IV_LEN,
            found: ciphertext.len(),
        });
    }
    cbc::Decryptor::<Aes256>::new(key.expose().into(), iv.into())
        .decrypt_padded_vec_mut::<Pkcs7>(ciphertext)
        .map_err(|_| CryptoError::Decrypt)
}

#[cfg(test)]
mod tests {
    use super::*;

    // NIST SP 800-38A F.2.5 (CBC-AES256.Encrypt), first two blocks; the third block of our output
    // is the PKCS#7 padding block.
    #[test]
    fn sp800_38a_known_answer() {
        let key = SymmetricKey::from_slice(
            &hex::decode("603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4")
                .unwrap(),
        )
        .unwrap();
        let iv: [u8; 16] = hex::decode("000102030405060708090a0b0c0d0e0f")
            .unwrap()
            .try_into()
            .unwrap();
        let pt = hex::decode("6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e51")
            .unwrap();
        let ct = aes256cbc_encrypt(&key, &iv, &pt);
        assert_eq!(
            hex::encode(&ct[..32]),
            "f58c4c04d6e5f1ba779eabfb5f7bfbd69cfc4e967edb808d679f777bc6702c7d"
        );
        assert_eq!(ct.len(), 48);
        assert_eq!(aes256cbc_decrypt(&key, &iv, &ct).unwrap(), pt);
    }

    #[test]
    fn rejects_bad_lengths_and_padding() {
        let key = SymmetricKey::new([7; 32]);
        let iv = [1; 16];
        assert!(aes256cbc_decrypt(&key, &iv, &[]).is_err());
        assert!(aes256cbc_decrypt(&key, &iv, &[0; 17]).is_err());
        let mut ct = aes256cbc_encrypt(&key, &iv, b"hello");
        assert_eq!(ct.len(), 16);
        let last = ct.len() - 1;
        ct[last] ^= 0x80;
        assert_eq!(aes256cbc_decrypt(&key, &iv, &ct), Err(CryptoError::Decrypt));
    }
}
