//! The `sotto` binary in a closed group (subnet 41: 5 nodes): Alice creates a group with Bob
//! and Carol (printing its 03… ID), they see the invitation in `sotto requests` and accept
//! (Bob declines a second group's),
//! everyone sends and reads by the group's name, reacts and unsends, and Alice renames the
//! group and removes Carol. Each command is a separate process talking through onion paths.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;
use common::Net;

const SUBNET: u8 = 41;

fn new_profile(net: &Net, name: &str) -> String {
    let created = net.json(name, &["account", "new", "--no-qr"]);
    created["session_id"].as_str().unwrap().to_owned()
}

#[test]
fn three_profiles_in_a_group() {
    let net = Net::start(SUBNET, 5, false);
    let _alice = new_profile(&net, "alice");
    let bob = new_profile(&net, "bob");
    let carol = new_profile(&net, "carol");

    let created = net.json("alice", &["group", "create", "Book club", &bob, &carol]);
    let id = created["group"]["id"].as_str().unwrap().to_owned();
    assert!(id.starts_with("03") && id.len() == 66, "{created}");
    assert_eq!(created["group"]["members"].as_array().unwrap().len(), 3);
    // Without --json the ID alone is printed.
    let plain = net.ok("alice", &["group", "create", "Second", &bob]);
    assert!(
        plain.trim().starts_with("03") && plain.trim().len() == 66,
        "{plain}"
    );

    // Bob sees the invitation as a request and accepts it by name.
    net.json_until("bob", None, &["requests"], |v| {
        v["groups"]
            .as_array()
            .is_some_and(|g| g.iter().any(|i| i["name"] == "Book club"))
    });
    let joined = net.json("bob", &["requests", "accept", "Book club"]);
    assert_eq!(joined["group"]["id"], id.as_str(), "{joined}");
    // And declines the second group's.
    net.json("bob", &["requests", "decline", "Second"]);
    let text = net.ok("bob", &["requests", "--offline"]);
    assert!(
        !text.contains("Book club") && !text.contains("Second"),
        "{text}"
    );

    // Carol accepts by ID prefix.
    net.json_until("carol", None, &["requests"], |v| {
        v["groups"].as_array().is_some_and(|g| g.len() == 1)
    });
    net.json("carol", &["requests", "accept", &id[..12]]);

    // Messages by group name, with a reply and a reaction.
    net.json("alice", &["send", "Book club", "welcome", "both"]);
    let read = net.json_until("bob", None, &["read", "Book club"], |v| {
        v.as_array()
            .is_some_and(|m| m.iter().any(|m| m["body"] == "welcome both"))
    });
    let welcome = read
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["body"] == "welcome both")
        .unwrap()["id"]
        .as_i64()
        .unwrap()
        .to_string();
    net.json(
        "bob",
        &["send", "Book club", "thanks!", "--reply-to", &welcome],
    );
    net.json("bob", &["react", "Book club", &welcome, "👍"]);
    net.json("carol", &["send", "Book club", "oops"]);
    net.json("carol", &["unsend", "Book club", "last"]);
    let read = net.json_until("alice", None, &["read", "Book club"], |v| {
        let m = v.as_array().unwrap();
        m.iter().any(|m| m["body"] == "thanks!")
            && m.iter().any(|m| {
                m["reactions"]["👍"]
                    .as_array()
                    .is_some_and(|r| r.len() == 1)
            })
            && !m.iter().any(|m| m["body"] == "oops")
    });
    assert!(
        read.as_array()
            .unwrap()
            .iter()
            .any(|m| m["quote"].is_array()),
        "{read}"
    );

    // Admin commands: rename, info, members, remove.
    net.json("alice", &["group", "rename", "Book club", "Reading circle"]);
    net.json_until("bob", Some(&["sync"]), &["group", "info", &id[..12]], |v| {
        v["name"] == "Reading circle"
    });
    let members = net.json("alice", &["group", "members", "Reading circle"]);
    assert_eq!(members.as_array().unwrap().len(), 3, "{members}");
    let refused = net.sotto("bob", &["group", "rename", "Reading circle", "Mine"]);
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("only an admin"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
    net.json("alice", &["group", "remove", "Reading circle", &carol]);
    net.json_until(
        "carol",
        Some(&["sync"]),
        &["group", "info", &id[..12]],
        |v| v["status"] == "kicked",
    );
    let members = net.json("alice", &["group", "members", "Reading circle"]);
    assert_eq!(members.as_array().unwrap().len(), 2, "{members}");
}
