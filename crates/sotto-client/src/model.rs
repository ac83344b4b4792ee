//! The client's domain types: contacts, conversations, messages and their states, settings.

use core::fmt;

use sotto_envelope::{Content, ExpirationType};
use sotto_identity::SessionId;

/// A message's row id in the local database.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MessageId(pub i64);

impl fmt::Display for MessageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}

/// How a message names another one on the wire (quotes, reactions, unsend requests, receipts):
/// its author and its sent timestamp.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MessageKey {
    /// Who wrote it.
    pub author: SessionId,
    /// Its sent timestamp, ms.
    pub sent_ms: u64,
}

/// Where a message is on its way, as the user sees it.
///
/// Outgoing: `Sending` → `Stored { k, n }` (k ≥ 1 of the recipient swarm's n nodes signed
/// that they hold it) or `Failed` (no node confirmed; retried at `next_retry_ms`, or given up
/// when it is `None`) → `Read` once the recipient's read receipt arrives (when read receipts are
/// on). Incoming: `Received` → `Read` once marked read. Either kind ends in `Deleted` when it is
/// unsent or disappears; the row stays as a tombstone without its text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageState {
    /// Written locally and queued; no node has confirmed it yet.
    Sending,
    /// `k` of the recipient swarm's `n` nodes confirmed, with a valid signature, that they
    /// store it.
    Stored {
        /// Nodes that confirmed.
        k: u32,
        /// Nodes of the swarm that answered (or failed to).
        n: u32,
    },
    /// No node confirmed after `attempts` tries.
    Failed {
        /// Attempts made so far.
        attempts: u32,
        /// When the next attempt is due; `None` once the client gave up (a manual retry
        /// starts again).
        next_retry_ms: Option<u64>,
    },
    /// Sent by this account from another device (seen through its sync copy).
    SentElsewhere,
    /// Received from the peer.
    Received,
    /// Incoming: read here. Outgoing: the recipient sent a read receipt.
    Read,
    /// Unsent by its author, or disappeared: only a tombstone is left.
    Deleted,
}

impl MessageState {
    /// Whether this is an outgoing message still on its way (or waiting for a retry).
    #[must_use]
    pub fn is_pending(self) -> bool {
        matches!(self, Self::Sending | Self::Failed { .. })
    }
}

/// A conversation's disappearing-messages setting.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Disappearing {
    /// Messages stay.
    #[default]
    Off,
    /// Messages disappear this many seconds after they are read (outgoing ones: after they
    /// are sent).
    AfterRead(u32),
    /// Messages disappear this many seconds after they are sent.
    AfterSend(u32),
}

impl Disappearing {
    /// The setting a Content carries. A zero timer, a missing one or the legacy `UNKNOWN`
    /// type read as `Off` (nothing is deleted on an ambiguous setting).
    #[must_use]
    pub fn of_content(content: &Content) -> Self {
        match (content.expiration_type, content.expiration_timer) {
            (Some(ExpirationType::DeleteAfterRead), Some(secs)) if secs > 0 => {
                Self::AfterRead(secs)
            }
            (Some(ExpirationType::DeleteAfterSend), Some(secs)) if secs > 0 => {
                Self::AfterSend(secs)
            }
            _ => Self::Off,
        }
    }

    /// Writes the setting into a Content's `expirationType` / `expirationTimer`.
    pub fn write_to(self, content: &mut Content) {
        let (kind, timer) = match self {
            Self::Off => (None, None),
            Self::AfterRead(secs) => (Some(ExpirationType::DeleteAfterRead), Some(secs)),
            Self::AfterSend(secs) => (Some(ExpirationType::DeleteAfterSend), Some(secs)),
        };
        content.expiration_type = kind;
        content.expiration_timer = timer;
    }

    /// The timer in milliseconds, if any.
    #[must_use]
    pub fn timer_ms(self) -> Option<u64> {
        match self {
            Self::Off => None,
            Self::AfterRead(secs) | Self::AfterSend(secs) => Some(u64::from(secs) * 1000),
        }
    }

    /// The database form: (mode, seconds); mode 0 off, 1 after read, 2 after send.
    pub(crate) fn to_columns(self) -> (i64, i64) {
        match self {
            Self::Off => (0, 0),
            Self::AfterRead(secs) => (1, i64::from(secs)),
            Self::AfterSend(secs) => (2, i64::from(secs)),
        }
    }

