//! Files, images and voice messages: `send --file/--image/--voice`, the attachment lines of
//! `read`, `save`, `profile set-picture` and `play`.

use std::io::IsTerminal as _;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, anyhow, bail};
use clap::Args;
use serde::Serialize;
use sotto_client::attachments::{
    AttachmentRecord, Downloaded, SendAs, Staged, TransferEvent, TransferPolicy, file_server_of,
    stage_path,
};
use sotto_client::{Engine, MessageId, MessageRecord, NetworkFile};

use crate::Ctx;
use crate::output;
use crate::resolve::{self, Last};

#[derive(Args)]
pub struct SaveArgs {
    /// Whose conversation: a nickname, display name, Session ID, or a unique prefix of one.
    #[arg(value_name = "CONTACT")]
    contact: String,

    /// The attachment, as `read` numbers it: `12.1` (message 12, attachment 1), or `12`
    /// (every attachment of message 12), or `last`.
    #[arg(value_name = "N")]
    number: String,

    /// Where to save (created if needed); default: `downloads` in the profile directory.
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
}

#[derive(Args)]
pub struct PlayArgs {
    /// Whose conversation.
    #[arg(value_name = "CONTACT")]
    contact: String,

    /// The voice message or audio attachment, as `read` numbers it (`12.1`).
    #[arg(value_name = "N")]
    number: String,
}

/// Human-readable size.
pub fn size_text(bytes: u64) -> String {
    #[allow(clippy::cast_precision_loss)]
    let b = bytes as f64;
    if bytes >= 1_000_000 {
        format!("{:.1} MB", b / 1_000_000.0)
    } else if bytes >= 1_000 {
        format!("{:.1} kB", b / 1_000.0)
    } else {
        format!("{bytes} B")
    }
}

fn kind_text(a: &AttachmentRecord) -> String {
    if a.voice {
        "voice message".into()
    } else {
        a.content_type.clone()
    }
}

/// The lines `read` shows under a message, one per attachment: number, type, size, state.
pub fn attachment_lines(engine: &Engine, m: &MessageRecord) -> anyhow::Result<Vec<String>> {
    let list = engine.attachments(m.id)?;
    Ok(list
        .iter()
        .map(|a| {
            let mut line = format!(
                "      📎 {}.{} {} {}",
                m.id.0,
                a.index + 1,
                kind_text(a),
                size_text(a.size)
            );
            if let Some(ms) = a.duration_ms {
                line.push_str(&format!(" {}:{:02}", ms / 60_000, (ms / 1000) % 60));
            }
            if let Some((w, h)) = a.dimensions {
                line.push_str(&format!(" {w}×{h}"));
            }
            if let Some(name) = &a.file_name {
                line.push_str(&format!(" \"{name}\""));
            }
            line.push_str(&format!(" [{}]", a.state.as_str()));
            if let Some(p) = &a.local_path {
                line.push_str(&format!(" {}", p.display()));
            }
            line
        })
        .collect())
}

/// An attachment in `--json` output.
#[derive(Serialize)]
pub struct AttachmentJson {
    pub number: String,
    pub content_type: String,
    pub size: u64,
    pub voice: bool,
    pub file_name: Option<String>,
    pub width: Option<u32>,
    pub height: Option<u32>,
    pub duration_ms: Option<u64>,
    pub state: &'static str,
    pub path: Option<String>,
}

/// The attachments of `m` for `--json`.
pub fn attachments_json(engine: &Engine, m: &MessageRecord) -> anyhow::Result<Vec<AttachmentJson>> {
    Ok(engine
        .attachments(m.id)?
        .into_iter()
        .map(|a| AttachmentJson {
            number: format!("{}.{}", m.id.0, a.index + 1),
            content_type: a.content_type,
            size: a.size,
            voice: a.voice,
            file_name: a.file_name,
            width: a.dimensions.map(|d| d.0),
            height: a.dimensions.map(|d| d.1),
            duration_ms: a.duration_ms,
            state: a.state.as_str(),
            path: a.local_path.map(|p| p.display().to_string()),
        })
        .collect())
}

