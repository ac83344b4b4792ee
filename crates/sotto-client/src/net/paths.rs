//! Choosing guards and path nodes, as pure functions of the node list and a random source.

use std::collections::HashSet;
use std::net::Ipv4Addr;

use rand::seq::SliceRandom as _;
use sotto_crypto::{CryptoRngCore, Ed25519PublicKey};
use sotto_swarm::NodeListing;

use super::SpreadRule;

/// Whether two nodes may be on the same path under `rule`.
#[must_use]
pub(crate) fn compatible(rule: SpreadRule, a: Ipv4Addr, b: Ipv4Addr) -> bool {
    match rule {
        SpreadRule::DistinctAddress => a != b,
        SpreadRule::DistinctSubnet24 => a.octets().get(..3) != b.octets().get(..3),
        SpreadRule::Any => true,
    }
}

/// The nodes of `pool` not in `exclude`, in random order.
pub(crate) fn shuffled<'a>(
    pool: &'a [NodeListing],
    exclude: &HashSet<Ed25519PublicKey>,
    rng: &mut impl CryptoRngCore,
) -> Vec<&'a NodeListing> {
    let mut nodes: Vec<&NodeListing> = pool
        .iter()
        .filter(|n| !exclude.contains(&n.pubkey_ed25519()))
        .collect();
    nodes.shuffle(rng);
    nodes
}

/// The nodes no hop of a path to `target` (at `target_ip`) may be: the target itself, every
/// node of `pool` that `rule` puts too close to the target (its /24 under
/// [`SpreadRule::DistinctSubnet24`], its address under [`SpreadRule::DistinctAddress`]), and
/// the members of the swarms in `swarms` (the target's and the user's own).
pub(crate) fn excluded_for_target<'a>(
    pool: &[NodeListing],
    target: Ed25519PublicKey,
    target_ip: Ipv4Addr,
    rule: SpreadRule,
    swarms: impl IntoIterator<Item = &'a NodeListing>,
) -> HashSet<Ed25519PublicKey> {
    let mut out: HashSet<Ed25519PublicKey> = pool
        .iter()
        .filter(|n| !compatible(rule, n.public_ip(), target_ip))
        .map(NodeListing::pubkey_ed25519)
        .collect();
    out.insert(target);
    out.extend(swarms.into_iter().map(NodeListing::pubkey_ed25519));
    out
}

/// Whether a path may carry a request: none of its nodes is in `exclude`.
pub(crate) fn allowed(path: &[NodeListing], exclude: &HashSet<Ed25519PublicKey>) -> bool {
    !path.is_empty() && path.iter().all(|n| !exclude.contains(&n.pubkey_ed25519()))
}

/// A path of `hops` nodes starting at `guard`, the others from `pool`: never a node in
/// `exclude`, a node in `avoid` (used by another path) only when there is no other choice, and
/// every pair of nodes compatible under `rule`. `None` when the pool cannot make one.
pub(crate) fn pick_path(
    guard: &NodeListing,
    pool: &[NodeListing],
    hops: usize,
    rule: SpreadRule,
    exclude: &HashSet<Ed25519PublicKey>,
    avoid: &HashSet<Ed25519PublicKey>,
    rng: &mut impl CryptoRngCore,
) -> Option<Vec<NodeListing>> {
    if hops == 0 || exclude.contains(&guard.pubkey_ed25519()) {
        return None;
    }
    let mut path = vec![guard.clone()];
    let candidates = shuffled(pool, exclude, rng);
    // Unused nodes first, then nodes of other paths.
    let (fresh, used): (Vec<_>, Vec<_>) = candidates
        .into_iter()
        .partition(|n| !avoid.contains(&n.pubkey_ed25519()));
    for node in fresh.into_iter().chain(used) {
        if path.len() == hops {
            break;
        }
        let fits = path.iter().all(|p| {
            p.pubkey_ed25519() != node.pubkey_ed25519()
                && compatible(rule, p.public_ip(), node.public_ip())
        });
        if fits {
            path.push(node.clone());
        }
    }
    (path.len() == hops).then_some(path)
}

/// A replacement for the node at `index` of `path`: a node of `pool` not in `exclude` nor in
/// the path, compatible with the path's other nodes.
pub(crate) fn pick_replacement(
    path: &[NodeListing],
    index: usize,
    pool: &[NodeListing],
    rule: SpreadRule,
    exclude: &HashSet<Ed25519PublicKey>,
    rng: &mut impl CryptoRngCore,
) -> Option<NodeListing> {
    let others: Vec<&NodeListing> = path
        .iter()
        .enumerate()
        .filter_map(|(i, n)| (i != index).then_some(n))
        .collect();
    shuffled(pool, exclude, rng)
        .into_iter()
        .find(|c| {
            path.iter()
                .all(|p| p.pubkey_ed25519() != c.pubkey_ed25519())
                && others
                    .iter()
                    .all(|o| compatible(rule, o.public_ip(), c.public_ip()))
        })
        .cloned()
}

