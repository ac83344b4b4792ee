//! The storage RPC: `POST /storage_rpc/v1` from clients (and the final hop of onion requests),
//! recursive requests forwarded to swarm peers (`POST /sn/storage_cc`), and their execution
//! against the store.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value as Json;
use sotto_identity::PrefixedId;
use sotto_rpc::nodes::{ActiveNode, ServiceNodeState, ServiceNodes, encode_active_nodes};
use sotto_rpc::request::{Encoding, ExpireMode, OxendEndpoint, Revocation};
use sotto_rpc::response::{
    Affected, BatchResponse, BulkResult, DeleteResult, ExpireResult, Failure, GetExpiriesResponse,
    GetSwarmResponse, InfoResponse, Meta, NodeOutcome, NodeResult, RetrieveResponse,
    RetrievedMessage, RevocationResult, StoreResult, SubResponse, SwarmNode, SwarmResponse,
};
use sotto_rpc::{
    AccountId, MessageHash, Method, Namespace, Namespaces, NodeContext, Request, RpcError,
    SubaccountToken,
};
use sotto_store::{NewMessage, StoreError, StoreOutcome};
use sotto_swarm::{INVALID_SWARM_ID, NodeListing, SwarmId, swarm_space};
use sotto_transport::{Response, TransportError};
use tokio::task::JoinSet;

