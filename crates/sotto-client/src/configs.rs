//! The user configs (shared/spec/groups.md §3): UserProfile, Contacts, ConvoInfoVolatile and
//! UserGroups in namespaces 2–5 of this account's own swarm, the way the devices of one
//! account share its profile, contacts and conversations.
//!
//! Each namespace keeps, in the database, the message last adopted, merged or pushed (its
//! *base*) and the local edits not pushed yet (*pending*: the dirty flag, persisted before any
//! push, so a device killed mid-push pushes them at its next start). The local tables are what
//! the user edits; [`Engine::record_local_changes`] writes them into the configs (a
//! read–modify–write of the typed views, so keys this code does not know survive), and
//! [`Engine::receive_configs`] merges what other devices pushed (libsession's rules) and
//! applies the result back to the local tables. Polling does both before it reads messages.

use sotto_config::{
    CommunityRoom, ConfigKind, ConfigMessage, Contact as ConfigContact, Contacts,
    Conversation as CivConversation, ConvoInfoVolatile, CryptError, DEFAULT_LAG, Dict, GroupV2,
    LegacyGroup, LoadError, ReadState, UserGroups, UserProfile, open_pushed, seal_for_push,
};
use sotto_envelope::{
    EncryptError, SharedConfigKind, UnwrapError, WebSocketMessage, unwrap_shared_config,
    wrap_shared_config,
};
use sotto_identity::{Account, SessionId};
use sotto_rpc::request::{Lifetime, Store};
use sotto_rpc::response::RetrievedMessage;
use sotto_rpc::{AccountId, MessageHash, Namespace, Signer};

use super::Engine;
use crate::db::{ConfigRow, ContactFlag, MAX_TIME, Tx};
use crate::error::{ClientError, DbError, SkipReason};
use crate::incoming::Event;
use crate::model::Disappearing;

/// How long config messages live on the swarm: 30 days (the longest a non-public namespace
/// allows; Session pushes configs with this TTL).
pub const CONFIG_TTL_MS: u64 = 30 * 24 * 3600 * 1000;

/// The user configs, in the order they are polled and applied (contacts before the
/// conversations that name them).
pub const USER_CONFIGS: [ConfigKind; 4] = ConfigKind::USER;

/// Why an incoming config message was rejected (nothing local changed).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigRejection {
    /// A protobuf-wrapped push that did not unwrap: malformed, not decryptable, or not sent
    /// (signed) by this account.
    #[error("wrapped push: {0}")]
    Unwrap(UnwrapError),
    /// The encrypted config did not decrypt or decompress (truncated, tampered with, or
    /// encrypted with another key).
    #[error("encrypted config: {0}")]
    Decrypt(CryptError),
    /// The decrypted message is not a valid config message.
    #[error("config message: {0}")]
    Parse(LoadError),
    /// A replay of a message older than this device's: its seqno is one this device has
    /// already merged past.
    #[error("seqno {seqno} is a replay: this device is at seqno {current}")]
    Stale {
        /// The message's seqno.
        seqno: i64,
        /// This device's seqno for the config.
        current: i64,
    },
}

/// Why a config could not be prepared for its push.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigPushError {
    /// Sealing failed (the message is over the push size limit once encrypted).
    #[error(transparent)]
    Seal(#[from] CryptError),
    /// The protobuf wrapping failed.
    #[error(transparent)]
    Wrap(#[from] EncryptError),
}

/// One config's state, as `sotto sync --status` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigStatus {
    /// Which config.
    pub kind: ConfigKind,
    /// The seqno of the current message (with local edits, the seqno they will be pushed at).
    pub seqno: i64,
    /// The seqno last pushed (or adopted from the swarm).
    pub pushed_seqno: i64,
    /// Whether everything local is on the swarm (no push waiting).
    pub pushed: bool,
    /// The current message's config hash (hex).
    pub hash: String,
}

/// A config push ready to go: the message, and the `store` that carries it.
#[derive(Debug, Clone)]
pub struct ConfigPush {
    /// Which config.
    pub kind: ConfigKind,
    /// The message pushed (its config hash identifies it when the push is recorded).
    pub message: ConfigMessage,
    /// The store bytes (sealed and wrapped).
    pub data: Vec<u8>,
    /// The message timestamp, ms.
    pub timestamp_ms: u64,
}

