//! Size buckets against real nodes (`sotto_testkit::net`, subnet 220, 7 nodes): with
//! `OnionConfig::size_buckets` on, every request is padded (`sotto_onion::Padding::SizeBuckets`)
//! and the nodes, which know nothing of the padding, still store and retrieve through it.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::time::Duration;

use sotto_client::{Network, NetworkFile, OnionConfig, OnionNetwork};
use sotto_identity::Account;
use sotto_rpc::request::{Lifetime, Retrieve, Store};
use sotto_rpc::{AccountId, Namespace, Signer};
use sotto_testkit::net::{Testnet, TestnetConfig};

const SUBNET: u8 = 220;

fn now_ms() -> u64 {
    let since = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
    u64::try_from(since.unwrap().as_millis()).unwrap()
}

#[test]
fn padded_requests_store_and_retrieve_through_real_nodes() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = TestnetConfig::new(
        dir.path().join("net"),
        sotto_testkit::net::node_binaries().unwrap(),
    );
    cfg.nodes = 7;
    cfg.subnet = SUBNET;
    cfg.port = 20_000 + u16::try_from(std::process::id() % 20_000).unwrap();
    let mut tn = Testnet::start(cfg).unwrap();
    tn.wait_ready(Duration::from_secs(60)).unwrap();
    let file_path = dir.path().join("network.json");
    std::fs::write(&file_path, tn.network_file().to_string()).unwrap();

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let result = rt.block_on(async {
        let file = NetworkFile::load(&file_path).unwrap();
        let config = OnionConfig {
            size_buckets: true,
            ..OnionConfig::default()
        };
        let alice = Account::generate(&mut sotto_crypto::OsRng);
        let account = AccountId::from(alice.session_id());
        let data = b"padded hello".to_vec();
        sotto_testkit::net::eventually(
            "a padded store and retrieve",
            Duration::from_secs(60),
            || async {
                let network = OnionNetwork::connect(&file, config.clone()).await.ok()?;
                let swarm = network.get_swarm(account).await.ok()?;
                let target = swarm.first()?.clone();
                let store = Store::new(
                    account,
                    Namespace::DEFAULT,
                    data.clone(),
                    now_ms(),
                    Lifetime::Ttl(3_600_000),
                );
                network.store(target.clone(), store).await.ok()?;
                let signer = Signer::session(alice.ed25519_secret());
                let retrieve = Retrieve::new(account, Namespace::DEFAULT).signed(&signer, now_ms());
                let page = network.retrieve(target, retrieve).await.ok()?;
                page.messages.into_iter().find(|m| m.data == data)
            },
        )
        .await
    });
    if result.is_err() {
        eprintln!("{}", tn.logs_tail(80));
    }
    result.unwrap();
}
