//! The directory's state machine: registered nodes, the active set, epochs and swarms. No I/O:
//! every call that depends on time takes `now_ms` (Unix milliseconds).

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;

use serde::{Deserialize, Serialize};
use sotto_crypto::{Ed25519PublicKey, blake2b_32};
use sotto_swarm::{
    INVALID_SWARM_ID, NodeListing, NodeVersion, SwarmId, assign_swarms, seed_from_block_hash,
};
use thiserror::Error;

use crate::announce::{Ack, AnnounceError, Proof, Registration, key_hex};
use crate::list::{NodeList, bencode_bytes};

/// How far a registration's or proof's timestamp may be from the directory's clock.
pub const MAX_CLOCK_SKEW_MS: u64 = 60_000;

/// A decommissioned node is forgotten after this many `decommission_after` periods without a
/// proof; it must then register again.
pub const FORGET_AFTER_PERIODS: u64 = 10;

/// The directory's policy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Policy {
    /// A node with no proof for this long leaves the active set.
    pub decommission_after_ms: u64,
    /// The only nodes that may join; empty means anyone may.
    pub allowlist: BTreeSet<Ed25519PublicKey>,
}

impl Policy {
    fn allows(&self, key: &Ed25519PublicKey) -> bool {
        self.allowlist.is_empty() || self.allowlist.contains(key)
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
    /// A proof from a node the directory does not know: it must register first.
    #[error("node {key} is not registered; register first")]
    NotRegistered {
        /// The node's key, shortened.
        key: String,
    },
}

impl DirectoryError {
    /// The HTTP status for this refusal: 400 malformed, 401 bad signature, 403 not allowed,
    /// 404 not registered, 406 clock skew, 409 replay.
    #[must_use]
    pub fn status(&self) -> u16 {
        match self {
            Self::Announce(AnnounceError::BadSignature) => 401,
            Self::Announce(_) => 400,
            Self::NotAllowed { .. } => 403,
            Self::NotRegistered { .. } => 404,
            Self::ClockSkew { .. } => 406,
            Self::Replayed { .. } => 409,
        }
    }
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
    active: bool,
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
/// reassigned with [`assign_swarms`] seeded from it. A changed address, port or version of an
/// active node is a new height without a new epoch (swarms stay as they are).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Directory {
    policy: Policy,
    nodes: BTreeMap<Ed25519PublicKey, Node>,
    height: u64,
    epoch: u64,
    epoch_hash: [u8; 32],
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
        }
    }

    /// Handles a registration received at `now_ms`.
    pub fn register(&mut self, reg: &Registration, now_ms: u64) -> Result<Ack, DirectoryError> {
        let key = reg.pubkey();
        self.admit(&key, reg.timestamp_ms(), now_ms)?;
        let announced = reg.listing();
        match self.nodes.get_mut(&key) {
            Some(node) => {
                check_newer(reg.timestamp_ms(), node.last_registration_ts)?;
                node.last_registration_ts = reg.timestamp_ms();
                node.last_seen_ms = now_ms;
                let same = node.listing.public_ip() == announced.public_ip()
                    && node.listing.storage_port() == announced.storage_port()
                    && node.listing.version() == announced.version();
                if !same {
                    node.listing = announced.clone().with_swarm_id(node.listing.swarm_id());
                }
                if !node.active {
                    node.active = true;
                    self.advance_epoch();
                } else if !same {
                    self.height = self.height.saturating_add(1);
                }
            }
            None => {
                self.nodes.insert(
                    key,
                    Node {
                        listing: announced.clone(),
                        active: true,
                        last_seen_ms: now_ms,
                        last_registration_ts: reg.timestamp_ms(),
                        last_proof_ts: 0,
                    },
                );
                self.advance_epoch();
            }
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
            self.advance_epoch();
        }
        Ok(self.ack(&key))
    }

    /// Decommissions the active nodes not heard from for [`Policy::decommission_after_ms`] and
    /// forgets the decommissioned ones not heard from for [`FORGET_AFTER_PERIODS`] times that.
    /// Returns whether the node list changed (the caller then saves the state).
    pub fn tick(&mut self, now_ms: u64) -> bool {
        let after = self.policy.decommission_after_ms;
        let forget = after.saturating_mul(FORGET_AFTER_PERIODS);
        let before = self.nodes.len();
        self.nodes
            .retain(|_, n| n.active || now_ms.saturating_sub(n.last_seen_ms) < forget);
        let mut decommissioned = false;
        for node in self.nodes.values_mut() {
            if node.active && now_ms.saturating_sub(node.last_seen_ms) >= after {
                node.active = false;
                decommissioned = true;
            }
        }
        if decommissioned {
            self.advance_epoch();
        }
        decommissioned || self.nodes.len() != before
    }

    /// The active nodes with their swarms, at the current height: what the directory signs.
    #[must_use]
    pub fn node_list(&self) -> NodeList {
        NodeList::new(
            self.height,
            self.epoch,
            self.nodes
                .values()
                .filter(|n| n.active)
                .map(|n| n.listing.clone())
                .collect(),
        )
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
        };
        let before = dir.nodes.len();
        let mut lost_active = false;
        let policy = dir.policy.clone();
        dir.nodes.retain(|key, n| {
            let keep = policy.allows(key);
            lost_active |= !keep && n.active;
            keep
        });
        // An active node without a swarm (a hand-edited file) gets one now.
        let unassigned = dir
            .nodes
            .values()
            .any(|n| n.active && !n.listing.swarm_id().is_valid());
        if lost_active || unassigned {
            dir.advance_epoch();
        }
        let changed = lost_active || unassigned || dir.nodes.len() != before;
        Ok((dir, changed))
    }

    /// Checks the parts every announcement shares: the allowlist and the clock.
    fn admit(
        &self,
        key: &Ed25519PublicKey,
        timestamp_ms: u64,
        now_ms: u64,
    ) -> Result<(), DirectoryError> {
        if !self.policy.allows(key) {
            return Err(DirectoryError::NotAllowed {
                key: short_key(key),
            });
        }
        if timestamp_ms.abs_diff(now_ms) > MAX_CLOCK_SKEW_MS {
            return Err(DirectoryError::ClockSkew {
                timestamp_ms,
                now_ms,
            });
        }
        Ok(())
    }

    fn ack(&self, key: &Ed25519PublicKey) -> Ack {
        let node = self.nodes.get(key);
        Ack {
            height: self.height,
            epoch: self.epoch,
            active: node.is_some_and(|n| n.active),
            swarm_id: node.map_or(INVALID_SWARM_ID, |n| n.listing.swarm_id()),
        }
    }

    /// Starts a new epoch after the active set changed: chains the epoch hash and reassigns
    /// swarms. Inactive nodes lose their swarm; newly active ones enter unassigned.
    fn advance_epoch(&mut self) {
        let mut active_keys = Vec::with_capacity(2 + self.nodes.len() * 35);
        active_keys.push(b'l');
        let mut current = BTreeMap::new();
        for (key, node) in &mut self.nodes {
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
    last_seen_ms: u64,
    last_registration_ts: u64,
    last_proof_ts: u64,
}
