//! An in-process [`Network`] for the client's unit tests ONLY. It is compiled only under
//! `cfg(test)`: end-to-end tests run against a real testnet, never against this.
//!
//! One swarm of signing nodes serves every account. Requests are checked with sotto-rpc's node
//! rules (signatures, clock skew, TTL) against a shared test clock; nodes can be marked down
//! (they fail in the per-node answer), the whole network can be cut off, and raw data can be
//! injected as a malicious sender or node would.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::Ipv4Addr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use sotto_crypto::Ed25519SecretKey;
use sotto_rpc::request::{Delete, Expire, GetExpiries, Retrieve, Store};
use sotto_rpc::response::{
    DeleteResult, ExpireResult, Failure, GetExpiriesResponse, Meta, NodeOutcome, NodeResult,
    RetrieveResponse, RetrievedMessage, StoreResult, SwarmNode, SwarmResponse,
};
use sotto_rpc::{AccountId, MessageHash, Method, Namespace, NodeContext, Request};

use crate::client::Clock;
use crate::error::NetworkError;
use crate::network::Network;

/// A settable clock shared by the test, the clients and the memory network.
#[derive(Debug, Clone)]
pub(crate) struct TestClock(Arc<AtomicU64>);

impl TestClock {
    pub fn new(start_ms: u64) -> Self {
        Self(Arc::new(AtomicU64::new(start_ms)))
    }

    pub fn now(&self) -> u64 {
        self.0.load(Ordering::SeqCst)
    }

    pub fn advance(&self, ms: u64) {
        self.0.fetch_add(ms, Ordering::SeqCst);
    }

    pub fn clock(&self) -> Clock {
        let inner = Arc::clone(&self.0);
        Clock::from_fn(move || inner.load(Ordering::SeqCst))
    }
}

#[derive(Default)]
struct State {
    messages: HashMap<AccountId, Vec<RetrievedMessage>>,
    down: HashSet<usize>,
    offline: bool,
    page: Option<usize>,
    stores: usize,
    refuse: Option<u16>,
    forge: bool,
    /// Requests answered, by method.
    requests: HashMap<&'static str, usize>,
}

/// The memory network (cheap to clone; clones share the swarm).
#[derive(Clone)]
pub(crate) struct MemoryNetwork {
    nodes: Arc<Vec<(Ed25519SecretKey, SwarmNode)>>,
    state: Arc<Mutex<State>>,
    clock: TestClock,
}

