//! The local database: one SQLite file (mode 0600, WAL, `synchronous = FULL`) with contacts,
//! conversations, messages and their states, reactions, poll positions, seen hashes, the
//! outbox and settings. Migrations run forward from `PRAGMA user_version`, each in its own
//! transaction.
//!
//! Message text is encrypted at rest: each body and quoted text is sealed with
//! XChaCha20-Poly1305 (random nonce) under a key derived from the account's seed
//! ([`DbKey`]), with the message's identity and the column as associated data, so a row's
//! text cannot be moved to another row. Whoever can read the file without the account (and,
//! when one is set, its passphrase) sees metadata but no text. `secure_delete` is on, and
//! deleting messages (expiry, unsend, declined requests) ends with a `TRUNCATE` checkpoint,
//! so their ciphertext stays neither in free pages nor in the WAL.
//!
//! Every change the client makes is one transaction that commits before the change is shown:
//! a message is written with its outbox jobs before `send` returns, and a retrieved batch is
//! applied together with its poll position before its events are returned. A crash loses
//! nothing shown as sent or received; a batch interrupted before its commit is retrieved again.

use std::collections::HashMap;
use std::path::Path;

use rusqlite::{Connection, OptionalExtension, Row, TransactionBehavior, params};
use sotto_crypto::{
    Ed25519PublicKey, OsRng, SymmetricKey, XCHACHA_NONCE_LEN, blake2b_32, ct_eq,
    xchacha20poly1305_decrypt, xchacha20poly1305_encrypt,
};
use sotto_identity::{Account, SessionId};
use sotto_rpc::{AccountId, MessageHash, Namespace};

use crate::error::DbError;
use crate::model::{
    Contact, Conversation, Disappearing, MessageId, MessageKey, MessageRecord, MessageState,
    QuoteRef, ReactionRecord, Settings,
};
use crate::outgoing::{JobPurpose, StoreJob};

#[path = "db_configs.rs"]
mod db_configs;
pub(crate) use db_configs::ConfigRow;

/// A migration's step in Rust, after its SQL and in the same transaction.
type Step = fn(&Connection, &DbKey) -> Result<(), DbError>;

/// One schema version: its SQL, then (for versions that rewrite data) a step in Rust, run in
/// the same transaction.
#[derive(Clone, Copy)]
struct Migration {
    sql: &'static str,
    then: Option<Step>,
}

impl Migration {
    const fn sql(sql: &'static str) -> Self {
        Self { sql, then: None }
    }
}

/// The migrations; version N is the first N of them applied.
const MIGRATIONS: &[Migration] = &[
    Migration::sql(V1),
    Migration::sql(V2),
    Migration {
        sql: V3,
        then: Some(encrypt_existing_text),
    },
    Migration::sql(V4),
    Migration::sql(V5_CONFIG),
    Migration::sql(V6_FILES),
    Migration::sql(crate::community::V7_COMMUNITY),
    Migration::sql(crate::groups::V8_GROUPS),
    Migration::sql(V9_CONVO_STATE),
];