use crate::error::NodeError;
use crate::node::{HARDFORK, Node, PROTOCOL_VERSION, admission_cost, request_cost, short};
use crate::view::{NetworkView, Ownership};
use crate::wire::Forwarded;

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
        self.check(&request, now_ms, false)?;
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
                let page = self.with_store(|s| {
                    s.retrieve(&owner, r.namespace.get(), last.as_deref(), limits, now_ms)
                })?;
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
                let found = self.with_store(|s| s.get_expiries(&owner, &hashes(&g.messages)))?;
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
    pub(crate) fn check(
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
            if self.with_store(|s| s.is_revoked(&owner, token.as_bytes()))? {
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
            let node = Arc::clone(self);
            let peer = peer.clone();
            let body = body.clone();
            tasks.spawn(async move {
                let outcome = node.forward(&peer, method, body).await;
                (peer.pubkey_ed25519(), outcome)
            });
        }
        let mut swarm = BTreeMap::new();
        let local = match self.execute(&request, now_ms) {
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

    async fn forward(&self, peer: &NodeListing, method: Method, body: Vec<u8>) -> NodeOutcome {
        let result = self
            .post_to_node(peer, "/sn/storage_cc", body, FORWARD_TIMEOUT)
            .await;
        let failed = |f: Failure| NodeOutcome::Failed(f);
        match result {
            Ok(resp) if resp.status == 200 => {
                match NodeResult::parse(method, &resp.body, Encoding::Bencode) {
                    Ok(r) => NodeOutcome::Ok(r),
                    Err(_) => failed(Failure {
                        bad_peer_response: true,
                        ..Failure::default()
                    }),
                }
            }
            Ok(resp) => failed(Failure {
                code: Some(resp.status),
                reason: Some(
                    String::from_utf8_lossy(resp.body.get(..200).unwrap_or(&resp.body))
                        .into_owned(),
                ),
                ..Failure::default()
            }),
            Err(TransportError::Timeout(_)) => {
                tracing::info!(peer = %short(&peer.pubkey_ed25519()), "forwarded request timed out");
                failed(Failure {
                    timeout: true,
                    ..Failure::default()
                })
            }
            Err(e) => {
                tracing::info!(peer = %short(&peer.pubkey_ed25519()), error = %e, "forwarding failed");
                failed(Failure {
                    reason: Some("peer unreachable".into()),
                    ..Failure::default()
                })
            }
        }
    }

    /// `POST /sn/storage_cc`: a recursive request from a swarm peer, checked again (signatures
    /// are end to end) and executed here only.
    pub(crate) fn storage_cc(
        &self,
        req: &sotto_transport::Request,
        now_ms: u64,
    ) -> Result<Response, NodeError> {
        let sender = self.authenticate_peer(req, now_ms)?;
        let view = self.view();
        if view.my_swarm().is_none() || Some(sender.swarm_id()) != view.my_swarm() {
            return Err(NodeError::NotSwarmPeer);
        }
        let fwd =
            Forwarded::parse(&req.body).map_err(|_| NodeError::PeerBody("storage_cc body"))?;
        let (request, _) = Request::from_command(&fwd.method, &fwd.params)?;
        let method = request.method();
        if !method.is_recursive() {
            return Err(NodeError::PeerBody("not a recursive method"));
        }
        let account = request.account().ok_or(RpcError::Internal)?;
        if view.ownership(account) != Ownership::Mine {
            return Err(NodeError::NotOwned);
        }
        self.check(&request, now_ms, true)?;
        let result = self.execute(&request, now_ms)?;
        tracing::debug!(from = %short(&sender.pubkey_ed25519()), method = method.name(), "forwarded request executed");
        Ok(Response::bytes(
            200,
            "application/octet-stream",
            result.encode(method, Encoding::Bencode),
        ))
    }

    /// Executes a checked recursive request against the store and signs this node's result.
    pub(crate) fn execute(&self, request: &Request, now_ms: u64) -> Result<NodeResult, NodeError> {
        let key = self.secret();
        match request {
            Request::Store(r) => {
                let owner = owner_of(&r.account)?;
                let hash = r.message_hash();
                let msg = NewMessage {
                    owner,
                    swarm_space: swarm_space(r.account.key()),
                    namespace: r.namespace.get(),
                    hash: hash.to_string(),
                    timestamp_ms: r.timestamp,
                    expiry_ms: r.expiry(),
                    data: r.data.clone(),
                };
                let outcome = self.with_store(|s| s.store(&msg, r.namespace.is_public_outbox()))?;
                let (expiry, already) = match outcome {
                    StoreOutcome::Inserted => (r.expiry(), false),
                    StoreOutcome::Extended { expiry_ms } | StoreOutcome::Exists { expiry_ms } => {
                        (expiry_ms, true)
                    }
                };
                Ok(NodeResult::Store(StoreResult::sign(
                    key, hash, expiry, already,
                )))
            }
            Request::Delete(r) => {
                let owner = owner_of(&r.account)?;
                let deleted = self.with_store(|s| {
                    let deleted = s.delete(&owner, &hashes(&r.messages))?;
                    s.attach_delete_proof(&delete_proof(request), &deleted)?;
                    Ok(deleted)
                })?;
                Ok(NodeResult::Delete(DeleteResult::sign(
                    key,
                    r,
                    parse_hashes(deleted),
                )))
            }
            Request::DeleteAll(r) => {
                let owner = owner_of(&r.account)?;
                let map = self.with_store(|s| {
                    let map = s.delete_all(&owner, ns_filter(r.namespaces))?;
                    s.attach_delete_proof(&delete_proof(request), &flat(&map))?;
                    Ok(map)
                })?;
                Ok(NodeResult::Bulk(BulkResult::sign(
                    key,
                    &r.account,
                    r.timestamp,
                    affected(r.namespaces, map),
                )))
            }
            Request::DeleteBefore(r) => {
                let owner = owner_of(&r.account)?;
                let map = self.with_store(|s| {
                    let map = s.delete_before(&owner, ns_filter(r.namespaces), r.before)?;
                    s.attach_delete_proof(&delete_proof(request), &flat(&map))?;
                    Ok(map)
                })?;
                Ok(NodeResult::Bulk(BulkResult::sign(
                    key,
                    &r.account,
                    r.before,
                    affected(r.namespaces, map),
                )))
            }
            Request::ExpireAll(r) => {
                let owner = owner_of(&r.account)?;
                let map =
                    self.with_store(|s| s.expire_all(&owner, ns_filter(r.namespaces), r.expiry))?;
                Ok(NodeResult::Bulk(BulkResult::sign(
                    key,
                    &r.account,
                    r.expiry,
                    affected(r.namespaces, map),
                )))
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
                let result = self.with_store(|s| s.expire(&owner, &changes, mode))?;
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
                Ok(NodeResult::Expire(ExpireResult::sign(
                    key, r, now_ms, updated, unchanged,
                )))
            }
            Request::Revocation(r) => {
                let owner = owner_of(&r.account)?;
                let tokens: Vec<[u8; 36]> = r.tokens.iter().map(|t| *t.as_bytes()).collect();
                let count = match r.kind {
                    Revocation::Revoke => {
                        let space = swarm_space(r.account.key());
                        self.with_store(|s| s.revoke(&owner, space, &tokens, now_ms))?;
                        None
                    }
                    Revocation::Unrevoke => {
                        let n = self.with_store(|s| s.unrevoke(&owner, &tokens))?;
                        Some(n as u64)
                    }
                };
                Ok(NodeResult::Revocation(RevocationResult::sign(
                    key, r, count,
                )))
            }
            _ => Err(RpcError::Internal.into()),
        }
    }
}
