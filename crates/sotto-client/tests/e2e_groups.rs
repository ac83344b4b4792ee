//! Closed groups (groups v2) end to end over a real testnet: seven `sotto-node` processes (one
//! swarm) and a `sotto-directory` on 127.40.0.x, every client on its own SQLite file, talking
//! only through onion paths, with its background poller running.
//!
//! One scenario, in named steps: a group of five where everyone reads everyone (one member
//! offline at first), reactions, replies and unsends, a removal (kicked notice, rekey, revoked
//! token), adding with and without history, a forged control message and a message under an
//! unknown key that change nothing, and the group working with two of the seven nodes killed.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::collections::BTreeSet;
use std::time::Instant;

use common::{STEP, TestNet, User, guards, new_account, now_ms};
use sotto_client::groups::{GroupError, GroupEvent, GroupMessage, GroupStatus, MAX_MEMBERS};
use sotto_client::{Event, Network, SessionId};
use sotto_crypto::{OsRng, SymmetricKey};
use sotto_envelope::{Content, DataFields, Message, UnknownFields, VisibleMessage};
use sotto_groups::{GroupAdmin, GroupId, MemberChangeKind};

fn step(start: Instant, name: &str) {
    eprintln!("[{:>6.1}s] step: {name}", start.elapsed().as_secs_f64());
}

/// Waits until `user` has accepted an invitation to `group` (it must arrive first).
async fn accept(user: &User, group: &GroupId) {
    user.wait_state("the invitation", STEP, |u| {
        u.client
            .group_invitations()
            .unwrap()
            .into_iter()
            .find(|i| i.group == *group)
    })
    .await;
    user.client.accept_group_invite(group).await.unwrap();
}

/// Waits until `user` holds a message of `group` with text `body`.
async fn wait_text(user: &User, group: &GroupId, body: &str) -> GroupMessage {
    user.wait_state(&format!("the group message {body:?}"), STEP, |u| {
        u.client
            .group_messages(group, 1000)
            .unwrap()
            .into_iter()
            .find(|m| m.body.as_deref() == Some(body))
    })
    .await
}