/// Version 5: the user config messages (namespaces 2–5), one row per namespace: `base` is the
/// message this device last adopted from the swarm, merged or pushed (`base_pushed` says
/// whether the swarm holds it), `pending` the local edits on top of it, not pushed yet (the
/// dirty flag, persisted before any push); `config_hashes` are the swarm copies of each
/// namespace's messages, deleted once a newer message is stored.
const V5_CONFIG: &str = "
CREATE TABLE configs (
    namespace INTEGER PRIMARY KEY,
    base BLOB NOT NULL,
    base_pushed INTEGER NOT NULL,
    pending BLOB,
    pushed_seqno INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE config_hashes (
    namespace INTEGER NOT NULL,
    hash TEXT NOT NULL,
    expires_ms INTEGER NOT NULL,
    PRIMARY KEY (namespace, hash)
) WITHOUT ROWID;
";

mod files;
pub(crate) use files::V6_FILES;

mod convo;
pub(crate) use convo::V9_CONVO_STATE;

/// Version 4: the copies of messages on this account's own swarm (the sync copy of a sent
/// message, the stored copy of a received one), by hash, so that deleting or expiring a
/// message here can delete or shorten it there; and the deletes and expiry updates waiting to
/// go to the swarm (sent in batches with the next poll). Messages kept from before have no
/// known copy: their swarm copies expire with their TTL.
const V4: &str = "
CREATE TABLE swarm_copies (
    message INTEGER NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
    hash TEXT NOT NULL,
    expires_ms INTEGER NOT NULL,
    PRIMARY KEY (message, hash)
) WITHOUT ROWID;
CREATE INDEX swarm_copies_by_hash ON swarm_copies (hash);
CREATE TABLE swarm_updates (
    hash TEXT PRIMARY KEY,
    expiry_ms INTEGER,
    until_ms INTEGER NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
";

/// Version 3: message text encrypted at rest. The table records which key the file is
/// encrypted under (a tag derived from it), so that another account's key is refused rather
/// than misread; the Rust step encrypts the bodies and quotes written before.
const V3: &str = "
CREATE TABLE text_key (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    tag BLOB NOT NULL
);
";

/// Version 2: a poll position per swarm node. Each node orders an account's messages by its
/// own arrival order, so a position taken on one node can skip messages on another.
const V2: &str = "
DROP TABLE poll_positions;
CREATE TABLE poll_positions (
    account TEXT NOT NULL,
    namespace INTEGER NOT NULL,
    node TEXT NOT NULL,
    last_hash TEXT NOT NULL,
    updated_ms INTEGER NOT NULL,
    PRIMARY KEY (account, namespace, node)
) WITHOUT ROWID;
";

const V1: &str = "
CREATE TABLE settings (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    read_receipts INTEGER NOT NULL DEFAULT 0,
    typing_indicators INTEGER NOT NULL DEFAULT 0,
    display_name TEXT,
    profile_updated_s INTEGER,
    disappearing_mode INTEGER NOT NULL DEFAULT 0,
    disappearing_secs INTEGER NOT NULL DEFAULT 0
);
INSERT INTO settings (id) VALUES (1);

CREATE TABLE contacts (
    session_id TEXT PRIMARY KEY,
    nickname TEXT,
    profile_name TEXT,
    profile_updated_s INTEGER,
    approved INTEGER NOT NULL DEFAULT 0,
    approved_me INTEGER NOT NULL DEFAULT 0,
    blocked INTEGER NOT NULL DEFAULT 0,
    created_ms INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE conversations (
    id INTEGER PRIMARY KEY,
    peer TEXT NOT NULL UNIQUE REFERENCES contacts(session_id),
    created_ms INTEGER NOT NULL,
    last_activity_ms INTEGER NOT NULL,
    disappearing_mode INTEGER NOT NULL DEFAULT 0,
    disappearing_secs INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE messages (
    id INTEGER PRIMARY KEY,
    conversation INTEGER NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    author TEXT NOT NULL,
    outgoing INTEGER NOT NULL,
    sent_ms INTEGER NOT NULL,
    received_ms INTEGER NOT NULL,
    body TEXT,
    quote_author TEXT,
    quote_sent_ms INTEGER,
    quote_text TEXT,
    state INTEGER NOT NULL,
    stored_k INTEGER NOT NULL DEFAULT 0,
    stored_n INTEGER NOT NULL DEFAULT 0,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_retry_ms INTEGER,
    disappearing_mode INTEGER NOT NULL DEFAULT 0,
    disappearing_secs INTEGER NOT NULL DEFAULT 0,
    expires_at_ms INTEGER,
    read_ms INTEGER,
    UNIQUE (conversation, author, sent_ms)
);
CREATE INDEX messages_by_key ON messages (author, sent_ms);
CREATE INDEX messages_by_expiry ON messages (expires_at_ms) WHERE expires_at_ms IS NOT NULL;

CREATE TABLE reactions (
    message INTEGER NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
    reactor TEXT NOT NULL,
    emoji TEXT NOT NULL,
    sent_ms INTEGER NOT NULL,
    PRIMARY KEY (message, reactor, emoji)
) WITHOUT ROWID;

CREATE TABLE poll_positions (
    account TEXT NOT NULL,
    namespace INTEGER NOT NULL,
    last_hash TEXT NOT NULL,
    updated_ms INTEGER NOT NULL,
    PRIMARY KEY (account, namespace)
) WITHOUT ROWID;

CREATE TABLE seen_hashes (
    hash TEXT PRIMARY KEY,
    expires_ms INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE outbox (
    id INTEGER PRIMARY KEY,
    message INTEGER REFERENCES messages(id) ON DELETE CASCADE,
    purpose INTEGER NOT NULL,
    account TEXT NOT NULL,
    data BLOB NOT NULL,
    timestamp_ms INTEGER NOT NULL,
    expiry_ms INTEGER NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_ms INTEGER
);
CREATE INDEX outbox_due ON outbox (next_attempt_ms) WHERE next_attempt_ms IS NOT NULL;
";

/// An outbox entry's id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct JobId(pub i64);

/// A store waiting in the outbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job {
    /// Its id.
    pub id: JobId,
    /// The message whose state it drives (`None` for receipts, typing, responses).
    pub message: Option<MessageId>,
    /// Attempts made so far.
    pub attempts: u32,
    /// What to store.
    pub store: StoreJob,
}

/// The key that encrypts message text at rest: BLAKE2b-256 keyed with the account's Ed25519
/// seed, over a Sotto-specific context. The seed is what the passphrase (when set) encrypts
/// on disk, so the passphrase protects this key too. Never printed.
#[derive(Debug)]
pub(crate) struct DbKey(SymmetricKey);

/// The derivation context of [`DbKey`].
const KEY_CONTEXT: &[u8] = b"Sotto client database: message text key, v1";
/// What the key tag (table `text_key`) is computed over.
const TAG_CONTEXT: &[u8] = b"Sotto client database: key tag, v1";
/// The first byte of every sealed text: the format (version 1: nonce ‖ ciphertext ‖ tag).
const SEALED_V1: u8 = 1;

impl DbKey {
    /// The key of `account`.
    pub(crate) fn of(account: &Account) -> Self {
        let seed = account.ed25519_seed();
        Self(SymmetricKey::new(blake2b_32(seed.expose(), &[KEY_CONTEXT])))
    }

    /// A tag that names the key without revealing it.
    fn tag(&self) -> [u8; 32] {
        blake2b_32(self.0.expose(), &[TAG_CONTEXT])
    }

    /// What a text of `column` of the message (`author`, `sent_ms`) is bound to.
    fn associated_data(column: &str, author: &str, sent_ms: i64) -> Vec<u8> {
        format!("sotto-client-db/v1/messages/{column}/{author}/{sent_ms}").into_bytes()
    }

    /// Seals `text` for `column` of the message (`author`, `sent_ms`).
    pub(crate) fn seal(
        &self,
        column: &str,
        author: &str,
        sent_ms: i64,
        text: &str,
    ) -> Result<Vec<u8>, DbError> {
        use sotto_crypto::CryptoRngCore as _;
        let mut nonce = [0u8; XCHACHA_NONCE_LEN];
        OsRng.as_rngcore().fill_bytes(&mut nonce);
        let aad = Self::associated_data(column, author, sent_ms);
        let sealed = xchacha20poly1305_encrypt(&self.0, &nonce, &aad, text.as_bytes())
            .map_err(|_| DbError::Corrupt("text to encrypt"))?;
        let mut out = Vec::with_capacity(1 + XCHACHA_NONCE_LEN + sealed.len());
        out.push(SEALED_V1);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        Ok(out)
    }

    /// Opens what [`DbKey::seal`] sealed for the same column and message.
    pub(crate) fn open(
        &self,
        column: &'static str,
        author: &str,
        sent_ms: i64,
        sealed: &[u8],
    ) -> Result<String, DbError> {
        let bad = DbError::Corrupt(column);
        let (version, rest) = sealed.split_first().ok_or(DbError::Corrupt(column))?;
        if *version != SEALED_V1 || rest.len() < XCHACHA_NONCE_LEN {
            return Err(bad);
        }
        let (nonce, ciphertext) = rest.split_at(XCHACHA_NONCE_LEN);
        let nonce: &[u8; XCHACHA_NONCE_LEN] =
            nonce.try_into().map_err(|_| DbError::Corrupt(column))?;
        let aad = Self::associated_data(column, author, sent_ms);
        let plain = xchacha20poly1305_decrypt(&self.0, nonce, &aad, ciphertext)
            .map_err(|_| DbError::Corrupt(column))?;
        String::from_utf8(plain).map_err(|_| bad)
    }
}

/// The local database.
#[derive(Debug)]
pub struct Database {
    conn: Connection,
    key: DbKey,
}

impl Database {
    /// Opens (or creates, with mode 0600) the database of `account` at `path` and migrates it.
    pub fn open(path: &Path, account: &Account) -> Result<Self, DbError> {
        create_private(path)?;
        Self::init(Connection::open(path)?, MIGRATIONS, DbKey::of(account))
    }

    /// The connection and the text key (for the community module's tables).
    pub(crate) fn parts(&self) -> (&Connection, &DbKey) {
        (&self.conn, &self.key)
    }

    /// A database in memory, for tests and tools.
    pub fn open_in_memory(account: &Account) -> Result<Self, DbError> {
        Self::init(
            Connection::open_in_memory()?,
            MIGRATIONS,
            DbKey::of(account),
        )
    }

    fn init(mut conn: Connection, migrations: &[Migration], key: DbKey) -> Result<Self, DbError> {
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        // Deleted content is overwritten with zeros rather than left in free space.
        conn.pragma_update(None, "secure_delete", "ON")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        let encrypted_now = migrate(&mut conn, migrations, &key)?;
        let db = Self { conn, key };
        db.check_key()?;
        if encrypted_now {
            // The plaintext the migration replaced may sit in free pages written before
            // `secure_delete` was on, and in the WAL: rebuild the file, empty the WAL.
            db.conn.execute_batch("VACUUM")?;
            db.checkpoint()?;
        }
        Ok(db)
    }

    /// Refuses a file whose text is encrypted under another account's key.
    fn check_key(&self) -> Result<(), DbError> {
        let has_table: bool = self.conn.query_row(
            "SELECT COUNT(*) > 0 FROM sqlite_master WHERE type = 'table' AND name = 'text_key'",
            [],
            |r| r.get(0),
        )?;
        if !has_table {
            return Ok(());
        }
        let tag: Option<Vec<u8>> = self
            .conn
            .query_row("SELECT tag FROM text_key WHERE id = 1", [], |r| r.get(0))
            .optional()?;
        match tag {
            Some(tag) if ct_eq(&tag, &self.key.tag()) => Ok(()),
            Some(_) => Err(DbError::OtherAccount),
            None => Err(DbError::Corrupt("text key tag")),
        }
    }

    /// Moves everything in the WAL into the database file and truncates the WAL to zero
    /// bytes, so that old page images (e.g. of deleted messages) do not stay in it.
    pub(crate) fn checkpoint(&self) -> Result<(), DbError> {
        let busy: i64 = self
            .conn
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| r.get(0))?;
        if busy != 0 {
            tracing::debug!("WAL checkpoint could not complete: the database is busy");
        }
        Ok(())
    }

    /// Runs `f` in one immediate transaction: everything it wrote commits together, or
    /// nothing does.
    pub(crate) fn write<T, E: From<DbError>>(
        &mut self,
        f: impl FnOnce(&Tx<'_>) -> Result<T, E>,
    ) -> Result<T, E> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(DbError::from)?;
        let out = f(&Tx(&tx, &self.key))?;
        tx.commit().map_err(DbError::from)?;
        Ok(out)
    }

    /// Reads outside a transaction.
    pub(crate) fn read(&self) -> Tx<'_> {
        Tx(&self.conn, &self.key)
    }
}

/// Creates the file with mode 0600 if it does not exist, and sets 0600 if it does. SQLite
/// gives its `-wal` and `-shm` files the database file's mode.
fn create_private(path: &Path) -> Result<(), DbError> {
    let mut options = std::fs::OpenOptions::new();
    options.create(true).append(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
        options.mode(0o600);
        options.open(path).map_err(DbError::File)?;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
            .map_err(DbError::File)?;
    }
    #[cfg(not(unix))]
    options.open(path).map_err(DbError::File)?;
    Ok(())
}

/// Runs the migrations not applied yet; whether one of them rewrote data (a Rust step ran).
fn migrate(conn: &mut Connection, migrations: &[Migration], key: &DbKey) -> Result<bool, DbError> {
    let found: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    let supported = i64::try_from(migrations.len()).map_err(|_| DbError::OutOfRange("version"))?;
    if found > supported {
        return Err(DbError::SchemaTooNew { found, supported });
    }
    let done = usize::try_from(found).map_err(|_| DbError::Corrupt("negative user_version"))?;
    let mut rewrote = false;
    for (index, migration) in migrations.iter().enumerate().skip(done) {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute_batch(migration.sql)?;
        if let Some(step) = migration.then {
            step(&tx, key)?;
            rewrote = true;
        }
        tx.pragma_update(None, "user_version", index.saturating_add(1))?;
        tx.commit()?;
    }
    Ok(rewrote)
}

/// Version 3's step: records the key's tag and encrypts every body and quoted text still in
/// plaintext.
fn encrypt_existing_text(conn: &Connection, key: &DbKey) -> Result<(), DbError> {
    conn.execute(
        "INSERT INTO text_key (id, tag) VALUES (1, ?1)",
        [key.tag().to_vec()],
    )?;
    let mut stmt = conn.prepare(
        "SELECT id, author, sent_ms, \
         CASE WHEN typeof(body) = 'text' THEN body END, \
         CASE WHEN typeof(quote_text) = 'text' THEN quote_text END \
         FROM messages WHERE typeof(body) = 'text' OR typeof(quote_text) = 'text'",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok((
            r.get::<_, i64>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, i64>(2)?,
            r.get::<_, Option<String>>(3)?,
            r.get::<_, Option<String>>(4)?,
        ))
    })?;
    let rows: Vec<_> = rows.collect::<Result<_, _>>()?;
    for (id, author, sent_ms, body, quote) in rows {
        let body = body
            .map(|b| key.seal("body", &author, sent_ms, &b))
            .transpose()?;
        let quote = quote
            .map(|q| key.seal("quote_text", &author, sent_ms, &q))
            .transpose()?;
        conn.execute(
            "UPDATE messages SET body = COALESCE(?2, body), \
             quote_text = COALESCE(?3, quote_text) WHERE id = ?1",
            params![id, body, quote],
        )?;
    }
    Ok(())
}

/// The largest time SQLite's 64-bit integers hold.
pub(crate) const MAX_TIME: u64 = i64::MAX.unsigned_abs();

/// A time or count as SQLite stores it.
pub(crate) fn int(value: u64, what: &'static str) -> Result<i64, DbError> {
    i64::try_from(value).map_err(|_| DbError::OutOfRange(what))
}

fn uint(value: i64, what: &'static str) -> Result<u64, DbError> {
    u64::try_from(value).map_err(|_| DbError::Corrupt(what))
}

fn small(value: i64, what: &'static str) -> Result<u32, DbError> {
    u32::try_from(value).map_err(|_| DbError::Corrupt(what))
}

fn session_id(text: &str, what: &'static str) -> Result<SessionId, DbError> {
    text.parse().map_err(|_| DbError::Corrupt(what))
}

// The `messages.state` codes (the SQL below names the last three).
const SENDING: i64 = 0;
const STORED: i64 = 1;
const FAILED: i64 = 2;
const SENT_ELSEWHERE: i64 = 3;
const RECEIVED: i64 = 4;
const READ: i64 = 5;
const DELETED: i64 = 6;

/// (state, stored_k, stored_n, attempts, next_retry_ms).
fn state_columns(state: MessageState) -> (i64, i64, i64, i64, Option<i64>) {
    match state {
        MessageState::Sending => (SENDING, 0, 0, 0, None),
        MessageState::Stored { k, n } => (STORED, k.into(), n.into(), 0, None),
        MessageState::Failed {
            attempts,
            next_retry_ms,
        } => (
            FAILED,
            0,
            0,
            attempts.into(),
            next_retry_ms.and_then(|t| i64::try_from(t).ok()),
        ),
        MessageState::SentElsewhere => (SENT_ELSEWHERE, 0, 0, 0, None),
        MessageState::Received => (RECEIVED, 0, 0, 0, None),
        MessageState::Read => (READ, 0, 0, 0, None),
        MessageState::Deleted => (DELETED, 0, 0, 0, None),
    }
}

fn state_from(
    state: i64,
    k: i64,
    n: i64,
    attempts: i64,
    next: Option<i64>,
) -> Result<MessageState, DbError> {
    Ok(match state {
        SENDING => MessageState::Sending,
        STORED => MessageState::Stored {
            k: small(k, "stored_k")?,
            n: small(n, "stored_n")?,
        },
        FAILED => MessageState::Failed {
            attempts: small(attempts, "attempts")?,
            next_retry_ms: next.map(|t| uint(t, "next_retry_ms")).transpose()?,
        },
        SENT_ELSEWHERE => MessageState::SentElsewhere,
        RECEIVED => MessageState::Received,
        READ => MessageState::Read,
        DELETED => MessageState::Deleted,
        _ => return Err(DbError::Corrupt("message state")),
    })
}

fn disappearing(mode: i64, secs: i64) -> Result<Disappearing, DbError> {
    Disappearing::from_columns(mode, secs).ok_or(DbError::Corrupt("disappearing setting"))
}

/// A new message row.
pub(crate) struct NewMessage<'a> {
    pub conversation: i64,
    pub key: MessageKey,
    pub outgoing: bool,
    pub received_ms: u64,
    pub body: Option<&'a str>,
    pub quote: Option<&'a QuoteRef>,
    pub state: MessageState,
    pub disappearing: Disappearing,
    pub expires_at_ms: Option<u64>,
}

