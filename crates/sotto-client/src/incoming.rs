//! Receiving: what a retrieve returned → checked hash → decrypted and verified Content → applied
//! to the local state, with one [`Event`] per visible change.
//!
//! Rules applied here:
//! - a message whose node-given hash is not the hash of its data is skipped (and not marked
//!   seen, so an honest node's copy still counts); every other message is marked seen and
//!   never applied twice;
//! - undecryptable or malformed messages are skipped and reported, never stopping the batch;
//! - messages from blocked senders are dropped;
//! - the first message from someone who is not a contact opens a message request;
//! - typing indicators and read receipts are applied only when their setting is on;
//! - an unsend request removes the message only when its sender wrote it.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use sotto_envelope::{Content, Message, decrypt_from_swarm};
use sotto_identity::{Account, PrefixedId, SessionId};
use sotto_rpc::MessageHash;

use crate::db::{ContactFlag, NewMessage, Tx};
use crate::error::{DbError, SkipReason};
use crate::model::{
    Disappearing, MessageId, MessageKey, MessageRecord, MessageState, QuoteRef, Settings,
};
use crate::outgoing::TYPING_TTL_MS;

/// What the client reports.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// A new message: from the peer, or sent by this account from another device.
    Message(IncomingMessage),
    /// A reaction was added or removed.
    Reaction {
        /// The message reacted to.
        message: MessageId,
        /// Who reacted.
        reactor: SessionId,
        /// The emoji.
        emoji: String,
        /// Added (or removed).
        added: bool,
    },
    /// A message was unsent by its author; only its tombstone is left.
    Unsent {
        /// The message.
        message: MessageId,
    },
    /// A disappearing message's time ran out; only its tombstone is left.
    Expired {
        /// The message.
        message: MessageId,
    },
    /// The peer started or stopped typing (only with typing indicators on).
    Typing {
        /// Who.
        from: SessionId,
        /// Started (or stopped).
        started: bool,
    },
    /// The peer read these messages of this account (only with read receipts on).
    ReadByPeer {
        /// Who read them.
        peer: SessionId,
        /// The messages.
        messages: Vec<MessageId>,
    },
    /// The conversation's disappearing-messages setting changed.
    DisappearingChanged {
        /// The conversation's peer.
        peer: SessionId,
        /// The new setting.
        setting: Disappearing,
    },
    /// The peer accepted this account's message request.
    RequestAccepted {
        /// Who.
        by: SessionId,
    },
    /// A contact's display name changed.
    ProfileName {
        /// Whose.
        of: SessionId,
        /// The new name.
        name: String,
    },
    /// An outgoing message changed state after a store attempt.
    Delivery {
        /// The message.
        message: MessageId,
        /// Its new state.
        state: MessageState,
    },
    /// A message from a blocked sender was dropped.
    Dropped {
        /// The sender.
        from: SessionId,
        /// The message's hash.
        hash: MessageHash,
    },
    /// Another device's config changes were merged and applied to the local state.
    ConfigMerged {
        /// Which config.
        kind: sotto_config::ConfigKind,
        /// Its seqno after the merge.
        seqno: i64,
    },
    /// Something happened in a closed group (an invitation, a message, a change).
    Group(crate::groups::GroupEvent),
    /// A message could not be used; polling went on.
    Skipped {
        /// Its hash.
        hash: MessageHash,
        /// Why.
        reason: SkipReason,
    },
}

/// A new message and whether it sits in a message request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncomingMessage {
    /// The message as stored.
    pub message: MessageRecord,
    /// Its conversation is a message request (the peer is not approved): accept it to answer
    /// it as a contact.
    pub request: bool,
}

/// A decrypted, verified message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Opened {
    /// Its sender.
    pub sender: SessionId,
    /// Its sent time (the Envelope timestamp, equal to the signed one when present), ms.
    pub sent_ms: u64,
    /// What it carries.
    pub content: Content,
}

