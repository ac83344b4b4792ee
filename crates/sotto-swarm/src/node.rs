//! One service node as a node list shows it (the per-node fields of oxend's
//! `get_service_nodes`), validated.

use core::fmt;
use core::num::NonZeroU16;
use std::net::{Ipv4Addr, SocketAddrV4};

use serde::{Deserialize, Serialize};
use sotto_crypto::{Ed25519PublicKey, X25519PublicKey};
use thiserror::Error;

use crate::SwarmId;

/// Why a node listing was rejected.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum NodeListingError {
    /// Not a JSON object with the listing's fields and types (a field missing, a number out of
    /// range, a version that is not three numbers, …).
    #[error("node listing: {0}")]
    Json(#[from] serde_json::Error),
    /// A key field is not 64 hex digits.
    #[error("node listing: {field} is not 64 hex digits")]
    KeyHex {
        /// `pubkey_ed25519` or `pubkey_x25519`.
        field: &'static str,
    },
    /// `pubkey_ed25519` is not a usable Ed25519 public key.
    #[error("node listing: pubkey_ed25519 is not a valid Ed25519 public key")]
    InvalidEd25519Key,
    /// `pubkey_x25519` is not the X25519 form of `pubkey_ed25519`, as a node's keys must be.
    #[error("node listing: pubkey_x25519 is not the X25519 form of pubkey_ed25519")]
    KeyMismatch,
    /// `public_ip` is not a dotted IPv4 address.
    #[error("node listing: public_ip is not an IPv4 address")]
    InvalidAddress,
    /// `public_ip` is 0.0.0.0: the node has not told where it can be reached.
    #[error("node listing: public_ip is 0.0.0.0")]
    UnspecifiedAddress,
    /// A port is 0.
    #[error("node listing: {field} is 0")]
    ZeroPort {
        /// `storage_port` or `storage_lmq_port`.
        field: &'static str,
    },
}

/// A storage-server version, `[major, minor, patch]` in JSON.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(from = "[u16; 3]", into = "[u16; 3]")]
pub struct NodeVersion {
    /// Major version.
    pub major: u16,
    /// Minor version.
    pub minor: u16,
    /// Patch version.
    pub patch: u16,
}

impl From<[u16; 3]> for NodeVersion {
    fn from([major, minor, patch]: [u16; 3]) -> Self {
        Self {
            major,
            minor,
            patch,
        }
    }
}

impl From<NodeVersion> for [u16; 3] {
    fn from(v: NodeVersion) -> Self {
        [v.major, v.minor, v.patch]
    }
}

impl fmt::Display for NodeVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
    }
}

/// A service node in a node list: its keys, where to reach it, its swarm and its version.
///
/// Every value of this type is valid: the X25519 key is the one derived from the Ed25519 key,
/// the address is a real IPv4 address and the ports are not 0. In JSON it uses oxend's field
/// names (`pubkey_ed25519`, `pubkey_x25519`, `public_ip`, `storage_port`, `storage_lmq_port`,
/// `swarm_id`, `storage_server_version`); other fields are ignored when reading.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(into = "RawListing", try_from = "RawListing")]
pub struct NodeListing {
    pubkey_ed25519: Ed25519PublicKey,
    pubkey_x25519: X25519PublicKey,
    public_ip: Ipv4Addr,
    storage_port: NonZeroU16,
    storage_lmq_port: Option<NonZeroU16>,
    swarm_id: SwarmId,
    version: NodeVersion,
}

impl NodeListing {
    /// A listing for the node with identity key `pubkey_ed25519`, reachable over HTTPS at
    /// `public_ip:storage_port`. Its X25519 key is derived from the Ed25519 key.
    pub fn new(
        pubkey_ed25519: Ed25519PublicKey,
        public_ip: Ipv4Addr,
        storage_port: u16,
        swarm_id: SwarmId,
        version: NodeVersion,
    ) -> Result<Self, NodeListingError> {
        let pubkey_x25519 = pubkey_ed25519
            .to_x25519()
            .map_err(|_| NodeListingError::InvalidEd25519Key)?;
        if public_ip.is_unspecified() {
            return Err(NodeListingError::UnspecifiedAddress);
        }
        Ok(Self {
            pubkey_ed25519,
            pubkey_x25519,
            public_ip,
            storage_port: port(storage_port, "storage_port")?,
            storage_lmq_port: None,
            swarm_id,
            version,
        })
    }

