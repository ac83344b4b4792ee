//! 1:1 decryption on arbitrary bytes: an error, never a panic. The first byte picks whether the
//! input is the ciphertext itself, or the plaintext `M ‖ A ‖ SIG` sealed to the recipient so the
//! checks behind the sealed box (sender key, signature) see fuzzed input too.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sotto_crypto::{X25519SecretKey, seal_with_ephemeral};
use sotto_envelope::{DecryptError, decrypt_incoming};
use sotto_identity::Account;

fuzz_target!(|data: &[u8]| {
    let bob = Account::from_ed25519_seed(&[0xb0; 32]);
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    if mode & 1 == 0 {
        let _ = decrypt_incoming(&bob, rest);
    } else {
        let ephemeral = X25519SecretKey::from_bytes(&[0xe1; 32]);
        let sealed = seal_with_ephemeral(&bob.x25519_public(), rest, &ephemeral).expect("seal");
        match decrypt_incoming(&bob, &sealed) {
            // Only a real signature by the key inside gets through; the fuzzer cannot forge one.
            Ok(got) => panic!("forged message accepted from {}", got.sender),
            Err(
                DecryptError::TooShort { .. }
                | DecryptError::BadSignature
                | DecryptError::InvalidSenderKey,
            ) => {}
            Err(other) => panic!("unexpected error behind a valid box: {other}"),
        }
    }
});
