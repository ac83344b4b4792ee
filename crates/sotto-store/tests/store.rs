//! The store's semantics, on real SQLite files.
#![allow(clippy::unwrap_used, reason = "test helpers outside #[test] functions")]

use proptest::prelude::*;
use sotto_identity::{IdPrefix, PrefixedId};
use sotto_store::{
    ExpireMode, ExpireResult, NewMessage, Quota, RetrieveLimits, Store, StoreError, StoreOutcome,
};

fn owner(n: u8) -> PrefixedId {
    PrefixedId::new(IdPrefix::Standard, [n; 32])
}

fn msg(owner_n: u8, ns: i16, hash: &str, ts: u64, expiry: u64) -> NewMessage {
    NewMessage {
        owner: owner(owner_n),
        swarm_space: u64::from(owner_n) << 56,
        namespace: ns,
        hash: hash.to_owned(),
        timestamp_ms: ts,
        expiry_ms: expiry,
        data: format!("data of {hash}").into_bytes(),
    }
}

fn hashes(store: &Store, o: u8, ns: i16, after: Option<&str>, now: u64) -> Vec<String> {
    store
        .retrieve(&owner(o), ns, after, RetrieveLimits::default(), now)
        .unwrap()
        .messages
        .into_iter()
        .map(|m| m.hash)
        .collect()
}

#[test]
fn insert_extend_exists() {
    let mut s = Store::open_in_memory().unwrap();
    assert_eq!(
        s.store(&msg(1, 0, "a", 10, 100), false).unwrap(),
        StoreOutcome::Inserted
    );
    assert_eq!(
        s.store(&msg(1, 0, "a", 10, 90), false).unwrap(),
        StoreOutcome::Exists { expiry_ms: 100 }
    );
    assert_eq!(
        s.store(&msg(1, 0, "a", 10, 100), false).unwrap(),
        StoreOutcome::Exists { expiry_ms: 100 }
    );
    assert_eq!(
        s.store(&msg(1, 0, "a", 10, 200), false).unwrap(),
        StoreOutcome::Extended { expiry_ms: 200 }
    );
    assert_eq!(
        s.get_expiries(&owner(1), &["a".into(), "zz".into()])
            .unwrap()
            .into_iter()
            .collect::<Vec<_>>(),
        vec![("a".into(), 200)]
    );
}

#[test]
fn public_outbox_is_a_singleton() {
    let mut s = Store::open_in_memory().unwrap();
    s.store(&msg(1, -1, "a", 1, 100), true).unwrap();
    s.store(&msg(1, 0, "b", 1, 100), false).unwrap();
    s.store(&msg(1, -1, "c", 2, 100), true).unwrap();
    assert_eq!(hashes(&s, 1, -1, None, 0), ["c"]);
    assert_eq!(hashes(&s, 1, 0, None, 0), ["b"]);
}

#[test]
fn paging_by_last_hash_within_namespace_and_limits() {
    let mut s = Store::open_in_memory().unwrap();
    for i in 0..10 {
        s.store(&msg(1, 0, &format!("h{i}"), i, 1000), false)
            .unwrap();
        s.store(&msg(1, 5, &format!("n{i}"), i, 1000), false)
            .unwrap();
        s.store(&msg(2, 0, &format!("o{i}"), i, 1000), false)
            .unwrap();
    }
    assert_eq!(hashes(&s, 1, 0, Some("h6"), 0), ["h7", "h8", "h9"]);
    // A hash from another namespace (or unknown) restarts from the beginning.
    assert_eq!(hashes(&s, 1, 0, Some("n6"), 0).len(), 10);
    assert_eq!(hashes(&s, 1, 0, Some("nope"), 0).len(), 10);
    let page = s
        .retrieve(
            &owner(1),
            0,
            None,
            RetrieveLimits {
                max_count: Some(3),
                max_size: None,
            },
            0,
        )
        .unwrap();
    assert_eq!((page.messages.len(), page.more), (3, true));
    // Each message counts 100 + 2 + 10·4/3 = 115 bytes: 250 bytes fit two.
    let page = s
        .retrieve(
            &owner(1),
            0,
            None,
            RetrieveLimits {
                max_count: None,
                max_size: Some(250),
            },
            0,
        )
        .unwrap();
    assert_eq!((page.messages.len(), page.more), (2, true));
    // At least one message is always returned.
    let page = s
        .retrieve(
            &owner(1),
            0,
            None,
            RetrieveLimits {
                max_count: None,
                max_size: Some(1),
            },
            0,
        )
        .unwrap();
    assert_eq!((page.messages.len(), page.more), (1, true));
    let page = s
        .retrieve(&owner(1), 0, Some("h8"), RetrieveLimits::default(), 0)
        .unwrap();
    assert_eq!((page.messages.len(), page.more), (1, false));
}

