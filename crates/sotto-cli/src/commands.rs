//! The messaging commands: contacts, profile and settings (local), and send, sync, inbox, read,
//! requests, react and unsend (over the network, one request round and out).

use std::fmt::Write as _;
use std::path::PathBuf;

use anyhow::{Context as _, anyhow, bail};
use clap::{Args, Subcommand, ValueEnum};
use sotto_client::{
    Client, Conversation, Disappearing, Engine, Event, MessageId, MessageRecord, MessageState,
    Placement, SessionId,
};
use sotto_crypto::OsRng;
use sotto_rpc::AccountId;

use crate::net::{CliNet, route};
use crate::output;
use crate::render::{self, Names};
use crate::resolve::{self, Last};
use crate::{Ctx, commands_community, commands_groups, qr};

/// How many messages `read` shows by default.
const DEFAULT_LIMIT: u32 = 50;

#[derive(Subcommand)]
pub enum ContactsCommand {
    /// Add a contact by Session ID (or from a QR code image)
    ///
    /// Examples:
    ///   sotto contacts add 05ab… --name bob
    ///   sotto contacts add --qr-png bob.png --name bob
    #[command(verbatim_doc_comment)]
    Add(AddArgs),

    /// List everyone known: contacts, message requests, blocked senders
    ///
    /// Examples:
    ///   sotto contacts list
    ///   sotto contacts list --json | jq -r '.contacts[].session_id'
    #[command(verbatim_doc_comment)]
    List,

    /// Block a contact: their messages are dropped
    ///
    /// Example:
    ///   sotto contacts block carol
    #[command(verbatim_doc_comment)]
    Block(ContactArg),

    /// Unblock a contact
    ///
    /// Example:
    ///   sotto contacts unblock carol
    #[command(verbatim_doc_comment)]
    Unblock(ContactArg),

    /// Remove a contact with your conversation, here and on your other devices
    ///
    /// A later message from them arrives as a message request. Your other devices (restored
    /// from the same recovery phrase) remove them at their next sync after this one's.
    ///
    /// Example:
    ///   sotto contacts remove carol
    #[command(verbatim_doc_comment)]
    Remove(ContactArg),

    /// Pin a conversation: `inbox` lists it first (on your other devices too)
    ///
    /// Your own Session ID pins Note to Self.
    ///
    /// Example:
    ///   sotto contacts pin bob
    #[command(verbatim_doc_comment)]
    Pin(ContactArg),

    /// Unpin a conversation
    ///
    /// Example:
    ///   sotto contacts unpin bob
    #[command(verbatim_doc_comment)]
    Unpin(ContactArg),

    /// Hide a conversation from `inbox` until a new message arrives in it
    ///
    /// Example:
    ///   sotto contacts hide carol
    #[command(verbatim_doc_comment)]
    Hide(ContactArg),

    /// Show a hidden conversation again
    ///
    /// Example:
    ///   sotto contacts unhide carol
    #[command(verbatim_doc_comment)]
    Unhide(ContactArg),
}

#[derive(Args)]
pub struct AddArgs {
    /// The Session ID (66 hex characters starting with 05).
    #[arg(value_name = "SESSION_ID", required_unless_present = "qr_png")]
    session_id: Option<String>,

    /// Read the Session ID from the QR code in an image (PNG or JPEG) instead.
    #[arg(long, value_name = "FILE", conflicts_with = "session_id")]
    qr_png: Option<PathBuf>,

    /// A nickname for them (used instead of their profile name).
    #[arg(long, value_name = "NAME")]
    name: Option<String>,
}

#[derive(Args)]
pub struct ContactArg {
    /// A nickname, display name, Session ID, or a unique prefix of one.
    #[arg(value_name = "CONTACT")]
    contact: String,
}

#[derive(Args)]
pub struct SendArgs {
    /// To whom: a nickname, display name, Session ID, or a unique prefix of one; or a
    /// joined community room as COMMUNITY/ROOM (e.g. /lobby, see `sotto community`).
    #[arg(value_name = "CONTACT")]
    contact: String,

    /// The text (several words are joined with spaces); with attachments, their caption.
    #[arg(value_name = "TEXT", required_unless_present_any = ["file", "image", "voice"], num_args = 0..)]
    text: Vec<String>,

    /// Reply to (quote) this message: its number from `sotto read` (#12 or 12), or `last`.
    #[arg(long, value_name = "MSG")]
    reply_to: Option<String>,

    /// Attach files as they are (any type; at most 32 attachments, each at most 9,956,278
    /// bytes: 10,000,000 once encrypted).
    #[arg(long, value_name = "PATH", num_args = 1..)]
    file: Vec<PathBuf>,

    /// Attach images, scaled to fit 2000×2000 pixels when larger (as Session's apps do).
    #[arg(long, value_name = "PATH", num_args = 1..)]
    image: Vec<PathBuf>,

    /// Send a voice message: MP3 or M4A as they are; WAV, FLAC, Ogg Vorbis and Opus are
    /// transcoded to MP3.
    #[arg(long, value_name = "PATH")]
    voice: Option<PathBuf>,

    /// The caption of the attachments (instead of TEXT).
    #[arg(long, value_name = "TEXT", conflicts_with = "text")]
    caption: Option<String>,
}

#[derive(Args)]
pub struct InboxArgs {
    /// Do not fetch new messages first.
    #[arg(long)]
    offline: bool,
}

#[derive(Args)]
pub struct ReadArgs {
    /// Whose conversation: a nickname, display name, Session ID, or a unique prefix of one;
    /// or a joined community room as COMMUNITY/ROOM (e.g. /lobby).
    #[arg(value_name = "CONTACT")]
    contact: String,

    /// Show at most the last N messages.
    #[arg(long, short = 'n', value_name = "N", default_value_t = DEFAULT_LIMIT)]
    limit: u32,

    /// Do not fetch new messages first (a read receipt, if due, goes out with the next sync).
    #[arg(long)]
    offline: bool,

    /// Mark the conversation unread instead of read (on your other devices too); reading
    /// it again clears the mark.
    #[arg(long)]
    mark_unread: bool,
}

#[derive(Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct RequestsArgs {
    #[command(subcommand)]
    command: Option<RequestsCommand>,

    /// Do not fetch new messages first (for the list).
    #[arg(long)]
    offline: bool,
}

#[derive(Subcommand)]
pub enum RequestsCommand {
    /// List pending message requests (the default)
    List {
        /// Do not fetch new messages first.
        #[arg(long)]
        offline: bool,
    },
    /// Accept a request: they become a contact and are told so
    Accept(ContactArg),
    /// Decline a request: the conversation is deleted; the sender is not told
    Decline(ContactArg),
}

