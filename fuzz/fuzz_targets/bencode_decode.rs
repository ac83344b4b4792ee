//! Strict bencode decoding: never panics, and whatever is accepted re-encodes to the same bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(value) = sotto_bencode::decode(data) {
        assert_eq!(sotto_bencode::encode(&value), data);
    }
    if let Ok((value, rest)) = sotto_bencode::decode_prefix(data) {
        assert_eq!(sotto_bencode::encode(&value).len() + rest.len(), data.len());
    }
});
