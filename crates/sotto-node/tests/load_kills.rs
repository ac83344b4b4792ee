//! Replication under load over real processes: a swarm of 7 takes 10,000 stores sent
//! concurrently to five of its nodes while the other two are `kill -9`'d part-way, and every
//! acknowledged store is then retrievable from every live member (batched forwarding, group
//! commit and the retry queue together must lose nothing).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::collections::BTreeSet;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{Net, ok_count, wait_until};
use sotto_crypto::Ed25519PublicKey;
use sotto_identity::Account;
use sotto_rpc::request::{Request, Retrieve};
use sotto_rpc::response::{RetrieveResponse, SwarmResponse};
use sotto_rpc::{AccountId, Encoding, Method, Namespace, Signer};
use sotto_transport::HttpsClient;

const SUBNET: u8 = 238;
const NODES: usize = 7;
const KILLED: [usize; 2] = [5, 6];
const LIVE: usize = 5;
const STORES: usize = 10_000;
const KILL_AFTER: usize = 3_000;
const ACCOUNTS: usize = 10;
/// Concurrent senders, spread over client addresses so that no address hits the per-address
/// rate limit.
const SENDERS: usize = 48;
const CLIENT_ADDRS: u8 = 16;

fn data_of(i: usize) -> Vec<u8> {
    format!("load-{i:05}").into_bytes()
}

/// Every message of `account` on `node`, page by page.
async fn retrieve_all(
    client: &HttpsClient,
    node: (SocketAddr, Ed25519PublicKey),
    account: &Account,
) -> Option<BTreeSet<Vec<u8>>> {
    let signer = Signer::session(account.ed25519_secret());
    let mut all = BTreeSet::new();
    let mut last = None;
    loop {
        let mut req = Retrieve::new(AccountId::from(account.session_id()), Namespace::DEFAULT);
        req.last_hash = last;
        let req = req.signed(&signer, sotto_node::unix_now_ms());
        let resp = client
            .post(
                node.0,
                &node.1,
                "/storage_rpc/v1",
                &[("content-type", "application/json")],
                Request::Retrieve(req).to_http_body(),
                Duration::from_secs(30),
            )
            .await
            .ok()?;
        if resp.status != 200 {
            return None;
        }
        let page = RetrieveResponse::parse(&resp.body, Encoding::Json).ok()?;
        last = page.messages.last().map(|m| m.hash).or(last);
        all.extend(page.messages.into_iter().map(|m| m.data));
        if !page.more {
            return Some(all);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_concurrent_stores_survive_two_kills() {
    let mut net = Net::start(SUBNET, NODES);
    let all: Vec<usize> = (0..NODES).collect();
    let swarms = net.wait_converged(&all).await;
    assert!(swarms.iter().all(|s| *s == swarms[0]), "{swarms:?}");
    let accounts: Arc<Vec<Account>> = Arc::new(
        (0..ACCOUNTS)
            .map(|a| Account::from_ed25519_seed(&[0x40 + u8::try_from(a).unwrap(); 32]))
            .collect(),
    );
    let targets: Arc<Vec<(SocketAddr, Ed25519PublicKey)>> = Arc::new(
        net.tn.nodes[..LIVE]
            .iter()
            .map(|n| (n.addr, n.pubkey))
            .collect(),
    );
    let next = Arc::new(AtomicUsize::new(0));
    let acked_count = Arc::new(AtomicUsize::new(0));
    let acked: Arc<Mutex<Vec<usize>>> = Arc::new(Mutex::new(Vec::new()));
    let started = Instant::now();
    let mut senders = tokio::task::JoinSet::new();
    for s in 0..SENDERS {
        let octet = 1 + u8::try_from(s).unwrap() % CLIENT_ADDRS;
        let client = HttpsClient::with_local_addr(Ipv4Addr::new(127, SUBNET, 1, octet).into());
        let (accounts, targets, next) = (accounts.clone(), targets.clone(), next.clone());
        let (acked, acked_count) = (acked.clone(), acked_count.clone());
        senders.spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                if i >= STORES {
                    return;
                }
                let account = &accounts[i % ACCOUNTS];
                // A store is idempotent: one that was not acknowledged is sent again (to the
                // next node), a few times.
                for attempt in 0..4 {
                    let target = targets[(i + attempt) % targets.len()];
                    let body = Request::Store(Net::store_req(account, &data_of(i))).to_http_body();
                    let Ok(resp) = client
                        .post(
                            target.0,
                            &target.1,
                            "/storage_rpc/v1",
                            &[("content-type", "application/json")],
                            body,
                            Duration::from_secs(30),
                        )
                        .await
                    else {
                        continue;
                    };
                    if resp.status != 200 {
                        continue;
                    }
                    let parsed =
                        SwarmResponse::parse(Method::Store, &resp.body, Encoding::Json).unwrap();
                    if ok_count(&parsed) >= 1 {
                        acked.lock().unwrap().push(i);
                        acked_count.fetch_add(1, Ordering::SeqCst);
                        break;
                    }
                }
            }
        });
    }
    wait_until(
        "stores to be acknowledged before the kills",
        Duration::from_secs(120),
        || async { (acked_count.load(Ordering::SeqCst) >= KILL_AFTER).then_some(()) },
    )
    .await;
    for i in KILLED {
        net.tn.kill(i).unwrap();
    }
    let killed_at = acked_count.load(Ordering::SeqCst);
    while let Some(done) = senders.join_next().await {
        done.unwrap();
    }
    let took = started.elapsed();
    let acked = std::mem::take(&mut *acked.lock().unwrap());
    eprintln!(
        "{} of {STORES} stores acknowledged in {took:?}; nodes killed after {killed_at}",
        acked.len()
    );
    assert!(killed_at < STORES, "the kills came after the last store");
    // Five of seven survive: every store must have been acknowledged.
    assert_eq!(acked.len(), STORES);

    let mut expected = vec![BTreeSet::new(); ACCOUNTS];
    for i in acked {
        expected[i % ACCOUNTS].insert(data_of(i));
    }
    let reader = HttpsClient::with_local_addr(Ipv4Addr::new(127, SUBNET, 2, 1).into());
    for (n, node) in targets.iter().enumerate() {
        for (a, account) in accounts.iter().enumerate() {
            let want = &expected[a];
            wait_until(
                &format!("node {n} to hold every acknowledged store of account {a}"),
                Duration::from_secs(60),
                || async {
                    let got = retrieve_all(&reader, *node, account).await?;
                    let missing = want.difference(&got).count();
                    (missing == 0).then_some(())
                },
            )
            .await;
        }
    }
}

