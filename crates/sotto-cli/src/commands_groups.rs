//! Closed groups from the command line: `sotto group create|list|add|remove|promote|leave|
//! rename|describe|timer|info|members|destroy`, and `send`, `read`, `react` and `unsend` when
//! their conversation names a group (by name or by a prefix of its `03…` ID); invitations are
//! listed by `sotto requests` and answered by `sotto requests accept|decline GROUP`.

use std::fmt::Write as _;

use anyhow::{Context as _, anyhow, bail};
use clap::{Args, Subcommand};
use serde::Serialize;
use sotto_client::groups::{GroupInvitation, GroupMessage, GroupSummary};
use sotto_client::{Engine, SessionId};
use sotto_groups::GroupId;

use crate::commands::connect_and_poll;
use crate::{Ctx, output, render, resolve};

#[derive(Subcommand)]
pub enum GroupCommand {
    /// Create a group with you as its admin and invite members; prints its 03… ID
    ///
    /// Each member gets an invitation (a request they accept with `sotto requests accept`).
    /// A group has at most 100 members, you included.
    ///
    /// Examples:
    ///   sotto group create "Book club" bob carol 05ab…
    ///   sotto group create Friends bob --json | jq -r .id
    #[command(verbatim_doc_comment)]
    Create(CreateArgs),

    /// Your groups: name, ID, members, whether you are an admin
    List,

    /// Add members (admins); they read only what comes next unless --with-history
    ///
    /// Example:
    ///   sotto group add "Book club" dave --with-history
    #[command(verbatim_doc_comment)]
    Add(AddArgs),

    /// Remove members (admins): they are told, their access is revoked, the group rekeyed
    ///
    /// Example:
    ///   sotto group remove "Book club" dave --delete-messages
    #[command(verbatim_doc_comment)]
    Remove(RemoveArgs),

    /// Make members admins (admins): they receive the group's key
    Promote(MembersArgs),

    /// Leave a group: the admins are told and it is forgotten here
    Leave(GroupArg),

    /// Rename a group (admins)
    Rename(RenameArgs),

    /// Set a group's description (admins); an empty text clears it
    Describe(RenameArgs),

    /// Set a group's disappearing-messages timer (admins): a duration such as 1h, or off
    Timer(RenameArgs),

    /// A group's details
    Info(GroupArg),

    /// A group's members
    Members(GroupArg),

    /// Destroy a group (admins): every member sees it destroyed
    Destroy(GroupArg),
}

#[derive(Args)]
pub struct CreateArgs {
    /// The group's name (at most 100 bytes).
    #[arg(value_name = "NAME")]
    name: String,
    /// The members to invite: contacts (name or Session ID).
    #[arg(value_name = "MEMBER")]
    members: Vec<String>,
}

#[derive(Args)]
pub struct GroupArg {
    /// The group: its name, or a prefix of its 03… ID.
    #[arg(value_name = "GROUP")]
    group: String,
}

#[derive(Args)]
pub struct MembersArgs {
    /// The group: its name, or a prefix of its 03… ID.
    #[arg(value_name = "GROUP")]
    group: String,
    /// Members: contacts (name or Session ID).
    #[arg(value_name = "MEMBER", required = true)]
    members: Vec<String>,
}

#[derive(Args)]
pub struct AddArgs {
    #[command(flatten)]
    target: MembersArgs,
    /// Give the new members the group's earlier messages (its existing keys).
    #[arg(long)]
    with_history: bool,
}

#[derive(Args)]
pub struct RemoveArgs {
    #[command(flatten)]
    target: MembersArgs,
    /// Also ask every member to delete the removed members' messages.
    #[arg(long)]
    delete_messages: bool,
}

#[derive(Args)]
pub struct RenameArgs {
    /// The group: its name, or a prefix of its 03… ID.
    #[arg(value_name = "GROUP")]
    group: String,
    /// The new value.
    #[arg(value_name = "TEXT")]
    text: String,
}

