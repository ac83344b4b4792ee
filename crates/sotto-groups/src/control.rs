//! Admin-signed control messages (`DataMessage.groupUpdateMessage`, §2.9) and the
//! kicked-member notice of namespace −11 (§2.10).

use core::fmt;

use prost::Message as _;
use sotto_crypto::{
    CryptoRngCore, SecretBytes, Signature, X25519PublicKey, X25519SecretKey, XCHACHA_NONCE_LEN,
};
use sotto_identity::SessionId;

use crate::auth::SubaccountAuth;
use crate::multi::{Nonce, decrypt_simple, encrypt_simple_with_nonce};
use crate::proto;
use crate::{ControlError, GroupAdmin, GroupId};

/// Multi-encryption domain of kicked notices.
pub const KICKED_DOMAIN: &[u8] = b"SessionGroupKickedMessage";

/// What an info change changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum InfoChangeKind {
    /// The name (1).
    Name,
    /// The avatar (2).
    Avatar,
    /// The disappearing-messages timer (3).
    DisappearingMessages,
}

impl InfoChangeKind {
    fn number(self) -> i32 {
        match self {
            Self::Name => 1,
            Self::Avatar => 2,
            Self::DisappearingMessages => 3,
        }
    }

    fn from_number(n: i32) -> Option<Self> {
        Some(match n {
            1 => Self::Name,
            2 => Self::Avatar,
            3 => Self::DisappearingMessages,
            _ => return None,
        })
    }
}

/// What a member change did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum MemberChangeKind {
    /// Members added (1).
    Added,
    /// Members removed (2).
    Removed,
    /// Members promoted to admin (3).
    Promoted,
}

impl MemberChangeKind {
    fn number(self) -> i32 {
        match self {
            Self::Added => 1,
            Self::Removed => 2,
            Self::Promoted => 3,
        }
    }

    fn from_number(n: i32) -> Option<Self> {
        Some(match n {
            1 => Self::Added,
            2 => Self::Removed,
            3 => Self::Promoted,
            _ => return None,
        })
    }
}

/// A groups v2 control message: exactly one `GroupUpdateMessage` kind.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum GroupUpdate {
    /// Sent 1:1 to an invitee.
    Invite {
        /// The group.
        group: GroupId,
        /// Its name.
        name: String,
        /// The invitee's auth data.
        auth_data: SubaccountAuth,
        /// Admin signature of `"INVITE" ‖ invitee ‖ sent_ms`.
        admin_signature: Signature,
    },
    /// Sent 1:1 to a new admin: the group seed.
    Promote {
        /// The group seed.
        seed: SecretBytes<32>,
        /// The group's name.
        name: String,
    },
    /// Name, avatar or timer changed.
    InfoChange {
        /// What changed.
        kind: InfoChangeKind,
        /// The new name.
        name: Option<String>,
        /// The new timer (s).
        expiration: Option<u32>,
        /// Admin signature of `"INFO_CHANGE" ‖ type ‖ sent_ms`.
        admin_signature: Signature,
    },
    /// Members added, removed or promoted.
    MemberChange {
        /// What happened.
        kind: MemberChangeKind,
        /// To whom (Session IDs as hex text, as sent).
        members: Vec<String>,
        /// Whether added members got the history.
        history_shared: bool,
        /// Admin signature of `"MEMBER_CHANGE" ‖ type ‖ sent_ms`.
        admin_signature: Signature,
    },
    /// The sender left.
    MemberLeft,
    /// The sender left (notification for the others).
    MemberLeftNotification,
    /// An invitee answers.
    InviteResponse {
        /// Accepted.
        approved: bool,
    },
    /// Delete messages of members, or listed hashes.
    DeleteMemberContent {
        /// Session IDs as hex text.
        members: Vec<String>,
        /// Message hashes.
        hashes: Vec<String>,
        /// Admin signature of `"DELETE_CONTENT" ‖ sent_ms ‖ members… ‖ hashes…`; without it
        /// only the sender's own listed messages may go.
        admin_signature: Option<Signature>,
    },
}

