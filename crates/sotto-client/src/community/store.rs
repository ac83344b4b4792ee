//! The community tables of the client database: joined rooms with their poll positions,
//! room messages (text sealed at rest like 1:1 messages) and blinded DMs.

use rusqlite::{Connection, OptionalExtension, Row, params};

use super::wire::{JoinLink, Reactions};
use super::{CommunityDm, JoinedRoom, RoomMessage};
use crate::db::DbKey;
use crate::error::DbError;

/// Client schema version 7 (placed at the end of the list): communities. Joined rooms keep
/// their server, key, poll position (`last_seqno`, `info_updates`) and the caller's
/// permissions as last seen; messages are keyed by the server's id; DMs by server, direction
/// and the server's id, with the last id seen per direction.
pub(crate) const V7_COMMUNITY: &str = "
CREATE TABLE community_rooms (
    id INTEGER PRIMARY KEY,
    base_url TEXT NOT NULL,
    server_pk TEXT NOT NULL,
    token TEXT NOT NULL,
    name TEXT,
    info_updates INTEGER NOT NULL DEFAULT -1,
    last_seqno INTEGER NOT NULL DEFAULT 0,
    can_read INTEGER NOT NULL DEFAULT 1,
    can_write INTEGER NOT NULL DEFAULT 1,
    moderator INTEGER NOT NULL DEFAULT 0,
    admin INTEGER NOT NULL DEFAULT 0,
    active_users INTEGER,
    joined_ms INTEGER NOT NULL,
    polled_ms INTEGER,
    UNIQUE (base_url, token)
);
CREATE TABLE community_messages (
    room INTEGER NOT NULL REFERENCES community_rooms(id) ON DELETE CASCADE,
    id INTEGER NOT NULL,
    sender TEXT NOT NULL,
    posted_ms INTEGER NOT NULL,
    edited_ms INTEGER,
    seqno INTEGER NOT NULL,
    sent_ms INTEGER,
    display_name TEXT,
    body BLOB,
    quote_id INTEGER,
    quote_author TEXT,
    deleted INTEGER NOT NULL DEFAULT 0,
    reactions TEXT NOT NULL DEFAULT '{}',
    PRIMARY KEY (room, id)
) WITHOUT ROWID;
CREATE TABLE community_dms (
    base_url TEXT NOT NULL,
    outgoing INTEGER NOT NULL,
    id INTEGER NOT NULL,
    peer TEXT NOT NULL,
    peer_session_id TEXT,
    posted_ms INTEGER NOT NULL,
    body BLOB,
    PRIMARY KEY (base_url, outgoing, id)
) WITHOUT ROWID;
";

/// The sealed column names (part of the associated data).
const BODY: &str = "community_body";
const DM_BODY: &str = "community_dm_body";

fn room_row(r: &Row<'_>) -> rusqlite::Result<JoinedRoomRow> {
    Ok(JoinedRoomRow {
        id: r.get(0)?,
        base_url: r.get(1)?,
        server_pk: r.get(2)?,
        token: r.get(3)?,
        name: r.get(4)?,
        info_updates: r.get(5)?,
        last_seqno: r.get(6)?,
        can_read: r.get(7)?,
        can_write: r.get(8)?,
        moderator: r.get(9)?,
        admin: r.get(10)?,
        active_users: r.get(11)?,
        polled_ms: r.get(12)?,
    })
}

struct JoinedRoomRow {
    id: i64,
    base_url: String,
    server_pk: String,
    token: String,
    name: Option<String>,
    info_updates: i64,
    last_seqno: i64,
    can_read: bool,
    can_write: bool,
    moderator: bool,
    admin: bool,
    active_users: Option<i64>,
    polled_ms: Option<i64>,
}

impl JoinedRoomRow {
    fn into_room(self) -> Result<JoinedRoom, DbError> {
        let mut server_pk = [0u8; 32];
        hex::decode_to_slice(&self.server_pk, &mut server_pk)
            .map_err(|_| DbError::Corrupt("community_rooms.server_pk"))?;
        Ok(JoinedRoom {
            local_id: self.id,
            link: JoinLink {
                base_url: self.base_url,
                room: self.token,
                server_pk,
            },
            name: self.name,
            info_updates: self.info_updates,
            last_seqno: self.last_seqno,
            can_read: self.can_read,
            can_write: self.can_write,
            moderator: self.moderator,
            admin: self.admin,
            active_users: self.active_users,
            polled_ms: self.polled_ms,
        })
    }
}

