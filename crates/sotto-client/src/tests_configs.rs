//! Config sync between devices of one account, at the engine level: the swarm is a list of
//! pushed messages handed from one device's [`Engine::config_pushes`] to another's
//! [`Engine::receive_configs`] (the end-to-end tests run the same over a real testnet).

use sotto_config::{ConfigKind, DataValue, Dict, Scalar, edit};
use sotto_crypto::Ed25519PublicKey;
use sotto_identity::{Account, SessionId};
use sotto_rpc::response::RetrievedMessage;
use sotto_rpc::{AccountId, MessageHash};

use crate::configs::{ConfigPush, ConfigRejection, seal_config};
use crate::{Disappearing, Engine, Event, SkipReason};

const T: u64 = 1_754_971_101_000;

pub(crate) fn me() -> Account {
    Account::from_ed25519_seed(&[7; 32])
}

pub(crate) fn peer(n: u8) -> SessionId {
    Account::from_ed25519_seed(&[n; 32]).session_id()
}

pub(crate) fn device() -> Engine {
    Engine::open_in_memory(me()).unwrap()
}

const NODE: Ed25519PublicKey = Ed25519PublicKey([1; 32]);

/// What a retrieve returns for `data` in `kind`'s namespace of this account.
fn retrieved(kind: ConfigKind, data: Vec<u8>) -> RetrievedMessage {
    let own = AccountId::from(me().session_id());
    RetrievedMessage {
        hash: MessageHash::compute(&own, crate::configs::namespace(kind), &data),
        timestamp: T,
        expiration: T + crate::configs::CONFIG_TTL_MS,
        data,
    }
}

/// Pushes every dirty config of `from` (recording the pushes as stored) and returns them.
pub(crate) fn push(from: &mut Engine) -> Vec<ConfigPush> {
    from.record_local_changes().unwrap();
    let pushes = from.config_pushes(T).unwrap();
    for p in &pushes {
        from.record_config_push(p).unwrap();
    }
    pushes
}

/// Hands `pushes` to `to`, namespace by namespace; returns the events.
pub(crate) fn deliver(to: &mut Engine, pushes: &[ConfigPush]) -> Vec<Event> {
    to.record_local_changes().unwrap();
    let mut events = Vec::new();
    for kind in ConfigKind::USER {
        let batch: Vec<_> = pushes
            .iter()
            .filter(|p| p.kind == kind)
            .map(|p| retrieved(kind, p.data.clone()))
            .collect();
        events.extend(to.receive_configs(kind, &NODE, &batch, T + 1).unwrap());
    }
    events
}

fn contacts_data(e: &Engine) -> Dict {
    e.config_data(ConfigKind::Contacts).unwrap()
}

#[test]
fn a_second_device_gets_name_contacts_nicknames_blocks_and_conversations() {
    let mut a = device();
    a.set_display_name(Some("Alice"), T).unwrap();
    a.add_contact(&peer(1), Some("Bobby"), T).unwrap();
    a.set_blocked(&peer(2), true, T).unwrap();
    a.add_contact(&peer(3), None, T).unwrap();
    a.set_disappearing(
        &peer(3),
        Disappearing::AfterSend(3600),
        T,
        &mut sotto_crypto::OsRng,
    )
    .unwrap();
    let pushes = push(&mut a);
    assert_eq!(pushes.len(), 3, "profile, contacts, conversations");
    assert!(a.config_status().unwrap().iter().all(|s| s.pushed));

    let mut b = device();
    let events = deliver(&mut b, &pushes);
    assert!(
        events
            .iter()
            .all(|e| matches!(e, Event::ConfigMerged { .. })),
        "{events:?}"
    );
    assert_eq!(b.settings().unwrap().display_name.as_deref(), Some("Alice"));
    let bob = b.contact(&peer(1)).unwrap().unwrap();
    assert_eq!(bob.nickname.as_deref(), Some("Bobby"));
    assert!(bob.approved && !bob.blocked);
    assert!(b.contact(&peer(2)).unwrap().unwrap().blocked);
    let carol = b.conversation(&peer(3)).unwrap().unwrap();
    assert_eq!(carol.disappearing, Disappearing::AfterSend(3600));
    assert!(!carol.is_request());
    // B adopted A's messages as they are: nothing to push back, the same bytes.
    assert!(b.config_status().unwrap().iter().all(|s| s.pushed));
    assert!(b.record_local_changes().unwrap().is_empty());
    assert_eq!(contacts_data(&a), contacts_data(&b));
}