impl fmt::Debug for GroupUpdate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self {
            Self::Invite { group, .. } => return write!(f, "GroupUpdate::Invite({group})"),
            Self::Promote { .. } => "Promote(redacted)",
            Self::InfoChange { kind, .. } => return write!(f, "GroupUpdate::InfoChange({kind:?})"),
            Self::MemberChange { kind, members, .. } => {
                return write!(
                    f,
                    "GroupUpdate::MemberChange({kind:?}, {} members)",
                    members.len()
                );
            }
            Self::MemberLeft => "MemberLeft",
            Self::MemberLeftNotification => "MemberLeftNotification",
            Self::InviteResponse { approved } => {
                return write!(f, "GroupUpdate::InviteResponse({approved})");
            }
            Self::DeleteMemberContent { hashes, .. } => {
                return write!(
                    f,
                    "GroupUpdate::DeleteMemberContent({} hashes)",
                    hashes.len()
                );
            }
        };
        write!(f, "GroupUpdate::{kind}")
    }
}

fn sig_field(sig: Option<Vec<u8>>) -> Result<Signature, ControlError> {
    let sig = sig.ok_or(ControlError::MissingSignature)?;
    Signature::from_slice(&sig)
        .map_err(|_| ControlError::Malformed("admin signature is not 64 bytes"))
}

/// `"INVITE" ‖ invitee ‖ sent_ms`.
#[must_use]
pub fn invite_signed_string(invitee: &SessionId, sent_ms: u64) -> Vec<u8> {
    format!("INVITE{invitee}{sent_ms}").into_bytes()
}

/// `"INFO_CHANGE" ‖ type ‖ sent_ms`.
#[must_use]
pub fn info_change_signed_string(kind: InfoChangeKind, sent_ms: u64) -> Vec<u8> {
    format!("INFO_CHANGE{}{sent_ms}", kind.number()).into_bytes()
}

/// `"MEMBER_CHANGE" ‖ type ‖ sent_ms`.
#[must_use]
pub fn member_change_signed_string(kind: MemberChangeKind, sent_ms: u64) -> Vec<u8> {
    format!("MEMBER_CHANGE{}{sent_ms}", kind.number()).into_bytes()
}

/// `"DELETE_CONTENT" ‖ sent_ms ‖ members… ‖ hashes…`.
#[must_use]
pub fn delete_content_signed_string(
    members: &[String],
    hashes: &[String],
    sent_ms: u64,
) -> Vec<u8> {
    let mut s = format!("DELETE_CONTENT{sent_ms}");
    members.iter().for_each(|m| s.push_str(m));
    hashes.iter().for_each(|h| s.push_str(h));
    s.into_bytes()
}

impl GroupAdmin {
    /// An invite for `invitee` sent at `sent_ms`, with fresh read/write auth data.
    pub fn invite(
        &self,
        invitee: &SessionId,
        name: &str,
        sent_ms: u64,
    ) -> Result<GroupUpdate, crate::AuthError> {
        let auth_data = self.make_subaccount(invitee, crate::auth::member_flags(true, false))?;
        Ok(GroupUpdate::Invite {
            group: self.group_id(),
            name: name.to_owned(),
            auth_data,
            admin_signature: self
                .signing_key()
                .sign(&invite_signed_string(invitee, sent_ms)),
        })
    }

    /// A promotion carrying the group seed.
    #[must_use]
    pub fn promote(&self, name: &str) -> GroupUpdate {
        GroupUpdate::Promote {
            seed: self.seed(),
            name: name.to_owned(),
        }
    }

    /// A signed info change.
    #[must_use]
    pub fn info_change(
        &self,
        kind: InfoChangeKind,
        name: Option<String>,
        expiration: Option<u32>,
        sent_ms: u64,
    ) -> GroupUpdate {
        GroupUpdate::InfoChange {
            kind,
            name,
            expiration,
            admin_signature: self
                .signing_key()
                .sign(&info_change_signed_string(kind, sent_ms)),
        }
    }

    /// A signed member change.
    #[must_use]
    pub fn member_change(
        &self,
        kind: MemberChangeKind,
        members: &[SessionId],
        history_shared: bool,
        sent_ms: u64,
    ) -> GroupUpdate {
        GroupUpdate::MemberChange {
            kind,
            members: members.iter().map(ToString::to_string).collect(),
            history_shared,
            admin_signature: self
                .signing_key()
                .sign(&member_change_signed_string(kind, sent_ms)),
        }
    }

    /// An admin-signed request to delete members' messages and listed hashes.
    #[must_use]
    pub fn delete_member_content(
        &self,
        members: &[SessionId],
        hashes: &[String],
        sent_ms: u64,
    ) -> GroupUpdate {
        let members: Vec<String> = members.iter().map(ToString::to_string).collect();
        let sig = self
            .signing_key()
            .sign(&delete_content_signed_string(&members, hashes, sent_ms));
        GroupUpdate::DeleteMemberContent {
            members,
            hashes: hashes.to_vec(),
            admin_signature: Some(sig),
        }
    }