    /// The same listing with an OxenMQ/QUIC port (`storage_lmq_port`).
    pub fn with_storage_lmq_port(mut self, lmq_port: u16) -> Result<Self, NodeListingError> {
        self.storage_lmq_port = Some(port(lmq_port, "storage_lmq_port")?);
        Ok(self)
    }

    /// The same listing in another swarm.
    #[must_use]
    pub fn with_swarm_id(mut self, swarm_id: SwarmId) -> Self {
        self.swarm_id = swarm_id;
        self
    }

    /// Reads one listing from JSON.
    pub fn from_json(json: &[u8]) -> Result<Self, NodeListingError> {
        Self::try_from(serde_json::from_slice::<RawListing>(json)?)
    }

    /// The listing as JSON (lowercase hex keys, fields in a fixed order).
    #[must_use]
    pub fn to_json(&self) -> String {
        // Every field is a string, number or array of numbers: serialising cannot fail.
        serde_json::to_string(&RawListing::from(self.clone())).unwrap_or_default()
    }

    /// The node's Ed25519 identity key.
    #[must_use]
    pub fn pubkey_ed25519(&self) -> Ed25519PublicKey {
        self.pubkey_ed25519
    }

    /// The node's X25519 key (onion-layer encryption to the node).
    #[must_use]
    pub fn pubkey_x25519(&self) -> X25519PublicKey {
        self.pubkey_x25519
    }

    /// The node's IPv4 address.
    #[must_use]
    pub fn public_ip(&self) -> Ipv4Addr {
        self.public_ip
    }

    /// The HTTPS storage/onion port.
    #[must_use]
    pub fn storage_port(&self) -> u16 {
        self.storage_port.get()
    }

    /// The OxenMQ/QUIC port, if the node has one.
    #[must_use]
    pub fn storage_lmq_port(&self) -> Option<u16> {
        self.storage_lmq_port.map(NonZeroU16::get)
    }

    /// Where to reach the node's HTTPS port.
    #[must_use]
    pub fn https_addr(&self) -> SocketAddrV4 {
        SocketAddrV4::new(self.public_ip, self.storage_port.get())
    }

    /// The node's swarm ([`crate::INVALID_SWARM_ID`] when it has none).
    #[must_use]
    pub fn swarm_id(&self) -> SwarmId {
        self.swarm_id
    }

    /// The node's storage-server version.
    #[must_use]
    pub fn version(&self) -> NodeVersion {
        self.version
    }
}

fn port(value: u16, field: &'static str) -> Result<NonZeroU16, NodeListingError> {
    NonZeroU16::new(value).ok_or(NodeListingError::ZeroPort { field })
}

fn key_hex(text: &str, field: &'static str) -> Result<[u8; 32], NodeListingError> {
    let mut key = [0u8; 32];
    hex::decode_to_slice(text, &mut key).map_err(|_| NodeListingError::KeyHex { field })?;
    Ok(key)
}

/// The JSON shape, before validation.
#[derive(Serialize, Deserialize)]
struct RawListing {
    pubkey_ed25519: String,
    pubkey_x25519: String,
    public_ip: String,
    storage_port: u16,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    storage_lmq_port: Option<u16>,
    swarm_id: u64,
    storage_server_version: NodeVersion,
}

impl TryFrom<RawListing> for NodeListing {
    type Error = NodeListingError;

    fn try_from(raw: RawListing) -> Result<Self, NodeListingError> {
        let ed = Ed25519PublicKey(key_hex(&raw.pubkey_ed25519, "pubkey_ed25519")?);
        let x = X25519PublicKey(key_hex(&raw.pubkey_x25519, "pubkey_x25519")?);
        let ip: Ipv4Addr = raw
            .public_ip
            .parse()
            .map_err(|_| NodeListingError::InvalidAddress)?;
        let mut listing = Self::new(
            ed,
            ip,
            raw.storage_port,
            SwarmId(raw.swarm_id),
            raw.storage_server_version,
        )?;
        if listing.pubkey_x25519 != x {
            return Err(NodeListingError::KeyMismatch);
        }
        if let Some(lmq) = raw.storage_lmq_port {
            listing = listing.with_storage_lmq_port(lmq)?;
        }
        Ok(listing)
    }
}

