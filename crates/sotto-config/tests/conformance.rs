//! The message-level groups of `test-vectors/config.json`, checked against this crate alone
//! (the full suite runs through `cargo xtask vectors`).
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "test code"
)]

use serde_json::Value;
use sotto_config::{ConfigMessage, message_hash};

fn cases(group: &str) -> Vec<Value> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../test-vectors/config.json"
    );
    let file: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    file["groups"][group]["cases"].as_array().unwrap().clone()
}

fn hex_of(v: &Value) -> Vec<u8> {
    hex::decode(v.as_str().unwrap()).unwrap()
}

#[test]
fn message_hash_parse_and_reserialize() {
    for c in cases("message_hash") {
        let bytes = hex_of(&c["serialized_hex"]);
        let msg = ConfigMessage::parse(&bytes, None).unwrap_or_else(|e| panic!("{}: {e}", c["id"]));
        assert_eq!(
            msg.seqno(),
            c["expected_seqno"].as_i64().unwrap(),
            "{}",
            c["id"]
        );
        assert_eq!(
            msg.hash().to_vec(),
            hex_of(&c["expected_hash_hex"]),
            "{}",
            c["id"]
        );
        assert_eq!(message_hash(&bytes), *msg.hash());
        assert_eq!(msg.reserialize(), bytes, "{}", c["id"]);
    }
}

#[test]
fn increment_matches() {
    for c in cases("increment") {
        let msg = ConfigMessage::parse(&hex_of(&c["serialized_hex"]), None).unwrap();
        let next = msg.increment().finish(None);
        assert_eq!(next.seqno(), c["expected_seqno"].as_i64().unwrap());
        if c.get("expected_serialized_hex").is_some() {
            assert_eq!(
                hex::encode(next.serialized()),
                c["expected_serialized_hex"].as_str().unwrap(),
                "{}",
                c["id"]
            );
        }
        assert_eq!(
            next.hash().to_vec(),
            hex_of(&c["expected_hash_hex"]),
            "{}",
            c["id"]
        );
    }
}

#[test]
fn merge_matches_in_every_order() {
    for c in cases("merge") {
        let inputs: Vec<Vec<u8>> = c["inputs_hex"]
            .as_array()
            .unwrap()
            .iter()
            .map(hex_of)
            .collect();
        for r in 0..inputs.len() {
            let mut order: Vec<&[u8]> = inputs.iter().map(Vec::as_slice).collect();
            order.rotate_left(r);
            let merged = ConfigMessage::merge(&order, None, None).unwrap();
            assert_eq!(
                hex::encode(merged.message.serialized()),
                c["expected_merged_hex"].as_str().unwrap(),
                "{}",
                c["id"]
            );
            assert!(merged.needs_push());
            assert_eq!(merged.obsolete.len(), inputs.len());
        }
    }
}

#[test]
fn rejects_empty_containers() {
    for c in cases("reject_empty_containers") {
        assert!(
            ConfigMessage::parse(c["message_utf8"].as_str().unwrap().as_bytes(), None).is_err()
        );
    }
}
