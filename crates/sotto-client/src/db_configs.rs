//! The config tables (version 5): one row per user config namespace, the swarm copies of
//! config messages, and the local facts the configs are built from.

use rusqlite::{OptionalExtension, params};
use sotto_identity::SessionId;
use sotto_rpc::MessageHash;

use super::{DbError, READ, RECEIVED, Tx, int, session_id, uint};

/// A config namespace's stored state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ConfigRow {
    /// The serialized message last adopted, merged or pushed.
    pub base: Vec<u8>,
    /// Whether the swarm holds `base` (adopted from it, or its push was confirmed).
    pub base_pushed: bool,
    /// Local edits on top of `base`, not pushed yet.
    pub pending: Option<Vec<u8>>,
    /// The seqno of the last message this device pushed (or adopted from the swarm).
    pub pushed_seqno: i64,
}

/// A conversation as the configs see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LocalConversation {
    /// The peer.
    pub peer: SessionId,
    /// When it was created, ms.
    pub created_ms: u64,
    /// The newest sent time of a message read here or sent by this account, ms.
    pub last_read_ms: Option<u64>,
    /// Marked unread by the user.
    pub marked_unread: bool,
}

impl Tx<'_> {
    pub fn config(&self, namespace: i16) -> Result<Option<ConfigRow>, DbError> {
        Ok(self
            .0
            .query_row(
                "SELECT base, base_pushed, pending, pushed_seqno FROM configs WHERE namespace = ?1",
                [namespace],
                |r| {
                    Ok(ConfigRow {
                        base: r.get(0)?,
                        base_pushed: r.get(1)?,
                        pending: r.get(2)?,
                        pushed_seqno: r.get(3)?,
                    })
                },
            )
            .optional()?)
    }

    pub fn set_config(&self, namespace: i16, row: &ConfigRow) -> Result<(), DbError> {
        self.0.execute(
            "INSERT INTO configs (namespace, base, base_pushed, pending, pushed_seqno) \
             VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (namespace) DO UPDATE SET \
             base = ?2, base_pushed = ?3, pending = ?4, pushed_seqno = ?5",
            params![
                namespace,
                row.base,
                row.base_pushed,
                row.pending,
                row.pushed_seqno
            ],
        )?;
        Ok(())
    }

    /// Records a swarm copy of one of `namespace`'s config messages.
    pub fn add_config_hash(
        &self,
        namespace: i16,
        hash: &MessageHash,
        expires_ms: u64,
    ) -> Result<(), DbError> {
        self.0.execute(
            "INSERT INTO config_hashes (namespace, hash, expires_ms) VALUES (?1, ?2, ?3) \
             ON CONFLICT DO NOTHING",
            params![namespace, hash.as_str(), int(expires_ms, "expiry")?],
        )?;
        Ok(())
    }

    /// Queues the deletion of every known swarm copy of `namespace`'s config messages except
    /// `keep`, and forgets them. Returns how many were queued.
    pub fn supersede_config_hashes(
        &self,
        namespace: i16,
        keep: &MessageHash,
    ) -> Result<usize, DbError> {
        let old: Vec<(String, i64)> = {
            let mut stmt = self.0.prepare(
                "DELETE FROM config_hashes WHERE namespace = ?1 AND hash != ?2 \
                 RETURNING hash, expires_ms",
            )?;
            let rows = stmt.query_map(params![namespace, keep.as_str()], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })?;
            rows.collect::<Result<_, _>>()?
        };
        for (hash, until) in &old {
            self.queue_swarm_update(hash, None, *until)?;
        }
        Ok(old.len())
    }

    /// Every conversation with its read position.
    pub fn local_conversations(&self) -> Result<Vec<LocalConversation>, DbError> {
        let mut stmt = self.0.prepare(&format!(
            "SELECT v.peer, v.created_ms, \
             (SELECT MAX(m.sent_ms) FROM messages m WHERE m.conversation = v.id \
              AND (m.outgoing = 1 OR m.state = {READ})), v.marked_unread \
             FROM conversations v ORDER BY v.peer"
        ))?;
        let rows = stmt.query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, Option<i64>>(2)?,
                r.get::<_, bool>(3)?,
            ))
        })?;
        rows.map(|row| {
            let (peer, created, read, marked_unread) = row?;
            Ok(LocalConversation {
                peer: session_id(&peer, "conversation peer")?,
                created_ms: uint(created, "created time")?,
                last_read_ms: read.map(|t| uint(t, "sent time")).transpose()?,
                marked_unread,
            })
        })
        .collect()
    }

    /// Marks the unread incoming messages of `conversation` sent at or before `until_ms` read
    /// at `now_ms` (another device read them); returns how many.
    pub fn mark_read_until(
        &self,
        conversation: i64,
        until_ms: u64,
        now_ms: u64,
    ) -> Result<usize, DbError> {
        Ok(self.0.execute(
            &format!(
                "UPDATE messages SET state = {READ}, read_ms = ?3, \
                 expires_at_ms = CASE WHEN disappearing_mode = 1 \
                     THEN ?3 + disappearing_secs * 1000 ELSE expires_at_ms END \
                 WHERE conversation = ?1 AND state = {RECEIVED} AND sent_ms <= ?2"
            ),
            params![conversation, int(until_ms, "time")?, int(now_ms, "time")?],
        )?)
    }
}
