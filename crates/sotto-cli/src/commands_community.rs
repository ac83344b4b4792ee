//! Communities from the command line: `sotto community join|list|leave|rooms|info|dm|dms|
//! edit|delete|ban|unban`, and `send`, `read`, `react` and `unsend` when their conversation
//! names a joined room (`COMMUNITY/ROOM`).
//!
//! A room is named `COMMUNITY/ROOM`: COMMUNITY is the server's `HOST:PORT` or `HOST` as in
//! its join link (e.g. `127.0.0.3:22032/lobby`), and may be left out (`/lobby`) when only
//! one joined room has that token. The full join link works too.

use anyhow::{Context as _, anyhow, bail};
use clap::{Args, Subcommand};
use serde::Serialize;
use sotto_client::community::{
    Communities, CommunityDm, JoinLink, JoinedRoom, Offline, RoomMessage, ServerTransport,
};
use sotto_client::{NetworkFile, NetworkFileError, OnionConfig, OnionNetwork};

use crate::Ctx;
use crate::output;
use crate::render;

#[derive(Subcommand)]
pub enum CommunityCommand {
    /// Join a room by its link (http://HOST:PORT/ROOM?public_key=HEX) and fetch its messages
    ///
    /// Examples:
    ///   sotto community join 'http://127.0.0.3:22032/lobby?public_key=ab…'
    ///   sotto community join "$(jq -r .community.lobby target/testnet/network.json)"
    #[command(verbatim_doc_comment)]
    Join(JoinArgs),

    /// The joined rooms, with how to name them (COMMUNITY/ROOM) and their links
    ///
    /// Example:
    ///   sotto community list --json | jq -r '.[].link'
    #[command(verbatim_doc_comment)]
    List,

    /// Leave a room: forget it and its messages here (nothing is sent)
    ///
    /// Example:
    ///   sotto community leave /lobby
    #[command(verbatim_doc_comment)]
    Leave(RoomArg),

    /// The rooms the server of a joined room offers
    ///
    /// Example:
    ///   sotto community rooms /lobby
    #[command(verbatim_doc_comment)]
    Rooms(RoomArg),

    /// A room's details from its server: name, description, moderators, your permissions
    ///
    /// Example:
    ///   sotto community info /lobby --json
    #[command(verbatim_doc_comment)]
    Info(RoomArg),

    /// Send a blinded DM to a member of a community (their 15… id, as `sotto read` shows it)
    ///
    /// The DM goes through the server's inbox, encrypted for the member's blinded id; they
    /// see it with `sotto community dms`.
    ///
    /// Examples:
    ///   sotto community dm /lobby 15ab… "hi, saw your post"
    #[command(verbatim_doc_comment)]
    Dm(DmArgs),

    /// Fetch and show your blinded DMs on the server of a room (both directions)
    ///
    /// Example:
    ///   sotto community dms /lobby
    #[command(verbatim_doc_comment)]
    Dms(DmsArgs),

    /// Replace the text of one of your posts
    ///
    /// Example:
    ///   sotto community edit /lobby 12 "fixed typo"
    #[command(verbatim_doc_comment)]
    Edit(EditArgs),

    /// Delete a post as a moderator (any post), or one of yours
    ///
    /// Example:
    ///   sotto community delete /lobby 12
    #[command(verbatim_doc_comment)]
    Delete(MessageArgs),

    /// Ban a member from a room (moderators); their posts stay unless deleted
    ///
    /// USER is their blinded id (15…, as `sotto read` shows it) or their Session ID.
    ///
    /// Examples:
    ///   sotto community ban /lobby 15ab…
    ///   sotto community ban /lobby 05cd… --timeout 3600
    #[command(verbatim_doc_comment)]
    Ban(BanArgs),

    /// Lift a member's ban from a room (moderators)
    ///
    /// Example:
    ///   sotto community unban /lobby 15ab…
    #[command(verbatim_doc_comment)]
    Unban(BanArgs),
}

#[derive(Args)]
pub struct JoinArgs {
    /// The join link: http(s)://HOST[:PORT]/ROOM?public_key=HEX.
    #[arg(value_name = "LINK")]
    link: String,
}

#[derive(Args)]
pub struct RoomArg {
    /// The room: COMMUNITY/ROOM (e.g. 127.0.0.3:22032/lobby, or /lobby) or its join link.
    #[arg(value_name = "COMMUNITY/ROOM")]
    room: String,
}