#[test]
fn offline_edits_to_different_contacts_both_survive_and_converge() {
    let (mut a, mut b) = (device(), device());
    deliver(&mut b, &push(&mut a));
    a.add_contact(&peer(1), Some("from A"), T).unwrap();
    b.add_contact(&peer(2), Some("from B"), T).unwrap();
    let (pa, pb) = (push(&mut a), push(&mut b));
    deliver(&mut a, &pb);
    deliver(&mut b, &pa);
    for e in [&a, &b] {
        assert_eq!(
            e.contact(&peer(1)).unwrap().unwrap().nickname.as_deref(),
            Some("from A")
        );
        assert_eq!(
            e.contact(&peer(2)).unwrap().unwrap().nickname.as_deref(),
            Some("from B")
        );
    }
    // Both merged to the same message: the same push bytes (the swarm stores it once).
    let (ma, mb) = (push(&mut a), push(&mut b));
    let contacts = |p: &[ConfigPush]| {
        p.iter()
            .find(|p| p.kind == ConfigKind::Contacts)
            .map(|p| p.data.clone())
    };
    assert!(contacts(&ma).is_some());
    assert_eq!(contacts(&ma), contacts(&mb));
}

#[test]
fn concurrent_edits_to_one_contact_reach_the_same_bytes() {
    let (mut a, mut b) = (device(), device());
    a.add_contact(&peer(1), Some("start"), T).unwrap();
    deliver(&mut b, &push(&mut a));
    a.add_contact(&peer(1), Some("alpha"), T).unwrap();
    b.add_contact(&peer(1), Some("beta"), T).unwrap();
    b.set_blocked(&peer(1), true, T).unwrap();
    let (pa, pb) = (push(&mut a), push(&mut b));
    deliver(&mut a, &pb);
    deliver(&mut b, &pa);
    let (ma, mb) = (push(&mut a), push(&mut b));
    assert_eq!(contacts_data(&a), contacts_data(&b));
    assert_eq!(
        ma.iter().map(|p| &p.data).collect::<Vec<_>>(),
        mb.iter().map(|p| &p.data).collect::<Vec<_>>()
    );
    assert_eq!(a.contact(&peer(1)).unwrap(), b.contact(&peer(1)).unwrap());
    // The block (only B touched it) survives whichever nickname won.
    assert!(a.contact(&peer(1)).unwrap().unwrap().blocked);
    // A third device restored later gets the same.
    let mut c = device();
    let mut all = pa.clone();
    all.extend(pb.clone());
    all.extend(ma);
    deliver(&mut c, &all);
    assert_eq!(contacts_data(&c), contacts_data(&a));
    assert_eq!(c.contact(&peer(1)).unwrap(), a.contact(&peer(1)).unwrap());
}

