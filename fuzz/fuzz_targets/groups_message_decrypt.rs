//! Groups v2 message decryption (namespace 11) on arbitrary bytes. Errors only, never a
//! panic; what encrypts must decrypt to the same plaintext and author.
//!
//! First byte mode 0: the input is a ciphertext. Mode 1: the input is sealed under the known
//! key as the padded plaintext, so the dict checks, signature and decompression see arbitrary
//! structure. Mode 2: a round trip of the input (compressed or not), then its Envelope.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sotto_crypto::{Ed25519SecretKey, SymmetricKey, xchacha20poly1305_encrypt};
use sotto_groups::GroupAdmin;
use sotto_groups::message::{decrypt_group_message, encrypt_group_message, unwrap_content};

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let key = SymmetricKey::new([3; 32]);
    let other = SymmetricKey::new([4; 32]);
    let group = GroupAdmin::from_seed(&[5; 32]).expect("fixed seed").group_id();
    match mode % 3 {
        0 => {
            if let Ok(m) = decrypt_group_message(&[&other, &key], rest) {
                let _ = unwrap_content(&group, &m);
            }
        }
        1 => {
            let ct = xchacha20poly1305_encrypt(&key, &[1; 24], &[], rest).expect("encrypts");
            let sealed = [[1u8; 24].as_slice(), &ct].concat();
            if let Ok(m) = decrypt_group_message(&[&key], &sealed) {
                let _ = unwrap_content(&group, &m);
            }
        }
        _ => {
            let author = Ed25519SecretKey::from_seed(&[6; 32]);
            let compress = mode & 4 != 0;
            let ct = encrypt_group_message(&author, &key, rest, compress, 256, &[2; 24])
                .expect("small inputs encrypt");
            assert_eq!(ct.len() % 256, 0);
            let m = decrypt_group_message(&[&other, &key], &ct).expect("round trip");
            assert_eq!(m.plaintext, rest);
            assert_eq!(m.sender_ed25519, author.public_key());
            let _ = unwrap_content(&group, &m);
        }
    }
});
