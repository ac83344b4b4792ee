//! Turning the client's records and events into what commands print: short human text and the
//! JSON structs of [`crate::output`]. Shared by the one-shot commands, `listen` and `chat`.

use std::collections::HashMap;
use std::fmt::Write as _;

use sotto_client::{
    Contact, Disappearing, Event, MessageId, MessageKey, MessageRecord, MessageState,
    ReactionRecord, SessionId, Trace,
};

use crate::output;

/// Who is who: the contacts by Session ID, and this account.
pub struct Names {
    own: SessionId,
    contacts: HashMap<SessionId, Contact>,
}

impl Names {
    pub fn new(own: SessionId, contacts: Vec<Contact>) -> Self {
        Self {
            own,
            contacts: contacts.into_iter().map(|c| (c.session_id, c)).collect(),
        }
    }

    /// This account.
    pub fn own(&self) -> SessionId {
        self.own
    }

    /// The display name of `id` (nickname, else profile name), if any.
    pub fn display(&self, id: &SessionId) -> Option<String> {
        self.contacts
            .get(id)
            .and_then(Contact::display_name)
            .map(str::to_owned)
    }

    /// How to name `id` in text: "you", the display name, or the short Session ID.
    pub fn of(&self, id: &SessionId) -> String {
        if *id == self.own {
            return "you".to_owned();
        }
        self.display(id).unwrap_or_else(|| id.short())
    }

    /// The contact JSON of `id` (a stranger gets default flags).
    pub fn contact_json(&self, id: &SessionId) -> output::Contact {
        match self.contacts.get(id) {
            Some(c) => c.into(),
            None => output::Contact {
                session_id: id.to_string(),
                name: None,
                nickname: None,
                profile_name: None,
                approved: false,
                approved_me: false,
                blocked: false,
            },
        }
    }
}

/// The JSON name of a state.
pub fn state_name(state: MessageState) -> &'static str {
    match state {
        MessageState::Sending => "sending",
        MessageState::Stored { .. } => "stored",
        MessageState::Failed { .. } => "failed",
        MessageState::SentElsewhere => "sent_elsewhere",
        MessageState::Received => "received",
        MessageState::Read => "read",
        MessageState::Deleted => "deleted",
    }
}

/// A state as shown next to a message: "sending", "stored 7/7", "failed, retrying in 4 s", …
pub fn state_text(state: MessageState, outgoing: bool, now_ms: u64) -> String {
    match state {
        MessageState::Sending => "sending".to_owned(),
        MessageState::Stored { k, n } => format!("stored {k}/{n}"),
        MessageState::Failed {
            attempts,
            next_retry_ms: Some(at),
        } => format!(
            "failed ({attempts} {}), retrying in {}",
            plural(attempts, "try", "tries"),
            duration_text(u32::try_from(at.saturating_sub(now_ms).div_ceil(1000)).unwrap_or(0)),
        ),
        MessageState::Failed {
            attempts,
            next_retry_ms: None,
        } => format!("failed: gave up after {attempts} tries"),
        MessageState::SentElsewhere => "sent from another device".to_owned(),
        MessageState::Read if outgoing => "read".to_owned(),
        MessageState::Received | MessageState::Read | MessageState::Deleted => String::new(),
    }
}

fn plural(n: u32, one: &'static str, many: &'static str) -> &'static str {
    if n == 1 { one } else { many }
}

/// A Unix time in ms as people read it in chat apps, in the user's local time zone (`TZ` when
/// set, else the system's): "14:32" today, "Yesterday 09:10" / "Tomorrow 09:10", the weekday
/// ("Mon 18:05") within a week either side of today, the date ("2025-08-12 03:58") beyond.
pub fn time_text(ms: u64, now_ms: u64) -> String {
    time_text_in(ms, now_ms, &jiff::tz::TimeZone::system())
}

