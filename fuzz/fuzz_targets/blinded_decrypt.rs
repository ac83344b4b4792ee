//! Blinded-DM decryption on arbitrary bytes: an error, never a panic. The first byte picks the
//! scheme (15/25), who reads (recipient or sender) and whether the rest is the ciphertext itself
//! or a plaintext (`message ‖ claimed sender key`) encrypted under the real shared key, so the
//! sender check behind the AEAD sees fuzzed input too.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sotto_crypto::{SymmetricKey, blake2b_32, xchacha20poly1305_encrypt};
use sotto_envelope::decrypt_from_blinded;
use sotto_identity::Account;

const SERVER: [u8; 32] = [0x1d; 32];

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let alice = Account::from_ed25519_seed(&[0xa1; 32]);
    let bob = Account::from_ed25519_seed(&[0xb0; 32]);
    let (a, b, scalar) = if mode & 1 == 0 {
        (
            alice.blind15(&SERVER).id(),
            bob.blind15(&SERVER).id(),
            alice.ed25519_secret().scalar(),
        )
    } else {
        let keys = alice.blind25(&SERVER);
        (keys.id(), bob.blind25(&SERVER).id(), keys.scalar().clone())
    };
    let reader = if mode & 2 == 0 { &bob } else { &alice };
    if mode & 4 == 0 {
        let _ = decrypt_from_blinded(reader, &SERVER, &a, &b, rest);
        return;
    }
    let shared = scalar
        .mul_point(&b.ed25519_key())
        .expect("valid blinded key");
    let key = SymmetricKey::new(blake2b_32(&[], &[shared.as_bytes(), a.key(), b.key()]));
    let nonce = [mode; 24];
    let sealed = xchacha20poly1305_encrypt(&key, &nonce, &[], rest).expect("encrypt");
    let ciphertext = [&[0u8][..], &sealed, &nonce].concat();
    if let Ok(got) = decrypt_from_blinded(reader, &SERVER, &a, &b, &ciphertext) {
        // Accepted only if the key inside really is Alice's.
        assert_eq!(got.sender, alice.session_id());
        assert_eq!(&rest[rest.len() - 32..], alice.ed25519_public().as_bytes());
    }
});