#[derive(Args)]
pub struct ReactArgs {
    /// The conversation: a nickname, display name, Session ID, or a unique prefix of one;
    /// or a joined community room as COMMUNITY/ROOM (e.g. /lobby).
    #[arg(value_name = "CONTACT")]
    contact: String,

    /// The message: its number from `sotto read` (#12 or 12), or `last`.
    #[arg(value_name = "MSG")]
    message: String,

    /// The emoji.
    #[arg(value_name = "EMOJI")]
    emoji: String,

    /// Remove your reaction instead of adding it.
    #[arg(long)]
    remove: bool,
}

#[derive(Args)]
pub struct UnsendArgs {
    /// The conversation: a nickname, display name, Session ID, or a unique prefix of one;
    /// or a joined community room as COMMUNITY/ROOM (e.g. /lobby).
    #[arg(value_name = "CONTACT")]
    contact: String,

    /// The message: its number from `sotto read` (#12 or 12), or `last` (your newest).
    #[arg(value_name = "MSG")]
    message: String,
}

#[derive(Args)]
pub struct DeleteArgs {
    /// The conversation: a nickname, display name, Session ID, or a unique prefix of one.
    #[arg(value_name = "CONTACT")]
    contact: String,

    /// The message: its number from `sotto read` (#12 or 12), or `last` (the newest).
    #[arg(value_name = "MSG")]
    message: String,

    /// Do not connect: delete here now; the copy on your swarm goes with the next sync.
    #[arg(long)]
    offline: bool,
}

#[derive(Args)]
pub struct ClearArgs {
    /// The conversation: a nickname, display name, Session ID, or a unique prefix of one.
    #[arg(value_name = "CONTACT")]
    contact: String,

    /// Do not connect: delete here now; the copies on your swarm go with the next sync.
    #[arg(long)]
    offline: bool,
}

#[derive(Subcommand)]
pub enum ProfileCommand {
    /// Set the display name your contacts see (sent with your next messages)
    ///
    /// Example:
    ///   sotto profile set-name "Alice"
    #[command(verbatim_doc_comment)]
    SetName {
        /// The name.
        #[arg(value_name = "NAME")]
        name: String,
    },
    /// Show your Session ID, display name and where the profile is stored
    Show,
    /// Upload a profile picture (through an onion path); it goes with your next messages
    ///
    /// Example:
    ///   sotto profile set-picture me.jpg
    #[command(verbatim_doc_comment)]
    SetPicture {
        /// The image (JPEG, PNG, WebP or GIF).
        #[arg(value_name = "PATH")]
        path: PathBuf,
    },
}

#[derive(Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct SettingsArgs {
    #[command(subcommand)]
    command: Option<SettingsCommand>,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum OnOff {
    On,
    Off,
}

impl OnOff {
    fn on(self) -> bool {
        matches!(self, Self::On)
    }
}

#[derive(Clone, Copy, ValueEnum)]
pub enum DisappearingMode {
    /// Messages stay.
    Off,
    /// Messages disappear DUR after they are sent.
    AfterSend,
    /// Messages disappear DUR after they are read.
    AfterRead,
}

#[derive(Subcommand)]
pub enum SettingsCommand {
    /// Show the settings (the default)
    Show,
    /// Send read receipts and show your contacts' (off by default)
    ReadReceipts {
        #[arg(value_name = "on|off")]
        value: OnOff,
    },
    /// Send typing indicators and show your contacts' (off by default)
    Typing {
        #[arg(value_name = "on|off")]
        value: OnOff,
    },
    /// Make messages with a contact disappear (tells them; needs the network)
    ///
    /// DUR is a number and a unit: 30s, 5m, 1h, 1d, 1w.
    ///
    /// Examples:
    ///   sotto settings disappearing bob after-send 1h
    ///   sotto settings disappearing bob after-read 5m
    ///   sotto settings disappearing bob off
    #[command(verbatim_doc_comment)]
    Disappearing {
        /// The contact.
        #[arg(value_name = "CONTACT")]
        contact: String,
        /// off, after-send or after-read.
        #[arg(value_name = "MODE")]
        mode: DisappearingMode,
        /// How long (with after-send and after-read).
        #[arg(value_name = "DUR", required_if_eq_any = [("mode", "after-send"), ("mode", "after-read")])]
        duration: Option<String>,
    },
}

pub(crate) fn now_ms() -> u64 {
    sotto_client::Clock::system().now_ms()
}

fn names(engine: &Engine) -> anyhow::Result<Names> {
    Ok(Names::new(engine.session_id(), engine.contacts()?))
}

fn print(text: &str) -> anyhow::Result<()> {
    output::stdout(text)
}

/// Route lines for `--verbose`.
fn route_lines(traces: &[sotto_client::Trace]) -> String {
    traces
        .iter()
        .map(|t| format!("  {} {}\n", t.method, render::route_text(t)))
        .collect()
}

// Contacts.

