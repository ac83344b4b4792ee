//! Invariants of swarm choice, ranges and assignment, over random inputs.

#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "test helpers outside #[test] fns: a panic with context is how a case fails"
)]

use std::collections::{BTreeMap, BTreeSet};

use proptest::prelude::*;
use sotto_swarm::{
    INVALID_SWARM_ID, MIN_SWARM_SIZE, SwarmId, SwarmIds, account_swarm_space, assign_swarms,
    swarm_space,
};

/// Up to 40 swarm ids: mostly spread over the whole space, some packed near 0 and near the top
/// so that wrap-around and close neighbours come up.
fn swarm_ids() -> impl Strategy<Value = SwarmIds> {
    let id = prop_oneof![
        4 => any::<u64>(),
        1 => 0u64..64,
        1 => (u64::MAX - 64)..u64::MAX,
    ];
    prop::collection::vec(id, 1..40).prop_map(|v| v.into_iter().map(SwarmId).collect())
}

/// The circular distance between two positions.
fn distance(a: u64, b: u64) -> u64 {
    a.wrapping_sub(b).min(b.wrapping_sub(a))
}

proptest! {
    #[test]
    fn choice_is_stable_when_a_far_swarm_is_added(
        ids in swarm_ids(),
        space in any::<u64>(),
        spread in any::<u64>(),
    ) {
        let chosen = ids.pick(space).unwrap();
        // A new swarm further from the position than the chosen one, either way round.
        let near = distance(space, chosen.0);
        let room = u64::MAX - 2 * near; // positions whose distance exceeds `near`
        prop_assume!(near < u64::MAX / 2 && room > 0);
        let far = space.wrapping_add(near + 1 + spread % room);
        prop_assert!(distance(space, far) > near);
        let mut more = ids.clone();
        more.insert(SwarmId(far));
        prop_assert_eq!(more.pick(space).unwrap(), chosen);
    }

    #[test]
    fn adding_a_swarm_only_moves_positions_into_it(
        ids in swarm_ids(),
        new in any::<u64>(),
        spaces in prop::collection::vec(any::<u64>(), 1..20),
    ) {
        let mut more = ids.clone();
        more.insert(SwarmId(new));
        for space in spaces {
            let after = more.pick(space).unwrap();
            prop_assert!(after == ids.pick(space).unwrap() || after == SwarmId(new));
        }
    }

    #[test]
    fn every_position_is_in_exactly_one_range(
        ids in swarm_ids(),
        spaces in prop::collection::vec(any::<u64>(), 1..20),
    ) {
        let ranges: Vec<_> = ids
            .as_slice()
            .iter()
            .map(|id| (*id, ids.boundaries(*id).unwrap()))
            .collect();
        // Each range's own edges, where off-by-one mistakes would show.
        let edges = ranges.iter().flat_map(|(_, r)| {
            [r.lower_exclusive(), r.lower_exclusive().wrapping_add(1), r.upper_inclusive(),
             r.upper_inclusive().wrapping_add(1)]
        });
        for space in spaces.into_iter().chain(edges).chain([0, u64::MAX]) {
            let owners: Vec<SwarmId> =
                ranges.iter().filter(|(_, r)| r.contains(space)).map(|(id, _)| *id).collect();
            prop_assert_eq!(owners, vec![ids.pick(space).unwrap()], "position {}", space);
        }
    }

    #[test]
    fn every_pubkey_lands_in_one_range(
        ids in swarm_ids(),
        prefix in any::<u8>(),
        key in any::<[u8; 32]>(),
    ) {
        let mut pubkey = vec![prefix];
        pubkey.extend_from_slice(&key);
        let space = account_swarm_space(&pubkey).unwrap();
        prop_assert_eq!(space, swarm_space(&key));
        let owners = ids
            .as_slice()
            .iter()
            .filter(|id| ids.boundaries(**id).unwrap().contains(space))
            .count();
        prop_assert_eq!(owners, 1);
        prop_assert!(ids.boundaries(ids.pick_for_key(&key).unwrap()).unwrap().contains(space));
    }

    #[test]
    fn new_ids_are_fresh_and_valid(ids in swarm_ids()) {
        let id = ids.new_swarm_id();
        prop_assert!(id.is_valid());
        prop_assert!(!ids.contains(id));
    }

    #[test]
    fn assignment_keeps_every_node_once_and_feeds_starving_swarms(
        nodes in prop::collection::btree_map(
            any::<u16>(),
            prop_oneof![3 => Just(INVALID_SWARM_ID), 1 => (0u64..6).prop_map(|i| SwarmId(i << 60))],
            0..120,
        ),
        seed in any::<u64>(),
    ) {
        let out = assign_swarms(&nodes, seed);
        let placed = out.node_swarms();
        prop_assert_eq!(
            placed.keys().collect::<BTreeSet<_>>(),
            nodes.keys().collect::<BTreeSet<_>>()
        );
        let members: usize = out.swarms().values().map(Vec::len).sum();
        prop_assert_eq!(members, nodes.len());
        prop_assert!(!out.swarms().contains_key(&INVALID_SWARM_ID));
        if out.swarms().len() > 1 {
            prop_assert!(out.swarms().values().all(|m| m.len() >= MIN_SWARM_SIZE));
        }
        if !nodes.is_empty() {
            prop_assert!(!out.swarms().is_empty());
        }
        // Deterministic, and a second epoch with nobody new changes nothing it need not.
        prop_assert_eq!(&assign_swarms(&nodes, seed), &out);
        let again = assign_swarms(&placed, seed ^ 1);
        if out.swarms().values().all(|m| m.len() >= MIN_SWARM_SIZE) {
            prop_assert_eq!(again.node_swarms(), placed);
        }
    }
}

#[test]
fn property_helpers_are_sane() {
    assert_eq!(distance(1, u64::MAX), 2);
    let nodes: BTreeMap<u8, SwarmId> = BTreeMap::new();
    assert!(assign_swarms(&nodes, 0).swarms().is_empty());
}
