//! The `sotto` binary in a community (subnet 245: 5 nodes and a community server with the
//! room `lobby`): two profiles join by the testnet's link, post, read, react, unsend and DM,
//! each command a separate process talking through onion paths.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::time::Duration;

use serde_json::Value;

mod common;
use common::Net;

const SUBNET: u8 = 245;

#[test]
fn two_profiles_chat_in_the_lobby() {
    let net = Net::start(SUBNET, 5, true);
    let link = net.tn.community_link.clone().unwrap();
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