const ROOM_SELECT: &str = "SELECT id, base_url, server_pk, token, name, info_updates, last_seqno, \
     can_read, can_write, moderator, admin, active_users, polled_ms FROM community_rooms";

/// Every joined room, oldest join first.
pub(crate) fn rooms(conn: &Connection) -> Result<Vec<JoinedRoom>, DbError> {
    let mut stmt = conn.prepare_cached(&format!("{ROOM_SELECT} ORDER BY id"))?;
    let rows = stmt
        .query_map([], room_row)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    rows.into_iter().map(JoinedRoomRow::into_room).collect()
}

/// The joined room of `link` (same server and token), if any.
pub(crate) fn room(conn: &Connection, link: &JoinLink) -> Result<Option<JoinedRoom>, DbError> {
    conn.query_row(
        &format!("{ROOM_SELECT} WHERE base_url = ?1 AND token = ?2"),
        params![link.base_url, link.room],
        room_row,
    )
    .optional()?
    .map(JoinedRoomRow::into_room)
    .transpose()
}

/// Records a joined room (or updates its key and name); returns whether it is new.
pub(crate) fn join(
    conn: &Connection,
    link: &JoinLink,
    name: Option<&str>,
    now_ms: i64,
) -> Result<bool, DbError> {
    let existed = room(conn, link)?.is_some();
    conn.execute(
        "INSERT INTO community_rooms (base_url, server_pk, token, name, joined_ms)
         VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (base_url, token) DO UPDATE SET server_pk = ?2, name = coalesce(?4, name)",
        params![
            link.base_url,
            hex::encode(link.server_pk),
            link.room,
            name,
            now_ms
        ],
    )?;
    Ok(!existed)
}

/// Forgets a room and its messages; returns whether it was joined.
pub(crate) fn leave(conn: &Connection, link: &JoinLink) -> Result<bool, DbError> {
    Ok(conn.execute(
        "DELETE FROM community_rooms WHERE base_url = ?1 AND token = ?2",
        params![link.base_url, link.room],
    )? > 0)
}

/// What `pollInfo` said about the room and the caller.
#[derive(Debug, Clone, Default)]
pub(crate) struct RoomState {
    pub(crate) name: Option<String>,
    pub(crate) info_updates: Option<i64>,
    pub(crate) can_read: bool,
    pub(crate) can_write: bool,
    pub(crate) moderator: bool,
    pub(crate) admin: bool,
    pub(crate) active_users: Option<i64>,
}

/// Records the room's state after a poll.
pub(crate) fn set_state(
    conn: &Connection,
    room: i64,
    state: &RoomState,
    now_ms: i64,
) -> Result<(), DbError> {
    conn.execute(
        "UPDATE community_rooms SET name = coalesce(?2, name),
             info_updates = coalesce(?3, info_updates), can_read = ?4, can_write = ?5,
             moderator = ?6, admin = ?7, active_users = coalesce(?8, active_users),
             polled_ms = ?9
         WHERE id = ?1",
        params![
            room,
            state.name,
            state.info_updates,
            state.can_read,
            state.can_write,
            state.moderator,
            state.admin,
            state.active_users,
            now_ms
        ],
    )?;
    Ok(())
}

/// Raises the room's poll position to `seqno`.
pub(crate) fn set_seqno(conn: &Connection, room: i64, seqno: i64) -> Result<(), DbError> {
    conn.execute(
        "UPDATE community_rooms SET last_seqno = max(last_seqno, ?2) WHERE id = ?1",
        params![room, seqno],
    )?;
    Ok(())
}

/// A message to store (new or edited).
pub(crate) struct NewMessage<'a> {
    pub(crate) id: i64,
    pub(crate) sender: &'a str,
    pub(crate) posted_ms: i64,
    pub(crate) edited_ms: Option<i64>,
    pub(crate) seqno: i64,
    pub(crate) sent_ms: Option<u64>,
    pub(crate) display_name: Option<&'a str>,
    pub(crate) body: Option<&'a str>,
    pub(crate) quote: Option<(u64, &'a str)>,
    pub(crate) reactions: &'a Reactions,
}

