//! Recovery-phrase decoding: never panics, and a phrase that decodes re-encodes to words that
//! decode to the same bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sotto_identity::mnemonic;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(bytes) = mnemonic::decode(text) else { return };
    let with_checksum = text.split_whitespace().count() % 3 == 1;
    let phrase = mnemonic::encode(&bytes, with_checksum).expect("decoded bytes re-encode");
    assert_eq!(mnemonic::decode(&phrase).expect("re-encoded phrase decodes").as_slice(), bytes.as_slice());
    let _ = sotto_identity::Account::from_phrase(text);
});
