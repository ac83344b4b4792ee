//! The directory's state machine: registered nodes, the active set, epochs and swarms. No I/O:
//! every call that depends on time takes `now_ms` (Unix milliseconds).

use std::collections::{BTreeMap, BTreeSet};
use std::net::{Ipv4Addr, SocketAddr};

use serde::{Deserialize, Serialize};
use sotto_crypto::{Ed25519PublicKey, blake2b_32};
use sotto_swarm::{
    INVALID_SWARM_ID, NodeListing, NodeVersion, SwarmId, assign_swarms, seed_from_block_hash,
};
use thiserror::Error;

use sotto_nodelist::{Ack, AnnounceError, NodeList, Proof, Registration, bencode_bytes, key_hex};

/// How far a registration's or proof's timestamp may be from the directory's clock.
pub const MAX_CLOCK_SKEW_MS: u64 = 60_000;

/// A decommissioned node is forgotten after this many `decommission_after` periods without a
/// proof; it must then register again.
pub const FORGET_AFTER_PERIODS: u64 = 10;

/// Who may join.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Admission {
    /// Only the nodes the allowlist names (the default; an empty allowlist admits no one).
    #[default]
    Allowlist,
    /// Any node, within [`Limits`]; allowlisted nodes are still admitted above the limits.
    Open,
}

/// Bounds on the registered nodes that are not on the allowlist.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// The most registered nodes (active or not).
    pub max_nodes: usize,
    /// The most registered nodes announcing one IPv4 address.
    pub max_nodes_per_ip: usize,
    /// The most registered nodes announcing addresses in one /24.
    pub max_nodes_per_subnet: usize,
}

impl Limits {
    /// No bound at all.
    pub const NONE: Self = Self {
        max_nodes: usize::MAX,
        max_nodes_per_ip: usize::MAX,
        max_nodes_per_subnet: usize::MAX,
    };
}

/// The directory's policy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Policy {
    /// A node with no proof for this long leaves the active set.
    pub decommission_after_ms: u64,
    /// Who may join.
    pub admission: Admission,
    /// Nodes always admitted, whatever the limits; under [`Admission::Allowlist`], the only ones.
    pub allowlist: BTreeSet<Ed25519PublicKey>,
    /// Caps on the other nodes.
    pub limits: Limits,
    /// The shortest time between two epochs; changes of the active set in between wait for the
    /// next epoch, together. 0: every change is an epoch at once.
    pub min_epoch_interval_ms: u64,
}

impl Policy {
    fn allows(&self, key: &Ed25519PublicKey) -> Result<(), DirectoryError> {
        if self.admission == Admission::Open || self.allowlist.contains(key) {
            Ok(())
        } else if self.allowlist.is_empty() {
            Err(DirectoryError::NoAdmission)
        } else {
            Err(DirectoryError::NotAllowed {
                key: short_key(key),
            })
        }
    }
}

