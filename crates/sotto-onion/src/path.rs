//! The client's path-failure policy, as a pure function: given an error reply and the failure
//! counters before it, what the counters become and what to do with the path and the request.
//!
//! It follows libsession's network error handling (`shared/spec/network.md` §4.5):
//! 400/404/406/425 penalise nothing; a timeout or 500/504 of a request proxied to a server
//! penalises nothing; a first 421 for a swarm request retries through another node of the
//! cached swarm, a second refreshes the node cache and retries once more, a third counts as a
//! failure; `Next node not found: <ed25519 hex>` marks that node bad at once and swaps it out
//! (or drops the path when it is the guard or no spare node exists); any other failure adds one
//! to the path's count, and a path reaching [`PATH_FAILURE_THRESHOLD`] is dropped, its guard
//! marked bad and every node's count raised by one. A reply that did not decrypt is retried
//! once.

use core::time::Duration;

use sotto_crypto::Ed25519PublicKey;

/// Failures after which a path is dropped.
pub const PATH_FAILURE_THRESHOLD: u8 = 3;
/// Failures after which a node is considered bad (dropped from the node cache).
pub const NODE_FAILURE_THRESHOLD: u8 = 3;

/// First retry delay; each further failure doubles it (see [`retry_delay`]).
pub const RETRY_BASE_DELAY: Duration = Duration::from_millis(100);

/// Reply prefixes that carry the Ed25519 key of a node the previous hop could not reach.
const NODE_NOT_FOUND: [&str; 2] = [
    "502 Bad Gateway\n\nNext node not found: ",
    "Next node not found: ",
];

/// Status lines some servers return as the body, with no status code.
const STATUS_LINES: [(&str, u16, bool); 5] = [
    ("400 Bad Request", 400, false),
    ("500 Internal Server Error", 500, false),
    ("502 Bad Gateway", 502, false),
    ("503 Service Unavailable", 503, false),
    ("504 Gateway Timeout", 504, true),
];

/// One node of a path with its failure count.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PathNode {
    /// The node's identity key.
    pub ed25519: Ed25519PublicKey,
    /// Its failure count before the reply.
    pub failures: u8,
}

/// A path as the policy sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PathState {
    /// Guard first.
    pub nodes: Vec<PathNode>,
    /// The path's failure count before the reply.
    pub failures: u8,
    /// Whether the connection to the guard is still open.
    pub connection_open: bool,
}

/// Why a request is being re-sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RetryReason {
    /// The previous reply did not decrypt.
    DecryptionFailure,
    /// The previous reply was a 421; now asking another node of the swarm.
    Redirect,
    /// A second 421; the node cache was refreshed before this attempt.
    RedirectSwarmRefresh,
}

/// What the client knows about the swarm of the account a request is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SwarmInfo {
    /// The request is not for an account's swarm (or its swarm key is unknown).
    None,
    /// The swarm is cached; `other_node` says whether it has a node besides the one asked.
    Cached {
        /// Another node of the swarm is available to ask.
        other_node: bool,
    },
    /// The request has a swarm key but no swarm is cached for it.
    NotCached,
}

/// The request that failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RequestInfo {
    /// A storage RPC to a node (`true`) or a request proxied to a server (`false`).
    pub to_node: bool,
    /// Why this attempt was made, if it was a retry.
    pub retry: Option<RetryReason>,
    /// The swarm it addresses.
    pub swarm: SwarmInfo,
}

/// The error reply.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Reply<'a> {
    /// HTTP-like status, if one came back.
    pub status: Option<u16>,
    /// Whether the request timed out.
    pub timeout: bool,
    /// The body, if any.
    pub body: Option<&'a str>,
    /// Whether the response failed to decrypt.
    pub decryption_failed: bool,
}

/// What happens to the path.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PathAction {
    /// Keep it, with the new counts.
    Keep,
    /// Replace the node at `index` with an unused node, keep the rest.
    ReplaceNode {
        /// Position in the path (never 0, the guard).
        index: usize,
    },
    /// Drop the path (its failure count goes with it).
    Drop,
}

/// What happens to the request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RequestAction {
    /// Give up and report to the caller: never a success.
    Report {
        /// The status to report (inferred from a status-line body when none came back).
        status: Option<u16>,
        /// Whether it counts as a timeout.
        timeout: bool,
    },
    /// Send it again.
    Retry {
        /// Why (carried by the new attempt).
        reason: RetryReason,
        /// Send it to another node of the cached swarm rather than the same destination.
        other_swarm_node: bool,
        /// Refresh the node cache (and so the swarm) first.
        refresh_node_cache: bool,
    },
}

