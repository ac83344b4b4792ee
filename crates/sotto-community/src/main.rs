//! `sotto-community`: the Sotto community server.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use sotto_community::config::{Config, EXAMPLE};
use sotto_community::{Community, CommunityOptions, ServerKeys, join_link};
use tracing_subscriber::EnvFilter;

const ABOUT: &str = "The Sotto community server: Session-compatible (SOGS v3) rooms.";

const AFTER_HELP: &str = "\
Examples:
  sotto-community example-config > community.toml
  sotto-community keygen --data-dir target/community
  sotto-community room add --config community.toml lobby \"The Lobby\"
  sotto-community user admin --config community.toml --room lobby 05…SESSION_ID
  sotto-community user ban --config community.toml --room lobby --timeout 3600 05…SESSION_ID
  sotto-community run --config community.toml

`room add` and `room list` print each room's join link, http://HOST:PORT/TOKEN?public_key=HEX,
which Session apps open. Operator commands work while the server runs.

Logging goes to stderr; set RUST_LOG (e.g. RUST_LOG=debug) to change the level (default: info).

Example configuration:
";

#[derive(Parser)]
#[command(name = "sotto-community", version, about = ABOUT)]
#[command(after_long_help = format!("{AFTER_HELP}\n{EXAMPLE}"))]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server.
    Run {
        /// The TOML configuration file (see `sotto-community example-config`).
        #[arg(long, value_name = "FILE")]
        config: PathBuf,
    },
    /// Print the server's public key (the `public_key` of join links), creating
    /// DATA_DIR/identity.key if there is none.
    Keygen {
        /// The server's data directory.
        #[arg(long, value_name = "DIR")]
        data_dir: PathBuf,
    },
    /// Print a commented example configuration file.
    ExampleConfig,
    /// Manage rooms.
    Room {
        #[command(subcommand)]
        command: RoomCommand,
    },
    /// Appoint moderators and admins.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
}

#[derive(Subcommand)]
enum RoomCommand {
    /// Create a room and print its join link.
    Add {
        /// The configuration file.
        #[arg(long, value_name = "FILE")]
        config: PathBuf,
        /// The room's token (1–64 of A-Z a-z 0-9 _ -), part of its URL.
        token: String,
        /// The room's display name.
        name: String,
        /// An optional description.
        #[arg(long)]
        description: Option<String>,
    },
    /// List rooms with their join links.
    List {
        /// The configuration file.
        #[arg(long, value_name = "FILE")]
        config: PathBuf,
    },
    /// Delete a room and all its messages.
    Remove {
        /// The configuration file.
        #[arg(long, value_name = "FILE")]
        config: PathBuf,
        /// The room's token.
        token: String,
    },
}

#[derive(Subcommand)]
enum UserCommand {
    /// Make a user a moderator (delete posts, manage reactions) of a room or of every room.
    Moderator(Appoint),
    /// Make a user an admin (moderator, and pins) of a room or of every room.
    Admin(Appoint),
    /// Ban a user from a room or from the whole server.
    Ban(BanArgs),
    /// Lift a user's ban from a room or from the whole server.
    Unban(BanArgs),
}

#[derive(clap::Args)]
struct BanArgs {
    /// The configuration file.
    #[arg(long, value_name = "FILE")]
    config: PathBuf,
    /// The room; without it, the whole server.
    #[arg(long, value_name = "TOKEN")]
    room: Option<String>,
    /// End the ban after this many seconds (bans only).
    #[arg(long, value_name = "SECONDS")]
    timeout: Option<u64>,
    /// A 05 Session ID (resolved to this server's blinded ids) or a 15/25 blinded id.
    user: String,
}

#[derive(clap::Args)]
struct Appoint {
    /// The configuration file.
    #[arg(long, value_name = "FILE")]
    config: PathBuf,
    /// The room; without it, every room (a global moderator or admin).
    #[arg(long, value_name = "TOKEN")]
    room: Option<String>,
    /// Hide the appointment from non-moderators.
    #[arg(long)]
    hidden: bool,
    /// A 05 Session ID (resolved to this server's blinded ids) or a 15/25 blinded id.
    user: String,
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
            eprintln!("sotto-community: error: {message}");
            ExitCode::FAILURE
        }
    }
}

fn open(config: &Path) -> Result<(Config, Community), String> {
    let config = Config::load(config).map_err(|e| e.to_string())?;
    let community = Community::open(
        &config.data_dir,
        CommunityOptions::new(config.require_blind_keys)
            .with_database_url(config.database_url.clone()),
    )
    .map_err(|e| e.to_string())?;
    Ok((config, community))
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
                .block_on(sotto_community::server::run(config))
                .map_err(|e| e.to_string())
        }
        Command::Keygen { data_dir } => {
            let (keys, created) =
                ServerKeys::load_or_create(&data_dir).map_err(|e| e.to_string())?;
            if created {
                eprintln!("created {}", data_dir.join("identity.key").display());
            }
            println!("{}", hex::encode(keys.public.as_bytes()));
            Ok(())
        }
        Command::ExampleConfig => {
            print!("{EXAMPLE}");
            Ok(())
        }
        Command::Room { command } => match command {
            RoomCommand::Add {
                config,
                token,
                name,
                description,
            } => {
                let (config, community) = open(&config)?;
                community
                    .add_room(&token, &name, description.as_deref())
                    .map_err(|e| e.to_string())?;
                println!(
                    "{}",
                    join_link(&config.public_url, &token, &community.server_pk())
                );
                Ok(())
            }
            RoomCommand::List { config } => {
                let (config, community) = open(&config)?;
                for (token, name) in community.rooms().map_err(|e| e.to_string())? {
                    println!(
                        "{token}\t{name}\t{}",
                        join_link(&config.public_url, &token, &community.server_pk())
                    );
                }
                Ok(())
            }
            RoomCommand::Remove { config, token } => {
                let (_, community) = open(&config)?;
                community.remove_room(&token).map_err(|e| e.to_string())
            }
        },
        Command::User {
            command: UserCommand::Ban(b),
        } => {
            let (_, community) = open(&b.config)?;
            #[allow(clippy::cast_precision_loss, reason = "seconds")]
            let timeout = b.timeout.map(|t| t as f64);
            community
                .ban(b.room.as_deref(), &b.user, true, timeout)
                .map_err(|e| e.to_string())
        }
        Command::User {
            command: UserCommand::Unban(b),
        } => {
            let (_, community) = open(&b.config)?;
            community
                .ban(b.room.as_deref(), &b.user, false, None)
                .map_err(|e| e.to_string())
        }
        Command::User { command } => {
            let (a, admin) = match command {
                UserCommand::Moderator(a) => (a, false),
                UserCommand::Admin(a) => (a, true),
                UserCommand::Ban(_) | UserCommand::Unban(_) => {
                    return Err("internal: ban handled above".to_owned());
                }
            };
            let (_, community) = open(&a.config)?;
            community
                .add_moderator(a.room.as_deref(), &a.user, admin, !a.hidden)
                .map_err(|e| e.to_string())
        }
    }
}
