//! State-machine, node-list and JSON-RPC tests: pure, with injected time.

use std::collections::BTreeSet;
use std::net::Ipv4Addr;

use rand::SeedableRng as _;
use serde_json::{Value, json};
use sotto_crypto::Ed25519SecretKey;
use sotto_swarm::{INVALID_SWARM_ID, NodeVersion, SwarmId};

use crate::*;

const T0: u64 = 1_700_000_000_000;
const AFTER: u64 = 20_000;

fn key(n: u8) -> Ed25519SecretKey {
    Ed25519SecretKey::from_seed(&[n; 32])
}

fn directory_key() -> Ed25519SecretKey {
    key(200)
}

fn open() -> Directory {
    Directory::new(Policy {
        decommission_after_ms: AFTER,
        allowlist: BTreeSet::new(),
        admission: Admission::Open,
        limits: Limits::NONE,
        min_epoch_interval_ms: 0,
    })
}

fn reg_at(n: u8, port: u16, ts: u64) -> Registration {
    Registration::sign(
        &key(n),
        Ipv4Addr::new(127, 0, 0, 10 + n),
        port,
        NodeVersion::from([2, 8, 0]),
        ts,
    )
    .unwrap()
}

fn reg(n: u8, ts: u64) -> Registration {
    reg_at(n, 22021, ts)
}

fn swarms(dir: &Directory) -> Vec<(String, SwarmId)> {
    dir.node_list()
        .nodes
        .iter()
        .map(|n| (hex::encode(n.pubkey_ed25519().as_bytes()), n.swarm_id()))
        .collect()
}

fn rng() -> rand_chacha::ChaCha8Rng {
    rand_chacha::ChaCha8Rng::seed_from_u64(7)
}

fn rpc(dir: &Directory, request: &Value) -> Value {
    json_rpc(
        dir,
        &directory_key(),
        request.to_string().as_bytes(),
        &mut rng(),
    )
}

fn full_list_request() -> Value {
    json!({"jsonrpc": "2.0", "id": 1, "method": "get_service_nodes", "params": {"active_only": true}})
}

/// A directory with nodes 1..=n registered at T0.
fn with_nodes(n: u8) -> Directory {
    let mut dir = open();
    for i in 1..=n {
        dir.register(&reg(i, T0), T0).unwrap();
    }
    dir
}

#[test]
fn registration_joins_the_active_set_with_a_swarm() {
    let mut dir = open();
    assert_eq!((dir.height(), dir.epoch()), (0, 0));
    let ack = dir.register(&reg(1, T0), T0).unwrap();
    assert!(ack.active);
    assert_eq!((ack.height, ack.epoch), (1, 1));
    assert!(ack.swarm_id.is_valid());
    let list = dir.node_list();
    assert_eq!(list.nodes.len(), 1);
    assert_eq!(list.nodes[0].pubkey_ed25519(), key(1).public_key());
    assert_eq!(list.nodes[0].public_ip(), Ipv4Addr::new(127, 0, 0, 11));
    assert_eq!(list.nodes[0].swarm_id(), ack.swarm_id);
}

#[test]
fn fourteen_nodes_make_two_swarms_of_seven() {
    let dir = with_nodes(14);
    assert_eq!(dir.epoch(), 14);
    let mut sizes = std::collections::BTreeMap::<SwarmId, usize>::new();
    for n in dir.node_list().nodes {
        *sizes.entry(n.swarm_id()).or_default() += 1;
    }
    assert_eq!(sizes.values().copied().collect::<Vec<_>>(), vec![7, 7]);
}

#[test]
fn bad_signature_is_refused_as_401() {
    let mut body: Value = serde_json::from_str(&reg(1, T0).to_json()).unwrap();
    body["storage_port"] = 1.into();
    let err: DirectoryError = Registration::from_json(body.to_string().as_bytes())
        .unwrap_err()
        .into();
    assert_eq!(err.status(), 401);
    let err: DirectoryError = Registration::from_json(b"{").unwrap_err().into();
    assert_eq!(err.status(), 400);
}

