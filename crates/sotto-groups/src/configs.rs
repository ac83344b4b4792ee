//! A closed group's Info and Members configs (spec §2.6): ordinary config messages from
//! `sotto-config`, encrypted with the current group key (a receiver tries every key it knows),
//! never protobuf-wrapped, and always signed by the group's Ed25519 key. The typed views are
//! [`sotto_config::GroupInfo`] and [`sotto_config::GroupMembers`].

use sotto_config::{ConfigKind, ConfigMessage, CryptError};
use sotto_crypto::{Ed25519PublicKey, SymmetricKey};

use crate::GroupConfigError;

/// Opens a group Info or Members push: decrypts it with the first of `keys` that works (newest
/// first, as [`crate::GroupKeys::keys`] gives them), removes the padding and compression, and
/// parses it, requiring the group's signature.
pub fn open_group_config(
    ciphertext: &[u8],
    keys: &[&SymmetricKey],
    kind: ConfigKind,
    group: &Ed25519PublicKey,
) -> Result<ConfigMessage, GroupConfigError> {
    if !matches!(kind, ConfigKind::GroupInfo | ConfigKind::GroupMembers) {
        return Err(GroupConfigError::NotAGroupConfig(kind));
    }
    let padded = keys
        .iter()
        .find_map(|key| sotto_config::decrypt(ciphertext, key.expose(), kind.domain()).ok())
        .ok_or(GroupConfigError::NoKey)?;
    let serialized = sotto_config::unpad_and_decompress(&padded)?;
    Ok(ConfigMessage::parse(&serialized, Some(group))?)
}

/// Seals a group Info or Members message for its namespace: compressed when shorter, padded,
/// and encrypted with the group's current key. The message must already be signed by the group
/// (see [`sotto_config::MutableConfig::finish`]).
pub fn seal_group_config(
    message: &ConfigMessage,
    key: &SymmetricKey,
    kind: ConfigKind,
) -> Result<Vec<u8>, GroupConfigError> {
    if !matches!(kind, ConfigKind::GroupInfo | ConfigKind::GroupMembers) {
        return Err(GroupConfigError::NotAGroupConfig(kind));
    }
    let sealed: Result<Vec<u8>, CryptError> =
        sotto_config::seal_for_push(message.serialized(), key.expose(), kind.domain());
    Ok(sealed?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use sotto_config::{GroupInfo, GroupMember, GroupMembers};
    use sotto_crypto::Ed25519SecretKey;

    #[test]
    fn signed_info_and_members_round_trip_and_refuse_strangers() {
        let group = Ed25519SecretKey::from_seed(&[7; 32]);
        let stranger = Ed25519SecretKey::from_seed(&[8; 32]);
        let old = SymmetricKey::new([1; 32]);
        let current = SymmetricKey::new([2; 32]);

        let mut info = ConfigMessage::empty().increment();
        GroupInfo {
            name: Some("Hikers".into()),
            created: 1_700_000_000,
            ..GroupInfo::default()
        }
        .write(info.data_mut());
        let info = info.finish(Some(&group));
        let sealed = seal_group_config(&info, &current, ConfigKind::GroupInfo).unwrap();
        let opened = open_group_config(
            &sealed,
            &[&old, &current],
            ConfigKind::GroupInfo,
            &group.public_key(),
        )
        .unwrap();
        assert_eq!(
            GroupInfo::read(opened.data()).name.as_deref(),
            Some("Hikers")
        );

        // The wrong domain, an unknown key and another signer are all refused.
        let e = open_group_config(
            &sealed,
            &[&current],
            ConfigKind::GroupMembers,
            &group.public_key(),
        );
        assert_eq!(e.unwrap_err(), GroupConfigError::NoKey);
        let e = open_group_config(&sealed, &[&old], ConfigKind::GroupInfo, &group.public_key());
        assert_eq!(e.unwrap_err(), GroupConfigError::NoKey);
        let mut forged = ConfigMessage::empty().increment();
        GroupMembers::set(
            forged.data_mut(),
            &GroupMember {
                session_id: [&[0x05][..], &[9; 32]].concat(),
                name: "Mallory".into(),
                admin: true,
                ..GroupMember::default()
            },
        );
        let forged = forged.finish(Some(&stranger));
        let sealed = seal_group_config(&forged, &current, ConfigKind::GroupMembers).unwrap();
        let e = open_group_config(
            &sealed,
            &[&current],
            ConfigKind::GroupMembers,
            &group.public_key(),
        );
        assert!(matches!(e, Err(GroupConfigError::Load(_))), "{e:?}");
        // User configs are not group configs.
        let e = seal_group_config(&forged, &current, ConfigKind::Contacts);
        assert_eq!(
            e.unwrap_err(),
            GroupConfigError::NotAGroupConfig(ConfigKind::Contacts)
        );
    }
}
