//! The storage RPC: `POST /storage_rpc/v1` from clients (and the final hop of onion requests),
//! recursive requests forwarded to swarm peers (`POST /sn/storage_cc`), and their execution
//! against the store.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value as Json;
use sotto_identity::PrefixedId;
use sotto_rpc::nodes::{ActiveNode, ServiceNodeState, ServiceNodes, encode_active_nodes};
use sotto_rpc::request::{Encoding, ExpireMode, OxendEndpoint, Revocation, SubaccountRevocation};
use sotto_rpc::response::{
    Affected, BatchResponse, BulkResult, DeleteResult, ExpireResult, Failure, GetExpiriesResponse,
    GetSwarmResponse, InfoResponse, Meta, NodeOutcome, NodeResult, RetrieveResponse,
    RetrievedMessage, RevocationResult, StoreResult, SubResponse, SwarmNode, SwarmResponse,
};
use sotto_rpc::{
    AccountId, MessageHash, Method, Namespace, Namespaces, NodeContext, Request, RpcError,
    SubaccountToken,
};
use sotto_store::{NewMessage, Store, StoreError, StoreOutcome};
use sotto_swarm::{INVALID_SWARM_ID, NodeListing, SwarmId, swarm_space};
use sotto_transport::Response;
use tokio::task::JoinSet;

use crate::error::NodeError;
use crate::node::{HARDFORK, Node, PROTOCOL_VERSION, admission_cost, request_cost, short};
use crate::view::{NetworkView, Ownership};
use crate::wire::{BatchAnswer, BatchItemAnswer, ForwardBatch, Forwarded};

/// How long a swarm peer has to answer a forwarded request (spec §3.1).
pub const FORWARD_TIMEOUT: Duration = Duration::from_secs(5);
/// The most message hashes one `delete`, `expire` or `get_expiries` request may list (400).
pub const MAX_HASHES_PER_REQUEST: usize = 1000;

/// The message hashes a request lists, if it lists any.
fn listed_hashes(req: &Request) -> usize {
    match req {
        Request::Delete(r) => r.messages.len(),
        Request::Expire(r) => r.messages.len(),
        Request::GetExpiries(r) => r.messages.len(),
        _ => 0,
    }
}

/// A successful answer: status and body, JSON or binary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// The status (200, or 500 for a recursive request every node failed).
    pub status: u16,
    /// The body.
    pub body: Vec<u8>,
    /// Whether the body is JSON (else binary, e.g. `active_nodes_bin`).
    pub json: bool,
}

impl Answer {
    fn json(body: Vec<u8>) -> Self {
        Self {
            status: 200,
            body,
            json: true,
        }
    }

    /// As an HTTP response.
    #[must_use]
    pub fn into_response(self) -> Response {
        let ct = if self.json {
            "application/json"
        } else {
            "application/octet-stream"
        };
        Response::bytes(self.status, ct, self.body)
    }
}

fn meta(now_ms: u64) -> Meta {
    Meta::new(now_ms, HARDFORK)
}

/// The store's key for an account.
fn owner_of(account: &AccountId) -> Result<PrefixedId, NodeError> {
    PrefixedId::from_bytes(&account.to_bytes()).map_err(|_| NodeError::bad_pubkey())
}

fn hashes(list: &[MessageHash]) -> Vec<String> {
    list.iter().map(ToString::to_string).collect()
}

fn parse_hashes(list: Vec<String>) -> Vec<MessageHash> {
    list.iter()
        .filter_map(|h| MessageHash::parse(h.as_bytes()))
        .collect()
}

fn ns_filter(ns: Namespaces) -> Option<i16> {
    match ns {
        Namespaces::One(n) => Some(n.get()),
        Namespaces::All => None,
    }
}

fn affected(ns: Namespaces, map: BTreeMap<i16, Vec<String>>) -> Affected {
    match ns {
        Namespaces::One(_) => Affected::One(parse_hashes(map.into_values().flatten().collect())),
        Namespaces::All => Affected::PerNamespace(
            map.into_iter()
                .map(|(n, list)| (Namespace::new(n), parse_hashes(list)))
                .collect(),
        ),
    }
}