#[test]
fn truncated_foreign_and_replayed_configs_change_nothing() {
    let mut a = device();
    a.add_contact(&peer(1), Some("one"), T).unwrap();
    let first = push(&mut a);
    a.add_contact(&peer(1), Some("two"), T).unwrap();
    let second = push(&mut a);
    let mut b = device();
    deliver(&mut b, &first);
    deliver(&mut b, &second);
    let before = (
        contacts_data(&b),
        b.contacts().unwrap(),
        b.config_status().unwrap(),
    );
    let contacts = |p: &[ConfigPush]| {
        p.iter()
            .find(|p| p.kind == ConfigKind::Contacts)
            .unwrap()
            .clone()
    };

    // Truncated.
    let mut cut = contacts(&second).data;
    cut.truncate(cut.len() / 2);
    // Pushed by another account (its wrapping signature is not this account's).
    let other = Account::from_ed25519_seed(&[9; 32]);
    let foreign = seal_config(&other, ConfigKind::Contacts, &contacts(&second).message).unwrap();
    // A replay of the older seqno, unwrapped (so the swarm sees new bytes).
    let old = contacts(&first).message;
    let key = me().ed25519_seed();
    let replay = sotto_config::seal_for_push(
        old.serialized(),
        key.expose(),
        ConfigKind::Contacts.domain(),
    )
    .unwrap();
    let batch = [cut, foreign, replay].map(|d| retrieved(ConfigKind::Contacts, d));
    let events = b
        .receive_configs(ConfigKind::Contacts, &NODE, &batch, T + 5)
        .unwrap();
    let reasons: Vec<_> = events
        .iter()
        .map(|e| match e {
            Event::Skipped {
                reason: SkipReason::Config(r),
                ..
            } => r.clone(),
            other => panic!("unexpected {other:?}"),
        })
        .collect();
    assert_eq!(reasons.len(), 3, "{reasons:?}");
    assert!(matches!(
        reasons[0],
        ConfigRejection::Unwrap(_) | ConfigRejection::Decrypt(_)
    ));
    assert!(
        matches!(reasons[1], ConfigRejection::Unwrap(_)),
        "{:?}",
        reasons[1]
    );
    assert_eq!(
        reasons[2],
        ConfigRejection::Stale {
            seqno: old.seqno(),
            current: contacts(&second).message.seqno()
        }
    );
    let after = (
        contacts_data(&b),
        b.contacts().unwrap(),
        b.config_status().unwrap(),
    );
    assert_eq!(before, after);
}

#[test]
fn a_dirty_config_survives_a_restart_and_is_pushed_next() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.db");
    {
        let mut a = Engine::open(&path, me()).unwrap();
        a.add_contact(&peer(1), Some("kept"), T).unwrap();
        assert_eq!(
            a.record_local_changes().unwrap(),
            vec![ConfigKind::Contacts]
        );
        // Killed here: marked dirty, never pushed.
    }
    let mut a = Engine::open(&path, me()).unwrap();
    let status = a.config_status().unwrap();
    let contacts = status
        .iter()
        .find(|s| s.kind == ConfigKind::Contacts)
        .unwrap();
    assert!(!contacts.pushed);
    assert_eq!((contacts.seqno, contacts.pushed_seqno), (1, 0));
    let pushes = push(&mut a);
    assert_eq!(pushes.len(), 1);
    let mut b = device();
    deliver(&mut b, &pushes);
    assert_eq!(
        b.contact(&peer(1)).unwrap().unwrap().nickname.as_deref(),
        Some("kept")
    );
}

#[test]
fn unknown_keys_survive_read_modify_write_on_another_device() {
    let mut a = device();
    a.add_contact(&peer(1), Some("x"), T).unwrap();
    a.record_local_changes().unwrap();
    let id = peer(1).to_bytes();
    a.edit_config(ConfigKind::Contacts, |d| {
        edit::set_scalar(d, &[b"c", &id, b"~future"], Scalar::from("kept")).unwrap();
        edit::set_scalar(d, &[b"Z"], Scalar::Int(42)).unwrap();
    })
    .unwrap();
    let pushes = push(&mut a);
    let mut b = device();
    deliver(&mut b, &pushes);
    b.add_contact(&peer(1), Some("renamed"), T).unwrap();
    let again = push(&mut b);
    deliver(&mut a, &again);
    let data = contacts_data(&a);
    assert_eq!(
        edit::get(&data, &[b"c", &id, b"~future"]),
        Some(&DataValue::Scalar(Scalar::from("kept")))
    );
    assert_eq!(
        edit::get(&data, &[b"Z"]),
        Some(&DataValue::Scalar(Scalar::Int(42)))
    );
    assert_eq!(
        a.contact(&peer(1)).unwrap().unwrap().nickname.as_deref(),
        Some("renamed")
    );
}

