//! Sets of swarm ids: which swarm owns a position, each swarm's range, and new ids.

use crate::{MAX_ID, SwarmError, SwarmId, swarm_space};

/// The ids of the swarms that exist, sorted and without duplicates. [`crate::INVALID_SWARM_ID`]
/// is never a member: adding it does nothing.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct SwarmIds(Vec<SwarmId>);

impl SwarmIds {
    /// No swarms.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// The number of swarms.
    #[must_use]
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are no swarms.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The ids in ascending order.
    #[must_use]
    pub fn as_slice(&self) -> &[SwarmId] {
        &self.0
    }

    /// Whether `id` is one of the swarms.
    #[must_use]
    pub fn contains(&self, id: SwarmId) -> bool {
        self.0.binary_search(&id).is_ok()
    }

    /// Adds a swarm; false if it was already there or is the invalid id.
    pub fn insert(&mut self, id: SwarmId) -> bool {
        if !id.is_valid() {
            return false;
        }
        match self.0.binary_search(&id) {
            Ok(_) => false,
            Err(at) => {
                self.0.insert(at, id);
                true
            }
        }
    }

    /// Removes a swarm; false if it was not there.
    pub fn remove(&mut self, id: SwarmId) -> bool {
        match self.0.binary_search(&id) {
            Ok(at) => {
                self.0.remove(at);
                true
            }
            Err(_) => false,
        }
    }

    /// The swarm responsible for swarm-space position `space`: the nearest id going either way
    /// round the circle, the lower (circular predecessor) one on a tie.
    pub fn pick(&self, space: u64) -> Result<SwarmId, SwarmError> {
        let (first, last) = match (self.0.first(), self.0.last()) {
            (Some(&first), Some(&last)) => (first, last),
            _ => return Err(SwarmError::NoSwarms),
        };
        if self.0.len() == 1 {
            return Ok(first);
        }
        let at = self.0.partition_point(|id| id.0 < space);
        let right = self.0.get(at).copied().unwrap_or(first);
        let left = at
            .checked_sub(1)
            .and_then(|i| self.0.get(i).copied())
            .unwrap_or(last);
        let to_right = right.0.wrapping_sub(space);
        let to_left = space.wrapping_sub(left.0);
        Ok(if to_right < to_left { right } else { left })
    }

    /// The swarm responsible for an account's 32-byte key (the key without its prefix byte).
    pub fn pick_for_key(&self, key: &[u8; 32]) -> Result<SwarmId, SwarmError> {
        self.pick(swarm_space(key))
    }

    /// The part of the swarm space that swarm `id` owns, halfway to each circular neighbour.
    /// Consistent with [`pick`](Self::pick): `boundaries(s)?.contains(x)` exactly when
    /// `pick(x)? == s`.
    pub fn boundaries(&self, id: SwarmId) -> Result<SwarmRange, SwarmError> {
        let at = self
            .0
            .binary_search(&id)
            .map_err(|_| SwarmError::UnknownSwarm { id })?;
        let (first, last) = match (self.0.first(), self.0.last()) {
            (Some(&first), Some(&last)) => (first, last),
            _ => return Err(SwarmError::NoSwarms),
        };
        let left = at
            .checked_sub(1)
            .and_then(|i| self.0.get(i).copied())
            .unwrap_or(last);
        let right = self.0.get(at + 1).copied().unwrap_or(first);
        let s = id.0;
        let from_left = s.wrapping_sub(left.0);
        let to_right = right.0.wrapping_sub(s);
        Ok(SwarmRange {
            lower_exclusive: s.wrapping_sub(from_left.div_ceil(2)),
            upper_inclusive: s.wrapping_add(to_right / 2),
        })
    }

    /// oxend's `get_new_swarm_id`: the middle of the widest gap between neighbouring ids (the
    /// first one on a tie; the gap that wraps past [`MAX_ID`] only if strictly wider), computed
    /// modulo `MAX_ID + 1`. With no swarms, 0.
    #[must_use]
    pub fn new_swarm_id(&self) -> SwarmId {
        new_swarm_id(&self.0)
    }
}

impl FromIterator<SwarmId> for SwarmIds {
    fn from_iter<I: IntoIterator<Item = SwarmId>>(ids: I) -> Self {
        let mut all: Vec<SwarmId> = ids.into_iter().filter(|id| id.is_valid()).collect();
        all.sort_unstable();
        all.dedup();
        Self(all)
    }
}

