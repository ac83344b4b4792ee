//! What the node knows of the network: the directory's current node list, the swarms in it,
//! this node's swarm and peers, and what changed between two lists.

use std::collections::BTreeMap;

use sotto_crypto::Ed25519PublicKey;
use sotto_rpc::AccountId;
use sotto_swarm::NodeListing;
use sotto_swarm::{SwarmId, SwarmIds, SwarmRange, swarm_space};

/// One verified node list from the directory.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NodeList {
    /// The directory's epoch height.
    pub height: u64,
    /// The epoch hash (hex).
    pub block_hash: String,
    /// The active nodes.
    pub nodes: Vec<NodeListing>,
}

/// Where an account's messages live, as this node sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ownership {
    /// In this node's swarm.
    Mine,
    /// In another swarm.
    Other(SwarmId),
    /// No list yet, or this node has no swarm: the node is not ready.
    NotReady,
}

/// The node list as this node uses it.
#[derive(Debug, Clone)]
pub struct NetworkView {
    me: Ed25519PublicKey,
    list: NodeList,
    nodes: BTreeMap<Ed25519PublicKey, NodeListing>,
    swarms: SwarmIds,
}

/// A circular range intersects another: `(a, b] ∩ (c, d] ≠ ∅` iff one range holds the other's
/// upper end (whole-space ranges hold everything).
#[must_use]
pub fn ranges_intersect(a: &SwarmRange, b: &SwarmRange) -> bool {
    a.contains(b.upper_inclusive()) || b.contains(a.upper_inclusive())
}

/// Whether every position of `inner` lies in `outer`.
#[must_use]
pub fn range_within(inner: &SwarmRange, outer: &SwarmRange) -> bool {
    if outer.is_whole_space() {
        return true;
    }
    if inner.is_whole_space() {
        return false;
    }
    // Offsets from outer's (exclusive) lower end: outer is (0, span]; inner must not wrap
    // through 0 and must end within span.
    let base = outer.lower_exclusive();
    let span = outer.upper_inclusive().wrapping_sub(base);
    let lo = inner.lower_exclusive().wrapping_sub(base);
    let hi = inner.upper_inclusive().wrapping_sub(base);
    lo < hi && hi <= span
}

impl NetworkView {
    /// The view of `list` from node `me`.
    #[must_use]
    pub fn new(me: Ed25519PublicKey, list: NodeList) -> Self {
        let nodes: BTreeMap<_, _> = list
            .nodes
            .iter()
            .map(|n| (n.pubkey_ed25519(), n.clone()))
            .collect();
        let swarms = nodes.values().map(NodeListing::swarm_id).collect();
        Self {
            me,
            list,
            nodes,
            swarms,
        }
    }

    /// An empty view (before the first list).
    #[must_use]
    pub fn empty(me: Ed25519PublicKey) -> Self {
        Self::new(me, NodeList::default())
    }

    /// The list this view was built from.
    #[must_use]
    pub fn list(&self) -> &NodeList {
        &self.list
    }

    /// This node's key.
    #[must_use]
    pub fn me(&self) -> Ed25519PublicKey {
        self.me
    }

    /// The listed node with this key.
    #[must_use]
    pub fn node(&self, key: &Ed25519PublicKey) -> Option<&NodeListing> {
        self.nodes.get(key)
    }

    /// Every listed node.
    pub fn nodes(&self) -> impl Iterator<Item = &NodeListing> {
        self.nodes.values()
    }

    /// The swarms that exist.
    #[must_use]
    pub fn swarms(&self) -> &SwarmIds {
        &self.swarms
    }

    /// This node's swarm, if it is listed in one.
    #[must_use]
    pub fn my_swarm(&self) -> Option<SwarmId> {
        self.nodes
            .get(&self.me)
            .map(NodeListing::swarm_id)
            .filter(|s| s.is_valid())
    }

    /// The swarm-space range this node's swarm owns.
    #[must_use]
    pub fn my_range(&self) -> Option<SwarmRange> {
        self.my_swarm().and_then(|s| self.swarms.boundaries(s).ok())
    }

