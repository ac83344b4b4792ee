//! The group list in UserGroups over a real testnet (five `sotto-node` processes on
//! 127.71.0.x): a second device of the admin and one of a member, each restored from the same
//! account, see the group and read its messages after a sync; a member who leaves on one
//! device has left on the other.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::time::Instant;

use common::{STEP, TestNet, User, new_account};
use sotto_client::groups::GroupStatus;
use sotto_groups::GroupId;

fn step(start: Instant, name: &str) {
    eprintln!("[{:>6.1}s] step: {name}", start.elapsed().as_secs_f64());
}

/// Waits until `user` holds a message of `group` with text `body`.
async fn wait_text(user: &User, group: &GroupId, body: &str) {
    user.wait_state(&format!("the group message {body:?}"), STEP, |u| {
        u.client
            .group_messages(group, 1000)
            .unwrap()
            .into_iter()
            .find(|m| m.body.as_deref() == Some(body))
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_device_sees_the_groups_of_its_account() {
    let start = Instant::now();
    let net = TestNet::start(71, 5).await;
    let (alice, bob) = (new_account(), new_account());

    step(
        start,
        "alice creates a group with bob, who accepts; one message each",
    );
    let laptop = net.user("laptop", &alice).await;
    let bob_phone = net.user("bob-phone", &bob).await;
    let group = laptop
        .client
        .create_group("Devices", &[bob.session_id()])
        .await
        .unwrap();
    bob_phone
        .wait_state("the invitation", STEP, |u| {
            u.client
                .group_invitations()
                .unwrap()
                .into_iter()
                .find(|i| i.group == group)
        })
        .await;
    bob_phone.client.accept_group_invite(&group).await.unwrap();
    laptop
        .client
        .send_group_text(&group, "from the laptop", None)
        .await
        .unwrap();
    bob_phone
        .client
        .send_group_text(&group, "from bob's phone", None)
        .await
        .unwrap();
    wait_text(&bob_phone, &group, "from the laptop").await;

    step(
        start,
        "alice's tablet (same account) gets the group as admin, with both messages",
    );
    let tablet = User::connect(
        &net,
        "tablet",
        alice.clone(),
        net.dir.path().join("tablet.db"),
    )
    .await;
    tablet
        .wait_state("the group on the tablet", STEP, |u| {
            u.client
                .groups()
                .unwrap()
                .into_iter()
                .find(|g| g.id == group)
        })
        .await;
    let summary = tablet.client.group(&group).unwrap();
    assert!(summary.admin);
    assert_eq!(summary.status, GroupStatus::Joined);
    wait_text(&tablet, &group, "from the laptop").await;
    wait_text(&tablet, &group, "from bob's phone").await;

    step(
        start,
        "bob's laptop (same account) gets it as a member, and reads and writes",
    );
    let bob_laptop = User::connect(
        &net,
        "bob-laptop",
        bob.clone(),
        net.dir.path().join("bob-laptop.db"),
    )
    .await;
    wait_text(&bob_laptop, &group, "from bob's phone").await;
    assert!(!bob_laptop.client.group(&group).unwrap().admin);
    bob_laptop
        .client
        .send_group_text(&group, "from bob's laptop", None)
        .await
        .unwrap();
    wait_text(&tablet, &group, "from bob's laptop").await;

    step(
        start,
        "bob leaves on his laptop: his phone forgets the group",
    );
    bob_laptop.client.leave_group(&group).await.unwrap();
    bob_phone
        .wait_state("the group gone from bob's phone", STEP, |u| {
            (!u.client.groups().unwrap().iter().any(|g| g.id == group)).then_some(())
        })
        .await;
    step(start, "done");
}
