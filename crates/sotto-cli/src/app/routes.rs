//! The routes of `sotto app`: pages, fragments, the event stream, attachments and the
//! actions (each network action runs as a task; the answer comes at once).

use std::convert::Infallible;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use anyhow::{Context as _, anyhow, bail};
use bytes::Bytes;
use http_body_util::{BodyExt as _, Limited, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::header::{self, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use serde_json::json;
use sotto_client::attachments::{SendAs, TransferEvent, TransferPolicy, file_server_of};
use sotto_client::{
    Account, Client, Disappearing, MessageId, MessageState, NetworkFile, SessionId,
};
use sotto_crypto::OsRng;
use tokio::sync::mpsc;

use super::http::{self, Body, Refusal};
use super::{App, Pending, html, lock};
use crate::commands::now_ms;
use crate::net::CliNet;
use crate::render::Names;
use crate::store::StoredAccount;

/// The largest request body: an attachment (the file server's cap is 10 MB once encrypted;
/// images are scaled down first, so their input may be larger).
const MAX_BODY: usize = 32 * 1024 * 1024;

/// How many messages a page of history holds.
const PAGE: u32 = 50;

const APP_JS: &str = include_str!("assets/app.js");
const APP_CSS: &str = include_str!("assets/app.css");

/// One request, checked and answered; every answer carries the security headers.
pub async fn handle(app: Arc<App>, req: Request<Incoming>) -> Response<Body> {
    let response = match route(&app, req).await {
        Ok(r) => r,
        Err(e) => http::json(StatusCode::BAD_REQUEST, &json!({"error": format!("{e:#}")})),
    };
    http::secure(response)
}

async fn route(app: &Arc<App>, req: Request<Incoming>) -> anyhow::Result<Response<Body>> {
    if let Err(refusal) = http::check_site(req.method(), req.headers(), app.port) {
        return Ok(refusal.response());
    }
    let path = req.uri().path().to_owned();
    let query = req.uri().query().unwrap_or("").to_owned();
    let authorised = http::cookie_token(req.headers())
        .is_some_and(|t| http::same_secret(t.as_bytes(), app.token.as_bytes()));
    if !authorised {
        // The URL's token is exchanged for the cookie, then dropped from the address.
        let offered = http::param(query.as_bytes(), "token");
        if req.method() == Method::GET
            && offered.is_some_and(|t| http::same_secret(t.as_bytes(), app.token.as_bytes()))
        {
            let mut r = http::redirect(&path);
            if let Ok(v) = HeaderValue::from_str(&http::token_cookie(&app.token)) {
                r.headers_mut().insert(header::SET_COOKIE, v);
            }
            return Ok(r);
        }
        return Ok(Refusal::Token.response());
    }
    let q = |name: &str| http::param(query.as_bytes(), name);
    let method = req.method().clone();
    if method == Method::GET {
        return get(app, &path, &q).await;
    }
    if method != Method::POST {
        return Ok(http::text_response(
            StatusCode::METHOD_NOT_ALLOWED,
            "only GET and POST",
        ));
    }
    let body = Limited::new(req.into_body(), MAX_BODY)
        .collect()
        .await
        .map_err(|_| anyhow!("the request body is too large (at most 32 MiB) or broken"))?
        .to_bytes();
    let f = |name: &str| http::param(&body, name);
    match post(app, &path, &q, &f, body.clone()).await {
        Ok(value) => Ok(http::json(StatusCode::OK, &value)),
        Err(e) => Ok(http::json(
            StatusCode::BAD_REQUEST,
            &json!({"error": format!("{e:#}")}),
        )),
    }
}

async fn get(app: &Arc<App>, path: &str, q: Field<'_>) -> anyhow::Result<Response<Body>> {
    match path {
        "/assets/app.js" => Ok(asset("text/javascript; charset=utf-8", APP_JS)),
        "/assets/app.css" => Ok(asset("text/css; charset=utf-8", APP_CSS)),
        "/events" => Ok(events(app)),
        "/" | "/settings" | "/communities" => page(app, path, q),
        "/frag/list" => {
            let client = connected(app)?;
            let current = q("c").unwrap_or_default();
            let search = q("q").unwrap_or_default();
            let list = client.with_engine(|e| {
                let names = Names::new(e.session_id(), e.contacts()?);
                html::conversation_list(e, &names, Some(&current), &search, &[], now_ms())
            })?;
            Ok(http::html(list))
        }
        "/frag/chat" => {
            let client = connected(app)?;
            let peer = parse_peer(&q("c").unwrap_or_default())?;
            let count = q("n")
                .and_then(|n| n.parse::<u32>().ok())
                .unwrap_or(PAGE)
                .clamp(1, 10_000);
            let before = q("before").and_then(|b| b.parse::<i64>().ok());
            let body = client.with_engine(|e| {
                let names = Names::new(e.session_id(), e.contacts()?);
                html::messages(e, &names, &peer, count, before, now_ms())
            })?;
            Ok(http::html(body))
        }
        "/frag/head" => {
            let client = connected(app)?;
            let peer = parse_peer(&q("c").unwrap_or_default())?;
            let head = client.with_engine(|e| {
                let names = Names::new(e.session_id(), e.contacts()?);
                html::chat_header(e, &names, &peer)
            })?;
            Ok(http::html(head))
        }
        "/frag/route" => {
            let id = q("m")
                .and_then(|m| m.parse::<i64>().ok())
                .context("which message?")?;
            let routes = lock(&app.routes).get(&id).cloned();
            let text = match routes {
                Some(lines) if !lines.is_empty() => lines
                    .iter()
                    .map(|l| format!("<p>{}</p>", html::esc(l)))
                    .collect(),
                Some(_) => "<p>No store request of this message has answered yet.</p>".to_owned(),
                None => "<p>Not recorded: routes are kept for the messages sent while this \
                         app runs.</p>"
                    .to_owned(),
            };
            Ok(http::html(text))
        }
        p if p.starts_with("/att/") => attachment_file(app, p, q("download").is_some()).await,
        _ => Ok(http::text_response(StatusCode::NOT_FOUND, "not found")),
    }
}

fn asset(content_type: &'static str, body: &'static str) -> Response<Body> {
    let mut r = http::response(StatusCode::OK, content_type, body);
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    r
}

fn connected(app: &App) -> anyhow::Result<Arc<Client<CliNet>>> {
    app.client()
        .ok_or_else(|| anyhow!("not connected to the network yet: wait a moment"))
}

fn parse_peer(text: &str) -> anyhow::Result<SessionId> {
    text.trim().parse::<SessionId>().map_err(|e| {
        anyhow!("{text:?} is not a Session ID ({e}): it is 66 hex characters starting with 05")
    })
}

/// The QR code of `id` as an inline SVG (dark modules as one path).
pub fn qr_svg(id: &SessionId) -> String {
    let Ok(code) = qrcode::QrCode::new(id.to_string().as_bytes()) else {
        return String::new();
    };
    let width = code.width();
    let quiet = 4;
    let side = width + 2 * quiet;
    let mut d = String::new();
    for (i, color) in code.to_colors().iter().enumerate() {
        if *color == qrcode::Color::Dark {
            d.push_str(&format!(
                "M{} {}h1v1h-1z",
                i % width + quiet,
                i / width + quiet
            ));
        }
    }
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {side} {side}\" width=\"240\" \
         height=\"240\" role=\"img\" aria-label=\"QR code of {id}\" id=\"qr\">\
         <rect width=\"{side}\" height=\"{side}\" fill=\"#fff\"/>\
         <path d=\"{d}\" fill=\"#000\"/></svg>"
    )
}

fn page(app: &Arc<App>, path: &str, q: Field<'_>) -> anyhow::Result<Response<Body>> {
    if let Some(pending) = lock(&app.pending).as_ref() {
        let id = pending.account.session_id();
        let phrase = pending.account.recovery_phrase();
        return Ok(http::html(html::backup(
            &id,
            &qr_svg(&id),
            phrase.as_str(),
            pending.ask,
        )));
    }
    let has_account = app.store.load().is_ok();
    if !has_account {
        return Ok(http::html(html::onboarding()));
    }
    let Some(client) = app.client() else {
        return Ok(http::html(html::connecting(&lock(&app.status))));
    };
    let current = q("c").unwrap_or_default();
    let peer = (!current.is_empty())
        .then(|| parse_peer(&current))
        .transpose()?;
    if let Some(peer) = peer {
        let c = Arc::clone(&client);
        tokio::spawn(async move {
            let _ = c.mark_read(&peer).await;
        });
    }
    let own = client.session_id();
    let page = client.with_engine(|e| {
        let names = Names::new(e.session_id(), e.contacts()?);
        let settings = e.settings()?;
        let own_name = settings
            .display_name
            .clone()
            .unwrap_or_else(|| "(no name yet)".into());
        let list = html::conversation_list(e, &names, Some(&current), "", &[], now_ms())?;
        let main = match (path, peer) {
            ("/settings", _) => settings_panel(e, &own, &settings),
            ("/communities", _) => "<section><h2>Communities</h2><p>Joining communities from \
                the app is not supported yet: use <code>sotto community join LINK</code>.</p>\
                </section>"
                .to_owned(),
            (_, Some(peer)) => {
                let header = html::chat_header(e, &names, &peer)?;
                let history = html::messages(e, &names, &peer, PAGE, None, now_ms())?;
                html::chat(&header, &peer.to_string(), &history)
            }
            (_, None) => html::welcome(&own, &qr_svg(&own)),
        };
        anyhow::Ok(html::shell(&own, &own_name, &list, &current, &main))
    })?;
    Ok(http::html(page))
}

fn settings_panel(
    engine: &sotto_client::Engine,
    own: &SessionId,
    settings: &sotto_client::Settings,
) -> String {
    let checked = |b: bool| if b { " checked" } else { "" };
    let picture = engine
        .profile_picture()
        .ok()
        .flatten()
        .map_or("none", |_| "set");
    format!(
        "<section class=\"settings\"><h2>Settings</h2>\
         <h3>Profile</h3><p class=\"sid\">{own}</p>{qr}\
         <form data-api action=\"/api/settings\" method=\"post\">\
         <label for=\"display-name\">Display name</label>\
         <input id=\"display-name\" name=\"name\" value=\"{name}\" maxlength=\"100\">\
         <fieldset><legend>Privacy</legend>\
         <label><input type=\"checkbox\" name=\"read_receipts\" value=\"on\"{rr}> Send and show read receipts</label>\
         <label><input type=\"checkbox\" name=\"typing\" value=\"on\"{ty}> Send and show typing indicators</label>\
         </fieldset><button type=\"submit\" id=\"save-settings\">Save</button></form>\
         <h3>Profile picture</h3><p>Current: {picture}.</p>\
         <label for=\"picture\">Upload a picture (JPEG, PNG, WebP or GIF)</label>\
         <input id=\"picture\" type=\"file\" accept=\"image/*\" data-upload=\"/api/picture\">\
         <h3>Theme</h3><p><button type=\"button\" id=\"theme\" aria-pressed=\"false\">Switch light / dark</button></p>\
         </section>",
        qr = qr_svg(own),
        name = html::esc(settings.display_name.as_deref().unwrap_or("")),
        rr = checked(settings.read_receipts),
        ty = checked(settings.typing_indicators),
    )
}

/// The event stream: one `data:` line per notification, and a comment every 15 s.
fn events(app: &App) -> Response<Body> {
    let mut rx = app.events.subscribe();
    let (tx, out) = mpsc::channel::<Bytes>(64);
    tokio::spawn(async move {
        if tx
            .send(Bytes::from_static(b"retry: 2000\n\n"))
            .await
            .is_err()
        {
            return;
        }
        let mut ping = tokio::time::interval(std::time::Duration::from_secs(15));
        loop {
            let chunk = tokio::select! {
                msg = rx.recv() => match msg {
                    Ok(text) => Bytes::from(format!("data: {text}\n\n")),
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {
                        Bytes::from_static(b"data: {\"kind\":\"update\"}\n\n")
                    }
                    Err(_) => break,
                },
                _ = ping.tick() => Bytes::from_static(b": ping\n\n"),
            };
            if tx.send(chunk).await.is_err() {
                break;
            }
        }
    });
    let body = StreamBody::new(Chunks(out)).boxed();
    let mut r = Response::new(body);
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

/// The chunks of the event stream as body frames.
struct Chunks(mpsc::Receiver<Bytes>);

impl futures_core::Stream for Chunks {
    type Item = Result<Frame<Bytes>, Infallible>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.0.poll_recv(cx).map(|c| c.map(|b| Ok(Frame::data(b))))
    }
}

/// `/att/MSG/INDEX`: a downloaded (or sent) attachment's file. Only inline-safe images and
/// audio are shown in the page; everything else is a download.
async fn attachment_file(app: &App, path: &str, download: bool) -> anyhow::Result<Response<Body>> {
    let client = connected(app)?;
    let mut parts = path.trim_start_matches("/att/").split('/');
    let (Some(msg), Some(idx), None) = (parts.next(), parts.next(), parts.next()) else {
        return Ok(http::text_response(StatusCode::NOT_FOUND, "not found"));
    };
    let msg: i64 = msg.parse().context("bad message number")?;
    let idx: usize = idx.parse().context("bad attachment number")?;
    let record = client
        .attachments(MessageId(msg))?
        .into_iter()
        .find(|a| a.index == idx)
        .context("no such attachment")?;
    let file = record
        .local_path
        .clone()
        .context("this attachment is not downloaded yet")?;
    let bytes = tokio::fs::read(&file)
        .await
        .with_context(|| format!("cannot read {}", file.display()))?;
    let inline = !download
        && (html::inline_image(&record.content_type)
            || matches!(
                record.content_type.as_str(),
                "audio/mpeg"
                    | "audio/mp4"
                    | "audio/aac"
                    | "audio/ogg"
                    | "audio/wav"
                    | "audio/x-m4a"
            ));
    let mut r = http::response(StatusCode::OK, "application/octet-stream", bytes);
    let h = r.headers_mut();
    if inline {
        if let Ok(v) = HeaderValue::from_str(&record.content_type) {
            h.insert(header::CONTENT_TYPE, v);
        }
    } else {
        let name: String = record
            .file_name
            .clone()
            .unwrap_or_else(|| "attachment".into())
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
            .collect();
        if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{name}\"")) {
            h.insert(header::CONTENT_DISPOSITION, v);
        }
    }
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, max-age=3600"),
    );
    Ok(r)
}

