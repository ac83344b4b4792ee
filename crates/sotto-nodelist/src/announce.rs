//! What nodes send the directory: signed registrations (`POST /register`) and uptime proofs
//! (`POST /proof`). A value of [`Registration`] or [`Proof`] always carries a signature that
//! verifies; whether the directory accepts it (clock, allowlist, replay) is
//! the directory's decision (`sotto_directory::Directory`).

use core::num::NonZeroU16;
use std::net::Ipv4Addr;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};
use sotto_crypto::{Ed25519PublicKey, Ed25519SecretKey, Signature};
use sotto_swarm::{NodeListing, NodeVersion, SwarmId};
use thiserror::Error;

use crate::signed::{PROOF_CONTEXT, REGISTER_CONTEXT, signed_bytes};

/// Why a registration or proof body was refused before any state was looked at.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum AnnounceError {
    /// Not a JSON object with the expected fields and types.
    #[error("announcement body: {0}")]
    Json(#[from] serde_json::Error),
    /// A key field is not 64 hex digits.
    #[error("announcement body: {field} is not 64 hex digits")]
    KeyHex {
        /// `pubkey_ed25519` or `pubkey_x25519`.
        field: &'static str,
    },
    /// `pubkey_ed25519` is not a usable Ed25519 public key.
    #[error("announcement body: pubkey_ed25519 is not a valid Ed25519 public key")]
    InvalidKey,
    /// `pubkey_x25519` is not the X25519 form of `pubkey_ed25519`.
    #[error("announcement body: pubkey_x25519 is not the X25519 form of pubkey_ed25519")]
    KeyMismatch,
    /// `public_ip` is not a dotted IPv4 address, or is 0.0.0.0.
    #[error("announcement body: public_ip is not a concrete IPv4 address")]
    InvalidAddress,
    /// `storage_port` is 0.
    #[error("announcement body: storage_port is 0")]
    ZeroPort,
    /// `signature` is not base64 of 64 bytes.
    #[error("announcement body: signature is not base64 of 64 bytes")]
    SignatureEncoding,
    /// The signature does not verify under `pubkey_ed25519`.
    #[error("announcement signature does not verify")]
    BadSignature,
}

/// A node's signed announcement of its keys, address, port and version.
///
/// JSON (`POST /register`): `{"pubkey_ed25519", "pubkey_x25519", "public_ip", "storage_port",
/// "version": [a, b, c], "timestamp" (ms), "signature" (base64)}`, signed by the node's
/// Ed25519 key over [`registration_bytes`]: the context tag
/// [`REGISTER_CONTEXT`](crate::signed::REGISTER_CONTEXT) and the fields, each length-prefixed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Registration {
    listing: NodeListing,
    timestamp_ms: u64,
    signature: Signature,
}

impl Registration {
    /// Signs a registration for the node with key `node_key`, reachable over HTTPS at
    /// `public_ip:storage_port`, made at `timestamp_ms` (Unix milliseconds).
    pub fn sign(
        node_key: &Ed25519SecretKey,
        public_ip: Ipv4Addr,
        storage_port: u16,
        version: NodeVersion,
        timestamp_ms: u64,
    ) -> Result<Self, AnnounceError> {
        let listing = listing(node_key.public_key(), public_ip, storage_port, version)?;
        let signature = node_key.sign(&registration_bytes(&listing, timestamp_ms));
        Ok(Self {
            listing,
            timestamp_ms,
            signature,
        })
    }

    /// Reads a registration body and checks its signature.
    pub fn from_json(body: &[u8]) -> Result<Self, AnnounceError> {
        let raw: RawRegistration = serde_json::from_slice(body)?;
        let ed = Ed25519PublicKey(key_hex(&raw.pubkey_ed25519, "pubkey_ed25519")?);
        let x = key_hex(&raw.pubkey_x25519, "pubkey_x25519")?;
        let ip: Ipv4Addr = raw
            .public_ip
            .parse()
            .map_err(|_| AnnounceError::InvalidAddress)?;
        let listing = listing(ed, ip, raw.storage_port, raw.version)?;
        if listing.pubkey_x25519().0 != x {
            return Err(AnnounceError::KeyMismatch);
        }
        let signature = signature_b64(&raw.signature)?;
        ed.verify(&registration_bytes(&listing, raw.timestamp), &signature)
            .map_err(|_| AnnounceError::BadSignature)?;
        Ok(Self {
            listing,
            timestamp_ms: raw.timestamp,
            signature,
        })
    }