/// What a tombstone keeps of the owner's signed delete request: the request as forwarded
/// between swarm peers (`wire::Forwarded`), which any node can parse and verify again.
pub(crate) fn delete_proof(request: &Request) -> Vec<u8> {
    Forwarded {
        method: request.method().name().to_owned(),
        params: request.params_bencoded(),
    }
    .encode()
}

fn flat(map: &BTreeMap<i16, Vec<String>>) -> Vec<String> {
    map.values().flatten().cloned().collect()
}

/// The subaccount token a request is signed with, if any.
fn subaccount_token(req: &Request) -> Option<SubaccountToken> {
    let auth = match req {
        Request::Store(r) => r.auth.as_ref(),
        Request::Retrieve(r) => r.auth.as_ref().map(|a| &a.auth),
        Request::Delete(r) => Some(&r.auth),
        Request::DeleteAll(r) => Some(&r.auth),
        Request::DeleteBefore(r) => Some(&r.auth),
        Request::Expire(r) => Some(&r.auth),
        Request::ExpireAll(r) => Some(&r.auth),
        Request::GetExpiries(r) => Some(&r.auth),
        _ => None,
    };
    auth.and_then(|a| a.subaccount.as_ref()).map(|s| s.token)
}

fn failure(e: &NodeError) -> Failure {
    match e {
        NodeError::Store(StoreError::QuotaExceeded) => Failure {
            code: Some(e.status()),
            reason: Some(e.message()),
            ..Failure::default()
        },
        NodeError::Store(_) => Failure {
            query_failure: true,
            ..Failure::default()
        },
        other => Failure {
            code: Some(other.status()),
            reason: Some(other.to_string()),
            ..Failure::default()
        },
    }
}

fn swarm_node(n: &NodeListing) -> SwarmNode {
    SwarmNode {
        pubkey_ed25519: n.pubkey_ed25519(),
        pubkey_x25519: n.pubkey_x25519().0,
        ip: n.public_ip(),
        port_https: n.storage_port(),
        port_omq: n.storage_lmq_port().unwrap_or_else(|| n.storage_port()),
    }
}

fn active_node(n: &NodeListing) -> ActiveNode {
    let v = n.version();
    ActiveNode {
        pubkey_ed25519: n.pubkey_ed25519(),
        swarm_id: n.swarm_id().0,
        ip: n.public_ip(),
        port_https: n.storage_port(),
        port_omq: n.storage_lmq_port().unwrap_or_else(|| n.storage_port()),
        version: [v.major, v.minor, v.patch].map(|c| sotto_rpc::nodes::version_byte(c.into())),
    }
}

/// The `get_swarm` answer (also the 421 body) for `swarm`.
fn swarm_answer(view: &NetworkView, swarm: Option<SwarmId>, now_ms: u64) -> Vec<u8> {
    let snodes = swarm
        .map(|s| view.members(s).into_iter().map(swarm_node).collect())
        .unwrap_or_default();
    GetSwarmResponse {
        snodes,
        swarm_id: swarm.unwrap_or(INVALID_SWARM_ID).0,
        meta: meta(now_ms),
    }
    .encode(Encoding::Json)
}

fn service_nodes(view: &NetworkView) -> Json {
    let list = view.list();
    ServiceNodes {
        height: list.height,
        block_hash: list.block_hash.clone(),
        hardfork: Some(HARDFORK[0]),
        status: Some("OK".into()),
        service_node_states: view
            .nodes()
            .map(|n| ServiceNodeState {
                pubkey_ed25519: Some(n.pubkey_ed25519()),
                pubkey_x25519: Some(n.pubkey_x25519().0),
                public_ip: Some(n.public_ip()),
                storage_port: Some(n.storage_port()),
                storage_lmq_port: Some(n.storage_lmq_port().unwrap_or_else(|| n.storage_port())),
                swarm_id: Some(n.swarm_id().0),
                active: Some(true),
                funded: Some(true),
                storage_server_version: Some(n.version().into()),
                service_node_pubkey: Some(hex::encode(n.pubkey_ed25519().0)),
            })
            .collect(),
        ..ServiceNodes::default()
    }
    .to_json()
}

