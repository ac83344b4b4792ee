//! End-to-end chat over a real testnet: seven `sotto-node` processes (one swarm) and a
//! `sotto-directory` on 127.61.0.x, clients talking to them only through `OnionNetwork` (three-hop
//! onion paths), each with its own SQLite file and background poller.
//!
//! The scenarios share the network and run in order, each a named step: offline delivery, the
//! round trip, request → accept (and blocking), unsend, read receipts, and tampered or
//! undecryptable messages in the recipient's swarm. What is checked is what a user would see:
//! texts, authors, states, unread counts, requests.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::time::Instant;

use common::{STEP, TestNet, User, add_contact_offline, new_account, now_ms, on_subnet};
use sotto_client::{Engine, Event, MessageState, SkipReason};
use sotto_crypto::OsRng;

/// Prints a step's name and how long the test has run.
fn step(start: Instant, name: &str) {
    eprintln!("[{:>6.1}s] step: {name}", start.elapsed().as_secs_f64());
}

/// A store acknowledged by all seven nodes of the swarm.
const ALL_SEVEN: MessageState = MessageState::Stored { k: 7, n: 7 };

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chat_over_a_real_testnet() {
    let start = Instant::now();
    let net = TestNet::start(61, 7).await;
    let (alice_acc, bob_acc, carol_acc) = (new_account(), new_account(), new_account());
    let (alice_id, bob_id, carol_id) = (
        alice_acc.session_id(),
        bob_acc.session_id(),
        carol_acc.session_id(),
    );

    // ---------------------------------------------------------------------------------------
    step(
        start,
        "1. offline delivery: Alice writes while Bob has no client",
    );
    let alice_db = net.dir.path().join("alice.db");
    let bob_db = net.dir.path().join("bob.db");
    add_contact_offline(&alice_db, &alice_acc, &bob_id, "bob");
    add_contact_offline(&bob_db, &bob_acc, &alice_id, "alice");
    let mut alice = User::connect(&net, "alice", alice_acc.clone(), alice_db).await;
    let first = alice
        .client
        .send_text(&bob_id, "hi bob, are you there?")
        .await
        .unwrap();
    assert_eq!(first.state, ALL_SEVEN, "Alice's first message");
    let routes = alice.onion().take_traces();
    let store = routes
        .iter()
        .find(|t| t.method == "store" && t.status == Some(200))
        .unwrap_or_else(|| panic!("no successful store among Alice's traces: {routes:#?}"));
    assert_eq!(store.path.len(), 3, "guard, middle, exit: {store:?}");
    let mut hops: Vec<_> = store.path.iter().map(|h| h.addr.ip()).collect();
    hops.sort();
    hops.dedup();
    assert_eq!(hops.len(), 3, "three distinct addresses: {store:?}");
    for hop in store.path.iter().chain([&store.target]) {
        assert!(on_subnet(&hop.addr, 61), "{hop:?}");
        net.index_of_hop(hop);
    }

    let mut bob = User::connect(&net, "bob", bob_acc.clone(), bob_db).await;
    let got = bob.wait_message(&alice_id, "hi bob, are you there?").await;
    assert_eq!(got.key.author, alice_id);
    assert_eq!(got.state, MessageState::Received);
    let conv = bob
        .client
        .with_engine(|e| e.conversation(&alice_id))
        .unwrap();
    let conv = conv.expect("Bob has a conversation with Alice");
    assert!(!conv.is_request(), "Alice is Bob's contact: not a request");
    assert_eq!(conv.unread, 1);
    assert_eq!(conv.contact.display_name(), Some("alice"));

    // ---------------------------------------------------------------------------------------
    step(
        start,
        "2. round trip: Bob answers, Alice replies quoting him",
    );
    let answer = bob
        .client
        .send_text(&alice_id, "yes! hi alice")
        .await
        .unwrap();
    assert_eq!(answer.state, ALL_SEVEN, "Bob's answer");
    let at_alice = alice.wait_message(&bob_id, "yes! hi alice").await;
    assert_eq!(at_alice.key.author, bob_id);
    assert_eq!(at_alice.state, MessageState::Received);
    let reply = alice
        .client
        .reply(at_alice.id, "great, the onion works")
        .await
        .unwrap();
    assert_eq!(reply.state, ALL_SEVEN, "Alice's reply");
    let at_bob = bob.wait_message(&alice_id, "great, the onion works").await;
    let quote = at_bob.quote.expect("the reply quotes Bob's message");
    assert_eq!(quote.key.author, bob_id);
    assert_eq!(quote.text.as_deref(), Some("yes! hi alice"));
    // Both sides show the same three messages, once each (sync copies are not shown again).
    let expected = [
        ("hi bob, are you there?", true),
        ("yes! hi alice", false),
        ("great, the onion works", true),
    ];
    let seen_by = |u: &User, peer, mine: bool| -> Vec<(String, bool)> {
        u.history(peer)
            .into_iter()
            .map(|m| (m.body.unwrap_or_default(), m.outgoing == mine))
            .collect()
    };
    let want: Vec<(String, bool)> = expected.iter().map(|(b, o)| ((*b).into(), *o)).collect();
    assert_eq!(seen_by(&alice, &bob_id, true), want, "Alice's history");
    assert_eq!(seen_by(&bob, &alice_id, false), want, "Bob's history");
    let bob_state =
        |u: &User| -> Vec<MessageState> { u.history(&alice_id).iter().map(|m| m.state).collect() };
    assert_eq!(
        bob_state(&bob),
        [MessageState::Received, ALL_SEVEN, MessageState::Received]
    );

    // ---------------------------------------------------------------------------------------
    step(
        start,
        "3. request → accept: Carol, a stranger, writes to Bob",
    );
    let mut carol = net.user("carol", &carol_acc).await;
    carol.client.set_display_name(Some("Carol")).unwrap();
    bob.client.set_display_name(Some("Bob")).unwrap();
    carol
        .client
        .send_text(&bob_id, "hello bob, I'm carol")
        .await
        .unwrap();
    let request = bob
        .wait_event(
            "Carol's message",
            STEP,
            |e| matches!(e, Event::Message(m) if m.message.peer == carol_id),
        )
        .await;
    let Event::Message(request) = request else {
        unreachable!()
    };
    assert!(request.request, "a stranger's first message is a request");
    assert_eq!(
        request.message.body.as_deref(),
        Some("hello bob, I'm carol")
    );
    assert_eq!(request.message.key.author, carol_id);
    let requests = bob.client.with_engine(|e| e.requests()).unwrap();
    assert_eq!(
        requests
            .iter()
            .map(|c| (c.contact.session_id, c.unread))
            .collect::<Vec<_>>(),
        [(carol_id, 1)],
        "Bob's requests"
    );
    assert_eq!(requests[0].contact.profile_name.as_deref(), Some("Carol"));
    let carol_sees_bob = |carol: &User| carol.client.with_engine(|e| e.contact(&bob_id)).unwrap();
    assert!(
        !carol_sees_bob(&carol).unwrap().approved_me,
        "Bob has not accepted yet"
    );

    bob.client.accept_request(&carol_id).await.unwrap();
    let conv = bob.client.with_engine(|e| e.conversation(&carol_id));
    assert!(!conv.unwrap().unwrap().is_request(), "accepted");
    assert!(bob.client.with_engine(|e| e.requests()).unwrap().is_empty());
    carol
        .wait_event(
            "Bob's message-request response",
            STEP,
            |e| matches!(e, Event::RequestAccepted { by } if *by == bob_id),
        )
        .await;
    let bob_at_carol = carol_sees_bob(&carol).unwrap();
    assert!(bob_at_carol.approved_me, "Carol sees that Bob accepted");
    assert_eq!(bob_at_carol.profile_name.as_deref(), Some("Bob"));
    bob.client
        .send_text(&carol_id, "welcome, carol")
        .await
        .unwrap();
    let welcome = carol
        .wait_event("Bob's welcome", STEP, |e| {
            matches!(e, Event::Message(m) if m.message.body.as_deref() == Some("welcome, carol"))
        })
        .await;
    let Event::Message(welcome) = welcome else {
        unreachable!()
    };
    assert!(!welcome.request, "Carol wrote first: Bob is her contact");

    step(
        start,
        "3b. blocking: Bob blocks Carol, her messages are dropped",
    );
    let carol_unread = |bob: &User| {
        let conv = bob.client.with_engine(|e| e.conversation(&carol_id));
        conv.unwrap().unwrap().unread
    };
    let unread_before = carol_unread(&bob);
    bob.client.block(&carol_id).unwrap();
    let shout = carol
        .client
        .send_text(&bob_id, "why the silence?")
        .await
        .unwrap();
    assert!(
        matches!(shout.state, MessageState::Stored { .. }),
        "Carol is not told: {:?}",
        shout.state
    );
    bob.wait_event(
        "Carol's message to be dropped",
        STEP,
        |e| matches!(e, Event::Dropped { from, .. } if *from == carol_id),
    )
    .await;
    alice
        .client
        .send_text(&bob_id, "ping after the block")
        .await
        .unwrap();
    bob.wait_message(&alice_id, "ping after the block").await;
    let carol_history: Vec<_> = bob
        .history(&carol_id)
        .into_iter()
        .map(|m| m.body.unwrap_or_default())
        .collect();
    assert_eq!(carol_history, ["hello bob, I'm carol", "welcome, carol"]);
    assert_eq!(
        carol_unread(&bob),
        unread_before,
        "the dropped message is not unread"
    );
    drop(carol);

    // ---------------------------------------------------------------------------------------
    step(start, "4. unsend removes the message on both sides");
    let oops = alice
        .client
        .send_text(&bob_id, "oops, wrong chat")
        .await
        .unwrap();
    let oops_at_bob = bob.wait_message(&alice_id, "oops, wrong chat").await;
    alice.client.unsend(oops.message).await.unwrap();
    let mine = alice
        .client
        .with_engine(|e| e.message(oops.message))
        .unwrap()
        .unwrap();
    assert_eq!((mine.state, mine.body), (MessageState::Deleted, None));
    bob.wait_event(
        "the unsend",
        STEP,
        |e| matches!(e, Event::Unsent { message } if *message == oops_at_bob.id),
    )
    .await;
    let gone = bob
        .client
        .with_engine(|e| e.message(oops_at_bob.id))
        .unwrap()
        .unwrap();
    assert_eq!((gone.state, gone.body), (MessageState::Deleted, None));
    assert!(
        bob.history(&alice_id)
            .iter()
            .all(|m| m.body.as_deref() != Some("oops, wrong chat"))
    );
    // A new device of Bob's reads his whole inbox again. Bob's first device deleted the text
    // from his swarm when it applied the unsend, so only the unsend request may be left
    // there: the new device must never show the text.
    let bob2_db = net.dir.path().join("bob-2.db");
    let bob2 = User::connect(&net, "bob-2", bob_acc.clone(), bob2_db).await;
    let bob2_history = bob2
        .wait_state("the new device to fetch the inbox", STEP, |u| {
            let history = u.history(&alice_id);
            history
                .iter()
                .any(|m| m.body.as_deref() == Some("ping after the block"))
                .then_some(history)
        })
        .await;
    assert!(
        bob2_history
            .iter()
            .filter(|m| m.key == oops_at_bob.key)
            .all(|m| m.state == MessageState::Deleted && m.body.is_none()),
        "the unsent text never shows on the new device: {bob2_history:#?}"
    );
    drop(bob2);

    // ---------------------------------------------------------------------------------------
    step(start, "5a. read receipts: not sent while Bob has them off");
    alice
        .client
        .update_settings(|s| s.read_receipts = true)
        .unwrap();
    let r1 = alice
        .client
        .send_text(&bob_id, "r1: do you read me?")
        .await
        .unwrap();
    bob.wait_message(&alice_id, "r1: do you read me?").await;
    let unread = |u: &User, peer| {
        u.client
            .with_engine(|e| e.conversation(peer))
            .unwrap()
            .unwrap()
            .unread
    };
    assert!(unread(&bob, &alice_id) >= 1);
    bob.client.mark_read(&alice_id).await.unwrap();
    assert_eq!(unread(&bob, &alice_id), 0, "Bob read everything");
    assert!(
        bob.history(&alice_id)
            .iter()
            .filter(|m| !m.outgoing && m.state != MessageState::Deleted)
            .all(|m| m.state == MessageState::Read)
    );
    // A marker sent after the would-be receipt: once Alice has it, a receipt would have
    // arrived too (stores are acknowledged by every swarm node before the next one).
    let marker = bob
        .client
        .send_text(&alice_id, "marker after r1")
        .await
        .unwrap();
    assert_eq!(marker.state, ALL_SEVEN);
    alice.wait_message(&bob_id, "marker after r1").await;
    let r1_at_alice = alice
        .client
        .with_engine(|e| e.message(r1.message))
        .unwrap()
        .unwrap();
    assert_eq!(r1_at_alice.state, ALL_SEVEN, "no read receipt from Bob");
    assert_eq!(r1_at_alice.read_ms, None);

    step(start, "5b. read receipts: sent once Bob turns them on");
    bob.client
        .update_settings(|s| s.read_receipts = true)
        .unwrap();
    let r2 = alice
        .client
        .send_text(&bob_id, "r2: and now?")
        .await
        .unwrap();
    bob.wait_message(&alice_id, "r2: and now?").await;
    bob.client.mark_read(&alice_id).await.unwrap();
    alice
        .wait_event("Bob's read receipt", STEP, |e| {
            matches!(e, Event::ReadByPeer { peer, messages }
                if *peer == bob_id && messages.contains(&r2.message))
        })
        .await;
    let r2_at_alice = alice
        .client
        .with_engine(|e| e.message(r2.message))
        .unwrap()
        .unwrap();
    assert_eq!(r2_at_alice.state, MessageState::Read);
    assert!(r2_at_alice.read_ms.is_some());
    let r1_at_alice = alice
        .client
        .with_engine(|e| e.message(r1.message))
        .unwrap()
        .unwrap();
    assert_eq!(r1_at_alice.state, ALL_SEVEN, "r1 was read without receipts");

    // ---------------------------------------------------------------------------------------
    step(
        start,
        "6. tampered and undecryptable messages in Bob's swarm",
    );
    // Dave writes to Bob from an engine of his own (no network): one message is stored as is,
    // one with a byte flipped in the middle (inside the ciphertext).
    let dave_acc = new_account();
    let dave_id = dave_acc.session_id();
    let mut dave = Engine::open_in_memory(dave_acc).unwrap();
    let mut to_bob = |text: &str| {
        let sent = dave
            .send_text(&bob_id, text, None, now_ms(), &mut OsRng)
            .unwrap();
        let job = sent
            .jobs
            .iter()
            .find(|j| j.store.account == sotto_rpc::AccountId::from(bob_id))
            .unwrap();
        job.store.data.clone()
    };
    let genuine = to_bob("a genuine message from dave");
    let mut tampered = to_bob("this text must never show");
    let middle = tampered.len() / 2;
    tampered[middle] ^= 0x5a;
    let garbage = b"definitely not a Session message".to_vec();
    let garbage_hash = net.inject(0, &bob_id, &garbage).await;
    let tampered_hash = net.inject(3, &bob_id, &tampered).await;
    let genuine_hash = net.inject(5, &bob_id, &genuine).await;
    assert_ne!(genuine_hash, tampered_hash);
    alice
        .client
        .send_text(&bob_id, "still polling?")
        .await
        .unwrap();
    bob.wait_message(&alice_id, "still polling?").await;
    let from_dave = bob
        .wait_message(&dave_id, "a genuine message from dave")
        .await;
    assert_eq!(from_dave.key.author, dave_id);
    for (what, hash) in [("garbage", garbage_hash), ("tampered", tampered_hash)] {
        let skipped = bob
            .wait_event(
                &format!("the {what} message to be skipped"),
                STEP,
                |e| matches!(e, Event::Skipped { hash: h, .. } if *h == hash),
            )
            .await;
        assert!(
            matches!(
                skipped,
                Event::Skipped {
                    reason: SkipReason::Undecryptable(_),
                    ..
                }
            ),
            "{what}: {skipped:?}"
        );
        // Logged with its reason, but without the message hash (S-14: logs may be shared).
        let log = common::client_log();
        assert!(
            !log.lines().any(|l| l.contains(hash.as_str())),
            "the {what} message's hash is in the log"
        );
    }
    let log = common::client_log();
    let logged = log
        .lines()
        .filter(|l| l.contains("skipped a received message"))
        .count();
    assert!(logged >= 2, "{logged} skipped messages logged, expected 2");
    assert!(
        bob.history(&dave_id)
            .iter()
            .all(|m| m.body.as_deref() != Some("this text must never show"))
    );
    // The poller goes on after them.
    alice
        .client
        .send_text(&bob_id, "after the junk")
        .await
        .unwrap();
    bob.wait_message(&alice_id, "after the junk").await;

    eprintln!("[{:>6.1}s] done", start.elapsed().as_secs_f64());
}