#[test]
fn read_positions_follow_to_the_other_device() {
    let mut a = device();
    let mut b = device();
    let bob = peer(1);
    a.add_contact(&bob, None, T).unwrap();
    // Both devices have the conversation with an unread message (as if both polled it).
    for e in [&mut a, &mut b] {
        let sent = e
            .send_text(&bob, "hi", None, T, &mut sotto_crypto::OsRng)
            .unwrap();
        assert!(sent.message.is_some());
    }
    let pushes = push(&mut a);
    deliver(&mut b, &pushes);
    let civ = b.config_data(ConfigKind::ConvoInfoVolatile).unwrap();
    assert!(
        edit::get(&civ, &[b"1", &bob.to_bytes(), b"r"]).is_some(),
        "{civ:?}"
    );
}

#[test]
fn profile_pictures_follow_to_the_other_device() {
    let url = "http://127.0.0.1:9/file/42#d";
    let mut a = device();
    a.add_contact(&peer(1), Some("Bobby"), T).unwrap();
    a.db_mut()
        .write(|tx| {
            tx.set_own_picture(&crate::attachments::OwnPicture {
                url: url.to_owned(),
                key: vec![9; 32],
                local_path: None,
                uploaded_ms: T,
            })?;
            tx.set_contact_picture(&peer(1), "http://127.0.0.1:9/file/7", &[3; 32])
        })
        .unwrap();
    let mut b = device();
    assert!(b.profile_picture().unwrap().is_none());
    deliver(&mut b, &push(&mut a));
    let own = b.profile_picture().unwrap().expect("own picture");
    assert_eq!(
        (own.url.as_str(), own.key.as_slice()),
        (url, [9; 32].as_slice())
    );
    let bob = b
        .contact_picture(&peer(1))
        .unwrap()
        .expect("contact picture");
    assert_eq!(bob.url, "http://127.0.0.1:9/file/7");
    assert_eq!(bob.key, vec![3; 32]);
    // Adopting it is not a change of b's own: nothing to push back.
    assert!(push(&mut b).is_empty());
}

#[test]
fn joined_communities_follow_to_the_other_device_and_so_does_leaving() {
    let link = crate::community::JoinLink::parse(
        "http://127.0.0.3:22032/Lobby?public_key=0101010101010101010101010101010101010101010101010101010101010101",
    )
    .unwrap();
    let mut a = device();
    a.db_mut()
        .write(|tx| crate::community::store::join(tx.conn(), &link, None, 1).map(|_| ()))
        .unwrap();
    let mut b = device();
    deliver(&mut b, &push(&mut a));
    let rooms = |e: &Engine| {
        crate::community::store::rooms(e.db().read().conn())
            .unwrap()
            .into_iter()
            .map(|r| (r.link.base_url, r.link.room))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        rooms(&b),
        [("http://127.0.0.3:22032".into(), "Lobby".into())]
    );
    assert_eq!(b.config_communities().unwrap().len(), 1);

    // b leaves: the room goes from its config, and a leaves it at its next sync.
    b.db_mut()
        .write(|tx| {
            crate::community::store::leave(tx.conn(), &link)?;
            crate::configs::edit_in(tx, ConfigKind::UserGroups, |d| {
                sotto_config::UserGroups::remove_community(d, &link.base_url, &link.room);
            })
        })
        .unwrap();
    deliver(&mut a, &push(&mut b));
    assert!(rooms(&a).is_empty());
    assert!(a.config_communities().unwrap().is_empty());
}