impl Node {
    /// `POST /storage_rpc/v1`: rate limit by client address (the [`admission_cost`] was taken
    /// at admission when `admitted`), parse, charge the rest of the request's cost, answer.
    pub(crate) async fn storage_rpc_http(
        self: &Arc<Self>,
        req: &sotto_transport::Request,
        now_ms: u64,
        admitted: bool,
    ) -> Result<Response, NodeError> {
        let ip = req.peer.ip();
        let paid = if admitted {
            admission_cost(
                req.header("content-length")
                    .and_then(|v| v.trim().parse().ok()),
            )
        } else {
            self.allow_client(ip, now_ms)?;
            1
        };
        if req.header("x-loki-long-poll").is_some() {
            return Err(RpcError::LongPollGone.into());
        }
        let request = Request::from_http_body(&req.body)?;
        let extra = request_cost(&request, req.body.len()).saturating_sub(paid);
        self.charge_client(ip, extra, now_ms)?;
        Ok(self.rpc(request, now_ms).await?.into_response())
    }

    /// Answers a parsed client request (from HTTPS or the final hop of an onion request).
    pub async fn rpc(self: &Arc<Self>, request: Request, now_ms: u64) -> Result<Answer, NodeError> {
        match request {
            Request::Batch(b) => Ok(self.batch(b.requests, false, now_ms).await),
            Request::Sequence(b) => Ok(self.batch(b.requests, true, now_ms).await),
            single => self.single(single, now_ms).await,
        }
    }

    async fn batch(
        self: &Arc<Self>,
        requests: Vec<Request>,
        sequence: bool,
        now_ms: u64,
    ) -> Answer {
        let mut results = Vec::with_capacity(requests.len());
        for sub in requests {
            let (code, body) = match self.single(sub, now_ms).await {
                Ok(a) if a.json => (
                    a.status,
                    serde_json::from_slice(&a.body).unwrap_or(Json::Null),
                ),
                Ok(a) => (
                    a.status,
                    Json::from(base64::Engine::encode(
                        &base64::engine::general_purpose::STANDARD,
                        &a.body,
                    )),
                ),
                Err(NodeError::WrongSwarm(body)) => {
                    (421, serde_json::from_slice(&body).unwrap_or(Json::Null))
                }
                Err(e) => (e.status(), Json::from(e.message())),
            };
            let failed = !(200..300).contains(&code);
            results.push(SubResponse { code, body });
            if sequence && failed {
                break;
            }
        }
        Answer::json(BatchResponse { results }.to_json())
    }

