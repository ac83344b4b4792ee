//! `ratelimit`: Sotto's per-address token buckets (`sotto_transport::ratelimit`, built on
//! governor's keyed limiter with a bounded table) against the hand-written table they replaced,
//! and against governor used directly, for the three loads a node or directory meets: one busy
//! address, a steady set of 10,000 addresses, and a flood of addresses never seen before.
//!
//! - `sotto` is what ships: `KeyedBuckets` behind a `Mutex`, the time read per request, as the
//!   node, the directory and `PerAddress` use it.
//! - `handwritten` is the least-recently-used table Sotto used before (kept here, and only here,
//!   as the reference), used the same way. `sotto / handwritten` above 1 means the switch to
//!   governor made checks faster; this is the figure the decision rests on.
//! - `governor` is governor's keyed limiter alone (its `HashMap` store, its own clock, no outer
//!   lock), swept with `retain_recent` every 10,000 requests, which is governor's own advice for
//!   bounding memory. `sotto / governor` is the price of Sotto's bound and caller-given time.
//!
//! Each load also reports how many keys each table holds at the end, and the most Sotto's table
//! held at any point of a separate (untimed) run of a million requests, against the bound.

use std::net::{IpAddr, Ipv4Addr};
use std::num::NonZeroU32;
use std::sync::Mutex;
use std::time::Instant;

use governor::{Quota, RateLimiter};
use sotto_transport::ratelimit::{KeyedBuckets, Rate};

use crate::harness::{Report, per_second};

/// The node's client limits: 600 tokens, 300 per second.
const RATE: Rate = Rate {
    per_s: 300,
    burst: 600,
};
/// The node's bound on tracked client addresses.
const MAX_KEYS: usize = 10_000;
const SWEEP_EVERY: u32 = 10_000;
/// Requests in the untimed run that finds the largest table.
const PEAK_RUN: u32 = 1_000_000;

/// A load: its name and the address of its `i`-th request.
type Load = (&'static str, fn(u32) -> IpAddr);

fn address(n: u32) -> IpAddr {
    IpAddr::V4(Ipv4Addr::from(0x0a00_0000_u32.wrapping_add(n)))
}

fn micros_since(started: Instant) -> u64 {
    u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX)
}

pub fn run(report: &mut Report) -> anyhow::Result<()> {
    let per_s = NonZeroU32::new(RATE.per_s).ok_or_else(|| anyhow::anyhow!("zero rate"))?;
    let burst = NonZeroU32::new(RATE.burst).ok_or_else(|| anyhow::anyhow!("zero burst"))?;
    let quota = Quota::per_second(per_s).allow_burst(burst);
    let one = NonZeroU32::MIN;

    let loads: [Load; 3] = [
        ("one_address", |_| address(1)),
        ("10k_addresses", |i| address(i % 10_000)),
        ("new_addresses", address),
    ];
    report.figure("bound", MAX_KEYS as f64, "keys");
    for (load, key) in loads {
        let started = Instant::now();
        let sotto = Mutex::new(KeyedBuckets::new(RATE, MAX_KEYS));
        let mut i = 0u32;
        let sotto_rate = per_second(|| {
            i = i.wrapping_add(1);
            let now_us = micros_since(started);
            sotto
                .lock()
                .map(|mut b| b.try_take(key(i), 1, now_us))
                .unwrap_or(false)
        });
        let sotto_tracked = sotto.lock().map(|b| b.len()).unwrap_or(0);

        let started = Instant::now();
        let handwritten = Mutex::new(handwritten::KeyedBuckets::new(RATE, MAX_KEYS));
        let mut i = 0u32;
        let handwritten_rate = per_second(|| {
            i = i.wrapping_add(1);
            let now_us = micros_since(started);
            handwritten
                .lock()
                .map(|mut b| b.try_take(key(i), 1, now_us))
                .unwrap_or(false)
        });
        let handwritten_tracked = handwritten.lock().map(|b| b.len()).unwrap_or(0);

        let governor = RateLimiter::<IpAddr, _, _>::keyed(quota);
        let mut i = 0u32;
        let governor_rate = per_second(|| {
            i = i.wrapping_add(1);
            if i.is_multiple_of(SWEEP_EVERY) {
                governor.retain_recent();
            }
            matches!(governor.check_key_n(&key(i), one), Ok(Ok(())))
        });

        // The largest table Sotto's limiter holds, over a run as fast as the timed one.
        let started = Instant::now();
        let mut buckets = KeyedBuckets::new(RATE, MAX_KEYS);
        let mut peak = 0;
        for i in 0..PEAK_RUN {
            buckets.try_take(key(i), 1, micros_since(started));
            peak = peak.max(buckets.len());
        }

        report.figure(&format!("sotto_{load}_per_s"), sotto_rate, "checks/s");
        report.figure(
            &format!("handwritten_{load}_per_s"),
            handwritten_rate,
            "checks/s",
        );
        report.figure(&format!("governor_{load}_per_s"), governor_rate, "checks/s");
        report.ratio(
            &format!("{load}_sotto_vs_handwritten"),
            sotto_rate,
            handwritten_rate,
        );
        report.ratio(
            &format!("{load}_sotto_vs_governor"),
            sotto_rate,
            governor_rate,
        );
        report.figure(
            &format!("sotto_{load}_tracked"),
            sotto_tracked as f64,
            "keys",
        );
        report.figure(&format!("sotto_{load}_peak_tracked"), peak as f64, "keys");
        report.ratio(
            &format!("sotto_{load}_peak_vs_bound"),
            peak as f64,
            MAX_KEYS as f64,
        );
        report.figure(
            &format!("handwritten_{load}_tracked"),
            handwritten_tracked as f64,
            "keys",
        );
        report.figure(
            &format!("governor_{load}_tracked"),
            governor.len() as f64,
            "keys",
        );
    }
    Ok(())
}

