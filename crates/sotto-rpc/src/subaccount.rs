//! Subaccount tokens (spec §2.3 step 3).

use core::fmt;
use core::ops::BitOr;

use sotto_crypto::{Ed25519PublicKey, Ed25519SecretKey, Signature};

use crate::encoding::{decode_base64_exact, decode_hex, encode_base64};

/// Length of a subaccount token.
pub const TOKEN_LEN: usize = 36;
/// Most revoked tokens a node keeps per account (oldest dropped), and most tokens one
/// `revoke_subaccount` may carry.
pub const MAX_REVOKED_TOKENS: usize = 50;

/// Permission bits of a subaccount token (byte 1).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct SubaccountFlags(u8);

impl SubaccountFlags {
    /// No permission (what owner-only methods require of nobody).
    pub const NONE: Self = Self(0);
    /// Retrieve and read expiries.
    pub const READ: Self = Self(0b0001);
    /// Store and extend expiries.
    pub const WRITE: Self = Self(0b0010);
    /// Delete and shorten expiries.
    pub const DELETE: Self = Self(0b0100);
    /// Valid for any network prefix of the same key, not only the token's.
    pub const ANY_PREFIX: Self = Self(0b1000);

    /// The flags of a byte (unknown bits kept).
    #[must_use]
    pub const fn from_bits(bits: u8) -> Self {
        Self(bits)
    }

    /// The byte.
    #[must_use]
    pub const fn bits(self) -> u8 {
        self.0
    }

    /// Whether every bit of `other` is set here.
    #[must_use]
    pub const fn contains(self, other: Self) -> bool {
        self.0 & other.0 == other.0
    }
}

impl BitOr for SubaccountFlags {
    type Output = Self;

    fn bitor(self, rhs: Self) -> Self {
        Self(self.0 | rhs.0)
    }
}

/// A 36-byte subaccount token: network prefix, flags, two reserved bytes, and the subaccount's
/// Ed25519 public key. The reserved bytes are not checked, as the storage server does not.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SubaccountToken([u8; TOKEN_LEN]);

impl SubaccountToken {
    /// A token for `pubkey` on accounts with network `prefix`.
    #[must_use]
    pub fn new(prefix: u8, flags: SubaccountFlags, pubkey: &Ed25519PublicKey) -> Self {
        let mut out = [0u8; TOKEN_LEN];
        let (head, key) = out.split_at_mut(4);
        head.copy_from_slice(&[prefix, flags.bits(), 0, 0]);
        key.copy_from_slice(pubkey.as_bytes());
        Self(out)
    }

    /// The token of 36 bytes.
    #[must_use]
    pub const fn from_bytes(bytes: [u8; TOKEN_LEN]) -> Self {
        Self(bytes)
    }

    /// Reads exactly 36 bytes.
    #[must_use]
    pub fn from_slice(bytes: &[u8]) -> Option<Self> {
        bytes.try_into().ok().map(Self)
    }

    /// Reads the JSON text forms: 48 base64 characters or 72 hex digits.
    #[must_use]
    pub fn parse_text(text: &[u8]) -> Option<Self> {
        match text.len() {
            48 => decode_base64_exact(text).map(Self),
            72 => decode_hex(text).map(Self),
            _ => None,
        }
    }

    /// The 36 bytes.
    #[must_use]
    pub const fn as_bytes(&self) -> &[u8; TOKEN_LEN] {
        &self.0
    }

    /// Base64 (48 characters, no padding needed).
    #[must_use]
    pub fn to_base64(&self) -> String {
        encode_base64(&self.0)
    }

    /// The network prefix (byte 0).
    #[must_use]
    pub fn prefix(&self) -> u8 {
        self.0.first().copied().unwrap_or_default()
    }

    /// The permissions (byte 1).
    #[must_use]
    pub fn flags(&self) -> SubaccountFlags {
        SubaccountFlags(self.0.get(1).copied().unwrap_or_default())
    }

    /// The subaccount's Ed25519 public key (bytes 4–35).
    #[must_use]
    pub fn pubkey(&self) -> Ed25519PublicKey {
        let mut key = [0u8; 32];
        key.copy_from_slice(self.0.split_at(4).1);
        Ed25519PublicKey(key)
    }

    /// Whether the token may be used on an account with this prefix.
    #[must_use]
    pub fn prefix_allowed(&self, account_prefix: u8) -> bool {
        self.prefix() == account_prefix || self.flags().contains(SubaccountFlags::ANY_PREFIX)
    }
}

impl fmt::Debug for SubaccountToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SubaccountToken({})", hex::encode(self.0))
    }
}

/// A token with the account owner's signature of its 36 bytes: what a subaccount presents
/// (`subaccount` and `subaccount_sig`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SignedSubaccount {
    /// The token.
    pub token: SubaccountToken,
    /// The owner's Ed25519 signature of the token bytes.
    pub signature: Signature,
}

impl SignedSubaccount {
    /// The owner (holding the account's Ed25519 key) grants `token`.
    #[must_use]
    pub fn grant(owner: &Ed25519SecretKey, token: SubaccountToken) -> Self {
        Self {
            token,
            signature: owner.sign(token.as_bytes()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_and_flags() {
        let pk = Ed25519PublicKey([9; 32]);
        let t = SubaccountToken::new(3, SubaccountFlags::READ | SubaccountFlags::WRITE, &pk);
        assert_eq!(&t.as_bytes()[..4], &[3, 3, 0, 0]);
        assert_eq!(t.pubkey(), pk);
        assert_eq!(t.prefix(), 3);
        assert!(t.flags().contains(SubaccountFlags::READ));
        assert!(!t.flags().contains(SubaccountFlags::DELETE));
        assert!(t.flags().contains(SubaccountFlags::NONE));
        assert!(t.prefix_allowed(3));
        assert!(!t.prefix_allowed(5));
        let any = SubaccountToken::new(3, SubaccountFlags::ANY_PREFIX, &pk);
        assert!(any.prefix_allowed(5));
    }

    #[test]
    fn text_forms() {
        let t = SubaccountToken::from_bytes([7; 36]);
        assert_eq!(
            SubaccountToken::parse_text(t.to_base64().as_bytes()),
            Some(t)
        );
        assert_eq!(
            SubaccountToken::parse_text(hex::encode(t.as_bytes()).as_bytes()),
            Some(t)
        );
        assert_eq!(t.to_base64().len(), 48);
        // 48 characters that decode to fewer than 36 bytes, 47 and 71 characters, bad hex.
        let padded = format!("{}==", &t.to_base64()[..46]);
        assert_eq!(SubaccountToken::parse_text(padded.as_bytes()), None);
        assert_eq!(
            SubaccountToken::parse_text(&t.to_base64().as_bytes()[..47]),
            None
        );
        assert_eq!(SubaccountToken::parse_text(&[b'0'; 71]), None);
        assert_eq!(SubaccountToken::parse_text(&[b'g'; 72]), None);
        assert_eq!(SubaccountToken::from_slice(&[0; 35]), None);
    }
}