#[test]
fn stale_or_future_timestamps_are_refused() {
    let mut dir = open();
    for ts in [T0 - MAX_CLOCK_SKEW_MS - 1, T0 + MAX_CLOCK_SKEW_MS + 1] {
        let err = dir.register(&reg(1, ts), T0).unwrap_err();
        assert!(matches!(err, DirectoryError::ClockSkew { .. }), "{err}");
        assert_eq!(err.status(), 406);
    }
    assert_eq!(dir.height(), 0);
    // The edges of the window are accepted.
    dir.register(&reg(1, T0 - MAX_CLOCK_SKEW_MS), T0).unwrap();
    dir.proof(&Proof::sign(&key(1), T0 + MAX_CLOCK_SKEW_MS), T0)
        .unwrap();
    let err = dir
        .proof(&Proof::sign(&key(1), T0 - MAX_CLOCK_SKEW_MS - 1), T0)
        .unwrap_err();
    assert_eq!(err.status(), 406);
}

#[test]
fn replays_are_refused() {
    let mut dir = with_nodes(1);
    let err = dir.register(&reg(1, T0), T0 + 1).unwrap_err();
    assert!(matches!(err, DirectoryError::Replayed { .. }));
    assert_eq!(err.status(), 409);
    let proof = Proof::sign(&key(1), T0 + 5);
    dir.proof(&proof, T0 + 5).unwrap();
    assert_eq!(dir.proof(&proof, T0 + 6).unwrap_err().status(), 409);
    // An older registration (say, an old address) cannot be replayed over a newer one.
    dir.register(&reg_at(1, 22022, T0 + 10), T0 + 10).unwrap();
    assert_eq!(
        dir.register(&reg(1, T0 + 9), T0 + 11).unwrap_err().status(),
        409
    );
    assert_eq!(dir.node_list().nodes[0].storage_port(), 22022);
}

#[test]
fn allowlist_refuses_other_nodes() {
    let mut dir = Directory::new(Policy {
        decommission_after_ms: AFTER,
        allowlist: [key(1).public_key(), key(2).public_key()].into(),
        admission: Admission::Allowlist,
        limits: Limits::NONE,
        min_epoch_interval_ms: 0,
    });
    dir.register(&reg(1, T0), T0).unwrap();
    let err = dir.register(&reg(3, T0), T0).unwrap_err();
    assert!(matches!(err, DirectoryError::NotAllowed { .. }), "{err}");
    assert_eq!(err.status(), 403);
    assert_eq!(
        dir.proof(&Proof::sign(&key(3), T0), T0)
            .unwrap_err()
            .status(),
        403
    );
    assert_eq!(dir.node_list().nodes.len(), 1);
    assert_eq!(dir.epoch(), 1);
}

#[test]
fn proof_from_an_unknown_node_asks_it_to_register() {
    let mut dir = open();
    let err = dir.proof(&Proof::sign(&key(1), T0), T0).unwrap_err();
    assert!(matches!(err, DirectoryError::NotRegistered { .. }));
    assert_eq!(err.status(), 404);
}

#[test]
fn proofs_keep_a_node_active_and_nothing_changes() {
    let mut dir = with_nodes(7);
    let (height, before) = (dir.height(), swarms(&dir));
    for step in 1..=60u64 {
        let now = T0 + step * 1000;
        if step % 5 == 0 {
            for n in 1..=7 {
                let ack = dir.proof(&Proof::sign(&key(n), now), now).unwrap();
                assert!(ack.active);
            }
        }
        assert!(!dir.tick(now), "step {step}");
    }
    assert_eq!(dir.height(), height);
    assert_eq!(swarms(&dir), before);
}