const CONTACT_COLUMNS: &str =
    "session_id, nickname, profile_name, approved, approved_me, blocked, profile_updated_s";

fn contact_row(row: &Row<'_>) -> rusqlite::Result<(String, Contact0)> {
    Ok((
        row.get(0)?,
        Contact0 {
            nickname: row.get(1)?,
            profile_name: row.get(2)?,
            approved: row.get(3)?,
            approved_me: row.get(4)?,
            blocked: row.get(5)?,
        },
    ))
}

/// A contact row before its ID is parsed.
struct Contact0 {
    nickname: Option<String>,
    profile_name: Option<String>,
    approved: bool,
    approved_me: bool,
    blocked: bool,
}

impl Contact0 {
    fn with_id(self, id: &str) -> Result<Contact, DbError> {
        Ok(Contact {
            session_id: session_id(id, "contact id")?,
            nickname: self.nickname,
            profile_name: self.profile_name,
            approved: self.approved,
            approved_me: self.approved_me,
            blocked: self.blocked,
        })
    }
}

const MESSAGE_COLUMNS: &str = "m.id, c.peer, m.author, m.outgoing, m.sent_ms, m.received_ms, \
     m.body, m.quote_author, m.quote_sent_ms, m.quote_text, m.state, m.stored_k, m.stored_n, \
     m.attempts, m.next_retry_ms, m.disappearing_mode, m.disappearing_secs, m.expires_at_ms, \
     m.read_ms, m.quote_files";

/// A message row as SQLite gives it.
struct MessageRow {
    id: i64,
    peer: String,
    author: String,
    outgoing: bool,
    sent_ms: i64,
    received_ms: i64,
    body: Option<Vec<u8>>,
    quote_author: Option<String>,
    quote_sent_ms: Option<i64>,
    quote_text: Option<Vec<u8>>,
    state: [i64; 4],
    next_retry_ms: Option<i64>,
    disappearing: [i64; 2],
    expires_at_ms: Option<i64>,
    read_ms: Option<i64>,
    quote_files: Option<Vec<u8>>,
}

fn message_row(r: &Row<'_>) -> rusqlite::Result<MessageRow> {
    Ok(MessageRow {
        id: r.get(0)?,
        peer: r.get(1)?,
        author: r.get(2)?,
        outgoing: r.get(3)?,
        sent_ms: r.get(4)?,
        received_ms: r.get(5)?,
        body: r.get(6)?,
        quote_author: r.get(7)?,
        quote_sent_ms: r.get(8)?,
        quote_text: r.get(9)?,
        state: [r.get(10)?, r.get(11)?, r.get(12)?, r.get(13)?],
        next_retry_ms: r.get(14)?,
        disappearing: [r.get(15)?, r.get(16)?],
        expires_at_ms: r.get(17)?,
        read_ms: r.get(18)?,
        quote_files: r.get(19)?,
    })
}