/// [`time_text`] in the time zone `tz` (injected by tests).
pub fn time_text_in(ms: u64, now_ms: u64, tz: &jiff::tz::TimeZone) -> String {
    let zoned = |ms: u64| {
        let ms = i64::try_from(ms).ok()?;
        Some(
            jiff::Timestamp::from_millisecond(ms)
                .ok()?
                .to_zoned(tz.clone()),
        )
    };
    let (Some(at), Some(now)) = (zoned(ms), zoned(now_ms)) else {
        // Beyond the year 9999: no calendar to show it in.
        return format!("{}s after 1970", ms / 1000);
    };
    let days = at
        .date()
        .since(now.date())
        .map_or(i32::MAX, |span| span.get_days());
    let format = match days {
        0 => "%H:%M",
        -1 => "Yesterday %H:%M",
        1 => "Tomorrow %H:%M",
        -6..=6 => "%a %H:%M",
        _ => "%Y-%m-%d %H:%M",
    };
    at.strftime(format).to_string()
}

/// Seconds as a short duration: "30s", "5m", "1h30m", "2d".
pub fn duration_text(secs: u32) -> String {
    let units = [(86_400, "d"), (3600, "h"), (60, "m"), (1, "s")];
    let mut left = secs;
    let mut out = String::new();
    for (size, name) in units {
        if left >= size {
            let _ = write!(out, "{}{name}", left / size);
            left %= size;
        }
    }
    if out.is_empty() {
        out.push_str("0s");
    }
    out
}

/// Parses "30s", "5m", "1h", "1d", "1w" (or a sum such as "1h30m") into seconds.
pub fn parse_duration(text: &str) -> Result<u32, String> {
    let bad = || {
        format!("invalid duration {text:?}: use a number with a unit, e.g. 30s, 5m, 1h, 1d or 1w")
    };
    let mut total: u64 = 0;
    let mut number = String::new();
    let mut any = false;
    for c in text.trim().chars() {
        if c.is_ascii_digit() {
            number.push(c);
            continue;
        }
        let size: u64 = match c {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86_400,
            'w' => 604_800,
            _ => return Err(bad()),
        };
        let n: u64 = number.parse().map_err(|_| bad())?;
        total = total.saturating_add(n.saturating_mul(size));
        number.clear();
        any = true;
    }
    if !number.is_empty() || !any || total == 0 {
        return Err(bad());
    }
    u32::try_from(total).map_err(|_| format!("the duration {text:?} is too long"))
}

/// A disappearing setting in words.
pub fn disappearing_text(d: Disappearing) -> String {
    match d {
        Disappearing::Off => "off".to_owned(),
        Disappearing::AfterSend(s) => format!("{} after sending", duration_text(s)),
        Disappearing::AfterRead(s) => format!("{} after reading", duration_text(s)),
    }
}

/// The local number of the message `key` names, among `history`.
pub fn find<'a>(
    history: impl IntoIterator<Item = &'a MessageRecord>,
    key: &MessageKey,
) -> Option<MessageId> {
    history.into_iter().find(|m| m.key == *key).map(|m| m.id)
}

fn quote_json(m: &MessageRecord, quote_id: Option<MessageId>) -> Option<output::Quote> {
    m.quote.as_ref().map(|q| output::Quote {
        id: quote_id.map(|id| id.0),
        author: q.key.author.to_string(),
        timestamp: q.key.sent_ms,
        text: q.text.clone(),
        attachments: q
            .attachments
            .iter()
            .map(|a| output::QuotedFile {
                content_type: a.content_type.clone(),
                file_name: a.file_name.clone(),
                voice: a.voice,
            })
            .collect(),
    })
}