#[derive(Args)]
pub struct DmArgs {
    /// A joined room of the server (COMMUNITY/ROOM).
    #[arg(value_name = "COMMUNITY/ROOM")]
    room: String,
    /// The member: their blinded id (15…) or Session ID (05…).
    #[arg(value_name = "USER")]
    to: String,
    /// The text (several words are joined with spaces).
    #[arg(value_name = "TEXT", required = true, num_args = 1..)]
    text: Vec<String>,
}

#[derive(Args)]
pub struct DmsArgs {
    /// A joined room of the server (COMMUNITY/ROOM).
    #[arg(value_name = "COMMUNITY/ROOM")]
    room: String,
    /// Show at most the last N DMs.
    #[arg(long, short = 'n', value_name = "N", default_value_t = 50)]
    limit: u32,
}

#[derive(Args)]
pub struct EditArgs {
    /// The room (COMMUNITY/ROOM).
    #[arg(value_name = "COMMUNITY/ROOM")]
    room: String,
    /// The post: its number from `sotto read` (#12 or 12), or `last` (your newest).
    #[arg(value_name = "MSG")]
    message: String,
    /// The new text.
    #[arg(value_name = "TEXT", required = true, num_args = 1..)]
    text: Vec<String>,
}

#[derive(Args)]
pub struct MessageArgs {
    /// The room (COMMUNITY/ROOM).
    #[arg(value_name = "COMMUNITY/ROOM")]
    room: String,
    /// The post: its number from `sotto read` (#12 or 12), or `last` (the newest).
    #[arg(value_name = "MSG")]
    message: String,
}

#[derive(Args)]
pub struct BanArgs {
    /// The room (COMMUNITY/ROOM).
    #[arg(value_name = "COMMUNITY/ROOM")]
    room: String,
    /// The member: their blinded id (15…) or Session ID (05…).
    #[arg(value_name = "USER")]
    user: String,
    /// End the ban after this many seconds (ban only).
    #[arg(long, value_name = "SECONDS")]
    timeout: Option<u64>,
}

/// Whether a conversation argument names a community room rather than a contact.
pub fn is_room(arg: &str) -> bool {
    arg.contains('/')
}

type Comm = Communities<OnionNetwork>;

/// Connects to the network through onion paths and opens the community state.
async fn open(ctx: &Ctx<'_>) -> anyhow::Result<Comm> {
    let network_file = ctx.network_file();
    let file = NetworkFile::load(network_file).map_err(|e| match e {
        NetworkFileError::NotFound(path) => anyhow!(
            "no network file at {}: run `cargo xtask testnet` or pass --network FILE",
            path.display()
        ),
        other => anyhow!("{other}: fix the file or pass --network FILE"),
    })?;
    let config = OnionConfig {
        cache_file: Some(ctx.dir().join("nodes.json")),
        guard_file: Some(ctx.dir().join("guards.json")),
        ..OnionConfig::default()
    };
    let onion = OnionNetwork::connect(&file, config)
        .await
        .with_context(|| {
            format!(
                "cannot connect to the network of {}: is the testnet running?",
                network_file.display()
            )
        })?;
    offline(ctx, onion)
}

fn offline(ctx: &Ctx<'_>, onion: OnionNetwork) -> anyhow::Result<Comm> {
    let path = ctx.database();
    Communities::open(&path, ctx.account()?, onion)
        .with_context(|| format!("cannot open the client database {}", path.display()))
}

fn display_name(ctx: &Ctx<'_>) -> Option<String> {
    ctx.engine().ok()?.settings().ok()?.display_name
}

/// The joined room `arg` names (COMMUNITY/ROOM, /ROOM or a join link).
fn resolve<T: ServerTransport>(comm: &Communities<T>, arg: &str) -> anyhow::Result<JoinedRoom> {
    let rooms = comm.joined()?;
    resolve_in(&rooms, arg)
}

