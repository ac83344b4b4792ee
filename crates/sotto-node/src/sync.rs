//! Catch-up between nodes: `POST /sn/sync` serves the messages of a swarm-space range in
//! bounded, resumable pages; [`Node::pull_range`] fetches a range from one node, and
//! [`Node::catch_up`] runs the pulls a change of the node list calls for. Deletes are caught up
//! too: after pulling, a node asks the source which of its own messages in the range the source
//! deleted (`POST /sn/deleted`, [`Node::purge_deleted`]); the source answers each with the
//! owner's signed request that deleted it, and the node verifies that request again before it
//! deletes anything. No node takes back a copy of a message it deleted (the store keeps
//! tombstones until the message would expire).
//!
//! Trust: a node serves a range only to nodes entitled to it under the current list (the
//! whole space never), a pulled message must meet the bounds of a stored message, and a peer's
//! word that something was deleted deletes nothing.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use sotto_crypto::Ed25519PublicKey;
use sotto_rpc::replication::{BlobFormat, ReplicatedMessage, encode_blob, parse_blob};
use sotto_rpc::request::SubaccountRevocation;
use sotto_rpc::{AccountId, MessageHash, Namespaces, Request};
use sotto_store::{DeletionProofs, MessageHead, NewMessage};
use sotto_swarm::{NodeListing, SwarmRange, swarm_space};
use sotto_transport::Response;
use thiserror::Error;

use crate::error::NodeError;
use crate::node::{Node, short, unix_now_ms};
use crate::rpc::revocation_op;
use crate::view::{NetworkView, ranges_intersect};
use crate::wire::{
    DeletedAnswer, Forwarded, Hashes, MAX_DELETED_QUERY, MAX_REVOCATIONS_PAGE, MAX_SYNC_BYTES,
    NEXT_ROW_HEADER, RevocationsAnswer, RevocationsQuery, SyncRequest, parse_next_row,
};

/// A part of the swarm space that is never the whole of it: `(lower, upper]`, wrapping
/// through 0 when `lower > upper`. What one `/sn/sync` or `/sn/deleted` round asks about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    /// The lower end (exclusive).
    pub lower: u64,
    /// The upper end (inclusive).
    pub upper: u64,
}

impl Span {
    /// The spans to ask for `range` in: the range itself, or, for the whole space (a single
    /// swarm), its two halves.
    #[must_use]
    pub fn pieces(range: &SwarmRange) -> Vec<Self> {
        let (lower, upper) = (range.lower_exclusive(), range.upper_inclusive());
        if range.is_whole_space() {
            let mid = lower.wrapping_add(1 << 63);
            vec![
                Self { lower, upper: mid },
                Self {
                    lower: mid,
                    upper: lower,
                },
            ]
        } else {
            vec![Self { lower, upper }]
        }
    }

    /// Whether `space` lies in the span.
    #[must_use]
    pub fn contains(&self, space: u64) -> bool {
        if self.lower < self.upper {
            self.lower < space && space <= self.upper
        } else {
            self.lower < space || space <= self.upper
        }
    }

    /// Whether every position of the span lies in `outer`.
    #[must_use]
    pub fn within(&self, outer: &SwarmRange) -> bool {
        if outer.is_whole_space() {
            return true;
        }
        let base = outer.lower_exclusive();
        let span = outer.upper_inclusive().wrapping_sub(base);
        let lo = self.lower.wrapping_sub(base);
        let hi = self.upper.wrapping_sub(base);
        lo < hi && hi <= span
    }
}

/// Data bytes asked for per page.
pub const PAGE_BYTES: u64 = 1 << 20;
/// How long one page may take.
pub const PAGE_TIMEOUT: Duration = Duration::from_secs(30);
/// Pulls from one source are retried this many times (with growing pauses) before giving up.
pub const MAX_ATTEMPTS: u32 = 8;

