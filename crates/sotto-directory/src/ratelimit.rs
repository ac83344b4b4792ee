//! Token buckets per client address and per client /24 (IPv6: /48), taken before the
//! directory reads a request's body. The table is bounded: when it is full, the bucket used
//! least recently is dropped (a dropped address comes back with a full bucket). Time is a
//! parameter (milliseconds on any monotonic clock).

use std::collections::{BTreeSet, HashMap};
use std::net::IpAddr;

use crate::config::{Rate, Rates};

/// The most addresses (and, separately, subnets) tracked at once.
pub const MAX_TRACKED: usize = 65_536;

/// One bucket, in thousandths of a token so that refills at any rate stay exact per ms.
#[derive(Debug, Clone, Copy)]
struct Bucket {
    milli_tokens: u64,
    last_ms: u64,
}

impl Bucket {
    fn take(&mut self, now_ms: u64, rate: Rate) -> bool {
        let full = u64::from(rate.burst) * 1000;
        let elapsed = now_ms.saturating_sub(self.last_ms);
        self.milli_tokens = self
            .milli_tokens
            .saturating_add(elapsed.saturating_mul(u64::from(rate.per_s)))
            .min(full);
        self.last_ms = self.last_ms.max(now_ms);
        if self.milli_tokens >= 1000 {
            self.milli_tokens -= 1000;
            true
        } else {
            false
        }
    }
}

/// Buckets keyed by `K`, evicting the least recently used beyond `max`.
#[derive(Debug)]
struct Table<K> {
    buckets: HashMap<K, (Bucket, u64)>,
    /// (last use sequence number, key), oldest first.
    order: BTreeSet<(u64, K)>,
    seq: u64,
    rate: Rate,
    max: usize,
}

impl<K: Copy + Ord + core::hash::Hash> Table<K> {
    fn new(rate: Rate, max: usize) -> Self {
        Self {
            buckets: HashMap::new(),
            order: BTreeSet::new(),
            seq: 0,
            rate,
            max: max.max(1),
        }
    }

    fn take(&mut self, key: K, now_ms: u64) -> bool {
        self.seq = self.seq.wrapping_add(1);
        let seq = self.seq;
        let (mut bucket, old_seq) = match self.buckets.get(&key) {
            Some(&(bucket, old)) => (bucket, Some(old)),
            None => {
                while self.buckets.len() >= self.max {
                    let Some((_, oldest)) = self.order.pop_first() else {
                        break;
                    };
                    self.buckets.remove(&oldest);
                }
                let full = Bucket {
                    milli_tokens: u64::from(self.rate.burst) * 1000,
                    last_ms: now_ms,
                };
                (full, None)
            }
        };
        if let Some(old) = old_seq {
            self.order.remove(&(old, key));
        }
        let allowed = bucket.take(now_ms, self.rate);
        self.buckets.insert(key, (bucket, seq));
        self.order.insert((seq, key));
        allowed
    }
}

/// The per-address and per-subnet limits of one directory.
#[derive(Debug)]
pub struct RateLimiter {
    per_ip: Table<IpAddr>,
    per_subnet: Table<IpAddr>,
}

impl RateLimiter {
    /// Limits at `rates`, tracking at most `max` addresses and `max` subnets.
    #[must_use]
    pub fn new(rates: Rates, max: usize) -> Self {
        Self {
            per_ip: Table::new(rates.per_ip, max),
            per_subnet: Table::new(rates.per_subnet, max),
        }
    }

    /// Takes a token for one request from `ip` at `now_ms`; false: refuse it (429).
    pub fn allow(&mut self, ip: IpAddr, now_ms: u64) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
            v4 @ IpAddr::V4(_) => v4,
        };
        // Both buckets are charged, so that a refused address still counts against its subnet.
        let by_ip = self.per_ip.take(ip, now_ms);
        let by_subnet = self.per_subnet.take(subnet(ip), now_ms);
        by_ip && by_subnet
    }
}

/// The /24 (IPv4) or /48 (IPv6) that holds `ip`.
fn subnet(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, c, _] = v4.octets();
            IpAddr::from([a, b, c, 0])
        }
        IpAddr::V6(v6) => {
            let s = v6.segments();
            let [a, b, c, ..] = s;
            IpAddr::from([a, b, c, 0, 0, 0, 0, 0])
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rates(ip: (u32, u32), subnet: (u32, u32)) -> Rates {
        Rates {
            per_ip: Rate {
                per_s: ip.0,
                burst: ip.1,
            },
            per_subnet: Rate {
                per_s: subnet.0,
                burst: subnet.1,
            },
        }
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn burst_then_refill_per_address() {
        let mut l = RateLimiter::new(rates((2, 3), (1000, 1000)), 16);
        for _ in 0..3 {
            assert!(l.allow(ip("10.0.0.1"), 0));
        }
        assert!(!l.allow(ip("10.0.0.1"), 0));
        // Another address is unaffected.
        assert!(l.allow(ip("10.0.0.2"), 0));
        // 2 per second: one token after 500 ms.
        assert!(!l.allow(ip("10.0.0.1"), 499));
        assert!(l.allow(ip("10.0.0.1"), 500));
        assert!(!l.allow(ip("10.0.0.1"), 500));
        // Never more than the burst, however long the pause.
        for _ in 0..3 {
            assert!(l.allow(ip("10.0.0.1"), 100_000));
        }
        assert!(!l.allow(ip("10.0.0.1"), 100_000));
    }

    #[test]
    fn a_subnet_shares_one_bucket() {
        let mut l = RateLimiter::new(rates((100, 100), (1, 4)), 16);
        for host in 1..=4 {
            assert!(l.allow(ip(&format!("10.0.0.{host}")), 0));
        }
        assert!(!l.allow(ip("10.0.0.5"), 0));
        assert!(l.allow(ip("10.0.1.5"), 0));
        assert!(!l.allow(ip("::ffff:10.0.0.6"), 0));
    }

    #[test]
    fn the_table_evicts_the_least_recently_used() {
        let mut l = RateLimiter::new(rates((1, 1), (1000, 1000)), 2);
        assert!(l.allow(ip("10.0.0.1"), 0));
        assert!(l.allow(ip("10.0.1.1"), 0));
        assert!(!l.allow(ip("10.0.0.1"), 0)); // .0.1 is now the most recent
        // A third address evicts 10.0.1.1, not 10.0.0.1, whose bucket stays empty.
        assert!(l.allow(ip("10.0.2.1"), 0));
        assert!(!l.allow(ip("10.0.0.1"), 0));
        assert_eq!(l.per_ip.buckets.len(), 2);
        assert_eq!(l.per_ip.order.len(), 2);
        // A new address is never refused for lack of room.
        for n in 0..100u8 {
            assert!(l.allow(IpAddr::from([10, 1, n, 1]), 0));
        }
        assert_eq!(l.per_ip.buckets.len(), 2);
    }
}
