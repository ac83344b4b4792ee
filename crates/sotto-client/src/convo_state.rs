//! Conversation state shared through the configs: pinned and hidden conversations (the
//! Contacts config's `+`, and UserProfile's for Note to Self), the "marked unread" flag
//! (ConvoInfoVolatile's `u`), and removing a contact (erased from Contacts and
//! ConvoInfoVolatile, so the other devices remove it too).
//!
//! Each change is written locally and recorded into the configs in one transaction (the
//! configs become dirty, persisted), so a push that fails or never starts is made by the
//! next sync.

use sotto_config::{ConfigKind, Contacts, Conversation as CivConversation, ConvoInfoVolatile};
use sotto_identity::SessionId;

use crate::Engine;
use crate::engine::configs::edit_in;
use crate::error::ClientError;

/// Where a conversation is listed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Placement {
    /// Listed first (the most recently pinned first).
    Pinned,
    /// Listed by its last activity.
    Normal,
    /// Left out of the list until a new message arrives.
    Hidden,
}

impl Engine {
    /// Pins, unpins, hides or shows the conversation with `peer` (`peer` may be this account:
    /// Note to Self). Recorded into the configs at once.
    pub fn set_placement(
        &mut self,
        peer: &SessionId,
        placement: Placement,
    ) -> Result<(), ClientError> {
        let own = self.session_id();
        self.db_mut().write(|tx| -> Result<(), ClientError> {
            if tx.conversation_id(peer)?.is_none() && tx.contact(peer)?.is_none() {
                return Err(ClientError::NoConversation(peer.short()));
            }
            let current = tx.contact_priority(peer)?.unwrap_or(0);
            let priority = match placement {
                Placement::Pinned if current > 0 => current,
                Placement::Pinned => tx.max_contact_priority()?.max(0).saturating_add(1),
                Placement::Normal => 0,
                Placement::Hidden => -1,
            };
            if *peer == own {
                tx.ensure_contact(peer, 0)?;
            }
            tx.set_contact_priority(peer, priority)?;
            Ok(())
        })?;
        self.record_local_changes()?;
        Ok(())
    }

    /// Marks the conversation with `peer` unread (or clears the mark; reading it clears it
    /// too). Recorded into the configs at once.
    pub fn set_marked_unread(&mut self, peer: &SessionId, unread: bool) -> Result<(), ClientError> {
        self.db_mut().write(|tx| -> Result<(), ClientError> {
            let conversation = tx
                .conversation_id(peer)?
                .ok_or_else(|| ClientError::NoConversation(peer.short()))?;
            tx.set_marked_unread(conversation, unread)?;
            Ok(())
        })?;
        self.record_local_changes()?;
        Ok(())
    }

    /// Removes `peer` from the contacts, with the conversation and its messages, here and
    /// (through the Contacts and ConvoInfoVolatile configs) on this account's other devices.
    /// A later message from them arrives as a message request.
    pub fn remove_contact(&mut self, peer: &SessionId) -> Result<(), ClientError> {
        if *peer == self.session_id() {
            return Err(ClientError::UnknownContact(peer.short()));
        }
        let id = peer.to_bytes().to_vec();
        self.db_mut().write(|tx| -> Result<(), ClientError> {
            if !tx.remove_contact(peer)? {
                return Err(ClientError::UnknownContact(peer.short()));
            }
            edit_in(tx, ConfigKind::Contacts, |data| Contacts::erase(data, &id))?;
            edit_in(tx, ConfigKind::ConvoInfoVolatile, |data| {
                ConvoInfoVolatile::erase(data, &CivConversation::OneToOne(id.clone()));
            })?;
            Ok(())
        })?;
        self.db().checkpoint()?;
        Ok(())
    }
}
