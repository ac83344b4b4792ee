//! The client's state transitions, end to end over the in-process test network (unit tests of
//! the client logic only; end-to-end tests run against a real testnet).

use std::path::Path;

use proptest::prelude::*;
use sotto_identity::{Account, SessionId};
use sotto_rpc::AccountId;

use crate::testing::{MemoryNetwork, TestClock};
use crate::{
    Client, ClientConfig, ClientError, Disappearing, Event, IncomingMessage, MessageId,
    MessageState, SkipReason,
};

const START: u64 = 1_754_971_101_000;

fn account(seed: u8) -> Account {
    Account::from_ed25519_seed(&[seed; 32])
}

struct World {
    net: MemoryNetwork,
    clock: TestClock,
    dir: tempfile::TempDir,
}

impl World {
    fn new() -> Self {
        let clock = TestClock::new(START);
        Self {
            net: MemoryNetwork::new(5, clock.clone()),
            clock,
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn config(&self, name: &str) -> ClientConfig {
        ClientConfig {
            background: false,
            clock: self.clock.clock(),
            sync_configs: false,
            ..ClientConfig::new(self.dir.path().join(format!("{name}.db")))
        }
    }

    /// A client for account `seed`, with its database named `name`.
    async fn client(&self, seed: u8, name: &str) -> Client<MemoryNetwork> {
        Client::connect(self.net.clone(), account(seed), self.config(name))
            .await
            .unwrap()
    }

    fn tick(&self) {
        self.clock.advance(1_000);
    }
}

const ALICE: u8 = 1;
const BOB: u8 = 2;
const CAROL: u8 = 3;

fn id(seed: u8) -> SessionId {
    account(seed).session_id()
}

fn messages(events: &[Event]) -> Vec<&IncomingMessage> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Message(m) => Some(m),
            _ => None,
        })
        .collect()
}

fn bodies(events: &[Event]) -> Vec<&str> {
    messages(events)
        .iter()
        .filter_map(|m| m.message.body.as_deref())
        .collect()
}

fn state(client: &Client<MemoryNetwork>, message: MessageId) -> MessageState {
    client.with_engine(|e| e.message(message).unwrap().unwrap().state)
}

fn db_path(dir: &Path, name: &str) -> std::path::PathBuf {
    dir.join(format!("{name}.db"))
}

#[tokio::test]
async fn round_trip_with_k_of_n_and_sync_copy() {
    let w = World::new();
    let alice = w.client(ALICE, "alice").await;
    let bob = w.client(BOB, "bob").await;

    let sent = alice.send_text(&id(BOB), "hello bob").await.unwrap();
    assert_eq!(sent.state, MessageState::Stored { k: 5, n: 5 });
    // Recipient copy and sync copy.
    assert_eq!(w.net.stores(), 2);

    w.tick();
    let events = bob.poll_once().await.unwrap();
    assert_eq!(bodies(&events), ["hello bob"]);
    let got = &messages(&events)[0];
    assert!(got.request, "a first message from a stranger is a request");
    assert_eq!(got.message.key.author, id(ALICE));
    assert_eq!(got.message.state, MessageState::Received);
    assert!(!got.message.outgoing);

    // Alice's own poll finds her sync copy, already seen.
    assert_eq!(alice.poll_once().await.unwrap(), []);
    // Polling again returns nothing new.
    assert_eq!(bob.poll_once().await.unwrap(), []);
    let history = alice.with_engine(|e| e.messages(&id(BOB), 10).unwrap());
    assert_eq!(history.len(), 1);
    assert!(history[0].outgoing);
}

#[tokio::test]
async fn request_then_accept() {
    let w = World::new();
    let alice = w.client(ALICE, "alice").await;
    let bob = w.client(BOB, "bob").await;
    alice.set_display_name(Some("Alice")).unwrap();
    alice.send_text(&id(BOB), "hi, it's Alice").await.unwrap();
    w.tick();
    let events = bob.poll_once().await.unwrap();
    assert!(events.contains(&Event::ProfileName {
        of: id(ALICE),
        name: "Alice".into()
    }));
    let requests = bob.with_engine(|e| e.requests().unwrap());
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].contact.display_name(), Some("Alice"));
    assert_eq!(requests[0].unread, 1);
    // Alice, who wrote first, is approved on her side; Bob's answer is not a request to her.
    assert!(alice.with_engine(|e| e.requests().unwrap()).is_empty());

    // Only a pending request can be accepted.
    assert!(matches!(
        bob.accept_request(&id(CAROL)).await,
        Err(ClientError::NoRequest(_))
    ));
    bob.set_display_name(Some("Bob")).unwrap();
    bob.accept_request(&id(ALICE)).await.unwrap();
    assert!(bob.with_engine(|e| e.requests().unwrap()).is_empty());
    assert!(matches!(
        bob.accept_request(&id(ALICE)).await,
        Err(ClientError::NoRequest(_))
    ));

    w.tick();
    let events = alice.poll_once().await.unwrap();
    assert!(events.contains(&Event::RequestAccepted { by: id(BOB) }));
    assert!(events.contains(&Event::ProfileName {
        of: id(BOB),
        name: "Bob".into()
    }));
    let bob_at_alice = alice.with_engine(|e| e.contact(&id(BOB)).unwrap().unwrap());
    assert!(bob_at_alice.approved && bob_at_alice.approved_me);

    bob.send_text(&id(ALICE), "hi Alice").await.unwrap();
    w.tick();
    let events = alice.poll_once().await.unwrap();
    assert!(!messages(&events)[0].request);
}

