//! Failed attempts: what the guard or a hop answered, read for the failure policy
//! (`sotto_onion::path::handle_error`), and the policy's verdict applied to strikes, paths and
//! the node cache. Also the 421 rule: a hint to fetch the signed list again, nothing more.

use std::time::Instant;

use sotto_crypto::{Ed25519PublicKey, OsRng};
use sotto_onion::path::{
    NODE_FAILURE_THRESHOLD, PathAction, PathNode, PathState, Reply, RequestAction, RequestInfo,
    RetryReason, SwarmInfo, handle_error,
};
use sotto_rpc::AccountId;
use sotto_rpc::response::SwarmNode;
use sotto_swarm::NodeListing;
use sotto_transport::TransportError;

use super::{OnionNetwork, OnionPath, lock, swarm_node};
use crate::error::{NetworkError, OnionFailure};
use crate::net::paths;
use crate::net::{CACHE_MIN_LIFETIME, Hop, MAX_421_REFRESHES, MAX_ERROR_TEXT};

/// A failed attempt, as the failure policy sees it.
#[derive(Default)]
pub(super) struct Failed {
    pub(super) status: Option<u16>,
    pub(super) timeout: bool,
    pub(super) body: Option<String>,
    pub(super) decryption_failed: bool,
    /// The guard's connection failed (no HTTP answer at all).
    pub(super) connection_failed: bool,
    /// The answer came from the target itself: another path would get the same.
    pub(super) from_target: bool,
    pub(super) error: Option<TransportError>,
}

impl Failed {
    /// No HTTP answer from the guard.
    pub(super) fn no_answer(error: TransportError) -> Self {
        let timeout = matches!(error, TransportError::Timeout(_));
        Self {
            timeout,
            connection_failed: !timeout,
            error: Some(error),
            ..Self::default()
        }
    }

    /// An answer (`status`, `body`) from a hop, or from the target when `from_target`.
    pub(super) fn answer(status: u16, body: &str, from_target: bool) -> Self {
        Self {
            status: Some(status),
            timeout: !from_target && status == 504,
            body: Some(body.chars().take(MAX_ERROR_TEXT).collect()),
            from_target,
            ..Self::default()
        }
    }

    /// What the caller is told if this is the last attempt.
    pub(super) fn into_error(self, guard: Option<&NodeListing>) -> NetworkError {
        match (self.error, self.status) {
            (Some(TransportError::Timeout(_)), _) => NetworkError::Timeout,
            (Some(source), _) => OnionFailure::Guard {
                guard: guard.map(Hop::of),
                source,
            }
            .into(),
            (None, Some(status)) if self.decryption_failed => {
                OnionFailure::Undecryptable { status }.into()
            }
            (None, Some(s)) => NetworkError::Status(s),
            (None, None) => OnionFailure::InvalidTargetKey.into(),
        }
    }
}

/// A hop's error (a non-200 answer from the guard): sealed by the hop that produced it with
/// its layer key (Sotto's extension, `sotto_onion::relay_error`), which one of `hop_keys`
/// opens, or in plain text (a Session node, or an error that names no node). Either way the
/// text goes to the failure policy as the spec words it.
pub(super) fn hop_error(hop_keys: &[sotto_onion::HopKey], status: u16, body: &[u8]) -> Failed {
    match sotto_onion::relay_error::open(hop_keys, body) {
        Some((_hop, error)) => Failed::answer(error.status, &error.text, false),
        None => Failed::answer(status, &String::from_utf8_lossy(body), false),
    }
}

/// Reply prefixes naming a node the previous hop could not reach.
const UNREACHABLE: [&str; 2] = ["Next node not found: ", "Next node not reachable: "];

/// The node a hop's error names as unreachable.
pub(super) fn names_node(body: &str) -> Option<Ed25519PublicKey> {
    let line = body.lines().last()?;
    let key = UNREACHABLE.iter().find_map(|p| line.strip_prefix(p))?;
    let mut bytes = [0u8; 32];
    hex::decode_to_slice(key.trim(), &mut bytes).ok()?;
    Some(Ed25519PublicKey(bytes))
}

