//! The HTML of `sotto app`: whole pages and the fragments the script swaps in. Everything
//! shown from the network or the database goes through [`esc`].

use std::fmt::Write as _;

use sotto_client::attachments::{AttachmentRecord, AttachmentState};
use sotto_client::{Conversation, Disappearing, Engine, MessageRecord, MessageState, SessionId};

use crate::render::{self, Names};

/// Escapes text for HTML content and quoted attribute values.
pub fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A whole page: `title`, the `main` content, and the page kind for the script.
pub fn page(title: &str, kind: &str, body: &str) -> String {
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{} · Sotto</title><link rel=\"stylesheet\" href=\"/assets/app.css\">\
         <script src=\"/assets/app.js\" defer></script></head>\
         <body data-page=\"{}\">{body}\
         <div id=\"status\" role=\"status\" aria-live=\"polite\"></div></body></html>",
        esc(title),
        esc(kind)
    )
}

/// The onboarding choice: create or restore.
pub fn onboarding() -> String {
    let body = "<main class=\"onboard\"><h1>Welcome to Sotto</h1>\
        <p>A private messenger compatible with Session. Your account is a key pair kept on \
        this computer: no phone number, no e-mail.</p>\
        <section aria-labelledby=\"create-h\"><h2 id=\"create-h\">New account</h2>\
        <form data-api action=\"/api/onboard/create\" method=\"post\">\
        <button id=\"create\" type=\"submit\">Create an account</button></form></section>\
        <section aria-labelledby=\"restore-h\"><h2 id=\"restore-h\">I have an account</h2>\
        <form data-api action=\"/api/onboard/restore\" method=\"post\">\
        <label for=\"phrase\">Recovery phrase (13 words)</label>\
        <textarea id=\"phrase\" name=\"phrase\" rows=\"3\" autocomplete=\"off\" \
        spellcheck=\"false\" required></textarea>\
        <button id=\"restore\" type=\"submit\">Restore</button>\
        <p class=\"hint\">Your display name and contacts arrive from your other devices \
        through your config messages once connected.</p></form></section></main>";
    page("Welcome", "onboard", body)
}

/// The new account's ID, QR code and recovery phrase, with the confirmation step (the words
/// at `ask`, 1-based).
pub fn backup(id: &SessionId, qr_svg: &str, phrase: &str, ask: [usize; 2]) -> String {
    let words: String = phrase
        .split_whitespace()
        .enumerate()
        .map(|(i, w)| format!("<li><span class=\"n\">{}</span> {}</li>", i + 1, esc(w)))
        .collect();
    let [a, b] = ask;
    let body = format!(
        "<main class=\"onboard\"><h1>Your new account</h1>\
         <h2>Session ID</h2><p class=\"sid\" id=\"session-id\">{id}</p>\
         <figure class=\"qr\" aria-label=\"QR code of your Session ID\">{qr_svg}</figure>\
         <h2>Recovery phrase</h2><p>Write these words down and keep them secret: they are the \
         only way to get this account back, and anyone who has them controls it.</p>\
         <ol class=\"phrase\" id=\"phrase-words\">{words}</ol>\
         <form data-api action=\"/api/onboard/confirm\" method=\"post\">\
         <h2>Check that you wrote them down</h2>\
         <label for=\"w1\">Word {a}</label><input id=\"w1\" name=\"w1\" autocomplete=\"off\" required>\
         <label for=\"w2\">Word {b}</label><input id=\"w2\" name=\"w2\" autocomplete=\"off\" required>\
         <label for=\"name\">Your display name (optional)</label>\
         <input id=\"name\" name=\"name\" maxlength=\"100\">\
         <button id=\"confirm\" type=\"submit\">Continue</button></form></main>"
    );
    page("Your new account", "backup", &body)
}

/// A page that waits for the network.
pub fn connecting(status: &str) -> String {
    let body = format!(
        "<main class=\"onboard\"><h1>Connecting…</h1><p id=\"conn\">{}</p>\
         <p class=\"hint\">This page reloads by itself once connected.</p></main>",
        esc(status)
    );
    page("Connecting", "connecting", &body)
}

