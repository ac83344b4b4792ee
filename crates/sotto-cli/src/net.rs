//! The network as the commands use it: [`OnionNetwork`] loaded from the network file, wrapped
//! so that each storage call is remembered with its outcome and onion route (what `send`
//! prints, and the `route` of every `--json` output).

use std::collections::VecDeque;
use std::path::Path;
use std::sync::{Mutex, PoisonError};

use anyhow::{Context as _, anyhow};
use sotto_client::outgoing::{Tally, tally};
use sotto_client::{
    Account, Client, ClientConfig, Network, NetworkError, NetworkFile, NetworkFileError,
    OnionConfig, OnionNetwork, Trace,
};
use sotto_rpc::AccountId;
use sotto_rpc::request::{Delete, Expire, GetExpiries, Retrieve, Store};
use sotto_rpc::response::{GetExpiriesResponse, RetrieveResponse, SwarmNode, SwarmResponse};

/// How many calls the log keeps (long-running commands drop the oldest).
const MAX_CALLS: usize = 512;

/// One storage call and how it went.
#[derive(Debug, Clone)]
pub struct Call {
    /// `get_swarm`, `store`, `retrieve`, `delete`, `expire` or `get_expiries`.
    pub method: &'static str,
    /// The account whose swarm it went to.
    pub account: AccountId,
    /// For a store: how many nodes confirmed; for the others `None`. The error in words when
    /// the call failed.
    pub result: Result<Option<Tally>, String>,
    /// The requests that went over the network for it.
    pub traces: Vec<Trace>,
}

/// [`OnionNetwork`] with a log of its calls.
pub struct CliNet {
    inner: OnionNetwork,
    calls: Mutex<VecDeque<Call>>,
}

impl CliNet {
    fn new(inner: OnionNetwork) -> Self {
        Self {
            inner,
            calls: Mutex::new(VecDeque::new()),
        }
    }

    fn record(
        &self,
        method: &'static str,
        account: AccountId,
        result: Result<Option<Tally>, String>,
    ) {
        let traces = self.inner.take_traces();
        let mut calls = self.calls.lock().unwrap_or_else(PoisonError::into_inner);
        if calls.len() >= MAX_CALLS {
            calls.pop_front();
        }
        calls.push_back(Call {
            method,
            account,
            result,
            traces,
        });
    }

    /// Records a call that brings back no tally, and hands its answer on.
    fn recorded<T>(
        &self,
        method: &'static str,
        account: AccountId,
        answer: Result<T, NetworkError>,
    ) -> Result<T, NetworkError> {
        let result = answer.as_ref().map(|_| None).map_err(ToString::to_string);
        self.record(method, account, result);
        answer
    }

    /// The calls made since the last call of this method, oldest first.
    pub fn take_calls(&self) -> Vec<Call> {
        self.calls
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .drain(..)
            .collect()
    }
}

impl Network for CliNet {
    fn set_own_account(&self, account: AccountId) {
        self.inner.set_own_account(account);
    }

    async fn server_request(
        &self,
        server: &sotto_client::net::OnionServer,
        request: &sotto_onion::V4Request,
        timeout: std::time::Duration,
    ) -> Result<sotto_onion::V4Response, NetworkError> {
        self.inner.server_request(server, request, timeout).await
    }

    async fn get_swarm(&self, account: AccountId) -> Result<Vec<SwarmNode>, NetworkError> {
        let answer = self.inner.get_swarm(account).await;
        let result = answer.as_ref().map(|_| None).map_err(ToString::to_string);
        self.record("get_swarm", account, result);
        answer
    }

    async fn store(&self, node: SwarmNode, request: Store) -> Result<SwarmResponse, NetworkError> {
        let account = request.account;
        let answer = self.inner.store(node, request.clone()).await;
        let result = match &answer {
            // Counted against the swarm of the signed node list, as the client counts.
            Ok(response) => {
                let swarm = self.inner.get_swarm(account).await.unwrap_or_default();
                Ok(Some(tally(&request, response, &swarm)))
            }
            Err(e) => Err(e.to_string()),
        };
        self.record("store", account, result);
        answer
    }

    async fn retrieve(
        &self,
        node: SwarmNode,
        request: Retrieve,
    ) -> Result<RetrieveResponse, NetworkError> {
        let account = request.account;
        let answer = self.inner.retrieve(node, request).await;
        self.recorded("retrieve", account, answer)
    }

    async fn delete(
        &self,
        node: SwarmNode,
        request: Delete,
    ) -> Result<SwarmResponse, NetworkError> {
        let account = request.account;
        let answer = self.inner.delete(node, request).await;
        self.recorded("delete", account, answer)
    }

    async fn expire(
        &self,
        node: SwarmNode,
        request: Expire,
    ) -> Result<SwarmResponse, NetworkError> {
        let account = request.account;
        let answer = self.inner.expire(node, request).await;
        self.recorded("expire", account, answer)
    }

    async fn get_expiries(
        &self,
        node: SwarmNode,
        request: GetExpiries,
    ) -> Result<GetExpiriesResponse, NetworkError> {
        let account = request.account;
        let answer = self.inner.get_expiries(node, request).await;
        self.recorded("get_expiries", account, answer)
    }

    async fn revoke_subaccount(
        &self,
        node: SwarmNode,
        request: sotto_rpc::request::SubaccountRevocation,
    ) -> Result<SwarmResponse, NetworkError> {
        let account = request.account;
        let answer = self.inner.revoke_subaccount(node, request).await;
        self.recorded("revoke_subaccount", account, answer)
    }
}

/// Every trace of `calls`, in order.
pub fn route(calls: &[Call]) -> Vec<Trace> {
    calls
        .iter()
        .flat_map(|c| c.traces.iter().cloned())
        .collect()
}

/// Loads the network file, connects to the network and opens the client (its database is
/// `database`). `background` runs the poller (for `listen` and `chat`).
pub async fn connect(
    network_file: &Path,
    profile_dir: &Path,
    account: Account,
    database: &Path,
    background: bool,
) -> anyhow::Result<Client<CliNet>> {
    let file = NetworkFile::load(network_file).map_err(|e| match e {
        NetworkFileError::NotFound(path) => anyhow!(
            "no network file at {}: run `cargo xtask testnet` (or `cargo xtask demo`) or pass \
             --network FILE",
            path.display()
        ),
        other => anyhow!("{other}: fix the file or pass --network FILE"),
    })?;
    let config = OnionConfig {
        cache_file: Some(profile_dir.join("nodes.json")),
        // The same guards for every run of this profile.
        guard_file: Some(profile_dir.join("guards.json")),
        ..OnionConfig::default()
    };
    let onion = OnionNetwork::connect(&file, config)
        .await
        .with_context(|| {
            format!(
                "cannot connect to the network of {} (directory {}): is the testnet running? \
             (`cargo xtask testnet`)",
                network_file.display(),
                file.directory
            )
        })?;
    let mut config = ClientConfig::new(database);
    config.background = background;
    // Interactive use: poll every 3 s when idle (1 s while chatting) rather than 10 s.
    config.poll.idle_ms = config.poll.recent_ms;
    Client::connect(CliNet::new(onion), account, config)
        .await
        .with_context(|| {
            format!(
                "cannot reach your swarm over the network of {}: is the testnet running? \
                 (`cargo xtask testnet`)",
                network_file.display()
            )
        })
}