fn resolve_in(rooms: &[JoinedRoom], arg: &str) -> anyhow::Result<JoinedRoom> {
    if let Ok(link) = JoinLink::parse(arg) {
        return rooms
            .iter()
            .find(|r| r.link.base_url == link.base_url && r.link.room == link.room)
            .cloned()
            .ok_or_else(|| anyhow!("{arg} is not joined: `sotto community join LINK` first"));
    }
    let (community, token) = arg
        .rsplit_once('/')
        .ok_or_else(|| anyhow!("name a room as COMMUNITY/ROOM, e.g. /lobby"))?;
    let found: Vec<&JoinedRoom> = rooms
        .iter()
        .filter(|r| r.link.room == token)
        .filter(|r| {
            let host_port = r.reference();
            let host_port = host_port.rsplit_once('/').map_or("", |(h, _)| h);
            let host = host_port.rsplit_once(':').map_or(host_port, |(h, _)| h);
            community.is_empty() || community == host_port || community == host
        })
        .collect();
    match found.as_slice() {
        [one] => Ok((*one).clone()),
        [] => bail!(
            "no joined room {arg}: `sotto community list` shows the joined rooms, `sotto \
             community join LINK` joins one"
        ),
        many => bail!(
            "{arg} names {} joined rooms: use one of {}",
            many.len(),
            many.iter()
                .map(|r| r.reference())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// The post `arg` names: `#12`, `12`, or `last` (the newest; with `own`, your newest).
async fn message_id(comm: &Comm, room: &JoinedRoom, arg: &str, own: bool) -> anyhow::Result<i64> {
    if arg == "last" {
        comm.poll(room).await?;
        let me = comm.blinded_id(room).to_string();
        return comm
            .messages(room, 500)?
            .iter()
            .rev()
            .find(|m| !m.deleted && (!own || m.sender == me))
            .map(|m| m.id)
            .ok_or_else(|| anyhow!("no message to choose as `last` in {}", room.reference()));
    }
    arg.trim_start_matches('#').parse::<i64>().map_err(|_| {
        anyhow!("name a message by its number from `sotto read` (#12 or 12) or `last`")
    })
}

fn short(id: &str) -> String {
    let head: String = id.chars().take(10).collect();
    format!("{head}…")
}

fn message_line(m: &RoomMessage, me: &str, now_ms: u64) -> String {
    let who = match (&m.display_name, m.sender == me) {
        (_, true) => "you".to_owned(),
        (Some(name), false) => format!("{name} ({})", short(&m.sender)),
        (None, false) => short(&m.sender),
    };
    let when = render::time_text(u64::try_from(m.posted_ms).unwrap_or(0), now_ms);
    let text = if m.deleted {
        "(deleted)".to_owned()
    } else {
        m.text.clone().unwrap_or_else(|| "(no text)".into())
    };
    let mut line = format!("#{:<4} {when}  {who}: {text}", m.id);
    if m.edited_ms.is_some() && !m.deleted {
        line.push_str("  (edited)");
    }
    if let Some((_, author)) = &m.quote {
        line.push_str(&format!("  (reply to {})", short(author)));
    }
    if !m.reactions.is_empty() {
        let list: Vec<String> = m
            .reactions
            .iter()
            .map(|(e, r)| format!("{e} {}{}", r.count, if r.you { "*" } else { "" }))
            .collect();
        line.push_str(&format!("  [{}]", list.join(", ")));
    }
    line
}

fn dm_line(d: &CommunityDm, now_ms: u64) -> String {
    let when = render::time_text(u64::try_from(d.posted_ms).unwrap_or(0), now_ms);
    let text = d.text.clone().unwrap_or_else(|| "(no text)".into());
    if d.outgoing {
        format!("{when}  you → {}: {text}", short(&d.peer))
    } else {
        format!(
            "{when}  {} → you: {text}  (reply with: sotto community dm ROOM {})",
            short(&d.peer),
            d.peer
        )
    }
}

fn now_ms() -> u64 {
    u64::try_from(jiff::Timestamp::now().as_millisecond()).unwrap_or(0)
}

#[derive(Serialize)]
struct RoomJson<'a> {
    room: String,
    #[serde(flatten)]
    joined: &'a JoinedRoom,
    you: String,
}

fn room_json<'a>(comm: &Comm, room: &'a JoinedRoom) -> RoomJson<'a> {
    RoomJson {
        room: room.reference(),
        joined: room,
        you: comm.blinded_id(room).to_string(),
    }
}

