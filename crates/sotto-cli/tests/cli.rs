//! Runs the real `sotto` binary against temporary data directories.

// The helpers below are test code too; clippy's test allowances only cover `#[test]` functions.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use image::{GrayImage, ImageFormat, Luma};
use qrcode::QrCode;
use serde_json::Value;

/// A `sotto` command isolated from the caller's environment, using `dir` as its data directory.
fn sotto(dir: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_sotto"));
    for var in [
        "SOTTO_PASSPHRASE",
        "SOTTO_PROFILE",
        "SOTTO_DATA_DIR",
        "XDG_DATA_HOME",
    ] {
        cmd.env_remove(var);
    }
    cmd.arg("--data-dir").arg(dir);
    cmd
}

/// Runs `cmd` with `stdin` as its standard input (empty if `None`).
fn run(cmd: &mut Command, stdin: Option<&str>) -> Output {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start sotto");
    let mut pipe = child.stdin.take().unwrap();
    if let Some(text) = stdin {
        // A command that fails before reading its input closes the pipe early; that is fine.
        match pipe.write_all(text.as_bytes()) {
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
            other => other.unwrap(),
        }
    }
    drop(pipe);
    child.wait_with_output().unwrap()
}

fn ok(output: &Output) -> &str {
    assert!(
        output.status.success(),
        "sotto failed: {}\n{}",
        String::from_utf8_lossy(&output.stderr),
        String::from_utf8_lossy(&output.stdout)
    );
    std::str::from_utf8(&output.stdout).unwrap()
}

fn json(output: &Output) -> Value {
    serde_json::from_str(ok(output)).unwrap()
}

fn failed(output: &Output) -> String {
    assert!(
        !output.status.success(),
        "expected failure, got: {}",
        ok(output)
    );
    assert_eq!(output.status.code(), Some(1));
    String::from_utf8(output.stderr.clone()).unwrap()
}

/// `account new --json` in `dir`, with extra arguments.
fn new_account(dir: &Path, extra: &[&str]) -> Value {
    json(&run(
        sotto(dir).args(["account", "new", "--json"]).args(extra),
        None,
    ))
}

#[test]
fn new_then_restore_from_printed_phrase_gives_same_id() {
    let tmp = tempfile::tempdir().unwrap();
    let png = tmp.path().join("id.png");
    let created = new_account(&tmp.path().join("a"), &["--qr-png", png.to_str().unwrap()]);
    let id = created["session_id"].as_str().unwrap();
    let phrase = created["recovery_phrase"].as_str().unwrap();
    assert!(id.starts_with("05") && id.len() == 66, "{id}");
    assert_eq!(phrase.split(' ').count(), 13);
    assert_eq!(created["encrypted"], false);
    assert_eq!(created["qr_png"], png.to_str().unwrap());
    assert_eq!(created["data_dir"], tmp.path().join("a").to_str().unwrap());

    let fresh = tmp.path().join("b");
    let restored = json(&run(
        sotto(&fresh).args(["account", "restore", "--json"]),
        Some(&format!("{phrase}\n")),
    ));
    assert_eq!(restored["session_id"], id);
    assert_eq!(restored["encrypted"], false);
    let shown = json(&run(sotto(&fresh).args(["id", "--json"]), None));
    assert_eq!(shown["session_id"], id);

    // The phrase as an argument works too, and text output is the bare ID.
    let third = tmp.path().join("c");
    ok(&run(
        sotto(&third).args(["account", "restore", phrase]),
        None,
    ));
    assert_eq!(ok(&run(sotto(&third).arg("id"), None)).trim(), id);
}

/// S-20: a phrase on the command line works, with a warning on stderr that it is visible in
/// `ps` and shell history; from standard input there is no warning; the help's examples never
/// put a phrase on the command line.
#[test]
fn a_phrase_on_the_command_line_is_warned_about() {
    let tmp = tempfile::tempdir().unwrap();
    let created = new_account(&tmp.path().join("a"), &[]);
    let phrase = created["recovery_phrase"].as_str().unwrap();

    let out = run(
        sotto(&tmp.path().join("b")).args(["account", "restore", phrase]),
        None,
    );
    ok(&out);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("warning") && err.contains("`ps`") && err.contains("shell history"),
        "{err}"
    );
    assert!(
        !err.contains(phrase),
        "the warning repeats the phrase: {err}"
    );

    let out = run(
        sotto(&tmp.path().join("c")).args(["account", "restore"]),
        Some(&format!("{phrase}\n")),
    );
    ok(&out);
    assert!(!String::from_utf8_lossy(&out.stderr).contains("warning"));

    let help = run(
        Command::new(env!("CARGO_BIN_EXE_sotto")).args(["account", "restore", "--help"]),
        None,
    );
    let help = ok(&help);
    let examples = help.split("Examples:").nth(1).unwrap();
    let examples: Vec<&str> = examples
        .lines()
        .filter(|l| l.trim_start().starts_with("sotto account restore"))
        .collect();
    assert!(!examples.is_empty(), "{help}");
    for line in examples {
        let after = line.split("sotto account restore").nth(1).unwrap();
        assert!(
            after
                .split_whitespace()
                .all(|w| w.starts_with('-') || w.starts_with('<') || w.ends_with(".txt")),
            "an example puts a phrase on the command line: {line}"
        );
    }
}

