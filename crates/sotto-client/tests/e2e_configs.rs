//! Config sync between devices of one account, on a real testnet (`sotto-node` processes and a
//! `sotto-directory` on 127.110.0.x; clients over `OnionNetwork`, each device with its own
//! SQLite file):
//!
//! 1. a second device gets the name, contacts, nicknames, blocked list and conversations, and
//!    the messages the first one sent, as sent messages;
//! 2. edits on both devices to different contacts both survive; concurrent edits to one
//!    contact converge to the same config bytes on both;
//! 3. a third device restored later gets everything;
//! 4. truncated, foreign-signed and replayed (older seqno) configs stored on the swarm are
//!    rejected with their reason and change nothing;
//! 5. an edit marked dirty by a device that stopped before pushing is pushed at its next start.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::time::Instant;

use common::{STEP, TestNet, User, add_contact_offline, new_account, now_ms, wait_for};
use sotto_client::configs::{ConfigRejection, seal_config};
use sotto_client::{Account, Engine, Event, MessageState, Network, SessionId, SkipReason};
use sotto_config::{ConfigKind, Dict};
use sotto_rpc::request::{Lifetime, Store};
use sotto_rpc::{AccountId, Namespace, Signer};

fn step(start: Instant, name: &str) {
    eprintln!("[{:>6.1}s] step: {name}", start.elapsed().as_secs_f64());
}

fn contacts(user: &User) -> Dict {
    user.client
        .with_engine(|e| e.config_data(ConfigKind::Contacts))
        .unwrap()
}

fn nickname(user: &User, id: &SessionId) -> Option<String> {
    user.client
        .with_engine(|e| e.contact(id))
        .unwrap()
        .and_then(|c| c.nickname)
}

