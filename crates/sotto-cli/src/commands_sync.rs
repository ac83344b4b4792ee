//! `sotto sync [--status]`: fetch (configs first, then messages) and, with `--status`, each
//! config's seqno and whether it is pushed.

use clap::Args;
use serde::Serialize;
use sotto_client::configs::ConfigStatus;

use crate::Ctx;
use crate::commands;
use crate::output;

/// `sotto sync` options.
#[derive(Args, Debug)]
pub struct SyncArgs {
    /// After syncing, list each config (profile, contacts, conversations, groups) with its
    /// seqno and whether it is pushed
    #[arg(long)]
    status: bool,
    /// With --status: do not sync first (show the local state only)
    #[arg(long, requires = "status")]
    offline: bool,
}

/// One config in `--status --json`.
#[derive(Serialize)]
struct ConfigLine {
    config: String,
    namespace: i16,
    seqno: i64,
    pushed_seqno: i64,
    pushed: bool,
    hash: String,
}

#[derive(Serialize)]
struct StatusJson {
    configs: Vec<ConfigLine>,
}

fn line(s: &ConfigStatus) -> ConfigLine {
    ConfigLine {
        config: format!("{:?}", s.kind),
        namespace: s.kind.namespace(),
        seqno: s.seqno,
        pushed_seqno: s.pushed_seqno,
        pushed: s.pushed,
        hash: s.hash.clone(),
    }
}

/// Runs `sotto sync`.
pub fn run(ctx: &Ctx<'_>, args: &SyncArgs) -> anyhow::Result<()> {
    if !args.status {
        return commands::sync(ctx);
    }
    let status = if args.offline {
        let mut engine = ctx.engine()?;
        engine.record_local_changes()?;
        engine.config_status()?
    } else {
        Ctx::runtime()?.block_on(async {
            let (client, _) = commands::connect_and_poll(ctx).await?;
            anyhow::Ok(client.config_status()?)
        })?
    };
    if ctx.json() {
        return output::json(&StatusJson {
            configs: status.iter().map(line).collect(),
        });
    }
    let mut text = format!("{:<18} {:>5}  {}\n", "Config", "Seqno", "Pushed");
    for s in &status {
        let pushed = if s.pushed {
            "yes".to_owned()
        } else {
            format!("no (seqno {} is on the swarm)", s.pushed_seqno)
        };
        text.push_str(&format!(
            "{:<18} {:>5}  {pushed}\n",
            format!("{:?}", s.kind),
            s.seqno
        ));
    }
    output::stdout(&text)
}
