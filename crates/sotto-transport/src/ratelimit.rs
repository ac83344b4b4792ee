//! Token buckets by key (a client address, a subnet, a node key), with a cost per request and a
//! bounded table, on the [`governor`] crate's keyed limiter (GCRA, which behaves as a token bucket
//! of `burst` tokens refilled at `per_s` per second).
//!
//! # The bound
//!
//! A [`KeyedBuckets`] tracks at most `max` keys, so a flood of new addresses cannot grow memory
//! without limit. When a new key finds the table full:
//!
//! 1. The buckets that have refilled are dropped (governor's `retain_recent`). This loses
//!    nothing: a dropped key comes back with the full bucket it would have had anyway.
//! 2. If more than three quarters of the bound is still held (that many keys each spending
//!    tokens as fast as they refill, which for 10,000 keys at 300 per second is three million
//!    requests a second), the whole table is cleared: every key starts again with a full bucket
//!    (the new key keeps what it just spent).
//!
//! So a new key is never refused for lack of room, keys already tracked are never disturbed by
//! a sweep that does not clear, and a sweep (linear in the bound) is paid for by at least a
//! quarter of the bound of new keys: a flood costs a constant amount per request.
//! Under a flood of more busy keys than the bound the limit fails open by one burst per key and
//! clear, as the least-recently-used table this replaced did for each key it forgot.
//! When a sweep leaves the table at most a quarter full, its memory is given back
//! (`shrink_to_fit`).
//!
//! # Time
//!
//! Time is a parameter: microseconds on any monotonic clock, handed to governor through a
//! [`governor::clock::Clock`] that reads the time of the current call. Servers keep their own
//! clocks and tests never sleep. A clock that goes backwards never adds tokens. Times past
//! about 146 years (2^62 ns) count as that.
//!
//! `cargo xtask bench ratelimit` measures this table against the hand-written one it replaced
//! and against governor used directly, and reports the table size against the bound.

use std::fmt;
use std::hash::Hash;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use governor::clock::Clock;
use governor::middleware::NoOpMiddleware;
use governor::nanos::Nanos;
use governor::state::keyed::HashMapStateStore;
use governor::{Quota, RateLimiter};

/// The latest time the limiter sees, in nanoseconds. Far beyond any clock in use, and low
/// enough that governor's sums (time + burst × period) cannot overflow a `u64`.
const MAX_NANOS: u64 = 1 << 62;

/// The refill period, in nanoseconds per token times the burst, of a rate that never refills:
/// a token every 2^61 / burst ns (at least 17 years for any burst).
const NEVER_NANOS: u64 = 1 << 61;

/// A refill rate and a bucket size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    /// Tokens added per second (0: never refilled).
    pub per_s: u32,
    /// Tokens in a full bucket: the largest burst (0: nothing is ever allowed).
    pub burst: u32,
}

impl Rate {
    /// Governor's quota for this rate, or `None` when the burst is zero.
    fn quota(self) -> Option<Quota> {
        let burst = NonZeroU32::new(self.burst)?;
        let quota = match NonZeroU32::new(self.per_s) {
            Some(per_s) => Quota::per_second(per_s),
            None => {
                let period = NEVER_NANOS / u64::from(burst.get());
                Quota::with_period(Duration::from_nanos(period))
                    .unwrap_or_else(|| Quota::per_hour(NonZeroU32::MIN))
            }
        };
        Some(quota.allow_burst(burst))
    }
}

/// Governor's clock for a table whose time is given with each call.
#[derive(Debug, Default)]
struct CallTime(AtomicU64);

impl CallTime {
    fn at(now: u64) -> Self {
        Self(AtomicU64::new(now))
    }

    fn set(&self, now: u64) {
        self.0.store(now, Ordering::Relaxed);
    }
}

impl Clock for CallTime {
    type Instant = Nanos;

    fn now(&self) -> Nanos {
        Nanos::new(self.0.load(Ordering::Relaxed))
    }
}