/// A message of a history as JSON.
pub fn message_json(
    m: &MessageRecord,
    reactions: &[ReactionRecord],
    names: &Names,
    quote_id: Option<MessageId>,
) -> output::Message {
    output::Message {
        id: m.id.0,
        from: m.key.author.to_string(),
        from_name: names.display(&m.key.author),
        outgoing: m.outgoing,
        timestamp: m.key.sent_ms,
        received_ms: m.received_ms,
        text: m.body.clone(),
        quote: quote_json(m, quote_id),
        state: m.state.into(),
        disappearing: m.disappearing.into(),
        expires_at_ms: m.expires_at_ms,
        read_ms: m.read_ms,
        reactions: reactions
            .iter()
            .map(|r| output::Reaction {
                emoji: r.emoji.clone(),
                from: r.reactor.to_string(),
                from_name: names.display(&r.reactor),
            })
            .collect(),
        attachments: Vec::new(),
    }
}

/// What a message's text shows: its body, or what became of it.
pub fn body_text(m: &MessageRecord, now_ms: u64) -> String {
    match (&m.body, m.state) {
        (_, MessageState::Deleted) if m.expires_at_ms.is_some_and(|t| t <= now_ms) => {
            "(disappeared)".to_owned()
        }
        (_, MessageState::Deleted) => "(unsent)".to_owned(),
        (Some(body), _) => body.clone(),
        (None, _) => "(no text)".to_owned(),
    }
}

/// Reactions grouped by emoji: "👍 bob, you  ❤ alice".
pub fn reactions_text(reactions: &[ReactionRecord], names: &Names) -> String {
    let mut groups: Vec<(&str, Vec<String>)> = Vec::new();
    for r in reactions {
        let who = names.of(&r.reactor);
        match groups.iter_mut().find(|(e, _)| *e == r.emoji) {
            Some((_, list)) => list.push(who),
            None => groups.push((&r.emoji, vec![who])),
        }
    }
    groups
        .iter()
        .map(|(emoji, who)| format!("{emoji} {}", who.join(", ")))
        .collect::<Vec<_>>()
        .join("  ")
}

/// The lines `sotto read` prints for one message.
pub fn message_lines(
    m: &MessageRecord,
    reactions: &[ReactionRecord],
    names: &Names,
    quote_id: Option<MessageId>,
    now_ms: u64,
) -> Vec<String> {
    let mut first = format!(
        "#{:<3} {} {}: {}",
        m.id.0,
        time_text(m.key.sent_ms, now_ms),
        names.of(&m.key.author),
        body_text(m, now_ms)
    );
    let state = state_text(m.state, m.outgoing, now_ms);
    if !state.is_empty() {
        let _ = write!(first, "   [{state}]");
    }
    let mut lines = vec![first];
    if let Some(q) = &m.quote {
        let target = quote_id.map_or_else(String::new, |id| format!("{id} "));
        let text = q.text.as_deref().unwrap_or("…");
        let files: Vec<String> = q
            .attachments
            .iter()
            .map(|a| match (a.voice, &a.file_name, &a.content_type) {
                (true, _, _) => "🎤 voice message".to_owned(),
                (false, Some(name), _) => format!("📎 {name}"),
                (false, None, Some(kind)) => format!("📎 {kind}"),
                (false, None, None) => "📎 attachment".to_owned(),
            })
            .collect();
        let files = if files.is_empty() {
            String::new()
        } else {
            format!(" [{}]", files.join(", "))
        };
        lines.push(format!(
            "      ↳ replying to {target}{}: \"{text}\"{files}",
            names.of(&q.key.author)
        ));
    }
    if !reactions.is_empty() {
        lines.push(format!("      {}", reactions_text(reactions, names)));
    }
    if m.state != MessageState::Deleted {
        if let Some(at) = m.expires_at_ms {
            lines.push(format!("      ⏱ disappears at {}", time_text(at, now_ms)));
        } else if let Disappearing::AfterRead(s) = m.disappearing {
            lines.push(format!(
                "      ⏱ disappears {} after it is read",
                duration_text(s)
            ));
        }
    }
    lines
}