#[test]
fn missed_proofs_decommission_then_a_proof_recommissions() {
    let mut dir = with_nodes(8);
    let epoch = dir.epoch();
    let now = T0 + AFTER - 1;
    for n in 1..=7 {
        dir.proof(&Proof::sign(&key(n), now), now).unwrap();
    }
    assert!(!dir.tick(now));
    // Node 8 sent nothing since T0.
    assert!(dir.tick(T0 + AFTER));
    assert_eq!(dir.epoch(), epoch + 1);
    let list = dir.node_list();
    assert_eq!(list.nodes.len(), 7);
    assert!(
        list.nodes
            .iter()
            .all(|n| n.pubkey_ed25519() != key(8).public_key())
    );
    let eight = dir
        .entries()
        .find(|e| e.listing.pubkey_ed25519() == key(8).public_key())
        .unwrap();
    assert!(!eight.active);
    assert_eq!(eight.listing.swarm_id(), INVALID_SWARM_ID);
    // No second epoch for the same absence.
    assert!(!dir.tick(T0 + AFTER + 1));

    let back = T0 + AFTER + 5000;
    let ack = dir.proof(&Proof::sign(&key(8), back), back).unwrap();
    assert!(ack.active && ack.swarm_id.is_valid());
    assert_eq!(ack.epoch, epoch + 2);
    assert_eq!(dir.node_list().nodes.len(), 8);
}

#[test]
fn registration_recommissions_too() {
    let mut dir = with_nodes(1);
    assert!(dir.tick(T0 + AFTER));
    assert!(dir.node_list().nodes.is_empty());
    let ack = dir
        .register(&reg(1, T0 + AFTER + 1), T0 + AFTER + 1)
        .unwrap();
    assert!(ack.active);
    assert_eq!(ack.epoch, 3);
}

#[test]
fn decommissioned_nodes_are_forgotten_later() {
    let mut dir = with_nodes(1);
    assert!(dir.tick(T0 + AFTER));
    assert_eq!(dir.entries().count(), 1);
    assert!(!dir.tick(T0 + AFTER * FORGET_AFTER_PERIODS - 1));
    let height = dir.height();
    assert!(dir.tick(T0 + AFTER * FORGET_AFTER_PERIODS));
    assert_eq!(dir.entries().count(), 0);
    // Forgetting an inactive node does not change the list.
    assert_eq!(dir.height(), height);
    let now = T0 + AFTER * FORGET_AFTER_PERIODS;
    assert_eq!(
        dir.proof(&Proof::sign(&key(1), now), now)
            .unwrap_err()
            .status(),
        404
    );
}

#[test]
fn swarms_change_only_on_epoch_change() {
    let mut dir = with_nodes(14);
    let (epoch, height, before) = (dir.epoch(), dir.height(), swarms(&dir));
    // Re-registering with the same details changes nothing.
    dir.register(&reg(3, T0 + 100), T0 + 100).unwrap();
    assert_eq!((dir.epoch(), dir.height()), (epoch, height));
    // A new port is a new height, not a new epoch; swarms stay.
    dir.register(&reg_at(3, 30000, T0 + 200), T0 + 200).unwrap();
    assert_eq!((dir.epoch(), dir.height()), (epoch, height + 1));
    assert_eq!(swarms(&dir), before);
    // A join is a new epoch; every old node keeps its swarm or moves only through assignment,
    // and the new node gets one.
    dir.register(&reg(15, T0 + 300), T0 + 300).unwrap();
    assert_eq!((dir.epoch(), dir.height()), (epoch + 1, height + 2));
    assert!(
        dir.node_list()
            .nodes
            .iter()
            .all(|n| n.swarm_id().is_valid())
    );
    assert_ne!(dir.epoch_hash(), [0; 32]);
}

#[test]
fn epoch_hash_chains_and_seeds_the_same_swarms() {
    // Two directories fed the same events agree on everything.
    let a = with_nodes(20);
    let b = with_nodes(20);
    assert_eq!(a, b);
    assert_eq!(a.node_list(), b.node_list());
    // A different history to the same set gives another epoch hash.
    let mut c = open();
    for i in (1..=20).rev() {
        c.register(&reg(i, T0), T0).unwrap();
    }
    assert_ne!(a.epoch_hash(), c.epoch_hash());
}

