//! Account addresses ("user pubkeys") as the storage server reads them.

use core::fmt;
use core::str::FromStr;

use sotto_crypto::Ed25519PublicKey;
use sotto_identity::{PrefixedId, SessionId};

use crate::encoding::decode_hex;
use crate::error::ParseError;

/// The network prefix of a Session ID account (its key is X25519).
pub const SESSION_PREFIX: u8 = 0x05;
/// The network prefix of a groups v2 account (its key is Ed25519).
pub const GROUP_PREFIX: u8 = 0x03;

/// A 33-byte account address: a network prefix byte and 32 key bytes. `05` accounts carry an
/// X25519 key (a Session ID); every other prefix carries an Ed25519 key. Unlike
/// [`PrefixedId`], any prefix byte is accepted, as the storage server does.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AccountId {
    prefix: u8,
    key: [u8; 32],
}

impl AccountId {
    /// The account with this prefix and key.
    #[must_use]
    pub const fn new(prefix: u8, key: [u8; 32]) -> Self {
        Self { prefix, key }
    }

    /// Reads the forms the storage server accepts for `pubkey`: 66 hex digits (either case) or
    /// 33 raw bytes.
    pub fn parse(input: &[u8]) -> Result<Self, ParseError> {
        let bytes: [u8; 33] = match input.len() {
            66 => decode_hex(input).ok_or(ParseError::Pubkey)?,
            33 => input.try_into().map_err(|_| ParseError::Pubkey)?,
            _ => return Err(ParseError::Pubkey),
        };
        Ok(Self::from_bytes(&bytes))
    }

    /// The account of 33 bytes.
    #[must_use]
    pub fn from_bytes(bytes: &[u8; 33]) -> Self {
        let (first, key) = bytes.split_at(1);
        let mut out = [0u8; 32];
        out.copy_from_slice(key);
        Self::new(first.first().copied().unwrap_or_default(), out)
    }

    /// The prefix byte.
    #[must_use]
    pub const fn prefix(&self) -> u8 {
        self.prefix
    }

    /// The 32 key bytes.
    #[must_use]
    pub const fn key(&self) -> &[u8; 32] {
        &self.key
    }

    /// Whether this is a Session ID (`05`), whose key is X25519.
    #[must_use]
    pub const fn is_session_id(&self) -> bool {
        self.prefix == SESSION_PREFIX
    }

    /// The key read as Ed25519 (what the storage server verifies with when no
    /// `pubkey_ed25519` is given).
    #[must_use]
    pub const fn ed25519_key(&self) -> Ed25519PublicKey {
        Ed25519PublicKey(self.key)
    }

    /// The 33 bytes: prefix then key.
    #[must_use]
    pub fn to_bytes(&self) -> [u8; 33] {
        let mut out = [0u8; 33];
        let (first, rest) = out.split_at_mut(1);
        first.fill(self.prefix);
        rest.copy_from_slice(&self.key);
        out
    }

    /// A shortened form for logs: the first two bytes and the last byte in hex.
    #[must_use]
    pub fn short(&self) -> String {
        let last = self.key.last().copied().unwrap_or_default();
        let first = self.key.first().copied().unwrap_or_default();
        format!("{:02x}{first:02x}…{last:02x}", self.prefix)
    }
}

impl fmt::Display for AccountId {
    /// 66 lowercase hex digits (`PUBKEY_HEX` in node signatures).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02x}{}", self.prefix, hex::encode(self.key))
    }
}

impl fmt::Debug for AccountId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AccountId({})", self.short())
    }
}

impl FromStr for AccountId {
    type Err = ParseError;

    fn from_str(text: &str) -> Result<Self, ParseError> {
        if text.len() != 66 {
            return Err(ParseError::Pubkey);
        }
        Self::parse(text.as_bytes())
    }
}

impl From<PrefixedId> for AccountId {
    fn from(id: PrefixedId) -> Self {
        Self::from_bytes(&id.to_bytes())
    }
}

impl From<SessionId> for AccountId {
    fn from(id: SessionId) -> Self {
        Self::new(SESSION_PREFIX, id.x25519().0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEX: &str = "05ffba630924aa1224bb930dde21c0d11bf004608f2812217f8ac812d6c7e3ad48";

    #[test]
    fn forms() {
        let a: AccountId = HEX.parse().unwrap();
        assert_eq!(a.to_string(), HEX);
        assert!(a.is_session_id());
        assert_eq!(AccountId::parse(HEX.to_uppercase().as_bytes()).unwrap(), a);
        assert_eq!(AccountId::parse(&a.to_bytes()).unwrap(), a);
        let other = AccountId::new(0x42, [1; 32]);
        assert_eq!(
            AccountId::parse(other.to_string().as_bytes()).unwrap(),
            other
        );
        for bad in [&HEX[..64], &HEX[..65], "", "zz"] {
            assert_eq!(AccountId::parse(bad.as_bytes()), Err(ParseError::Pubkey));
        }
        assert_eq!(
            AccountId::parse(format!("{}g", &HEX[..65]).as_bytes()),
            Err(ParseError::Pubkey)
        );
        assert_eq!(AccountId::parse(&[5; 32]), Err(ParseError::Pubkey));
        assert_eq!(AccountId::parse(&[5; 34]), Err(ParseError::Pubkey));
        assert_eq!(a.short(), "05ff…48");
        let sid: SessionId = HEX.parse().unwrap();
        assert_eq!(AccountId::from(sid), a);
        assert_eq!(AccountId::from(PrefixedId::from(sid)), a);
    }
}
