//! Typed views of the four user configs (spec §3.8): UserProfile, Contacts, ConvoInfoVolatile
//! and UserGroups; and of a closed group's Info and Members configs (spec §2.6).
//!
//! Each record is read from a data tree and written back into it key by key: a write touches
//! only the keys this code knows, so keys added by newer clients (in the same dictionaries or
//! elsewhere) survive a read–modify–write. Defaults are stored as libsession stores them: zero
//! integers, false flags and empty strings are left out (except a contact's name, always kept so
//! the entry exists).

use crate::data::{DataValue, Dict, Scalar, Set};
use crate::edit;

fn int(d: &Dict, key: &[u8]) -> i64 {
    d.get(key).and_then(DataValue::as_int).unwrap_or(0)
}

fn bytes(d: &Dict, key: &[u8]) -> Option<Vec<u8>> {
    d.get(key).and_then(DataValue::as_bytes).map(<[u8]>::to_vec)
}

fn text(d: &Dict, key: &[u8]) -> Option<String> {
    bytes(d, key).map(|b| String::from_utf8_lossy(&b).into_owned())
}

fn flag(d: &Dict, key: &[u8]) -> bool {
    int(d, key) != 0
}

fn put_int(d: &mut Dict, key: &[u8], value: i64) {
    if value == 0 {
        d.remove(key);
    } else {
        d.insert(key.to_vec(), DataValue::Scalar(Scalar::Int(value)));
    }
}

fn put_flag(d: &mut Dict, key: &[u8], value: bool) {
    put_int(d, key, i64::from(value));
}

fn put_bytes(d: &mut Dict, key: &[u8], value: Option<&[u8]>) {
    match value {
        Some(v) if !v.is_empty() => {
            d.insert(key.to_vec(), DataValue::Scalar(Scalar::Bytes(v.to_vec())));
        }
        _ => {
            d.remove(key);
        }
    }
}

fn put_set(d: &mut Dict, key: &[u8], value: &Set) {
    if value.is_empty() {
        d.remove(key);
    } else {
        d.insert(key.to_vec(), DataValue::Set(value.clone()));
    }
}

/// The dictionary at `path`, if there is one.
fn dict_at<'a>(data: &'a Dict, path: &[&[u8]]) -> Option<&'a Dict> {
    if path.is_empty() {
        return Some(data);
    }
    edit::get(data, path).and_then(DataValue::as_dict)
}

/// The dictionary at `path`, created (replacing a scalar or set in the way) if needed. Always
/// `Some`; an `Option` only so that no code path can panic.
fn dict_at_mut<'a>(data: &'a mut Dict, path: &[&[u8]]) -> Option<&'a mut Dict> {
    let Some((first, rest)) = path.split_first() else {
        return Some(data);
    };
    let slot = data
        .entry(first.to_vec())
        .or_insert_with(|| DataValue::Dict(Dict::new()));
    if !matches!(slot, DataValue::Dict(_)) {
        *slot = DataValue::Dict(Dict::new());
    }
    match slot {
        DataValue::Dict(d) => dict_at_mut(d, rest),
        _ => None,
    }
}

/// Entries of the dictionary at `path` whose value is a dictionary.
fn entries<'a>(data: &'a Dict, path: &[&[u8]]) -> impl Iterator<Item = (&'a [u8], &'a Dict)> {
    dict_at(data, path)
        .into_iter()
        .flat_map(|d| d.iter())
        .filter_map(|(k, v)| v.as_dict().map(|d| (k.as_slice(), d)))
}

// ---------------------------------------------------------------------------------------------

/// UserProfile (namespace 2): the user's own name and picture and Note-to-Self settings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserProfile {
    /// `n`: display name.
    pub name: Option<String>,
    /// `p`: profile picture URL.
    pub avatar_url: Option<String>,
    /// `q`: profile picture key.
    pub avatar_key: Option<Vec<u8>>,
    /// `+`: Note-to-Self priority (−1 hidden, 0 normal, > 0 pinned).
    pub nts_priority: i64,
    /// `e`: Note-to-Self disappearing timer, seconds (0: off).
    pub nts_expiry_seconds: i64,
    /// `M`: blinded message requests (`None`: the client's default).
    pub blinded_msgreqs: Option<bool>,
}