type Limiter<K> = RateLimiter<K, HashMapStateStore<K>, CallTime, NoOpMiddleware<Nanos>>;

/// Token buckets keyed by `K`, at most `max` of them (see the module documentation for what
/// happens at the bound).
pub struct KeyedBuckets<K: Hash + Eq + Clone> {
    /// `None` when the burst is zero: nothing is allowed, nothing is tracked.
    limiter: Option<Limiter<K>>,
    quota: Option<Quota>,
    max: usize,
}

impl<K: Hash + Eq + Clone> fmt::Debug for KeyedBuckets<K> {
    /// The rate and the table's size, never its keys (client addresses).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyedBuckets")
            .field("quota", &self.quota)
            .field("tracked", &self.len())
            .field("max", &self.max)
            .finish()
    }
}

impl<K: Hash + Eq + Clone> KeyedBuckets<K> {
    /// Buckets refilled at `rate`, tracking at most `max` keys (at least one).
    #[must_use]
    pub fn new(rate: Rate, max: usize) -> Self {
        let quota = rate.quota();
        Self {
            limiter: quota.map(|q| RateLimiter::hashmap_with_clock(q, CallTime::default())),
            quota,
            max: max.max(1),
        }
    }

    /// Takes `tokens` tokens from `key`'s bucket at `now_us`: all of them, or none when fewer
    /// are left (false: refuse the request). A request that costs more than the burst is never
    /// allowed; one that costs nothing always is.
    pub fn try_take(&mut self, key: K, tokens: u32, now_us: u64) -> bool {
        let Some(tokens) = NonZeroU32::new(tokens) else {
            return true;
        };
        let (Some(limiter), Some(quota)) = (&self.limiter, self.quota) else {
            return false;
        };
        let now = now_us.saturating_mul(1000).min(MAX_NANOS);
        limiter.clock().set(now);
        let allowed = matches!(limiter.check_key_n(&key, tokens), Ok(Ok(())));
        if limiter.len() <= self.max {
            return allowed;
        }
        // `key` was new and the table was full: drop the refilled buckets, or everything when
        // that would leave less than a quarter of the bound free.
        limiter.retain_recent();
        let left = limiter.len();
        let quarter = self.max / 4;
        if left > self.max - quarter.max(1) {
            let fresh: Limiter<K> = RateLimiter::hashmap_with_clock(quota, CallTime::at(now));
            if allowed {
                // Remember what `key` just spent (a fresh bucket holds at least `tokens`).
                let _ = fresh.check_key_n(&key, tokens);
            }
            self.limiter = Some(fresh);
        } else if left <= quarter {
            limiter.shrink_to_fit();
        }
        allowed
    }

    /// How many keys are tracked.
    #[must_use]
    pub fn len(&self) -> usize {
        self.limiter.as_ref().map_or(0, RateLimiter::len)
    }

    /// Whether no key is tracked.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The most client addresses a [`PerAddress`] limiter tracks.
pub const MAX_TRACKED_ADDRESSES: usize = 65_536;

/// A server's per-address limit for its admission hook: one token per request, on its own
/// monotonic clock, shared between connections.
#[derive(Debug)]
pub struct PerAddress {
    buckets: Mutex<KeyedBuckets<IpAddr>>,
    started: Instant,
}

impl PerAddress {
    /// A limit of `rate` per client address, tracking at most [`MAX_TRACKED_ADDRESSES`].
    #[must_use]
    pub fn new(rate: Rate) -> Self {
        Self {
            buckets: Mutex::new(KeyedBuckets::new(rate, MAX_TRACKED_ADDRESSES)),
            started: Instant::now(),
        }
    }

