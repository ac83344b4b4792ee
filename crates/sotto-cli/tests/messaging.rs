//! The messaging commands that need no network, through the real `sotto` binary: contacts,
//! profile, settings, offline inbox/read/requests, argument resolution and the errors that say
//! what to do next.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::path::Path;
use std::process::{Command, Output, Stdio};

use serde_json::Value;

/// `sotto --root ROOT --profile PROFILE …`, isolated from the caller's environment.
fn sotto(root: &Path, profile: &str) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_sotto"));
    for var in [
        "SOTTO_PASSPHRASE",
        "SOTTO_PROFILE",
        "SOTTO_DATA_DIR",
        "SOTTO_ROOT",
        "SOTTO_NETWORK",
        "XDG_DATA_HOME",
    ] {
        cmd.env_remove(var);
    }
    cmd.arg("--root").arg(root).args(["--profile", profile]);
    cmd.stdin(Stdio::null());
    cmd
}

fn run(cmd: &mut Command, args: &[&str]) -> Output {
    cmd.args(args).output().expect("start sotto")
}

fn ok(output: &Output) -> String {
    assert!(
        output.status.success(),
        "sotto failed: {}\n{}",
        String::from_utf8_lossy(&output.stderr),
        String::from_utf8_lossy(&output.stdout)
    );
    String::from_utf8(output.stdout.clone()).unwrap()
}

fn json(output: &Output) -> Value {
    serde_json::from_str(&ok(output)).unwrap()
}

fn failed(output: &Output) -> String {
    assert_eq!(
        output.status.code(),
        Some(1),
        "expected exit status 1: {}",
        String::from_utf8_lossy(&output.stdout)
    );
    String::from_utf8(output.stderr.clone()).unwrap()
}

/// Creates the account of `profile` and returns its Session ID.
fn new_account(root: &Path, profile: &str) -> String {
    let created = json(&run(
        &mut sotto(root, profile),
        &["account", "new", "--json", "--no-qr"],
    ));
    created["session_id"].as_str().unwrap().to_owned()
}

fn id(byte: &str) -> String {
    format!("05{}", byte.repeat(32))
}

#[test]
fn contacts_add_list_block_unblock() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let me = new_account(root, "alice");
    let sotto = || sotto(root, "alice");

    let empty = ok(&run(&mut sotto(), &["contacts", "list"]));
    assert!(empty.contains("sotto contacts add"), "{empty}");
    assert_eq!(
        json(&run(&mut sotto(), &["contacts", "list", "--json"]))["contacts"],
        Value::Array(vec![])
    );

    let added = json(&run(
        &mut sotto(),
        &["contacts", "add", &id("ab"), "--name", "bob", "--json"],
    ));
    assert_eq!(added["action"], "added");
    assert_eq!(added["contact"]["session_id"], id("ab"));
    assert_eq!(added["contact"]["name"], "bob");
    assert_eq!(added["contact"]["approved"], true);
    assert_eq!(added["contact"]["blocked"], false);
    let text = ok(&run(
        &mut sotto(),
        &["contacts", "add", &id("cd"), "--name", "carol"],
    ));
    assert!(text.contains("Added carol"), "{text}");

    let list = json(&run(&mut sotto(), &["contacts", "list", "--json"]));
    let contacts = list["contacts"].as_array().unwrap();
    assert_eq!(contacts.len(), 2);
    for key in [
        "session_id",
        "name",
        "nickname",
        "profile_name",
        "approved",
        "approved_me",
        "blocked",
    ] {
        assert!(contacts[0].get(key).is_some(), "no {key} in {list}");
    }
    let text = ok(&run(&mut sotto(), &["contacts", "list"]));
    assert!(text.contains("bob") && text.contains(&id("cd")), "{text}");

    // Block by name, unblock by Session ID prefix.
    let blocked = json(&run(
        &mut sotto(),
        &["contacts", "block", "carol", "--json"],
    ));
    assert_eq!(blocked["action"], "blocked");
    assert_eq!(blocked["contact"]["blocked"], true);
    let text = ok(&run(&mut sotto(), &["contacts", "list"]));
    assert!(text.contains("blocked"), "{text}");
    let text = ok(&run(&mut sotto(), &["contacts", "unblock", "05cdcd"]));
    assert!(text.contains("Unblocked carol"), "{text}");
    let list = json(&run(&mut sotto(), &["contacts", "list", "--json"]));
    assert!(
        list["contacts"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["blocked"] == false)
    );

    // Bad input says what to do.
    let err = failed(&run(&mut sotto(), &["contacts", "add", "05xyz"]));
    assert!(
        err.contains("not a Session ID") && err.contains("66 hex"),
        "{err}"
    );
    let err = failed(&run(&mut sotto(), &["contacts", "add", &me]));
    assert!(err.contains("your own"), "{err}");
}

