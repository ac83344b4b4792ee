//! Node-to-node inputs: the signed headers, the forwarded-request body, the sync request, the
//! deleted-hashes query and answer, the revocations query and answer, and the next-row header. Never panic; what parses re-encodes to something that parses the same
//! (decode → encode → decode).
#![no_main]

use libfuzzer_sys::fuzz_target;
use sotto_node::peer_auth::{NODE_HEADER, PeerHeaders, SIGNATURE_HEADER, TIMESTAMP_HEADER};
use sotto_node::wire::{
    DeletedAnswer, Forwarded, Hashes, RevocationsAnswer, RevocationsQuery, SyncRequest,
    parse_next_row,
};

fuzz_target!(|data: &[u8]| {
    if let Ok(f) = Forwarded::parse(data) {
        assert_eq!(Forwarded::parse(&f.encode()).expect("re-encoded parses"), f);
    }
    if let Ok(s) = SyncRequest::parse(data) {
        assert_eq!(
            SyncRequest::parse(&s.to_json()).expect("re-encoded parses"),
            s
        );
    }
    if let Ok(h) = Hashes::parse(data) {
        assert_eq!(Hashes::parse(&h.to_json()).expect("re-encoded parses"), h);
    }
    if let Ok(found) = DeletedAnswer::parse(data) {
        assert_eq!(
            DeletedAnswer::parse(&DeletedAnswer::new(&found).to_json()).expect("re-encoded parses"),
            found
        );
    }
    if let Ok(q) = RevocationsQuery::parse(data) {
        assert_eq!(
            RevocationsQuery::parse(&q.to_json()).expect("re-encoded parses"),
            q
        );
    }
    if let Ok(a) = RevocationsAnswer::parse(data) {
        assert_eq!(
            RevocationsAnswer::parse(&a.to_json()).expect("re-encoded parses"),
            a
        );
    }
    let text = String::from_utf8_lossy(data);
    if let Ok(row) = parse_next_row(&text) {
        assert_eq!(parse_next_row(&row.to_string()), Ok(row));
    }
    // Three header values separated by newlines.
    let mut parts = text.splitn(3, '\n');
    let headers: Vec<(String, String)> = [NODE_HEADER, TIMESTAMP_HEADER, SIGNATURE_HEADER]
        .iter()
        .map(|name| {
            (
                (*name).to_owned(),
                parts.next().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    if let Ok(h) = PeerHeaders::parse(&headers) {
        assert_eq!(
            PeerHeaders::parse(&h.to_headers()).expect("re-encoded parses"),
            h
        );
        let _ = h.verify(&h.node, "/sn/sync", data, h.timestamp);
    }
});