    async fn single(self: &Arc<Self>, request: Request, now_ms: u64) -> Result<Answer, NodeError> {
        let view = self.view();
        match &request {
            Request::Info => {
                return Ok(Answer::json(
                    InfoResponse {
                        version: PROTOCOL_VERSION,
                        timestamp: now_ms,
                        meta: meta(now_ms),
                    }
                    .encode(Encoding::Json),
                ));
            }
            Request::GetSwarm(g) => {
                return Ok(Answer::json(swarm_answer(
                    &view,
                    view.swarm_for(&g.account),
                    now_ms,
                )));
            }
            Request::ActiveNodesBin => {
                let nodes: Vec<ActiveNode> = view.nodes().map(active_node).collect();
                return Ok(Answer {
                    status: 200,
                    body: encode_active_nodes(&nodes),
                    json: false,
                });
            }
            Request::OxendRequest(o) => {
                return match o.endpoint {
                    OxendEndpoint::GetServiceNodes => {
                        let mut m = serde_json::Map::new();
                        m.insert("result".into(), service_nodes(&view));
                        m.insert("t".into(), Json::from(now_ms));
                        m.insert("hf".into(), Json::from(HARDFORK.to_vec()));
                        Ok(Answer::json(Json::Object(m).to_string().into_bytes()))
                    }
                    _ => Err(RpcError::OxendFailed("ons_resolve is not supported".into()).into()),
                };
            }
            _ => {}
        }
        let account = *request.account().ok_or(RpcError::Internal)?;
        match view.ownership(&account) {
            Ownership::Mine => {}
            Ownership::Other(swarm) => {
                return Err(NodeError::WrongSwarm(swarm_answer(
                    &view,
                    Some(swarm),
                    now_ms,
                )));
            }
            Ownership::NotReady => return Err(NodeError::NotReady("not in a swarm yet")),
        }
        self.check(&request, now_ms, false).await?;
        if request.method().is_recursive() {
            return self.recursive(request, &view, now_ms).await;
        }
        match &request {
            Request::Retrieve(r) => {
                let owner = owner_of(&r.account)?;
                let limits = r.limits();
                let limits = sotto_store::RetrieveLimits {
                    max_count: limits.max_count,
                    max_size: Some(usize::try_from(limits.max_size).unwrap_or(usize::MAX)),
                };
                let last = r.last_hash.map(|h| h.to_string());
                let namespace = r.namespace.get();
                let page = self
                    .with_store(move |s| {
                        s.retrieve(&owner, namespace, last.as_deref(), limits, now_ms)
                    })
                    .await?;
                let messages = page
                    .messages
                    .into_iter()
                    .filter_map(|m| {
                        Some(RetrievedMessage {
                            hash: MessageHash::parse(m.hash.as_bytes())?,
                            timestamp: m.timestamp_ms,
                            expiration: m.expiry_ms,
                            data: m.data,
                        })
                    })
                    .collect();
                Ok(Answer::json(
                    RetrieveResponse {
                        messages,
                        more: page.more,
                        meta: meta(now_ms),
                    }
                    .encode(Encoding::Json),
                ))
            }
            Request::GetExpiries(g) => {
                let owner = owner_of(&g.account)?;
                let listed = hashes(&g.messages);
                let found = self
                    .with_store(move |s| s.get_expiries(&owner, &listed))
                    .await?;
                let expiries = found
                    .into_iter()
                    .filter_map(|(h, e)| Some((MessageHash::parse(h.as_bytes())?, e)))
                    .collect();
                Ok(Answer::json(
                    GetExpiriesResponse { expiries }.encode(Encoding::Json),
                ))
            }
            _ => Err(RpcError::Internal.into()),
        }
    }

    /// Bounds and signature checks, with the account's revocation of the request's token.
    pub(crate) async fn check(
        &self,
        request: &Request,
        now_ms: u64,
        forwarded: bool,
    ) -> Result<(), NodeError> {
        let listed = listed_hashes(request);
        if listed > MAX_HASHES_PER_REQUEST {
            return Err(NodeError::TooManyHashes { listed });
        }
        let mut revoked = Vec::new();
        if let (Some(token), Some(account)) = (subaccount_token(request), request.account()) {
            let owner = owner_of(account)?;
            let bytes = *token.as_bytes();
            if self
                .with_store(move |s| s.is_revoked(&owner, &bytes))
                .await?
            {
                revoked.push(token);
            }
        }
        request.check(&NodeContext {
            now_ms,
            revoked: &revoked,
            forwarded,
        })?;
        Ok(())
    }