#[test]
fn expired_messages_are_hidden_then_swept() {
    let mut s = Store::open_in_memory().unwrap();
    s.store(&msg(1, 0, "old", 1, 50), false).unwrap();
    s.store(&msg(1, 0, "new", 1, 150), false).unwrap();
    assert_eq!(hashes(&s, 1, 0, None, 100), ["new"]);
    assert_eq!(s.sweep_expired(100).unwrap(), 1);
    assert_eq!(s.usage().unwrap().messages, 1);
    assert_eq!(s.sweep_expired(1000).unwrap(), 1);
    assert_eq!(hashes(&s, 1, 0, None, 0), Vec::<String>::new());
}

#[test]
fn deletes() {
    let mut s = Store::open_in_memory().unwrap();
    for (h, ns, ts) in [("a", 0, 10), ("b", 0, 20), ("c", 3, 30), ("d", 3, 40)] {
        s.store(&msg(1, ns, h, ts, 1000), false).unwrap();
    }
    s.store(&msg(2, 0, "x", 1, 1000), false).unwrap();
    // Another owner's hash is not deleted.
    assert_eq!(
        s.delete(&owner(1), &["x".into(), "b".into(), "b".into()])
            .unwrap(),
        ["b"]
    );
    let before = s.delete_before(&owner(1), None, 30).unwrap();
    assert_eq!(
        before.into_iter().collect::<Vec<_>>(),
        vec![(0, vec!["a".to_owned()]), (3, vec!["c".to_owned()])]
    );
    let all = s.delete_all(&owner(1), Some(3)).unwrap();
    assert_eq!(
        all.into_iter().collect::<Vec<_>>(),
        vec![(3, vec!["d".to_owned()])]
    );
    assert_eq!(hashes(&s, 2, 0, None, 0), ["x"]);
    assert!(s.delete_all(&owner(9), None).unwrap().is_empty());
}

#[test]
fn expire_modes() {
    let mut s = Store::open_in_memory().unwrap();
    s.store(&msg(1, 0, "a", 1, 100), false).unwrap();
    s.store(&msg(1, 0, "b", 1, 300), false).unwrap();
    let changes = vec![
        ("a".to_owned(), 200),
        ("b".to_owned(), 200),
        ("zz".to_owned(), 200),
    ];
    let ExpireResult { updated, unchanged } =
        s.expire(&owner(1), &changes, ExpireMode::Shorten).unwrap();
    assert_eq!(updated, [("b".to_owned(), 200)]);
    assert_eq!(unchanged, [("a".to_owned(), 100)]);
    let ExpireResult { updated, unchanged } = s
        .expire(&owner(1), &[("a".into(), 250)], ExpireMode::Extend)
        .unwrap();
    assert_eq!((updated, unchanged), (vec![("a".to_owned(), 250)], vec![]));
    let ExpireResult { updated, .. } = s
        .expire(
            &owner(1),
            &[("a".into(), 50), ("b".into(), 200)],
            ExpireMode::Set,
        )
        .unwrap();
    assert_eq!(updated, [("a".to_owned(), 50), ("b".to_owned(), 200)]);
    let all = s.expire_all(&owner(1), None, 100).unwrap();
    assert_eq!(
        all.into_iter().collect::<Vec<_>>(),
        vec![(0, vec!["b".to_owned()])]
    );
    assert_eq!(
        s.get_expiries(&owner(1), &["a".into(), "b".into()])
            .unwrap()
            .values()
            .copied()
            .collect::<Vec<_>>(),
        [50, 100]
    );
}