impl MemoryNetwork {
    /// A swarm of `n` nodes.
    pub fn new(n: u8, clock: TestClock) -> Self {
        let nodes = (0..n)
            .map(|i| {
                let key = Ed25519SecretKey::from_seed(&[i.wrapping_add(100); 32]);
                let node = SwarmNode {
                    pubkey_ed25519: key.public_key(),
                    pubkey_x25519: [i; 32],
                    ip: Ipv4Addr::new(127, 0, 0, i.wrapping_add(2)),
                    port_https: 22021,
                    port_omq: 22020,
                };
                (key, node)
            })
            .collect();
        Self {
            nodes: Arc::new(nodes),
            state: Arc::default(),
            clock,
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap()
    }

    /// Marks node `i` down (it fails in the answers) or up.
    pub fn set_down(&self, i: usize, down: bool) {
        if down {
            self.state().down.insert(i);
        } else {
            self.state().down.remove(&i);
        }
    }

    /// Cuts the whole network off (every request times out) or restores it.
    pub fn set_offline(&self, offline: bool) {
        self.state().offline = offline;
    }

    /// Returns at most `n` messages per retrieve (with `more`).
    pub fn set_page(&self, n: usize) {
        self.state().page = Some(n);
    }

    /// Makes the entry node refuse every store with this HTTP status (or stop refusing).
    pub fn set_refusing(&self, status: Option<u16>) {
        self.state().refuse = status;
    }

    /// Makes the entry node a liar: it stores nothing and answers every store with "stored"
    /// results signed by keys it made up, one per member.
    pub fn set_forging(&self, forge: bool) {
        self.state().forge = forge;
    }

    /// How many stores were accepted.
    pub fn stores(&self) -> usize {
        self.state().stores
    }

    /// How many requests of `method` were made (answered or not).
    pub fn requests(&self, method: &str) -> usize {
        self.state().requests.get(method).copied().unwrap_or(0)
    }

    fn count(&self, method: &'static str) {
        *self.state().requests.entry(method).or_default() += 1;
    }

    /// The messages `account`'s swarm holds at the clock's time: hash and expiry.
    pub fn held(&self, account: AccountId) -> Vec<(MessageHash, u64)> {
        let now = self.clock.now();
        self.state()
            .messages
            .get(&account)
            .map(|list| {
                list.iter()
                    .filter(|m| m.expiration > now)
                    .map(|m| (m.hash, m.expiration))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// A swarm answer with `result` from every node that is up.
    fn answer(
        &self,
        method: Method,
        result: impl Fn(&Ed25519SecretKey) -> NodeResult,
    ) -> SwarmResponse {
        let down = self.state().down.clone();
        let swarm = self
            .nodes
            .iter()
            .enumerate()
            .map(|(i, (key, node))| {
                let outcome = if down.contains(&i) {
                    NodeOutcome::Failed(Failure {
                        timeout: true,
                        ..Failure::default()
                    })
                } else {
                    NodeOutcome::Ok(result(key))
                };
                (node.pubkey_ed25519, outcome)
            })
            .collect();
        SwarmResponse {
            method,
            swarm,
            hash: None,
            meta: Meta::new(self.clock.now(), [19, 4]),
        }
    }

    /// Puts raw `data` in `account`'s namespace 0, as anyone may.
    pub fn inject(&self, account: AccountId, data: Vec<u8>) -> MessageHash {
        let hash = MessageHash::compute(&account, Namespace::DEFAULT, &data);
        self.push(account, hash, data);
        hash
    }

    /// Puts `data` in the account's namespace 0 under a hash that is not its own (a lying
    /// node).
    pub fn inject_with_hash(&self, account: AccountId, hash: MessageHash, data: Vec<u8>) {
        self.push(account, hash, data);
    }

    /// Changes the data of the last message stored for `account`, keeping its hash.
    pub fn tamper_last(&self, account: AccountId, f: impl FnOnce(&mut Vec<u8>)) {
        let mut state = self.state();
        let last = state
            .messages
            .get_mut(&account)
            .and_then(|m| m.last_mut())
            .unwrap();
        f(&mut last.data);
    }

    fn push(&self, account: AccountId, hash: MessageHash, data: Vec<u8>) {
        let now = self.clock.now();
        self.state()
            .messages
            .entry(account)
            .or_default()
            .push(RetrievedMessage {
                hash,
                timestamp: now,
                expiration: now + 14 * 24 * 3600 * 1000,
                data,
            });
    }

    fn check(&self, request: Request) -> Result<(), NetworkError> {
        if self.state().offline {
            return Err(NetworkError::Timeout);
        }
        let ctx = NodeContext {
            now_ms: self.clock.now(),
            revoked: &[],
            forwarded: false,
        };
        request
            .check(&ctx)
            .map_err(|e| NetworkError::Status(e.status()))
    }
}

impl Network for MemoryNetwork {
    async fn get_swarm(&self, _account: AccountId) -> Result<Vec<SwarmNode>, NetworkError> {
        if self.state().offline {
            return Err(NetworkError::Timeout);
        }
        Ok(self.nodes.iter().map(|(_, n)| n.clone()).collect())
    }

    async fn store(&self, node: SwarmNode, request: Store) -> Result<SwarmResponse, NetworkError> {
        self.count("store");
        self.check(Request::from(request.clone()))?;
        let entry = self
            .nodes
            .iter()
            .position(|(_, n)| *n == node)
            .ok_or(NetworkError::Unavailable("not a node of this network"))?;
        if self.state().down.contains(&entry) {
            return Err(NetworkError::Timeout);
        }
        if let Some(status) = self.state().refuse {
            return Err(NetworkError::Status(status));
        }
        let hash = request.message_hash();
        if self.state().forge {
            let swarm = (0..self.nodes.len())
                .map(|i| {
                    let fake = Ed25519SecretKey::from_seed(&[u8::try_from(i).unwrap_or(0); 32]);
                    let result = StoreResult::sign(&fake, hash, request.expiry(), false);
                    (
                        fake.public_key(),
                        NodeOutcome::Ok(NodeResult::Store(result)),
                    )
                })
                .collect();
            return Ok(SwarmResponse {
                method: Method::Store,
                swarm,
                hash: Some(hash),
                meta: Meta::new(self.clock.now(), [19, 4]),
            });
        }
        let mut state = self.state();
        let list = state.messages.entry(request.account).or_default();
        let already = list.iter().any(|m| m.hash == hash);
        if !already {
            list.push(RetrievedMessage {
                hash,
                timestamp: request.timestamp,
                expiration: request.expiry(),
                data: request.data.clone(),
            });
        }
        state.stores += 1;
        let swarm: BTreeMap<_, _> = self
            .nodes
            .iter()
            .enumerate()
            .map(|(i, (key, node))| {
                let outcome = if state.down.contains(&i) {
                    NodeOutcome::Failed(Failure {
                        timeout: true,
                        ..Failure::default()
                    })
                } else {
                    NodeOutcome::Ok(NodeResult::Store(StoreResult::sign(
                        key,
                        hash,
                        request.expiry(),
                        already,
                    )))
                };
                (node.pubkey_ed25519, outcome)
            })
            .collect();
        Ok(SwarmResponse {
            method: Method::Store,
            swarm,
            hash: Some(hash),
            meta: Meta::new(self.clock.now(), [19, 4]),
        })
    }

    async fn retrieve(
        &self,
        node: SwarmNode,
        request: Retrieve,
    ) -> Result<RetrieveResponse, NetworkError> {
        self.count("retrieve");
        self.check(Request::from(request.clone()))?;
        let entry = self.nodes.iter().position(|(_, n)| *n == node);
        let state = self.state();
        if entry.is_none_or(|i| state.down.contains(&i)) {
            return Err(NetworkError::Timeout);
        }
        let now = self.clock.now();
        let all = state
            .messages
            .get(&request.account)
            .cloned()
            .unwrap_or_default();
        // After `last_hash`; everything when it is unknown (as the storage server does).
        let start = request
            .last_hash
            .and_then(|h| all.iter().position(|m| m.hash == h))
            .map_or(0, |i| i + 1);
        let mut messages: Vec<_> = all
            .into_iter()
            .skip(start)
            .filter(|m| m.expiration > now)
            .collect();
        let more = state.page.is_some_and(|p| messages.len() > p);
        if let Some(p) = state.page {
            messages.truncate(p);
        }
        Ok(RetrieveResponse {
            messages,
            more,
            meta: Meta::new(now, [19, 4]),
        })
    }

    async fn delete(
        &self,
        _node: SwarmNode,
        request: Delete,
    ) -> Result<SwarmResponse, NetworkError> {
        self.count("delete");
        self.check(Request::Delete(request.clone()))?;
        let deleted: Vec<MessageHash> = {
            let mut state = self.state();
            let list = state.messages.entry(request.account).or_default();
            let gone: Vec<MessageHash> = list
                .iter()
                .filter(|m| request.messages.contains(&m.hash))
                .map(|m| m.hash)
                .collect();
            list.retain(|m| !request.messages.contains(&m.hash));
            gone
        };
        Ok(self.answer(Method::Delete, |key| {
            NodeResult::Delete(DeleteResult::sign(key, &request, deleted.clone()))
        }))
    }

    async fn expire(
        &self,
        _node: SwarmNode,
        request: Expire,
    ) -> Result<SwarmResponse, NetworkError> {
        self.count("expire");
        self.check(Request::Expire(request.clone()))?;
        let now = self.clock.now();
        let expiry = request
            .applied_expiries(now)
            .first()
            .copied()
            .unwrap_or_default();
        let (updated, unchanged) = {
            let mut state = self.state();
            let list = state.messages.entry(request.account).or_default();
            let mut updated = Vec::new();
            let mut unchanged = BTreeMap::new();
            for m in list
                .iter_mut()
                .filter(|m| request.messages.contains(&m.hash))
            {
                if m.expiration > expiry {
                    m.expiration = expiry;
                    updated.push((m.hash, expiry));
                } else {
                    unchanged.insert(m.hash, m.expiration);
                }
            }
            (updated, unchanged)
        };
        Ok(self.answer(Method::Expire, |key| {
            NodeResult::Expire(ExpireResult::sign(
                key,
                &request,
                now,
                updated.clone(),
                unchanged.clone(),
            ))
        }))
    }

    async fn get_expiries(
        &self,
        _node: SwarmNode,
        request: GetExpiries,
    ) -> Result<GetExpiriesResponse, NetworkError> {
        self.count("get_expiries");
        self.check(Request::GetExpiries(request.clone()))?;
        let expiries = self
            .held(request.account)
            .into_iter()
            .filter(|(h, _)| request.messages.contains(h))
            .collect();
        Ok(GetExpiriesResponse { expiries })
    }
}