#[test]
fn restart_keeps_state_and_gives_nodes_grace() {
    let mut dir = with_nodes(14);
    dir.tick(T0 + 1);
    let saved = dir.save();
    let policy = Policy {
        decommission_after_ms: AFTER,
        allowlist: BTreeSet::new(),
        admission: Admission::Open,
        limits: Limits::NONE,
        min_epoch_interval_ms: 0,
    };
    // Restarted an hour later: nobody is decommissioned at once.
    let later = T0 + 3_600_000;
    let (mut back, changed) = Directory::restore(saved.as_bytes(), policy, later).unwrap();
    assert!(!changed);
    assert_eq!(back.node_list(), dir.node_list());
    assert_eq!(back.epoch_hash(), dir.epoch_hash());
    assert!(!back.tick(later + AFTER - 1));
    assert!(back.tick(later + AFTER));
    // Replay protection survives too.
    assert_eq!(back.register(&reg(1, T0), later).unwrap_err().status(), 406);
    let (mut again, _) = Directory::restore(
        saved.as_bytes(),
        Policy {
            decommission_after_ms: AFTER,
            allowlist: BTreeSet::new(),
            admission: Admission::Open,
            limits: Limits::NONE,
            min_epoch_interval_ms: 0,
        },
        T0 + 10,
    )
    .unwrap();
    assert_eq!(
        again.register(&reg(1, T0), T0 + 10).unwrap_err().status(),
        409
    );
}

#[test]
fn restore_applies_a_new_allowlist() {
    let dir = with_nodes(8);
    let allow: BTreeSet<_> = (1..=7).map(|n| key(n).public_key()).collect();
    let (back, changed) = Directory::restore(
        dir.save().as_bytes(),
        Policy {
            decommission_after_ms: AFTER,
            allowlist: allow,
            admission: Admission::Allowlist,
            limits: Limits::NONE,
            min_epoch_interval_ms: 0,
        },
        T0,
    )
    .unwrap();
    assert!(changed);
    assert_eq!(back.epoch(), dir.epoch() + 1);
    assert_eq!(back.node_list().nodes.len(), 7);
    assert_eq!(back.entries().count(), 7);
}

#[test]
fn restore_rejects_bad_state() {
    let policy = || Policy {
        decommission_after_ms: AFTER,
        allowlist: BTreeSet::new(),
        admission: Admission::Open,
        limits: Limits::NONE,
        min_epoch_interval_ms: 0,
    };
    assert!(matches!(
        Directory::restore(b"{}", policy(), T0),
        Err(StateError::Json(_))
    ));
    let mut v: Value = serde_json::from_str(&with_nodes(1).save()).unwrap();
    v["version"] = 9.into();
    assert!(matches!(
        Directory::restore(v.to_string().as_bytes(), policy(), T0),
        Err(StateError::Version { found: 9 })
    ));
    v["version"] = STATE_VERSION.into();
    v["nodes"][0]["public_ip"] = "0.0.0.0".into();
    assert!(matches!(
        Directory::restore(v.to_string().as_bytes(), policy(), T0),
        Err(StateError::Node { index: 0, .. })
    ));
    v["nodes"][0]["public_ip"] = "127.0.0.1".into();
    v["epoch_hash"] = "00".into();
    assert!(matches!(
        Directory::restore(v.to_string().as_bytes(), policy(), T0),
        Err(StateError::Hex {
            field: "epoch_hash"
        })
    ));
}