/// The policy's answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    /// Failure counts of the path's nodes, in path order.
    pub node_failures: Vec<u8>,
    /// The path's failure count (meaningless once dropped).
    pub path_failures: u8,
    /// What to do with the path.
    pub path: PathAction,
    /// What to do with the request.
    pub request: RequestAction,
}

impl Outcome {
    fn unchanged(path: &PathState, request: RequestAction) -> Self {
        Self {
            node_failures: path.nodes.iter().map(|n| n.failures).collect(),
            path_failures: path.failures,
            path: PathAction::Keep,
            request,
        }
    }
}

/// Decides how a client reacts to an error reply on `path` for `request`.
/// `spare_node_available` says whether an unused node could replace a bad one.
#[must_use]
pub fn handle_error(
    path: &PathState,
    request: &RequestInfo,
    reply: &Reply<'_>,
    spare_node_available: bool,
) -> Outcome {
    if reply.decryption_failed && request.retry.is_none() {
        return Outcome::unchanged(path, retry(RetryReason::DecryptionFailure, false, false));
    }
    let (status, timeout) = effective_status(reply);
    let report = RequestAction::Report { status, timeout };

    if !request.to_node && timeout {
        return Outcome::unchanged(path, report);
    }
    match status {
        Some(400 | 404 | 406 | 425) => return Outcome::unchanged(path, report),
        Some(421) => {
            if let SwarmInfo::Cached { other_node } = request.swarm {
                match request.retry {
                    Some(RetryReason::Redirect) => {
                        return Outcome::unchanged(
                            path,
                            retry(RetryReason::RedirectSwarmRefresh, false, true),
                        );
                    }
                    Some(RetryReason::RedirectSwarmRefresh) => {}
                    _ if other_node => {
                        return Outcome::unchanged(path, retry(RetryReason::Redirect, true, false));
                    }
                    _ => {}
                }
            }
        }
        Some(500 | 504) if !request.to_node => return Outcome::unchanged(path, report),
        _ => {}
    }

    let mut counts: Vec<u8> = path.nodes.iter().map(|n| n.failures).collect();
    let mut path_failures = path.failures;
    let mut action = PathAction::Keep;

    let bad_node = reply
        .body
        .and_then(node_not_found)
        .and_then(|key| path.nodes.iter().position(|n| n.ed25519 == key));
    if let Some(index) = bad_node {
        if let Some(count) = counts.get_mut(index) {
            *count = (*count).max(NODE_FAILURE_THRESHOLD);
        }
        if index > 0 && spare_node_available {
            action = PathAction::ReplaceNode { index };
        } else {
            path_failures = path_failures.max(PATH_FAILURE_THRESHOLD);
            action = PathAction::Drop;
        }
    }
    if bad_node.is_none() || !path.connection_open {
        path_failures = path_failures.saturating_add(1);
        if path_failures >= PATH_FAILURE_THRESHOLD {
            for count in &mut counts {
                *count = count.saturating_add(1);
            }
            if let Some(guard) = counts.first_mut() {
                *guard = (*guard).max(NODE_FAILURE_THRESHOLD);
            }
            action = PathAction::Drop;
        } else if path.nodes.len() < 3 {
            // A short path is one still being built: the guard is the likely culprit.
            if let Some(guard) = counts.first_mut() {
                *guard = guard.saturating_add(1);
            }
        }
    }
    Outcome {
        node_failures: counts,
        path_failures,
        path: action,
        request: report,
    }
}

/// How long to wait before retrying after `failures` failed attempts:
/// `min(max, 100 ms · 2^failures)`.
#[must_use]
pub fn retry_delay(failures: u32, max: Duration) -> Duration {
    let factor = 1u32.checked_shl(failures).unwrap_or(u32::MAX);
    RETRY_BASE_DELAY.saturating_mul(factor).min(max)
}

fn retry(reason: RetryReason, other_swarm_node: bool, refresh_node_cache: bool) -> RequestAction {
    RequestAction::Retry {
        reason,
        other_swarm_node,
        refresh_node_cache,
    }
}

/// The status and timeout flag, reading a status line from the body when no status came.
fn effective_status(reply: &Reply<'_>) -> (Option<u16>, bool) {
    if let (None, Some(body)) = (reply.status, reply.body)
        && let Some((_, code, timeout)) = STATUS_LINES.iter().find(|(l, ..)| body.starts_with(l))
    {
        return (Some(*code), reply.timeout || *timeout);
    }
    (reply.status, reply.timeout)
}