/// An event as JSON (`sync`, `listen`); `quote_id` resolves quoted messages to local numbers.
pub fn event_json(
    event: &Event,
    names: &Names,
    quote_id: impl Fn(&MessageRecord) -> Option<MessageId>,
) -> Option<output::Event> {
    use output::Event as O;
    Some(match event {
        Event::Message(incoming) => {
            let m = &incoming.message;
            O::Message {
                id: m.id.0,
                conversation: m.peer.to_string(),
                from: m.key.author.to_string(),
                display_name: names.display(&m.key.author),
                text: m.body.clone(),
                quote: quote_json(m, quote_id(m)),
                timestamp: m.key.sent_ms,
                outgoing: m.outgoing,
                is_request: incoming.request,
            }
        }
        Event::Reaction {
            message,
            reactor,
            emoji,
            added,
        } => O::Reaction {
            message: message.0,
            from: reactor.to_string(),
            display_name: names.display(reactor),
            emoji: emoji.clone(),
            added: *added,
        },
        Event::Unsent { message } => O::Unsent { message: message.0 },
        Event::Expired { message } => O::Expired { message: message.0 },
        Event::Typing { from, started } => O::Typing {
            from: from.to_string(),
            display_name: names.display(from),
            started: *started,
        },
        Event::ReadByPeer { peer, messages } => O::Read {
            by: peer.to_string(),
            display_name: names.display(peer),
            messages: messages.iter().map(|m| m.0).collect(),
        },
        Event::DisappearingChanged { peer, setting } => O::Disappearing {
            conversation: peer.to_string(),
            setting: (*setting).into(),
        },
        Event::RequestAccepted { by } => O::RequestAccepted {
            by: by.to_string(),
            display_name: names.display(by),
        },
        Event::ProfileName { of, name } => O::ProfileName {
            of: of.to_string(),
            name: name.clone(),
        },
        Event::Delivery { message, state } => O::Delivery {
            message: message.0,
            state: (*state).into(),
        },
        Event::Dropped { from, hash } => O::Dropped {
            from: from.to_string(),
            hash: hash.to_string(),
        },
        Event::Skipped { hash, reason } => O::Skipped {
            hash: hash.to_string(),
            reason: reason.to_string(),
        },
        _ => return None,
    })
}

