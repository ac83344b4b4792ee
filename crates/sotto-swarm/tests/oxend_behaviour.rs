//! The behaviours oxen-core's swarm unit tests (`tests/unit_tests/service_nodes_swarm.cpp`)
//! check, run against [`assign_swarms`]. Nodes are keyed by a counter; oxend keys them by
//! their public keys, which only changes which random choices are made, not the properties.

#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "test helpers outside #[test] fns: a panic with context is how a case fails"
)]

use std::collections::BTreeMap;

use sotto_swarm::{
    IDEAL_SWARM_MARGIN, IDEAL_SWARM_SIZE, INVALID_SWARM_ID, MIN_SWARM_SIZE, SwarmId, assign_swarms,
};

type Nodes = BTreeMap<u32, SwarmId>;

/// Swarms as oxend's tests see them: id → members.
fn swarms_of(nodes: &Nodes) -> BTreeMap<SwarmId, Vec<u32>> {
    let mut out: BTreeMap<SwarmId, Vec<u32>> = BTreeMap::new();
    for (k, id) in nodes {
        out.entry(*id).or_default().push(*k);
    }
    out
}

fn expected_swarms(nodes: usize) -> usize {
    1 + nodes.saturating_sub(IDEAL_SWARM_SIZE) / IDEAL_SWARM_SIZE
}

fn excess(nodes: &Nodes) -> usize {
    swarms_of(nodes)
        .values()
        .map(|m| m.len().saturating_sub(MIN_SWARM_SIZE))
        .sum()
}

/// Registers `per_block` new nodes in each of `blocks` blocks (seed = block index) and checks
/// the number of swarms and the excess after each, as oxend's `registerInitialSnodes` does.
fn register(nodes: &mut Nodes, next_key: &mut u32, per_block: u32, blocks: u64) {
    for block in 0..blocks {
        for _ in 0..per_block {
            nodes.insert(*next_key, INVALID_SWARM_ID);
            *next_key += 1;
        }
        *nodes = assign_swarms(nodes, block).node_swarms();
        let n = nodes.len();
        let swarms = swarms_of(nodes).len();
        assert_eq!(swarms, expected_swarms(n), "{n} nodes");
        if n >= IDEAL_SWARM_SIZE {
            assert_eq!(
                excess(nodes),
                swarms * IDEAL_SWARM_MARGIN + n % IDEAL_SWARM_SIZE,
                "{n} nodes"
            );
        }
    }
}

/// 70 nodes in 10 swarms of 7.
fn ten_swarms() -> (Nodes, u32) {
    let mut nodes = Nodes::new();
    let mut next = 0;
    register(&mut nodes, &mut next, 70, 1);
    assert_eq!(swarms_of(&nodes).len(), 10);
    (nodes, next)
}

/// Removes the member of `swarm` with the largest key (oxend's tests pop the last member).
fn pop(nodes: &mut Nodes, swarm: SwarmId) {
    let last = nodes
        .iter()
        .filter(|(_, id)| **id == swarm)
        .map(|(k, _)| *k)
        .next_back()
        .unwrap();
    nodes.remove(&last);
}

fn size(nodes: &Nodes, swarm: SwarmId) -> usize {
    nodes.values().filter(|id| **id == swarm).count()
}

#[test]
fn register_nodes_one_by_one() {
    let (mut nodes, mut next) = (Nodes::new(), 0);
    register(&mut nodes, &mut next, 1, 40 * IDEAL_SWARM_SIZE as u64);
    assert_eq!(swarms_of(&nodes).len(), 40);
}

#[test]
fn register_nodes_in_bulk() {
    let (mut nodes, mut next) = (Nodes::new(), 0);
    for per_block in [1, 3, 19, 4, 8, 13, 1, 22, 1, 7, 2, 1, 11, 18, 6, 10] {
        register(&mut nodes, &mut next, per_block, 1);
    }
}

#[test]
fn shrinking_a_swarm_to_the_minimum_leaves_the_others_alone() {
    let (mut nodes, _) = ten_swarms();
    let ids: Vec<SwarmId> = swarms_of(&nodes).keys().copied().collect();
    let mut seed = 70;
    // One node at a time from the first swarm.
    while size(&nodes, ids[0]) > MIN_SWARM_SIZE {
        pop(&mut nodes, ids[0]);
        let before = swarms_of(&nodes);
        nodes = assign_swarms(&nodes, seed).node_swarms();
        seed += 1;
        assert_eq!(swarms_of(&nodes), before);
    }
    // The second swarm down to the minimum at once.
    while size(&nodes, ids[1]) > MIN_SWARM_SIZE {
        pop(&mut nodes, ids[1]);
    }
    let before = swarms_of(&nodes);
    nodes = assign_swarms(&nodes, seed).node_swarms();
    assert_eq!(swarms_of(&nodes), before);
}

#[test]
fn registrations_fill_the_low_swarms() {
    let (mut nodes, mut next) = ten_swarms();
    let ids: Vec<SwarmId> = swarms_of(&nodes).keys().copied().collect();
    let mut seed = 70;
    while size(&nodes, ids[0]) > MIN_SWARM_SIZE {
        pop(&mut nodes, ids[0]);
        pop(&mut nodes, ids[1]);
        nodes = assign_swarms(&nodes, seed).node_swarms();
        seed += 1;
    }
    // Both below the minimum, and three registrations (the lowest 25% of ten swarms).
    pop(&mut nodes, ids[0]);
    pop(&mut nodes, ids[1]);
    for _ in 0..3 {
        nodes.insert(next, INVALID_SWARM_ID);
        next += 1;
    }
    nodes = assign_swarms(&nodes, seed).node_swarms();
    assert!(size(&nodes, ids[0]) >= MIN_SWARM_SIZE);
    assert!(size(&nodes, ids[1]) >= MIN_SWARM_SIZE);
}

#[test]
fn a_starving_swarm_steals_from_one_rich_swarm() {
    let (mut nodes, _) = ten_swarms();
    let before = swarms_of(&nodes);
    let victim = *before.keys().next().unwrap();
    while size(&nodes, victim) >= MIN_SWARM_SIZE {
        pop(&mut nodes, victim);
    }
    nodes = assign_swarms(&nodes, 70).node_swarms();
    assert!(size(&nodes, victim) >= MIN_SWARM_SIZE);
    let after = swarms_of(&nodes);
    let mut robbed = 0;
    for (id, members) in &after {
        if *id != victim && members.len() < before[id].len() {
            assert!(members.len() >= MIN_SWARM_SIZE);
            assert_eq!(members.len(), before[id].len() - 1);
            robbed += 1;
        }
    }
    assert_eq!(robbed, 1);
}

#[test]
fn a_swarm_that_cannot_be_saved_is_dissolved() {
    let (mut nodes, _) = ten_swarms();
    for id in swarms_of(&nodes).keys().copied().collect::<Vec<_>>() {
        while size(&nodes, id) > MIN_SWARM_SIZE {
            pop(&mut nodes, id);
        }
    }
    let first = *swarms_of(&nodes).keys().next().unwrap();
    pop(&mut nodes, first);
    nodes = assign_swarms(&nodes, 70).node_swarms();
    assert_eq!(swarms_of(&nodes).len(), 9);
    assert!(!swarms_of(&nodes).contains_key(&first));
}