impl From<NodeListing> for RawListing {
    fn from(n: NodeListing) -> Self {
        Self {
            pubkey_ed25519: hex::encode(n.pubkey_ed25519.as_bytes()),
            pubkey_x25519: hex::encode(n.pubkey_x25519.as_bytes()),
            public_ip: n.public_ip.to_string(),
            storage_port: n.storage_port.get(),
            storage_lmq_port: n.storage_lmq_port.map(NonZeroU16::get),
            swarm_id: n.swarm_id.0,
            storage_server_version: n.version,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sotto_crypto::Ed25519SecretKey;

    fn key() -> Ed25519PublicKey {
        Ed25519SecretKey::from_seed(&[7; 32]).public_key()
    }

    fn listing() -> NodeListing {
        NodeListing::new(
            key(),
            Ipv4Addr::new(127, 0, 0, 2),
            22021,
            SwarmId(u64::MAX - 5),
            NodeVersion::from([2, 8, 0]),
        )
        .unwrap()
    }

    #[test]
    fn json_round_trip_keeps_big_swarm_ids() {
        let n = listing().with_storage_lmq_port(22020).unwrap();
        let json = n.to_json();
        assert!(json.contains("\"swarm_id\":18446744073709551610"), "{json}");
        assert!(
            json.contains("\"storage_server_version\":[2,8,0]"),
            "{json}"
        );
        assert_eq!(NodeListing::from_json(json.as_bytes()).unwrap(), n);
        let no_lmq = listing();
        assert!(!no_lmq.to_json().contains("lmq"));
        assert_eq!(
            NodeListing::from_json(no_lmq.to_json().as_bytes()).unwrap(),
            no_lmq
        );
        assert_eq!(n.https_addr().to_string(), "127.0.0.2:22021");
        assert_eq!(n.version().to_string(), "2.8.0");
    }

    #[test]
    fn reads_oxend_shaped_entries_with_extra_fields() {
        let n = listing();
        let mut value: serde_json::Value = serde_json::from_str(&n.to_json()).unwrap();
        value["funded"] = true.into();
        value["swarm"] = "fffffffffffffffa".into();
        value["pubkey_ed25519"] = value["pubkey_ed25519"]
            .as_str()
            .unwrap()
            .to_uppercase()
            .into();
        let parsed: NodeListing = serde_json::from_value(value).unwrap();
        assert_eq!(parsed, n);
    }

    #[test]
    fn typed_rejections() {
        let good: serde_json::Value = serde_json::from_str(&listing().to_json()).unwrap();
        let with = |field: &str, v: serde_json::Value| {
            let mut j = good.clone();
            j[field] = v;
            NodeListing::from_json(j.to_string().as_bytes()).unwrap_err()
        };
        assert!(matches!(
            with("pubkey_ed25519", "abcd".into()),
            NodeListingError::KeyHex {
                field: "pubkey_ed25519"
            }
        ));
        assert!(matches!(
            with("pubkey_x25519", hex::encode([9u8; 32]).into()),
            NodeListingError::KeyMismatch
        ));
        // The identity point (y = 1) has small order.
        let mut identity = [0u8; 32];
        identity[0] = 1;
        assert!(matches!(
            with("pubkey_ed25519", hex::encode(identity).into()),
            NodeListingError::InvalidEd25519Key
        ));
        assert!(matches!(
            with("public_ip", "::1".into()),
            NodeListingError::InvalidAddress
        ));
        assert!(matches!(
            with("public_ip", "0.0.0.0".into()),
            NodeListingError::UnspecifiedAddress
        ));
        assert!(matches!(
            with("storage_port", 0.into()),
            NodeListingError::ZeroPort {
                field: "storage_port"
            }
        ));
        assert!(matches!(
            with("storage_lmq_port", 0.into()),
            NodeListingError::ZeroPort {
                field: "storage_lmq_port"
            }
        ));
        assert!(matches!(
            with("storage_port", 70000.into()),
            NodeListingError::Json(_)
        ));
        assert!(matches!(
            with("storage_server_version", serde_json::json!([2, 8])),
            NodeListingError::Json(_)
        ));
        assert!(matches!(
            with("swarm_id", serde_json::json!(-1)),
            NodeListingError::Json(_)
        ));
        assert!(matches!(
            NodeListing::from_json(b"[]"),
            Err(NodeListingError::Json(_))
        ));
    }
}
