//! Directory registrations and uptime proofs from JSON: never panic, and whatever is accepted
//! prints back to JSON that is accepted as the same announcement (decode → encode → decode).
#![no_main]

use std::net::Ipv4Addr;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use serde_json::{Map, Value};
use sotto_crypto::Ed25519SecretKey;
use sotto_nodelist::{Proof, Registration};
use sotto_swarm::NodeVersion;

/// Valid signed bodies (node seed 07…07). A fuzz input that is a JSON object is laid over them,
/// so that changing one field (or adding unknown ones) is easy to reach.
fn templates() -> &'static (Map<String, Value>, Map<String, Value>) {
    static T: OnceLock<(Map<String, Value>, Map<String, Value>)> = OnceLock::new();
    T.get_or_init(|| {
        let key = Ed25519SecretKey::from_seed(&[7; 32]);
        let reg = Registration::sign(
            &key,
            Ipv4Addr::new(127, 0, 0, 11),
            22021,
            NodeVersion::from([2, 8, 0]),
            1_700_000_000_000,
        )
        .expect("valid registration");
        let proof = Proof::sign(&key, 1_700_000_000_000);
        let object = |json: String| match serde_json::from_str(&json) {
            Ok(Value::Object(m)) => m,
            _ => unreachable!("the templates are JSON objects"),
        };
        (object(reg.to_json()), object(proof.to_json()))
    })
}

fn check(json: &[u8]) {
    if let Ok(reg) = Registration::from_json(json) {
        let again =
            Registration::from_json(reg.to_json().as_bytes()).expect("printed registration parses");
        assert_eq!(again, reg);
        assert_eq!(again.to_json(), reg.to_json());
    }
    if let Ok(proof) = Proof::from_json(json) {
        let again = Proof::from_json(proof.to_json().as_bytes()).expect("printed proof parses");
        assert_eq!(again, proof);
        assert_eq!(again.to_json(), proof.to_json());
    }
}

fuzz_target!(|data: &[u8]| {
    check(data);
    if let Ok(Value::Object(overlay)) = serde_json::from_slice(data) {
        let (reg, proof) = templates();
        for template in [reg, proof] {
            let mut fields = template.clone();
            fields.extend(overlay.clone());
            check(Value::Object(fields).to_string().as_bytes());
        }
    }
});
