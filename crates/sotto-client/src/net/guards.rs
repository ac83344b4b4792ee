//! Guards: the first hops of every path, kept for weeks and replaced slowly (Tor's answer to
//! "over time most nodes see the user's IP").
//!
//! * A guard is kept until its lifetime ends (a random time between [`GUARD_LIFETIME_MIN`] and
//!   [`GUARD_LIFETIME_MAX`] after it was picked), until it leaves the signed node list, or
//!   until it is dead: it failed at least [`GUARD_DEAD_FAILURES`] times over at least
//!   [`GUARD_DEAD_AFTER`] with no success in between. One failure only sets it aside (no new
//!   path uses it) until a probe after [`GUARD_RETRY_INTERVAL`] succeeds.
//! * A dead guard is replaced only by a candidate that answers (so a client that is offline does
//!   not throw its guards away), and guards are added at most [`GUARD_REPLACEMENTS`] times
//!   beyond the configured count per [`GUARD_REPLACEMENT_WINDOW`], however many fail.
//! * The set is persisted per profile ([`super::OnionConfig::guard_file`]): JSON
//!   `{"version": 1, "directory": hex, "guards": [{"ed25519": hex, "added_ms", "expires_ms",
//!   "failures", "first_failure_ms", "last_failure_ms"}], "additions_ms": [..]}`, mode 0600,
//!   written to a temporary file and renamed into place. Only keys are stored: each is resolved
//!   through the signed node list (its address and its X25519 key derived from its Ed25519
//!   key), and a key the list does not hold is dropped.
//!
//! Every function takes the time as a parameter; nothing here touches a clock or a socket.

use std::collections::HashSet;
use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use sotto_crypto::{CryptoRngCore, Ed25519PublicKey};
use sotto_swarm::NodeListing;

use super::cache::{CacheFileError, NodeCache, read_capped, write_private};

/// The shortest time a guard is kept.
pub const GUARD_LIFETIME_MIN: Duration = Duration::from_secs(30 * 24 * 3600);
/// The longest time a guard is kept.
pub const GUARD_LIFETIME_MAX: Duration = Duration::from_secs(60 * 24 * 3600);
/// A guard failing for at least this long (and [`GUARD_DEAD_FAILURES`] times) is dead.
pub const GUARD_DEAD_AFTER: Duration = Duration::from_secs(3600);
/// How many failures, with no success between them, make a guard dead (with
/// [`GUARD_DEAD_AFTER`]).
pub const GUARD_DEAD_FAILURES: u32 = 3;
/// A guard that failed is probed again at most this often.
pub const GUARD_RETRY_INTERVAL: Duration = Duration::from_secs(30);
/// The window of the replacement rate limit.
pub const GUARD_REPLACEMENT_WINDOW: Duration = Duration::from_secs(24 * 3600);
/// How many guards may be added per [`GUARD_REPLACEMENT_WINDOW`] beyond the configured count.
pub const GUARD_REPLACEMENTS: usize = 2;

/// The guard file format version.
const VERSION: u32 = 1;
/// The largest guard file read.
const MAX_FILE_LEN: usize = 64 << 10;
/// The most guards (and addition times) a file may hold.
const MAX_ENTRIES: usize = 64;

fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// One guard and its record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Guard {
    /// Its listing, from the signed node list.
    pub node: NodeListing,
    /// When it was picked (Unix ms).
    pub added_ms: u64,
    /// When it is replaced at the latest.
    pub expires_ms: u64,
    /// Failures since its last success.
    pub failures: u32,
    /// The first of those failures.
    pub first_failure_ms: Option<u64>,
    /// The last of those failures.
    pub last_failure_ms: Option<u64>,
}

impl Guard {
    /// Whether it has failed often enough, for long enough, to be replaced.
    fn dead(&self, now_ms: u64) -> bool {
        self.failures >= GUARD_DEAD_FAILURES
            && self
                .first_failure_ms
                .is_some_and(|t| now_ms.saturating_sub(t) >= ms(GUARD_DEAD_AFTER))
    }
}

/// Why a guard left the set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dropped {
    /// The signed list no longer holds it.
    Unlisted,
    /// Its lifetime ended.
    Expired,
    /// It may not be used any more (in the user's own swarm).
    Excluded,
}

