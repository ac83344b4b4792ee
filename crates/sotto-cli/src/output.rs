//! Writing results to stdout: human text or JSON with stable keys.
//!
//! Every value a command prints is one of the structs here, so the JSON keys are fixed in one
//! place. Optional values are `null` rather than missing. A closed stdout (`sotto id | head -c0`)
//! is not an error.

use std::io::{self, Write};
use std::path::Path;

use anyhow::Context as _;
use serde::Serialize;
use sotto_client::Trace;

/// `sotto account new`.
#[derive(Serialize)]
pub struct NewAccount<'a> {
    pub session_id: String,
    pub recovery_phrase: &'a str,
    pub data_dir: String,
    pub account_file: String,
    pub encrypted: bool,
    pub qr_png: Option<String>,
}

/// `sotto account restore`.
#[derive(Serialize)]
pub struct RestoredAccount {
    pub session_id: String,
    pub data_dir: String,
    pub account_file: String,
    pub encrypted: bool,
}

/// `sotto account show-phrase`.
#[derive(Serialize)]
pub struct Phrase<'a> {
    pub session_id: String,
    pub recovery_phrase: &'a str,
}

/// `sotto account info`.
#[derive(Serialize)]
pub struct Info {
    pub session_id: String,
    pub data_dir: String,
    pub account_file: String,
    pub encrypted: bool,
    pub kdf: Option<crate::store::KdfParams>,
}

/// `sotto id`.
#[derive(Serialize)]
pub struct Id {
    pub session_id: String,
    pub qr_png: Option<String>,
}

/// `sotto qr decode`.
#[derive(Serialize)]
pub struct Decoded {
    pub session_id: String,
    pub file: String,
}

/// A path for display and JSON (lossy for names that are not UTF-8).
pub fn path(path: &Path) -> String {
    path.display().to_string()
}

/// Prints `value` as pretty JSON followed by a newline.
pub fn json<T: Serialize>(value: &T) -> anyhow::Result<()> {
    let mut text = zeroize::Zeroizing::new(
        serde_json::to_string_pretty(value).context("cannot format the output as JSON")?,
    );
    text.push('\n');
    stdout(&text)
}

/// Prints text as is.
pub fn stdout(text: &str) -> anyhow::Result<()> {
    let mut out = io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() != io::ErrorKind::BrokenPipe => {
            Err(e).context("cannot write to standard output")
        }
        _ => Ok(()),
    }
}

// Messaging. Times are milliseconds since the Unix epoch; Session IDs are 66 hex characters.

/// A contact (anyone known: contact, requester, blocked sender).
#[derive(Serialize)]
pub struct Contact {
    pub session_id: String,
    /// The name shown: the nickname, else the profile name.
    pub name: Option<String>,
    pub nickname: Option<String>,
    pub profile_name: Option<String>,
    pub approved: bool,
    pub approved_me: bool,
    pub blocked: bool,
}

impl From<&sotto_client::Contact> for Contact {
    fn from(c: &sotto_client::Contact) -> Self {
        Self {
            session_id: c.session_id.to_string(),
            name: c.display_name().map(str::to_owned),
            nickname: c.nickname.clone(),
            profile_name: c.profile_name.clone(),
            approved: c.approved,
            approved_me: c.approved_me,
            blocked: c.blocked,
        }
    }
}

/// `sotto contacts list`.
#[derive(Serialize)]
pub struct Contacts {
    pub contacts: Vec<Contact>,
}

/// A disappearing-messages setting: `mode` is `off`, `after_read` or `after_send`.
#[derive(Serialize)]
pub struct Disappearing {
    pub mode: &'static str,
    pub seconds: Option<u32>,
}

impl From<sotto_client::Disappearing> for Disappearing {
    fn from(d: sotto_client::Disappearing) -> Self {
        use sotto_client::Disappearing as D;
        let (mode, seconds) = match d {
            D::Off => ("off", None),
            D::AfterRead(s) => ("after_read", Some(s)),
            D::AfterSend(s) => ("after_send", Some(s)),
        };
        Self { mode, seconds }
    }
}

