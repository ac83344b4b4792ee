//! Deterministic ("S") attachment decryption on arbitrary bytes. Errors only, never a panic, and
//! one-shot and piecewise decryption always agree.
//!
//! The first byte picks a mode and a piece size: a raw stream (stops at the first chunk's MAC),
//! a stream the target forges from fuzzer-chosen chunk lengths, tags and contents under the known
//! key (so padding, tags, truncation and trailing data see arbitrary structure), or a round trip
//! of arbitrary plaintext, which must re-encrypt to the same bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sotto_attachment::deterministic::{self, CHUNK_LEN, Decryptor, Domain};
use sotto_crypto::secretstream::{Encryptor, Tag};
use sotto_crypto::{SecretBytes, SymmetricKey};

/// Decrypts in one piece and in pieces of `piece` bytes; both must agree.
fn check(stream: &[u8], key: &SymmetricKey, piece: usize) {
    let whole = deterministic::decrypt(stream, key);
    let mut out = Vec::new();
    let mut dec = Decryptor::new(key);
    let pieces = stream
        .chunks(piece)
        .try_for_each(|part| dec.update(part, &mut out))
        .and_then(|()| dec.finish(&mut out));
    match (whole, pieces) {
        (Ok(a), Ok(())) => assert_eq!(a, out),
        (Err(_), Err(_)) => {}
        (a, b) => panic!("one-shot {a:?} but piecewise {b:?}"),
    }
}

/// Builds `'S' ‖ header ‖ chunks` from records `len (2 bytes LE) ‖ tag (1) ‖ contents`.
fn forge(key: &SymmetricKey, mut input: &[u8]) -> Vec<u8> {
    let header = [5u8; 24];
    let mut out = vec![b'S'];
    out.extend_from_slice(&header);
    let mut enc = Encryptor::with_header(key, &header);
    while let Some((record, rest)) = input.split_first_chunk::<3>() {
        let len = usize::from(u16::from_le_bytes([record[0], record[1]])) % (CHUNK_LEN + 1);
        let tag = match record[2] % 4 {
            0 => Tag::Message,
            1 => Tag::Push,
            2 => Tag::Rekey,
            _ => Tag::Final,
        };
        let (contents, rest) = rest.split_at(len.min(rest.len()));
        let mut msg = contents.to_vec();
        // Long runs of zeros (padding) without needing them in the input.
        msg.resize(len, 0);
        if enc.push_into(&msg, &[], tag, &mut out).is_err() {
            break;
        }
        input = rest;
    }
    out
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let key = SymmetricKey::new([9; 32]);
    let piece = usize::from(mode >> 2).max(1) * 97;
    match mode % 3 {
        0 => check(rest, &key, piece),
        1 => check(&forge(&key, rest), &key, piece),
        _ => {
            let seed = SecretBytes::new([1; 32]);
            let domain = if mode & 4 == 0 {
                Domain::Attachment
            } else {
                Domain::ProfilePic
            };
            let enc = deterministic::encrypt(&seed, domain, rest).expect("small inputs encrypt");
            let plain = deterministic::decrypt(&enc.ciphertext, &enc.key).expect("decrypts");
            assert_eq!(plain, rest);
            let again = deterministic::encrypt(&seed, domain, &plain).expect("re-encrypts");
            assert_eq!(again.ciphertext, enc.ciphertext);
            check(&enc.ciphertext, &enc.key, piece);
        }
    }
});