#[tokio::test]
async fn replying_to_a_request_accepts_it_and_declining_deletes_it() {
    let w = World::new();
    let alice = w.client(ALICE, "alice").await;
    let bob = w.client(BOB, "bob").await;
    let carol = w.client(CAROL, "carol").await;
    alice.send_text(&id(BOB), "from alice").await.unwrap();
    carol.send_text(&id(BOB), "from carol").await.unwrap();
    w.tick();
    bob.poll_once().await.unwrap();
    assert_eq!(bob.with_engine(|e| e.requests().unwrap()).len(), 2);

    bob.send_text(&id(ALICE), "a reply").await.unwrap();
    bob.decline_request(&id(CAROL)).unwrap();
    let conversations = bob.with_engine(|e| e.conversations().unwrap());
    assert_eq!(conversations.len(), 1);
    assert!(!conversations[0].is_request());
    assert!(
        bob.with_engine(|e| e.messages(&id(CAROL), 10).unwrap())
            .is_empty()
    );

    w.tick();
    let events = alice.poll_once().await.unwrap();
    assert!(events.contains(&Event::RequestAccepted { by: id(BOB) }));
    assert_eq!(bodies(&events), ["a reply"]);
}

#[tokio::test]
async fn blocked_senders_are_dropped() {
    let w = World::new();
    let alice = w.client(ALICE, "alice").await;
    let bob = w.client(BOB, "bob").await;
    bob.block(&id(ALICE)).unwrap();
    alice.send_text(&id(BOB), "let me in").await.unwrap();
    w.tick();
    let events = bob.poll_once().await.unwrap();
    assert!(matches!(events.as_slice(), [Event::Dropped { from, .. }] if *from == id(ALICE)));
    assert!(
        bob.with_engine(|e| e.messages(&id(ALICE), 10).unwrap())
            .is_empty()
    );
    assert!(bob.with_engine(|e| e.conversations().unwrap()).is_empty());
    assert!(matches!(
        bob.send_text(&id(ALICE), "no").await,
        Err(ClientError::Blocked(_))
    ));

    bob.unblock(&id(ALICE)).unwrap();
    alice.send_text(&id(BOB), "now?").await.unwrap();
    w.tick();
    assert_eq!(bodies(&bob.poll_once().await.unwrap()), ["now?"]);
}

#[tokio::test]
async fn unsend_removes_the_message_on_both_sides() {
    let w = World::new();
    let alice = w.client(ALICE, "alice").await;
    let bob = w.client(BOB, "bob").await;
    let sent = alice.send_text(&id(BOB), "oops").await.unwrap();
    w.tick();
    let bob_copy = messages(&bob.poll_once().await.unwrap())[0].message.id;

    // Bob cannot unsend Alice's message.
    assert!(matches!(
        bob.unsend(bob_copy).await,
        Err(ClientError::NotOwnMessage(_))
    ));
    alice.unsend(sent.message).await.unwrap();
    let mine = alice.with_engine(|e| e.message(sent.message).unwrap().unwrap());
    assert_eq!((mine.state, mine.body), (MessageState::Deleted, None));
    assert!(matches!(
        alice.react(sent.message, "👍").await,
        Err(ClientError::MessageDeleted(_))
    ));

    w.tick();
    let events = bob.poll_once().await.unwrap();
    assert_eq!(events, [Event::Unsent { message: bob_copy }]);
    let theirs = bob.with_engine(|e| e.message(bob_copy).unwrap().unwrap());
    assert_eq!((theirs.state, theirs.body), (MessageState::Deleted, None));
}

#[tokio::test]
async fn an_unsend_request_for_someone_elses_message_is_refused() {
    let w = World::new();
    let alice = w.client(ALICE, "alice").await;
    let bob = w.client(BOB, "bob").await;
    alice.send_text(&id(BOB), "mine").await.unwrap();
    w.tick();
    let bob_copy = messages(&bob.poll_once().await.unwrap())[0].message.id;
    let key = bob.with_engine(|e| e.message(bob_copy).unwrap().unwrap().key);

    // Carol forges an unsend naming Alice's message.
    let forged = crate::outgoing::prepare(
        &account(CAROL),
        &id(BOB),
        &crate::outgoing::Outgoing::Unsend { target: key },
        &crate::outgoing::Context::default(),
        w.clock.now(),
        &mut sotto_crypto::OsRng,
    )
    .unwrap();
    w.net
        .inject(AccountId::from(id(BOB)), forged.jobs[0].data.clone());
    w.tick();
    let events = bob.poll_once().await.unwrap();
    assert!(matches!(
        events.as_slice(),
        [Event::Skipped {
            reason: SkipReason::NotAuthor,
            ..
        }]
    ));
    assert_eq!(state(&bob, bob_copy), MessageState::Received);
}