    /// Takes a token for one request from `ip`; false: refuse it (429).
    pub fn allow(&self, ip: IpAddr) -> bool {
        let now_us = u64::try_from(self.started.elapsed().as_micros()).unwrap_or(u64::MAX);
        self.buckets
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .try_take(ip, 1, now_us)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MICROS: u64 = 1_000_000;

    const RATE: Rate = Rate {
        per_s: 300,
        burst: 600,
    };

    #[test]
    fn burst_then_refill() {
        let mut b = KeyedBuckets::new(RATE, 16);
        let t0 = 5_000_000;
        for _ in 0..RATE.burst {
            assert!(b.try_take(1, 1, t0));
        }
        assert!(!b.try_take(1, 1, t0));
        // Another key is unaffected.
        assert!(b.try_take(2, 1, t0));
        // 10 ms later: 3 tokens back at 300/s.
        let t1 = t0 + 10_000;
        for _ in 0..3 {
            assert!(b.try_take(1, 1, t1));
        }
        assert!(!b.try_take(1, 1, t1));
        // A clock going backwards never adds tokens.
        assert!(!b.try_take(1, 1, t0));
        // Never more than the burst, however long the pause.
        let t2 = t1 + 3_600 * MICROS;
        for _ in 0..RATE.burst {
            assert!(b.try_take(1, 1, t2));
        }
        assert!(!b.try_take(1, 1, t2));
    }

    #[test]
    fn a_cost_takes_all_its_tokens_or_none() {
        let mut b = KeyedBuckets::new(RATE, 16);
        let t0 = 1_000_000;
        assert!(b.try_take(3, RATE.burst - 10, t0));
        assert!(!b.try_take(3, 11, t0));
        assert!(b.try_take(3, 10, t0));
        assert!(!b.try_take(3, 1, t0));
        // More than a full bucket is never allowed.
        assert!(!b.try_take(4, RATE.burst + 1, t0));
        assert!(b.try_take(4, RATE.burst, t0));
    }

    #[test]
    fn multi_token_takes_refill_at_the_rate() {
        // 10 tokens, one back every 200 ms.
        let rate = Rate {
            per_s: 5,
            burst: 10,
        };
        let mut b = KeyedBuckets::new(rate, 16);
        let t0 = 7 * MICROS;
        assert!(b.try_take("k", 7, t0));
        assert!(!b.try_take("k", 4, t0), "only 3 left");
        // A refused take costs nothing: the 3 are still there.
        assert!(b.try_take("k", 3, t0));
        assert!(!b.try_take("k", 1, t0));
        // 199 ms: not yet a token; 200 ms: one; 800 ms: four.
        assert!(!b.try_take("k", 1, t0 + 199_999));
        assert!(b.try_take("k", 1, t0 + 200_000));
        assert!(!b.try_take("k", 5, t0 + 1_000_000));
        assert!(b.try_take("k", 4, t0 + 1_000_000));
        assert!(!b.try_take("k", 1, t0 + 1_000_000));
        // A long pause refills the burst and no more.
        let t1 = t0 + 3_600 * MICROS;
        assert!(!b.try_take("k", 11, t1));
        assert!(b.try_take("k", 10, t1));
        assert!(!b.try_take("k", 1, t1));
        // A take of nothing is always allowed.
        assert!(b.try_take("k", 0, t1));
        assert!(b.try_take("other", 0, t1));
    }

    #[test]
    fn a_flood_at_one_instant_keeps_the_bound_and_serves_everyone() {
        const MAX: usize = 10_000;
        let mut b = KeyedBuckets::new(RATE, MAX);
        let t0 = MICROS;
        let honest = u32::MAX;
        assert!(b.try_take(honest, 100, t0));
        // 100,000 new keys in the same microsecond: no bucket refills, so the sweeps drop
        // nothing and the table is cleared each time it fills.
        let mut biggest = 0;
        for key in 0..100_000 {
            assert!(b.try_take(key, 1, t0), "flood key {key} refused");
            biggest = biggest.max(b.len());
            if key % 1000 == 0 {
                assert!(b.try_take(honest, 1, t0), "honest key refused at {key}");
            }
        }
        assert!(biggest <= MAX, "{biggest} keys tracked");
        assert_eq!(biggest, MAX, "the table filled up");
        assert!(b.try_take(honest, 1, t0));
        assert!(b.len() <= MAX);
    }

    #[test]
    fn a_flood_over_time_keeps_the_bound_and_the_limits() {
        const MAX: usize = 10_000;
        let mut b = KeyedBuckets::new(RATE, MAX);
        let t0 = MICROS;
        let honest = u32::MAX;
        // The honest key spends its whole burst, then 100,000 new keys arrive 10 µs apart
        // (100,000 a second, one second in all).
        assert!(b.try_take(honest, RATE.burst, t0));
        assert!(!b.try_take(honest, 1, t0));
        let mut biggest = 0;
        let mut sweeps = 0;
        let mut now = t0;
        for key in 0..100_000 {
            now += 10;
            let before = b.len();
            assert!(b.try_take(key, 1, now), "flood key {key} refused");
            biggest = biggest.max(b.len());
            if b.len() < before {
                sweeps += 1;
            }
        }
        assert!(biggest <= MAX, "{biggest} keys tracked");
        assert!(sweeps >= 9, "{sweeps} sweeps");
        // Each sweep dropped only refilled buckets: the honest key's spent bucket was kept,
        // so after one second it has exactly 300 tokens, not a fresh 600.
        assert_eq!(now, t0 + MICROS);
        assert!(b.try_take(honest, 300, now));
        assert!(!b.try_take(honest, 1, now));
    }

    #[test]
    fn a_bound_of_one_holds() {
        let one = Rate { per_s: 1, burst: 1 };
        let mut b = KeyedBuckets::new(one, 0);
        assert!(b.try_take(1, 1, 0));
        assert!(!b.try_take(1, 1, 0));
        assert!(b.try_take(2, 1, 0));
        assert_eq!(b.len(), 1);
        for key in 100..1_100 {
            assert!(b.try_take(key, 1, 0));
            assert_eq!(b.len(), 1);
        }
    }

    #[test]
    fn odd_rates_and_extreme_times_never_panic() {
        // A zero burst allows nothing and tracks nothing.
        let mut none = KeyedBuckets::new(Rate { per_s: 5, burst: 0 }, 4);
        assert!(!none.try_take(1, 1, 0));
        assert!(none.is_empty());
        // A zero rate does not refill in ten years.
        let mut never = KeyedBuckets::new(Rate { per_s: 0, burst: 2 }, 4);
        assert!(never.try_take(1, 2, 0));
        assert!(!never.try_take(1, 1, 10 * 365 * 24 * 3_600 * MICROS));
        // The largest rates, costs and times.
        for rate in [
            Rate {
                per_s: u32::MAX,
                burst: u32::MAX,
            },
            Rate {
                per_s: 1,
                burst: u32::MAX,
            },
            Rate {
                per_s: 0,
                burst: u32::MAX,
            },
        ] {
            let mut b = KeyedBuckets::new(rate, 2);
            for now in [0, u64::MAX, u64::MAX / 1000, 0, u64::MAX] {
                for key in 0..4 {
                    b.try_take(key, u32::MAX, now);
                    b.try_take(key, 1, now);
                }
            }
            assert!(b.len() <= 2);
        }
        // A clock far in the future, then back: no tokens appear.
        let mut b = KeyedBuckets::new(RATE, 4);
        assert!(b.try_take(1, RATE.burst, u64::MAX));
        assert!(!b.try_take(1, 1, 0));
        assert!(!b.try_take(1, 1, u64::MAX));
    }

    #[test]
    fn debug_shows_no_keys() {
        let mut b = KeyedBuckets::new(RATE, 4);
        b.try_take("203.0.113.9", 1, 0);
        let text = format!("{b:?}");
        assert!(!text.contains("203.0.113.9"), "{text}");
        assert!(text.contains("tracked: 1"), "{text}");
    }
}
