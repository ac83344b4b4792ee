//! The SQLite database: opening (WAL, 0600), numbered schema migrations, and the few queries
//! that several endpoints share (users, rooms, permissions).

use std::path::Path;

use crate::store::{Db, Dialect, OptionalExtension, StoreError, params};
use thiserror::Error;

/// The database file's name inside the data directory.
pub const DB_FILE: &str = "community.sqlite";

/// Why the database could not be opened or migrated.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum DbError {
    /// SQLite failed.
    #[error("database: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// A query failed (either backend).
    #[error("database: {0}")]
    Store(#[from] StoreError),
    /// Setting the file's permissions failed.
    #[error("database file permissions: {0}")]
    Io(#[from] std::io::Error),
    /// The database was written by a newer version of this server.
    #[error("database schema version {found} is newer than this server's ({known})")]
    TooNew {
        /// The version found in the file.
        found: i64,
        /// The newest version this server knows.
        known: i64,
    },
}

/// The schema migrations, in order: migration `i` takes the schema from version `i` to `i + 1`.
/// Never edit a released migration; append a new one.
const MIGRATIONS: &[&str] = &[
    // 1: the initial schema.
    r"
CREATE TABLE rooms (
    id INTEGER PRIMARY KEY,
    token TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    description TEXT,
    created REAL NOT NULL,
    info_updates INTEGER NOT NULL DEFAULT 0,
    message_sequence INTEGER NOT NULL DEFAULT 0,
    image INTEGER,
    read INTEGER NOT NULL DEFAULT 1,
    accessible INTEGER NOT NULL DEFAULT 1,
    write INTEGER NOT NULL DEFAULT 1,
    upload INTEGER NOT NULL DEFAULT 1
);
CREATE TABLE users (
    id INTEGER PRIMARY KEY,
    session_id TEXT NOT NULL UNIQUE,
    created REAL NOT NULL,
    last_active REAL NOT NULL,
    moderator INTEGER NOT NULL DEFAULT 0,
    admin INTEGER NOT NULL DEFAULT 0,
    visible_mod INTEGER NOT NULL DEFAULT 1,
    banned INTEGER NOT NULL DEFAULT 0,
    banned_until REAL,
    seen INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE room_users (
    room INTEGER NOT NULL REFERENCES rooms(id) ON DELETE CASCADE,
    user INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    last_active REAL NOT NULL,
    PRIMARY KEY (room, user)
);
CREATE INDEX room_users_active ON room_users(room, last_active);
CREATE TABLE messages (
    id INTEGER PRIMARY KEY,
    room INTEGER NOT NULL REFERENCES rooms(id) ON DELETE CASCADE,
    user INTEGER NOT NULL REFERENCES users(id),
    posted REAL NOT NULL,
    edited REAL,
    seqno INTEGER NOT NULL,
    seqno_data INTEGER NOT NULL,
    data BLOB,
    signature BLOB,
    whisper INTEGER REFERENCES users(id),
    whisper_mods INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX messages_room_seqno ON messages(room, seqno);
CREATE INDEX messages_room_id ON messages(room, id);
CREATE INDEX messages_user ON messages(user, room, posted);
CREATE TABLE reactions (
    message INTEGER NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
    reaction TEXT NOT NULL,
    user INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    at REAL NOT NULL,
    PRIMARY KEY (message, reaction, user)
);
CREATE INDEX reactions_order ON reactions(message, at);
CREATE TABLE pinned_messages (
    room INTEGER NOT NULL REFERENCES rooms(id) ON DELETE CASCADE,
    message INTEGER NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
    pinned_by INTEGER NOT NULL REFERENCES users(id),
    pinned_at REAL NOT NULL,
    PRIMARY KEY (room, message)
);
CREATE TABLE files (
    id INTEGER PRIMARY KEY,
    room INTEGER NOT NULL REFERENCES rooms(id) ON DELETE CASCADE,
    uploader INTEGER REFERENCES users(id),
    size INTEGER NOT NULL,
    uploaded REAL NOT NULL,
    expiry REAL,
    filename TEXT,
    message INTEGER REFERENCES messages(id) ON DELETE SET NULL
);
CREATE INDEX files_expiry ON files(expiry);
CREATE TABLE user_permission_overrides (
    room INTEGER NOT NULL REFERENCES rooms(id) ON DELETE CASCADE,
    user INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    read INTEGER,
    accessible INTEGER,
    write INTEGER,
    upload INTEGER,
    banned INTEGER NOT NULL DEFAULT 0,
    banned_until REAL,
    moderator INTEGER NOT NULL DEFAULT 0,
    admin INTEGER NOT NULL DEFAULT 0,
    visible_mod INTEGER NOT NULL DEFAULT 1,
    PRIMARY KEY (room, user)
);
CREATE TABLE user_permission_futures (
    id INTEGER PRIMARY KEY,
    room INTEGER NOT NULL REFERENCES rooms(id) ON DELETE CASCADE,
    user INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    at REAL NOT NULL,
    read INTEGER,
    write INTEGER,
    upload INTEGER
);
CREATE TABLE user_request_nonces (
    user INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    nonce BLOB NOT NULL,
    expiry REAL NOT NULL,
    PRIMARY KEY (user, nonce)
);
CREATE INDEX user_request_nonces_expiry ON user_request_nonces(expiry);
CREATE TABLE inbox (
    id INTEGER PRIMARY KEY,
    recipient INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    sender INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    body BLOB NOT NULL,
    posted_at REAL NOT NULL,
    expiry REAL NOT NULL
);
CREATE INDEX inbox_recipient ON inbox(recipient, id);
CREATE INDEX inbox_sender ON inbox(sender, id);
",
];

/// The same migrations for PostgreSQL (same numbering: migration `i` of both lists makes the
/// same change). Booleans are `BOOLEAN`, floats `DOUBLE PRECISION`, ids `BIGINT` identities.
const MIGRATIONS_PG: &[&str] = &[
    // 1: the initial schema.
    r#"
CREATE TABLE rooms (
    id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    token TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    description TEXT,
    created DOUBLE PRECISION NOT NULL,
    info_updates BIGINT NOT NULL DEFAULT 0,
    message_sequence BIGINT NOT NULL DEFAULT 0,
    image BIGINT,
    read BOOLEAN NOT NULL DEFAULT TRUE,
    accessible BOOLEAN NOT NULL DEFAULT TRUE,
    write BOOLEAN NOT NULL DEFAULT TRUE,
    upload BOOLEAN NOT NULL DEFAULT TRUE
);
CREATE TABLE users (
    id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    session_id TEXT NOT NULL UNIQUE,
    created DOUBLE PRECISION NOT NULL,
    last_active DOUBLE PRECISION NOT NULL,
    moderator BOOLEAN NOT NULL DEFAULT FALSE,
    admin BOOLEAN NOT NULL DEFAULT FALSE,
    visible_mod BOOLEAN NOT NULL DEFAULT TRUE,
    banned BOOLEAN NOT NULL DEFAULT FALSE,
    banned_until DOUBLE PRECISION,
    seen BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE TABLE room_users (
    room BIGINT NOT NULL REFERENCES rooms(id) ON DELETE CASCADE,
    "user" BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    last_active DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (room, "user")
);
CREATE INDEX room_users_active ON room_users(room, last_active);
CREATE TABLE messages (
    id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    room BIGINT NOT NULL REFERENCES rooms(id) ON DELETE CASCADE,
    "user" BIGINT NOT NULL REFERENCES users(id),
    posted DOUBLE PRECISION NOT NULL,
    edited DOUBLE PRECISION,
    seqno BIGINT NOT NULL,
    seqno_data BIGINT NOT NULL,
    data BYTEA,
    signature BYTEA,
    whisper BIGINT REFERENCES users(id),
    whisper_mods BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE INDEX messages_room_seqno ON messages(room, seqno);
CREATE INDEX messages_room_id ON messages(room, id);
CREATE INDEX messages_user ON messages("user", room, posted);
CREATE TABLE reactions (
    message BIGINT NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
    reaction TEXT NOT NULL,
    "user" BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    at DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (message, reaction, "user")
);
CREATE INDEX reactions_order ON reactions(message, at);
CREATE TABLE pinned_messages (
    room BIGINT NOT NULL REFERENCES rooms(id) ON DELETE CASCADE,
    message BIGINT NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
    pinned_by BIGINT NOT NULL REFERENCES users(id),
    pinned_at DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (room, message)
);
CREATE TABLE files (
    id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    room BIGINT NOT NULL REFERENCES rooms(id) ON DELETE CASCADE,
    uploader BIGINT REFERENCES users(id),
    size BIGINT NOT NULL,
    uploaded DOUBLE PRECISION NOT NULL,
    expiry DOUBLE PRECISION,
    filename TEXT,
    message BIGINT REFERENCES messages(id) ON DELETE SET NULL
);
CREATE INDEX files_expiry ON files(expiry);
CREATE TABLE user_permission_overrides (
    room BIGINT NOT NULL REFERENCES rooms(id) ON DELETE CASCADE,
    "user" BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    read BOOLEAN,
    accessible BOOLEAN,
    write BOOLEAN,
    upload BOOLEAN,
    banned BOOLEAN NOT NULL DEFAULT FALSE,
    banned_until DOUBLE PRECISION,
    moderator BOOLEAN NOT NULL DEFAULT FALSE,
    admin BOOLEAN NOT NULL DEFAULT FALSE,
    visible_mod BOOLEAN NOT NULL DEFAULT TRUE,
    PRIMARY KEY (room, "user")
);
CREATE TABLE user_permission_futures (
    id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    room BIGINT NOT NULL REFERENCES rooms(id) ON DELETE CASCADE,
    "user" BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    at DOUBLE PRECISION NOT NULL,
    read BOOLEAN,
    write BOOLEAN,
    upload BOOLEAN
);
CREATE TABLE user_request_nonces (
    "user" BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    nonce BYTEA NOT NULL,
    expiry DOUBLE PRECISION NOT NULL,
    PRIMARY KEY ("user", nonce)
);
CREATE INDEX user_request_nonces_expiry ON user_request_nonces(expiry);
CREATE TABLE inbox (
    id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    recipient BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    sender BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    body BYTEA NOT NULL,
    posted_at DOUBLE PRECISION NOT NULL,
    expiry DOUBLE PRECISION NOT NULL
);
CREATE INDEX inbox_recipient ON inbox(recipient, id);
CREATE INDEX inbox_sender ON inbox(sender, id);
"#,
];

/// The schema version after every migration has run.
#[must_use]
pub fn schema_version() -> i64 {
    i64::try_from(MIGRATIONS.len()).unwrap_or(i64::MAX)
}

/// Opens (creating if needed) the SQLite database at `path`: mode 0600, WAL, foreign keys on,
/// and every pending migration applied in one transaction each.
pub fn open(path: &Path) -> Result<Db, DbError> {
    let conn = rusqlite::Connection::open(path)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    }
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    let db = Db::sqlite(conn);
    migrate(&db)?;
    Ok(db)
}

/// Connects to the PostgreSQL database at `url` and applies every pending migration.
pub fn open_postgres(url: &str) -> Result<Db, DbError> {
    let db = Db::postgres(url)?;
    migrate(&db)?;
    Ok(db)
}

/// The schema version stored in the database (0 for a new one).
pub fn stored_version(db: &Db) -> Result<i64, DbError> {
    Ok(match db.dialect() {
        Dialect::Sqlite => db.query_row("PRAGMA user_version", (), |r| r.get(0))?,
        Dialect::Postgres => {
            db.execute_batch(
                "CREATE TABLE IF NOT EXISTS schema_version (version BIGINT NOT NULL)",
            )?;
            db.query_row("SELECT max(version) FROM schema_version", (), |r| {
                r.get::<_, Option<i64>>(0)
            })?
            .unwrap_or(0)
        }
    })
}

/// Applies the migrations the database has not seen yet, each in one transaction.
pub fn migrate(db: &Db) -> Result<(), DbError> {
    let found = stored_version(db)?;
    let known = schema_version();
    if found > known {
        return Err(DbError::TooNew { found, known });
    }
    let list = match db.dialect() {
        Dialect::Sqlite => MIGRATIONS,
        Dialect::Postgres => MIGRATIONS_PG,
    };
    for (index, sql) in list.iter().enumerate() {
        let version = i64::try_from(index).unwrap_or(i64::MAX) + 1;
        if version <= found {
            continue;
        }
        let record = match db.dialect() {
            Dialect::Sqlite => format!("PRAGMA user_version = {version};"),
            Dialect::Postgres => {
                format!("INSERT INTO schema_version (version) VALUES ({version});")
            }
        };
        db.execute_batch(&format!("BEGIN;\n{sql}\n{record}\nCOMMIT;"))
            .inspect_err(|_| {
                let _ = db.execute_batch("ROLLBACK");
            })?;
    }
    Ok(())
}

/// A room's row.
#[derive(Debug, Clone)]
pub struct Room {
    /// Database id.
    pub id: i64,
    /// The URL token.
    pub token: String,
    /// Display name.
    pub name: String,
    /// Optional description.
    pub description: Option<String>,
    /// Creation time, unix seconds.
    pub created: f64,
    /// Counter of room-info changes.
    pub info_updates: i64,
    /// Counter of message changes (the `seqno` source).
    pub message_sequence: i64,
    /// Room image file id.
    pub image: Option<i64>,
    /// Default read permission.
    pub read: bool,
    /// Default accessible permission.
    pub accessible: bool,
    /// Default write permission.
    pub write: bool,
    /// Default upload permission.
    pub upload: bool,
}

const ROOM_COLUMNS: &str = "id, token, name, description, created, info_updates, \
     message_sequence, image, read, accessible, write, upload";

fn room_from_row(r: &crate::store::Row) -> crate::store::Result<Room> {
    Ok(Room {
        id: r.get(0)?,
        token: r.get(1)?,
        name: r.get(2)?,
        description: r.get(3)?,
        created: r.get(4)?,
        info_updates: r.get(5)?,
        message_sequence: r.get(6)?,
        image: r.get(7)?,
        read: r.get(8)?,
        accessible: r.get(9)?,
        write: r.get(10)?,
        upload: r.get(11)?,
    })
}

/// The room with this token.
pub fn room_by_token(conn: &Db, token: &str) -> crate::store::Result<Option<Room>> {
    conn.query_row(
        &format!("SELECT {ROOM_COLUMNS} FROM rooms WHERE token = ?1"),
        [token],
        room_from_row,
    )
    .optional()
}

/// Every room, by token.
pub fn all_rooms(conn: &Db) -> crate::store::Result<Vec<Room>> {
    let mut stmt = conn.prepare(&format!("SELECT {ROOM_COLUMNS} FROM rooms ORDER BY token"))?;
    let rows = stmt.query_map((), room_from_row)?;
    rows.collect()
}

/// Whether `token` is a valid room token (pysogs: 1–64 of `[A-Za-z0-9_-]`).
#[must_use]
pub fn valid_token(token: &str) -> bool {
    !token.is_empty()
        && token.len() <= 64
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// Creates a room. `Ok(false)` if the token is taken.
pub fn add_room(
    conn: &Db,
    token: &str,
    name: &str,
    description: Option<&str>,
    now: f64,
) -> crate::store::Result<bool> {
    let n = conn.execute(
        "INSERT OR IGNORE INTO rooms (token, name, description, created) VALUES (?1, ?2, ?3, ?4)",
        params![token, name, description, now],
    )?;
    Ok(n == 1)
}

/// Deletes a room and everything in it. `Ok(false)` if there was none.
pub fn remove_room(conn: &Db, token: &str) -> crate::store::Result<bool> {
    Ok(conn.execute("DELETE FROM rooms WHERE token = ?1", [token])? == 1)
}

/// The id of the user with this session id, creating the row if needed.
pub fn user_id(conn: &Db, session_id: &str, now: f64) -> crate::store::Result<i64> {
    conn.execute(
        "INSERT OR IGNORE INTO users (session_id, created, last_active) VALUES (?1, ?2, ?2)",
        params![session_id, now],
    )?;
    conn.query_row(
        "SELECT id FROM users WHERE session_id = ?1",
        [session_id],
        |r| r.get(0),
    )
}

/// Makes `user` a moderator (or admin) of one room, visible or hidden.
pub fn set_room_moderator(
    conn: &Db,
    room: i64,
    user: i64,
    admin: bool,
    visible: bool,
) -> crate::store::Result<()> {
    conn.execute(
        "INSERT INTO user_permission_overrides (room, user, moderator, admin, visible_mod)
         VALUES (?1, ?2, TRUE, ?3, ?4)
         ON CONFLICT (room, user) DO UPDATE
         SET moderator = TRUE, admin = ?3, visible_mod = ?4",
        params![room, user, admin, visible],
    )?;
    conn.execute(
        "UPDATE rooms SET info_updates = info_updates + 1 WHERE id = ?1",
        [room],
    )?;
    Ok(())
}

/// Makes `user` a global moderator (or admin), visible or hidden.
pub fn set_global_moderator(
    conn: &Db,
    user: i64,
    admin: bool,
    visible: bool,
) -> crate::store::Result<()> {
    conn.execute(
        "UPDATE users SET moderator = TRUE, admin = ?2, visible_mod = ?3 WHERE id = ?1",
        params![user, admin, visible],
    )?;
    conn.execute("UPDATE rooms SET info_updates = info_updates + 1", ())?;
    Ok(())
}

/// What one user may do in one room (or anonymously, with `user` `None`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[allow(
    clippy::struct_excessive_bools,
    reason = "one flag per SOGS permission"
)]
pub struct Perms {
    /// May see the room's metadata.
    pub accessible: bool,
    /// May read messages.
    pub read: bool,
    /// May post.
    pub write: bool,
    /// May upload files.
    pub upload: bool,
    /// Room (or global) moderator.
    pub moderator: bool,
    /// Room (or global) admin.
    pub admin: bool,
    /// Global moderator.
    pub global_moderator: bool,
    /// Global admin.
    pub global_admin: bool,
    /// Banned from the room (or globally).
    pub banned: bool,
}

/// Applies the scheduled permission changes that are due.
pub fn apply_due_futures(conn: &Db, now: f64) -> crate::store::Result<()> {
    type Due = (i64, i64, i64, Option<bool>, Option<bool>, Option<bool>);
    let due: Vec<Due> = {
        let mut stmt = conn.prepare_cached(
            "SELECT id, room, user, read, write, upload FROM user_permission_futures
             WHERE at <= ?1 ORDER BY at",
        )?;
        let rows = stmt.query_map([now], |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
            ))
        })?;
        rows.collect::<crate::store::Result<_>>()?
    };
    for (id, room, user, read, write, upload) in due {
        // A change back to the room's default clears the override (as pysogs does), so that
        // the user follows the room's default again rather than holding an explicit grant.
        conn.execute(
            "INSERT INTO user_permission_overrides (room, user, read, write, upload)
             SELECT r.id, CAST(?2 AS BIGINT), nullif(?3, r.read), nullif(?4, r.write), nullif(?5, r.upload)
             FROM rooms r WHERE r.id = ?1
             ON CONFLICT (room, user) DO UPDATE SET
               read = CASE WHEN ?3 IS NULL THEN user_permission_overrides.read ELSE excluded.read END,
               write = CASE WHEN ?4 IS NULL THEN user_permission_overrides.write ELSE excluded.write END,
               upload = CASE WHEN ?5 IS NULL THEN user_permission_overrides.upload ELSE excluded.upload END",
            params![room, user, read, write, upload],
        )?;
        conn.execute("DELETE FROM user_permission_futures WHERE id = ?1", [id])?;
    }
    Ok(())
}