impl MessageRow {
    fn record(self, key: &DbKey) -> Result<MessageRecord, DbError> {
        let [state, k, n, attempts] = self.state;
        let [mode, secs] = self.disappearing;
        let open = |column, sealed: Option<Vec<u8>>| {
            sealed
                .map(|s| key.open(column, &self.author, self.sent_ms, &s))
                .transpose()
        };
        let body = open("body", self.body)?;
        let quote_text = open("quote_text", self.quote_text)?;
        let quote_files = match open("quote_files", self.quote_files)? {
            Some(json) => {
                serde_json::from_str(&json).map_err(|_| DbError::Corrupt("quoted attachments"))?
            }
            None => Vec::new(),
        };
        let quote = match (self.quote_author, self.quote_sent_ms) {
            (Some(author), Some(sent)) => Some(QuoteRef {
                key: MessageKey {
                    author: session_id(&author, "quote author")?,
                    sent_ms: uint(sent, "quote time")?,
                },
                text: quote_text,
                attachments: quote_files,
            }),
            _ => None,
        };
        Ok(MessageRecord {
            id: MessageId(self.id),
            peer: session_id(&self.peer, "conversation peer")?,
            key: MessageKey {
                author: session_id(&self.author, "message author")?,
                sent_ms: uint(self.sent_ms, "sent time")?,
            },
            outgoing: self.outgoing,
            received_ms: uint(self.received_ms, "received time")?,
            body,
            quote,
            state: state_from(state, k, n, attempts, self.next_retry_ms)?,
            disappearing: disappearing(mode, secs)?,
            expires_at_ms: self.expires_at_ms.map(|t| uint(t, "expiry")).transpose()?,
            read_ms: self.read_ms.map(|t| uint(t, "read time")).transpose()?,
        })
    }
}

/// Queries and updates, inside a transaction ([`Database::write`]) or not ([`Database::read`]),
/// with the key of the message text.
pub(crate) struct Tx<'a>(&'a Connection, &'a DbKey);