    /// The body to `POST /register`.
    #[must_use]
    pub fn to_json(&self) -> String {
        let l = &self.listing;
        serde_json::json!({
            "pubkey_ed25519": hex::encode(l.pubkey_ed25519().as_bytes()),
            "pubkey_x25519": hex::encode(l.pubkey_x25519().as_bytes()),
            "public_ip": l.public_ip().to_string(),
            "storage_port": l.storage_port(),
            "version": l.version(),
            "timestamp": self.timestamp_ms,
            "signature": STANDARD.encode(self.signature.to_bytes()),
        })
        .to_string()
    }

    /// The node's Ed25519 identity key.
    #[must_use]
    pub fn pubkey(&self) -> Ed25519PublicKey {
        self.listing.pubkey_ed25519()
    }

    /// What the node announced, as a listing without a swarm.
    #[must_use]
    pub fn listing(&self) -> &NodeListing {
        &self.listing
    }

    /// When the node signed it (Unix milliseconds, the node's clock).
    #[must_use]
    pub fn timestamp_ms(&self) -> u64 {
        self.timestamp_ms
    }
}

/// A node's signed "I am still up" (`POST /proof`).
///
/// JSON: `{"pubkey_ed25519", "timestamp" (ms), "signature" (base64)}`, signed over
/// [`proof_bytes`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Proof {
    pubkey: Ed25519PublicKey,
    timestamp_ms: u64,
    signature: Signature,
}

impl Proof {
    /// Signs an uptime proof made at `timestamp_ms` (Unix milliseconds).
    #[must_use]
    pub fn sign(node_key: &Ed25519SecretKey, timestamp_ms: u64) -> Self {
        let pubkey = node_key.public_key();
        Self {
            pubkey,
            timestamp_ms,
            signature: node_key.sign(&proof_bytes(&pubkey, timestamp_ms)),
        }
    }

    /// Reads a proof body and checks its signature.
    pub fn from_json(body: &[u8]) -> Result<Self, AnnounceError> {
        let raw: RawProof = serde_json::from_slice(body)?;
        let pubkey = Ed25519PublicKey(key_hex(&raw.pubkey_ed25519, "pubkey_ed25519")?);
        let signature = signature_b64(&raw.signature)?;
        pubkey
            .verify(&proof_bytes(&pubkey, raw.timestamp), &signature)
            .map_err(|_| AnnounceError::BadSignature)?;
        Ok(Self {
            pubkey,
            timestamp_ms: raw.timestamp,
            signature,
        })
    }

    /// The body to `POST /proof`.
    #[must_use]
    pub fn to_json(&self) -> String {
        serde_json::json!({
            "pubkey_ed25519": hex::encode(self.pubkey.as_bytes()),
            "timestamp": self.timestamp_ms,
            "signature": STANDARD.encode(self.signature.to_bytes()),
        })
        .to_string()
    }

    /// The node's Ed25519 identity key.
    #[must_use]
    pub fn pubkey(&self) -> Ed25519PublicKey {
        self.pubkey
    }

    /// When the node signed it (Unix milliseconds, the node's clock).
    #[must_use]
    pub fn timestamp_ms(&self) -> u64 {
        self.timestamp_ms
    }
}

/// The directory's answer to an accepted registration or proof.
///
/// JSON: `{"height", "epoch", "active", "swarm_id"}`; `swarm_id` is 2⁶⁴ − 1 while the node has
/// no swarm.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ack {
    /// The node list's height after the announcement.
    pub height: u64,
    /// The epoch after the announcement.
    pub epoch: u64,
    /// Whether the node is in the current list (a node that joins between epochs is listed
    /// at the next one: `sotto_directory::Policy::min_epoch_interval_ms`).
    pub active: bool,
    /// The node's swarm.
    pub swarm_id: SwarmId,
}