/// A delivery state: `state` is `sending`, `stored`, `failed`, `sent_elsewhere`, `received`,
/// `read` or `deleted`; `stored`/`of` for `stored`, `attempts`/`next_retry_ms` for `failed`.
#[derive(Serialize)]
pub struct State {
    pub state: &'static str,
    pub stored: Option<u32>,
    pub of: Option<u32>,
    pub attempts: Option<u32>,
    pub next_retry_ms: Option<u64>,
}

impl From<sotto_client::MessageState> for State {
    fn from(s: sotto_client::MessageState) -> Self {
        use sotto_client::MessageState as S;
        let mut out = Self {
            state: crate::render::state_name(s),
            stored: None,
            of: None,
            attempts: None,
            next_retry_ms: None,
        };
        match s {
            S::Stored { k, n } => {
                out.stored = Some(k);
                out.of = Some(n);
            }
            S::Failed {
                attempts,
                next_retry_ms,
            } => {
                out.attempts = Some(attempts);
                out.next_retry_ms = next_retry_ms;
            }
            _ => {}
        }
        out
    }
}

/// A quoted message; `id` is its local number when this device has it.
#[derive(Serialize)]
pub struct Quote {
    pub id: Option<i64>,
    pub author: String,
    pub timestamp: u64,
    pub text: Option<String>,
    /// The quoted message's attachments, as the quote describes them (Android's).
    pub attachments: Vec<QuotedFile>,
}

/// An attachment of a quoted message.
#[derive(Serialize)]
pub struct QuotedFile {
    pub content_type: Option<String>,
    pub file_name: Option<String>,
    pub voice: bool,
}

/// A reaction on a message.
#[derive(Serialize)]
pub struct Reaction {
    pub emoji: String,
    pub from: String,
    pub from_name: Option<String>,
}

/// A message of a conversation's history (`sotto read`).
#[derive(Serialize)]
pub struct Message {
    pub id: i64,
    pub from: String,
    pub from_name: Option<String>,
    pub outgoing: bool,
    /// The sent timestamp (the message's identity on the wire).
    pub timestamp: u64,
    pub received_ms: u64,
    /// `null` for an unsent or disappeared message (its tombstone).
    pub text: Option<String>,
    pub quote: Option<Quote>,
    #[serde(flatten)]
    pub state: State,
    pub disappearing: Disappearing,
    pub expires_at_ms: Option<u64>,
    pub read_ms: Option<u64>,
    pub reactions: Vec<Reaction>,
    /// Files, images and voice messages (`sotto save` fetches them).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub attachments: Vec<crate::commands_files::AttachmentJson>,
}

/// The copy of a sent message stored in one's own swarm (for one's other devices).
#[derive(Serialize)]
pub struct SyncCopy {
    /// `stored` or `failed` (retried with the message's next attempt).
    pub state: &'static str,
    pub stored: Option<u32>,
    pub of: Option<u32>,
    pub error: Option<String>,
}

/// `sotto send`.
#[derive(Serialize)]
pub struct Sent {
    pub id: i64,
    pub to: String,
    pub to_name: Option<String>,
    #[serde(flatten)]
    pub state: State,
    /// Why the last attempt failed, for `failed`.
    pub error: Option<String>,
    pub sync_copy: Option<SyncCopy>,
    pub route: Vec<Trace>,
}

/// Something that happened, as `sotto sync`, `sotto listen` and the `arrived` lists print it.
/// `event` names the kind.
#[derive(Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    Message {
        id: i64,
        /// The conversation's peer.
        conversation: String,
        from: String,
        display_name: Option<String>,
        text: Option<String>,
        quote: Option<Quote>,
        timestamp: u64,
        outgoing: bool,
        is_request: bool,
    },
    Reaction {
        message: i64,
        from: String,
        display_name: Option<String>,
        emoji: String,
        added: bool,
    },
    Unsent {
        message: i64,
    },
    Expired {
        message: i64,
    },
    Typing {
        from: String,
        display_name: Option<String>,
        started: bool,
    },
    Read {
        by: String,
        display_name: Option<String>,
        messages: Vec<i64>,
    },
    Disappearing {
        conversation: String,
        setting: Disappearing,
    },
    RequestAccepted {
        by: String,
        display_name: Option<String>,
    },
    ProfileName {
        of: String,
        name: String,
    },
    Delivery {
        message: i64,
        #[serde(flatten)]
        state: State,
    },
    Dropped {
        from: String,
        hash: String,
    },
    Skipped {
        hash: String,
        reason: String,
    },
}