/// A progress event in `--json` output (one line each).
#[derive(Serialize)]
struct ProgressJson {
    event: &'static str,
    stage: &'static str,
    attachment: usize,
    bytes: Option<u64>,
    attempt: Option<u32>,
    detail: Option<String>,
}

fn progress_json(e: &TransferEvent) -> Option<ProgressJson> {
    let p = |stage, attachment: &usize, bytes, attempt, detail| ProgressJson {
        event: "progress",
        stage,
        attachment: attachment + 1,
        bytes,
        attempt,
        detail,
    };
    Some(match e {
        TransferEvent::Encrypted {
            index, upload_len, ..
        } => p("encrypted", index, Some(*upload_len), None, None),
        TransferEvent::Uploading {
            index,
            bytes,
            attempt,
        } => p("uploading", index, Some(*bytes), Some(*attempt), None),
        TransferEvent::Uploaded { index, bytes, .. } => {
            p("uploaded", index, Some(*bytes), None, None)
        }
        TransferEvent::Retrying {
            index,
            attempt,
            reason,
            ..
        } => p(
            "retrying",
            index,
            None,
            Some(*attempt),
            Some(reason.clone()),
        ),
        TransferEvent::Downloading {
            index,
            size,
            attempt,
        } => p("downloading", index, Some(*size), Some(*attempt), None),
        TransferEvent::Downloaded { index, bytes } => {
            p("downloaded", index, Some(*bytes), None, None)
        }
        TransferEvent::Saved { index, path } => {
            p("saved", index, None, None, Some(path.display().to_string()))
        }
        TransferEvent::Expired { index } => p("expired", index, None, None, None),
        _ => return None,
    })
}

/// A progress line for a terminal.
pub(crate) fn progress_text(e: &TransferEvent) -> Option<String> {
    Some(match e {
        TransferEvent::Encrypted {
            index, upload_len, ..
        } => format!("[{}] encrypted ({})", index + 1, size_text(*upload_len)),
        TransferEvent::Uploading {
            index,
            bytes,
            attempt,
        } => format!(
            "[{}] uploading {} through a 3-hop onion path (attempt {attempt})…",
            index + 1,
            size_text(*bytes)
        ),
        TransferEvent::Uploaded { index, bytes, .. } => {
            format!("[{}] uploaded {}", index + 1, size_text(*bytes))
        }
        TransferEvent::Retrying {
            index,
            attempt,
            delay,
            reason,
        } => format!(
            "[{}] attempt {attempt} failed ({reason}); retrying in {:.1} s",
            index + 1,
            delay.as_secs_f64()
        ),
        TransferEvent::Downloading {
            index,
            size,
            attempt,
        } => format!(
            "[{}] downloading {} through a 3-hop onion path (attempt {attempt})…",
            index + 1,
            size_text(*size)
        ),
        TransferEvent::Downloaded { index, bytes } => {
            format!(
                "[{}] downloaded {}, decrypting",
                index + 1,
                size_text(*bytes)
            )
        }
        TransferEvent::Saved { index, path } => {
            format!("[{}] saved {}", index + 1, path.display())
        }
        TransferEvent::Expired { index } => format!("[{}] expired on the server", index + 1),
        _ => return None,
    })
}

/// One indicatif bar per attachment on stderr: its bytes, and what is happening to it.
#[derive(Default)]
struct Bars {
    all: indicatif::MultiProgress,
    bars: std::collections::BTreeMap<usize, indicatif::ProgressBar>,
}