/// Why the directory refused an announcement. [`DirectoryError::status`] gives the HTTP status.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum DirectoryError {
    /// The body is malformed or its signature does not verify.
    #[error(transparent)]
    Announce(#[from] AnnounceError),
    /// The timestamp is more than [`MAX_CLOCK_SKEW_MS`] away from the directory's clock.
    #[error("timestamp {timestamp_ms} is more than 60 s from the directory's clock ({now_ms})")]
    ClockSkew {
        /// The announcement's timestamp.
        timestamp_ms: u64,
        /// The directory's clock.
        now_ms: u64,
    },
    /// The timestamp is not newer than the last one accepted from this node (a replay).
    #[error("timestamp {timestamp_ms} is not newer than the last one accepted ({last_ms})")]
    Replayed {
        /// The announcement's timestamp.
        timestamp_ms: u64,
        /// The last accepted timestamp of the same kind.
        last_ms: u64,
    },
    /// The allowlist does not name this node.
    #[error("node {key} is not in the directory's allowlist")]
    NotAllowed {
        /// The node's key, shortened.
        key: String,
    },
    /// Admission is by allowlist (the default) and the allowlist is empty.
    #[error(
        "this directory admits no nodes: its allowlist is empty; the operator must list node \
         keys in `allowlist`, or set `admission = \"open\"`"
    )]
    NoAdmission,
    /// As many nodes as allowed already announce this IPv4 address.
    #[error(
        "{ip} already has {limit} registered node(s), the most the directory accepts per address"
    )]
    AddressFull {
        /// The announced address.
        ip: Ipv4Addr,
        /// The cap.
        limit: usize,
    },
    /// As many nodes as allowed already announce addresses in this /24.
    #[error(
        "{subnet}/24 already has {limit} registered nodes, the most the directory accepts per /24"
    )]
    SubnetFull {
        /// The network address of the /24.
        subnet: Ipv4Addr,
        /// The cap.
        limit: usize,
    },
    /// The directory holds as many nodes as it accepts.
    #[error("the directory already has {limit} registered nodes, the most it accepts")]
    ListFull {
        /// The cap.
        limit: usize,
    },
    /// The announced address did not answer as the node (pinned to its key) with a ping.
    #[error("the announced address {addr} did not answer as this node: {reason}")]
    Unreachable {
        /// The announced address.
        addr: SocketAddr,
        /// What happened.
        reason: Unreachable,
    },
    /// Too many requests from this address or its /24; retry later.
    #[error("too many requests from this address; retry later")]
    RateLimited,
    /// Too many address checks under way; retry later.
    #[error("the directory is busy checking other nodes' addresses; retry later")]
    Busy,
    /// A proof from a node the directory does not know: it must register first.
    #[error("node {key} is not registered; register first")]
    NotRegistered {
        /// The node's key, shortened.
        key: String,
    },
}

impl DirectoryError {
    /// The HTTP status for this refusal: 400 malformed, 401 bad signature, 403 not allowed
    /// (allowlist, per-address or per-/24 cap), 404 not registered, 406 clock skew, 409 replay,
    /// 422 the announced address did not answer, 429 rate-limited, 503 list full or busy.
    #[must_use]
    pub fn status(&self) -> u16 {
        match self {
            Self::Announce(AnnounceError::BadSignature) => 401,
            Self::Announce(_) => 400,
            Self::NotAllowed { .. }
            | Self::NoAdmission
            | Self::AddressFull { .. }
            | Self::SubnetFull { .. } => 403,
            Self::NotRegistered { .. } => 404,
            Self::ClockSkew { .. } => 406,
            Self::Replayed { .. } => 409,
            Self::Unreachable { .. } => 422,
            Self::RateLimited => 429,
            Self::ListFull { .. } | Self::Busy => 503,
        }
    }
}

/// Why the reachability check of an announced address failed.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum Unreachable {
    /// Connecting, TLS (another key than the node's), or timeout.
    #[error("{0}")]
    Transport(#[from] sotto_transport::TransportError),
    /// It answered the ping with another status than 200.
    #[error("the ping was answered with status {0}")]
    Status(u16),
}

/// Why a saved state could not be restored.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum StateError {
    /// Not the JSON this crate writes.
    #[error("directory state: {0}")]
    Json(#[from] serde_json::Error),
    /// A state file from another format version.
    #[error("directory state: format version {found}, expected {STATE_VERSION}")]
    Version {
        /// The version found.
        found: u32,
    },
    /// A hex field is malformed.
    #[error("directory state: {field} is not 64 hex digits")]
    Hex {
        /// The field.
        field: &'static str,
    },
    /// A node record is not a valid listing.
    #[error("directory state: node {index}: {reason}")]
    Node {
        /// Its position.
        index: usize,
        /// Why.
        reason: String,
    },
}

/// The state file's format version.
pub const STATE_VERSION: u32 = 1;

/// A registered node as the directory keeps it.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Node {
    /// What it announced, with its current swarm.
    listing: NodeListing,
    /// Whether it should be in the active set (it sent a proof in time).
    active: bool,
    /// Whether the current epoch's list has it (`active` as of the last epoch).
    listed: bool,
    /// When the directory last heard from it (registration or proof), directory clock.
    last_seen_ms: u64,
    /// The last accepted registration timestamp (node clock).
    last_registration_ts: u64,
    /// The last accepted proof timestamp (node clock).
    last_proof_ts: u64,
}

/// A node as the full node list shows it (active or not).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeEntry {
    /// What it announced, with its swarm ([`INVALID_SWARM_ID`] when decommissioned).
    pub listing: NodeListing,
    /// Whether it is in the active set.
    pub active: bool,
}

