//! Prefixed-ID parsing (text and bytes): never panics, and whatever parses prints back to the
//! same ID (decode → encode → decode).
#![no_main]

use libfuzzer_sys::fuzz_target;
use sotto_identity::{PrefixedId, SessionId};

fuzz_target!(|data: &[u8]| {
    if let Ok(id) = PrefixedId::from_bytes(data) {
        assert_eq!(id.to_bytes().as_slice(), data);
    }
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(id) = text.parse::<PrefixedId>() {
            let again: PrefixedId = id.to_string().parse().expect("printed ID parses");
            assert_eq!(again, id);
            assert!(text.eq_ignore_ascii_case(&id.to_string()));
        }
        if let Ok(sid) = text.parse::<SessionId>() {
            assert_eq!(sid.to_string().parse::<SessionId>().ok(), Some(sid));
        }
    }
});
