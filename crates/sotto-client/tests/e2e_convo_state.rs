//! Pinned, hidden, marked-unread and removed conversations between two devices of one
//! account, on a real testnet (`sotto-node` processes and a `sotto-directory` on 127.55.0.x;
//! clients over `OnionNetwork`, each device with its own SQLite file). Each change is pushed
//! by the call that makes it (not at the next poll), so the other device shows it after its
//! next poll.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::time::Instant;

use common::{STEP, TestNet, User, new_account, wait_for};
use sotto_client::{Placement, SessionId};

fn step(start: Instant, name: &str) {
    eprintln!("[{:>6.1}s] step: {name}", start.elapsed().as_secs_f64());
}

fn listed(user: &User) -> Vec<SessionId> {
    user.client
        .with_engine(|e| e.conversations())
        .unwrap()
        .into_iter()
        .map(|c| c.contact.session_id)
        .collect()
}

/// Whether every config of `user` is on the swarm.
fn all_pushed(user: &User) -> bool {
    user.client
        .config_status()
        .unwrap()
        .iter()
        .all(|s| s.pushed)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pin_hide_unread_and_remove_show_on_the_other_device() {
    let start = Instant::now();
    let net = TestNet::start(55, 5).await;
    let alice = new_account();
    let (bob, carol, dave) = (
        new_account().session_id(),
        new_account().session_id(),
        new_account().session_id(),
    );

    step(
        start,
        "the laptop writes to bob, carol and dave; the phone gets them",
    );
    let laptop = net.user("laptop", &alice).await;
    for (peer, text) in [(bob, "to bob"), (carol, "to carol"), (dave, "to dave")] {
        laptop.client.send_text(&peer, text).await.unwrap();
    }
    let phone = User::connect(
        &net,
        "phone",
        alice.clone(),
        net.dir.path().join("phone.db"),
    )
    .await;
    phone
        .wait_state("three conversations on the phone", STEP, |u| {
            (listed(u).len() == 3).then_some(())
        })
        .await;

    step(
        start,
        "pin bob and hide carol on the laptop: pushed by the calls",
    );
    laptop
        .client
        .set_placement(&bob, Placement::Pinned)
        .await
        .unwrap();
    laptop
        .client
        .set_placement(&carol, Placement::Hidden)
        .await
        .unwrap();
    assert!(all_pushed(&laptop), "the calls pushed their changes");
    assert_eq!(listed(&laptop)[0], bob);
    assert!(!listed(&laptop).contains(&carol));
    let shown = Instant::now();
    phone
        .wait_state("bob pinned and carol hidden on the phone", STEP, |u| {
            let list = listed(u);
            (list.first() == Some(&bob) && list.len() == 2 && !list.contains(&carol)).then_some(())
        })
        .await;
    eprintln!("pin and hide on the phone after {:?}", shown.elapsed());

    step(
        start,
        "mark bob unread on the phone; the laptop shows the mark",
    );
    phone.client.set_marked_unread(&bob, true).await.unwrap();
    laptop
        .wait_state("bob marked unread on the laptop", STEP, |u| {
            u.client
                .with_engine(|e| e.conversation(&bob))
                .unwrap()
                .filter(|c| c.marked_unread)
        })
        .await;

    step(start, "remove dave on the phone; the laptop removes him");
    phone.client.remove_contact(&dave).await.unwrap();
    assert!(
        phone
            .client
            .with_engine(|e| e.contact(&dave))
            .unwrap()
            .is_none()
    );
    laptop
        .wait_state("dave removed on the laptop", STEP, |u| {
            let gone = u.client.with_engine(|e| {
                e.contact(&dave).unwrap().is_none() && e.conversation(&dave).unwrap().is_none()
            });
            gone.then_some(())
        })
        .await;
    assert_eq!(listed(&laptop), vec![bob]);

    step(
        start,
        "a block (a call that does not wait) is pushed by a task at once",
    );
    laptop.client.block(&carol).unwrap();
    wait_for("the block pushed", STEP, || async {
        all_pushed(&laptop).then_some(())
    })
    .await;
    phone
        .wait_state("carol blocked on the phone", STEP, |u| {
            u.client
                .with_engine(|e| e.contact(&carol))
                .unwrap()
                .filter(|c| c.blocked)
        })
        .await;
    eprintln!("done in {:?}", start.elapsed());
}
