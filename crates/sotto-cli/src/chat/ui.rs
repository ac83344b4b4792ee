//! Drawing the chat screen: a title, the request banner, the history, the typing line, the
//! input box and a status line.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Position, Rect};
use ratatui::style::{Color, Modifier, Style, Stylize as _};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph};
use sotto_client::{Disappearing, MessageRecord, MessageState, ReactionRecord};

use super::state::{ChatState, View};
use crate::render;

fn state_style(state: MessageState) -> Style {
    match state {
        MessageState::Sending => Style::new().fg(Color::Yellow),
        MessageState::Stored { .. } => Style::new().fg(Color::Green),
        MessageState::Failed { .. } => Style::new().fg(Color::Red),
        MessageState::Read => Style::new().fg(Color::Cyan),
        _ => Style::new().add_modifier(Modifier::DIM),
    }
}

/// The lines of one message.
fn message_lines(
    m: &MessageRecord,
    reactions: &[ReactionRecord],
    view: &View,
    now_ms: u64,
) -> Vec<Line<'static>> {
    let names = &view.names;
    let author_style = if m.outgoing {
        Style::new().fg(Color::Blue).bold()
    } else {
        Style::new().fg(Color::Magenta).bold()
    };
    let mut lines = Vec::new();
    if let Some(q) = &m.quote {
        let target = render::find(view.history.iter().map(|(m, _)| m), &q.key)
            .map_or_else(String::new, |id| format!("{id} "));
        lines.push(Line::from(Span::styled(
            format!(
                "  ↳ {target}{}: {}",
                names.of(&q.key.author),
                q.text.as_deref().unwrap_or("…")
            ),
            Style::new().add_modifier(Modifier::DIM),
        )));
    }
    let body_style = if m.state == MessageState::Deleted {
        Style::new().add_modifier(Modifier::ITALIC | Modifier::DIM)
    } else {
        Style::new()
    };
    let mut first = vec![
        Span::styled(
            format!("{} {} ", m.id, render::time_text(m.key.sent_ms, now_ms)),
            Style::new().add_modifier(Modifier::DIM),
        ),
        Span::styled(format!("{}: ", names.of(&m.key.author)), author_style),
        Span::styled(render::body_text(m, now_ms), body_style),
    ];
    let state = render::state_text(m.state, m.outgoing, now_ms);
    if !state.is_empty() {
        first.push(Span::styled(format!("  [{state}]"), state_style(m.state)));
    }
    if m.state != MessageState::Deleted
        && let Some(at) = m.expires_at_ms
    {
        let left = u32::try_from(at.saturating_sub(now_ms).div_ceil(1000)).unwrap_or(u32::MAX);
        first.push(Span::styled(
            format!("  ⏱ {}", render::duration_text(left)),
            Style::new().add_modifier(Modifier::DIM),
        ));
    }
    lines.push(Line::from(first));
    if !reactions.is_empty() {
        lines.push(Line::from(format!(
            "    {}",
            render::reactions_text(reactions, names)
        )));
    }
    lines
}

/// Wraps `line` at `width` characters, between words where it can (styles kept per span).
fn wrap(line: Line<'static>, width: usize) -> Vec<Line<'static>> {
    let width = width.max(1);
    let mut out: Vec<Line<'static>> = Vec::new();
    let mut current: Vec<Span<'static>> = Vec::new();
    let mut used = 0;
    for span in line.spans {
        // Words with their trailing spaces.
        let mut words: Vec<String> = Vec::new();
        for c in span.content.chars() {
            match words.last_mut() {
                Some(word) if !(c != ' ' && word.ends_with(' ')) => word.push(c),
                _ => words.push(c.to_string()),
            }
        }
        for word in words {
            let len = word.trim_end().chars().count();
            if used > 0 && used + len > width {
                out.push(Line::from(std::mem::take(&mut current)));
                used = 0;
            }
            let mut piece = String::new();
            for c in word.chars() {
                if used == width {
                    if c == ' ' {
                        continue;
                    }
                    current.push(Span::styled(std::mem::take(&mut piece), span.style));
                    out.push(Line::from(std::mem::take(&mut current)));
                    used = 0;
                }
                piece.push(c);
                used += 1;
            }
            current.push(Span::styled(piece, span.style));
        }
    }
    out.push(Line::from(current));
    out
}

/// Draws the whole screen.
pub fn draw(frame: &mut Frame<'_>, state: &ChatState, view: &View, now_ms: u64) {
    let banner = view.is_request();
    let [title, banner_area, history, typing, input, status] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(if banner { 3 } else { 0 }),
        Constraint::Min(1),
        Constraint::Length(1),
        Constraint::Length(3),
        Constraint::Length(1),
    ])
    .areas(frame.area());

    let name = view.names.of(&view.peer);
    let mut heading = format!(" {name} ({})", view.peer.short());
    if let Some(c) = &view.conversation
        && c.disappearing != Disappearing::Off
    {
        heading.push_str(&format!(
            " · disappearing: {}",
            render::disappearing_text(c.disappearing)
        ));
    }
    frame.render_widget(
        Paragraph::new(heading).style(Style::new().bg(Color::Blue).fg(Color::White).bold()),
        title,
    );

    if banner {
        frame.render_widget(
            Paragraph::new(vec![
                Line::from(format!(
                    "Message request from {name}: they are not a contact."
                )),
                Line::from("Ctrl-A accept · Ctrl-D decline · or reply to accept"),
            ])
            .block(Block::new().borders(Borders::BOTTOM))
            .style(Style::new().fg(Color::Yellow)),
            banner_area,
        );
    }

    draw_history(frame, state, view, now_ms, history);

    if state.peer_typing() && view.typing_enabled {
        frame.render_widget(
            Paragraph::new(format!("{name} is typing…")).style(Style::new().italic().dim()),
            typing,
        );
    }

    let hint = " Message · Enter send · Esc quit ";
    frame.render_widget(
        Paragraph::new(state.input.as_str()).block(Block::bordered().title(hint)),
        input,
    );
    let typed = u16::try_from(state.input.chars().count()).unwrap_or(u16::MAX);
    let x = input
        .x
        .saturating_add(1)
        .saturating_add(typed)
        .min(input.right().saturating_sub(2));
    frame.set_cursor_position(Position::new(x, input.y.saturating_add(1)));

    if let Some(text) = &state.status {
        frame.render_widget(Paragraph::new(text.as_str()).dim(), status);
    }
}

fn draw_history(frame: &mut Frame<'_>, state: &ChatState, view: &View, now_ms: u64, area: Rect) {
    let width = usize::from(area.width);
    let mut lines: Vec<Line<'static>> = Vec::new();
    if view.history.is_empty() {
        lines.push(Line::from(Span::styled(
            "No messages yet: type one below.",
            Style::new().dim(),
        )));
    }
    for (m, reactions) in &view.history {
        for line in message_lines(m, reactions, view, now_ms) {
            lines.extend(wrap(line, width));
        }
    }
    // Show the bottom, or `scroll` lines above it.
    let height = usize::from(area.height);
    let end = lines
        .len()
        .saturating_sub(usize::from(state.scroll))
        .max(height.min(lines.len()));
    let start = end.saturating_sub(height);
    let visible: Vec<Line<'static>> = lines
        .into_iter()
        .skip(start)
        .take(end.saturating_sub(start))
        .collect();
    frame.render_widget(Paragraph::new(visible), area);
}
