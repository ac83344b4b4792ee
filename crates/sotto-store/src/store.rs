use std::collections::BTreeMap;
use std::path::Path;

use rusqlite::{Connection, ErrorCode, OptionalExtension, params};
use sotto_identity::PrefixedId;
use thiserror::Error;

use crate::schema;

/// How many revoked subaccount tokens are kept per account (the oldest are pruned).
pub const MAX_REVOKED_PER_ACCOUNT: usize = 50;
/// How many signed revoke/unrevoke entries (one per token) are kept per account for catch-up
/// (the oldest by request time are pruned).
pub const MAX_REVOCATION_LOG_PER_ACCOUNT: usize = 2 * MAX_REVOKED_PER_ACCOUNT;
/// Default [`Quota::account_bytes`]: 32 MiB of message data per account.
pub const DEFAULT_ACCOUNT_BYTES: u64 = 32 << 20;
/// Default [`Quota::account_messages`].
pub const DEFAULT_ACCOUNT_MESSAGES: u64 = 20_000;
/// The part of the size limit that new messages may not use (one part in this many), so that
/// deletes, expiry changes and revocations still work when the store is otherwise full.
pub const RESERVE_DIVISOR: u64 = 16;

/// What one account may hold. When a new message takes an account over its quota, its oldest
/// messages in public inboxes (namespaces divisible by 10, where anyone may store) are evicted
/// to make room; when that is not enough, the new message is refused with
/// [`StoreError::QuotaExceeded`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quota {
    /// Bytes of message data.
    pub account_bytes: u64,
    /// Messages.
    pub account_messages: u64,
}

impl Default for Quota {
    fn default() -> Self {
        Self {
            account_bytes: DEFAULT_ACCOUNT_BYTES,
            account_messages: DEFAULT_ACCOUNT_MESSAGES,
        }
    }
}

/// What one account holds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AccountUsage {
    /// Messages (including expired ones not yet swept).
    pub messages: u64,
    /// Bytes of message data.
    pub bytes: u64,
}

/// Why a store operation failed.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The database reached its size limit; nothing was written.
    #[error("the message store is full")]
    Full,
    /// The account holds as much as its [`Quota`] allows outside public inboxes; nothing was
    /// written.
    #[error("the account's storage quota is used up; delete messages or wait for them to expire")]
    QuotaExceeded,
    /// The database file's permissions could not be set.
    #[error("cannot restrict the database file's permissions: {0}")]
    Permissions(#[source] std::io::Error),
    /// A value that cannot be stored (e.g. a time beyond the 63-bit range).
    #[error("invalid value: {0}")]
    InvalidInput(&'static str),
    /// The file holds a newer schema than this version understands.
    #[error("the database has schema version {found}; this build understands up to {supported}")]
    SchemaTooNew {
        /// The version in the file.
        found: i64,
        /// The newest version this build knows.
        supported: i64,
    },
    /// A row that does not decode (the file was changed by something else).
    #[error("corrupt row in the message store: {0}")]
    Corrupt(&'static str),
    /// The write was made in a group transaction that was then rolled back or could not be
    /// committed (see [`Store::begin_group`]); nothing of it is kept.
    #[error("the transaction holding this write was not committed")]
    NotCommitted,
    /// Any other SQLite failure.
    #[error("database error: {0}")]
    Database(#[source] rusqlite::Error),
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        match e.sqlite_error_code() {
            Some(ErrorCode::DiskFull) => Self::Full,
            _ => Self::Database(e),
        }
    }
}

/// A message to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewMessage {
    /// The account (prefixed pubkey) the message is stored for.
    pub owner: PrefixedId,
    /// The owner's swarm-space position (computed by the caller from the pubkey).
    pub swarm_space: u64,
    /// The namespace.
    pub namespace: i16,
    /// The message hash (43-character base64 for client messages).
    pub hash: String,
    /// The sender's timestamp, ms.
    pub timestamp_ms: u64,
    /// When the message expires, ms.
    pub expiry_ms: u64,
    /// The message body.
    pub data: Vec<u8>,
}

/// What a store did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreOutcome {
    /// A new message.
    Inserted,
    /// The hash existed; its expiry was raised to this value.
    Extended {
        /// The new expiry, ms.
        expiry_ms: u64,
    },
    /// The hash existed with an expiry at least as late; nothing changed.
    Exists {
        /// The existing expiry, ms.
        expiry_ms: u64,
    },
}

/// A stored message as retrieve returns it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredMessage {
    /// The hash.
    pub hash: String,
    /// The namespace.
    pub namespace: i16,
    /// The sender's timestamp, ms.
    pub timestamp_ms: u64,
    /// The expiry, ms.
    pub expiry_ms: u64,
    /// The body.
    pub data: Vec<u8>,
}

/// Retrieve limits; `None` means unspecified.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RetrieveLimits {
    /// At most this many messages.
    pub max_count: Option<usize>,
    /// At most about this many bytes, counted as the storage server does:
    /// `100 + hash length + data length · 4/3` per message. At least one message is always
    /// returned when there is one.
    pub max_size: Option<usize>,
}

/// One page of a retrieve.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RetrievePage {
    /// The messages, in insertion order.
    pub messages: Vec<StoredMessage>,
    /// Whether more messages follow.
    pub more: bool,
}

/// Which expiries an expire request may change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExpireMode {
    /// Set the expiry whether it is earlier or later.
    Set,
    /// Only make expiries earlier.
    Shorten,
    /// Only make expiries later.
    Extend,
}

/// What an expire changed, each list sorted by hash.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExpireResult {
    /// `(hash, new expiry)` of the messages whose expiry is now the requested one.
    pub updated: Vec<(String, u64)>,
    /// `(hash, current expiry)` of listed messages the mode did not allow to change.
    pub unchanged: Vec<(String, u64)>,
}

/// A message handed to another node for replication, with its owner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RangeMessage {
    /// The row id (a resumable position for paging).
    pub row_id: i64,
    /// The message with its owner.
    pub message: NewMessage,
}

/// Deleted hashes with the proofs of their deletes, each proof once.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeletionProofs {
    /// Each deleted hash with the index of its proof in `proofs`.
    pub hashes: Vec<(String, usize)>,
    /// The proofs (opaque to the store).
    pub proofs: Vec<Vec<u8>>,
}

impl DeletionProofs {
    /// Whether there are none.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.hashes.is_empty()
    }

    /// Each hash with its proof.
    pub fn pairs(&self) -> impl Iterator<Item = (&str, &[u8])> {
        self.hashes
            .iter()
            .filter_map(|(h, i)| self.proofs.get(*i).map(|p| (h.as_str(), p.as_slice())))
    }
}

