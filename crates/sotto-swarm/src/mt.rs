//! The 64-bit Mersenne Twister (`std::mt19937_64`) and oxend's portable uniform draw.

use core::fmt;
use core::num::NonZeroU64;

const N: usize = 312;
const M: usize = 156;
const MATRIX_A: u64 = 0xB502_6F5A_A966_19E9;
const UPPER_MASK: u64 = 0xFFFF_FFFF_8000_0000;
const LOWER_MASK: u64 = 0x7FFF_FFFF;
const INIT_MULTIPLIER: u64 = 6_364_136_223_846_793_005;

/// MT19937-64, output for output the same as C++'s `std::mt19937_64` for the same seed.
///
/// Not a cryptographic generator: it is here because oxend's swarm assignment is defined in
/// terms of it, and every node must draw the same numbers from the same seed.
#[derive(Clone)]
pub struct Mt19937_64 {
    state: [u64; N],
    next: usize,
}

impl Mt19937_64 {
    /// The seed `std::mt19937_64` uses when given none.
    pub const DEFAULT_SEED: u64 = 5489;

    /// A generator seeded like `std::mt19937_64{seed}`.
    #[must_use]
    pub fn new(seed: u64) -> Self {
        let mut state = [0u64; N];
        let mut prev = seed;
        for (i, word) in (0u64..).zip(state.iter_mut()) {
            if i > 0 {
                prev = INIT_MULTIPLIER
                    .wrapping_mul(prev ^ (prev >> 62))
                    .wrapping_add(i);
            }
            *word = prev;
        }
        Self { state, next: N }
    }

    /// The next 64-bit output.
    pub fn next_u64(&mut self) -> u64 {
        if self.next >= N {
            self.twist();
        }
        let mut y = self.state.get(self.next).copied().unwrap_or_default();
        self.next += 1;
        y ^= (y >> 29) & 0x5555_5555_5555_5555;
        y ^= (y << 17) & 0x71D6_7FFF_EDA6_0000;
        y ^= (y << 37) & 0xFFF7_EEE0_0000_0000;
        y ^ (y >> 43)
    }

    /// oxend's `uniform_distribution_portable`: a draw in `0..n` that is the same on every
    /// platform. Outputs at or above the largest multiple of `n` that fits below 2⁶⁴ − 1 are
    /// rejected; an accepted `x` gives `x / ((2⁶⁴ − 1 − (2⁶⁴ − 1) mod n) / n)`.
    pub fn uniform(&mut self, n: NonZeroU64) -> u64 {
        let n = n.get();
        let secure_max = u64::MAX - u64::MAX % n;
        loop {
            let x = self.next_u64();
            if x < secure_max {
                return x / (secure_max / n);
            }
        }
    }

    fn twist(&mut self) {
        for i in 0..N {
            let word = |j: usize| self.state.get(j % N).copied().unwrap_or_default();
            let x = (word(i) & UPPER_MASK) | (word(i + 1) & LOWER_MASK);
            let mut x_a = x >> 1;
            if x & 1 == 1 {
                x_a ^= MATRIX_A;
            }
            let value = word(i + M) ^ x_a;
            if let Some(slot) = self.state.get_mut(i) {
                *slot = value;
            }
        }
        self.next = 0;
    }
}

impl Default for Mt19937_64 {
    fn default() -> Self {
        Self::new(Self::DEFAULT_SEED)
    }
}

impl fmt::Debug for Mt19937_64 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Mt19937_64")
            .field("next", &self.next)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nz(n: u64) -> NonZeroU64 {
        NonZeroU64::new(n).unwrap()
    }

    #[test]
    fn reference_outputs_for_the_default_seed() {
        let mut mt = Mt19937_64::default();
        let first: Vec<u64> = (0..5).map(|_| mt.next_u64()).collect();
        assert_eq!(
            first,
            [
                14_514_284_786_278_117_030,
                4_620_546_740_167_642_908,
                13_109_570_281_517_897_720,
                17_462_938_647_148_434_322,
                355_488_278_567_739_596,
            ]
        );
        // The C++ standard's check ([rand.predef]): the 10000th output of a default-constructed
        // std::mt19937_64.
        let mut mt = Mt19937_64::default();
        let tenth_thousand = (0..10_000).map(|_| mt.next_u64()).last();
        assert_eq!(tenth_thousand, Some(9_981_545_732_273_789_042));
    }

    #[test]
    fn other_seeds() {
        // std::mt19937_64{0} and {12345}, first outputs (libstdc++).
        assert_eq!(Mt19937_64::new(0).next_u64(), 2_947_667_278_772_165_694);
        assert_eq!(Mt19937_64::new(12345).next_u64(), 6_597_103_971_274_460_346);
    }

    #[test]
    fn uniform_stays_in_range() {
        let mut mt = Mt19937_64::new(42);
        assert_eq!(mt.uniform(nz(1)), 0);
        for n in [2, 3, 7, 1000, u64::MAX - 1, u64::MAX] {
            for _ in 0..50 {
                assert!(mt.uniform(nz(n)) < n);
            }
        }
        // u64::MAX is itself a multiple of MAX, so the only rejected output is 2^64 − 1.
        let mut a = Mt19937_64::new(7);
        let mut b = Mt19937_64::new(7);
        assert_eq!(a.uniform(nz(u64::MAX)), b.next_u64());
    }
}
