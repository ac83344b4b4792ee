//! Which config lives where: namespaces, encryption domains, signing and wrapping (§3.6).

/// A kind of config message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum ConfigKind {
    /// The user's profile (name, picture, Note-to-Self settings).
    UserProfile,
    /// The user's contacts.
    Contacts,
    /// Read positions and unread flags of conversations.
    ConvoInfoVolatile,
    /// The user's groups and communities.
    UserGroups,
    /// A groups v2 group's info (signed by the group key).
    GroupInfo,
    /// A groups v2 group's member list (signed by the group key).
    GroupMembers,
}

impl ConfigKind {
    /// The four user configs, in push order.
    pub const USER: [Self; 4] = [
        Self::UserProfile,
        Self::Contacts,
        Self::ConvoInfoVolatile,
        Self::UserGroups,
    ];

    /// The swarm namespace the config is stored in.
    #[must_use]
    pub fn namespace(self) -> i16 {
        match self {
            Self::UserProfile => 2,
            Self::Contacts => 3,
            Self::ConvoInfoVolatile => 4,
            Self::UserGroups => 5,
            Self::GroupInfo => 13,
            Self::GroupMembers => 14,
        }
    }

    /// The config kind stored in `namespace`, if any.
    #[must_use]
    pub fn from_namespace(namespace: i16) -> Option<Self> {
        [Self::GroupInfo, Self::GroupMembers]
            .into_iter()
            .chain(Self::USER)
            .find(|k| k.namespace() == namespace)
    }

    /// The encryption domain (1–24 bytes).
    #[must_use]
    pub fn domain(self) -> &'static str {
        match self {
            Self::UserProfile => "UserProfile",
            Self::Contacts => "Contacts",
            Self::ConvoInfoVolatile => "ConvoInfoVolatile",
            Self::UserGroups => "UserGroups",
            Self::GroupInfo => "groups::Info",
            Self::GroupMembers => "groups::Members",
        }
    }

    /// Whether messages of this kind are Ed25519-signed (by the group key).
    #[must_use]
    pub fn is_signed(self) -> bool {
        matches!(self, Self::GroupInfo | Self::GroupMembers)
    }

    /// The `SharedConfigMessage.kind` of a protobuf-wrapped user config, or `None` for group
    /// configs, which are not wrapped.
    #[must_use]
    pub fn shared_config_kind(self) -> Option<i32> {
        match self {
            Self::UserProfile => Some(1),
            Self::Contacts => Some(2),
            Self::ConvoInfoVolatile => Some(3),
            Self::UserGroups => Some(4),
            Self::GroupInfo | Self::GroupMembers => None,
        }
    }

    /// Whether pushes are protobuf-wrapped for older clients.
    #[must_use]
    pub fn is_protobuf_wrapped(self) -> bool {
        self.shared_config_kind().is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_consistent() {
        for k in ConfigKind::USER {
            assert_eq!(ConfigKind::from_namespace(k.namespace()), Some(k));
            assert!(!k.is_signed());
            assert!(k.is_protobuf_wrapped());
            assert!((1..=24).contains(&k.domain().len()));
        }
        assert!(ConfigKind::GroupInfo.is_signed());
        assert_eq!(ConfigKind::from_namespace(12), None);
    }
}