#[test]
fn contact_from_a_qr_code() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let bob = new_account(root, "bob");
    let png = root.join("bob.png");
    ok(&run(
        &mut sotto(root, "bob"),
        &["id", "--qr-png", png.to_str().unwrap()],
    ));
    new_account(root, "alice");
    let added = json(&run(
        &mut sotto(root, "alice"),
        &[
            "contacts",
            "add",
            "--qr-png",
            png.to_str().unwrap(),
            "--name",
            "bob",
            "--json",
        ],
    ));
    assert_eq!(added["contact"]["session_id"], bob);
}

#[test]
fn ambiguous_and_unknown_contacts() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    new_account(root, "alice");
    let sotto = || sotto(root, "alice");
    for (byte, name) in [("ab", "bob"), ("ac", "bobby"), ("cd", "carol")] {
        ok(&run(
            &mut sotto(),
            &["contacts", "add", &id(byte), "--name", name],
        ));
    }
    // A prefix of two names lists both candidates.
    let err = failed(&run(&mut sotto(), &["read", "bo", "--offline"]));
    assert!(
        err.contains("matches 2 contacts") && err.contains("bobby") && err.contains("05abab"),
        "{err}"
    );
    // A prefix of two Session IDs too.
    let err = failed(&run(&mut sotto(), &["contacts", "block", "05a"]));
    assert!(err.contains("matches 2 contacts"), "{err}");
    // An exact name wins over a longer one it prefixes; names ignore case.
    let text = ok(&run(&mut sotto(), &["contacts", "block", "BOB"]));
    assert!(text.contains("Blocked bob:"), "{text}");
    // Unknown names point to the list.
    let err = failed(&run(&mut sotto(), &["read", "dave", "--offline"]));
    assert!(err.contains("sotto contacts list"), "{err}");
    let err = failed(&run(
        &mut sotto(),
        &["settings", "disappearing", "dave", "off"],
    ));
    assert!(
        err.contains("no network file") || err.contains("sotto contacts list"),
        "{err}"
    );
}

