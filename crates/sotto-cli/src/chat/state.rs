//! The chat screen's state machine: keys and client events in, actions out. No terminal and no
//! network here, so it is tested directly.

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use sotto_client::{Conversation, Engine, Event, MessageRecord, ReactionRecord, SessionId};

use crate::render::Names;

/// How many messages the screen loads.
pub const HISTORY: u32 = 200;
/// How long a peer's "typing" shows without a refresh, ms (Session clients repeat it).
pub const PEER_TYPING_MS: u64 = 20_000;
/// How often our own "typing started" is repeated while typing, ms.
pub const TYPING_REPEAT_MS: u64 = 10_000;
/// The longest input line, in characters.
pub const MAX_INPUT: usize = 2000;

/// What the screen shows of the local state, loaded afresh before each draw.
pub struct View {
    pub peer: SessionId,
    pub names: Names,
    /// `None` until a message is exchanged (or after a decline).
    pub conversation: Option<Conversation>,
    pub history: Vec<(MessageRecord, Vec<ReactionRecord>)>,
    /// The typing-indicators setting.
    pub typing_enabled: bool,
}

impl View {
    /// Loads the conversation with `peer`.
    pub fn load(engine: &Engine, peer: &SessionId) -> anyhow::Result<Self> {
        let history = engine
            .messages(peer, HISTORY)?
            .into_iter()
            .map(|m| {
                let reactions = engine.reactions(m.id)?;
                Ok((m, reactions))
            })
            .collect::<anyhow::Result<_>>()?;
        Ok(Self {
            peer: *peer,
            names: Names::new(engine.session_id(), engine.contacts()?),
            conversation: engine.conversation(peer)?,
            history,
            typing_enabled: engine.settings()?.typing_indicators,
        })
    }

    /// Whether the conversation is a message request waiting for an answer.
    pub fn is_request(&self) -> bool {
        self.conversation
            .as_ref()
            .is_some_and(|c| c.is_request() && has_incoming(&self.history))
    }
}

fn has_incoming(history: &[(MessageRecord, Vec<ReactionRecord>)]) -> bool {
    history.iter().any(|(m, _)| !m.outgoing)
}

/// What the screen asks the client to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Send this text.
    Send(String),
    /// Send this file (`/attach PATH`).
    Attach(std::path::PathBuf),
    /// Send this audio file as a voice message (`/voice PATH`).
    Voice(std::path::PathBuf),
    /// Tell the peer typing started (or stopped).
    Typing(bool),
    /// Accept the message request.
    Accept,
    /// Decline the message request (and leave).
    Decline,
    /// Mark the conversation read.
    MarkRead,
    /// Leave.
    Quit,
}

/// The screen's own state.
#[derive(Debug, Default)]
pub struct ChatState {
    /// The line being typed.
    pub input: String,
    /// Until when the peer shows as typing, ms.
    pub peer_typing_until: Option<u64>,
    /// When we last told the peer we are typing (`None`: not typing).
    typing_since: Option<u64>,
    /// The last notice (an error, or what happened).
    pub status: Option<String>,
    /// Lines scrolled up from the bottom of the history.
    pub scroll: u16,
    /// Set once the screen should close.
    pub quit: bool,
}

impl ChatState {
    /// Handles a key press.
    pub fn key(&mut self, key: KeyEvent, view: &View, now_ms: u64) -> Vec<Action> {
        if key.kind == KeyEventKind::Release {
            return Vec::new();
        }
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        let mut actions = Vec::new();
        match key.code {
            KeyCode::Esc => self.leave(&mut actions),
            KeyCode::Char('c') if ctrl => self.leave(&mut actions),
            KeyCode::Char('a') if ctrl && view.is_request() => {
                self.status = Some("Accepting the request…".to_owned());
                actions.push(Action::Accept);
            }
            KeyCode::Char('d') if ctrl && view.is_request() => {
                actions.push(Action::Decline);
                self.quit = true;
            }
            KeyCode::Enter => {
                let text = self.input.trim().to_owned();
                let path = |rest: &str| std::path::PathBuf::from(rest.trim());
                if let Some(rest) = text
                    .strip_prefix("/attach ")
                    .filter(|r| !r.trim().is_empty())
                {
                    self.status = Some(format!("Sending {}…", rest.trim()));
                    actions.push(Action::Attach(path(rest)));
                    self.scroll = 0;
                } else if let Some(rest) = text
                    .strip_prefix("/voice ")
                    .filter(|r| !r.trim().is_empty())
                {
                    self.status = Some(format!("Sending the voice message {}…", rest.trim()));
                    actions.push(Action::Voice(path(rest)));
                    self.scroll = 0;
                } else if !text.is_empty() {
                    actions.push(Action::Send(text));
                    self.scroll = 0;
                }
                self.input.clear();
                // A message ends the typing indicator on the other side by itself.
                self.typing_since = None;
            }
            KeyCode::Backspace => {
                self.input.pop();
                if self.input.is_empty() {
                    self.stop_typing(&mut actions);
                }
            }
            KeyCode::PageUp => self.scroll = self.scroll.saturating_add(5),
            KeyCode::PageDown => self.scroll = self.scroll.saturating_sub(5),
            KeyCode::Char(c) if !ctrl => {
                if self.input.chars().count() < MAX_INPUT {
                    self.input.push(c);
                }
                let due = self
                    .typing_since
                    .is_none_or(|t| now_ms.saturating_sub(t) >= TYPING_REPEAT_MS);
                if view.typing_enabled && due {
                    self.typing_since = Some(now_ms);
                    actions.push(Action::Typing(true));
                }
            }
            _ => {}
        }
        actions
    }

    fn stop_typing(&mut self, actions: &mut Vec<Action>) {
        if self.typing_since.take().is_some() {
            actions.push(Action::Typing(false));
        }
    }

    fn leave(&mut self, actions: &mut Vec<Action>) {
        self.stop_typing(actions);
        actions.push(Action::Quit);
        self.quit = true;
    }

    /// Handles a client event; returns what to do about it.
    pub fn event(&mut self, event: &Event, peer: &SessionId, now_ms: u64) -> Vec<Action> {
        match event {
            Event::Typing { from, started } if from == peer => {
                self.peer_typing_until = started.then(|| now_ms.saturating_add(PEER_TYPING_MS));
                Vec::new()
            }
            Event::Message(m) if m.message.peer == *peer && !m.message.outgoing => {
                self.peer_typing_until = None;
                // Read while on screen (a request stays unread until accepted).
                if m.request {
                    Vec::new()
                } else {
                    vec![Action::MarkRead]
                }
            }
            Event::RequestAccepted { by } if by == peer => {
                self.status = Some("They accepted your message request.".to_owned());
                Vec::new()
            }
            _ => Vec::new(),
        }
    }

    /// Expires what runs out with time.
    pub fn tick(&mut self, now_ms: u64) {
        if self.peer_typing_until.is_some_and(|t| t <= now_ms) {
            self.peer_typing_until = None;
        }
    }

    /// Whether the peer shows as typing.
    pub fn peer_typing(&self) -> bool {
        self.peer_typing_until.is_some()
    }
}