impl UserProfile {
    /// Reads the profile from a UserProfile data tree.
    #[must_use]
    pub fn read(data: &Dict) -> Self {
        Self {
            name: text(data, b"n"),
            avatar_url: text(data, b"p"),
            avatar_key: bytes(data, b"q"),
            nts_priority: int(data, b"+"),
            nts_expiry_seconds: int(data, b"e"),
            blinded_msgreqs: data
                .get(b"M".as_slice())
                .and_then(DataValue::as_int)
                .map(|v| v != 0),
        }
    }

    /// Writes the profile's keys into a UserProfile data tree.
    pub fn write(&self, data: &mut Dict) {
        put_bytes(data, b"n", self.name.as_deref().map(str::as_bytes));
        put_bytes(data, b"p", self.avatar_url.as_deref().map(str::as_bytes));
        put_bytes(data, b"q", self.avatar_key.as_deref());
        put_int(data, b"+", self.nts_priority);
        put_int(data, b"e", self.nts_expiry_seconds);
        match self.blinded_msgreqs {
            Some(on) => {
                data.insert(b"M".to_vec(), DataValue::Scalar(Scalar::Int(i64::from(on))));
            }
            None => {
                data.remove(b"M".as_slice());
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------

/// One contact of the Contacts config (namespace 3): `c` → {33-byte Session ID → {…}}.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Contact {
    /// The contact's Session ID (33 bytes, `05…`).
    pub session_id: Vec<u8>,
    /// `n`: the name they gave themselves (always written).
    pub name: String,
    /// `N`: the nickname the user gave them.
    pub nickname: Option<String>,
    /// `p`: profile picture URL.
    pub avatar_url: Option<String>,
    /// `q`: profile picture key.
    pub avatar_key: Option<Vec<u8>>,
    /// `a`: the user approved them.
    pub approved: bool,
    /// `A`: they approved the user.
    pub approved_me: bool,
    /// `b`: blocked.
    pub blocked: bool,
    /// `@`: notification mode.
    pub notify: i64,
    /// `!`: muted until (Unix seconds).
    pub mute_until: i64,
    /// `+`: priority (−1 hidden, 0 normal, > 0 pinned).
    pub priority: i64,
    /// `e`: disappearing mode (1 after send, 2 after read).
    pub expiry_mode: i64,
    /// `E`: disappearing timer, seconds.
    pub expiry_seconds: i64,
    /// `j`: when the contact was created (Unix seconds).
    pub created: i64,
}

/// The Contacts config's records.
pub struct Contacts;

impl Contacts {
    fn read_one(id: &[u8], d: &Dict) -> Contact {
        Contact {
            session_id: id.to_vec(),
            name: text(d, b"n").unwrap_or_default(),
            nickname: text(d, b"N"),
            avatar_url: text(d, b"p"),
            avatar_key: bytes(d, b"q"),
            approved: flag(d, b"a"),
            approved_me: flag(d, b"A"),
            blocked: flag(d, b"b"),
            notify: int(d, b"@"),
            mute_until: int(d, b"!"),
            priority: int(d, b"+"),
            expiry_mode: int(d, b"e"),
            expiry_seconds: int(d, b"E"),
            created: int(d, b"j"),
        }
    }

    /// Every contact, in Session ID order.
    #[must_use]
    pub fn list(data: &Dict) -> Vec<Contact> {
        entries(data, &[b"c"])
            .map(|(id, d)| Self::read_one(id, d))
            .collect()
    }

    /// One contact, if present.
    #[must_use]
    pub fn get(data: &Dict, session_id: &[u8]) -> Option<Contact> {
        dict_at(data, &[b"c", session_id]).map(|d| Self::read_one(session_id, d))
    }

    /// Writes a contact's keys (creating it if needed).
    pub fn set(data: &mut Dict, contact: &Contact) {
        let Some(d) = dict_at_mut(data, &[b"c", &contact.session_id]) else {
            return;
        };
        d.insert(
            b"n".to_vec(),
            DataValue::Scalar(Scalar::Bytes(contact.name.as_bytes().to_vec())),
        );
        put_bytes(d, b"N", contact.nickname.as_deref().map(str::as_bytes));
        put_bytes(d, b"p", contact.avatar_url.as_deref().map(str::as_bytes));
        put_bytes(d, b"q", contact.avatar_key.as_deref());
        put_flag(d, b"a", contact.approved);
        put_flag(d, b"A", contact.approved_me);
        put_flag(d, b"b", contact.blocked);
        put_int(d, b"@", contact.notify);
        put_int(d, b"!", contact.mute_until);
        put_int(d, b"+", contact.priority);
        put_int(d, b"e", contact.expiry_mode);
        put_int(d, b"E", contact.expiry_seconds);
        put_int(d, b"j", contact.created);
    }

    /// Removes a contact.
    pub fn erase(data: &mut Dict, session_id: &[u8]) {
        edit::erase(data, &[b"c", session_id]);
    }
}

// ---------------------------------------------------------------------------------------------

/// A conversation's read state in ConvoInfoVolatile (namespace 4).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReadState {
    /// `r`: the last read message's timestamp, ms.
    pub last_read_ms: i64,
    /// `u`: marked unread.
    pub unread: bool,
}

/// Which conversation a [`ReadState`] belongs to.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Conversation {
    /// `1`: a 1:1 conversation (33-byte Session ID).
    OneToOne(Vec<u8>),
    /// `g`: a groups v2 group (33-byte `03…` ID).
    Group(Vec<u8>),
    /// `C`: a legacy group (33-byte `05…` ID).
    LegacyGroup(Vec<u8>),
    /// `o`: a community room.
    Community {
        /// Base URL of the server.
        base_url: String,
        /// The server's X25519 key (`#`).
        pubkey: Vec<u8>,
        /// The room token, lower-case.
        room: String,
    },
}

/// The ConvoInfoVolatile config's records.
pub struct ConvoInfoVolatile;

impl ConvoInfoVolatile {
    fn path(c: &Conversation) -> Vec<&[u8]> {
        match c {
            Conversation::OneToOne(id) => vec![b"1", id],
            Conversation::Group(id) => vec![b"g", id],
            Conversation::LegacyGroup(id) => vec![b"C", id],
            Conversation::Community { base_url, room, .. } => {
                vec![b"o", base_url.as_bytes(), b"R", room.as_bytes()]
            }
        }
    }

