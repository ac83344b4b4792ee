#![doc = include_str!("../README.md")]

mod assign;
mod ids;
mod mt;
mod node;
mod sort;
mod space;

use core::fmt;

use serde::{Deserialize, Serialize};
use thiserror::Error;

pub use assign::{SwarmAssignment, assign_swarms, seed_from_block_hash};
pub use ids::{SwarmIds, SwarmRange};
pub use mt::Mt19937_64;
pub use node::{NodeListing, NodeListingError, NodeVersion};
pub use space::{ACCOUNT_PUBKEY_LEN, account_swarm_space, swarm_space};

/// A swarm id: a position in the 64-bit swarm space that a swarm is centred on.
///
/// [`INVALID_SWARM_ID`] (2⁶⁴ − 1) is never a swarm: it marks a node that has no swarm
/// (newly registered, recommissioned or decommissioned).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SwarmId(pub u64);

impl SwarmId {
    /// Whether this is a real swarm id (anything but [`INVALID_SWARM_ID`]).
    #[must_use]
    pub fn is_valid(self) -> bool {
        self != INVALID_SWARM_ID
    }
}

impl fmt::Display for SwarmId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl fmt::Debug for SwarmId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_valid() {
            write!(f, "SwarmId({})", self.0)
        } else {
            f.write_str("SwarmId(invalid)")
        }
    }
}

/// The id no swarm has (the storage server's `INVALID_SWARM_ID`): 2⁶⁴ − 1.
pub const INVALID_SWARM_ID: SwarmId = SwarmId(u64::MAX);
/// oxend's name for the same value: the swarm id of a node waiting for a swarm.
pub const UNASSIGNED_SWARM_ID: SwarmId = INVALID_SWARM_ID;
/// The largest real swarm id (2⁶⁴ − 2); new ids are computed modulo `MAX_ID + 1`.
pub const MAX_ID: SwarmId = SwarmId(u64::MAX - 1);

/// A swarm with fewer nodes than this is starving: it is filled from richer swarms or dissolved.
pub const MIN_SWARM_SIZE: usize = 5;
/// How many nodes above [`MIN_SWARM_SIZE`] an ideal swarm has.
pub const IDEAL_SWARM_MARGIN: usize = 2;
/// The size swarms aim for.
pub const IDEAL_SWARM_SIZE: usize = MIN_SWARM_SIZE + IDEAL_SWARM_MARGIN;
/// Nodes above this size in a swarm count as excess.
pub const EXCESS_BASE: usize = MIN_SWARM_SIZE;
/// The size of a swarm created from excess nodes.
pub const NEW_SWARM_SIZE: usize = IDEAL_SWARM_SIZE;
/// Declared by oxend; the assignment algorithm does not use it.
pub const MAX_SWARM_SIZE: usize = 10;
/// Declared by oxend; the assignment algorithm does not use it.
pub const SWARM_BUFFER: usize = 5;
/// New nodes join a random swarm among the smallest 25 percent.
pub const FILL_SWARM_LOWER_PERCENTILE: usize = 25;
/// Starving swarms take nodes from swarms above the 75th percentile of sizes.
pub const STEALING_SWARM_UPPER_PERCENTILE: usize = 75;
/// Members of a dissolved swarm join the smallest swarms.
pub const DECOMMISSIONED_REDISTRIBUTION_LOWER_PERCENTILE: usize = 0;

/// Why a swarm lookup failed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum SwarmError {
    /// An account pubkey was not 33 bytes (a prefix byte and a 32-byte key).
    #[error("an account pubkey is {ACCOUNT_PUBKEY_LEN} bytes, got {found}")]
    PubkeyLength {
        /// The length given.
        found: usize,
    },
    /// A swarm was asked for among no swarms at all.
    #[error("there are no swarms")]
    NoSwarms,
    /// The swarm id asked about is not one of the known swarms.
    #[error("swarm {id} is not one of the known swarms")]
    UnknownSwarm {
        /// The id asked about.
        id: SwarmId,
    },
}
