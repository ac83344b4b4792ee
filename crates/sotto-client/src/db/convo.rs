//! Conversation state the configs carry besides read positions: each contact's priority
//! (pinned, hidden) and each conversation's "marked unread" flag; and removing a contact.

use rusqlite::{OptionalExtension, params};
use sotto_identity::SessionId;

use super::{DbError, Tx};
use crate::model::{MessageId, QuotedFile};

/// Version 9 (conversation state): `contacts.priority` is the Contacts config's `+` (and, for
/// this account's own row, UserProfile's Note-to-Self `+`): −1 hidden, 0 normal, > 0 pinned
/// (higher first); `conversations.marked_unread` is ConvoInfoVolatile's `u`;
/// `messages.quote_files` describes the attachments of the quoted message (JSON, sealed like
/// the quoted text).
pub(crate) const V9_CONVO_STATE: &str = "
ALTER TABLE contacts ADD COLUMN priority INTEGER NOT NULL DEFAULT 0;
ALTER TABLE conversations ADD COLUMN marked_unread INTEGER NOT NULL DEFAULT 0;
ALTER TABLE messages ADD COLUMN quote_files BLOB;
";

impl Tx<'_> {
    /// The priority of `id` (`None` when unknown).
    pub fn contact_priority(&self, id: &SessionId) -> Result<Option<i64>, DbError> {
        Ok(self
            .0
            .query_row(
                "SELECT priority FROM contacts WHERE session_id = ?1",
                [id.to_string()],
                |r| r.get(0),
            )
            .optional()?)
    }

    /// Sets the priority of `id` (a known contact); whether it changed.
    pub fn set_contact_priority(&self, id: &SessionId, priority: i64) -> Result<bool, DbError> {
        Ok(self.0.execute(
            "UPDATE contacts SET priority = ?2 WHERE session_id = ?1 AND priority != ?2",
            params![id.to_string(), priority],
        )? > 0)
    }

    /// When `id` became known here, ms (`None` when unknown).
    pub fn contact_created_ms(&self, id: &SessionId) -> Result<Option<i64>, DbError> {
        Ok(self
            .0
            .query_row(
                "SELECT created_ms FROM contacts WHERE session_id = ?1",
                [id.to_string()],
                |r| r.get(0),
            )
            .optional()?)
    }

    /// The highest priority of any contact (0 when none is pinned).
    pub fn max_contact_priority(&self) -> Result<i64, DbError> {
        Ok(self
            .0
            .query_row("SELECT COALESCE(MAX(priority), 0) FROM contacts", [], |r| {
                r.get(0)
            })?)
    }

    /// Sets or clears the conversation's "marked unread" flag; whether it changed.
    pub fn set_marked_unread(&self, conversation: i64, unread: bool) -> Result<bool, DbError> {
        Ok(self.0.execute(
            "UPDATE conversations SET marked_unread = ?2 WHERE id = ?1 AND marked_unread != ?2",
            params![conversation, unread],
        )? > 0)
    }

    /// Records the attachments a message's quote describes (sealed like the quoted text).
    pub fn set_quote_files(
        &self,
        message: MessageId,
        author: &str,
        sent_ms: i64,
        files: &[QuotedFile],
    ) -> Result<(), DbError> {
        if files.is_empty() {
            return Ok(());
        }
        let json =
            serde_json::to_string(files).map_err(|_| DbError::Corrupt("quoted attachments"))?;
        let sealed = self.1.seal("quote_files", author, sent_ms, &json)?;
        self.0.execute(
            "UPDATE messages SET quote_files = ?2 WHERE id = ?1",
            params![message.0, sealed],
        )?;
        Ok(())
    }

    /// A conversation that gets a new message is shown again if it was hidden.
    pub fn unhide_conversation(&self, conversation: i64) -> Result<(), DbError> {
        self.0.execute(
            "UPDATE contacts SET priority = 0 WHERE priority < 0 \
             AND session_id = (SELECT peer FROM conversations WHERE id = ?1)",
            [conversation],
        )?;
        Ok(())
    }

    /// Forgets `id`: the conversation with them (and its messages) and their contact row
    /// (nickname, flags, picture). Whether they were known.
    pub fn remove_contact(&self, id: &SessionId) -> Result<bool, DbError> {
        self.delete_conversation(id)?;
        Ok(self.0.execute(
            "DELETE FROM contacts WHERE session_id = ?1",
            [id.to_string()],
        )? > 0)
    }
}
