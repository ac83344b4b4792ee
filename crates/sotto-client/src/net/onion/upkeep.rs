//! The upkeep of an [`OnionNetwork`]: the node cache refreshed from the directory, guards
//! found and probed, paths built, and the path chosen for each request.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use sotto_crypto::{Ed25519PublicKey, OsRng};
use sotto_nodelist::{DirectoryClient, now_ms};
use sotto_onion::path::NODE_FAILURE_THRESHOLD;
use sotto_rpc::{AccountId, Request};
use sotto_swarm::NodeListing;

use super::{OnionNetwork, OnionPath, lock};
use crate::error::{NetworkError, OnionFailure};
use crate::net::cache::{self, NodeCache};
use crate::net::guards::{self, GUARD_RETRY_INTERVAL};
use crate::net::paths;
use crate::net::{
    CACHE_EXPIRY, CACHE_MIN_LIFETIME, GUARD_PROBE_TIMEOUT, Hop, MAX_GUARD_PROBES, MIN_CACHE_SIZE,
    SMALL_CACHE_REFRESH,
};

impl OnionNetwork {
    pub(super) fn save_guards(&self) {
        let Some(path) = &self.inner.config.guard_file else {
            return;
        };
        let guards = {
            let mut state = lock(&self.inner.state);
            if !state.guards_dirty {
                return;
            }
            state.guards_dirty = false;
            state.guards.clone()
        };
        if let Err(e) = guards.save(path, &self.inner.directory_key) {
            tracing::warn!(file = %path.display(), error = %e, "cannot save the guards");
        }
    }

    pub(super) fn save_cache(&self) {
        if let Some(path) = &self.inner.config.cache_file {
            let cache = lock(&self.inner.state).cache.clone();
            if let Err(e) = cache.save(path, &self.inner.directory_key) {
                tracing::warn!(file = %path.display(), error = %e, "cannot save the node cache");
            }
        }
    }

    /// Refreshes the node cache from the directory unless it was refreshed less than
    /// [`CACHE_MIN_LIFETIME`] ago. Keeps the old cache when the directory fails.
    pub(super) async fn refresh_cache(&self) -> Result<(), NetworkError> {
        if lock(&self.inner.state).refreshed.elapsed() < CACHE_MIN_LIFETIME {
            return Ok(());
        }
        let fresh = fetch(&self.inner.directory).await;
        let mut state = lock(&self.inner.state);
        state.refreshed = Instant::now();
        let fresh = fresh?;
        if state.cache.is_newer_than(&fresh) {
            tracing::warn!(
                held = state.cache.height,
                offered = fresh.height,
                "refused a node list older than the one held"
            );
            return Err(OnionFailure::StaleNodeList.into());
        }
        tracing::debug!(nodes = fresh.nodes.len(), "node cache refreshed");
        // The directory lists the nodes that prove their uptime: strikes start over.
        state.strikes.clear();
        let listed: HashSet<Ed25519PublicKey> = fresh
            .nodes
            .iter()
            .map(NodeListing::pubkey_ed25519)
            .collect();
        for (key, why) in state.guards.prune(&fresh, &HashSet::new(), now_ms()) {
            tracing::trace!(guard = %hex::encode(key.as_bytes().get(..4).unwrap_or_default()), ?why, "guard dropped");
            state.guards_dirty = true;
        }
        state
            .paths
            .retain(|p| p.nodes.iter().all(|n| listed.contains(&n.pubkey_ed25519())));
        state.cache = fresh;
        drop(state);
        self.save_cache();
        Ok(())
    }

