//! `sotto app`: a local web interface served on 127.0.0.1 from the same binary.
//!
//! The server is a small router on hyper. Every request must carry the secret token of the
//! URL printed at start (exchanged at once for an HttpOnly SameSite=Strict cookie), a Host of
//! this loopback address (against DNS rebinding) and, for anything but a plain GET, this
//! origin (against cross-site requests). Pages are rendered on the server ([`html`]); a small
//! embedded script swaps fragments in and listens to one server-sent event stream. All assets
//! are embedded; the Content-Security-Policy allows nothing else.
//!
//! The interface drives [`sotto_client::Client`] exactly as `sotto chat` and `sotto listen`
//! do: one client with its background poller, every network action a task of its own, so no
//! page ever waits on the network.

mod html;
pub mod http;
mod routes;

use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::Duration;

use anyhow::Context as _;
use clap::Args;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use rand_core::RngCore as _;
use sotto_client::{Account, Client, Event};
use sotto_crypto::OsRng;
use tokio::sync::broadcast;

use crate::Ctx;
use crate::net::CliNet;
use crate::store::{Store, StoreError};

#[derive(Args)]
pub struct AppArgs {
    /// The port on 127.0.0.1 (default: any free port).
    #[arg(long, value_name = "N", default_value_t = 0)]
    port: u16,

    /// Do not open the browser; only print the address.
    #[arg(long)]
    no_open: bool,
}

/// A created account waiting for its recovery phrase to be confirmed.
struct Pending {
    account: Account,
    /// The words asked for (1-based).
    ask: [usize; 2],
}