/// The conversation list (the sidebar's content), filtered by `query`.
pub fn conversation_list(
    engine: &Engine,
    names: &Names,
    current: Option<&str>,
    query: &str,
    rooms: &[(String, String)],
    now: u64,
) -> anyhow::Result<String> {
    let q = query.trim().to_lowercase();
    let mut out = String::new();
    let conversations = engine.conversations()?;
    let requests = conversations.iter().filter(|c| c.is_request()).count();
    if requests > 0 {
        let _ = write!(
            out,
            "<p class=\"requests-note\" id=\"requests-count\">{requests} message request{}</p>",
            if requests == 1 { "" } else { "s" }
        );
    }
    out.push_str("<ul class=\"convs\" id=\"conversations\" aria-label=\"Conversations\">");
    let mut shown = 0;
    for c in &conversations {
        let peer = c.contact.session_id;
        let name = names.of(&peer);
        let last = engine.messages(&peer, 1)?.pop();
        let preview = last
            .as_ref()
            .map(|m| render::body_text(m, now))
            .unwrap_or_default();
        if !q.is_empty()
            && !name.to_lowercase().contains(&q)
            && !peer.to_string().contains(&q)
            && !preview.to_lowercase().contains(&q)
        {
            continue;
        }
        shown += 1;
        out.push_str(&conversation_item(c, &name, &preview, current, now));
    }
    for (key, label) in rooms {
        if !q.is_empty() && !label.to_lowercase().contains(&q) {
            continue;
        }
        shown += 1;
        let cur = if current == Some(key.as_str()) {
            " aria-current=\"page\""
        } else {
            ""
        };
        let _ = write!(
            out,
            "<li class=\"conv room\"><a href=\"/?c={}\"{cur}><span class=\"name\">{}</span>\
             <span class=\"preview\">community room</span></a></li>",
            esc(&urlenc(key)),
            esc(label)
        );
    }
    out.push_str("</ul>");
    if shown == 0 {
        out.push_str(if q.is_empty() {
            "<p class=\"empty\">No conversations yet: start one with a Session ID above.</p>"
        } else {
            "<p class=\"empty\">Nothing matches.</p>"
        });
    }
    Ok(out)
}

fn conversation_item(
    c: &Conversation,
    name: &str,
    preview: &str,
    current: Option<&str>,
    now: u64,
) -> String {
    let peer = c.contact.session_id.to_string();
    let cur = if current == Some(peer.as_str()) {
        " aria-current=\"page\""
    } else {
        ""
    };
    let unread = if c.unread > 0 {
        format!(
            "<span class=\"unread\" aria-label=\"{0} unread\">{0}</span>",
            c.unread
        )
    } else {
        String::new()
    };
    let request = if c.is_request() {
        "<span class=\"tag\">request</span>"
    } else {
        ""
    };
    format!(
        "<li class=\"conv\" data-peer=\"{peer}\"><a href=\"/?c={peer}\"{cur}>\
         <span class=\"name\">{}</span>{request}{unread}\
         <span class=\"time\">{}</span><span class=\"preview\">{}</span></a></li>",
        esc(name),
        esc(&render::time_text(c.last_activity_ms, now)),
        esc(preview)
    )
}