#[test]
fn signed_list_verifies_and_tampering_fails() {
    let mut dir = with_nodes(9);
    dir.tick(T0 + AFTER); // all decommissioned …
    for n in 1..=8 {
        let now = T0 + AFTER + u64::from(n);
        dir.proof(&Proof::sign(&key(n), now), now).unwrap(); // … and 8 back: node 9 is inactive
    }
    let pk = directory_key().public_key();
    let answer = rpc(&dir, &full_list_request());
    let list = verify_node_list(answer.to_string().as_bytes(), &pk).unwrap();
    assert_eq!(list, dir.node_list());
    assert_eq!(list.nodes.len(), 8);
    // The `result` object alone verifies too, and inactive entries are skipped.
    let everything = rpc(&dir, &json!({"method": "get_n_service_nodes"}));
    assert_eq!(
        everything["result"]["service_node_states"]
            .as_array()
            .unwrap()
            .len(),
        9
    );
    assert_eq!(
        verify_node_list(everything["result"].to_string().as_bytes(), &pk).unwrap(),
        list
    );

    let tampered = |f: &dyn Fn(&mut Value)| {
        let mut a = answer.clone();
        f(&mut a["result"]);
        verify_node_list(a.to_string().as_bytes(), &pk).unwrap_err()
    };
    let swarm = list.nodes[0].swarm_id().0;
    assert!(matches!(
        tampered(&|r| r["service_node_states"][0]["swarm_id"] = (swarm ^ 1).into()),
        ListError::HashMismatch
    ));
    assert!(matches!(
        tampered(&|r| r["service_node_states"][2]["public_ip"] = "10.0.0.1".into()),
        ListError::HashMismatch
    ));
    assert!(matches!(
        tampered(&|r| {
            r["service_node_states"].as_array_mut().unwrap().pop();
        }),
        ListError::HashMismatch
    ));
    assert!(matches!(
        tampered(&|r| r["service_node_states"][1]["active"] = false.into()),
        ListError::HashMismatch
    ));
    assert!(matches!(
        tampered(&|r| {
            let first = r["service_node_states"][0].clone();
            r["service_node_states"].as_array_mut().unwrap().push(first);
        }),
        ListError::DuplicateNode { index: 8 }
    ));
    assert!(matches!(
        tampered(&|r| r["height"] = (list.height + 1).into()),
        ListError::BadSignature
    ));
    // The epoch is signed too (S-19).
    assert!(matches!(
        tampered(&|r| r["epoch"] = (list.epoch + 1).into()),
        ListError::BadSignature
    ));
    // A hash recomputed over altered nodes does not carry the directory's signature.
    assert!(matches!(
        tampered(&|r| {
            r["service_node_states"].as_array_mut().unwrap().pop();
            let mut nodes = list.nodes.clone();
            nodes.pop();
            r["block_hash"] = hex::encode(list_hash(&nodes)).into();
        }),
        ListError::BadSignature
    ));
    assert!(matches!(
        tampered(&|r| r["service_node_states"][0]["pubkey_x25519"] = hex::encode([1u8; 32]).into()),
        ListError::Entry { index: 0, .. }
    ));
    assert!(matches!(
        tampered(&|r| r["directory_signature"] = "AAAA".into()),
        ListError::Field {
            field: "directory_signature"
        }
    ));
    assert!(matches!(
        tampered(&|r| r["block_hash"] = "xyz".into()),
        ListError::Field {
            field: "block_hash"
        }
    ));
    // Another directory's key.
    assert!(matches!(
        verify_node_list(answer.to_string().as_bytes(), &key(201).public_key()),
        Err(ListError::BadSignature)
    ));
}

#[test]
fn filtered_or_limited_answers_do_not_verify() {
    let dir = with_nodes(7);
    let pk = directory_key().public_key();
    let filtered = rpc(
        &dir,
        &json!({"jsonrpc": "2.0", "id": 2, "method": "get_n_service_nodes", "params": {
            "active_only": true,
            "fields": {"public_ip": true, "storage_port": true, "pubkey_x25519": true,
                       "pubkey_ed25519": true, "storage_server_version": true}
        }}),
    );
    let entry = filtered["result"]["service_node_states"][0]
        .as_object()
        .unwrap();
    let mut names: Vec<_> = entry.keys().cloned().collect();
    names.sort();
    assert_eq!(
        names,
        [
            "pubkey_ed25519",
            "pubkey_x25519",
            "public_ip",
            "storage_port",
            "storage_server_version"
        ]
    );
    assert!(matches!(
        verify_node_list(filtered.to_string().as_bytes(), &pk),
        Err(ListError::Entry { index: 0, .. })
    ));
    let limited = rpc(
        &dir,
        &json!({"jsonrpc": "2.0", "id": 3, "method": "get_service_nodes", "params": {"limit": 3}}),
    );
    assert_eq!(
        limited["result"]["service_node_states"]
            .as_array()
            .unwrap()
            .len(),
        3
    );
    assert!(matches!(
        verify_node_list(limited.to_string().as_bytes(), &pk),
        Err(ListError::HashMismatch)
    ));
    // A negative limit only shuffles: the full list still verifies.
    let shuffled = rpc(
        &dir,
        &json!({"jsonrpc": "2.0", "id": 3, "method": "get_service_nodes", "params": {"limit": -1}}),
    );
    assert_eq!(
        shuffled["result"]["service_node_states"]
            .as_array()
            .unwrap()
            .len(),
        7
    );
    verify_node_list(shuffled.to_string().as_bytes(), &pk).unwrap();
}

