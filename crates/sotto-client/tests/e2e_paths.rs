//! Path privacy end to end, on real processes: guards persisted per profile survive a restart of
//! the client (127.190.0.x), and a fake 421 from a rogue server holding a listed node's
//! identity on its address, naming keys outside the signed list, is not followed
//! (127.191.0.x).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::collections::BTreeSet;
use std::net::Ipv4Addr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use common::{STEP, TestNet, User, add_contact_offline, new_account, wait_for};
use sotto_client::{Hop, MessageState, Network, NetworkError};
use sotto_crypto::{Ed25519PublicKey, Ed25519SecretKey, OsRng};
use sotto_onion::{Decision, OnionRequest, ReplyBody, X25519Keypair, seal_v3};
use sotto_rpc::request::{Lifetime, Store};
use sotto_rpc::response::{GetSwarmResponse, Meta, SwarmNode};
use sotto_rpc::{AccountId, Encoding, Namespace};
use sotto_transport::{Response, TlsIdentity};

fn keys(hops: &[Hop]) -> BTreeSet<String> {
    hops.iter().map(|h| h.ed25519.clone()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guards_survive_a_restart_of_the_client() {
    let net = TestNet::start(190, 6).await;
    let account = new_account();
    let db = net.dir.path().join("alice.db");
    // Next to the node cache (`alice.nodes.json`, see `common::onion_config`).
    let guard_file = db.with_extension("nodes.guards.json");

    let first = User::connect(&net, "alice", account.clone(), db.clone()).await;
    let guards = first.onion().guards();
    assert_eq!(guards.len(), 2, "{guards:?}");
    // A message goes through (so the guards carried real traffic), never through its target.
    let bob = new_account();
    let out = first
        .client
        .send_text(&bob.session_id(), "hello")
        .await
        .unwrap();
    assert!(matches!(out.state, MessageState::Stored { .. }), "{out:?}");
    for t in first.onion().take_traces() {
        assert!(
            t.path.iter().all(|h| h.ed25519 != t.target.ed25519),
            "{t:?}"
        );
    }
    drop(first);

    // The guards are on disk, private to the user.
    let mode = std::fs::metadata(&guard_file).unwrap().permissions();
    assert_eq!(
        std::os::unix::fs::PermissionsExt::mode(&mode) & 0o777,
        0o600
    );

    // A second client on the same profile, then a third: the same guards each time.
    for run in 2..=3 {
        let again = User::connect(&net, "alice", account.clone(), db.clone()).await;
        assert_eq!(
            keys(&again.onion().guards()),
            keys(&guards),
            "run {run}: the guards of the first run"
        );
        let firsts: BTreeSet<String> = again
            .onion()
            .paths()
            .iter()
            .map(|p| p[0].ed25519.clone())
            .collect();
        assert!(firsts.is_subset(&keys(&guards)), "run {run}: {firsts:?}");
    }
}

/// A rogue server on a stopped node's address with that node's identity: it answers every
/// onion request for itself with a 421 naming `fake` (keys no signed list holds), and counts
/// them. Anything else (relaying, direct calls) gets a 502.
async fn rogue(
    net: &TestNet,
    index: usize,
    fake: Vec<SwarmNode>,
) -> (Arc<AtomicUsize>, tokio::task::JoinHandle<()>) {
    let node = &net.tn.nodes[index];
    let seed = std::fs::read_to_string(node.data_dir.join("identity.key")).unwrap();
    let key = Ed25519SecretKey::from_bytes(&hex::decode(seed.trim()).unwrap()).unwrap();
    assert_eq!(key.public_key(), node.pubkey);
    let tls = TlsIdentity::new(&key).unwrap();
    let onion_key = Arc::new(X25519Keypair::from_ed25519(&key));
    let body = Arc::new(
        String::from_utf8(
            GetSwarmResponse {
                snodes: fake,
                swarm_id: 7,
                meta: Meta::new(common::now_ms(), [2, 8]),
            }
            .encode(Encoding::Json),
        )
        .unwrap(),
    );
    let hits = Arc::new(AtomicUsize::new(0));
    let listener = tokio::net::TcpListener::bind(node.addr).await.unwrap();
    let counter = Arc::clone(&hits);
    let task = tokio::spawn(async move {
        let _ = sotto_transport::serve(listener, tls, 10 << 20, move |req| {
            let (onion_key, body, counter) = (
                Arc::clone(&onion_key),
                Arc::clone(&body),
                Arc::clone(&counter),
            );
            async move {
                if req.path != "/sn/onion" {
                    return Response::text(502, "rogue");
                }
                let Ok(onion) = OnionRequest::from_node_frame(&req.body) else {
                    return Response::text(400, "Invalid onion request");
                };
                let Ok(layer) = onion_key.open(&onion) else {
                    return Response::text(400, "Invalid ciphertext");
                };
                let options = match layer.route() {
                    Ok(Decision::FinalDestination(fin)) => fin.options,
                    _ => return Response::text(502, "rogue"),
                };
                counter.fetch_add(1, Ordering::SeqCst);
                let sealed = seal_v3(
                    layer.reply_key(),
                    421,
                    ReplyBody::Json(&body),
                    options,
                    &mut OsRng,
                )
                .unwrap();
                Response::bytes(200, "application/octet-stream", sealed)
            }
        })
        .await;
    });
    (hits, task)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fake_421_naming_keys_outside_the_signed_list_is_not_followed() {
    let mut net = TestNet::start(191, 7).await;
    let (alice_acc, bob_acc) = (new_account(), new_account());
    let alice_db = net.dir.path().join("alice.db");
    add_contact_offline(&alice_db, &alice_acc, &bob_acc.session_id(), "bob");
    let alice = User::connect(&net, "alice", alice_acc.clone(), alice_db.clone()).await;
    let bob_account = AccountId::from(bob_acc.session_id());
    let swarm = alice.onion().get_swarm(bob_account).await.unwrap();

    // The victim: a node of Bob's swarm (every node here) that is not one of Alice's guards.
    let guards = keys(&alice.onion().guards());
    let victim = (0..net.tn.nodes.len())
        .find(|&i| !guards.contains(&hex::encode(net.tn.nodes[i].pubkey.as_bytes())))
        .unwrap();
    let victim_key = net.tn.nodes[victim].pubkey;
    let target = swarm
        .iter()
        .find(|n| n.pubkey_ed25519 == victim_key)
        .unwrap()
        .clone();
    // Made-up nodes: keys no signed list holds, on this test's addresses.
    let fake: Vec<SwarmNode> = (0..3u8)
        .map(|i| {
            let key = Ed25519SecretKey::generate(&mut OsRng).public_key();
            SwarmNode {
                pubkey_ed25519: key,
                pubkey_x25519: key.to_x25519().unwrap().0,
                ip: Ipv4Addr::new(127, 191, 0, 200 + i),
                port_https: 22_021,
                port_omq: 0,
            }
        })
        .collect();
    let fake_keys: BTreeSet<Ed25519PublicKey> = fake.iter().map(|n| n.pubkey_ed25519).collect();
    net.tn.stop(victim).unwrap();
    let (hits, task) = rogue(&net, victim, fake).await;
    eprintln!("rogue on {} ({victim})", net.tn.nodes[victim].addr);

    // The network layer: the 421 makes it fetch the signed list again, which still puts Bob on
    // the victim: the request fails, and the fake keys are never handed out.
    let store = Store::new(
        bob_account,
        Namespace::DEFAULT,
        b"to the rogue".to_vec(),
        common::now_ms(),
        Lifetime::Ttl(3_600_000),
    );
    match alice.onion().store(target, store).await {
        Err(NetworkError::WrongSwarmUnconfirmed { refreshes }) => assert!(refreshes >= 1),
        other => panic!("expected an unconfirmed 421, got {other:?}"),
    }
    assert!(hits.load(Ordering::SeqCst) >= 1, "the rogue was asked");
    let after = alice.onion().get_swarm(bob_account).await.unwrap();
    assert!(after.iter().all(|n| !fake_keys.contains(&n.pubkey_ed25519)));
    assert_eq!(after.len(), swarm.len());

    // The client: Alice starts again (her first client may have given up on the victim while
    // it was down; her guards are the same, so the rogue is not one). Her poller meets the
    // rogue too (her own swarm is the same seven); her messages to Bob are stored on the
    // honest nodes, and no request ever goes to a fake key.
    drop(alice);
    let alice = User::connect(&net, "alice", alice_acc, alice_db).await;
    assert_eq!(keys(&alice.onion().guards()), guards);
    let before = hits.load(Ordering::SeqCst);
    let mut states = Vec::new();
    for i in 0..4 {
        let out = alice
            .client
            .send_text(&bob_acc.session_id(), &format!("past the rogue #{i}"))
            .await
            .unwrap();
        states.push(out.state);
    }
    wait_for(
        "the rogue to answer the client's own requests",
        STEP,
        || async { (hits.load(Ordering::SeqCst) > before).then_some(()) },
    )
    .await;
    let traces = alice.onion().take_traces();
    for t in &traces {
        let target: [u8; 32] = hex::decode(&t.target.ed25519).unwrap().try_into().unwrap();
        assert!(
            !fake_keys.contains(&Ed25519PublicKey(target)),
            "a request went to a node only the 421 named: {t:?}"
        );
    }
    assert!(
        traces.iter().any(|t| t.status == Some(421)),
        "the rogue's 421s are in the traces"
    );
    let bob = net.user("bob", &bob_acc).await;
    for i in 0..4 {
        bob.wait_message(&alice.id(), &format!("past the rogue #{i}"))
            .await;
    }
    eprintln!(
        "states: {states:?}; rogue hits: {}",
        hits.load(Ordering::SeqCst)
    );
    task.abort();
    let _ = tokio::time::timeout(Duration::from_secs(1), task).await;
}