impl ConfigPush {
    /// The swarm hash the push gets.
    #[must_use]
    pub fn hash(&self, own: &AccountId) -> MessageHash {
        MessageHash::compute(own, namespace(self.kind), &self.data)
    }

    /// When the swarm drops it, ms.
    #[must_use]
    pub fn expiry_ms(&self) -> u64 {
        self.timestamp_ms.saturating_add(CONFIG_TTL_MS)
    }

    /// The signed `store` request at `now_ms`.
    #[must_use]
    pub fn request(&self, account: &Account, now_ms: u64) -> Store {
        Store::new(
            AccountId::from(account.session_id()),
            namespace(self.kind),
            self.data.clone(),
            self.timestamp_ms,
            Lifetime::Expiry(self.expiry_ms()),
        )
        .signed(&Signer::session(account.ed25519_secret()), now_ms)
    }
}

/// The swarm namespace of a config.
#[must_use]
pub fn namespace(kind: ConfigKind) -> Namespace {
    Namespace::new(kind.namespace())
}

fn shared_kind(kind: ConfigKind) -> SharedConfigKind {
    match kind {
        ConfigKind::Contacts => SharedConfigKind::Contacts,
        ConfigKind::ConvoInfoVolatile => SharedConfigKind::ConvoInfoVolatile,
        ConfigKind::UserGroups => SharedConfigKind::UserGroups,
        _ => SharedConfigKind::UserProfile,
    }
}

/// Seals `message` for its push: compressed, padded, encrypted with the account's key for
/// `kind`'s domain, then protobuf-wrapped for older clients (spec §3.4).
pub fn seal_config(
    account: &Account,
    kind: ConfigKind,
    message: &ConfigMessage,
) -> Result<Vec<u8>, ConfigPushError> {
    let seed = account.ed25519_seed();
    let sealed = seal_for_push(message.serialized(), seed.expose(), kind.domain())?;
    Ok(wrap_shared_config(
        account,
        shared_kind(kind),
        message.seqno(),
        &sealed,
    )?)
}

/// Opens a pushed config of `kind` from this account's swarm: a protobuf-wrapped push (which
/// must come from this account) or a raw encrypted one.
pub fn open_config(
    account: &Account,
    kind: ConfigKind,
    data: &[u8],
) -> Result<ConfigMessage, ConfigRejection> {
    let seed = account.ed25519_seed();
    let open = |ciphertext: &[u8]| -> Result<ConfigMessage, ConfigRejection> {
        let plain = open_pushed(ciphertext, seed.expose(), kind.domain())
            .map_err(ConfigRejection::Decrypt)?;
        ConfigMessage::parse(&plain, None).map_err(ConfigRejection::Parse)
    };
    match unwrap_shared_config(account, shared_kind(kind), data) {
        Ok((_, inner)) => open(&inner),
        Err(unwrap) => match open(data) {
            Ok(message) => Ok(message),
            // It looked like a wrapped push: say why that failed.
            Err(_) if WebSocketMessage::try_from(data).is_ok() => {
                Err(ConfigRejection::Unwrap(unwrap))
            }
            Err(e) => Err(e),
        },
    }
}

/// One namespace's state, loaded.
struct State {
    base: ConfigMessage,
    base_pushed: bool,
    pending: Option<ConfigMessage>,
    pushed_seqno: i64,
}

impl State {
    fn load(tx: &Tx<'_>, kind: ConfigKind) -> Result<Self, DbError> {
        let Some(row) = tx.config(kind.namespace())? else {
            return Ok(Self {
                base: ConfigMessage::empty(),
                base_pushed: true,
                pending: None,
                pushed_seqno: 0,
            });
        };
        let parse = |bytes: &[u8]| {
            ConfigMessage::parse(bytes, None).map_err(|_| DbError::Corrupt("config message"))
        };
        Ok(Self {
            base: parse(&row.base)?,
            base_pushed: row.base_pushed,
            pending: row.pending.as_deref().map(parse).transpose()?,
            pushed_seqno: row.pushed_seqno,
        })
    }

    fn save(&self, tx: &Tx<'_>, kind: ConfigKind) -> Result<(), DbError> {
        tx.set_config(
            kind.namespace(),
            &ConfigRow {
                base: self.base.serialized().to_vec(),
                base_pushed: self.base_pushed,
                pending: self.pending.as_ref().map(|p| p.serialized().to_vec()),
                pushed_seqno: self.pushed_seqno,
            },
        )
    }