    /// Forwards a checked recursive request to every swarm peer, executes it here, and
    /// gathers the per-node results.
    async fn recursive(
        self: &Arc<Self>,
        request: Request,
        view: &NetworkView,
        now_ms: u64,
    ) -> Result<Answer, NodeError> {
        let method = request.method();
        let body = Forwarded {
            method: method.name().to_owned(),
            params: request.params_bencoded(),
        }
        .encode();
        let mut tasks = JoinSet::new();
        for peer in view.peers() {
            let key = peer.pubkey_ed25519();
            let waiting = self
                .replicator
                .forward(self, key, method, body.clone())
                .await;
            tasks.spawn(async move { (key, waiting.await) });
        }
        let mut swarm = BTreeMap::new();
        let local = match self.execute(&request, now_ms).await {
            Ok(r) => NodeOutcome::Ok(r),
            Err(e) => {
                tracing::warn!(method = method.name(), error = %e, "local execution failed");
                NodeOutcome::Failed(failure(&e))
            }
        };
        swarm.insert(self.pubkey(), local);
        while let Some(joined) = tasks.join_next().await {
            if let Ok((key, outcome)) = joined {
                swarm.insert(key, outcome);
            }
        }
        if let Request::Delete(d) = &request
            && d.required
            && !swarm.values().any(
                |o| matches!(o, NodeOutcome::Ok(NodeResult::Delete(r)) if !r.deleted.is_empty()),
            )
        {
            return Err(RpcError::NothingDeleted.into());
        }
        let hash = match &request {
            Request::Store(s) => Some(s.message_hash()),
            _ => None,
        };
        let response = SwarmResponse {
            method,
            swarm,
            hash,
            meta: meta(now_ms),
        };
        Ok(Answer {
            status: response.status(),
            body: response.encode(Encoding::Json),
            json: true,
        })
    }

    /// `POST /sn/storage_cc`: a recursive request from a swarm peer, checked again (signatures
    /// are end to end) and executed here only.
    pub(crate) async fn storage_cc(
        &self,
        req: &sotto_transport::Request,
        now_ms: u64,
    ) -> Result<Response, NodeError> {
        let sender = self.authenticate_swarm_peer(req, now_ms)?;
        let (request, method) = self.forwarded_request(&req.body, now_ms).await?;
        let result = self.execute(&request, now_ms).await?;
        tracing::debug!(from = %short(&sender.pubkey_ed25519()), method = method.name(), "forwarded request executed");
        Ok(Response::bytes(
            200,
            "application/octet-stream",
            result.encode(method, Encoding::Bencode),
        ))
    }

    /// `POST /sn/storage_batch`: recursive requests from a swarm peer, each checked again and
    /// executed here in order (their store work as one job on the store thread), each answered
    /// as `/sn/storage_cc` would answer it alone.
    pub(crate) async fn storage_batch(
        &self,
        req: &sotto_transport::Request,
        now_ms: u64,
    ) -> Result<Response, NodeError> {
        let sender = self.authenticate_swarm_peer(req, now_ms)?;
        let batch = ForwardBatch::parse(&req.body)
            .map_err(|_| NodeError::PeerBody("storage_batch body"))?;
        let mut checked = Vec::with_capacity(batch.items.len());
        for item in &batch.items {
            checked.push(self.forwarded_request(item, now_ms).await);
        }
        let requests: Vec<Option<&Request>> = checked
            .iter()
            .map(|c| c.as_ref().ok().map(|(r, _)| r))
            .collect();
        let mut results = self.execute_all(&requests, now_ms).await.into_iter();
        let items = checked
            .iter()
            .map(|c| {
                let result = results.next();
                let answer = match (c, result) {
                    (Err(e), _) => Err(e.status_and_message()),
                    (Ok((_, method)), Some(Some(Ok(r)))) => {
                        Ok(r.encode(*method, Encoding::Bencode))
                    }
                    (Ok(_), Some(Some(Err(e)))) => Err(e.status_and_message()),
                    (Ok(_), _) => Err((500, RpcError::Internal.message())),
                };
                match answer {
                    Ok(body) => BatchItemAnswer { status: 200, body },
                    Err((status, text)) => BatchItemAnswer {
                        status,
                        body: text.into_bytes(),
                    },
                }
            })
            .collect();
        tracing::debug!(from = %short(&sender.pubkey_ed25519()), count = batch.items.len(), "forwarded batch executed");
        Ok(Response::bytes(
            200,
            "application/octet-stream",
            BatchAnswer { items }.encode(),
        ))
    }