#[test]
fn revocations_keep_the_newest_fifty_and_outlive_messages() {
    let mut s = Store::open_in_memory().unwrap();
    let token = |i: u8| [i; 36];
    for i in 0..60u8 {
        s.revoke(&owner(1), 7, &[token(i)], u64::from(i)).unwrap();
    }
    assert!(!s.is_revoked(&owner(1), &token(9)).unwrap());
    assert!(s.is_revoked(&owner(1), &token(10)).unwrap());
    assert!(s.is_revoked(&owner(1), &token(59)).unwrap());
    s.store(&msg(1, 0, "m", 1, 10), false).unwrap();
    s.sweep_expired(100).unwrap();
    assert!(
        s.is_revoked(&owner(1), &token(59)).unwrap(),
        "revocation lost with the last message"
    );
    assert_eq!(s.unrevoke(&owner(1), &[token(59), token(3)]).unwrap(), 1);
    assert!(!s.is_revoked(&owner(1), &token(59)).unwrap());
}

#[test]
fn range_paging_with_wrap_around() {
    let mut s = Store::open_in_memory().unwrap();
    for o in [1u8, 0x40, 0x80, 0xf0] {
        s.store(&msg(o, 0, &format!("m{o}"), 1, 1000), false)
            .unwrap();
        s.store(&msg(o, 2, &format!("n{o}"), 1, 1000), false)
            .unwrap();
    }
    let pick = |lo: u64, hi: u64| -> Vec<String> {
        let mut out = Vec::new();
        let mut after = 0;
        loop {
            let page = s.range_after(lo, hi, after, 1, 0).unwrap();
            let Some(last) = page.last() else { break };
            after = last.row_id;
            out.extend(page.into_iter().map(|m| m.message.hash));
        }
        out
    };
    assert_eq!(pick(0x3f << 56, 0x80 << 56), ["m64", "n64", "m128", "n128"]);
    // Wrapping: (0xe0…, 0x01…] holds 0xf0 and 1.
    assert_eq!(pick(0xe0 << 56, 1 << 56), ["m1", "n1", "m240", "n240"]);
    let back = s.range_after(0, u64::MAX, 0, usize::MAX, 0).unwrap();
    assert_eq!(back.len(), 8);
    assert_eq!(back[0].message, msg(1, 0, "m1", 1, 1000));
}

#[test]
fn replicated_inserts_ignore_known_and_expired() {
    let mut s = Store::open_in_memory().unwrap();
    s.store(&msg(1, 0, "a", 1, 100), false).unwrap();
    let batch = [
        msg(1, 0, "a", 1, 500),
        msg(1, 0, "b", 1, 100),
        msg(1, 0, "c", 1, 5),
    ];
    assert_eq!(s.insert_replicated(&batch, 10).unwrap(), 1);
    assert_eq!(
        s.get_expiries(&owner(1), &["a".into()]).unwrap()["a"],
        100,
        "replication must not extend"
    );
}

#[test]
fn a_full_store_fails_cleanly_and_keeps_what_it_has() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Store::open(&dir.path().join("full.db"), 256 * 1024).unwrap();
    let mut stored = 0;
    let err = loop {
        let mut m = msg(1, 0, &format!("h{stored}"), 1, 1000);
        m.data = vec![7; 8000];
        match s.store(&m, false) {
            Ok(_) => stored += 1,
            Err(e) => break e,
        }
        assert!(stored < 1000, "the size limit is not enforced");
    };
    assert!(matches!(err, StoreError::Full), "{err:?}");
    assert!(stored > 5);
    assert_eq!(hashes(&s, 1, 0, None, 0).len(), stored);
    // Space freed by deletes is reused.
    s.delete_all(&owner(1), None).unwrap();
    s.store(&msg(1, 0, "again", 1, 1000), false).unwrap();
}