/// The node named by a "Next node not found" body.
fn node_not_found(body: &str) -> Option<Ed25519PublicKey> {
    let hex_key = NODE_NOT_FOUND.iter().find_map(|p| body.strip_prefix(p))?;
    let mut key = [0u8; 32];
    hex::decode_to_slice(hex_key, &mut key).ok()?;
    Some(Ed25519PublicKey(key))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path(failures: u8, open: bool) -> PathState {
        PathState {
            nodes: (1..=3)
                .map(|i| PathNode {
                    ed25519: Ed25519PublicKey([i; 32]),
                    failures: 0,
                })
                .collect(),
            failures,
            connection_open: open,
        }
    }

    const NODE_REQ: RequestInfo = RequestInfo {
        to_node: true,
        retry: None,
        swarm: SwarmInfo::Cached { other_node: true },
    };

    fn reply(status: Option<u16>, body: Option<&str>) -> Reply<'_> {
        Reply {
            status,
            timeout: false,
            body,
            decryption_failed: false,
        }
    }

    #[test]
    fn redirect_sequence() {
        let p = path(0, true);
        let r = reply(Some(421), None);
        let first = handle_error(&p, &NODE_REQ, &r, false);
        assert_eq!(first.request, retry(RetryReason::Redirect, true, false));
        let second = RequestInfo {
            retry: Some(RetryReason::Redirect),
            ..NODE_REQ
        };
        assert_eq!(
            handle_error(&p, &second, &r, false).request,
            retry(RetryReason::RedirectSwarmRefresh, false, true)
        );
        let third = RequestInfo {
            retry: Some(RetryReason::RedirectSwarmRefresh),
            ..NODE_REQ
        };
        let out = handle_error(&p, &third, &r, false);
        assert_eq!(out.path_failures, 1);
        assert!(matches!(
            out.request,
            RequestAction::Report {
                status: Some(421),
                ..
            }
        ));
    }

    #[test]
    fn decryption_failure_is_retried_once() {
        let p = path(0, true);
        let r = Reply {
            decryption_failed: true,
            ..reply(Some(200), None)
        };
        assert_eq!(
            handle_error(&p, &NODE_REQ, &r, false).request,
            retry(RetryReason::DecryptionFailure, false, false)
        );
        let again = RequestInfo {
            retry: Some(RetryReason::DecryptionFailure),
            ..NODE_REQ
        };
        assert_eq!(handle_error(&p, &again, &r, false).path_failures, 1);
    }

    #[test]
    fn server_side_failures_spare_the_path() {
        let p = path(0, true);
        let server = RequestInfo {
            to_node: false,
            retry: None,
            swarm: SwarmInfo::None,
        };
        for r in [
            reply(Some(500), None),
            reply(Some(504), None),
            reply(None, Some("500 Internal Server Error")),
            Reply {
                timeout: true,
                ..reply(None, None)
            },
        ] {
            assert_eq!(
                handle_error(&p, &server, &r, false).path_failures,
                0,
                "{r:?}"
            );
        }
        let out = handle_error(
            &p,
            &server,
            &reply(None, Some("504 Gateway Timeout")),
            false,
        );
        assert_eq!(
            out.request,
            RequestAction::Report {
                status: Some(504),
                timeout: true
            }
        );
    }

    #[test]
    fn bad_guard_or_no_spare_drops_the_path() {
        let p = path(0, true);
        let guard = format!("Next node not found: {}", hex::encode([1u8; 32]));
        let out = handle_error(&p, &NODE_REQ, &reply(Some(502), Some(&guard)), true);
        assert_eq!((out.path, out.node_failures[0]), (PathAction::Drop, 3));
        let middle = format!(
            "502 Bad Gateway\n\nNext node not found: {}",
            hex::encode([2u8; 32])
        );
        let out = handle_error(&p, &NODE_REQ, &reply(Some(502), Some(&middle)), false);
        assert_eq!(out.path, PathAction::Drop);
        let out = handle_error(&p, &NODE_REQ, &reply(Some(502), Some(&middle)), true);
        assert_eq!(out.path, PathAction::ReplaceNode { index: 1 });
        assert_eq!(out.path_failures, 0);
        let unknown = format!("Next node not found: {}", hex::encode([9u8; 32]));
        let out = handle_error(&p, &NODE_REQ, &reply(Some(502), Some(&unknown)), true);
        assert_eq!((out.path, out.path_failures), (PathAction::Keep, 1));
    }

    #[test]
    fn retry_delay_doubles_up_to_the_cap() {
        let max = Duration::from_secs(5);
        assert_eq!(retry_delay(0, max), Duration::from_millis(100));
        assert_eq!(retry_delay(3, max), Duration::from_millis(800));
        assert_eq!(retry_delay(6, max), max);
        assert_eq!(retry_delay(200, max), max);
    }

    #[test]
    fn short_paths_blame_the_guard() {
        let mut p = path(0, true);
        p.nodes.truncate(1);
        let out = handle_error(&p, &NODE_REQ, &reply(Some(503), None), false);
        assert_eq!(out.node_failures, vec![1]);
    }
}