impl Bars {
    fn bar(&mut self, index: usize, len: u64) -> &indicatif::ProgressBar {
        let all = &self.all;
        let bar = self.bars.entry(index).or_insert_with(|| {
            let style = indicatif::ProgressStyle::with_template(
                "{spinner} [{bar:30}] {bytes:>9}/{total_bytes:<9} {msg}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
            .progress_chars("=> ");
            let bar = all.add(indicatif::ProgressBar::new(len).with_style(style));
            bar.enable_steady_tick(std::time::Duration::from_millis(120));
            bar
        });
        if len > 0 && bar.length() != Some(len) {
            bar.set_length(len);
        }
        bar
    }

    fn show(&mut self, e: &TransferEvent) {
        let Some(line) = progress_text(e) else {
            return;
        };
        // The line without its "[n] " prefix: the bar stands for the attachment.
        let msg = line
            .split_once("] ")
            .map_or(line.as_str(), |(_, m)| m)
            .to_owned();
        match e {
            TransferEvent::Encrypted {
                index, upload_len, ..
            } => self.bar(*index, *upload_len).set_message(msg),
            TransferEvent::Uploading { index, bytes, .. } => {
                let bar = self.bar(*index, *bytes);
                bar.set_position(0);
                bar.set_message(msg);
            }
            TransferEvent::Downloading { index, size, .. } => {
                let bar = self.bar(*index, *size);
                bar.set_position(0);
                bar.set_message(msg);
            }
            TransferEvent::Uploaded { index, bytes, .. }
            | TransferEvent::Downloaded { index, bytes } => {
                let bar = self.bar(*index, *bytes);
                bar.set_position(*bytes);
                bar.set_message(msg);
            }
            TransferEvent::Retrying { index, .. } => self.bar(*index, 0).set_message(msg),
            TransferEvent::Saved { index, .. } | TransferEvent::Expired { index } => {
                let bar = self.bar(*index, 0);
                bar.finish_with_message(msg);
            }
            _ => {}
        }
    }

    fn finish(&self) {
        for bar in self.bars.values() {
            if !bar.is_finished() {
                bar.finish();
            }
        }
    }
}

/// Progress shown while `work` runs: JSON lines on stdout with `--json`, indicatif bars on
/// stderr when it is a terminal, nothing otherwise.
async fn with_progress<T>(
    ctx: &Ctx<'_>,
    work: impl AsyncFnOnce(sotto_client::attachments::Progress) -> T,
) -> T {
    let json = ctx.json();
    let tty = std::io::stderr().is_terminal();
    if !json && !tty {
        return work(None).await;
    }
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let show = async move {
        let mut bars = Bars::default();
        while let Some(e) = rx.recv().await {
            if json {
                if let Some(p) = progress_json(&e) {
                    let _ = output::json_line(&p);
                }
            } else {
                bars.show(&e);
            }
        }
        bars.finish();
    };
    let (out, ()) = tokio::join!(work(Some(tx)), show);
    out
}

fn network_file(ctx: &Ctx<'_>) -> anyhow::Result<NetworkFile> {
    NetworkFile::load(ctx.network_file()).map_err(|e| anyhow!("{e}: pass --network FILE"))
}

pub(crate) fn file_server(ctx: &Ctx<'_>) -> anyhow::Result<sotto_attachment::FileServer> {
    let file = network_file(ctx)?;
    let entry = file.file_server.as_ref().ok_or_else(|| {
        anyhow!(
            "the network file {} names no file server (`cargo xtask testnet` starts one)",
            ctx.network_file().display()
        )
    })?;
    Ok(file_server_of(entry)?)
}

/// The files `send` was given, staged (limits checked before anything is uploaded).
pub fn stage_all(
    files: &[PathBuf],
    images: &[PathBuf],
    voice: Option<&Path>,
) -> anyhow::Result<Vec<Staged>> {
    let mut staged = Vec::new();
    for (paths, kind) in [(files, SendAs::File), (images, SendAs::Image)] {
        for p in paths {
            staged
                .push(stage_path(p, kind).with_context(|| format!("cannot send {}", p.display()))?);
        }
    }
    if let Some(v) = voice {
        staged.push(
            stage_path(v, SendAs::Voice)
                .with_context(|| format!("cannot send {} as a voice message", v.display()))?,
        );
    }
    Ok(staged)
}

/// `sotto send CONTACT [TEXT] --file … --image … --voice …`.
pub fn send(
    ctx: &Ctx<'_>,
    contact: &str,
    caption: Option<&str>,
    reply_to: Option<&str>,
    staged: Vec<Staged>,
) -> anyhow::Result<()> {
    if staged.len() > sotto_client::attachments::MAX_ATTACHMENTS {
        bail!(
            "{} attachments; one message carries at most {}",
            staged.len(),
            sotto_client::attachments::MAX_ATTACHMENTS
        );
    }
    let server = file_server(ctx)?;
    Ctx::runtime()?.block_on(async {
        let client = ctx.client(false).await?;
        let peer = client.with_engine(|e| resolve::contact(e, contact))?;
        let quote = match reply_to {
            Some(arg) => Some(
                client
                    .with_engine(|e| resolve::message(e, &peer, arg, Last::Any))?
                    .id,
            ),
            None => None,
        };
        let count = staged.len();
        let (client_ref, peer_ref, server_ref) = (&client, &peer, &server);
        let outcome = with_progress(ctx, async move |progress| {
            client_ref
                .send_attachments(
                    peer_ref,
                    staged,
                    caption,
                    quote,
                    server_ref,
                    &TransferPolicy::default(),
                    &progress,
                )
                .await
        })
        .await?;
        let state = output::State::from(outcome.state);
        if ctx.json() {
            output::json_line(&serde_json::json!({
                "event": "sent",
                "id": outcome.message.0,
                "to": peer.to_string(),
                "attachments": count,
                "state": state,
            }))?;
            return Ok(());
        }
        output::stdout(&format!(
            "Sent #{} to {} with {count} attachment{}: {}\n",
            outcome.message.0,
            peer.short(),
            if count == 1 { "" } else { "s" },
            crate::render::state_text(outcome.state, true, crate::commands::now_ms()),
        ))
    })
}

/// `N`: `12.1` → (message 12, attachment index 0); `12` or `last` → every attachment.
fn parse_number(
    engine: &Engine,
    peer: &sotto_client::SessionId,
    arg: &str,
) -> anyhow::Result<(MessageId, Option<usize>)> {
    let (msg, att) = match arg.trim().rsplit_once('.') {
        Some((m, a)) => {
            let a: usize = a.parse().ok().filter(|a| *a >= 1).ok_or_else(|| {
                anyhow!("{arg:?}: the attachment number after the dot starts at 1")
            })?;
            (m, Some(a - 1))
        }
        None => (arg.trim(), None),
    };
    let message = if msg.eq_ignore_ascii_case("last") {
        engine
            .messages(peer, 1000)?
            .into_iter()
            .rev()
            .find(|m| engine.attachments(m.id).is_ok_and(|a| !a.is_empty()))
            .ok_or_else(|| anyhow!("no message with attachments in this conversation"))?
    } else {
        resolve::message(engine, peer, msg, Last::Any)?
    };
    Ok((message.id, att))
}

/// `sotto save CONTACT N [--out DIR]`.
pub fn save(ctx: &Ctx<'_>, args: &SaveArgs) -> anyhow::Result<()> {
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| ctx.dir().join("downloads"));
    Ctx::runtime()?.block_on(async {
        let client = ctx.client(false).await?;
        let peer = client.with_engine(|e| resolve::contact(e, &args.contact))?;
        let (message, which) = client.with_engine(|e| parse_number(e, &peer, &args.number))?;
        let all = client.attachments(message)?;
        if all.is_empty() {
            bail!("message #{} has no attachments", message.0);
        }
        let wanted: Vec<usize> = match which {
            Some(i) if i < all.len() => vec![i],
            Some(i) => bail!("message #{} has {} attachment(s), not {}", message.0, all.len(), i + 1),
            None => (0..all.len()).collect(),
        };
        let mut failed = 0;
        for index in wanted {
            let result = with_progress(ctx, async |progress| {
                client
                    .download_attachment(message, index, &out, &TransferPolicy::default(), &progress)
                    .await
            })
            .await;
            let number = format!("{}.{}", message.0, index + 1);
            let (state, path, error) = match result {
                Ok(Downloaded::Saved(p)) => ("saved", Some(p), None),
                Ok(Downloaded::Expired) => ("expired", None, None),
                Err(e) => {
                    failed += 1;
                    ("failed", None, Some(e.to_string()))
                }
            };
            if ctx.json() {
                output::json_line(&serde_json::json!({
                    "event": "save",
                    "attachment": number,
                    "state": state,
                    "path": path.as_ref().map(|p| p.display().to_string()),
                    "error": error,
                }))?;
            } else {
                let line = match (state, &path, &error) {
                    ("saved", Some(p), _) => format!("{number}: saved to {}\n", p.display()),
                    ("expired", ..) => format!(
                        "{number}: expired: the file server no longer has it (files live about 14 days); ask the sender to send it again\n"
                    ),
                    (_, _, Some(e)) => format!("{number}: failed: {e}\n"),
                    _ => format!("{number}: {state}\n"),
                };
                output::stdout(&line)?;
            }
        }
        if failed > 0 {
            bail!("{failed} attachment(s) could not be saved");
        }
        Ok(())
    })
}