/// An owner-signed `revoke_subaccount` or `unrevoke_subaccount`, as the store applies and
/// keeps it (the caller has verified the signature).
#[derive(Debug, Clone, Copy)]
pub struct RevocationRecord<'a> {
    /// The account.
    pub owner: &'a PrefixedId,
    /// The account's swarm-space position.
    pub swarm_space: u64,
    /// The tokens it names.
    pub tokens: &'a [[u8; 36]],
    /// A revoke (else an unrevoke).
    pub revoke: bool,
    /// The request's own signed timestamp, ms: what orders it against other requests for
    /// the same token.
    pub timestamp_ms: u64,
    /// The signed request's bytes (opaque to the store), handed on in catch-up.
    pub proof: &'a [u8],
}

/// What applying a [`RevocationRecord`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RevocationOutcome {
    /// Tokens whose state it set (it was the newest request for them).
    pub applied: usize,
    /// Tokens for which a newer request (or a revoke of the same time) was held: unchanged.
    pub stale: usize,
    /// Tokens it took off the revocation list (an unrevoke's `count`).
    pub lifted: usize,
}

/// What a node needs to know of a stored message to judge a delete of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageHead {
    /// The account it is stored for.
    pub owner: PrefixedId,
    /// The namespace.
    pub namespace: i16,
    /// The sender's timestamp, ms.
    pub timestamp_ms: u64,
}

/// How much the store holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Usage {
    /// Messages stored (including expired ones not yet swept).
    pub messages: u64,
    /// Bytes the database file uses.
    pub bytes: u64,
    /// The size limit, bytes.
    pub limit_bytes: u64,
}

/// The message store.
pub struct Store {
    conn: Connection,
    quota: Quota,
}

/// Creates the database file readable by its owner only (0600 on Unix) before SQLite opens it,
/// and narrows an existing one and its `-wal`/`-shm` files. SQLite gives the `-wal` and `-shm`
/// files it creates the database file's mode.
fn make_private(path: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
        std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(path)?;
        for suffix in ["", "-wal", "-shm"] {
            let mut file = path.as_os_str().to_owned();
            file.push(suffix);
            let file = Path::new(&file);
            match std::fs::metadata(file) {
                Ok(meta) if meta.permissions().mode() & 0o077 != 0 => {
                    std::fs::set_permissions(file, std::fs::Permissions::from_mode(0o600))?;
                }
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        Ok(())
    }
}

/// Evicts the oldest public-inbox messages of `owner` (never row `keep`) until it is within
/// `quota`; refuses when that is not enough.
fn enforce_quota(conn: &Connection, owner: i64, keep: i64, quota: Quota) -> Result<(), StoreError> {
    let usage = account_usage(conn, owner)?;
    let over =
        |u: AccountUsage| u.bytes > quota.account_bytes || u.messages > quota.account_messages;
    if !over(usage) {
        return Ok(());
    }
    let mut left = usage;
    let mut victims = Vec::new();
    {
        let mut stmt = conn.prepare_cached(
            "SELECT id, length(data) FROM messages
             WHERE owner = ?1 AND namespace % 10 = 0 AND id != ?2 ORDER BY id",
        )?;
        let mut rows = stmt.query(params![owner, keep])?;
        while over(left) {
            let Some(row) = rows.next()? else {
                return Err(StoreError::QuotaExceeded);
            };
            let len: i64 = row.get(1)?;
            victims.push(row.get::<_, i64>(0)?);
            left.messages = left.messages.saturating_sub(1);
            left.bytes = left.bytes.saturating_sub(to_u64(len)?);
        }
    }
    let mut delete = conn.prepare_cached("DELETE FROM messages WHERE id = ?1")?;
    for id in victims {
        delete.execute([id])?;
    }
    Ok(())
}

fn account_usage(conn: &Connection, owner: i64) -> Result<AccountUsage, StoreError> {
    let (messages, bytes): (i64, i64) = conn
        .prepare_cached(
            "SELECT COUNT(*), COALESCE(SUM(length(data)), 0) FROM messages WHERE owner = ?1",
        )?
        .query_row([owner], |r| Ok((r.get(0)?, r.get(1)?)))?;
    Ok(AccountUsage {
        messages: to_u64(messages)?,
        bytes: to_u64(bytes)?,
    })
}

/// Refuses a new message of `len` bytes that would eat into the reserve kept for deletes.
fn check_room(conn: &Connection, len: usize) -> Result<(), StoreError> {
    let page: i64 = conn.pragma_query_value(None, "page_size", |r| r.get(0))?;
    let pages: i64 = conn.pragma_query_value(None, "page_count", |r| r.get(0))?;
    let free: i64 = conn.pragma_query_value(None, "freelist_count", |r| r.get(0))?;
    let max: i64 = conn.pragma_query_value(None, "max_page_count", |r| r.get(0))?;
    let page = to_u64(page)?;
    let used = to_u64(pages.saturating_sub(free))?.saturating_mul(page);
    let limit = to_u64(max)?.saturating_mul(page);
    let usable = limit.saturating_sub(limit / RESERVE_DIVISOR);
    let wanted = u64::try_from(len).unwrap_or(u64::MAX).saturating_add(page);
    if used.saturating_add(wanted) > usable {
        return Err(StoreError::Full);
    }
    Ok(())
}

/// Size of one message in the storage server's retrieve accounting.
fn retrieve_size(hash: &str, data: &[u8]) -> usize {
    100usize
        .saturating_add(hash.len())
        .saturating_add(data.len().saturating_mul(4) / 3)
}

/// Maps a u64 swarm-space position to an i64 with the same order.
fn space_key(space: u64) -> i64 {
    i64::from_be_bytes((space ^ (1 << 63)).to_be_bytes())
}

fn space_from_key(key: i64) -> u64 {
    u64::from_be_bytes(key.to_be_bytes()) ^ (1 << 63)
}

fn to_i64(v: u64, what: &'static str) -> Result<i64, StoreError> {
    i64::try_from(v).map_err(|_| StoreError::InvalidInput(what))
}

fn to_u64(v: i64) -> Result<u64, StoreError> {
    u64::try_from(v).map_err(|_| StoreError::Corrupt("negative time"))
}

fn to_ns(v: i64) -> Result<i16, StoreError> {
    i16::try_from(v).map_err(|_| StoreError::Corrupt("namespace out of range"))
}

/// Namespace filter: one namespace, or all of them.
fn ns_clause(ns: Option<i16>) -> (&'static str, i64) {
    match ns {
        Some(n) => (" AND namespace = ?3", i64::from(n)),
        // `?3 = ?3` keeps the parameter count the same.
        None => (" AND ?3 = ?3", 0),
    }
}

/// The owner clause of a swarm-space range `(lower, upper]`, wrapping around when
/// `lower ≥ upper`; `?1` and `?2` are the bounds.
fn range_clause(lower: u64, upper: u64) -> &'static str {
    if lower < upper {
        "o.swarm_space > ?1 AND o.swarm_space <= ?2"
    } else {
        "(o.swarm_space > ?1 OR o.swarm_space <= ?2)"
    }
}

