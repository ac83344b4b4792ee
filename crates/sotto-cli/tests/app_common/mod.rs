//! What the `sotto app` tests share: the app as a process, plain HTTP/1.1 requests over a
//! socket, and a minimal WebDriver client for headless Chromium (chromedriver).

#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use base64::Engine as _;
use serde_json::{Value, json};
use sotto_testkit::net::wait_until;

/// A running `sotto app`; killed when dropped.
pub struct AppProcess {
    pub child: Child,
    /// The address it printed (with the token).
    pub url: String,
    pub port: u16,
    pub token: String,
}

impl Drop for AppProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl AppProcess {
    /// Starts `sotto --root ROOT --network NETWORK --profile PROFILE app --no-open` and reads
    /// the address it prints.
    pub fn start(root: &Path, network: &Path, profile: &str) -> Self {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_sotto"));
        for var in [
            "SOTTO_PASSPHRASE",
            "SOTTO_PROFILE",
            "SOTTO_DATA_DIR",
            "SOTTO_ROOT",
            "SOTTO_NETWORK",
        ] {
            cmd.env_remove(var);
        }
        let mut child = cmd
            .arg("--root")
            .arg(root)
            .arg("--network")
            .arg(network)
            .args(["--profile", profile, "app", "--no-open"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start sotto app");
        let mut out = BufReader::new(child.stdout.take().unwrap());
        let mut url = String::new();
        let mut line = String::new();
        while out.read_line(&mut line).unwrap() > 0 {
            if let Some(at) = line.find("http://127.0.0.1:") {
                url = line[at..].trim().to_owned();
                break;
            }
            line.clear();
        }
        assert!(!url.is_empty(), "sotto app printed no address");
        // Keep draining its output so it never blocks on a full pipe.
        std::thread::spawn(move || {
            let mut sink = String::new();
            let _ = out.read_to_string(&mut sink);
        });
        let rest = url.trim_start_matches("http://127.0.0.1:");
        let port: u16 = rest.split('/').next().unwrap().parse().unwrap();
        let token = url.split("token=").nth(1).unwrap().to_owned();
        Self {
            child,
            url,
            port,
            token,
        }
    }
}

/// An HTTP answer.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Answer {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// One HTTP/1.1 request to 127.0.0.1:`port` with exactly these headers (Host included when
/// given), and the answer (the connection is closed after it).
pub fn request(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Answer {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut head = format!("{method} {path} HTTP/1.1\r\nConnection: close\r\n");
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    if !body.is_empty() || method == "POST" {
        head.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    head.push_str("\r\n");
    s.write_all(head.as_bytes()).unwrap();
    s.write_all(body).unwrap();
    // Read the head, then exactly the body (a server may keep the connection open).
    let mut raw = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        let n = s.read(&mut buf).unwrap();
        raw.extend_from_slice(&buf[..n]);
        if n == 0 || complete(&raw) {
            break;
        }
    }
    parse_answer(&raw)
}

/// Whether `raw` holds a whole answer (by Content-Length, or the last chunk).
fn complete(raw: &[u8]) -> bool {
    let Some(end) = raw.windows(4).position(|w| w == b"\r\n\r\n") else {
        return false;
    };
    let head = String::from_utf8_lossy(&raw[..end]).to_ascii_lowercase();
    let body = raw.len() - end - 4;
    if let Some(len) = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse::<usize>().ok())
    {
        return body >= len;
    }
    if head.contains("transfer-encoding: chunked") {
        return raw.ends_with(b"0\r\n\r\n");
    }
    false
}

fn parse_answer(raw: &[u8]) -> Answer {
    let text = String::from_utf8_lossy(raw);
    let (head, rest) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let mut lines = head.lines();
    let status: u16 = lines
        .next()
        .unwrap()
        .split_whitespace()
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect();
    let chunked = headers
        .iter()
        .any(|(k, v)| k.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked"));
    let body = if chunked {
        dechunk(rest)
    } else {
        rest.to_owned()
    };
    Answer {
        status,
        headers,
        body,
    }
}

fn dechunk(mut rest: &str) -> String {
    let mut out = String::new();
    while let Some((size, tail)) = rest.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 {
            break;
        }
        out.push_str(&tail[..n.min(tail.len())]);
        rest = tail.get(n + 2..).unwrap_or("");
    }
    out
}

/// A free port on 127.0.0.1 (for chromedriver).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Where screenshots go: the workspace's `target/app-screenshots/`.
pub fn screenshot_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/app-screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A chromedriver process and one headless Chromium session.
pub struct Browser {
    driver: Child,
    port: u16,
    session: String,
    _profile: tempfile::TempDir,
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.call("DELETE", "", None);
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

fn find_program(names: &[&str]) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    for dir in std::env::split_paths(&path) {
        for name in names {
            let p = dir.join(name);
            if p.is_file() {
                return Some(p);
            }
        }
    }
    None
}

impl Browser {
    /// Starts chromedriver and a headless Chromium (installed from the distribution's
    /// packages: `apt-get install chromium chromium-driver`; CI installs them).
    pub fn start() -> Self {
        let driver_bin = find_program(&["chromedriver"]).expect(
            "chromedriver is not installed: `apt-get install -y chromium chromium-driver` \
             (cargo xtask ci installs it)",
        );
        let chrome = find_program(&["chromium", "chromium-browser", "google-chrome"])
            .expect("chromium is not installed: `apt-get install -y chromium chromium-driver`");
        let port = free_port();
        let driver = Command::new(driver_bin)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        wait_until("chromedriver listens", Duration::from_secs(20), || {
            TcpStream::connect(("127.0.0.1", port)).is_ok()
        })
        .unwrap();
        let profile = tempfile::tempdir().unwrap();
        let mut browser = Self {
            driver,
            port,
            session: String::new(),
            _profile: profile,
        };
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": chrome.to_string_lossy(),
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu",
                    "--disable-dev-shm-usage", "--window-size=1280,860",
                    format!("--user-data-dir={}", browser._profile.path().display()),
                ]
            }
        }}});
        let answer = browser.raw("POST", "/session", Some(&caps));
        browser.session = answer["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no WebDriver session: {answer}"))
            .to_owned();
        browser
    }

    fn raw(&self, method: &str, path: &str, body: Option<&Value>) -> Value {
        let body = body.map(Value::to_string).unwrap_or_default();
        let host = format!("127.0.0.1:{}", self.port);
        let answer = request(
            self.port,
            method,
            path,
            &[("Host", &host), ("Content-Type", "application/json")],
            body.as_bytes(),
        );
        serde_json::from_str(&answer.body)
            .unwrap_or_else(|_| panic!("WebDriver answered {}: {}", answer.status, answer.body))
    }

    fn call(&self, method: &str, path: &str, body: Option<&Value>) -> Value {
        let answer = self.raw(method, &format!("/session/{}{path}", self.session), body);
        if let Some(error) = answer["value"].get("error") {
            panic!(
                "WebDriver {method} {path}: {error} {}",
                answer["value"]["message"]
            );
        }
        answer["value"].clone()
    }

    /// Opens `url`.
    pub fn go(&self, url: &str) {
        self.call("POST", "/url", Some(&json!({"url": url})));
    }

    /// Runs `script` (with `arguments`) in the page; its return value.
    pub fn js(&self, script: &str, args: Value) -> Value {
        self.call(
            "POST",
            "/execute/sync",
            Some(&json!({"script": script, "args": args})),
        )
    }

    /// The element `css` selects, if any.
    pub fn find(&self, css: &str) -> Option<String> {
        let answer = self.raw(
            "POST",
            &format!("/session/{}/element", self.session),
            Some(&json!({"using": "css selector", "value": css})),
        );
        answer["value"]
            .as_object()
            .and_then(|o| o.values().next())
            .and_then(Value::as_str)
            .map(str::to_owned)
    }

    /// Waits (up to `secs`) until `css` selects an element; returns it.
    pub fn wait_for(&self, css: &str, secs: u64) -> String {
        let mut found = None;
        let what = format!("the page to show {css}");
        let ok = wait_until(&what, Duration::from_secs(secs), || {
            found = self.find(css);
            found.is_some()
        });
        if ok.is_err() {
            self.screenshot("failure");
            panic!("{what}; page text: {}", self.text("body"));
        }
        found.unwrap()
    }

    /// Waits (up to `secs`) until `script` returns true.
    pub fn wait_js(&self, what: &str, script: &str, secs: u64) {
        let ok = wait_until(what, Duration::from_secs(secs), || {
            self.js(script, json!([])) == Value::Bool(true)
        });
        if ok.is_err() {
            self.screenshot("failure");
            panic!("waiting for {what}; page text: {}", self.text("body"));
        }
    }

    /// Clicks the element `css` selects (waiting for it).
    pub fn click(&self, css: &str) {
        let el = self.wait_for(css, 20);
        self.call("POST", &format!("/element/{el}/click"), Some(&json!({})));
    }

    /// Types `text` into the element `css` selects (for a file input: a path).
    pub fn type_into(&self, css: &str, text: &str) {
        let el = self.wait_for(css, 20);
        self.call(
            "POST",
            &format!("/element/{el}/value"),
            Some(&json!({"text": text})),
        );
    }

    /// The visible text of the element `css` selects ("" when none).
    pub fn text(&self, css: &str) -> String {
        self.js(
            "const e = document.querySelector(arguments[0]); return e ? e.innerText : '';",
            json!([css]),
        )
        .as_str()
        .unwrap_or("")
        .to_owned()
    }

    /// Saves a PNG screenshot as `target/app-screenshots/NAME.png`.
    pub fn screenshot(&self, name: &str) {
        let Some(data) = self.raw(
            "GET",
            &format!("/session/{}/screenshot", self.session),
            None,
        )["value"]
            .as_str()
            .map(str::to_owned)
        else {
            return;
        };
        let png = base64::engine::general_purpose::STANDARD
            .decode(data)
            .unwrap();
        std::fs::write(screenshot_dir().join(format!("{name}.png")), png).unwrap();
    }
}
