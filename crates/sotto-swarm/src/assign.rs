//! oxend's per-block swarm assignment (`calc_swarm_changes`), run by the directory per epoch.

use std::collections::BTreeMap;

use core::num::NonZeroU64;

use crate::ids::new_swarm_id;
use crate::sort::sort_like_libstdcxx;
use crate::{
    DECOMMISSIONED_REDISTRIBUTION_LOWER_PERCENTILE, EXCESS_BASE, FILL_SWARM_LOWER_PERCENTILE,
    IDEAL_SWARM_MARGIN, MIN_SWARM_SIZE, Mt19937_64, NEW_SWARM_SIZE,
    STEALING_SWARM_UPPER_PERCENTILE, SwarmId, SwarmIds, UNASSIGNED_SWARM_ID,
};

/// The assignment seed for a block (epoch) hash: its first 8 bytes read little-endian, as oxend
/// copies them into a `uint64_t` on x86.
#[must_use]
pub fn seed_from_block_hash(hash: &[u8; 32]) -> u64 {
    let [b0, b1, b2, b3, b4, b5, b6, b7, ..] = *hash;
    u64::from_le_bytes([b0, b1, b2, b3, b4, b5, b6, b7])
}

/// The swarms after an epoch's assignment: each swarm id with its members.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SwarmAssignment<K> {
    swarms: BTreeMap<SwarmId, Vec<K>>,
}

impl<K: Ord + Clone> SwarmAssignment<K> {
    /// Each swarm's members, by swarm id.
    #[must_use]
    pub fn swarms(&self) -> &BTreeMap<SwarmId, Vec<K>> {
        &self.swarms
    }

    /// The swarms, by value.
    #[must_use]
    pub fn into_swarms(self) -> BTreeMap<SwarmId, Vec<K>> {
        self.swarms
    }

    /// The ids of the swarms.
    #[must_use]
    pub fn swarm_ids(&self) -> SwarmIds {
        self.swarms.keys().copied().collect()
    }

    /// Every node with its swarm: the input of the next epoch's [`assign_swarms`].
    #[must_use]
    pub fn node_swarms(&self) -> BTreeMap<K, SwarmId> {
        self.swarms
            .iter()
            .flat_map(|(id, nodes)| nodes.iter().map(|node| (node.clone(), *id)))
            .collect()
    }
}

/// Runs oxend's swarm assignment for one block (epoch).
///
/// `nodes` are the active nodes, each with its current swarm id; a node without a swarm (newly
/// registered or recommissioned) has [`UNASSIGNED_SWARM_ID`]. Nodes are taken in key order, as
/// oxend takes them in pubkey byte order, so use the node's public key (e.g.
/// [`sotto_crypto::Ed25519PublicKey`]) as `K`. `seed` is [`seed_from_block_hash`] of the epoch.
///
/// The steps, with the constants of this crate:
/// 1. with no swarm at all, create swarm [`SwarmIds::new_swarm_id`] (0);
/// 2. each unassigned node joins a random swarm among those no bigger than the
///    [`FILL_SWARM_LOWER_PERCENTILE`] size, and after each join, step 3 runs;
/// 3. new swarms from excess: unless a swarm is starving (below [`MIN_SWARM_SIZE`]), while the
///    nodes above [`EXCESS_BASE`] in all swarms number at least [`NEW_SWARM_SIZE`] +
///    [`IDEAL_SWARM_MARGIN`] × swarms, a new swarm is built from random nodes of the swarms
///    above [`EXCESS_BASE`];
/// 4. "Robin Hood": starving swarms, smallest first, take random nodes from the swarms above the
///    [`STEALING_SWARM_UPPER_PERCENTILE`] size, while the excess covers their deficit;
/// 5. step 3 again;
/// 6. if there is more than one swarm, each swarm still starving is dissolved and its members
///    join the smallest swarms as in step 2.
///
/// One difference: when every swarm is starving, oxend dissolves them one by one down to none
/// and then throws (`std::out_of_range`) trying to place the last members; here the last swarm
/// is kept, starving or not, so nodes too few for two swarms all end up in one. Everywhere else
/// the result is oxend's.
#[must_use]
pub fn assign_swarms<K: Ord + Clone>(
    nodes: &BTreeMap<K, SwarmId>,
    seed: u64,
) -> SwarmAssignment<K> {
    let mut swarms: Swarms<K> = BTreeMap::new();
    for (node, id) in nodes {
        swarms.entry(*id).or_default().push(node.clone());
    }
    if swarms.is_empty() {
        return SwarmAssignment { swarms };
    }
    let mut rng = Mt19937_64::new(seed);
    let unassigned = swarms.remove(&UNASSIGNED_SWARM_ID).unwrap_or_default();

    if swarms.is_empty() {
        swarms.insert(new_swarm_id(&[]), Vec::new());
    }
    assign_nodes(
        unassigned,
        &mut swarms,
        &mut rng,
        FILL_SWARM_LOWER_PERCENTILE,
    );
    robin_hood(&mut swarms, &mut rng);
    new_swarms_from_excess(&mut swarms, &mut rng);

    while swarms.len() > 1 {
        let Some(starving) = swarms
            .iter()
            .find(|(_, members)| members.len() < MIN_SWARM_SIZE)
            .map(|(id, _)| *id)
        else {
            break;
        };
        let members = swarms.remove(&starving).unwrap_or_default();
        assign_nodes(
            members,
            &mut swarms,
            &mut rng,
            DECOMMISSIONED_REDISTRIBUTION_LOWER_PERCENTILE,
        );
    }
    SwarmAssignment { swarms }
}

