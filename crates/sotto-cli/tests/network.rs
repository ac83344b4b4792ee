//! The `sotto` binary against a real 7-node testnet (subnet 66): a message request, its
//! acceptance, a reply, a reaction and an unsend, each command a separate process talking
//! through onion paths.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::process::Command;
use std::time::Duration;

use serde_json::Value;

mod common;
use common::Net;
use sotto_testkit::net::wait_until;

const SUBNET: u8 = 66;

/// The guards `PROFILE/guards.json` holds (a private file), as Ed25519 hex keys.
fn guard_keys(net: &Net, profile: &str) -> Vec<String> {
    let path = net.root().join(profile).join("guards.json");
    let mode = std::fs::metadata(&path).unwrap().permissions();
    assert_eq!(
        std::os::unix::fs::PermissionsExt::mode(&mode) & 0o777,
        0o600
    );
    let file: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    file["guards"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["ed25519"].as_str().unwrap().to_owned())
        .collect()
}

/// Every route's first hop is one of `guards`.
fn check_guards(route: &Value, guards: &[String]) {
    for t in route.as_array().into_iter().flatten() {
        let first = t["path"][0]["ed25519"].as_str().unwrap();
        assert!(
            guards.iter().any(|g| g == first),
            "{t:#} not via {guards:?}"
        );
    }
}

fn messages(history: &Value) -> &Vec<Value> {
    history["messages"].as_array().unwrap()
}

fn check_route(route: &Value) {
    let stores: Vec<&Value> = route
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["method"] == "store")
        .collect();
    assert!(!stores.is_empty(), "no store in the route {route:#}");
    for t in stores {
        assert_eq!(t["path"].as_array().unwrap().len(), 3, "{t:#}");
        let prefix = format!("127.{SUBNET}.0.");
        assert!(
            t["target"]["addr"].as_str().unwrap().starts_with(&prefix),
            "{t:#}"
        );
        assert_eq!(t["target"]["ed25519"].as_str().unwrap().len(), 64, "{t:#}");
    }
}

