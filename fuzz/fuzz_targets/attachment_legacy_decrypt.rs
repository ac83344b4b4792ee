//! Legacy attachment decryption on arbitrary bytes. Errors only, never a panic.
//!
//! The first byte picks a mode: a raw blob (stops at the MAC), a blob whose MAC and digest the
//! target computes (so CBC, PKCS#7 and the size check see arbitrary ciphertext), or a round trip
//! of arbitrary plaintext. Bytes 1..5 are the pointer size.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sotto_attachment::legacy::{self, LegacyKey, Padding};
use sotto_crypto::hmac_sha256;

const KEY: [u8; 64] = [7; 64];

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let Some((size, body)) = rest.split_first_chunk::<4>() else {
        return;
    };
    let size = u64::from(u32::from_le_bytes(*size));
    let key = LegacyKey::from_slice(&KEY).expect("64-byte key");
    match mode % 3 {
        0 => {
            let _ = legacy::decrypt(body, &key, &legacy::digest(body), size);
        }
        1 => {
            let Some((iv, ciphertext)) = body.split_first_chunk::<16>() else {
                return;
            };
            let mut blob = body.to_vec();
            blob.extend_from_slice(&hmac_sha256(&KEY[32..], &[iv, ciphertext]));
            let digest = legacy::digest(&blob);
            if let Ok(plain) = legacy::decrypt(&blob, &key, &digest, size) {
                // decode → encode → decode.
                assert_eq!(plain.len() as u64, size);
                let again = legacy::encrypt_with(key.clone(), iv, &plain, Padding::Unpadded)
                    .expect("a decrypted plaintext re-encrypts");
                let back = legacy::decrypt(&again.blob, &key, &again.digest, again.size)
                    .expect("a fresh encryption decrypts");
                assert_eq!(back, plain);
            }
        }
        _ => {
            let padding = if size & 1 == 0 {
                Padding::Padded
            } else {
                Padding::Unpadded
            };
            let enc = legacy::encrypt_with(key.clone(), &[3; 16], body, padding)
                .expect("small plaintexts encrypt");
            let plain = legacy::decrypt(&enc.blob, &key, &enc.digest, enc.size)
                .expect("a fresh encryption decrypts");
            assert_eq!(plain, body);
            if padding == Padding::Unpadded {
                // Nothing follows the plaintext, so a larger size must be refused.
                assert!(legacy::decrypt(&enc.blob, &key, &enc.digest, enc.size + 1).is_err());
            }
        }
    }
});