#[test]
fn qr_png_from_account_new_decodes_to_same_id() {
    let tmp = tempfile::tempdir().unwrap();
    let png = tmp.path().join("me.png");
    let created = new_account(&tmp.path().join("a"), &["--qr-png", png.to_str().unwrap()]);
    let id = created["session_id"].as_str().unwrap();

    let decoded = run(sotto(tmp.path()).args(["qr", "decode"]).arg(&png), None);
    assert_eq!(ok(&decoded).trim(), id);
    let decoded = json(&run(
        sotto(tmp.path()).args(["qr", "decode", "--json"]).arg(&png),
        None,
    ));
    assert_eq!(decoded["session_id"], id);

    // The same code as a JPEG, under a misleading name: the format is recognised by content.
    let jpeg = tmp.path().join("photo.png");
    image::open(&png)
        .unwrap()
        .to_rgb8()
        .save_with_format(&jpeg, ImageFormat::Jpeg)
        .unwrap();
    assert_eq!(
        ok(&run(
            sotto(tmp.path()).args(["qr", "decode"]).arg(&jpeg),
            None
        ))
        .trim(),
        id
    );

    // `sotto id --qr-png` writes an equivalent code.
    let again = tmp.path().join("again.png");
    ok(&run(
        sotto(&tmp.path().join("a"))
            .arg("id")
            .arg("--qr-png")
            .arg(&again),
        None,
    ));
    assert_eq!(
        ok(&run(
            sotto(tmp.path()).args(["qr", "decode"]).arg(&again),
            None
        ))
        .trim(),
        id
    );
}

#[test]
fn refuses_to_overwrite_without_force() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("a");
    let first = new_account(&dir, &[]);

    let err = failed(&run(sotto(&dir).args(["account", "new"]), None));
    assert!(
        err.contains(dir.join("account.json").to_str().unwrap()),
        "{err}"
    );
    assert!(err.contains("--force"), "{err}");
    let phrase = first["recovery_phrase"].as_str().unwrap();
    let err = failed(&run(sotto(&dir).args(["account", "restore"]), Some(phrase)));
    assert!(err.contains("--force"), "{err}");
    // Nothing changed.
    assert_eq!(
        json(&run(sotto(&dir).args(["id", "--json"]), None))["session_id"],
        first["session_id"]
    );

    let second = new_account(&dir, &["--force"]);
    assert_ne!(second["session_id"], first["session_id"]);
    assert_eq!(
        json(&run(sotto(&dir).args(["id", "--json"]), None))["session_id"],
        second["session_id"]
    );

    let restored = json(&run(
        sotto(&dir).args(["account", "restore", "--force", "--json"]),
        Some(phrase),
    ));
    assert_eq!(restored["session_id"], first["session_id"]);
}