    /// The message as this device sees it now (local edits included).
    fn current(&self) -> &ConfigMessage {
        self.pending.as_ref().unwrap_or(&self.base)
    }

    /// The message waiting to be pushed, if any.
    fn to_push(&self) -> Option<&ConfigMessage> {
        self.pending
            .as_ref()
            .or_else(|| (!self.base_pushed).then_some(&self.base))
    }

    /// Applies `edit` to the data; the result becomes the pending message (the next seqno
    /// after a pushed base; the same seqno as a merge result not pushed yet). Returns whether
    /// anything changed.
    fn edit(&mut self, edit: impl FnOnce(&mut Dict)) -> bool {
        let mut next = if self.base_pushed {
            self.base.increment()
        } else {
            self.base.amend().unwrap_or_else(|| self.base.increment())
        };
        if let Some(pending) = &self.pending {
            *next.data_mut() = pending.data().clone();
        }
        edit(next.data_mut());
        let message = next.finish(None);
        if message.data() == self.current().data() {
            return false;
        }
        self.pending = (!message.diff().is_empty()).then_some(message);
        true
    }
}

fn disappearing_of(mode: i64, secs: i64) -> Disappearing {
    let secs = u32::try_from(secs).unwrap_or(0);
    match mode {
        _ if secs == 0 => Disappearing::Off,
        1 => Disappearing::AfterSend(secs),
        2 => Disappearing::AfterRead(secs),
        _ => Disappearing::Off,
    }
}

fn disappearing_columns(setting: Disappearing) -> (i64, i64) {
    match setting {
        Disappearing::Off => (0, 0),
        Disappearing::AfterSend(s) => (1, i64::from(s)),
        Disappearing::AfterRead(s) => (2, i64::from(s)),
    }
}

fn ms_i64(ms: u64) -> i64 {
    i64::try_from(ms).unwrap_or(i64::MAX)
}

/// Writes the local state into `kind`'s data (only the keys this code knows).
fn write_local(
    tx: &Tx<'_>,
    account: &Account,
    kind: ConfigKind,
    data: &mut Dict,
) -> Result<(), DbError> {
    let own = &account.session_id();
    match kind {
        ConfigKind::UserProfile => {
            let mut profile = UserProfile::read(data);
            profile.name = tx.settings()?.display_name;
            if let Some(picture) = tx.own_picture()? {
                profile.avatar_url = Some(picture.url);
                profile.avatar_key = Some(picture.key);
            }
            // Note to Self: its priority (pinned, hidden) and its timer.
            if let Some(priority) = tx.contact_priority(own)? {
                profile.nts_priority = priority;
            }
            if let Some(conversation) = tx.conversation(own)? {
                profile.nts_expiry_seconds = disappearing_columns(conversation.disappearing).1;
            }
            profile.write(data);
        }
        ConfigKind::Contacts => {
            for local in tx.contacts()? {
                if local.session_id == *own {
                    continue; // Note to Self lives in UserProfile
                }
                let id = local.session_id.to_bytes();
                let existing = Contacts::get(data, &id);
                if existing.is_none() && !is_config_contact(&local) {
                    continue; // someone with a pending request: not a contact yet
                }
                let mut c = existing.unwrap_or_else(|| ConfigContact {
                    session_id: id.to_vec(),
                    ..ConfigContact::default()
                });
                if let Some(name) = &local.profile_name {
                    c.name.clone_from(name);
                }
                if let Some(picture) = tx.contact_picture(&local.session_id)? {
                    c.avatar_url = Some(picture.url);
                    c.avatar_key = Some(picture.key);
                }
                c.nickname = local.nickname.clone();
                c.approved = local.approved;
                c.approved_me = local.approved_me;
                c.blocked = local.blocked;
                c.priority = tx.contact_priority(&local.session_id)?.unwrap_or(0);
                if c.created == 0 {
                    let created = tx.contact_created_ms(&local.session_id)?.unwrap_or(0);
                    c.created = created / 1000;
                }
                if let Some(conversation) = tx.conversation(&local.session_id)? {
                    let (mode, secs) = disappearing_columns(conversation.disappearing);
                    c.expiry_mode = mode;
                    c.expiry_seconds = secs;
                }
                Contacts::set(data, &c);
            }
        }
        ConfigKind::UserGroups => {
            // Joined communities enter the config (leaving removes one: `Communities::leave`).
            let listed = UserGroups::communities(data);
            for joined in crate::community::store::rooms(tx.conn())? {
                let link = joined.link;
                let room = link.room.to_lowercase();
                if listed
                    .iter()
                    .any(|c| c.base_url == link.base_url && c.room == room)
                {
                    continue;
                }
                UserGroups::set_community(
                    data,
                    &CommunityRoom {
                        base_url: link.base_url,
                        pubkey: link.server_pk.to_vec(),
                        room,
                        room_name: Some(link.room),
                        ..CommunityRoom::default()
                    },
                );
            }
            // Closed groups: joined ones enter it, removed and destroyed ones are marked.
            crate::groups::sync::record(tx, account, data)?;
        }
        ConfigKind::ConvoInfoVolatile => {
            for local in tx.local_conversations()? {
                let key = CivConversation::OneToOne(local.peer.to_bytes().to_vec());
                let existing = ConvoInfoVolatile::get(data, &key);
                // A conversation new to the config enters it (read up to its creation);
                // after that, read positions only move forward.
                let read = match existing {
                    Some(_) => ms_i64(local.last_read_ms.unwrap_or(0)),
                    None => ms_i64(local.last_read_ms.unwrap_or(0).max(local.created_ms)),
                };
                let state = existing.unwrap_or_default();
                if read > state.last_read_ms || local.marked_unread != state.unread {
                    ConvoInfoVolatile::set(
                        data,
                        &key,
                        ReadState {
                            last_read_ms: read.max(state.last_read_ms),
                            unread: local.marked_unread,
                        },
                    );
                }
            }
        }
        // Groups and communities are kept as they are (no local tables for them yet).
        _ => {}
    }
    Ok(())
}

