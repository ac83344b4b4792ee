//! The group list in UserGroups between two devices of one account, at the engine level (the
//! swarm is the pushes of one device handed to the other, as in `tests_configs`).

use sotto_config::ConfigKind;
use sotto_crypto::OsRng;
use sotto_groups::auth::member_flags;
use sotto_groups::{GroupAdmin, GroupId, GroupKeys};

use crate::Engine;
use crate::groups::GroupStatus;
use crate::groups::store::{self, GroupRow};
use crate::tests_configs::{deliver, device, me, push};

fn add_group(e: &mut Engine, row: GroupRow) {
    e.db_mut().write(|tx| store::save(tx, &row)).unwrap();
}

/// A group this account administers.
fn admin_group(name: &str) -> GroupRow {
    let admin = GroupAdmin::generate(&mut OsRng);
    GroupRow {
        id: admin.group_id(),
        name: name.into(),
        status: GroupStatus::Joined,
        invited_by: None,
        auth: None,
        keys: GroupKeys::new_admin(me().ed25519_secret(), admin).unwrap(),
        info: None,
        members: None,
        created_ms: 1_754_971_000_000,
    }
}

/// A group this account is a member of (its auth data minted by the group's admin).
fn member_group(name: &str) -> GroupRow {
    let admin = GroupAdmin::generate(&mut OsRng);
    let auth = admin
        .make_subaccount(&me().session_id(), member_flags(true, false))
        .unwrap();
    GroupRow {
        id: admin.group_id(),
        name: name.into(),
        status: GroupStatus::Joined,
        invited_by: None,
        auth: Some(auth),
        keys: GroupKeys::new(me().ed25519_secret(), admin.group_id()).unwrap(),
        info: None,
        members: None,
        created_ms: 1_754_971_000_000,
    }
}

fn listed(e: &Engine) -> Vec<(GroupId, bool, GroupStatus)> {
    let mut out: Vec<_> = e
        .groups()
        .unwrap()
        .into_iter()
        .map(|g| (g.id, g.admin, g.status))
        .collect();
    out.sort_by_key(|g| g.0.to_string());
    out
}

#[test]
fn groups_reach_a_second_device_and_leaving_reaches_back() {
    let mut a = device();
    let owned = admin_group("Owned");
    let joined = member_group("Joined");
    let (owned_id, joined_id) = (owned.id, joined.id);
    let auth = joined.auth.as_ref().unwrap().as_bytes().to_vec();
    add_group(&mut a, owned);
    add_group(&mut a, joined);
    let pushes = push(&mut a);
    assert!(pushes.iter().any(|p| p.kind == ConfigKind::UserGroups));

    // The config carries the admin's 32-byte group seed (as libsession writes `K`) and the
    // member's auth data.
    let entries = a.config_groups().unwrap();
    assert_eq!(entries.len(), 2);
    let owned_entry = entries
        .iter()
        .find(|g| g.pubkey == owned_id.public_key().as_bytes())
        .unwrap();
    let key = owned_entry.secret_key.as_deref().unwrap();
    assert_eq!(key.len(), 32);
    let admin = GroupAdmin::from_seed(&<[u8; 32]>::try_from(key).unwrap()).unwrap();
    assert_eq!(admin.group_id(), owned_id);
    assert_eq!(owned_entry.name.as_deref(), Some("Owned"));
    let joined_entry = entries
        .iter()
        .find(|g| g.pubkey == joined_id.public_key().as_bytes())
        .unwrap();
    assert_eq!(joined_entry.secret_key, None);
    assert_eq!(joined_entry.auth_data.as_deref(), Some(auth.as_slice()));
    // Recording again changes nothing.
    assert!(a.record_local_changes().unwrap().is_empty());

    // A second device adds both: admin of one, member (with the same auth data) of the other.
    let mut b = device();
    deliver(&mut b, &pushes);
    let mut expected = vec![
        (owned_id, true, GroupStatus::Joined),
        (joined_id, false, GroupStatus::Joined),
    ];
    expected.sort_by_key(|g| g.0.to_string());
    assert_eq!(listed(&b), expected);
    let b_row = b
        .db_mut()
        .write(|tx| store::load(tx, &me(), &joined_id))
        .unwrap()
        .unwrap();
    assert_eq!(b_row.auth.unwrap().as_bytes().to_vec(), auth);
    assert_eq!(b.group(&owned_id).unwrap().name, "Owned");
    // b has nothing new to push (what it added is what the config says).
    assert!(push(&mut b).is_empty());

    // b leaves the member group: a forgets it at its next sync; the other one stays.
    b.db_mut()
        .write(|tx| {
            store::delete(tx, &joined_id)?;
            crate::configs::edit_in(tx, ConfigKind::UserGroups, |d| {
                crate::groups::sync::forget(d, &joined_id);
            })
        })
        .unwrap();
    deliver(&mut a, &push(&mut b));
    assert_eq!(listed(&a), [(owned_id, true, GroupStatus::Joined)]);
    assert_eq!(a.config_groups().unwrap().len(), 1);
}

#[test]
fn a_destroyed_group_is_marked_on_the_other_device() {
    let mut a = device();
    let group = admin_group("Short-lived");
    let id = group.id;
    add_group(&mut a, group);
    let mut b = device();
    deliver(&mut b, &push(&mut a));
    assert_eq!(listed(&b), [(id, true, GroupStatus::Joined)]);

    let mut row = a
        .db_mut()
        .write(|tx| store::load(tx, &me(), &id))
        .unwrap()
        .unwrap();
    row.status = GroupStatus::Destroyed;
    add_group(&mut a, row);
    deliver(&mut b, &push(&mut a));
    assert_eq!(a.config_groups().unwrap()[0].removed_status, 2);
    assert_eq!(listed(&b), [(id, true, GroupStatus::Destroyed)]);
}

#[test]
fn config_groups_that_do_not_check_out_are_skipped() {
    let mut a = device();
    let good = member_group("Good");
    let good_id = good.id;
    add_group(&mut a, good);
    // An entry whose secret key belongs to another group, and one with no key nor auth data.
    let stranger = GroupAdmin::generate(&mut OsRng);
    let wrong_key = GroupAdmin::generate(&mut OsRng);
    let bare = GroupAdmin::generate(&mut OsRng);
    a.edit_config(ConfigKind::UserGroups, |d| {
        let key = wrong_key.seed().expose().to_vec();
        sotto_config::UserGroups::set_group(
            d,
            &sotto_config::GroupV2 {
                pubkey: stranger.group_id().public_key().as_bytes().to_vec(),
                secret_key: Some(key),
                ..Default::default()
            },
        );
        sotto_config::UserGroups::set_group(
            d,
            &sotto_config::GroupV2 {
                pubkey: bare.group_id().public_key().as_bytes().to_vec(),
                name: Some("Bare".into()),
                ..Default::default()
            },
        );
    })
    .unwrap();
    let mut b = device();
    deliver(&mut b, &push(&mut a));
    assert_eq!(listed(&b), [(good_id, false, GroupStatus::Joined)]);
    // The entries it could not use stay in its config.
    assert_eq!(b.config_groups().unwrap().len(), 3);
}
