//! How often to poll one's swarm: fast while chatting, slower when idle, backing off on errors.
//!
//! The defaults:
//!
//! | situation | next poll after |
//! |---|---|
//! | a message was sent or received in the last minute ("chatting") | 1 s |
//! | … in the last 10 minutes | 3 s |
//! | idle longer (or never active) | 10 s |
//! | the last poll failed *f* times in a row | the above, doubled *f* times, at most 60 s |
//!
//! One second while chatting keeps a reply's wait short (delivery ≈ store time + up to one
//! interval) at one retrieve per second; ten seconds when idle is about a tenth of that load.

use core::time::Duration;

/// The poll interval policy. Pure: the caller passes the clock and what happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PollPolicy {
    /// Interval while chatting, ms.
    pub active_ms: u64,
    /// How long after the last activity the conversation counts as active, ms.
    pub active_window_ms: u64,
    /// Interval after that, ms.
    pub recent_ms: u64,
    /// How long after the last activity it counts as recent, ms.
    pub recent_window_ms: u64,
    /// Interval when idle, ms.
    pub idle_ms: u64,
    /// The longest interval, also when backing off after failures, ms.
    pub max_ms: u64,
}

impl Default for PollPolicy {
    fn default() -> Self {
        Self {
            active_ms: 1_000,
            active_window_ms: 60_000,
            recent_ms: 3_000,
            recent_window_ms: 600_000,
            idle_ms: 10_000,
            max_ms: 60_000,
        }
    }
}

impl PollPolicy {
    /// How long to wait before the next poll, at `now_ms`, given the time of the last message
    /// sent or received (`None`: none yet) and how many polls in a row failed. (A poll whose
    /// answer says `more` is followed at once by the next page, within the same poll.)
    #[must_use]
    pub fn next_delay(
        &self,
        now_ms: u64,
        last_activity_ms: Option<u64>,
        failures: u32,
    ) -> Duration {
        let idle_for = last_activity_ms.map(|t| now_ms.saturating_sub(t));
        let base = match idle_for {
            Some(d) if d < self.active_window_ms => self.active_ms,
            Some(d) if d < self.recent_window_ms => self.recent_ms,
            _ => self.idle_ms,
        };
        let backed_off = base.saturating_mul(1u64 << failures.min(16));
        Duration::from_millis(backed_off.min(self.max_ms.max(base)))
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn the_documented_numbers() {
        let p = PollPolicy::default();
        let now = 10_000_000;
        let ms = |d: Duration| u64::try_from(d.as_millis()).unwrap();
        assert_eq!(ms(p.next_delay(now, Some(now - 5_000), 0)), 1_000);
        assert_eq!(ms(p.next_delay(now, Some(now - 120_000), 0)), 3_000);
        assert_eq!(ms(p.next_delay(now, Some(now - 3_600_000), 0)), 10_000);
        assert_eq!(ms(p.next_delay(now, None, 0)), 10_000);
        assert_eq!(ms(p.next_delay(now, None, 2)), 40_000);
        assert_eq!(ms(p.next_delay(now, None, 30)), 60_000);
        assert_eq!(ms(p.next_delay(now, Some(now), 1)), 2_000);
        // A clock that went backwards counts as active.
        assert_eq!(ms(p.next_delay(now, Some(now + 5), 0)), 1_000);
    }

    proptest! {
        /// The longer the idle time, the longer (never shorter) the interval; failures never
        /// shorten it; it stays within [active, max].
        #[test]
        fn monotonic_and_bounded(now in 0u64..1 << 50, a in 0u64..1 << 40, b in 0u64..1 << 40, f in 0u32..40) {
            let p = PollPolicy::default();
            let (short, long) = (a.min(b), a.max(b));
            let d_short = p.next_delay(now + long, Some(now + long - short), f);
            let d_long = p.next_delay(now + long, Some(now), f);
            prop_assert!(d_short <= d_long);
            prop_assert!(p.next_delay(now, Some(now), f + 1) >= p.next_delay(now, Some(now), f));
            prop_assert!(d_long <= Duration::from_millis(p.max_ms));
            prop_assert!(d_short >= Duration::from_millis(p.active_ms));
        }
    }
}