/// A peer that misses forwards gets them from the forwarding node's retry queue: while the
/// peer is down, the stores it missed wait in the forwarding node's SQLite queue (in order);
/// once it is back the queue empties into it and the node logs the delivery.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_that_missed_forwards_gets_them_from_the_retry_queue() {
    const N: usize = 4;
    const DOWN: usize = 3;
    let mut net = Net::start(239, N);
    let all: Vec<usize> = (0..N).collect();
    let swarms = net.wait_converged(&all).await;
    assert!(swarms.iter().all(|s| *s == swarms[0]), "{swarms:?}");
    let dana = Account::from_ed25519_seed(&[0xda; 32]);
    assert_eq!(ok_count(&net.store(0, &dana, b"before").await), N);
    net.tn.kill(DOWN).unwrap();
    let missed: Vec<Vec<u8>> = (0..5u8).map(|i| vec![b'm', i]).collect();
    for data in &missed {
        assert_eq!(ok_count(&net.store(0, &dana, data).await), N - 1);
    }
    // The forwarding node keeps them for the peer that is down, and only for it.
    let queue_file = net.tn.nodes[0].data_dir.join("store.db");
    let down_key = net.tn.nodes[DOWN].pubkey.0.to_vec();
    let queued = sotto_store::Store::open(&queue_file, 256 << 20)
        .unwrap()
        .queued_peers()
        .unwrap();
    assert_eq!(queued, [(down_key.clone(), 5)], "{queued:?}");

    net.tn.restart(DOWN).unwrap();
    let mut want = missed.clone();
    want.push(b"before".to_vec());
    want.sort();
    wait_until(
        "the returning peer to hold what it missed",
        Duration::from_secs(40),
        || async {
            let mut got = net.retrieve(DOWN, &dana).await?;
            got.sort();
            (got == want).then_some(())
        },
    )
    .await;
    wait_until(
        "the retry queue to be delivered",
        Duration::from_secs(40),
        || async {
            let log = std::fs::read_to_string(net.tn.nodes[0].log_path()).ok()?;
            let empty = sotto_store::Store::open(&queue_file, 256 << 20)
                .ok()?
                .queued_peers()
                .ok()?
                .is_empty();
            (empty && log.contains("retry queue delivered")).then_some(())
        },
    )
    .await;
}