pub fn contacts(ctx: &Ctx<'_>, command: &ContactsCommand) -> anyhow::Result<()> {
    let mut engine = ctx.engine()?;
    match command {
        ContactsCommand::Add(args) => {
            let id = match (&args.session_id, &args.qr_png) {
                (_, Some(png)) => qr::decode_file(png)?,
                (Some(text), None) => text.trim().parse::<SessionId>().map_err(|e| {
                    anyhow!(
                        "{text:?} is not a Session ID ({e}): it is 66 hex characters starting \
                         with 05 (`sotto id` prints yours)"
                    )
                })?,
                (None, None) => bail!("give a Session ID or --qr-png FILE"),
            };
            if id == engine.session_id() {
                bail!("that is your own Session ID");
            }
            let name = args
                .name
                .as_deref()
                .map(str::trim)
                .filter(|n| !n.is_empty());
            let contact = engine.add_contact(&id, name, now_ms())?;
            if ctx.json() {
                return output::json(&done("added", (&contact).into(), None, Vec::new()));
            }
            print(&format!(
                "Added {} ({id}) to your contacts.\n",
                contact.display_name().unwrap_or("the contact")
            ))
        }
        ContactsCommand::List => contacts_list(ctx, &engine),
        ContactsCommand::Block(arg) | ContactsCommand::Unblock(arg) => {
            let block = matches!(command, ContactsCommand::Block(_));
            let id = resolve::contact(&engine, &arg.contact)?;
            engine.set_blocked(&id, block, now_ms())?;
            let names = names(&engine)?;
            if ctx.json() {
                let action = if block { "blocked" } else { "unblocked" };
                return output::json(&done(action, names.contact_json(&id), None, Vec::new()));
            }
            let who = names.of(&id);
            print(&if block {
                format!("Blocked {who}: their messages will be dropped.\n")
            } else {
                format!("Unblocked {who}.\n")
            })
        }
        ContactsCommand::Remove(arg) => {
            let id = resolve::contact(&engine, &arg.contact)?;
            let names = names(&engine)?;
            let contact = names.contact_json(&id);
            let who = names.of(&id);
            engine.remove_contact(&id)?;
            if ctx.json() {
                return output::json(&done("removed", contact, None, Vec::new()));
            }
            print(&format!(
                "Removed {who} and your conversation; your other devices follow at the next \
                 `sotto sync`.\n"
            ))
        }
        ContactsCommand::Pin(arg)
        | ContactsCommand::Unpin(arg)
        | ContactsCommand::Hide(arg)
        | ContactsCommand::Unhide(arg) => {
            let (placement, action, said) = match command {
                ContactsCommand::Pin(_) => (Placement::Pinned, "pinned", "is listed first"),
                ContactsCommand::Hide(_) => (
                    Placement::Hidden,
                    "hidden",
                    "is hidden until a new message arrives",
                ),
                ContactsCommand::Unhide(_) => (Placement::Normal, "unhidden", "is listed again"),
                _ => (Placement::Normal, "unpinned", "is no longer pinned"),
            };
            let id = resolve::contact(&engine, &arg.contact)?;
            engine.set_placement(&id, placement)?;
            let names = names(&engine)?;
            if ctx.json() {
                return output::json(&done(action, names.contact_json(&id), None, Vec::new()));
            }
            print(&format!(
                "Your conversation with {} {said}.\n",
                names.of(&id)
            ))
        }
    }
}

fn done(
    action: &'static str,
    contact: output::Contact,
    disappearing: Option<Disappearing>,
    route: Vec<sotto_client::Trace>,
) -> output::Done {
    output::Done {
        action,
        contact,
        disappearing: disappearing.map(Into::into),
        route: route.clone(),
    }
}

fn contact_status(c: &sotto_client::Contact) -> &'static str {
    match (c.blocked, c.approved) {
        (true, _) => "blocked",
        (false, true) => "contact",
        (false, false) => "message request",
    }
}

fn contacts_list(ctx: &Ctx<'_>, engine: &Engine) -> anyhow::Result<()> {
    let contacts = engine.contacts()?;
    if ctx.json() {
        return output::json(&output::Contacts {
            contacts: contacts.iter().map(Into::into).collect(),
        });
    }
    if contacts.is_empty() {
        return print(
            "No contacts yet: add one with `sotto contacts add <session-id> --name NAME`.\n",
        );
    }
    let width = contacts
        .iter()
        .map(|c| c.display_name().map_or(1, |n| n.chars().count()))
        .max()
        .unwrap_or(1)
        .max(4);
    let mut text = String::new();
    for c in &contacts {
        let _ = writeln!(
            text,
            "{:<width$}  {}  {}",
            c.display_name().unwrap_or("-"),
            c.session_id,
            contact_status(c)
        );
    }
    print(&text)
}

// Profile and settings.

pub fn profile(ctx: &Ctx<'_>, command: &ProfileCommand) -> anyhow::Result<()> {
    if let ProfileCommand::SetPicture { path } = command {
        return crate::commands_files::set_picture(ctx, path);
    }
    let mut engine = ctx.engine()?;
    let settings = match command {
        ProfileCommand::SetName { name } => {
            let name = name.trim();
            if name.is_empty() {
                bail!("the name is empty");
            }
            engine.set_display_name(Some(name), now_ms())?
        }
        ProfileCommand::Show | ProfileCommand::SetPicture { .. } => engine.settings()?,
    };
    if ctx.json() {
        return output::json(&output::Profile {
            session_id: engine.session_id().to_string(),
            display_name: settings.display_name,
            profile_updated_s: settings.profile_updated_s,
            data_dir: output::path(ctx.dir()),
            database: output::path(&ctx.database()),
        });
    }
    match command {
        ProfileCommand::SetName { .. } => print(&format!(
            "Your display name is now {:?}; it goes with your next messages.\n",
            settings.display_name.unwrap_or_default()
        )),
        ProfileCommand::Show | ProfileCommand::SetPicture { .. } => print(&format!(
            "Session ID:   {}\nDisplay name: {}\nData dir:     {}\n",
            engine.session_id(),
            settings
                .display_name
                .as_deref()
                .unwrap_or("(none: `sotto profile set-name NAME`)"),
            ctx.dir().display(),
        )),
    }
}

pub fn settings(ctx: &Ctx<'_>, args: &SettingsArgs) -> anyhow::Result<()> {
    let command = args.command.as_ref().unwrap_or(&SettingsCommand::Show);
    if let SettingsCommand::Disappearing {
        contact,
        mode,
        duration,
    } = command
    {
        return set_disappearing(ctx, contact, *mode, duration.as_deref());
    }
    let mut engine = ctx.engine()?;
    let settings = match command {
        SettingsCommand::ReadReceipts { value } => {
            engine.update_settings(|s| s.read_receipts = value.on())?
        }
        SettingsCommand::Typing { value } => {
            engine.update_settings(|s| s.typing_indicators = value.on())?
        }
        _ => engine.settings()?,
    };
    if ctx.json() {
        return output::json(&output::Settings::from(&settings));
    }
    let on = |b: bool| if b { "on" } else { "off" };
    print(&format!(
        "Read receipts:      {}\nTyping indicators:  {}\nDisplay name:       {}\n\
         New conversations:  disappearing {}\n",
        on(settings.read_receipts),
        on(settings.typing_indicators),
        settings.display_name.as_deref().unwrap_or("(none)"),
        render::disappearing_text(settings.default_disappearing),
    ))
}

fn set_disappearing(
    ctx: &Ctx<'_>,
    contact: &str,
    mode: DisappearingMode,
    duration: Option<&str>,
) -> anyhow::Result<()> {
    let secs = || {
        duration
            .map(render::parse_duration)
            .transpose()
            .map_err(|e| anyhow!(e))?
            .context("give a duration, e.g. 1h")
    };
    let setting = match mode {
        DisappearingMode::Off => Disappearing::Off,
        DisappearingMode::AfterSend => Disappearing::AfterSend(secs()?),
        DisappearingMode::AfterRead => Disappearing::AfterRead(secs()?),
    };
    Ctx::runtime()?.block_on(async {
        let (client, _) = online(ctx).await?;
        let peer = client.with_engine(|e| resolve::contact(e, contact))?;
        client.set_disappearing(&peer, setting).await?;
        let calls = client.network().take_calls();
        let names = client.with_engine(|e| names(e))?;
        if ctx.json() {
            return output::json(&done(
                "disappearing",
                names.contact_json(&peer),
                Some(setting),
                route(&calls),
            ));
        }
        print(&format!(
            "Disappearing messages with {}: {}.\n",
            names.of(&peer),
            render::disappearing_text(setting)
        ))
    })
}

