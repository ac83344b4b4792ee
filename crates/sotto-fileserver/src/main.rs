//! `sotto-fileserver`: the Sotto file server process.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use sotto_fileserver::{Config, EXAMPLE};
use sotto_transport::identity;
use tracing_subscriber::EnvFilter;

const ABOUT: &str =
    "The Sotto file server: stores encrypted attachments, wire-compatible with Session's.";

const LONG_ABOUT: &str = "\
The Sotto file server: stores encrypted attachments, wire-compatible with Session's file server.

Clients reach it through onion paths: the path's exit node POSTs the request to
/oxen/v4/lsrpc, which the server decrypts with the X25519 form of its Ed25519 key
(DATA_DIR/identity.key). The same routes answer plain HTTP, for operators.

Files are stored as uploaded (clients encrypt them), named by a hash of their bytes (44
characters), so identical uploads share one copy and one id; metadata is kept in SQLite
(DATA_DIR/files.db). Each file expires after `default_ttl_s` (or X-FS-TTL seconds, up to
`max_ttl_s`); /extend pushes the expiry out, never in. Expired files answer 404 at once
and are deleted by a sweep every `sweep_interval_s`.";

const AFTER_HELP: &str = "\
Endpoints (plain HTTP, and the same inside onion requests; all rate-limited per address):
  POST /file              upload (body = the bytes; optional X-FS-TTL: seconds)
                          200 {\"id\", \"expires\"}; 413 empty or over max_file_size (checked
                          on Content-Length before the body is read); 400 bad X-FS-TTL;
                          507 quota full
  GET  /file/<id>         the bytes, with an Expires header; 404 unknown or expired
  GET  /file/<id>/info    {\"size\", \"uploaded\", \"expires\"}; 404
  POST /file/<id>/extend  optional X-FS-TTL; {\"size\", \"uploaded\", \"expires\"}; 404
  POST /oxen/v4/lsrpc     a v4 onion request for any route above
Errors are {\"status_code\": N} (with a \"message\" for 507); 429 when over the rate limit.

Examples:
  sotto-fileserver keygen --data-dir /var/lib/sotto-fileserver
  sotto-fileserver example-config > fileserver.toml
  sotto-fileserver run --config fileserver.toml

Logging goes to stderr; set RUST_LOG (e.g. RUST_LOG=debug) to change the level (default:
info). Logs never carry file contents, full file ids, keys or client addresses.

Example configuration:
";

#[derive(Parser)]
#[command(name = "sotto-fileserver", version, about = ABOUT, long_about = LONG_ABOUT)]
#[command(after_long_help = format!("{AFTER_HELP}\n{EXAMPLE}"))]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the file server.
    Run {
        /// The TOML configuration file (see `sotto-fileserver example-config`).
        #[arg(long, value_name = "FILE")]
        config: PathBuf,
    },
    /// Print the server's Ed25519 public key (creating DATA_DIR/identity.key if there is
    /// none), then its X25519 key on a second line: clients need one of them.
    Keygen {
        /// The server's data directory.
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
            eprintln!("sotto-fileserver: error: {message}");
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
                .block_on(sotto_fileserver::run(config))
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
            println!("{}", hex::encode(key.to_x25519().public_key().0));
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
