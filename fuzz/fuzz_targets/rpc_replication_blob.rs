//! Replication blobs (`sn.data`): never panic, and whatever parses re-encodes (with namespaces)
//! to a blob that parses to the same messages (decode → encode → decode); an input that was
//! already in that form re-encodes to itself.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sotto_rpc::replication::{BlobFormat, MAX_BLOB_LEN, encode_blob, encode_blobs, parse_blob};

fuzz_target!(|data: &[u8]| {
    let Ok(messages) = parse_blob(data) else {
        return;
    };
    let blob = encode_blob(&messages, BlobFormat::V1WithNamespace);
    assert_eq!(parse_blob(&blob).expect("encoded blob parses"), messages);
    let all_six = data.len() == blob.len();
    if all_six {
        assert_eq!(blob, data);
    }
    let split: Vec<_> = encode_blobs(&messages, BlobFormat::V1WithNamespace, MAX_BLOB_LEN)
        .iter()
        .flat_map(|b| parse_blob(b).expect("split blob parses"))
        .collect();
    assert_eq!(split, messages);
});