#[test]
fn request_accept_reply_react_unsend() {
    let net = Net::start(SUBNET, 7, false);
    let alice = net.json("alice", &["account", "new", "--no-qr"])["session_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let bob = net.json("bob", &["account", "new", "--no-qr"])["session_id"]
        .as_str()
        .unwrap()
        .to_owned();
    net.ok("alice", &["profile", "set-name", "Alice"]);
    net.ok("bob", &["profile", "set-name", "Bob"]);
    net.ok("alice", &["contacts", "add", &bob, "--name", "bob"]);

    // Alice writes first: stored in bob's swarm, with the route it took.
    let sent = net.json("alice", &["send", "bob", "hello", "bob"]);
    assert_eq!(sent["state"], "stored", "{sent:#}");
    assert!(sent["stored"].as_u64().unwrap() >= 1, "{sent:#}");
    assert!(sent["of"].as_u64().unwrap() >= sent["stored"].as_u64().unwrap());
    assert_eq!(sent["to"], bob);
    assert_eq!(sent["sync_copy"]["state"], "stored", "{sent:#}");
    check_route(&sent["route"]);
    let hello = sent["id"].as_i64().unwrap();
    // Her guards are kept in her profile: every later run goes through the same two.
    let alice_guards = guard_keys(&net, "alice");
    assert_eq!(alice_guards.len(), 2, "{alice_guards:?}");
    check_guards(&sent["route"], &alice_guards);

    // Bob sees a message request from Alice (named by her profile name).
    let requests = net.json_until("bob", None, &["requests"], |r| {
        !r["requests"].as_array().unwrap().is_empty()
    });
    let request = &requests["requests"][0];
    assert_eq!(request["session_id"], alice);
    assert_eq!(request["name"], "Alice");
    assert_eq!(request["is_request"], true);
    assert_eq!(request["last_message"]["text"], "hello bob");

    // Bob accepts and replies; the human output shows the state and the route.
    let accepted = net.json("bob", &["requests", "accept", "Alice"]);
    assert_eq!(accepted["action"], "accepted");
    assert_eq!(accepted["contact"]["approved"], true);
    let reply = net.ok(
        "bob",
        &["send", "alice", "hi", "alice", "--reply-to", "last"],
    );
    eprintln!("$ sotto --profile bob send alice hi alice --reply-to last\n{reply}");
    assert!(reply.contains("→ Alice: stored on"), "{reply}");
    assert!(reply.contains("nodes of Alice's swarm"), "{reply}");
    assert!(
        reply.contains(&format!("via guard 127.{SUBNET}.0."))
            && reply.contains(&format!("→ swarm node 127.{SUBNET}.0.")),
        "{reply}"
    );

    // Alice reads the reply, which quotes her message.
    let history = net.json_until("alice", None, &["read", "bob"], |h| {
        messages(h).iter().any(|m| m["text"] == "hi alice")
    });
    let mine = messages(&history)
        .iter()
        .find(|m| m["id"] == hello)
        .unwrap();
    assert_eq!(mine["state"], "stored");
    assert_eq!(mine["outgoing"], true);
    let theirs = messages(&history)
        .iter()
        .find(|m| m["text"] == "hi alice")
        .unwrap();
    assert_eq!(theirs["from"], bob);
    assert_eq!(theirs["quote"]["id"], hello);
    assert_eq!(theirs["quote"]["text"], "hello bob");
    assert_eq!(history["is_request"], false);
    let text = net.ok("alice", &["read", "bob", "--offline"]);
    assert!(
        text.contains("bob: hi alice") && text.contains("↳ replying to #"),
        "{text}"
    );

    // Alice reacts to the reply and unsends her first message; Bob sees both.
    let reacted = net.json("alice", &["react", "bob", "last", "👍"]);
    assert_eq!(reacted["action"], "reacted");
    check_route(&reacted["route"]);
    let unsent = net.json("alice", &["unsend", "bob", &format!("#{hello}")]);
    assert_eq!(unsent["message"], hello);
    check_guards(&reacted["route"], &alice_guards);
    check_guards(&unsent["route"], &alice_guards);
    assert_eq!(guard_keys(&net, "alice"), alice_guards);
    let history = net.json_until("bob", None, &["read", "Alice"], |h| {
        let reacted = messages(h)
            .iter()
            .any(|m| m["text"] == "hi alice" && m["reactions"][0]["emoji"] == "👍");
        let unsent = messages(h)
            .iter()
            .any(|m| m["from"] == alice && m["state"] == "deleted" && m["text"].is_null());
        reacted && unsent
    });
    let reaction = &messages(&history)
        .iter()
        .find(|m| m["text"] == "hi alice")
        .unwrap()["reactions"][0];
    assert_eq!(reaction["from"], alice);
    let text = net.ok("bob", &["read", "Alice", "--offline"]);
    eprintln!("$ sotto --profile bob read Alice --offline\n{text}");
    assert!(
        text.contains("(unsent)") && text.contains("👍 Alice"),
        "{text}"
    );

    // `listen` prints Alice's next message as a JSON line, and stops cleanly on Ctrl-C.
    let mut listen = net.spawn("bob", &["listen", "--events"]);
    let (lines_tx, lines) = std::sync::mpsc::channel();
    let stdout = listen.stdout.take().unwrap();
    std::thread::spawn(move || {
        use std::io::BufRead as _;
        for line in std::io::BufReader::new(stdout).lines() {
            if lines_tx.send(line.unwrap()).is_err() {
                break;
            }
        }
    });
    // Its first poll may predate the message, or not: wait until it is up before sending.
    let mut seen = Vec::new();
    let sent = net.json("alice", &["send", "bob", "still", "there?"]);
    assert_eq!(sent["state"], "stored");
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    let message = loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        let line = lines
            .recv_timeout(left)
            .unwrap_or_else(|_| panic!("no message from `sotto listen`; got {seen:#?}"));
        let value: Value = serde_json::from_str(&line).unwrap();
        if value["event"] == "message" && value["text"] == "still there?" {
            break value;
        }
        seen.push(value);
    };
    assert_eq!(message["from"], alice);
    assert_eq!(message["display_name"], "Alice");
    assert_eq!(message["is_request"], false);
    assert!(message["id"].is_i64() && message["timestamp"].is_u64());
    assert!(message.get("quote").is_some());
    let interrupted = Command::new("kill")
        .args(["-INT", &listen.id().to_string()])
        .status()
        .unwrap();
    assert!(interrupted.success());
    let mut status = None;
    wait_until("`sotto listen` to exit", Duration::from_secs(10), || {
        status = listen.try_wait().unwrap();
        status.is_some()
    })
    .unwrap();
    assert!(status.unwrap().success(), "{status:?}");

    // Bob's inbox lists Alice as a contact with nothing unread.
    let started = std::time::Instant::now();
    let synced = net.ok("bob", &["sync", "-v"]);
    eprintln!(
        "$ sotto --profile bob sync -v ({:?})\n{synced}",
        started.elapsed()
    );
    assert!(synced.contains("retrieve via guard"), "{synced}");
    let inbox = net.json("bob", &["inbox", "--offline"]);
    assert_eq!(inbox["requests"], 0);
    assert_eq!(inbox["conversations"][0]["session_id"], alice);
    // The message `listen` printed is unread.
    assert_eq!(inbox["conversations"][0]["unread"], 1);
}
