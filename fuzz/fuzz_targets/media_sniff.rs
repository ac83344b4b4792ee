//! Sniffing a downloaded attachment's type must never panic, and must be consistent with the
//! MIME families it reports.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let sniffed = sotto_media::sniff(data);
    assert!(sniffed.mime.contains('/'));
    assert_eq!(sniffed.is_image(), sniffed.mime.starts_with("image/"));
});
