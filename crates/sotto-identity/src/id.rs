use core::fmt;
use core::str::FromStr;

use sotto_crypto::{Ed25519PublicKey, X25519PublicKey};
use thiserror::Error;

/// The first byte of a 33-byte Session-style ID: it says what the 32 key bytes after it are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum IdPrefix {
    /// `00`: a plain Ed25519 public key (unblinded community auth).
    Unblinded,
    /// `03`: a groups v2 group, followed by the group's Ed25519 public key.
    Group,
    /// `05`: an account (a Session ID), followed by its X25519 public key.
    Standard,
    /// `07`: the version-check blinded key, an Ed25519 public key.
    VersionBlinded,
    /// `15`: a community-blinded ID (15-blinding), a blinded Ed25519 point.
    Blinded15,
    /// `25`: a community-blinded ID (25-blinding), a blinded Ed25519 point.
    Blinded25,
}

impl IdPrefix {
    /// The prefix byte.
    #[must_use]
    pub fn byte(self) -> u8 {
        match self {
            Self::Unblinded => 0x00,
            Self::Group => 0x03,
            Self::Standard => 0x05,
            Self::VersionBlinded => 0x07,
            Self::Blinded15 => 0x15,
            Self::Blinded25 => 0x25,
        }
    }

    /// The prefix for a byte, if it is one Session defines.
    #[must_use]
    pub fn from_byte(byte: u8) -> Option<Self> {
        Some(match byte {
            0x00 => Self::Unblinded,
            0x03 => Self::Group,
            0x05 => Self::Standard,
            0x07 => Self::VersionBlinded,
            0x15 => Self::Blinded15,
            0x25 => Self::Blinded25,
            _ => return None,
        })
    }

    /// A short human name.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Unblinded => "unblinded Ed25519 key",
            Self::Group => "group ID",
            Self::Standard => "Session ID",
            Self::VersionBlinded => "version-check key",
            Self::Blinded15 => "15-blinded ID",
            Self::Blinded25 => "25-blinded ID",
        }
    }
}

/// Why an ID did not parse.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum IdError {
    /// Not 66 hex characters (or 33 bytes).
    #[error("an ID is 66 hex characters (33 bytes), got {found} {unit}")]
    Length {
        /// The length found.
        found: usize,
        /// "characters" or "bytes".
        unit: &'static str,
    },
    /// A character that is not a hex digit.
    #[error("invalid hex character {found:?} at position {position}")]
    Hex {
        /// The character position (0-based).
        position: usize,
        /// The character found.
        found: char,
    },
    /// A first byte that no Session ID type uses.
    #[error("unknown ID prefix {found:02x} (known: 00, 03, 05, 07, 15, 25)")]
    UnknownPrefix {
        /// The prefix byte found.
        found: u8,
    },
    /// A known prefix, but not the one this kind of ID needs.
    #[error("expected a {} (prefix {:02x}), got a {} (prefix {:02x})", expected.name(), expected.byte(), found.name(), found.byte())]
    WrongPrefix {
        /// The prefix the caller needed.
        expected: IdPrefix,
        /// The prefix found.
        found: IdPrefix,
    },
}

/// A 33-byte ID: a prefix byte and 32 key bytes, written as 66 lowercase hex characters.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PrefixedId {
    prefix: IdPrefix,
    key: [u8; 32],
}

impl PrefixedId {
    /// Builds an ID from its parts.
    #[must_use]
    pub fn new(prefix: IdPrefix, key: [u8; 32]) -> Self {
        Self { prefix, key }
    }

    /// Parses 33 raw bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, IdError> {
        let (&first, rest) =
            bytes
                .split_first()
                .filter(|_| bytes.len() == 33)
                .ok_or(IdError::Length {
                    found: bytes.len(),
                    unit: "bytes",
                })?;
        let prefix = IdPrefix::from_byte(first).ok_or(IdError::UnknownPrefix { found: first })?;
        let mut key = [0u8; 32];
        key.copy_from_slice(rest);
        Ok(Self { prefix, key })
    }

    /// Parses 66 hex characters (either case), requiring `expected` as the prefix.
    pub fn parse_with_prefix(text: &str, expected: IdPrefix) -> Result<Self, IdError> {
        let id: Self = text.parse()?;
        if id.prefix != expected {
            return Err(IdError::WrongPrefix {
                expected,
                found: id.prefix,
            });
        }
        Ok(id)
    }

    /// The prefix.
    #[must_use]
    pub fn prefix(&self) -> IdPrefix {
        self.prefix
    }

    /// The 32 key bytes after the prefix.
    #[must_use]
    pub fn key(&self) -> &[u8; 32] {
        &self.key
    }

    /// The 33 bytes: prefix then key.
    #[must_use]
    pub fn to_bytes(&self) -> [u8; 33] {
        let mut out = [0u8; 33];
        let (first, rest) = out.split_at_mut(1);
        first.copy_from_slice(&[self.prefix.byte()]);
        rest.copy_from_slice(&self.key);
        out
    }

    /// The key bytes read as an Ed25519 public key (meaningful for every prefix but `05`).
    #[must_use]
    pub fn ed25519_key(&self) -> Ed25519PublicKey {
        Ed25519PublicKey(self.key)
    }
}