    fn read_state(d: &Dict) -> ReadState {
        ReadState {
            last_read_ms: int(d, b"r"),
            unread: flag(d, b"u"),
        }
    }

    /// The read state of one conversation, if recorded.
    #[must_use]
    pub fn get(data: &Dict, conversation: &Conversation) -> Option<ReadState> {
        dict_at(data, &Self::path(conversation)).map(Self::read_state)
    }

    /// Every recorded conversation and its read state.
    #[must_use]
    pub fn list(data: &Dict) -> Vec<(Conversation, ReadState)> {
        let mut out = Vec::new();
        for (key, make) in [
            (
                &b"1"[..],
                Conversation::OneToOne as fn(Vec<u8>) -> Conversation,
            ),
            (b"g", Conversation::Group),
            (b"C", Conversation::LegacyGroup),
        ] {
            out.extend(
                entries(data, &[key]).map(|(id, d)| (make(id.to_vec()), Self::read_state(d))),
            );
        }
        for (url, server) in entries(data, &[b"o"]) {
            let pubkey = bytes(server, b"#").unwrap_or_default();
            for (room, d) in entries(server, &[b"R"]) {
                out.push((
                    Conversation::Community {
                        base_url: String::from_utf8_lossy(url).into_owned(),
                        pubkey: pubkey.clone(),
                        room: String::from_utf8_lossy(room).into_owned(),
                    },
                    Self::read_state(d),
                ));
            }
        }
        out
    }