#[tokio::test]
async fn read_receipts_only_when_enabled() {
    let w = World::new();
    let alice = w.client(ALICE, "alice").await;
    let bob = w.client(BOB, "bob").await;
    let first = alice.send_text(&id(BOB), "one").await.unwrap().message;
    w.tick();
    bob.poll_once().await.unwrap();
    bob.accept_request(&id(ALICE)).await.unwrap();

    // Off by default: reading sends nothing.
    let stores = w.net.stores();
    bob.mark_read(&id(ALICE)).await.unwrap();
    assert_eq!(w.net.stores(), stores);
    let conversation = bob.with_engine(|e| e.conversation(&id(ALICE)).unwrap().unwrap());
    assert_eq!(conversation.unread, 0);
    w.tick();
    alice.poll_once().await.unwrap();
    assert_eq!(state(&alice, first), MessageState::Stored { k: 5, n: 5 });

    // On for Bob only: he sends one, Alice (off) ignores it.
    bob.update_settings(|s| s.read_receipts = true).unwrap();
    let second = alice.send_text(&id(BOB), "two").await.unwrap().message;
    w.tick();
    bob.poll_once().await.unwrap();
    bob.mark_read(&id(ALICE)).await.unwrap();
    assert_eq!(w.net.stores(), stores + 3);
    w.tick();
    assert_eq!(alice.poll_once().await.unwrap(), []);
    assert_eq!(state(&alice, second), MessageState::Stored { k: 5, n: 5 });

    // On for both.
    alice.update_settings(|s| s.read_receipts = true).unwrap();
    let third = alice.send_text(&id(BOB), "three").await.unwrap().message;
    w.tick();
    bob.poll_once().await.unwrap();
    bob.mark_read(&id(ALICE)).await.unwrap();
    w.tick();
    let events = alice.poll_once().await.unwrap();
    assert_eq!(
        events,
        [Event::ReadByPeer {
            peer: id(BOB),
            messages: vec![third]
        }]
    );
    assert_eq!(state(&alice, third), MessageState::Read);
}

#[tokio::test]
async fn typing_only_when_enabled() {
    let w = World::new();
    let alice = w.client(ALICE, "alice").await;
    let bob = w.client(BOB, "bob").await;
    alice.send_text(&id(BOB), "hi").await.unwrap();
    w.tick();
    bob.poll_once().await.unwrap();
    bob.accept_request(&id(ALICE)).await.unwrap();

    // Alice's setting is off: nothing is sent.
    let stores = w.net.stores();
    alice.set_typing(&id(BOB), true).await.unwrap();
    assert_eq!(w.net.stores(), stores);

    alice
        .update_settings(|s| s.typing_indicators = true)
        .unwrap();
    alice.set_typing(&id(BOB), true).await.unwrap();
    assert_eq!(w.net.stores(), stores + 1);
    w.tick();
    // Bob's setting is off: not shown.
    assert_eq!(bob.poll_once().await.unwrap(), []);

    bob.update_settings(|s| s.typing_indicators = true).unwrap();
    alice.set_typing(&id(BOB), false).await.unwrap();
    w.tick();
    assert_eq!(
        bob.poll_once().await.unwrap(),
        [Event::Typing {
            from: id(ALICE),
            started: false
        }]
    );
}

