//! The `/sn/storage_batch` body and its answer. Never panic; what parses re-encodes to
//! something that parses the same (decode → encode → decode), and a batch's encoding is never
//! longer than `ForwardBatch::encoded_len` promises (the sender's size cap relies on it).
#![no_main]

use libfuzzer_sys::fuzz_target;
use sotto_node::wire::{BatchAnswer, ForwardBatch};

fuzz_target!(|data: &[u8]| {
    if let Ok(b) = ForwardBatch::parse(data) {
        let bytes = b.encode();
        assert!(bytes.len() <= ForwardBatch::encoded_len(b.items.iter().map(Vec::len)));
        assert_eq!(ForwardBatch::parse(&bytes).expect("re-encoded parses"), b);
    }
    if let Ok(a) = BatchAnswer::parse(data) {
        assert_eq!(
            BatchAnswer::parse(&a.encode()).expect("re-encoded parses"),
            a
        );
    }
});