/// The server's state, shared by every connection.
pub struct App {
    token: String,
    port: u16,
    store: Store,
    network: PathBuf,
    client: RwLock<Option<Arc<Client<CliNet>>>>,
    status: Mutex<String>,
    pending: Mutex<Option<Pending>>,
    /// The onion routes of the messages sent from this app, by message id.
    routes: Mutex<HashMap<i64, Vec<String>>>,
    /// What the event stream sends (JSON objects).
    events: broadcast::Sender<String>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl App {
    /// The connected client, if any.
    fn client(&self) -> Option<Arc<Client<CliNet>>> {
        self.client
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Sends `value` to every open event stream.
    fn notify(&self, value: &serde_json::Value) {
        let _ = self.events.send(value.to_string());
    }

    /// Shows an error on every open page.
    fn notify_error(&self, text: &str) {
        self.notify(&serde_json::json!({"kind": "error", "text": text}));
    }

    /// Connects the client in the background (retrying until it works), then forwards its
    /// events to the pages.
    fn start_client(self: &Arc<Self>, account: Account) {
        let app = Arc::clone(self);
        tokio::spawn(async move {
            let database = app.store.dir().join("client.db");
            loop {
                *lock(&app.status) = "Connecting to the network through onion paths…".into();
                let result = crate::net::connect(
                    &app.network,
                    app.store.dir(),
                    account.clone(),
                    &database,
                    true,
                )
                .await;
                match result {
                    Ok(client) => {
                        let client = Arc::new(client);
                        *app.client.write().unwrap_or_else(PoisonError::into_inner) =
                            Some(Arc::clone(&client));
                        app.notify(&serde_json::json!({"kind": "ready"}));
                        app.forward_events(client).await;
                        return;
                    }
                    Err(e) => {
                        *lock(&app.status) = format!("{e:#}. Retrying in 5 seconds…");
                        app.notify(&serde_json::json!({"kind": "status"}));
                        tokio::time::sleep(Duration::from_secs(5)).await;
                    }
                }
            }
        });
    }

    /// Tells the pages about each client event; fetches incoming images.
    async fn forward_events(self: &Arc<Self>, client: Arc<Client<CliNet>>) {
        let mut events = client.events();
        while let Some(event) = events.next().await {
            // Nothing shows the poller's requests: keep the call log from growing.
            client.network().take_calls();
            let value = match &event {
                Event::Message(m) => {
                    routes::fetch_images(self, &client, m.message.id);
                    serde_json::json!({"kind": "message", "peer": m.message.peer.to_string()})
                }
                Event::Typing { from, started } => serde_json::json!({
                    "kind": "typing", "peer": from.to_string(), "started": started
                }),
                _ => serde_json::json!({"kind": "update"}),
            };
            self.notify(&value);
        }
    }

    /// Every 2 s, tells the pages when the conversation list changed (config sync merges,
    /// names, delivery states that no event announced).
    fn watch(self: &Arc<Self>) {
        let app = Arc::clone(self);
        tokio::spawn(async move {
            let mut last = String::new();
            let mut tick = tokio::time::interval(Duration::from_secs(2));
            loop {
                tick.tick().await;
                let Some(client) = app.client() else { continue };
                let digest = client.with_engine(|e| {
                    let mut text = format!("{:?}", e.settings().ok().map(|s| s.display_name));
                    for c in e.conversations().unwrap_or_default() {
                        text.push_str(&format!("{c:?}"));
                        let last = e.messages(&c.contact.session_id, 1).unwrap_or_default();
                        text.push_str(&format!("{last:?}"));
                    }
                    text
                });
                if digest != last {
                    if !last.is_empty() {
                        app.notify(&serde_json::json!({"kind": "update"}));
                    }
                    last = digest;
                }
            }
        });
    }
}

/// A fresh secret: 32 random bytes in hex.
fn fresh_token() -> String {
    let mut bytes = [0u8; 32];
    OsRng.fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// Tries to open `url` in the user's browser (failures only print a hint).
fn open_browser(url: &str) {
    let (program, args): (&str, Vec<&str>) = if cfg!(target_os = "macos") {
        ("open", vec![url])
    } else if cfg!(windows) {
        ("cmd", vec!["/C", "start", "", url])
    } else {
        ("xdg-open", vec![url])
    };
    let spawned = std::process::Command::new(program)
        .args(args)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn();
    if spawned.is_err() {
        eprintln!("Could not open a browser: open the address above yourself.");
    }
}

/// `sotto app`.
pub fn run(ctx: &Ctx<'_>, args: &AppArgs) -> anyhow::Result<()> {
    // Unlock first (a passphrase is asked for on the terminal, before serving).
    let account = match Store::new(ctx.dir().to_path_buf()).load() {
        Ok(_) => Some(ctx.account()?),
        Err(StoreError::NoAccount { .. }) => None,
        Err(e) => return Err(e.into()),
    };
    Ctx::runtime()?.block_on(serve(ctx, args, account))
}

async fn serve(ctx: &Ctx<'_>, args: &AppArgs, account: Option<Account>) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, args.port))
        .await
        .with_context(|| format!("cannot listen on 127.0.0.1:{}", args.port))?;
    let port = listener.local_addr()?.port();
    let (events, _) = broadcast::channel(256);
    let app = Arc::new(App {
        token: fresh_token(),
        port,
        store: Store::new(ctx.dir().to_path_buf()),
        network: ctx.network_file().to_path_buf(),
        client: RwLock::new(None),
        status: Mutex::new("Not connected yet.".into()),
        pending: Mutex::new(None),
        routes: Mutex::new(HashMap::new()),
        events,
    });
    let url = format!("http://127.0.0.1:{port}/?token={}", app.token);
    crate::output::stdout(&format!(
        "Sotto is serving {} at\n  {url}\n(only on this computer; Ctrl-C stops it)\n",
        ctx.dir().display()
    ))?;
    if !args.no_open {
        open_browser(&url);
    }
    if let Some(account) = account {
        app.start_client(account);
    }
    app.watch();
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    loop {
        let (stream, _) = tokio::select! {
            _ = &mut ctrl_c => break,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(_) => continue,
            },
        };
        let app = Arc::clone(&app);
        tokio::spawn(async move {
            let service = service_fn(move |req| {
                let app = Arc::clone(&app);
                async move { Ok::<_, std::convert::Infallible>(routes::handle(app, req).await) }
            });
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
    Ok(())
}