/// Whether `user` is banned from the whole server at `now`.
pub fn globally_banned(conn: &Db, user: i64, now: f64) -> crate::store::Result<bool> {
    let row: Option<(bool, Option<f64>, bool)> = conn
        .query_row(
            "SELECT banned, banned_until, moderator FROM users WHERE id = ?1",
            [user],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .optional()?;
    Ok(row.is_some_and(|(banned, until, moderator)| {
        banned && !moderator && until.is_none_or(|t| t > now)
    }))
}

/// The effective permissions of `user` (or anonymous) in `room` at `now`.
pub fn permissions(
    conn: &Db,
    room: &Room,
    user: Option<i64>,
    now: f64,
) -> crate::store::Result<Perms> {
    let Some(user) = user else {
        return Ok(Perms {
            accessible: room.accessible || room.read,
            read: room.read,
            ..Perms::default()
        });
    };
    let (g_mod, g_admin, g_banned, g_until): (bool, bool, bool, Option<f64>) = conn
        .query_row(
            "SELECT moderator, admin, banned, banned_until FROM users WHERE id = ?1",
            [user],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )
        .optional()?
        .unwrap_or((false, false, false, None));
    type Override = (
        Option<bool>,
        Option<bool>,
        Option<bool>,
        Option<bool>,
        bool,
        Option<f64>,
        bool,
        bool,
    );
    let o: Option<Override> = conn
        .query_row(
            "SELECT read, accessible, write, upload, banned, banned_until, moderator, admin
             FROM user_permission_overrides WHERE room = ?1 AND user = ?2",
            params![room.id, user],
            |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                    r.get(6)?,
                    r.get(7)?,
                ))
            },
        )
        .optional()?;
    let (o_read, o_acc, o_write, o_upload, o_banned, o_until, o_mod, o_admin) =
        o.unwrap_or((None, None, None, None, false, None, false, false));
    let global_admin = g_admin;
    let global_moderator = g_mod || g_admin;
    let admin = global_admin || o_admin;
    let moderator = admin || global_moderator || o_mod;
    if moderator {
        return Ok(Perms {
            accessible: true,
            read: true,
            write: true,
            upload: true,
            moderator,
            admin,
            global_moderator,
            global_admin,
            banned: false,
        });
    }
    let active = |banned: bool, until: Option<f64>| banned && until.is_none_or(|t| t > now);
    let banned = active(g_banned, g_until) || active(o_banned, o_until);
    if banned {
        return Ok(Perms {
            banned: true,
            ..Perms::default()
        });
    }
    let read = o_read.unwrap_or(room.read);
    let write = o_write.unwrap_or(room.write);
    let upload = o_upload.unwrap_or(room.upload) && write;
    Ok(Perms {
        accessible: read || o_acc.unwrap_or(room.accessible),
        read,
        write,
        upload,
        ..Perms::default()
    })
}