fn listing(
    key: Ed25519PublicKey,
    ip: Ipv4Addr,
    port: u16,
    version: NodeVersion,
) -> Result<NodeListing, AnnounceError> {
    if ip.is_unspecified() {
        return Err(AnnounceError::InvalidAddress);
    }
    if NonZeroU16::new(port).is_none() {
        return Err(AnnounceError::ZeroPort);
    }
    NodeListing::new(key, ip, port, sotto_swarm::INVALID_SWARM_ID, version)
        .map_err(|_| AnnounceError::InvalidKey)
}

/// The bytes a registration signs: [`signed_bytes`] with [`REGISTER_CONTEXT`] over the Ed25519
/// key (32 bytes), the X25519 key (32), the IPv4 address (4), the port (2, big-endian), the
/// version (3 × 2, big-endian) and the timestamp (8, big-endian, Unix ms).
#[must_use]
pub fn registration_bytes(listing: &NodeListing, timestamp_ms: u64) -> Vec<u8> {
    let v = listing.version();
    let mut version = [0u8; 6];
    for (out, part) in version.chunks_exact_mut(2).zip([v.major, v.minor, v.patch]) {
        out.copy_from_slice(&part.to_be_bytes());
    }
    signed_bytes(
        REGISTER_CONTEXT,
        &[
            listing.pubkey_ed25519().as_bytes(),
            listing.pubkey_x25519().as_bytes(),
            &listing.public_ip().octets(),
            &listing.storage_port().to_be_bytes(),
            &version,
            &timestamp_ms.to_be_bytes(),
        ],
    )
}

/// The bytes an uptime proof signs: [`signed_bytes`] with [`PROOF_CONTEXT`] over the Ed25519
/// key (32 bytes) and the timestamp (8, big-endian, Unix ms).
#[must_use]
pub fn proof_bytes(pubkey: &Ed25519PublicKey, timestamp_ms: u64) -> Vec<u8> {
    signed_bytes(
        PROOF_CONTEXT,
        &[pubkey.as_bytes(), &timestamp_ms.to_be_bytes()],
    )
}

/// Decodes a 64-hex-digit key field; `field` names it in the error.
pub fn key_hex(text: &str, field: &'static str) -> Result<[u8; 32], AnnounceError> {
    let mut key = [0u8; 32];
    hex::decode_to_slice(text, &mut key).map_err(|_| AnnounceError::KeyHex { field })?;
    Ok(key)
}

fn signature_b64(text: &str) -> Result<Signature, AnnounceError> {
    // 64 bytes are 88 base64 characters: refuse anything longer before decoding.
    if text.len() > 88 {
        return Err(AnnounceError::SignatureEncoding);
    }
    let bytes = STANDARD
        .decode(text)
        .map_err(|_| AnnounceError::SignatureEncoding)?;
    Signature::from_slice(&bytes).map_err(|_| AnnounceError::SignatureEncoding)
}

#[derive(Deserialize)]
struct RawRegistration {
    pubkey_ed25519: String,
    pubkey_x25519: String,
    public_ip: String,
    storage_port: u16,
    version: NodeVersion,
    timestamp: u64,
    signature: String,
}

#[derive(Deserialize)]
struct RawProof {
    pubkey_ed25519: String,
    timestamp: u64,
    signature: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(n: u8) -> Ed25519SecretKey {
        Ed25519SecretKey::from_seed(&[n; 32])
    }

    fn reg() -> Registration {
        Registration::sign(
            &key(1),
            Ipv4Addr::new(127, 0, 0, 11),
            22021,
            NodeVersion::from([2, 8, 0]),
            1_700_000_000_123,
        )
        .unwrap()
    }