/// A body naming an unreachable node, in the words the failure policy knows.
pub(super) fn as_not_found(body: &str) -> String {
    match names_node(body) {
        Some(key) => format!("Next node not found: {}", hex::encode(key.as_bytes())),
        None => body.to_owned(),
    }
}

impl OnionNetwork {
    /// Runs the failure policy for a failed attempt on `path` and applies its verdict to the
    /// strikes, the path and the node cache. Returns what to do with the request.
    pub(super) fn apply_policy(
        &self,
        path: &OnionPath,
        retry: Option<RetryReason>,
        reply: &Reply<'_>,
        connection_failed: bool,
        to_node: bool,
    ) -> RequestAction {
        let config = &self.inner.config;
        let mut state = lock(&self.inner.state);
        let kept = state
            .paths
            .iter()
            .find(|p| p.id == path.id && path.id != 0)
            .cloned();
        let current = kept.as_ref().unwrap_or(path);
        let view = PathState {
            nodes: current
                .nodes
                .iter()
                .map(|n| PathNode {
                    ed25519: n.pubkey_ed25519(),
                    failures: state.strikes.get(&n.pubkey_ed25519()).copied().unwrap_or(0),
                })
                .collect(),
            failures: current.failures,
            connection_open: !connection_failed,
        };
        let mut exclude = state.bad();
        exclude.extend(state.in_paths());
        let spare = state
            .cache
            .nodes
            .iter()
            .any(|n| !exclude.contains(&n.pubkey_ed25519()));
        let request = RequestInfo {
            to_node,
            retry,
            swarm: if to_node {
                SwarmInfo::Cached { other_node: true }
            } else {
                SwarmInfo::None
            },
        };
        let outcome = handle_error(&view, &request, reply, spare);
        for (node, strikes) in current.nodes.iter().zip(&outcome.node_failures) {
            state.strikes.insert(node.pubkey_ed25519(), *strikes);
        }
        match outcome.path {
            PathAction::Keep => {
                if let Some(p) = state.paths.iter_mut().find(|p| p.id == current.id) {
                    p.failures = outcome.path_failures;
                }
            }
            PathAction::ReplaceNode { index } => {
                let mut rng = OsRng;
                let replacement = paths::pick_replacement(
                    &current.nodes,
                    index,
                    &state.cache.nodes,
                    config.spread,
                    &exclude,
                    &mut rng,
                );
                let id = current.id;
                match (replacement, state.paths.iter_mut().find(|p| p.id == id)) {
                    (Some(node), Some(p)) => {
                        if let Some(slot) = p.nodes.get_mut(index) {
                            tracing::trace!(old = %Hop::of(slot), new = %Hop::of(&node), "node replaced");
                            *slot = node;
                        }
                        p.failures = outcome.path_failures;
                    }
                    (None, _) => state.paths.retain(|p| p.id != id),
                    (Some(_), None) => {}
                }
            }
            PathAction::Drop => {
                if let Some(guard) = current.nodes.first() {
                    tracing::trace!(guard = %Hop::of(guard), "path dropped");
                }
                let id = current.id;
                state.paths.retain(|p| p.id != id);
            }
        }
        let bad: Vec<Ed25519PublicKey> = current
            .nodes
            .iter()
            .map(NodeListing::pubkey_ed25519)
            .filter(|k| state.strikes.get(k).copied().unwrap_or(0) >= NODE_FAILURE_THRESHOLD)
            .collect();
        for key in &bad {
            state.drop_node(key);
        }
        outcome.request
    }

