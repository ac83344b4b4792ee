//! Content decoding on arbitrary bytes (padded or not): an error, never a panic; whatever is
//! accepted re-encodes to something that decodes to the same value and encodes to the same
//! bytes, unknown fields included.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sotto_envelope::Content;

fuzz_target!(|data: &[u8]| {
    if let Ok(content) = Content::try_from(data) {
        let bytes = content.to_bytes();
        let again = Content::try_from(bytes.as_slice()).expect("re-encoding decodes");
        assert_eq!(again, content);
        assert_eq!(again.to_bytes(), bytes);
        let padded = content.to_padded_bytes();
        assert_eq!(
            Content::from_padded(&padded).expect("padded decodes"),
            content
        );
    }
    let _ = Content::from_padded(data);
});