fn texts(user: &User, group: &GroupId) -> Vec<String> {
    user.client
        .group_messages(group, 1000)
        .unwrap()
        .into_iter()
        .filter_map(|m| m.body)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn groups_over_a_real_testnet() {
    let start = Instant::now();
    let mut net = TestNet::start(40, 7).await;
    let accounts: Vec<_> = (0..5).map(|_| new_account()).collect();
    let ids: Vec<SessionId> = accounts.iter().map(|a| a.session_id()).collect();
    let alice = net.user("alice", &accounts[0]).await;
    let bob = net.user("bob", &accounts[1]).await;
    let carol = net.user("carol", &accounts[2]).await;
    let dave = net.user("dave", &accounts[3]).await;

    // ---------------------------------------------------------------------------------------
    step(start, "1. Alice creates a group of five; Erin is offline");
    let too_many: Vec<SessionId> = (0..MAX_MEMBERS)
        .map(|_| new_account().session_id())
        .collect();
    assert!(matches!(
        alice.client.create_group("Too big", &too_many).await,
        Err(GroupError::TooManyMembers {
            count: 101,
            max: 100
        })
    ));
    let group = alice
        .client
        .create_group("Friends", &ids[1..])
        .await
        .unwrap();
    assert!(group.to_string().starts_with("03"));
    let summary = alice.client.group(&group).unwrap();
    assert!(summary.admin);
    assert_eq!(summary.members.len(), 5);
    assert_eq!(
        summary.members.iter().filter(|m| m.invite_pending).count(),
        4
    );

    for user in [&bob, &carol, &dave] {
        accept(user, &group).await;
        assert_eq!(user.client.group(&group).unwrap().name, "Friends");
        assert!(!user.client.group(&group).unwrap().admin);
    }
    // The admin sees the acceptances.
    alice
        .wait_state("three acceptances", STEP, |u| {
            let g = u.client.group(&group).unwrap();
            (g.members.iter().filter(|m| m.invite_pending).count() == 1).then_some(())
        })
        .await;

    // ---------------------------------------------------------------------------------------
    step(start, "2. everyone reads everyone");
    let hello = alice
        .client
        .send_group_text(&group, "hello friends", None)
        .await
        .unwrap();
    assert!(hello.outgoing);
    for (user, text) in [
        (&bob, "bob here"),
        (&carol, "carol here"),
        (&dave, "dave here"),
    ] {
        wait_text(user, &group, "hello friends").await;
        user.client
            .send_group_text(&group, text, None)
            .await
            .unwrap();
    }
    for user in [&alice, &bob, &carol, &dave] {
        for text in ["hello friends", "bob here", "carol here", "dave here"] {
            let m = wait_text(user, &group, text).await;
            assert_eq!(m.group, group);
        }
    }

    // Erin comes online later and reads everything sent while she was away.
    let mut erin = net.user("erin", &accounts[4]).await;
    accept(&erin, &group).await;
    for text in ["hello friends", "bob here", "carol here", "dave here"] {
        let m = wait_text(&erin, &group, text).await;
        assert!(!m.outgoing);
    }
    erin.wait_event(
        "the invitation event",
        STEP,
        |e| matches!(e, Event::Group(GroupEvent::Invited { group: g, .. }) if *g == group),
    )
    .await;

    // ---------------------------------------------------------------------------------------
    step(start, "3. a reply, a reaction and an unsend");
    let bobs_copy = wait_text(&bob, &group, "hello friends").await;
    bob.client
        .send_group_text(&group, "replying to alice", Some(bobs_copy.id))
        .await
        .unwrap();
    let reply = wait_text(&alice, &group, "replying to alice").await;
    assert_eq!(reply.quote, Some((ids[0], hello.sent_ms)));
    let carols_copy = wait_text(&carol, &group, "hello friends").await;
    carol
        .client
        .react_in_group(carols_copy.id, "👍", false)
        .await
        .unwrap();
    alice
        .wait_state("Carol's reaction", STEP, |u| {
            let m = u.client.group_messages(&group, 100).unwrap();
            m.into_iter().find(|m| m.id == hello.id).filter(|m| {
                m.reactions
                    .0
                    .get("👍")
                    .is_some_and(|r| r.contains(&ids[2].to_string()))
            })
        })
        .await;
    let oops = dave
        .client
        .send_group_text(&group, "oops, wrong group", None)
        .await
        .unwrap();
    wait_text(&bob, &group, "oops, wrong group").await;
    dave.client.unsend_in_group(oops.id).await.unwrap();
    bob.wait_state("the unsend", STEP, |u| {
        (!texts(u, &group).contains(&"oops, wrong group".to_owned())).then_some(())
    })
    .await;
    assert!(matches!(
        bob.client.unsend_in_group(bobs_copy.id).await,
        Err(GroupError::NotAuthor)
    ));

    // ---------------------------------------------------------------------------------------
    step(
        start,
        "4. Alice removes Carol: she sees it, and reads nothing after the rekey",
    );
    let generation = alice.client.group(&group).unwrap().generation;
    alice
        .client
        .remove_members(&group, &[ids[2]], false)
        .await
        .unwrap();
    assert!(alice.client.group(&group).unwrap().generation > generation);
    carol
        .wait_state("Carol sees she was removed", STEP, |u| {
            (u.client.group(&group).unwrap().status == GroupStatus::Kicked).then_some(())
        })
        .await;
    assert!(matches!(
        carol
            .client
            .send_group_text(&group, "still here?", None)
            .await,
        Err(GroupError::NotJoined(_))
    ));
    alice
        .client
        .send_group_text(&group, "after carol left", None)
        .await
        .unwrap();
    for user in [&bob, &dave, &erin] {
        wait_text(user, &group, "after carol left").await;
        assert_eq!(user.client.group(&group).unwrap().members.len(), 4);
    }
    assert!(!texts(&carol, &group).contains(&"after carol left".to_owned()));
    // Carol's old token is refused by the swarm, by every node asked.
    let account = sotto_rpc::AccountId::from_bytes(&group.to_bytes());
    let swarm = carol.onion().get_swarm(account).await.unwrap();
    for node in swarm.iter().take(3) {
        let request = carol.client.group_retrieve_request(&group, 11).unwrap();
        let refused = carol.onion().retrieve(node.clone(), request).await;
        assert!(refused.is_err(), "a revoked token still reads: {refused:?}");
    }
    // Alice's token still works.
    let request = alice.client.group_retrieve_request(&group, 11).unwrap();
    alice
        .onion()
        .retrieve(swarm[0].clone(), request)
        .await
        .unwrap();

    // ---------------------------------------------------------------------------------------
    step(
        start,
        "5. add without history cannot read earlier messages; with history can",
    );
    let frank_acc = new_account();
    let gina_acc = new_account();
    let frank = net.user("frank", &frank_acc).await;
    let gina = net.user("gina", &gina_acc).await;
    alice
        .client
        .add_members(&group, &[frank_acc.session_id()], false)
        .await
        .unwrap();
    accept(&frank, &group).await;
    alice
        .client
        .add_members(&group, &[gina_acc.session_id()], true)
        .await
        .unwrap();
    accept(&gina, &group).await;
    wait_text(&gina, &group, "hello friends").await;
    wait_text(&gina, &group, "after carol left").await;
    bob.client
        .send_group_text(&group, "welcome frank and gina", None)
        .await
        .unwrap();
    wait_text(&frank, &group, "welcome frank and gina").await;
    wait_text(&gina, &group, "welcome frank and gina").await;
    assert!(!texts(&frank, &group).contains(&"hello friends".to_owned()));
    assert!(!texts(&frank, &group).contains(&"after carol left".to_owned()));

    // ---------------------------------------------------------------------------------------
    step(
        start,
        "6. a forged control message and an unknown-key message change nothing",
    );
    erin.wait_state("every invitation accepted", STEP, |u| {
        let g = u.client.group(&group).unwrap();
        (g.members.len() == 6 && g.members.iter().all(|m| !m.invite_pending)).then_some(())
    })
    .await;
    let before = erin.client.group(&group).unwrap();
    // Bob (not an admin) forges a removal of Erin with a key that is not the group's.
    let forger = GroupAdmin::generate(&mut OsRng);
    let forged = forger.member_change(MemberChangeKind::Removed, &[ids[4]], false, now_ms());
    let content = Content::new(Message::Visible(VisibleMessage {
        data: DataFields {
            unknown: UnknownFields::from_records(&forged.to_data_message_record()).unwrap(),
            ..DataFields::default()
        },
        ..VisibleMessage::default()
    }));
    bob.client
        .send_group_content(&group, &content)
        .await
        .unwrap();
    // And a message under a key the group never had.
    let stranger = SymmetricKey::new([9; 32]);
    let data = sotto_groups::message::encrypt_group_message(
        accounts[1].ed25519_secret(),
        &stranger,
        b"not for you",
        false,
        256,
        &[3; 24],
    )
    .unwrap();
    bob.client.store_in_group(&group, 11, data).await.unwrap();
    erin.wait_event("the forged control message skipped", STEP, |e| {
        matches!(e, Event::Group(GroupEvent::Skipped { reason, .. }) if reason.contains("admin signature"))
    })
    .await;
    erin.wait_event("the unknown-key message skipped", STEP, |e| {
        matches!(e, Event::Group(GroupEvent::Skipped { reason, .. }) if reason.contains("no known group key"))
    })
    .await;
    assert_eq!(erin.client.group(&group).unwrap(), before);
    assert_eq!(
        erin.client.group(&group).unwrap().status,
        GroupStatus::Joined
    );

    // ---------------------------------------------------------------------------------------
    step(
        start,
        "7. two admins act at once and converge; then two nodes die",
    );
    alice
        .client
        .promote_members(&group, &[ids[1]])
        .await
        .unwrap();
    bob.wait_state("Bob becomes an admin", STEP, |u| {
        u.client.group(&group).unwrap().admin.then_some(())
    })
    .await;
    let (a, b) = tokio::join!(
        alice.client.rename_group(&group, "Best friends"),
        bob.client
            .set_group_description(&group, "we meet on fridays"),
    );
    a.unwrap();
    b.unwrap();
    for user in [&alice, &bob, &dave] {
        user.wait_state("both changes", STEP, |u| {
            let g = u.client.group(&group).unwrap();
            (g.name == "Best friends" && g.description.as_deref() == Some("we meet on fridays"))
                .then_some(())
        })
        .await;
    }
    // Two nodes of the group's swarm (every node here), preferably ones no active member uses
    // as a guard or in a path: this tests the swarm, not path repair.
    let active = [&alice, &bob, &dave, &erin];
    let in_paths: BTreeSet<usize> = active
        .iter()
        .flat_map(|u| u.onion().paths())
        .flatten()
        .map(|h| net.index_of_hop(&h))
        .collect();
    let used_as_guard: BTreeSet<usize> = active
        .iter()
        .flat_map(|u| guards(u.onion()))
        .map(|h| net.index_of_hop(&h))
        .collect();
    let mut victims: Vec<usize> = (0..net.tn.nodes.len()).collect();
    victims.sort_by_key(|i| (used_as_guard.contains(i), in_paths.contains(i)));
    victims.truncate(2);
    for &v in &victims {
        net.kill(v);
    }
    dave.client
        .send_group_text(&group, "still working", None)
        .await
        .unwrap();
    for user in [&alice, &bob, &erin] {
        wait_text(user, &group, "still working").await;
    }

    // ---------------------------------------------------------------------------------------
    step(
        start,
        "8. Erin leaves (the admins remove her); then Alice destroys the group",
    );
    let before = alice.client.group(&group).unwrap().members.len();
    erin.client.leave_group(&group).await.unwrap();
    assert!(matches!(
        erin.client.group(&group),
        Err(GroupError::UnknownGroup(_))
    ));
    for user in [&alice, &bob, &dave] {
        user.wait_state("Erin gone from the members", STEP, |u| {
            let g = u.client.group(&group).unwrap();
            (g.members.len() == before - 1 && !g.members.iter().any(|m| m.session_id == ids[4]))
                .then_some(())
        })
        .await;
    }
    alice.client.destroy_group(&group).await.unwrap();
    for user in [&bob, &dave] {
        user.wait_state("the group destroyed", STEP, |u| {
            (u.client.group(&group).unwrap().status == GroupStatus::Destroyed).then_some(())
        })
        .await;
    }
    step(start, "done");
}