    /// Records a conversation's read state. (An entry with no read time and no unread flag is
    /// pruned when the message is finished.)
    pub fn set(data: &mut Dict, conversation: &Conversation, state: ReadState) {
        if let Conversation::Community {
            base_url, pubkey, ..
        } = conversation
            && let Some(server) = dict_at_mut(data, &[b"o", base_url.as_bytes()])
        {
            put_bytes(server, b"#", Some(pubkey));
        }
        let Some(d) = dict_at_mut(data, &Self::path(conversation)) else {
            return;
        };
        put_int(d, b"r", state.last_read_ms);
        put_flag(d, b"u", state.unread);
    }

    /// Forgets a conversation.
    pub fn erase(data: &mut Dict, conversation: &Conversation) {
        edit::erase(data, &Self::path(conversation));
    }
}

// ---------------------------------------------------------------------------------------------

/// Keys every UserGroups entry has.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GroupCommon {
    /// `@`: notifications (1 all, 2 disabled, 3 mentions only).
    pub notify: i64,
    /// `!`: muted until (Unix seconds).
    pub mute_until: i64,
    /// `+`: priority (−1 hidden, 0 normal, > 0 pinned).
    pub priority: i64,
    /// `i`: invitation pending.
    pub invited: bool,
    /// `j`: joined at (Unix seconds).
    pub joined_at: i64,
}

impl GroupCommon {
    fn read(d: &Dict) -> Self {
        Self {
            notify: int(d, b"@"),
            mute_until: int(d, b"!"),
            priority: int(d, b"+"),
            invited: flag(d, b"i"),
            joined_at: int(d, b"j"),
        }
    }

    fn write(&self, d: &mut Dict) {
        put_int(d, b"@", self.notify);
        put_int(d, b"!", self.mute_until);
        put_int(d, b"+", self.priority);
        put_flag(d, b"i", self.invited);
        put_int(d, b"j", self.joined_at);
    }
}

/// A groups v2 group in UserGroups: `g` → {32-byte group key (no `03`) → {…}}.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GroupV2 {
    /// The group's Ed25519 public key (32 bytes, without the `03` prefix).
    pub pubkey: Vec<u8>,
    /// `n`: name.
    pub name: Option<String>,
    /// `K`: the group's secret key (admins only; empty otherwise).
    pub secret_key: Option<Vec<u8>>,
    /// `s`: subaccount authentication data (non-admins).
    pub auth_data: Option<Vec<u8>>,
    /// `r`: removed status.
    pub removed_status: i64,
    /// Common keys.
    pub common: GroupCommon,
}

/// A community room in UserGroups: `o` → {base URL → {`#` key, `R` → {room → {…}}}}.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CommunityRoom {
    /// Base URL of the server.
    pub base_url: String,
    /// The server's X25519 key (`#`).
    pub pubkey: Vec<u8>,
    /// The room token, lower-case (the key).
    pub room: String,
    /// `n`: the room token as written, with its case.
    pub room_name: Option<String>,
    /// Common keys.
    pub common: GroupCommon,
}

/// A legacy closed group in UserGroups: `C` → {33-byte `05…` ID → {…}}.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LegacyGroup {
    /// The group's ID (33 bytes).
    pub id: Vec<u8>,
    /// `n`: name.
    pub name: Option<String>,
    /// `k`: encryption public key.
    pub enc_pubkey: Option<Vec<u8>>,
    /// `K`: encryption secret key.
    pub enc_seckey: Option<Vec<u8>>,
    /// `m`: members (Session IDs) who are not admins.
    pub members: Set,
    /// `a`: admins.
    pub admins: Set,
    /// `E`: disappearing timer, seconds.
    pub expiry_seconds: i64,
    /// Common keys.
    pub common: GroupCommon,
}

/// The UserGroups config's records.
pub struct UserGroups;

impl UserGroups {
    /// Every groups v2 group.
    #[must_use]
    pub fn groups(data: &Dict) -> Vec<GroupV2> {
        entries(data, &[b"g"])
            .map(|(pk, d)| GroupV2 {
                pubkey: pk.to_vec(),
                name: text(d, b"n"),
                secret_key: bytes(d, b"K"),
                auth_data: bytes(d, b"s"),
                removed_status: int(d, b"r"),
                common: GroupCommon::read(d),
            })
            .collect()
    }

