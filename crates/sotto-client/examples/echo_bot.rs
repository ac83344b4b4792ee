//! An echo bot over the real, onion-routed network: accepts every message request and
//! answers each message with its own text, quoting it, then reacts 👍 and marks the
//! conversation read. Written against the public API only.
//!
//! ```text
//! cargo xtask testnet                                   # in another terminal
//! cargo run -p sotto-client --example echo_bot -- [NETWORK_FILE] [DATA_DIR]
//! ```
//!
//! `NETWORK_FILE` defaults to `$SOTTO_NETWORK`, else `target/testnet/network.json` (what
//! `cargo xtask testnet` writes). `DATA_DIR` (default `echo-bot`) holds the bot's recovery
//! phrase (`seed`, made on the first run), its database (`client.db`) and the node cache
//! (`nodes.json`); all three are private to the user.

use std::io::Write as _;
use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _};
use std::path::{Path, PathBuf};

use sotto_client::{Account, Client, ClientConfig, NetworkFile, OnionConfig, OnionNetwork};

/// The bot's account: the recovery phrase in `DATA_DIR/seed`, or a new one written there.
fn account(dir: &Path) -> Result<Account, Box<dyn std::error::Error>> {
    let path = dir.join("seed");
    match std::fs::read_to_string(&path) {
        Ok(phrase) => Ok(Account::from_phrase(phrase.trim())?),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let account = Account::generate(&mut sotto_crypto::OsRng);
            let mut file = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&path)?;
            writeln!(file, "{}", account.recovery_phrase().as_str())?;
            println!("new account; its recovery phrase is in {}", path.display());
            Ok(account)
        }
        Err(e) => Err(format!("cannot read {}: {e}", path.display()).into()),
    }
}

/// Prints the route of every request since the last call.
fn print_routes(network: &OnionNetwork) {
    for t in network.take_traces() {
        let hops: Vec<String> = t.path.iter().map(|h| h.addr.ip().to_string()).collect();
        let status = t
            .status
            .map_or_else(|| "no answer".to_owned(), |s| s.to_string());
        println!(
            "   {} via {} → swarm node {}: {status} in {} ms (attempt {})",
            t.method,
            hops.join(" → "),
            t.target.addr.ip(),
            t.elapsed_ms,
            t.attempt
        );
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let network_file = args
        .next()
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("SOTTO_NETWORK").map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from("target/testnet/network.json"));
    let dir = PathBuf::from(args.next().unwrap_or_else(|| "echo-bot".to_owned()));
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&dir)?;

    let file = NetworkFile::load(&network_file)
        .map_err(|e| format!("{e} (start one with `cargo xtask testnet`, or pass its path)"))?;
    let config = OnionConfig {
        cache_file: Some(dir.join("nodes.json")),
        guard_file: Some(dir.join("guards.json")),
        ..OnionConfig::default()
    };
    let network = OnionNetwork::connect(&file, config).await?;
    for path in network.paths() {
        let hops: Vec<String> = path.iter().map(|h| h.addr.to_string()).collect();
        println!("path: {}", hops.join(" → "));
    }

    let account = account(&dir)?;
    println!("echo bot {}", account.session_id());
    let client =
        Client::connect(network, account, ClientConfig::new(dir.join("client.db"))).await?;
    client.set_display_name(Some("Echo bot"))?;
    let mut messages = client.messages();
    while let Some(incoming) = messages.next().await {
        let message = incoming.message;
        if incoming.request {
            client.accept_request(&message.peer).await?;
        }
        let Some(body) = message.body.as_deref() else {
            continue;
        };
        let sent = client.reply(message.id, &format!("echo: {body}")).await?;
        println!("{} → {:?}", message.peer.short(), sent.state);
        client.react(message.id, "👍").await?;
        client.mark_read(&message.peer).await?;
        print_routes(client.network());
    }
    Ok(())
}
