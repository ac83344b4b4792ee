//! Attachment URLs come from other people's messages: parsing must never panic, and the canonical
//! form of anything accepted must parse back to the same value.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sotto_attachment::AttachmentUrl;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(url) = AttachmentUrl::parse(text) {
        let canonical = url.to_string();
        let again = AttachmentUrl::parse(&canonical).expect("canonical form parses");
        assert_eq!(again, url);
        assert_eq!(again.to_string(), canonical);
        let _ = url.file_server();
        let _ = url.numeric_id();
    }
});
