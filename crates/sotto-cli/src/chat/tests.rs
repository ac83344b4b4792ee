//! Tests of the chat screen without a terminal: the state machine directly, the drawing on
//! ratatui's `TestBackend`.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use sotto_client::{
    Contact, Conversation, Disappearing, Event, IncomingMessage, MessageId, MessageKey,
    MessageRecord, MessageState, QuoteRef, ReactionRecord, SessionId,
};

use super::state::{Action, ChatState, PEER_TYPING_MS, TYPING_REPEAT_MS, View};
use super::ui;
use crate::render::Names;

const NOW: u64 = 1_754_971_101_000;

fn sid(byte: &str) -> SessionId {
    format!("05{}", byte.repeat(32)).parse().unwrap()
}

fn me() -> SessionId {
    sid("aa")
}

fn bob() -> SessionId {
    sid("bb")
}

fn message(id: i64, outgoing: bool, body: &str, state: MessageState) -> MessageRecord {
    let author = if outgoing { me() } else { bob() };
    MessageRecord {
        id: MessageId(id),
        peer: bob(),
        key: MessageKey {
            author,
            sent_ms: NOW - 60_000 + u64::try_from(id).unwrap() * 1000,
        },
        outgoing,
        received_ms: NOW,
        body: Some(body.to_owned()),
        quote: None,
        state,
        disappearing: Disappearing::Off,
        expires_at_ms: None,
        read_ms: None,
    }
}

fn view(approved: bool, typing: bool, history: Vec<MessageRecord>) -> View {
    let contact = Contact {
        session_id: bob(),
        nickname: None,
        profile_name: Some("Bob".to_owned()),
        approved,
        approved_me: true,
        blocked: false,
    };
    View {
        peer: bob(),
        names: Names::new(me(), vec![contact.clone()]),
        conversation: Some(Conversation {
            contact,
            disappearing: Disappearing::Off,
            last_activity_ms: NOW,
            unread: 0,
            priority: 0,
            marked_unread: false,
        }),
        history: history.into_iter().map(|m| (m, Vec::new())).collect(),
        typing_enabled: typing,
    }
}

fn key(code: KeyCode) -> KeyEvent {
    KeyEvent::new(code, KeyModifiers::NONE)
}

fn ctrl(c: char) -> KeyEvent {
    KeyEvent::new(KeyCode::Char(c), KeyModifiers::CONTROL)
}

fn typed(state: &mut ChatState, view: &View, text: &str, now: u64) -> Vec<Action> {
    text.chars()
        .flat_map(|c| state.key(key(KeyCode::Char(c)), view, now))
        .collect()
}