fn author(room: i64, id: i64, sender: &str) -> String {
    format!("{room}/{id}/{sender}")
}

fn reactions_text(reactions: &Reactions) -> String {
    serde_json::to_string(reactions).unwrap_or_else(|_| "{}".into())
}

/// Stores a message (replacing an earlier version); returns whether it was new.
pub(crate) fn put_message(
    conn: &Connection,
    key: &DbKey,
    room: i64,
    m: &NewMessage<'_>,
) -> Result<bool, DbError> {
    let existed: bool = conn
        .query_row(
            "SELECT 1 FROM community_messages WHERE room = ?1 AND id = ?2",
            params![room, m.id],
            |_| Ok(()),
        )
        .optional()?
        .is_some();
    let body = m
        .body
        .map(|b| key.seal(BODY, &author(room, m.id, m.sender), m.posted_ms, b))
        .transpose()?;
    let sent_ms = m.sent_ms.and_then(|s| i64::try_from(s).ok());
    let quote_id = m.quote.and_then(|(q, _)| i64::try_from(q).ok());
    conn.execute(
        "INSERT INTO community_messages (room, id, sender, posted_ms, edited_ms, seqno, sent_ms,
             display_name, body, quote_id, quote_author, deleted, reactions)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, 0, ?12)
         ON CONFLICT (room, id) DO UPDATE SET edited_ms = ?5, seqno = ?6, sent_ms = ?7,
             display_name = ?8, body = ?9, quote_id = ?10, quote_author = ?11, deleted = 0,
             reactions = ?12",
        params![
            room,
            m.id,
            m.sender,
            m.posted_ms,
            m.edited_ms,
            m.seqno,
            sent_ms,
            m.display_name,
            body,
            quote_id,
            m.quote.map(|(_, a)| a),
            reactions_text(m.reactions)
        ],
    )?;
    Ok(!existed)
}

/// Marks a message deleted (its text dropped); a message never seen is recorded as deleted.
pub(crate) fn delete_message(
    conn: &Connection,
    room: i64,
    id: i64,
    sender: &str,
    posted_ms: i64,
    seqno: i64,
) -> Result<(), DbError> {
    conn.execute(
        "INSERT INTO community_messages (room, id, sender, posted_ms, seqno, deleted)
         VALUES (?1, ?2, ?3, ?4, ?5, 1)
         ON CONFLICT (room, id) DO UPDATE SET body = NULL, display_name = NULL,
             quote_id = NULL, quote_author = NULL, deleted = 1, reactions = '{}', seqno = ?5",
        params![room, id, sender, posted_ms, seqno],
    )?;
    Ok(())
}

/// Replaces a message's reactions (ignored for a message not stored).
pub(crate) fn set_reactions(
    conn: &Connection,
    room: i64,
    id: i64,
    reactions: &Reactions,
) -> Result<(), DbError> {
    conn.execute(
        "UPDATE community_messages SET reactions = ?3 WHERE room = ?1 AND id = ?2",
        params![room, id, reactions_text(reactions)],
    )?;
    Ok(())
}

const MESSAGE_SELECT: &str = "SELECT id, sender, posted_ms, edited_ms, seqno, sent_ms, \
     display_name, body, quote_id, quote_author, deleted, reactions FROM community_messages";

fn message_row(
    key: &DbKey,
    room: i64,
) -> impl Fn(&Row<'_>) -> rusqlite::Result<Result<RoomMessage, DbError>> + '_ {
    move |r| {
        let id: i64 = r.get(0)?;
        let sender: String = r.get(1)?;
        let posted_ms: i64 = r.get(2)?;
        let body: Option<Vec<u8>> = r.get(7)?;
        let reactions: String = r.get(11)?;
        let text = body
            .map(|b| key.open(BODY, &author(room, id, &sender), posted_ms, &b))
            .transpose();
        let reactions: Reactions = serde_json::from_str(&reactions).unwrap_or_default();
        let quote_id: Option<i64> = r.get(8)?;
        let quote_author: Option<String> = r.get(9)?;
        let edited_ms = r.get(3)?;
        let seqno = r.get(4)?;
        let sent_ms = r.get(5)?;
        let display_name = r.get(6)?;
        let deleted = r.get(10)?;
        Ok(text.map(|text| RoomMessage {
            id,
            sender,
            display_name,
            posted_ms,
            edited_ms,
            seqno,
            sent_ms,
            text,
            quote: quote_id.zip(quote_author),
            deleted,
            reactions,
        }))
    }
}

/// The last `limit` messages of a room, oldest first.
pub(crate) fn messages(
    conn: &Connection,
    key: &DbKey,
    room: i64,
    limit: u32,
) -> Result<Vec<RoomMessage>, DbError> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT * FROM ({MESSAGE_SELECT} WHERE room = ?1 ORDER BY id DESC LIMIT ?2) ORDER BY id"
    ))?;
    let rows = stmt
        .query_map(params![room, limit], message_row(key, room))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    rows.into_iter().collect()
}

