//! The group tables of the client database: one row per group (its keys and admin seed sealed
//! at rest, its Info and Members config messages, the invitation), poll positions per group
//! namespace, the hashes of group messages already applied, and the group messages (text
//! sealed at rest like 1:1 messages).

use rusqlite::{OptionalExtension, Row, params};
use sotto_groups::{GroupId, GroupKeys, SubaccountAuth};
use sotto_identity::{Account, SessionId};

use super::{GroupMessage, GroupStatus};
use crate::db::Tx;
use crate::error::DbError;

/// Client schema version 8 (placed at the end of the list): closed groups (groups v2).
pub(crate) const V8_GROUPS: &str = "
CREATE TABLE groups_v2 (
    id BLOB PRIMARY KEY,
    name TEXT NOT NULL,
    status INTEGER NOT NULL,
    invited_by BLOB,
    auth_data BLOB,
    keys BLOB NOT NULL,
    info BLOB,
    members BLOB,
    created_ms INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE group_poll (
    group_id BLOB NOT NULL,
    namespace INTEGER NOT NULL,
    last_hash TEXT NOT NULL,
    PRIMARY KEY (group_id, namespace)
) WITHOUT ROWID;
CREATE TABLE group_seen (
    hash TEXT PRIMARY KEY,
    expires_ms INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE group_messages (
    id INTEGER PRIMARY KEY,
    group_id BLOB NOT NULL,
    author BLOB NOT NULL,
    sent_ms INTEGER NOT NULL,
    received_ms INTEGER NOT NULL,
    outgoing INTEGER NOT NULL,
    hash TEXT,
    body BLOB,
    quote_author BLOB,
    quote_sent_ms INTEGER,
    deleted INTEGER NOT NULL DEFAULT 0,
    reactions TEXT NOT NULL DEFAULT '',
    UNIQUE (group_id, author, sent_ms)
);
CREATE INDEX group_messages_by_group ON group_messages (group_id, sent_ms);
CREATE TABLE group_invites (
    group_id BLOB PRIMARY KEY,
    name TEXT NOT NULL,
    inviter BLOB NOT NULL,
    auth_data BLOB NOT NULL,
    sent_ms INTEGER NOT NULL,
    received_ms INTEGER NOT NULL
) WITHOUT ROWID;
";

/// The column name the keys dump is sealed for.
const KEYS_COLUMN: &str = "group_keys";
/// The column name group message text is sealed for.
const BODY_COLUMN: &str = "group_body";

/// One group as stored.
pub(crate) struct GroupRow {
    pub id: GroupId,
    pub name: String,
    pub status: GroupStatus,
    pub invited_by: Option<SessionId>,
    pub auth: Option<SubaccountAuth>,
    pub keys: GroupKeys,
    pub info: Option<Vec<u8>>,
    pub members: Option<Vec<u8>>,
    pub created_ms: u64,
}

fn i(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn u(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

impl GroupRow {
    fn read(tx: &Tx<'_>, account: &Account, row: &Row<'_>) -> Result<Self, DbError> {
        let id_bytes: Vec<u8> = row.get(0)?;
        let id = GroupId::from_bytes(&id_bytes).map_err(|_| DbError::Corrupt("group id"))?;
        let status: i64 = row.get(2)?;
        let invited_by: Option<Vec<u8>> = row.get(3)?;
        let auth: Option<Vec<u8>> = row.get(4)?;
        let sealed: Vec<u8> = row.get(5)?;
        let dump_hex = tx.key().open(KEYS_COLUMN, &id.to_string(), 0, &sealed)?;
        let dump = hex::decode(dump_hex).map_err(|_| DbError::Corrupt("group keys"))?;
        let keys = GroupKeys::restore(account.ed25519_secret(), &dump)
            .map_err(|_| DbError::Corrupt("group keys"))?;
        Ok(Self {
            id,
            name: row.get(1)?,
            status: GroupStatus::from_column(status),
            invited_by: invited_by
                .map(|b| SessionId::from_bytes(&b))
                .transpose()
                .map_err(|_| DbError::Corrupt("group inviter"))?,
            auth: auth
                .map(|b| SubaccountAuth::try_from(b.as_slice()))
                .transpose()
                .map_err(|_| DbError::Corrupt("group auth data"))?,
            keys,
            info: row.get(6)?,
            members: row.get(7)?,
            created_ms: u(row.get(8)?),
        })
    }
}

const COLUMNS: &str = "id, name, status, invited_by, auth_data, keys, info, members, created_ms";

pub(crate) fn load(
    tx: &Tx<'_>,
    account: &Account,
    id: &GroupId,
) -> Result<Option<GroupRow>, DbError> {
    let sql = format!("SELECT {COLUMNS} FROM groups_v2 WHERE id = ?1");
    let mut stmt = tx.conn().prepare(&sql)?;
    let mut rows = stmt.query(params![id.to_bytes().as_slice()])?;
    match rows.next()? {
        Some(row) => Ok(Some(GroupRow::read(tx, account, row)?)),
        None => Ok(None),
    }
}

pub(crate) fn list(tx: &Tx<'_>, account: &Account) -> Result<Vec<GroupRow>, DbError> {
    let sql = format!("SELECT {COLUMNS} FROM groups_v2 ORDER BY created_ms, id");
    let mut stmt = tx.conn().prepare(&sql)?;
    let mut rows = stmt.query([])?;
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        out.push(GroupRow::read(tx, account, row)?);
    }
    Ok(out)
}

pub(crate) fn save(tx: &Tx<'_>, row: &GroupRow) -> Result<(), DbError> {
    let dump = row.keys.dump();
    let sealed = tx.key().seal(
        KEYS_COLUMN,
        &row.id.to_string(),
        0,
        &hex::encode(dump.as_slice()),
    )?;
    tx.conn().execute(
        "INSERT INTO groups_v2 (id, name, status, invited_by, auth_data, keys, info, members, created_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
         ON CONFLICT (id) DO UPDATE SET name = ?2, status = ?3, invited_by = ?4, auth_data = ?5,
             keys = ?6, info = ?7, members = ?8",
        params![
            row.id.to_bytes().as_slice(),
            row.name,
            row.status.to_column(),
            row.invited_by.map(|s| s.to_bytes().to_vec()),
            row.auth.as_ref().map(|a| a.as_bytes().to_vec()),
            sealed,
            row.info,
            row.members,
            i(row.created_ms),
        ],
    )?;
    Ok(())
}

pub(crate) fn delete(tx: &Tx<'_>, id: &GroupId) -> Result<(), DbError> {
    let id = id.to_bytes();
    tx.conn().execute(
        "DELETE FROM groups_v2 WHERE id = ?1",
        params![id.as_slice()],
    )?;
    tx.conn().execute(
        "DELETE FROM group_poll WHERE group_id = ?1",
        params![id.as_slice()],
    )?;
    tx.conn().execute(
        "DELETE FROM group_messages WHERE group_id = ?1",
        params![id.as_slice()],
    )?;
    Ok(())
}

pub(crate) fn poll_position(
    tx: &Tx<'_>,
    id: &GroupId,
    namespace: i16,
) -> Result<Option<String>, DbError> {
    Ok(tx
        .conn()
        .query_row(
            "SELECT last_hash FROM group_poll WHERE group_id = ?1 AND namespace = ?2",
            params![id.to_bytes().as_slice(), namespace],
            |r| r.get(0),
        )
        .optional()?)
}

pub(crate) fn set_poll_position(
    tx: &Tx<'_>,
    id: &GroupId,
    namespace: i16,
    hash: &str,
) -> Result<(), DbError> {
    tx.conn().execute(
        "INSERT INTO group_poll (group_id, namespace, last_hash) VALUES (?1, ?2, ?3)
         ON CONFLICT (group_id, namespace) DO UPDATE SET last_hash = ?3",
        params![id.to_bytes().as_slice(), namespace, hash],
    )?;
    Ok(())
}

/// Marks `hash` applied; false if it already was.
pub(crate) fn mark_seen(tx: &Tx<'_>, hash: &str, expires_ms: u64) -> Result<bool, DbError> {
    Ok(tx.conn().execute(
        "INSERT OR IGNORE INTO group_seen (hash, expires_ms) VALUES (?1, ?2)",
        params![hash, i(expires_ms)],
    )? == 1)
}

/// A group message to write.
pub(crate) struct NewGroupMessage<'a> {
    pub group: &'a GroupId,
    pub author: &'a SessionId,
    pub sent_ms: u64,
    pub received_ms: u64,
    pub outgoing: bool,
    pub hash: Option<&'a str>,
    pub body: Option<&'a str>,
    pub quote: Option<(SessionId, u64)>,
}

/// Writes a message; `None` if one with the same author and sent time exists.
pub(crate) fn insert_message(tx: &Tx<'_>, m: &NewGroupMessage<'_>) -> Result<Option<i64>, DbError> {
    let sealed = m
        .body
        .map(|b| {
            tx.key()
                .seal(BODY_COLUMN, &m.author.to_string(), i(m.sent_ms), b)
        })
        .transpose()?;
    let changed = tx.conn().execute(
        "INSERT OR IGNORE INTO group_messages
             (group_id, author, sent_ms, received_ms, outgoing, hash, body, quote_author, quote_sent_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        params![
            m.group.to_bytes().as_slice(),
            m.author.to_bytes().as_slice(),
            i(m.sent_ms),
            i(m.received_ms),
            m.outgoing,
            m.hash,
            sealed,
            m.quote.map(|(a, _)| a.to_bytes().to_vec()),
            m.quote.map(|(_, t)| i(t)),
        ],
    )?;
    Ok((changed == 1).then(|| tx.conn().last_insert_rowid()))
}

pub(crate) fn set_message_hash(tx: &Tx<'_>, id: i64, hash: &str) -> Result<(), DbError> {
    tx.conn().execute(
        "UPDATE group_messages SET hash = ?2 WHERE id = ?1",
        params![id, hash],
    )?;
    Ok(())
}

const MESSAGE_COLUMNS: &str = "id, group_id, author, sent_ms, received_ms, outgoing, hash, body,
    quote_author, quote_sent_ms, deleted, reactions";

fn read_message(tx: &Tx<'_>, r: &Row<'_>) -> Result<GroupMessage, DbError> {
    let group: Vec<u8> = r.get(1)?;
    let author: Vec<u8> = r.get(2)?;
    let author =
        SessionId::from_bytes(&author).map_err(|_| DbError::Corrupt("group message author"))?;
    let sent_ms: i64 = r.get(3)?;
    let body: Option<Vec<u8>> = r.get(7)?;
    let body = body
        .map(|b| tx.key().open(BODY_COLUMN, &author.to_string(), sent_ms, &b))
        .transpose()?;
    let quote_author: Option<Vec<u8>> = r.get(8)?;
    let quote_sent: Option<i64> = r.get(9)?;
    let reactions: String = r.get(11)?;
    Ok(GroupMessage {
        id: r.get(0)?,
        group: GroupId::from_bytes(&group).map_err(|_| DbError::Corrupt("group message group"))?,
        author,
        sent_ms: u(sent_ms),
        received_ms: u(r.get(4)?),
        outgoing: r.get(5)?,
        hash: r.get(6)?,
        body,
        quote: match (quote_author, quote_sent) {
            (Some(a), Some(t)) => SessionId::from_bytes(&a).ok().map(|a| (a, u(t))),
            _ => None,
        },
        deleted: r.get(10)?,
        reactions: super::Reactions::parse(&reactions),
    })
}

pub(crate) fn messages(
    tx: &Tx<'_>,
    group: &GroupId,
    limit: u32,
) -> Result<Vec<GroupMessage>, DbError> {
    let sql = format!(
        "SELECT {MESSAGE_COLUMNS} FROM (SELECT * FROM group_messages WHERE group_id = ?1
         ORDER BY sent_ms DESC, id DESC LIMIT ?2) ORDER BY sent_ms, id"
    );
    let mut stmt = tx.conn().prepare(&sql)?;
    let mut rows = stmt.query(params![group.to_bytes().as_slice(), limit])?;
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        out.push(read_message(tx, row)?);
    }
    Ok(out)
}

pub(crate) fn message(tx: &Tx<'_>, id: i64) -> Result<Option<GroupMessage>, DbError> {
    let sql = format!("SELECT {MESSAGE_COLUMNS} FROM group_messages WHERE id = ?1");
    let mut stmt = tx.conn().prepare(&sql)?;
    let mut rows = stmt.query(params![id])?;
    match rows.next()? {
        Some(row) => Ok(Some(read_message(tx, row)?)),
        None => Ok(None),
    }
}

pub(crate) fn find_message(
    tx: &Tx<'_>,
    group: &GroupId,
    author: &SessionId,
    sent_ms: u64,
) -> Result<Option<GroupMessage>, DbError> {
    let id: Option<i64> = tx
        .conn()
        .query_row(
            "SELECT id FROM group_messages WHERE group_id = ?1 AND author = ?2 AND sent_ms = ?3",
            params![
                group.to_bytes().as_slice(),
                author.to_bytes().as_slice(),
                i(sent_ms)
            ],
            |r| r.get(0),
        )
        .optional()?;
    match id {
        Some(id) => message(tx, id),
        None => Ok(None),
    }
}

pub(crate) fn tombstone(tx: &Tx<'_>, id: i64) -> Result<(), DbError> {
    tx.conn().execute(
        "UPDATE group_messages SET deleted = 1, body = NULL, reactions = '' WHERE id = ?1",
        params![id],
    )?;
    Ok(())
}

pub(crate) fn set_reactions(
    tx: &Tx<'_>,
    id: i64,
    reactions: &super::Reactions,
) -> Result<(), DbError> {
    tx.conn().execute(
        "UPDATE group_messages SET reactions = ?2 WHERE id = ?1",
        params![id, reactions.to_column()],
    )?;
    Ok(())
}

/// Deletes every message of `author` in `group` (an admin's request); returns how many.
pub(crate) fn tombstone_author(
    tx: &Tx<'_>,
    group: &GroupId,
    author: &SessionId,
) -> Result<usize, DbError> {
    Ok(tx.conn().execute(
        "UPDATE group_messages SET deleted = 1, body = NULL, reactions = ''
         WHERE group_id = ?1 AND author = ?2 AND deleted = 0",
        params![group.to_bytes().as_slice(), author.to_bytes().as_slice()],
    )?)
}

/// A stored invitation.
pub(crate) struct InviteRow {
    pub group: GroupId,
    pub name: String,
    pub inviter: SessionId,
    pub auth: SubaccountAuth,
    pub received_ms: u64,
}

pub(crate) fn save_invite(
    tx: &Tx<'_>,
    group: &GroupId,
    name: &str,
    inviter: &SessionId,
    auth: &SubaccountAuth,
    sent_ms: u64,
    received_ms: u64,
) -> Result<bool, DbError> {
    Ok(tx.conn().execute(
        "INSERT OR REPLACE INTO group_invites (group_id, name, inviter, auth_data, sent_ms, received_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![
            group.to_bytes().as_slice(),
            name,
            inviter.to_bytes().as_slice(),
            auth.as_bytes().as_slice(),
            i(sent_ms),
            i(received_ms)
        ],
    )? == 1)
}

