//! `OnionNetwork` against real processes (`sotto_testkit::net`, subnet 60, 7 nodes): connect
//! from the network file (past a corrupt cache file), store and retrieve through three-hop
//! onions, connect from the cache file alone, then kill the guard in use and see the next
//! requests succeed on a rebuilt path from the other guard.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::path::PathBuf;
use std::time::Duration;

use sotto_client::{Network, NetworkError, NetworkFile, NodeCache, OnionConfig, OnionNetwork};
use sotto_identity::Account;
use sotto_rpc::request::{Lifetime, Retrieve, Store};
use sotto_rpc::response::SwarmNode;
use sotto_rpc::{AccountId, Namespace, Signer};
use sotto_testkit::net::{Testnet, TestnetConfig};

const SUBNET: u8 = 60;

fn bin_dir() -> PathBuf {
    sotto_testkit::net::node_binaries().unwrap()
}

fn now_ms() -> u64 {
    let since = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
    u64::try_from(since.unwrap().as_millis()).unwrap()
}

fn store_req(account: &Account, data: &[u8]) -> Store {
    Store::new(
        AccountId::from(account.session_id()),
        Namespace::DEFAULT,
        data.to_vec(),
        now_ms(),
        Lifetime::Ttl(3_600_000),
    )
}

fn retrieve_req(account: &Account) -> Retrieve {
    let signer = Signer::session(account.ed25519_secret());
    Retrieve::new(AccountId::from(account.session_id()), Namespace::DEFAULT)
        .signed(&signer, now_ms())
}

/// Polls `check` until it gives a value or `limit` passes.
async fn wait_for<T, F, Fut>(what: &str, limit: Duration, check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    sotto_testkit::net::eventually(what, limit, check)
        .await
        .unwrap()
}

struct Net {
    tn: Testnet,
    _dir: tempfile::TempDir,
}

impl Drop for Net {
    fn drop(&mut self) {
        if std::thread::panicking() || std::env::var_os("SOTTO_TEST_LOGS").is_some() {
            eprintln!("{}", self.tn.logs_tail(80));
        }
    }
}

fn guard_key(network: &OnionNetwork) -> String {
    network.paths()[0][0].ed25519.clone()
}