/// One message of a room.
pub(crate) fn message(
    conn: &Connection,
    key: &DbKey,
    room: i64,
    id: i64,
) -> Result<Option<RoomMessage>, DbError> {
    conn.query_row(
        &format!("{MESSAGE_SELECT} WHERE room = ?1 AND id = ?2"),
        params![room, id],
        message_row(key, room),
    )
    .optional()?
    .transpose()
}

/// The last DM id seen on a server in one direction (0 when none).
pub(crate) fn last_dm(conn: &Connection, base_url: &str, outgoing: bool) -> Result<i64, DbError> {
    Ok(conn.query_row(
        "SELECT coalesce(max(id), 0) FROM community_dms WHERE base_url = ?1 AND outgoing = ?2",
        params![base_url, outgoing],
        |r| r.get(0),
    )?)
}

/// A DM to store.
pub(crate) struct NewDm<'a> {
    pub(crate) base_url: &'a str,
    pub(crate) outgoing: bool,
    pub(crate) id: i64,
    pub(crate) peer: &'a str,
    pub(crate) peer_session_id: Option<&'a str>,
    pub(crate) posted_ms: i64,
    pub(crate) text: Option<&'a str>,
}

fn dm_author(base_url: &str, outgoing: bool, id: i64) -> String {
    format!("{base_url}/{}/{id}", u8::from(outgoing))
}

/// Stores a DM; returns whether it was new.
pub(crate) fn put_dm(conn: &Connection, key: &DbKey, dm: &NewDm<'_>) -> Result<bool, DbError> {
    let body = dm
        .text
        .map(|t| {
            key.seal(
                DM_BODY,
                &dm_author(dm.base_url, dm.outgoing, dm.id),
                dm.posted_ms,
                t,
            )
        })
        .transpose()?;
    Ok(conn.execute(
        "INSERT OR IGNORE INTO community_dms
             (base_url, outgoing, id, peer, peer_session_id, posted_ms, body)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![
            dm.base_url,
            dm.outgoing,
            dm.id,
            dm.peer,
            dm.peer_session_id,
            dm.posted_ms,
            body
        ],
    )? > 0)
}

/// The DMs on a server, both directions, oldest first (the last `limit`).
pub(crate) fn dms(
    conn: &Connection,
    key: &DbKey,
    base_url: &str,
    limit: u32,
) -> Result<Vec<CommunityDm>, DbError> {
    let mut stmt = conn.prepare_cached(
        "SELECT * FROM (SELECT outgoing, id, peer, peer_session_id, posted_ms, body
             FROM community_dms WHERE base_url = ?1 ORDER BY posted_ms DESC, id DESC LIMIT ?2)
         ORDER BY posted_ms, id",
    )?;
    let rows = stmt
        .query_map(params![base_url, limit], |r| {
            Ok((
                r.get::<_, bool>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, Option<String>>(3)?,
                r.get::<_, i64>(4)?,
                r.get::<_, Option<Vec<u8>>>(5)?,
            ))
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    rows.into_iter()
        .map(|(outgoing, id, peer, peer_session_id, posted_ms, body)| {
            let text = body
                .map(|b| key.open(DM_BODY, &dm_author(base_url, outgoing, id), posted_ms, &b))
                .transpose()?;
            Ok(CommunityDm {
                outgoing,
                id,
                peer,
                peer_session_id,
                posted_ms,
                text,
            })
        })
        .collect()
}