#[test]
fn json_rpc_answers_in_oxend_shape() {
    let dir = with_nodes(7);
    let answer = rpc(&dir, &full_list_request());
    assert_eq!(answer["jsonrpc"], "2.0");
    assert_eq!(answer["id"], 1);
    let r = &answer["result"];
    assert_eq!(r["height"], 7);
    assert_eq!(r["target_height"], 7);
    assert_eq!(r["epoch"], 7);
    assert_eq!(r["status"], "OK");
    assert_eq!(r["hardfork"], HARDFORK);
    assert_eq!(r["snode_revision"], SNODE_REVISION);
    assert_eq!(r["block_hash"], hex::encode(dir.node_list().block_hash));
    let node = &r["service_node_states"][0];
    let listing = &dir.node_list().nodes[0];
    let ed = hex::encode(listing.pubkey_ed25519().as_bytes());
    assert_eq!(node["pubkey_ed25519"], ed.as_str());
    assert_eq!(node["service_node_pubkey"], ed.as_str());
    assert_eq!(
        node["pubkey_x25519"],
        hex::encode(listing.pubkey_x25519().as_bytes()).as_str()
    );
    assert_eq!(node["public_ip"], listing.public_ip().to_string().as_str());
    assert_eq!(node["storage_port"], 22021);
    assert!(node.get("storage_lmq_port").is_none());
    assert_eq!(node["swarm_id"], listing.swarm_id().0);
    assert_eq!(
        node["swarm"],
        format!("{:x}", listing.swarm_id().0).as_str()
    );
    assert_eq!(node["active"], true);
    assert_eq!(node["funded"], true);
    assert_eq!(node["storage_server_version"], json!([2, 8, 0]));

    // Field lists: names, "all", "-name"; unknown names are ignored.
    let fields = |f: Value| {
        let a = rpc(
            &dir,
            &json!({"method": "get_service_nodes", "params": {"fields": f}}),
        );
        let mut names: Vec<String> = a["result"]["service_node_states"][0]
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect();
        names.sort();
        names
    };
    assert_eq!(
        fields(json!(["swarm_id", "public_ip", "height", "nonsense"])),
        ["public_ip", "swarm_id"]
    );
    assert_eq!(
        fields(json!(["all", "-swarm", "-funded", "-service_node_pubkey"])).len(),
        7
    );
    assert_eq!(fields(json!("all")).len(), 10);
    assert_eq!(fields(json!({"swarm": true, "active": false})), ["swarm"]);

    // Filtering by key; polling an unchanged hash.
    let one = rpc(
        &dir,
        &json!({"method": "get_service_nodes", "params": {"service_node_pubkeys": [ed]}}),
    );
    assert_eq!(
        one["result"]["service_node_states"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let unchanged = rpc(
        &dir,
        &json!({"method": "get_service_nodes", "params": {"poll_block_hash": r["block_hash"]}}),
    );
    assert_eq!(unchanged["result"]["unchanged"], true);
    assert!(unchanged["result"].get("service_node_states").is_none());
    assert!(matches!(
        verify_node_list(
            unchanged.to_string().as_bytes(),
            &directory_key().public_key()
        ),
        Err(ListError::Unchanged)
    ));
    let changed = rpc(
        &dir,
        &json!({"method": "get_service_nodes", "params": {"poll_block_hash": "00"}}),
    );
    assert_eq!(
        changed["result"]["service_node_states"]
            .as_array()
            .unwrap()
            .len(),
        7
    );
}

#[test]
fn json_rpc_errors() {
    let dir = with_nodes(1);
    let code = |body: &[u8]| {
        json_rpc(&dir, &directory_key(), body, &mut rng())["error"]["code"]
            .as_i64()
            .unwrap()
    };
    assert_eq!(code(b"{"), -32700);
    assert_eq!(code(b"[]"), -32600);
    assert_eq!(
        code(br#"{"jsonrpc":"1.0","method":"get_service_nodes"}"#),
        -32600
    );
    assert_eq!(code(br#"{"jsonrpc":"2.0","id":4}"#), -32600);
    assert_eq!(code(br#"{"jsonrpc":"2.0","method":"get_info"}"#), -32601);
    for params in [
        r#"[1]"#,
        r#"{"active_only":"yes"}"#,
        r#"{"limit":"3"}"#,
        r#"{"fields":7}"#,
        r#"{"fields":[1]}"#,
        r#"{"fields":{"swarm":1}}"#,
        r#"{"service_node_pubkeys":["zz"]}"#,
        r#"{"service_node_pubkeys":"ab"}"#,
        r#"{"poll_block_hash":5}"#,
    ] {
        let body = format!(
            r#"{{"jsonrpc":"2.0","id":"x","method":"get_service_nodes","params":{params}}}"#
        );
        let answer = json_rpc(&dir, &directory_key(), body.as_bytes(), &mut rng());
        assert_eq!(answer["error"]["code"], -32602, "{params}");
        assert_eq!(answer["id"], "x");
    }
    let answer = json_rpc(
        &dir,
        &directory_key(),
        br#"{"jsonrpc":"2.0","id":9,"method":"get_service_nodes","params":{"active_only":true}}"#,
        &mut rng(),
    );
    assert!(answer.get("error").is_none());
    let err = verify_node_list(
        json_rpc(&dir, &directory_key(), b"{", &mut rng())
            .to_string()
            .as_bytes(),
        &directory_key().public_key(),
    )
    .unwrap_err();
    assert!(
        matches!(err, ListError::RpcError { code: -32700, .. }),
        "{err}"
    );
}

fn policy(admission: Admission, allow: &[u8], limits: Limits, interval: u64) -> Policy {
    Policy {
        decommission_after_ms: AFTER,
        admission,
        allowlist: allow.iter().map(|&n| key(n).public_key()).collect(),
        limits,
        min_epoch_interval_ms: interval,
    }
}

fn reg_ip(n: u8, ip: [u8; 4], ts: u64) -> Registration {
    Registration::sign(
        &key(n),
        Ipv4Addr::from(ip),
        22021,
        NodeVersion::from([2, 8, 0]),
        ts,
    )
    .unwrap()
}

/// S-03: the default admission is the allowlist, and an empty one admits no one, saying why.
#[test]
fn the_default_admits_no_one_without_an_allowlist() {
    let config =
        crate::config::Config::parse("data_dir = \"d\"\nlisten = \"127.0.0.1:1\"\n").unwrap();
    let mut dir = Directory::new(config.policy());
    let err = dir.register(&reg(1, T0), T0).unwrap_err();
    assert!(matches!(err, DirectoryError::NoAdmission), "{err}");
    assert_eq!(err.status(), 403);
    assert!(err.to_string().contains("admission = \"open\""), "{err}");
    assert!(dir.check_registration(&reg(1, T0), T0).is_err());
    assert_eq!(dir.entries().count(), 0);
}

/// S-03: per-address, per-/24 and total caps on the nodes the allowlist does not name;
/// allowlisted nodes join above them.
#[test]
fn caps_per_address_subnet_and_list() {
    let limits = Limits {
        max_nodes: 5,
        max_nodes_per_ip: 2,
        max_nodes_per_subnet: 3,
    };
    let mut dir = Directory::new(policy(Admission::Open, &[50], limits, 0));
    dir.register(&reg_ip(1, [10, 0, 0, 1], T0), T0).unwrap();
    dir.register(&reg_ip(2, [10, 0, 0, 1], T0), T0).unwrap();
    let err = dir.register(&reg_ip(3, [10, 0, 0, 1], T0), T0).unwrap_err();
    assert!(
        matches!(err, DirectoryError::AddressFull { limit: 2, .. }),
        "{err}"
    );
    assert_eq!(err.status(), 403);
    dir.register(&reg_ip(3, [10, 0, 0, 2], T0), T0).unwrap();
    let err = dir.register(&reg_ip(4, [10, 0, 0, 3], T0), T0).unwrap_err();
    assert!(
        matches!(err, DirectoryError::SubnetFull { limit: 3, .. }),
        "{err}"
    );
    // The allowlisted node joins in the full /24, on the full address.
    dir.register(&reg_ip(50, [10, 0, 0, 1], T0), T0).unwrap();
    // Other subnets fill the list.
    dir.register(&reg_ip(5, [10, 0, 1, 1], T0), T0).unwrap();
    let err = dir.register(&reg_ip(6, [10, 0, 2, 1], T0), T0).unwrap_err();
    assert!(
        matches!(err, DirectoryError::ListFull { limit: 5 }),
        "{err}"
    );
    assert_eq!(err.status(), 503);
    assert_eq!(dir.node_list().nodes.len(), 5);
    // A registered node re-registering at its address is not counted against itself; one
    // moving into a full /24 is refused.
    assert!(
        !dir.check_registration(&reg_ip(1, [10, 0, 0, 1], T0 + 1), T0)
            .unwrap()
    );
    assert!(matches!(
        dir.register(&reg_ip(5, [10, 0, 0, 9], T0 + 1), T0),
        Err(DirectoryError::SubnetFull { .. })
    ));
    // A moved address needs a check, a new node too.
    assert!(
        dir.check_registration(&reg_ip(5, [10, 0, 3, 9], T0 + 1), T0)
            .unwrap()
    );
}

/// S-03: epochs come at most once per interval; joins in between wait and enter together,
/// and the signed list does not change until then.
#[test]
fn epochs_are_rate_limited_and_batched() {
    let mut dir = Directory::new(policy(Admission::Open, &[], Limits::NONE, 1000));
    let ack = dir.register(&reg(1, T0), T0).unwrap();
    assert!(ack.active && ack.swarm_id.is_valid());
    assert_eq!(dir.epoch(), 1);
    let list = dir.node_list();
    for n in 2..=6 {
        let now = T0 + u64::from(n) * 100;
        let ack = dir.register(&reg(n, now), now).unwrap();
        assert!(
            !ack.active && !ack.swarm_id.is_valid(),
            "listed at the next epoch"
        );
        dir.tick(now);
    }
    assert_eq!(dir.node_list(), list);
    assert!(dir.epoch_pending());
    dir.tick(T0 + 999);
    assert_eq!(dir.node_list(), list);
    dir.tick(T0 + 1000);
    assert_eq!(dir.epoch(), 2);
    assert_eq!(dir.node_list().nodes.len(), 6);
    assert!(!dir.epoch_pending());
    let ack = dir
        .proof(&Proof::sign(&key(6), T0 + 1001), T0 + 1001)
        .unwrap();
    assert!(ack.active && ack.swarm_id.is_valid());
    // A flood of joins makes one epoch per interval, not one per join.
    for n in 7..=60u8 {
        let now = T0 + 1000 + u64::from(n) * 10;
        dir.register(&reg(n, now), now).unwrap();
        dir.tick(now);
    }
    assert_eq!(dir.epoch(), 2);
    dir.tick(T0 + 2000);
    assert_eq!(dir.epoch(), 3);
    assert_eq!(dir.node_list().nodes.len(), 60);
    // Saved and restored mid-wait: the wait is not lost.
    dir.register(&reg(61, T0 + 2001), T0 + 2001).unwrap();
    let (back, changed) = Directory::restore(
        dir.save().as_bytes(),
        policy(Admission::Open, &[], Limits::NONE, 1000),
        T0 + 2002,
    )
    .unwrap();
    assert!(changed);
    assert_eq!(back.node_list().nodes.len(), 61);
}
