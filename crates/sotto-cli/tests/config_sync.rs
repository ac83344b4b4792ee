//! A second device with the `sotto` binary against a real testnet (subnet 112): `account
//! restore` on a second profile, then `sync`, shows the same name, contacts, nicknames,
//! blocked list and conversations (with the first device's sent message); a change on either
//! device shows on the other after one `sync`; `sync --status` reports each config.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use serde_json::Value;

mod common;
use common::Net;

const SUBNET: u8 = 112;

fn contact<'a>(list: &'a Value, id: &str) -> Option<&'a Value> {
    list["contacts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["session_id"] == id)
}

fn new_id(net: &Net, profile: &str) -> String {
    net.json(profile, &["account", "new", "--no-qr"])["session_id"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[test]
fn a_restored_second_device_shows_the_same_state() {
    let net = Net::start(SUBNET, 5, false);
    let created = net.json("phone", &["account", "new", "--no-qr"]);
    let me = created["session_id"].as_str().unwrap().to_owned();
    let phrase = created["recovery_phrase"].as_str().unwrap().to_owned();
    let (bob, carol, dave) = (
        new_id(&net, "bob"),
        new_id(&net, "carol"),
        new_id(&net, "dave"),
    );

    net.ok("phone", &["profile", "set-name", "Alice"]);
    net.ok("phone", &["contacts", "add", &bob, "--name", "bobby"]);
    net.ok("phone", &["contacts", "add", &carol]);
    net.ok("phone", &["contacts", "block", &carol]);
    let sent = net.json("phone", &["send", "bobby", "hello from the phone"]);
    assert_eq!(sent["state"], "stored", "{sent:#}");
    net.ok("phone", &["sync"]);
    let status = net.json("phone", &["sync", "--status", "--offline"]);
    let configs = status["configs"].as_array().unwrap();
    assert_eq!(configs.len(), 4, "{status:#}");
    assert!(configs.iter().all(|c| c["pushed"] == true), "{status:#}");

    // The laptop: restored from the phrase, one sync.
    let restored = net.json("laptop", &["account", "restore", &phrase]);
    assert_eq!(restored["session_id"], me);
    net.ok("laptop", &["sync"]);
    let contacts = net.json("laptop", &["contacts", "list"]);
    let b = contact(&contacts, &bob).expect("bob on the laptop");
    assert_eq!(b["nickname"], "bobby", "{contacts:#}");
    assert_eq!(b["approved"], true);
    assert_eq!(contact(&contacts, &carol).unwrap()["blocked"], true);
    let settings = net.json("laptop", &["settings"]);
    assert_eq!(settings["display_name"], "Alice", "{settings:#}");
    let history = net.json("laptop", &["read", "bobby", "--offline"]);
    let mine = history["messages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["text"] == "hello from the phone")
        .unwrap_or_else(|| panic!("the phone's message on the laptop: {history:#}"));
    assert_eq!(mine["outgoing"], true);

    // A change on the laptop shows on the phone after a sync.
    net.ok("laptop", &["contacts", "add", &dave, "--name", "dave"]);
    net.ok("laptop", &["contacts", "block", &dave]);
    net.ok("laptop", &["sync"]);
    net.json_until("phone", Some(&["sync"]), &["contacts", "list"], |list| {
        contact(list, &dave).is_some_and(|d| d["blocked"] == true && d["nickname"] == "dave")
    });
    // And back: a new nickname on the phone.
    net.ok("phone", &["contacts", "add", &bob, "--name", "bob"]);
    net.ok("phone", &["sync"]);
    net.json_until("laptop", Some(&["sync"]), &["contacts", "list"], |list| {
        contact(list, &bob).is_some_and(|b| b["nickname"] == "bob")
    });

    // Both report the same seqnos, everything pushed.
    net.ok("phone", &["sync"]);
    let a = net.json("phone", &["sync", "--status"]);
    let b = net.json("laptop", &["sync", "--status"]);
    assert_eq!(a, b, "phone {a:#}\nlaptop {b:#}");
    let text = net.ok("laptop", &["sync", "--status", "--offline"]);
    assert!(text.contains("Contacts") && text.contains("yes"), "{text}");
}