impl FromStr for PrefixedId {
    type Err = IdError;

    fn from_str(text: &str) -> Result<Self, IdError> {
        let count = text.chars().count();
        if count != 66 {
            return Err(IdError::Length {
                found: count,
                unit: "characters",
            });
        }
        if let Some((position, found)) = text
            .chars()
            .enumerate()
            .find(|(_, c)| !c.is_ascii_hexdigit())
        {
            return Err(IdError::Hex { position, found });
        }
        let bytes = hex::decode(text).map_err(|_| IdError::Length {
            found: count,
            unit: "characters",
        })?;
        Self::from_bytes(&bytes)
    }
}

impl fmt::Display for PrefixedId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02x}{}", self.prefix.byte(), hex::encode(self.key))
    }
}

impl fmt::Debug for PrefixedId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PrefixedId({self})")
    }
}

/// An account's Session ID: `05` followed by its X25519 public key.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SessionId(X25519PublicKey);

impl SessionId {
    /// The Session ID of an X25519 public key.
    #[must_use]
    pub fn from_x25519(key: X25519PublicKey) -> Self {
        Self(key)
    }

    /// Parses 33 raw bytes starting with `05`.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, IdError> {
        Self::try_from(PrefixedId::from_bytes(bytes)?)
    }

    /// The X25519 public key.
    #[must_use]
    pub fn x25519(&self) -> &X25519PublicKey {
        &self.0
    }

    /// The 33 bytes `05 ‖ X`.
    #[must_use]
    pub fn to_bytes(&self) -> [u8; 33] {
        PrefixedId::from(*self).to_bytes()
    }

    /// A shortened form for logs and lists: the first and last four hex digits.
    #[must_use]
    pub fn short(&self) -> String {
        let full = self.to_string();
        let head = full.get(..6).unwrap_or_default();
        let tail = full.get(full.len().saturating_sub(4)..).unwrap_or_default();
        format!("{head}…{tail}")
    }
}

impl TryFrom<PrefixedId> for SessionId {
    type Error = IdError;

    fn try_from(id: PrefixedId) -> Result<Self, IdError> {
        if id.prefix != IdPrefix::Standard {
            return Err(IdError::WrongPrefix {
                expected: IdPrefix::Standard,
                found: id.prefix,
            });
        }
        Ok(Self(X25519PublicKey(id.key)))
    }
}

impl From<SessionId> for PrefixedId {
    fn from(id: SessionId) -> Self {
        Self::new(IdPrefix::Standard, id.0.0)
    }
}

impl FromStr for SessionId {
    type Err = IdError;

    fn from_str(text: &str) -> Result<Self, IdError> {
        Self::try_from(text.parse::<PrefixedId>()?)
    }
}

impl fmt::Display for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "05{}", hex::encode(self.0.0))
    }
}

impl fmt::Debug for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SessionId({})", self.short())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "05d2ad010eeb72d72e561d9de7bd7b6989af77dcabffa03a5111a6c859ae5c3a72";

    #[test]
    fn parses_and_prints() {
        let id: SessionId = ID.parse().unwrap();
        assert_eq!(id.to_string(), ID);
        assert_eq!(ID.to_uppercase().parse::<SessionId>().unwrap(), id);
        assert_eq!(SessionId::from_bytes(&id.to_bytes()).unwrap(), id);
        assert_eq!(id.short(), "05d2ad…3a72");
    }

    #[test]
    fn typed_errors() {
        assert_eq!(
            "05ab".parse::<SessionId>(),
            Err(IdError::Length {
                found: 4,
                unit: "characters"
            })
        );
        let bad_hex = format!("05{}g", &ID[2..65]);
        assert_eq!(
            bad_hex.parse::<SessionId>(),
            Err(IdError::Hex {
                position: 65,
                found: 'g'
            })
        );
        let unknown = format!("99{}", &ID[2..]);
        assert_eq!(
            unknown.parse::<PrefixedId>(),
            Err(IdError::UnknownPrefix { found: 0x99 })
        );
        let group = format!("03{}", &ID[2..]);
        assert_eq!(
            group.parse::<SessionId>(),
            Err(IdError::WrongPrefix {
                expected: IdPrefix::Standard,
                found: IdPrefix::Group
            })
        );
        let multibyte = format!("05{}é", &ID[2..65]);
        assert!(matches!(
            multibyte.parse::<PrefixedId>(),
            Err(IdError::Hex { position: 65, .. })
        ));
        assert!(PrefixedId::from_bytes(&[5; 32]).is_err());
    }

    #[test]
    fn every_prefix_round_trips() {
        for byte in [0x00, 0x03, 0x05, 0x07, 0x15, 0x25] {
            let prefix = IdPrefix::from_byte(byte).unwrap();
            let id = PrefixedId::new(prefix, [0xab; 32]);
            assert_eq!(id.to_string().parse::<PrefixedId>().unwrap(), id);
            assert_eq!(
                PrefixedId::parse_with_prefix(&id.to_string(), prefix).unwrap(),
                id
            );
        }
    }
}
