//! End-to-end delivery while nodes die (`kill -9` through the harness), each test on its own
//! small testnet (one swarm): two nodes of the recipient's swarm killed (127.62.0.x), and the
//! guard of the sender's path killed mid-conversation (127.63.0.x), and a swarm split the
//! sender's node cache does not know of, answered by 421s (127.64.0.x). Nothing shown as sent
//! may be lost, and nothing may arrive twice.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::collections::BTreeSet;
use std::time::Instant;

use common::{STEP, TestNet, User, add_contact_offline, guards, new_account, onion_config};
use sotto_client::{
    Hop, MessageId, MessageState, Network, NetworkError, OnionNetwork, SessionId, Trace,
};
use sotto_rpc::AccountId;
use sotto_rpc::request::{Lifetime, Store};

/// Alice and Bob, contacts of each other, both connected.
async fn alice_and_bob(net: &TestNet) -> (User, User) {
    let (alice_acc, bob_acc) = (new_account(), new_account());
    let alice_db = net.dir.path().join("alice.db");
    let bob_db = net.dir.path().join("bob.db");
    add_contact_offline(&alice_db, &alice_acc, &bob_acc.session_id(), "bob");
    add_contact_offline(&bob_db, &bob_acc, &alice_acc.session_id(), "alice");
    let alice = User::connect(net, "alice", alice_acc, alice_db).await;
    let bob = User::connect(net, "bob", bob_acc, bob_db).await;
    (alice, bob)
}

/// Waits until `to` shows exactly `texts` from `from`, in order, once each.
async fn arrived_in_order(to: &User, from: &SessionId, texts: &[String]) {
    let got = to
        .wait_state("every message", STEP, |u| {
            let got: Vec<String> = u
                .history(from)
                .into_iter()
                .filter(|m| !m.outgoing)
                .filter_map(|m| m.body)
                .collect();
            (got.len() >= texts.len()).then_some(got)
        })
        .await;
    assert_eq!(got, texts, "{} got every message, in order, once", to.name);
}

/// The state of each of `messages` on the sender's side, once none is pending any more.
async fn settled(user: &User, messages: &[MessageId]) -> Vec<MessageState> {
    user.wait_state("every message to be stored", STEP, |u| {
        let states: Vec<MessageState> = messages
            .iter()
            .map(|m| {
                u.client
                    .with_engine(|e| e.message(*m))
                    .unwrap()
                    .unwrap()
                    .state
            })
            .collect();
        (!states.iter().any(|s| s.is_pending())).then_some(states)
    })
    .await
}