/// Percent-encodes a query value.
pub fn urlenc(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

/// The chat header of the conversation with `peer`.
pub fn chat_header(engine: &Engine, names: &Names, peer: &SessionId) -> anyhow::Result<String> {
    let conversation = engine.conversation(peer)?;
    let is_request = conversation.as_ref().is_some_and(Conversation::is_request);
    let disappearing = conversation
        .as_ref()
        .map(|c| c.disappearing)
        .unwrap_or_default();
    let mut out = format!(
        "<header class=\"chat-head\"><h2 id=\"chat-title\">{}</h2>\
         <p class=\"sid small\">{peer}</p>",
        esc(&names.of(peer))
    );
    if is_request {
        let _ = write!(
            out,
            "<div class=\"request-bar\" role=\"region\" aria-label=\"Message request\">\
             <p>This is a message request. Replying accepts it.</p>\
             <button data-post=\"/api/accept\" data-c=\"{peer}\">Accept</button>\
             <button data-post=\"/api/decline\" data-c=\"{peer}\" class=\"danger\">Decline</button>\
             </div>"
        );
    }
    let (mode, secs) = match disappearing {
        Disappearing::Off => ("off", 0),
        Disappearing::AfterSend(s) => ("after-send", s),
        Disappearing::AfterRead(s) => ("after-read", s),
    };
    let opt = |value: &str, label: &str, selected: bool| {
        format!(
            "<option value=\"{value}\"{}>{label}</option>",
            if selected { " selected" } else { "" }
        )
    };
    let durations = [
        (30u32, "30 seconds"),
        (300, "5 minutes"),
        (3600, "1 hour"),
        (43_200, "12 hours"),
        (86_400, "1 day"),
        (604_800, "1 week"),
    ];
    let mut dur = String::new();
    for (s, label) in durations {
        dur.push_str(&opt(
            &s.to_string(),
            label,
            s == secs || (secs == 0 && s == 86_400),
        ));
    }
    let _ = write!(
        out,
        "<form class=\"disappearing\" data-api action=\"/api/disappearing\" method=\"post\">\
         <input type=\"hidden\" name=\"c\" value=\"{peer}\">\
         <label for=\"dmode\">Disappearing</label><select id=\"dmode\" name=\"mode\">{}{}{}</select>\
         <label for=\"ddur\" class=\"sr\">Timer</label><select id=\"ddur\" name=\"secs\">{dur}</select>\
         <button type=\"submit\">Set</button>\
         <span class=\"small\" id=\"disappearing-now\">now: {}</span></form></header>",
        opt("off", "off", mode == "off"),
        opt("after-send", "after sending", mode == "after-send"),
        opt("after-read", "after reading", mode == "after-read"),
        esc(&render::disappearing_text(disappearing)),
    );
    Ok(out)
}

/// The messages of a page of history: the `count` newest before `before` (a message id), or
/// the `count` newest.
pub fn messages(
    engine: &Engine,
    names: &Names,
    peer: &SessionId,
    count: u32,
    before: Option<i64>,
    now: u64,
) -> anyhow::Result<String> {
    let history = page_of(engine, peer, count, before)?;
    let mut out = String::new();
    if let Some(first) = history.first()
        && u32::try_from(history.len()).unwrap_or(u32::MAX) >= count
    {
        let _ = write!(
            out,
            "<li class=\"older\" data-before=\"{}\">older messages load as you scroll up</li>",
            first.id.0
        );
    }
    for m in &history {
        out.push_str(&message(engine, names, m, &history, now)?);
    }
    Ok(out)
}

/// The `count` newest messages with `peer` before the message `before` (all when `None`).
fn page_of(
    engine: &Engine,
    peer: &SessionId,
    count: u32,
    before: Option<i64>,
) -> anyhow::Result<Vec<MessageRecord>> {
    let Some(before) = before else {
        return Ok(engine.messages(peer, count)?);
    };
    // The engine pages from the newest: read back far enough to cover the page.
    let mut want = count.saturating_mul(2).max(100);
    loop {
        let all = engine.messages(peer, want)?;
        let older: Vec<MessageRecord> = all.iter().filter(|m| m.id.0 < before).cloned().collect();
        let reached_start = u32::try_from(all.len()).unwrap_or(u32::MAX) < want;
        if u32::try_from(older.len()).unwrap_or(u32::MAX) >= count || reached_start {
            let skip = older
                .len()
                .saturating_sub(usize::try_from(count).unwrap_or(usize::MAX));
            return Ok(older.into_iter().skip(skip).collect());
        }
        want = want.saturating_mul(4);
    }
}

fn message(
    engine: &Engine,
    names: &Names,
    m: &MessageRecord,
    history: &[MessageRecord],
    now: u64,
) -> anyhow::Result<String> {
    let dir = if m.outgoing { "out" } else { "in" };
    let deleted = m.state == MessageState::Deleted;
    let mut out = format!(
        "<li class=\"msg {dir}{}\" id=\"m{id}\" data-id=\"{id}\" data-out=\"{}\" tabindex=\"0\" \
         aria-label=\"message from {}\">",
        if deleted { " deleted" } else { "" },
        m.outgoing,
        esc(&names.of(&m.key.author)),
        id = m.id.0,
    );
    if let Some(q) = &m.quote {
        let target = render::find(history, &q.key);
        let _ = write!(
            out,
            "<blockquote class=\"quote\"{}><span class=\"who\">{}</span> {}</blockquote>",
            target.map_or(String::new(), |t| format!(" data-target=\"m{}\"", t.0)),
            esc(&names.of(&q.key.author)),
            esc(q.text.as_deref().unwrap_or(""))
        );
    }
    let body = render::body_text(m, now);
    if m.body.is_some() || deleted {
        let _ = write!(out, "<div class=\"body\">{}</div>", esc(&body));
    }
    if !deleted {
        for a in engine.attachments(m.id)? {
            out.push_str(&attachment(&a));
        }
    }
    let reactions = engine.reactions(m.id)?;
    if !reactions.is_empty() {
        out.push_str("<div class=\"reactions\">");
        let mut groups: Vec<(String, Vec<String>)> = Vec::new();
        for r in &reactions {
            let who = names.of(&r.reactor);
            match groups.iter_mut().find(|(e, _)| *e == r.emoji) {
                Some((_, list)) => list.push(who),
                None => groups.push((r.emoji.clone(), vec![who])),
            }
        }
        for (emoji, who) in groups {
            let _ = write!(
                out,
                "<span class=\"reaction\" title=\"{}\">{} {}</span>",
                esc(&who.join(", ")),
                esc(&emoji),
                who.len()
            );
        }
        out.push_str("</div>");
    }
    let state = render::state_text(m.state, m.outgoing, now);
    let _ = write!(
        out,
        "<div class=\"meta\"><time>{}</time> <span class=\"state\" data-state=\"{}\">{}</span>",
        esc(&render::time_text(m.key.sent_ms, now)),
        render::state_name(m.state),
        esc(&state)
    );
    if let Some(at) = m.expires_at_ms.filter(|_| !deleted) {
        let left = u32::try_from(at.saturating_sub(now).div_ceil(1000)).unwrap_or(u32::MAX);
        let _ = write!(
            out,
            " <span class=\"timer\">disappears in {}</span>",
            render::duration_text(left)
        );
    }
    out.push_str("</div>");
    if !deleted {
        out.push_str("<div class=\"actions\">");
        out.push_str("<button data-act=\"reply\">Reply</button>");
        for emoji in ["👍", "❤", "😂"] {
            let _ = write!(
                out,
                "<button data-act=\"react\" data-emoji=\"{emoji}\" aria-label=\"React {emoji}\">{emoji}</button>"
            );
        }
        if m.outgoing {
            out.push_str("<button data-act=\"unsend\">Unsend</button>");
            out.push_str("<button data-act=\"route\">Route</button>");
        }
        out.push_str("<button data-act=\"delete\">Delete for me</button></div>");
        out.push_str("<div class=\"route\" hidden></div>");
    }
    out.push_str("</li>");
    Ok(out)
}

/// Inline types: images and audio the browser shows itself (never SVG or HTML).
pub fn inline_image(content_type: &str) -> bool {
    matches!(
        content_type,
        "image/png" | "image/jpeg" | "image/gif" | "image/webp"
    )
}

fn attachment(a: &AttachmentRecord) -> String {
    let src = format!("/att/{}/{}", a.message.0, a.index);
    let name = a
        .file_name
        .clone()
        .unwrap_or_else(|| a.content_type.clone());
    let size = crate::commands_files::size_text(a.size);
    let local = a.local_path.is_some();
    let mut out = format!(
        "<div class=\"att\" data-msg=\"{}\" data-idx=\"{}\" data-state=\"{}\">",
        a.message.0,
        a.index,
        a.state.as_str()
    );
    match a.state {
        AttachmentState::Downloaded | AttachmentState::Uploaded if local => {
            if inline_image(&a.content_type) {
                let dims = a.dimensions.map_or(String::new(), |(w, h)| {
                    format!(" width=\"{w}\" height=\"{h}\"")
                });
                let _ = write!(
                    out,
                    "<img src=\"{src}\"{dims} alt=\"{}\" loading=\"lazy\">",
                    esc(&name)
                );
            } else if a.voice || a.content_type.starts_with("audio/") {
                let _ = write!(
                    out,
                    "<audio controls preload=\"metadata\" src=\"{src}\" aria-label=\"voice message\"></audio>"
                );
                if let Some(ms) = a.duration_ms {
                    let _ = write!(
                        out,
                        "<span class=\"small\">{}:{:02}</span>",
                        ms / 60_000,
                        (ms / 1000) % 60
                    );
                }
            }
            let _ = write!(
                out,
                "<a class=\"file\" href=\"{src}?download=1\" download=\"{}\">{} · {size}</a>",
                esc(&name),
                esc(&name)
            );
        }
        AttachmentState::Uploaded => {
            let _ = write!(
                out,
                "<span class=\"file\">{} · {size} · sent</span>",
                esc(&name)
            );
        }
        AttachmentState::Expired => {
            let _ = write!(
                out,
                "<span class=\"file expired\">{} · {size} · expired: the file server no longer has it</span>",
                esc(&name)
            );
        }
        AttachmentState::Refused => {
            let _ = write!(
                out,
                "<span class=\"file refused\">{} · refused: it did not decrypt or verify</span>",
                esc(&name)
            );
        }
        AttachmentState::Pending | AttachmentState::Failed | AttachmentState::Downloaded => {
            let dims = a
                .dimensions
                .map_or(String::new(), |(w, h)| format!(" {w}×{h}"));
            let failed = if a.state == AttachmentState::Failed {
                " (the last try failed)"
            } else {
                ""
            };
            let _ = write!(
                out,
                "<span class=\"file\">{} · {size}{dims}{failed}</span> \
                 <button data-act=\"download\">Download</button>\
                 <progress max=\"100\" hidden aria-label=\"download progress\"></progress>",
                esc(&name)
            );
        }
    }
    out.push_str("</div>");
    out
}

/// The main screen: sidebar with the conversation list, and `main`.
pub fn shell(own: &SessionId, own_name: &str, list: &str, current: &str, main: &str) -> String {
    let body = format!(
        "<div class=\"app\"><nav class=\"side\" aria-label=\"Conversations\">\
         <div class=\"me\"><a href=\"/settings\" id=\"settings-link\">{}</a>\
         <span class=\"sid small\" title=\"{own}\">{}</span></div>\
         <label for=\"search\" class=\"sr\">Search conversations</label>\
         <input id=\"search\" type=\"search\" placeholder=\"Search (Ctrl+K)\" autocomplete=\"off\">\
         <form class=\"new\" data-api action=\"/api/contacts/add\" method=\"post\">\
         <label for=\"new-id\" class=\"sr\">Session ID of a new contact</label>\
         <input id=\"new-id\" name=\"id\" placeholder=\"New chat: Session ID\" required \
         pattern=\"05[0-9a-fA-F]{{64}}\" autocomplete=\"off\">\
         <label for=\"new-name\" class=\"sr\">Their name</label>\
         <input id=\"new-name\" name=\"name\" placeholder=\"Name (optional)\" autocomplete=\"off\">\
         <button type=\"submit\">Start</button></form>\
         <div id=\"list\" data-current=\"{}\">{list}</div>\
         <p class=\"nav-links\"><a href=\"/communities\">Communities</a> · \
         <a href=\"/settings\">Settings</a></p></nav>\
         <main id=\"main\">{main}</main></div>",
        esc(own_name),
        own.short(),
        esc(current),
    );
    page(own_name, "app", &body)
}

/// The chat panel of `peer` (header, history, composer).
pub fn chat(header: &str, peer: &str, history: &str) -> String {
    format!(
        "{header}<ol class=\"history\" id=\"history\" data-c=\"{}\" aria-label=\"Messages\" \
         aria-live=\"polite\">{history}</ol>\
         <div class=\"typing\" id=\"typing\" aria-live=\"polite\"></div>\
         <form class=\"composer\" id=\"composer\" data-c=\"{}\">\
         <div class=\"replying\" id=\"replying\" hidden><span></span>\
         <button type=\"button\" id=\"cancel-reply\" aria-label=\"Cancel the reply\">×</button></div>\
         <input type=\"hidden\" name=\"reply\" id=\"reply-to\">\
         <label for=\"text\" class=\"sr\">Message</label>\
         <textarea id=\"text\" name=\"text\" rows=\"2\" placeholder=\"Message (Enter sends, \
         Shift+Enter for a new line; drop files here)\"></textarea>\
         <label class=\"attach\" for=\"file\">Attach</label>\
         <input id=\"file\" type=\"file\" multiple class=\"sr\">\
         <button type=\"submit\" id=\"send\">Send</button></form>\
         <div id=\"uploads\" aria-live=\"polite\"></div>",
        esc(peer),
        esc(peer)
    )
}

/// What `main` shows with no conversation open.
pub fn welcome(own: &SessionId, qr_svg: &str) -> String {
    format!(
        "<section class=\"welcome\"><h2>Your Session ID</h2><p class=\"sid\">{own}</p>\
         <figure class=\"qr\" aria-label=\"QR code of your Session ID\">{qr_svg}</figure>\
         <p>Share it (or the QR code) so that people can write to you. Pick a conversation \
         on the left, or start one with someone's Session ID.</p></section>"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_from_the_network_is_escaped_and_only_safe_types_show_inline() {
        assert_eq!(
            esc("<script>alert('x')</script> & \"q\""),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;q&quot;"
        );
        let page = page("<b>", "app", "");
        assert!(page.contains("<title>&lt;b&gt; · Sotto</title>"), "{page}");
        assert!(!page.contains("style="), "no inline style under the CSP");
        for ok in ["image/png", "image/jpeg", "image/gif", "image/webp"] {
            assert!(inline_image(ok), "{ok}");
        }
        for bad in ["image/svg+xml", "text/html", "application/pdf", ""] {
            assert!(!inline_image(bad), "{bad}");
        }
        assert_eq!(urlenc("05ab /x&y"), "05ab+%2Fx%26y");
    }
}