#[test]
fn data_survives_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.db");
    {
        let mut s = Store::open(&path, 1 << 24).unwrap();
        s.store(&msg(1, 0, "kept", 1, 1000), false).unwrap();
    }
    let s = Store::open(&path, 1 << 24).unwrap();
    assert_eq!(hashes(&s, 1, 0, None, 0), ["kept"]);
}

proptest! {
    #[test]
    fn retrieve_pages_cover_everything_once(n in 0usize..40, count in 1usize..7, size in 100usize..600) {
        let mut s = Store::open_in_memory().unwrap();
        for i in 0..n {
            s.store(&msg(1, 0, &format!("h{i:02}"), i as u64, 1000), false).unwrap();
        }
        let mut seen = Vec::new();
        let mut last: Option<String> = None;
        loop {
            let limits = RetrieveLimits { max_count: Some(count), max_size: Some(size) };
            let page = s.retrieve(&owner(1), 0, last.as_deref(), limits, 0).unwrap();
            prop_assert!(page.messages.len() <= count);
            last = page.messages.last().map(|m| m.hash.clone()).or(last);
            seen.extend(page.messages.into_iter().map(|m| m.hash));
            if !page.more { break; }
        }
        let want: Vec<String> = (0..n).map(|i| format!("h{i:02}")).collect();
        prop_assert_eq!(seen, want);
    }
}

#[test]
fn deletes_leave_tombstones_that_stop_replicated_copies_until_expiry() {
    let mut s = Store::open_in_memory().unwrap();
    for (h, ts) in [("a", 10), ("b", 20), ("c", 30), ("d", 40)] {
        s.store(&msg(1, 0, h, ts, 1000 + ts), false).unwrap();
    }
    s.delete(&owner(1), &["a".into()]).unwrap();
    s.delete_before(&owner(1), Some(0), 20).unwrap();
    s.delete_all(&owner(1), None).unwrap();
    let all: Vec<String> = ["a", "b", "c", "d", "e"].map(String::from).to_vec();
    assert_eq!(s.tombstoned(&all).unwrap(), ["a", "b", "c", "d"]);
    // A peer that missed the deletes offers its copies back: none is taken.
    let copies: Vec<NewMessage> = ["a", "b", "e"]
        .iter()
        .map(|h| msg(1, 0, h, 10, 1010))
        .collect();
    assert_eq!(s.insert_replicated(&copies, 0).unwrap(), 1);
    assert_eq!(hashes(&s, 1, 0, None, 0), ["e"]);
    // Tombstones go with the expiry of the message they stand for.
    s.sweep_expired(1025).unwrap();
    assert_eq!(s.tombstoned(&all).unwrap(), ["c", "d"]);
    s.sweep_expired(1041).unwrap();
    assert!(s.tombstoned(&all).unwrap().is_empty());
    let later = msg(1, 0, "a", 10, 5000);
    assert_eq!(s.insert_replicated(&[later], 1041).unwrap(), 1);
}

