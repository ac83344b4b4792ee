//! v4 onion framing on arbitrary bytes: never a panic, and whatever decodes re-encodes to bytes
//! that decode to the same request or response.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sotto_onion::{V4Request, V4Response};

fuzz_target!(|data: &[u8]| {
    if let Ok(request) = V4Request::decode(data) {
        assert_eq!(V4Request::decode(&request.encode()).as_ref(), Ok(&request));
    }
    if let Ok(response) = V4Response::decode(data) {
        assert_eq!(
            V4Response::decode(&response.encode()).as_ref(),
            Ok(&response)
        );
    }
});