type Swarms<K> = BTreeMap<SwarmId, Vec<K>>;

#[derive(Clone, Copy)]
struct SwarmSize {
    id: SwarmId,
    size: usize,
}

impl Default for SwarmSize {
    fn default() -> Self {
        Self {
            id: UNASSIGNED_SWARM_ID,
            size: 0,
        }
    }
}

/// The swarms by size, ascending, ties in libstdc++ `std::sort` order from id order.
fn sorted_sizes<K>(swarms: &Swarms<K>) -> Vec<SwarmSize> {
    let mut sizes: Vec<SwarmSize> = swarms
        .iter()
        .map(|(id, members)| SwarmSize {
            id: *id,
            size: members.len(),
        })
        .collect();
    sort_like_libstdcxx(&mut sizes, |a, b| a.size < b.size);
    sizes
}

/// A draw in `0..n` as a position; `None` only for `n == 0`.
fn draw(rng: &mut Mt19937_64, n: usize) -> Option<usize> {
    let n = NonZeroU64::new(u64::try_from(n).ok()?)?;
    usize::try_from(rng.uniform(n)).ok()
}

/// The size at `percentile` of the sorted sizes (index `percentile × (n − 1) / 100`).
fn percentile_size(sorted: &[SwarmSize], percentile: usize) -> Option<(usize, usize)> {
    let last = sorted.len().checked_sub(1)?;
    let index = percentile.saturating_mul(last) / 100;
    sorted.get(index).map(|s| (index, s.size))
}

/// Each node joins a random swarm among the smallest up to `percentile` (and every swarm of
/// the same size as the one at that percentile); after each, new swarms are made from excess.
fn assign_nodes<K>(nodes: Vec<K>, swarms: &mut Swarms<K>, rng: &mut Mt19937_64, percentile: usize) {
    for node in nodes {
        let sorted = sorted_sizes(swarms);
        let Some((index, size)) = percentile_size(&sorted, percentile) else {
            // No swarm to join: cannot happen, the caller always leaves one.
            return;
        };
        let candidates = sorted
            .iter()
            .skip(index)
            .position(|s| s.size > size)
            .map_or(sorted.len(), |bigger| index + bigger);
        let chosen = draw(rng, candidates).and_then(|i| sorted.get(i));
        if let Some(members) = chosen.and_then(|s| swarms.get_mut(&s.id)) {
            members.push(node);
        }
        new_swarms_from_excess(swarms, rng);
    }
}

/// oxend's excess pool: every member of every swarm bigger than a threshold, in swarm-id order
/// then member order. Only its size and the members' excess over [`MIN_SWARM_SIZE`] are kept;
/// [`take_from_pool`] walks the same order to find a drawn position.
struct ExcessPool {
    len: usize,
    excess: usize,
}

fn excess_pool<K>(swarms: &Swarms<K>, threshold: usize) -> ExcessPool {
    let mut pool = ExcessPool { len: 0, excess: 0 };
    for members in swarms.values().filter(|m| m.len() > threshold) {
        pool.len += members.len();
        pool.excess += members.len().saturating_sub(MIN_SWARM_SIZE);
    }
    pool
}

/// Removes and returns a random node of the pool of swarms bigger than `threshold`.
fn take_from_pool<K>(
    swarms: &mut Swarms<K>,
    threshold: usize,
    pool_len: usize,
    rng: &mut Mt19937_64,
) -> Option<K> {
    let mut position = draw(rng, pool_len)?;
    for members in swarms.values_mut().filter(|m| m.len() > threshold) {
        if position < members.len() {
            return Some(members.remove(position));
        }
        position -= members.len();
    }
    None
}

