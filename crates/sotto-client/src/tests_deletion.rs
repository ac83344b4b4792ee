//! Deletes and expiry updates on one's own swarm, over the in-process test network (unit
//! tests of the client logic; `tests/e2e_deletion.rs` checks the same on a real testnet).

use sotto_identity::{Account, SessionId};
use sotto_rpc::{AccountId, MessageHash};

use crate::testing::{MemoryNetwork, TestClock};
use crate::{Client, ClientConfig, Disappearing, Event, MessageId};

const START: u64 = 1_754_971_101_000;
const ALICE: u8 = 1;
const BOB: u8 = 2;
const DAY_MS: u64 = 24 * 3600 * 1000;

fn account(seed: u8) -> Account {
    Account::from_ed25519_seed(&[seed; 32])
}

fn id(seed: u8) -> SessionId {
    account(seed).session_id()
}

fn swarm(seed: u8) -> AccountId {
    AccountId::from(id(seed))
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

    async fn client(&self, seed: u8) -> Client<MemoryNetwork> {
        let config = ClientConfig {
            background: false,
            clock: self.clock.clock(),
            sync_configs: false,
            ..ClientConfig::new(self.dir.path().join(format!("{seed}.db")))
        };
        Client::connect(self.net.clone(), account(seed), config)
            .await
            .unwrap()
    }

    fn tick(&self) {
        self.clock.advance(1_000);
    }

    /// The expiry `account`'s swarm holds `hash` with, if it holds it.
    fn held(&self, account: AccountId, hash: MessageHash) -> Option<u64> {
        self.net
            .held(account)
            .into_iter()
            .find(|(h, _)| *h == hash)
            .map(|(_, e)| e)
    }
}

fn copy(client: &Client<MemoryNetwork>, message: MessageId) -> MessageHash {
    let copies = client.with_engine(|e| e.swarm_copies(message)).unwrap();
    assert_eq!(copies.len(), 1, "{copies:?}");
    copies[0]
}

fn received(events: &[Event]) -> Vec<MessageId> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Message(m) if !m.message.outgoing => Some(m.message.id),
            _ => None,
        })
        .collect()
}

fn pending(client: &Client<MemoryNetwork>, now: u64) -> usize {
    client
        .with_engine(|e| e.swarm_updates(now))
        .unwrap()
        .iter()
        .map(|u| u.hashes.len())
        .sum()
}

#[tokio::test]
async fn unsend_deletes_the_sync_copy_and_the_recipients_copy() {
    let w = World::new();
    let alice = w.client(ALICE).await;
    let bob = w.client(BOB).await;
    let sent = alice.send_text(&id(BOB), "oops").await.unwrap();
    let sync_copy = copy(&alice, sent.message);
    w.tick();
    let at_bob = received(&bob.poll_once().await.unwrap())[0];
    let delivered = copy(&bob, at_bob);
    assert!(w.held(swarm(ALICE), sync_copy).is_some());
    assert!(w.held(swarm(BOB), delivered).is_some());

    alice.unsend(sent.message).await.unwrap();
    assert_eq!(
        w.held(swarm(ALICE), sync_copy),
        None,
        "the sync copy is gone"
    );
    assert_eq!(w.net.requests("delete"), 1);
    assert_eq!(pending(&alice, w.clock.now()), 0);
    // Until Bob applies the unsend, his copy stays.
    assert!(w.held(swarm(BOB), delivered).is_some());
    w.tick();
    let events = bob.poll_once().await.unwrap();
    assert_eq!(events, [Event::Unsent { message: at_bob }]);
    assert_eq!(
        w.held(swarm(BOB), delivered),
        None,
        "the delivered copy is gone"
    );
    assert_eq!(w.net.requests("delete"), 2);
    assert_eq!(pending(&bob, w.clock.now()), 0);
    // Alice's poll brings her own unsend request back: already applied, nothing more to delete.
    w.tick();
    alice.poll_once().await.unwrap();
    assert_eq!(w.net.requests("delete"), 2);
}

#[tokio::test]
async fn after_send_messages_are_stored_with_their_timer() {
    let w = World::new();
    let alice = w.client(ALICE).await;
    alice
        .set_disappearing(&id(BOB), Disappearing::AfterSend(3600))
        .await
        .unwrap();
    let sent = alice.send_text(&id(BOB), "an hour").await.unwrap();
    let sent_ms = alice.with_engine(|e| e.message(sent.message).unwrap().unwrap().key.sent_ms);
    let sync_copy = copy(&alice, sent.message);
    assert_eq!(w.held(swarm(ALICE), sync_copy), Some(sent_ms + 3_600_000));
    let delivered: Vec<u64> = w.net.held(swarm(BOB)).iter().map(|(_, e)| *e).collect();
    assert!(delivered.contains(&(sent_ms + 3_600_000)), "{delivered:?}");
}

