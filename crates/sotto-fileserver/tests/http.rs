//! The file server binary over plain HTTP (and onion v4 requests POSTed directly, as an exit
//! node would), with a real SQLite file, on 127.234.0.x.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sotto_crypto::X25519PublicKey;
use sotto_onion::{EncType, HopKey, OnionRequest, ResponseKey, V4Request, X25519Keypair};

struct Server {
    child: Child,
    addr: SocketAddr,
    dir: tempfile::TempDir,
    x25519: X25519PublicKey,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_sotto-fileserver")
}

fn free_addr(host: u8) -> SocketAddr {
    let l = TcpListener::bind(format!("127.234.0.{host}:0")).unwrap();
    l.local_addr().unwrap()
}

fn start(host: u8, extra: &str) -> Server {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let keys = Command::new(bin())
        .args(["keygen", "--data-dir"])
        .arg(&data)
        .output()
        .unwrap();
    assert!(keys.status.success());
    let out = String::from_utf8(keys.stdout).unwrap();
    let x_hex = out.lines().nth(1).unwrap();
    let mut x = [0u8; 32];
    hex::decode_to_slice(x_hex, &mut x).unwrap();
    let addr = free_addr(host);
    let config = dir.path().join("fs.toml");
    std::fs::write(
        &config,
        format!(
            "data_dir = {:?}\nlisten = \"{addr}\"\n{extra}\n",
            data.display().to_string()
        ),
    )
    .unwrap();
    let child = Command::new(bin())
        .args(["run", "--config"])
        .arg(&config)
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    sotto_testkit::net::wait_until("the file server listens", Duration::from_secs(20), || {
        TcpStream::connect(addr).is_ok()
    })
    .unwrap();
    Server {
        child,
        addr,
        dir,
        x25519: X25519PublicKey(x),
    }
}

struct Resp {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Resp {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap()
    }
}

/// One HTTP/1.1 request on a fresh connection; `declared` overrides Content-Length.
fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
    declared: Option<u64>,
) -> Resp {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: files\r\nConnection: close\r\nContent-Length: {}\r\n",
        declared.unwrap_or(body.len() as u64)
    );
    for (n, v) in headers {
        head.push_str(&format!("{n}: {v}\r\n"));
    }
    head.push_str("\r\n");
    s.write_all(head.as_bytes()).unwrap();
    if declared.is_none() {
        s.write_all(body).unwrap();
    }
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw);
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut lines = head.lines();
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_owned(), v.trim().to_owned()))
        .collect();
    Resp {
        status,
        headers,
        body: raw[split + 4..].to_vec(),
    }
}

fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

