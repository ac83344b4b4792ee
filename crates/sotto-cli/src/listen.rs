//! `sotto listen`: incoming messages (and with `--events` everything else) as JSON lines.

use std::io::IsTerminal as _;

use clap::Args;
use sotto_client::Event;

use crate::render::Names;
use crate::{Ctx, commands, output, render};

#[derive(Args)]
pub struct ListenArgs {
    /// Also print reactions, read receipts, typing, unsends, request responses, delivery
    /// states and messages sent from your other devices.
    #[arg(long)]
    events: bool,
}

/// Whether `event` is printed.
fn wanted(event: &Event, all: bool) -> bool {
    match event {
        Event::Message(m) => all || !m.message.outgoing,
        _ => all,
    }
}

pub fn run(ctx: &Ctx<'_>, args: &ListenArgs) -> anyhow::Result<()> {
    Ctx::runtime()?.block_on(async {
        let client = ctx.client(true).await?;
        let mut events = client.events();
        if std::io::stderr().is_terminal() {
            eprintln!(
                "Listening as {} (Ctrl-C to stop)…",
                client.session_id().short()
            );
        }
        let ctrl_c = tokio::signal::ctrl_c();
        tokio::pin!(ctrl_c);
        loop {
            let event = tokio::select! {
                _ = &mut ctrl_c => break,
                event = events.next() => match event {
                    Some(event) => event,
                    None => break,
                },
            };
            if !wanted(&event, args.events) {
                continue;
            }
            // Discard what the poller's requests left in the call log: nothing prints it here.
            client.network().take_calls();
            let line = client.with_engine(|engine| {
                let names = Names::new(engine.session_id(), engine.contacts()?);
                anyhow::Ok(render::event_json(
                    &event,
                    &names,
                    commands::quote_lookup(engine),
                ))
            })?;
            if let Some(line) = line
                && !output::json_line(&line)?
            {
                // Standard output was closed: nobody is listening any more.
                break;
            }
        }
        anyhow::Ok(())
    })
}