/// Records that `hash` was deleted; kept until `expiry`.
fn bury(conn: &Connection, hash: &str, expiry: i64) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO tombstones (hash, expiry) VALUES (?1, ?2)
         ON CONFLICT(hash) DO UPDATE SET expiry = max(expiry, excluded.expiry)",
    )?
    .execute(params![hash, expiry])?;
    Ok(())
}

/// The row of `proof` in `delete_proofs`, added if new.
fn proof_id(conn: &Connection, proof: &[u8]) -> Result<i64, StoreError> {
    conn.prepare_cached(
        "INSERT INTO delete_proofs (proof) VALUES (?1) ON CONFLICT(proof) DO NOTHING",
    )?
    .execute([proof])?;
    Ok(conn
        .prepare_cached("SELECT id FROM delete_proofs WHERE proof = ?1")?
        .query_row([proof], |r| r.get(0))?)
}

fn is_tombstoned(conn: &Connection, hash: &str) -> Result<bool, StoreError> {
    Ok(conn
        .prepare_cached("SELECT 1 FROM tombstones WHERE hash = ?1")?
        .query_row([hash], |_| Ok(()))
        .optional()?
        .is_some())
}

impl Store {
    /// Opens (or creates) the store at `path`, limited to about `limit_bytes`, with the
    /// default [`Quota`]. The file and its `-wal`/`-shm` are readable by their owner only, and
    /// deleted content is overwritten (`secure_delete`).
    pub fn open(path: &Path, limit_bytes: u64) -> Result<Self, StoreError> {
        make_private(path).map_err(StoreError::Permissions)?;
        Self::init(Connection::open(path)?, limit_bytes)
    }

    /// Sets what one account may hold.
    pub fn set_quota(&mut self, quota: Quota) {
        self.quota = quota;
    }

    /// What one account may hold.
    #[must_use]
    pub fn quota(&self) -> Quota {
        self.quota
    }

    /// What `owner` holds.
    pub fn account_usage(&self, owner: &PrefixedId) -> Result<AccountUsage, StoreError> {
        match Self::owner_id(&self.conn, owner)? {
            Some(id) => account_usage(&self.conn, id),
            None => Ok(AccountUsage::default()),
        }
    }

    /// An in-memory store, for tests and tools.
    pub fn open_in_memory() -> Result<Self, StoreError> {
        Self::init(Connection::open_in_memory()?, 1 << 30)
    }

    fn init(conn: Connection, limit_bytes: u64) -> Result<Self, StoreError> {
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.pragma_update(None, "secure_delete", "ON")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        let page_size: i64 = conn.pragma_query_value(None, "page_size", |r| r.get(0))?;
        let pages = to_i64(limit_bytes, "size limit")? / page_size.max(512);
        conn.pragma_update(None, "max_page_count", pages.max(16))?;
        let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
        if version > schema::VERSION {
            return Err(StoreError::SchemaTooNew {
                found: version,
                supported: schema::VERSION,
            });
        }
        let missing = match version {
            0 => format!(
                "{}{}{}{}{}",
                schema::SCHEMA,
                schema::TOMBSTONES,
                schema::DELETE_PROOFS,
                schema::FORWARD_QUEUE,
                schema::REVOCATION_LOG
            ),
            1 => format!(
                "{}{}{}{}",
                schema::TOMBSTONES,
                schema::DELETE_PROOFS,
                schema::FORWARD_QUEUE,
                schema::REVOCATION_LOG
            ),
            2 => format!(
                "{}{}{}",
                schema::DELETE_PROOFS,
                schema::FORWARD_QUEUE,
                schema::REVOCATION_LOG
            ),
            3 => format!("{}{}", schema::FORWARD_QUEUE, schema::REVOCATION_LOG),
            4 => schema::REVOCATION_LOG.to_owned(),
            _ => String::new(),
        };
        if !missing.is_empty() {
            conn.execute_batch(&format!(
                "BEGIN; {missing} PRAGMA user_version = {}; COMMIT;",
                schema::VERSION
            ))?;
        }
        Ok(Self {
            conn,
            quota: Quota::default(),
        })
    }

    fn owner_id(tx: &Connection, owner: &PrefixedId) -> Result<Option<i64>, StoreError> {
        Ok(tx
            .query_row(
                "SELECT id FROM owners WHERE pubkey = ?1",
                [&owner.to_bytes()[..]],
                |r| r.get(0),
            )
            .optional()?)
    }

    fn ensure_owner(tx: &Connection, owner: &PrefixedId, space: u64) -> Result<i64, StoreError> {
        tx.execute(
            "INSERT INTO owners (pubkey, swarm_space) VALUES (?1, ?2) ON CONFLICT(pubkey) DO NOTHING",
            params![&owner.to_bytes()[..], space_key(space)],
        )?;
        Self::owner_id(tx, owner)?.ok_or(StoreError::Corrupt("owner row vanished"))
    }

