//! Node listings from JSON: never panic, and whatever parses prints back to JSON that parses to
//! the same listing and prints the same again (decode → encode → decode).
#![no_main]

use libfuzzer_sys::fuzz_target;
use sotto_swarm::NodeListing;

/// A valid listing (Ed25519 seed 07…07). A fuzz input that is a JSON object is laid over it,
/// so that changing any one field, or a few, is easy to reach.
const TEMPLATE: &str = r#"{"pubkey_ed25519":"ea4a6c63e29c520abef5507b132ec5f9954776aebebe7b92421eea691446d22c","pubkey_x25519":"761d88ec830413919dfe9d4d1d56f17e653c8c994082df5b137b90a0ae6edf74","public_ip":"127.0.0.2","storage_port":22021,"storage_lmq_port":22020,"swarm_id":12345678901234567890,"storage_server_version":[2,8,0]}"#;

fn check(json: &[u8]) {
    if let Ok(listing) = NodeListing::from_json(json) {
        let printed = listing.to_json();
        let again = NodeListing::from_json(printed.as_bytes()).expect("printed listing parses");
        assert_eq!(again, listing);
        assert_eq!(again.to_json(), printed);
    }
    // The serde path other crates use (a listing inside a larger document) agrees.
    if let Ok(listing) = serde_json::from_slice::<NodeListing>(json) {
        assert_eq!(NodeListing::from_json(json).ok(), Some(listing));
    }
}

fuzz_target!(|data: &[u8]| {
    check(data);
    if let Ok(serde_json::Value::Object(overlay)) = serde_json::from_slice(data) {
        let Ok(serde_json::Value::Object(mut fields)) = serde_json::from_str(TEMPLATE) else {
            unreachable!("the template is a JSON object");
        };
        fields.extend(overlay);
        check(serde_json::Value::Object(fields).to_string().as_bytes());
    }
});
