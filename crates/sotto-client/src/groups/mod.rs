//! Closed groups (Session's groups v2, `03…` IDs; spec `shared/spec/groups.md` §2): create a
//! group with invitees, receive invitations as requests and accept or decline them, poll the
//! group's swarm (keys in namespace 12 before Info 13 and Members 14, before the messages in
//! 11, as Session does), send and read texts, reactions, replies and unsends, and the admin
//! flows (rename, description, timer, add, remove with a rekey and a revocation, promote,
//! destroy) and leaving.
//!
//! The protocol is `sotto-groups`; this module keeps the per-group state in the client
//! database (tables of schema version [`V8_GROUPS`]: the keys and admin seed sealed at rest,
//! the Info and Members config messages, the poll positions, the messages) and talks to the
//! group's swarm through the client's [`Network`].
//!
//! Everything read from the network goes through typed checks: a group message that does not
//! decrypt under a known key, whose author signature fails, or a control message whose admin
//! signature does not verify, is skipped and changes nothing.

pub(crate) mod store;
pub(crate) mod sync;

use std::collections::{BTreeMap, BTreeSet};

use sotto_config::views::{GroupInfo, GroupMember, GroupMembers};
use sotto_config::{ConfigKind, ConfigMessage};
use sotto_crypto::{CryptoRngCore as _, OsRng};
use sotto_envelope::{
    Content, DataFields, Message, Quote, Reaction, ReactionAction, ReactionMessage, UnknownFields,
    UnsendRequest, VisibleMessage,
};
use sotto_groups::configs::{open_group_config, seal_group_config};
use sotto_groups::message::{GroupEnvelopeStyle, unwrap_content, wrap_content};
use sotto_groups::{
    GroupAdmin, GroupContent, GroupId, GroupKeys, GroupUpdate, InfoChangeKind, MemberChangeKind,
};
use sotto_identity::{Account, PrefixedId, SessionId};
use sotto_rpc::request::{Lifetime, Retrieve, Store, TimedAuth};
use sotto_rpc::response::RetrievedMessage;
use sotto_rpc::{AccountId, MessageHash, Namespace, Signer, to_sign};
use thiserror::Error;

use crate::client::Client;
use crate::db::Tx;
use crate::engine::Engine;
use crate::error::{DbError, NetworkError};
use crate::incoming::Event;
use crate::network::Network;

pub(crate) use store::V8_GROUPS;
use store::{GroupRow, NewGroupMessage};

/// The most members a group may have (Session's limit, spec §2.11).
pub const MAX_MEMBERS: usize = 100;
/// The longest group name, bytes (spec §2.6).
pub const MAX_NAME_LEN: usize = 100;
/// The longest group description, bytes (spec §2.6).
pub const MAX_DESCRIPTION_LEN: usize = 2000;

/// Namespaces of a group's swarm.
pub mod ns {
    /// Group messages.
    pub const MESSAGES: i16 = 11;
    /// Keys messages.
    pub const KEYS: i16 = 12;
    /// The Info config.
    pub const INFO: i16 = 13;
    /// The Members config.
    pub const MEMBERS: i16 = 14;
    /// Kicked-member notices (readable with a revoked token).
    pub const REVOKED: i16 = -11;
}

