//! `sotto-node`: run a Sotto service node, or create/show its identity.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use sotto_crypto::OsRng;
use sotto_node::NodeConfig;
use sotto_node::config::EXAMPLE;
use sotto_node::identity::{identity_path, load_or_create};

#[derive(Parser)]
#[command(
    name = "sotto-node",
    version,
    about = "A Sotto service node: stores, replicates and relays Session-compatible messages.",
    long_about = "A Sotto service node: stores messages for the accounts of its swarm, replicates \
them to its swarm peers, relays onion requests, and follows the directory that lists the \
network's nodes and assigns swarms.\n\n\
Clients reach it over HTTPS at POST /storage_rpc/v1, POST /onion_req/v2 and /ping_test/v1. \
Its TLS certificate carries its Ed25519 identity key, which clients and other nodes pin \
against the directory's signed node list.",
    after_long_help = after_help()
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the node with a TOML configuration file.
    Run {
        /// The configuration file (see `sotto-node --help` for an example).
        #[arg(long, value_name = "FILE")]
        config: PathBuf,
    },
    /// Create the identity key in DIR (if absent) and print its public keys.
    Keygen {
        /// The node's data directory (holds identity.key, mode 0600).
        #[arg(long, value_name = "DIR")]
        data_dir: PathBuf,
    },
    /// Print an example configuration file.
    ExampleConfig,
}

fn after_help() -> String {
    format!(
        "EXAMPLE CONFIGURATION (sotto-node run --config node.toml):\n\n{EXAMPLE}\n\
FILES:\n  DATA_DIR/identity.key  the Ed25519 seed (64 hex digits), created on first start, mode 0600\n  \
DATA_DIR/store.db      the message store (SQLite, WAL)\n\n\
LOGGING:\n  Set RUST_LOG (e.g. RUST_LOG=debug or RUST_LOG=sotto_node=debug); the default is info.\n  \
Logs never contain message bodies, secret keys or client addresses, at any level;\n  \
strings that come from clients are truncated and escaped.\n"
    )
}

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::ExampleConfig => {
            print!("{EXAMPLE}");
            ExitCode::SUCCESS
        }
        Command::Keygen { data_dir } => match load_or_create(&data_dir, &mut OsRng) {
            Ok(id) => {
                let pk = id.key.public_key();
                let x = pk.to_x25519().map(|k| hex::encode(k.0)).unwrap_or_default();
                println!("pubkey_ed25519 {}", hex::encode(pk.0));
                println!("pubkey_x25519  {x}");
                println!(
                    "{} {}",
                    if id.created { "created" } else { "existing" },
                    identity_path(&data_dir).display()
                );
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("sotto-node keygen: {e}");
                ExitCode::FAILURE
            }
        },
        Command::Run { config } => {
            let config = match NodeConfig::load(&config) {
                Ok(c) => c,
                Err(e) => {
                    eprintln!("sotto-node: {e}");
                    return ExitCode::from(2);
                }
            };
            init_logging();
            let runtime = match tokio::runtime::Runtime::new() {
                Ok(rt) => rt,
                Err(e) => {
                    eprintln!("sotto-node: cannot start the runtime: {e}");
                    return ExitCode::FAILURE;
                }
            };
            match runtime.block_on(sotto_node::run::run(
                config,
                Box::new(sotto_node::directory_client::connect),
            )) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    tracing::error!(error = %e, "node stopped");
                    eprintln!("sotto-node: {e}");
                    ExitCode::FAILURE
                }
            }
        }
    }
}