// Network commands.

/// Connects, and attempts the stores an earlier run left in the outbox (their state changes
/// are returned).
async fn online(ctx: &Ctx<'_>) -> anyhow::Result<(Client<CliNet>, Vec<Event>)> {
    let client = ctx.client(false).await?;
    let retried = client.flush_outbox().await.unwrap_or_else(|e| {
        eprintln!("warning: retrying earlier messages failed: {e}");
        Vec::new()
    });
    Ok((client, retried))
}

/// Connects, retries the outbox and polls once; returns the client and what happened.
pub(crate) async fn connect_and_poll(
    ctx: &Ctx<'_>,
) -> anyhow::Result<(Client<CliNet>, Vec<Event>)> {
    let (client, mut events) = online(ctx).await?;
    events.extend(client.poll_once().await.context(
        "fetching new messages failed: try again (is the testnet running? `cargo xtask testnet`)",
    )?);
    Ok((client, events))
}

pub fn quote_lookup(engine: &Engine) -> impl Fn(&MessageRecord) -> Option<MessageId> + '_ {
    move |m| {
        let q = m.quote.as_ref()?;
        render::find(&engine.messages(&m.peer, 1000).ok()?, &q.key)
    }
}

fn events_json(engine: &Engine, events: &[Event]) -> anyhow::Result<Vec<output::Event>> {
    let names = names(engine)?;
    Ok(events
        .iter()
        .filter_map(|e| render::event_json(e, &names, quote_lookup(engine)))
        .collect())
}

fn events_text(engine: &Engine, events: &[Event]) -> anyhow::Result<String> {
    let names = names(engine)?;
    let now = now_ms();
    Ok(events
        .iter()
        .filter_map(|e| render::event_text(e, &names, now))
        .map(|line| format!("{line}\n"))
        .collect())
}

pub fn sync(ctx: &Ctx<'_>) -> anyhow::Result<()> {
    Ctx::runtime()?.block_on(async {
        let (client, events) = connect_and_poll(ctx).await?;
        let traces = route(&client.network().take_calls());
        client.with_engine(|engine| {
            if ctx.json() {
                return output::json(&output::Synced {
                    events: events_json(engine, &events)?,
                    route: traces.to_vec(),
                });
            }
            let mut text = events_text(engine, &events)?;
            if text.is_empty() {
                text.push_str("Nothing new.\n");
            }
            if ctx.verbose() {
                text.push_str(&route_lines(&traces));
            }
            print(&text)
        })
    })
}

/// Runs `show` on the engine after syncing (unless `offline`), with what arrived and the route.
fn with_sync(
    ctx: &Ctx<'_>,
    offline: bool,
    show: impl FnOnce(&mut Engine, Synced) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    if offline {
        let mut engine = ctx.engine()?;
        return show(&mut engine, Synced::default());
    }
    Ctx::runtime()?.block_on(async {
        let (client, events) = connect_and_poll(ctx).await?;
        let traces = route(&client.network().take_calls());
        let synced = Synced {
            online: true,
            events,
            traces,
        };
        client.with_engine(|engine| show(engine, synced))
    })
}

/// What a sync brought.
#[derive(Default)]
struct Synced {
    /// Whether it happened (not with --offline).
    online: bool,
    events: Vec<Event>,
    traces: Vec<sotto_client::Trace>,
}

impl Synced {
    fn route(&self) -> Vec<sotto_client::Trace> {
        self.traces.to_vec()
    }

    /// The arrivals and (with --verbose) routes, as text to print after the main output.
    fn footer(&self, ctx: &Ctx<'_>, engine: &Engine) -> anyhow::Result<String> {
        let mut text = String::new();
        if ctx.verbose() && self.online {
            let arrived = events_text(engine, &self.events)?;
            if !arrived.is_empty() {
                text.push_str("\nArrived:\n");
                text.push_str(&arrived);
            }
            text.push_str("\nRoutes:\n");
            text.push_str(&route_lines(&self.traces));
        }
        Ok(text)
    }
}

fn summary(engine: &Engine, c: &Conversation) -> anyhow::Result<output::ConversationSummary> {
    let last = engine.messages(&c.contact.session_id, 1)?.pop();
    Ok(output::ConversationSummary {
        session_id: c.contact.session_id.to_string(),
        name: c.contact.display_name().map(str::to_owned),
        is_request: c.is_request(),
        unread: c.unread,
        pinned: c.is_pinned(),
        marked_unread: c.marked_unread,
        last_activity_ms: c.last_activity_ms,
        disappearing: c.disappearing.into(),
        last_message: last.map(|m| output::Preview {
            id: m.id.0,
            from: m.key.author.to_string(),
            outgoing: m.outgoing,
            text: m.body,
            timestamp: m.key.sent_ms,
        }),
    })
}

/// One line per conversation: name, request mark, unread count, newest message.
fn summary_lines(engine: &Engine, conversations: &[Conversation]) -> anyhow::Result<String> {
    let names = names(engine)?;
    let now = now_ms();
    let width = conversations
        .iter()
        .map(|c| names.of(&c.contact.session_id).chars().count())
        .max()
        .unwrap_or(0);
    let mut text = String::new();
    for c in conversations {
        let peer = c.contact.session_id;
        let mut mark = match (c.is_request(), c.unread) {
            (true, 0) => "[request]".to_owned(),
            (true, n) => format!("[request] {n} unread"),
            (false, 0) if c.marked_unread => "unread".to_owned(),
            (false, 0) => String::new(),
            (false, n) => format!("{n} unread"),
        };
        if c.is_pinned() {
            mark.insert_str(
                0,
                if mark.is_empty() {
                    "[pinned]"
                } else {
                    "[pinned] "
                },
            );
        }
        let last = engine.messages(&peer, 1)?.pop().map_or_else(
            || "(no messages)".to_owned(),
            |m| {
                format!(
                    "{} {}: {}",
                    render::time_text(m.key.sent_ms, now),
                    names.of(&m.key.author),
                    render::body_text(&m, now)
                )
            },
        );
        let _ = writeln!(text, "{:<width$}  {mark:<20}  {last}", names.of(&peer));
    }
    Ok(text)
}