/// An event as one line of text (`sync`, and the arrivals `inbox` and `read` mention).
pub fn event_text(event: &Event, names: &Names, now_ms: u64) -> Option<String> {
    Some(match event {
        Event::Message(incoming) => {
            let m = &incoming.message;
            let request = if incoming.request {
                " (message request)"
            } else {
                ""
            };
            let from = if m.outgoing {
                format!("you → {}", names.of(&m.peer))
            } else {
                names.of(&m.key.author)
            };
            format!("{} {from}{request}: {}", m.id, body_text(m, now_ms))
        }
        Event::Reaction {
            message,
            reactor,
            emoji,
            added: true,
        } => format!("{} reacted {emoji} to {message}", names.of(reactor)),
        Event::Reaction {
            message,
            reactor,
            emoji,
            added: false,
        } => format!("{} removed {emoji} from {message}", names.of(reactor)),
        Event::Unsent { message } => format!("{message} was unsent"),
        Event::Expired { message } => format!("{message} disappeared"),
        Event::Typing { from, started } => format!(
            "{} {} typing",
            names.of(from),
            if *started { "started" } else { "stopped" }
        ),
        Event::ReadByPeer { peer, messages } => format!(
            "{} read {}",
            names.of(peer),
            messages
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Event::DisappearingChanged { peer, setting } => format!(
            "disappearing messages with {}: {}",
            names.of(peer),
            disappearing_text(*setting)
        ),
        Event::RequestAccepted { by } => format!("{} accepted your message request", names.of(by)),
        Event::ProfileName { of, name } => format!("{} is now called {name}", of.short()),
        Event::Delivery { message, state } => {
            format!("{message}: {}", state_text(*state, true, now_ms))
        }
        Event::Dropped { from, .. } => format!("dropped a message from blocked {}", from.short()),
        Event::Skipped { hash, reason } => format!("skipped message {hash}: {reason}"),
        Event::ConfigMerged { kind, seqno } => {
            format!("synced {kind:?} from your other devices (seqno {seqno})")
        }
        _ => return None,
    })
}

/// "via guard 127.0.0.12 → 127.0.0.17 → exit 127.0.0.21 → swarm node 127.0.0.14".
pub fn route_text(t: &Trace) -> String {
    let last = t.path.len().saturating_sub(1);
    let mut parts: Vec<String> = t
        .path
        .iter()
        .enumerate()
        .map(|(i, hop)| {
            let ip = hop.addr.ip();
            match i {
                0 => format!("guard {ip}"),
                i if i == last => format!("exit {ip}"),
                _ => ip.to_string(),
            }
        })
        .collect();
    parts.push(format!("swarm node {}", t.target.addr.ip()));
    let mut text = format!("via {}", parts.join(" → "));
    match t.status {
        Some(200) => {}
        Some(status) => {
            let _ = write!(text, " (status {status})");
        }
        None => text.push_str(" (no answer)"),
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("30s"), Ok(30));
        assert_eq!(parse_duration("5m"), Ok(300));
        assert_eq!(parse_duration("1h30m"), Ok(5400));
        assert_eq!(parse_duration("1d"), Ok(86_400));
        assert_eq!(parse_duration("2w"), Ok(1_209_600));
        for bad in ["", "5", "m", "0s", "5x", "-5m", "99999999999d"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
        assert_eq!(duration_text(5400), "1h30m");
        assert_eq!(duration_text(30), "30s");
        assert_eq!(duration_text(0), "0s");
    }

    #[test]
    fn times_are_local_and_relative_to_today() {
        use jiff::tz::TimeZone;
        const DAY: u64 = 86_400_000;
        let kolkata = TimeZone::get("Asia/Kolkata").unwrap();
        let text = |at: u64, now: u64| time_text_in(at, now, &kolkata);
        // 2025-08-12 03:58:21 UTC, a Tuesday: 09:28 in Kolkata (UTC+05:30).
        let t = 1_754_971_101_000;
        assert_eq!(time_text_in(t, t, &TimeZone::UTC), "03:58");
        assert_eq!(text(t, t), "09:28");
        assert_eq!(text(t, t + DAY), "Yesterday 09:28");
        assert_eq!(text(t, t + 3 * DAY), "Tue 09:28");
        assert_eq!(text(t, t + 6 * DAY), "Tue 09:28");
        assert_eq!(text(t, t + 7 * DAY), "2025-08-12 09:28");
        assert_eq!(text(t, t + 400 * DAY), "2025-08-12 09:28");
        // Later times (a retry, a message disappearing).
        assert_eq!(text(t, t - DAY), "Tomorrow 09:28");
        assert_eq!(text(t, t - 2 * DAY), "Tue 09:28");
        assert_eq!(text(t, t - 30 * DAY), "2025-08-12 09:28");
        // Days are the zone's: 18:20 UTC is 23:50 in Kolkata, and twenty minutes later it is
        // already the next day there, though not in UTC.
        let late = 1_755_022_800_000;
        let after_midnight = late + 20 * 60_000;
        assert_eq!(text(late, after_midnight), "Yesterday 23:50");
        assert_eq!(time_text_in(late, after_midnight, &TimeZone::UTC), "18:20");
        // Out of the calendar's range: still some text, no panic.
        assert!(!text(u64::MAX, t).is_empty());
    }

    #[test]
    fn states() {
        assert_eq!(
            state_text(MessageState::Stored { k: 7, n: 7 }, true, 0),
            "stored 7/7"
        );
        let failed = MessageState::Failed {
            attempts: 1,
            next_retry_ms: Some(4_000),
        };
        assert_eq!(
            state_text(failed, true, 0),
            "failed (1 try), retrying in 4s"
        );
        assert_eq!(state_text(MessageState::Read, true, 0), "read");
        assert_eq!(state_text(MessageState::Read, false, 0), "");
    }
}