/// `sotto profile set-picture PATH`.
pub fn set_picture(ctx: &Ctx<'_>, path: &Path) -> anyhow::Result<()> {
    let image = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let server = file_server(ctx)?;
    Ctx::runtime()?.block_on(async {
        let client = ctx.client(false).await?;
        let (client_ref, server_ref) = (&client, &server);
        let picture = with_progress(ctx, async move |progress| {
            client_ref
                .set_profile_picture(
                    image,
                    Some(path),
                    server_ref,
                    &TransferPolicy::default(),
                    &progress,
                )
                .await
        })
        .await?;
        if ctx.json() {
            output::json_line(&serde_json::json!({
                "event": "profile_picture",
                "url": picture.url,
            }))?;
            return Ok(());
        }
        output::stdout(&format!(
            "Profile picture uploaded ({}); it goes with your next messages.\n",
            picture.url
        ))
    })
}

/// `sotto play`: needs the `audio` feature, which this build does not have.
pub fn play(_ctx: &Ctx<'_>, args: &PlayArgs) -> anyhow::Result<()> {
    bail!(
        "audio playback is not enabled in this build (the `audio` feature, which needs the \
         system audio library libasound2-dev, is not available yet). Save the voice message \
         with `sotto save {} {}` and play the file with any audio player.",
        args.contact,
        args.number
    )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]

    use super::*;

    #[test]
    fn bars_follow_each_attachment_through_its_stages() {
        let mut bars = Bars::default();
        // Off a terminal nothing is drawn, but the bars keep their state.
        bars.all
            .set_draw_target(indicatif::ProgressDrawTarget::hidden());
        bars.show(&TransferEvent::Encrypted {
            index: 0,
            size: 1000,
            upload_len: 1100,
        });
        bars.show(&TransferEvent::Uploading {
            index: 0,
            bytes: 1100,
            attempt: 1,
        });
        let bar = &bars.bars[&0];
        assert_eq!((bar.position(), bar.length()), (0, Some(1100)));
        assert!(bar.message().contains("uploading"), "{}", bar.message());
        bars.show(&TransferEvent::Uploaded {
            index: 0,
            bytes: 1100,
            expires_s: 0.0,
        });
        assert_eq!(bars.bars[&0].position(), 1100);
        bars.show(&TransferEvent::Downloading {
            index: 1,
            size: 500,
            attempt: 1,
        });
        bars.show(&TransferEvent::Expired { index: 1 });
        assert!(bars.bars[&1].is_finished());
        assert!(bars.bars[&1].message().contains("expired"));
        bars.finish();
        assert!(bars.bars.values().all(indicatif::ProgressBar::is_finished));
    }
}