#[test]
fn profile_and_settings() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let me = new_account(root, "alice");
    let sotto = || sotto(root, "alice");

    let shown = json(&run(&mut sotto(), &["profile", "show", "--json"]));
    assert_eq!(shown["session_id"], me);
    assert_eq!(shown["display_name"], Value::Null);
    assert_eq!(
        shown["database"],
        root.join("alice").join("client.db").to_str().unwrap()
    );
    let text = ok(&run(&mut sotto(), &["profile", "set-name", "Alice"]));
    assert!(text.contains("\"Alice\""), "{text}");
    let shown = json(&run(&mut sotto(), &["profile", "show", "--json"]));
    assert_eq!(shown["display_name"], "Alice");
    assert!(shown["profile_updated_s"].is_u64());
    assert!(root.join("alice").join("client.db").is_file());

    let settings = json(&run(&mut sotto(), &["settings", "--json"]));
    assert_eq!(settings["read_receipts"], false);
    assert_eq!(settings["typing_indicators"], false);
    assert_eq!(settings["display_name"], "Alice");
    assert_eq!(settings["default_disappearing"]["mode"], "off");
    let settings = json(&run(
        &mut sotto(),
        &["settings", "read-receipts", "on", "--json"],
    ));
    assert_eq!(settings["read_receipts"], true);
    ok(&run(&mut sotto(), &["settings", "typing", "on"]));
    let text = ok(&run(&mut sotto(), &["settings", "show"]));
    assert!(
        text.contains("Read receipts:      on") && text.contains("Typing indicators:  on"),
        "{text}"
    );
    ok(&run(&mut sotto(), &["settings", "typing", "off"]));
    assert_eq!(
        json(&run(&mut sotto(), &["settings", "--json"]))["typing_indicators"],
        false
    );

    // Usage errors exit with 2.
    let out = run(&mut sotto(), &["settings", "typing", "maybe"]);
    assert_eq!(out.status.code(), Some(2));
    let out = run(
        &mut sotto(),
        &["settings", "disappearing", "bob", "after-send"],
    );
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn offline_views_of_an_empty_profile() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    new_account(root, "alice");
    let sotto = || sotto(root, "alice");
    ok(&run(
        &mut sotto(),
        &["contacts", "add", &id("ab"), "--name", "bob"],
    ));

    let inbox = json(&run(&mut sotto(), &["inbox", "--offline", "--json"]));
    assert_eq!(inbox["conversations"], Value::Array(vec![]));
    assert_eq!(inbox["unread"], 0);
    assert_eq!(inbox["requests"], 0);
    assert_eq!(inbox["synced"], false);
    let text = ok(&run(&mut sotto(), &["inbox", "--offline"]));
    assert!(text.contains("No conversations yet"), "{text}");

    let history = json(&run(&mut sotto(), &["read", "bob", "--offline", "--json"]));
    assert_eq!(history["contact"]["name"], "bob");
    assert_eq!(history["messages"], Value::Array(vec![]));
    assert_eq!(history["is_request"], false);
    assert_eq!(history["disappearing"]["mode"], "off");

    let requests = json(&run(&mut sotto(), &["requests", "--offline", "--json"]));
    assert_eq!(requests["requests"], Value::Array(vec![]));
    let text = ok(&run(&mut sotto(), &["requests", "list", "--offline"]));
    assert!(text.contains("No message requests"), "{text}");

    // Declining what is not a request says so.
    let err = failed(&run(&mut sotto(), &["requests", "decline", "bob"]));
    assert!(err.contains("no message request from bob"), "{err}");

    // Deleting and clearing offline: nothing to delete yet, said in the same words as
    // elsewhere; clearing an empty conversation is no error.
    let err = failed(&run(&mut sotto(), &["delete", "bob", "last", "--offline"]));
    assert!(
        err.contains("there is no message in this conversation"),
        "{err}"
    );
    let cleared = json(&run(&mut sotto(), &["clear", "bob", "--offline", "--json"]));
    assert_eq!(cleared["action"], "cleared");
    assert_eq!(cleared["contact"], id("ab"));
    assert_eq!(cleared["messages"], Value::Array(vec![]));
    assert_eq!(cleared["swarm_pending"], 0);
    let text = ok(&run(&mut sotto(), &["clear", "bob", "--offline"]));
    assert!(
        text.contains("Cleared the conversation with bob (0 messages)"),
        "{text}"
    );
}