/// The group that `arg` names among this account's groups (`invitations` too when asked):
/// an exact name (without case) or a prefix of the 03… ID (at least 4 characters).
fn find_group(engine: &Engine, arg: &str, invitations: bool) -> anyhow::Result<Option<GroupId>> {
    let arg = arg.trim();
    if let Ok(id) = GroupId::parse(arg) {
        return Ok(Some(id));
    }
    let mut named: Vec<(GroupId, String)> = engine
        .groups()?
        .into_iter()
        .map(|g| (g.id, g.name))
        .collect();
    if invitations {
        named.extend(
            engine
                .group_invitations()?
                .into_iter()
                .map(|i| (i.group, i.name)),
        );
    }
    let lower = arg.to_lowercase();
    let exact: Vec<&(GroupId, String)> = named
        .iter()
        .filter(|(_, n)| n.to_lowercase() == lower)
        .collect();
    let candidates: Vec<&(GroupId, String)> = if exact.is_empty() {
        named
            .iter()
            .filter(|(id, _)| {
                lower.starts_with("03") && lower.len() >= 4 && id.to_string().starts_with(&lower)
            })
            .collect()
    } else {
        exact
    };
    match candidates.as_slice() {
        [] => Ok(None),
        [(id, _)] => Ok(Some(*id)),
        many => bail!(
            "{arg:?} names several groups: {}; give more of the 03… ID",
            many.iter()
                .map(|(id, n)| format!("{n} ({})", &id.to_string()[..10]))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// The group `arg` names, if it names one (for `send`, `read`, `react`, `unsend`).
pub fn group_arg(ctx: &Ctx<'_>, arg: &str) -> anyhow::Result<Option<GroupId>> {
    let engine = ctx.engine()?;
    find_group(&engine, arg, false)
}

/// The invitation `arg` names, if it names one (for `requests accept|decline`).
pub fn invitation_arg(ctx: &Ctx<'_>, arg: &str) -> anyhow::Result<Option<GroupId>> {
    let engine = ctx.engine()?;
    let Some(id) = find_group(&engine, arg, true)? else {
        return Ok(None);
    };
    Ok(engine
        .group_invitations()?
        .iter()
        .any(|i| i.group == id)
        .then_some(id))
}

fn group(engine: &Engine, arg: &str) -> anyhow::Result<GroupId> {
    find_group(engine, arg, false)?
        .ok_or_else(|| anyhow!("no group matches {arg:?}: see `sotto group list`"))
}

fn members(engine: &Engine, args: &[String]) -> anyhow::Result<Vec<SessionId>> {
    args.iter()
        .map(|a| resolve::contact(engine, a))
        .collect::<anyhow::Result<Vec<_>>>()
}

#[derive(Serialize)]
struct Done<'a> {
    action: &'a str,
    group: &'a GroupSummary,
}

fn print(text: &str) -> anyhow::Result<()> {
    output::stdout(text)
}

fn info_text(g: &GroupSummary) -> String {
    let mut text = format!("{} ({})\n", g.name, g.id);
    let status = match g.status {
        sotto_client::groups::GroupStatus::Joined => "joined",
        sotto_client::groups::GroupStatus::Kicked => "you were removed",
        sotto_client::groups::GroupStatus::Destroyed => "destroyed",
        _ => "unknown",
    };
    let _ = writeln!(
        text,
        "  {status}{}; {} members",
        if g.admin { ", admin" } else { "" },
        g.members.len()
    );
    if let Some(d) = &g.description {
        let _ = writeln!(text, "  {d}");
    }
    if g.expiry_seconds > 0 {
        let _ = writeln!(
            text,
            "  messages disappear {} after sending",
            render::duration_text(u32::try_from(g.expiry_seconds).unwrap_or(u32::MAX))
        );
    }
    text
}

fn members_text(g: &GroupSummary, engine: &Engine) -> String {
    let mut text = String::new();
    for m in &g.members {
        let name = engine
            .contact(&m.session_id)
            .ok()
            .flatten()
            .and_then(|c| c.display_name().map(str::to_owned))
            .unwrap_or_else(|| m.name.clone());
        let mut flags = Vec::new();
        if m.admin {
            flags.push("admin");
        }
        if m.invite_pending {
            flags.push("invited");
        }
        if m.session_id == engine.session_id() {
            flags.push("you");
        }
        let _ = writeln!(
            text,
            "  {} {}{}",
            m.session_id,
            name,
            if flags.is_empty() {
                String::new()
            } else {
                format!(" ({})", flags.join(", "))
            }
        );
    }
    text
}

/// Runs a `sotto group` command.
pub fn run(ctx: &Ctx<'_>, command: &GroupCommand) -> anyhow::Result<()> {
    match command {
        GroupCommand::List => {
            let engine = ctx.engine()?;
            let groups = engine.groups()?;
            if ctx.json() {
                return output::json(&groups);
            }
            if groups.is_empty() {
                return print("No groups: `sotto group create NAME MEMBER…` makes one.\n");
            }
            print(&groups.iter().map(info_text).collect::<String>())
        }
        GroupCommand::Info(a) => {
            let engine = ctx.engine()?;
            let g = engine.group(&group(&engine, &a.group)?)?;
            if ctx.json() {
                return output::json(&g);
            }
            print(&info_text(&g))
        }
        GroupCommand::Members(a) => {
            let engine = ctx.engine()?;
            let g = engine.group(&group(&engine, &a.group)?)?;
            if ctx.json() {
                return output::json(&g.members);
            }
            print(&members_text(&g, &engine))
        }
        _ => Ctx::runtime()?.block_on(online(ctx, command)),
    }
}

async fn online(ctx: &Ctx<'_>, command: &GroupCommand) -> anyhow::Result<()> {
    let (client, _) = connect_and_poll(ctx).await?;
    let (action, id) = match command {
        GroupCommand::Create(a) => {
            let invitees = client.with_engine(|e| members(e, &a.members))?;
            let id = client.create_group(&a.name, &invitees).await?;
            ("created", id)
        }
        GroupCommand::Add(a) => {
            let (id, who) = client.with_engine(|e| {
                anyhow::Ok((group(e, &a.target.group)?, members(e, &a.target.members)?))
            })?;
            client.add_members(&id, &who, a.with_history).await?;
            ("added", id)
        }
        GroupCommand::Remove(a) => {
            let (id, who) = client.with_engine(|e| {
                anyhow::Ok((group(e, &a.target.group)?, members(e, &a.target.members)?))
            })?;
            client.remove_members(&id, &who, a.delete_messages).await?;
            ("removed", id)
        }
        GroupCommand::Promote(a) => {
            let (id, who) = client
                .with_engine(|e| anyhow::Ok((group(e, &a.group)?, members(e, &a.members)?)))?;
            client.promote_members(&id, &who).await?;
            ("promoted", id)
        }
        GroupCommand::Leave(a) => {
            let id = client.with_engine(|e| group(e, &a.group))?;
            let summary = client.group(&id)?;
            client.leave_group(&id).await?;
            if ctx.json() {
                return output::json(&Done {
                    action: "left",
                    group: &summary,
                });
            }
            return print(&format!("Left {}.\n", summary.name));
        }
        GroupCommand::Rename(a) => {
            let id = client.with_engine(|e| group(e, &a.group))?;
            client.rename_group(&id, &a.text).await?;
            ("renamed", id)
        }
        GroupCommand::Describe(a) => {
            let id = client.with_engine(|e| group(e, &a.group))?;
            client.set_group_description(&id, &a.text).await?;
            ("described", id)
        }
        GroupCommand::Timer(a) => {
            let id = client.with_engine(|e| group(e, &a.group))?;
            let secs = if a.text == "off" {
                0
            } else {
                render::parse_duration(&a.text).map_err(|e| anyhow!(e))?
            };
            client.set_group_timer(&id, secs).await?;
            ("timer", id)
        }
        GroupCommand::Destroy(a) => {
            let id = client.with_engine(|e| group(e, &a.group))?;
            client.destroy_group(&id).await?;
            ("destroyed", id)
        }
        GroupCommand::List | GroupCommand::Info(_) | GroupCommand::Members(_) => {
            unreachable_offline()?
        }
    };
    let summary = client.group(&id)?;
    if ctx.json() {
        return output::json(&Done {
            action,
            group: &summary,
        });
    }
    if action == "created" {
        return print(&format!("{id}\n"));
    }
    print(&format!("Group {}: {action}.\n", summary.name))
}

fn unreachable_offline() -> anyhow::Result<(&'static str, GroupId)> {
    bail!("this command runs without the network")
}

/// `sotto send GROUP TEXT`.
pub fn send(ctx: &Ctx<'_>, id: &GroupId, body: &str, reply_to: Option<&str>) -> anyhow::Result<()> {
    Ctx::runtime()?.block_on(async {
        let (client, _) = connect_and_poll(ctx).await?;
        let quote = match reply_to {
            Some(arg) => Some(client.with_engine(|e| message(e, id, arg))?.id),
            None => None,
        };
        let sent = client.send_group_text(id, body, quote).await?;
        if ctx.json() {
            return output::json(&sent);
        }
        print(&format!(
            "Sent #{} to {}.\n",
            sent.id,
            client.group(id)?.name
        ))
    })
}

/// The message `arg` names in a group: `#12`, `12` or `last`.
fn message(engine: &Engine, group: &GroupId, arg: &str) -> anyhow::Result<GroupMessage> {
    let all = engine.group_messages(group, 10_000)?;
    let found = if arg == "last" {
        all.iter().rev().find(|m| !m.deleted).cloned()
    } else {
        let n: i64 = arg
            .trim_start_matches('#')
            .parse()
            .with_context(|| format!("{arg:?} is not a message number (see `sotto read`)"))?;
        all.into_iter().find(|m| m.id == n)
    };
    found.ok_or_else(|| anyhow!("no message {arg} in this group: see `sotto read GROUP`"))
}

fn history_text(engine: &Engine, g: &GroupSummary, messages: &[GroupMessage]) -> String {
    let mut text = format!("{} ({} members)\n", g.name, g.members.len());
    for m in messages {
        let who = if m.outgoing {
            "you".to_owned()
        } else {
            engine
                .contact(&m.author)
                .ok()
                .flatten()
                .and_then(|c| c.display_name().map(str::to_owned))
                .or_else(|| {
                    g.members
                        .iter()
                        .find(|x| x.session_id == m.author && !x.name.is_empty())
                        .map(|x| x.name.clone())
                })
                .unwrap_or_else(|| m.author.short())
        };
        let body = if m.deleted {
            "(deleted)".to_owned()
        } else {
            m.body.clone().unwrap_or_default()
        };
        let reactions: String = m
            .reactions
            .0
            .iter()
            .map(|(e, who)| format!(" {e}{}", who.len()))
            .collect();
        let _ = writeln!(text, "#{} {who}: {body}{reactions}", m.id);
    }
    text
}

/// `sotto read GROUP`.
pub fn read(ctx: &Ctx<'_>, id: &GroupId, limit: u32, offline: bool) -> anyhow::Result<()> {
    let show = |engine: &Engine| -> anyhow::Result<()> {
        let g = engine.group(id)?;
        let messages = engine.group_messages(id, limit)?;
        if ctx.json() {
            return output::json(&messages);
        }
        print(&history_text(engine, &g, &messages))
    };
    if offline {
        return show(&ctx.engine()?);
    }
    Ctx::runtime()?.block_on(async {
        let (client, _) = connect_and_poll(ctx).await?;
        client.with_engine(|e| show(e))
    })
}

/// `sotto react GROUP MSG EMOJI`.
pub fn react(
    ctx: &Ctx<'_>,
    id: &GroupId,
    arg: &str,
    emoji: &str,
    remove: bool,
) -> anyhow::Result<()> {
    Ctx::runtime()?.block_on(async {
        let (client, _) = connect_and_poll(ctx).await?;
        let target = client.with_engine(|e| message(e, id, arg))?;
        client.react_in_group(target.id, emoji, remove).await?;
        if ctx.json() {
            return output::json(&serde_json::json!({
                "action": if remove { "unreacted" } else { "reacted" },
                "message": target.id,
                "emoji": emoji,
            }));
        }
        print(&format!(
            "{} {emoji} on #{}.\n",
            if remove { "Removed" } else { "Reacted" },
            target.id
        ))
    })
}

/// `sotto unsend GROUP MSG`.
pub fn unsend(ctx: &Ctx<'_>, id: &GroupId, arg: &str) -> anyhow::Result<()> {
    Ctx::runtime()?.block_on(async {
        let (client, _) = connect_and_poll(ctx).await?;
        let own = client.session_id();
        let target = client.with_engine(|e| {
            if arg == "last" {
                e.group_messages(id, 10_000)?
                    .into_iter()
                    .rev()
                    .find(|m| m.author == own && !m.deleted)
                    .ok_or_else(|| anyhow!("you sent nothing to unsend in this group"))
            } else {
                message(e, id, arg)
            }
        })?;
        client.unsend_in_group(target.id).await?;
        if ctx.json() {
            return output::json(&serde_json::json!({"action": "unsent", "message": target.id}));
        }
        print(&format!("Unsent #{}.\n", target.id))
    })
}

/// The invitations, for `sotto requests`.
pub fn invitations(engine: &Engine) -> anyhow::Result<Vec<GroupInvitation>> {
    Ok(engine.group_invitations()?)
}

/// The lines `sotto requests` prints for group invitations.
pub fn invitations_text(engine: &Engine, invitations: &[GroupInvitation]) -> String {
    let mut text = String::new();
    for i in invitations {
        let by = engine
            .contact(&i.inviter)
            .ok()
            .flatten()
            .and_then(|c| c.display_name().map(str::to_owned))
            .unwrap_or_else(|| i.inviter.short());
        let _ = writeln!(text, "group {} ({}), invited by {by}", i.name, i.group);
    }
    if let Some(first) = invitations.first() {
        let _ = writeln!(
            text,
            "`sotto requests accept {0:?}` to join, `sotto requests decline {0:?}` to refuse.",
            first.name
        );
    }
    text
}

/// `sotto requests accept GROUP`.
pub fn accept(ctx: &Ctx<'_>, id: &GroupId) -> anyhow::Result<()> {
    Ctx::runtime()?.block_on(async {
        let (client, _) = connect_and_poll(ctx).await?;
        client.accept_group_invite(id).await?;
        let g = client.group(id)?;
        if ctx.json() {
            return output::json(&Done {
                action: "joined",
                group: &g,
            });
        }
        print(&format!(
            "Joined {} ({} members).\n",
            g.name,
            g.members.len()
        ))
    })
}

/// `sotto requests decline GROUP`.
pub fn decline(ctx: &Ctx<'_>, id: &GroupId) -> anyhow::Result<()> {
    let mut engine = ctx.engine()?;
    let name = engine
        .group_invitations()?
        .into_iter()
        .find(|i| i.group == *id)
        .map(|i| i.name)
        .unwrap_or_default();
    engine.decline_group_invite(id)?;
    if ctx.json() {
        return output::json(&serde_json::json!({"action": "declined", "group": id.to_string()}));
    }
    print(&format!("Declined the invitation to {name}.\n"))
}