    /// Writes a groups v2 group's keys.
    pub fn set_group(data: &mut Dict, group: &GroupV2) {
        let Some(d) = dict_at_mut(data, &[b"g", &group.pubkey]) else {
            return;
        };
        put_bytes(d, b"n", group.name.as_deref().map(str::as_bytes));
        put_bytes(d, b"K", group.secret_key.as_deref());
        put_bytes(d, b"s", group.auth_data.as_deref());
        put_int(d, b"r", group.removed_status);
        group.common.write(d);
    }

    /// Every community room.
    #[must_use]
    pub fn communities(data: &Dict) -> Vec<CommunityRoom> {
        let mut out = Vec::new();
        for (url, server) in entries(data, &[b"o"]) {
            let pubkey = bytes(server, b"#").unwrap_or_default();
            for (room, d) in entries(server, &[b"R"]) {
                out.push(CommunityRoom {
                    base_url: String::from_utf8_lossy(url).into_owned(),
                    pubkey: pubkey.clone(),
                    room: String::from_utf8_lossy(room).into_owned(),
                    room_name: text(d, b"n"),
                    common: GroupCommon::read(d),
                });
            }
        }
        out
    }

    /// Writes a community room's keys (the room key is lower-cased).
    pub fn set_community(data: &mut Dict, room: &CommunityRoom) {
        if let Some(server) = dict_at_mut(data, &[b"o", room.base_url.as_bytes()]) {
            put_bytes(server, b"#", Some(&room.pubkey));
        }
        let key = room.room.to_lowercase();
        let Some(d) = dict_at_mut(
            data,
            &[b"o", room.base_url.as_bytes(), b"R", key.as_bytes()],
        ) else {
            return;
        };
        let name = room.room_name.clone().unwrap_or_else(|| room.room.clone());
        put_bytes(d, b"n", Some(name.as_bytes()));
        room.common.write(d);
    }

    /// Removes a community room (`room` in any case); whether it was there. A server left
    /// with no room goes too.
    pub fn remove_community(data: &mut Dict, base_url: &str, room: &str) -> bool {
        let key = room.to_lowercase();
        let rooms_path: [&[u8]; 3] = [b"o", base_url.as_bytes(), b"R"];
        if dict_at(data, &rooms_path).is_none_or(|rooms| !rooms.contains_key(key.as_bytes())) {
            return false;
        }
        let Some(rooms) = dict_at_mut(data, &rooms_path) else {
            return false;
        };
        rooms.remove(key.as_bytes());
        let empty = rooms.is_empty();
        if empty && let Some(servers) = dict_at_mut(data, &[b"o"]) {
            servers.remove(base_url.as_bytes());
        }
        true
    }

    /// Every legacy group.
    #[must_use]
    pub fn legacy_groups(data: &Dict) -> Vec<LegacyGroup> {
        entries(data, &[b"C"])
            .map(|(id, d)| LegacyGroup {
                id: id.to_vec(),
                name: text(d, b"n"),
                enc_pubkey: bytes(d, b"k"),
                enc_seckey: bytes(d, b"K"),
                members: d
                    .get(b"m".as_slice())
                    .and_then(DataValue::as_set)
                    .cloned()
                    .unwrap_or_default(),
                admins: d
                    .get(b"a".as_slice())
                    .and_then(DataValue::as_set)
                    .cloned()
                    .unwrap_or_default(),
                expiry_seconds: int(d, b"E"),
                common: GroupCommon::read(d),
            })
            .collect()
    }

    /// Writes a legacy group's keys.
    pub fn set_legacy_group(data: &mut Dict, group: &LegacyGroup) {
        let Some(d) = dict_at_mut(data, &[b"C", &group.id]) else {
            return;
        };
        put_bytes(d, b"n", group.name.as_deref().map(str::as_bytes));
        put_bytes(d, b"k", group.enc_pubkey.as_deref());
        put_bytes(d, b"K", group.enc_seckey.as_deref());
        put_set(d, b"m", &group.members);
        put_set(d, b"a", &group.admins);
        put_int(d, b"E", group.expiry_seconds);
        group.common.write(d);
    }