    /// Brings the cache, guards and paths up to the configuration: refreshes a stale cache,
    /// probes set-aside guards that are due, replaces guards that must go, builds missing paths.
    ///
    /// # Errors
    /// When not a single path exists afterwards.
    pub(super) async fn upkeep(&self) -> Result<(), NetworkError> {
        let _serial = self.inner.upkeep.lock().await;
        let config = &self.inner.config;
        let stale = {
            let state = lock(&self.inner.state);
            let now = now_ms();
            let enough = state.guards.len() >= config.guards
                && state.paths.len() >= config.paths
                && state.guards.due_for_retry(now).is_empty()
                && state.guards.dead(now).is_empty();
            if enough && !cache_needs_refresh(&state.cache, now) {
                return Ok(());
            }
            cache_needs_refresh(&state.cache, now)
        };
        if stale && let Err(e) = self.refresh_cache().await {
            tracing::info!(error = %e, "node cache refresh failed");
        }
        for round in 0..2 {
            self.find_guards(round > 0).await;
            self.build_paths();
            let done = {
                let state = lock(&self.inner.state);
                state.guards.len() >= config.guards && state.paths.len() >= config.paths
            };
            if done {
                break;
            }
            if round == 0
                && let Err(e) = self.refresh_cache().await
            {
                tracing::info!(error = %e, "node cache refresh failed");
            }
        }
        self.save_guards();
        let state = lock(&self.inner.state);
        match (state.guards.usable().is_empty(), state.paths.is_empty()) {
            (true, _) if state.guards.len() > 0 => Err(NetworkError::NoPath(format!(
                "none of your {} guard nodes answers; a guard is replaced once it has failed \
                 for an hour (at most {} new guards a day)",
                state.guards.len(),
                config.guards + guards::GUARD_REPLACEMENTS
            ))),
            (true, _) => Err(OnionFailure::NoGuard {
                listed: state.cache.nodes.len(),
                directory: self.inner.directory.addr(),
            }
            .into()),
            (false, true) => Err(NetworkError::Unavailable(
                "cannot build an onion path: too few nodes for the configured hops and spread rule",
            )),
            _ => Ok(()),
        }
    }

    /// Probes the set-aside guards that are due, drops guards that must go (unlisted,
    /// expired, in the user's own swarm), and probes candidates to fill the set or replace a
    /// dead guard, within the replacement rate limit. `force` searches even when the last
    /// search found nobody less than [`GUARD_RETRY_INTERVAL`] ago.
    async fn find_guards(&self, force: bool) {
        let want = self.inner.config.guards;
        let avoid_swarms = self.inner.config.avoid_swarms;
        let due = {
            let state = lock(&self.inner.state);
            if state.guards.usable().is_empty() {
                // Nothing works: every set-aside guard is tried again at once.
                state.guards.due_for_retry(u64::MAX)
            } else {
                state.guards.due_for_retry(now_ms())
            }
        };
        for guard in due {
            let up = self.probe(&guard).await;
            let mut state = lock(&self.inner.state);
            let key = guard.pubkey_ed25519();
            if up {
                state.guards.record_success(&key);
                state.strikes.remove(&key);
            } else {
                state.guards.record_failure(&key, now_ms());
            }
            state.guards_dirty = true;
        }
        let (candidates, mut dead) = {
            let mut state = lock(&self.inner.state);
            let own = state.own_swarm(avoid_swarms);
            let now = now_ms();
            let cache = state.cache.clone();
            for (key, why) in state.guards.prune(&cache, &own, now) {
                tracing::trace!(guard = %hex::encode(key.as_bytes().get(..4).unwrap_or_default()), ?why, "guard dropped");
                state.guards_dirty = true;
                state
                    .paths
                    .retain(|p| p.nodes.first().is_none_or(|g| g.pubkey_ed25519() != key));
            }
            let dead = state.guards.dead(now);
            let missing = want.saturating_sub(state.guards.len());
            let recently_failed = state
                .failed_search
                .is_some_and(|t| t.elapsed() < GUARD_RETRY_INTERVAL);
            if missing + dead.len() == 0 || (recently_failed && !force) {
                return;
            }
            if !state.guards.may_add(want, now) {
                let wait_s = state
                    .guards
                    .next_addition_ms(want, now)
                    .map_or(0, |t| t.saturating_sub(now) / 1000);
                tracing::debug!(
                    guards = state.guards.len(),
                    wait_s,
                    "no new guard: the replacement limit is reached"
                );
                return;
            }
            let mut exclude = state.bad();
            exclude.extend(state.guards.all().iter().map(|g| g.node.pubkey_ed25519()));
            exclude.extend(own);
            // Candidates in the swarm of a guard last: guards in distinct swarms mean no one
            // target swarm holds them all.
            let guard_swarms: HashSet<_> = state
                .guards
                .all()
                .iter()
                .map(|g| g.node.swarm_id())
                .collect();
            let mut rng = OsRng;
            let mut candidates: Vec<NodeListing> =
                paths::shuffled(&state.cache.nodes, &exclude, &mut rng)
                    .into_iter()
                    .take(MAX_GUARD_PROBES)
                    .cloned()
                    .collect();
            candidates.sort_by_key(|c| guard_swarms.contains(&c.swarm_id()));
            (candidates, dead)
        };
        let mut found = false;
        for candidate in candidates {
            let done = {
                let state = lock(&self.inner.state);
                (state.guards.len() >= want && dead.is_empty())
                    || !state.guards.may_add(want, now_ms())
            };
            if done {
                break;
            }
            if self.probe(&candidate).await {
                tracing::trace!(guard = %Hop::of(&candidate), "guard picked");
                found = true;
                let mut state = lock(&self.inner.state);
                if state.guards.len() >= want
                    && let Some(old) = dead.pop()
                {
                    state.guards.remove(&old);
                    state
                        .paths
                        .retain(|p| p.nodes.first().is_none_or(|g| g.pubkey_ed25519() != old));
                }
                state.guards.add(candidate, now_ms(), &mut OsRng);
                state.guards_dirty = true;
            } else {
                let mut state = lock(&self.inner.state);
                state
                    .strikes
                    .insert(candidate.pubkey_ed25519(), NODE_FAILURE_THRESHOLD);
            }
        }
        lock(&self.inner.state).failed_search = (!found).then(Instant::now);
    }