#[tokio::test]
async fn after_read_timers_shorten_the_readers_copies_in_one_request() {
    let w = World::new();
    let alice = w.client(ALICE).await;
    let bob = w.client(BOB).await;
    alice
        .set_disappearing(&id(BOB), Disappearing::AfterRead(60))
        .await
        .unwrap();
    let mut sync_copies = Vec::new();
    for text in ["one", "two", "three"] {
        let sent = alice.send_text(&id(BOB), text).await.unwrap();
        let sent_ms = alice.with_engine(|e| e.message(sent.message).unwrap().unwrap().key.sent_ms);
        // The sender's timer starts at sending: the sync copy lives as long as it.
        let hash = copy(&alice, sent.message);
        assert_eq!(w.held(swarm(ALICE), hash), Some(sent_ms + 60_000));
        sync_copies.push(hash);
    }
    w.tick();
    let at_bob = received(&bob.poll_once().await.unwrap());
    assert_eq!(at_bob.len(), 3);
    let copies: Vec<MessageHash> = at_bob.iter().map(|m| copy(&bob, *m)).collect();
    for hash in &copies {
        assert!(
            w.held(swarm(BOB), *hash).unwrap() > w.clock.now() + DAY_MS,
            "unread"
        );
    }
    assert_eq!(w.net.requests("expire"), 0);

    w.tick();
    let read_ms = w.clock.now();
    bob.mark_read(&id(ALICE)).await.unwrap();
    assert_eq!(
        w.net.requests("expire"),
        1,
        "one expire for the three messages"
    );
    for hash in &copies {
        assert_eq!(w.held(swarm(BOB), *hash), Some(read_ms + 60_000));
    }
    // Reading again starts nothing new.
    bob.mark_read(&id(ALICE)).await.unwrap();
    assert_eq!(w.net.requests("expire"), 1);

    // The timers run out: gone here and on both swarms, with no delete needed.
    w.clock.advance(61_000);
    bob.poll_once().await.unwrap();
    alice.poll_once().await.unwrap();
    assert!(
        w.net
            .held(swarm(BOB))
            .iter()
            .all(|(h, _)| !copies.contains(h))
    );
    assert!(
        w.net
            .held(swarm(ALICE))
            .iter()
            .all(|(h, _)| !sync_copies.contains(h))
    );
    assert_eq!(w.net.requests("delete"), 0);
}

#[tokio::test]
async fn delete_for_me_and_clear_take_only_ones_own_copies() {
    let w = World::new();
    let alice = w.client(ALICE).await;
    let bob = w.client(BOB).await;
    let first = alice.send_text(&id(BOB), "first").await.unwrap();
    let second = alice.send_text(&id(BOB), "second").await.unwrap();
    let alice_copies = [copy(&alice, first.message), copy(&alice, second.message)];
    w.tick();
    let at_bob = received(&bob.poll_once().await.unwrap());
    let bob_first = copy(&bob, at_bob[0]);

    bob.delete_for_me(at_bob[0]).await.unwrap();
    assert_eq!(w.held(swarm(BOB), bob_first), None);
    let gone = bob.with_engine(|e| e.message(at_bob[0]).unwrap().unwrap());
    assert_eq!(gone.body, None);
    // Alice's copies are hers.
    assert!(
        alice_copies
            .iter()
            .all(|h| w.held(swarm(ALICE), *h).is_some())
    );

    assert_eq!(alice.clear_conversation(&id(BOB)).await.unwrap(), 2);
    assert!(
        alice_copies
            .iter()
            .all(|h| w.held(swarm(ALICE), *h).is_none())
    );
    assert_eq!(w.net.requests("delete"), 2, "one request per action");
    let history = alice.with_engine(|e| e.messages(&id(BOB), 10).unwrap());
    assert!(history.iter().all(|m| m.body.is_none()));
    // Bob's second message is untouched.
    assert!(w.held(swarm(BOB), copy(&bob, at_bob[1])).is_some());
}