/// The guard set.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Guards {
    entries: Vec<Guard>,
    /// When guards were added, within the last [`GUARD_REPLACEMENT_WINDOW`].
    additions_ms: Vec<u64>,
}

#[derive(Serialize, Deserialize)]
struct RawGuard {
    ed25519: String,
    added_ms: u64,
    expires_ms: u64,
    failures: u32,
    first_failure_ms: Option<u64>,
    last_failure_ms: Option<u64>,
}

#[derive(Serialize, Deserialize)]
struct RawGuards {
    version: u32,
    directory: String,
    guards: Vec<RawGuard>,
    additions_ms: Vec<u64>,
}

impl Guards {
    /// Every guard, in the order picked.
    pub fn all(&self) -> &[Guard] {
        &self.entries
    }

    /// How many guards there are.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether `key` is a guard.
    pub fn contains(&self, key: &Ed25519PublicKey) -> bool {
        self.entries.iter().any(|g| g.node.pubkey_ed25519() == *key)
    }

    /// The guards new paths may start at: those with no failure since their last success.
    pub fn usable(&self) -> Vec<&NodeListing> {
        self.entries
            .iter()
            .filter(|g| g.failures == 0)
            .map(|g| &g.node)
            .collect()
    }

    /// The failing guards due for another probe.
    pub fn due_for_retry(&self, now_ms: u64) -> Vec<NodeListing> {
        self.entries
            .iter()
            .filter(|g| {
                g.failures > 0
                    && g.last_failure_ms
                        .is_none_or(|t| now_ms.saturating_sub(t) >= ms(GUARD_RETRY_INTERVAL))
            })
            .map(|g| g.node.clone())
            .collect()
    }

    /// The dead guards (see the module docs).
    pub fn dead(&self, now_ms: u64) -> Vec<Ed25519PublicKey> {
        self.entries
            .iter()
            .filter(|g| g.dead(now_ms))
            .map(|g| g.node.pubkey_ed25519())
            .collect()
    }

    /// Records a failure of guard `key` (a failed probe, or a connection that failed).
    pub fn record_failure(&mut self, key: &Ed25519PublicKey, now_ms: u64) {
        if let Some(g) = self
            .entries
            .iter_mut()
            .find(|g| g.node.pubkey_ed25519() == *key)
        {
            g.failures = g.failures.saturating_add(1);
            g.first_failure_ms.get_or_insert(now_ms);
            g.last_failure_ms = Some(now_ms);
        }
    }

    /// Records that guard `key` answered: its failures are forgotten.
    pub fn record_success(&mut self, key: &Ed25519PublicKey) {
        if let Some(g) = self
            .entries
            .iter_mut()
            .find(|g| g.node.pubkey_ed25519() == *key)
        {
            g.failures = 0;
            g.first_failure_ms = None;
            g.last_failure_ms = None;
        }
    }

    /// Brings the set up to date with the signed list `cache` at `now_ms`: each guard's listing
    /// is taken from it; guards it does not hold, guards whose lifetime ended, and guards in
    /// `excluded` leave the set. Returns those that left.
    pub fn prune(
        &mut self,
        cache: &NodeCache,
        excluded: &HashSet<Ed25519PublicKey>,
        now_ms: u64,
    ) -> Vec<(Ed25519PublicKey, Dropped)> {
        let mut gone = Vec::new();
        self.entries.retain_mut(|g| {
            let key = g.node.pubkey_ed25519();
            let why = match cache.get(&key) {
                None => Some(Dropped::Unlisted),
                Some(_) if now_ms >= g.expires_ms => Some(Dropped::Expired),
                Some(_) if excluded.contains(&key) => Some(Dropped::Excluded),
                Some(listed) => {
                    g.node = listed.clone();
                    None
                }
            };
            if let Some(why) = why {
                gone.push((key, why));
            }
            why.is_none()
        });
        gone
    }

    /// Removes guard `key` (a dead guard being replaced).
    pub fn remove(&mut self, key: &Ed25519PublicKey) {
        self.entries.retain(|g| g.node.pubkey_ed25519() != *key);
    }