    /// The kicked notice for `removed` members at `generation`, with `nonce` (random in use).
    pub fn kicked_notice(
        &self,
        removed: &[SessionId],
        generation: i64,
        nonce: &Nonce,
        rng: &mut impl CryptoRngCore,
    ) -> Result<Vec<u8>, ControlError> {
        let xs: Vec<X25519PublicKey> = removed.iter().map(|m| *m.x25519()).collect();
        let messages: Vec<Vec<u8>> = xs
            .iter()
            .map(|x| [x.as_bytes().as_slice(), generation.to_string().as_bytes()].concat())
            .collect();
        let refs: Vec<&[u8]> = messages.iter().map(Vec::as_slice).collect();
        Ok(encrypt_simple_with_nonce(
            &refs,
            &xs,
            nonce,
            self.x25519_secret(),
            self.x25519_public(),
            KICKED_DOMAIN,
            0,
            rng,
        )?)
    }
}

/// Reads a kicked notice found in namespace −11 of `group`. Returns the generation it names if
/// it is addressed to this user (X25519 key pair) and is not older than `current_generation`.
pub fn read_kicked_notice(
    encoded: &[u8],
    group: &GroupId,
    user_secret: &X25519SecretKey,
    user_public: &X25519PublicKey,
    current_generation: Option<i64>,
) -> Result<i64, ControlError> {
    let group_x = group
        .x25519()
        .map_err(|_| ControlError::Malformed("group key has no X25519 form"))?;
    let plain = decrypt_simple(encoded, user_secret, user_public, &group_x, KICKED_DOMAIN)?;
    let (who, gen_text) = plain
        .split_first_chunk::<32>()
        .ok_or(ControlError::Malformed(
            "kicked notice shorter than 32 bytes",
        ))?;
    if who != user_public.as_bytes() {
        return Err(ControlError::NotApplicable("addressed to another key"));
    }
    let generation: i64 = core::str::from_utf8(gen_text)
        .ok()
        .filter(|t| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|t| t.parse().ok())
        .ok_or(ControlError::Malformed(
            "kicked notice generation is not decimal",
        ))?;
    if current_generation.is_some_and(|g| generation < g) {
        return Err(ControlError::NotApplicable(
            "older than the current generation",
        ));
    }
    Ok(generation)
}

impl GroupUpdate {
    /// The `GroupUpdateMessage` protobuf bytes.
    #[must_use]
    pub fn to_bytes(&self) -> Vec<u8> {
        self.to_proto().encode_to_vec()
    }

    /// The `DataMessage` record (field 120, `groupUpdateMessage`) carrying this update: pass it
    /// to `sotto_envelope::UnknownFields::from_records` for the message's `DataFields`.
    #[must_use]
    pub fn to_data_message_record(&self) -> Vec<u8> {
        proto::DataMessageGroupUpdate {
            group_update_message: Some(self.to_proto()),
        }
        .encode_to_vec()
    }

    fn to_proto(&self) -> proto::GroupUpdateMessage {
        let mut m = proto::GroupUpdateMessage::default();
        match self {
            Self::Invite {
                group,
                name,
                auth_data,
                admin_signature,
            } => {
                m.invite_message = Some(proto::GroupUpdateInviteMessage {
                    group_session_id: Some(group.to_string()),
                    name: Some(name.clone()),
                    member_auth_data: Some(auth_data.as_bytes().to_vec()),
                    admin_signature: Some(admin_signature.to_bytes().to_vec()),
                });
            }
            Self::Promote { seed, name } => {
                m.promote_message = Some(proto::GroupUpdatePromoteMessage {
                    group_identity_seed: Some(seed.expose().to_vec()),
                    name: Some(name.clone()),
                });
            }
            Self::InfoChange {
                kind,
                name,
                expiration,
                admin_signature,
            } => {
                m.info_change_message = Some(proto::GroupUpdateInfoChangeMessage {
                    r#type: Some(kind.number()),
                    updated_name: name.clone(),
                    updated_expiration: *expiration,
                    admin_signature: Some(admin_signature.to_bytes().to_vec()),
                });
            }
            Self::MemberChange {
                kind,
                members,
                history_shared,
                admin_signature,
            } => {
                m.member_change_message = Some(proto::GroupUpdateMemberChangeMessage {
                    r#type: Some(kind.number()),
                    member_session_ids: members.clone(),
                    history_shared: Some(*history_shared),
                    admin_signature: Some(admin_signature.to_bytes().to_vec()),
                });
            }
            Self::MemberLeft => m.member_left_message = Some(proto::Empty {}),
            Self::MemberLeftNotification => {
                m.member_left_notification_message = Some(proto::Empty {});
            }
            Self::InviteResponse { approved } => {
                m.invite_response = Some(proto::GroupUpdateInviteResponseMessage {
                    is_approved: Some(*approved),
                });
            }
            Self::DeleteMemberContent {
                members,
                hashes,
                admin_signature,
            } => {
                m.delete_member_content = Some(proto::GroupUpdateDeleteMemberContentMessage {
                    member_session_ids: members.clone(),
                    message_hashes: hashes.clone(),
                    admin_signature: admin_signature.map(|s| s.to_bytes().to_vec()),
                });
            }
        }
        m
    }