    /// Stores a message. `public_outbox` replaces the owner's other messages in that namespace.
    /// A new message never uses the reserve kept for deletes ([`StoreError::Full`]) and stays
    /// within the account's [`Quota`], evicting the account's oldest public-inbox messages or
    /// failing with [`StoreError::QuotaExceeded`].
    pub fn store(
        &mut self,
        msg: &NewMessage,
        public_outbox: bool,
    ) -> Result<StoreOutcome, StoreError> {
        let (ts, expiry) = (
            to_i64(msg.timestamp_ms, "timestamp")?,
            to_i64(msg.expiry_ms, "expiry")?,
        );
        let tx = self.conn.savepoint()?;
        let existing: Option<i64> = tx
            .query_row(
                "SELECT expiry FROM messages WHERE hash = ?1",
                [&msg.hash],
                |r| r.get(0),
            )
            .optional()?;
        let outcome = match existing {
            Some(old) if old >= expiry => StoreOutcome::Exists {
                expiry_ms: to_u64(old)?,
            },
            Some(_) => {
                tx.execute(
                    "UPDATE messages SET expiry = ?1 WHERE hash = ?2",
                    params![expiry, &msg.hash],
                )?;
                StoreOutcome::Extended {
                    expiry_ms: msg.expiry_ms,
                }
            }
            None => {
                let owner = Self::ensure_owner(&tx, &msg.owner, msg.swarm_space)?;
                if public_outbox {
                    tx.execute(
                        "DELETE FROM messages WHERE owner = ?1 AND namespace = ?2",
                        params![owner, msg.namespace],
                    )?;
                    // The trigger may have removed the owner with its last message.
                }
                let owner = Self::ensure_owner(&tx, &msg.owner, msg.swarm_space)?;
                check_room(&tx, msg.data.len())?;
                tx.execute(
                    "INSERT INTO messages (hash, owner, namespace, timestamp, expiry, data)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                    params![&msg.hash, owner, msg.namespace, ts, expiry, &msg.data],
                )?;
                enforce_quota(&tx, owner, tx.last_insert_rowid(), self.quota)?;
                StoreOutcome::Inserted
            }
        };
        tx.commit()?;
        Ok(outcome)
    }

    /// Inserts replicated messages, ignoring hashes already present or deleted here, and those
    /// an account's [`Quota`] has no room for. Returns how many were new.
    pub fn insert_replicated(
        &mut self,
        msgs: &[NewMessage],
        now_ms: u64,
    ) -> Result<usize, StoreError> {
        let now = to_i64(now_ms, "now")?;
        let tx = self.conn.savepoint()?;
        let mut inserted = 0;
        for msg in msgs {
            let expiry = to_i64(msg.expiry_ms, "expiry")?;
            if expiry <= now || is_tombstoned(&tx, &msg.hash)? {
                continue;
            }
            let owner = Self::ensure_owner(&tx, &msg.owner, msg.swarm_space)?;
            check_room(&tx, msg.data.len())?;
            let new = tx.execute(
                "INSERT INTO messages (hash, owner, namespace, timestamp, expiry, data)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT(hash) DO NOTHING",
                params![
                    &msg.hash,
                    owner,
                    msg.namespace,
                    to_i64(msg.timestamp_ms, "timestamp")?,
                    expiry,
                    &msg.data
                ],
            )?;
            if new == 0 {
                continue;
            }
            let id = tx.last_insert_rowid();
            match enforce_quota(&tx, owner, id, self.quota) {
                Ok(()) => inserted += new,
                Err(StoreError::QuotaExceeded) => {
                    tx.execute("DELETE FROM messages WHERE id = ?1", [id])?;
                }
                Err(e) => return Err(e),
            }
        }
        tx.commit()?;
        Ok(inserted)
    }

    /// Messages of `owner` in `namespace` after `last_hash` (from the start when it is `None` or
    /// unknown in that namespace), excluding expired ones.
    pub fn retrieve(
        &self,
        owner: &PrefixedId,
        namespace: i16,
        last_hash: Option<&str>,
        limits: RetrieveLimits,
        now_ms: u64,
    ) -> Result<RetrievePage, StoreError> {
        let Some(owner_id) = Self::owner_id(&self.conn, owner)? else {
            return Ok(RetrievePage::default());
        };
        let after: i64 = match last_hash {
            Some(h) => self
                .conn
                .query_row(
                    "SELECT id FROM messages WHERE hash = ?1 AND owner = ?2 AND namespace = ?3",
                    params![h, owner_id, namespace],
                    |r| r.get(0),
                )
                .optional()?
                .unwrap_or(0),
            None => 0,
        };
        let mut stmt = self.conn.prepare_cached(
            "SELECT hash, timestamp, expiry, data FROM messages
             WHERE owner = ?1 AND namespace = ?2 AND id > ?3 AND expiry > ?4 ORDER BY id",
        )?;
        let mut rows = stmt.query(params![owner_id, namespace, after, to_i64(now_ms, "now")?])?;
        let mut page = RetrievePage::default();
        let mut size = 0usize;
        while let Some(row) = rows.next()? {
            let hash: String = row.get(0)?;
            let data: Vec<u8> = row.get(3)?;
            let full_count = limits
                .max_count
                .is_some_and(|max| page.messages.len() >= max);
            size = size.saturating_add(retrieve_size(&hash, &data));
            let over_size =
                limits.max_size.is_some_and(|max| size > max) && !page.messages.is_empty();
            if full_count || over_size {
                page.more = true;
                break;
            }
            page.messages.push(StoredMessage {
                hash,
                namespace,
                timestamp_ms: to_u64(row.get(1)?)?,
                expiry_ms: to_u64(row.get(2)?)?,
                data,
            });
        }
        Ok(page)
    }

    /// Deletes the listed messages of `owner`; returns the hashes deleted, sorted.
    pub fn delete(
        &mut self,
        owner: &PrefixedId,
        hashes: &[String],
    ) -> Result<Vec<String>, StoreError> {
        let tx = self.conn.savepoint()?;
        let mut deleted = Vec::new();
        if let Some(owner_id) = Self::owner_id(&tx, owner)? {
            let mut stmt = tx.prepare_cached(
                "DELETE FROM messages WHERE owner = ?1 AND hash = ?2 RETURNING expiry",
            )?;
            for hash in hashes {
                let expiry: Option<i64> = stmt
                    .query_row(params![owner_id, hash], |r| r.get(0))
                    .optional()?;
                if let Some(expiry) = expiry {
                    bury(&tx, hash, expiry)?;
                    deleted.push(hash.clone());
                }
            }
        }
        tx.commit()?;
        deleted.sort();
        deleted.dedup();
        Ok(deleted)
    }

    fn delete_where(
        &mut self,
        owner: &PrefixedId,
        namespace: Option<i16>,
        extra: &str,
        bound: i64,
    ) -> Result<BTreeMap<i16, Vec<String>>, StoreError> {
        let tx = self.conn.savepoint()?;
        let mut deleted: BTreeMap<i16, Vec<String>> = BTreeMap::new();
        if let Some(owner_id) = Self::owner_id(&tx, owner)? {
            let (ns_sql, ns) = ns_clause(namespace);
            let sql = format!(
                "DELETE FROM messages WHERE owner = ?1 AND {extra}{ns_sql} RETURNING namespace, hash, expiry"
            );
            let mut stmt = tx.prepare(&sql)?;
            let mut rows = stmt.query(params![owner_id, bound, ns])?;
            while let Some(row) = rows.next()? {
                let hash: String = row.get(1)?;
                bury(&tx, &hash, row.get(2)?)?;
                deleted.entry(to_ns(row.get(0)?)?).or_default().push(hash);
            }
        }
        tx.commit()?;
        deleted.values_mut().for_each(|v| v.sort());
        Ok(deleted)
    }