#[test]
fn a_node_purges_what_a_peer_deleted() {
    let (mut here, mut peer) = (
        Store::open_in_memory().unwrap(),
        Store::open_in_memory().unwrap(),
    );
    for h in ["a", "b", "c"] {
        here.store(&msg(1, 0, h, 10, 1000), false).unwrap();
        peer.store(&msg(1, 0, h, 10, 1000), false).unwrap();
    }
    peer.delete(&owner(1), &["b".into(), "c".into()]).unwrap();
    let mine: Vec<String> = here
        .hashes_after(0, u64::MAX, 0, 10, 0)
        .unwrap()
        .into_iter()
        .map(|(_, h)| h)
        .collect();
    assert_eq!(mine, ["a", "b", "c"]);
    // Tombstones without a proof are never handed on.
    assert!(peer.deletion_proofs(&mine).unwrap().is_empty());
    assert_eq!(
        peer.attach_delete_proof(b"signed delete", &["b".into(), "c".into()])
            .unwrap(),
        2
    );
    // A second proof does not replace the first.
    assert_eq!(
        peer.attach_delete_proof(b"other", &["b".into()]).unwrap(),
        0
    );
    let gone = peer.deletion_proofs(&mine).unwrap();
    // One request behind two tombstones: handed out once.
    assert_eq!(gone.proofs, [b"signed delete".to_vec()]);
    assert_eq!(gone.hashes, [("b".to_owned(), 0), ("c".to_owned(), 0)]);
    let head = here.message_head("b").unwrap().unwrap();
    assert_eq!(
        (head.owner, head.namespace, head.timestamp_ms),
        (owner(1), 0, 10)
    );
    assert!(here.message_head("zz").unwrap().is_none());
    // Only the named owner's message goes.
    assert!(
        !here
            .delete_proven(&owner(2), "b", b"signed delete")
            .unwrap()
    );
    for (hash, proof) in gone.pairs() {
        assert!(here.delete_proven(&owner(1), hash, proof).unwrap());
    }
    assert_eq!(hashes(&here, 1, 0, None, 0), ["a"]);
    assert_eq!(here.tombstoned(&mine).unwrap(), ["b", "c"]);
    // The proof travels on with the tombstone, and goes when the tombstone does.
    assert_eq!(here.deletion_proofs(&mine).unwrap(), gone);
    // Paging: rows after the first, limited.
    let page = here.hashes_after(0, u64::MAX, 0, 1, 0).unwrap();
    assert_eq!(page.len(), 1);
    assert!(
        here.hashes_after(0, u64::MAX, page[0].0, 1, 0)
            .unwrap()
            .is_empty()
    );
    here.sweep_expired(1000).unwrap();
    assert!(here.deletion_proofs(&mine).unwrap().is_empty());
}

#[test]
fn a_version_1_file_gains_tombstones() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.db");
    {
        let mut s = Store::open(&path, 1 << 20).unwrap();
        s.store(&msg(1, 0, "a", 10, 1000), false).unwrap();
    }
    // Make it a version-1 file: no tombstones table.
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch(
            "DROP TABLE tombstones; DROP TABLE delete_proofs; DROP TABLE forward_queue;
             DROP TABLE revocation_log; DROP TABLE revocation_proofs; PRAGMA user_version = 1;",
        )
        .unwrap();
    }
    let mut s = Store::open(&path, 1 << 20).unwrap();
    assert_eq!(hashes(&s, 1, 0, None, 0), ["a"]);
    s.delete(&owner(1), &["a".into()]).unwrap();
    assert_eq!(s.tombstoned(&["a".into()]).unwrap(), ["a"]);
}

fn sized(owner_n: u8, ns: i16, hash: &str, len: usize) -> NewMessage {
    let mut m = msg(owner_n, ns, hash, 1, 1_000_000);
    m.data = vec![b'x'; len];
    m
}

#[test]
fn quota_evicts_the_oldest_public_inbox_messages_of_that_account_only() {
    let mut s = Store::open_in_memory().unwrap();
    s.set_quota(Quota {
        account_bytes: 10_000,
        account_messages: 1000,
    });
    // Another account's message, and a signed (namespace 1) message of the flooded account.
    s.store(&sized(2, 0, "other", 3000), false).unwrap();
    s.store(&sized(1, 1, "signed", 3000), false).unwrap();
    // A flood of public-inbox messages: at most 7000 bytes of them fit beside "signed".
    for i in 0..10 {
        s.store(&sized(1, 0, &format!("p{i}"), 2000), false)
            .unwrap();
    }
    assert_eq!(hashes(&s, 1, 0, None, 0), ["p7", "p8", "p9"]);
    assert_eq!(hashes(&s, 1, 1, None, 0), ["signed"]);
    assert_eq!(hashes(&s, 2, 0, None, 0), ["other"]);
    let usage = s.account_usage(&owner(1)).unwrap();
    assert_eq!(usage.messages, 4);
    assert_eq!(usage.bytes, 9000);
}

