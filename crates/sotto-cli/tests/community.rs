//! The `sotto` binary in a community (subnet 245: 5 nodes and a community server with the
//! room `lobby`): two profiles join by the testnet's link, post, read, react, unsend and DM,
//! each command a separate process talking through onion paths.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::process::{Command, Output, Stdio};
use std::time::Duration;

use serde_json::Value;
use sotto_testkit::net::{Testnet, TestnetConfig};

const SUBNET: u8 = 245;

struct Net {
    tn: Testnet,
    dir: tempfile::TempDir,
}

impl Drop for Net {
    fn drop(&mut self) {
        if std::thread::panicking() || std::env::var_os("SOTTO_TEST_LOGS").is_some() {
            eprintln!("{}", self.tn.logs_tail(60));
        }
    }
}

impl Net {
    fn sotto(&self, profile: &str, args: &[&str]) -> Output {
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
        cmd.arg("--root")
            .arg(self.dir.path())
            .arg("--network")
            .arg(self.dir.path().join("network.json"))
            .args(["--profile", profile])
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("start sotto")
    }

    fn ok(&self, profile: &str, args: &[&str]) -> String {
        let out = self.sotto(profile, args);
        assert!(
            out.status.success(),
            "`sotto --profile {profile} {}` failed: {}{}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr),
            String::from_utf8_lossy(&out.stdout)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    fn json(&self, profile: &str, args: &[&str]) -> Value {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        serde_json::from_str(&self.ok(profile, &all)).unwrap()
    }
}

#[test]
fn two_profiles_chat_in_the_lobby() {
    let bin_dir = sotto_testkit::net::community_binary().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = TestnetConfig::new(dir.path().join("net"), bin_dir);
    cfg.nodes = 5;
    cfg.subnet = SUBNET;
    cfg.port = 20_000 + u16::try_from(std::process::id() % 20_000).unwrap();
    cfg.proof_interval_s = 1;
    cfg.decommission_after_s = 60;
    let mut tn = Testnet::start(cfg).unwrap();
    tn.start_community_server("").unwrap();
    tn.wait_ready(Duration::from_secs(60)).unwrap();
    std::fs::write(
        dir.path().join("network.json"),
        tn.network_file().to_string(),
    )
    .unwrap();
    let link = tn.community_link.clone().unwrap();
    let net = Net { tn, dir };
    net.json("alice", &["account", "new", "--no-qr"]);
    net.json("bob", &["account", "new", "--no-qr"]);

    // Joining may have to wait for the nodes to list each other.
    sotto_testkit::net::wait_until("alice joins the lobby", Duration::from_secs(60), || {
        net.sotto("alice", &["community", "join", &link])
            .status
            .success()
    })
    .unwrap();
    let joined = net.json("bob", &["community", "join", &link]);
    let room = joined["joined"]["room"].as_str().unwrap().to_owned();
    assert!(room.ends_with("/lobby"), "{joined}");
    let list = net.json("bob", &["community", "list"]);
    assert_eq!(list[0]["link"], Value::String(link.clone()));

    let posted = net.json("alice", &["send", "/lobby", "hello", "from", "alice"]);
    let id = posted["id"].as_i64().unwrap().to_string();
    net.json("bob", &["send", &room, "hi alice", "--reply-to", &id]);
    net.json("bob", &["react", "/lobby", &id, "👍"]);
    let read = net.json("alice", &["read", "/lobby"]);
    let messages = read["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 2, "{read}");
    assert_eq!(messages[0]["text"], "hello from alice");
    assert_eq!(messages[0]["reactions"]["👍"]["count"], 1);
    assert_eq!(messages[1]["text"], "hi alice");
    let bob_blinded = messages[1]["sender"].as_str().unwrap().to_owned();
    let text = net.ok("alice", &["read", "/lobby", "--offline"]);
    assert!(
        text.contains("hello from alice") && text.contains("👍 1"),
        "{text}"
    );

    // Bob unsends his reply; alice's next read shows it deleted.
    net.json("bob", &["unsend", "/lobby", "last"]);
    let read = net.json("alice", &["read", "/lobby"]);
    assert_eq!(read["messages"][1]["deleted"], true);

    // A DM and its answer.
    net.json(
        "alice",
        &["community", "dm", "/lobby", &bob_blinded, "psst"],
    );
    let dms = net.json("bob", &["community", "dms", "/lobby"]);
    assert_eq!(dms[0]["text"], "psst", "{dms}");
    let alice_blinded = dms[0]["peer"].as_str().unwrap().to_owned();
    net.json(
        "bob",
        &["community", "dm", "/lobby", &alice_blinded, "hi back"],
    );
    let dms = net.json("alice", &["community", "dms", "/lobby"]);
    assert_eq!(dms.as_array().unwrap().len(), 2, "{dms}");
    assert_eq!(dms[1]["text"], "hi back");

    // Not a moderator: bob may not ban alice.
    let out = net.sotto("bob", &["community", "ban", "/lobby", &alice_blinded]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("403"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Leaving forgets the room.
    net.ok("bob", &["community", "leave", "/lobby"]);
    assert_eq!(
        net.json("bob", &["community", "list"]),
        serde_json::json!([])
    );
    let out = net.sotto("bob", &["read", "/lobby", "--offline"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("no joined room"));
}