pub fn inbox(ctx: &Ctx<'_>, args: &InboxArgs) -> anyhow::Result<()> {
    with_sync(ctx, args.offline, |engine, synced| {
        let conversations = engine.conversations()?;
        let requests = conversations.iter().filter(|c| c.is_request()).count();
        let unread: u32 = conversations.iter().map(|c| c.unread).sum();
        if ctx.json() {
            return output::json(&output::Inbox {
                conversations: conversations
                    .iter()
                    .map(|c| summary(engine, c))
                    .collect::<anyhow::Result<_>>()?,
                unread,
                requests,
                synced: synced.online,
                arrived: events_json(engine, &synced.events)?,
                route: synced.route(),
            });
        }
        let mut text = if conversations.is_empty() {
            "No conversations yet: `sotto send <contact> TEXT` starts one.\n".to_owned()
        } else {
            summary_lines(engine, &conversations)?
        };
        match requests {
            0 => {}
            1 => text.push_str("\n1 message request: see `sotto requests`.\n"),
            n => {
                let _ = writeln!(text, "\n{n} message requests: see `sotto requests`.");
            }
        }
        text.push_str(&synced.footer(ctx, engine)?);
        print(&text)
    })
}

pub fn read(ctx: &Ctx<'_>, args: &ReadArgs) -> anyhow::Result<()> {
    if args.limit == 0 {
        bail!("--limit must be at least 1");
    }
    if commands_community::is_room(&args.contact) {
        return commands_community::read(ctx, &args.contact, args.limit, args.offline);
    }
    if let Some(group) = commands_groups::group_arg(ctx, &args.contact)? {
        return commands_groups::read(ctx, &group, args.limit, args.offline);
    }
    if args.offline {
        // The read receipt, if one is due, waits in the outbox for the next sync.
        let mut engine = ctx.engine()?;
        let peer = resolve::contact(&engine, &args.contact)?;
        if args.mark_unread {
            engine.set_marked_unread(&peer, true)?;
        } else {
            engine.mark_read(&peer, now_ms(), &mut OsRng)?;
        }
        return show_history(ctx, &engine, &peer, args.limit, false, &[], &[]);
    }
    Ctx::runtime()?.block_on(async {
        let (client, events) = connect_and_poll(ctx).await?;
        let peer = client.with_engine(|e| resolve::contact(e, &args.contact))?;
        if args.mark_unread {
            client.set_marked_unread(&peer, true).await?;
        } else {
            client.mark_read(&peer).await?;
        }
        let traces = route(&client.network().take_calls());
        client.with_engine(|engine| {
            show_history(ctx, engine, &peer, args.limit, true, &events, &traces)
        })
    })
}

fn show_history(
    ctx: &Ctx<'_>,
    engine: &Engine,
    peer: &SessionId,
    limit: u32,
    synced: bool,
    events: &[Event],
    traces: &[sotto_client::Trace],
) -> anyhow::Result<()> {
    let names = names(engine)?;
    let history = engine.messages(peer, limit)?;
    let conversation = engine.conversation(peer)?;
    let is_request = conversation.as_ref().is_some_and(Conversation::is_request);
    let disappearing = conversation
        .as_ref()
        .map(|c| c.disappearing)
        .unwrap_or_default();
    let now = now_ms();
    let quote_id = |m: &MessageRecord| {
        m.quote
            .as_ref()
            .and_then(|q| render::find(&history, &q.key))
    };
    if ctx.json() {
        let messages = history
            .iter()
            .map(|m| {
                let mut json =
                    render::message_json(m, &engine.reactions(m.id)?, &names, quote_id(m));
                json.attachments = crate::commands_files::attachments_json(engine, m)?;
                Ok(json)
            })
            .collect::<anyhow::Result<_>>()?;
        return output::json(&output::History {
            contact: names.contact_json(peer),
            is_request,
            disappearing: disappearing.into(),
            messages,
            synced,
            arrived: events_json(engine, events)?,
            route: traces.to_vec(),
        });
    }
    let mut text = format!("Conversation with {} ({peer})", names.of(peer));
    if disappearing != Disappearing::Off {
        let _ = write!(
            text,
            ", disappearing: {}",
            render::disappearing_text(disappearing)
        );
    }
    text.push('\n');
    if is_request {
        let _ = writeln!(
            text,
            "This is a message request: `sotto requests accept {}` to accept (replying accepts \
             too), `sotto requests decline {}` to delete it.",
            short_arg(&names, peer),
            short_arg(&names, peer)
        );
    }
    if history.is_empty() {
        text.push_str("(no messages)\n");
    }
    for m in &history {
        for line in render::message_lines(m, &engine.reactions(m.id)?, &names, quote_id(m), now) {
            text.push_str(&line);
            text.push('\n');
        }
        for line in crate::commands_files::attachment_lines(engine, m)? {
            text.push_str(&line);
            text.push('\n');
        }
    }
    if ctx.verbose() {
        text.push_str("\nRoutes:\n");
        text.push_str(&route_lines(traces));
    }
    print(&text)
}

/// How to name `peer` in a suggested command.
fn short_arg(names: &Names, peer: &SessionId) -> String {
    match names.display(peer) {
        Some(name) if !name.contains(char::is_whitespace) => name,
        _ => peer.to_string(),
    }
}

