//! An echo bot: accepts every message request and answers each message with its own text,
//! quoting it, then reacts 👍 and marks the conversation read.
//!
//! Written against the public API only. It compiles today; it will run once the real,
//! onion-routed [`Network`] implementation (bootstrap from the network file, paths of three
//! hops, storage RPCs as onion requests) is plugged in: replace `Unplugged` below with it.
//! Until then `Client::connect` stops with "the network is unavailable".
//!
//! ```text
//! cargo run -p sotto-client --example echo_bot -- [DATABASE] [RECOVERY PHRASE]
//! ```

use sotto_client::{Account, Client, ClientConfig, Network, NetworkError, SessionId};
use sotto_rpc::AccountId;
use sotto_rpc::request::{Retrieve, Store};
use sotto_rpc::response::{RetrieveResponse, SwarmNode, SwarmResponse};

/// Stands in for the onion-routed network until it exists.
struct Unplugged;

const UNPLUGGED: NetworkError =
    NetworkError::Unavailable("the onion-routed network is not plugged in yet");

impl Network for Unplugged {
    async fn get_swarm(&self, _: AccountId) -> Result<Vec<SwarmNode>, NetworkError> {
        Err(UNPLUGGED)
    }

    async fn store(&self, _: SwarmNode, _: Store) -> Result<SwarmResponse, NetworkError> {
        Err(UNPLUGGED)
    }

    async fn retrieve(&self, _: SwarmNode, _: Retrieve) -> Result<RetrieveResponse, NetworkError> {
        Err(UNPLUGGED)
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let database = args.next().unwrap_or_else(|| "echo-bot.db".to_owned());
    let account = match args.next() {
        Some(phrase) => Account::from_phrase(&phrase)?,
        None => Account::generate(&mut sotto_crypto::OsRng),
    };
    let me: SessionId = account.session_id();
    println!("echo bot {me}, database {database}");

    let client = Client::connect(Unplugged, account, ClientConfig::new(database)).await?;
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
    }
    Ok(())
}
