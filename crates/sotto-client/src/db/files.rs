//! The attachment tables: pointers stored with their message (the key sealed like message
//! text), each attachment's download state and local file, and profile pictures (this
//! account's and its contacts').

use rusqlite::{OptionalExtension, params};
use sotto_envelope::AttachmentPointer;
use sotto_identity::SessionId;

use super::{DbError, Tx, int, small, uint};
use crate::attachments::{AttachmentRecord, AttachmentState, OwnPicture, PictureRecord};
use crate::model::MessageId;

/// Version 6 (files): attachments of messages, with their keys sealed, their download state
/// and local file; this account's profile picture (URL, sealed key, local copy, upload time);
/// contacts' pictures (URL, sealed key, local copy); the auto-download size.
pub(crate) const V6_FILES: &str = "
CREATE TABLE attachments (
    message INTEGER NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
    idx INTEGER NOT NULL,
    url TEXT NOT NULL,
    key BLOB NOT NULL,
    digest BLOB,
    content_type TEXT NOT NULL,
    size INTEGER NOT NULL,
    file_name TEXT,
    voice INTEGER NOT NULL DEFAULT 0,
    width INTEGER,
    height INTEGER,
    state INTEGER NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    local_path TEXT,
    duration_ms INTEGER,
    PRIMARY KEY (message, idx)
) WITHOUT ROWID;
CREATE TABLE own_picture (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    url TEXT NOT NULL,
    key BLOB NOT NULL,
    local_path TEXT,
    uploaded_ms INTEGER NOT NULL
);
CREATE TABLE contact_pictures (
    session_id TEXT PRIMARY KEY REFERENCES contacts(session_id) ON DELETE CASCADE,
    url TEXT NOT NULL,
    key BLOB NOT NULL,
    local_path TEXT
) WITHOUT ROWID;
ALTER TABLE settings ADD COLUMN auto_download_max INTEGER;
";

/// An attachment as stored, with its secret parts.
pub(crate) struct StoredAttachment {
    pub record: AttachmentRecord,
    pub key: zeroize::Zeroizing<Vec<u8>>,
    pub digest: Option<Vec<u8>>,
}

const COLUMNS: &str = "a.message, a.idx, a.url, a.key, a.digest, a.content_type, a.size, \
     a.file_name, a.voice, a.width, a.height, a.state, a.attempts, a.local_path, \
     a.duration_ms, m.author, m.sent_ms";

type Row = (
    (i64, i64, String, Vec<u8>, Option<Vec<u8>>, String, i64),
    (Option<String>, bool, Option<i64>, Option<i64>, i64, i64),
    (Option<String>, Option<i64>, String, i64),
);

fn read_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Row> {
    Ok((
        (
            r.get(0)?,
            r.get(1)?,
            r.get(2)?,
            r.get(3)?,
            r.get(4)?,
            r.get(5)?,
            r.get(6)?,
        ),
        (
            r.get(7)?,
            r.get(8)?,
            r.get(9)?,
            r.get(10)?,
            r.get(11)?,
            r.get(12)?,
        ),
        (r.get(13)?, r.get(14)?, r.get(15)?, r.get(16)?),
    ))
}