#[test]
fn quota_counts_messages_too() {
    let mut s = Store::open_in_memory().unwrap();
    s.set_quota(Quota {
        account_bytes: 1 << 20,
        account_messages: 3,
    });
    for i in 0..5 {
        s.store(&sized(1, -20, &format!("m{i}"), 10), false)
            .unwrap();
    }
    assert_eq!(hashes(&s, 1, -20, None, 0), ["m2", "m3", "m4"]);
}

#[test]
fn a_signed_namespace_over_quota_is_refused_after_public_messages_are_evicted() {
    let mut s = Store::open_in_memory().unwrap();
    s.set_quota(Quota {
        account_bytes: 5000,
        account_messages: 1000,
    });
    s.store(&sized(1, 0, "public", 2000), false).unwrap();
    s.store(&sized(1, 2, "config1", 2000), false).unwrap();
    // The public message makes room for the signed one.
    s.store(&sized(1, 2, "config2", 2000), false).unwrap();
    assert!(hashes(&s, 1, 0, None, 0).is_empty());
    // Nothing public left to evict: refused, nothing written.
    let err = s.store(&sized(1, 2, "config3", 2000), false).unwrap_err();
    assert!(matches!(err, StoreError::QuotaExceeded), "{err:?}");
    assert_eq!(hashes(&s, 1, 2, None, 0), ["config1", "config2"]);
    // A public message that cannot fit is refused as well.
    let err = s.store(&sized(1, 0, "late", 2000), false).unwrap_err();
    assert!(matches!(err, StoreError::QuotaExceeded), "{err:?}");
    // Deleting makes room again.
    s.delete(&owner(1), &["config1".into()]).unwrap();
    s.store(&sized(1, 2, "config3", 2000), false).unwrap();
}

#[test]
fn replicated_messages_respect_the_quota() {
    let mut s = Store::open_in_memory().unwrap();
    s.set_quota(Quota {
        account_bytes: 7000,
        account_messages: 1000,
    });
    s.store(&sized(1, 2, "config1", 2000), false).unwrap();
    s.store(&sized(1, 2, "config2", 2000), false).unwrap();
    let batch = [
        sized(1, 0, "r1", 2000),
        sized(1, 2, "r2", 2000),
        sized(3, 0, "r3", 2000),
    ];
    // r1 fits; r2 (signed) evicts r1 to fit; r3 belongs to another account.
    assert_eq!(s.insert_replicated(&batch, 0).unwrap(), 3);
    assert_eq!(hashes(&s, 3, 0, None, 0), ["r3"]);
    assert_eq!(hashes(&s, 1, 2, None, 0), ["config1", "config2", "r2"]);
    assert!(hashes(&s, 1, 0, None, 0).is_empty());
    // No public message left to evict: a replicated message that does not fit is skipped.
    let more = [sized(1, 2, "r4", 2000), sized(1, 0, "r5", 2000)];
    assert_eq!(s.insert_replicated(&more, 0).unwrap(), 0);
    assert_eq!(hashes(&s, 1, 2, None, 0), ["config1", "config2", "r2"]);
}