#[test]
fn network_commands_without_a_network_file_say_what_to_do() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    new_account(root, "alice");
    let missing = root.join("nowhere").join("network.json");
    for args in [
        &["send", &id("ab"), "hello"][..],
        &["sync"],
        &["inbox"],
        &["read", &id("ab")],
        &["requests"],
        &["listen"],
    ] {
        let err = failed(&run(
            sotto(root, "alice").arg("--network").arg(&missing),
            args,
        ));
        assert!(
            err.contains(&format!("no network file at {}", missing.display()))
                && err.contains("cargo xtask testnet")
                && err.contains("--network FILE"),
            "{args:?}: {err}"
        );
    }
    // The default path, relative to the working directory, and the environment variable.
    let err = failed(&run(sotto(root, "alice").current_dir(root), &["sync"]));
    assert!(err.contains("target/testnet/network.json"), "{err}");
    let err = failed(&run(
        sotto(root, "alice").env("SOTTO_NETWORK", &missing),
        &["sync"],
    ));
    assert!(err.contains(&missing.display().to_string()), "{err}");

    // A malformed file is named as such.
    let bad = root.join("bad.json");
    std::fs::write(&bad, "{\"directory\": 5}").unwrap();
    let err = failed(&run(
        sotto(root, "alice").arg("--network").arg(&bad),
        &["sync"],
    ));
    assert!(
        err.contains("network file") && err.contains("--network FILE"),
        "{err}"
    );
}

/// S-10: a text too large for the network is refused before anything is sent (here, before
/// the network file is even read), naming the limit and what to do; the exit code is 1.
#[test]
fn an_oversize_text_is_refused_before_anything_is_sent() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    new_account(root, "alice");
    let missing = root.join("nowhere").join("network.json");
    let text = "a".repeat(100_000);
    let err = failed(&run(
        sotto(root, "alice").arg("--network").arg(&missing),
        &["send", &id("ab"), &text],
    ));
    assert!(
        err.contains("too large")
            && err.contains("76800 bytes")
            && err.contains("as a file")
            && err.contains("100000 bytes")
            && !err.contains("no network file"),
        "{err}"
    );
}

#[test]
fn messaging_needs_an_account_first() {
    let tmp = tempfile::tempdir().unwrap();
    let err = failed(&run(
        &mut sotto(tmp.path(), "nobody"),
        &["contacts", "list"],
    ));
    assert!(err.contains("sotto account new"), "{err}");
}

#[test]
fn root_and_data_dir() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("root");
    let me = new_account(&root, "work");
    assert!(root.join("work").join("account.json").is_file());
    // SOTTO_ROOT selects the same place; --data-dir wins over both.
    let shown = Command::new(env!("CARGO_BIN_EXE_sotto"))
        .env_remove("SOTTO_DATA_DIR")
        .env("SOTTO_ROOT", &root)
        .args(["--profile", "work", "id"])
        .output()
        .unwrap();
    assert_eq!(ok(&shown).trim(), me);
    let elsewhere = tmp.path().join("elsewhere");
    let other = json(&run(
        sotto(&root, "work").arg("--data-dir").arg(&elsewhere),
        &["account", "new", "--json", "--no-qr"],
    ));
    assert_ne!(other["session_id"], me);
    assert!(elsewhere.join("account.json").is_file());
}

#[test]
fn messaging_help_has_examples() {
    for cmd in [
        &["contacts", "add"][..],
        &["contacts", "list"],
        &["contacts", "block"],
        &["send"],
        &["sync"],
        &["inbox"],
        &["read"],
        &["requests"],
        &["react"],
        &["unsend"],
        &["delete"],
        &["clear"],
        &["profile", "set-name"],
        &["settings"],
        &["settings", "disappearing"],
        &["listen"],
        &["chat"],
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_sotto"))
            .args(cmd)
            .arg("--help")
            .output()
            .unwrap();
        let text = ok(&out);
        assert!(
            text.contains("Example") && text.contains(&format!("sotto {}", cmd.join(" "))),
            "no example in `sotto {} --help`:\n{text}",
            cmd.join(" ")
        );
    }
}

#[test]
fn chat_needs_a_terminal() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    new_account(root, "alice");
    let err = failed(&run(&mut sotto(root, "alice"), &["chat", &id("ab")]));
    assert!(
        err.contains("needs a terminal") && err.contains("sotto send"),
        "{err}"
    );
}
