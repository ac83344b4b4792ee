//! Pinned, hidden, marked-unread and removed conversations between two devices of one account,
//! at the engine level (the pushes of one device handed to the other, as in
//! [`crate::tests_configs`]).

use sotto_config::{ConfigKind, Contacts, UserProfile};
use sotto_crypto::OsRng;
use sotto_identity::SessionId;

use crate::tests_configs::{deliver, device, me, peer, push};
use crate::{ClientError, Engine, Placement};

const T: u64 = 1_754_971_101_000;

fn listed(e: &Engine) -> Vec<SessionId> {
    e.conversations()
        .unwrap()
        .into_iter()
        .map(|c| c.contact.session_id)
        .collect()
}

/// Two synced devices with conversations with peers 1, 2 and 3 (3 the most recent).
fn two_devices() -> (Engine, Engine) {
    let (mut a, mut b) = (device(), device());
    for (n, at) in [(1, T), (2, T + 10), (3, T + 20)] {
        a.send_text(&peer(n), "hi", None, at, &mut OsRng).unwrap();
    }
    deliver(&mut b, &push(&mut a));
    assert_eq!(listed(&b), vec![peer(3), peer(2), peer(1)]);
    (a, b)
}

#[test]
fn pinned_and_hidden_conversations_follow_to_the_other_device() {
    let (mut a, mut b) = two_devices();
    a.set_placement(&peer(1), Placement::Pinned).unwrap();
    a.set_placement(&peer(2), Placement::Hidden).unwrap();
    assert_eq!(
        listed(&a),
        vec![peer(1), peer(3)],
        "pinned first, hidden left out"
    );
    let contacts = a.config_data(ConfigKind::Contacts).unwrap();
    assert_eq!(
        Contacts::get(&contacts, &peer(1).to_bytes())
            .unwrap()
            .priority,
        1
    );
    assert_eq!(
        Contacts::get(&contacts, &peer(2).to_bytes())
            .unwrap()
            .priority,
        -1
    );

    deliver(&mut b, &push(&mut a));
    assert_eq!(listed(&b), vec![peer(1), peer(3)]);
    let hidden = b.conversation(&peer(2)).unwrap().unwrap();
    assert!(hidden.is_hidden());
    assert!(b.conversation(&peer(1)).unwrap().unwrap().is_pinned());

    // A new message shows the hidden conversation again, on both devices.
    b.send_text(&peer(2), "back", None, T + 100, &mut OsRng)
        .unwrap();
    assert_eq!(listed(&b), vec![peer(1), peer(2), peer(3)]);
    deliver(&mut a, &push(&mut b));
    assert!(!a.conversation(&peer(2)).unwrap().unwrap().is_hidden());
    assert!(listed(&a).contains(&peer(2)));

    // Unpinning goes back to the order of activity.
    b.set_placement(&peer(1), Placement::Normal).unwrap();
    deliver(&mut a, &push(&mut b));
    assert!(a.conversations().unwrap().iter().all(|c| !c.is_pinned()));
    assert_eq!(listed(&b).first(), Some(&peer(2)));
}

#[test]
fn note_to_self_priority_and_timer_travel_in_the_user_profile() {
    let (mut a, mut b) = two_devices();
    let own = me().session_id();
    a.send_text(&own, "note", None, T + 30, &mut OsRng).unwrap();
    a.set_disappearing(
        &own,
        crate::Disappearing::AfterSend(600),
        T + 31,
        &mut OsRng,
    )
    .unwrap();
    a.set_placement(&own, Placement::Pinned).unwrap();
    let profile = UserProfile::read(&a.config_data(ConfigKind::UserProfile).unwrap());
    assert_eq!(profile.nts_priority, 1);
    assert_eq!(profile.nts_expiry_seconds, 600);
    // Note to Self is not a contact.
    let contacts = a.config_data(ConfigKind::Contacts).unwrap();
    assert!(Contacts::get(&contacts, &own.to_bytes()).is_none());

    deliver(&mut b, &push(&mut a));
    assert_eq!(listed(&b).first(), Some(&own));
    let nts = b.conversation(&own).unwrap().unwrap();
    assert_eq!(nts.disappearing, crate::Disappearing::AfterSend(600));

    b.set_placement(&own, Placement::Hidden).unwrap();
    deliver(&mut a, &push(&mut b));
    assert!(!listed(&a).contains(&own));
    let profile = UserProfile::read(&a.config_data(ConfigKind::UserProfile).unwrap());
    assert_eq!(profile.nts_priority, -1);
}

#[test]
fn the_unread_mark_follows_and_reading_clears_it() {
    let (mut a, mut b) = two_devices();
    a.set_marked_unread(&peer(3), true).unwrap();
    assert!(a.conversation(&peer(3)).unwrap().unwrap().marked_unread);
    deliver(&mut b, &push(&mut a));
    assert!(b.conversation(&peer(3)).unwrap().unwrap().marked_unread);
    assert!(!b.conversation(&peer(2)).unwrap().unwrap().marked_unread);

    b.mark_read(&peer(3), T + 50, &mut OsRng).unwrap();
    assert!(!b.conversation(&peer(3)).unwrap().unwrap().marked_unread);
    deliver(&mut a, &push(&mut b));
    assert!(!a.conversation(&peer(3)).unwrap().unwrap().marked_unread);

    let unknown = a.set_marked_unread(&peer(9), true).unwrap_err();
    assert!(
        matches!(unknown, ClientError::NoConversation(_)),
        "{unknown}"
    );
}

#[test]
fn a_contact_removed_on_one_device_is_removed_on_the_other() {
    let (mut a, mut b) = two_devices();
    a.add_contact(&peer(4), Some("Dave"), T).unwrap();
    deliver(&mut b, &push(&mut a));
    assert!(b.contact(&peer(4)).unwrap().is_some());

    a.remove_contact(&peer(1)).unwrap();
    a.remove_contact(&peer(4)).unwrap();
    assert!(a.contact(&peer(1)).unwrap().is_none());
    assert!(a.conversation(&peer(1)).unwrap().is_none());
    deliver(&mut b, &push(&mut a));
    for gone in [peer(1), peer(4)] {
        assert!(b.contact(&gone).unwrap().is_none(), "{gone}");
        assert!(b.conversation(&gone).unwrap().is_none(), "{gone}");
    }
    assert_eq!(listed(&b), vec![peer(3), peer(2)]);
    // Nothing comes back: both devices push the same configs.
    let again = push(&mut b);
    assert!(
        again.is_empty(),
        "{:?}",
        again.iter().map(|p| p.kind).collect::<Vec<_>>()
    );
    assert_eq!(
        a.config_data(ConfigKind::Contacts).unwrap(),
        b.config_data(ConfigKind::Contacts).unwrap()
    );

    let unknown = a.remove_contact(&peer(9)).unwrap_err();
    assert!(
        matches!(unknown, ClientError::UnknownContact(_)),
        "{unknown}"
    );
}