#[test]
fn passphrase_round_trip() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("enc");
    let pass_file = tmp.path().join("pass.txt");
    std::fs::write(&pass_file, "correct horse\n").unwrap();

    let created = new_account(&dir, &["--passphrase-file", pass_file.to_str().unwrap()]);
    assert_eq!(created["encrypted"], true);
    let id = created["session_id"].as_str().unwrap();
    let phrase = created["recovery_phrase"].as_str().unwrap();

    // The seed is not in the file in clear; the ID is.
    let file = dir.join("account.json");
    let contents: Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    assert_eq!(contents["version"], 1);
    assert_eq!(contents["session_id"], id);
    assert_eq!(contents["seed"]["kdf"], "argon2id");
    for key in ["params", "salt", "nonce", "ciphertext"] {
        assert!(!contents["seed"][key].is_null(), "missing {key}");
    }

    // `id` and `account info` need no passphrase.
    assert_eq!(ok(&run(sotto(&dir).arg("id"), None)).trim(), id);
    let info = json(&run(sotto(&dir).args(["account", "info", "--json"]), None));
    assert_eq!(info["encrypted"], true);
    assert_eq!(info["kdf"]["m_cost_kib"], 65536);

    // The phrase needs it: by file, by environment variable; wrong or missing fails clearly.
    let show = |cmd: &mut Command, extra: &[&str]| {
        run(
            cmd.args(["account", "show-phrase", "--yes", "--json"])
                .args(extra),
            None,
        )
    };
    let by_file = json(&show(
        &mut sotto(&dir),
        &["--passphrase-file", pass_file.to_str().unwrap()],
    ));
    assert_eq!(by_file["recovery_phrase"], phrase);
    let by_env = json(&show(
        sotto(&dir).env("SOTTO_PASSPHRASE", "correct horse"),
        &[],
    ));
    assert_eq!(by_env["recovery_phrase"], phrase);
    let err = failed(&show(
        sotto(&dir).env("SOTTO_PASSPHRASE", "wrong horse"),
        &[],
    ));
    assert!(err.contains("wrong passphrase"), "{err}");
    let err = failed(&show(&mut sotto(&dir), &[]));
    assert!(
        err.contains("--passphrase-file") && err.contains("SOTTO_PASSPHRASE"),
        "{err}"
    );
    // Without --yes and without a terminal, it refuses rather than hangs.
    let err = failed(&run(
        sotto(&dir)
            .env("SOTTO_PASSPHRASE", "correct horse")
            .args(["account", "show-phrase"]),
        None,
    ));
    assert!(err.contains("--yes"), "{err}");

    // Restore with the passphrase from the environment encrypts too.
    let dir2 = tmp.path().join("enc2");
    let restored = json(&run(
        sotto(&dir2)
            .env("SOTTO_PASSPHRASE", "another")
            .args(["account", "restore", "--json"]),
        Some(phrase),
    ));
    assert_eq!(restored["session_id"], id);
    assert_eq!(restored["encrypted"], true);
    let shown = json(&show(sotto(&dir2).env("SOTTO_PASSPHRASE", "another"), &[]));
    assert_eq!(shown["recovery_phrase"], phrase);

    // --passphrase without a terminal or another source explains the alternatives.
    let err = failed(&run(
        sotto(&tmp.path().join("x")).args(["account", "new", "--passphrase"]),
        None,
    ));
    assert!(err.contains("--passphrase-file"), "{err}");

    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&file), 0o600);
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(mode(&dir2.join("account.json")), 0o600);
    }
}

#[test]
fn qr_decode_tells_no_code_from_wrong_content() {
    let tmp = tempfile::tempdir().unwrap();

    let blank = tmp.path().join("blank.png");
    GrayImage::from_fn(240, 240, |x, y| {
        Luma([if (x / 30 + y / 50) % 2 == 0 { 255 } else { 40 }])
    })
    .save(&blank)
    .unwrap();
    let err = failed(&run(
        sotto(tmp.path()).args(["qr", "decode"]).arg(&blank),
        None,
    ));
    assert!(err.contains("no QR code found"), "{err}");

    let other = tmp.path().join("url.png");
    QrCode::new(b"https://example.org/hello")
        .unwrap()
        .render::<Luma<u8>>()
        .min_dimensions(240, 240)
        .build()
        .save(&other)
        .unwrap();
    let err = failed(&run(
        sotto(tmp.path()).args(["qr", "decode"]).arg(&other),
        None,
    ));
    assert!(err.contains("is not a Session ID"), "{err}");
    assert!(err.contains("https://example.org/hello"), "{err}");

    let not_image = tmp.path().join("text.png");
    std::fs::write(&not_image, "hello").unwrap();
    let err = failed(&run(
        sotto(tmp.path()).args(["qr", "decode"]).arg(&not_image),
        None,
    ));
    assert!(err.contains("cannot read the image"), "{err}");
}

#[test]
fn restore_with_wrong_checksum_word_names_it() {
    let tmp = tempfile::tempdir().unwrap();
    let created = new_account(&tmp.path().join("a"), &[]);
    let phrase = created["recovery_phrase"].as_str().unwrap();
    let words: Vec<&str> = phrase.split(' ').collect();
    let checksum = words[12];
    // Another word of the phrase that cannot pass for the checksum word (which is compared by
    // its first three letters).
    let wrong = words[..12]
        .iter()
        .find(|w| w.get(..3) != checksum.get(..3))
        .expect("twelve words that all share the checksum word's prefix");
    let bad = format!("{} {wrong}", words[..12].join(" "));

    let err = failed(&run(
        sotto(&tmp.path().join("b")).args(["account", "restore"]),
        Some(&bad),
    ));
    assert!(err.contains("checksum"), "{err}");
    assert!(err.contains(&format!("\"{wrong}\"")), "{err}");
    assert!(!tmp.path().join("b/account.json").exists());

    let err = failed(&run(
        sotto(&tmp.path().join("b")).args(["account", "restore"]),
        Some(&format!("{} qqqqq", words[..12].join(" "))),
    ));
    assert!(err.contains("qqqqq"), "{err}");
}

