//! Message namespaces (spec §2.2).

use core::fmt;

/// Minimum TTL of a stored message, in milliseconds (10 s).
pub const TTL_MIN_MS: u64 = 10_000;
/// Maximum TTL in public-inbox namespaces, in milliseconds (14 days).
pub const TTL_MAX_PUBLIC_MS: u64 = 14 * 24 * 3600 * 1000;
/// Maximum TTL elsewhere and for expiry updates, in milliseconds (30 days).
pub const TTL_MAX_PRIVATE_MS: u64 = 30 * 24 * 3600 * 1000;

/// A 16-bit signed message namespace; 0 is the default.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Namespace(i16);

impl Namespace {
    /// 0: ordinary messages (DMs); a public inbox.
    pub const DEFAULT: Self = Self(0);
    /// 2: the user profile config.
    pub const USER_PROFILE: Self = Self(2);
    /// 3: the contacts config.
    pub const CONTACTS: Self = Self(3);
    /// 4: the conversation-info-volatile config.
    pub const CONVO_INFO_VOLATILE: Self = Self(4);
    /// 5: the user-groups config.
    pub const USER_GROUPS: Self = Self(5);
    /// 11: group messages.
    pub const GROUP_MESSAGES: Self = Self(11);
    /// 12: group keys.
    pub const GROUP_KEYS: Self = Self(12);
    /// 13: group info config.
    pub const GROUP_INFO: Self = Self(13);
    /// 14: group members config.
    pub const GROUP_MEMBERS: Self = Self(14);
    /// −10: legacy closed groups (unauthenticated store and retrieve; deprecated).
    pub const LEGACY_CLOSED: Self = Self(-10);

    /// The namespace with this number.
    #[must_use]
    pub const fn new(n: i16) -> Self {
        Self(n)
    }

    /// The number.
    #[must_use]
    pub const fn get(self) -> i16 {
        self.0
    }

    /// Public inbox (`n % 10 == 0`): anyone may store without a signature.
    #[must_use]
    pub const fn is_public_inbox(self) -> bool {
        self.0 % 10 == 0
    }

    /// Public outbox (negative, `−n % 20 == 1`): one message at a time, retrievable without a
    /// signature; storing needs the owner (subaccounts need write and delete).
    #[must_use]
    pub const fn is_public_outbox(self) -> bool {
        let n = self.0 as i32;
        n < 0 && (-n) % 20 == 1
    }

    /// Retrieval needs no signature: the legacy closed-group namespace or a public outbox.
    #[must_use]
    pub const fn is_noauth_retrieve(self) -> bool {
        self.0 == Self::LEGACY_CLOSED.0 || self.is_public_outbox()
    }

    /// Unrevocable (negative, `−n % 100 == 11`): a revoked subaccount may still retrieve.
    #[must_use]
    pub const fn is_unrevocable(self) -> bool {
        let n = self.0 as i32;
        n < 0 && (-n) % 100 == 11
    }

    /// The longest TTL a new message here may have, in milliseconds.
    #[must_use]
    pub const fn max_ttl_ms(self) -> u64 {
        if self.is_public_inbox() {
            TTL_MAX_PUBLIC_MS
        } else {
            TTL_MAX_PRIVATE_MS
        }
    }

    /// The namespace as it appears in signed strings and message hashes: empty for 0, the
    /// decimal otherwise.
    #[must_use]
    pub fn signature_part(self) -> String {
        if self.0 == 0 {
            String::new()
        } else {
            self.0.to_string()
        }
    }
}

impl fmt::Display for Namespace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl From<i16> for Namespace {
    fn from(n: i16) -> Self {
        Self(n)
    }
}

/// One namespace, or every namespace of the account (`"all"`), as `delete_all`,
/// `delete_before` and `expire_all` accept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Namespaces {
    /// One namespace.
    One(Namespace),
    /// All of them.
    All,
}

impl Default for Namespaces {
    fn default() -> Self {
        Self::One(Namespace::DEFAULT)
    }
}

impl Namespaces {
    /// The part of a signed string: empty for namespace 0, `all`, or the decimal.
    #[must_use]
    pub fn signature_part(self) -> String {
        match self {
            Self::One(ns) => ns.signature_part(),
            Self::All => "all".to_owned(),
        }
    }
}

impl From<Namespace> for Namespaces {
    fn from(ns: Namespace) -> Self {
        Self::One(ns)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes() {
        for n in [0, 10, -30, 32760, -32760] {
            assert!(Namespace::new(n).is_public_inbox(), "{n}");
        }
        for n in [1, -1, 9, 11, -11, 32767, -32768] {
            assert!(!Namespace::new(n).is_public_inbox(), "{n}");
        }
        for n in [-1, -21, -41, -32761] {
            assert!(Namespace::new(n).is_public_outbox(), "{n}");
            assert!(Namespace::new(n).is_noauth_retrieve(), "{n}");
        }
        for n in [1, 21, -2, -20, -22, 0, -32768] {
            assert!(!Namespace::new(n).is_public_outbox(), "{n}");
        }
        assert!(Namespace::LEGACY_CLOSED.is_noauth_retrieve());
        assert!(Namespace::LEGACY_CLOSED.is_public_inbox());
        assert!(!Namespace::DEFAULT.is_noauth_retrieve());
        for n in [-11, -111, -211, -32711] {
            assert!(Namespace::new(n).is_unrevocable(), "{n}");
        }
        for n in [11, -10, -12, -110, -112] {
            assert!(!Namespace::new(n).is_unrevocable(), "{n}");
        }
        assert_eq!(Namespace::DEFAULT.max_ttl_ms(), TTL_MAX_PUBLIC_MS);
        assert_eq!(Namespace::new(3).max_ttl_ms(), TTL_MAX_PRIVATE_MS);
    }

    #[test]
    fn signature_parts() {
        assert_eq!(Namespace::DEFAULT.signature_part(), "");
        assert_eq!(Namespace::new(-10).signature_part(), "-10");
        assert_eq!(Namespace::new(-32768).signature_part(), "-32768");
        assert_eq!(Namespaces::All.signature_part(), "all");
        assert_eq!(Namespaces::default().signature_part(), "");
    }
}