type Field<'a> = &'a (dyn Fn(&str) -> Option<String> + Sync);

async fn post(
    app: &Arc<App>,
    path: &str,
    q: Field<'_>,
    f: Field<'_>,
    body: Bytes,
) -> anyhow::Result<serde_json::Value> {
    match path {
        "/api/onboard/create" => onboard_create(app),
        "/api/onboard/confirm" => onboard_confirm(app, f),
        "/api/onboard/restore" => onboard_restore(app, f),
        "/api/upload" => upload(app, q, body),
        "/api/picture" => picture(app, body),
        _ => action(app, path, f),
    }
}

fn onboard_create(app: &Arc<App>) -> anyhow::Result<serde_json::Value> {
    app.store.ensure_absent()?;
    let account = Account::generate(&mut OsRng);
    let words = account.recovery_phrase().split_whitespace().count().max(2);
    // Two different words to type back, at random.
    let a = usize::try_from(OsRng.next_u32()).unwrap_or(0) % words;
    let b = (a + 1 + usize::try_from(OsRng.next_u32()).unwrap_or(0) % (words - 1)) % words;
    *lock(&app.pending) = Some(Pending {
        account,
        ask: [a.min(b) + 1, a.max(b) + 1],
    });
    Ok(json!({"ok": true, "redirect": "/"}))
}