fn new_swarms_from_excess<K>(swarms: &mut Swarms<K>, rng: &mut Mt19937_64) {
    if swarms.values().any(|m| m.len() < MIN_SWARM_SIZE) {
        return;
    }
    loop {
        let excess: usize = swarms
            .values()
            .map(|m| m.len().saturating_sub(EXCESS_BASE))
            .sum();
        if excess < NEW_SWARM_SIZE + swarms.len() * IDEAL_SWARM_MARGIN {
            return;
        }
        let mut recruits = Vec::with_capacity(NEW_SWARM_SIZE);
        while recruits.len() < NEW_SWARM_SIZE {
            // The excess checked above keeps the pool from running dry before the swarm is full.
            let pool = excess_pool(swarms, EXCESS_BASE);
            let Some(node) = take_from_pool(swarms, EXCESS_BASE, pool.len, rng) else {
                break;
            };
            recruits.push(node);
        }
        if recruits.is_empty() {
            return;
        }
        let ids: Vec<SwarmId> = swarms.keys().copied().collect();
        swarms
            .entry(new_swarm_id(&ids))
            .or_default()
            .extend(recruits);
    }
}

fn robin_hood<K>(swarms: &mut Swarms<K>, rng: &mut Mt19937_64) {
    // oxend sorts once and keeps using these sizes while nodes move.
    let sorted = sorted_sizes(swarms);
    let Some((_, rich_size)) = percentile_size(&sorted, STEALING_SWARM_UPPER_PERCENTILE) else {
        return;
    };
    // Only swarms strictly bigger than the percentile size (and than MIN_SWARM_SIZE) give.
    let threshold = MIN_SWARM_SIZE.max(rich_size.wrapping_sub(1));
    for poor in sorted.iter().take_while(|s| s.size < MIN_SWARM_SIZE) {
        loop {
            let have = swarms.get(&poor.id).map_or(0, Vec::len);
            let pool = excess_pool(swarms, threshold);
            if pool.excess < MIN_SWARM_SIZE.saturating_sub(have) {
                // Not enough to save this swarm, so none of the bigger ones after it either.
                return;
            }
            let Some(node) = take_from_pool(swarms, threshold, pool.len, rng) else {
                return;
            };
            let Some(members) = swarms.get_mut(&poor.id) else {
                return;
            };
            members.push(node);
            if members.len() >= MIN_SWARM_SIZE {
                break;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{IDEAL_SWARM_SIZE, INVALID_SWARM_ID};

    #[test]
    fn seed_is_the_little_endian_head_of_the_hash() {
        let mut hash = [0xeeu8; 32];
        hash[..8].copy_from_slice(&[1, 2, 3, 4, 5, 6, 7, 8]);
        assert_eq!(seed_from_block_hash(&hash), 0x0807_0605_0403_0201);
    }

    #[test]
    fn nothing_in_nothing_out() {
        let empty: BTreeMap<u32, SwarmId> = BTreeMap::new();
        assert!(assign_swarms(&empty, 1).swarms().is_empty());
    }

    #[test]
    fn few_nodes_share_swarm_zero() {
        let nodes: BTreeMap<u32, SwarmId> = (0..3).map(|k| (k, INVALID_SWARM_ID)).collect();
        let out = assign_swarms(&nodes, 9);
        assert_eq!(out.swarms().len(), 1);
        assert_eq!(out.swarms().get(&SwarmId(0)).map(Vec::len), Some(3));
        assert_eq!(out.node_swarms().len(), 3);
    }

    #[test]
    fn excess_makes_a_second_swarm() {
        // 14 nodes: 1 swarm of 14 has excess 9 ≥ 7 + 2, so a second swarm of 7 forms.
        let nodes: BTreeMap<u32, SwarmId> = (0..14).map(|k| (k, INVALID_SWARM_ID)).collect();
        let out = assign_swarms(&nodes, 3);
        let sizes: Vec<usize> = out.swarms().values().map(Vec::len).collect();
        assert_eq!(sizes.len(), 2);
        assert!(sizes.iter().all(|&s| s == IDEAL_SWARM_SIZE));
        assert!(out.swarms().contains_key(&SwarmId(crate::MAX_ID.0 / 2)));
    }

    #[test]
    fn last_starving_swarm_is_kept() {
        // Two swarms of two: oxend would dissolve both and fail; the last one is kept here.
        let nodes: BTreeMap<u32, SwarmId> = [(1, 10), (2, 10), (3, 20), (4, 20)]
            .into_iter()
            .map(|(k, s)| (k, SwarmId(s)))
            .collect();
        let out = assign_swarms(&nodes, 5);
        assert_eq!(out.swarms().len(), 1);
        assert_eq!(out.node_swarms().len(), 4);
    }
}