/// `sotto community …`.
pub fn run(ctx: &Ctx<'_>, command: &CommunityCommand) -> anyhow::Result<()> {
    Ctx::runtime()?.block_on(async {
        match command {
            CommunityCommand::Join(a) => {
                let link = JoinLink::parse(&a.link)?;
                let comm = open(ctx).await?;
                let (room, outcome) = comm.join(&link).await?;
                if ctx.json() {
                    return output::json(&serde_json::json!({
                        "joined": room_json(&comm, &room),
                        "messages": outcome.new.len(),
                    }));
                }
                output::stdout(&format!(
                    "joined {} ({}) as {}: {} messages; write with `sotto send {} TEXT`\n",
                    room.reference(),
                    room.name.as_deref().unwrap_or(&room.link.room),
                    comm.blinded_id(&room),
                    outcome.new.len(),
                    room.reference(),
                ))
            }
            CommunityCommand::List => {
                let comm = Communities::open(&ctx.database(), ctx.account()?, Offline)?;
                let rooms = comm.joined()?;
                if ctx.json() {
                    let list: Vec<_> = rooms
                        .iter()
                        .map(|r| serde_json::json!({
                            "room": r.reference(),
                            "name": r.name,
                            "link": r.link.to_string(),
                            "moderator": r.moderator,
                            "you": comm.blinded_id(r).to_string(),
                        }))
                        .collect();
                    return output::json(&list);
                }
                if rooms.is_empty() {
                    return output::stdout("no joined rooms: `sotto community join LINK`\n");
                }
                let mut out = String::new();
                for r in &rooms {
                    out.push_str(&format!(
                        "{}  {}{}\n    {}\n",
                        r.reference(),
                        r.name.as_deref().unwrap_or(""),
                        if r.moderator { "  (moderator)" } else { "" },
                        r.link
                    ));
                }
                output::stdout(&out)
            }
            CommunityCommand::Leave(a) => {
                let comm = Communities::open(&ctx.database(), ctx.account()?, Offline)?;
                let rooms = comm.joined()?;
                let room = resolve_in(&rooms, &a.room)?;
                comm.leave(&room.link)?;
                if ctx.json() {
                    return output::json(&serde_json::json!({ "left": room.reference() }));
                }
                output::stdout(&format!("left {}\n", room.reference()))
            }
            CommunityCommand::Rooms(a) => {
                let comm = open(ctx).await?;
                let room = resolve(&comm, &a.room)?;
                let rooms = comm.server_rooms(&room.link).await?;
                if ctx.json() {
                    let list: Vec<_> = rooms
                        .iter()
                        .map(|(t, n, u)| serde_json::json!({"token": t, "name": n, "active_users": u}))
                        .collect();
                    return output::json(&list);
                }
                let mut out = String::new();
                for (token, name, users) in rooms {
                    let mut link = room.link.clone();
                    link.room.clone_from(&token);
                    out.push_str(&format!("{token}  {name}  ({users} active)\n    {link}\n"));
                }
                output::stdout(&out)
            }
            CommunityCommand::Info(a) => {
                let comm = open(ctx).await?;
                let room = resolve(&comm, &a.room)?;
                let info = comm.room_info(&room).await?;
                if ctx.json() {
                    return output::json(&info);
                }
                let field = |k: &str| info.get(k).map(|v| v.to_string()).unwrap_or_default();
                output::stdout(&format!(
                    "{}  {}\n  description: {}\n  active users: {}\n  moderators: {}\n  admins: {}\n  you: {} (read {}, write {}, moderator {})\n  link: {}\n",
                    room.reference(),
                    field("name"),
                    field("description"),
                    field("active_users"),
                    field("moderators"),
                    field("admins"),
                    comm.blinded_id(&room),
                    field("read"),
                    field("write"),
                    info.get("moderator").is_some_and(|v| v == &serde_json::Value::Bool(true)),
                    room.link,
                ))
            }
            CommunityCommand::Dm(a) => {
                let text = a.text.join(" ");
                if text.trim().is_empty() {
                    bail!("the text is empty");
                }
                let name = display_name(ctx);
                let comm = open(ctx).await?;
                let room = resolve(&comm, &a.room)?;
                let dm = comm.send_dm(&room, &a.to, &text, name.as_deref()).await?;
                if ctx.json() {
                    return output::json(&dm);
                }
                output::stdout(&format!("DM #{} sent to {}\n", dm.id, dm.peer))
            }
            CommunityCommand::Dms(a) => {
                let comm = open(ctx).await?;
                let room = resolve(&comm, &a.room)?;
                comm.poll(&room).await?;
                let dms = comm.dms(&room, a.limit)?;
                if ctx.json() {
                    return output::json(&dms);
                }
                let now = now_ms();
                let mut out = String::new();
                for d in &dms {
                    out.push_str(&dm_line(d, now));
                    out.push('\n');
                }
                if dms.is_empty() {
                    out.push_str("no DMs on this server\n");
                }
                output::stdout(&out)
            }
            CommunityCommand::Edit(a) => {
                let text = a.text.join(" ");
                if text.trim().is_empty() {
                    bail!("the text is empty");
                }
                let name = display_name(ctx);
                let comm = open(ctx).await?;
                let room = resolve(&comm, &a.room)?;
                let id = message_id(&comm, &room, &a.message, true).await?;
                comm.edit(&room, id, &text, name.as_deref()).await?;
                done(ctx, "edited", &room, id)
            }
            CommunityCommand::Delete(a) => {
                let comm = open(ctx).await?;
                let room = resolve(&comm, &a.room)?;
                let id = message_id(&comm, &room, &a.message, false).await?;
                comm.delete(&room, id).await?;
                done(ctx, "deleted", &room, id)
            }
            CommunityCommand::Ban(a) | CommunityCommand::Unban(a) => {
                let unban = matches!(command, CommunityCommand::Unban(_));
                let comm = open(ctx).await?;
                let room = resolve(&comm, &a.room)?;
                comm.ban(&room, &a.user, unban, a.timeout).await?;
                let verb = if unban { "unbanned" } else { "banned" };
                if ctx.json() {
                    return output::json(&serde_json::json!({ verb: a.user, "room": room.reference() }));
                }
                output::stdout(&format!("{verb} {} in {}\n", a.user, room.reference()))
            }
        }
    })
}