#[cfg(test)]
mod tests {
    use rand_chacha::ChaCha20Rng;
    use rand_chacha::rand_core::SeedableRng as _;

    use super::*;
    use crate::net::cache::tests::listing;

    fn pool(ips: &[[u8; 4]]) -> Vec<NodeListing> {
        ips.iter()
            .map(|&ip| listing(Ipv4Addr::from(ip), 1))
            .collect()
    }

    fn keys(nodes: &[NodeListing]) -> HashSet<Ed25519PublicKey> {
        nodes.iter().map(NodeListing::pubkey_ed25519).collect()
    }

    #[test]
    fn paths_to_a_target_avoid_its_swarm_the_own_swarm_and_its_slash_24() {
        // Four /24s of four nodes: 10.0.0.x holds the target and two of its swarm mates,
        // 10.0.1.x one more swarm mate and the user's own swarm (two nodes), 10.0.2.x and
        // 10.0.3.x are free.
        let nodes = pool(
            &(0..4u8)
                .flat_map(|net| (1..=4u8).map(move |i| [10, 0, net, i]))
                .collect::<Vec<_>>(),
        );
        let target = &nodes[0];
        let target_swarm = [&nodes[1], &nodes[2], &nodes[4]];
        let own_swarm = [&nodes[5], &nodes[6]];
        let exclude = excluded_for_target(
            &nodes,
            target.pubkey_ed25519(),
            target.public_ip(),
            SpreadRule::default(),
            target_swarm.iter().chain(&own_swarm).copied(),
        );
        // The target's /24 (four nodes), its swarm mate on 10.0.1.1, the own swarm.
        let expected: HashSet<_> = [0, 1, 2, 3, 4, 5, 6]
            .iter()
            .map(|&i| nodes[i].pubkey_ed25519())
            .collect();
        assert_eq!(exclude, expected);
        let mut rng = ChaCha20Rng::seed_from_u64(5);
        let allowed_guards: Vec<&NodeListing> = nodes
            .iter()
            .filter(|n| !exclude.contains(&n.pubkey_ed25519()))
            .collect();
        for seed in 0..50u64 {
            let guard = allowed_guards[usize::try_from(seed).unwrap() % allowed_guards.len()];
            let path = pick_path(
                guard,
                &nodes,
                3,
                SpreadRule::default(),
                &exclude,
                &HashSet::new(),
                &mut rng,
            );
            // Only 10.0.1.x, 10.0.2.x and 10.0.3.x are left: one hop in each.
            let path = path.unwrap();
            assert!(allowed(&path, &exclude), "{path:?}");
            let nets: HashSet<_> = path.iter().map(|n| n.public_ip().octets()[2]).collect();
            assert_eq!(nets, [1, 2, 3].into());
        }
        // A guard in the target's swarm makes no path, and a kept path through the target,
        // its swarm, its /24 or the own swarm is not allowed.
        assert!(
            pick_path(
                &nodes[4],
                &nodes,
                3,
                SpreadRule::default(),
                &exclude,
                &HashSet::new(),
                &mut rng
            )
            .is_none()
        );
        for bad in 0..7 {
            let path = [nodes[bad].clone(), nodes[8].clone(), nodes[12].clone()];
            assert!(!allowed(&path, &exclude), "node {bad}");
        }
        assert!(allowed(
            &[nodes[7].clone(), nodes[8].clone(), nodes[12].clone()],
            &exclude
        ));
        // The testnet's rule (distinct addresses) only keeps the target's own address out.
        let loose = excluded_for_target(
            &nodes,
            target.pubkey_ed25519(),
            target.public_ip(),
            SpreadRule::DistinctAddress,
            [],
        );
        assert_eq!(loose, [target.pubkey_ed25519()].into());
    }

    #[test]
    fn the_default_rule_is_one_node_per_slash_24() {
        assert_eq!(SpreadRule::default(), SpreadRule::DistinctSubnet24);
        assert!(!compatible(
            SpreadRule::default(),
            Ipv4Addr::new(10, 0, 0, 1),
            Ipv4Addr::new(10, 0, 0, 2)
        ));
    }

    #[test]
    fn paths_never_share_an_address_under_the_address_rule() {
        // Two nodes on each of four addresses.
        let ips: Vec<[u8; 4]> = (1..=4)
            .flat_map(|i| [[10, 0, 0, i], [10, 0, 0, i]])
            .collect();
        let nodes = pool(&ips);
        let mut rng = ChaCha20Rng::seed_from_u64(1);
        for seed in 0..50 {
            let mut rng2 = ChaCha20Rng::seed_from_u64(seed);
            let guard = nodes.choose(&mut rng2).unwrap();
            let path = pick_path(
                guard,
                &nodes,
                3,
                SpreadRule::DistinctAddress,
                &HashSet::new(),
                &HashSet::new(),
                &mut rng,
            )
            .unwrap();
            assert_eq!(path[0], *guard);
            let addrs: HashSet<_> = path.iter().map(NodeListing::public_ip).collect();
            assert_eq!(addrs.len(), 3);
        }
        // Four addresses make no path of five.
        assert!(
            pick_path(
                &nodes[0],
                &nodes,
                5,
                SpreadRule::DistinctAddress,
                &HashSet::new(),
                &HashSet::new(),
                &mut rng
            )
            .is_none()
        );
        // With no rule, eight distinct nodes do.
        assert!(
            pick_path(
                &nodes[0],
                &nodes,
                8,
                SpreadRule::Any,
                &HashSet::new(),
                &HashSet::new(),
                &mut rng
            )
            .is_some()
        );
    }

