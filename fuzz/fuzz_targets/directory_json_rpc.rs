//! The directory's `/json_rpc` handler on any body: never panics, always answers a JSON-RPC 2.0
//! object with either a result or an error, and a full answer verifies.
#![no_main]

use std::collections::BTreeSet;
use std::net::Ipv4Addr;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use sotto_crypto::Ed25519SecretKey;
use sotto_directory::{
    Admission, Directory, Limits, Policy, Registration, json_rpc, verify_node_list,
};
use sotto_swarm::NodeVersion;

const T0: u64 = 1_700_000_000_000;

fn setup() -> &'static (Ed25519SecretKey, Directory) {
    static S: OnceLock<(Ed25519SecretKey, Directory)> = OnceLock::new();
    S.get_or_init(|| {
        let mut dir = Directory::new(Policy {
            decommission_after_ms: 20_000,
            admission: Admission::Open,
            allowlist: BTreeSet::new(),
            limits: Limits::NONE,
            min_epoch_interval_ms: 0,
        });
        for n in 0..9u8 {
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
        dir.tick(T0 + 20_000); // decommission everybody …
        for n in 0..8u8 {
            let node = Ed25519SecretKey::from_seed(&[n + 10; 32]);
            let proof = sotto_directory::Proof::sign(&node, T0 + 20_001);
            dir.proof(&proof, T0 + 20_001).expect("accepted"); // … and bring 8 back
        }
        (Ed25519SecretKey::from_seed(&[1; 32]), dir)
    })
}

fuzz_target!(|data: &[u8]| {
    let (key, dir) = setup();
    let mut rng = rand::rngs::mock::StepRng::new(u64::from(data.first().copied().unwrap_or(0)), 7);
    let answer = json_rpc(dir, key, data, &mut rng);
    assert_eq!(answer["jsonrpc"], "2.0");
    assert!(answer.get("result").is_some() != answer.get("error").is_some());
    if answer.get("error").is_none() {
        // Without a limit, field list or key filter, the answer is the whole list.
        let params = serde_json::from_slice::<serde_json::Value>(data)
            .ok()
            .and_then(|v| v.get("params").cloned());
        let full = answer["result"].get("unchanged").is_none()
            && params.as_ref().and_then(|p| p.as_object()).is_none_or(|p| {
                ["limit", "fields", "service_node_pubkeys"]
                    .iter()
                    .all(|k| p.get(*k).is_none_or(|v| v.is_null()))
            });
        if full {
            let list = verify_node_list(answer.to_string().as_bytes(), &key.public_key())
                .expect("full answer verifies");
            assert_eq!(list, dir.node_list());
        }
    }
});