    /// Removes a groups v2 group (`g`), legacy group (`C`) or community server (`o`) entry.
    pub fn erase(data: &mut Dict, section: &[u8], key: &[u8]) {
        edit::erase(data, &[section, key]);
    }
}

/// A closed group's Info config (groups v2, namespace 13; spec §2.6). Signed by the group key.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GroupInfo {
    /// `!`: the group has been destroyed.
    pub destroyed: bool,
    /// `c`: creation time (Unix seconds).
    pub created: i64,
    /// `d`: clients delete every message sent before this time (Unix seconds; 0: none).
    pub delete_before: i64,
    /// `D`: clients delete every attachment sent before this time (Unix seconds; 0: none).
    pub delete_attachments_before: i64,
    /// `E`: disappearing-messages timer after send, seconds (0: off).
    pub expiry_seconds: i64,
    /// `n`: the group's name.
    pub name: Option<String>,
    /// `o`: the group's description.
    pub description: Option<String>,
    /// `p`: profile picture URL.
    pub avatar_url: Option<String>,
    /// `q`: profile picture key.
    pub avatar_key: Option<Vec<u8>>,
}

impl GroupInfo {
    /// Reads the Info keys from a group Info data tree.
    #[must_use]
    pub fn read(data: &Dict) -> Self {
        Self {
            destroyed: flag(data, b"!"),
            created: int(data, b"c"),
            delete_before: int(data, b"d"),
            delete_attachments_before: int(data, b"D"),
            expiry_seconds: int(data, b"E"),
            name: text(data, b"n"),
            description: text(data, b"o"),
            avatar_url: text(data, b"p"),
            avatar_key: bytes(data, b"q"),
        }
    }

    /// Writes the Info keys into a group Info data tree.
    pub fn write(&self, data: &mut Dict) {
        put_flag(data, b"!", self.destroyed);
        put_int(data, b"c", self.created);
        put_int(data, b"d", self.delete_before);
        put_int(data, b"D", self.delete_attachments_before);
        put_int(data, b"E", self.expiry_seconds);
        put_bytes(data, b"n", self.name.as_deref().map(str::as_bytes));
        put_bytes(data, b"o", self.description.as_deref().map(str::as_bytes));
        put_bytes(data, b"p", self.avatar_url.as_deref().map(str::as_bytes));
        put_bytes(data, b"q", self.avatar_key.as_deref());
    }
}

/// One member of a closed group's Members config (groups v2, namespace 14; spec §2.6):
/// `m` → {33-byte Session ID → {…}}.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GroupMember {
    /// The member's Session ID (33 bytes, `05…`).
    pub session_id: Vec<u8>,
    /// `n`: display name (always written, so the entry never prunes away).
    pub name: String,
    /// `p`: profile picture URL.
    pub avatar_url: Option<String>,
    /// `q`: profile picture key.
    pub avatar_key: Option<Vec<u8>>,
    /// `A`: shown as an admin (informative: admin power is holding the group seed).
    pub admin: bool,
    /// `I`: invite status (1 sent, 2 failed, 3 not sent yet); `None` once accepted.
    pub invite_status: Option<i64>,
    /// `s`: the invite shares the existing keys (a supplement).
    pub supplement: bool,
    /// `P`: promotion status (1 sent, 2 failed, 3 not sent); `None` once accepted.
    pub promotion_status: Option<i64>,
    /// `R`: removal pending (1 remove the member, 2 also their messages; 0: none).
    pub removed: i64,
}

/// The Members config's records.
#[derive(Debug, Clone, Copy)]
pub struct GroupMembers;

impl GroupMembers {
    fn read_one(id: &[u8], d: &Dict) -> GroupMember {
        let status = |key: &[u8]| d.get(key).and_then(DataValue::as_int).filter(|v| *v != 0);
        GroupMember {
            session_id: id.to_vec(),
            name: text(d, b"n").unwrap_or_default(),
            avatar_url: text(d, b"p"),
            avatar_key: bytes(d, b"q"),
            admin: flag(d, b"A"),
            invite_status: status(b"I"),
            supplement: flag(d, b"s"),
            promotion_status: status(b"P"),
            removed: int(d, b"R"),
        }
    }

