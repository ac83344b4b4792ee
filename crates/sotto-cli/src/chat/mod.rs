//! `sotto chat`: a live conversation in the terminal (ratatui over crossterm).
//!
//! The client runs its background poller; the screen redraws on each key, client event and
//! twice a second (delivery states and timers). Sending, typing indicators, read receipts and
//! request answers run as tasks so the screen never waits on the network.

mod state;
mod ui;

use std::io::IsTerminal as _;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, bail};
use clap::Args;
use crossterm::event::Event as TermEvent;
use sotto_client::attachments::{SendAs, TransferPolicy, stage_path};
use sotto_client::{Client, SessionId};
use tokio::sync::mpsc;

use self::state::{Action, ChatState, View};
use crate::net::CliNet;
use crate::{Ctx, resolve};

#[derive(Args)]
pub struct ChatArgs {
    /// With whom: a nickname, display name, Session ID, or a unique prefix of one.
    #[arg(value_name = "CONTACT")]
    contact: String,
}

fn now_ms() -> u64 {
    sotto_client::Clock::system().now_ms()
}

/// Puts the terminal back however the screen ends.
struct Restore;

impl Drop for Restore {
    fn drop(&mut self) {
        ratatui::restore();
    }
}

pub fn run(ctx: &Ctx<'_>, args: &ChatArgs) -> anyhow::Result<()> {
    if !std::io::stdout().is_terminal() || !std::io::stdin().is_terminal() {
        bail!(
            "`sotto chat` needs a terminal: in scripts use `sotto send`, `sotto read` and \
             `sotto listen`"
        );
    }
    Ctx::runtime()?.block_on(async {
        // Connect (and ask for a passphrase) before the screen takes over the terminal.
        let client = Arc::new(ctx.client(true).await?);
        let peer = client.with_engine(|e| resolve::contact(e, &args.contact))?;
        // `/attach` and `/voice` need the network file's file server; without one they say so.
        let server = crate::commands_files::file_server(ctx).map_err(|e| e.to_string());
        let farewell = screen(&client, peer, &Arc::new(server)).await?;
        if let Some(text) = farewell {
            crate::output::stdout(&format!("{text}\n"))?;
        }
        Ok(())
    })
}

/// Runs the screen until the user leaves; returns what to say afterwards.
async fn screen(
    client: &Arc<Client<CliNet>>,
    peer: SessionId,
    server: &Server,
) -> anyhow::Result<Option<String>> {
    let mut events = client.events();
    let (keys_tx, mut keys) = mpsc::unbounded_channel();
    // crossterm's reads block: they get a thread of their own (it ends with the process).
    std::thread::spawn(move || {
        while let Ok(event) = crossterm::event::read() {
            if keys_tx.send(event).is_err() {
                break;
            }
        }
    });
    let (notices_tx, mut notices) = mpsc::unbounded_channel::<String>();

    let mut terminal = ratatui::try_init().context("cannot set up the terminal")?;
    let _restore = Restore;
    let mut state = ChatState::default();
    let mut farewell = None;
    perform(client, peer, Action::MarkRead, server, &notices_tx);
    let mut tick = tokio::time::interval(Duration::from_millis(500));
    loop {
        let now = now_ms();
        state.tick(now);
        let view = client.with_engine(|e| View::load(e, &peer))?;
        terminal
            .draw(|frame| ui::draw(frame, &state, &view, now))
            .context("cannot draw on the terminal")?;
        if state.quit {
            break;
        }
        let actions = tokio::select! {
            key = keys.recv() => match key {
                Some(TermEvent::Key(key)) => state.key(key, &view, now_ms()),
                Some(_) => Vec::new(),
                None => vec![Action::Quit],
            },
            event = events.next() => match event {
                Some(event) => state.event(&event, &peer, now_ms()),
                None => vec![Action::Quit],
            },
            notice = notices.recv() => {
                state.status = notice;
                Vec::new()
            }
            _ = tick.tick() => Vec::new(),
        };
        for action in actions {
            match action {
                Action::Quit => state.quit = true,
                // Leaving while typing: tell the peer before the process (and its tasks) ends.
                Action::Typing(false) if state.quit => {
                    let stop = client.set_typing(&peer, false);
                    let _ = tokio::time::timeout(Duration::from_secs(3), stop).await;
                }
                Action::Decline => {
                    let name = view.names.of(&peer);
                    farewell = Some(match client.decline_request(&peer) {
                        Ok(()) => format!("Declined the request from {name}."),
                        Err(e) => format!("Declining the request from {name} failed: {e}"),
                    });
                    state.quit = true;
                }
                other => perform(client, peer, other, server, &notices_tx),
            }
        }
    }
    Ok(farewell)
}

/// The file server, or why there is none.
type Server = Arc<Result<sotto_attachment::FileServer, String>>;

/// Sends `path` as a file or a voice message; progress goes to the status line.
async fn send_file(
    client: &Client<CliNet>,
    peer: &SessionId,
    path: &std::path::Path,
    kind: SendAs,
    server: &Server,
    notices: &mpsc::UnboundedSender<String>,
) -> anyhow::Result<()> {
    let server = server
        .as_ref()
        .as_ref()
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let staged = stage_path(path, kind)?;
    let (tx, mut rx) = mpsc::unbounded_channel();
    let lines = notices.clone();
    let show = tokio::spawn(async move {
        while let Some(event) = rx.recv().await {
            if let Some(line) = crate::commands_files::progress_text(&event) {
                let _ = lines.send(line);
            }
        }
    });
    let sent = client
        .send_attachments(
            peer,
            vec![staged],
            None,
            None,
            server,
            &TransferPolicy::default(),
            &Some(tx),
        )
        .await;
    let _ = show.await;
    sent?;
    Ok(())
}

/// Runs a network action as a task; failures come back as notices.
fn perform(
    client: &Arc<Client<CliNet>>,
    peer: SessionId,
    action: Action,
    server: &Server,
    notices: &mpsc::UnboundedSender<String>,
) {
    let client = Arc::clone(client);
    let notices = notices.clone();
    let server = Arc::clone(server);
    tokio::spawn(async move {
        let result = match &action {
            Action::Attach(path) | Action::Voice(path) => {
                let kind = if matches!(action, Action::Voice(_)) {
                    SendAs::Voice
                } else {
                    SendAs::File
                };
                let sent = send_file(&client, &peer, path, kind, &server, &notices).await;
                let notice = match sent {
                    Ok(()) => format!("Sent {}.", path.display()),
                    Err(e) => format!("Sending {} failed: {e:#}", path.display()),
                };
                let _ = notices.send(notice);
                Ok(())
            }
            Action::Send(text) => client.send_text(&peer, text).await.map(drop),
            Action::Typing(started) => client.set_typing(&peer, *started).await,
            Action::Accept => client.accept_request(&peer).await,
            Action::MarkRead => client.mark_read(&peer).await,
            Action::Decline | Action::Quit => Ok(()),
        };
        // Each request's route is not shown here; keep the log from growing.
        client.network().take_calls();
        let notice = match (&action, result) {
            (Action::Accept, Ok(())) => Some("Accepted: they are now a contact.".to_owned()),
            (_, Ok(())) => None,
            (Action::Send(_), Err(e)) => Some(format!("Sending failed: {e}")),
            (Action::Typing(_) | Action::MarkRead, Err(_)) => None,
            (_, Err(e)) => Some(format!("Failed: {e}")),
        };
        if let Some(notice) = notice {
            let _ = notices.send(notice);
        }
    });
}

#[cfg(test)]
mod tests;