pub fn requests(ctx: &Ctx<'_>, args: &RequestsArgs) -> anyhow::Result<()> {
    match &args.command {
        None => requests_list(ctx, args.offline),
        Some(RequestsCommand::List { offline }) => requests_list(ctx, *offline || args.offline),
        Some(RequestsCommand::Accept(arg))
            if commands_groups::invitation_arg(ctx, &arg.contact)?.is_some() =>
        {
            let group = commands_groups::invitation_arg(ctx, &arg.contact)?
                .context("the invitation went away")?;
            commands_groups::accept(ctx, &group)
        }
        Some(RequestsCommand::Decline(arg))
            if commands_groups::invitation_arg(ctx, &arg.contact)?.is_some() =>
        {
            let group = commands_groups::invitation_arg(ctx, &arg.contact)?
                .context("the invitation went away")?;
            commands_groups::decline(ctx, &group)
        }
        Some(RequestsCommand::Accept(arg)) => Ctx::runtime()?.block_on(async {
            let (client, _) = online(ctx).await?;
            let peer = client.with_engine(|e| resolve::contact(e, &arg.contact))?;
            client.accept_request(&peer).await.map_err(|e| match e {
                sotto_client::ClientError::NoRequest(_) => anyhow!(
                    "there is no message request from {}: see `sotto requests`",
                    peer.short()
                ),
                other => other.into(),
            })?;
            let calls = client.network().take_calls();
            let names = client.with_engine(|e| names(e))?;
            if ctx.json() {
                return output::json(&done(
                    "accepted",
                    names.contact_json(&peer),
                    None,
                    route(&calls),
                ));
            }
            let failed = calls
                .iter()
                .rev()
                .find(|c| c.method == "store" && c.account == AccountId::from(peer))
                .and_then(|c| c.result.as_ref().err().cloned());
            let mut text = format!("Accepted {}: they are now a contact", names.of(&peer));
            match failed {
                Some(e) => {
                    let _ = writeln!(
                        text,
                        "; telling them failed ({e}), retried by the next `sotto sync`."
                    );
                }
                None => text.push_str(" and were told so.\n"),
            }
            print(&text)
        }),
        Some(RequestsCommand::Decline(arg)) => {
            let mut engine = ctx.engine()?;
            let peer = resolve::contact(&engine, &arg.contact)?;
            let names = names(&engine)?;
            engine.decline_request(&peer).map_err(|e| match e {
                sotto_client::ClientError::NoRequest(_) => anyhow!(
                    "there is no message request from {}: see `sotto requests`",
                    names.of(&peer)
                ),
                other => other.into(),
            })?;
            if ctx.json() {
                return output::json(&done(
                    "declined",
                    names.contact_json(&peer),
                    None,
                    Vec::new(),
                ));
            }
            print(&format!(
                "Declined the request from {}: the conversation is deleted.\n",
                names.of(&peer)
            ))
        }
    }
}

fn requests_list(ctx: &Ctx<'_>, offline: bool) -> anyhow::Result<()> {
    with_sync(ctx, offline, |engine, synced| {
        let requests = engine.requests()?;
        let invitations = commands_groups::invitations(engine)?;
        if ctx.json() {
            return output::json(&output::Requests {
                groups: invitations,
                requests: requests
                    .iter()
                    .map(|c| summary(engine, c))
                    .collect::<anyhow::Result<_>>()?,
                synced: synced.online,
                route: synced.route(),
            });
        }
        let mut text = if requests.is_empty() && !invitations.is_empty() {
            commands_groups::invitations_text(engine, &invitations)
        } else if requests.is_empty() {
            "No message requests.\n".to_owned()
        } else {
            let names = names(engine)?;
            let mut text = summary_lines(engine, &requests)?;
            let first = requests
                .first()
                .map(|c| short_arg(&names, &c.contact.session_id))
                .unwrap_or_default();
            let _ = writeln!(
                text,
                "\n`sotto read {first}` to read, `sotto requests accept {first}` to accept, \
                 `sotto requests decline {first}` to delete."
            );
            text.push_str(&commands_groups::invitations_text(engine, &invitations));
            text
        };
        text.push_str(&synced.footer(ctx, engine)?);
        print(&text)
    })
}

pub fn send(ctx: &Ctx<'_>, args: &SendArgs) -> anyhow::Result<()> {
    if !args.file.is_empty() || !args.image.is_empty() || args.voice.is_some() {
        // Every limit is checked here, before the network is reached.
        let staged =
            crate::commands_files::stage_all(&args.file, &args.image, args.voice.as_deref())?;
        let text = args.text.join(" ");
        let caption = args
            .caption
            .as_deref()
            .or((!text.trim().is_empty()).then_some(text.as_str()));
        return crate::commands_files::send(
            ctx,
            &args.contact,
            caption,
            args.reply_to.as_deref(),
            staged,
        );
    }
    let body = args.text.join(" ");
    if body.trim().is_empty() {
        bail!("the text is empty");
    }
    // A text no swarm would store is refused here, before the network is even reached.
    sotto_client::outgoing::check_text(&body)
        .map_err(|e| anyhow!("{e}; this text is {} bytes", body.len()))?;
    if commands_community::is_room(&args.contact) {
        return commands_community::send(ctx, &args.contact, &body, args.reply_to.as_deref());
    }
    if let Some(group) = commands_groups::group_arg(ctx, &args.contact)? {
        return commands_groups::send(ctx, &group, &body, args.reply_to.as_deref());
    }
    Ctx::runtime()?.block_on(async {
        let (client, _) = online(ctx).await?;
        let peer = client.with_engine(|e| resolve::contact(e, &args.contact))?;
        let quote = match &args.reply_to {
            Some(arg) => Some(client.with_engine(|e| resolve::message(e, &peer, arg, Last::Any))?),
            None => None,
        };
        client.network().take_calls();
        let outcome = match &quote {
            Some(q) => client.reply(q.id, &body).await,
            None => client.send_text(&peer, &body).await,
        }
        .map_err(|e| match e {
            sotto_client::ClientError::Blocked(_) => anyhow!(
                "{} is blocked: `sotto contacts unblock {}` first",
                peer.short(),
                args.contact
            ),
            other => other.into(),
        })?;
        let calls = client.network().take_calls();
        let names = client.with_engine(|e| names(e))?;
        report_send(ctx, &names, &peer, outcome, &calls)
    })
}