    #[test]
    fn subnet_rule_spreads_over_slash_24s() {
        let nodes = pool(&[
            [10, 0, 0, 1],
            [10, 0, 0, 2],
            [10, 0, 1, 1],
            [10, 0, 1, 2],
            [10, 0, 2, 1],
        ]);
        let mut rng = ChaCha20Rng::seed_from_u64(2);
        for _ in 0..20 {
            let path = pick_path(
                &nodes[0],
                &nodes,
                3,
                SpreadRule::DistinctSubnet24,
                &HashSet::new(),
                &HashSet::new(),
                &mut rng,
            )
            .unwrap();
            let nets: HashSet<_> = path.iter().map(|n| n.public_ip().octets()[2]).collect();
            assert_eq!(nets.len(), 3);
        }
        assert!(
            pick_path(
                &nodes[0],
                &nodes,
                4,
                SpreadRule::DistinctSubnet24,
                &HashSet::new(),
                &HashSet::new(),
                &mut rng
            )
            .is_none()
        );
    }

    #[test]
    fn excluded_nodes_are_never_used_and_used_nodes_only_when_needed() {
        let nodes = pool(&(1..=7).map(|i| [127, 60, 0, 10 + i]).collect::<Vec<_>>());
        let mut rng = ChaCha20Rng::seed_from_u64(3);
        let target = &nodes[6];
        let exclude = keys(std::slice::from_ref(target));
        let first = pick_path(
            &nodes[0],
            &nodes,
            3,
            SpreadRule::DistinctAddress,
            &exclude,
            &HashSet::new(),
            &mut rng,
        )
        .unwrap();
        let guard = nodes[..6]
            .iter()
            .find(|n| !keys(&first).contains(&n.pubkey_ed25519()))
            .unwrap();
        for _ in 0..20 {
            let second = pick_path(
                guard,
                &nodes,
                3,
                SpreadRule::DistinctAddress,
                &exclude,
                &keys(&first),
                &mut rng,
            )
            .unwrap();
            // Six usable nodes: the second path is disjoint from the first, and avoids the target.
            assert!(
                second
                    .iter()
                    .all(|n| !keys(&first).contains(&n.pubkey_ed25519())),
                "{second:?}"
            );
            assert!(!keys(&second).contains(&target.pubkey_ed25519()));
        }
        // With only four usable nodes, a second path must reuse some.
        let small = &nodes[..5];
        let first = pick_path(
            &small[0],
            small,
            3,
            SpreadRule::DistinctAddress,
            &exclude,
            &HashSet::new(),
            &mut rng,
        )
        .unwrap();
        let guard = small
            .iter()
            .find(|n| {
                !keys(&first).contains(&n.pubkey_ed25519())
                    && n.pubkey_ed25519() != target.pubkey_ed25519()
            })
            .unwrap();
        assert!(
            pick_path(
                guard,
                small,
                3,
                SpreadRule::DistinctAddress,
                &exclude,
                &keys(&first),
                &mut rng
            )
            .is_some()
        );
        // An excluded guard makes no path.
        assert!(
            pick_path(
                target,
                &nodes,
                3,
                SpreadRule::DistinctAddress,
                &exclude,
                &HashSet::new(),
                &mut rng
            )
            .is_none()
        );
    }

    #[test]
    fn replacements_fit_the_rest_of_the_path() {
        let nodes = pool(&[
            [10, 0, 0, 1],
            [10, 0, 0, 2],
            [10, 0, 0, 3],
            [10, 0, 0, 3],
            [10, 0, 0, 4],
        ]);
        let mut rng = ChaCha20Rng::seed_from_u64(4);
        let path = vec![nodes[0].clone(), nodes[1].clone(), nodes[2].clone()];
        for _ in 0..20 {
            let new = pick_replacement(
                &path,
                1,
                &nodes,
                SpreadRule::DistinctAddress,
                &HashSet::new(),
                &mut rng,
            )
            .unwrap();
            // Not 10.0.0.3 (the exit's address), not a node already in the path.
            assert_eq!(new, nodes[4]);
        }
        let exclude = keys(&nodes[4..]);
        assert!(
            pick_replacement(
                &path,
                1,
                &nodes,
                SpreadRule::DistinctAddress,
                &exclude,
                &mut rng
            )
            .is_none()
        );
    }
}