#[test]
fn store_and_retrieve_through_onions_and_survive_a_dead_guard() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = TestnetConfig::new(dir.path().join("net"), bin_dir());
    cfg.nodes = 7;
    cfg.subnet = SUBNET;
    cfg.port = 20_000 + u16::try_from(std::process::id() % 20_000).unwrap();
    cfg.proof_interval_s = 1;
    cfg.decommission_after_s = 60;
    let mut tn = Testnet::start(cfg).unwrap();
    tn.wait_ready(Duration::from_secs(60)).unwrap();
    let file_path = dir.path().join("network.json");
    std::fs::write(&file_path, tn.network_file().to_string()).unwrap();
    let cache_path = dir.path().join("nodes.json");
    let mut net = Net { tn, _dir: dir };

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let file = NetworkFile::load(&file_path).unwrap();
        let config = OnionConfig {
            cache_file: Some(cache_path.clone()),
            ..OnionConfig::default()
        };
        // A corrupt cache file is ignored (and replaced once the directory answers).
        std::fs::write(&cache_path, b"{\"version\":1,\"nodes\":[tru").unwrap();
        let alice = Account::generate(&mut sotto_crypto::OsRng);
        let account = AccountId::from(alice.session_id());

        // Connect and store (a fresh network each time, so start-up failures leave no strikes)
        // until a store goes through: the nodes may still be catching up.
        let (network, swarm) = wait_for(
            "a first store through an onion",
            Duration::from_secs(60),
            || async {
                let network = OnionNetwork::connect(&file, config.clone()).await.ok()?;
                let swarm = network.get_swarm(account).await.ok()?;
                let target = swarm.first()?.clone();
                network
                    .store(target, store_req(&alice, b"hello"))
                    .await
                    .ok()?;
                Some((network, swarm))
            },
        )
        .await;
        assert_eq!(network.paths().len(), 2);
        assert!(network.paths().iter().all(|p| p.len() == 3));
        assert_eq!(network.cached_nodes(), 7);

        // The node cache went to disk, private, and reads back.
        let mode = std::fs::metadata(&cache_path).unwrap().permissions();
        assert_eq!(
            std::os::unix::fs::PermissionsExt::mode(&mode) & 0o777,
            0o600
        );
        let cached = NodeCache::load(&cache_path, &file.directory_pubkey)
            .unwrap()
            .unwrap();
        assert_eq!(cached.nodes.len(), 7);

        // With a fresh cache file, a client connects even when the directory is unreachable.
        let unreachable = NetworkFile {
            directory: "127.60.0.1:9".parse().unwrap(),
            ..file.clone()
        };
        let cached_only = OnionNetwork::connect(&unreachable, config.clone())
            .await
            .unwrap();
        assert_eq!(cached_only.cached_nodes(), 7);
        assert_eq!(cached_only.paths().len(), 2);
        // Without one, the error says what to do.
        let no_cache = OnionConfig::default();
        let err = OnionNetwork::connect(&unreachable, no_cache)
            .await
            .unwrap_err();
        assert!(err.to_string().contains("is the network running"), "{err}");

        // Retrieve from another member of the swarm: the message was replicated.
        let other: SwarmNode = swarm.last().unwrap().clone();
        let page = wait_for(
            "the message on another swarm member",
            Duration::from_secs(20),
            || async {
                let page = network
                    .retrieve(other.clone(), retrieve_req(&alice))
                    .await
                    .ok()?;
                (!page.messages.is_empty()).then_some(page)
            },
        )
        .await;
        assert_eq!(page.messages[0].data, b"hello");

        // Every attempt is traced: three hops, guard first, a target outside the path.
        let traces = network.take_traces();
        let ok: Vec<_> = traces.iter().filter(|t| t.status == Some(200)).collect();
        assert!(ok.iter().any(|t| t.method == "store"), "{traces:?}");
        assert!(ok.iter().any(|t| t.method == "retrieve"), "{traces:?}");
        for t in &ok {
            assert_eq!(t.path.len(), 3);
            assert!(
                t.path.iter().all(|h| h.ed25519 != t.target.ed25519),
                "{t:?}"
            );
        }
        assert!(network.take_traces().is_empty(), "take_traces drains");

        // Kill the guard of the first path; every following request must still succeed, and
        // within a few requests the dead guard is found out and its path rebuilt.
        let dead = guard_key(&network);
        let index = net
            .tn
            .nodes
            .iter()
            .position(|n| hex::encode(n.pubkey.as_bytes()) == dead)
            .unwrap();
        net.tn.kill(index).unwrap();
        // Targets: neither the dead node nor a guard (with one guard left, a request to that
        // guard has no path: it is refused rather than sent through its own target).
        let guards: Vec<String> = network.guards().into_iter().map(|g| g.ed25519).collect();
        let live: Vec<SwarmNode> = swarm
            .iter()
            .filter(|n| !guards.contains(&hex::encode(n.pubkey_ed25519.as_bytes())))
            .cloned()
            .collect();
        let mut found_out = false;
        for round in 0..6u8 {
            let target = live[usize::from(round) % live.len()].clone();
            let stored = network.store(target, store_req(&alice, &[round])).await;
            assert!(
                stored.is_ok(),
                "store {round} after the guard died: {stored:?}"
            );
            let paths = network.paths();
            if paths.iter().flatten().all(|h| h.ed25519 != dead) && paths.len() == 2 {
                let traces = network.take_traces();
                if std::env::var_os("SOTTO_TEST_LOGS").is_some() {
                    eprintln!("after the kill: {traces:#?}");
                }
                found_out = traces
                    .iter()
                    .any(|t| t.path[0].ed25519 == dead && t.status.is_none());
                if found_out {
                    break;
                }
            }
        }
        assert!(
            found_out,
            "the dead guard was never found out: {:?}",
            network.paths()
        );
        // The dead guard is set aside, not struck out: still a guard, no path starts there.
        assert!(network.guards().iter().any(|g| g.ed25519 == dead));
        assert_eq!(network.guards().len(), 2);
        assert!(network.paths().iter().all(|p| p[0].ed25519 != dead));
        // A request to the one usable guard would have to go through its own target: it is
        // refused, not sent over some kept path.
        let survivor = network
            .paths()
            .first()
            .map(|p| p[0].ed25519.clone())
            .unwrap();
        let to_guard = swarm
            .iter()
            .find(|n| hex::encode(n.pubkey_ed25519.as_bytes()) == survivor)
            .unwrap()
            .clone();
        let before = network.take_traces().len();
        let refused = network.store(to_guard, store_req(&alice, b"via?")).await;
        assert!(
            matches!(refused, Err(NetworkError::NoPath(_))),
            "{refused:?}"
        );
        assert!(
            network.take_traces().is_empty(),
            "nothing was sent ({before} before)"
        );
    });
}