/// Decrypts and verifies a retrieved message's `data` (the raw WebSocketMessage bytes) for
/// `account`.
pub fn open(account: &Account, data: &[u8]) -> Result<Opened, SkipReason> {
    let received = decrypt_from_swarm(account, STANDARD.encode(data))?;
    Ok(Opened {
        sender: received.sender,
        sent_ms: received.envelope.timestamp,
        content: received.content,
    })
}

fn session_id(id: &PrefixedId, field: &'static str) -> Result<SessionId, SkipReason> {
    SessionId::try_from(*id).map_err(|_| SkipReason::NotASessionId(field))
}

/// Why applying a message stopped: it is skipped, or the database failed (and the batch with
/// it).
pub(crate) enum Stop {
    Skip(SkipReason),
    Db(DbError),
}

impl From<SkipReason> for Stop {
    fn from(reason: SkipReason) -> Self {
        Self::Skip(reason)
    }
}

impl From<DbError> for Stop {
    fn from(e: DbError) -> Self {
        match e {
            // A value from the message that does not fit a column: the message's fault.
            DbError::OutOfRange(what) => Self::Skip(SkipReason::OutOfRange(what)),
            e => Self::Db(e),
        }
    }
}

/// Applies one opened message, inside the batch's transaction.
pub(crate) struct Apply<'a, 'b> {
    pub tx: &'a Tx<'b>,
    /// This account (for group invitations and promotions).
    pub account: &'a Account,
    pub own: SessionId,
    pub settings: &'a Settings,
    pub now_ms: u64,
    pub hash: MessageHash,
    /// When the swarm drops the message (its `expiration`), ms.
    pub swarm_expiry_ms: u64,
}