use rand_core::RngCore as _;

fn onboard_confirm(app: &Arc<App>, f: Field<'_>) -> anyhow::Result<serde_json::Value> {
    let mut pending = lock(&app.pending);
    let p = pending
        .as_ref()
        .context("no new account is waiting: reload the page")?;
    let phrase = p.account.recovery_phrase();
    let words: Vec<&str> = phrase.split_whitespace().collect();
    let expect = |n: usize| words.get(n.saturating_sub(1)).copied().unwrap_or("");
    let typed = |name: &str| f(name).unwrap_or_default().trim().to_lowercase();
    let [a, b] = p.ask;
    if typed("w1") != expect(a) || typed("w2") != expect(b) {
        bail!("word {a} or word {b} does not match the phrase above: check what you wrote down");
    }
    let stored = StoredAccount::seal(&p.account, None, &mut OsRng)?;
    app.store.save(&stored, false)?;
    let account = p.account.clone();
    *pending = None;
    drop(pending);
    if let Some(name) = f("name")
        .map(|n| n.trim().to_owned())
        .filter(|n| !n.is_empty())
    {
        let database = app.store.dir().join("client.db");
        let mut engine = sotto_client::Engine::open(&database, account.clone())?;
        engine.set_display_name(Some(&name), now_ms())?;
    }
    app.start_client(account);
    Ok(json!({"ok": true, "redirect": "/"}))
}

