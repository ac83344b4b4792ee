//! Signed revocations kept for catch-up: the newest request per token wins whatever the order
//! they arrive in, a stale unrevoke never lifts a later revoke, and the requests are handed
//! out by swarm-space range.
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "tests: a failed unwrap or index is a failed test"
)]

use proptest::prelude::*;
use sotto_identity::{IdPrefix, PrefixedId};
use sotto_store::{MAX_REVOCATION_LOG_PER_ACCOUNT, RevocationOutcome, RevocationRecord, Store};

fn group(n: u8) -> PrefixedId {
    PrefixedId::new(IdPrefix::Group, [n; 32])
}

fn token(n: u8) -> [u8; 36] {
    [n; 36]
}

/// One request: revoke or unrevoke of `tokens` at `ts`, its proof naming all of that.
struct Req {
    revoke: bool,
    ts: u64,
    tokens: Vec<[u8; 36]>,
}

impl Req {
    fn proof(&self) -> Vec<u8> {
        format!("{}@{}:{:?}", self.revoke, self.ts, self.tokens[0][0]).into_bytes()
    }
}

fn apply(s: &mut Store, owner: &PrefixedId, space: u64, r: &Req) -> RevocationOutcome {
    let proof = r.proof();
    s.apply_revocation(&RevocationRecord {
        owner,
        swarm_space: space,
        tokens: &r.tokens,
        revoke: r.revoke,
        timestamp_ms: r.ts,
        proof: &proof,
    })
    .unwrap()
}

fn req(revoke: bool, ts: u64, t: u8) -> Req {
    Req {
        revoke,
        ts,
        tokens: vec![token(t)],
    }
}

#[test]
fn a_stale_unrevoke_does_not_lift_a_later_revoke() {
    let mut s = Store::open_in_memory().unwrap();
    let g = group(1);
    // The revoke at 2000 arrives first (live); the unrevoke made at 1000 arrives later
    // (replayed, or in catch-up).
    assert_eq!(apply(&mut s, &g, 5, &req(true, 2000, 7)).applied, 1);
    let late = apply(&mut s, &g, 5, &req(false, 1000, 7));
    assert_eq!((late.applied, late.stale, late.lifted), (0, 1, 0));
    assert!(s.is_revoked(&g, &token(7)).unwrap());
    // A newer unrevoke lifts it (its count is 1), and an older revoke does not come back.
    let lift = apply(&mut s, &g, 5, &req(false, 3000, 7));
    assert_eq!((lift.applied, lift.lifted), (1, 1));
    assert!(!s.is_revoked(&g, &token(7)).unwrap());
    assert_eq!(apply(&mut s, &g, 5, &req(true, 2500, 7)).stale, 1);
    assert!(!s.is_revoked(&g, &token(7)).unwrap());
    // Of two requests with the same time, the revoke wins.
    apply(&mut s, &g, 5, &req(true, 3000, 7));
    assert!(s.is_revoked(&g, &token(7)).unwrap());
    apply(&mut s, &g, 5, &req(false, 3000, 7));
    assert!(s.is_revoked(&g, &token(7)).unwrap());
}

#[test]
fn an_unrevoke_first_blocks_an_older_revoke_and_survives_an_empty_list() {
    let mut s = Store::open_in_memory().unwrap();
    let g = group(2);
    // A node that never saw the revoke learns the later unrevoke first: it is kept even
    // though there is nothing to lift (and no owner row).
    let first = apply(&mut s, &g, 9, &req(false, 2000, 3));
    assert_eq!((first.applied, first.lifted), (1, 0));
    assert_eq!(apply(&mut s, &g, 9, &req(true, 1000, 3)).stale, 1);
    assert!(!s.is_revoked(&g, &token(3)).unwrap());
    // Both requests are known by the newest one only.
    let held = s.revocations_after(0, u64::MAX, 0, 100).unwrap();
    assert_eq!(held.len(), 1);
    assert_eq!(held[0].1, req(false, 2000, 3).proof());
}

#[test]
fn requests_are_handed_out_by_range_and_page() {
    let mut s = Store::open_in_memory().unwrap();
    apply(&mut s, &group(1), 100, &req(true, 1, 1));
    apply(&mut s, &group(2), 200, &req(true, 2, 2));
    apply(&mut s, &group(3), 300, &req(false, 3, 3));
    let proofs = |s: &Store, lower, upper, after, limit| -> Vec<Vec<u8>> {
        s.revocations_after(lower, upper, after, limit)
            .unwrap()
            .into_iter()
            .map(|(_, p)| p)
            .collect()
    };
    assert_eq!(
        proofs(&s, 150, 300, 0, 10),
        [req(true, 2, 2).proof(), req(false, 3, 3).proof()]
    );
    // Wrapping through 0: (250, 150] holds 300 and 100.
    assert_eq!(
        proofs(&s, 250, 150, 0, 10),
        [req(true, 1, 1).proof(), req(false, 3, 3).proof()]
    );
    // Paged: one at a time, resuming after the last id.
    let first = s.revocations_after(0, 1000, 0, 1).unwrap();
    let rest = s.revocations_after(0, 1000, first[0].0, 10).unwrap();
    assert_eq!((first.len(), rest.len()), (1, 2));
    // A superseded request is no longer handed out, nor kept.
    apply(&mut s, &group(1), 100, &req(false, 5, 1));
    assert_eq!(proofs(&s, 50, 150, 0, 10), [req(false, 5, 1).proof()]);
}

#[test]
fn the_log_is_bounded_per_account() {
    let mut s = Store::open_in_memory().unwrap();
    let g = group(4);
    let n = u8::try_from(MAX_REVOCATION_LOG_PER_ACCOUNT + 10).unwrap();
    for i in 0..n {
        apply(&mut s, &g, 1, &req(i % 2 == 0, u64::from(i) + 1, i));
    }
    let held = s.revocations_after(0, u64::MAX, 0, 1000).unwrap();
    assert_eq!(held.len(), MAX_REVOCATION_LOG_PER_ACCOUNT);
    // The newest is among them, the oldest not.
    let newest = req((n - 1) % 2 == 0, u64::from(n), n - 1).proof();
    assert!(held.iter().any(|(_, p)| *p == newest));
    assert!(!held.iter().any(|(_, p)| *p == req(true, 1, 0).proof()));
}

proptest! {
    /// Whatever order a set of requests for one token arrives in, the outcome is that of the
    /// newest (a revoke winning a tie).
    #[test]
    fn the_order_of_arrival_does_not_matter(
        reqs in prop::collection::vec((any::<bool>(), 1u64..20), 1..8),
        seed in any::<u64>(),
    ) {
        let g = group(9);
        let mut order: Vec<usize> = (0..reqs.len()).collect();
        // A permutation from the seed.
        let mut x = seed | 1;
        for i in (1..order.len()).rev() {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            order.swap(i, usize::try_from(x % (i as u64 + 1)).unwrap());
        }
        let mut s = Store::open_in_memory().unwrap();
        for &i in &order {
            let (revoke, ts) = reqs[i];
            apply(&mut s, &g, 1, &req(revoke, ts, 1));
        }
        let newest = reqs.iter().map(|(_, ts)| *ts).max().unwrap();
        let expected = reqs.iter().any(|(revoke, ts)| *revoke && *ts == newest);
        prop_assert_eq!(s.is_revoked(&g, &token(1)).unwrap(), expected);
    }
}