fn report_send(
    ctx: &Ctx<'_>,
    names: &Names,
    peer: &SessionId,
    outcome: sotto_client::SendOutcome,
    calls: &[crate::net::Call],
) -> anyhow::Result<()> {
    let own = names.own();
    let to = AccountId::from(*peer);
    let stores = |account: AccountId| {
        calls
            .iter()
            .filter(move |c| c.method == "store" && c.account == account)
    };
    // The recipient's copy is the last store to their swarm (an acceptance may go first); the
    // sync copy is the store to one's own swarm (none when writing to oneself).
    let recipient = stores(to).next_back();
    let error = recipient.and_then(|c| c.result.as_ref().err().cloned());
    let sync_copy = (to != AccountId::from(own))
        .then(|| stores(AccountId::from(own)).next_back())
        .flatten()
        .map(|c| match &c.result {
            Ok(tally) => {
                let (stored, of) = tally.map_or((0, 0), |t| (t.stored, t.nodes));
                let confirmed = tally.is_some_and(|t| t.is_stored());
                output::SyncCopy {
                    state: if confirmed { "stored" } else { "failed" },
                    stored: Some(stored),
                    of: Some(of),
                    error: None,
                }
            }
            Err(e) => output::SyncCopy {
                state: "failed",
                stored: None,
                of: None,
                error: Some(e.clone()),
            },
        });
    // Why the recipient's copy is not stored: the network's error, or too few confirmations.
    let reason = error.clone().unwrap_or_else(|| {
        let tally = recipient.and_then(|c| c.result.as_ref().ok().copied().flatten());
        match tally {
            Some(t) => format!(
                "only {} of the {} nodes of the swarm confirmed it (at least {} must)",
                t.stored,
                t.nodes,
                sotto_client::outgoing::MIN_CONFIRMATIONS
            ),
            None => "no node of the swarm confirmed it".to_owned(),
        }
    });
    // A send that did not succeed exits non-zero (after its report).
    let failure = match outcome.state {
        MessageState::Failed {
            next_retry_ms: Some(_),
            ..
        } => Some(anyhow!(
            "message {} was not delivered: {reason}; it stays queued: `sotto sync` tries again",
            outcome.message
        )),
        MessageState::Failed {
            next_retry_ms: None,
            ..
        } => Some(anyhow!(
            "message {} was not delivered and will not be retried: {reason}",
            outcome.message
        )),
        _ => None,
    };
    if ctx.json() {
        output::json(&output::Sent {
            id: outcome.message.0,
            to: peer.to_string(),
            to_name: names.display(peer),
            state: outcome.state.into(),
            error,
            sync_copy,
            route: route(calls),
        })?;
        return failure.map_or(Ok(()), Err);
    }
    let who = names.of(peer);
    let swarm = if who == "you" {
        "your swarm".to_owned()
    } else {
        format!("{who}'s swarm")
    };
    let mut text = match outcome.state {
        MessageState::Stored { k, n } => {
            format!(
                "{} → {who}: stored on {k}/{n} nodes of {swarm}\n",
                outcome.message
            )
        }
        MessageState::Failed {
            next_retry_ms: Some(_),
            ..
        } => format!(
            "{} → {who}: failed, will retry: {reason} (`sotto sync` retries now)\n",
            outcome.message,
        ),
        MessageState::Failed { .. } => format!(
            "{} → {who}: failed, not retried: {reason}\n",
            outcome.message,
        ),
        other => format!(
            "{} → {who}: {}\n",
            outcome.message,
            render::state_text(other, true, now_ms())
        ),
    };
    for trace in recipient.iter().flat_map(|c| &c.traces) {
        if trace.method == "store" {
            let _ = writeln!(text, "   {}", render::route_text(trace));
        }
    }
    print(&text)?;
    failure.map_or(Ok(()), Err)
}

pub fn react(ctx: &Ctx<'_>, args: &ReactArgs) -> anyhow::Result<()> {
    let emoji = args.emoji.trim();
    if emoji.is_empty() {
        bail!("the emoji is empty");
    }
    if commands_community::is_room(&args.contact) {
        return commands_community::react(ctx, &args.contact, &args.message, emoji, args.remove);
    }
    if let Some(group) = commands_groups::group_arg(ctx, &args.contact)? {
        return commands_groups::react(ctx, &group, &args.message, emoji, args.remove);
    }
    Ctx::runtime()?.block_on(async {
        let (client, _) = online(ctx).await?;
        let (peer, target) = client.with_engine(|e| {
            let peer = resolve::contact(e, &args.contact)?;
            anyhow::Ok((peer, resolve::message(e, &peer, &args.message, Last::Any)?))
        })?;
        if args.remove {
            client.remove_reaction(target.id, emoji).await?;
        } else {
            client.react(target.id, emoji).await?;
        }
        let calls = client.network().take_calls();
        let names = client.with_engine(|e| names(e))?;
        if ctx.json() {
            return output::json(&output::MessageAction {
                action: if args.remove { "unreacted" } else { "reacted" },
                message: target.id.0,
                to: peer.to_string(),
                emoji: Some(emoji.to_owned()),
                route: route(&calls),
            });
        }
        let verb = if args.remove { "Removed" } else { "Reacted" };
        let prep = if args.remove { "from" } else { "to" };
        print(&format!(
            "{verb} {emoji} {prep} {} ({}: {}){}\n",
            target.id,
            names.of(&target.key.author),
            render::body_text(&target, now_ms()),
            delivery_note(&calls, &peer)
        ))
    })
}

/// ", not delivered yet: …" when the store to `peer` failed.
fn delivery_note(calls: &[crate::net::Call], peer: &SessionId) -> String {
    let to = AccountId::from(*peer);
    match calls
        .iter()
        .rev()
        .find(|c| c.method == "store" && c.account == to)
        .map(|c| &c.result)
    {
        Some(Err(e)) => format!("; not delivered yet ({e}): `sotto sync` retries"),
        _ => String::new(),
    }
}

pub fn unsend(ctx: &Ctx<'_>, args: &UnsendArgs) -> anyhow::Result<()> {
    if commands_community::is_room(&args.contact) {
        return commands_community::unsend(ctx, &args.contact, &args.message);
    }
    if let Some(group) = commands_groups::group_arg(ctx, &args.contact)? {
        return commands_groups::unsend(ctx, &group, &args.message);
    }
    Ctx::runtime()?.block_on(async {
        let (client, _) = online(ctx).await?;
        let (peer, target) = client.with_engine(|e| {
            let peer = resolve::contact(e, &args.contact)?;
            anyhow::Ok((peer, resolve::message(e, &peer, &args.message, Last::Own)?))
        })?;
        if !target.outgoing {
            bail!(
                "message {} was written by {}: only your own messages can be unsent",
                target.id,
                client.with_engine(|e| names(e))?.of(&target.key.author)
            );
        }
        client.unsend(target.id).await?;
        let calls = client.network().take_calls();
        let names = client.with_engine(|e| names(e))?;
        if ctx.json() {
            return output::json(&output::MessageAction {
                action: "unsent",
                message: target.id.0,
                to: peer.to_string(),
                emoji: None,
                route: route(&calls),
            });
        }
        print(&format!(
            "Unsent {} to {}{}.\n",
            target.id,
            names.of(&peer),
            delivery_note(&calls, &peer)
        ))
    })
}

/// How many deletes and expiry updates still wait to go to one's swarm.
fn swarm_pending(engine: &Engine) -> anyhow::Result<usize> {
    Ok(engine
        .swarm_updates(now_ms())?
        .iter()
        .map(|u| u.hashes.len())
        .sum())
}

/// "on your swarm too" or why not yet.
fn swarm_note(pending: usize, online: bool) -> &'static str {
    match (pending, online) {
        (0, _) => "",
        (_, false) => "; its copy on your swarm goes with the next `sotto sync`",
        (_, true) => "; removing the copy on your swarm failed: `sotto sync` retries",
    }
}