/// The hand-written table Sotto used before governor (sotto-transport's `ratelimit` up to this
/// change), kept as the benchmark's reference: token buckets counted in millionths of a token,
/// and a bounded table that forgets the least recently used key to make room.
mod handwritten {
    use std::collections::{BTreeMap, HashMap};
    use std::hash::Hash;

    use sotto_transport::ratelimit::Rate;

    const MICROS: u64 = 1_000_000;

    #[derive(Debug, Clone, Copy)]
    struct Bucket {
        micro_tokens: u64,
        last_us: u64,
    }

    impl Bucket {
        fn take(&mut self, now_us: u64, rate: Rate, tokens: u32) -> bool {
            let full = u64::from(rate.burst) * MICROS;
            let elapsed = now_us.saturating_sub(self.last_us);
            self.micro_tokens = self
                .micro_tokens
                .saturating_add(elapsed.saturating_mul(u64::from(rate.per_s)))
                .min(full);
            self.last_us = self.last_us.max(now_us);
            let cost = u64::from(tokens) * MICROS;
            match self.micro_tokens.checked_sub(cost) {
                Some(left) => {
                    self.micro_tokens = left;
                    true
                }
                None => false,
            }
        }
    }

    /// Token buckets keyed by `K`, at most `max` of them, evicting the least recently used.
    pub struct KeyedBuckets<K> {
        buckets: HashMap<K, (Bucket, u64)>,
        by_use: BTreeMap<u64, K>,
        tick: u64,
        rate: Rate,
        max: usize,
    }

    impl<K: Hash + Eq + Clone> KeyedBuckets<K> {
        pub fn new(rate: Rate, max: usize) -> Self {
            Self {
                buckets: HashMap::new(),
                by_use: BTreeMap::new(),
                tick: 0,
                rate,
                max: max.max(1),
            }
        }

        pub fn try_take(&mut self, key: K, tokens: u32, now_us: u64) -> bool {
            self.tick += 1;
            let tick = self.tick;
            let rate = self.rate;
            if let Some((bucket, used)) = self.buckets.get_mut(&key) {
                self.by_use.remove(used);
                *used = tick;
                self.by_use.insert(tick, key);
                return bucket.take(now_us, rate, tokens);
            }
            while self.buckets.len() >= self.max {
                let Some((_, oldest)) = self.by_use.pop_first() else {
                    break;
                };
                self.buckets.remove(&oldest);
            }
            let mut bucket = Bucket {
                micro_tokens: u64::from(rate.burst) * MICROS,
                last_us: now_us,
            };
            let allowed = bucket.take(now_us, rate, tokens);
            self.buckets.insert(key.clone(), (bucket, tick));
            self.by_use.insert(tick, key);
            allowed
        }

        pub fn len(&self) -> usize {
            self.buckets.len()
        }
    }
}