fn done(ctx: &Ctx<'_>, verb: &str, room: &JoinedRoom, id: i64) -> anyhow::Result<()> {
    if ctx.json() {
        return output::json(&serde_json::json!({ verb: id, "room": room.reference() }));
    }
    output::stdout(&format!("{verb} #{id} in {}\n", room.reference()))
}

/// `sotto send COMMUNITY/ROOM TEXT [--reply-to MSG]`.
pub fn send(ctx: &Ctx<'_>, room: &str, text: &str, reply_to: Option<&str>) -> anyhow::Result<()> {
    let name = display_name(ctx);
    Ctx::runtime()?.block_on(async {
        let comm = open(ctx).await?;
        let room = resolve(&comm, room)?;
        if reply_to.is_some() {
            // The message replied to may have arrived since the last read.
            comm.poll(&room).await?;
        }
        let reply = match reply_to {
            Some(r) => Some(message_id(&comm, &room, r, false).await?),
            None => None,
        };
        let posted = comm.post(&room, text, reply, name.as_deref()).await?;
        if ctx.json() {
            return output::json(&posted);
        }
        output::stdout(&format!("posted #{} in {}\n", posted.id, room.reference()))
    })
}

/// `sotto read COMMUNITY/ROOM`: polls (unless `offline`) and shows the last `limit` posts.
pub fn read(ctx: &Ctx<'_>, room: &str, limit: u32, offline_only: bool) -> anyhow::Result<()> {
    Ctx::runtime()?.block_on(async {
        let comm = if offline_only {
            None
        } else {
            Some(open(ctx).await?)
        };
        let messages = match &comm {
            Some(comm) => {
                let room = resolve(comm, room)?;
                comm.poll(&room).await?;
                (
                    comm.messages(&room, limit)?,
                    comm.blinded_id(&room).to_string(),
                    room,
                )
            }
            None => {
                let comm = Communities::open(&ctx.database(), ctx.account()?, Offline)?;
                let room = resolve(&comm, room)?;
                (
                    comm.messages(&room, limit)?,
                    comm.blinded_id(&room).to_string(),
                    room,
                )
            }
        };
        let (messages, me, room) = messages;
        if ctx.json() {
            return output::json(&serde_json::json!({
                "room": room.reference(),
                "you": me,
                "messages": messages,
            }));
        }
        let now = now_ms();
        let mut out = format!(
            "{} — {}  (you are {})\n",
            room.reference(),
            room.name.as_deref().unwrap_or(""),
            short(&me)
        );
        for m in &messages {
            out.push_str(&message_line(m, &me, now));
            out.push('\n');
        }
        output::stdout(&out)
    })
}

/// `sotto react COMMUNITY/ROOM MSG EMOJI [--remove]`.
pub fn react(
    ctx: &Ctx<'_>,
    room: &str,
    message: &str,
    emoji: &str,
    remove: bool,
) -> anyhow::Result<()> {
    Ctx::runtime()?.block_on(async {
        let comm = open(ctx).await?;
        let room = resolve(&comm, room)?;
        let id = message_id(&comm, &room, message, false).await?;
        comm.react(&room, id, emoji, remove).await?;
        let verb = if remove { "unreacted" } else { "reacted" };
        if ctx.json() {
            return output::json(
                &serde_json::json!({ verb: id, "emoji": emoji, "room": room.reference() }),
            );
        }
        output::stdout(&format!(
            "{verb} {emoji} to #{id} in {}\n",
            room.reference()
        ))
    })
}

/// `sotto unsend COMMUNITY/ROOM MSG`: deletes one of your posts.
pub fn unsend(ctx: &Ctx<'_>, room: &str, message: &str) -> anyhow::Result<()> {
    Ctx::runtime()?.block_on(async {
        let comm = open(ctx).await?;
        let room = resolve(&comm, room)?;
        let id = message_id(&comm, &room, message, true).await?;
        comm.delete(&room, id).await?;
        done(ctx, "deleted", &room, id)
    })
}