/// `sotto sync`.
#[derive(Serialize)]
pub struct Synced {
    pub events: Vec<Event>,
    pub route: Vec<Trace>,
}

/// A conversation in `sotto inbox` and `sotto requests`.
#[derive(Serialize)]
pub struct ConversationSummary {
    pub session_id: String,
    pub name: Option<String>,
    pub is_request: bool,
    pub unread: u32,
    /// Pinned: listed first.
    pub pinned: bool,
    /// Marked unread by the user (whatever `unread` counts).
    pub marked_unread: bool,
    pub last_activity_ms: u64,
    pub disappearing: Disappearing,
    /// The newest message (`null` for an empty conversation).
    pub last_message: Option<Preview>,
}

/// A message in a list.
#[derive(Serialize)]
pub struct Preview {
    pub id: i64,
    pub from: String,
    pub outgoing: bool,
    pub text: Option<String>,
    pub timestamp: u64,
}

/// `sotto inbox`.
#[derive(Serialize)]
pub struct Inbox {
    pub conversations: Vec<ConversationSummary>,
    pub unread: u32,
    pub requests: usize,
    /// Whether the network was polled first (not with `--offline`).
    pub synced: bool,
    pub arrived: Vec<Event>,
    pub route: Vec<Trace>,
}

/// `sotto requests [list]`.
#[derive(Serialize)]
pub struct Requests {
    pub requests: Vec<ConversationSummary>,
    /// Invitations to closed groups.
    pub groups: Vec<sotto_client::groups::GroupInvitation>,
    pub synced: bool,
    pub route: Vec<Trace>,
}

/// `sotto read`.
#[derive(Serialize)]
pub struct History {
    pub contact: Contact,
    pub is_request: bool,
    pub disappearing: Disappearing,
    pub messages: Vec<Message>,
    pub synced: bool,
    pub arrived: Vec<Event>,
    pub route: Vec<Trace>,
}

/// `sotto requests accept|decline`, `sotto contacts block|unblock|add`, `sotto settings
/// disappearing`: what was done to whom.
#[derive(Serialize)]
pub struct Done {
    pub action: &'static str,
    pub contact: Contact,
    pub disappearing: Option<Disappearing>,
    pub route: Vec<Trace>,
}

/// `sotto react` and `sotto unsend`.
#[derive(Serialize)]
pub struct MessageAction {
    pub action: &'static str,
    pub message: i64,
    pub to: String,
    pub emoji: Option<String>,
    pub route: Vec<Trace>,
}

/// `sotto delete` and `sotto clear`: the messages deleted here, and how many of their
/// copies on one's own swarm still wait to be deleted (0: gone from the swarm too, or none
/// was known).
#[derive(Serialize)]
pub struct Removed {
    pub action: &'static str,
    pub contact: String,
    pub messages: Vec<i64>,
    pub swarm_pending: usize,
    pub route: Vec<Trace>,
}

/// `sotto profile show|set-name`.
#[derive(Serialize)]
pub struct Profile {
    pub session_id: String,
    pub display_name: Option<String>,
    pub profile_updated_s: Option<u64>,
    pub data_dir: String,
    pub database: String,
}

/// `sotto settings`.
#[derive(Serialize)]
pub struct Settings {
    pub read_receipts: bool,
    pub typing_indicators: bool,
    pub display_name: Option<String>,
    pub default_disappearing: Disappearing,
}

impl From<&sotto_client::Settings> for Settings {
    fn from(s: &sotto_client::Settings) -> Self {
        Self {
            read_receipts: s.read_receipts,
            typing_indicators: s.typing_indicators,
            display_name: s.display_name.clone(),
            default_disappearing: s.default_disappearing.into(),
        }
    }
}

/// Prints `value` as one line of JSON (for streams such as `sotto listen`). Returns `false`
/// once standard output is closed.
pub fn json_line<T: Serialize>(value: &T) -> anyhow::Result<bool> {
    let mut text = serde_json::to_string(value).context("cannot format the output as JSON")?;
    text.push('\n');
    let mut out = io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(false),
        Err(e) => Err(e).context("cannot write to standard output"),
    }
}
