//! Deletion that reaches the network, on a real testnet: six `sotto-node` processes (one swarm)
//! and a `sotto-directory` on 127.230.0.x, clients over `OnionNetwork`.
//!
//! What the swarm holds is checked by asking every node directly (a signed retrieve, a
//! `get_expiries` per member), not through the client that made the change:
//!
//! 1. after an unsend, neither the sender's swarm (the sync copy) nor the recipient's (the
//!    delivered copy) returns the message on any node;
//! 2. when an "after read" timer starts, every member shows the shortened expiry, and the
//!    message is gone from the swarm once it passes (the sender's sync copy too);
//! 3. a `delete` or `expire` signed by someone else is refused, and nothing changes;
//! 4. "delete for me" and "clear conversation" take the user's own swarm copies.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use common::{STEP, TestNet, User, add_contact_offline, new_account, now_ms, wait_for};
use sotto_client::{Account, Disappearing, Event, MessageId, Network, NetworkError};
use sotto_rpc::request::{Delete, Expire, ExpireMode, GetExpiries};
use sotto_rpc::{AccountId, MessageHash, Signer};

fn step(start: Instant, name: &str) {
    eprintln!("[{:>6.1}s] step: {name}", start.elapsed().as_secs_f64());
}

/// The one copy of `message` on `user`'s own swarm that the client recorded.
fn copy_of(user: &User, message: MessageId) -> MessageHash {
    let copies = user
        .client
        .with_engine(|e| e.swarm_copies(message))
        .unwrap();
    assert_eq!(
        copies.len(),
        1,
        "{}: copies of {message}: {copies:?}",
        user.name
    );
    copies[0]
}

/// Waits until every running node holds (`present`) or no running node holds `hash` in
/// `account`'s namespace 0.
async fn wait_held(
    net: &TestNet,
    account: &Account,
    hash: MessageHash,
    present: bool,
    limit: Duration,
) {
    let what = format!(
        "{hash} {} every node",
        if present { "on" } else { "gone from" }
    );
    wait_for(&what, limit, || async {
        let all = net.held_everywhere(account).await;
        all.iter()
            .all(|(_, held)| held.as_ref().is_some_and(|h| h.contains(&hash) == present))
            .then_some(())
    })
    .await;
}

/// Each node's expiry of `hash` in `account`'s swarm, asked of every node directly (all six
/// nodes are the one swarm).
async fn expiries(
    net: &TestNet,
    account: &Account,
    hash: MessageHash,
) -> BTreeMap<usize, Option<u64>> {
    let all: BTreeMap<usize, Option<u64>> = net
        .expiries_everywhere(account, hash)
        .await
        .into_iter()
        .collect();
    assert_eq!(all.len(), 6, "every node answered: {all:?}");
    all
}