    /// The range any swarm owns.
    #[must_use]
    pub fn range_of(&self, swarm: SwarmId) -> Option<SwarmRange> {
        self.swarms.boundaries(swarm).ok()
    }

    /// The members of `swarm`, sorted by key.
    #[must_use]
    pub fn members(&self, swarm: SwarmId) -> Vec<&NodeListing> {
        self.nodes
            .values()
            .filter(|n| n.swarm_id() == swarm)
            .collect()
    }

    /// The other members of this node's swarm.
    #[must_use]
    pub fn peers(&self) -> Vec<&NodeListing> {
        match self.my_swarm() {
            None => Vec::new(),
            Some(s) => self
                .members(s)
                .into_iter()
                .filter(|n| n.pubkey_ed25519() != self.me)
                .collect(),
        }
    }

    /// The swarm responsible for an account.
    #[must_use]
    pub fn swarm_for(&self, account: &AccountId) -> Option<SwarmId> {
        self.swarms.pick(swarm_space(account.key())).ok()
    }

    /// Whether this node's swarm holds an account.
    #[must_use]
    pub fn ownership(&self, account: &AccountId) -> Ownership {
        match (self.my_swarm(), self.swarm_for(account)) {
            (Some(mine), Some(theirs)) if mine == theirs => Ownership::Mine,
            (Some(_), Some(theirs)) => Ownership::Other(theirs),
            _ => Ownership::NotReady,
        }
    }

