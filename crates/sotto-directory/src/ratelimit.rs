//! Token buckets per client address and per client /24 (IPv6: /48), taken before the
//! directory reads a request's body. Each table is bounded (see
//! [`sotto_transport::ratelimit::KeyedBuckets`]). Time is a parameter (microseconds on any
//! monotonic clock).

use std::net::IpAddr;

use sotto_transport::ratelimit::KeyedBuckets;

use crate::config::Rates;

/// The most addresses (and, separately, subnets) tracked at once.
pub const MAX_TRACKED: usize = 65_536;

/// The per-address and per-subnet limits of one directory.
#[derive(Debug)]
pub struct RateLimiter {
    per_ip: KeyedBuckets<IpAddr>,
    per_subnet: KeyedBuckets<IpAddr>,
}

impl RateLimiter {
    /// Limits at `rates`, tracking at most `max` addresses and `max` subnets.
    #[must_use]
    pub fn new(rates: Rates, max: usize) -> Self {
        Self {
            per_ip: KeyedBuckets::new(rates.per_ip, max),
            per_subnet: KeyedBuckets::new(rates.per_subnet, max),
        }
    }

    /// Takes a token for one request from `ip` at `now_us`; false: refuse it (429).
    pub fn allow(&mut self, ip: IpAddr, now_us: u64) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
            v4 @ IpAddr::V4(_) => v4,
        };
        // Both buckets are charged, so that a refused address still counts against its subnet.
        let by_ip = self.per_ip.try_take(ip, 1, now_us);
        let by_subnet = self.per_subnet.try_take(subnet(ip), 1, now_us);
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
    use crate::config::Rate;

    const MS: u64 = 1000;

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
        assert!(!l.allow(ip("10.0.0.1"), 499 * MS));
        assert!(l.allow(ip("10.0.0.1"), 500 * MS));
        assert!(!l.allow(ip("10.0.0.1"), 500 * MS));
        // Never more than the burst, however long the pause.
        for _ in 0..3 {
            assert!(l.allow(ip("10.0.0.1"), 100_000 * MS));
        }
        assert!(!l.allow(ip("10.0.0.1"), 100_000 * MS));
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
}