    /// Every member, in Session ID order.
    #[must_use]
    pub fn list(data: &Dict) -> Vec<GroupMember> {
        entries(data, &[b"m"])
            .map(|(id, d)| Self::read_one(id, d))
            .collect()
    }

    /// One member, if present.
    #[must_use]
    pub fn get(data: &Dict, session_id: &[u8]) -> Option<GroupMember> {
        dict_at(data, &[b"m", session_id]).map(|d| Self::read_one(session_id, d))
    }

    /// Writes a member's keys (creating the entry if needed).
    pub fn set(data: &mut Dict, member: &GroupMember) {
        let Some(d) = dict_at_mut(data, &[b"m", &member.session_id]) else {
            return;
        };
        d.insert(
            b"n".to_vec(),
            DataValue::Scalar(Scalar::Bytes(member.name.as_bytes().to_vec())),
        );
        put_bytes(d, b"p", member.avatar_url.as_deref().map(str::as_bytes));
        put_bytes(d, b"q", member.avatar_key.as_deref());
        put_flag(d, b"A", member.admin);
        put_int(d, b"I", member.invite_status.unwrap_or(0));
        put_flag(d, b"s", member.supplement);
        put_int(d, b"P", member.promotion_status.unwrap_or(0));
        put_int(d, b"R", member.removed);
    }

    /// Removes a member.
    pub fn erase(data: &mut Dict, session_id: &[u8]) {
        edit::erase(data, &[b"m", session_id]);
    }
}

