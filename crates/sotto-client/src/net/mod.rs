//! The real network: every storage RPC through a three-hop onion path (spec
//! `shared/spec/network.md` §4.3–§4.5, §5).
//!
//! * **Bootstrap.** The node list comes from the directory named in the [`NetworkFile`],
//!   verified against its key (`sotto_nodelist::DirectoryClient::fetch_nodes`), and is kept
//!   as the node cache (optionally persisted, see [`OnionConfig::cache_file`]). The cache is
//!   refreshed when it is older than [`CACHE_EXPIRY`], when it holds fewer than
//!   [`MIN_CACHE_SIZE`] nodes and is older than [`SMALL_CACHE_REFRESH`], when no guard or path
//!   can be built from it, and on a 421; never more often than every [`CACHE_MIN_LIFETIME`].
//! * **Guards.** [`OnionConfig::guards`] nodes, each checked reachable (a direct pinned `info`
//!   call) before use, kept for weeks and persisted per profile ([`OnionConfig::guard_file`]):
//!   the rules of their rotation are in [`guards`]. A guard that cannot be reached is set aside
//!   (no new path starts there) and probed again later; it is replaced only when it stays
//!   unreachable for an hour, leaves the signed list or reaches the end of its lifetime, and
//!   replacements are rate-limited.
//! * **Paths.** [`OnionConfig::paths`] paths of [`OnionConfig::hops`] nodes, guard first, each
//!   new path on the guard with the fewest; nodes of a path respect [`SpreadRule`]; paths avoid
//!   each other's nodes and the other guards when the cache allows. No hop of a request's path
//!   is the target, a member of the target's swarm or of the user's own swarm
//!   ([`OnionConfig::avoid_swarms`]), or a node the spread rule puts too close to the target
//!   (its /24 by default): a kept path that breaks this is not used for that request, a one-off
//!   path from a kept guard is built instead, and when none can be built the request fails
//!   ([`crate::NetworkError::NoPath`]); it never goes through the target.
//! * **Requests.** The RPC is wrapped for the target (`sotto_onion::build`, xchacha20) and
//!   POSTed to the guard's `/onion_req/v2` over HTTPS pinned to the guard's Ed25519 key; the v3
//!   reply is opened with the response key and parsed with `sotto-rpc`.
//! * **Failures.** Every failed attempt goes through `sotto_onion::path::handle_error`: strikes
//!   on nodes and paths, a path dropped or a node replaced, a node reaching the strike threshold
//!   kept out of every path until the list is fetched again (a guard is only set aside). A failure of the path (no answer, a hop's plaintext error, an
//!   undecryptable reply) is retried on another path while the request timeout allows; an
//!   answer of the target itself is returned. A hop reporting `Next node not reachable: <key>`
//!   is treated like libsession's "Next node not found" (the node is struck out at once); when
//!   the unreachable node is the target itself, nothing on the path is blamed and the request
//!   fails at once (the caller picks another swarm member).
//! * **421.** Only a hint that the node list is stale: the body (the swarm the node names) is
//!   never used. The signed list is fetched again (at most every [`CACHE_MIN_LIFETIME`], up
//!   to [`MAX_421_REFRESHES`] times) and the account's swarm recomputed from it; when the
//!   target is no longer in it, the request returns [`crate::NetworkError::WrongSwarm`] with
//!   the recomputed swarm, else it fails with [`crate::NetworkError::WrongSwarmUnconfirmed`].
//! * **Only signed nodes.** Every node used, as a hop or as a target, comes from the signed
//!   list (its X25519 key derived from its Ed25519 key): a target the list does not hold is
//!   refused ([`crate::NetworkError::UnlistedNode`]), and its keys and address are taken from
//!   the list, not from the caller.
//! * **Traces.** Each attempt is recorded (method, path, target, status, elapsed, attempt) in a
//!   buffer of [`MAX_TRACES`], oldest dropped; [`OnionNetwork::take_traces`] drains it.

mod cache;
mod file;
pub mod guards;
mod onion;
mod paths;
pub(crate) mod server;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use sotto_swarm::NodeListing;

pub use cache::{CacheFileError, NodeCache};
pub use file::{FileServerEntry, NetworkFile, NetworkFileError};
pub use onion::OnionNetwork;
pub use server::{OnionServer, ServerUrlError};

