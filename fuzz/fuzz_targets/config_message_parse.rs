//! Config message parsing on arbitrary bytes: errors only, never a panic. An accepted message
//! re-serializes to bytes that parse to the same message, its increment parses, and merging it
//! with the increment and with itself never fails.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sotto_config::ConfigMessage;

fuzz_target!(|data: &[u8]| {
    let Ok(msg) = ConfigMessage::parse(data, None) else {
        return;
    };
    let again = msg.reserialize();
    let reparsed = ConfigMessage::parse(&again, None).expect("re-serialization parses");
    assert_eq!(reparsed.data(), msg.data());
    assert_eq!(reparsed.unknown(), msg.unknown());
    assert_eq!(reparsed.reserialize(), again);
    let next = msg.increment().finish(None);
    ConfigMessage::parse(next.serialized(), None).expect("increment parses");
    let merged = ConfigMessage::merge(&[data, next.serialized(), data], None, None)
        .expect("valid inputs merge");
    assert_eq!(merged.message.seqno(), next.seqno());
});