impl Tx<'_> {
    /// The connection, for the modules that keep their own tables (communities).
    pub(crate) fn conn(&self) -> &Connection {
        self.0
    }

    /// The key of the text sealed at rest, for the modules that keep their own tables.
    pub(crate) fn key(&self) -> &DbKey {
        self.1
    }

    /// Runs `f` inside a savepoint: if it fails, what it wrote is undone and the enclosing
    /// transaction goes on.
    pub fn atomic<T, E: From<DbError>>(&self, f: impl FnOnce() -> Result<T, E>) -> Result<T, E> {
        self.0
            .execute_batch("SAVEPOINT apply")
            .map_err(DbError::from)?;
        let out = f();
        let end = if out.is_ok() {
            "RELEASE apply"
        } else {
            "ROLLBACK TO apply; RELEASE apply"
        };
        self.0.execute_batch(end).map_err(DbError::from)?;
        out
    }

    // Settings.

    pub fn settings(&self) -> Result<Settings, DbError> {
        let row = self.0.query_row(
            "SELECT read_receipts, typing_indicators, display_name, profile_updated_s, \
             disappearing_mode, disappearing_secs FROM settings WHERE id = 1",
            [],
            |r| {
                Ok((
                    r.get::<_, bool>(0)?,
                    r.get::<_, bool>(1)?,
                    r.get::<_, Option<String>>(2)?,
                    r.get::<_, Option<i64>>(3)?,
                    r.get::<_, i64>(4)?,
                    r.get::<_, i64>(5)?,
                ))
            },
        )?;
        Ok(Settings {
            read_receipts: row.0,
            typing_indicators: row.1,
            display_name: row.2,
            profile_updated_s: row.3.map(|t| uint(t, "profile time")).transpose()?,
            default_disappearing: disappearing(row.4, row.5)?,
        })
    }

    pub fn set_settings(&self, s: &Settings) -> Result<(), DbError> {
        let (mode, secs) = s.default_disappearing.to_columns();
        self.0.execute(
            "UPDATE settings SET read_receipts = ?1, typing_indicators = ?2, display_name = ?3, \
             profile_updated_s = ?4, disappearing_mode = ?5, disappearing_secs = ?6 WHERE id = 1",
            params![
                s.read_receipts,
                s.typing_indicators,
                s.display_name,
                s.profile_updated_s
                    .map(|t| int(t, "profile time"))
                    .transpose()?,
                mode,
                secs
            ],
        )?;
        Ok(())
    }

    // Contacts.

    pub fn contact(&self, id: &SessionId) -> Result<Option<Contact>, DbError> {
        let key = id.to_string();
        self.0
            .query_row(
                &format!("SELECT {CONTACT_COLUMNS} FROM contacts WHERE session_id = ?1"),
                [&key],
                contact_row,
            )
            .optional()?
            .map(|(id, c)| c.with_id(&id))
            .transpose()
    }

    pub fn contacts(&self) -> Result<Vec<Contact>, DbError> {
        let mut stmt = self.0.prepare(&format!(
            "SELECT {CONTACT_COLUMNS} FROM contacts ORDER BY session_id"
        ))?;
        let rows = stmt.query_map([], contact_row)?;
        rows.map(|r| {
            let (id, c) = r?;
            c.with_id(&id)
        })
        .collect()
    }

    /// Adds `id` with no flags if it is not known yet.
    pub fn ensure_contact(&self, id: &SessionId, now_ms: u64) -> Result<(), DbError> {
        self.0.execute(
            "INSERT INTO contacts (session_id, created_ms) VALUES (?1, ?2) \
             ON CONFLICT(session_id) DO NOTHING",
            params![id.to_string(), int(now_ms, "time")?],
        )?;
        Ok(())
    }

    /// Sets one of the boolean columns `approved`, `approved_me`, `blocked`.
    pub fn set_contact_flag(
        &self,
        id: &SessionId,
        flag: ContactFlag,
        value: bool,
    ) -> Result<(), DbError> {
        let column = match flag {
            ContactFlag::Approved => "approved",
            ContactFlag::ApprovedMe => "approved_me",
            ContactFlag::Blocked => "blocked",
        };
        self.0.execute(
            &format!("UPDATE contacts SET {column} = ?2 WHERE session_id = ?1"),
            params![id.to_string(), value],
        )?;
        Ok(())
    }

    pub fn set_nickname(&self, id: &SessionId, nickname: Option<&str>) -> Result<(), DbError> {
        self.0.execute(
            "UPDATE contacts SET nickname = ?2 WHERE session_id = ?1",
            params![id.to_string(), nickname],
        )?;
        Ok(())
    }

    /// Records a profile name unless the stored one is newer; whether it changed.
    pub fn set_profile_name(
        &self,
        id: &SessionId,
        name: &str,
        updated_s: Option<u64>,
    ) -> Result<bool, DbError> {
        let updated = updated_s.map(|t| int(t, "profile time")).transpose()?;
        let changed = self.0.execute(
            "UPDATE contacts SET profile_name = ?2, \
             profile_updated_s = COALESCE(?3, profile_updated_s) \
             WHERE session_id = ?1 AND profile_name IS NOT ?2 \
             AND (?3 IS NULL OR profile_updated_s IS NULL OR profile_updated_s <= ?3)",
            params![id.to_string(), name, updated],
        )?;
        Ok(changed > 0)
    }

    // Conversations.

    pub fn conversation_id(&self, peer: &SessionId) -> Result<Option<i64>, DbError> {
        Ok(self
            .0
            .query_row(
                "SELECT id FROM conversations WHERE peer = ?1",
                [peer.to_string()],
                |r| r.get(0),
            )
            .optional()?)
    }

    /// The conversation with `peer`, created (with the contact) if needed.
    pub fn ensure_conversation(
        &self,
        peer: &SessionId,
        now_ms: u64,
        initial: Disappearing,
    ) -> Result<i64, DbError> {
        if let Some(id) = self.conversation_id(peer)? {
            return Ok(id);
        }
        self.ensure_contact(peer, now_ms)?;
        let (mode, secs) = initial.to_columns();
        let now = int(now_ms, "time")?;
        self.0.execute(
            "INSERT INTO conversations \
             (peer, created_ms, last_activity_ms, disappearing_mode, disappearing_secs) \
             VALUES (?1, ?2, ?2, ?3, ?4)",
            params![peer.to_string(), now, mode, secs],
        )?;
        Ok(self.0.last_insert_rowid())
    }

    pub fn touch(&self, conversation: i64, now_ms: u64) -> Result<(), DbError> {
        self.0.execute(
            "UPDATE conversations SET last_activity_ms = MAX(last_activity_ms, ?2) WHERE id = ?1",
            params![conversation, int(now_ms, "time")?],
        )?;
        // A new message shows a hidden conversation again.
        self.unhide_conversation(conversation)
    }

    pub fn set_conversation_disappearing(
        &self,
        conversation: i64,
        setting: Disappearing,
    ) -> Result<(), DbError> {
        let (mode, secs) = setting.to_columns();
        self.0.execute(
            "UPDATE conversations SET disappearing_mode = ?2, disappearing_secs = ?3 WHERE id = ?1",
            params![conversation, mode, secs],
        )?;
        Ok(())
    }

    pub fn delete_conversation(&self, peer: &SessionId) -> Result<(), DbError> {
        self.0.execute(
            "DELETE FROM conversations WHERE peer = ?1",
            [peer.to_string()],
        )?;
        Ok(())
    }

    /// The conversation with `peer`, or (`None`) every conversation except with blocked
    /// peers and hidden ones, pinned first (highest priority first), then most recent first.
    fn conversations_of(&self, peer: Option<&SessionId>) -> Result<Vec<Conversation>, DbError> {
        let sql = format!(
            "SELECT {CONTACT_COLUMNS}, v.disappearing_mode, v.disappearing_secs, \
             v.last_activity_ms, (SELECT COUNT(*) FROM messages m \
                 WHERE m.conversation = v.id AND m.state = {RECEIVED}), \
             k.priority, v.marked_unread \
             FROM conversations v JOIN contacts k ON k.session_id = v.peer \
             WHERE (?1 IS NULL AND k.blocked = 0 AND k.priority >= 0) OR v.peer = ?1 \
             ORDER BY MAX(k.priority, 0) DESC, v.last_activity_ms DESC, v.id DESC"
        );
        let mut stmt = self.0.prepare(&sql)?;
        let rows = stmt.query_map([peer.map(ToString::to_string)], |r| {
            Ok((
                contact_row(r)?,
                r.get::<_, i64>(7)?,
                r.get::<_, i64>(8)?,
                r.get::<_, i64>(9)?,
                r.get::<_, i64>(10)?,
                r.get::<_, i64>(11)?,
                r.get::<_, bool>(12)?,
            ))
        })?;
        rows.map(|row| {
            let ((id, contact), mode, secs, last, unread, priority, marked_unread) = row?;
            Ok(Conversation {
                contact: contact.with_id(&id)?,
                disappearing: disappearing(mode, secs)?,
                last_activity_ms: uint(last, "activity time")?,
                unread: small(unread, "unread count")?,
                priority,
                marked_unread,
            })
        })
        .collect()
    }

    pub fn conversation(&self, peer: &SessionId) -> Result<Option<Conversation>, DbError> {
        Ok(self.conversations_of(Some(peer))?.into_iter().next())
    }

    /// Conversations with blocked peers are left out.
    pub fn conversations(&self) -> Result<Vec<Conversation>, DbError> {
        self.conversations_of(None)
    }

    // Messages.

    /// Inserts a message unless one with the same author and time is in the conversation.
    pub fn insert_message(&self, m: &NewMessage<'_>) -> Result<Option<MessageId>, DbError> {
        let (state, k, n, attempts, next) = state_columns(m.state);
        let (mode, secs) = m.disappearing.to_columns();
        let author = m.key.author.to_string();
        let sent = int(m.key.sent_ms, "sent time")?;
        let body = m
            .body
            .map(|b| self.1.seal("body", &author, sent, b))
            .transpose()?;
        let quote_text = m
            .quote
            .and_then(|q| q.text.as_deref())
            .map(|t| self.1.seal("quote_text", &author, sent, t))
            .transpose()?;
        let inserted = self.0.execute(
            "INSERT INTO messages (conversation, author, outgoing, sent_ms, received_ms, body, \
             quote_author, quote_sent_ms, quote_text, state, stored_k, stored_n, attempts, \
             next_retry_ms, disappearing_mode, disappearing_secs, expires_at_ms) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17) \
             ON CONFLICT (conversation, author, sent_ms) DO NOTHING",
            params![
                m.conversation,
                author,
                m.outgoing,
                sent,
                int(m.received_ms, "received time")?,
                body,
                m.quote.map(|q| q.key.author.to_string()),
                m.quote
                    .map(|q| int(q.key.sent_ms, "quote time"))
                    .transpose()?,
                quote_text,
                state,
                k,
                n,
                attempts,
                next,
                mode,
                secs,
                m.expires_at_ms.map(|t| int(t, "expiry")).transpose()?,
            ],
        )?;
        let id = (inserted > 0).then(|| MessageId(self.0.last_insert_rowid()));
        if let (Some(id), Some(quote)) = (id, m.quote) {
            self.set_quote_files(id, &author, sent, &quote.attachments)?;
        }
        Ok(id)
    }

    pub fn message(&self, id: MessageId) -> Result<Option<MessageRecord>, DbError> {
        self.0
            .query_row(
                &format!(
                    "SELECT {MESSAGE_COLUMNS} FROM messages m \
                     JOIN conversations c ON c.id = m.conversation WHERE m.id = ?1"
                ),
                [id.0],
                message_row,
            )
            .optional()?
            .map(|row| row.record(self.1))
            .transpose()
    }

    /// The most recent `limit` messages with `peer`, oldest first.
    pub fn messages(&self, peer: &SessionId, limit: u32) -> Result<Vec<MessageRecord>, DbError> {
        let mut stmt = self.0.prepare(&format!(
            "SELECT * FROM (SELECT {MESSAGE_COLUMNS} FROM messages m \
             JOIN conversations c ON c.id = m.conversation WHERE c.peer = ?1 \
             ORDER BY m.sent_ms DESC, m.id DESC LIMIT ?2) ORDER BY sent_ms, id"
        ))?;
        let rows = stmt.query_map(params![peer.to_string(), limit], message_row)?;
        rows.map(|r| r?.record(self.1)).collect()
    }

    /// The message `key` names, in `conversation` or (when `None`) in any conversation.
    pub fn find_message(
        &self,
        conversation: Option<i64>,
        key: &MessageKey,
    ) -> Result<Option<MessageId>, DbError> {
        Ok(self
            .0
            .query_row(
                "SELECT id FROM messages WHERE author = ?1 AND sent_ms = ?2 \
                 AND (?3 IS NULL OR conversation = ?3) ORDER BY id LIMIT 1",
                params![
                    key.author.to_string(),
                    int(key.sent_ms, "sent time")?,
                    conversation
                ],
                |r| r.get(0),
            )
            .optional()?
            .map(MessageId))
    }

    pub fn set_state(&self, id: MessageId, state: MessageState) -> Result<(), DbError> {
        let (state, k, n, attempts, next) = state_columns(state);
        self.0.execute(
            "UPDATE messages SET state = ?2, stored_k = ?3, stored_n = ?4, attempts = ?5, \
             next_retry_ms = ?6 WHERE id = ?1",
            params![id.0, state, k, n, attempts, next],
        )?;
        Ok(())
    }

    /// Deletes a message's text, quote, reactions and pending stores, leaving a tombstone
    /// that keeps a late copy from coming back.
    pub fn tombstone(&self, id: MessageId) -> Result<(), DbError> {
        self.0.execute(
            "UPDATE messages SET body = NULL, quote_author = NULL, quote_sent_ms = NULL, \
             quote_text = NULL, state = ?2, expires_at_ms = NULL, next_retry_ms = NULL \
             WHERE id = ?1",
            params![id.0, DELETED],
        )?;
        self.0
            .execute("DELETE FROM reactions WHERE message = ?1", [id.0])?;
        self.0
            .execute("DELETE FROM outbox WHERE message = ?1", [id.0])?;
        self.0
            .execute("DELETE FROM attachments WHERE message = ?1", [id.0])?;
        Ok(())
    }

    /// Marks the unread incoming messages of `conversation` read at `now_ms`, starting the
    /// timers of after-read ones; returns their sent timestamps.
    pub fn mark_read(&self, conversation: i64, now_ms: u64) -> Result<Vec<u64>, DbError> {
        let now = int(now_ms, "time")?;
        let mut stmt = self.0.prepare(&format!(
            "UPDATE messages SET state = {READ}, read_ms = ?2, \
             expires_at_ms = CASE WHEN disappearing_mode = 1 \
                 THEN ?2 + disappearing_secs * 1000 ELSE expires_at_ms END \
             WHERE conversation = ?1 AND state = {RECEIVED} RETURNING sent_ms"
        ))?;
        let rows = stmt.query_map(params![conversation, now], |r| r.get::<_, i64>(0))?;
        let mut sent: Vec<u64> = rows
            .map(|r| uint(r?, "sent time"))
            .collect::<Result<_, _>>()?;
        sent.sort_unstable();
        Ok(sent)
    }

    /// Marks this account's messages in `conversation` with these sent timestamps as read by
    /// the peer; returns the ones that changed.
    pub fn mark_read_by_peer(
        &self,
        conversation: i64,
        own: &SessionId,
        timestamps: &[u64],
        now_ms: u64,
    ) -> Result<Vec<MessageId>, DbError> {
        let mut stmt = self.0.prepare(&format!(
            "UPDATE messages SET state = {READ}, read_ms = ?4, next_retry_ms = NULL \
             WHERE conversation = ?1 AND author = ?2 AND sent_ms = ?3 \
             AND state NOT IN ({READ}, {DELETED}) RETURNING id"
        ))?;
        let (now, own) = (int(now_ms, "time")?, own.to_string());
        let mut changed = Vec::new();
        for t in timestamps {
            let Ok(t) = i64::try_from(*t) else { continue };
            for id in stmt.query_map(params![conversation, own, t, now], |r| r.get(0))? {
                changed.push(MessageId(id?));
            }
        }
        Ok(changed)
    }

    pub fn expired(&self, now_ms: u64) -> Result<Vec<MessageId>, DbError> {
        let mut stmt = self
            .0
            .prepare("SELECT id FROM messages WHERE expires_at_ms <= ?1 ORDER BY id")?;
        let rows = stmt.query_map([int(now_ms, "time")?], |r| r.get(0))?;
        rows.map(|r| Ok(MessageId(r?))).collect()
    }

    // Reactions.

    pub fn reactions(&self, id: MessageId) -> Result<Vec<ReactionRecord>, DbError> {
        let mut stmt = self.0.prepare(
            "SELECT reactor, emoji, sent_ms FROM reactions WHERE message = ?1 \
             ORDER BY sent_ms, reactor, emoji",
        )?;
        let rows = stmt.query_map([id.0], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, i64>(2)?,
            ))
        })?;
        rows.map(|r| {
            let (reactor, emoji, sent) = r?;
            Ok(ReactionRecord {
                reactor: session_id(&reactor, "reactor")?,
                emoji,
                sent_ms: uint(sent, "reaction time")?,
            })
        })
        .collect()
    }

    /// Adds or removes a reaction; whether anything changed.
    pub fn set_reaction(
        &self,
        id: MessageId,
        reactor: &SessionId,
        emoji: &str,
        sent_ms: u64,
        present: bool,
    ) -> Result<bool, DbError> {
        let changed = if present {
            self.0.execute(
                "INSERT INTO reactions (message, reactor, emoji, sent_ms) VALUES (?1, ?2, ?3, ?4) \
                 ON CONFLICT DO NOTHING",
                params![id.0, reactor.to_string(), emoji, int(sent_ms, "time")?],
            )?
        } else {
            self.0.execute(
                "DELETE FROM reactions WHERE message = ?1 AND reactor = ?2 AND emoji = ?3",
                params![id.0, reactor.to_string(), emoji],
            )?
        };
        Ok(changed > 0)
    }

    // Polling.

    /// The poll positions of `account`'s `namespace`, by node.
    pub fn poll_positions(
        &self,
        account: &AccountId,
        namespace: Namespace,
    ) -> Result<HashMap<Ed25519PublicKey, MessageHash>, DbError> {
        let mut stmt = self.0.prepare_cached(
            "SELECT node, last_hash FROM poll_positions WHERE account = ?1 AND namespace = ?2",
        )?;
        let rows = stmt.query_map(params![account_key(account), namespace.get()], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
        })?;
        let mut out = HashMap::new();
        for row in rows {
            let (node, hash) = row?;
            let node = hex::decode(&node)
                .ok()
                .and_then(|b| <[u8; 32]>::try_from(b).ok())
                .ok_or(DbError::Corrupt("poll position node"))?;
            let hash = MessageHash::parse(hash.as_bytes()).ok_or(DbError::Corrupt("last_hash"))?;
            out.insert(Ed25519PublicKey(node), hash);
        }
        Ok(out)
    }

    /// Records how far `node` has been read.
    pub fn set_poll_position(
        &self,
        account: &AccountId,
        namespace: Namespace,
        node: &Ed25519PublicKey,
        hash: &MessageHash,
        now_ms: u64,
    ) -> Result<(), DbError> {
        self.0.execute(
            "INSERT INTO poll_positions (account, namespace, node, last_hash, updated_ms) \
             VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (account, namespace, node) \
             DO UPDATE SET last_hash = ?4, updated_ms = ?5",
            params![
                account_key(account),
                namespace.get(),
                hex::encode(node.0),
                hash.as_str(),
                int(now_ms, "time")?
            ],
        )?;
        Ok(())
    }

    /// Forgets positions not updated since `before_ms` (nodes that left the swarm; anything
    /// they held has expired by then).
    pub fn prune_poll_positions(&self, before_ms: u64) -> Result<(), DbError> {
        self.0.execute(
            "DELETE FROM poll_positions WHERE updated_ms < ?1",
            [int(before_ms, "time")?],
        )?;
        Ok(())
    }

    /// Records a hash as seen; whether it was new.
    pub fn mark_seen(&self, hash: &MessageHash, expires_ms: u64) -> Result<bool, DbError> {
        let inserted = self.0.execute(
            "INSERT INTO seen_hashes (hash, expires_ms) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
            params![hash.as_str(), int(expires_ms, "expiry")?],
        )?;
        Ok(inserted > 0)
    }

    /// Forgets hashes of messages the swarm no longer holds (they cannot come back).
    pub fn prune_seen(&self, now_ms: u64) -> Result<(), DbError> {
        self.0.execute(
            "DELETE FROM seen_hashes WHERE expires_ms < ?1",
            [int(now_ms, "time")?],
        )?;
        Ok(())
    }

    // Outbox.

    pub fn insert_job(
        &self,
        message: Option<MessageId>,
        job: &StoreJob,
        due_ms: u64,
    ) -> Result<JobId, DbError> {
        self.0.execute(
            "INSERT INTO outbox (message, purpose, account, data, timestamp_ms, expiry_ms, \
             next_attempt_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                message.map(|m| m.0),
                job.purpose.to_column(),
                account_key(&job.account),
                job.data,
                int(job.timestamp_ms, "time")?,
                int(job.expiry_ms, "expiry")?,
                int(due_ms, "time")?
            ],
        )?;
        Ok(JobId(self.0.last_insert_rowid()))
    }

    fn jobs_where(&self, filter: &str, arg: i64) -> Result<Vec<Job>, DbError> {
        let mut stmt = self.0.prepare(&format!(
            "SELECT id, message, purpose, account, data, timestamp_ms, expiry_ms, attempts \
             FROM outbox WHERE {filter} ORDER BY id"
        ))?;
        let rows = stmt.query_map([arg], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, Option<i64>>(1)?,
                r.get::<_, i64>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, Vec<u8>>(4)?,
                [
                    r.get::<_, i64>(5)?,
                    r.get::<_, i64>(6)?,
                    r.get::<_, i64>(7)?,
                ],
            ))
        })?;
        rows.map(|r| {
            let (id, message, purpose, account, data, [timestamp, expiry, attempts]) = r?;
            Ok(Job {
                id: JobId(id),
                message: message.map(MessageId),
                attempts: small(attempts, "attempts")?,
                store: StoreJob {
                    purpose: JobPurpose::from_column(purpose)
                        .ok_or(DbError::Corrupt("job purpose"))?,
                    account: AccountId::parse(account.as_bytes())
                        .map_err(|_| DbError::Corrupt("job account"))?,
                    data,
                    timestamp_ms: uint(timestamp, "job time")?,
                    expiry_ms: uint(expiry, "job expiry")?,
                },
            })
        })
        .collect()
    }

    /// Jobs due at `now_ms`.
    pub fn due_jobs(&self, now_ms: u64) -> Result<Vec<Job>, DbError> {
        self.jobs_where(
            "next_attempt_ms IS NOT NULL AND next_attempt_ms <= ?1",
            int(now_ms, "time")?,
        )
    }

    pub fn job(&self, id: JobId) -> Result<Option<Job>, DbError> {
        Ok(self.jobs_where("id = ?1", id.0)?.into_iter().next())
    }

    pub fn jobs_of(&self, message: MessageId) -> Result<Vec<Job>, DbError> {
        self.jobs_where("message = ?1", message.0)
    }

    /// The earliest time a job is due.
    pub fn next_job_due(&self) -> Result<Option<u64>, DbError> {
        let next: Option<i64> =
            self.0
                .query_row("SELECT MIN(next_attempt_ms) FROM outbox", [], |r| r.get(0))?;
        next.map(|t| uint(t, "job time")).transpose()
    }

    /// Records a failed attempt: `attempts` so far, next one at `next_ms` (`None`: given up).
    pub fn reschedule_job(
        &self,
        id: JobId,
        attempts: u32,
        next_ms: Option<u64>,
    ) -> Result<(), DbError> {
        self.0.execute(
            "UPDATE outbox SET attempts = ?2, next_attempt_ms = ?3 WHERE id = ?1",
            params![id.0, attempts, next_ms.map(|t| int(t, "time")).transpose()?],
        )?;
        Ok(())
    }

    pub fn delete_job(&self, id: JobId) -> Result<(), DbError> {
        self.0.execute("DELETE FROM outbox WHERE id = ?1", [id.0])?;
        Ok(())
    }
}

