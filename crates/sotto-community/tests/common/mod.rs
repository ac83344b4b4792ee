//! The test harness shared by the community server's integration tests: the real
//! `sotto-community` binary on loopback, storing in a real SQLite file or in a real PostgreSQL
//! server started for the test, and clients that sign their requests as Session apps do (15-
//! and 25-blinded keys from `sotto-identity`).
#![allow(
    dead_code,
    unreachable_pub,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "test helpers outside #[test] functions; not every test file uses every helper"
)]

use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

pub use base64::Engine as _;
pub use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
pub use serde_json::{Value, json};
use sotto_identity::Account;
use sotto_identity::blinding::Blind15Nonce;
use sotto_identity::sogs::{SogsAuth, SogsRequest};
pub use std::time::Duration;

pub const BIN: &str = env!("CARGO_BIN_EXE_sotto-community");

/// Where a test server stores its rooms and messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// `DATA_DIR/community.sqlite` (the default); the server listens on 127.236.0.x.
    Sqlite,
    /// A PostgreSQL server started for the test on 127.68.0.x; the community server listens
    /// on 127.67.0.x.
    Postgres,
}

/// Runs an `async fn(Backend)` test once per storage backend: `NAME::sqlite` and
/// `NAME::postgres` (which fails, not skips, when PostgreSQL is not installed).
macro_rules! both_backends {
    ($($name:ident),+ $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$name(super::Backend::Sqlite).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                super::$name(super::Backend::Postgres).await;
            }
        }
    )+};
}

/// A `sotto-community run` process; killed on drop, its log printed if the test failed.
pub struct Server {
    /// The PostgreSQL server, for [`Backend::Postgres`] (stopped after the community server).
    pub pg: Option<sotto_testkit::postgres::PgServer>,
    pub child: Option<Child>,
    pub dir: PathBuf,
    pub config: PathBuf,
    pub log: PathBuf,
    pub addr: SocketAddr,
    pub pk: [u8; 32],
}