    /// Reads the `groupUpdateMessage` (field 120) from a DataMessage's unknown-field bytes
    /// (`DataFields::unknown`), if there is one.
    pub fn from_data_message_unknown(unknown: &[u8]) -> Result<Option<Self>, ControlError> {
        let holder = proto::DataMessageGroupUpdate::decode(unknown)
            .map_err(|_| ControlError::Malformed("DataMessage fields do not decode"))?;
        holder
            .group_update_message
            .map(Self::from_proto)
            .transpose()
    }

    fn from_proto(m: proto::GroupUpdateMessage) -> Result<Self, ControlError> {
        let count = [
            m.invite_message.is_some(),
            m.info_change_message.is_some(),
            m.member_change_message.is_some(),
            m.promote_message.is_some(),
            m.member_left_message.is_some(),
            m.invite_response.is_some(),
            m.delete_member_content.is_some(),
            m.member_left_notification_message.is_some(),
        ]
        .into_iter()
        .filter(|b| *b)
        .count();
        if count != 1 {
            return Err(ControlError::Kinds(count));
        }
        let missing = |what| ControlError::Malformed(what);
        if let Some(i) = m.invite_message {
            let group = GroupId::parse(&i.group_session_id.ok_or(missing("invite without group"))?)
                .map_err(|_| missing("invite group is not a 03 ID"))?;
            let auth = i
                .member_auth_data
                .ok_or(missing("invite without auth data"))?;
            return Ok(Self::Invite {
                group,
                name: i.name.ok_or(missing("invite without name"))?,
                auth_data: SubaccountAuth::try_from(auth.as_slice())
                    .map_err(|_| missing("invite auth data is not 100 bytes"))?,
                admin_signature: sig_field(i.admin_signature)?,
            });
        }
        if let Some(p) = m.promote_message {
            let seed = p
                .group_identity_seed
                .ok_or(missing("promote without seed"))?;
            return Ok(Self::Promote {
                seed: SecretBytes::from_slice(&seed)
                    .map_err(|_| missing("seed is not 32 bytes"))?,
                name: p.name.ok_or(missing("promote without name"))?,
            });
        }
        if let Some(c) = m.info_change_message {
            return Ok(Self::InfoChange {
                kind: c
                    .r#type
                    .and_then(InfoChangeKind::from_number)
                    .ok_or(missing("info change type missing or unknown"))?,
                name: c.updated_name,
                expiration: c.updated_expiration,
                admin_signature: sig_field(c.admin_signature)?,
            });
        }
        if let Some(c) = m.member_change_message {
            return Ok(Self::MemberChange {
                kind: c
                    .r#type
                    .and_then(MemberChangeKind::from_number)
                    .ok_or(missing("member change type missing or unknown"))?,
                members: c.member_session_ids,
                history_shared: c.history_shared.unwrap_or(false),
                admin_signature: sig_field(c.admin_signature)?,
            });
        }
        if m.member_left_message.is_some() {
            return Ok(Self::MemberLeft);
        }
        if m.member_left_notification_message.is_some() {
            return Ok(Self::MemberLeftNotification);
        }
        if let Some(r) = m.invite_response {
            return Ok(Self::InviteResponse {
                approved: r
                    .is_approved
                    .ok_or(missing("invite response without isApproved"))?,
            });
        }
        let d = m.delete_member_content.ok_or(missing("no update kind"))?;
        Ok(Self::DeleteMemberContent {
            members: d.member_session_ids,
            hashes: d.message_hashes,
            admin_signature: d.admin_signature.map(|s| sig_field(Some(s))).transpose()?,
        })
    }