/// Whether a local contact belongs in the Contacts config (not someone whose request is
/// pending).
fn is_config_contact(c: &crate::model::Contact) -> bool {
    c.approved || c.blocked || c.nickname.is_some()
}

/// Applies `kind`'s data to the local tables.
fn apply_to_local(
    tx: &Tx<'_>,
    account: &Account,
    kind: ConfigKind,
    data: &Dict,
    now_ms: u64,
) -> Result<(), DbError> {
    let own = &account.session_id();
    match kind {
        ConfigKind::UserProfile => {
            let profile = UserProfile::read(data);
            if profile.nts_priority != 0 || tx.contact_priority(own)?.is_some() {
                tx.ensure_contact(own, now_ms)?;
                tx.set_contact_priority(own, profile.nts_priority)?;
            }
            if let Some(conversation) = tx.conversation_id(own)? {
                tx.set_conversation_disappearing(
                    conversation,
                    disappearing_of(1, profile.nts_expiry_seconds),
                )?;
            }
            let mut settings = tx.settings()?;
            if settings.display_name != profile.name {
                settings.display_name = profile.name;
                settings.profile_updated_s = Some(now_ms / 1000);
                tx.set_settings(&settings)?;
            }
            // A picture set on another device: this one sends it in its profiles too (and
            // cannot re-upload it, having no local copy).
            if let (Some(url), Some(key)) = (profile.avatar_url, profile.avatar_key)
                && tx
                    .own_picture()?
                    .is_none_or(|own| own.url != url || own.key != key)
            {
                tx.set_own_picture(&crate::attachments::OwnPicture {
                    url,
                    key,
                    local_path: None,
                    uploaded_ms: now_ms,
                })?;
            }
        }
        ConfigKind::Contacts => {
            // Local contacts were recorded into the config before this merge, so one missing
            // from it was removed on another device.
            for local in tx.contacts()? {
                if local.session_id != *own
                    && is_config_contact(&local)
                    && Contacts::get(data, &local.session_id.to_bytes()).is_none()
                {
                    tx.remove_contact(&local.session_id)?;
                }
            }
            for c in Contacts::list(data) {
                let Ok(id) = SessionId::from_bytes(&c.session_id) else {
                    tracing::debug!("skipped a config contact that is not a Session ID");
                    continue;
                };
                if id == *own {
                    continue;
                }
                tx.ensure_contact(&id, now_ms)?;
                tx.set_contact_priority(&id, c.priority)?;
                tx.set_contact_flag(&id, ContactFlag::Approved, c.approved)?;
                tx.set_contact_flag(&id, ContactFlag::ApprovedMe, c.approved_me)?;
                tx.set_contact_flag(&id, ContactFlag::Blocked, c.blocked)?;
                tx.set_nickname(&id, c.nickname.as_deref())?;
                if !c.name.is_empty() {
                    tx.set_profile_name(&id, &c.name, None)?;
                }
                if let (Some(url), Some(key)) = (&c.avatar_url, &c.avatar_key) {
                    tx.set_contact_picture(&id, url, key)?;
                }
                if let Some(conversation) = tx.conversation_id(&id)? {
                    tx.set_conversation_disappearing(
                        conversation,
                        disappearing_of(c.expiry_mode, c.expiry_seconds),
                    )?;
                }
            }
        }
        ConfigKind::UserGroups => {
            // Communities joined on another device are joined here (the first poll fills
            // them in), and those left there are left here. Local joins were recorded into
            // the config before this merge, so a room missing from it was left elsewhere.
            let listed = UserGroups::communities(data);
            for joined in crate::community::store::rooms(tx.conn())? {
                let room = joined.link.room.to_lowercase();
                if !listed
                    .iter()
                    .any(|c| c.base_url == joined.link.base_url && c.room == room)
                {
                    crate::community::store::leave(tx.conn(), &joined.link)?;
                }
            }
            for c in listed {
                let Ok(server_pk) = <[u8; 32]>::try_from(c.pubkey.as_slice()) else {
                    tracing::debug!("skipped a config community without a 32-byte key");
                    continue;
                };
                let link = crate::community::JoinLink {
                    base_url: c.base_url,
                    room: c.room_name.unwrap_or(c.room),
                    server_pk,
                };
                if !crate::community::valid_token(&link.room) {
                    continue;
                }
                crate::community::store::join(tx.conn(), &link, None, ms_i64(now_ms))?;
            }
            // Closed groups joined on another device are added here (and polled from then
            // on); those left there are forgotten here.
            crate::groups::sync::apply(tx, account, data, now_ms)?;
        }
        ConfigKind::ConvoInfoVolatile => {
            let default = tx.settings()?.default_disappearing;
            // A new conversation takes the contact's setting from Contacts (applied before,
            // when the conversation did not exist here yet).
            let contacts = State::load(tx, ConfigKind::Contacts)?;
            let profile = State::load(tx, ConfigKind::UserProfile)?;
            let nts_timer = UserProfile::read(profile.current().data()).nts_expiry_seconds;
            for (conversation, state) in ConvoInfoVolatile::list(data) {
                let CivConversation::OneToOne(id) = conversation else {
                    continue; // groups and communities: not in the local tables yet
                };
                let Ok(peer) = SessionId::from_bytes(&id) else {
                    continue;
                };
                let initial = if peer == *own {
                    disappearing_of(1, nts_timer)
                } else {
                    Contacts::get(contacts.current().data(), &id).map_or(default, |c| {
                        disappearing_of(c.expiry_mode, c.expiry_seconds)
                    })
                };
                let conversation = tx.ensure_conversation(&peer, now_ms, initial)?;
                tx.set_marked_unread(conversation, state.unread)?;
                if let Ok(until) = u64::try_from(state.last_read_ms) {
                    tx.mark_read_until(conversation, until, now_ms)?;
                }
            }
        }
        _ => {}
    }
    Ok(())
}