/// The directory: registered nodes, the active set, the epoch chain and the swarms.
///
/// - [`Directory::register`] adds a node (or updates its address), or recommissions it;
/// - [`Directory::proof`] keeps a node active (and recommissions a decommissioned one);
/// - [`Directory::tick`] decommissions nodes that sent nothing for
///   [`Policy::decommission_after_ms`].
///
/// Each change of the active set is a new epoch: height and epoch grow by one, the epoch hash
/// becomes BLAKE2b-256(previous epoch hash ‖ bencoded sorted active keys), and swarms are
/// reassigned with [`assign_swarms`] seeded from it. Epochs come at most once per
/// [`Policy::min_epoch_interval_ms`]: changes in between wait (the list keeps showing the last
/// epoch's nodes) and go into the next epoch together, which [`Directory::tick`] starts when it
/// is due. A changed address, port or version of a listed node is a new height without a new
/// epoch (swarms stay as they are).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Directory {
    policy: Policy,
    nodes: BTreeMap<Ed25519PublicKey, Node>,
    height: u64,
    epoch: u64,
    epoch_hash: [u8; 32],
    /// When the last epoch started (directory clock).
    last_epoch_ms: u64,
    /// Counts every change worth saving.
    revision: u64,
}

impl Directory {
    /// An empty directory at height 0, epoch 0.
    #[must_use]
    pub fn new(policy: Policy) -> Self {
        Self {
            policy,
            nodes: BTreeMap::new(),
            height: 0,
            epoch: 0,
            epoch_hash: [0; 32],
            last_epoch_ms: 0,
            revision: 0,
        }
    }

    /// Checks a registration received at `now_ms` without changing anything: the admission
    /// policy, the clock, replays and the limits. Returns whether its address must be checked
    /// (by a pinned call to it) before [`Directory::register`]: a node not registered yet, or
    /// one that announces another address or port.
    pub fn check_registration(
        &self,
        reg: &Registration,
        now_ms: u64,
    ) -> Result<bool, DirectoryError> {
        let key = reg.pubkey();
        self.admit(&key, reg.timestamp_ms(), now_ms)?;
        let announced = reg.listing();
        let moved = match self.nodes.get(&key) {
            Some(node) => {
                check_newer(reg.timestamp_ms(), node.last_registration_ts)?;
                node.listing.public_ip() != announced.public_ip()
                    || node.listing.storage_port() != announced.storage_port()
            }
            None => true,
        };
        if moved {
            self.check_limits(&key, announced.public_ip())?;
        }
        Ok(moved)
    }

    /// Handles a registration received at `now_ms`. The caller has checked the announced
    /// address when [`Directory::check_registration`] asked for it.
    pub fn register(&mut self, reg: &Registration, now_ms: u64) -> Result<Ack, DirectoryError> {
        self.check_registration(reg, now_ms)?;
        let key = reg.pubkey();
        let announced = reg.listing();
        let mut list_changed = false;
        let mut set_changed = false;
        match self.nodes.get_mut(&key) {
            Some(node) => {
                node.last_registration_ts = reg.timestamp_ms();
                node.last_seen_ms = now_ms;
                let same = node.listing.public_ip() == announced.public_ip()
                    && node.listing.storage_port() == announced.storage_port()
                    && node.listing.version() == announced.version();
                if !same {
                    node.listing = announced.clone().with_swarm_id(node.listing.swarm_id());
                    list_changed = node.listed;
                    self.revision = self.revision.saturating_add(1);
                }
                if !node.active {
                    node.active = true;
                    set_changed = true;
                }
            }
            None => {
                self.nodes.insert(
                    key,
                    Node {
                        listing: announced.clone(),
                        active: true,
                        listed: false,
                        last_seen_ms: now_ms,
                        last_registration_ts: reg.timestamp_ms(),
                        last_proof_ts: 0,
                    },
                );
                set_changed = true;
            }
        }
        if list_changed {
            self.height = self.height.saturating_add(1);
        }
        if set_changed {
            self.revision = self.revision.saturating_add(1);
            self.epoch_if_due(now_ms);
        }
        Ok(self.ack(&key))
    }