/// Visible moderators, visible admins, hidden moderators, hidden admins.
pub type Moderators = (Vec<String>, Vec<String>, Vec<String>, Vec<String>);

/// Session ids of a room's moderators and admins: `(visible mods, visible admins, hidden mods,
/// hidden admins)`, each sorted. Global ones are included; ids that never authenticated (the
/// unused candidates an operator's Session ID resolves to) are not.
pub fn room_moderators(conn: &Db, room: i64) -> crate::store::Result<Moderators> {
    let mut stmt = conn.prepare_cached(
        "SELECT u.session_id, max(CASE WHEN o.admin THEN 1 ELSE 0 END),
                max(CASE WHEN o.visible_mod THEN 1 ELSE 0 END) FROM (
             SELECT user, admin, visible_mod FROM user_permission_overrides
               WHERE room = ?1 AND (moderator OR admin)
             UNION ALL
             SELECT id, admin, visible_mod FROM users WHERE moderator OR admin
         ) o JOIN users u ON u.id = o.user WHERE u.seen
         GROUP BY u.session_id ORDER BY u.session_id",
    )?;
    let rows = stmt.query_map([room], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, bool>(1)?,
            r.get::<_, bool>(2)?,
        ))
    })?;
    let (mut mods, mut admins, mut hmods, mut hadmins) = (vec![], vec![], vec![], vec![]);
    for row in rows {
        let (sid, admin, visible) = row?;
        match (admin, visible) {
            (true, true) => admins.push(sid),
            (true, false) => hadmins.push(sid),
            (false, true) => mods.push(sid),
            (false, false) => hmods.push(sid),
        }
    }
    Ok((mods, admins, hmods, hadmins))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrations_run_once_and_survive_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(DB_FILE);
        {
            let conn = open(&path).unwrap();
            assert!(add_room(&conn, "lobby", "Lobby", None, 1.0).unwrap());
            assert!(!add_room(&conn, "lobby", "Again", None, 1.0).unwrap());
        }
        let conn = open(&path).unwrap();
        assert_eq!(stored_version(&conn).unwrap(), schema_version());
        let mode: String = conn
            .query_row("PRAGMA journal_mode", (), |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
        assert_eq!(
            room_by_token(&conn, "lobby").unwrap().unwrap().name,
            "Lobby"
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let m = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(m, 0o600);
        }
    }

    #[test]
    fn both_dialects_have_every_migration() {
        assert_eq!(MIGRATIONS.len(), MIGRATIONS_PG.len());
    }

    #[test]
    fn newer_schema_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(DB_FILE);
        drop(open(&path).unwrap());
        {
            let conn = rusqlite::Connection::open(&path).unwrap();
            conn.pragma_update(None, "user_version", schema_version() + 1)
                .unwrap();
        }
        assert!(matches!(open(&path), Err(DbError::TooNew { .. })));
    }

    #[test]
    fn permissions_follow_overrides_bans_and_moderators() {
        let conn = Db::sqlite(rusqlite::Connection::open_in_memory().unwrap());
        migrate(&conn).unwrap();
        add_room(&conn, "r", "R", None, 0.0).unwrap();
        let room = room_by_token(&conn, "r").unwrap().unwrap();
        let u = user_id(&conn, "15aa", 0.0).unwrap();
        let p = permissions(&conn, &room, Some(u), 10.0).unwrap();
        assert!(p.read && p.write && p.upload && !p.moderator);
        assert!(!permissions(&conn, &room, None, 10.0).unwrap().write);
        // A timed ban ends by itself.
        conn.execute(
            "INSERT INTO user_permission_overrides (room, user, banned, banned_until)
             VALUES (?1, ?2, 1, 20.0)",
            params![room.id, u],
        )
        .unwrap();
        assert!(permissions(&conn, &room, Some(u), 10.0).unwrap().banned);
        assert!(!permissions(&conn, &room, Some(u), 30.0).unwrap().banned);
        // A scheduled mute applies once due.
        conn.execute(
            "INSERT INTO user_permission_futures (room, user, at, write) VALUES (?1, ?2, 40.0, 0)",
            params![room.id, u],
        )
        .unwrap();
        apply_due_futures(&conn, 35.0).unwrap();
        assert!(permissions(&conn, &room, Some(u), 35.0).unwrap().write);
        apply_due_futures(&conn, 45.0).unwrap();
        let p = permissions(&conn, &room, Some(u), 45.0).unwrap();
        assert!(p.read && !p.write && !p.upload);
        // Moderators may do everything, and hidden ones are listed apart.
        let m = user_id(&conn, "15bb", 0.0).unwrap();
        set_room_moderator(&conn, room.id, m, false, false).unwrap();
        assert!(room_moderators(&conn, room.id).unwrap().2.is_empty());
        conn.execute("UPDATE users SET seen = 1 WHERE id = ?1", [m])
            .unwrap();
        assert!(permissions(&conn, &room, Some(m), 0.0).unwrap().moderator);
        let (mods, admins, hmods, _) = room_moderators(&conn, room.id).unwrap();
        assert!(mods.is_empty() && admins.is_empty());
        assert_eq!(hmods, vec!["15bb".to_owned()]);
    }
}
