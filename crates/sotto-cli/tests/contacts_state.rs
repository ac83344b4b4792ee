//! `sotto contacts pin/unpin/hide/unhide/remove` through the real binary, offline: each says
//! what it did (text and `--json`), and removal forgets the contact.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::path::Path;
use std::process::{Command, Output, Stdio};

use serde_json::Value;

fn sotto(root: &Path) -> Command {
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
    cmd.arg("--root").arg(root).args(["--profile", "alice"]);
    cmd.stdin(Stdio::null());
    cmd
}

fn run(root: &Path, args: &[&str]) -> Output {
    sotto(root).args(args).output().expect("start sotto")
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

#[test]
fn pin_hide_and_remove_a_contact() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    ok(&run(root, &["account", "new", "--json", "--no-qr"]));
    let bob = format!("05{}", "ab".repeat(32));
    ok(&run(root, &["contacts", "add", &bob, "--name", "bob"]));

    let pinned = json(&run(root, &["contacts", "pin", "bob", "--json"]));
    assert_eq!(pinned["action"], "pinned");
    assert_eq!(pinned["contact"]["session_id"], bob.as_str());
    let text = ok(&run(root, &["contacts", "unpin", "bob"]));
    assert!(text.contains("no longer pinned"), "{text}");
    let text = ok(&run(root, &["contacts", "hide", "bob"]));
    assert!(text.contains("hidden until a new message"), "{text}");
    assert_eq!(
        json(&run(root, &["contacts", "unhide", "bob", "--json"]))["action"],
        "unhidden"
    );

    let removed = json(&run(root, &["contacts", "remove", "bob", "--json"]));
    assert_eq!(removed["action"], "removed");
    let list = json(&run(root, &["contacts", "list", "--json"]));
    assert_eq!(list["contacts"], Value::Array(vec![]));
    let again = run(root, &["contacts", "remove", &bob]);
    assert_eq!(again.status.code(), Some(1));

    let help = ok(&run(root, &["contacts", "--help"]));
    for command in ["pin", "unpin", "hide", "unhide", "remove"] {
        assert!(help.contains(command), "{help}");
    }
}
