//! Config decryption, unpadding and zstd decompression on arbitrary bytes: errors only, never a
//! panic, never more than the decompression limit. The first byte picks raw decryption, raw
//! unpad/decompress (the zip-bomb surface), or a seal → open round trip of arbitrary input.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sotto_config::{MAX_DECOMPRESSED_SIZE, open_pushed, seal_for_push, unpad_and_decompress};

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let key = [7u8; 32];
    match mode % 3 {
        0 => {
            let _ = open_pushed(rest, &key, "Contacts");
        }
        1 => {
            if let Ok(out) = unpad_and_decompress(rest) {
                assert!(out.len() <= MAX_DECOMPRESSED_SIZE);
            }
        }
        _ => {
            // Leading zero bytes are padding, so they cannot round-trip.
            let body: &[u8] = match rest.iter().position(|&b| b != 0) {
                Some(i) => &rest[i..],
                None => return,
            };
            if matches!(body.first(), Some(b'z' | b'm')) {
                return;
            }
            let sealed = seal_for_push(body, &key, "UserGroups").expect("small inputs seal");
            assert_eq!(open_pushed(&sealed, &key, "UserGroups").expect("opens"), body);
        }
    }
});