/// A node cache older than this is refreshed (spec §4.5: 2 h).
pub const CACHE_EXPIRY: Duration = Duration::from_secs(2 * 3600);
/// A node cache smaller than this is refreshed every [`SMALL_CACHE_REFRESH`] (spec §4.5: 12).
pub const MIN_CACHE_SIZE: usize = 12;
/// How often a cache below [`MIN_CACHE_SIZE`] is refreshed.
pub const SMALL_CACHE_REFRESH: Duration = Duration::from_secs(60);
/// The node cache is never refreshed more often than this (spec §4.5: 2 s).
pub const CACHE_MIN_LIFETIME: Duration = Duration::from_secs(2);
/// How many times one 421 makes the client fetch the signed list again before it gives up.
pub const MAX_421_REFRESHES: u32 = 3;
/// How many traces are kept until [`OnionNetwork::take_traces`] drains them.
pub const MAX_TRACES: usize = 256;
/// How long a guard has to answer its reachability check.
pub const GUARD_PROBE_TIMEOUT: Duration = Duration::from_secs(3);
/// The most attempts of one request.
pub const MAX_ATTEMPTS: u32 = 6;
/// The most guard candidates probed in one round (libsession's path build retry limit).
pub(crate) const MAX_GUARD_PROBES: usize = 10;
/// The longest body of a hop's plaintext error kept for the failure policy.
pub(crate) const MAX_ERROR_TEXT: usize = 512;

/// How the nodes of one path must differ from each other and from the request's target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum SpreadRule {
    /// No two nodes share an IP address (what a loopback testnet, all in one /24, needs).
    DistinctAddress,
    /// No two nodes share an IPv4 /24 subnet (the default, as libsession).
    #[default]
    DistinctSubnet24,
    /// No constraint beyond distinct nodes.
    Any,
}

/// How [`OnionNetwork`] builds and uses its paths.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OnionConfig {
    /// How many guard nodes (first hops) to keep.
    pub guards: usize,
    /// How many paths to keep built.
    pub paths: usize,
    /// Nodes per path, guard first.
    pub hops: usize,
    /// How the nodes of a path must differ, from each other and from the target. A network
    /// file that sets `spread` (a loopback testnet does) overrides this.
    pub spread: SpreadRule,
    /// Keep every hop out of the target's swarm and the user's own swarm. On by default; a
    /// network file that sets `avoid_swarms` (a loopback testnet with one swarm sets `false`)
    /// overrides this.
    pub avoid_swarms: bool,
    /// The time a request may take, retries included.
    pub request_timeout: Duration,
    /// Where to persist the node cache (written with mode 0600), if anywhere.
    pub cache_file: Option<PathBuf>,
    /// Where to persist the guards (written with mode 0600), if anywhere: one file per
    /// profile, so that every run of a profile uses the same guards.
    pub guard_file: Option<PathBuf>,
    /// Pad every request to a fixed size bucket (`sotto_onion::Padding::SizeBuckets`, a
    /// Sotto extension that Session nodes ignore), so that colluding hops cannot match a
    /// request by its size. Off by default: it costs bytes (see `cargo xtask bench onion`).
    pub size_buckets: bool,
}

impl Default for OnionConfig {
    fn default() -> Self {
        Self {
            guards: 2,
            paths: 2,
            hops: 3,
            spread: SpreadRule::default(),
            avoid_swarms: true,
            request_timeout: Duration::from_secs(10),
            cache_file: None,
            guard_file: None,
            size_buckets: false,
        }
    }
}

/// One node as shown to users: its key and address. Serializes as
/// `{"ed25519": hex, "addr": "ip:port"}`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
pub struct Hop {
    /// Its Ed25519 key, hex.
    pub ed25519: String,
    /// Its HTTPS address.
    pub addr: SocketAddr,
}

/// One request as it went over the network. Serializes with these field names (what
/// `sotto --json` prints).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Trace {
    /// The RPC: `"store"`, `"retrieve"`, `"get_swarm"`.
    pub method: &'static str,
    /// The path it took: guard, middle, exit.
    pub path: Vec<Hop>,
    /// The node that served it.
    pub target: Hop,
    /// The status of the answer; `None` when none came (timeout, transport).
    pub status: Option<u16>,
    /// How long it took, in milliseconds.
    pub elapsed_ms: u64,
    /// 1 for the first try, 2 and up for retries.
    pub attempt: u32,
}

impl Hop {
    pub(crate) fn of(node: &NodeListing) -> Self {
        Self {
            ed25519: hex::encode(node.pubkey_ed25519().as_bytes()),
            addr: SocketAddr::V4(node.https_addr()),
        }
    }
}

impl core::fmt::Display for Hop {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(
            f,
            "{} ({})",
            self.addr,
            self.ed25519.get(..8).unwrap_or(&self.ed25519)
        )
    }
}