    /// The nodes to pull this node's range from after the list changed from `old` to `self`.
    /// When this node held no range under `old` (first list after a start, or it just joined a
    /// swarm), or its range now reaches beyond the old one: the current swarm peers plus every
    /// node whose swarm under `old` owned part of the new range. Empty otherwise (the range is
    /// unchanged or shrank: this node already holds it).
    #[must_use]
    pub fn sync_sources(&self, old: &NetworkView) -> Vec<Ed25519PublicKey> {
        let Some(range) = self.my_range() else {
            return Vec::new();
        };
        if old
            .my_range()
            .is_some_and(|held| range_within(&range, &held))
        {
            return Vec::new();
        }
        let mut sources: Vec<Ed25519PublicKey> =
            self.peers().iter().map(|n| n.pubkey_ed25519()).collect();
        for node in self.nodes.values() {
            let key = node.pubkey_ed25519();
            if key == self.me || sources.contains(&key) {
                continue;
            }
            let held = old
                .node(&key)
                .map(NodeListing::swarm_id)
                .and_then(|s| old.range_of(s));
            if held.is_some_and(|r| ranges_intersect(&r, &range)) {
                sources.push(key);
            }
        }
        sources
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use sotto_crypto::Ed25519SecretKey;
    use sotto_swarm::NodeVersion;
    use std::net::Ipv4Addr;

    pub(crate) fn listing(seed: u8, swarm: u64) -> NodeListing {
        let key = Ed25519SecretKey::from_seed(&[seed; 32]).public_key();
        NodeListing::new(
            key,
            Ipv4Addr::new(127, 0, 0, seed),
            22021,
            SwarmId(swarm),
            NodeVersion::from([2, 8, 0]),
        )
        .unwrap()
    }

    fn key(seed: u8) -> Ed25519PublicKey {
        Ed25519SecretKey::from_seed(&[seed; 32]).public_key()
    }

    fn view(me: u8, nodes: &[(u8, u64)]) -> NetworkView {
        NetworkView::new(
            key(me),
            NodeList {
                height: 1,
                block_hash: String::new(),
                nodes: nodes.iter().map(|(s, w)| listing(*s, *w)).collect(),
            },
        )
    }

    #[test]
    fn swarm_and_peers() {
        let v = view(1, &[(1, 100), (2, 100), (3, 200), (4, u64::MAX)]);
        assert_eq!(v.my_swarm(), Some(SwarmId(100)));
        assert_eq!(v.peers().len(), 1);
        assert_eq!(v.peers()[0].pubkey_ed25519(), key(2));
        assert_eq!(v.swarms().len(), 2);
        let unassigned = view(4, &[(1, 100), (4, u64::MAX)]);
        assert_eq!(unassigned.my_swarm(), None);
        let acct = AccountId::new(5, [0; 32]);
        assert_eq!(unassigned.ownership(&acct), Ownership::NotReady);
        assert_eq!(v.ownership(&acct), Ownership::Mine);
        let far = AccountId::new(5, {
            let mut k = [0u8; 32];
            k[7] = 200;
            k
        });
        assert_eq!(v.ownership(&far), Ownership::Other(SwarmId(200)));
        assert_eq!(
            NetworkView::empty(key(1)).ownership(&acct),
            Ownership::NotReady
        );
    }

    #[test]
    fn sync_sources_follow_changes() {
        let empty = NetworkView::empty(key(1));
        let v1 = view(1, &[(1, 100), (2, 100), (3, 100)]);
        // First list: pull from the peers.
        assert_eq!(v1.sync_sources(&empty), vec![key(2), key(3)]);
        // Nothing changed for node 1.
        assert!(v1.sync_sources(&v1).is_empty());
        // A split: node 1 moves to a new swarm whose range it held already; nothing to pull.
        let v2 = view(1, &[(1, 1 << 63), (2, 100), (3, 100), (4, 1 << 63)]);
        assert!(v2.sync_sources(&v1).is_empty());
        // Swarm 2^62 dissolves: swarm 0's range grows, and node 1 pulls from its peer and
        // from node 5, which held part of the new range; nodes 3 and 4 held none of it.
        let q = 1u64 << 62;
        let before = view(1, &[(1, 0), (2, 0), (3, 2 * q), (4, 2 * q), (5, q)]);
        let after = view(1, &[(1, 0), (2, 0), (3, 2 * q), (4, 2 * q), (5, 2 * q)]);
        assert_eq!(after.sync_sources(&before), vec![key(2), key(5)]);
        // Node 5, now in swarm 2^63, did not hold that range: it pulls from its new peers
        // (nodes 1 and 2 held none of it).
        let from5 = NetworkView::new(key(5), after.list().clone());
        let was5 = NetworkView::new(key(5), before.list().clone());
        let mut s = from5.sync_sources(&was5);
        s.sort();
        let mut want = vec![key(3), key(4)];
        want.sort();
        assert_eq!(s, want);
    }

    #[test]
    fn containment() {
        let ids: SwarmIds = [100, 200, 300].into_iter().map(SwarmId).collect();
        let r = |s| ids.boundaries(SwarmId(s)).unwrap();
        let whole: SwarmIds = [5].into_iter().map(SwarmId).collect();
        let w = whole.boundaries(SwarmId(5)).unwrap();
        for s in [100, 200, 300] {
            assert!(range_within(&r(s), &w));
            assert!(!range_within(&w, &r(s)));
            assert!(range_within(&r(s), &r(s)));
        }
        assert!(!range_within(&r(100), &r(200)));
        // Swarm 100's range wraps through 0; a sub-range of it is within, a neighbour is not.
        let two: SwarmIds = [100, 300].into_iter().map(SwarmId).collect();
        assert!(range_within(
            &r(100),
            &two.boundaries(SwarmId(100)).unwrap()
        ));
        assert!(!range_within(
            &two.boundaries(SwarmId(100)).unwrap(),
            &r(100)
        ));
    }

    #[test]
    fn intersections() {
        let ids: SwarmIds = [100, 200, 300].into_iter().map(SwarmId).collect();
        let r = |s| ids.boundaries(SwarmId(s)).unwrap();
        assert!(!ranges_intersect(&r(100), &r(200)));
        assert!(ranges_intersect(&r(100), &r(100)));
        let whole: SwarmIds = [5].into_iter().map(SwarmId).collect();
        let w = whole.boundaries(SwarmId(5)).unwrap();
        assert!(ranges_intersect(&w, &r(300)) && ranges_intersect(&r(300), &w));
    }
}
