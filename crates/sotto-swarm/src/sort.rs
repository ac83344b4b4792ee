//! An unstable sort that leaves equal elements in the order GNU libstdc++'s `std::sort` leaves
//! them.
//!
//! oxend sorts swarms by size with `std::sort` and then draws a random index into the result, so
//! the order of swarms of equal size decides which swarm a node joins. oxend is built with GCC
//! and libstdc++, whose `std::sort` is an introsort: median-of-three quicksort on ranges longer
//! than 16 elements (with a heap sort once the recursion gets deeper than 2·⌊log₂ n⌋), then one
//! insertion sort over the whole range. This module follows the same steps, so it moves the same
//! elements to the same places.
//!
//! Reads and writes go through `get`/`get_mut` and every loop is bounded by the slice, so a
//! mistake here would give a wrong order, never a panic or an endless loop.

const INSERTION_THRESHOLD: usize = 16;

/// Sorts `v` by `less` exactly as libstdc++'s `std::sort(v.begin(), v.end(), less)` would.
pub(crate) fn sort_like_libstdcxx<T: Copy + Default>(v: &mut [T], less: impl Fn(&T, &T) -> bool) {
    let len = v.len();
    if len < 2 {
        return;
    }
    let floor_log2 = (usize::BITS - 1 - len.leading_zeros()) as usize;
    introsort(v, less, 2 * floor_log2);
}

/// libstdc++'s `std::__introsort_loop` with the given depth limit, then
/// `std::__final_insertion_sort`.
fn introsort<T: Copy + Default>(v: &mut [T], less: impl Fn(&T, &T) -> bool, depth: usize) {
    let len = v.len();
    let mut s = Sorter { v, less };
    s.introsort_loop(0, len, depth);
    s.final_insertion_sort(len);
}

struct Sorter<'a, T, F> {
    v: &'a mut [T],
    less: F,
}