    /// Checks the admin signature where this kind carries one, against `group` and the
    /// message's sent time. `invitee` (the receiver) is needed for invites. Kinds without an
    /// admin signature (leave, response, promote, unsigned deletes) pass.
    pub fn verify(
        &self,
        group: &GroupId,
        sent_ms: u64,
        invitee: Option<&SessionId>,
    ) -> Result<(), ControlError> {
        let (signed, sig) = match self {
            Self::Invite {
                group: invited_to,
                admin_signature,
                ..
            } => {
                if invited_to != group {
                    return Err(ControlError::BadSignature);
                }
                let invitee =
                    invitee.ok_or(ControlError::Malformed("invite check needs the invitee"))?;
                (invite_signed_string(invitee, sent_ms), admin_signature)
            }
            Self::InfoChange {
                kind,
                admin_signature,
                ..
            } => (info_change_signed_string(*kind, sent_ms), admin_signature),
            Self::MemberChange {
                kind,
                admin_signature,
                ..
            } => (member_change_signed_string(*kind, sent_ms), admin_signature),
            Self::DeleteMemberContent {
                members,
                hashes,
                admin_signature: Some(sig),
            } => (delete_content_signed_string(members, hashes, sent_ms), sig),
            _ => return Ok(()),
        };
        group
            .public_key()
            .verify(&signed, sig)
            .map_err(|_| ControlError::BadSignature)
    }

    /// Whether this kind is only valid with an admin signature that [`Self::verify`] checked.
    #[must_use]
    pub fn is_admin_signed(&self) -> bool {
        matches!(
            self,
            Self::Invite { .. }
                | Self::InfoChange { .. }
                | Self::MemberChange { .. }
                | Self::DeleteMemberContent {
                    admin_signature: Some(_),
                    ..
                }
        )
    }
}

impl TryFrom<&[u8]> for GroupUpdate {
    type Error = ControlError;

    fn try_from(bytes: &[u8]) -> Result<Self, ControlError> {
        let m = proto::GroupUpdateMessage::decode(bytes)
            .map_err(|_| ControlError::Malformed("GroupUpdateMessage does not decode"))?;
        Self::from_proto(m)
    }
}

/// A random nonce for a kicked notice.
pub fn random_nonce(rng: &mut impl CryptoRngCore) -> Nonce {
    let mut n = [0u8; XCHACHA_NONCE_LEN];
    rng.fill_bytes(&mut n);
    n
}

#[cfg(test)]
mod tests {
    use super::*;
    use sotto_identity::Account;

    fn admin() -> GroupAdmin {
        GroupAdmin::from_seed(&[3; 32]).unwrap()
    }

    #[test]
    fn every_kind_round_trips() {
        let a = admin();
        let invitee = Account::from_ed25519_seed(&[4; 32]).session_id();
        let updates = vec![
            a.invite(&invitee, "Group", 1000).unwrap(),
            a.promote("Group"),
            a.info_change(InfoChangeKind::Name, Some("New".into()), None, 1000),
            a.info_change(InfoChangeKind::DisappearingMessages, None, Some(3600), 1000),
            a.member_change(MemberChangeKind::Added, &[invitee], true, 1000),
            GroupUpdate::MemberLeft,
            GroupUpdate::MemberLeftNotification,
            GroupUpdate::InviteResponse { approved: true },
            a.delete_member_content(&[invitee], &["hash1".into()], 1000),
            GroupUpdate::DeleteMemberContent {
                members: vec![],
                hashes: vec!["h".into()],
                admin_signature: None,
            },
        ];
        for u in updates {
            let back = GroupUpdate::try_from(u.to_bytes().as_slice()).unwrap();
            assert_eq!(back, u);
            back.verify(&a.group_id(), 1000, Some(&invitee)).unwrap();
        }
    }