    /// Whether a guard may be added now, for a configuration of `want` guards: at most
    /// `want` + [`GUARD_REPLACEMENTS`] additions per [`GUARD_REPLACEMENT_WINDOW`].
    pub fn may_add(&self, want: usize, now_ms: u64) -> bool {
        let window = ms(GUARD_REPLACEMENT_WINDOW);
        let recent = self
            .additions_ms
            .iter()
            .filter(|&&t| now_ms.saturating_sub(t) < window)
            .count();
        recent < want.saturating_add(GUARD_REPLACEMENTS)
    }

    /// When the next addition is allowed, if none is now.
    pub fn next_addition_ms(&self, want: usize, now_ms: u64) -> Option<u64> {
        if self.may_add(want, now_ms) {
            return None;
        }
        let window = ms(GUARD_REPLACEMENT_WINDOW);
        let mut recent: Vec<u64> = self
            .additions_ms
            .iter()
            .copied()
            .filter(|&t| now_ms.saturating_sub(t) < window)
            .collect();
        recent.sort_unstable();
        let budget = want.saturating_add(GUARD_REPLACEMENTS);
        // The oldest addition that still counts leaves the window first.
        let counted = recent.len().saturating_sub(budget);
        recent
            .get(counted)
            .map(|t| t.saturating_add(ms(GUARD_REPLACEMENT_WINDOW)))
    }

    /// Adds `node` as a guard picked at `now_ms`, with a random lifetime.
    pub fn add(&mut self, node: NodeListing, now_ms: u64, rng: &mut impl CryptoRngCore) {
        if self.contains(&node.pubkey_ed25519()) {
            return;
        }
        let spread = ms(GUARD_LIFETIME_MAX).saturating_sub(ms(GUARD_LIFETIME_MIN));
        let lifetime = ms(GUARD_LIFETIME_MIN)
            .saturating_add(rng.as_rngcore().next_u64() % spread.saturating_add(1));
        self.entries.push(Guard {
            node,
            added_ms: now_ms,
            expires_ms: now_ms.saturating_add(lifetime),
            failures: 0,
            first_failure_ms: None,
            last_failure_ms: None,
        });
        let window = ms(GUARD_REPLACEMENT_WINDOW);
        self.additions_ms
            .retain(|&t| now_ms.saturating_sub(t) < window);
        self.additions_ms.push(now_ms);
    }

    /// The file form, for the network whose directory key is `directory`.
    pub fn to_file(&self, directory: &Ed25519PublicKey) -> Vec<u8> {
        let raw = RawGuards {
            version: VERSION,
            directory: hex::encode(directory.as_bytes()),
            guards: self
                .entries
                .iter()
                .map(|g| RawGuard {
                    ed25519: hex::encode(g.node.pubkey_ed25519().as_bytes()),
                    added_ms: g.added_ms,
                    expires_ms: g.expires_ms,
                    failures: g.failures,
                    first_failure_ms: g.first_failure_ms,
                    last_failure_ms: g.last_failure_ms,
                })
                .collect(),
            additions_ms: self.additions_ms.clone(),
        };
        serde_json::to_vec(&raw).unwrap_or_default()
    }

    /// Reads a guard file's content for the network whose directory key is `directory`,
    /// resolving each guard through the signed list `cache` (guards it does not hold are
    /// dropped).
    ///
    /// # Errors
    /// [`CacheFileError::Malformed`] or [`CacheFileError::OtherNetwork`].
    pub fn from_file(
        bytes: &[u8],
        directory: &Ed25519PublicKey,
        cache: &NodeCache,
    ) -> Result<Self, CacheFileError> {
        let malformed = CacheFileError::Malformed;
        if bytes.len() > MAX_FILE_LEN {
            return Err(malformed(format!(
                "guard file of {} bytes, more than {MAX_FILE_LEN}",
                bytes.len()
            )));
        }
        let raw: RawGuards = serde_json::from_slice(bytes)
            .map_err(|e| malformed(format!("guard file: not the expected JSON: {e}")))?;
        if raw.version != VERSION {
            return Err(malformed(format!(
                "guard file version {}, this build reads {VERSION}",
                raw.version
            )));
        }
        if raw.directory != hex::encode(directory.as_bytes()) {
            return Err(CacheFileError::OtherNetwork);
        }
        if raw.guards.len() > MAX_ENTRIES || raw.additions_ms.len() > MAX_ENTRIES {
            return Err(malformed(format!(
                "guard file: more than {MAX_ENTRIES} entries"
            )));
        }
        let mut entries: Vec<Guard> = Vec::new();
        for g in raw.guards {
            let mut key = [0u8; 32];
            hex::decode_to_slice(g.ed25519.as_bytes(), &mut key)
                .map_err(|_| malformed("guard file: a key is not 64 hex digits".to_owned()))?;
            let key = Ed25519PublicKey(key);
            let Some(node) = cache.get(&key) else {
                continue;
            };
            if entries.iter().any(|e| e.node.pubkey_ed25519() == key) {
                continue;
            }
            entries.push(Guard {
                node: node.clone(),
                added_ms: g.added_ms,
                expires_ms: g.expires_ms,
                failures: g.failures,
                first_failure_ms: g.first_failure_ms,
                last_failure_ms: g.last_failure_ms,
            });
        }
        Ok(Self {
            entries,
            additions_ms: raw.additions_ms,
        })
    }