    /// Handles an uptime proof received at `now_ms`.
    pub fn proof(&mut self, proof: &Proof, now_ms: u64) -> Result<Ack, DirectoryError> {
        let key = proof.pubkey();
        self.admit(&key, proof.timestamp_ms(), now_ms)?;
        let node = self
            .nodes
            .get_mut(&key)
            .ok_or_else(|| DirectoryError::NotRegistered {
                key: short_key(&key),
            })?;
        check_newer(proof.timestamp_ms(), node.last_proof_ts)?;
        node.last_proof_ts = proof.timestamp_ms();
        node.last_seen_ms = now_ms;
        if !node.active {
            node.active = true;
            self.revision = self.revision.saturating_add(1);
            self.epoch_if_due(now_ms);
        }
        Ok(self.ack(&key))
    }

    /// Decommissions the active nodes not heard from for [`Policy::decommission_after_ms`],
    /// forgets the decommissioned ones not heard from for [`FORGET_AFTER_PERIODS`] times that,
    /// and starts the epoch that waits for [`Policy::min_epoch_interval_ms`] once it is due.
    /// Returns whether the state changed (the caller then saves it).
    pub fn tick(&mut self, now_ms: u64) -> bool {
        let revision = self.revision;
        let after = self.policy.decommission_after_ms;
        let forget = after.saturating_mul(FORGET_AFTER_PERIODS);
        let before = self.nodes.len();
        self.nodes
            .retain(|_, n| n.active || n.listed || now_ms.saturating_sub(n.last_seen_ms) < forget);
        if self.nodes.len() != before {
            self.revision = self.revision.saturating_add(1);
        }
        for node in self.nodes.values_mut() {
            if node.active && now_ms.saturating_sub(node.last_seen_ms) >= after {
                node.active = false;
                self.revision = self.revision.saturating_add(1);
            }
        }
        self.epoch_if_due(now_ms);
        self.revision != revision
    }

    /// The nodes of the current epoch with their swarms, at the current height: what the
    /// directory signs.
    #[must_use]
    pub fn node_list(&self) -> NodeList {
        NodeList::new(
            self.height,
            self.epoch,
            self.nodes
                .values()
                .filter(|n| n.listed)
                .map(|n| n.listing.clone())
                .collect(),
        )
    }

    /// Counts the changes worth saving: the caller saves the state when it moved.
    #[must_use]
    pub fn revision(&self) -> u64 {
        self.revision
    }

    /// Whether a change of the active set waits for the next epoch.
    #[must_use]
    pub fn epoch_pending(&self) -> bool {
        self.nodes.values().any(|n| n.active != n.listed)
    }