    /// Authenticates a node-to-node request that only a member of this node's swarm may make.
    fn authenticate_swarm_peer(
        &self,
        req: &sotto_transport::Request,
        now_ms: u64,
    ) -> Result<NodeListing, NodeError> {
        let sender = self.authenticate_peer(req, now_ms)?;
        let view = self.view();
        if view.my_swarm().is_none() || Some(sender.swarm_id()) != view.my_swarm() {
            return Err(NodeError::NotSwarmPeer);
        }
        Ok(sender)
    }

    /// A forwarded request (a `/sn/storage_cc` body), parsed and checked again: a recursive
    /// method, for an account this node's swarm owns, signed by its owner.
    async fn forwarded_request(
        &self,
        body: &[u8],
        now_ms: u64,
    ) -> Result<(Request, Method), NodeError> {
        let fwd = Forwarded::parse(body).map_err(|_| NodeError::PeerBody("storage_cc body"))?;
        let (request, _) = Request::from_command(&fwd.method, &fwd.params)?;
        let method = request.method();
        if !method.is_recursive() {
            return Err(NodeError::PeerBody("not a recursive method"));
        }
        let account = request.account().ok_or(RpcError::Internal)?;
        if self.view().ownership(account) != Ownership::Mine {
            return Err(NodeError::NotOwned);
        }
        self.check(&request, forwarded_check_time(&request, now_ms), true)
            .await?;
        Ok((request, method))
    }

    /// Executes a checked recursive request against the store and signs this node's result.
    pub(crate) async fn execute(
        &self,
        request: &Request,
        now_ms: u64,
    ) -> Result<NodeResult, NodeError> {
        let op = store_op(request, now_ms)?;
        let effect = self.with_store(op).await?;
        self.sign(request, effect, now_ms)
    }

    /// Executes checked recursive requests in order, their store work as one job on the store
    /// thread (so a batch costs one transaction); `None` entries are skipped (and answered
    /// `None`).
    pub(crate) async fn execute_all(
        &self,
        requests: &[Option<&Request>],
        now_ms: u64,
    ) -> Vec<Option<Result<NodeResult, NodeError>>> {
        let mut ops = Vec::with_capacity(requests.len());
        let mut refused: Vec<Option<NodeError>> = Vec::with_capacity(requests.len());
        for request in requests {
            match request.map(|r| store_op(r, now_ms)) {
                Some(Ok(op)) => {
                    ops.push(Some(op));
                    refused.push(None);
                }
                Some(Err(e)) => {
                    ops.push(None);
                    refused.push(Some(e));
                }
                None => {
                    ops.push(None);
                    refused.push(None);
                }
            }
        }
        // One job for the whole batch: if its transaction is not committed, nothing in it is
        // kept and every request fails.
        let effects = self
            .with_store(move |s| {
                Ok(ops
                    .into_iter()
                    .map(|op| op.map(|op| op(s)))
                    .collect::<Vec<_>>())
            })
            .await
            .ok();
        let mut effects = effects.into_iter().flatten();
        requests
            .iter()
            .zip(refused)
            .map(|(request, refused)| {
                let effect = effects.next();
                let request = (*request)?;
                if let Some(e) = refused {
                    return Some(Err(e));
                }
                Some(match effect {
                    Some(Some(Ok(effect))) => self.sign(request, effect, now_ms),
                    Some(Some(Err(e))) => Err(e.into()),
                    _ => Err(NodeError::Store(StoreError::NotCommitted)),
                })
            })
            .collect()
    }

