//! Verification of a directory's node list (`get_service_nodes` answer): never panics, and a
//! list that verifies is exactly the nodes it lists, hashed as the directory hashes them.
#![no_main]

use std::collections::BTreeSet;
use std::net::Ipv4Addr;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use serde_json::{Map, Value};
use sotto_crypto::{Ed25519PublicKey, Ed25519SecretKey};
use sotto_directory::{
    Admission, Directory, Limits, NodeList, Policy, Registration, json_rpc, verify_node_list,
};
use sotto_swarm::NodeVersion;

const T0: u64 = 1_700_000_000_000;

/// The directory key (seed 01…01) and a signed answer listing 8 nodes: a fuzz input that is a
/// JSON object is laid over its `result`, so that changing a field is easy to reach.
fn template() -> &'static (Ed25519PublicKey, Map<String, Value>) {
    static T: OnceLock<(Ed25519PublicKey, Map<String, Value>)> = OnceLock::new();
    T.get_or_init(|| {
        let key = Ed25519SecretKey::from_seed(&[1; 32]);
        let mut dir = Directory::new(Policy {
            decommission_after_ms: 20_000,
            admission: Admission::Open,
            allowlist: BTreeSet::new(),
            limits: Limits::NONE,
            min_epoch_interval_ms: 0,
        });
        for n in 0..8u8 {
            let node = Ed25519SecretKey::from_seed(&[n + 10; 32]);
            let reg = Registration::sign(
                &node,
                Ipv4Addr::new(127, 0, 0, n + 10),
                22021,
                NodeVersion::from([2, 8, 0]),
                T0,
            )
            .expect("valid registration");
            dir.register(&reg, T0).expect("accepted");
        }
        let mut rng = rand::rngs::mock::StepRng::new(0, 1);
        let answer = json_rpc(
            &dir,
            &key,
            br#"{"jsonrpc":"2.0","id":1,"method":"get_service_nodes"}"#,
            &mut rng,
        );
        match answer.get("result") {
            Some(Value::Object(m)) => (key.public_key(), m.clone()),
            _ => unreachable!("the template answer has a result"),
        }
    })
}

fn check(json: &[u8], key: &Ed25519PublicKey) {
    if let Ok(list) = verify_node_list(json, key) {
        assert_eq!(
            NodeList::new(list.height, list.epoch, list.nodes.clone()),
            list
        );
    }
}

fuzz_target!(|data: &[u8]| {
    let (key, result) = template();
    check(data, key);
    if let Ok(Value::Object(overlay)) = serde_json::from_slice(data) {
        let mut fields = result.clone();
        fields.extend(overlay);
        check(Value::Object(fields).to_string().as_bytes(), key);
    }
});