    /// Whether `node` answers a direct, pinned `info` call (any HTTP answer counts).
    pub(super) async fn probe(&self, node: &NodeListing) -> bool {
        self.inner
            .http
            .post(
                SocketAddr::V4(node.https_addr()),
                &node.pubkey_ed25519(),
                "/storage_rpc/v1",
                &[("content-type", "application/json")],
                Request::Info.to_http_body(),
                GUARD_PROBE_TIMEOUT,
            )
            .await
            .is_ok()
    }

    /// Builds paths until there are enough (or the cache cannot make more), on the usable
    /// guards, outside the user's own swarm.
    fn build_paths(&self) {
        let config = &self.inner.config;
        let mut state = lock(&self.inner.state);
        let mut rng = OsRng;
        let mut tries = 0;
        let guards: Vec<NodeListing> = state.guards.usable().into_iter().cloned().collect();
        let own = state.own_swarm(config.avoid_swarms);
        while state.paths.len() < config.paths && !guards.is_empty() && tries < config.paths * 2 {
            tries += 1;
            // The guard with the fewest paths; a failed try moves on to the next one.
            let Some(guard) = guards
                .iter()
                .enumerate()
                .min_by_key(|(i, g)| {
                    let uses = state
                        .paths
                        .iter()
                        .filter(|p| p.nodes.first() == Some(*g))
                        .count();
                    (uses, (i + tries) % guards.len())
                })
                .map(|(_, g)| g.clone())
            else {
                break;
            };
            let mut exclude = state.bad();
            exclude.extend(own.iter().copied());
            // Other paths' nodes and the other guards only when nothing else fits.
            let mut avoid = state.in_paths();
            avoid.extend(state.guards.all().iter().map(|g| g.node.pubkey_ed25519()));
            let Some(nodes) = paths::pick_path(
                &guard,
                &state.cache.nodes,
                config.hops,
                config.spread,
                &exclude,
                &avoid,
                &mut rng,
            ) else {
                continue;
            };
            let id = state.next_path_id;
            state.next_path_id += 1;
            let addrs: Vec<SocketAddr> = nodes.iter().map(|n| Hop::of(n).addr).collect();
            tracing::trace!(path = ?addrs, "path built");
            state.paths.push(OnionPath {
                id,
                nodes,
                failures: 0,
            });
        }
    }