    /// This node's signed result of `request`, whose store work did `effect`.
    fn sign(
        &self,
        request: &Request,
        effect: Effect,
        now_ms: u64,
    ) -> Result<NodeResult, NodeError> {
        let key = self.secret();
        Ok(match (request, effect) {
            (Request::Store(r), Effect::Stored(outcome)) => {
                let (expiry, already) = match outcome {
                    StoreOutcome::Inserted => (r.expiry(), false),
                    StoreOutcome::Extended { expiry_ms } | StoreOutcome::Exists { expiry_ms } => {
                        (expiry_ms, true)
                    }
                };
                NodeResult::Store(StoreResult::sign(key, r.message_hash(), expiry, already))
            }
            (Request::Delete(r), Effect::Deleted(deleted)) => {
                NodeResult::Delete(DeleteResult::sign(key, r, parse_hashes(deleted)))
            }
            (Request::DeleteAll(r), Effect::Bulk(map)) => NodeResult::Bulk(BulkResult::sign(
                key,
                &r.account,
                r.timestamp,
                affected(r.namespaces, map),
            )),
            (Request::DeleteBefore(r), Effect::Bulk(map)) => NodeResult::Bulk(BulkResult::sign(
                key,
                &r.account,
                r.before,
                affected(r.namespaces, map),
            )),
            (Request::ExpireAll(r), Effect::Bulk(map)) => NodeResult::Bulk(BulkResult::sign(
                key,
                &r.account,
                r.expiry,
                affected(r.namespaces, map),
            )),
            (Request::Expire(r), Effect::Expired(result)) => {
                let updated = result
                    .updated
                    .into_iter()
                    .filter_map(|(h, e)| Some((MessageHash::parse(h.as_bytes())?, e)))
                    .collect();
                let unchanged = result
                    .unchanged
                    .into_iter()
                    .filter_map(|(h, e)| Some((MessageHash::parse(h.as_bytes())?, e)))
                    .collect();
                NodeResult::Expire(ExpireResult::sign(key, r, now_ms, updated, unchanged))
            }
            (Request::Revocation(r), Effect::Revoked(count)) => {
                NodeResult::Revocation(RevocationResult::sign(key, r, count))
            }
            _ => return Err(RpcError::Internal.into()),
        })
    }
}

/// The `count` a revocation's signed result carries: how many tokens an unrevoke lifted.
fn revoke_count(o: (Revocation, sotto_store::RevocationOutcome)) -> Option<u64> {
    match o.0 {
        Revocation::Revoke => None,
        Revocation::Unrevoke => Some(o.1.lifted as u64),
    }
}

/// The store work of an owner-signed revoke or unrevoke whose signature the caller checked:
/// applied token by token unless a newer request for the token is held, and kept (as
/// `proof`, its forwarded encoding) for catch-up.
pub(crate) fn revocation_op(
    r: &SubaccountRevocation,
    proof: Vec<u8>,
) -> Result<
    impl FnOnce(&mut Store) -> Result<(Revocation, sotto_store::RevocationOutcome), StoreError>
    + Send
    + 'static,
    NodeError,
> {
    let owner = owner_of(&r.account)?;
    let tokens: Vec<[u8; 36]> = r.tokens.iter().map(|t| *t.as_bytes()).collect();
    let (kind, space, timestamp) = (r.kind, swarm_space(r.account.key()), r.timestamp);
    Ok(move |s: &mut Store| {
        s.apply_revocation(&sotto_store::RevocationRecord {
            owner: &owner,
            swarm_space: space,
            tokens: &tokens,
            revoke: kind == Revocation::Revoke,
            timestamp_ms: timestamp,
            proof: &proof,
        })
        .map(|o| (kind, o))
    })
}

/// The time a request from a swarm peer is checked at: a revoke or unrevoke at its own signed
/// timestamp (unless that is ahead of this node's clock by more than the signature window),
/// so that one forwarded late from a retry queue still counts (the newest request per token
/// wins, so a late one cannot undo a newer one); anything else at `now_ms`.
pub(crate) fn forwarded_check_time(request: &Request, now_ms: u64) -> u64 {
    match request {
        Request::Revocation(r)
            if r.timestamp <= now_ms.saturating_add(sotto_rpc::SIGNATURE_TOLERANCE_MS) =>
        {
            r.timestamp
        }
        _ => now_ms,
    }
}