    /// Deletes all of `owner`'s messages in `namespace` (all namespaces for `None`); returns the
    /// deleted hashes by namespace, sorted.
    pub fn delete_all(
        &mut self,
        owner: &PrefixedId,
        namespace: Option<i16>,
    ) -> Result<BTreeMap<i16, Vec<String>>, StoreError> {
        self.delete_where(owner, namespace, "?2 = ?2", 0)
    }

    /// Deletes `owner`'s messages with `timestamp ≤ before_ms`.
    pub fn delete_before(
        &mut self,
        owner: &PrefixedId,
        namespace: Option<i16>,
        before_ms: u64,
    ) -> Result<BTreeMap<i16, Vec<String>>, StoreError> {
        self.delete_where(
            owner,
            namespace,
            "timestamp <= ?2",
            to_i64(before_ms, "before")?,
        )
    }

    /// Changes the expiries of listed messages (each with its own new expiry). Returns the updated
    /// `(hash, expiry)` pairs and, for the listed messages that exist but were not changed, their
    /// current expiry. Both sorted by hash.
    pub fn expire(
        &mut self,
        owner: &PrefixedId,
        changes: &[(String, u64)],
        mode: ExpireMode,
    ) -> Result<ExpireResult, StoreError> {
        let tx = self.conn.savepoint()?;
        let (mut updated, mut unchanged) = (Vec::new(), Vec::new());
        if let Some(owner_id) = Self::owner_id(&tx, owner)? {
            let mut get =
                tx.prepare_cached("SELECT expiry FROM messages WHERE owner = ?1 AND hash = ?2")?;
            let mut set = tx
                .prepare_cached("UPDATE messages SET expiry = ?3 WHERE owner = ?1 AND hash = ?2")?;
            for (hash, new) in changes {
                let new_i = to_i64(*new, "expiry")?;
                let Some(old): Option<i64> = get
                    .query_row(params![owner_id, hash], |r| r.get(0))
                    .optional()?
                else {
                    continue;
                };
                let allowed = match mode {
                    ExpireMode::Set => old != new_i,
                    ExpireMode::Shorten => new_i < old,
                    ExpireMode::Extend => new_i > old,
                };
                if allowed {
                    set.execute(params![owner_id, hash, new_i])?;
                    updated.push((hash.clone(), *new));
                } else if old == new_i && mode == ExpireMode::Set {
                    updated.push((hash.clone(), *new));
                } else {
                    unchanged.push((hash.clone(), to_u64(old)?));
                }
            }
        }
        tx.commit()?;
        updated.sort();
        unchanged.sort();
        Ok(ExpireResult { updated, unchanged })
    }

    /// Shortens every expiry later than `expiry_ms` in `namespace` (all for `None`); returns the
    /// updated hashes by namespace, sorted.
    pub fn expire_all(
        &mut self,
        owner: &PrefixedId,
        namespace: Option<i16>,
        expiry_ms: u64,
    ) -> Result<BTreeMap<i16, Vec<String>>, StoreError> {
        let expiry = to_i64(expiry_ms, "expiry")?;
        let tx = self.conn.savepoint()?;
        let mut updated: BTreeMap<i16, Vec<String>> = BTreeMap::new();
        if let Some(owner_id) = Self::owner_id(&tx, owner)? {
            let (ns_sql, ns) = ns_clause(namespace);
            let sql = format!(
                "UPDATE messages SET expiry = ?2 WHERE owner = ?1 AND expiry > ?2{ns_sql}
                 RETURNING namespace, hash"
            );
            let mut stmt = tx.prepare(&sql)?;
            let mut rows = stmt.query(params![owner_id, expiry, ns])?;
            while let Some(row) = rows.next()? {
                updated
                    .entry(to_ns(row.get(0)?)?)
                    .or_default()
                    .push(row.get(1)?);
            }
        }
        tx.commit()?;
        updated.values_mut().for_each(|v| v.sort());
        Ok(updated)
    }

    /// The expiries of the listed messages that exist.
    pub fn get_expiries(
        &self,
        owner: &PrefixedId,
        hashes: &[String],
    ) -> Result<BTreeMap<String, u64>, StoreError> {
        let mut out = BTreeMap::new();
        if let Some(owner_id) = Self::owner_id(&self.conn, owner)? {
            let mut stmt = self
                .conn
                .prepare_cached("SELECT expiry FROM messages WHERE owner = ?1 AND hash = ?2")?;
            for hash in hashes {
                if let Some(e) = stmt
                    .query_row(params![owner_id, hash], |r| r.get::<_, i64>(0))
                    .optional()?
                {
                    out.insert(hash.clone(), to_u64(e)?);
                }
            }
        }
        Ok(out)
    }

    /// Deletes every message (and every tombstone) that has expired by `now_ms`; returns how
    /// many messages.
    pub fn sweep_expired(&mut self, now_ms: u64) -> Result<usize, StoreError> {
        let now = to_i64(now_ms, "now")?;
        let swept = self
            .conn
            .execute("DELETE FROM messages WHERE expiry <= ?1", [now])?;
        self.conn
            .execute("DELETE FROM tombstones WHERE expiry <= ?1", [now])?;
        self.conn.execute(
            "DELETE FROM delete_proofs WHERE NOT EXISTS
             (SELECT 1 FROM tombstones t WHERE t.proof = delete_proofs.id)",
            [],
        )?;
        self.conn
            .execute("DELETE FROM forward_queue WHERE expiry <= ?1", [now])?;
        Ok(swept)
    }

    /// Starts a transaction that the following operations join (each of them in its own
    /// savepoint, so one that fails undoes only its own changes) until [`Store::commit_group`]:
    /// group commit of writes made together. `BEGIN IMMEDIATE`, so the group holds the write
    /// lock from the start.
    pub fn begin_group(&mut self) -> Result<(), StoreError> {
        self.conn.execute_batch("BEGIN IMMEDIATE")?;
        Ok(())
    }

    /// Whether a group transaction is open. SQLite may end one by itself (a full disk rolls
    /// the whole transaction back): then the writes made in it since [`Store::begin_group`]
    /// are gone.
    #[must_use]
    pub fn in_group(&self) -> bool {
        !self.conn.is_autocommit()
    }

