//! `sotto-directory`: the Sotto directory process.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use sotto_directory::config::{Config, EXAMPLE};
use sotto_directory::identity;
use tracing_subscriber::EnvFilter;

const ABOUT: &str =
    "The Sotto directory: the registry of service nodes that replaces Session's blockchain.";

const LONG_ABOUT: &str = "\
The Sotto directory: the registry of service nodes that replaces Session's blockchain.

Nodes register with a signed announcement (keys, address, port, version) and then send a signed
uptime proof every few seconds. A node that sends nothing for `decommission_after_s` leaves the
active set. Each change of the active set is a new epoch: the directory reassigns swarms with
oxend's algorithm, seeded from the epoch hash, and serves the list at POST /json_rpc
(get_n_service_nodes / get_service_nodes, oxend's JSON shape) signed with its Ed25519 key.

Admission: by default only the node keys listed in `allowlist` may join, and with an empty
allowlist no node can (the directory says so at start and in every refusal). Set
`admission = \"open\"` to let any node join, within `max_nodes`, `max_nodes_per_ip` and
`max_nodes_per_subnet` (per /24); allowlisted nodes are admitted above those caps. Before
listing a new node (or a new address), the directory calls the announced address with the
node's key pinned (POST /ping_test/v1) and needs a 200. Epochs come at most once per
`min_epoch_interval_ms`: joins and departures in between enter the next epoch together. Every
route is rate-limited per client address and per client /24 (429 beyond).

Nodes and clients pin that key: give it to them as `directory_pubkey` (see `keygen`).
State (registered nodes, epoch, swarm ids) is kept in DATA_DIR/state.json across restarts.";

const AFTER_HELP: &str = "\
Endpoints (HTTPS; the TLS certificate carries the directory's Ed25519 key; all rate-limited):
  POST /register   a node's signed registration (403 not admitted or over a cap, 422 the
                   announced address did not answer with the node's key, 429 rate-limited)
  POST /proof      a node's signed uptime proof
  POST /json_rpc   JSON-RPC 2.0: get_service_nodes, get_n_service_nodes, get_all_service_nodes

Examples:
  sotto-directory keygen --data-dir /var/lib/sotto-directory
  sotto-directory example-config > directory.toml   # then list your nodes' keys in `allowlist`
  sotto-directory run --config directory.toml

Logging goes to stderr; set RUST_LOG (e.g. RUST_LOG=debug) to change the level (default: info).

Example configuration (sotto-directory run --config directory.toml):
";

#[derive(Parser)]
#[command(name = "sotto-directory", version, about = ABOUT, long_about = LONG_ABOUT)]
#[command(after_long_help = format!("{AFTER_HELP}\n{EXAMPLE}"))]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the directory.
    Run {
        /// The TOML configuration file (see `sotto-directory --help` for an example).
        #[arg(long, value_name = "FILE")]
        config: PathBuf,
    },
    /// Print the directory's public key (creating DATA_DIR/identity.key if there is none),
    /// to give to nodes and clients as `directory_pubkey`.
    Keygen {
        /// The directory's data directory.
        #[arg(long, value_name = "DIR")]
        data_dir: PathBuf,
    },
    /// Print an example configuration file.
    ExampleConfig,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    match run(cli.command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("sotto-directory: error: {message}");
            ExitCode::FAILURE
        }
    }
}

fn run(command: Command) -> Result<(), String> {
    match command {
        Command::Run { config } => {
            let config = Config::load(&config).map_err(|e| e.to_string())?;
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
                .map_err(|e| format!("cannot start the async runtime: {e}"))?;
            runtime
                .block_on(sotto_directory::server::run(config))
                .map_err(|e| error_chain(&e))
        }
        Command::Keygen { data_dir } => {
            let identity::Identity { key, created } =
                identity::load_or_create(&data_dir, &mut sotto_crypto::OsRng)
                    .map_err(|e| e.to_string())?;
            if created {
                eprintln!(
                    "created {}",
                    data_dir.join(identity::IDENTITY_FILE).display()
                );
            }
            println!("{}", hex::encode(key.public_key().as_bytes()));
            Ok(())
        }
        Command::ExampleConfig => {
            print!("{EXAMPLE}");
            Ok(())
        }
    }
}

/// An error with its sources, `a: b: c`.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let s_text = s.to_string();
        if !text.contains(&s_text) {
            text.push_str(": ");
            text.push_str(&s_text);
        }
        source = s.source();
    }
    text
}