    /// Every registered node, active or not, sorted by key.
    pub fn entries(&self) -> impl Iterator<Item = NodeEntry> + '_ {
        self.nodes.values().map(|n| NodeEntry {
            listing: n.listing.clone(),
            active: n.active,
        })
    }

    /// The current height (one more for every change of the list).
    #[must_use]
    pub fn height(&self) -> u64 {
        self.height
    }

    /// The current epoch (one more for every change of the active set).
    #[must_use]
    pub fn epoch(&self) -> u64 {
        self.epoch
    }

    /// The hash that seeded the current epoch's swarm assignment.
    #[must_use]
    pub fn epoch_hash(&self) -> [u8; 32] {
        self.epoch_hash
    }

    /// The state to save: every node, the height, epoch and epoch hash (JSON).
    #[must_use]
    pub fn save(&self) -> String {
        let state = SavedState {
            version: STATE_VERSION,
            height: self.height,
            epoch: self.epoch,
            epoch_hash: hex::encode(self.epoch_hash),
            nodes: self
                .nodes
                .values()
                .map(|n| SavedNode {
                    pubkey_ed25519: hex::encode(n.listing.pubkey_ed25519().as_bytes()),
                    public_ip: n.listing.public_ip().to_string(),
                    storage_port: n.listing.storage_port(),
                    version: n.listing.version(),
                    swarm_id: n.listing.swarm_id(),
                    active: n.active,
                    listed: Some(n.listed),
                    last_seen_ms: n.last_seen_ms,
                    last_registration_ts: n.last_registration_ts,
                    last_proof_ts: n.last_proof_ts,
                })
                .collect(),
        };
        // Strings, numbers and arrays of them only: serialising cannot fail.
        serde_json::to_string_pretty(&state).unwrap_or_default()
    }

    /// Restores a saved state at `now_ms` under `policy`.
    ///
    /// Active nodes count as heard from at `now_ms`: they could not send proofs while the
    /// directory was down. Nodes the allowlist no longer names are dropped (a new epoch if
    /// any was active). Returns the directory and whether it differs from what was saved.
    pub fn restore(json: &[u8], policy: Policy, now_ms: u64) -> Result<(Self, bool), StateError> {
        let state: SavedState = serde_json::from_slice(json)?;
        if state.version != STATE_VERSION {
            return Err(StateError::Version {
                found: state.version,
            });
        }
        let epoch_hash = key_hex(&state.epoch_hash, "epoch_hash").map_err(|_| StateError::Hex {
            field: "epoch_hash",
        })?;
        let mut nodes = BTreeMap::new();
        for (index, saved) in state.nodes.into_iter().enumerate() {
            let node_error = |reason: String| StateError::Node { index, reason };
            let key = Ed25519PublicKey(key_hex(&saved.pubkey_ed25519, "pubkey_ed25519").map_err(
                |_| StateError::Hex {
                    field: "pubkey_ed25519",
                },
            )?);
            let ip: Ipv4Addr = saved
                .public_ip
                .parse()
                .map_err(|_| node_error(format!("public_ip {:?}", saved.public_ip)))?;
            let listing =
                NodeListing::new(key, ip, saved.storage_port, saved.swarm_id, saved.version)
                    .map_err(|e| node_error(e.to_string()))?;
            let node = Node {
                listing,
                active: saved.active,
                listed: saved.listed.unwrap_or(saved.active),
                last_seen_ms: if saved.active {
                    now_ms
                } else {
                    saved.last_seen_ms
                },
                last_registration_ts: saved.last_registration_ts,
                last_proof_ts: saved.last_proof_ts,
            };
            if nodes.insert(key, node).is_some() {
                return Err(node_error("repeats a node".to_owned()));
            }
        }
        let mut dir = Self {
            policy,
            nodes,
            height: state.height,
            epoch: state.epoch,
            epoch_hash,
            last_epoch_ms: 0,
            revision: 0,
        };
        let before = dir.nodes.len();
        let mut lost_active = false;
        let policy = dir.policy.clone();
        dir.nodes.retain(|key, n| {
            let keep = policy.allows(key).is_ok();
            lost_active |= !keep && n.listed;
            keep
        });
        // A listed node without a swarm (a hand-edited file) gets one now, and changes that
        // waited for an epoch get it.
        let unassigned = dir
            .nodes
            .values()
            .any(|n| n.listed && !n.listing.swarm_id().is_valid());
        let pending = dir.epoch_pending();
        if lost_active || unassigned || pending {
            dir.advance_epoch(now_ms);
        }
        let changed = lost_active || unassigned || pending || dir.nodes.len() != before;
        Ok((dir, changed))
    }

    /// Checks the parts every announcement shares: the admission policy and the clock.
    fn admit(
        &self,
        key: &Ed25519PublicKey,
        timestamp_ms: u64,
        now_ms: u64,
    ) -> Result<(), DirectoryError> {
        self.policy.allows(key)?;
        if timestamp_ms.abs_diff(now_ms) > MAX_CLOCK_SKEW_MS {
            return Err(DirectoryError::ClockSkew {
                timestamp_ms,
                now_ms,
            });
        }
        Ok(())
    }

    /// The per-address, per-/24 and total caps for `key` announcing `ip` (allowlisted nodes
    /// are exempt).
    fn check_limits(&self, key: &Ed25519PublicKey, ip: Ipv4Addr) -> Result<(), DirectoryError> {
        if self.policy.allowlist.contains(key) {
            return Ok(());
        }
        let limits = self.policy.limits;
        let subnet = subnet24(ip);
        let (mut total, mut same_ip, mut same_subnet) = (0usize, 0usize, 0usize);
        for (other, node) in &self.nodes {
            if other == key {
                continue;
            }
            total += 1;
            let other_ip = node.listing.public_ip();
            same_ip += usize::from(other_ip == ip);
            same_subnet += usize::from(subnet24(other_ip) == subnet);
        }
        if !self.nodes.contains_key(key) && total >= limits.max_nodes {
            return Err(DirectoryError::ListFull {
                limit: limits.max_nodes,
            });
        }
        if same_ip >= limits.max_nodes_per_ip {
            return Err(DirectoryError::AddressFull {
                ip,
                limit: limits.max_nodes_per_ip,
            });
        }
        if same_subnet >= limits.max_nodes_per_subnet {
            return Err(DirectoryError::SubnetFull {
                subnet,
                limit: limits.max_nodes_per_subnet,
            });
        }
        Ok(())
    }

    fn ack(&self, key: &Ed25519PublicKey) -> Ack {
        let node = self.nodes.get(key);
        Ack {
            height: self.height,
            epoch: self.epoch,
            active: node.is_some_and(|n| n.listed),
            swarm_id: node.map_or(INVALID_SWARM_ID, |n| n.listing.swarm_id()),
        }
    }

    /// Starts the next epoch if the active set changed since the last one and
    /// [`Policy::min_epoch_interval_ms`] has passed since it.
    fn epoch_if_due(&mut self, now_ms: u64) {
        let due = self.epoch == 0
            || now_ms.saturating_sub(self.last_epoch_ms) >= self.policy.min_epoch_interval_ms;
        if due && self.epoch_pending() {
            self.advance_epoch(now_ms);
        }
    }

    /// Starts a new epoch: the listed nodes become the active ones, the epoch hash is chained
    /// and swarms are reassigned. Inactive nodes lose their swarm; newly active ones enter
    /// unassigned.
    fn advance_epoch(&mut self, now_ms: u64) {
        self.last_epoch_ms = now_ms;
        self.revision = self.revision.saturating_add(1);
        let mut active_keys = Vec::with_capacity(2 + self.nodes.len() * 35);
        active_keys.push(b'l');
        let mut current = BTreeMap::new();
        for (key, node) in &mut self.nodes {
            node.listed = node.active;
            if node.active {
                bencode_bytes(&mut active_keys, key.as_bytes());
                current.insert(*key, node.listing.swarm_id());
            } else {
                node.listing = node.listing.clone().with_swarm_id(INVALID_SWARM_ID);
            }
        }
        active_keys.push(b'e');
        self.epoch_hash = blake2b_32(&[], &[&self.epoch_hash, &active_keys]);
        let assigned =
            assign_swarms(&current, seed_from_block_hash(&self.epoch_hash)).node_swarms();
        for (key, node) in &mut self.nodes {
            if node.active {
                let swarm = assigned.get(key).copied().unwrap_or(INVALID_SWARM_ID);
                node.listing = node.listing.clone().with_swarm_id(swarm);
            }
        }
        self.epoch = self.epoch.saturating_add(1);
        self.height = self.height.saturating_add(1);
    }
}