/// What the client's own `get_expiries` of every member says: each member that a path
/// reaches (a member that is one of the client's guards cannot be reached through a path
/// that avoids it) gives the same expiry as `want`.
async fn client_view_agrees(user: &User, hash: MessageHash, want: Option<u64>) {
    let answers = user.client.swarm_expiries(vec![hash]).await.unwrap();
    assert_eq!(answers.len(), 6, "{answers:?}");
    let mut reached = 0;
    for (node, answer) in answers {
        match answer {
            Ok(map) => {
                reached += 1;
                assert_eq!(map.get(&hash).copied(), want, "member {node:?}");
            }
            Err(NetworkError::NoPath(_)) => {}
            Err(e) => panic!("get_expiries on {node:?}: {e}"),
        }
    }
    assert!(reached >= 3, "only {reached} members reached");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deletion_reaches_the_swarms() {
    let start = Instant::now();
    let net = TestNet::start(230, 6).await;
    let (alice_acc, bob_acc, mallory_acc) = (new_account(), new_account(), new_account());
    let (alice_id, bob_id) = (alice_acc.session_id(), bob_acc.session_id());
    let alice_db = net.dir.path().join("alice.db");
    let bob_db = net.dir.path().join("bob.db");
    add_contact_offline(&alice_db, &alice_acc, &bob_id, "bob");
    add_contact_offline(&bob_db, &bob_acc, &alice_id, "alice");
    let alice = User::connect(&net, "alice", alice_acc.clone(), alice_db).await;
    let mut bob = User::connect(&net, "bob", bob_acc.clone(), bob_db).await;

    // ---------------------------------------------------------------------------------------
    step(start, "1. unsend: gone from both swarms");
    let sent = alice
        .client
        .send_text(&bob_id, "I should not have said that")
        .await
        .unwrap();
    let sync_copy = copy_of(&alice, sent.message);
    let at_bob = bob
        .wait_message(&alice_id, "I should not have said that")
        .await;
    let delivered = copy_of(&bob, at_bob.id);
    wait_held(&net, &alice_acc, sync_copy, true, STEP).await;
    wait_held(&net, &bob_acc, delivered, true, STEP).await;
    alice.client.unsend(sent.message).await.unwrap();
    // The sender's own delete went out with the unsend (nothing left queued).
    let queued = alice
        .client
        .with_engine(|e| e.swarm_updates(now_ms()))
        .unwrap();
    assert!(queued.is_empty(), "Alice still has {queued:?} queued");
    bob.wait_event(
        "the unsend",
        STEP,
        |e| matches!(e, Event::Unsent { message } if *message == at_bob.id),
    )
    .await;
    wait_held(&net, &alice_acc, sync_copy, false, STEP).await;
    wait_held(&net, &bob_acc, delivered, false, STEP).await;
    // Asked again, every member of Alice's swarm confirms, with its signature, that the sync
    // copy is not there (it deleted nothing more).
    let outcome = alice
        .client
        .delete_from_swarm(vec![sync_copy])
        .await
        .unwrap();
    assert_eq!(outcome.members.len(), 6, "{outcome:?}");
    assert!(outcome.everywhere(), "{outcome:?}");

    // ---------------------------------------------------------------------------------------
    step(
        start,
        "2. after read: the timer shortens the expiry on every member",
    );
    const TIMER_S: u32 = 4;
    alice
        .client
        .set_disappearing(&bob_id, Disappearing::AfterRead(TIMER_S))
        .await
        .unwrap();
    let sent = alice
        .client
        .send_text(&bob_id, "read me, then I go")
        .await
        .unwrap();
    let sync_copy = copy_of(&alice, sent.message);
    let at_bob = bob.wait_message(&alice_id, "read me, then I go").await;
    assert_eq!(at_bob.disappearing, Disappearing::AfterRead(TIMER_S));
    let delivered = copy_of(&bob, at_bob.id);
    // Unread: it keeps its full TTL on every member.
    let before = expiries(&net, &bob_acc, delivered).await;
    assert!(
        before
            .values()
            .all(|e| e.is_some_and(|e| e > now_ms() + 3_600_000)),
        "unread copy: {before:?}"
    );
    bob.client.mark_read(&alice_id).await.unwrap();
    let timer_ends = bob
        .client
        .with_engine(|e| e.message(at_bob.id))
        .unwrap()
        .unwrap()
        .expires_at_ms
        .expect("the after-read timer started");
    let after = expiries(&net, &bob_acc, delivered).await;
    client_view_agrees(&bob, delivered, Some(timer_ends)).await;
    assert!(
        after.values().all(|e| *e == Some(timer_ends)),
        "every member has the timer's end {timer_ends}: {after:?}"
    );
    // The sender's sync copy was stored with the timer (it started at sending).
    let sync_expiries = expiries(&net, &alice_acc, sync_copy).await;
    assert!(
        sync_expiries
            .values()
            .all(|e| e.is_some_and(|e| e <= sent_expiry_bound(TIMER_S))),
        "sync copy: {sync_expiries:?}"
    );
    wait_held(&net, &bob_acc, delivered, false, STEP).await;
    wait_held(&net, &alice_acc, sync_copy, false, STEP).await;
    assert!(now_ms() >= timer_ends, "gone only once the timer ended");

    // ---------------------------------------------------------------------------------------
    step(
        start,
        "3. a delete or expire signed by someone else is refused",
    );
    alice
        .client
        .set_disappearing(&bob_id, Disappearing::Off)
        .await
        .unwrap();
    let sent = alice.client.send_text(&bob_id, "keep me").await.unwrap();
    let at_bob = bob.wait_message(&alice_id, "keep me").await;
    let kept = copy_of(&bob, at_bob.id);
    wait_held(&net, &bob_acc, kept, true, STEP).await;
    let before = expiries(&net, &bob_acc, kept).await;
    let bob_account = AccountId::from(bob_id);
    let mallory = Signer::session(mallory_acc.ed25519_secret());
    // A member that a path reaches (not one of Bob's guards), asked with a request of Bob's
    // own: it answers.
    let swarm = bob.onion().get_swarm(bob_account).await.unwrap();
    let mut node = None;
    for member in swarm {
        let own = bob
            .client
            .with_engine(|e| e.get_expiries_request(vec![kept], now_ms()));
        match bob.onion().get_expiries(member.clone(), own).await {
            Err(NetworkError::NoPath(_)) => continue,
            answer => {
                assert!(answer.is_ok(), "Bob's own get_expiries: {answer:?}");
                node = Some(member);
                break;
            }
        }
    }
    let node = node.expect("a member a path reaches");
    let forged_delete = Delete::new(bob_account, vec![kept], &mallory);
    let refused = bob.onion().delete(node.clone(), forged_delete).await;
    assert!(
        matches!(refused, Err(NetworkError::Status(401))),
        "a delete signed by Mallory: {refused:?}"
    );
    let forged_expire = Expire::new(
        bob_account,
        vec![kept],
        vec![now_ms() + 1_000],
        ExpireMode::Shorten,
        &mallory,
    );
    let refused = bob.onion().expire(node.clone(), forged_expire).await;
    assert!(
        matches!(refused, Err(NetworkError::Status(401))),
        "an expire signed by Mallory: {refused:?}"
    );
    let forged_read = GetExpiries::new(bob_account, vec![kept], now_ms(), &mallory);
    let refused = bob.onion().get_expiries(node, forged_read).await;
    assert!(
        matches!(refused, Err(NetworkError::Status(401))),
        "get_expiries signed by Mallory: {refused:?}"
    );
    wait_held(&net, &bob_acc, kept, true, STEP).await;
    assert_eq!(
        expiries(&net, &bob_acc, kept).await,
        before,
        "no expiry changed"
    );

    // ---------------------------------------------------------------------------------------
    step(
        start,
        "4. delete for me, clear conversation: the user's own swarm copies",
    );
    // Bob deletes Alice's message for himself: his copy goes, Alice's sync copy stays.
    let alice_sync = copy_of(&alice, sent.message);
    bob.client.delete_for_me(at_bob.id).await.unwrap();
    wait_held(&net, &bob_acc, kept, false, STEP).await;
    wait_held(&net, &alice_acc, alice_sync, true, STEP).await;
    // Alice clears the conversation: her sync copies go.
    let cleared = alice.client.clear_conversation(&bob_id).await.unwrap();
    assert!(cleared >= 1, "cleared {cleared}");
    wait_held(&net, &alice_acc, alice_sync, false, STEP).await;
    assert!(
        alice.history(&bob_id).iter().all(|m| m.body.is_none()),
        "nothing readable is left"
    );
    eprintln!("done in {:?}", start.elapsed());
}

/// The latest a sync copy of an after-read text sent now may expire: sent time plus the
/// timer (at least the swarm's 10 s minimum TTL).
fn sent_expiry_bound(timer_s: u32) -> u64 {
    now_ms() + u64::from(timer_s.max(10)) * 1000
}