    /// Commits the group transaction (nothing to do when none is open).
    pub fn commit_group(&mut self) -> Result<(), StoreError> {
        if self.in_group() {
            self.conn.execute_batch("COMMIT")?;
        }
        Ok(())
    }

    /// Rolls the group transaction back (nothing to do when none is open).
    pub fn rollback_group(&mut self) -> Result<(), StoreError> {
        if self.in_group() {
            self.conn.execute_batch("ROLLBACK")?;
        }
        Ok(())
    }

    /// Appends `bodies` (in order) to the queue of requests for `peer` (32 bytes, opaque
    /// here), each kept until `expiry_ms` at the latest.
    pub fn queue_forwards(
        &mut self,
        peer: &[u8],
        bodies: &[Vec<u8>],
        expiry_ms: u64,
    ) -> Result<(), StoreError> {
        let expiry = to_i64(expiry_ms, "expiry")?;
        let tx = self.conn.savepoint()?;
        {
            let mut stmt = tx.prepare_cached(
                "INSERT INTO forward_queue (peer, body, expiry) VALUES (?1, ?2, ?3)",
            )?;
            for body in bodies {
                stmt.execute(params![peer, body, expiry])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// The oldest queued requests for `peer` that have not expired by `now_ms`, in the order
    /// they were queued, up to `max_bytes` of bodies (at least one when there is one): each
    /// with its queue id.
    pub fn queued_forwards(
        &self,
        peer: &[u8],
        max_bytes: usize,
        now_ms: u64,
    ) -> Result<Vec<(i64, Vec<u8>)>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, body FROM forward_queue WHERE peer = ?1 AND expiry > ?2 ORDER BY id",
        )?;
        let mut rows = stmt.query(params![peer, to_i64(now_ms, "now")?])?;
        let (mut out, mut bytes) = (Vec::new(), 0usize);
        while let Some(row) = rows.next()? {
            let body: Vec<u8> = row.get(1)?;
            bytes = bytes.saturating_add(body.len());
            if bytes > max_bytes && !out.is_empty() {
                break;
            }
            out.push((row.get(0)?, body));
        }
        Ok(out)
    }

    /// Removes queued requests by id.
    pub fn unqueue_forwards(&mut self, ids: &[i64]) -> Result<(), StoreError> {
        let tx = self.conn.savepoint()?;
        {
            let mut stmt = tx.prepare_cached("DELETE FROM forward_queue WHERE id = ?1")?;
            for id in ids {
                stmt.execute([id])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// Removes every queued request for `peer`; returns how many.
    pub fn drop_forward_queue(&mut self, peer: &[u8]) -> Result<usize, StoreError> {
        Ok(self
            .conn
            .execute("DELETE FROM forward_queue WHERE peer = ?1", [peer])?)
    }

    /// The peers with queued requests, each with how many.
    pub fn queued_peers(&self) -> Result<Vec<(Vec<u8>, u64)>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT peer, COUNT(*) FROM forward_queue GROUP BY peer")?;
        let rows = stmt.query_map([], |r| Ok((r.get::<_, Vec<u8>>(0)?, r.get::<_, i64>(1)?)))?;
        let mut out = Vec::new();
        for row in rows {
            let (peer, n) = row?;
            out.push((peer, to_u64(n)?));
        }
        Ok(out)
    }

    /// Which of `hashes` were deleted here (and have not expired since).
    pub fn tombstoned(&self, hashes: &[String]) -> Result<Vec<String>, StoreError> {
        let mut out = Vec::new();
        for hash in hashes {
            if is_tombstoned(&self.conn, hash)? {
                out.push(hash.clone());
            }
        }
        Ok(out)
    }

    /// Keeps `proof` (the owner's signed request that deleted them, opaque here) with the
    /// tombstones of `hashes`, where they have none yet. Returns how many tombstones took it.
    pub fn attach_delete_proof(
        &mut self,
        proof: &[u8],
        hashes: &[String],
    ) -> Result<usize, StoreError> {
        if hashes.is_empty() {
            return Ok(0);
        }
        let tx = self.conn.savepoint()?;
        let id = proof_id(&tx, proof)?;
        let mut attached = 0;
        {
            let mut stmt = tx.prepare_cached(
                "UPDATE tombstones SET proof = ?2 WHERE hash = ?1 AND proof IS NULL",
            )?;
            for hash in hashes {
                attached += stmt.execute(params![hash, id])?;
            }
        }
        tx.commit()?;
        Ok(attached)
    }

    /// Which of `hashes` were deleted here with a known proof, and those proofs, each once
    /// (what a node that missed the deletes may verify and apply). Tombstones without a proof
    /// are left out.
    pub fn deletion_proofs(&self, hashes: &[String]) -> Result<DeletionProofs, StoreError> {
        let mut ids = self
            .conn
            .prepare_cached("SELECT proof FROM tombstones WHERE hash = ?1 AND proof IS NOT NULL")?;
        let mut bytes = self
            .conn
            .prepare_cached("SELECT proof FROM delete_proofs WHERE id = ?1")?;
        let mut out = DeletionProofs::default();
        let mut index: BTreeMap<i64, usize> = BTreeMap::new();
        for hash in hashes {
            let Some(id) = ids.query_row([hash], |r| r.get::<_, i64>(0)).optional()? else {
                continue;
            };
            let at = match index.get(&id) {
                Some(at) => *at,
                None => {
                    let Some(proof) = bytes.query_row([id], |r| r.get(0)).optional()? else {
                        continue;
                    };
                    out.proofs.push(proof);
                    let at = out.proofs.len().saturating_sub(1);
                    index.insert(id, at);
                    at
                }
            };
            out.hashes.push((hash.clone(), at));
        }
        Ok(out)
    }

    /// The owner, namespace and timestamp of the message with this hash, if it is here.
    pub fn message_head(&self, hash: &str) -> Result<Option<MessageHead>, StoreError> {
        let row: Option<(Vec<u8>, i64, i64)> = self
            .conn
            .prepare_cached(
                "SELECT o.pubkey, m.namespace, m.timestamp FROM messages m
                 JOIN owners o ON o.id = m.owner WHERE m.hash = ?1",
            )?
            .query_row([hash], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .optional()?;
        row.map(|(pubkey, ns, ts)| {
            Ok(MessageHead {
                owner: PrefixedId::from_bytes(&pubkey)
                    .map_err(|_| StoreError::Corrupt("owner pubkey"))?,
                namespace: to_ns(ns)?,
                timestamp_ms: to_u64(ts)?,
            })
        })
        .transpose()
    }

    /// Deletes `owner`'s message `hash` because of a delete made elsewhere, whose signed
    /// request `proof` the caller has verified; the tombstone keeps the proof. Returns whether
    /// the message was here.
    pub fn delete_proven(
        &mut self,
        owner: &PrefixedId,
        hash: &str,
        proof: &[u8],
    ) -> Result<bool, StoreError> {
        let tx = self.conn.savepoint()?;
        let mut deleted = false;
        if let Some(owner_id) = Self::owner_id(&tx, owner)? {
            let expiry: Option<i64> = tx
                .prepare_cached(
                    "DELETE FROM messages WHERE owner = ?1 AND hash = ?2 RETURNING expiry",
                )?
                .query_row(params![owner_id, hash], |r| r.get(0))
                .optional()?;
            if let Some(expiry) = expiry {
                bury(&tx, hash, expiry)?;
                let id = proof_id(&tx, proof)?;
                tx.execute(
                    "UPDATE tombstones SET proof = ?2 WHERE hash = ?1 AND proof IS NULL",
                    params![hash, id],
                )?;
                deleted = true;
            }
        }
        tx.commit()?;
        Ok(deleted)
    }

    /// Records revoked subaccount tokens for `owner`, keeping the newest
    /// [`MAX_REVOKED_PER_ACCOUNT`].
    pub fn revoke(
        &mut self,
        owner: &PrefixedId,
        space: u64,
        tokens: &[[u8; 36]],
        now_ms: u64,
    ) -> Result<(), StoreError> {
        let now = to_i64(now_ms, "now")?;
        let tx = self.conn.savepoint()?;
        let owner_id = Self::ensure_owner(&tx, owner, space)?;
        for token in tokens {
            tx.execute(
                "INSERT INTO revoked_subaccounts (owner, token, timestamp) VALUES (?1, ?2, ?3)
                 ON CONFLICT(owner, token) DO UPDATE SET timestamp = excluded.timestamp",
                params![owner_id, &token[..], now],
            )?;
        }
        tx.execute(
            "DELETE FROM revoked_subaccounts WHERE owner = ?1 AND rowid NOT IN
             (SELECT rowid FROM revoked_subaccounts WHERE owner = ?1 ORDER BY timestamp DESC, rowid DESC LIMIT ?2)",
            params![owner_id, MAX_REVOKED_PER_ACCOUNT],
        )?;
        tx.commit()?;
        Ok(())
    }

    /// Removes tokens from the revocation list; returns how many were there.
    pub fn unrevoke(
        &mut self,
        owner: &PrefixedId,
        tokens: &[[u8; 36]],
    ) -> Result<usize, StoreError> {
        let tx = self.conn.savepoint()?;
        let mut count = 0;
        if let Some(owner_id) = Self::owner_id(&tx, owner)? {
            for token in tokens {
                count += tx.execute(
                    "DELETE FROM revoked_subaccounts WHERE owner = ?1 AND token = ?2",
                    params![owner_id, &token[..]],
                )?;
            }
            tx.execute(
                "DELETE FROM owners WHERE id = ?1
                 AND NOT EXISTS (SELECT 1 FROM messages WHERE owner = ?1)
                 AND NOT EXISTS (SELECT 1 FROM revoked_subaccounts WHERE owner = ?1)",
                [owner_id],
            )?;
        }
        tx.commit()?;
        Ok(count)
    }

    /// Applies an owner-signed revoke or unrevoke, token by token, unless a newer request for
    /// the token is held: the newest request by its own timestamp wins, and of two with the
    /// same timestamp the revoke wins, so the order in which requests arrive (live, replayed
    /// or in catch-up) does not matter. Keeps the request for catch-up (the newest
    /// [`MAX_REVOCATION_LOG_PER_ACCOUNT`] per account) and the revocation list at the newest
    /// [`MAX_REVOKED_PER_ACCOUNT`].
    pub fn apply_revocation(
        &mut self,
        rec: &RevocationRecord<'_>,
    ) -> Result<RevocationOutcome, StoreError> {
        let ts = to_i64(rec.timestamp_ms, "timestamp")?;
        let key = rec.owner.to_bytes();
        let tx = self.conn.savepoint()?;
        let mut out = RevocationOutcome::default();
        let proof = {
            tx.prepare_cached(
                "INSERT INTO revocation_proofs (proof) VALUES (?1) ON CONFLICT(proof) DO NOTHING",
            )?
            .execute([rec.proof])?;
            tx.prepare_cached("SELECT id FROM revocation_proofs WHERE proof = ?1")?
                .query_row([rec.proof], |r| r.get::<_, i64>(0))?
        };
        let owner_id = if rec.revoke {
            Some(Self::ensure_owner(&tx, rec.owner, rec.swarm_space)?)
        } else {
            Self::owner_id(&tx, rec.owner)?
        };
        for token in rec.tokens {
            let held: Option<(i64, bool)> = tx
                .prepare_cached(
                    "SELECT timestamp, revoked FROM revocation_log WHERE owner = ?1 AND token = ?2",
                )?
                .query_row(params![&key[..], &token[..]], |r| {
                    Ok((r.get(0)?, r.get(1)?))
                })
                .optional()?;
            let newer_held = held.is_some_and(|(t, revoked)| t > ts || (t == ts && revoked));
            if newer_held {
                out.stale += 1;
                continue;
            }
            tx.prepare_cached(
                "INSERT INTO revocation_log (owner, token, swarm_space, timestamp, revoked, proof)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT(owner, token) DO UPDATE SET swarm_space = excluded.swarm_space,
                 timestamp = excluded.timestamp, revoked = excluded.revoked, proof = excluded.proof",
            )?
            .execute(params![
                &key[..],
                &token[..],
                space_key(rec.swarm_space),
                ts,
                rec.revoke,
                proof
            ])?;
            out.applied += 1;
            match (rec.revoke, owner_id) {
                (true, Some(id)) => {
                    tx.prepare_cached(
                        "INSERT INTO revoked_subaccounts (owner, token, timestamp) VALUES (?1, ?2, ?3)
                         ON CONFLICT(owner, token) DO UPDATE SET timestamp = excluded.timestamp",
                    )?
                    .execute(params![id, &token[..], ts])?;
                }
                (false, Some(id)) => {
                    out.lifted += tx
                        .prepare_cached(
                            "DELETE FROM revoked_subaccounts WHERE owner = ?1 AND token = ?2",
                        )?
                        .execute(params![id, &token[..]])?;
                }
                (_, None) => {}
            }
        }
        if let Some(id) = owner_id {
            tx.execute(
                "DELETE FROM revoked_subaccounts WHERE owner = ?1 AND rowid NOT IN
                 (SELECT rowid FROM revoked_subaccounts WHERE owner = ?1 ORDER BY timestamp DESC, rowid DESC LIMIT ?2)",
                params![id, MAX_REVOKED_PER_ACCOUNT],
            )?;
            tx.execute(
                "DELETE FROM owners WHERE id = ?1
                 AND NOT EXISTS (SELECT 1 FROM messages WHERE owner = ?1)
                 AND NOT EXISTS (SELECT 1 FROM revoked_subaccounts WHERE owner = ?1)",
                [id],
            )?;
        }
        tx.execute(
            "DELETE FROM revocation_log WHERE owner = ?1 AND token NOT IN
             (SELECT token FROM revocation_log WHERE owner = ?1 ORDER BY timestamp DESC, token DESC LIMIT ?2)",
            params![&key[..], MAX_REVOCATION_LOG_PER_ACCOUNT],
        )?;
        tx.execute(
            "DELETE FROM revocation_proofs WHERE NOT EXISTS
             (SELECT 1 FROM revocation_log WHERE proof = revocation_proofs.id)",
            [],
        )?;
        tx.commit()?;
        Ok(out)
    }

    /// Up to `limit` signed revoke/unrevoke requests that are the newest for some token of an
    /// account whose swarm space lies in `(lower, upper]` (wrapping as in
    /// [`Store::range_after`]), with row id greater than `after_id`, in row order: what a node
    /// hands a peer catching up.
    pub fn revocations_after(
        &self,
        lower: u64,
        upper: u64,
        after_id: i64,
        limit: usize,
    ) -> Result<Vec<(i64, Vec<u8>)>, StoreError> {
        let sql = format!(
            "SELECT p.id, p.proof FROM revocation_proofs p
             WHERE p.id > ?3 AND EXISTS (SELECT 1 FROM revocation_log o
                 WHERE o.proof = p.id AND {})
             ORDER BY p.id LIMIT ?4",
            range_clause(lower, upper)
        );
        let mut stmt = self.conn.prepare_cached(&sql)?;
        let rows = stmt.query_map(
            params![
                space_key(lower),
                space_key(upper),
                after_id,
                i64::try_from(limit).unwrap_or(i64::MAX)
            ],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Whether `token` is revoked for `owner`.
    pub fn is_revoked(&self, owner: &PrefixedId, token: &[u8; 36]) -> Result<bool, StoreError> {
        Ok(self
            .conn
            .query_row(
                "SELECT 1 FROM revoked_subaccounts r JOIN owners o ON o.id = r.owner
                 WHERE o.pubkey = ?1 AND r.token = ?2",
                params![&owner.to_bytes()[..], &token[..]],
                |_| Ok(()),
            )
            .optional()?
            .is_some())
    }

    /// Unexpired messages whose owner's swarm space lies in `(lower, upper]` (wrapping around when
    /// `lower ≥ upper`), with row id greater than `after_row`, in row order, up to `max_bytes` of
    /// data (at least one message when there is one). For handing data to another node.
    pub fn range_after(
        &self,
        lower: u64,
        upper: u64,
        after_row: i64,
        max_bytes: usize,
        now_ms: u64,
    ) -> Result<Vec<RangeMessage>, StoreError> {
        let sql = format!(
            "SELECT m.id, o.pubkey, o.swarm_space, m.namespace, m.hash, m.timestamp, m.expiry, m.data
             FROM messages m JOIN owners o ON o.id = m.owner
             WHERE {} AND m.id > ?3 AND m.expiry > ?4 ORDER BY m.id",
            range_clause(lower, upper)
        );
        let mut stmt = self.conn.prepare_cached(&sql)?;
        let mut rows = stmt.query(params![
            space_key(lower),
            space_key(upper),
            after_row,
            to_i64(now_ms, "now")?
        ])?;
        let (mut out, mut bytes) = (Vec::new(), 0usize);
        while let Some(row) = rows.next()? {
            let data: Vec<u8> = row.get(7)?;
            bytes = bytes.saturating_add(data.len());
            if bytes > max_bytes && !out.is_empty() {
                break;
            }
            let pubkey: Vec<u8> = row.get(1)?;
            out.push(RangeMessage {
                row_id: row.get(0)?,
                message: NewMessage {
                    owner: PrefixedId::from_bytes(&pubkey)
                        .map_err(|_| StoreError::Corrupt("owner pubkey"))?,
                    swarm_space: space_from_key(row.get(2)?),
                    namespace: to_ns(row.get(3)?)?,
                    hash: row.get(4)?,
                    timestamp_ms: to_u64(row.get(5)?)?,
                    expiry_ms: to_u64(row.get(6)?)?,
                    data,
                },
            });
        }
        Ok(out)
    }

    /// Row ids and hashes of up to `limit` unexpired messages whose owner's swarm space lies in
    /// `(lower, upper]` (wrapping as in [`Store::range_after`]), after row `after_row`, in row
    /// order: what a node asks a peer about when checking for deletes it missed.
    pub fn hashes_after(
        &self,
        lower: u64,
        upper: u64,
        after_row: i64,
        limit: usize,
        now_ms: u64,
    ) -> Result<Vec<(i64, String)>, StoreError> {
        let sql = format!(
            "SELECT m.id, m.hash FROM messages m JOIN owners o ON o.id = m.owner
             WHERE {} AND m.id > ?3 AND m.expiry > ?4 ORDER BY m.id LIMIT ?5",
            range_clause(lower, upper)
        );
        let mut stmt = self.conn.prepare_cached(&sql)?;
        let rows = stmt.query_map(
            params![
                space_key(lower),
                space_key(upper),
                after_row,
                to_i64(now_ms, "now")?,
                i64::try_from(limit).unwrap_or(i64::MAX)
            ],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// How much the store holds.
    pub fn usage(&self) -> Result<Usage, StoreError> {
        let messages: i64 = self
            .conn
            .query_row("SELECT COUNT(*) FROM messages", [], |r| r.get(0))?;
        let page_size: i64 = self
            .conn
            .pragma_query_value(None, "page_size", |r| r.get(0))?;
        let pages: i64 = self
            .conn
            .pragma_query_value(None, "page_count", |r| r.get(0))?;
        let max_pages: i64 = self
            .conn
            .pragma_query_value(None, "max_page_count", |r| r.get(0))?;
        Ok(Usage {
            messages: to_u64(messages)?,
            bytes: to_u64(page_size.saturating_mul(pages))?,
            limit_bytes: to_u64(page_size.saturating_mul(max_pages))?,
        })
    }
}