    /// The path for a request to `target` of `account`: a kept path that avoids the target,
    /// its swarm, the user's own swarm and the nodes the spread rule puts too close to the
    /// target (fewest strikes, taken in turn), else a one-off path from a usable guard that
    /// does.
    ///
    /// # Errors
    /// [`NetworkError::NoPath`] when no path can: never a path through the target.
    /// A server target (`None`) only keeps the user's own swarm off the path.
    pub(super) fn choose_path(
        &self,
        target: Option<(&NodeListing, AccountId)>,
    ) -> Result<OnionPath, NetworkError> {
        let config = &self.inner.config;
        let mut state = lock(&self.inner.state);
        state.turn = state.turn.wrapping_add(1);
        let turn = state.turn;
        let mut exclude = state.bad();
        let mut swarms = state.own_swarm(config.avoid_swarms);
        if let Some((target, account)) = target {
            if config.avoid_swarms {
                swarms.extend(
                    state
                        .cache
                        .swarm_for(account.key())
                        .into_iter()
                        .map(NodeListing::pubkey_ed25519),
                );
            }
            exclude.extend(paths::excluded_for_target(
                &state.cache.nodes,
                target.pubkey_ed25519(),
                target.public_ip(),
                config.spread,
                std::iter::empty(),
            ));
        }
        exclude.extend(swarms);
        let guards: Vec<NodeListing> = state.guards.usable().into_iter().cloned().collect();
        let usable: Vec<&OnionPath> = state
            .paths
            .iter()
            .filter(|p| paths::allowed(&p.nodes, &exclude))
            .filter(|p| p.nodes.first().is_some_and(|g| guards.contains(g)))
            .collect();
        if let Some(least) = usable.iter().map(|p| p.failures).min() {
            let best: Vec<&&OnionPath> = usable.iter().filter(|p| p.failures == least).collect();
            if let Some(path) = best.get(turn % best.len().max(1)) {
                return Ok((**path).clone());
            }
        }
        let mut rng = OsRng;
        let avoid = HashSet::new();
        let one_off = guards.iter().find_map(|g| {
            paths::pick_path(
                g,
                &state.cache.nodes,
                config.hops,
                config.spread,
                &exclude,
                &avoid,
                &mut rng,
            )
        });
        match one_off {
            Some(nodes) => Ok(OnionPath {
                id: 0,
                nodes,
                failures: 0,
            }),
            None if guards.is_empty() => Err(NetworkError::NoPath(
                "every guard node is unreachable".to_owned(),
            )),
            None => Err(NetworkError::NoPath(format!(
                "no path from your {} usable guard(s) avoids the target, its swarm, your own \
                 swarm and the nodes too close to the target ({:?})",
                guards.len(),
                config.spread
            ))),
        }
    }
}

/// Whether the cache should be fetched again.
pub(super) fn cache_needs_refresh(cache: &NodeCache, now_ms: u64) -> bool {
    let age = Duration::from_millis(now_ms.saturating_sub(cache.fetched_ms));
    cache.nodes.is_empty()
        || age >= CACHE_EXPIRY
        || (cache.nodes.len() < MIN_CACHE_SIZE && age >= SMALL_CACHE_REFRESH)
}

/// Fetches and verifies the node list.
pub(super) async fn fetch(directory: &DirectoryClient) -> Result<NodeCache, NetworkError> {
    let list = directory
        .fetch_nodes()
        .await
        .map_err(|source| OnionFailure::Directory {
            directory: directory.addr(),
            source,
        })?;
    let nodes: Vec<NodeListing> = list.nodes.into_iter().take(cache::MAX_NODES).collect();
    if nodes.is_empty() {
        return Err(OnionFailure::EmptyNodeList {
            directory: directory.addr(),
        }
        .into());
    }
    Ok(NodeCache::new(nodes, now_ms()).with_height(list.height))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_or_old_caches_are_refreshed() {
        use std::net::Ipv4Addr;
        let node = |i| cache::tests::listing(Ipv4Addr::new(10, 0, 0, i), 1);
        let now = 10 * 3600 * 1000;
        let small = NodeCache::new((1..=3).map(node).collect(), now);
        assert!(!cache_needs_refresh(&small, now + 1000));
        assert!(cache_needs_refresh(&small, now + 61_000));
        let big = NodeCache::new((1..=20).map(node).collect(), now);
        assert!(!cache_needs_refresh(&big, now + 3_600_000));
        assert!(cache_needs_refresh(&big, now + 7_200_000));
        assert!(cache_needs_refresh(&NodeCache::new(Vec::new(), now), now));
    }
}