    /// A 421 from `target`: a hint that the node list is stale, nothing more. The signed list
    /// is fetched again (at most every [`CACHE_MIN_LIFETIME`], up to [`MAX_421_REFRESHES`]
    /// times, within the request's `deadline`) and the account's swarm recomputed from it.
    ///
    /// # Errors
    /// Always: [`NetworkError::WrongSwarm`] with the recomputed swarm once the list no longer
    /// puts `target` in it, else [`NetworkError::WrongSwarmUnconfirmed`].
    pub(super) async fn wrong_swarm(
        &self,
        account: AccountId,
        target: &NodeListing,
        deadline: Instant,
    ) -> Result<String, NetworkError> {
        // Nothing on the path is to blame (the failure policy leaves a 421's path unchanged).
        let mut refreshes = 0;
        loop {
            let swarm: Vec<SwarmNode> = lock(&self.inner.state)
                .cache
                .swarm_for(account.key())
                .into_iter()
                .map(swarm_node)
                .collect();
            if !swarm.is_empty()
                && swarm
                    .iter()
                    .all(|n| n.pubkey_ed25519 != target.pubkey_ed25519())
            {
                return Err(NetworkError::WrongSwarm(swarm));
            }
            if refreshes >= MAX_421_REFRESHES {
                break;
            }
            let since = lock(&self.inner.state).refreshed.elapsed();
            let wait = CACHE_MIN_LIFETIME.saturating_sub(since);
            if Instant::now() + wait > deadline {
                break;
            }
            tokio::time::sleep(wait).await;
            refreshes += 1;
            if let Err(e) = self.refresh_cache().await {
                tracing::info!(error = %e, "node cache refresh after a 421 failed");
            }
        }
        tracing::info!(
            node = %Hop::of(target),
            refreshes,
            "a 421 the signed node list does not confirm"
        );
        Err(NetworkError::WrongSwarmUnconfirmed { refreshes })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sotto_onion::EncType;

    #[test]
    fn unreachable_node_bodies_are_read() {
        let key = [7u8; 32];
        let hexed = hex::encode(key);
        for body in [
            format!("Next node not found: {hexed}"),
            format!("Next node not reachable: {hexed}"),
            format!("502 Bad Gateway\n\nNext node not found: {hexed}"),
        ] {
            assert_eq!(names_node(&body), Some(Ed25519PublicKey(key)), "{body}");
            assert_eq!(as_not_found(&body), format!("Next node not found: {hexed}"));
        }
        assert_eq!(names_node("Next node not found: 12"), None);
        assert_eq!(names_node("Invalid ciphertext"), None);
        assert_eq!(as_not_found("Invalid ciphertext"), "Invalid ciphertext");
    }

    #[test]
    fn sealed_hop_errors_are_opened_for_the_failure_policy() {
        use sotto_onion::{HopKey, RelayError, X25519Keypair, relay_error};
        let hops: Vec<HopKey> = (0..3)
            .map(|_| {
                let node = X25519Keypair::generate(&mut OsRng);
                let eph = X25519Keypair::generate(&mut OsRng);
                HopKey::for_client(EncType::XChaCha20, &eph, node.public_key()).unwrap()
            })
            .collect();
        let key = [7u8; 32];
        let error = RelayError {
            status: 502,
            text: format!("Next node not found: {}", hex::encode(key)),
        };
        let sealed = relay_error::seal(&hops[2], &error, &mut OsRng).unwrap();
        let failed = hop_error(&hops, 502, &sealed);
        assert_eq!(failed.status, Some(502));
        let body = failed.body.unwrap();
        assert_eq!(names_node(&body), Some(Ed25519PublicKey(key)));
        assert_eq!(as_not_found(&body), error.text);
        // A plain-text error (a Session node) is read as before.
        let plain = hop_error(&hops, 502, error.text.as_bytes());
        assert_eq!(plain.body.as_deref(), Some(error.text.as_str()));
        // A sealed error no hop key opens stays opaque: it names no node.
        let foreign = hop_error(&hops[..2], 502, &sealed);
        assert_eq!(names_node(foreign.body.as_deref().unwrap()), None);
    }
}