impl<'a> IntoIterator for &'a SwarmIds {
    type Item = &'a SwarmId;
    type IntoIter = core::slice::Iter<'a, SwarmId>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

/// `get_new_swarm_id` over ids sorted ascending, all valid and distinct.
pub(crate) fn new_swarm_id(sorted: &[SwarmId]) -> SwarmId {
    let (Some(first), Some(last)) = (sorted.first(), sorted.last()) else {
        return SwarmId(0);
    };
    let mut widest = 0u64;
    let mut start = *first;
    for pair in sorted.windows(2) {
        if let [a, b] = pair {
            let gap = b.0.wrapping_sub(a.0);
            if gap > widest {
                widest = gap;
                start = *a;
            }
        }
    }
    // 0 and MAX_ID count as one apart.
    let wrap_gap = (MAX_ID.0 - last.0.min(MAX_ID.0))
        .wrapping_add(first.0)
        .wrapping_add(1);
    if wrap_gap > widest {
        widest = wrap_gap;
        start = *last;
    }
    let half = widest / 2;
    let room = MAX_ID.0 - start.0.min(MAX_ID.0);
    if half > room {
        SwarmId(half - room - 1)
    } else {
        SwarmId(start.0 + half)
    }
}

/// A part of the swarm space: `(lower_exclusive, upper_inclusive]`, wrapping through 2⁶⁴ − 1
/// when `lower_exclusive > upper_inclusive`; the whole space when the two are equal (a single
/// swarm).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SwarmRange {
    lower_exclusive: u64,
    upper_inclusive: u64,
}

impl SwarmRange {
    /// The position just below the range.
    #[must_use]
    pub fn lower_exclusive(&self) -> u64 {
        self.lower_exclusive
    }

    /// The last position in the range.
    #[must_use]
    pub fn upper_inclusive(&self) -> u64 {
        self.upper_inclusive
    }

    /// Whether the range is the whole swarm space.
    #[must_use]
    pub fn is_whole_space(&self) -> bool {
        self.lower_exclusive == self.upper_inclusive
    }

    /// Whether position `space` is in the range.
    #[must_use]
    pub fn contains(&self, space: u64) -> bool {
        let (lo, hi) = (self.lower_exclusive, self.upper_inclusive);
        match lo.cmp(&hi) {
            core::cmp::Ordering::Equal => true,
            core::cmp::Ordering::Less => lo < space && space <= hi,
            core::cmp::Ordering::Greater => space > lo || space <= hi,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::INVALID_SWARM_ID;

    fn ids(v: &[u64]) -> SwarmIds {
        v.iter().copied().map(SwarmId).collect()
    }

    #[test]
    fn set_is_sorted_unique_and_never_invalid() {
        let mut s = ids(&[5, 1, 5, u64::MAX, 3]);
        assert_eq!(s.as_slice(), &[SwarmId(1), SwarmId(3), SwarmId(5)]);
        assert!(!s.insert(INVALID_SWARM_ID));
        assert!(!s.insert(SwarmId(3)));
        assert!(s.insert(SwarmId(4)));
        assert!(s.remove(SwarmId(1)));
        assert!(!s.remove(SwarmId(1)));
        assert_eq!(s.len(), 3);
    }

    #[test]
    fn pick_edges() {
        assert_eq!(SwarmIds::new().pick(7), Err(SwarmError::NoSwarms));
        assert_eq!(ids(&[42]).pick(u64::MAX), Ok(SwarmId(42)));
        let s = ids(&[100, 200]);
        assert_eq!(s.pick(150), Ok(SwarmId(100)));
        assert_eq!(s.pick(151), Ok(SwarmId(200)));
        // Around the wrap: 200 → 100 is 2^64 − 100 long; its middle is a tie going to 200.
        let mid = 200u64.wrapping_add((u64::MAX - 100).div_ceil(2));
        assert_eq!(s.pick(mid), Ok(SwarmId(200)));
        assert_eq!(s.pick(mid + 1), Ok(SwarmId(100)));
    }

    #[test]
    fn boundaries_edges() {
        let single = ids(&[9]).boundaries(SwarmId(9)).unwrap();
        assert!(single.is_whole_space());
        assert!(single.contains(0) && single.contains(u64::MAX));
        assert_eq!(
            ids(&[1, 2]).boundaries(SwarmId(3)),
            Err(SwarmError::UnknownSwarm { id: SwarmId(3) })
        );
        let two = ids(&[0, 1 << 63]);
        let r0 = two.boundaries(SwarmId(0)).unwrap();
        assert!(r0.contains(0) && r0.contains(1 << 62) && !r0.contains((1 << 62) + 1));
        assert!(r0.contains(u64::MAX) && r0.contains((1 << 63) + (1 << 62) + 1));
        assert!(!r0.contains((1 << 63) + (1 << 62)));
    }

    #[test]
    fn new_ids() {
        assert_eq!(new_swarm_id(&[]), SwarmId(0));
        assert_eq!(ids(&[0]).new_swarm_id(), SwarmId(MAX_ID.0 / 2));
        // The wrap gap is taken only when strictly wider.
        assert_eq!(ids(&[0, 10, 20]).new_swarm_id(), SwarmId(MAX_ID.0 / 2 + 10));
        let third = 0x5555_5555_5555_5555;
        assert_eq!(
            ids(&[0, third, 2 * third]).new_swarm_id(),
            SwarmId(third / 2)
        );
        assert_eq!(ids(&[MAX_ID.0]).new_swarm_id(), SwarmId(MAX_ID.0 / 2 - 1));
    }
}