#[test]
fn deletes_still_work_when_new_messages_no_longer_fit() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Store::open(&dir.path().join("full.db"), 512 * 1024).unwrap();
    let mut stored = Vec::new();
    let err = loop {
        let hash = format!("h{}", stored.len());
        match s.store(
            &sized(1 + (stored.len() % 50) as u8, 10, &hash, 6000),
            false,
        ) {
            Ok(_) => stored.push(hash),
            Err(e) => break e,
        }
        assert!(stored.len() < 1000, "the size limit is not enforced");
    };
    assert!(matches!(err, StoreError::Full), "{err:?}");
    // The reserve: deletes (which write tombstones), expiry changes and revocations work.
    for (i, hash) in stored.iter().enumerate().take(40) {
        let o = owner(1 + (i % 50) as u8);
        s.expire(&o, &[(hash.clone(), 5000)], ExpireMode::Set)
            .unwrap();
        s.revoke(&o, 0, &[[i as u8; 36]], 1).unwrap();
        let deleted = s.delete(&o, std::slice::from_ref(hash)).unwrap();
        assert_eq!(deleted.as_slice(), std::slice::from_ref(hash));
    }
}

#[cfg(unix)]
#[test]
fn files_are_private_and_deleted_data_is_overwritten() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.db");
    let marker = b"SECRET-METADATA-".repeat(64);
    {
        let mut s = Store::open(&path, 1 << 24).unwrap();
        let mut m = msg(1, 0, "gone", 1, 1_000_000);
        m.data = marker.clone();
        s.store(&m, false).unwrap();
        for suffix in ["", "-wal", "-shm"] {
            let file = dir.path().join(format!("store.db{suffix}"));
            let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "store.db{suffix}");
        }
    }
    {
        // Reopened (the WAL was checkpointed on close), then deleted.
        let mut s = Store::open(&path, 1 << 24).unwrap();
        assert_eq!(s.delete(&owner(1), &["gone".into()]).unwrap(), ["gone"]);
    }
    let bytes = std::fs::read(&path).unwrap();
    let found = bytes.windows(marker.len()).any(|w| w == marker.as_slice());
    assert!(!found, "deleted message data is still in the database file");
    // An existing file readable by others is narrowed.
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    drop(Store::open(&path, 1 << 24).unwrap());
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
}

#[test]
fn a_version_2_file_gains_delete_proofs_and_keeps_its_tombstones() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.db");
    {
        let mut s = Store::open(&path, 1 << 20).unwrap();
        s.store(&msg(1, 0, "a", 10, 1000), false).unwrap();
        s.store(&msg(1, 0, "b", 10, 1000), false).unwrap();
        s.delete(&owner(1), &["b".into()]).unwrap();
    }
    // Make it a version-2 file: tombstones without proofs.
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch(
            "DROP TABLE delete_proofs; ALTER TABLE tombstones DROP COLUMN proof;
             DROP TABLE forward_queue; DROP TABLE revocation_log; DROP TABLE revocation_proofs;
             PRAGMA user_version = 2;",
        )
        .unwrap();
    }
    let mut s = Store::open(&path, 1 << 20).unwrap();
    assert_eq!(hashes(&s, 1, 0, None, 0), ["a"]);
    let both: Vec<String> = vec!["a".into(), "b".into()];
    assert_eq!(s.tombstoned(&both).unwrap(), ["b"]);
    assert!(s.deletion_proofs(&both).unwrap().is_empty());
    s.delete(&owner(1), &["a".into()]).unwrap();
    s.attach_delete_proof(b"p", &["a".into()]).unwrap();
    let proofs = s.deletion_proofs(&both).unwrap();
    assert_eq!(proofs.pairs().collect::<Vec<_>>(), [("a", b"p".as_slice())]);
    drop(s);
    let conn = rusqlite::Connection::open(&path).unwrap();
    let v: i64 = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .unwrap();
    assert_eq!(v, 5);
}