    /// Reads the database form.
    pub(crate) fn from_columns(mode: i64, secs: i64) -> Option<Self> {
        let secs = u32::try_from(secs).ok()?;
        match mode {
            0 => Some(Self::Off),
            1 => Some(Self::AfterRead(secs)),
            2 => Some(Self::AfterSend(secs)),
            _ => None,
        }
    }
}

/// A quoted message, as a reply carries it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuoteRef {
    /// The quoted message.
    pub key: MessageKey,
    /// Its text, as the replier saw it.
    pub text: Option<String>,
    /// Its attachments, as the replier described them (Android's `QuotedAttachment`; empty
    /// from desktop and iOS, which name only the message).
    pub attachments: Vec<QuotedFile>,
}

/// An attachment of a quoted message, as a quote describes it (no thumbnail is kept).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct QuotedFile {
    /// MIME type.
    pub content_type: Option<String>,
    /// File name.
    pub file_name: Option<String>,
    /// A voice message.
    pub voice: bool,
}

/// Someone this account knows of: a contact, a requester or a blocked sender.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Contact {
    /// Their Session ID.
    pub session_id: SessionId,
    /// A name given locally.
    pub nickname: Option<String>,
    /// The display name from their profile.
    pub profile_name: Option<String>,
    /// This account accepted them: their messages are not requests.
    pub approved: bool,
    /// They accepted this account (sent a message-request response, or wrote to it).
    pub approved_me: bool,
    /// Their messages are dropped.
    pub blocked: bool,
}

impl Contact {
    /// The name to show: the nickname, else the profile name.
    #[must_use]
    pub fn display_name(&self) -> Option<&str> {
        self.nickname.as_deref().or(self.profile_name.as_deref())
    }
}

/// A one-to-one conversation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conversation {
    /// The other side.
    pub contact: Contact,
    /// The disappearing-messages setting in effect.
    pub disappearing: Disappearing,
    /// When something last happened in it, ms.
    pub last_activity_ms: u64,
    /// Incoming messages not read yet.
    pub unread: u32,
    /// Where it is listed (the Contacts config's `+`; Note-to-Self: UserProfile's): −1
    /// hidden, 0 normal, above 0 pinned (higher first).
    pub priority: i64,
    /// Marked unread by the user (ConvoInfoVolatile's `u`), whatever its unread count.
    pub marked_unread: bool,
}

impl Conversation {
    /// Whether it is a message request: the peer is not approved.
    #[must_use]
    pub fn is_request(&self) -> bool {
        !self.contact.approved
    }

    /// Whether it is pinned (listed first).
    #[must_use]
    pub fn is_pinned(&self) -> bool {
        self.priority > 0
    }

    /// Whether it is hidden (left out of the list until a new message arrives).
    #[must_use]
    pub fn is_hidden(&self) -> bool {
        self.priority < 0
    }
}

/// A message as stored locally.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageRecord {
    /// Its local id.
    pub id: MessageId,
    /// The conversation's peer.
    pub peer: SessionId,
    /// Who wrote it and when (its identity on the wire).
    pub key: MessageKey,
    /// Written by this account.
    pub outgoing: bool,
    /// When this device created or received it, ms.
    pub received_ms: u64,
    /// The text (`None` once deleted, or for a message without text).
    pub body: Option<String>,
    /// The message it replies to.
    pub quote: Option<QuoteRef>,
    /// Where it is.
    pub state: MessageState,
    /// Its disappearing setting.
    pub disappearing: Disappearing,
    /// When it disappears, ms (after-read messages get this once read).
    pub expires_at_ms: Option<u64>,
    /// When it was read (incoming: here; outgoing: by the recipient), ms.
    pub read_ms: Option<u64>,
}

/// An emoji reaction on a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReactionRecord {
    /// Who reacted.
    pub reactor: SessionId,
    /// The emoji.
    pub emoji: String,
    /// When, ms.
    pub sent_ms: u64,
}

/// The account's settings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Settings {
    /// Send read receipts and show the peer's (off by default).
    pub read_receipts: bool,
    /// Send typing indicators and show the peer's (off by default).
    pub typing_indicators: bool,
    /// The display name sent in this account's profile.
    pub display_name: Option<String>,
    /// When the display name last changed, seconds since the Unix epoch.
    pub profile_updated_s: Option<u64>,
    /// The disappearing setting new conversations start with.
    pub default_disappearing: Disappearing,
}
