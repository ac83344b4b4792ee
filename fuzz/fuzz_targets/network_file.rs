//! `NetworkFile::parse` on arbitrary bytes: an error or a file, never a panic; a parsed file
//! writes back to JSON that parses to the same file.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sotto_client::NetworkFile;

fuzz_target!(|data: &[u8]| {
    if let Ok(file) = NetworkFile::parse(data) {
        let again = NetworkFile::parse(file.to_json().as_bytes()).expect("re-parses");
        assert_eq!(again, file);
    }
});