impl Tx<'_> {
    /// The (author, sent time) a message's sealed columns are bound to.
    fn message_binding(&self, message: MessageId) -> Result<(String, i64), DbError> {
        Ok(self.0.query_row(
            "SELECT author, sent_ms FROM messages WHERE id = ?1",
            [message.0],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?)
    }

    /// Stores attachment `index` of `message`: sent from `local` (outgoing, state
    /// [`AttachmentState::Uploaded`]) or received (state [`AttachmentState::Pending`]).
    pub fn insert_attachment(
        &self,
        message: MessageId,
        index: usize,
        pointer: &AttachmentPointer,
        local: Option<&str>,
        uploaded: bool,
    ) -> Result<(), DbError> {
        let (author, sent) = self.message_binding(message)?;
        let (Some(url), Some(key)) = (pointer.url.as_deref(), pointer.key.as_ref()) else {
            return Err(DbError::Corrupt("attachment without URL or key"));
        };
        let sealed = self
            .1
            .seal("attachment_key", &author, sent, &hex::encode(key.expose()))?;
        let state = if uploaded {
            AttachmentState::Uploaded
        } else {
            AttachmentState::Pending
        };
        let content_type = pointer
            .content_type
            .as_deref()
            .and_then(|t| sotto_attachment::ContentType::parse(t.trim()).ok())
            .unwrap_or_else(sotto_attachment::ContentType::octet_stream);
        let file_name = pointer
            .file_name
            .as_deref()
            .and_then(sotto_attachment::FileName::sanitize);
        let dims = match (pointer.width, pointer.height) {
            (Some(w), Some(h)) if w > 0 && h > 0 => (Some(w), Some(h)),
            _ => (None, None),
        };
        self.0.execute(
            "INSERT INTO attachments (message, idx, url, key, digest, content_type, size, \
             file_name, voice, width, height, state, local_path) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13) \
             ON CONFLICT (message, idx) DO NOTHING",
            params![
                message.0,
                int(index as u64, "attachment index")?,
                url,
                sealed,
                pointer.digest.as_deref().filter(|d| !d.is_empty()),
                content_type.as_str(),
                i64::from(pointer.size.unwrap_or(0)),
                file_name.as_ref().map(sotto_attachment::FileName::as_str),
                pointer.is_voice_message(),
                dims.0,
                dims.1,
                state.to_column(),
                local,
            ],
        )?;
        Ok(())
    }

    fn attachments_where(
        &self,
        filter: &str,
        args: impl rusqlite::Params,
    ) -> Result<Vec<StoredAttachment>, DbError> {
        let mut stmt = self.0.prepare(&format!(
            "SELECT {COLUMNS} FROM attachments a JOIN messages m ON m.id = a.message \
             WHERE {filter} ORDER BY a.message, a.idx"
        ))?;
        let rows = stmt.query_map(args, read_row)?;
        rows.map(|row| {
            let (
                (message, idx, url, key, digest, content_type, size),
                (file_name, voice, width, height, state, attempts),
                (local_path, duration_ms, author, sent),
            ) = row?;
            let key_hex = self.1.open("attachment_key", &author, sent, &key)?;
            let key = zeroize::Zeroizing::new(
                hex::decode(key_hex.as_bytes()).map_err(|_| DbError::Corrupt("attachment key"))?,
            );
            let dimensions = match (width, height) {
                (Some(w), Some(h)) => Some((small(w, "width")?, small(h, "height")?)),
                _ => None,
            };
            Ok(StoredAttachment {
                record: AttachmentRecord {
                    message: MessageId(message),
                    index: usize::try_from(idx)
                        .map_err(|_| DbError::Corrupt("attachment index"))?,
                    url,
                    content_type,
                    size: uint(size, "attachment size")?,
                    file_name,
                    voice,
                    dimensions,
                    state: AttachmentState::from_column(state)
                        .ok_or(DbError::Corrupt("attachment state"))?,
                    attempts: small(attempts, "attachment attempts")?,
                    local_path: local_path.map(Into::into),
                    duration_ms: duration_ms.map(|d| uint(d, "duration")).transpose()?,
                },
                key,
                digest,
            })
        })
        .collect()
    }

    /// The attachments of `message`, in order.
    pub fn attachments(&self, message: MessageId) -> Result<Vec<StoredAttachment>, DbError> {
        self.attachments_where("a.message = ?1", [message.0])
    }

    /// Attachment `index` of `message`.
    pub fn attachment(
        &self,
        message: MessageId,
        index: usize,
    ) -> Result<Option<StoredAttachment>, DbError> {
        let index = int(index as u64, "attachment index")?;
        Ok(self
            .attachments_where("a.message = ?1 AND a.idx = ?2", [message.0, index])?
            .into_iter()
            .next())
    }

    /// Attachments not downloaded yet (pending, or failed before), at most `max_size` bytes.
    pub fn pending_attachments(&self, max_size: u64) -> Result<Vec<StoredAttachment>, DbError> {
        self.attachments_where(
            &format!(
                "a.state IN ({}, {}) AND a.size <= ?1",
                AttachmentState::Pending.to_column(),
                AttachmentState::Failed.to_column()
            ),
            [int(max_size, "size")?],
        )
    }

    /// Records an attachment's new state (and, when given, its local file and duration).
    pub fn set_attachment_state(
        &self,
        message: MessageId,
        index: usize,
        state: AttachmentState,
        local_path: Option<&str>,
        duration_ms: Option<u64>,
    ) -> Result<(), DbError> {
        self.0.execute(
            "UPDATE attachments SET state = ?3, local_path = COALESCE(?4, local_path), \
             duration_ms = COALESCE(?5, duration_ms), \
             attempts = attempts + (CASE WHEN ?3 = ?6 THEN 1 ELSE 0 END) \
             WHERE message = ?1 AND idx = ?2",
            params![
                message.0,
                int(index as u64, "attachment index")?,
                state.to_column(),
                local_path,
                duration_ms.map(|d| int(d, "duration")).transpose()?,
                AttachmentState::Failed.to_column(),
            ],
        )?;
        Ok(())
    }

    /// The size under which received attachments are downloaded without asking.
    pub fn auto_download_max(&self) -> Result<Option<u64>, DbError> {
        let v: Option<i64> = self.0.query_row(
            "SELECT auto_download_max FROM settings WHERE id = 1",
            [],
            |r| r.get(0),
        )?;
        v.map(|v| uint(v, "auto-download size")).transpose()
    }

    /// Sets (or clears) the auto-download size.
    pub fn set_auto_download_max(&self, max: Option<u64>) -> Result<(), DbError> {
        self.0.execute(
            "UPDATE settings SET auto_download_max = ?1 WHERE id = 1",
            [max.map(|m| int(m, "size")).transpose()?],
        )?;
        Ok(())
    }

    // Profile pictures.

    /// This account's picture.
    pub fn own_picture(&self) -> Result<Option<OwnPicture>, DbError> {
        let row = self
            .0
            .query_row(
                "SELECT url, key, local_path, uploaded_ms FROM own_picture WHERE id = 1",
                [],
                |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, Vec<u8>>(1)?,
                        r.get::<_, Option<String>>(2)?,
                        r.get::<_, i64>(3)?,
                    ))
                },
            )
            .optional()?;
        row.map(|(url, key, local, uploaded)| {
            let key = self.1.open("picture_key", "self", 0, &key)?;
            Ok(OwnPicture {
                url,
                key: hex::decode(key.as_bytes()).map_err(|_| DbError::Corrupt("picture key"))?,
                local_path: local.map(Into::into),
                uploaded_ms: uint(uploaded, "upload time")?,
            })
        })
        .transpose()
    }

    /// Records this account's picture.
    pub fn set_own_picture(&self, p: &OwnPicture) -> Result<(), DbError> {
        let key = self
            .1
            .seal("picture_key", "self", 0, &hex::encode(&p.key))?;
        self.0.execute(
            "INSERT INTO own_picture (id, url, key, local_path, uploaded_ms) \
             VALUES (1, ?1, ?2, ?3, ?4) ON CONFLICT (id) DO UPDATE SET url = ?1, key = ?2, \
             local_path = ?3, uploaded_ms = ?4",
            params![
                p.url,
                key,
                p.local_path
                    .as_ref()
                    .map(|p| p.to_string_lossy().into_owned()),
                int(p.uploaded_ms, "upload time")?
            ],
        )?;
        Ok(())
    }

    /// Records a contact's picture URL and key (from their profile); a changed URL forgets
    /// the local copy.
    pub fn set_contact_picture(
        &self,
        peer: &SessionId,
        url: &str,
        key: &[u8],
    ) -> Result<(), DbError> {
        let id = peer.to_string();
        let sealed = self.1.seal("picture_key", &id, 0, &hex::encode(key))?;
        self.0.execute(
            "INSERT INTO contact_pictures (session_id, url, key) VALUES (?1, ?2, ?3) \
             ON CONFLICT (session_id) DO UPDATE SET url = ?2, key = ?3, \
             local_path = CASE WHEN url = ?2 THEN local_path ELSE NULL END",
            params![id, url, sealed],
        )?;
        Ok(())
    }

    /// A contact's picture, if their profile named one.
    pub fn contact_picture(&self, peer: &SessionId) -> Result<Option<PictureRecord>, DbError> {
        let id = peer.to_string();
        let row = self
            .0
            .query_row(
                "SELECT url, key, local_path FROM contact_pictures WHERE session_id = ?1",
                [&id],
                |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, Vec<u8>>(1)?,
                        r.get::<_, Option<String>>(2)?,
                    ))
                },
            )
            .optional()?;
        row.map(|(url, key, local)| {
            let key = self.1.open("picture_key", &id, 0, &key)?;
            Ok(PictureRecord {
                url,
                key: hex::decode(key.as_bytes()).map_err(|_| DbError::Corrupt("picture key"))?,
                local_path: local.map(Into::into),
            })
        })
        .transpose()
    }

    /// Records where a contact's picture was saved.
    pub fn set_contact_picture_path(&self, peer: &SessionId, path: &str) -> Result<(), DbError> {
        self.0.execute(
            "UPDATE contact_pictures SET local_path = ?2 WHERE session_id = ?1",
            params![peer.to_string(), path],
        )?;
        Ok(())
    }
}