fn onboard_restore(app: &Arc<App>, f: Field<'_>) -> anyhow::Result<serde_json::Value> {
    app.store.ensure_absent()?;
    let phrase = zeroize::Zeroizing::new(f("phrase").unwrap_or_default());
    let account = Account::from_phrase(phrase.trim()).map_err(|e| {
        anyhow!("invalid recovery phrase: {e}; check the words against what you wrote down")
    })?;
    let stored = StoredAccount::seal(&account, None, &mut OsRng)?;
    app.store.save(&stored, false)?;
    app.start_client(account);
    Ok(json!({"ok": true, "redirect": "/"}))
}

/// Runs `work` as a task; a failure is shown on the pages; the pages refresh when it ends.
fn spawn<F>(app: &Arc<App>, what: &'static str, work: F)
where
    F: Future<Output = anyhow::Result<()>> + Send + 'static,
{
    let app = Arc::clone(app);
    tokio::spawn(async move {
        if let Err(e) = work.await {
            app.notify_error(&format!("{what} failed: {e:#}"));
        }
        app.notify(&json!({"kind": "update"}));
    });
}

/// The route lines of the stores of `calls` to `peer`'s swarm.
fn store_routes(calls: &[crate::net::Call], peer: &SessionId) -> Vec<String> {
    let to = sotto_rpc::AccountId::from(*peer);
    calls
        .iter()
        .filter(|c| c.method == "store" && c.account == to)
        .flat_map(|c| c.traces.iter())
        .filter(|t| t.method == "store")
        .map(crate::render::route_text)
        .collect()
}

fn action(app: &Arc<App>, path: &str, f: Field<'_>) -> anyhow::Result<serde_json::Value> {
    let client = connected(app)?;
    let peer = || parse_peer(&f("c").unwrap_or_default());
    let message = || {
        f("m")
            .and_then(|m| m.parse::<i64>().ok())
            .map(MessageId)
            .context("which message?")
    };
    match path {
        "/api/send" => {
            let peer = peer()?;
            let text = f("text").unwrap_or_default();
            if text.trim().is_empty() {
                bail!("the message is empty");
            }
            sotto_client::outgoing::check_text(&text)?;
            let reply = f("reply")
                .and_then(|r| r.parse::<i64>().ok())
                .map(MessageId);
            let app2 = Arc::clone(app);
            spawn(app, "sending", async move {
                let outcome = match reply {
                    Some(q) => client.reply(q, &text).await,
                    None => client.send_text(&peer, &text).await,
                };
                let calls = client.network().take_calls();
                let outcome = outcome?;
                lock(&app2.routes).insert(outcome.message.0, store_routes(&calls, &peer));
                Ok(())
            });
        }
        "/api/react" => {
            let id = message()?;
            let emoji = f("emoji").unwrap_or_default();
            if emoji.trim().is_empty() {
                bail!("which emoji?");
            }
            let remove = f("remove").is_some();
            spawn(app, "reacting", async move {
                if remove {
                    client.remove_reaction(id, &emoji).await?;
                } else {
                    client.react(id, &emoji).await?;
                }
                client.network().take_calls();
                Ok(())
            });
        }
        "/api/unsend" => {
            let id = message()?;
            spawn(app, "unsending", async move {
                client.unsend(id).await?;
                client.network().take_calls();
                Ok(())
            });
        }
        "/api/delete" => {
            let id = message()?;
            spawn(app, "deleting", async move {
                client.delete_for_me(id).await?;
                client.network().take_calls();
                Ok(())
            });
        }
        "/api/accept" => {
            let peer = peer()?;
            spawn(app, "accepting", async move {
                client.accept_request(&peer).await?;
                client.network().take_calls();
                Ok(())
            });
        }
        "/api/decline" => {
            client.decline_request(&peer()?)?;
            return Ok(json!({"ok": true, "redirect": "/"}));
        }
        "/api/read" => {
            let peer = peer()?;
            spawn(app, "marking read", async move {
                client.mark_read(&peer).await?;
                client.network().take_calls();
                Ok(())
            });
        }
        "/api/typing" => {
            let peer = peer()?;
            let started = f("started").is_some_and(|s| s == "1");
            tokio::spawn(async move {
                let _ = client.set_typing(&peer, started).await;
                client.network().take_calls();
            });
        }
        "/api/disappearing" => {
            let peer = peer()?;
            let secs: u32 = f("secs").and_then(|s| s.parse().ok()).unwrap_or(86_400);
            let setting = match f("mode").as_deref() {
                Some("after-send") => Disappearing::AfterSend(secs),
                Some("after-read") => Disappearing::AfterRead(secs),
                _ => Disappearing::Off,
            };
            spawn(app, "changing the timer", async move {
                client.set_disappearing(&peer, setting).await?;
                client.network().take_calls();
                Ok(())
            });
        }
        "/api/contacts/add" => {
            let id = parse_peer(&f("id").unwrap_or_default())?;
            if id == client.session_id() {
                bail!("that is your own Session ID");
            }
            let name = f("name")
                .map(|n| n.trim().to_owned())
                .filter(|n| !n.is_empty());
            client.with_engine(|e| e.add_contact(&id, name.as_deref(), now_ms()))?;
            return Ok(json!({"ok": true, "redirect": format!("/?c={id}")}));
        }
        "/api/settings" => {
            let name = f("name")
                .map(|n| n.trim().to_owned())
                .filter(|n| !n.is_empty());
            if let Some(name) = &name {
                client.set_display_name(Some(name))?;
            }
            let rr = f("read_receipts").is_some();
            let ty = f("typing").is_some();
            client.update_settings(|s| {
                s.read_receipts = rr;
                s.typing_indicators = ty;
            })?;
            return Ok(json!({"ok": true, "notice": "Saved."}));
        }
        "/api/download" => {
            let id = message()?;
            let index: usize = f("i")
                .and_then(|i| i.parse().ok())
                .context("which attachment?")?;
            download(app, &client, id, index);
        }
        _ => bail!("no such action"),
    }
    Ok(json!({"ok": true}))
}

/// Downloads attachment `index` of `message` as a task, with progress on the pages.
fn download(app: &Arc<App>, client: &Arc<Client<CliNet>>, message: MessageId, index: usize) {
    let client = Arc::clone(client);
    let dir = app.store.dir().join("downloads");
    let app2 = Arc::clone(app);
    spawn(app, "downloading", async move {
        let (tx, mut rx) = mpsc::unbounded_channel();
        let progress = Some(tx);
        let watcher = {
            let app = Arc::clone(&app2);
            tokio::spawn(async move {
                while let Some(e) = rx.recv().await {
                    let (stage, done) = match e {
                        TransferEvent::Downloading { .. } => ("downloading", 10),
                        TransferEvent::Downloaded { .. } => ("decrypting", 80),
                        TransferEvent::Saved { .. } => ("saved", 100),
                        TransferEvent::Expired { .. } => ("expired", 100),
                        TransferEvent::Retrying { .. } => ("retrying", 5),
                        _ => continue,
                    };
                    app.notify(&json!({
                        "kind": "progress", "m": message.0, "i": index,
                        "stage": stage, "percent": done
                    }));
                }
            })
        };
        let result = client
            .download_attachment(message, index, &dir, &TransferPolicy::default(), &progress)
            .await;
        drop(progress);
        let _ = watcher.await;
        client.network().take_calls();
        result?;
        Ok(())
    });
}

/// Fetches the images of a new message (the pages show them inline).
pub fn fetch_images(app: &Arc<App>, client: &Arc<Client<CliNet>>, message: MessageId) {
    let Ok(list) = client.attachments(message) else {
        return;
    };
    for a in list {
        let wanted = html::inline_image(&a.content_type) || a.voice;
        if wanted && a.size <= 10_000_000 && a.local_path.is_none() {
            download(app, client, message, a.index);
        }
    }
}

fn file_server(app: &App) -> anyhow::Result<sotto_attachment::FileServer> {
    let file = NetworkFile::load(&app.network).map_err(|e| anyhow!("{e}"))?;
    let entry = file
        .file_server
        .as_ref()
        .context("the network file names no file server")?;
    Ok(file_server_of(entry)?)
}

/// Keeps an uploaded file under the profile's `sent/` directory (so the sent copy shows
/// inline); returns its path.
fn keep_upload(dir: &Path, name: &str, bytes: &[u8]) -> anyhow::Result<PathBuf> {
    let safe: String = name
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
        .take(80)
        .collect();
    let safe = if safe.trim_matches('.').is_empty() {
        "file".to_owned()
    } else {
        safe
    };
    // One directory per upload, so the file keeps its name.
    let dir = dir
        .join("sent")
        .join(format!("{}-{:08x}", now_ms(), OsRng.next_u32()));
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let path = dir.join(safe);
    std::fs::write(&path, bytes).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(path)
}

/// `POST /api/upload?c=PEER&name=NAME&kind=image|file|voice`: the body is the file.
fn upload(app: &Arc<App>, q: Field<'_>, body: Bytes) -> anyhow::Result<serde_json::Value> {
    let client = connected(app)?;
    let peer = parse_peer(&q("c").unwrap_or_default())?;
    let name = q("name").unwrap_or_else(|| "file".into());
    let kind = match q("kind").as_deref() {
        Some("image") => SendAs::Image,
        Some("voice") => SendAs::Voice,
        _ => SendAs::File,
    };
    if body.is_empty() {
        bail!("the file is empty");
    }
    let path = keep_upload(app.store.dir(), &name, &body)?;
    // Every limit is checked here, before the network is reached.
    let staged = sotto_client::attachments::stage_path(&path, kind)
        .with_context(|| format!("cannot send {name}"))?;
    let caption = q("caption").filter(|c| !c.trim().is_empty());
    let server = file_server(app)?;
    let app2 = Arc::clone(app);
    let upload_id = now_ms();
    spawn(app, "sending the file", async move {
        let (tx, mut rx) = mpsc::unbounded_channel();
        let progress = Some(tx);
        let watcher = {
            let app = Arc::clone(&app2);
            tokio::spawn(async move {
                while let Some(e) = rx.recv().await {
                    let stage = match e {
                        TransferEvent::Encrypted { .. } => "encrypted",
                        TransferEvent::Uploading { .. } => "uploading",
                        TransferEvent::Uploaded { .. } => "uploaded",
                        TransferEvent::Retrying { .. } => "retrying",
                        _ => continue,
                    };
                    app.notify(&json!({"kind": "upload", "id": upload_id, "stage": stage}));
                }
            })
        };
        let result = client
            .send_attachments(
                &peer,
                vec![staged],
                caption.as_deref(),
                None,
                &server,
                &TransferPolicy::default(),
                &progress,
            )
            .await;
        drop(progress);
        let _ = watcher.await;
        let calls = client.network().take_calls();
        let outcome = result?;
        lock(&app2.routes).insert(outcome.message.0, store_routes(&calls, &peer));
        if matches!(outcome.state, MessageState::Failed { .. }) {
            bail!("the message with the file was not delivered yet; it is retried");
        }
        Ok(())
    });
    Ok(json!({"ok": true, "upload": upload_id}))
}

/// `POST /api/picture`: the body is the new profile picture.
fn picture(app: &Arc<App>, body: Bytes) -> anyhow::Result<serde_json::Value> {
    let client = connected(app)?;
    if body.is_empty() {
        bail!("the picture is empty");
    }
    let server = file_server(app)?;
    let image = body.to_vec();
    spawn(app, "uploading the picture", async move {
        client
            .set_profile_picture(image, None, &server, &TransferPolicy::default(), &None)
            .await?;
        client.network().take_calls();
        Ok(())
    });
    Ok(json!({"ok": true, "notice": "Uploading the picture…"}))
}