    /// Reads the guard file at `path`; `Ok(None)` when there is none.
    ///
    /// # Errors
    /// Why an existing file is unusable.
    pub fn load(
        path: &Path,
        directory: &Ed25519PublicKey,
        cache: &NodeCache,
    ) -> Result<Option<Self>, CacheFileError> {
        match read_capped(path, MAX_FILE_LEN)? {
            Some(bytes) => Self::from_file(&bytes, directory, cache).map(Some),
            None => Ok(None),
        }
    }

    /// Writes the set to `path` atomically (a 0600 temporary file renamed into place).
    ///
    /// # Errors
    /// The I/O failure.
    pub fn save(&self, path: &Path, directory: &Ed25519PublicKey) -> Result<(), CacheFileError> {
        Ok(write_private(path, &self.to_file(directory))?)
    }
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use rand_chacha::ChaCha20Rng;
    use rand_chacha::rand_core::SeedableRng as _;
    use sotto_crypto::Ed25519SecretKey;

    use super::*;
    use crate::net::cache::tests::listing;

    const DAY: u64 = 24 * 3600 * 1000;
    const T0: u64 = 1_800_000_000_000;

    fn cache(n: u8) -> NodeCache {
        NodeCache::new(
            (1..=n)
                .map(|i| listing(Ipv4Addr::new(10, 0, i, 1), 1))
                .collect(),
            T0,
        )
    }

    fn dir_key() -> Ed25519PublicKey {
        Ed25519SecretKey::generate(&mut sotto_crypto::OsRng).public_key()
    }

    #[test]
    fn guards_persist_privately_and_resolve_through_the_signed_list() {
        use std::os::unix::fs::PermissionsExt as _;
        let mut rng = ChaCha20Rng::seed_from_u64(10);
        let nodes = cache(5);
        let key = dir_key();
        let mut guards = Guards::default();
        guards.add(nodes.nodes[0].clone(), T0, &mut rng);
        guards.add(nodes.nodes[1].clone(), T0, &mut rng);
        guards.record_failure(&nodes.nodes[1].pubkey_ed25519(), T0 + 5);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("guards.json");
        assert_eq!(Guards::load(&path, &key, &nodes).unwrap(), None);
        guards.save(&path, &key).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
        let back = Guards::load(&path, &key, &nodes).unwrap().unwrap();
        assert_eq!(back, guards);
        // Lifetimes are between 30 and 60 days.
        for g in back.all() {
            assert!(g.expires_ms >= T0 + 30 * DAY && g.expires_ms <= T0 + 60 * DAY);
        }
        // Another network's file is refused; a guard the list no longer holds is dropped.
        assert!(matches!(
            Guards::load(&path, &dir_key(), &nodes),
            Err(CacheFileError::OtherNetwork)
        ));
        let mut smaller = nodes.clone();
        smaller.remove(&nodes.nodes[0].pubkey_ed25519());
        let back = Guards::load(&path, &key, &smaller).unwrap().unwrap();
        assert_eq!(back.len(), 1);
        assert!(back.contains(&nodes.nodes[1].pubkey_ed25519()));
        // Garbage is refused, not a panic.
        for bad in [
            &b"{"[..],
            b"null",
            b"{\"version\":1}",
            &[b' '; MAX_FILE_LEN + 1],
        ] {
            assert!(Guards::from_file(bad, &key, &nodes).is_err());
        }
        let text = String::from_utf8(guards.to_file(&key)).unwrap();
        let at = text.find("\"ed25519\":\"").unwrap() + 12;
        let mut flipped = text.into_bytes();
        flipped[at] = b'g';
        assert!(matches!(
            Guards::from_file(&flipped, &key, &nodes),
            Err(CacheFileError::Malformed(_))
        ));
    }

