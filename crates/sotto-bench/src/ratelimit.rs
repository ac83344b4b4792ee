//! `ratelimit`: Sotto's per-address token buckets (`sotto_transport::ratelimit`) against the
//! `governor` crate's keyed limiter, for the three loads a node or directory meets: one busy
//! address, a steady set of 10,000 addresses, and a flood of addresses never seen before.
//!
//! Both limiters are used as the servers use them: Sotto's table behind a `Mutex` with the time
//! read per request, governor's lock-free keyed limiter with its own clock. Governor's table is
//! swept with `retain_recent` every 10,000 requests, which is how it bounds memory.

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

/// A load: its name and the address of its `i`-th request.
type Load = (&'static str, fn(u32) -> IpAddr);

fn address(n: u32) -> IpAddr {
    IpAddr::V4(Ipv4Addr::from(0x0a00_0000_u32.wrapping_add(n)))
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
    for (load, key) in loads {
        let started = Instant::now();
        let sotto = Mutex::new(KeyedBuckets::new(RATE, MAX_KEYS));
        let mut i = 0u32;
        let sotto_rate = per_second(|| {
            i = i.wrapping_add(1);
            let now_us = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
            sotto
                .lock()
                .map(|mut b| b.try_take(key(i), 1, now_us))
                .unwrap_or(false)
        });
        let tracked = sotto.lock().map(|b| b.len()).unwrap_or(0);

        let governor = RateLimiter::<IpAddr, _, _>::keyed(quota);
        let mut i = 0u32;
        let governor_rate = per_second(|| {
            i = i.wrapping_add(1);
            if i.is_multiple_of(SWEEP_EVERY) {
                governor.retain_recent();
            }
            matches!(governor.check_key_n(&key(i), one), Ok(Ok(())))
        });

        report.figure(&format!("sotto_{load}_per_s"), sotto_rate, "checks/s");
        report.figure(&format!("governor_{load}_per_s"), governor_rate, "checks/s");
        report.ratio(&format!("{load}_ratio"), sotto_rate, governor_rate);
        report.figure(&format!("sotto_{load}_tracked"), tracked as f64, "keys");
        report.figure(
            &format!("governor_{load}_tracked"),
            governor.len() as f64,
            "keys",
        );
    }
    Ok(())
}
