//! Swarm framing on arbitrary bytes: WebSocketMessage and Envelope decoding (directly and
//! through base64) return errors, never panic, and whatever is accepted re-encodes to something
//! that decodes to the same value and encodes to the same bytes.
#![no_main]

use base64::Engine as _;
use libfuzzer_sys::fuzz_target;
use sotto_envelope::{Envelope, WebSocketMessage, unframe_from_swarm};

fuzz_target!(|data: &[u8]| {
    if let Ok(message) = WebSocketMessage::try_from(data) {
        let bytes = message.to_bytes();
        let again = WebSocketMessage::try_from(bytes.as_slice()).expect("re-encoding decodes");
        assert_eq!(again, message);
        assert_eq!(again.to_bytes(), bytes);
    }
    if let Ok(envelope) = Envelope::try_from(data) {
        let bytes = envelope.to_bytes();
        let again = Envelope::try_from(bytes.as_slice()).expect("re-encoding decodes");
        assert_eq!(again, envelope);
        assert_eq!(again.to_bytes(), bytes);
    }
    let b64 = base64::engine::general_purpose::STANDARD.encode(data);
    let _ = unframe_from_swarm(&b64);
    let _ = unframe_from_swarm(data);
});