/// Edits `kind`'s data in `tx`; the config becomes dirty if anything changed.
pub(crate) fn edit_in(
    tx: &Tx<'_>,
    kind: ConfigKind,
    edit: impl FnOnce(&mut Dict),
) -> Result<bool, DbError> {
    let mut state = State::load(tx, kind)?;
    let changed = state.edit(edit);
    if changed {
        state.save(tx, kind)?;
    }
    Ok(changed)
}

/// Writes the local state into `kind`'s config; whether it changed (then it is saved dirty).
fn record_local(tx: &Tx<'_>, account: &Account, kind: ConfigKind) -> Result<bool, DbError> {
    let mut state = State::load(tx, kind)?;
    let mut result = Ok(());
    let edited = state.edit(|data| result = write_local(tx, account, kind, data));
    result?;
    if edited {
        state.save(tx, kind)?;
    }
    Ok(edited)
}

impl Engine {
    /// Writes local changes (profile name, contacts, nicknames, approval, blocking,
    /// disappearing settings, read positions) into the configs; a config that changed is
    /// marked dirty (persisted) until [`Engine::record_config_push`]. Returns the configs
    /// that became dirty.
    pub fn record_local_changes(&mut self) -> Result<Vec<ConfigKind>, DbError> {
        let Self { account, db, .. } = self;
        db.write(|tx| {
            let mut changed = Vec::new();
            for kind in USER_CONFIGS {
                if record_local(tx, account, kind)? {
                    changed.push(kind);
                }
            }
            Ok(changed)
        })
    }

