//! oxend's swarm assignment and swarm choice over arbitrary networks: never panic, keep every
//! node exactly once, leave no swarm below the minimum when there are several, and agree with
//! the swarm ranges.
#![no_main]

use std::collections::BTreeMap;

use libfuzzer_sys::fuzz_target;
use sotto_swarm::{INVALID_SWARM_ID, MIN_SWARM_SIZE, SwarmId, assign_swarms};

fuzz_target!(|data: &[u8]| {
    let Some((seed, rest)) = data.split_first_chunk::<8>() else {
        return;
    };
    // Each pair of bytes is a node: its key, and its current swarm (one of 16 ids spread over
    // the space, or none).
    let nodes: BTreeMap<u8, SwarmId> = rest
        .chunks_exact(2)
        .map(|pair| {
            let swarm = match pair[1] >> 4 {
                0..=7 => INVALID_SWARM_ID,
                n => SwarmId(u64::from(n).wrapping_mul(0x1357_9bdf_2468_ace1) ^ u64::from(pair[1])),
            };
            (pair[0], swarm)
        })
        .collect();
    let out = assign_swarms(&nodes, u64::from_le_bytes(*seed));
    let placed = out.node_swarms();
    assert_eq!(placed.len(), nodes.len());
    assert!(placed.keys().eq(nodes.keys()));
    let members: usize = out.swarms().values().map(Vec::len).sum();
    assert_eq!(members, nodes.len());
    assert!(!out.swarms().contains_key(&INVALID_SWARM_ID));
    if out.swarms().len() > 1 {
        assert!(out.swarms().values().all(|m| m.len() >= MIN_SWARM_SIZE));
    }
    let ids = out.swarm_ids();
    for &space in [0, u64::MAX, u64::from_le_bytes(*seed)].iter() {
        if let Ok(chosen) = ids.pick(space) {
            assert!(
                ids.boundaries(chosen)
                    .expect("chosen swarm exists")
                    .contains(space)
            );
        }
    }
});