    #[test]
    fn registration_round_trip_and_signed_string() {
        let r = reg();
        let json = r.to_json();
        assert_eq!(Registration::from_json(json.as_bytes()).unwrap(), r);
        // The signature covers exactly the documented bytes.
        let l = r.listing();
        let mut msg = vec![0, 0, 0, 27];
        msg.extend_from_slice(b"sotto-directory-register-v2");
        for field in [
            &l.pubkey_ed25519().as_bytes()[..],
            &l.pubkey_x25519().as_bytes()[..],
            &[127, 0, 0, 11],
            &22021u16.to_be_bytes(),
            &[0, 2, 0, 8, 0, 0],
            &1_700_000_000_123u64.to_be_bytes(),
        ] {
            msg.extend_from_slice(&u32::try_from(field.len()).unwrap().to_be_bytes());
            msg.extend_from_slice(field);
        }
        assert_eq!(registration_bytes(l, 1_700_000_000_123), msg);
        let v: serde_json::Value = serde_json::from_str(&json).unwrap();
        let sig = STANDARD.decode(v["signature"].as_str().unwrap()).unwrap();
        r.pubkey()
            .verify(&msg, &Signature::from_slice(&sig).unwrap())
            .unwrap();
    }

    /// S-16: the two collisions the review found in the old unseparated string
    /// (`"register" ‖ ed ‖ x ‖ ip ‖ port ‖ a.b.c ‖ ts`) now sign different bytes.
    #[test]
    fn colliding_field_sets_sign_different_bytes() {
        let k = key(1);
        let at = |ip: [u8; 4], port: u16, v: [u16; 3]| {
            listing(
                k.public_key(),
                Ipv4Addr::from(ip),
                port,
                NodeVersion::from(v),
            )
            .unwrap()
        };
        let old = |l: &NodeListing| {
            format!(
                "register{}{}{}{}{}{}",
                hex::encode(l.pubkey_ed25519().as_bytes()),
                hex::encode(l.pubkey_x25519().as_bytes()),
                l.public_ip(),
                l.storage_port(),
                l.version(),
                7
            )
        };
        let pairs = [
            // 127.0.0.11 + 22021 ≡ 127.0.0.112 + 2021
            (
                at([127, 0, 0, 11], 22021, [2, 8, 0]),
                at([127, 0, 0, 112], 2021, [2, 8, 0]),
            ),
            // port 22021 v2.8.0 ≡ port 2202 v12.8.0
            (
                at([127, 0, 0, 11], 22021, [2, 8, 0]),
                at([127, 0, 0, 11], 2202, [12, 8, 0]),
            ),
        ];
        for (a, b) in &pairs {
            assert_eq!(old(a), old(b), "the old format collided");
            assert_ne!(registration_bytes(a, 7), registration_bytes(b, 7));
            // A signature over one does not verify as the other.
            let signed =
                Registration::sign(&k, a.public_ip(), a.storage_port(), a.version(), 7).unwrap();
            let mut forged: serde_json::Value = serde_json::from_str(&signed.to_json()).unwrap();
            forged["public_ip"] = b.public_ip().to_string().into();
            forged["storage_port"] = b.storage_port().into();
            forged["version"] = serde_json::to_value(b.version()).unwrap();
            assert!(matches!(
                Registration::from_json(forged.to_string().as_bytes()),
                Err(AnnounceError::BadSignature)
            ));
        }
        // A proof and a registration never share bytes (distinct context tags).
        assert_ne!(
            proof_bytes(&k.public_key(), 7)[..31],
            registration_bytes(&pairs[0].0, 7)[..31]
        );
    }