#[tokio::test]
async fn tampered_and_undecryptable_messages_are_skipped_without_stopping() {
    let w = World::new();
    let alice = w.client(ALICE, "alice").await;
    let bob = w.client(BOB, "bob").await;
    let bob_account = AccountId::from(id(BOB));
    alice.send_text(&id(BOB), "before").await.unwrap();
    // Garbage, a flipped ciphertext byte, and a lying node's hash.
    let garbage = w.net.inject(bob_account, b"not a message".to_vec());
    alice.send_text(&id(BOB), "tampered").await.unwrap();
    w.net.tamper_last(bob_account, |data| {
        let i = data.len() - 20;
        data[i] ^= 1;
    });
    let liar = sotto_rpc::MessageHash::compute(&bob_account, sotto_rpc::Namespace::DEFAULT, b"x");
    w.net
        .inject_with_hash(bob_account, liar, b"other data".to_vec());
    alice.send_text(&id(BOB), "after").await.unwrap();

    w.tick();
    let events = bob.poll_once().await.unwrap();
    assert_eq!(bodies(&events), ["before", "after"]);
    let skipped: Vec<_> = events
        .iter()
        .filter_map(|e| match e {
            Event::Skipped { hash, reason } => Some((*hash, reason.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(skipped.len(), 3, "{skipped:?}");
    assert_eq!(skipped[0].0, garbage);
    assert!(matches!(skipped[0].1, SkipReason::Undecryptable(_)));
    assert!(matches!(skipped[1].1, SkipReason::HashMismatch { .. }));
    assert_eq!(skipped[2].1, SkipReason::HashMismatch { claimed: liar });
    // Nothing is applied twice. Another node (positions are per node) serves them again:
    // undecryptable data is not reported again (its hash was marked seen), while data whose
    // hash does not match is checked again, since its claimed hash proves nothing.
    let again = bob.poll_once().await.unwrap();
    assert!(bodies(&again).is_empty(), "{again:?}");
    assert!(
        again.iter().all(|e| matches!(
            e,
            Event::Skipped {
                reason: SkipReason::HashMismatch { .. },
                ..
            }
        )),
        "{again:?}"
    );
}

#[tokio::test]
async fn values_beyond_63_bits_skip_the_message_not_the_batch() {
    let w = World::new();
    let alice = w.client(ALICE, "alice").await;
    let bob = w.client(BOB, "bob").await;
    alice.set_display_name(Some("Alice")).unwrap();
    let quote = crate::QuoteRef {
        key: crate::MessageKey {
            author: id(BOB),
            sent_ms: u64::MAX,
        },
        text: None,
        attachments: Vec::new(),
    };
    let odd = crate::outgoing::prepare(
        &account(ALICE),
        &id(BOB),
        &crate::outgoing::Outgoing::Text {
            body: "far future".into(),
            quote: Some(quote),
        },
        &crate::outgoing::Context {
            profile: Some(("Mallory".into(), None)),
            ..crate::outgoing::Context::default()
        },
        w.clock.now(),
        &mut sotto_crypto::OsRng,
    )
    .unwrap();
    w.net
        .inject(AccountId::from(id(BOB)), odd.jobs[0].data.clone());
    alice.send_text(&id(BOB), "normal").await.unwrap();
    w.tick();
    let events = bob.poll_once().await.unwrap();
    assert!(matches!(
        events[0],
        Event::Skipped {
            reason: SkipReason::OutOfRange("quote time"),
            ..
        }
    ));
    // Nothing of the skipped message stayed (its profile name was rolled back with it).
    assert!(
        !events
            .iter()
            .any(|e| matches!(e, Event::ProfileName { name, .. } if name == "Mallory"))
    );
    assert_eq!(bodies(&events), ["normal"]);
    let contact = bob.with_engine(|e| e.contact(&id(ALICE)).unwrap().unwrap());
    assert_eq!(contact.profile_name.as_deref(), Some("Alice"));
}

#[tokio::test]
async fn duplicates_are_applied_once() {
    let w = World::new();
    let alice = w.client(ALICE, "alice").await;
    let bob = w.client(BOB, "bob").await;
    let bob_account = AccountId::from(id(BOB));
    let sent = alice.send_text(&id(BOB), "once").await.unwrap().message;
    let sent_ms = alice.with_engine(|e| e.message(sent).unwrap().unwrap().key.sent_ms);
    // The same message encrypted again (same author and sent time, other bytes, other hash),
    // as a retry from another device would store it.
    let again = crate::outgoing::prepare(
        &account(ALICE),
        &id(BOB),
        &crate::outgoing::Outgoing::Text {
            body: "once".into(),
            quote: None,
        },
        &crate::outgoing::Context::default(),
        sent_ms,
        &mut sotto_crypto::OsRng,
    )
    .unwrap();
    w.net.inject(bob_account, again.jobs[0].data.clone());
    w.tick();
    assert_eq!(bodies(&bob.poll_once().await.unwrap()), ["once"]);

    // A node that lost the position returns everything again: nothing is applied twice.
    w.net.set_page(100);
    let (first_hash, first_data) = {
        let positions = bob.with_engine(|e| e.poll_positions().unwrap());
        let position = positions.values().next().copied();
        (position.unwrap(), again.jobs[0].data.clone())
    };
    w.net.inject_with_hash(bob_account, first_hash, first_data);
    w.tick();
    assert_eq!(bob.poll_once().await.unwrap(), []);

    // Bob's second device starts from nothing and gets the message once.
    let bob2 = w.client(BOB, "bob-laptop").await;
    assert_eq!(bodies(&bob2.poll_once().await.unwrap()), ["once"]);
}

#[tokio::test]
async fn disappearing_after_send_and_after_read() {
    let w = World::new();
    let alice = w.client(ALICE, "alice").await;
    let bob = w.client(BOB, "bob").await;
    alice.send_text(&id(BOB), "hello").await.unwrap();
    w.tick();
    bob.poll_once().await.unwrap();
    bob.accept_request(&id(ALICE)).await.unwrap();

    alice
        .set_disappearing(&id(BOB), Disappearing::AfterSend(60))
        .await
        .unwrap();
    let gone = alice.send_text(&id(BOB), "gone in 60 s").await.unwrap();
    w.tick();
    let events = bob.poll_once().await.unwrap();
    assert!(events.contains(&Event::DisappearingChanged {
        peer: id(ALICE),
        setting: Disappearing::AfterSend(60)
    }));
    let received = messages(&events)[0].message.clone();
    assert_eq!(received.disappearing, Disappearing::AfterSend(60));
    let sent_at = received.key.sent_ms;
    assert_eq!(received.expires_at_ms, Some(sent_at + 60_000));
    assert_eq!(
        bob.with_engine(|e| e.conversation(&id(ALICE)).unwrap().unwrap().disappearing),
        Disappearing::AfterSend(60)
    );

    w.clock.advance(60_000);
    let events = bob.poll_once().await.unwrap();
    assert_eq!(
        events,
        [Event::Expired {
            message: received.id
        }]
    );
    assert_eq!(state(&bob, received.id), MessageState::Deleted);
    let events = alice.poll_once().await.unwrap();
    assert!(events.contains(&Event::Expired {
        message: gone.message
    }));
    assert_eq!(state(&alice, gone.message), MessageState::Deleted);

    // After read: the timer starts when Bob reads it.
    alice
        .set_disappearing(&id(BOB), Disappearing::AfterRead(30))
        .await
        .unwrap();
    alice.send_text(&id(BOB), "read me").await.unwrap();
    w.tick();
    let events = bob.poll_once().await.unwrap();
    let received = messages(&events)[0].message.clone();
    assert_eq!(received.expires_at_ms, None);
    w.clock.advance(3_600_000);
    assert_eq!(bob.poll_once().await.unwrap(), []);
    bob.mark_read(&id(ALICE)).await.unwrap();
    let read = bob.with_engine(|e| e.message(received.id).unwrap().unwrap());
    assert_eq!(read.state, MessageState::Read);
    assert_eq!(read.expires_at_ms, Some(w.clock.now() + 30_000));
    w.clock.advance(30_000);
    assert_eq!(
        bob.poll_once().await.unwrap(),
        [Event::Expired {
            message: received.id
        }]
    );
}

#[tokio::test]
async fn delivery_states_k_of_n_failure_retry_and_give_up() {
    let w = World::new();
    let alice = w.client(ALICE, "alice").await;
    let mut events = alice.events();

    // Two of five nodes down: stored on 3 of 5 (a dead entry node is forgotten and another
    // tried at once; see also `dead_swarm_nodes_do_not_fail_a_message`).
    w.net.set_down(0, true);
    w.net.set_down(1, true);
    let sent = alice.send_text(&id(BOB), "two down").await.unwrap();
    let mut state = sent.state;
    for _ in 0..3 {
        if matches!(state, MessageState::Stored { .. }) {
            break;
        }
        assert!(matches!(state, MessageState::Failed { .. }), "{state:?}");
        w.clock.advance(600_000);
        alice.flush_outbox().await.unwrap();
        state = crate::tests::state(&alice, sent.message);
    }
    assert_eq!(state, MessageState::Stored { k: 3, n: 5 });
    w.net.set_down(0, false);
    w.net.set_down(1, false);

    // Offline: failed, with a retry scheduled 2 s later.
    w.net.set_offline(true);
    let sent = alice.send_text(&id(BOB), "offline").await.unwrap();
    let now = w.clock.now();
    assert_eq!(
        sent.state,
        MessageState::Failed {
            attempts: 1,
            next_retry_ms: Some(now + 2_000)
        }
    );
    // Not due yet: nothing happens.
    assert_eq!(alice.flush_outbox().await.unwrap(), []);
    w.clock.advance(2_000);
    let retried = alice.flush_outbox().await.unwrap();
    assert_eq!(
        retried,
        [Event::Delivery {
            message: sent.message,
            state: MessageState::Failed {
                attempts: 2,
                next_retry_ms: Some(w.clock.now() + 4_000)
            }
        }]
    );
    // Back online: the next retry stores it.
    w.net.set_offline(false);
    w.clock.advance(4_000);
    alice.flush_outbox().await.unwrap();
    assert_eq!(
        crate::tests::state(&alice, sent.message),
        MessageState::Stored { k: 5, n: 5 }
    );

    // Giving up after the last attempt, then a manual retry.
    w.net.set_offline(true);
    let sent = alice.send_text(&id(BOB), "doomed").await.unwrap();
    for _ in 0..20 {
        w.clock.advance(600_000);
        alice.flush_outbox().await.unwrap();
    }
    assert_eq!(
        crate::tests::state(&alice, sent.message),
        MessageState::Failed {
            attempts: 10,
            next_retry_ms: None
        }
    );
    w.net.set_offline(false);
    alice.retry(sent.message).await.unwrap();
    assert_eq!(
        crate::tests::state(&alice, sent.message),
        MessageState::Stored { k: 5, n: 5 }
    );

    // The events stream saw the delivery states.
    let mut delivery = 0;
    let short = std::time::Duration::from_millis(20);
    while let Ok(Some(event)) = tokio::time::timeout(short, events.next()).await {
        if matches!(event, Event::Delivery { .. }) {
            delivery += 1;
        }
    }
    assert!(delivery >= 4, "{delivery}");
}

#[tokio::test]
async fn dead_swarm_nodes_do_not_fail_a_message() {
    let w = World::new();
    let alice = w.client(ALICE, "alice").await;
    let bob = w.client(BOB, "bob").await;
    // Two of five nodes give no answer: whichever node a request goes to first, another one
    // is tried at once, so no message shows as failed and no poll fails.
    w.net.set_down(0, true);
    w.net.set_down(1, true);
    for i in 0..10 {
        let sent = alice.send_text(&id(BOB), &format!("m{i}")).await.unwrap();
        assert_eq!(
            sent.state,
            MessageState::Stored { k: 3, n: 5 },
            "message {i}"
        );
    }
    w.tick();
    assert_eq!(bodies(&bob.poll_once().await.unwrap()).len(), 10);
    // A refused request (here: the network is cut off, every node times out) still fails
    // after a few nodes, and is retried later.
    w.net.set_offline(true);
    let sent = alice.send_text(&id(BOB), "offline").await.unwrap();
    assert!(
        matches!(sent.state, MessageState::Failed { attempts: 1, .. }),
        "{:?}",
        sent.state
    );
}

#[tokio::test]
async fn nothing_shown_is_lost_across_a_restart() {
    let w = World::new();
    let bob = w.client(BOB, "bob").await;
    let (failed, received);
    {
        let alice = w.client(ALICE, "alice").await;
        alice.send_text(&id(BOB), "stored").await.unwrap();
        w.net.set_offline(true);
        failed = alice.send_text(&id(BOB), "queued").await.unwrap().message;
        w.net.set_offline(false);
        w.tick();
        received = messages(&bob.poll_once().await.unwrap())[0].message.clone();
    }
    drop(bob);
    // The process comes back: the outbox still holds the failed message, which goes out.
    let alice = w.client(ALICE, "alice").await;
    let bob = w.client(BOB, "bob").await;
    assert_eq!(
        bob.with_engine(|e| e.message(received.id).unwrap()),
        Some(received)
    );
    w.clock.advance(LEASE);
    alice.flush_outbox().await.unwrap();
    assert_eq!(state(&alice, failed), MessageState::Stored { k: 5, n: 5 });
    w.tick();
    // The poll position survived: only the new message arrives.
    assert_eq!(bodies(&bob.poll_once().await.unwrap()), ["queued"]);
    assert!(db_path(w.dir.path(), "alice").exists());
}

const LEASE: u64 = crate::LEASE_MS;

#[tokio::test]
async fn reactions_quotes_and_other_devices() {
    let w = World::new();
    let alice = w.client(ALICE, "alice").await;
    let alice2 = w.client(ALICE, "alice-laptop").await;
    let bob = w.client(BOB, "bob").await;
    let hi = alice.send_text(&id(BOB), "hi").await.unwrap().message;
    w.tick();
    let bob_hi = messages(&bob.poll_once().await.unwrap())[0].message.id;
    bob.accept_request(&id(ALICE)).await.unwrap();

    // Bob replies quoting it and reacts.
    bob.reply(bob_hi, "hello yourself").await.unwrap();
    bob.react(bob_hi, "👋").await.unwrap();
    w.tick();
    let events = alice.poll_once().await.unwrap();
    let reply = &messages(&events)[0].message;
    let quote = reply.quote.as_ref().unwrap();
    assert_eq!(quote.key.author, id(ALICE));
    assert_eq!(quote.text.as_deref(), Some("hi"));
    assert!(events.contains(&Event::Reaction {
        message: hi,
        reactor: id(BOB),
        emoji: "👋".into(),
        added: true
    }));
    let reactions = alice.with_engine(|e| e.reactions(hi).unwrap());
    assert_eq!(reactions.len(), 1);
    bob.remove_reaction(bob_hi, "👋").await.unwrap();
    w.tick();
    alice.poll_once().await.unwrap();
    assert!(alice.with_engine(|e| e.reactions(hi).unwrap()).is_empty());

    // Alice's other device sees her message (sent elsewhere), Bob's answers, and her unsend.
    let events = alice2.poll_once().await.unwrap();
    let all = messages(&events);
    assert_eq!(all.len(), 2);
    assert!(all[0].message.outgoing);
    assert_eq!(all[0].message.state, MessageState::SentElsewhere);
    assert_eq!(all[0].message.peer, id(BOB));
    assert!(!all[0].request);
    let copy = all[0].message.id;
    alice.unsend(hi).await.unwrap();
    w.tick();
    assert_eq!(
        alice2.poll_once().await.unwrap(),
        [Event::Unsent { message: copy }]
    );
    // The messages stream carries only others' messages.
    let mut stream = alice2.messages();
    bob.send_text(&id(ALICE), "ping").await.unwrap();
    alice.send_text(&id(BOB), "pong").await.unwrap();
    w.tick();
    alice2.poll_once().await.unwrap();
    let next = stream.next().await.unwrap();
    assert_eq!(next.message.body.as_deref(), Some("ping"));
    let short = std::time::Duration::from_millis(20);
    assert!(tokio::time::timeout(short, stream.next()).await.is_err());
}

#[tokio::test]
async fn notes_to_self_and_paging() {
    let w = World::new();
    let alice = w.client(ALICE, "alice").await;
    let note = alice.send_text(&id(ALICE), "note").await.unwrap();
    assert_eq!(w.net.stores(), 1);
    assert_eq!(note.state, MessageState::Stored { k: 5, n: 5 });

    let bob = w.client(BOB, "bob").await;
    w.net.set_page(2);
    for i in 0..5 {
        alice.send_text(&id(BOB), &format!("m{i}")).await.unwrap();
    }
    w.tick();
    assert_eq!(
        bodies(&bob.poll_once().await.unwrap()),
        ["m0", "m1", "m2", "m3", "m4"]
    );
    // Distinct sent timestamps even within one millisecond.
    let history = bob.with_engine(|e| e.messages(&id(ALICE), 10).unwrap());
    let mut times: Vec<_> = history.iter().map(|m| m.key.sent_ms).collect();
    times.dedup();
    assert_eq!(times.len(), 5);
}

#[tokio::test]
async fn the_background_poller_feeds_the_stream() {
    let w = World::new();
    let alice = w.client(ALICE, "alice").await;
    let config = ClientConfig {
        background: true,
        sync_configs: false,
        poll: crate::poll::PollPolicy {
            active_ms: 10,
            recent_ms: 10,
            idle_ms: 10,
            ..crate::poll::PollPolicy::default()
        },
        ..w.config("bob")
    };
    let bob = Client::connect(w.net.clone(), account(BOB), config)
        .await
        .unwrap();
    let mut stream = bob.messages();
    alice.send_text(&id(BOB), "are you there?").await.unwrap();
    let got = tokio::time::timeout(std::time::Duration::from_secs(10), stream.next())
        .await
        .expect("the poller delivered the message in time")
        .unwrap();
    assert_eq!(got.message.body.as_deref(), Some("are you there?"));
    assert!(got.request);
}

#[tokio::test]
async fn connect_fails_without_a_network() {
    let w = World::new();
    w.net.set_offline(true);
    let err = Client::connect(w.net.clone(), account(ALICE), w.config("alice"))
        .await
        .unwrap_err();
    assert!(matches!(err, ClientError::Network(_)), "{err}");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// However the swarm's messages are cut into batches, and however often batches repeat,
    /// each message is applied exactly once and in order.
    #[test]
    fn any_batching_applies_each_message_once(
        count in 1usize..8,
        cuts in proptest::collection::vec(0usize..8, 0..6),
        repeats in proptest::collection::vec(any::<bool>(), 8),
    ) {
        let clock = TestClock::new(START);
        let mut alice = crate::Engine::open_in_memory(account(ALICE)).unwrap();
        let mut bob = crate::Engine::open_in_memory(account(BOB)).unwrap();
        let mut rng = sotto_crypto::OsRng;
        let mut stored = Vec::new();
        for i in 0..count {
            let sent = alice.send_text(&id(BOB), &format!("m{i}"), None, clock.now(), &mut rng).unwrap();
            let job = &sent.jobs[0];
            let request = alice.store_request(job, clock.now());
            stored.push(sotto_rpc::response::RetrievedMessage {
                hash: request.message_hash(),
                timestamp: request.timestamp,
                expiration: request.expiry(),
                data: request.data,
            });
        }
        let mut bounds: Vec<usize> = cuts.into_iter().map(|c| c % (count + 1)).collect();
        bounds.push(0);
        bounds.push(count);
        bounds.sort_unstable();
        let mut seen = Vec::new();
        for (i, pair) in bounds.windows(2).enumerate() {
            let batch = &stored[pair[0]..pair[1]];
            let times = if repeats[i % repeats.len()] { 2 } else { 1 };
            for _ in 0..times {
                for event in bob.receive(&NODE, batch, clock.now()).unwrap() {
                    if let Event::Message(m) = event {
                        seen.push(m.message.body.unwrap());
                    }
                }
            }
        }
        // And the whole list once more, as a node that lost the poll position would.
        prop_assert!(bob.receive(&NODE, &stored, clock.now()).unwrap().is_empty());
        let expected: Vec<String> = (0..count).map(|i| format!("m{i}")).collect();
        prop_assert_eq!(seen, expected);
    }
}

/// A swarm node key for tests that drive the engine directly.
const NODE: sotto_crypto::Ed25519PublicKey = sotto_crypto::Ed25519PublicKey([7; 32]);

/// Positions are per swarm node: reading node A up to a message does not move node B's
/// position, whose arrival order may differ (a message that reached B late would be skipped).
#[test]
fn poll_positions_are_per_node() {
    let (node_a, node_b) = (
        sotto_crypto::Ed25519PublicKey([1; 32]),
        sotto_crypto::Ed25519PublicKey([2; 32]),
    );
    let mut bob = crate::Engine::open_in_memory(Account::from_ed25519_seed(&[0xb0; 32])).unwrap();
    let bob_account = AccountId::from(bob.session_id());
    let message = |data: &[u8]| sotto_rpc::response::RetrievedMessage {
        hash: sotto_rpc::MessageHash::compute(&bob_account, sotto_rpc::Namespace::DEFAULT, data),
        timestamp: 1,
        expiration: 10_000_000,
        data: data.to_vec(),
    };
    let (first, second) = (message(b"one"), message(b"two"));
    bob.receive(&node_a, &[first.clone(), second.clone()], 5)
        .unwrap();
    bob.receive(&node_b, std::slice::from_ref(&first), 6)
        .unwrap();
    let positions = bob.poll_positions().unwrap();
    assert_eq!(positions.get(&node_a), Some(&second.hash));
    assert_eq!(positions.get(&node_b), Some(&first.hash));
    assert_eq!(
        bob.retrieve_request(positions.get(&node_b).copied(), 7)
            .last_hash,
        Some(first.hash)
    );
    // Unused positions are forgotten once anything they could hold has expired.
    bob.expire(6 + crate::engine::POLL_POSITION_LIFETIME_MS)
        .unwrap();
    assert_eq!(bob.poll_positions().unwrap().len(), 1);
    bob.expire(7 + crate::engine::POLL_POSITION_LIFETIME_MS)
        .unwrap();
    assert!(bob.poll_positions().unwrap().is_empty());
}

/// S-10: an entry node that answers "stored on 5 of 5" under keys it made up, and stores
/// nothing, does not get the message marked stored: it fails and is retried.
#[tokio::test]
async fn forged_receipts_do_not_mark_a_message_stored() {
    let w = World::new();
    let alice = w.client(ALICE, "alice").await;
    w.net.set_forging(true);
    let sent = alice.send_text(&id(BOB), "into the void").await.unwrap();
    assert!(
        matches!(
            sent.state,
            MessageState::Failed {
                attempts: 1,
                next_retry_ms: Some(_)
            }
        ),
        "{:?}",
        sent.state
    );
    // Once the nodes are honest again, the retry stores it.
    w.net.set_forging(false);
    alice.retry(sent.message).await.unwrap();
    assert_eq!(
        state(&alice, sent.message),
        MessageState::Stored { k: 5, n: 5 }
    );
}

/// A refusal that no retry can change (a 4xx other than 421 and 429) fails the message for
/// good; a 429 is retried.
#[tokio::test]
async fn a_refusal_fails_for_good_and_429_is_retried() {
    let w = World::new();
    let alice = w.client(ALICE, "alice").await;
    w.net.set_refusing(Some(403));
    let sent = alice.send_text(&id(BOB), "refused").await.unwrap();
    assert_eq!(
        sent.state,
        MessageState::Failed {
            attempts: 1,
            next_retry_ms: None
        }
    );
    assert_eq!(alice.with_engine(|e| e.next_job_due().unwrap()), None);
    w.net.set_refusing(Some(429));
    let sent = alice.send_text(&id(BOB), "slow down").await.unwrap();
    assert!(
        matches!(
            sent.state,
            MessageState::Failed {
                next_retry_ms: Some(_),
                ..
            }
        ),
        "{:?}",
        sent.state
    );
}

/// A text too large for the network is refused before anything is written or sent, with the
/// limit in the error.
#[tokio::test]
async fn an_oversize_text_is_refused_before_sending() {
    let w = World::new();
    let alice = w.client(ALICE, "alice").await;
    let body = "a".repeat(100_000);
    let err = alice.send_text(&id(BOB), &body).await.unwrap_err();
    assert!(
        matches!(err, ClientError::TooLarge { limit: 76_800, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("76800 bytes"), "{err}");
    assert_eq!(w.net.stores(), 0);
    assert!(
        alice
            .with_engine(|e| e.messages(&id(BOB), 10).unwrap())
            .is_empty()
    );
    assert_eq!(alice.with_engine(|e| e.next_job_due().unwrap()), None);
    // The longest text that fits goes through.
    let body = "a".repeat(crate::outgoing::MAX_TEXT_LEN);
    let sent = alice.send_text(&id(BOB), &body).await.unwrap();
    assert_eq!(sent.state, MessageState::Stored { k: 5, n: 5 });
}

/// Whether `needle` occurs in the database `name` under `dir` or in its WAL.
fn on_disk(dir: &Path, name: &str, needle: &[u8]) -> bool {
    [format!("{name}.db"), format!("{name}.db-wal")]
        .iter()
        .any(|f| {
            std::fs::read(dir.join(f))
                .is_ok_and(|bytes| bytes.windows(needle.len()).any(|w| w == needle))
        })
}

/// S-12: message text is encrypted at rest (neither the database file nor its WAL holds a
/// body or a quote in plaintext, while open or after closing), and once a disappearing
/// message is swept, not even its ciphertext stays in the file or the WAL.
#[test]
fn message_text_is_encrypted_at_rest_and_gone_after_the_sweep() {
    use sotto_crypto::OsRng;
    let dir = tempfile::tempdir().unwrap();
    let path = db_path(dir.path(), "alice");
    let body = "a-distinctive-body-7f3a9c-that-must-not-be-on-disk";
    {
        let mut alice = crate::Engine::open(&path, account(ALICE)).unwrap();
        alice
            .set_disappearing(&id(BOB), Disappearing::AfterSend(60), START, &mut OsRng)
            .unwrap();
        let sent = alice
            .send_text(&id(BOB), body, None, START + 1, &mut OsRng)
            .unwrap();
        let reply = alice
            .send_text(&id(BOB), "a reply", sent.message, START + 2, &mut OsRng)
            .unwrap();
        let record = alice.message(sent.message.unwrap()).unwrap().unwrap();
        assert_eq!(record.body.as_deref(), Some(body));
        let record = alice.message(reply.message.unwrap()).unwrap().unwrap();
        assert_eq!(record.quote.unwrap().text.as_deref(), Some(body));
        assert!(
            !on_disk(dir.path(), "alice", body.as_bytes()),
            "plaintext in the database or its WAL"
        );
    }
    assert!(!on_disk(dir.path(), "alice", body.as_bytes()));

    // The text as stored, sealed.
    let sealed: Vec<Vec<u8>> = {
        let conn = rusqlite::Connection::open(&path).unwrap();
        let mut stmt = conn
            .prepare(
                "SELECT body FROM messages WHERE body IS NOT NULL \
                 UNION ALL SELECT quote_text FROM messages WHERE quote_text IS NOT NULL",
            )
            .unwrap();
        stmt.query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    };
    assert_eq!(sealed.len(), 3);
    assert!(sealed.iter().all(|s| on_disk(dir.path(), "alice", s)));

    let mut alice = crate::Engine::open(&path, account(ALICE)).unwrap();
    let expired = alice.expire(START + 120_000).unwrap();
    assert_eq!(expired.len(), 2);
    for s in &sealed {
        assert!(
            !on_disk(dir.path(), "alice", s),
            "a disappeared message's text stays in the database or its WAL"
        );
    }
}