/// Draws the screen and returns it as text, one line per row.
fn screen(state: &ChatState, view: &View, width: u16, height: u16) -> String {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
    terminal
        .draw(|frame| ui::draw(frame, state, view, NOW))
        .unwrap();
    let buffer = terminal.backend().buffer();
    (0..height)
        .map(|y| {
            (0..width)
                .map(|x| buffer[(x, y)].symbol())
                .collect::<String>()
                .trim_end()
                .to_owned()
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn enter_sends_the_line_and_esc_quits() {
    let v = view(true, false, Vec::new());
    let mut state = ChatState::default();
    assert!(typed(&mut state, &v, "hi bob", NOW).is_empty());
    assert_eq!(state.input, "hi bob");
    state.key(key(KeyCode::Backspace), &v, NOW);
    state.key(key(KeyCode::Char('!')), &v, NOW);
    assert_eq!(
        state.key(key(KeyCode::Enter), &v, NOW),
        vec![Action::Send("hi bo!".to_owned())]
    );
    assert!(state.input.is_empty());
    // An empty line sends nothing.
    assert!(state.key(key(KeyCode::Enter), &v, NOW).is_empty());
    assert_eq!(state.key(key(KeyCode::Esc), &v, NOW), vec![Action::Quit]);
    assert!(state.quit);

    let mut state = ChatState::default();
    assert_eq!(state.key(ctrl('c'), &v, NOW), vec![Action::Quit]);
}

#[test]
fn typing_indicators_follow_the_setting() {
    // Off: nothing is sent.
    let off = view(true, false, Vec::new());
    let mut state = ChatState::default();
    assert!(typed(&mut state, &off, "abc", NOW).is_empty());

    // On: started once, repeated after a while, stopped when the line is emptied or on quit.
    let on = view(true, true, Vec::new());
    let mut state = ChatState::default();
    assert_eq!(
        typed(&mut state, &on, "ab", NOW),
        vec![Action::Typing(true)]
    );
    assert_eq!(
        typed(&mut state, &on, "c", NOW + TYPING_REPEAT_MS),
        vec![Action::Typing(true)]
    );
    for _ in 0..2 {
        assert!(state.key(key(KeyCode::Backspace), &on, NOW).is_empty());
    }
    assert_eq!(
        state.key(key(KeyCode::Backspace), &on, NOW),
        vec![Action::Typing(false)]
    );
    typed(&mut state, &on, "x", NOW);
    assert_eq!(
        state.key(key(KeyCode::Esc), &on, NOW),
        vec![Action::Typing(false), Action::Quit]
    );
}

#[test]
fn peer_typing_shows_and_expires() {
    let v = view(
        true,
        true,
        vec![message(1, false, "hello", MessageState::Received)],
    );
    let mut state = ChatState::default();
    let typing = Event::Typing {
        from: bob(),
        started: true,
    };
    assert!(state.event(&typing, &bob(), NOW).is_empty());
    assert!(state.peer_typing());
    assert!(screen(&state, &v, 60, 12).contains("Bob is typing…"));
    state.tick(NOW + PEER_TYPING_MS);
    assert!(!state.peer_typing());
    assert!(!screen(&state, &v, 60, 12).contains("typing"));

    // Someone else's typing is not shown; a message from the peer ends theirs and is read.
    state.event(&typing, &bob(), NOW);
    let other = Event::Typing {
        from: sid("cc"),
        started: false,
    };
    state.event(&other, &bob(), NOW);
    assert!(state.peer_typing());
    let incoming = Event::Message(IncomingMessage {
        message: message(2, false, "there?", MessageState::Received),
        request: false,
    });
    assert_eq!(state.event(&incoming, &bob(), NOW), vec![Action::MarkRead]);
    assert!(!state.peer_typing());
}

#[test]
fn request_banner_with_accept_and_decline_keys() {
    let request = view(
        false,
        false,
        vec![message(1, false, "hi, it's bob", MessageState::Received)],
    );
    assert!(request.is_request());
    let text = screen(&ChatState::default(), &request, 70, 14);
    assert!(text.contains("Message request from Bob"), "{text}");
    assert!(
        text.contains("Ctrl-A accept") && text.contains("Ctrl-D decline"),
        "{text}"
    );

    let mut state = ChatState::default();
    assert_eq!(state.key(ctrl('a'), &request, NOW), vec![Action::Accept]);
    assert!(!state.quit);
    assert_eq!(state.key(ctrl('d'), &request, NOW), vec![Action::Decline]);
    assert!(state.quit);

    // A contact gets no banner, and the keys do nothing.
    let contact = view(
        true,
        false,
        vec![message(1, false, "hi", MessageState::Received)],
    );
    assert!(!screen(&ChatState::default(), &contact, 70, 14).contains("Message request"));
    let mut state = ChatState::default();
    assert!(state.key(ctrl('a'), &contact, NOW).is_empty());
    assert!(state.key(ctrl('d'), &contact, NOW).is_empty());
    assert!(!state.quit);
}

#[test]
fn history_shows_states_quotes_reactions_and_tombstones() {
    let mut reply = message(3, true, "sure", MessageState::Stored { k: 5, n: 7 });
    reply.quote = Some(QuoteRef {
        key: message(2, false, "", MessageState::Received).key,
        text: Some("coffee?".to_owned()),
        attachments: Vec::new(),
    });
    let mut gone = message(5, true, "oops", MessageState::Deleted);
    gone.body = None;
    let mut timed = message(6, true, "self-destructs", MessageState::Sending);
    timed.expires_at_ms = Some(NOW + 300_000);
    let history = vec![
        message(1, true, "hello", MessageState::Read),
        message(2, false, "coffee?", MessageState::Received),
        reply,
        message(
            4,
            true,
            "lost",
            MessageState::Failed {
                attempts: 2,
                next_retry_ms: Some(NOW + 4_000),
            },
        ),
        gone,
        timed,
    ];
    let mut v = view(true, false, history);
    v.history[1].1.push(ReactionRecord {
        reactor: me(),
        emoji: "👍".to_owned(),
        sent_ms: NOW,
    });
    let text = screen(&ChatState::default(), &v, 80, 20);
    for expected in [
        "#1",
        "you: hello",
        "[read]",
        "Bob: coffee?",
        "you",
        "↳ #2 Bob: coffee?",
        "[stored 5/7]",
        "[failed (2 tries), retrying in 4s]",
        "(unsent)",
        "[sending]",
        "⏱ 5m",
        "Enter send",
    ] {
        assert!(text.contains(expected), "no {expected:?} in\n{text}");
    }
    // The reaction line follows the reacted message.
    let lines: Vec<&str> = text.lines().collect();
    let coffee = lines
        .iter()
        .position(|l| l.contains("Bob: coffee?"))
        .unwrap();
    assert!(lines[coffee + 1].contains("you"), "{text}");
}

#[test]
fn long_histories_show_the_newest_and_scroll() {
    let history = (1..=40)
        .map(|i| message(i, i % 2 == 0, &format!("line {i}"), MessageState::Received))
        .collect();
    let v = view(true, false, history);
    let mut state = ChatState::default();
    let text = screen(&state, &v, 60, 12);
    assert!(
        text.contains("line 40") && !text.contains("line 30"),
        "{text}"
    );
    state.key(key(KeyCode::PageUp), &v, NOW);
    state.key(key(KeyCode::PageUp), &v, NOW);
    // Six history rows, ten lines up: messages 25 to 30.
    let text = screen(&state, &v, 60, 12);
    assert!(
        text.contains("line 25") && text.contains("line 30"),
        "{text}"
    );
    assert!(
        !text.contains("line 31") && !text.contains("line 24"),
        "{text}"
    );
    // Sending returns to the bottom.
    typed(&mut state, &v, "x", NOW);
    state.key(key(KeyCode::Enter), &v, NOW);
    assert!(screen(&state, &v, 60, 12).contains("line 40"));

    // A long message wraps instead of being cut.
    let long = "word ".repeat(30);
    let v = view(
        true,
        false,
        vec![message(1, false, long.trim(), MessageState::Received)],
    );
    let text = screen(&ChatState::default(), &v, 40, 14);
    assert_eq!(text.matches("word").count(), 30, "{text}");
}

#[test]
fn input_and_status_are_drawn() {
    let v = view(true, false, Vec::new());
    let mut state = ChatState::default();
    typed(&mut state, &v, "draft", NOW);
    state.status = Some("Sending failed: the network is unavailable".to_owned());
    let text = screen(&state, &v, 60, 10);
    assert!(text.contains("draft"), "{text}");
    assert!(text.contains("No messages yet"), "{text}");
    assert!(text.contains("Sending failed"), "{text}");
    assert!(text.contains("Bob (05bbbb…bbbb)"), "{text}");
}

#[test]
fn attach_and_voice_commands_send_files() {
    let v = view(true, false, Vec::new());
    let mut state = ChatState::default();
    typed(&mut state, &v, "/attach ~/cat.jpg", NOW);
    assert_eq!(
        state.key(key(KeyCode::Enter), &v, NOW),
        vec![Action::Attach("~/cat.jpg".into())]
    );
    assert!(state.status.as_deref().unwrap().contains("cat.jpg"));
    typed(&mut state, &v, "/voice memo.m4a", NOW);
    assert_eq!(
        state.key(key(KeyCode::Enter), &v, NOW),
        vec![Action::Voice("memo.m4a".into())]
    );
    // Without a path it is only text.
    typed(&mut state, &v, "/attach ", NOW);
    assert_eq!(
        state.key(key(KeyCode::Enter), &v, NOW),
        vec![Action::Send("/attach".to_owned())]
    );
}