/// Stores `data` in `account`'s config namespace directly (signed by the account, as only its
/// owner can), through `via`'s network.
async fn store_config(via: &User, account: &Account, data: Vec<u8>) {
    let own = AccountId::from(account.session_id());
    let swarm = via.onion().get_swarm(own).await.unwrap();
    let now = now_ms();
    let store = Store::new(
        own,
        Namespace::CONTACTS,
        data,
        now,
        Lifetime::Ttl(3_600_000),
    )
    .signed(&Signer::session(account.ed25519_secret()), now);
    via.onion().store(swarm[0].clone(), store).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn devices_of_one_account_share_their_state() {
    let start = Instant::now();
    let net = TestNet::start(110, 5).await;
    let alice = new_account();
    let (bob_account, carol, dave) = (new_account(), new_account(), new_account());
    let bob_id = bob_account.session_id();

    step(
        start,
        "the laptop: name, contact with nickname, a block, a message",
    );
    let laptop = net.user("laptop", &alice).await;
    let bob = net.user("bob", &bob_account).await;
    laptop.client.set_display_name(Some("Alice")).unwrap();
    laptop
        .client
        .with_engine(|e| e.add_contact(&bob_id, Some("Bobby"), now_ms()))
        .unwrap();
    laptop.client.block(&carol.session_id()).unwrap();
    laptop
        .client
        .send_text(&bob_id, "hello from the laptop")
        .await
        .unwrap();
    bob.wait_message(&alice.session_id(), "hello from the laptop")
        .await;

    step(
        start,
        "the phone, restored from the same seed, gets all of it",
    );
    let mut phone = User::connect(
        &net,
        "phone",
        alice.clone(),
        net.dir.path().join("phone.db"),
    )
    .await;
    phone
        .wait_state("the laptop's state on the phone", STEP, |u| {
            let ok = u.client.with_engine(|e| {
                let name = e.settings().unwrap().display_name;
                let bob = e.contact(&bob_id).unwrap()?;
                let carol = e.contact(&carol.session_id()).unwrap()?;
                let sent =
                    e.messages(&bob_id, 10).unwrap().into_iter().find(|m| {
                        m.outgoing && m.body.as_deref() == Some("hello from the laptop")
                    })?;
                Some(
                    name.as_deref() == Some("Alice")
                        && bob.nickname.as_deref() == Some("Bobby")
                        && bob.approved
                        && carol.blocked
                        && sent.state == MessageState::SentElsewhere,
                )
            });
            ok.filter(|ok| *ok)
        })
        .await;
    assert!(
        phone
            .client
            .with_engine(|e| e.conversation(&bob_id))
            .unwrap()
            .is_some_and(|c| !c.is_request())
    );

    step(start, "a block on the phone shows on the laptop");
    phone.client.block(&dave.session_id()).unwrap();
    laptop
        .wait_state("dave blocked on the laptop", STEP, |u| {
            u.client
                .with_engine(|e| e.contact(&dave.session_id()))
                .unwrap()
                .filter(|c| c.blocked)
        })
        .await;

    step(
        start,
        "edits on both devices to different contacts both survive",
    );
    let (x, y) = (new_account().session_id(), new_account().session_id());
    laptop
        .client
        .with_engine(|e| e.add_contact(&x, Some("x from laptop"), now_ms()))
        .unwrap();
    phone
        .client
        .with_engine(|e| e.add_contact(&y, Some("y from phone"), now_ms()))
        .unwrap();
    for user in [&laptop, &phone] {
        user.wait_state("both edits", STEP, |u| {
            (nickname(u, &x).as_deref() == Some("x from laptop")
                && nickname(u, &y).as_deref() == Some("y from phone"))
            .then_some(())
        })
        .await;
    }

    step(
        start,
        "concurrent edits to one contact converge to the same bytes",
    );
    laptop
        .client
        .with_engine(|e| e.add_contact(&bob_id, Some("laptop's Bob"), now_ms()))
        .unwrap();
    phone
        .client
        .with_engine(|e| e.add_contact(&bob_id, Some("phone's Bob"), now_ms()))
        .unwrap();
    wait_for("the same Contacts on both devices", STEP, || async {
        let pushed = |u: &User| u.client.config_status().unwrap().iter().all(|s| s.pushed);
        let (a, b) = (contacts(&laptop), contacts(&phone));
        let status = |u: &User| u.client.config_status().unwrap();
        let (na, nb) = (nickname(&laptop, &bob_id), nickname(&phone, &bob_id));
        let edited =
            |n: &Option<String>| matches!(n.as_deref(), Some("laptop's Bob" | "phone's Bob"));
        (a == b
            && na == nb
            && edited(&na)
            && pushed(&laptop)
            && pushed(&phone)
            && status(&laptop) == status(&phone))
        .then_some(())
    })
    .await;
    assert_eq!(nickname(&laptop, &bob_id), nickname(&phone, &bob_id));

    step(start, "a third device restored later gets everything");
    let tablet = User::connect(
        &net,
        "tablet",
        alice.clone(),
        net.dir.path().join("tablet.db"),
    )
    .await;
    tablet
        .wait_state("everything on the tablet", STEP, |u| {
            (contacts(u) == contacts(&laptop)
                && nickname(u, &bob_id) == nickname(&laptop, &bob_id)
                && u.client
                    .with_engine(|e| e.settings())
                    .unwrap()
                    .display_name
                    .as_deref()
                    == Some("Alice"))
            .then_some(())
        })
        .await;

    step(
        start,
        "truncated, foreign and replayed configs are rejected",
    );
    // Capture a Contacts message, then move past it.
    let old = laptop.client.with_engine(|e| {
        e.add_contact(&x, Some("x, first"), now_ms()).unwrap();
        e.record_local_changes().unwrap();
        e.config_pushes(now_ms())
            .unwrap()
            .into_iter()
            .find(|p| p.kind == ConfigKind::Contacts)
            .unwrap()
    });
    phone
        .wait_state("x, first", STEP, |u| {
            (nickname(u, &x).as_deref() == Some("x, first")).then_some(())
        })
        .await;
    laptop
        .client
        .with_engine(|e| e.add_contact(&x, Some("x, second"), now_ms()))
        .unwrap();
    phone
        .wait_state("x, second", STEP, |u| {
            (nickname(u, &x).as_deref() == Some("x, second")).then_some(())
        })
        .await;
    wait_for("the phone pushed everything", STEP, || async {
        phone
            .client
            .config_status()
            .unwrap()
            .iter()
            .all(|s| s.pushed)
            .then_some(())
    })
    .await;
    let before = (
        contacts(&phone),
        phone.client.with_engine(|e| e.contacts()).unwrap(),
        phone.client.config_status().unwrap(),
    );
    let mut cut = old.data.clone();
    cut.truncate(cut.len() / 2);
    store_config(&phone, &alice, cut).await;
    let other = new_account();
    let foreign = seal_config(&other, ConfigKind::Contacts, &old.message).unwrap();
    store_config(&phone, &alice, foreign).await;
    let seed = alice.ed25519_seed();
    let replay = sotto_config::seal_for_push(
        old.message.serialized(),
        seed.expose(),
        ConfigKind::Contacts.domain(),
    )
    .unwrap();
    store_config(&phone, &alice, replay).await;
    phone
        .wait_event("the replay rejected", STEP, |e| {
            matches!(
                e,
                Event::Skipped {
                    reason: SkipReason::Config(ConfigRejection::Stale { .. }),
                    ..
                }
            )
        })
        .await;
    let rejected = phone
        .seen
        .iter()
        .filter(|e| {
            matches!(
                e,
                Event::Skipped {
                    reason: SkipReason::Config(_),
                    ..
                }
            )
        })
        .count();
    assert!(rejected >= 2, "{:#?}", phone.seen);
    let after = (
        contacts(&phone),
        phone.client.with_engine(|e| e.contacts()).unwrap(),
        phone.client.config_status().unwrap(),
    );
    assert_eq!(before, after);
    eprintln!("done in {:?}", start.elapsed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edit_made_before_a_stop_is_pushed_at_the_next_start() {
    let net = TestNet::start(111, 5).await;
    let alice = new_account();
    let friend = new_account().session_id();
    let laptop_db = net.dir.path().join("laptop.db");
    // The edit is made and marked dirty; the device stops before any push.
    add_contact_offline(&laptop_db, &alice, &friend, "made offline");
    {
        let mut engine = Engine::open(&laptop_db, alice.clone()).unwrap();
        assert_eq!(
            engine.record_local_changes().unwrap(),
            vec![ConfigKind::Contacts]
        );
        assert!(
            !engine
                .config_status()
                .unwrap()
                .iter()
                .find(|s| s.kind == ConfigKind::Contacts)
                .unwrap()
                .pushed
        );
    }
    let phone = net.user("phone", &alice).await;
    // The next start pushes it.
    let _laptop = User::connect(&net, "laptop", alice.clone(), laptop_db).await;
    phone
        .wait_state("the offline edit on the phone", STEP, |u| {
            (nickname(u, &friend).as_deref() == Some("made offline")).then_some(())
        })
        .await;
}