impl<T: Copy + Default, F: Fn(&T, &T) -> bool> Sorter<'_, T, F> {
    fn at(&self, i: usize) -> T {
        self.v.get(i).copied().unwrap_or_default()
    }

    fn put(&mut self, i: usize, value: T) {
        if let Some(slot) = self.v.get_mut(i) {
            *slot = value;
        }
    }

    fn lt(&self, a: usize, b: usize) -> bool {
        (self.less)(&self.at(a), &self.at(b))
    }

    fn swap(&mut self, a: usize, b: usize) {
        if a < self.v.len() && b < self.v.len() {
            self.v.swap(a, b);
        }
    }

    fn introsort_loop(&mut self, first: usize, mut last: usize, mut depth: usize) {
        while last - first > INSERTION_THRESHOLD {
            if depth == 0 {
                self.heap_sort(first, last);
                return;
            }
            depth -= 1;
            let cut = self.partition_around_median(first, last);
            self.introsort_loop(cut, last, depth);
            last = cut;
        }
    }

    /// Moves the median of `v[first+1]`, `v[mid]`, `v[last-1]` to `first`, then partitions
    /// `first+1..last` around it (Hoare style); returns where the right part starts.
    fn partition_around_median(&mut self, first: usize, last: usize) -> usize {
        let (a, b, c) = (first + 1, first + (last - first) / 2, last - 1);
        let median = if self.lt(a, b) {
            if self.lt(b, c) {
                b
            } else if self.lt(a, c) {
                c
            } else {
                a
            }
        } else if self.lt(a, c) {
            a
        } else if self.lt(b, c) {
            c
        } else {
            b
        };
        self.swap(first, median);

        let pivot = first;
        let (mut lo, mut hi) = (first + 1, last);
        loop {
            while lo < last && self.lt(lo, pivot) {
                lo += 1;
            }
            hi -= 1;
            while hi > first && self.lt(pivot, hi) {
                hi -= 1;
            }
            if lo >= hi {
                return lo;
            }
            self.swap(lo, hi);
            lo += 1;
        }
    }

    fn final_insertion_sort(&mut self, len: usize) {
        if len > INSERTION_THRESHOLD {
            self.insertion_sort(INSERTION_THRESHOLD);
            for i in INSERTION_THRESHOLD..len {
                self.linear_insert(i);
            }
        } else {
            self.insertion_sort(len);
        }
    }

    /// Insertion sort of `0..last`: an element smaller than the first goes straight to the front.
    fn insertion_sort(&mut self, last: usize) {
        for i in 1..last {
            if self.lt(i, 0) {
                if let Some(run) = self.v.get_mut(..=i) {
                    run.rotate_right(1);
                }
            } else {
                self.linear_insert(i);
            }
        }
    }

    /// Moves `v[i]` left past every element greater than it.
    fn linear_insert(&mut self, mut i: usize) {
        let value = self.at(i);
        while let Some(prev) = i.checked_sub(1) {
            let before = self.at(prev);
            if !(self.less)(&value, &before) {
                break;
            }
            self.put(i, before);
            i = prev;
        }
        self.put(i, value);
    }

    /// Heap sort of `first..last` the libstdc++ way: build a max-heap bottom-up, then pop.
    fn heap_sort(&mut self, first: usize, last: usize) {
        let len = last - first;
        if len >= 2 {
            let mut parent = (len - 2) / 2;
            loop {
                let value = self.at(first + parent);
                self.adjust_heap(first, parent, len, value);
                if parent == 0 {
                    break;
                }
                parent -= 1;
            }
        }
        let mut end = last;
        while end - first > 1 {
            end -= 1;
            let value = self.at(end);
            let top = self.at(first);
            self.put(end, top);
            self.adjust_heap(first, 0, end - first, value);
        }
    }

    /// Sifts the hole at `hole` down to a leaf along the larger children, then pushes `value`
    /// back up from there.
    fn adjust_heap(&mut self, base: usize, mut hole: usize, len: usize, value: T) {
        let top = hole;
        let mut child = hole;
        while child < (len - 1) / 2 {
            child = 2 * (child + 1);
            if self.lt(base + child, base + child - 1) {
                child -= 1;
            }
            let moved = self.at(base + child);
            self.put(base + hole, moved);
            hole = child;
        }
        if len & 1 == 0 && child == (len - 2) / 2 {
            child = 2 * (child + 1);
            let moved = self.at(base + child - 1);
            self.put(base + hole, moved);
            hole = child - 1;
        }
        while hole > top {
            let parent = (hole - 1) / 2;
            let above = self.at(base + parent);
            if !(self.less)(&above, &value) {
                break;
            }
            self.put(base + hole, above);
            hole = parent;
        }
        self.put(base + hole, value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (key, tag): sorted by key only, so the tags show where equal keys end up.
    type Item = (u8, u16);

    fn sorted(items: &[Item]) -> Vec<Item> {
        let mut v = items.to_vec();
        sort_like_libstdcxx(&mut v, |a, b| a.0 < b.0);
        v
    }

    #[test]
    fn sorts_by_key() {
        for len in 0..200u16 {
            let items: Vec<Item> = (0..len).map(|i| (((i * 37) % 11) as u8, i)).collect();
            let v = sorted(&items);
            assert!(v.windows(2).all(|w| w[0].0 <= w[1].0), "len {len}");
            let mut tags: Vec<u16> = v.iter().map(|x| x.1).collect();
            tags.sort_unstable();
            assert_eq!(tags, (0..len).collect::<Vec<_>>());
        }
    }

    /// Where libstdc++ puts equal keys, with its normal depth limit (`None`) and with small ones
    /// that force the heap-sort fallback. Expected values: FNV-1a-64 of the tag order after
    /// sorting the same arrays with GCC 12's `std::sort`, or its `std::__introsort_loop` with the
    /// depth given and then `std::__final_insertion_sort`.
    #[test]
    fn same_order_as_libstdcxx() {
        const CASES: [(usize, u64, Option<usize>, u64); 48] = [
            (17, 2, None, 0xfbaca925994871d5),
            (17, 2, Some(0), 0x9c42acf3acf45215),
            (17, 2, Some(1), 0xfab2a749c9a65e75),
            (17, 2, Some(3), 0xd9d65066a7093215),
            (17, 5, None, 0x577da7004bd921b5),
            (17, 5, Some(0), 0xcd210cf3344b2555),
            (17, 5, Some(1), 0x5aec840767222c55),
            (17, 5, Some(3), 0x7dd9cf76751fb4d5),
            (17, 1000, None, 0xf25c962376775db5),
            (17, 1000, Some(0), 0x08d6eb9a7f023f35),
            (17, 1000, Some(1), 0xa2991b0e0f6b1eb5),
            (17, 1000, Some(3), 0xaf2dc0f89b077c75),
            (33, 2, None, 0x606ea6720d8a2405),
            (33, 2, Some(0), 0x096f9b5f58792485),
            (33, 2, Some(1), 0x499e4f624641e7c5),
            (33, 2, Some(3), 0xb21e8394bb5af365),
            (33, 5, None, 0x1e062320154ffd05),
            (33, 5, Some(0), 0xe21edf401e980fa5),
            (33, 5, Some(1), 0x8b6d64b37097b9e5),
            (33, 5, Some(3), 0x44be75d2b0ad7985),
            (33, 1000, None, 0x5ce58b2ce99baca5),
            (33, 1000, Some(0), 0x7cb820ada911f765),
            (33, 1000, Some(1), 0x9029c2decc8562e5),
            (33, 1000, Some(3), 0x65762a22cfb88cc5),
            (100, 2, None, 0xbfcc3812b64e3205),
            (100, 2, Some(0), 0xbe5d0ed1ccc3c285),
            (100, 2, Some(1), 0xfd2ff2d5d5546f45),
            (100, 2, Some(3), 0x57dbdefcea2af165),
            (100, 5, None, 0xdd5ccf9e1e9568e5),
            (100, 5, Some(0), 0xc7270c342fe1cf05),
            (100, 5, Some(1), 0xda856e41a8531565),
            (100, 5, Some(3), 0x1787e67b8187df65),
            (100, 1000, None, 0xc25faae016de2de5),
            (100, 1000, Some(0), 0x2ee1163d40bffac5),
            (100, 1000, Some(1), 0xa1e8ac2f8fa34fa5),
            (100, 1000, Some(3), 0xf28a27ff8c42eba5),
            (257, 2, None, 0x78c0dc1b6876ecc2),
            (257, 2, Some(0), 0xa5c4947617171182),
            (257, 2, Some(1), 0x7b5661ab7f36e96e),
            (257, 2, Some(3), 0x9fb117b047d4217a),
            (257, 5, None, 0x10cc24963b3dd442),
            (257, 5, Some(0), 0xa2283540cf50c5fe),
            (257, 5, Some(1), 0x577330daa30478e2),
            (257, 5, Some(3), 0xcb00ad86eb1d7b0a),
            (257, 1000, None, 0x5bcf32b63df587ca),
            (257, 1000, Some(0), 0xf86505540e714682),
            (257, 1000, Some(1), 0xa468b47ecef9cd62),
            (257, 1000, Some(3), 0xbc30ca9d1548f6a2),
        ];
        let mut mt = crate::Mt19937_64::new(99);
        for (len, keys, depth, want) in CASES {
            let mut v: Vec<(u64, u64)> =
                (0..len as u64).map(|i| (mt.next_u64() % keys, i)).collect();
            let less = |a: &(u64, u64), b: &(u64, u64)| a.0 < b.0;
            match depth {
                None => sort_like_libstdcxx(&mut v, less),
                Some(d) => introsort(&mut v, less, d),
            }
            let mut h: u64 = 0xcbf29ce484222325;
            for (_, tag) in &v {
                for byte in tag.to_le_bytes() {
                    h = (h ^ u64::from(byte)).wrapping_mul(0x100000001b3);
                }
            }
            assert_eq!(h, want, "len {len}, keys {keys}, depth {depth:?}");
        }
    }

    #[test]
    fn short_ranges_are_stable() {
        // Up to 16 elements libstdc++ only runs insertion sort, which is stable.
        let items: Vec<Item> = (0..16u16).map(|i| ((i % 3) as u8, i)).collect();
        let v = sorted(&items);
        for w in v.windows(2) {
            assert!(w[0].0 < w[1].0 || w[0].1 < w[1].1);
        }
    }
}
