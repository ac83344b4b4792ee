//! Client-side helpers over the shared process harness `sotto_testkit::net`: signed storage RPC
//! requests sent over pinned HTTPS to a node's `/storage_rpc/v1`, and waits on conditions.
#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::time::Duration;

use serde_json::Value as Json;
use sotto_identity::Account;
use sotto_rpc::request::{Lifetime, Retrieve, Store};
use sotto_rpc::response::{NodeOutcome, RetrieveResponse, SwarmResponse};
use sotto_rpc::{AccountId, Encoding, Method, Namespace, Request, Signer};
use sotto_testkit::net::{Testnet, TestnetConfig};
use sotto_transport::{HttpsClient, Response};

/// The directory holding `sotto-node` and `sotto-directory` (built once per test binary).
pub fn bin_dir() -> PathBuf {
    sotto_testkit::net::node_binaries().unwrap()
}

/// A running network and a client bound to 127.S.0.250. Prints the end of every log if the
/// test panics (or always with `SOTTO_TEST_LOGS=1`).
pub struct Net {
    pub tn: Testnet,
    client: HttpsClient,
    _dir: tempfile::TempDir,
}

impl Drop for Net {
    fn drop(&mut self) {
        if std::thread::panicking() || std::env::var_os("SOTTO_TEST_LOGS").is_some() {
            eprintln!("{}", self.tn.logs_tail(150));
        }
    }
}

impl Net {
    /// Starts a directory on 127.`subnet`.0.1 and `nodes` nodes on 127.`subnet`.0.11…
    pub fn start(subnet: u8, nodes: usize) -> Self {
        Self::start_with(subnet, nodes, 256, "")
    }

    /// [`Net::start`] with a store of `store_limit_mb` and `node_config` appended to every
    /// node's configuration.
    pub fn start_with(subnet: u8, nodes: usize, store_limit_mb: u64, node_config: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut cfg = TestnetConfig::new(dir.path().to_owned(), bin_dir());
        cfg.node_extra_config = node_config.to_owned();
        cfg.store_limit_mb = store_limit_mb;
        cfg.nodes = nodes;
        cfg.subnet = subnet;
        // A port unlikely to be taken by another run of the same test on this machine.
        cfg.port = 20_000 + u16::try_from(std::process::id() % 20_000).unwrap();
        cfg.proof_interval_s = 1;
        cfg.decommission_after_s = 60;
        let tn = Testnet::start(cfg).unwrap();
        Self {
            tn,
            client: HttpsClient::with_local_addr(Ipv4Addr::new(127, subnet, 0, 250).into()),
            _dir: dir,
        }
    }

    /// How many nodes.
    pub fn len(&self) -> usize {
        self.tn.nodes.len()
    }

    /// The index of the node with this key.
    pub fn index_of(&self, key: &str) -> usize {
        self.tn
            .nodes
            .iter()
            .position(|n| hex::encode(n.pubkey.as_bytes()) == key)
            .unwrap()
    }

    async fn send(
        &self,
        node: usize,
        path: &str,
        headers: &[(&str, &str)],
        body: Vec<u8>,
    ) -> Option<Response> {
        let n = &self.tn.nodes[node];
        self.client
            .post(
                n.addr,
                &n.pubkey,
                path,
                headers,
                body,
                Duration::from_secs(40),
            )
            .await
            .ok()
    }

    /// POSTs a raw `body` to `path` on node `node`, pinned to its key.
    pub async fn post_path(&self, node: usize, path: &str, body: Vec<u8>) -> Option<Response> {
        self.send(node, path, &[], body).await
    }

    /// POSTs a JSON body to node `node`'s `/storage_rpc/v1`.
    pub async fn post_json(&self, node: usize, body: Vec<u8>) -> Option<Response> {
        let json = [("content-type", "application/json")];
        self.send(node, "/storage_rpc/v1", &json, body).await
    }

