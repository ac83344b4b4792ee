//! Token buckets per client address and per service node (spec §2.8): 600 tokens, refilled
//! at 300 per second for clients and 600 per second for nodes, at most 10,000 clients
//! tracked (see [`sotto_transport::ratelimit`] for what happens at the bound). Time is a
//! parameter (microseconds on any monotonic clock).

use std::net::IpAddr;

use sotto_crypto::Ed25519PublicKey;
use sotto_transport::ratelimit::{KeyedBuckets, Rate};

/// Tokens in a full bucket.
pub const BUCKET_SIZE: u32 = 600;
/// Refill rate for client addresses, tokens per second.
pub const CLIENT_RATE_PER_S: u32 = 300;
/// Refill rate for service nodes, tokens per second.
pub const NODE_RATE_PER_S: u32 = 600;
/// The most client addresses tracked at once.
pub const MAX_CLIENTS: usize = 10_000;

/// The node's rate limiter.
#[derive(Debug)]
pub struct RateLimiter {
    clients: KeyedBuckets<IpAddr>,
    nodes: KeyedBuckets<Ed25519PublicKey>,
}

const fn rate(per_s: u32) -> Rate {
    Rate {
        per_s,
        burst: BUCKET_SIZE,
    }
}

impl Default for RateLimiter {
    fn default() -> Self {
        Self::new()
    }
}

impl RateLimiter {
    /// A limiter with the storage server's constants.
    #[must_use]
    pub fn new() -> Self {
        Self {
            clients: KeyedBuckets::new(rate(CLIENT_RATE_PER_S), MAX_CLIENTS),
            // Nodes come from the directory's list: no separate cap is needed beyond memory.
            nodes: KeyedBuckets::new(rate(NODE_RATE_PER_S), usize::MAX),
        }
    }

    /// Whether a request from client address `ip` at `now_us` may proceed (takes a token).
    pub fn allow_client(&mut self, ip: IpAddr, now_us: u64) -> bool {
        self.clients.try_take(ip, 1, now_us)
    }

    /// Whether work costing `tokens` tokens from client address `ip` at `now_us` may proceed
    /// (takes them all, or none when fewer are left). A request costs more than one token when
    /// it carries several subrequests or many bytes.
    pub fn allow_client_cost(&mut self, ip: IpAddr, tokens: u32, now_us: u64) -> bool {
        self.clients.try_take(ip, tokens, now_us)
    }

    /// Whether a request from the listed node `node` may proceed (takes a token).
    pub fn allow_node(&mut self, node: Ed25519PublicKey, now_us: u64) -> bool {
        self.nodes.try_take(node, 1, now_us)
    }

    /// How many client addresses are tracked.
    #[must_use]
    pub fn tracked_clients(&self) -> usize {
        self.clients.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    fn ip(n: u32) -> IpAddr {
        IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + n))
    }

    #[test]
    fn burst_then_refill() {
        let mut rl = RateLimiter::new();
        let t0 = 5_000_000;
        for _ in 0..BUCKET_SIZE {
            assert!(rl.allow_client(ip(1), t0));
        }
        assert!(!rl.allow_client(ip(1), t0));
        // Another client is unaffected.
        assert!(rl.allow_client(ip(2), t0));
        // 10 ms later: 3 tokens back at 300/s.
        let t1 = t0 + 10_000;
        for _ in 0..3 {
            assert!(rl.allow_client(ip(1), t1));
        }
        assert!(!rl.allow_client(ip(1), t1));
        // Nodes refill twice as fast: 6 tokens in 10 ms.
        let node = Ed25519PublicKey([1; 32]);
        for _ in 0..BUCKET_SIZE {
            assert!(rl.allow_node(node, t0));
        }
        assert!(!rl.allow_node(node, t0));
        let allowed = (0..10).filter(|_| rl.allow_node(node, t1)).count();
        assert_eq!(allowed, 6);
        // A clock going backwards never adds tokens.
        assert!(!rl.allow_client(ip(1), t0));
    }

    #[test]
    fn client_table_is_bounded() {
        let mut rl = RateLimiter::new();
        let t0 = 1_000_000;
        for n in 0..MAX_CLIENTS as u32 {
            assert!(rl.allow_client(ip(n), t0));
        }
        assert_eq!(rl.tracked_clients(), MAX_CLIENTS);
        // A tracked address is served as usual at the bound.
        assert!(rl.allow_client_cost(ip(7), BUCKET_SIZE - 1, t0));
        assert!(!rl.allow_client(ip(7), t0));
        assert_eq!(rl.tracked_clients(), MAX_CLIENTS);
        // Full and nobody has refilled yet: a new address is still served, the table stays
        // bounded (here it is cleared: every bucket is busy).
        assert!(rl.allow_client(ip(999_999), t0));
        assert!(rl.tracked_clients() <= MAX_CLIENTS);
        // A busy address and idle ones: at the bound, a new address only drops the buckets
        // that have refilled, and the busy one keeps its count.
        let t1 = t0 + 10 * 1_000_000;
        assert!(rl.allow_client_cost(ip(8), BUCKET_SIZE, t1));
        while rl.tracked_clients() < MAX_CLIENTS {
            let n = 1_000_000 + rl.tracked_clients() as u32;
            assert!(rl.allow_client(ip(n), t1));
        }
        let t2 = t1 + 1_000_000;
        assert!(rl.allow_client(ip(2_000_000), t2));
        assert_eq!(rl.tracked_clients(), 2);
        assert!(rl.allow_client_cost(ip(8), CLIENT_RATE_PER_S, t2));
        assert!(!rl.allow_client(ip(8), t2));
        assert!(rl.tracked_clients() <= MAX_CLIENTS);
    }

    #[test]
    fn costs_take_several_tokens_or_none() {
        let mut rl = RateLimiter::new();
        let t0 = 1_000_000;
        assert!(rl.allow_client_cost(ip(3), BUCKET_SIZE - 10, t0));
        assert!(!rl.allow_client_cost(ip(3), 11, t0));
        assert!(rl.allow_client_cost(ip(3), 10, t0));
        assert!(!rl.allow_client(ip(3), t0));
    }
}