fn describe(trace: &Trace) -> String {
    let hops: Vec<String> = trace.path.iter().map(|h| h.addr.ip().to_string()).collect();
    format!(
        "{} via {} → {} status {:?} attempt {}",
        trace.method,
        hops.join(" → "),
        trace.target.addr.ip(),
        trace.status,
        trace.attempt
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delivery_with_two_nodes_of_the_recipients_swarm_killed() {
    let start = Instant::now();
    let mut net = TestNet::start(62, 7).await;
    let (alice, bob) = alice_and_bob(&net).await;
    let bob_id = bob.id();
    let mut texts = Vec::new();
    let mut sent = Vec::new();
    for i in 0..3 {
        let text = format!("before the crash #{i}");
        let out = alice.client.send_text(&bob_id, &text).await.unwrap();
        assert_eq!(out.state, MessageState::Stored { k: 7, n: 7 }, "{text}");
        texts.push(text);
        sent.push(out.message);
    }
    arrived_in_order(&bob, &alice.id(), &texts).await;

    // Two nodes of Bob's swarm (every node here): preferably ones no path of either client
    // uses, so this tests the swarm, not path repair.
    let in_paths: BTreeSet<usize> = [&alice, &bob]
        .iter()
        .flat_map(|u| u.onion().paths())
        .flatten()
        .map(|h| net.index_of_hop(&h))
        .collect();
    let used_as_guard: BTreeSet<usize> = [&alice, &bob]
        .iter()
        .flat_map(|u| guards(u.onion()))
        .map(|h| net.index_of_hop(&h))
        .collect();
    let mut victims: Vec<usize> = (0..net.tn.nodes.len()).collect();
    victims.sort_by_key(|i| (used_as_guard.contains(i), in_paths.contains(i)));
    victims.truncate(2);
    eprintln!(
        "[{:.1}s] killing nodes {victims:?} (guards {used_as_guard:?}, in paths {in_paths:?})",
        start.elapsed().as_secs_f64()
    );
    for &v in &victims {
        net.kill(v);
    }

    for i in 0..6 {
        let text = format!("after the crash #{i}");
        let out = alice.client.send_text(&bob_id, &text).await.unwrap();
        // Stored at once, not "failed, retrying": a dead node is skipped for another one;
        // the two dead nodes cannot confirm, the five others do.
        assert_eq!(out.state, MessageState::Stored { k: 5, n: 7 }, "{text}");
        texts.push(text);
        sent.push(out.message);
    }
    arrived_in_order(&bob, &alice.id(), &texts).await;
    let states = settled(&alice, &sent).await;
    assert!(
        states
            .iter()
            .all(|s| matches!(s, MessageState::Stored { .. })),
        "{states:?}"
    );

    // Bob's answer goes to Alice's swarm (the same seven, two dead).
    bob.client
        .send_text(&alice.id(), "got all nine")
        .await
        .unwrap();
    alice.wait_message(&bob_id, "got all nine").await;
    for t in alice.onion().take_traces().iter().rev().take(12) {
        eprintln!("alice: {}", describe(t));
    }
    eprintln!("[{:.1}s] done", start.elapsed().as_secs_f64());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_guard_dying_mid_conversation_loses_nothing() {
    let start = Instant::now();
    let mut net = TestNet::start(63, 6).await;
    let (alice, bob) = alice_and_bob(&net).await;
    let (alice_id, bob_id) = (alice.id(), bob.id());

    let mut texts = vec!["hello before anything breaks".to_owned()];
    alice.client.send_text(&bob_id, &texts[0]).await.unwrap();
    arrived_in_order(&bob, &alice_id, &texts).await;
    bob.client.send_text(&alice_id, "hello back").await.unwrap();
    alice.wait_message(&bob_id, "hello back").await;

    // The guard of the path Alice's last store took.
    let traces = alice.onion().take_traces();
    let last_store = traces
        .iter()
        .rev()
        .find(|t| t.method == "store" && t.status == Some(200))
        .unwrap_or_else(|| panic!("no successful store among Alice's traces: {traces:#?}"));
    let guard: Hop = last_store.path[0].clone();
    let guards_before = guards(alice.onion());
    assert!(
        guards_before.contains(&guard),
        "the guard in use {guard:?} is one of Alice's guards {guards_before:?}"
    );
    let victim = net.index_of_hop(&guard);
    eprintln!(
        "[{:.1}s] killing Alice's guard {} (guards {:?})",
        start.elapsed().as_secs_f64(),
        guard.addr,
        guards_before.iter().map(|h| h.addr).collect::<Vec<_>>()
    );
    net.kill(victim);

    let mut sent = Vec::new();
    for i in 0..6 {
        let text = format!("after the guard died #{i}");
        let out = alice.client.send_text(&bob_id, &text).await.unwrap();
        eprintln!("{text}: {:?}", out.state);
        texts.push(text);
        sent.push(out.message);
    }
    arrived_in_order(&bob, &alice_id, &texts).await;
    for state in settled(&alice, &sent).await {
        assert!(
            matches!(state, MessageState::Stored { k, n: 6 } if k >= 1),
            "{state:?}"
        );
    }

    // The path was rebuilt: no path goes through the dead node and all paths are back, on
    // the surviving guard. The dead guard is only set aside, not replaced: one bad spell does
    // not strike a guard out (it is replaced after an hour of failures).
    let paths = alice
        .wait_state("Alice's paths to avoid the dead guard", STEP, |u| {
            let paths = u.onion().paths();
            let clear = paths
                .iter()
                .all(|p| p.iter().all(|h| h.ed25519 != guard.ed25519));
            clear.then_some(paths)
        })
        .await;
    assert_eq!(paths.len(), common::onion_config(None).paths, "{paths:#?}");
    let kept = alice.onion().guards();
    assert!(
        kept.contains(&guard) && kept.len() == 2,
        "the dead guard is still one of Alice's guards: {kept:?}"
    );
    assert!(
        paths.iter().all(|p| p[0] != guard && kept.contains(&p[0])),
        "{paths:#?}"
    );
    // The traces show requests answered through the surviving guard (the poller's
    // retrieves, if not a store), and none through the dead node.
    let mut traces = Vec::new();
    let through_other = alice
        .wait_state("a request answered through the other guard", STEP, |u| {
            traces.extend(u.onion().take_traces());
            traces
                .iter()
                .find(|t| t.status == Some(200) && kept.contains(&t.path[0]))
                .cloned()
        })
        .await;
    eprintln!("through the other guard: {}", describe(&through_other));
    for t in traces.iter().filter(|t| t.status != Some(200)) {
        eprintln!("alice, failed: {}", describe(t));
    }
    assert!(
        traces.iter().filter(|t| t.status == Some(200)).all(|t| t
            .path
            .iter()
            .chain([&t.target])
            .all(|h| *h != guard)),
        "nothing was answered through the dead node"
    );

    // The conversation goes on both ways.
    bob.client.send_text(&alice_id, "still here").await.unwrap();
    alice.wait_message(&bob_id, "still here").await;
    eprintln!("[{:.1}s] done", start.elapsed().as_secs_f64());
}

/// Seven nodes form one swarm; Alice connects and caches that list. Seven more nodes join and
/// the directory splits the network into two swarms, which Alice's cache does not know: for a
/// recipient, some of the nodes she thinks hold their messages now belong to the other swarm.
/// Those answer 421; her client takes it as a hint only: it fetches the signed list again,
/// recomputes the recipient's swarm, stores there and the message is delivered. (Which node
/// the client asks first is random, so fresh recipients are tried until a first attempt meets
/// a 421: at least 3 of the 7 cached nodes left each swarm. Alice runs no poller: a 421 on one
/// of her own polls would refresh her list before any send meets one.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_swarm_split_the_sender_does_not_know_is_answered_by_421() {
    let mut net = TestNet::start(64, 7).await;
    // Alice's list of the seven, kept aside: each try below starts from it.
    let stale = net.dir.path().join("stale.nodes.json");
    OnionNetwork::connect(&net.file, onion_config(Some(stale.clone())))
        .await
        .unwrap();
    for _ in 0..7 {
        net.tn.add_node().unwrap();
    }
    tokio::task::block_in_place(|| net.tn.wait_ready(STEP)).unwrap();
    let fresh = OnionNetwork::connect(&net.file, onion_config(None))
        .await
        .unwrap();
    let keys = |nodes: &[sotto_rpc::response::SwarmNode]| -> BTreeSet<[u8; 32]> {
        nodes.iter().map(|n| n.pubkey_ed25519.0).collect()
    };

    // The client: a 421 on the first attempt, then the recipient's swarm stores it. Each try
    // is a new Alice on the stale list (a 421 refreshes the list, so after one, none come),
    // without a poller (whose 421 would refresh it first).
    let mut redirected = None;
    for attempt in 0..20 {
        let alice_acc = new_account();
        let alice_db = net.dir.path().join(format!("alice{attempt}.db"));
        let cache = alice_db.with_extension("nodes.json");
        std::fs::copy(&stale, &cache).unwrap();
        let alice_net = OnionNetwork::connect(&net.file, onion_config(Some(cache)))
            .await
            .unwrap();
        let mut config = common::client_config(&alice_db);
        config.background = false;
        let alice = sotto_client::Client::connect(alice_net, alice_acc.clone(), config)
            .await
            .unwrap();
        let bob_acc = new_account();
        let account = AccountId::from(bob_acc.session_id());
        let owners = keys(&fresh.get_swarm(account).await.unwrap());
        let out = alice
            .send_text(&bob_acc.session_id(), "across the split")
            .await
            .unwrap();
        // k counts only the confirmations of nodes that Alice's signed node list places in
        // Bob's swarm (S-10); her list predates the split, so the nodes that joined do not
        // count until it is refreshed.
        assert!(
            matches!(out.state, MessageState::Stored { k, n: 7 } if k >= 2),
            "{:?}",
            out.state
        );
        let stores: Vec<Trace> = alice
            .network()
            .take_traces()
            .into_iter()
            .filter(|t| t.method == "store")
            .collect();
        let owner = |t: &Trace| owners.iter().any(|o| hex::encode(o) == t.target.ed25519);
        if stores.iter().any(|t| t.status == Some(421) && !owner(t)) {
            assert!(
                stores.iter().any(|t| t.status == Some(200) && owner(t)),
                "{:#?}",
                stores.iter().map(describe).collect::<Vec<_>>()
            );
            redirected = Some((alice, alice_acc, bob_acc));
            break;
        }
    }
    let (alice, alice_acc, bob_acc) = redirected.expect("twenty first attempts, none met a 421");
    let bob = net.user("bob", &bob_acc).await;
    bob.wait_message(&alice_acc.session_id(), "across the split")
        .await;

    // The network layer: a listed node outside an account's swarm answers 421; the client's
    // signed list (refreshed by the 421s above) confirms it, and gives Carol's swarm.
    let carol = AccountId::from(new_account().session_id());
    let owners = fresh.get_swarm(carol).await.unwrap();
    let mut outsider = None;
    for _ in 0..50 {
        let other = fresh
            .get_swarm(AccountId::from(new_account().session_id()))
            .await
            .unwrap();
        outsider = other
            .into_iter()
            .find(|n| !keys(&owners).contains(&n.pubkey_ed25519.0));
        if outsider.is_some() {
            break;
        }
    }
    let outsider = outsider.expect("a node of the other swarm");
    let store = Store::new(
        carol,
        sotto_rpc::Namespace::DEFAULT,
        b"probe".to_vec(),
        common::now_ms(),
        Lifetime::Ttl(3_600_000),
    );
    match alice.network().store(outsider, store).await {
        Err(NetworkError::WrongSwarm(named)) => assert_eq!(keys(&named), keys(&owners)),
        other => panic!("expected a 421 naming Carol's swarm, got {other:?}"),
    }
}