// ---------------------------------------------------------------------------------------------

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ConfigMessage;

    fn sid(b: u8) -> Vec<u8> {
        let mut v = vec![0x05];
        v.extend([b; 32]);
        v
    }

    #[test]
    fn profile_round_trip() {
        let p = UserProfile {
            name: Some("Kallie".into()),
            avatar_url: Some("http://example.org/omg-pic-123.bmp".into()),
            avatar_key: Some(b"secret78901234567890123456789012".to_vec()),
            nts_priority: 9,
            nts_expiry_seconds: 0,
            blinded_msgreqs: Some(false),
        };
        let mut next = ConfigMessage::empty().increment();
        p.write(next.data_mut());
        let msg = next.finish(None);
        assert_eq!(UserProfile::read(msg.data()), p);
        // Clearing a value erases its key.
        let mut next = msg.increment();
        UserProfile {
            name: None,
            ..p.clone()
        }
        .write(next.data_mut());
        assert!(!next.finish(None).data().contains_key(b"n".as_slice()));
    }

    #[test]
    fn unknown_keys_survive_read_modify_write() {
        let mut first = ConfigMessage::empty().increment();
        let alice = Contact {
            session_id: sid(1),
            name: "Alice".into(),
            approved: true,
            created: 1_700_000_000,
            ..Contact::default()
        };
        Contacts::set(first.data_mut(), &alice);
        // Keys a newer client wrote: inside the contact, beside `c`, and at the top level.
        edit::set_scalar(first.data_mut(), &[b"c", &sid(1), b"Z"], "future".into()).unwrap();
        edit::set_add(first.data_mut(), &[b"c", &sid(1), b"~"], 7.into()).unwrap();
        edit::set_scalar(first.data_mut(), &[b"X"], 42.into()).unwrap();
        let stored = first.finish(None);

        // Another device reads it, changes the nickname and blocks, writes it back.
        let loaded = ConfigMessage::parse(stored.serialized(), None).unwrap();
        let mut next = loaded.increment();
        let mut c = Contacts::get(next.data(), &sid(1)).unwrap();
        assert_eq!(c, alice);
        c.nickname = Some("Al".into());
        c.blocked = true;
        Contacts::set(next.data_mut(), &c);
        let written = next.finish(None);
        let again = ConfigMessage::parse(written.serialized(), None).unwrap();

        assert_eq!(Contacts::list(again.data()), vec![c]);
        assert_eq!(
            edit::get(again.data(), &[b"c", &sid(1), b"Z"]),
            Some(&DataValue::Scalar("future".into()))
        );
        assert!(edit::get(again.data(), &[b"c", &sid(1), b"~"]).is_some());
        assert_eq!(
            again.data().get(b"X".as_slice()),
            Some(&DataValue::Scalar(42.into()))
        );
        // Only the two changed keys are in the diff.
        assert_eq!(
            crate::data::diff_to_value(again.diff()),
            sotto_bencode::decode(&[&b"d1:cd33:"[..], &sid(1), b"d1:N0:1:b0:eee"].concat())
                .unwrap()
        );
    }

    #[test]
    fn conversations_and_groups() {
        let mut d = Dict::new();
        let community = Conversation::Community {
            base_url: "https://open.example".into(),
            pubkey: vec![9; 32],
            room: "lobby".into(),
        };
        let mut group_id = vec![0x03];
        group_id.extend([2u8; 32]);
        ConvoInfoVolatile::set(
            &mut d,
            &Conversation::OneToOne(sid(3)),
            ReadState {
                last_read_ms: 1_700_000_000_123,
                unread: false,
            },
        );
        ConvoInfoVolatile::set(
            &mut d,
            &Conversation::Group(group_id.clone()),
            ReadState {
                last_read_ms: 5,
                unread: true,
            },
        );
        ConvoInfoVolatile::set(
            &mut d,
            &community,
            ReadState {
                last_read_ms: 7,
                unread: false,
            },
        );
        ConvoInfoVolatile::set(
            &mut d,
            &Conversation::LegacyGroup(sid(4)),
            ReadState {
                last_read_ms: 8,
                unread: false,
            },
        );
        let all = ConvoInfoVolatile::list(&d);
        assert_eq!(all.len(), 4);
        assert!(all.contains(&(
            community.clone(),
            ReadState {
                last_read_ms: 7,
                unread: false
            }
        )));
        assert_eq!(
            ConvoInfoVolatile::get(&d, &Conversation::Group(group_id)),
            Some(ReadState {
                last_read_ms: 5,
                unread: true
            })
        );
        ConvoInfoVolatile::erase(&mut d, &community);
        assert_eq!(ConvoInfoVolatile::list(&d).len(), 3);

        let mut u = Dict::new();
        let g = GroupV2 {
            pubkey: vec![2; 32],
            name: Some("Team".into()),
            secret_key: Some(vec![1; 64]),
            auth_data: None,
            removed_status: 0,
            common: GroupCommon {
                priority: 1,
                joined_at: 99,
                ..GroupCommon::default()
            },
        };
        UserGroups::set_group(&mut u, &g);
        let room = CommunityRoom {
            base_url: "https://open.example".into(),
            pubkey: vec![9; 32],
            room: "Lobby".into(),
            room_name: None,
            common: GroupCommon {
                notify: 3,
                ..GroupCommon::default()
            },
        };
        UserGroups::set_community(&mut u, &room);
        let legacy = LegacyGroup {
            id: sid(5),
            name: Some("Old".into()),
            enc_pubkey: Some(vec![1; 32]),
            enc_seckey: Some(vec![2; 32]),
            members: [Scalar::from(sid(6))].into(),
            admins: [Scalar::from(sid(7))].into(),
            expiry_seconds: 3600,
            common: GroupCommon::default(),
        };
        UserGroups::set_legacy_group(&mut u, &legacy);
        assert_eq!(UserGroups::groups(&u), vec![g]);
        assert_eq!(UserGroups::legacy_groups(&u), vec![legacy]);
        let rooms = UserGroups::communities(&u);
        assert_eq!(rooms.len(), 1);
        assert_eq!(rooms[0].room, "lobby");
        assert_eq!(rooms[0].room_name.as_deref(), Some("Lobby"));
        UserGroups::erase(&mut u, b"o", b"https://open.example");
        assert!(UserGroups::communities(&u).is_empty());
    }
}