#[test]
fn missing_account_says_what_to_do() {
    let tmp = tempfile::tempdir().unwrap();
    for args in [
        &["id"][..],
        &["account", "info"],
        &["account", "show-phrase", "--yes"],
    ] {
        let err = failed(&run(sotto(tmp.path()).args(args), None));
        assert!(err.contains("no account in"), "{err}");
        assert!(
            err.contains("sotto account new") && err.contains("sotto account restore"),
            "{err}"
        );
    }
}

#[test]
fn profile_selects_a_directory_under_xdg_data_home() {
    let tmp = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_sotto"));
    for var in ["SOTTO_PASSPHRASE", "SOTTO_PROFILE", "SOTTO_DATA_DIR"] {
        cmd.env_remove(var);
    }
    cmd.env("XDG_DATA_HOME", tmp.path())
        .env("SOTTO_PROFILE", "work");
    let created = json(&run(cmd.args(["account", "new", "--json"]), None));
    let expected = tmp.path().join("sotto").join("work");
    assert_eq!(created["data_dir"], expected.to_str().unwrap());
    assert!(expected.join("account.json").is_file());

    let err = failed(&run(
        Command::new(env!("CARGO_BIN_EXE_sotto"))
            .env_remove("SOTTO_DATA_DIR")
            .args(["--profile", "../escape", "id"]),
        None,
    ));
    assert!(err.contains("invalid profile name"), "{err}");
}

#[test]
fn help_teaches_with_examples() {
    let help = |args: &[&str]| {
        let out = run(
            Command::new(env!("CARGO_BIN_EXE_sotto"))
                .args(args)
                .arg("--help"),
            None,
        );
        ok(&out).to_owned()
    };
    assert!(help(&[]).contains("sotto account new"));
    for cmd in [
        &["account", "new"][..],
        &["account", "restore"],
        &["account", "show-phrase"],
        &["account", "info"],
        &["id"],
        &["qr", "decode"],
    ] {
        let text = help(cmd);
        assert!(
            text.contains("Example"),
            "no example in `sotto {} --help`:\n{text}",
            cmd.join(" ")
        );
        assert!(text.contains(&format!("sotto {}", cmd.join(" "))), "{text}");
    }
}

/// Issue 18: times are shown in the user's time zone (`TZ` honoured). A message sent a moment
/// ago (written into the client database by the same engine `sotto send` uses, so no network is
/// needed) is shown by `sotto read` at Kolkata's clock time (UTC+05:30, no daylight saving),
/// not UTC's; `--json` keeps the Unix milliseconds.
#[test]
fn read_shows_times_in_the_local_time_zone() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let created = new_account(dir, &["--no-qr"]);
    let phrase = created["recovery_phrase"].as_str().unwrap();
    let peer: sotto_identity::SessionId = format!("05{}", "ab".repeat(32)).parse().unwrap();
    let now_ms = u64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis(),
    )
    .unwrap();
    {
        let account = sotto_identity::Account::from_phrase(phrase).unwrap();
        let mut engine = sotto_client::Engine::open(&dir.join("client.db"), account).unwrap();
        engine
            .send_text(&peer, "namaste", None, now_ms, &mut rand_core::OsRng)
            .unwrap();
    }
    let peer = peer.to_string();
    let read = |tz: &str, json: bool| {
        let mut cmd = sotto(dir);
        cmd.env("TZ", tz).args(["read", &peer, "--offline"]);
        if json {
            cmd.arg("--json");
        }
        run(&mut cmd, None)
    };

    let history = json(&read("Asia/Kolkata", true));
    let sent_ms = history["messages"][0]["timestamp"].as_u64().unwrap();
    assert!(sent_ms.abs_diff(now_ms) < 60_000, "{history:#}");
    let clock = |offset_s: u64| {
        let minutes = (sent_ms / 1000 + offset_s) / 60 % 1440;
        format!("{:02}:{:02}", minutes / 60, minutes % 60)
    };
    let (kolkata, utc) = (clock(5 * 3600 + 1800), clock(0));

    let text = ok(&read("Asia/Kolkata", false)).to_owned();
    let line = text.lines().find(|l| l.contains("namaste")).unwrap_or("");
    assert!(
        line.contains(&kolkata),
        "expected {kolkata} (Kolkata): {text}"
    );
    assert!(!line.contains(&utc), "shows {utc} (UTC): {text}");
    assert!(!line.contains("Yesterday"), "{line}");

    let text = ok(&read("UTC", false)).to_owned();
    let line = text.lines().find(|l| l.contains("namaste")).unwrap_or("");
    assert!(line.contains(&utc), "expected {utc} (UTC): {text}");
}