impl Tx<'_> {
    // Copies on one's own swarm, and the updates waiting to go there.

    /// Records that `message` has a copy on this account's swarm under `hash`, kept there
    /// until `expires_ms`.
    pub fn add_swarm_copy(
        &self,
        message: MessageId,
        hash: &MessageHash,
        expires_ms: u64,
    ) -> Result<(), DbError> {
        self.0.execute(
            "INSERT INTO swarm_copies (message, hash, expires_ms) VALUES (?1, ?2, ?3) \
             ON CONFLICT DO NOTHING",
            params![message.0, hash.as_str(), int(expires_ms, "expiry")?],
        )?;
        Ok(())
    }

    /// The hashes of `message`'s copies on this account's swarm.
    pub fn swarm_copies(&self, message: MessageId) -> Result<Vec<MessageHash>, DbError> {
        let mut stmt = self
            .0
            .prepare("SELECT hash FROM swarm_copies WHERE message = ?1 ORDER BY hash")?;
        let rows = stmt.query_map([message.0], |r| r.get::<_, String>(0))?;
        rows.map(|r| MessageHash::parse(r?.as_bytes()).ok_or(DbError::Corrupt("swarm copy hash")))
            .collect()
    }

    /// Queues `hash` for a delete (`expiry_ms` `None`) or an expiry shortened to `expiry_ms`,
    /// worth sending until `until_ms` (when the swarm drops the copy anyway). A delete wins
    /// over an expiry update; of two expiries the earlier wins.
    fn queue_swarm_update(
        &self,
        hash: &str,
        expiry_ms: Option<u64>,
        until_ms: i64,
    ) -> Result<(), DbError> {
        self.0.execute(
            "INSERT INTO swarm_updates (hash, expiry_ms, until_ms) VALUES (?1, ?2, ?3) \
             ON CONFLICT (hash) DO UPDATE SET attempts = 0, \
             expiry_ms = CASE WHEN swarm_updates.expiry_ms IS NULL OR excluded.expiry_ms IS NULL \
                 THEN NULL ELSE MIN(swarm_updates.expiry_ms, excluded.expiry_ms) END",
            params![
                hash,
                expiry_ms.map(|e| int(e, "expiry")).transpose()?,
                until_ms
            ],
        )?;
        Ok(())
    }

    /// Queues a delete of every copy of `message` on this account's swarm that the swarm
    /// would keep past `keep_until_ms`, and forgets the copies. Returns how many were queued.
    pub fn queue_swarm_delete(
        &self,
        message: MessageId,
        keep_until_ms: u64,
    ) -> Result<usize, DbError> {
        let copies: Vec<(String, i64)> = {
            let mut stmt = self.0.prepare(
                "DELETE FROM swarm_copies WHERE message = ?1 RETURNING hash, expires_ms",
            )?;
            let rows = stmt.query_map([message.0], |r| Ok((r.get(0)?, r.get(1)?)))?;
            rows.collect::<Result<_, _>>()?
        };
        let keep = int(keep_until_ms, "time")?;
        let mut queued = 0;
        for (hash, until) in copies.iter().filter(|(_, until)| *until > keep) {
            self.queue_swarm_update(hash, None, *until)?;
            queued += 1;
        }
        Ok(queued)
    }

    /// Queues the expiry updates of the after-read messages of `conversation` read at
    /// `read_ms` (their timers started then): each copy on this account's swarm that would
    /// outlive its message gets the message's expiry.
    pub fn queue_read_expiries(&self, conversation: i64, read_ms: u64) -> Result<(), DbError> {
        let read = int(read_ms, "time")?;
        let copies: Vec<(String, i64, i64)> = {
            let mut stmt = self.0.prepare(
                "SELECT s.hash, m.expires_at_ms, s.expires_ms FROM swarm_copies s \
                 JOIN messages m ON m.id = s.message \
                 WHERE m.conversation = ?1 AND m.read_ms = ?2 AND m.disappearing_mode = 1 \
                 AND m.expires_at_ms IS NOT NULL AND m.expires_at_ms < s.expires_ms",
            )?;
            let rows = stmt.query_map(params![conversation, read], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })?;
            rows.collect::<Result<_, _>>()?
        };
        for (hash, expiry, until) in copies {
            self.queue_swarm_update(&hash, Some(uint(expiry, "expiry")?), until)?;
        }
        Ok(())
    }

    /// The updates still worth sending at `now_ms`: hash and new expiry (`None`: delete).
    pub fn swarm_updates(&self, now_ms: u64) -> Result<Vec<(MessageHash, Option<u64>)>, DbError> {
        let mut stmt = self.0.prepare(
            "SELECT hash, expiry_ms FROM swarm_updates WHERE until_ms > ?1 \
             ORDER BY expiry_ms, hash",
        )?;
        let rows = stmt.query_map([int(now_ms, "time")?], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, Option<i64>>(1)?))
        })?;
        rows.map(|r| {
            let (hash, expiry) = r?;
            Ok((
                MessageHash::parse(hash.as_bytes()).ok_or(DbError::Corrupt("swarm update hash"))?,
                expiry.map(|e| uint(e, "expiry")).transpose()?,
            ))
        })
        .collect()
    }

    /// Records an attempt of the update of `hash` to `expiry_ms`: done, it leaves the queue
    /// (and the copy's known expiry follows); failed, it counts an attempt and leaves after `max_attempts`. An update queued again
    /// since (another expiry, a delete) stays.
    pub fn finish_swarm_update(
        &self,
        hash: &MessageHash,
        expiry_ms: Option<u64>,
        done: bool,
        max_attempts: u32,
    ) -> Result<(), DbError> {
        let expiry = expiry_ms.map(|e| int(e, "expiry")).transpose()?;
        if done {
            self.0.execute(
                "DELETE FROM swarm_updates WHERE hash = ?1 AND expiry_ms IS ?2",
                params![hash.as_str(), expiry],
            )?;
            if let Some(expiry) = expiry {
                self.0.execute(
                    "UPDATE swarm_copies SET expires_ms = MIN(expires_ms, ?2) WHERE hash = ?1",
                    params![hash.as_str(), expiry],
                )?;
            }
        } else {
            self.0.execute(
                "UPDATE swarm_updates SET attempts = attempts + 1 \
                 WHERE hash = ?1 AND expiry_ms IS ?2",
                params![hash.as_str(), expiry],
            )?;
            self.0.execute(
                "DELETE FROM swarm_updates WHERE hash = ?1 AND attempts >= ?2",
                params![hash.as_str(), max_attempts],
            )?;
        }
        Ok(())
    }

    /// Forgets copies and updates of messages the swarm no longer holds.
    pub fn prune_swarm(&self, now_ms: u64) -> Result<(), DbError> {
        let now = int(now_ms, "time")?;
        self.0
            .execute("DELETE FROM swarm_copies WHERE expires_ms <= ?1", [now])?;
        self.0
            .execute("DELETE FROM swarm_updates WHERE until_ms <= ?1", [now])?;
        Ok(())
    }

    /// The live (not deleted) messages of the conversation with `peer`.
    pub fn live_messages_of(&self, peer: &SessionId) -> Result<Vec<MessageId>, DbError> {
        let mut stmt = self.0.prepare(&format!(
            "SELECT m.id FROM messages m JOIN conversations c ON c.id = m.conversation \
             WHERE c.peer = ?1 AND m.state != {DELETED} ORDER BY m.id"
        ))?;
        let rows = stmt.query_map([peer.to_string()], |r| r.get(0))?;
        rows.map(|r| Ok(MessageId(r?))).collect()
    }
}