/// Runs `delete` on the engine offline, or on the client online (which also deletes the
/// swarm copies); returns the route and how many swarm updates still wait.
fn removal<T>(
    ctx: &Ctx<'_>,
    offline: bool,
    contact: &str,
    local: impl FnOnce(&mut Engine, &SessionId) -> anyhow::Result<T>,
    remote: impl AsyncFnOnce(&Client<CliNet>, &SessionId) -> anyhow::Result<T>,
) -> anyhow::Result<(SessionId, T, Vec<sotto_client::Trace>, usize, Names)> {
    if offline {
        let mut engine = ctx.engine()?;
        let peer = resolve::contact(&engine, contact)?;
        let done = local(&mut engine, &peer)?;
        let pending = swarm_pending(&engine)?;
        return Ok((peer, done, Vec::new(), pending, names(&engine)?));
    }
    Ctx::runtime()?.block_on(async {
        let (client, _) = online(ctx).await?;
        let peer = client.with_engine(|e| resolve::contact(e, contact))?;
        let done = remote(&client, &peer).await?;
        let traces = route(&client.network().take_calls());
        let (pending, names) =
            client.with_engine(|e| anyhow::Ok((swarm_pending(e)?, names(e)?)))?;
        Ok((peer, done, traces, pending, names))
    })
}

pub fn delete(ctx: &Ctx<'_>, args: &DeleteArgs) -> anyhow::Result<()> {
    let pick = |e: &Engine, peer: &SessionId| resolve::message(e, peer, &args.message, Last::Any);
    let (peer, target, traces, pending, names) = removal(
        ctx,
        args.offline,
        &args.contact,
        |engine, peer| {
            let target = pick(engine, peer)?;
            engine.delete_for_me(target.id, now_ms())?;
            Ok(target)
        },
        async |client, peer| {
            let target = client.with_engine(|e| pick(e, peer))?;
            client.delete_for_me(target.id).await?;
            Ok(target)
        },
    )?;
    if ctx.json() {
        return output::json(&output::Removed {
            action: "deleted",
            contact: peer.to_string(),
            messages: vec![target.id.0],
            swarm_pending: pending,
            route: traces,
        });
    }
    print(&format!(
        "Deleted {} ({}) for you; {} keeps their copy{}.\n",
        target.id,
        names.of(&target.key.author),
        names.of(&peer),
        swarm_note(pending, !args.offline)
    ))
}

pub fn clear(ctx: &Ctx<'_>, args: &ClearArgs) -> anyhow::Result<()> {
    let (peer, cleared, traces, pending, names) = removal(
        ctx,
        args.offline,
        &args.contact,
        |engine, peer| {
            let ids = live_ids(engine, peer)?;
            engine.clear_conversation(peer, now_ms())?;
            Ok(ids)
        },
        async |client, peer| {
            let ids = client.with_engine(|e| live_ids(e, peer))?;
            client.clear_conversation(peer).await?;
            Ok(ids)
        },
    )?;
    if ctx.json() {
        return output::json(&output::Removed {
            action: "cleared",
            contact: peer.to_string(),
            messages: cleared,
            swarm_pending: pending,
            route: traces,
        });
    }
    let count = match cleared.len() {
        1 => "1 message".to_owned(),
        n => format!("{n} messages"),
    };
    print(&format!(
        "Cleared the conversation with {} ({count}) for you; they keep theirs{}.\n",
        names.of(&peer),
        swarm_note(pending, !args.offline)
    ))
}

/// The ids of the messages with `peer` that are not deleted.
fn live_ids(engine: &Engine, peer: &SessionId) -> anyhow::Result<Vec<i64>> {
    Ok(engine
        .messages(peer, u32::MAX)?
        .iter()
        .filter(|m| m.state != MessageState::Deleted)
        .map(|m| m.id.0)
        .collect())
}

#[cfg(test)]
mod tests {
    use clap::Parser as _;
    use sotto_client::SendOutcome;
    use sotto_client::outgoing::Tally;

    use super::*;
    use crate::net::Call;

    /// What `sotto send` reports (and returns) for a message in `state` whose store to the
    /// peer ended with `result`.
    fn report(
        state: MessageState,
        result: Result<Option<Tally>, String>,
        json: bool,
    ) -> anyhow::Result<()> {
        let dir = tempfile::tempdir().unwrap();
        let mut args = vec!["sotto", "--data-dir", dir.path().to_str().unwrap()];
        if json {
            args.push("--json");
        }
        args.push("sync");
        let cli = crate::Cli::parse_from(args);
        let ctx = Ctx::new(&cli.global).unwrap();
        let own = sotto_client::Account::from_ed25519_seed(&[1; 32]).session_id();
        let peer = sotto_client::Account::from_ed25519_seed(&[2; 32]).session_id();
        let calls = [Call {
            method: "store",
            account: AccountId::from(peer),
            result,
            traces: Vec::new(),
        }];
        let outcome = SendOutcome {
            message: MessageId(12),
            state,
        };
        report_send(&ctx, &Names::new(own, Vec::new()), &peer, outcome, &calls)
    }

    /// S-10: `sotto send` exits non-zero whenever the message was not stored (text or JSON
    /// output), saying why and whether it is retried; a stored message is a success.
    #[test]
    fn a_send_that_did_not_succeed_is_an_error() {
        let retrying = MessageState::Failed {
            attempts: 1,
            next_retry_ms: Some(5),
        };
        let refused = MessageState::Failed {
            attempts: 1,
            next_retry_ms: None,
        };
        for json in [false, true] {
            let err = report(retrying, Err("the request timed out".into()), json)
                .unwrap_err()
                .to_string();
            assert!(
                err.contains("#12 was not delivered")
                    && err.contains("the request timed out")
                    && err.contains("sotto sync"),
                "{err}"
            );
            let few = Ok(Some(Tally {
                stored: 1,
                nodes: 7,
            }));
            let err = report(retrying, few, json).unwrap_err().to_string();
            assert!(err.contains("only 1 of the 7 nodes"), "{err}");
            let status = Err("the request failed with status 403".into());
            let err = report(refused, status, json).unwrap_err().to_string();
            assert!(
                err.contains("will not be retried") && err.contains("status 403"),
                "{err}"
            );
            let stored = MessageState::Stored { k: 7, n: 7 };
            let all = Ok(Some(Tally {
                stored: 7,
                nodes: 7,
            }));
            report(stored, all, json).unwrap();
        }
    }
}