#[test]
fn a_version_3_file_gains_the_forward_queue_and_keeps_its_messages() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.db");
    {
        let mut s = Store::open(&path, 1 << 20).unwrap();
        s.store(&msg(1, 0, "a", 10, 1000), false).unwrap();
    }
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch(
            "DROP TABLE forward_queue; DROP TABLE revocation_log; DROP TABLE revocation_proofs;
             PRAGMA user_version = 3;",
        )
        .unwrap();
    }
    let mut s = Store::open(&path, 1 << 20).unwrap();
    assert_eq!(hashes(&s, 1, 0, None, 0), ["a"]);
    s.queue_forwards(b"peer", &[b"x".to_vec()], 1000).unwrap();
    assert_eq!(s.queued_peers().unwrap(), [(b"peer".to_vec(), 1)]);
}

#[test]
fn the_forward_queue_keeps_order_per_peer_pages_by_size_and_expires() {
    let mut s = Store::open_in_memory().unwrap();
    let bodies: Vec<Vec<u8>> = (0..5u8).map(|i| vec![i; 10]).collect();
    s.queue_forwards(b"p1", &bodies, 1000).unwrap();
    s.queue_forwards(b"p2", &[b"other".to_vec()], 500).unwrap();
    let page = s.queued_forwards(b"p1", 25, 0).unwrap();
    assert_eq!(
        page.iter().map(|(_, b)| b.clone()).collect::<Vec<_>>(),
        bodies[..2]
    );
    // A body larger than the page still comes alone.
    assert_eq!(s.queued_forwards(b"p1", 1, 0).unwrap().len(), 1);
    let ids: Vec<i64> = page.iter().map(|(id, _)| *id).collect();
    s.unqueue_forwards(&ids).unwrap();
    let rest = s.queued_forwards(b"p1", 1 << 20, 0).unwrap();
    assert_eq!(
        rest.into_iter().map(|(_, b)| b).collect::<Vec<_>>(),
        bodies[2..]
    );
    let mut peers = s.queued_peers().unwrap();
    peers.sort();
    assert_eq!(peers, [(b"p1".to_vec(), 3), (b"p2".to_vec(), 1)]);
    // Expired entries are neither handed out nor kept.
    assert!(s.queued_forwards(b"p2", 1 << 20, 500).unwrap().is_empty());
    s.sweep_expired(500).unwrap();
    assert_eq!(s.queued_peers().unwrap(), [(b"p1".to_vec(), 3)]);
    assert_eq!(s.drop_forward_queue(b"p1").unwrap(), 3);
    assert!(s.queued_peers().unwrap().is_empty());
}

#[test]
fn a_group_commits_its_writes_together_and_a_failed_one_undoes_only_itself() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.db");
    let mut s = Store::open(&path, 1 << 20).unwrap();
    s.set_quota(Quota {
        account_bytes: 1 << 20,
        account_messages: 1,
    });
    let other = Store::open(&path, 1 << 20).unwrap();
    s.begin_group().unwrap();
    assert!(s.in_group());
    s.store(&msg(1, 1, "a", 10, 1000), false).unwrap();
    // Over the quota in a signed namespace: refused, and only this write is undone.
    assert!(matches!(
        s.store(&msg(1, 1, "b", 10, 1000), false),
        Err(StoreError::QuotaExceeded)
    ));
    s.store(&msg(2, 1, "c", 10, 1000), false).unwrap();
    // Another connection sees nothing before the commit.
    assert!(hashes(&other, 1, 1, None, 0).is_empty());
    s.commit_group().unwrap();
    assert!(!s.in_group());
    assert_eq!(hashes(&other, 1, 1, None, 0), ["a"]);
    assert_eq!(hashes(&other, 2, 1, None, 0), ["c"]);
    // A rolled-back group leaves nothing.
    s.begin_group().unwrap();
    s.store(&msg(3, 1, "d", 10, 1000), false).unwrap();
    s.rollback_group().unwrap();
    assert!(hashes(&s, 3, 1, None, 0).is_empty());
    // Outside a group each write commits by itself.
    s.store(&msg(3, 1, "e", 10, 1000), false).unwrap();
    assert_eq!(hashes(&other, 3, 1, None, 0), ["e"]);
}