#[tokio::test]
async fn a_failed_delete_goes_with_the_next_poll() {
    let w = World::new();
    let alice = w.client(ALICE).await;
    let bob = w.client(BOB).await;
    alice.send_text(&id(BOB), "later").await.unwrap();
    w.tick();
    let at_bob = received(&bob.poll_once().await.unwrap())[0];
    let hash = copy(&bob, at_bob);
    w.net.set_offline(true);
    bob.delete_for_me(at_bob).await.unwrap();
    assert_eq!(pending(&bob, w.clock.now()), 1);
    assert!(w.held(swarm(BOB), hash).is_some());
    w.net.set_offline(false);
    w.tick();
    bob.poll_once().await.unwrap();
    assert_eq!(pending(&bob, w.clock.now()), 0);
    assert_eq!(w.held(swarm(BOB), hash), None);
}

#[tokio::test]
async fn a_delete_signed_by_someone_else_is_refused() {
    use crate::Network as _;
    let w = World::new();
    let alice = w.client(ALICE).await;
    let bob = w.client(BOB).await;
    alice.send_text(&id(BOB), "mine").await.unwrap();
    w.tick();
    let at_bob = received(&bob.poll_once().await.unwrap())[0];
    let hash = copy(&bob, at_bob);
    let node = w.net.get_swarm(swarm(BOB)).await.unwrap()[0].clone();
    // Alice signs a delete of Bob's copy.
    let forged = alice.with_engine(|e| e.delete_request(vec![hash]));
    let forged = sotto_rpc::request::Delete {
        account: swarm(BOB),
        ..forged
    };
    let refused = w.net.delete(node, forged).await;
    assert!(
        matches!(refused, Err(crate::NetworkError::Status(401))),
        "{refused:?}"
    );
    assert!(w.held(swarm(BOB), hash).is_some());
}

/// What an "after read" conversation of 100 messages costs in requests: Alice and Bob take
/// turns (50 texts each); after each text the other polls and reads it. Printed for the
/// record (`--nocapture`), and checked: every text is two stores (the recipient's copy and
/// the sync copy, which is stored with the timer and needs no expire), and every read that
/// starts a timer is one `expire`, however many messages it covers; nothing is deleted.
#[tokio::test]
async fn the_cost_of_an_after_read_conversation() {
    let w = World::new();
    let alice = w.client(ALICE).await;
    let bob = w.client(BOB).await;
    // Contacts already (no message-request response in the count).
    let now = w.clock.now();
    alice.with_engine(|e| e.add_contact(&id(BOB), None, now).unwrap());
    bob.with_engine(|e| e.add_contact(&id(ALICE), None, now).unwrap());
    alice
        .set_disappearing(&id(BOB), Disappearing::AfterRead(300))
        .await
        .unwrap();
    bob.set_disappearing(&id(ALICE), Disappearing::AfterRead(300))
        .await
        .unwrap();
    w.tick();
    alice.poll_once().await.unwrap();
    bob.poll_once().await.unwrap();
    let count = |m: &str| w.net.requests(m);
    let (stores, retrieves) = (count("store"), count("retrieve"));
    for i in 0..100 {
        let (writer, reader, peer, to) = if i % 2 == 0 {
            (&alice, &bob, id(ALICE), id(BOB))
        } else {
            (&bob, &alice, id(BOB), id(ALICE))
        };
        writer.send_text(&to, "hi").await.unwrap();
        w.tick();
        assert_eq!(received(&reader.poll_once().await.unwrap()).len(), 1);
        reader.mark_read(&peer).await.unwrap();
    }
    let stores = count("store") - stores;
    let retrieves = count("retrieve") - retrieves;
    let (expires, deletes) = (count("expire"), count("delete"));
    eprintln!(
        "an after-read conversation of 100 messages, each read at once: {stores} stores, \
         {expires} expires, {deletes} deletes ({} requests besides the {retrieves} polls)",
        stores + expires + deletes
    );
    assert_eq!((stores, expires, deletes), (200, 100, 0));

    // Read in tens instead: one expire per read.
    let before = count("expire");
    for i in 0..100 {
        alice.send_text(&id(BOB), "batch").await.unwrap();
        w.tick();
        if i % 10 == 9 {
            bob.poll_once().await.unwrap();
            bob.mark_read(&id(ALICE)).await.unwrap();
        }
    }
    let expires = count("expire") - before;
    eprintln!("100 messages read ten at a time: {expires} expires");
    assert_eq!(expires, 10);
}