/// Why a pull stopped.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum SyncError {
    /// The source could not be reached or did not answer in time.
    #[error("transport: {0}")]
    Transport(#[from] sotto_transport::TransportError),
    /// The source refused the request.
    #[error("source answered {status}")]
    Refused {
        /// The status.
        status: u16,
    },
    /// The source's answer is malformed.
    #[error("malformed answer: {0}")]
    Malformed(&'static str),
    /// Storing the messages failed.
    #[error("store: {0}")]
    Store(#[from] NodeError),
}

/// Counts the catch-up rounds so an outdated round stops when a newer list arrives.
#[derive(Debug, Default)]
pub struct SyncGeneration(AtomicU64);

impl SyncGeneration {
    /// Starts a new round; returns its number.
    pub fn advance(&self) -> u64 {
        self.0.fetch_add(1, Ordering::SeqCst).wrapping_add(1)
    }

    /// Whether `round` is still the newest.
    #[must_use]
    pub fn is_current(&self, round: u64) -> bool {
        self.0.load(Ordering::SeqCst) == round
    }
}

/// A replicated message as the store takes it, if it is sound: its hash must be the hash of
/// its contents, its owner must lie in `span`, and it must meet the bounds of a stored
/// message (`sotto_rpc::check_replica_bounds`: size, timestamp, expiry).
fn accept(m: ReplicatedMessage, span: &Span, now_ms: u64) -> Option<NewMessage> {
    let space = swarm_space(m.account.key());
    let hash = MessageHash::parse(&m.hash)?;
    if !span.contains(space) || hash != MessageHash::compute(&m.account, m.namespace, &m.data) {
        return None;
    }
    sotto_rpc::check_replica_bounds(m.timestamp, m.expiry, m.data.len(), now_ms).ok()?;
    Some(NewMessage {
        owner: sotto_identity::PrefixedId::from_bytes(&m.account.to_bytes()).ok()?,
        swarm_space: space,
        namespace: m.namespace.get(),
        hash: hash.to_string(),
        timestamp_ms: m.timestamp,
        expiry_ms: m.expiry,
        data: m.data,
    })
}

/// The owner's signed delete request in `proof`, if it is one (`delete`, `delete_all` or
/// `delete_before`), with the time its signature is checked at: its own (`delete_all`'s
/// timestamp, `delete_before`'s `before`), since it may be old by now; `now_ms` for `delete`,
/// which signs no time.
fn delete_request(proof: &[u8], now_ms: u64) -> Option<(Request, u64)> {
    let fwd = Forwarded::parse(proof).ok()?;
    let (request, _) = Request::from_command(&fwd.method, &fwd.params).ok()?;
    let at = match &request {
        Request::Delete(_) => now_ms,
        Request::DeleteAll(r) => r.timestamp,
        Request::DeleteBefore(r) => r.before,
        _ => return None,
    };
    Some((request, at))
}

/// Whether the delete `request` covers the message `hash` described by `head`: the same
/// account, and the hash listed (`delete`), or the namespace covered and the message no newer
/// than the request (`delete_all`) or its `before` (`delete_before`).
fn covers(request: &Request, hash: &str, head: &MessageHead) -> bool {
    let owner = AccountId::from(head.owner);
    let in_ns = |ns: &Namespaces| match ns {
        Namespaces::One(n) => n.get() == head.namespace,
        Namespaces::All => true,
    };
    match request {
        Request::Delete(r) => {
            r.account == owner && r.messages.iter().any(|h| h.to_string() == hash)
        }
        Request::DeleteAll(r) => {
            r.account == owner && in_ns(&r.namespaces) && head.timestamp_ms <= r.timestamp
        }
        Request::DeleteBefore(r) => {
            r.account == owner && in_ns(&r.namespaces) && head.timestamp_ms <= r.before
        }
        _ => false,
    }
}

/// The owner's signed revoke or unrevoke in `proof`, if it is one, for an account in `span`,
/// made no later than the signature window ahead of `now_ms`. Its signature is not checked
/// here.
fn revocation_request(proof: &[u8], span: &Span, now_ms: u64) -> Option<Request> {
    let fwd = Forwarded::parse(proof).ok()?;
    let (request, _) = Request::from_command(&fwd.method, &fwd.params).ok()?;
    let Request::Revocation(r) = &request else {
        return None;
    };
    let ahead = now_ms.saturating_add(sotto_rpc::SIGNATURE_TOLERANCE_MS);
    (span.contains(swarm_space(r.account.key())) && r.timestamp <= ahead).then_some(request)
}

/// What applying pulled revocations did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RevocationsPulled {
    /// Requests verified and applied (wholly or for some tokens).
    pub applied: usize,
    /// Requests verified but older than what is held for every token they name.
    pub stale: usize,
    /// Requests refused: not a revocation, outside the range, or not signed by the owner.
    pub ignored: usize,
}

impl Node {
    /// Verifies each of `proofs` (pulled from a peer for `span`) as the account owner's signed
    /// revoke or unrevoke, at its own signed time, and applies those that hold, oldest first.
    pub async fn apply_pulled_revocations(
        &self,
        proofs: Vec<Vec<u8>>,
        span: &Span,
        now_ms: u64,
    ) -> Result<RevocationsPulled, NodeError> {
        let mut out = RevocationsPulled::default();
        let mut verified: Vec<(SubaccountRevocation, Vec<u8>)> = Vec::new();
        for proof in proofs {
            let checked = match revocation_request(&proof, span, now_ms) {
                Some(request) => {
                    let at = match &request {
                        Request::Revocation(r) => r.timestamp,
                        _ => now_ms,
                    };
                    self.check(&request, at, true).await.ok().map(|()| request)
                }
                None => None,
            };
            match checked {
                Some(Request::Revocation(r)) => verified.push((r, proof)),
                _ => out.ignored += 1,
            }
        }
        verified.sort_by_key(|(r, _)| r.timestamp);
        for (r, proof) in verified {
            let op = revocation_op(&r, proof)?;
            let (_, outcome) = self.with_store(op).await?;
            if outcome.applied > 0 {
                out.applied += 1;
            } else {
                out.stale += 1;
            }
        }
        Ok(out)
    }

    /// `POST /sn/revocations`: a page of the owners' signed revoke/unrevoke requests for
    /// accounts in the requested range, for a node entitled to it (as for `/sn/sync`).
    pub(crate) async fn serve_revocations(
        &self,
        req: &sotto_transport::Request,
        now_ms: u64,
    ) -> Result<Response, NodeError> {
        let sender = self.authenticate_peer(req, now_ms)?;
        let query = RevocationsQuery::parse(&req.body)
            .map_err(|_| NodeError::PeerBody("revocations query"))?;
        if query.lower == query.upper {
            return Err(NodeError::RangeRefused("the whole swarm space"));
        }
        let view = self.view();
        let theirs = self.entitled_range(&view, &sender)?;
        let span = Span {
            lower: query.lower,
            upper: query.upper,
        };
        if !span.within(&theirs) {
            return Err(NodeError::RangeRefused("outside the sender's swarm"));
        }
        let rows = self
            .with_store(move |s| {
                s.revocations_after(query.lower, query.upper, query.after, MAX_REVOCATIONS_PAGE)
            })
            .await?;
        let next = rows.last().map_or(query.after, |r| r.0);
        let proofs = rows
            .into_iter()
            .map(|(_, proof)| proof)
            .filter(|proof| {
                Forwarded::parse(proof)
                    .ok()
                    .and_then(|fwd| Request::from_command(&fwd.method, &fwd.params).ok())
                    .and_then(|(r, _)| r.account().map(|a| swarm_space(a.key())))
                    .is_some_and(|space| self.holds(&view, space))
            })
            .collect();
        Ok(Response::bytes(
            200,
            "application/json",
            RevocationsAnswer { proofs, next }.to_json(),
        ))
    }

    /// Pulls from `source` the owners' signed revoke/unrevoke requests for `span`, page by page
    /// from `*after` (updated as pages complete, so a failed run resumes), and applies those
    /// that verify. A source that does not know the endpoint (404, an earlier version) has
    /// nothing to hand over. Returns what it did.
    pub async fn pull_revocations(
        &self,
        source: &NodeListing,
        span: Span,
        after: &mut i64,
    ) -> Result<RevocationsPulled, SyncError> {
        let mut total = RevocationsPulled::default();
        loop {
            let body = RevocationsQuery {
                lower: span.lower,
                upper: span.upper,
                after: *after,
            }
            .to_json();
            let resp = self
                .post_to_node(source, "/sn/revocations", body, PAGE_TIMEOUT)
                .await?;
            if resp.status == 404 {
                // A node of an earlier version: it has no revocations to hand over (its
                // messages and deletes still count).
                tracing::info!(from = %short(&source.pubkey_ed25519()), "the source does not serve revocations");
                return Ok(total);
            }
            if resp.status != 200 {
                return Err(SyncError::Refused {
                    status: resp.status,
                });
            }
            let page = RevocationsAnswer::parse(&resp.body)
                .map_err(|_| SyncError::Malformed("revocations"))?;
            if page.proofs.is_empty() && page.next == *after {
                return Ok(total);
            }
            if page.next <= *after {
                return Err(SyncError::Malformed("revocations: next does not advance"));
            }
            let got = self
                .apply_pulled_revocations(page.proofs, &span, unix_now_ms())
                .await?;
            if got.ignored > 0 {
                tracing::info!(from = %short(&source.pubkey_ed25519()), ignored = got.ignored, "claimed revocations without a valid owner signature were ignored");
            }
            total.applied += got.applied;
            total.stale += got.stale;
            total.ignored += got.ignored;
            *after = page.next;
        }
    }

    /// Whether `sender` may catch up on data this node holds: it is in this node's swarm, or
    /// its swarm's range under the current list overlaps the range this node's swarm owned
    /// before the list changed. Returns the sender's current range.
    fn entitled_range(
        &self,
        view: &NetworkView,
        sender: &NodeListing,
    ) -> Result<SwarmRange, NodeError> {
        let theirs = view
            .range_of(sender.swarm_id())
            .filter(|_| sender.swarm_id().is_valid())
            .ok_or(NodeError::RangeRefused("the sender is in no swarm"))?;
        let peer = view.my_swarm().is_some_and(|s| s == sender.swarm_id());
        let took_over = self
            .previous_range()
            .is_some_and(|held| ranges_intersect(&held, &theirs));
        if peer || took_over {
            Ok(theirs)
        } else {
            Err(NodeError::RangeRefused(
                "the sender's swarm holds no part of this node's range",
            ))
        }
    }

    /// Whether this node's swarm owns `space`, or owned it before the list changed.
    fn holds(&self, view: &NetworkView, space: u64) -> bool {
        view.my_range().is_some_and(|r| r.contains(space))
            || self.previous_range().is_some_and(|r| r.contains(space))
    }

    /// `POST /sn/sync`: one page of the requested range, for a node entitled to it: the range
    /// must not be the whole space and must lie in the sender's swarm's range, and only
    /// messages this node's swarm owns (or owned) are served.
    pub(crate) async fn serve_sync(
        &self,
        req: &sotto_transport::Request,
        now_ms: u64,
    ) -> Result<Response, NodeError> {
        let sender = self.authenticate_peer(req, now_ms)?;
        let sync = SyncRequest::parse(&req.body).map_err(|_| NodeError::PeerBody("sync body"))?;
        if sync.lower == sync.upper {
            return Err(NodeError::RangeRefused("the whole swarm space"));
        }
        let view = self.view();
        let theirs = self.entitled_range(&view, &sender)?;
        let span = Span {
            lower: sync.lower,
            upper: sync.upper,
        };
        if !span.within(&theirs) {
            return Err(NodeError::RangeRefused("outside the sender's swarm"));
        }
        let max = usize::try_from(sync.max_bytes.clamp(1, MAX_SYNC_BYTES)).unwrap_or(usize::MAX);
        let rows = self
            .with_store(move |s| s.range_after(sync.lower, sync.upper, sync.after_row, max, now_ms))
            .await?;
        let next = rows.last().map_or(sync.after_row, |r| r.row_id);
        let messages: Vec<ReplicatedMessage> = rows
            .into_iter()
            .filter(|r| self.holds(&view, r.message.swarm_space))
            .map(|r| ReplicatedMessage {
                account: AccountId::from(r.message.owner),
                hash: r.message.hash.into_bytes(),
                timestamp: r.message.timestamp_ms,
                expiry: r.message.expiry_ms,
                data: r.message.data,
                namespace: sotto_rpc::Namespace::new(r.message.namespace),
            })
            .collect();
        tracing::debug!(to = %short(&sender.pubkey_ed25519()), count = messages.len(), "serving sync page");
        let mut resp = Response::bytes(
            200,
            "application/octet-stream",
            encode_blob(&messages, BlobFormat::V1WithNamespace),
        );
        resp.headers
            .push((NEXT_ROW_HEADER.to_owned(), next.to_string()));
        Ok(resp)
    }

    /// `POST /sn/deleted`: which of the listed hashes this node deleted, each with the owner's
    /// signed request that deleted it, for a node entitled to the owners' range.
    pub(crate) async fn serve_deleted(
        &self,
        req: &sotto_transport::Request,
        now_ms: u64,
    ) -> Result<Response, NodeError> {
        let sender = self.authenticate_peer(req, now_ms)?;
        let query = Hashes::parse(&req.body).map_err(|_| NodeError::PeerBody("deleted query"))?;
        let view = self.view();
        let theirs = self.entitled_range(&view, &sender)?;
        let asked = query.hashes;
        let found = self.with_store(move |s| s.deletion_proofs(&asked)).await?;
        // Each proof once: is its account in the sender's range and held here?
        let entitled: Vec<bool> = found
            .proofs
            .iter()
            .map(|proof| {
                Forwarded::parse(proof)
                    .ok()
                    .and_then(|fwd| Request::from_command(&fwd.method, &fwd.params).ok())
                    .and_then(|(r, _)| r.account().map(|a| swarm_space(a.key())))
                    .is_some_and(|space| theirs.contains(space) && self.holds(&view, space))
            })
            .collect();
        let mut answer = DeletionProofs::default();
        let mut moved: BTreeMap<usize, usize> = BTreeMap::new();
        for (hash, i) in found.hashes {
            let (Some(true), Some(proof)) = (entitled.get(i).copied(), found.proofs.get(i)) else {
                continue;
            };
            let at = *moved.entry(i).or_insert_with(|| {
                answer.proofs.push(proof.clone());
                answer.proofs.len().saturating_sub(1)
            });
            answer.hashes.push((hash, at));
        }
        Ok(Response::bytes(
            200,
            "application/json",
            DeletedAnswer::new(&answer).to_json(),
        ))
    }

    /// Asks `source` which of this node's messages in `span` it deleted, in batches from row
    /// `*after_row` (updated as batches complete, so a failed run resumes), and deletes here
    /// those whose deletion the source proves with the owner's signed request, verified again
    /// here. Returns how many were deleted.
    pub async fn purge_deleted(
        &self,
        source: &NodeListing,
        span: Span,
        after_row: &mut i64,
    ) -> Result<usize, SyncError> {
        let mut purged = 0;
        loop {
            let now = unix_now_ms();
            let from = *after_row;
            let rows = self
                .with_store(move |s| {
                    s.hashes_after(span.lower, span.upper, from, MAX_DELETED_QUERY, now)
                })
                .await?;
            let Some(last) = rows.last().map(|r| r.0) else {
                return Ok(purged);
            };
            let query = Hashes {
                hashes: rows.into_iter().map(|r| r.1).collect(),
            };
            let resp = self
                .post_to_node(source, "/sn/deleted", query.to_json(), PAGE_TIMEOUT)
                .await?;
            if resp.status != 200 {
                return Err(SyncError::Refused {
                    status: resp.status,
                });
            }
            let gone =
                DeletedAnswer::parse(&resp.body).map_err(|_| SyncError::Malformed("deleted"))?;
            // Each proof is parsed and its signature verified once.
            let mut verified: Vec<Option<Request>> = Vec::with_capacity(gone.proofs.len());
            for proof in &gone.proofs {
                let request = match delete_request(proof, now) {
                    Some((request, at)) => {
                        self.check(&request, at, false).await.ok().map(|()| request)
                    }
                    None => None,
                };
                verified.push(request);
            }
            let mut ignored = 0usize;
            for (hash, i) in &gone.hashes {
                // Only hashes that were asked about count, and only with a proof that holds.
                if !query.hashes.contains(hash) {
                    continue;
                }
                let (Some(Some(request)), Some(proof)) = (verified.get(*i), gone.proofs.get(*i))
                else {
                    ignored += 1;
                    continue;
                };
                if self.apply_deletion_proof(hash, request, proof).await? {
                    purged += 1;
                } else {
                    ignored += 1;
                }
            }
            if ignored > 0 {
                tracing::info!(from = %short(&source.pubkey_ed25519()), ignored, "claimed deletes without a valid owner signature were ignored");
            }
            *after_row = last;
        }
    }

    /// Deletes the message `hash` if `request` (the owner's delete, whose signature the caller
    /// verified; `proof` is its bytes) covers it. Returns whether the message was deleted.
    pub(crate) async fn apply_deletion_proof(
        &self,
        hash: &str,
        request: &Request,
        proof: &[u8],
    ) -> Result<bool, NodeError> {
        let owned = hash.to_owned();
        let Some(head) = self.with_store(move |s| s.message_head(&owned)).await? else {
            return Ok(false);
        };
        if !covers(request, hash, &head) {
            return Ok(false);
        }
        let (hash, proof) = (hash.to_owned(), proof.to_vec());
        self.with_store(move |s| s.delete_proven(&head.owner, &hash, &proof))
            .await
    }

    /// Pulls `span` from `source`, page by page from `*after_row` (updated as pages arrive, so
    /// a failed pull resumes where it stopped). Returns how many messages were new here.
    pub async fn pull_range(
        &self,
        source: &NodeListing,
        span: Span,
        after_row: &mut i64,
    ) -> Result<usize, SyncError> {
        let mut inserted = 0;
        loop {
            let body = SyncRequest {
                lower: span.lower,
                upper: span.upper,
                after_row: *after_row,
                max_bytes: PAGE_BYTES,
            }
            .to_json();
            let resp = self
                .post_to_node(source, "/sn/sync", body, PAGE_TIMEOUT)
                .await?;
            if resp.status != 200 {
                return Err(SyncError::Refused {
                    status: resp.status,
                });
            }
            let next = resp
                .header(NEXT_ROW_HEADER)
                .ok_or(SyncError::Malformed("no next-row header"))
                .and_then(|v| {
                    parse_next_row(v).map_err(|_| SyncError::Malformed("next-row header"))
                })?;
            let messages = parse_blob(&resp.body).map_err(|_| SyncError::Malformed("blob"))?;
            if messages.is_empty() {
                return Ok(inserted);
            }
            if next <= *after_row {
                return Err(SyncError::Malformed("next row does not advance"));
            }
            let now = unix_now_ms();
            let offered = messages.len();
            let batch: Vec<NewMessage> = messages
                .into_iter()
                .filter_map(|m| accept(m, &span, now))
                .collect();
            if batch.len() < offered {
                tracing::info!(from = %short(&source.pubkey_ed25519()), refused = offered - batch.len(), "pulled messages that fail the bounds of a store were refused");
            }
            inserted += self
                .with_store(move |s| s.insert_replicated(&batch, now))
                .await?;
            *after_row = next;
        }
    }

    /// Pulls this node's range from each of `sources` (concurrently), retrying each source with
    /// growing pauses until it succeeds, leaves the list, or `round` is no longer current.
    pub async fn catch_up(
        self: &Arc<Self>,
        sources: Vec<Ed25519PublicKey>,
        generation: Arc<SyncGeneration>,
        round: u64,
    ) {
        let mut tasks = tokio::task::JoinSet::new();
        for source in sources {
            let node = Arc::clone(self);
            let generation = Arc::clone(&generation);
            tasks.spawn(async move { node.catch_up_from(source, &generation, round).await });
        }
        while tasks.join_next().await.is_some() {}
    }

    async fn catch_up_from(
        &self,
        source: Ed25519PublicKey,
        generation: &SyncGeneration,
        round: u64,
    ) {
        // Per piece of the range: rows pulled, rows checked for deletes, revocations pulled.
        let mut progress = [(0i64, 0i64, 0i64); 2];
        let mut pause = Duration::from_millis(500);
        for attempt in 1..=MAX_ATTEMPTS {
            if !generation.is_current(round) {
                return;
            }
            let view: Arc<NetworkView> = self.view();
            let (Some(listing), Some(range)) = (view.node(&source).cloned(), view.my_range())
            else {
                return;
            };
            let mut pulled = Ok((0, 0, 0));
            for (span, (after_row, purged_to, revoked_to)) in
                Span::pieces(&range).into_iter().zip(progress.iter_mut())
            {
                let step = match self.pull_range(&listing, span, after_row).await {
                    Ok(new) => match self.purge_deleted(&listing, span, purged_to).await {
                        Ok(deleted) => self
                            .pull_revocations(&listing, span, revoked_to)
                            .await
                            .map(|r| (new, deleted, r.applied)),
                        Err(e) => Err(e),
                    },
                    Err(e) => Err(e),
                };
                pulled = match (pulled, step) {
                    (Ok((a, b, c)), Ok((d, e, f))) => Ok((a + d, b + e, c + f)),
                    (Err(e), _) | (_, Err(e)) => Err(e),
                };
                if pulled.is_err() {
                    break;
                }
            }
            match pulled {
                Ok((new, deleted, revocations)) => {
                    tracing::info!(from = %short(&source), new, deleted, revocations, "catch-up done");
                    return;
                }
                Err(e) => {
                    tracing::info!(from = %short(&source), attempt, error = %e, "catch-up interrupted; will resume");
                }
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_secs(15));
        }
        tracing::warn!(from = %short(&source), "catch-up gave up");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sotto_rpc::Namespace;
    use sotto_swarm::{SwarmId, SwarmIds};

    #[test]
    fn only_sound_messages_are_accepted() {
        let ids: SwarmIds = [0u64, 1 << 63].into_iter().map(SwarmId).collect();
        let low = Span::pieces(&ids.boundaries(SwarmId(0)).unwrap())[0];
        let account = AccountId::new(5, [0; 32]);
        let data = b"hi".to_vec();
        let now = 1_750_000_000_000;
        let good = ReplicatedMessage {
            account,
            hash: MessageHash::compute(&account, Namespace::DEFAULT, &data)
                .to_string()
                .into_bytes(),
            timestamp: now,
            expiry: now + 3_600_000,
            data,
            namespace: Namespace::DEFAULT,
        };
        assert!(accept(good.clone(), &low, now).is_some());
        let high = Span::pieces(&ids.boundaries(SwarmId(1 << 63)).unwrap())[0];
        assert!(
            accept(good.clone(), &high, now).is_none(),
            "outside the range"
        );
        let mut forged = good.clone();
        forged.data = b"other".to_vec();
        assert!(accept(forged, &low, now).is_none(), "hash does not match");
        let mut bad_ns = good.clone();
        bad_ns.namespace = Namespace::new(3);
        assert!(
            accept(bad_ns, &low, now).is_none(),
            "namespace is part of the hash"
        );
        // The bounds of a store: no expiry years ahead, no timestamp from the future, no
        // oversize data (a valid hash does not help).
        let mut far = good.clone();
        far.expiry = now + 365 * 24 * 3_600_000;
        assert!(accept(far, &low, now).is_none(), "far-future expiry");
        let mut future = good.clone();
        future.timestamp = now + 60_000;
        assert!(accept(future, &low, now).is_none(), "timestamp ahead");
        let mut big = good;
        big.data = vec![0; sotto_rpc::request::MAX_DATA_LEN + 1];
        big.hash = MessageHash::compute(&account, Namespace::DEFAULT, &big.data)
            .to_string()
            .into_bytes();
        assert!(accept(big, &low, now).is_none(), "oversize");
    }

    #[test]
    fn spans() {
        let ids: SwarmIds = [0u64, 1 << 63].into_iter().map(SwarmId).collect();
        let low = ids.boundaries(SwarmId(0)).unwrap();
        let high = ids.boundaries(SwarmId(1 << 63)).unwrap();
        let [span] = Span::pieces(&low)[..] else {
            panic!()
        };
        assert!(span.within(&low) && !span.within(&high));
        let whole: SwarmIds = [5u64].into_iter().map(SwarmId).collect();
        let w = whole.boundaries(SwarmId(5)).unwrap();
        let halves = Span::pieces(&w);
        assert_eq!(halves.len(), 2);
        for space in [0, 5, 6, 1 << 63, (1 << 63) + 5, (1 << 63) + 6, u64::MAX] {
            let inside = halves.iter().filter(|h| h.contains(space)).count();
            assert_eq!(inside, 1, "{space}");
        }
        assert!(halves.iter().all(|h| h.within(&w) && h.lower != h.upper));
        // A half of the space is not within one swarm's range of two.
        assert!(!halves[0].within(&low) || !halves[1].within(&low));
    }
}