/// Why a group operation failed.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum GroupError {
    /// No group (or invitation) with this ID is known here.
    #[error("no group {0} here")]
    UnknownGroup(String),
    /// The operation needs the group's admin key.
    #[error("only an admin of the group can do this")]
    NotAdmin,
    /// The group is not joined (an invitation not accepted yet, or one was removed, left, or
    /// the group was destroyed).
    #[error("the group is not joined (it is {0})")]
    NotJoined(&'static str),
    /// More members than a group may have.
    #[error("a group has at most {max} members; this would make {count}")]
    TooManyMembers {
        /// How many the group would have.
        count: usize,
        /// The limit, [`MAX_MEMBERS`].
        max: usize,
    },
    /// A name or description is too long (what, its length, the limit).
    #[error("the {what} is {len} bytes; at most {max}")]
    TooLong {
        /// Which text.
        what: &'static str,
        /// Its length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// An empty text, name or member list.
    #[error("empty {0}")]
    Empty(&'static str),
    /// The member is not in the group.
    #[error("{0} is not a member of the group")]
    NotAMember(String),
    /// No message with this local id in the group.
    #[error("no message #{0} in this group")]
    UnknownMessage(i64),
    /// Only the author may unsend a message.
    #[error("only its author can unsend a message")]
    NotAuthor,
    /// Fewer swarm members than needed confirmed the store.
    #[error("the group's swarm did not store the message ({stored} confirmations)")]
    NotStored {
        /// Confirmations.
        stored: u32,
    },
    /// The group keys failed (no key yet, a bad keys message).
    #[error("group keys: {0}")]
    Keys(#[from] sotto_groups::KeysError),
    /// A group message could not be made or read.
    #[error("group message: {0}")]
    Message(#[from] sotto_groups::MessageError),
    /// A control message did not check out.
    #[error("group control message: {0}")]
    Control(#[from] sotto_groups::ControlError),
    /// Auth data did not check out.
    #[error("group auth data: {0}")]
    Auth(#[from] sotto_groups::AuthError),
    /// A group config could not be read or made.
    #[error("group config: {0}")]
    Config(#[from] sotto_groups::GroupConfigError),
    /// A 1:1 invitation could not be encrypted.
    #[error("cannot encrypt the invitation: {0}")]
    Encrypt(#[from] sotto_envelope::EncryptError),
    /// The network failed.
    #[error(transparent)]
    Network(#[from] NetworkError),
    /// The local database failed.
    #[error(transparent)]
    Database(#[from] DbError),
}

impl From<rusqlite::Error> for GroupError {
    fn from(e: rusqlite::Error) -> Self {
        Self::Database(DbError::Sqlite(e))
    }
}

/// Where this account stands in a group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum GroupStatus {
    /// A member (or admin).
    Joined,
    /// Removed by an admin.
    Kicked,
    /// The group was destroyed by an admin.
    Destroyed,
}

impl GroupStatus {
    fn from_column(v: i64) -> Self {
        match v {
            2 => Self::Kicked,
            3 => Self::Destroyed,
            _ => Self::Joined,
        }
    }

    fn to_column(self) -> i64 {
        match self {
            Self::Joined => 1,
            Self::Kicked => 2,
            Self::Destroyed => 3,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Self::Joined => "joined",
            Self::Kicked => "removed",
            Self::Destroyed => "destroyed",
        }
    }
}

/// A member as the Members config lists them.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct MemberInfo {
    /// Session ID.
    #[serde(serialize_with = "display")]
    pub session_id: SessionId,
    /// Display name (may be empty).
    pub name: String,
    /// Shown as an admin.
    pub admin: bool,
    /// The invitation is not accepted yet.
    pub invite_pending: bool,
    /// A promotion is pending.
    pub promotion_pending: bool,
    /// Removal pending.
    pub removed: bool,
}

/// A group this account is in.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct GroupSummary {
    /// The group ID (`03…`).
    #[serde(serialize_with = "display")]
    pub id: GroupId,
    /// Its name (from Info once read; from the invitation before).
    pub name: String,
    /// The description.
    pub description: Option<String>,
    /// Disappearing timer, seconds (0: off).
    pub expiry_seconds: i64,
    /// This account holds the admin key.
    pub admin: bool,
    /// Where this account stands.
    pub status: GroupStatus,
    /// The members.
    pub members: Vec<MemberInfo>,
    /// The current key generation.
    pub generation: Option<i64>,
}

fn display<T: core::fmt::Display, S: serde::Serializer>(v: &T, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(v)
}

fn quote_ser<S: serde::Serializer>(v: &Option<(SessionId, u64)>, s: S) -> Result<S::Ok, S::Error> {
    use serde::Serialize as _;
    v.map(|(a, t)| (a.to_string(), t)).serialize(s)
}

/// An invitation waiting for an answer.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct GroupInvitation {
    /// The group.
    #[serde(serialize_with = "display")]
    pub group: GroupId,
    /// Its name, as the invitation gives it.
    pub name: String,
    /// Who invited.
    #[serde(serialize_with = "display")]
    pub inviter: SessionId,
    /// When it arrived, ms.
    pub received_ms: u64,
}

/// Reactions on a group message: emoji → reactors.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Reactions(pub BTreeMap<String, BTreeSet<String>>);

impl Reactions {
    fn parse(column: &str) -> Self {
        Self(serde_json::from_str(column).unwrap_or_default())
    }

    fn to_column(&self) -> String {
        serde_json::to_string(&self.0).unwrap_or_default()
    }
}

/// A message of a group.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct GroupMessage {
    /// Local id.
    pub id: i64,
    /// The group.
    #[serde(serialize_with = "display")]
    pub group: GroupId,
    /// Its author.
    #[serde(serialize_with = "display")]
    pub author: SessionId,
    /// Sent time, ms.
    pub sent_ms: u64,
    /// When it was written here, ms.
    pub received_ms: u64,
    /// Written by this account.
    pub outgoing: bool,
    /// The swarm hash of its copy.
    pub hash: Option<String>,
    /// The text (none once unsent).
    pub body: Option<String>,
    /// The message it replies to (author, sent time).
    #[serde(serialize_with = "quote_ser")]
    pub quote: Option<(SessionId, u64)>,
    /// Unsent by its author or deleted by an admin.
    pub deleted: bool,
    /// Reactions.
    pub reactions: Reactions,
}

/// Something that happened in a group.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum GroupEvent {
    /// An invitation arrived (a request: accept or decline it).
    Invited {
        /// The group.
        group: GroupId,
        /// Its name.
        name: String,
        /// Who invited.
        by: SessionId,
    },
    /// A message arrived.
    Message(GroupMessage),
    /// A reaction was added or removed.
    Reaction {
        /// The message.
        message: i64,
        /// Who.
        reactor: SessionId,
        /// The emoji.
        emoji: String,
        /// Added (or removed).
        added: bool,
    },
    /// A message was unsent or deleted.
    Deleted {
        /// The message.
        message: i64,
    },
    /// The Info or Members config changed.
    Changed {
        /// The group.
        group: GroupId,
    },
    /// This account was removed from the group.
    Kicked {
        /// The group.
        group: GroupId,
    },
    /// The group was destroyed.
    Destroyed {
        /// The group.
        group: GroupId,
    },
    /// A group message could not be used (why); polling went on.
    Skipped {
        /// The group.
        group: GroupId,
        /// Why.
        reason: String,
    },
}

/// Opens a message retrieved from a group's namespace 11 down to its Content: decrypts it
/// with any key of `keys`, checks the author's signature and the envelope. What every group
/// message received goes through (and the fuzz target's entry point).
pub fn open_group_message(keys: &GroupKeys, data: &[u8]) -> Result<GroupContent, GroupError> {
    let decrypted = keys.decrypt_message(data)?;
    Ok(unwrap_content(&keys.group_id(), &decrypted)?)
}

/// The group update a Content carries (DataMessage field 120), if any.
#[must_use]
pub fn group_update_of(content: &Content) -> Option<GroupUpdate> {
    match &content.message {
        Message::Visible(v) if !v.data.unknown.is_empty() => {
            GroupUpdate::from_data_message_unknown(v.data.unknown.as_bytes())
                .ok()
                .flatten()
        }
        _ => None,
    }
}

fn update_content(update: &GroupUpdate, sent_ms: u64) -> Result<Content, GroupError> {
    let unknown = UnknownFields::from_records(&update.to_data_message_record())
        .map_err(|_| GroupError::Control(sotto_groups::ControlError::Malformed("record")))?;
    Ok(Content::new(Message::Visible(VisibleMessage {
        data: DataFields {
            timestamp: Some(sent_ms),
            unknown,
            ..DataFields::default()
        },
        ..VisibleMessage::default()
    })))
}

/// Records a 1:1 invitation (called from the 1:1 receive path, inside its transaction): the
/// admin signature must verify for this account and the sent time.
pub(crate) fn receive_direct(
    tx: &Tx<'_>,
    account: &Account,
    sender: &SessionId,
    sent_ms: u64,
    now_ms: u64,
    update: &GroupUpdate,
    events: &mut Vec<Event>,
) -> Result<bool, DbError> {
    let own = account.session_id();
    let GroupUpdate::Invite {
        group,
        name,
        auth_data,
        ..
    } = update
    else {
        if let GroupUpdate::Promote { seed, .. } = update {
            // The seed proves itself: it must be the key of a group this account is in.
            let Ok(admin) = GroupAdmin::from_seed(seed.expose()) else {
                return Ok(false);
            };
            let id = admin.group_id();
            let Some(mut row) = store::load(tx, account, &id)? else {
                return Ok(false);
            };
            if row.keys.load_admin_key(seed.expose()).is_err() {
                return Ok(false);
            }
            store::save(tx, &row)?;
            events.push(Event::Group(GroupEvent::Changed { group: id }));
            return Ok(true);
        }
        return Ok(false);
    };
    if update.verify(group, sent_ms, Some(&own)).is_err() {
        tracing::warn!("skipped a group invitation whose admin signature does not verify");
        return Ok(false);
    }
    let joined = tx
        .conn()
        .query_row(
            "SELECT status FROM groups_v2 WHERE id = ?1",
            [group.to_bytes().as_slice()],
            |r| r.get::<_, i64>(0),
        )
        .ok();
    if joined == Some(GroupStatus::Joined.to_column()) {
        return Ok(true);
    }
    store::save_invite(tx, group, name, sender, auth_data, sent_ms, now_ms)?;
    events.push(Event::Group(GroupEvent::Invited {
        group: *group,
        name: name.clone(),
        by: *sender,
    }));
    Ok(true)
}

fn members_of(members: Option<&[u8]>, group: &GroupId) -> Vec<GroupMember> {
    members
        .and_then(|m| ConfigMessage::parse(m, Some(group.public_key())).ok())
        .map(|m| GroupMembers::list(m.data()))
        .unwrap_or_default()
}

fn info_of(info: Option<&[u8]>, group: &GroupId) -> GroupInfo {
    info.and_then(|m| ConfigMessage::parse(m, Some(group.public_key())).ok())
        .map(|m| GroupInfo::read(m.data()))
        .unwrap_or_default()
}

fn summary(row: &GroupRow) -> GroupSummary {
    let info = info_of(row.info.as_deref(), &row.id);
    let members = members_of(row.members.as_deref(), &row.id)
        .into_iter()
        .filter_map(|m| {
            Some(MemberInfo {
                session_id: SessionId::from_bytes(&m.session_id).ok()?,
                name: m.name,
                admin: m.admin,
                invite_pending: m.invite_status.is_some(),
                promotion_pending: m.promotion_status.is_some(),
                removed: m.removed != 0,
            })
        })
        .collect();
    GroupSummary {
        id: row.id,
        name: info.name.unwrap_or_else(|| row.name.clone()),
        description: info.description,
        expiry_seconds: info.expiry_seconds,
        admin: row.keys.is_admin(),
        status: row.status,
        members,
        generation: row.keys.current_generation(),
    }
}

fn check_text(what: &'static str, text: &str, max: usize) -> Result<(), GroupError> {
    if text.is_empty() {
        return Err(GroupError::Empty(what));
    }
    if text.len() > max {
        return Err(GroupError::TooLong {
            what,
            len: text.len(),
            max,
        });
    }
    Ok(())
}

/// What a config edit produces: the new signed message, sealed for its namespace.
struct Push {
    namespace: i16,
    data: Vec<u8>,
}

/// Edits `current` (or starts one) with `f`, signs it with the admin key and seals it with the
/// group's current key.
fn edit_config(
    current: Option<&[u8]>,
    keys: &GroupKeys,
    kind: ConfigKind,
    f: impl FnOnce(&mut sotto_config::Dict),
) -> Result<(Vec<u8>, Push), GroupError> {
    let admin = keys.admin().ok_or(GroupError::NotAdmin)?;
    let group = keys.group_id();
    let base = current
        .and_then(|c| ConfigMessage::parse(c, Some(group.public_key())).ok())
        .unwrap_or_else(ConfigMessage::empty);
    let mut next = base.increment();
    f(next.data_mut());
    let message = next.finish(Some(admin.signing_key()));
    let data = seal_group_config(&message, keys.encryption_key()?, kind)?;
    Ok((
        message.serialized().to_vec(),
        Push {
            namespace: kind.namespace(),
            data,
        },
    ))
}

/// Applies `change` to the Members entries of `who` (those the config holds), as
/// [`edit_config`] does for the whole Members config.
fn edit_members(
    row: &GroupRow,
    who: &[SessionId],
    change: impl Fn(&mut GroupMember),
) -> Result<(Vec<u8>, Push), GroupError> {
    edit_config(
        row.members.as_deref(),
        &row.keys,
        ConfigKind::GroupMembers,
        |d| {
            for id in who {
                if let Some(mut m) = GroupMembers::get(d, &id.to_bytes()) {
                    change(&mut m);
                    GroupMembers::set(d, &m);
                }
            }
        },
    )
}

/// Re-seals the current configs with the group's current key (after a rekey).
fn reseal(row: &GroupRow) -> Result<Vec<Push>, GroupError> {
    let mut out = Vec::new();
    for (kind, bytes) in [
        (ConfigKind::GroupInfo, row.info.as_deref()),
        (ConfigKind::GroupMembers, row.members.as_deref()),
    ] {
        let Some(bytes) = bytes else { continue };
        let message = ConfigMessage::parse(bytes, Some(row.id.public_key()))
            .map_err(|_| DbError::Corrupt("group config"))?;
        out.push(Push {
            namespace: kind.namespace(),
            data: seal_group_config(&message, row.keys.encryption_key()?, kind)?,
        });
    }
    Ok(out)
}

fn member_ids(row: &GroupRow) -> Vec<SessionId> {
    members_of(row.members.as_deref(), &row.id)
        .iter()
        .filter_map(|m| SessionId::from_bytes(&m.session_id).ok())
        .collect()
}

/// Reading the group tables without a network (for the CLI's offline commands).
impl Engine {
    /// Every group this account is in (or was removed from), oldest first.
    ///
    /// # Errors
    /// [`GroupError::Database`].
    pub fn groups(&self) -> Result<Vec<GroupSummary>, GroupError> {
        let tx = self.db().read();
        Ok(store::list(&tx, self.account())?
            .iter()
            .map(summary)
            .collect())
    }

    /// One group.
    ///
    /// # Errors
    /// [`GroupError::UnknownGroup`], [`GroupError::Database`].
    pub fn group(&self, id: &GroupId) -> Result<GroupSummary, GroupError> {
        let tx = self.db().read();
        store::load(&tx, self.account(), id)?
            .map(|row| summary(&row))
            .ok_or_else(|| GroupError::UnknownGroup(id.to_string()))
    }

    /// Invitations waiting for an answer (group requests).
    ///
    /// # Errors
    /// [`GroupError::Database`].
    pub fn group_invitations(&self) -> Result<Vec<GroupInvitation>, GroupError> {
        let tx = self.db().read();
        Ok(store::invites(&tx)?
            .into_iter()
            .map(|i| GroupInvitation {
                group: i.group,
                name: i.name,
                inviter: i.inviter,
                received_ms: i.received_ms,
            })
            .collect())
    }

    /// The newest `limit` messages of a group, oldest first.
    ///
    /// # Errors
    /// [`GroupError::Database`].
    pub fn group_messages(
        &self,
        id: &GroupId,
        limit: u32,
    ) -> Result<Vec<GroupMessage>, GroupError> {
        let tx = self.db().read();
        Ok(store::messages(&tx, id, limit)?)
    }

    /// Declines an invitation: forgets it (nothing is sent).
    ///
    /// # Errors
    /// [`GroupError::UnknownGroup`] without an invitation.
    pub fn decline_group_invite(&mut self, id: &GroupId) -> Result<(), GroupError> {
        if self
            .db_mut()
            .write(|tx| Ok::<_, GroupError>(store::delete_invite(tx, id)?))?
        {
            Ok(())
        } else {
            Err(GroupError::UnknownGroup(id.to_string()))
        }
    }

    /// A group message by its local id.
    ///
    /// # Errors
    /// [`GroupError::Database`].
    pub fn group_message(&self, id: i64) -> Result<Option<GroupMessage>, GroupError> {
        let tx = self.db().read();
        Ok(store::message(&tx, id)?)
    }
}

impl<N: Network> Client<N> {
    fn account(&self) -> Account {
        self.with_engine(|e| e.account().clone())
    }

    fn group_write<T>(
        &self,
        f: impl FnOnce(&Tx<'_>, &Account) -> Result<T, GroupError>,
    ) -> Result<T, GroupError> {
        self.with_engine(|e| {
            let account = e.account().clone();
            e.db_mut().write(|tx| f(tx, &account))
        })
    }

    fn group_row(&self, id: &GroupId) -> Result<GroupRow, GroupError> {
        self.group_write(|tx, account| {
            store::load(tx, account, id)?.ok_or_else(|| GroupError::UnknownGroup(id.to_string()))
        })
    }

    fn joined_row(&self, id: &GroupId) -> Result<GroupRow, GroupError> {
        let row = self.group_row(id)?;
        if row.status != GroupStatus::Joined {
            return Err(GroupError::NotJoined(row.status.name()));
        }
        Ok(row)
    }

    /// Every group this account is in (or was removed from), oldest first.
    ///
    /// # Errors
    /// [`GroupError::Database`].
    pub fn groups(&self) -> Result<Vec<GroupSummary>, GroupError> {
        self.with_engine(|e| e.groups())
    }

    /// One group.
    ///
    /// # Errors
    /// [`GroupError::UnknownGroup`], [`GroupError::Database`].
    pub fn group(&self, id: &GroupId) -> Result<GroupSummary, GroupError> {
        self.with_engine(|e| e.group(id))
    }

    /// Invitations waiting for an answer (group requests).
    ///
    /// # Errors
    /// [`GroupError::Database`].
    pub fn group_invitations(&self) -> Result<Vec<GroupInvitation>, GroupError> {
        self.with_engine(|e| e.group_invitations())
    }

    /// The newest `limit` messages of a group, oldest first.
    ///
    /// # Errors
    /// [`GroupError::Database`].
    pub fn group_messages(
        &self,
        id: &GroupId,
        limit: u32,
    ) -> Result<Vec<GroupMessage>, GroupError> {
        self.with_engine(|e| e.group_messages(id, limit))
    }

    // The network side.

    fn retrieve_request(
        &self,
        row: &GroupRow,
        account: &Account,
        namespace: i16,
        last_hash: Option<&str>,
    ) -> Result<Retrieve, GroupError> {
        let acct = AccountId::from_bytes(&row.id.to_bytes());
        let ns = Namespace::new(namespace);
        let now = self.now_ms();
        let mut request = Retrieve::new(acct, ns);
        request.last_hash = last_hash.and_then(|h| MessageHash::parse(h.as_bytes()));
        if let Some(admin) = row.keys.admin() {
            return Ok(request.signed(&Signer::ed25519(admin.signing_key()), now));
        }
        let auth = row.auth.as_ref().ok_or(GroupError::NotAdmin)?;
        let sig = auth.sign(account.ed25519_secret(), &to_sign::retrieve(ns, now))?;
        request.auth = Some(TimedAuth {
            timestamp: now,
            auth: sig.to_auth(),
        });
        Ok(request)
    }

    async fn group_retrieve(
        &self,
        row: &GroupRow,
        account: &Account,
        namespace: i16,
    ) -> Result<Vec<RetrievedMessage>, GroupError> {
        let acct = AccountId::from_bytes(&row.id.to_bytes());
        let mut out: Vec<RetrievedMessage> = Vec::new();
        let mut last =
            self.group_write(|tx, _| Ok(store::poll_position(tx, &row.id, namespace)?))?;
        for _ in 0..20 {
            let request = self.retrieve_request(row, account, namespace, last.as_deref())?;
            let response = self
                .shared()
                .on_swarm(acct, |node| self.network().retrieve(node, request.clone()))
                .await?;
            let more = response.more;
            if let Some(m) = response.messages.last() {
                last = Some(m.hash.to_string());
            }
            let empty = response.messages.is_empty();
            out.extend(response.messages);
            if !more || empty {
                break;
            }
        }
        Ok(out)
    }

    /// Rekeys the group for `members`: the new keys message is stored in the keys namespace,
    /// then loaded under the hash the swarm gave it.
    async fn rekey(
        &self,
        row: &mut GroupRow,
        account: &Account,
        members: &[SessionId],
    ) -> Result<(), GroupError> {
        let rekey = row.keys.rekey(members)?.to_vec();
        let hash = self
            .group_store(row, account, ns::KEYS, rekey.clone())
            .await?;
        let now = i64::try_from(self.now_ms()).unwrap_or(0);
        row.keys.load_key_message(hash.as_str(), &rekey, now)?;
        Ok(())
    }

    async fn group_store(
        &self,
        row: &GroupRow,
        account: &Account,
        namespace: i16,
        data: Vec<u8>,
    ) -> Result<MessageHash, GroupError> {
        let acct = AccountId::from_bytes(&row.id.to_bytes());
        let ns = Namespace::new(namespace);
        let now = self.now_ms();
        let mut request = Store::new(acct, ns, data, now, Lifetime::Ttl(ns.max_ttl_ms()));
        if let Some(admin) = row.keys.admin() {
            request = request.signed(&Signer::ed25519(admin.signing_key()), now);
        } else {
            let auth = row.auth.as_ref().ok_or(GroupError::NotAdmin)?;
            request.sig_timestamp = Some(now);
            let sig = auth.sign(account.ed25519_secret(), &request.signed_message())?;
            request.auth = Some(sig.to_auth());
        }
        let hash = request.message_hash();
        let response = self
            .shared()
            .on_swarm(acct, |node| self.network().store(node, request.clone()))
            .await?;
        let swarm = self.network().get_swarm(acct).await?;
        let tally = crate::outgoing::tally(&request, &response, &swarm);
        if !tally.is_stored() && tally.stored == 0 {
            return Err(GroupError::NotStored {
                stored: tally.stored,
            });
        }
        Ok(hash)
    }

    async fn push_all(
        &self,
        row: &GroupRow,
        account: &Account,
        pushes: Vec<Push>,
    ) -> Result<(), GroupError> {
        for push in pushes {
            self.group_store(row, account, push.namespace, push.data)
                .await?;
        }
        Ok(())
    }

    /// Sends `content` 1:1 to `to` (an invitation or promotion), stored in its swarm.
    async fn send_direct(
        &self,
        to: &SessionId,
        content: &Content,
        sent_ms: u64,
    ) -> Result<(), GroupError> {
        let account = self.account();
        let data = crate::outgoing::seal_content(&account, to, content, sent_ms, &mut OsRng)?;
        let acct = AccountId::from(*to);
        let request = Store::new(
            acct,
            Namespace::DEFAULT,
            data,
            sent_ms,
            Lifetime::Ttl(crate::outgoing::CONTENT_TTL_MS),
        );
        self.shared()
            .on_swarm(acct, |node| self.network().store(node, request.clone()))
            .await?;
        Ok(())
    }

    /// Sends `content` into the group (namespace 11), as this account.
    async fn send_to_group(
        &self,
        row: &GroupRow,
        content: &Content,
        sent_ms: u64,
    ) -> Result<MessageHash, GroupError> {
        let account = self.account();
        let plaintext = wrap_content(
            &row.id,
            content,
            sent_ms,
            GroupEnvelopeStyle::Current,
            &sotto_crypto::Ed25519SecretKey::generate(&mut OsRng),
        );
        let mut nonce = [0u8; 24];
        OsRng.as_rngcore().fill_bytes(&mut nonce);
        let data = row
            .keys
            .encrypt_message(account.ed25519_secret(), &plaintext, true, &nonce)?;
        self.group_store(row, &account, ns::MESSAGES, data).await
    }

    /// Stores raw `data` in namespace `namespace` of a group's swarm with this account's
    /// authentication (the admin key, or the member's auth data), for bots and tools that make
    /// their own group messages. Returns the swarm hash.
    ///
    /// # Errors
    /// [`GroupError::UnknownGroup`], network errors (a revoked token is refused).
    pub async fn store_in_group(
        &self,
        id: &GroupId,
        namespace: i16,
        data: Vec<u8>,
    ) -> Result<MessageHash, GroupError> {
        let row = self.group_row(id)?;
        self.group_store(&row, &self.account(), namespace, data)
            .await
    }

    /// Encrypts `content` for a group and stores it in its namespace 11, as this account: the
    /// raw form of [`Client::send_group_text`], for bots that send their own Content (a
    /// control message, say). Nothing is written locally.
    ///
    /// # Errors
    /// [`GroupError::NotJoined`], network errors.
    pub async fn send_group_content(
        &self,
        id: &GroupId,
        content: &Content,
    ) -> Result<MessageHash, GroupError> {
        let row = self.joined_row(id)?;
        self.send_to_group(&row, content, self.now_ms()).await
    }

    /// A signed `retrieve` of namespace `namespace` of a group's swarm, as this account (its
    /// admin key or member auth data), whatever the group's status: what polling sends.
    ///
    /// # Errors
    /// [`GroupError::UnknownGroup`], [`GroupError::Auth`].
    pub fn group_retrieve_request(
        &self,
        id: &GroupId,
        namespace: i16,
    ) -> Result<Retrieve, GroupError> {
        let row = self.group_row(id)?;
        self.retrieve_request(&row, &self.account(), namespace, None)
    }

    /// Creates a group named `name` with this account as its admin and `members` invited:
    /// pushes its keys (namespace 12), Info (13) and Members (14), then sends each invitee a
    /// signed invitation with its auth data, 1:1. Returns the group's ID (`03…`).
    ///
    /// # Errors
    /// [`GroupError::TooManyMembers`] beyond [`MAX_MEMBERS`] (this account included),
    /// [`GroupError::TooLong`]/[`GroupError::Empty`] for the name, network and database errors.
    pub async fn create_group(
        &self,
        name: &str,
        members: &[SessionId],
    ) -> Result<GroupId, GroupError> {
        check_text("group name", name, MAX_NAME_LEN)?;
        let account = self.account();
        let own = account.session_id();
        let invitees: BTreeSet<SessionId> = members.iter().copied().filter(|m| *m != own).collect();
        let count = invitees.len().saturating_add(1);
        if count > MAX_MEMBERS {
            return Err(GroupError::TooManyMembers {
                count,
                max: MAX_MEMBERS,
            });
        }
        let admin = GroupAdmin::generate(&mut OsRng);
        let id = admin.group_id();
        let mut keys = GroupKeys::new_admin(account.ed25519_secret(), admin.clone())?;
        let all: Vec<SessionId> = std::iter::once(own)
            .chain(invitees.iter().copied())
            .collect();
        let rekey = keys.rekey(&all)?.to_vec();
        let now = self.now_ms();
        let display_name = self
            .with_engine(|e| e.settings())
            .ok()
            .and_then(|s| s.display_name);
        let mut row = GroupRow {
            id,
            name: name.to_owned(),
            status: GroupStatus::Joined,
            invited_by: None,
            auth: None,
            keys,
            info: None,
            members: None,
            created_ms: now,
        };
        let (info, info_push) = edit_config(None, &row.keys, ConfigKind::GroupInfo, |d| {
            GroupInfo {
                name: Some(name.to_owned()),
                created: i64::try_from(now / 1000).unwrap_or(0),
                ..GroupInfo::default()
            }
            .write(d);
        })?;
        let (members_msg, members_push) =
            edit_config(None, &row.keys, ConfigKind::GroupMembers, |d| {
                GroupMembers::set(
                    d,
                    &GroupMember {
                        session_id: own.to_bytes().to_vec(),
                        name: display_name.clone().unwrap_or_default(),
                        admin: true,
                        ..GroupMember::default()
                    },
                );
                for m in &invitees {
                    GroupMembers::set(
                        d,
                        &GroupMember {
                            session_id: m.to_bytes().to_vec(),
                            invite_status: Some(1),
                            ..GroupMember::default()
                        },
                    );
                }
            })?;
        row.info = Some(info);
        row.members = Some(members_msg);
        let keys_hash = self
            .group_store(&row, &account, ns::KEYS, rekey.clone())
            .await?;
        row.keys
            .load_key_message(keys_hash.as_str(), &rekey, i64::try_from(now).unwrap_or(0))?;
        self.push_all(&row, &account, vec![info_push, members_push])
            .await?;
        self.group_write(|tx, _| Ok(store::save(tx, &row)?))?;
        self.push_group_list().await;
        for invitee in &invitees {
            self.invite(&row, invitee).await?;
        }
        Ok(id)
    }

    async fn invite(&self, row: &GroupRow, invitee: &SessionId) -> Result<(), GroupError> {
        let admin = row.keys.admin().ok_or(GroupError::NotAdmin)?;
        let sent_ms = self.now_ms();
        let name = summary(row).name;
        let update = admin.invite(invitee, &name, sent_ms)?;
        let content = update_content(&update, sent_ms)?;
        let content = Content {
            sig_timestamp: Some(sent_ms),
            ..content
        };
        self.send_direct(invitee, &content, sent_ms).await
    }

    /// Accepts an invitation: joins the group, reads its keys and configs, and tells the
    /// admins (an invite response in the group).
    ///
    /// # Errors
    /// [`GroupError::UnknownGroup`] without an invitation, [`GroupError::Auth`] if its auth
    /// data is not valid for this account, network and database errors.
    pub async fn accept_group_invite(&self, id: &GroupId) -> Result<Vec<GroupEvent>, GroupError> {
        let account = self.account();
        let invite =
            self.group_write(|tx, _| Ok(store::invites(tx)?.into_iter().find(|i| i.group == *id)))?;
        let invite = invite.ok_or_else(|| GroupError::UnknownGroup(id.to_string()))?;
        invite
            .auth
            .check(id, &account.ed25519_secret().public_key(), true, false)?;
        let row = GroupRow {
            id: *id,
            name: invite.name.clone(),
            status: GroupStatus::Joined,
            invited_by: Some(invite.inviter),
            auth: Some(invite.auth.clone()),
            keys: GroupKeys::new(account.ed25519_secret(), *id)?,
            info: None,
            members: None,
            created_ms: self.now_ms(),
        };
        self.group_write(|tx, _| {
            store::save(tx, &row)?;
            store::delete_invite(tx, id)?;
            Ok(())
        })?;
        self.push_group_list().await;
        let events = self.poll_group(id).await?;
        let row = self.group_row(id)?;
        let sent_ms = self.now_ms();
        let response = GroupUpdate::InviteResponse { approved: true };
        self.send_to_group(&row, &update_content(&response, sent_ms)?, sent_ms)
            .await?;
        Ok(events)
    }

    /// Declines an invitation: forgets it.
    ///
    /// # Errors
    /// [`GroupError::UnknownGroup`] without an invitation.
    pub fn decline_group_invite(&self, id: &GroupId) -> Result<(), GroupError> {
        self.with_engine(|e| e.decline_group_invite(id))
    }

    /// Sends a text to a group, optionally replying to one of its messages.
    ///
    /// # Errors
    /// [`GroupError::NotJoined`], [`GroupError::Empty`], network and database errors.
    pub async fn send_group_text(
        &self,
        id: &GroupId,
        body: &str,
        reply_to: Option<i64>,
    ) -> Result<GroupMessage, GroupError> {
        if body.is_empty() {
            return Err(GroupError::Empty("text"));
        }
        let row = self.joined_row(id)?;
        let own = self.session_id();
        let quote = match reply_to {
            Some(mid) => {
                let q = self
                    .group_write(|tx, _| Ok(store::message(tx, mid)?))?
                    .filter(|m| m.group == *id)
                    .ok_or(GroupError::UnknownMessage(mid))?;
                Some(q)
            }
            None => None,
        };
        let sent_ms = self.now_ms();
        let mut visible = VisibleMessage::text(body);
        visible.data.timestamp = Some(sent_ms);
        visible.quote = quote.as_ref().map(|q| Quote {
            id: q.sent_ms,
            author: PrefixedId::from(q.author),
            text: q.body.clone(),
            attachments: Vec::new(),
            unknown: UnknownFields::default(),
        });
        let mut content = Content::new(Message::Visible(visible));
        let info = info_of(row.info.as_deref(), id);
        if info.expiry_seconds > 0 {
            content.expiration_type = Some(sotto_envelope::ExpirationType::DeleteAfterSend);
            content.expiration_timer = u32::try_from(info.expiry_seconds).ok();
        }
        let local = self.group_write(|tx, _| {
            Ok(store::insert_message(
                tx,
                &NewGroupMessage {
                    group: id,
                    author: &own,
                    sent_ms,
                    received_ms: sent_ms,
                    outgoing: true,
                    hash: None,
                    body: Some(body),
                    quote: quote.as_ref().map(|q| (q.author, q.sent_ms)),
                },
            )?)
        })?;
        let hash = self.send_to_group(&row, &content, sent_ms).await?;
        self.group_write(|tx, _| {
            store::mark_seen(tx, hash.as_str(), sent_ms.saturating_add(30 * 86_400_000))?;
            if let Some(local) = local {
                store::set_message_hash(tx, local, hash.as_str())?;
            }
            Ok(())
        })?;
        let message = self
            .group_write(|tx, _| Ok(store::find_message(tx, id, &own, sent_ms)?))?
            .ok_or(GroupError::UnknownMessage(0))?;
        Ok(message)
    }

    /// Adds (or removes) a reaction to a group message.
    ///
    /// # Errors
    /// [`GroupError::UnknownMessage`], [`GroupError::NotJoined`], network errors.
    pub async fn react_in_group(
        &self,
        message: i64,
        emoji: &str,
        remove: bool,
    ) -> Result<(), GroupError> {
        if emoji.is_empty() {
            return Err(GroupError::Empty("emoji"));
        }
        let target = self
            .group_write(|tx, _| Ok(store::message(tx, message)?))?
            .ok_or(GroupError::UnknownMessage(message))?;
        let row = self.joined_row(&target.group)?;
        let sent_ms = self.now_ms();
        let content = Content::new(Message::Reaction(ReactionMessage {
            reaction: Reaction {
                id: target.sent_ms,
                author: PrefixedId::from(target.author),
                emoji: Some(emoji.to_owned()),
                action: if remove {
                    ReactionAction::Remove
                } else {
                    ReactionAction::React
                },
                unknown: UnknownFields::default(),
            },
            data: DataFields {
                timestamp: Some(sent_ms),
                ..DataFields::default()
            },
        }));
        let own = self.session_id();
        self.group_write(|tx, _| apply_reaction(tx, &target, &own, emoji, !remove).map(|_| ()))?;
        let hash = self.send_to_group(&row, &content, sent_ms).await?;
        self.group_write(|tx, _| {
            Ok(store::mark_seen(
                tx,
                hash.as_str(),
                sent_ms.saturating_add(30 * 86_400_000),
            )?)
        })?;
        Ok(())
    }

    /// Unsends one of this account's group messages: deleted here and for every member (an
    /// unsend request in the group, and the swarm copy deleted where the admin key allows).
    ///
    /// # Errors
    /// [`GroupError::NotAuthor`], [`GroupError::UnknownMessage`], network errors.
    pub async fn unsend_in_group(&self, message: i64) -> Result<(), GroupError> {
        let target = self
            .group_write(|tx, _| Ok(store::message(tx, message)?))?
            .ok_or(GroupError::UnknownMessage(message))?;
        if target.author != self.session_id() {
            return Err(GroupError::NotAuthor);
        }
        let row = self.joined_row(&target.group)?;
        let sent_ms = self.now_ms();
        let content = Content::new(Message::Unsend(UnsendRequest {
            timestamp: target.sent_ms,
            author: PrefixedId::from(target.author),
            unknown: UnknownFields::default(),
        }));
        self.group_write(|tx, _| Ok(store::tombstone(tx, target.id)?))?;
        let hash = self.send_to_group(&row, &content, sent_ms).await?;
        self.group_write(|tx, _| {
            Ok(store::mark_seen(
                tx,
                hash.as_str(),
                sent_ms.saturating_add(30 * 86_400_000),
            )?)
        })?;
        Ok(())
    }

    /// Polls every joined group once (keys, then Info and Members, then messages).
    ///
    /// # Errors
    /// The first group's failure (the others are still polled).
    pub async fn poll_groups(&self) -> Result<Vec<GroupEvent>, GroupError> {
        let ids: Vec<GroupId> = self
            .groups()?
            .into_iter()
            .filter(|g| g.status == GroupStatus::Joined)
            .map(|g| g.id)
            .collect();
        let mut events = Vec::new();
        let mut first_error = None;
        for id in ids {
            match self.poll_group(&id).await {
                Ok(e) => events.extend(e),
                Err(e) => {
                    tracing::info!(error = %e, "polling a group failed");
                    first_error.get_or_insert(e);
                }
            }
        }
        match first_error {
            Some(e) if events.is_empty() => Err(e),
            _ => Ok(events),
        }
    }

    /// Polls one group: keys (12), Info (13), Members (14), messages (11), in that order,
    /// applying each namespace before the next.
    ///
    /// # Errors
    /// [`GroupError::NotJoined`], network and database errors.
    pub async fn poll_group(&self, id: &GroupId) -> Result<Vec<GroupEvent>, GroupError> {
        let account = self.account();
        let mut events = Vec::new();
        let row = self.joined_row(id)?;
        let own = account.session_id();
        // Kicked notices first: a revoked token can still read them.
        if !row.keys.is_admin() {
            let notices = self.group_retrieve(&row, &account, ns::REVOKED).await?;
            let kicked = notices.iter().any(|m| {
                sotto_groups::control::read_kicked_notice(
                    &m.data,
                    id,
                    &account.ed25519_secret().to_x25519(),
                    own.x25519(),
                    row.keys.current_generation(),
                )
                .is_ok()
            });
            if kicked {
                self.group_write(|tx, account| {
                    let mut row = store::load(tx, account, id)?
                        .ok_or_else(|| GroupError::UnknownGroup(id.to_string()))?;
                    row.status = GroupStatus::Kicked;
                    store::save(tx, &row)?;
                    Ok(())
                })?;
                events.push(GroupEvent::Kicked { group: *id });
                return Ok(events);
            }
        }
        // Keys.
        let keys_msgs = self.group_retrieve(&row, &account, ns::KEYS).await?;
        self.group_write(|tx, account| {
            let mut row = store::load(tx, account, id)?
                .ok_or_else(|| GroupError::UnknownGroup(id.to_string()))?;
            for m in &keys_msgs {
                if let Err(e) = row.keys.load_key_message(
                    m.hash.as_str(),
                    &m.data,
                    i64::try_from(m.timestamp).unwrap_or(0),
                ) {
                    tracing::info!(error = %e, "skipped a group keys message");
                }
            }
            if let Some(last) = keys_msgs.last() {
                store::set_poll_position(tx, id, ns::KEYS, last.hash.as_str())?;
            }
            store::save(tx, &row)?;
            Ok(())
        })?;
        // Info and Members.
        let mut pushes = Vec::new();
        for kind in [ConfigKind::GroupInfo, ConfigKind::GroupMembers] {
            let namespace = kind.namespace();
            let row = self.group_row(id)?;
            let msgs = self.group_retrieve(&row, &account, namespace).await?;
            let (changed, push) = self.group_write(|tx, account| {
                let mut row = store::load(tx, account, id)?
                    .ok_or_else(|| GroupError::UnknownGroup(id.to_string()))?;
                let out = merge_configs(&mut row, kind, &msgs)?;
                if let Some(last) = msgs.last() {
                    store::set_poll_position(tx, id, namespace, last.hash.as_str())?;
                }
                store::save(tx, &row)?;
                Ok(out)
            })?;
            if changed {
                events.push(GroupEvent::Changed { group: *id });
            }
            pushes.extend(push);
        }
        let row = self.group_row(id)?;
        if info_of(row.info.as_deref(), id).destroyed {
            self.group_write(|tx, account| {
                let mut row = store::load(tx, account, id)?
                    .ok_or_else(|| GroupError::UnknownGroup(id.to_string()))?;
                row.status = GroupStatus::Destroyed;
                store::save(tx, &row)?;
                Ok(())
            })?;
            events.push(GroupEvent::Destroyed { group: *id });
            return Ok(events);
        }
        if !row.keys.is_admin() && !member_ids(&row).contains(&own) && row.members.is_some() {
            // No longer listed: removed (the kicked notice may have been missed).
            tracing::info!("this account is no longer a member of a group");
        }
        if !pushes.is_empty() {
            self.push_all(&row, &account, pushes).await?;
        }
        // Messages.
        let msgs = self.group_retrieve(&row, &account, ns::MESSAGES).await?;
        let now = self.now_ms();
        let (batch, admin_work) = self.group_write(|tx, account| {
            let row = store::load(tx, account, id)?
                .ok_or_else(|| GroupError::UnknownGroup(id.to_string()))?;
            let mut out = Vec::new();
            let mut work = AdminWork::default();
            for m in &msgs {
                if !store::mark_seen(tx, m.hash.as_str(), m.expiration)? {
                    continue;
                }
                match open_group_message(&row.keys, &m.data) {
                    Ok(content) => {
                        apply_group_content(tx, &row, &content, m, now, &mut out, &mut work)?;
                    }
                    Err(e) => out.push(GroupEvent::Skipped {
                        group: *id,
                        reason: e.to_string(),
                    }),
                }
            }
            if let Some(last) = msgs.last() {
                store::set_poll_position(tx, id, ns::MESSAGES, last.hash.as_str())?;
            }
            Ok((out, work))
        })?;
        events.extend(batch);
        if row.keys.is_admin() && !admin_work.accepted.is_empty() {
            self.admin_mark_accepted(id, &admin_work.accepted).await?;
        }
        if row.keys.is_admin() && !admin_work.left.is_empty() {
            // Another admin may have removed them already.
            let current = member_ids(&self.group_row(id)?);
            let left: Vec<SessionId> = admin_work
                .left
                .into_iter()
                .filter(|m| current.contains(m))
                .collect();
            if !left.is_empty() {
                self.remove_members(id, &left, false).await?;
            }
        }
        Ok(events)
    }

    async fn admin_mark_accepted(
        &self,
        id: &GroupId,
        accepted: &[SessionId],
    ) -> Result<(), GroupError> {
        let account = self.account();
        let mut row = self.joined_row(id)?;
        let (members, push) = edit_members(&row, accepted, |m| {
            m.invite_status = None;
            m.supplement = false;
        })?;
        row.members = Some(members);
        self.push_all(&row, &account, vec![push]).await?;
        self.group_write(|tx, _| Ok(store::save(tx, &row)?))
    }

    async fn admin_info_change(
        &self,
        id: &GroupId,
        edit: impl FnOnce(&mut GroupInfo),
        announce: Option<(InfoChangeKind, Option<String>, Option<u32>)>,
    ) -> Result<(), GroupError> {
        let account = self.account();
        let mut row = self.joined_row(id)?;
        let admin = row.keys.admin().cloned().ok_or(GroupError::NotAdmin)?;
        let (info, push) =
            edit_config(row.info.as_deref(), &row.keys, ConfigKind::GroupInfo, |d| {
                let mut info = GroupInfo::read(d);
                edit(&mut info);
                info.write(d);
            })?;
        row.info = Some(info);
        self.push_all(&row, &account, vec![push]).await?;
        self.group_write(|tx, _| Ok(store::save(tx, &row)?))?;
        if let Some((kind, name, expiration)) = announce {
            let sent_ms = self.now_ms();
            let update = admin.info_change(kind, name, expiration, sent_ms);
            self.send_to_group(&row, &update_content(&update, sent_ms)?, sent_ms)
                .await?;
        }
        Ok(())
    }

    /// Renames a group (admins).
    ///
    /// # Errors
    /// [`GroupError::NotAdmin`], [`GroupError::TooLong`], network errors.
    pub async fn rename_group(&self, id: &GroupId, name: &str) -> Result<(), GroupError> {
        check_text("group name", name, MAX_NAME_LEN)?;
        let new = name.to_owned();
        self.admin_info_change(
            id,
            |i| i.name = Some(new),
            Some((InfoChangeKind::Name, Some(name.to_owned()), None)),
        )
        .await
    }

    /// Sets a group's description (admins); an empty one clears it.
    ///
    /// # Errors
    /// [`GroupError::NotAdmin`], [`GroupError::TooLong`], network errors.
    pub async fn set_group_description(
        &self,
        id: &GroupId,
        description: &str,
    ) -> Result<(), GroupError> {
        if description.len() > MAX_DESCRIPTION_LEN {
            return Err(GroupError::TooLong {
                what: "description",
                len: description.len(),
                max: MAX_DESCRIPTION_LEN,
            });
        }
        let d = (!description.is_empty()).then(|| description.to_owned());
        self.admin_info_change(id, |i| i.description = d, None)
            .await
    }

    /// Sets a group's disappearing-messages timer, seconds after sending (0: off; admins).
    ///
    /// # Errors
    /// [`GroupError::NotAdmin`], network errors.
    pub async fn set_group_timer(&self, id: &GroupId, seconds: u32) -> Result<(), GroupError> {
        self.admin_info_change(
            id,
            |i| i.expiry_seconds = i64::from(seconds),
            Some((InfoChangeKind::DisappearingMessages, None, Some(seconds))),
        )
        .await
    }

    /// Destroys a group (admins): every member sees it destroyed.
    ///
    /// # Errors
    /// [`GroupError::NotAdmin`], network errors.
    pub async fn destroy_group(&self, id: &GroupId) -> Result<(), GroupError> {
        self.admin_info_change(id, |i| i.destroyed = true, None)
            .await?;
        self.group_write(|tx, account| {
            let mut row = store::load(tx, account, id)?
                .ok_or_else(|| GroupError::UnknownGroup(id.to_string()))?;
            row.status = GroupStatus::Destroyed;
            store::save(tx, &row)?;
            Ok(())
        })?;
        self.push_group_list().await;
        Ok(())
    }

    /// Adds members (admins). With `with_history` they get every retained key (a supplement)
    /// and read the earlier messages; without, the group is rekeyed first and they read only
    /// what comes after. Each gets an invitation.
    ///
    /// # Errors
    /// [`GroupError::NotAdmin`], [`GroupError::TooManyMembers`], network errors.
    pub async fn add_members(
        &self,
        id: &GroupId,
        new: &[SessionId],
        with_history: bool,
    ) -> Result<(), GroupError> {
        let account = self.account();
        let mut row = self.joined_row(id)?;
        let admin = row.keys.admin().cloned().ok_or(GroupError::NotAdmin)?;
        let current = member_ids(&row);
        let added: Vec<SessionId> = new
            .iter()
            .copied()
            .filter(|m| !current.contains(m))
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        if added.is_empty() {
            return Err(GroupError::Empty("list of new members"));
        }
        let count = current.len().saturating_add(added.len());
        if count > MAX_MEMBERS {
            return Err(GroupError::TooManyMembers {
                count,
                max: MAX_MEMBERS,
            });
        }
        let all: Vec<SessionId> = current.iter().chain(added.iter()).copied().collect();
        let mut pushes = Vec::new();
        if with_history {
            let supplement = row.keys.key_supplement(&added)?;
            pushes.push(Push {
                namespace: ns::KEYS,
                data: supplement,
            });
        } else {
            self.rekey(&mut row, &account, &all).await?;
        }
        let (members, push) = edit_config(
            row.members.as_deref(),
            &row.keys,
            ConfigKind::GroupMembers,
            |d| {
                for m in &added {
                    GroupMembers::set(
                        d,
                        &GroupMember {
                            session_id: m.to_bytes().to_vec(),
                            invite_status: Some(1),
                            supplement: with_history,
                            ..GroupMember::default()
                        },
                    );
                }
            },
        )?;
        row.members = Some(members);
        if with_history {
            pushes.push(push);
        } else {
            pushes.extend(reseal(&row)?);
        }
        self.push_all(&row, &account, pushes).await?;
        self.group_write(|tx, _| Ok(store::save(tx, &row)?))?;
        let sent_ms = self.now_ms();
        let update = admin.member_change(MemberChangeKind::Added, &added, with_history, sent_ms);
        self.send_to_group(&row, &update_content(&update, sent_ms)?, sent_ms)
            .await?;
        for m in &added {
            self.invite(&row, m).await?;
        }
        Ok(())
    }

    /// Removes members (admins): sends them the kicked notice (namespace −11), revokes their
    /// tokens on the swarm, optionally asks everyone to delete their messages, rekeys for the
    /// rest and pushes keys, Info and Members.
    ///
    /// # Errors
    /// [`GroupError::NotAdmin`], [`GroupError::NotAMember`], network errors.
    pub async fn remove_members(
        &self,
        id: &GroupId,
        removed: &[SessionId],
        delete_messages: bool,
    ) -> Result<(), GroupError> {
        let account = self.account();
        let mut row = self.joined_row(id)?;
        let admin = row.keys.admin().cloned().ok_or(GroupError::NotAdmin)?;
        let current = member_ids(&row);
        if let Some(missing) = removed.iter().find(|m| !current.contains(m)) {
            return Err(GroupError::NotAMember(missing.to_string()));
        }
        let rest: Vec<SessionId> = current
            .iter()
            .copied()
            .filter(|m| !removed.contains(m))
            .collect();
        // The notice names the generation the rest will have.
        let next_gen = row
            .keys
            .current_generation()
            .map_or(0, |g| g.saturating_add(1));
        let mut nonce = [0u8; 24];
        OsRng.as_rngcore().fill_bytes(&mut nonce);
        let notice = admin.kicked_notice(removed, next_gen, &nonce, &mut OsRng)?;
        self.group_store(&row, &account, ns::REVOKED, notice)
            .await?;
        let tokens = removed
            .iter()
            .map(|m| admin.subaccount_token(m, sotto_groups::auth::member_flags(true, false)))
            .collect::<Result<Vec<_>, _>>()?;
        self.revoke_group_tokens(&row, tokens).await?;
        if delete_messages {
            let sent_ms = self.now_ms();
            let update = admin.delete_member_content(removed, &[], sent_ms);
            self.send_to_group(&row, &update_content(&update, sent_ms)?, sent_ms)
                .await?;
            self.group_write(|tx, _| {
                for m in removed {
                    store::tombstone_author(tx, id, m)?;
                }
                Ok(())
            })?;
        }
        self.rekey(&mut row, &account, &rest).await?;
        let (members, _) = edit_config(
            row.members.as_deref(),
            &row.keys,
            ConfigKind::GroupMembers,
            |d| {
                for m in removed {
                    GroupMembers::erase(d, &m.to_bytes());
                }
            },
        )?;
        row.members = Some(members);
        let pushes = reseal(&row)?;
        self.push_all(&row, &account, pushes).await?;
        self.group_write(|tx, _| Ok(store::save(tx, &row)?))?;
        let sent_ms = self.now_ms();
        let update = admin.member_change(MemberChangeKind::Removed, removed, false, sent_ms);
        self.send_to_group(&row, &update_content(&update, sent_ms)?, sent_ms)
            .await?;
        Ok(())
    }

    async fn revoke_group_tokens(
        &self,
        row: &GroupRow,
        tokens: Vec<sotto_rpc::SubaccountToken>,
    ) -> Result<(), GroupError> {
        let admin = row.keys.admin().ok_or(GroupError::NotAdmin)?;
        let acct = AccountId::from_bytes(&row.id.to_bytes());
        let request = sotto_rpc::request::SubaccountRevocation::new(
            sotto_rpc::request::Revocation::Revoke,
            acct,
            tokens,
            self.now_ms(),
            &Signer::ed25519(admin.signing_key()),
        );
        self.shared()
            .on_swarm(acct, |node| {
                self.network().revoke_subaccount(node, request.clone())
            })
            .await?;
        Ok(())
    }

    /// Promotes members to admin (admins): each gets the group seed 1:1 and is marked an
    /// admin in Members.
    ///
    /// # Errors
    /// [`GroupError::NotAdmin`], [`GroupError::NotAMember`], network errors.
    pub async fn promote_members(
        &self,
        id: &GroupId,
        promoted: &[SessionId],
    ) -> Result<(), GroupError> {
        let account = self.account();
        let mut row = self.joined_row(id)?;
        let admin = row.keys.admin().cloned().ok_or(GroupError::NotAdmin)?;
        let current = member_ids(&row);
        if let Some(missing) = promoted.iter().find(|m| !current.contains(m)) {
            return Err(GroupError::NotAMember(missing.to_string()));
        }
        let name = summary(&row).name;
        for m in promoted {
            let sent_ms = self.now_ms();
            let content = Content {
                sig_timestamp: Some(sent_ms),
                ..update_content(&admin.promote(&name), sent_ms)?
            };
            self.send_direct(m, &content, sent_ms).await?;
        }
        let (members, push) = edit_members(&row, promoted, |m| {
            m.admin = true;
            m.promotion_status = None;
        })?;
        row.members = Some(members);
        self.push_all(&row, &account, vec![push]).await?;
        self.group_write(|tx, _| Ok(store::save(tx, &row)?))?;
        let sent_ms = self.now_ms();
        let update = admin.member_change(MemberChangeKind::Promoted, promoted, false, sent_ms);
        self.send_to_group(&row, &update_content(&update, sent_ms)?, sent_ms)
            .await?;
        Ok(())
    }

    /// Leaves a group: tells the admins (who remove this account and rekey) and forgets the
    /// group here.
    ///
    /// # Errors
    /// [`GroupError::UnknownGroup`], network errors.
    pub async fn leave_group(&self, id: &GroupId) -> Result<(), GroupError> {
        let row = self.group_row(id)?;
        if row.status == GroupStatus::Joined {
            let sent_ms = self.now_ms();
            self.send_to_group(
                &row,
                &update_content(&GroupUpdate::MemberLeft, sent_ms)?,
                sent_ms,
            )
            .await?;
        }
        self.group_write(|tx, _| {
            store::delete(tx, id)?;
            crate::configs::edit_in(tx, ConfigKind::UserGroups, |d| sync::forget(d, id))?;
            Ok(())
        })?;
        self.push_group_list().await;
        Ok(())
    }
}

/// What an admin must do after applying a batch of group messages.
#[derive(Default)]
struct AdminWork {
    accepted: Vec<SessionId>,
    left: Vec<SessionId>,
}

fn apply_reaction(
    tx: &Tx<'_>,
    target: &GroupMessage,
    reactor: &SessionId,
    emoji: &str,
    add: bool,
) -> Result<bool, GroupError> {
    let mut reactions = target.reactions.clone();
    let who = reactor.to_string();
    let changed = if add {
        reactions.0.entry(emoji.to_owned()).or_default().insert(who)
    } else {
        let removed = reactions.0.get_mut(emoji).is_some_and(|s| s.remove(&who));
        reactions.0.retain(|_, s| !s.is_empty());
        removed
    };
    if changed {
        store::set_reactions(tx, target.id, &reactions)?;
    }
    Ok(changed)
}

/// Merges retrieved Info or Members messages into the row's. Returns whether the data
/// changed, and the push an admin owes (a merge of concurrent edits).
fn merge_configs(
    row: &mut GroupRow,
    kind: ConfigKind,
    msgs: &[RetrievedMessage],
) -> Result<(bool, Option<Push>), GroupError> {
    let keys = row.keys.keys();
    let pk = row.id.public_key();
    let opened: Vec<ConfigMessage> = msgs
        .iter()
        .filter_map(|m| match open_group_config(&m.data, &keys, kind, pk) {
            Ok(c) => Some(c),
            Err(e) => {
                tracing::info!(error = %e, "skipped a group config message");
                None
            }
        })
        .collect();
    if opened.is_empty() {
        return Ok((false, None));
    }
    let slot = match kind {
        ConfigKind::GroupInfo => &mut row.info,
        _ => &mut row.members,
    };
    let mut inputs: Vec<&[u8]> = Vec::new();
    if let Some(current) = slot.as_deref() {
        inputs.push(current);
    }
    inputs.extend(opened.iter().map(ConfigMessage::serialized));
    let signer = row.keys.admin().map(GroupAdmin::signing_key);
    let Ok(merged) = ConfigMessage::merge(&inputs, Some(pk), signer) else {
        return Ok((false, None));
    };
    let new = merged.message.serialized().to_vec();
    let changed = slot.as_deref() != Some(new.as_slice());
    let push = if merged.needs_push() && row.keys.is_admin() {
        Some(Push {
            namespace: kind.namespace(),
            data: seal_group_config(&merged.message, row.keys.encryption_key()?, kind)?,
        })
    } else {
        None
    };
    *slot = Some(new);
    Ok((changed, push))
}

fn apply_group_content(
    tx: &Tx<'_>,
    row: &GroupRow,
    content: &GroupContent,
    retrieved: &RetrievedMessage,
    now_ms: u64,
    events: &mut Vec<GroupEvent>,
    work: &mut AdminWork,
) -> Result<(), GroupError> {
    let id = &row.id;
    let skip = |events: &mut Vec<GroupEvent>, reason: &str| {
        events.push(GroupEvent::Skipped {
            group: *id,
            reason: reason.to_owned(),
        });
    };
    if let Some(update) = group_update_of(&content.content) {
        if update.is_admin_signed() && update.verify(id, content.sent_ms, None).is_err() {
            skip(
                events,
                "a control message whose admin signature does not verify",
            );
            return Ok(());
        }
        match update {
            GroupUpdate::InviteResponse { approved: true } => work.accepted.push(content.sender),
            GroupUpdate::MemberLeft => work.left.push(content.sender),
            GroupUpdate::DeleteMemberContent {
                members,
                hashes: _,
                admin_signature: Some(_),
            } => {
                for m in members {
                    if let Ok(m) = m.parse::<SessionId>() {
                        store::tombstone_author(tx, id, &m)?;
                    }
                }
                events.push(GroupEvent::Changed { group: *id });
            }
            GroupUpdate::InfoChange { .. } | GroupUpdate::MemberChange { .. } => {
                events.push(GroupEvent::Changed { group: *id });
            }
            _ => {}
        }
        return Ok(());
    }
    match &content.content.message {
        Message::Visible(v) => {
            let Some(body) = v.body.as_deref().filter(|b| !b.is_empty()) else {
                skip(events, "a message without text");
                return Ok(());
            };
            let quote = v
                .quote
                .as_ref()
                .and_then(|q| Some((SessionId::try_from(q.author).ok()?, q.id)));
            let inserted = store::insert_message(
                tx,
                &NewGroupMessage {
                    group: id,
                    author: &content.sender,
                    sent_ms: content.sent_ms,
                    received_ms: now_ms,
                    outgoing: false,
                    hash: Some(retrieved.hash.as_str()),
                    body: Some(body),
                    quote,
                },
            )?;
            if let Some(mid) = inserted
                && let Some(m) = store::message(tx, mid)?
            {
                events.push(GroupEvent::Message(m));
            }
        }
        Message::Reaction(r) => {
            let Ok(author) = SessionId::try_from(r.reaction.author) else {
                skip(events, "a reaction to an unknown author");
                return Ok(());
            };
            let Some(emoji) = r.reaction.emoji.as_deref().filter(|e| !e.is_empty()) else {
                skip(events, "a reaction without emoji");
                return Ok(());
            };
            let Some(target) = store::find_message(tx, id, &author, r.reaction.id)? else {
                skip(events, "a reaction to an unknown message");
                return Ok(());
            };
            let add = r.reaction.action == ReactionAction::React;
            if apply_reaction(tx, &target, &content.sender, emoji, add)? {
                events.push(GroupEvent::Reaction {
                    message: target.id,
                    reactor: content.sender,
                    emoji: emoji.to_owned(),
                    added: add,
                });
            }
        }
        Message::Unsend(u) => {
            let Ok(author) = SessionId::try_from(u.author) else {
                skip(events, "an unsend request naming no Session ID");
                return Ok(());
            };
            let admin_sender = members_of(row.members.as_deref(), id)
                .iter()
                .any(|m| m.admin && m.session_id == content.sender.to_bytes());
            if author != content.sender && !admin_sender {
                skip(events, "an unsend request for someone else's message");
                return Ok(());
            }
            if let Some(target) = store::find_message(tx, id, &author, u.timestamp)?
                && !target.deleted
            {
                store::tombstone(tx, target.id)?;
                events.push(GroupEvent::Deleted { message: target.id });
            }
        }
        _ => skip(events, "an unsupported kind of group message"),
    }
    Ok(())
}