    #[test]
    fn one_failure_sets_a_guard_aside_but_does_not_strike_it_out() {
        let mut rng = ChaCha20Rng::seed_from_u64(11);
        let nodes = cache(4);
        let (a, b) = (nodes.nodes[0].clone(), nodes.nodes[1].clone());
        let mut guards = Guards::default();
        guards.add(a.clone(), T0, &mut rng);
        guards.add(b.clone(), T0, &mut rng);
        guards.record_failure(&a.pubkey_ed25519(), T0 + 1000);
        // Set aside (no new path), still a guard, not dead, probed again after the interval.
        assert_eq!(guards.usable(), vec![&b]);
        assert_eq!(guards.len(), 2);
        assert!(guards.dead(T0 + 1000).is_empty());
        assert!(guards.due_for_retry(T0 + 2000).is_empty());
        assert_eq!(guards.due_for_retry(T0 + 31_000), vec![a.clone()]);
        // It answers again: back in use.
        guards.record_success(&a.pubkey_ed25519());
        assert_eq!(guards.usable().len(), 2);
        // Many failures within a few minutes are not death either…
        for i in 0..10 {
            guards.record_failure(&a.pubkey_ed25519(), T0 + 10_000 + i * 30_000);
        }
        assert!(guards.dead(T0 + 400_000).is_empty());
        // …failing for over an hour is.
        guards.record_failure(&a.pubkey_ed25519(), T0 + 10_000 + 3_600_000);
        assert_eq!(
            guards.dead(T0 + 10_000 + 3_600_000),
            vec![a.pubkey_ed25519()]
        );
        // An hour of a single failure is not.
        guards.record_failure(&b.pubkey_ed25519(), T0);
        assert!(
            !guards
                .dead(T0 + 2 * 3_600_000)
                .contains(&b.pubkey_ed25519())
        );
    }

    #[test]
    fn guards_leave_with_the_list_or_their_lifetime_and_are_replaced_slowly() {
        let mut rng = ChaCha20Rng::seed_from_u64(12);
        let nodes = cache(8);
        let mut guards = Guards::default();
        guards.add(nodes.nodes[0].clone(), T0, &mut rng);
        guards.add(nodes.nodes[1].clone(), T0, &mut rng);
        let none = HashSet::new();
        // Weeks later, still the same two.
        assert!(guards.prune(&nodes, &none, T0 + 29 * DAY).is_empty());
        assert_eq!(guards.len(), 2);
        // Unlisted: gone.
        let mut listed = nodes.clone();
        listed.remove(&nodes.nodes[0].pubkey_ed25519());
        assert_eq!(
            guards.prune(&listed, &none, T0 + DAY),
            vec![(nodes.nodes[0].pubkey_ed25519(), Dropped::Unlisted)]
        );
        // Excluded (now in the user's own swarm): gone.
        let own: HashSet<_> = [nodes.nodes[1].pubkey_ed25519()].into();
        assert_eq!(
            guards.prune(&nodes, &own, T0 + DAY),
            vec![(nodes.nodes[1].pubkey_ed25519(), Dropped::Excluded)]
        );
        // Two initial guards and two replacements in a day; the fifth waits for the first
        // ones to leave the window.
        let half = T0 + DAY / 2;
        assert!(guards.may_add(2, half));
        guards.add(nodes.nodes[2].clone(), half, &mut rng);
        guards.add(nodes.nodes[3].clone(), half, &mut rng);
        assert!(!guards.may_add(2, half));
        assert_eq!(guards.next_addition_ms(2, half), Some(T0 + DAY));
        assert!(guards.may_add(2, T0 + DAY));
        // Past its lifetime (at most 60 days), a guard leaves.
        let gone = guards.prune(&nodes, &none, T0 + 62 * DAY);
        assert_eq!(gone.len(), 2);
        assert!(gone.iter().all(|(_, why)| *why == Dropped::Expired));
    }
}