/// What a recursive request's store work did.
pub(crate) enum Effect {
    /// A store.
    Stored(StoreOutcome),
    /// A delete: the hashes deleted.
    Deleted(Vec<String>),
    /// `delete_all`, `delete_before`, `expire_all`: the hashes affected by namespace.
    Bulk(BTreeMap<i16, Vec<String>>),
    /// An expire.
    Expired(sotto_store::ExpireResult),
    /// A revocation (the count of an unrevoke).
    Revoked(Option<u64>),
}

/// A recursive request's work on the store, to run on the store thread.
type StoreOp = Box<dyn FnOnce(&mut Store) -> Result<Effect, StoreError> + Send>;

/// The store work of a checked recursive request.
fn store_op(request: &Request, now_ms: u64) -> Result<StoreOp, NodeError> {
    Ok(match request {
        Request::Store(r) => {
            let msg = NewMessage {
                owner: owner_of(&r.account)?,
                swarm_space: swarm_space(r.account.key()),
                namespace: r.namespace.get(),
                hash: r.message_hash().to_string(),
                timestamp_ms: r.timestamp,
                expiry_ms: r.expiry(),
                data: r.data.clone(),
            };
            let outbox = r.namespace.is_public_outbox();
            Box::new(move |s| s.store(&msg, outbox).map(Effect::Stored))
        }
        Request::Delete(r) => {
            let owner = owner_of(&r.account)?;
            let (listed, proof) = (hashes(&r.messages), delete_proof(request));
            Box::new(move |s| {
                let deleted = s.delete(&owner, &listed)?;
                s.attach_delete_proof(&proof, &deleted)?;
                Ok(Effect::Deleted(deleted))
            })
        }
        Request::DeleteAll(r) => {
            let owner = owner_of(&r.account)?;
            let (ns, proof) = (ns_filter(r.namespaces), delete_proof(request));
            Box::new(move |s| {
                let map = s.delete_all(&owner, ns)?;
                s.attach_delete_proof(&proof, &flat(&map))?;
                Ok(Effect::Bulk(map))
            })
        }
        Request::DeleteBefore(r) => {
            let owner = owner_of(&r.account)?;
            let (ns, proof, before) = (ns_filter(r.namespaces), delete_proof(request), r.before);
            Box::new(move |s| {
                let map = s.delete_before(&owner, ns, before)?;
                s.attach_delete_proof(&proof, &flat(&map))?;
                Ok(Effect::Bulk(map))
            })
        }
        Request::ExpireAll(r) => {
            let owner = owner_of(&r.account)?;
            let (ns, expiry) = (ns_filter(r.namespaces), r.expiry);
            Box::new(move |s| s.expire_all(&owner, ns, expiry).map(Effect::Bulk))
        }
        Request::Expire(r) => {
            let owner = owner_of(&r.account)?;
            let applied = r.applied_expiries(now_ms);
            let single = applied.first().copied().unwrap_or_default();
            let changes: Vec<(String, u64)> = r
                .messages
                .iter()
                .enumerate()
                .map(|(i, h)| {
                    let e = if applied.len() > 1 {
                        applied.get(i).copied().unwrap_or(single)
                    } else {
                        single
                    };
                    (h.to_string(), e)
                })
                .collect();
            let mode = match r.mode {
                ExpireMode::Shorten => sotto_store::ExpireMode::Shorten,
                ExpireMode::Extend => sotto_store::ExpireMode::Extend,
                ExpireMode::Any if r.extend_only() => sotto_store::ExpireMode::Extend,
                ExpireMode::Any => sotto_store::ExpireMode::Set,
            };
            Box::new(move |s| s.expire(&owner, &changes, mode).map(Effect::Expired))
        }
        Request::Revocation(r) => {
            let op = revocation_op(r, delete_proof(request))?;
            Box::new(move |s| op(s).map(|o| Effect::Revoked(revoke_count(o))))
        }
        _ => return Err(RpcError::Internal.into()),
    })
}