pub(crate) fn invites(tx: &Tx<'_>) -> Result<Vec<InviteRow>, DbError> {
    let mut stmt = tx.conn().prepare(
        "SELECT group_id, name, inviter, auth_data, received_ms FROM group_invites ORDER BY received_ms",
    )?;
    let mut rows = stmt.query([])?;
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        let g: Vec<u8> = r.get(0)?;
        let inviter: Vec<u8> = r.get(2)?;
        let auth: Vec<u8> = r.get(3)?;
        out.push(InviteRow {
            group: GroupId::from_bytes(&g).map_err(|_| DbError::Corrupt("invite group"))?,
            name: r.get(1)?,
            inviter: SessionId::from_bytes(&inviter).map_err(|_| DbError::Corrupt("inviter"))?,
            auth: SubaccountAuth::try_from(auth.as_slice())
                .map_err(|_| DbError::Corrupt("invite auth data"))?,
            received_ms: u(r.get(4)?),
        });
    }
    Ok(out)
}

pub(crate) fn delete_invite(tx: &Tx<'_>, group: &GroupId) -> Result<bool, DbError> {
    Ok(tx.conn().execute(
        "DELETE FROM group_invites WHERE group_id = ?1",
        params![group.to_bytes().as_slice()],
    )? == 1)
}