impl Apply<'_, '_> {
    pub fn run(&self, opened: &Opened, events: &mut Vec<Event>) -> Result<(), Stop> {
        let content = &opened.content;
        let outgoing = opened.sender == self.own;
        // A sync copy is one's own message to someone else; anything else from oneself (a note
        // to self, an unsend request for other devices) belongs to the conversation with
        // oneself or names its conversation itself.
        let peer = match content.sync_target() {
            Some(target) if outgoing => session_id(target, "DataMessage.syncTarget")?,
            _ => opened.sender,
        };
        if !outgoing
            && self
                .tx
                .contact(&peer)?
                .is_some_and(|contact| contact.blocked)
        {
            events.push(Event::Dropped {
                from: peer,
                hash: self.hash,
            });
            return Ok(());
        }
        if !outgoing {
            self.profile(&peer, content, events)?;
        }
        if let Some(update) = crate::groups::group_update_of(content) {
            if outgoing {
                return Ok(());
            }
            crate::groups::receive_direct(
                self.tx,
                self.account,
                &peer,
                opened.sent_ms,
                self.now_ms,
                &update,
                events,
            )?;
            return Ok(());
        }
        match &content.message {
            Message::Visible(v) => {
                let quote = v.quote.as_ref().and_then(|q| {
                    Some(QuoteRef {
                        key: MessageKey {
                            author: SessionId::try_from(q.author).ok()?,
                            sent_ms: q.id,
                        },
                        text: q.text.clone(),
                        attachments: q
                            .attachments
                            .iter()
                            .map(|a| crate::model::QuotedFile {
                                content_type: a.content_type.clone(),
                                file_name: a.file_name.clone(),
                                voice: a.flags.is_some_and(|f| f & 1 == 1),
                            })
                            .collect(),
                    })
                });
                self.visible(
                    opened,
                    peer,
                    v.body.as_deref(),
                    quote.as_ref(),
                    &v.attachments,
                    events,
                )
            }
            Message::Reaction(r) => {
                let target = MessageKey {
                    author: session_id(&r.reaction.author, "Reaction.author")?,
                    sent_ms: r.reaction.id,
                };
                let emoji = r
                    .reaction
                    .emoji
                    .as_deref()
                    .filter(|e| !e.is_empty())
                    .ok_or(SkipReason::Missing("reaction emoji"))?;
                let add = r.reaction.action == sotto_envelope::ReactionAction::React;
                self.reaction(opened, peer, &target, emoji, add, events)
            }
            Message::DisappearingSetting(_) => {
                let setting = Disappearing::of_content(content);
                let conversation = self.conversation(&peer)?;
                self.tx
                    .set_conversation_disappearing(conversation, setting)?;
                events.push(Event::DisappearingChanged { peer, setting });
                Ok(())
            }
            Message::Typing(t) => {
                let fresh = self.now_ms.saturating_sub(t.timestamp) < TYPING_TTL_MS;
                if !outgoing && fresh && self.settings.typing_indicators && self.approved(&peer)? {
                    events.push(Event::Typing {
                        from: peer,
                        started: t.action == sotto_envelope::TypingAction::Started,
                    });
                }
                Ok(())
            }
            Message::Receipt(r) => {
                if outgoing
                    || !self.settings.read_receipts
                    || r.kind != sotto_envelope::ReceiptKind::Read
                {
                    return Ok(());
                }
                let Some(conversation) = self.tx.conversation_id(&peer)? else {
                    return Ok(());
                };
                let messages = self.tx.mark_read_by_peer(
                    conversation,
                    &self.own,
                    &r.timestamps,
                    self.now_ms,
                )?;
                if !messages.is_empty() {
                    events.push(Event::ReadByPeer { peer, messages });
                }
                Ok(())
            }
            Message::Unsend(u) => {
                let author = session_id(&u.author, "UnsendRequest.author")?;
                if author != opened.sender {
                    return Err(SkipReason::NotAuthor.into());
                }
                let key = MessageKey {
                    author,
                    sent_ms: u.timestamp,
                };
                // One's own unsend request names no conversation: look in all of them.
                let conversation = if outgoing {
                    None
                } else {
                    Some(
                        self.tx
                            .conversation_id(&peer)?
                            .ok_or(SkipReason::UnknownTarget("unsend request"))?,
                    )
                };
                let message = self
                    .tx
                    .find_message(conversation, &key)?
                    .ok_or(SkipReason::UnknownTarget("unsend request"))?;
                if self.state(message)? != MessageState::Deleted {
                    // Its copy on this account's swarm goes too (sent with this poll).
                    self.tx.queue_swarm_delete(message, self.now_ms)?;
                    self.tx.tombstone(message)?;
                    events.push(Event::Unsent { message });
                }
                Ok(())
            }
            Message::MessageRequestResponse(r) => {
                if outgoing {
                    return Ok(());
                }
                self.conversation(&peer)?;
                self.tx
                    .set_contact_flag(&peer, ContactFlag::ApprovedMe, r.is_approved)?;
                if r.is_approved {
                    events.push(Event::RequestAccepted { by: peer });
                }
                Ok(())
            }
            Message::DataExtraction(_) => {
                Err(SkipReason::Unsupported("screenshot or media-saved notice").into())
            }
            Message::Call(_) => Err(SkipReason::Unsupported("call").into()),
            _ => Err(SkipReason::Unsupported("unknown kind").into()),
        }
    }

    fn conversation(&self, peer: &SessionId) -> Result<i64, DbError> {
        self.tx
            .ensure_conversation(peer, self.now_ms, self.settings.default_disappearing)
    }

    fn approved(&self, peer: &SessionId) -> Result<bool, DbError> {
        Ok(self.tx.contact(peer)?.is_some_and(|c| c.approved))
    }

    fn state(&self, message: MessageId) -> Result<MessageState, DbError> {
        self.tx
            .message(message)?
            .map(|m| m.state)
            .ok_or(DbError::Corrupt("message vanished"))
    }