    #[test]
    fn registration_rejections() {
        let good: serde_json::Value = serde_json::from_str(&reg().to_json()).unwrap();
        let with = |field: &str, v: serde_json::Value| {
            let mut j = good.clone();
            j[field] = v;
            Registration::from_json(j.to_string().as_bytes()).unwrap_err()
        };
        // Any signed field changed breaks the signature.
        assert!(matches!(
            with("storage_port", 22022.into()),
            AnnounceError::BadSignature
        ));
        assert!(matches!(
            with("public_ip", "127.0.0.12".into()),
            AnnounceError::BadSignature
        ));
        assert!(matches!(
            with("timestamp", 1_700_000_000_124u64.into()),
            AnnounceError::BadSignature
        ));
        assert!(matches!(
            with("version", serde_json::json!([2, 8, 1])),
            AnnounceError::BadSignature
        ));
        // Another key's signature.
        let other = Registration::sign(
            &key(2),
            Ipv4Addr::new(127, 0, 0, 11),
            22021,
            NodeVersion::from([2, 8, 0]),
            1_700_000_000_123,
        )
        .unwrap();
        let other: serde_json::Value = serde_json::from_str(&other.to_json()).unwrap();
        assert!(matches!(
            with("signature", other["signature"].clone()),
            AnnounceError::BadSignature
        ));
        assert!(matches!(
            with("signature", "AAAA".into()),
            AnnounceError::SignatureEncoding
        ));
        assert!(matches!(
            with("signature", "!".repeat(10_000).into()),
            AnnounceError::SignatureEncoding
        ));
        assert!(matches!(
            with("pubkey_ed25519", "zz".into()),
            AnnounceError::KeyHex {
                field: "pubkey_ed25519"
            }
        ));
        assert!(matches!(
            with("pubkey_x25519", hex::encode([3u8; 32]).into()),
            AnnounceError::KeyMismatch
        ));
        let mut identity = [0u8; 32];
        identity[0] = 1;
        assert!(matches!(
            with("pubkey_ed25519", hex::encode(identity).into()),
            AnnounceError::InvalidKey
        ));
        assert!(matches!(
            with("public_ip", "0.0.0.0".into()),
            AnnounceError::InvalidAddress
        ));
        assert!(matches!(
            with("public_ip", "::1".into()),
            AnnounceError::InvalidAddress
        ));
        assert!(matches!(
            with("storage_port", 0.into()),
            AnnounceError::ZeroPort
        ));
        assert!(matches!(
            with("timestamp", (-1).into()),
            AnnounceError::Json(_)
        ));
        assert!(matches!(
            Registration::from_json(b"[]"),
            Err(AnnounceError::Json(_))
        ));
        assert!(
            Registration::sign(
                &key(1),
                Ipv4Addr::UNSPECIFIED,
                1,
                NodeVersion::from([0, 0, 0]),
                0
            )
            .is_err()
        );
    }

    #[test]
    fn proof_round_trip_and_rejections() {
        let p = Proof::sign(&key(1), 42);
        assert_eq!(Proof::from_json(p.to_json().as_bytes()).unwrap(), p);
        let mut msg = vec![0, 0, 0, 24];
        msg.extend_from_slice(b"sotto-directory-proof-v2");
        msg.extend_from_slice(&[0, 0, 0, 32]);
        msg.extend_from_slice(p.pubkey().as_bytes());
        msg.extend_from_slice(&[0, 0, 0, 8]);
        msg.extend_from_slice(&42u64.to_be_bytes());
        let v: serde_json::Value = serde_json::from_str(&p.to_json()).unwrap();
        let sig = STANDARD.decode(v["signature"].as_str().unwrap()).unwrap();
        p.pubkey()
            .verify(&msg, &Signature::from_slice(&sig).unwrap())
            .unwrap();

        let mut moved = v.clone();
        moved["timestamp"] = 43.into();
        assert!(matches!(
            Proof::from_json(moved.to_string().as_bytes()),
            Err(AnnounceError::BadSignature)
        ));
        let mut other = v;
        other["pubkey_ed25519"] = hex::encode(key(2).public_key().as_bytes()).into();
        assert!(matches!(
            Proof::from_json(other.to_string().as_bytes()),
            Err(AnnounceError::BadSignature)
        ));
        assert!(matches!(
            Proof::from_json(b"{\"pubkey_ed25519\":1}"),
            Err(AnnounceError::Json(_))
        ));
    }
}