    /// Each user config's seqno and whether it is pushed.
    pub fn config_status(&self) -> Result<Vec<ConfigStatus>, DbError> {
        let tx = self.db.read();
        USER_CONFIGS
            .iter()
            .map(|kind| {
                let state = State::load(&tx, *kind)?;
                let current = state.current();
                Ok(ConfigStatus {
                    kind: *kind,
                    seqno: current.seqno(),
                    pushed_seqno: state.pushed_seqno,
                    pushed: state.to_push().is_none(),
                    hash: hex::encode(current.hash()),
                })
            })
            .collect()
    }

    /// The current data of a user config (with local edits).
    pub fn config_data(&self, kind: ConfigKind) -> Result<Dict, DbError> {
        Ok(State::load(&self.db.read(), kind)?.current().data().clone())
    }

    /// The groups v2 entries of UserGroups (kept intact; groups are not in the local tables).
    pub fn config_groups(&self) -> Result<Vec<GroupV2>, DbError> {
        Ok(UserGroups::groups(
            &self.config_data(ConfigKind::UserGroups)?,
        ))
    }

    /// The community rooms of UserGroups.
    pub fn config_communities(&self) -> Result<Vec<CommunityRoom>, DbError> {
        Ok(UserGroups::communities(
            &self.config_data(ConfigKind::UserGroups)?,
        ))
    }

    /// The legacy groups of UserGroups.
    pub fn config_legacy_groups(&self) -> Result<Vec<LegacyGroup>, DbError> {
        Ok(UserGroups::legacy_groups(
            &self.config_data(ConfigKind::UserGroups)?,
        ))
    }

    /// Edits a config's data directly (for what has no local table: groups and communities
    /// in UserGroups, say); the config becomes dirty if anything changed.
    pub fn edit_config(
        &mut self,
        kind: ConfigKind,
        edit: impl FnOnce(&mut Dict),
    ) -> Result<bool, DbError> {
        self.db.write(|tx| edit_in(tx, kind, edit))
    }

    /// The configs waiting to be pushed, sealed, with `timestamp_ms` as their message time.
    pub fn config_pushes(&self, timestamp_ms: u64) -> Result<Vec<ConfigPush>, ClientError> {
        let tx = self.db.read();
        let mut out = Vec::new();
        for kind in USER_CONFIGS {
            let state = State::load(&tx, kind)?;
            if let Some(message) = state.to_push() {
                out.push(ConfigPush {
                    kind,
                    data: seal_config(&self.account, kind, message)?,
                    message: message.clone(),
                    timestamp_ms,
                });
            }
        }
        Ok(out)
    }

    /// Records that the swarm stored `push`: it becomes the base; local edits made since it
    /// was prepared move on top of it (the next seqno); older swarm copies of the config are
    /// queued for deletion.
    pub fn record_config_push(&mut self, push: &ConfigPush) -> Result<(), DbError> {
        let own = AccountId::from(self.account.session_id());
        self.db.write(|tx| {
            let kind = push.kind;
            let mut state = State::load(tx, kind)?;
            let edits_since = state
                .pending
                .as_ref()
                .filter(|p| p.hash() != push.message.hash())
                .map(|p| p.data().clone());
            if state.base.seqno() > push.message.seqno() {
                // A merge overtook this push: it is only one more copy to supersede later.
                return tx.add_config_hash(kind.namespace(), &push.hash(&own), push.expiry_ms());
            }
            state.base = push.message.clone();
            state.base_pushed = true;
            state.pushed_seqno = push.message.seqno();
            state.pending = None;
            if let Some(data) = edits_since {
                state.edit(|d| *d = data);
            }
            state.save(tx, kind)?;
            let hash = push.hash(&own);
            tx.add_config_hash(kind.namespace(), &hash, push.expiry_ms())?;
            tx.supersede_config_hashes(kind.namespace(), &hash)?;
            Ok(())
        })
    }

    /// The poll positions of a config namespace, by node.
    pub fn config_poll_positions(
        &self,
        kind: ConfigKind,
    ) -> Result<std::collections::HashMap<sotto_crypto::Ed25519PublicKey, MessageHash>, DbError>
    {
        let account = AccountId::from(self.session_id());
        self.db.read().poll_positions(&account, namespace(kind))
    }