/// A node key for logs and messages: the first 8 hex digits.
#[must_use]
pub fn short_key(key: &Ed25519PublicKey) -> String {
    let mut hex = hex::encode(key.as_bytes());
    hex.truncate(8);
    hex.push('…');
    hex
}

/// The network address of `ip`'s /24.
fn subnet24(ip: Ipv4Addr) -> Ipv4Addr {
    let [a, b, c, _] = ip.octets();
    Ipv4Addr::new(a, b, c, 0)
}

fn check_newer(timestamp_ms: u64, last_ms: u64) -> Result<(), DirectoryError> {
    if timestamp_ms <= last_ms {
        return Err(DirectoryError::Replayed {
            timestamp_ms,
            last_ms,
        });
    }
    Ok(())
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SavedState {
    version: u32,
    height: u64,
    epoch: u64,
    epoch_hash: String,
    nodes: Vec<SavedNode>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SavedNode {
    pubkey_ed25519: String,
    public_ip: String,
    storage_port: u16,
    version: NodeVersion,
    swarm_id: SwarmId,
    active: bool,
    /// In the current epoch's list (absent in files from before epochs were rate-limited:
    /// then `active`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    listed: Option<bool>,
    last_seen_ms: u64,
    last_registration_ts: u64,
    last_proof_ts: u64,
}