/// The outbox and poll-position form of an account: 66 hex digits.
fn account_key(account: &AccountId) -> String {
    account.to_string()
}

/// Which contact flag [`Tx::set_contact_flag`] sets.
#[derive(Debug, Clone, Copy)]
pub(crate) enum ContactFlag {
    Approved,
    ApprovedMe,
    Blocked,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(sql: &'static str) -> Migration {
        Migration::sql(sql)
    }

    fn alice() -> Account {
        Account::from_ed25519_seed(&[1; 32])
    }

    fn key() -> DbKey {
        DbKey::of(&alice())
    }

    #[test]
    fn migrations_run_once_and_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("client.db");
        let v2 = "CREATE TABLE extra (x INTEGER);";
        {
            let db = Database::init(Connection::open(&path).unwrap(), &[m(V1)], key()).unwrap();
            let version: i64 = db
                .conn
                .pragma_query_value(None, "user_version", |r| r.get(0))
                .unwrap();
            assert_eq!(version, 1);
        }
        // Reopening at version 1 runs nothing again (V1 would fail: its tables exist).
        Database::init(Connection::open(&path).unwrap(), &[m(V1)], key()).unwrap();
        // A newer build migrates forward.
        let db = Database::init(Connection::open(&path).unwrap(), &[m(V1), m(v2)], key()).unwrap();
        db.conn.execute("INSERT INTO extra VALUES (1)", []).unwrap();
        drop(db);
        // An older build refuses the newer file.
        let err = Database::init(Connection::open(&path).unwrap(), &[m(V1)], key()).unwrap_err();
        assert!(
            matches!(
                err,
                DbError::SchemaTooNew {
                    found: 2,
                    supported: 1
                }
            ),
            "{err}"
        );
    }

    /// A version 3 file (from before swarm copies were recorded) goes through every later
    /// migration: it gains the tables of version 4 and keeps its contacts.
    #[test]
    fn version_4_adds_the_swarm_tables() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("client.db");
        {
            let db =
                Database::init(Connection::open(&path).unwrap(), &MIGRATIONS[..3], key()).unwrap();
            db.conn
                .execute(
                    "INSERT INTO contacts (session_id, created_ms) VALUES ('x', 1)",
                    [],
                )
                .unwrap();
        }
        let db = Database::init(Connection::open(&path).unwrap(), MIGRATIONS, key()).unwrap();
        let version: i64 = db
            .conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .unwrap();
        assert_eq!(version, i64::try_from(MIGRATIONS.len()).unwrap());
        let count = |table: &str| -> i64 {
            db.conn
                .query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |r| r.get(0))
                .unwrap()
        };
        assert_eq!(
            (
                count("contacts"),
                count("swarm_copies"),
                count("swarm_updates")
            ),
            (1, 0, 0)
        );
    }

    #[test]
    fn a_failed_migration_leaves_the_version() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("client.db");
        Database::init(Connection::open(&path).unwrap(), &[m(V1)], key()).unwrap();
        let broken = "CREATE TABLE ok (x INTEGER); THIS IS NOT SQL;";
        assert!(
            Database::init(Connection::open(&path).unwrap(), &[m(V1), m(broken)], key()).is_err()
        );
        let conn = Connection::open(&path).unwrap();
        let version: i64 = conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .unwrap();
        assert_eq!(version, 1);
        let ok: i64 = conn
            .query_row(
                "SELECT COUNT(*) FROM sqlite_master WHERE name = 'ok'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(ok, 0);
    }

    /// Whether `needle` occurs in the database file or its WAL under `dir`.
    fn on_disk(dir: &Path, name: &str, needle: &[u8]) -> bool {
        [name.to_owned(), format!("{name}-wal")].iter().any(|f| {
            std::fs::read(dir.join(f))
                .is_ok_and(|bytes| bytes.windows(needle.len()).any(|w| w == needle))
        })
    }

    /// S-12: a database written before version 3 has its bodies and quotes encrypted by the
    /// migration, and no plaintext stays in the file or the WAL.
    #[test]
    fn the_migration_encrypts_existing_text() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("client.db");
        let body = "plaintext-written-before-v3-4b1d";
        let deleted = "deleted-before-v3-9e2c";
        let peer = SessionId::from_x25519(sotto_crypto::X25519PublicKey([9; 32])).to_string();
        {
            let db =
                Database::init(Connection::open(&path).unwrap(), &MIGRATIONS[..2], key()).unwrap();
            db.conn
                .execute(
                    "INSERT INTO contacts (session_id, created_ms) VALUES (?1, 0)",
                    [&peer],
                )
                .unwrap();
            db.conn
                .execute(
                    "INSERT INTO conversations (peer, created_ms, last_activity_ms) \
                     VALUES (?1, 0, 0)",
                    [&peer],
                )
                .unwrap();
            db.conn
                .execute(
                    "INSERT INTO messages (conversation, author, outgoing, sent_ms, \
                     received_ms, body, quote_author, quote_sent_ms, quote_text, state) \
                     VALUES (1, ?1, 0, 5, 6, ?2, ?1, 4, ?2, 4), \
                     (1, ?1, 0, 7, 8, ?3, NULL, NULL, NULL, 4)",
                    params![peer, body, deleted],
                )
                .unwrap();
            db.conn
                .execute("UPDATE messages SET body = NULL WHERE sent_ms = 7", [])
                .unwrap();
        }
        assert!(on_disk(dir.path(), "client.db", body.as_bytes()));

        let db = Database::open(&path, &alice()).unwrap();
        let record = db.read().message(MessageId(1)).unwrap().unwrap();
        assert_eq!(record.body.as_deref(), Some(body));
        assert_eq!(record.quote.unwrap().text.as_deref(), Some(body));
        assert!(!on_disk(dir.path(), "client.db", body.as_bytes()));
        assert!(!on_disk(dir.path(), "client.db", deleted.as_bytes()));
        drop(db);
        // Another account's key is refused, not misread.
        let bob = Account::from_ed25519_seed(&[2; 32]);
        assert!(matches!(
            Database::open(&path, &bob),
            Err(DbError::OtherAccount)
        ));
    }

    /// A sealed text does not open under another row's identity or column.
    #[test]
    fn sealed_text_is_bound_to_its_row_and_column() {
        let key = key();
        let sealed = key.seal("body", "05ab", 7, "hello").unwrap();
        assert_eq!(key.open("body", "05ab", 7, &sealed).unwrap(), "hello");
        assert!(key.open("body", "05ab", 8, &sealed).is_err());
        assert!(key.open("quote_text", "05ab", 7, &sealed).is_err());
        assert!(key.open("body", "05ab", 7, &sealed[..10]).is_err());
        assert!(key.open("body", "05ab", 7, &[]).is_err());
    }

    #[cfg(unix)]
    #[test]
    fn files_are_private() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("client.db");
        std::fs::write(&path, b"").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let mut db = Database::open(&path, &alice()).unwrap();
        db.write(|tx| {
            tx.ensure_contact(
                &SessionId::from_x25519(sotto_crypto::X25519PublicKey([9; 32])),
                1,
            )
        })
        .unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&path), 0o600);
        assert_eq!(mode(&dir.path().join("client.db-wal")), 0o600);
    }

    #[test]
    fn corrupt_rows_are_errors() {
        let mut db = Database::open_in_memory(&alice()).unwrap();
        db.conn
            .execute(
                "INSERT INTO contacts (session_id, created_ms) VALUES ('not an id', 0)",
                [],
            )
            .unwrap();
        assert!(matches!(
            db.read().contacts(),
            Err(DbError::Corrupt("contact id"))
        ));
        db.conn
            .execute("UPDATE settings SET disappearing_mode = 9", [])
            .unwrap();
        assert!(matches!(
            db.read().settings(),
            Err(DbError::Corrupt("disappearing setting"))
        ));
        // A write that fails inside `write` leaves nothing behind.
        let id = SessionId::from_x25519(sotto_crypto::X25519PublicKey([1; 32]));
        let result: Result<(), DbError> = db.write(|tx| {
            tx.ensure_contact(&id, 1)?;
            Err(DbError::OutOfRange("test"))
        });
        assert!(result.is_err());
        assert_eq!(db.read().contact(&id).unwrap(), None);
    }
}