    #[test]
    fn updates_travel_in_a_data_message() {
        use sotto_envelope::{Content, DataFields, Message, UnknownFields, VisibleMessage};
        let a = admin();
        let invitee = Account::from_ed25519_seed(&[4; 32]).session_id();
        for u in [
            a.invite(&invitee, "Group", 1000).unwrap(),
            a.member_change(MemberChangeKind::Removed, &[invitee], false, 1000),
            GroupUpdate::MemberLeft,
        ] {
            let data = DataFields {
                timestamp: Some(1000),
                unknown: UnknownFields::from_records(&u.to_data_message_record()).unwrap(),
                ..DataFields::default()
            };
            let content = Content::new(Message::Visible(VisibleMessage {
                data,
                ..VisibleMessage::default()
            }));
            let back = Content::try_from(content.to_bytes().as_slice()).unwrap();
            let Message::Visible(v) = back.message else {
                panic!("not a visible message: {back:?}");
            };
            assert_eq!(v.body, None);
            assert_eq!(v.data.unknown.field_numbers(), [120]);
            let got = GroupUpdate::from_data_message_unknown(v.data.unknown.as_bytes()).unwrap();
            assert_eq!(got, Some(u));
        }
        // Bytes that are not whole records are refused.
        assert!(UnknownFields::from_records(&[0xc2, 0x07, 0x05, 1]).is_err());
    }

    #[test]
    fn forged_or_replayed_signatures_fail() {
        let a = admin();
        let forger = GroupAdmin::from_seed(&[5; 32]).unwrap();
        let member = Account::from_ed25519_seed(&[4; 32]).session_id();
        let other = Account::from_ed25519_seed(&[6; 32]).session_id();
        let change = forger.member_change(MemberChangeKind::Removed, &[member], false, 1000);
        assert_eq!(
            change.verify(&a.group_id(), 1000, None),
            Err(ControlError::BadSignature)
        );
        let real = a.info_change(InfoChangeKind::Name, Some("x".into()), None, 1000);
        assert_eq!(
            real.verify(&a.group_id(), 1001, None),
            Err(ControlError::BadSignature)
        );
        let invite = a.invite(&member, "G", 1000).unwrap();
        assert_eq!(
            invite.verify(&a.group_id(), 1000, Some(&other)),
            Err(ControlError::BadSignature)
        );
        assert_eq!(
            invite.verify(&forger.group_id(), 1000, Some(&member)),
            Err(ControlError::BadSignature)
        );
        let del = a.delete_member_content(&[member], &["h1".into()], 1000);
        let GroupUpdate::DeleteMemberContent {
            members,
            admin_signature,
            ..
        } = del
        else {
            unreachable!()
        };
        let tampered = GroupUpdate::DeleteMemberContent {
            members,
            hashes: vec!["h2".into()],
            admin_signature,
        };
        assert_eq!(
            tampered.verify(&a.group_id(), 1000, None),
            Err(ControlError::BadSignature)
        );
        assert!(tampered.is_admin_signed());
        assert!(!GroupUpdate::MemberLeft.is_admin_signed());
    }

    #[test]
    fn malformed_updates_are_typed_errors() {
        // Two kinds at once.
        let two = proto::GroupUpdateMessage {
            member_left_message: Some(proto::Empty {}),
            invite_response: Some(proto::GroupUpdateInviteResponseMessage {
                is_approved: Some(true),
            }),
            ..Default::default()
        };
        assert_eq!(
            GroupUpdate::try_from(two.encode_to_vec().as_slice()),
            Err(ControlError::Kinds(2))
        );
        assert_eq!(GroupUpdate::try_from(&[][..]), Err(ControlError::Kinds(0)));
        let unsigned = proto::GroupUpdateMessage {
            info_change_message: Some(proto::GroupUpdateInfoChangeMessage {
                r#type: Some(1),
                ..Default::default()
            }),
            ..Default::default()
        };
        assert_eq!(
            GroupUpdate::try_from(unsigned.encode_to_vec().as_slice()),
            Err(ControlError::MissingSignature)
        );
        assert!(GroupUpdate::try_from(&[0xff, 0xff][..]).is_err());
    }

    #[test]
    fn reads_field_120_of_a_data_message() {
        let body = GroupUpdate::InviteResponse { approved: true }.to_bytes();
        // Field 120, wire type 2: key 0xc2 0x07, then the length and the message, next to a
        // body (field 1).
        let mut raw = vec![0x0a, 2, b'h', b'i', 0xc2, 0x07, body.len() as u8];
        raw.extend_from_slice(&body);
        assert_eq!(
            GroupUpdate::from_data_message_unknown(&raw).unwrap(),
            Some(GroupUpdate::InviteResponse { approved: true })
        );
        assert_eq!(
            GroupUpdate::from_data_message_unknown(&raw[..4]).unwrap(),
            None
        );
    }
}