    /// POSTs a storage RPC request to node `node`.
    pub async fn post(&self, node: usize, req: impl Into<Request>) -> Option<Response> {
        self.post_json(node, req.into().to_http_body()).await
    }

    /// The node list a node serves (`oxend_request`), if it answers.
    async fn list_of(&self, node: usize) -> Option<Json> {
        let body = br#"{"method":"oxend_request","params":{"endpoint":"get_service_nodes"}}"#;
        let resp = self.post_json(node, body.to_vec()).await?;
        (resp.status == 200).then(|| serde_json::from_slice::<Json>(&resp.body).ok())?
    }

    /// Waits until every running node serves the same list of all nodes, each in a swarm;
    /// returns each node's swarm (by index).
    pub async fn wait_converged(&self, running: &[usize]) -> Vec<u64> {
        let total = self.len();
        wait_until(
            "every node to see every node in a swarm",
            Duration::from_secs(40),
            || async {
                let mut hashes = Vec::new();
                let mut swarms = vec![u64::MAX; total];
                for &i in running {
                    let list = self.list_of(i).await?;
                    let states = list["result"]["service_node_states"].as_array()?;
                    let in_swarms = states
                        .iter()
                        .filter(|s| s["swarm_id"].as_u64().is_some_and(|id| id != u64::MAX))
                        .count();
                    if states.len() != total || in_swarms != total {
                        return None;
                    }
                    hashes.push(list["result"]["block_hash"].as_str()?.to_owned());
                    for st in states {
                        let idx = self.index_of(st["pubkey_ed25519"].as_str()?);
                        swarms[idx] = st["swarm_id"].as_u64()?;
                    }
                }
                hashes
                    .windows(2)
                    .all(|w| w[0] == w[1])
                    .then_some(swarms.clone())
            },
        )
        .await
    }

    /// A signed retrieve of `namespace`: the data of every message, or `None` unless 200.
    pub async fn retrieve_ns(
        &self,
        node: usize,
        account: &Account,
        namespace: Namespace,
    ) -> Option<Vec<Vec<u8>>> {
        let signer = Signer::session(account.ed25519_secret());
        let req = Retrieve::new(AccountId::from(account.session_id()), namespace)
            .signed(&signer, sotto_node::unix_now_ms());
        let resp = self.post(node, req).await?;
        if resp.status != 200 {
            return None;
        }
        let page = RetrieveResponse::parse(&resp.body, Encoding::Json).ok()?;
        Some(page.messages.into_iter().map(|m| m.data).collect())
    }

    /// [`Net::retrieve_ns`] of the default namespace.
    pub async fn retrieve(&self, node: usize, account: &Account) -> Option<Vec<Vec<u8>>> {
        self.retrieve_ns(node, account, Namespace::DEFAULT).await
    }

    /// An unsigned store in the default namespace with a one-hour TTL.
    pub fn store_req(account: &Account, data: &[u8]) -> Store {
        Store::new(
            AccountId::from(account.session_id()),
            Namespace::DEFAULT,
            data.to_vec(),
            sotto_node::unix_now_ms(),
            Lifetime::Ttl(3_600_000),
        )
    }

    /// Stores `data`; the answer must be 200.
    pub async fn store(&self, node: usize, account: &Account, data: &[u8]) -> SwarmResponse {
        let resp = self
            .post(node, Self::store_req(account, data))
            .await
            .expect("store answered");
        assert_eq!(resp.status, 200, "{}", String::from_utf8_lossy(&resp.body));
        SwarmResponse::parse(Method::Store, &resp.body, Encoding::Json).unwrap()
    }
}

/// How many swarm members acknowledged.
pub fn ok_count(resp: &SwarmResponse) -> usize {
    resp.swarm
        .values()
        .filter(|o| matches!(o, NodeOutcome::Ok(_)))
        .count()
}

/// Polls `check` every 100 ms until it gives a value or `limit` passes.
pub async fn wait_until<T, F, Fut>(what: &str, limit: Duration, check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    sotto_testkit::net::eventually(what, limit, check)
        .await
        .unwrap()
}