    /// The signed `retrieve` of a config namespace after `last_hash`.
    #[must_use]
    pub fn config_retrieve_request(
        &self,
        kind: ConfigKind,
        last_hash: Option<MessageHash>,
        now_ms: u64,
    ) -> sotto_rpc::request::Retrieve {
        let mut retrieve =
            sotto_rpc::request::Retrieve::new(AccountId::from(self.session_id()), namespace(kind));
        retrieve.last_hash = last_hash;
        retrieve.signed(&Signer::session(self.account.ed25519_secret()), now_ms)
    }

    /// Merges the config messages of `kind` that a retrieve from `node` returned with this
    /// device's (local edits included) and applies the result to the local tables, in one
    /// transaction with the node's new poll position. Messages that are malformed, not this
    /// account's, or replays of an older seqno become [`Event::Skipped`] with a
    /// [`SkipReason::Config`] and change nothing.
    pub fn receive_configs(
        &mut self,
        kind: ConfigKind,
        node: &sotto_crypto::Ed25519PublicKey,
        messages: &[RetrievedMessage],
        now_ms: u64,
    ) -> Result<Vec<Event>, DbError> {
        let Self { account, db, .. } = self;
        let own_id = account.session_id();
        let own = AccountId::from(own_id);
        let ns = namespace(kind);
        db.write(|tx| {
            let mut events = Vec::new();
            // Local changes made since the last sync join the merge (in this transaction,
            // so none is overwritten by what is applied below).
            record_local(tx, account, kind)?;
            let mut state = State::load(tx, kind)?;
            let current = state.current().clone();
            let mut incoming: Vec<ConfigMessage> = Vec::new();
            for m in messages {
                let hash = MessageHash::compute(&own, ns, &m.data);
                if hash != m.hash {
                    events.push(Event::Skipped {
                        hash: m.hash,
                        reason: SkipReason::HashMismatch { claimed: m.hash },
                    });
                    continue;
                }
                let expires = m.expiration.max(now_ms).min(MAX_TIME);
                if !tx.mark_seen(&hash, expires)? {
                    continue;
                }
                let message = match open_config(account, kind, &m.data) {
                    Ok(message) => message,
                    Err(reason) => {
                        tracing::warn!(%reason, "rejected a config message");
                        events.push(Event::Skipped {
                            hash,
                            reason: reason.into(),
                        });
                        continue;
                    }
                };
                tx.add_config_hash(kind.namespace(), &hash, expires)?;
                if message.hash() == current.hash() || message.hash() == state.base.hash() {
                    continue; // this device's own
                }
                let older = message.seqno() < current.seqno();
                let merged_past = message.seqno().saturating_add(DEFAULT_LAG) <= current.seqno()
                    || current.lagged_diffs().contains_key(&message.seqno_hash())
                    || state
                        .base
                        .lagged_diffs()
                        .contains_key(&message.seqno_hash());
                if older && merged_past {
                    let reason = ConfigRejection::Stale {
                        seqno: message.seqno(),
                        current: current.seqno(),
                    };
                    tracing::warn!(%reason, "rejected a config message");
                    events.push(Event::Skipped {
                        hash,
                        reason: reason.into(),
                    });
                    continue;
                }
                incoming.push(message);
            }
            if let Some(last) = messages.last() {
                tx.set_poll_position(&own, ns, node, &last.hash, now_ms)?;
            }
            if incoming.is_empty() {
                return Ok(events);
            }
            let inputs: Vec<&[u8]> = core::iter::once(current.serialized())
                .chain(incoming.iter().map(ConfigMessage::serialized))
                .collect();
            let merged = ConfigMessage::merge(&inputs, None, None)
                .map_err(|_| DbError::Corrupt("config message"))?;
            match merged.adopted {
                Some(0) => return Ok(events),
                Some(_) => {
                    state.base = merged.message;
                    state.base_pushed = true;
                    state.pushed_seqno = state.base.seqno();
                    state.pending = None;
                }
                None => {
                    state.base = merged.message;
                    state.base_pushed = false;
                    state.pending = None;
                }
            }
            state.save(tx, kind)?;
            apply_to_local(tx, account, kind, state.current().data(), now_ms)?;
            events.push(Event::ConfigMerged {
                kind,
                seqno: state.current().seqno(),
            });
            Ok(events)
        })
    }
}
