//! Token buckets per client address and per service node (spec §2.8): 600 tokens, refilled
//! at 300 per second for clients and 600 per second for nodes, at most 10,000 clients
//! tracked (when full, the least recently used address is forgotten to make room). Time is a parameter (microseconds on any monotonic clock).

use std::collections::{BTreeMap, HashMap};
use std::hash::Hash;
use std::net::IpAddr;

use sotto_crypto::Ed25519PublicKey;

/// Tokens in a full bucket.
pub const BUCKET_SIZE: u64 = 600;
/// Refill rate for client addresses, tokens per second.
pub const CLIENT_RATE_PER_S: u64 = 300;
/// Refill rate for service nodes, tokens per second.
pub const NODE_RATE_PER_S: u64 = 600;
/// The most client addresses tracked at once.
pub const MAX_CLIENTS: usize = 10_000;

const MICROS: u64 = 1_000_000;

/// One bucket, counted in millionths of a token so refills are exact.
#[derive(Debug, Clone, Copy)]
struct Bucket {
    micro_tokens: u64,
    last_us: u64,
}

impl Bucket {
    fn full(now_us: u64) -> Self {
        Self {
            micro_tokens: BUCKET_SIZE * MICROS,
            last_us: now_us,
        }
    }

    fn refill(&mut self, now_us: u64, rate: u64) {
        let elapsed = now_us.saturating_sub(self.last_us);
        self.micro_tokens = self
            .micro_tokens
            .saturating_add(elapsed.saturating_mul(rate))
            .min(BUCKET_SIZE * MICROS);
        self.last_us = self.last_us.max(now_us);
    }

    /// Takes `tokens` tokens, or none when fewer are left.
    fn take(&mut self, now_us: u64, rate: u64, tokens: u64) -> bool {
        self.refill(now_us, rate);
        let cost = tokens.saturating_mul(MICROS);
        if self.micro_tokens >= cost {
            self.micro_tokens -= cost;
            true
        } else {
            false
        }
    }
}

/// Buckets by key, at most `max` of them: when full, the least recently used bucket is
/// forgotten to make room (a new address is never refused for lack of room).
#[derive(Debug)]
struct Buckets<K> {
    /// Each bucket with the tick of its last use.
    map: HashMap<K, (Bucket, u64)>,
    /// Keys by the tick of their last use: the first is the least recently used.
    by_use: BTreeMap<u64, K>,
    tick: u64,
    rate: u64,
    max: usize,
}

impl<K: Hash + Eq + Clone> Buckets<K> {
    fn new(rate: u64, max: usize) -> Self {
        Self {
            map: HashMap::new(),
            by_use: BTreeMap::new(),
            tick: 0,
            rate,
            max,
        }
    }

    fn allow(&mut self, key: K, tokens: u64, now_us: u64) -> bool {
        let rate = self.rate;
        self.tick += 1;
        let tick = self.tick;
        if let Some((bucket, used)) = self.map.get_mut(&key) {
            self.by_use.remove(used);
            *used = tick;
            self.by_use.insert(tick, key);
            return bucket.take(now_us, rate, tokens);
        }
        while self.map.len() >= self.max.max(1) {
            let Some((_, oldest)) = self.by_use.pop_first() else {
                break;
            };
            self.map.remove(&oldest);
        }
        let mut bucket = Bucket::full(now_us);
        let allowed = bucket.take(now_us, rate, tokens);
        self.map.insert(key.clone(), (bucket, tick));
        self.by_use.insert(tick, key);
        allowed
    }
}

/// The node's rate limiter.
#[derive(Debug)]
pub struct RateLimiter {
    clients: Buckets<IpAddr>,
    nodes: Buckets<Ed25519PublicKey>,
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
            clients: Buckets::new(CLIENT_RATE_PER_S, MAX_CLIENTS),
            // Nodes come from the directory's list: no separate cap is needed beyond memory.
            nodes: Buckets::new(NODE_RATE_PER_S, usize::MAX),
        }
    }

    /// Whether a request from client address `ip` at `now_us` may proceed (takes a token).
    pub fn allow_client(&mut self, ip: IpAddr, now_us: u64) -> bool {
        self.clients.allow(ip, 1, now_us)
    }

    /// Whether work costing `tokens` tokens from client address `ip` at `now_us` may proceed
    /// (takes them all, or none when fewer are left). A request costs more than one token when
    /// it carries several subrequests or many bytes.
    pub fn allow_client_cost(&mut self, ip: IpAddr, tokens: u64, now_us: u64) -> bool {
        self.clients.allow(ip, tokens, now_us)
    }

    /// Whether a request from the listed node `node` may proceed (takes a token).
    pub fn allow_node(&mut self, node: Ed25519PublicKey, now_us: u64) -> bool {
        self.nodes.allow(node, 1, now_us)
    }

    /// How many client addresses are tracked.
    #[must_use]
    pub fn tracked_clients(&self) -> usize {
        self.clients.map.len()
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
        // Full and nobody has refilled yet: a new address is still served, the table stays
        // bounded.
        assert!(rl.allow_client(ip(999_999), t0));
        assert_eq!(rl.tracked_clients(), MAX_CLIENTS);
    }

    #[test]
    fn the_least_recently_used_address_is_forgotten() {
        let mut rl = RateLimiter::new();
        let t0 = 1_000_000;
        // Address 0 empties its bucket, then every other address is seen after it.
        for _ in 0..BUCKET_SIZE {
            assert!(rl.allow_client(ip(0), t0));
        }
        assert!(!rl.allow_client(ip(0), t0));
        // Address 1 is used first but used again last: it stays.
        for _ in 0..BUCKET_SIZE {
            assert!(rl.allow_client(ip(1), t0));
        }
        for n in 2..MAX_CLIENTS as u32 {
            assert!(rl.allow_client(ip(n), t0));
        }
        assert!(!rl.allow_client(ip(1), t0));
        assert!(!rl.allow_client(ip(0), t0));
        // A botnet of new addresses: each is admitted, pushing out the least recently used.
        for n in 0..(MAX_CLIENTS as u32 - 2) {
            assert!(rl.allow_client(ip(1_000_000 + n), t0), "new address {n}");
        }
        assert_eq!(rl.tracked_clients(), MAX_CLIENTS);
        // 0 and 1 were the most recently used before the botnet: still limited.
        assert!(!rl.allow_client(ip(0), t0));
        assert!(!rl.allow_client(ip(1), t0));
        // One more new address pushes out the oldest of the rest, never 0 or 1 (just used).
        assert!(rl.allow_client(ip(2_000_000), t0));
        assert!(!rl.allow_client(ip(1), t0));
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