    /// Takes the display name from a data message's or request response's profile.
    fn profile(
        &self,
        peer: &SessionId,
        content: &Content,
        events: &mut Vec<Event>,
    ) -> Result<(), DbError> {
        let profile = match &content.message {
            Message::MessageRequestResponse(r) => r.profile.as_ref(),
            _ => content.data_fields().and_then(|d| d.profile.as_ref()),
        };
        let Some(profile) = profile else {
            return Ok(());
        };
        let key = match &content.message {
            Message::MessageRequestResponse(r) => r.profile_key.as_ref(),
            _ => content.data_fields().and_then(|d| d.profile_key.as_ref()),
        };
        if let (Some(url), Some(key)) = (profile.picture_url.as_deref(), key)
            && !url.is_empty()
        {
            self.tx.ensure_contact(peer, self.now_ms)?;
            self.tx.set_contact_picture(peer, url, key.expose())?;
        }
        let Some(name) = profile.display_name.as_deref().filter(|n| !n.is_empty()) else {
            return Ok(());
        };
        self.tx.ensure_contact(peer, self.now_ms)?;
        if self
            .tx
            .set_profile_name(peer, name, profile.last_update_seconds)?
        {
            events.push(Event::ProfileName {
                of: *peer,
                name: name.to_owned(),
            });
        }
        Ok(())
    }

    fn visible(
        &self,
        opened: &Opened,
        peer: SessionId,
        body: Option<&str>,
        quote: Option<&QuoteRef>,
        attachments: &[sotto_envelope::AttachmentPointer],
        events: &mut Vec<Event>,
    ) -> Result<(), Stop> {
        let outgoing = opened.sender == self.own;
        let disappearing = Disappearing::of_content(&opened.content);
        // After-send timers run from the sent time; after-read ones from reading, which for
        // one's own messages is sending.
        let expires_at_ms = match disappearing {
            Disappearing::AfterSend(_) => disappearing.timer_ms(),
            Disappearing::AfterRead(_) if outgoing => disappearing.timer_ms(),
            _ => None,
        }
        .map(|timer| opened.sent_ms.saturating_add(timer));
        if expires_at_ms.is_some_and(|t| t <= self.now_ms) {
            return Ok(());
        }
        let conversation = self.conversation(&peer)?;
        let inserted = self.tx.insert_message(&NewMessage {
            conversation,
            key: MessageKey {
                author: opened.sender,
                sent_ms: opened.sent_ms,
            },
            outgoing,
            received_ms: self.now_ms,
            body,
            quote,
            state: if outgoing {
                MessageState::SentElsewhere
            } else {
                MessageState::Received
            },
            disappearing,
            expires_at_ms,
        })?;
        let Some(id) = inserted else {
            // Already here (or unsent: the tombstone keeps it out).
            return Ok(());
        };
        self.tx
            .add_swarm_copy(id, &self.hash, self.swarm_expiry_ms)?;
        // Pointers without a URL or key cannot be fetched: they are left out.
        let usable = attachments
            .iter()
            .filter(|p| p.url.is_some() && p.key.is_some())
            .take(crate::attachments::MAX_ATTACHMENTS);
        for (index, pointer) in usable.enumerate() {
            self.tx.insert_attachment(id, index, pointer, None, false)?;
        }
        self.tx.touch(conversation, self.now_ms)?;
        // Writing to someone approves them; being written to means they approved us.
        let flag = if outgoing {
            ContactFlag::Approved
        } else {
            ContactFlag::ApprovedMe
        };
        self.tx.set_contact_flag(&peer, flag, true)?;
        let message = self
            .tx
            .message(id)?
            .ok_or(DbError::Corrupt("message vanished"))?;
        events.push(Event::Message(IncomingMessage {
            message,
            request: !self.approved(&peer)?,
        }));
        Ok(())
    }

    fn reaction(
        &self,
        opened: &Opened,
        peer: SessionId,
        target: &MessageKey,
        emoji: &str,
        add: bool,
        events: &mut Vec<Event>,
    ) -> Result<(), Stop> {
        let unknown = SkipReason::UnknownTarget("reaction");
        let conversation = self
            .tx
            .conversation_id(&peer)?
            .ok_or_else(|| unknown.clone())?;
        let message = self
            .tx
            .find_message(Some(conversation), target)?
            .ok_or_else(|| unknown.clone())?;
        if self.state(message)? == MessageState::Deleted {
            return Err(unknown.into());
        }
        if self
            .tx
            .set_reaction(message, &opened.sender, emoji, opened.sent_ms, add)?
        {
            events.push(Event::Reaction {
                message,
                reactor: opened.sender,
                emoji: emoji.to_owned(),
                added: add,
            });
        }
        Ok(())
    }
}