pub fn cli(args: &[&str]) -> String {
    let out = Command::new(BIN).args(args).output().unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

impl Server {
    pub fn start(backend: Backend, dir: &Path, host: u8, extra: &str) -> Self {
        let (ip, pg) = match backend {
            Backend::Sqlite => (Ipv4Addr::new(127, 236, 0, host), None),
            Backend::Postgres => {
                let pg = sotto_testkit::postgres::PgServer::start(Ipv4Addr::new(127, 68, 0, host))
                    .unwrap_or_else(|e| panic!("cannot start PostgreSQL for this test: {e}"));
                (Ipv4Addr::new(127, 67, 0, host), Some(pg))
            }
        };
        let database = pg
            .as_ref()
            .map(|pg| format!("database_url = {:?}\n", pg.url()))
            .unwrap_or_default();
        let data = dir.join("data");
        let hex_key = cli(&["keygen", "--data-dir", data.to_str().unwrap()]);
        let mut pk = [0u8; 32];
        hex::decode_to_slice(hex_key.trim(), &mut pk).unwrap();
        let port = TcpListener::bind((ip, 0))
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let addr = SocketAddr::from((ip, port));
        let config = dir.join("community.toml");
        std::fs::write(
            &config,
            format!(
                "data_dir = {:?}\nlisten = \"{addr}\"\nrequests_per_s_per_ip = 1000\n\
                 request_burst_per_ip = 1000\n{database}{extra}\n",
                data.display().to_string()
            ),
        )
        .unwrap();
        let mut s = Self {
            pg,
            child: None,
            dir: dir.to_owned(),
            config,
            log: dir.join("community.log"),
            addr,
            pk,
        };
        s.spawn();
        s
    }

    pub fn cli(&self, args: &[&str]) -> String {
        let mut all: Vec<&str> = args.to_vec();
        let config = self.config.to_str().unwrap().to_owned();
        // `--config FILE` goes after the subcommand words (before positional arguments).
        let at = all.iter().position(|a| a.starts_with('@')).unwrap();
        all[at] = "--config";
        all.insert(at + 1, &config);
        cli(&all)
    }

    pub fn spawn(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .unwrap();
        let child = Command::new(BIN)
            .args(["run", "--config"])
            .arg(&self.config)
            .env("RUST_LOG", "debug")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        self.child = Some(child);
    }

    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    pub async fn ready(&self) {
        let addr = self.addr;
        sotto_testkit::net::eventually(
            "the server to answer",
            Duration::from_secs(30),
            || async move {
                match http(addr, "GET", "/capabilities", &[], Vec::new()).await {
                    Some((200, _)) => Some(()),
                    _ => None,
                }
            },
        )
        .await
        .unwrap();
    }

    /// Runs one SQL statement on the server's database (either backend), off the async
    /// threads; the number of rows changed.
    pub fn sql(&self, sql: &str, arg: &str) -> usize {
        let url = self.pg.as_ref().map(|pg| pg.url().to_owned());
        let path = self.dir.join("data/community.sqlite");
        let (sql, arg) = (sql.to_owned(), arg.to_owned());
        std::thread::spawn(move || {
            let db = match url {
                Some(url) => sotto_community::store::Db::postgres(&url).unwrap(),
                None => {
                    sotto_community::store::Db::sqlite(rusqlite::Connection::open(path).unwrap())
                }
            };
            db.execute(&sql, [arg]).unwrap()
        })
        .join()
        .unwrap()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
        if std::thread::panicking() {
            eprintln!(
                "--- community log ---\n{}",
                std::fs::read_to_string(&self.log).unwrap_or_default()
            );
        }
    }
}

/// One HTTP/1.1 request; `None` if the connection failed.
pub async fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(String, String)],
    body: Vec<u8>,
) -> Option<(u16, Vec<u8>)> {
    let stream = tokio::net::TcpStream::connect(addr).await.ok()?;
    let (mut send, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
            .await
            .ok()?;
    tokio::spawn(conn);
    let mut req = hyper::Request::builder()
        .method(method)
        .uri(path)
        .header("host", addr.to_string());
    for (n, v) in headers {
        req = req.header(n.as_str(), v.as_str());
    }
    let resp = send
        .send_request(req.body(Full::new(Bytes::from(body))).unwrap())
        .await
        .ok()?;
    let status = resp.status().as_u16();
    let body = resp.into_body().collect().await.ok()?.to_bytes().to_vec();
    Some((status, body))
}

/// How a test client signs.
#[derive(Clone, Copy)]
pub enum Key {
    B15,
    B25,
    Unblinded,
}

/// A Session user talking to one server.
pub struct Client {
    pub account: Account,
    pub key: Key,
    pub pk: [u8; 32],
    pub addr: SocketAddr,
    pub nonce: u8,
}

impl Client {
    pub fn new(seed: u8, key: Key, server: &Server) -> Self {
        Self {
            account: Account::from_ed25519_seed(&[seed; 32]),
            key,
            pk: server.pk,
            addr: server.addr,
            nonce: 0,
        }
    }

    pub fn id(&self) -> String {
        match self.key {
            Key::B15 => self.account.blind15(&self.pk).id().to_string(),
            Key::B25 => self.account.blind25(&self.pk).id().to_string(),
            Key::Unblinded => format!("05{}", hex::encode(self.account.x25519_public().as_bytes())),
        }
    }

    pub fn sign_data(&self, data: &[u8]) -> [u8; 64] {
        match self.key {
            Key::B15 => self.account.blind15(&self.pk).sign(data).0,
            Key::B25 => self.account.blind25(&self.pk).sign(data).0,
            Key::Unblinded => self.account.ed25519_secret().sign(data).0,
        }
    }

    /// The four X-SOGS headers for a request (the path as the client signs it: not encoded).
    pub fn headers(
        &mut self,
        method: &str,
        signed_path: &str,
        body: &[u8],
        ts: u64,
    ) -> Vec<(String, String)> {
        self.nonce += 1;
        let mut nonce = [0u8; 16];
        nonce[0] = self.nonce;
        nonce[1..9].copy_from_slice(&rand_bytes());
        self.headers_with_nonce(method, signed_path, body, ts, nonce)
    }

    pub fn headers_with_nonce(
        &self,
        method: &str,
        signed_path: &str,
        body: &[u8],
        ts: u64,
        nonce: [u8; 16],
    ) -> Vec<(String, String)> {
        let req = SogsRequest {
            server_pk: &self.pk,
            nonce: &nonce,
            timestamp: ts,
            method,
            path: signed_path,
            body: (!body.is_empty()).then_some(body),
        };
        let pairs = match self.key {
            Key::B15 => req
                .sign(&self.account, SogsAuth::Blinded15(Blind15Nonce::Standard))
                .to_pairs()
                .to_vec(),
            Key::Unblinded => req
                .sign(&self.account, SogsAuth::Unblinded)
                .to_pairs()
                .to_vec(),
            Key::B25 => {
                let keys = self.account.blind25(&self.pk);
                let sig = keys.sign(&req.signed_message());
                vec![
                    ("X-SOGS-Pubkey", keys.id().to_string()),
                    ("X-SOGS-Nonce", STANDARD.encode(nonce)),
                    ("X-SOGS-Timestamp", ts.to_string()),
                    ("X-SOGS-Signature", STANDARD.encode(sig.0)),
                ]
            }
        };
        pairs.into_iter().map(|(n, v)| (n.to_owned(), v)).collect()
    }

    /// A signed request; `url_path` is what goes on the wire, `signed_path` what is signed.
    pub async fn raw(
        &mut self,
        method: &str,
        url_path: &str,
        signed_path: &str,
        body: Vec<u8>,
    ) -> (u16, Vec<u8>) {
        let mut headers = self.headers(method, signed_path, &body, now());
        if !body.is_empty() {
            headers.push(("content-type".into(), "application/json".into()));
        }
        http(self.addr, method, url_path, &headers, body)
            .await
            .unwrap()
    }

    pub async fn call(&mut self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        let body = body.map(|b| b.to_string().into_bytes()).unwrap_or_default();
        let (status, bytes) = self.raw(method, path, path, body).await;
        let value = serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
        (status, value)
    }

    pub async fn post(&mut self, room: &str, text: &str) -> (u16, Value) {
        let data = text.as_bytes().to_vec();
        let sig = self.sign_data(&data);
        self.call(
            "POST",
            &format!("/room/{room}/message"),
            Some(json!({ "data": STANDARD.encode(&data), "signature": STANDARD.encode(sig) })),
        )
        .await
    }
}

pub fn rand_bytes() -> [u8; 8] {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(1);
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    (t ^ COUNTER.fetch_add(1, Ordering::SeqCst).rotate_left(32)).to_le_bytes()
}

pub fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

pub fn data_of(msg: &Value) -> String {
    String::from_utf8(STANDARD.decode(msg["data"].as_str().unwrap()).unwrap()).unwrap()
}

impl Client {
    /// A signed request inside a v4 onion layer, sent as an exit node would send it.
    pub async fn onion(&mut self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        let body = body.map(|b| b.to_string().into_bytes());
        let mut headers = self.headers(method, path, body.as_deref().unwrap_or_default(), now());
        if body.is_some() {
            headers.push(("content-type".into(), "application/json".into()));
        }
        let request = sotto_onion::V4Request {
            method: method.into(),
            endpoint: path.into(),
            headers,
            body,
        };
        let (layer, key) =
            sotto_testkit::v4::exit_body(&sotto_crypto::X25519PublicKey(self.pk), &request)
                .unwrap();
        let (status, sealed) = http(self.addr, "POST", "/oxen/v4/lsrpc", &[], layer)
            .await
            .unwrap();
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&sealed));
        let reply = key.open_v4(&sealed).unwrap();
        let bytes = reply.body.unwrap_or_default();
        let value = serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
        (reply.code, value)
    }
}
