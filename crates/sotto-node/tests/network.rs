//! Real processes on loopback (the shared harness `sotto_testkit::net`): a `sotto-directory`
//! and `sotto-node`s, each on its own 127.S.0.x address with its own data directory. The
//! directory binary is taken from the same target directory as `sotto-node` (built with
//! `cargo build -p sotto-directory` here if it is missing).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::time::Duration;

use common::{Net, ok_count, wait_until};
use sotto_crypto::OsRng;
use sotto_identity::Account;
use sotto_onion::{Destination, EncType, NodeKeys};
use sotto_rpc::request::Retrieve;
use sotto_rpc::response::{GetSwarmResponse, RetrieveResponse};
use sotto_rpc::{AccountId, Encoding, Namespace, Request, Signer};
use sotto_swarm::{SwarmId, SwarmIds, swarm_space};

const NODES: usize = 5;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn swarm_replication_catch_up_and_onion() {
    let mut net = Net::start(91, NODES);
    let all: Vec<usize> = (0..NODES).collect();
    net.wait_converged(&all).await;
    let alice = Account::from_ed25519_seed(&[0xa1; 32]);

    // A store through one node reaches every node of the swarm.
    let resp = net.store(0, &alice, b"first").await;
    assert_eq!(ok_count(&resp), NODES, "{resp:?}");
    for node in &resp.swarm {
        assert!(net.tn.nodes.iter().any(|n| n.pubkey == *node.0));
    }
    for i in 0..NODES {
        assert_eq!(
            net.retrieve(i, &alice).await.unwrap(),
            vec![b"first".to_vec()],
            "node {i}"
        );
    }

    // kill -9 one node; stores keep working; the node catches up after a restart.
    net.tn.kill(4).unwrap();
    let mut sent = vec![b"first".to_vec()];
    for k in 0..3u8 {
        let data = vec![b'm', k];
        let resp = net.store(1, &alice, &data).await;
        assert_eq!(ok_count(&resp), NODES - 1, "{resp:?}");
        sent.push(data);
    }
    net.tn.restart(4).unwrap();
    let got = wait_until(
        "the restarted node to catch up",
        Duration::from_secs(30),
        || async {
            net.retrieve(4, &alice)
                .await
                .filter(|m| m.len() == sent.len())
        },
    )
    .await;
    assert_eq!(got, sent);
    for i in 0..NODES {
        assert_eq!(net.retrieve(i, &alice).await.unwrap(), sent, "node {i}");
    }

    // An onion request through nodes 0 → 1 → 2 reaches node 3's storage RPC, and the answer
    // comes back encrypted to the client.
    let keys: Vec<NodeKeys> = net
        .tn
        .nodes
        .iter()
        .map(|n| NodeKeys::from_ed25519(n.pubkey).unwrap())
        .collect();
    let signer = Signer::session(alice.ed25519_secret());
    let retrieve = Request::from(
        Retrieve::new(AccountId::from(alice.session_id()), Namespace::DEFAULT)
            .signed(&signer, sotto_node::unix_now_ms()),
    )
    .to_http_body();
    let onion = sotto_onion::build(
        &keys[..3],
        &Destination::Node {
            node: keys[3],
            rpc: &retrieve,
        },
        EncType::XChaCha20,
        &mut OsRng,
    )
    .unwrap();
    let resp = net.post_path(0, "/onion_req/v2", onion.body).await.unwrap();
    assert_eq!(resp.status, 200, "{}", String::from_utf8_lossy(&resp.body));
    let answer = onion.response_key.open_v3(&resp.body).unwrap();
    assert_eq!(answer.status, 200, "{}", answer.body);
    let page = RetrieveResponse::parse(answer.body.as_bytes(), Encoding::Json).unwrap();
    assert_eq!(page.messages.len(), sent.len());
}

/// Thirteen nodes form one swarm; a fourteenth splits it in two (oxend's rule: 9 excess nodes
/// make a new swarm of 7). Every account's messages are then on every node of the swarm that
/// owns it, the new node included, and the other swarm's nodes answer 421 naming the owner.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_node_splits_the_swarm_and_421_names_the_owner() {
    let mut net = Net::start(92, 13);
    let first: Vec<usize> = (0..13).collect();
    let swarms = net.wait_converged(&first).await;
    assert!(swarms[..13].iter().all(|s| *s == swarms[0]), "{swarms:?}");
    let accounts: Vec<Account> = (0..16u8)
        .map(|i| Account::from_ed25519_seed(&[0x40 + i; 32]))
        .collect();
    for (k, a) in accounts.iter().enumerate() {
        let resp = net.store(k % 13, a, &[k as u8]).await;
        assert_eq!(ok_count(&resp), 13, "{resp:?}");
    }

    net.tn.add_node().unwrap();
    let all: Vec<usize> = (0..14).collect();
    let swarms = net.wait_converged(&all).await;
    let ids: SwarmIds = swarms.iter().map(|s| SwarmId(*s)).collect();
    assert_eq!(ids.len(), 2, "{swarms:?}");
    for (k, a) in accounts.iter().enumerate() {
        let account = AccountId::from(a.session_id());
        let owner = ids.pick(swarm_space(account.key())).unwrap().0;
        let members: Vec<usize> = (0..14).filter(|i| swarms[*i] == owner).collect();
        for &i in &members {
            wait_until(
                &format!("account {k} on node {i}"),
                Duration::from_secs(20),
                || async {
                    net.retrieve(i, a)
                        .await
                        .filter(|m| *m == vec![vec![k as u8]])
                },
            )
            .await;
        }
        let other = (0..14).find(|i| swarms[*i] != owner).unwrap();
        let resp = net.post(other, Net::store_req(a, b"x")).await.unwrap();
        assert_eq!(resp.status, 421, "{}", String::from_utf8_lossy(&resp.body));
        let named = GetSwarmResponse::parse(&resp.body, Encoding::Json).unwrap();
        assert_eq!(named.swarm_id, owner);
        let mut listed: Vec<_> = named.snodes.iter().map(|n| n.pubkey_ed25519).collect();
        let mut expected: Vec<_> = members.iter().map(|i| net.tn.nodes[*i].pubkey).collect();
        listed.sort();
        expected.sort();
        assert_eq!(listed, expected);
    }
}
