//! Admission and list trust with real processes on loopback (review S-03, S-19): a directory
//! with the default configuration lists no node, and a node refuses a signed list older than
//! the one it holds. Addresses: 127.160.0.0/24 and 127.164.0.0/24.
#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]

mod common;

use std::time::Duration;

use common::{Net, bin_dir, wait_until};
use sotto_nodelist::DirectoryClient;
use sotto_testkit::net::{Testnet, TestnetConfig};

/// The height and node count a node's own view has (`oxend_request` get_service_nodes).
async fn view_of(net: &Net, node: usize) -> Option<(u64, usize)> {
    let body = br#"{"method":"oxend_request","params":{"endpoint":"get_service_nodes"}}"#;
    let resp = net.post_json(node, body.to_vec()).await?;
    let v: serde_json::Value = serde_json::from_slice(&resp.body).ok()?;
    let result = &v["result"];
    Some((
        result["height"].as_u64()?,
        result["service_node_states"].as_array()?.len(),
    ))
}

/// S-19: the directory, restored from an older state file, serves an older list, validly
/// signed; the nodes keep the newer one they hold.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_older_signed_list_is_refused_by_a_node() {
    let mut net = Net::start(160, 3);
    net.wait_converged(&[0, 1, 2]).await;
    let directory = DirectoryClient::new(net.tn.directory.addr, net.tn.directory.pubkey);
    let state = net.tn.directory.data_dir.join("state.json");
    let old_state = std::fs::read(&state).unwrap();
    let old = directory.fetch_nodes().await.unwrap();
    assert_eq!(old.nodes.len(), 3);

    // A fourth node joins: every node holds a higher list.
    net.tn.add_node().unwrap();
    net.wait_converged(&[0, 1, 2, 3]).await;
    let (newer, count) = view_of(&net, 0).await.unwrap();
    assert!(newer > old.height && count == 4, "{newer} {count}");
    net.tn.kill(3).unwrap();

    // The directory goes back to the old state: it signs and serves the old height again.
    net.tn.kill_directory().unwrap();
    std::fs::write(&state, &old_state).unwrap();
    net.tn.restart_directory().unwrap();
    wait_until(
        "the directory to serve the older list",
        Duration::from_secs(20),
        || async {
            directory
                .fetch_nodes()
                .await
                .ok()
                .filter(|l| l.height == old.height)
        },
    )
    .await;

    // Node 0 fetches it, refuses it, and keeps serving the newer one.
    let log = net.tn.nodes[0].log_path();
    wait_until(
        "node 0 to refuse the older list",
        Duration::from_secs(20),
        || async {
            std::fs::read_to_string(&log)
                .ok()
                .filter(|l| l.contains("refused a node list older than the one held"))
        },
    )
    .await;
    assert_eq!(view_of(&net, 0).await, Some((newer, 4)));
}

/// S-03: a directory whose configuration says nothing about admission lists no node: a real
/// node is refused, and both logs say why.
#[test]
fn the_default_directory_config_refuses_an_unlisted_node() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = TestnetConfig::new(dir.path().to_owned(), bin_dir());
    cfg.nodes = 1;
    cfg.subnet = 164;
    cfg.port = 20_000 + u16::try_from(std::process::id() % 20_000).unwrap();
    cfg.directory_limits = String::new();
    let tn = Testnet::start(cfg).unwrap();
    let node_log = tn.nodes[0].log_path();
    let dir_log = tn.directory.log_path();
    let refused = sotto_testkit::net::wait_until(
        "the node's registration to be refused",
        Duration::from_secs(20),
        || {
            std::fs::read_to_string(&node_log)
                .is_ok_and(|text| text.contains("admits no nodes") && text.contains("403"))
        },
    );
    if let Err(e) = refused {
        panic!("{e}\n{}", tn.logs_tail(40));
    }
    let text = std::fs::read_to_string(&dir_log).unwrap();
    assert!(text.contains("no node can join"), "{text}");
    assert_eq!(tn.active_nodes(), Some(Vec::new()));
}