fn content(n: usize, seed: u8) -> Vec<u8> {
    (0..n)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

#[cfg(unix)]
fn mode(p: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

#[test]
fn upload_download_info_extend_and_dedup() {
    let srv = start(1, "");
    let data = content(300_000, 1);
    let up = request(
        srv.addr,
        "POST",
        "/file",
        &[("X-FS-TTL", "3600")],
        &data,
        None,
    );
    assert_eq!(up.status, 200, "{}", String::from_utf8_lossy(&up.body));
    let j = up.json();
    let id = j["id"].as_str().unwrap().to_owned();
    assert_eq!(id.len(), 44);
    let expires = j["expires"].as_f64().unwrap();
    assert!((expires - (now() + 3600.0)).abs() < 30.0, "{expires}");

    let down = request(srv.addr, "GET", &format!("/file/{id}"), &[], b"", None);
    assert_eq!(down.status, 200);
    assert_eq!(down.body, data);
    assert_eq!(
        down.header("content-type"),
        Some("application/octet-stream")
    );
    let exp = httpdate::parse_http_date(down.header("expires").unwrap()).unwrap();
    let exp_s = exp.duration_since(UNIX_EPOCH).unwrap().as_secs_f64();
    assert!((exp_s - expires).abs() < 1.5);

    let info = request(srv.addr, "GET", &format!("/file/{id}/info"), &[], b"", None);
    assert_eq!(info.status, 200);
    let i = info.json();
    assert_eq!(i["size"].as_u64(), Some(300_000));
    assert_eq!(i["expires"].as_f64(), Some(expires));
    assert!(i["uploaded"].as_f64().unwrap() <= expires);

    // Extend: further out, never in.
    let ext = request(
        srv.addr,
        "POST",
        &format!("/file/{id}/extend"),
        &[("X-FS-TTL", "7200")],
        b"",
        None,
    );
    assert_eq!(ext.status, 200);
    let e = ext.json();
    let extended = e["expires"].as_f64().unwrap();
    assert!(extended > expires + 3000.0);
    assert_eq!(e["size"].as_u64(), Some(300_000));
    let short = request(
        srv.addr,
        "POST",
        &format!("/file/{id}/extend"),
        &[("X-FS-TTL", "10")],
        b"",
        None,
    );
    assert_eq!(short.json()["expires"].as_f64(), Some(extended));

    // The same bytes again: the same id, no second copy, expiry kept at the max.
    let again = request(
        srv.addr,
        "POST",
        "/file",
        &[("X-FS-TTL", "60")],
        &data,
        None,
    );
    assert_eq!(again.status, 200);
    assert_eq!(again.json()["id"].as_str(), Some(id.as_str()));
    assert_eq!(again.json()["expires"].as_f64(), Some(extended));
    let stored: usize = walk(&srv.dir.path().join("data/files"));
    assert_eq!(stored, 1);

    // Errors, with the spec's codes and bodies.
    let missing = request(
        srv.addr,
        "GET",
        &format!("/file/{}", "B".repeat(44)),
        &[],
        b"",
        None,
    );
    assert_eq!(
        (missing.status, missing.json()),
        (404, serde_json::json!({"status_code": 404}))
    );
    assert_eq!(
        request(srv.addr, "GET", "/file/bad.id", &[], b"", None).status,
        404
    );
    assert_eq!(
        request(srv.addr, "GET", &format!("/file/{id}/info"), &[], b"", None).status,
        200
    );
    assert_eq!(
        request(srv.addr, "POST", "/file/12345/extend", &[], b"", None).status,
        404
    );
    let bad_ttl = request(
        srv.addr,
        "POST",
        "/file",
        &[("X-FS-TTL", "soon")],
        b"x",
        None,
    );
    assert_eq!(bad_ttl.status, 400);
    let too_long = request(
        srv.addr,
        "POST",
        "/file",
        &[("X-FS-TTL", "999999999")],
        b"x",
        None,
    );
    assert_eq!(too_long.status, 400);
    let empty = request(srv.addr, "POST", "/file", &[], b"", None);
    assert_eq!(
        (empty.status, empty.json()),
        (413, serde_json::json!({"status_code": 413}))
    );
    assert_eq!(
        request(srv.addr, "GET", "/file", &[], b"", None).status,
        405
    );

    // The data directory's shape.
    #[cfg(unix)]
    {
        let d = srv.dir.path().join("data");
        assert_eq!(mode(&d), 0o700);
        assert_eq!(mode(&d.join("identity.key")), 0o600);
        assert_eq!(mode(&d.join("files.db")), 0o600);
    }
}

fn walk(dir: &Path) -> usize {
    let mut n = 0;
    for e in std::fs::read_dir(dir).unwrap() {
        let p: PathBuf = e.unwrap().path();
        n += if p.is_dir() { walk(&p) } else { 1 };
    }
    n
}

#[test]
fn oversized_upload_is_refused_before_the_body() {
    let srv = start(2, "");
    // Only the headers are sent: the answer comes without waiting for the body.
    let resp = request(srv.addr, "POST", "/file", &[], b"", Some(10_223_617));
    assert_eq!(resp.status, 413);
    // The largest legal deterministic ciphertext is accepted.
    let big = content(10_223_616, 2);
    let ok = request(srv.addr, "POST", "/file", &[], &big, None);
    assert_eq!(ok.status, 200, "{}", String::from_utf8_lossy(&ok.body));
}

#[test]
fn a_full_quota_is_refused_with_507_and_a_message() {
    let srv = start(3, "quota_bytes = 1000");
    assert_eq!(
        request(srv.addr, "POST", "/file", &[], &content(800, 3), None).status,
        200
    );
    let full = request(srv.addr, "POST", "/file", &[], &content(800, 4), None);
    assert_eq!(full.status, 507);
    let j = full.json();
    assert_eq!(j["status_code"], 507);
    assert!(j["message"].as_str().unwrap().contains("quota"));
    // Nothing partial is left behind.
    assert_eq!(walk(&srv.dir.path().join("data/tmp")), 0);
}

#[test]
fn expired_files_answer_404_and_are_swept() {
    let srv = start(4, "sweep_interval_s = 1");
    let up = request(
        srv.addr,
        "POST",
        "/file",
        &[("X-FS-TTL", "1")],
        &content(1000, 5),
        None,
    );
    assert_eq!(up.status, 200);
    let id = up.json()["id"].as_str().unwrap().to_owned();
    sotto_testkit::net::wait_until("the file expires", Duration::from_secs(10), || {
        request(srv.addr, "GET", &format!("/file/{id}"), &[], b"", None).status == 404
    })
    .unwrap();
    assert_eq!(
        request(srv.addr, "GET", &format!("/file/{id}/info"), &[], b"", None).status,
        404
    );
    assert_eq!(
        request(
            srv.addr,
            "POST",
            &format!("/file/{id}/extend"),
            &[],
            b"",
            None
        )
        .status,
        404
    );
    let files = srv.dir.path().join("data/files");
    sotto_testkit::net::wait_until("the sweep deletes it", Duration::from_secs(10), || {
        walk(&files) == 0
    })
    .unwrap();
}

#[test]
fn requests_over_the_rate_limit_get_429() {
    let srv = start(5, "requests_per_s_per_ip = 1\nrequest_burst_per_ip = 3");
    let path = format!("/file/{}/info", "C".repeat(44));
    let statuses: Vec<u16> = (0..5)
        .map(|_| request(srv.addr, "GET", &path, &[], b"", None).status)
        .collect();
    assert_eq!(&statuses[..3], &[404, 404, 404]);
    assert!(statuses[3..].contains(&429), "{statuses:?}");
}

/// Wraps a v4 request as the exit node forwards it (layer JSON with the exit's routing
/// fields), encrypted to the server.
fn onion_body(server: &X25519PublicKey, req: &V4Request) -> (Vec<u8>, ResponseKey) {
    sotto_testkit::v4::exit_body(server, req).unwrap()
}

#[test]
fn onion_v4_requests_reach_the_same_routes() {
    let srv = start(6, "");
    let data = content(50_000, 6);
    let (body, key) = onion_body(
        &srv.x25519,
        &V4Request {
            method: "POST".into(),
            endpoint: "/file".into(),
            headers: vec![("X-FS-TTL".into(), "600".into())],
            body: Some(data.clone()),
        },
    );
    let resp = request(srv.addr, "POST", "/oxen/v4/lsrpc", &[], &body, None);
    assert_eq!(resp.status, 200);
    let v4 = key.open_v4(&resp.body).unwrap();
    assert_eq!(v4.code, 200);
    let j: serde_json::Value = serde_json::from_slice(v4.body.as_deref().unwrap()).unwrap();
    let id = j["id"].as_str().unwrap().to_owned();

    let (body, key) = onion_body(
        &srv.x25519,
        &V4Request {
            method: "GET".into(),
            endpoint: format!("/file/{id}"),
            headers: vec![],
            body: None,
        },
    );
    let resp = request(srv.addr, "POST", "/oxen/v4/lsrpc", &[], &body, None);
    let v4 = key.open_v4(&resp.body).unwrap();
    assert_eq!(v4.code, 200);
    assert_eq!(v4.body.as_deref(), Some(&data[..]));
    assert!(v4.headers.iter().any(|(n, _)| n == "expires"));
    assert!(
        v4.headers
            .iter()
            .all(|(n, _)| n == &n.to_ascii_lowercase() && n != "content-length")
    );
    // And over plain HTTP too: the same file.
    assert_eq!(
        request(srv.addr, "GET", &format!("/file/{id}"), &[], b"", None).body,
        data
    );

    // An unknown id, inside the onion: the server's 404, sealed.
    let (body, key) = onion_body(
        &srv.x25519,
        &V4Request {
            method: "GET".into(),
            endpoint: format!("/file/{}/info", "D".repeat(44)),
            headers: vec![],
            body: None,
        },
    );
    let v4 = key
        .open_v4(&request(srv.addr, "POST", "/oxen/v4/lsrpc", &[], &body, None).body)
        .unwrap();
    assert_eq!(v4.code, 404);
    // A layer for another key: plain 400.
    let other = X25519Keypair::generate(&mut sotto_crypto::OsRng);
    let (body, _) = onion_body(other.public_key(), &V4Request::default());
    let resp = request(srv.addr, "POST", "/oxen/v4/lsrpc", &[], &body, None);
    assert_eq!(resp.status, 400);
    // Garbage inside a good layer: an encrypted 400 "Invalid v4 onion request".
    let mut rng = sotto_crypto::OsRng;
    let eph = X25519Keypair::generate(&mut rng);
    let k = HopKey::for_client(EncType::AesGcm, &eph, &srv.x25519).unwrap();
    let body = OnionRequest {
        blob: k.encrypt(b"garbage", &mut rng).unwrap().into(),
        ephemeral_key: *eph.public_key(),
        enc_type: EncType::AesGcm,
        hop_no: 0,
    }
    .to_client_body()
    .unwrap();
    let resp = request(srv.addr, "POST", "/oxen/v4/lsrpc", &[], &body, None);
    let v4 = ResponseKey::new(k).open_v4(&resp.body).unwrap();
    assert_eq!(v4.code, 400);
    assert_eq!(v4.body.as_deref(), Some(&b"Invalid v4 onion request"[..]));
}
