//! Forwarding recursive requests to swarm peers in batches.
//!
//! Each peer has a queue and a task. Requests queued together (up to [`BATCH_BYTES`] and
//! [`MAX_BATCH_ITEMS`]) go in one `POST /sn/storage_batch`, over the client's pooled
//! keep-alive connections, with at most [`MAX_IN_FLIGHT`] batches in flight per peer. A request
//! waits for a batch at most [`LINGER`], and only while earlier batches are in flight (so a
//! quiet node forwards at once). The peer executes a batch in order and answers each request
//! as `/sn/storage_cc` would, so the client still gets every node's signed result.
//!
//! A batch the peer did not take (unreachable, timed out, overloaded) goes to a retry queue in
//! the store, as do the requests after it while the queue is not empty, so the peer gets them
//! in order; the task sends the queue again with growing pauses until the peer takes it, leaves
//! the swarm, or the entries expire ([`QUEUE_TTL`]). The queue outlives a restart.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use sotto_crypto::Ed25519PublicKey;
use sotto_rpc::response::{Failure, NodeOutcome, NodeResult};
use sotto_rpc::{Encoding, Method};
use sotto_transport::{Response, TransportError};
use tokio::sync::{Semaphore, mpsc, oneshot};
use tokio::time::Instant;

use crate::node::{MAX_PEER_BODY, Node, short, unix_now_ms};
use crate::rpc::FORWARD_TIMEOUT;
use crate::wire::{BatchAnswer, BatchItemAnswer, ForwardBatch, MAX_BATCH_ITEMS};

/// The most body bytes of one batch: the `/sn/*` body cap, less a margin.
pub const BATCH_BYTES: usize = MAX_PEER_BODY - 4096;
/// How long a request may wait for others to share its batch (only while batches are in
/// flight).
pub const LINGER: Duration = Duration::from_millis(3);
/// Batches in flight to one peer at most.
pub const MAX_IN_FLIGHT: usize = 4;
/// Requests waiting for one peer's task at most (the forwarding handler waits for room).
pub const PEER_QUEUE: usize = 4096;
/// How long a request stays in the retry queue at most; after that the peer's catch-up is
/// what brings it the data.
pub const QUEUE_TTL: Duration = Duration::from_secs(3600);
/// The first pause before the retry queue is sent again, doubled after each failure.
pub const RETRY_FIRST: Duration = Duration::from_millis(500);
/// The longest pause between retries.
pub const RETRY_MAX: Duration = Duration::from_secs(15);

/// A request for a peer, with where its outcome goes.
struct Item {
    body: Vec<u8>,
    method: Method,
    reply: oneshot::Sender<NodeOutcome>,
}

/// The per-peer forwarding queues.
#[derive(Default)]
pub(crate) struct Replicator {
    peers: Mutex<HashMap<[u8; 32], mpsc::Sender<Item>>>,
}

fn failed(f: Failure) -> NodeOutcome {
    NodeOutcome::Failed(f)
}

fn unreachable_peer() -> NodeOutcome {
    failed(Failure {
        reason: Some("peer unreachable".into()),
        ..Failure::default()
    })
}

/// Whether a request's status in a batch answer means "not now" (worth sending again) rather
/// than a refusal of that request.
fn retryable(status: u16) -> bool {
    status >= 500 || status == 429
}

/// Whether a whole batch's status means "not now". Only a malformed or oversized batch is
/// refused for good: a peer that has just started answers 403 until it has the node list, and a
/// clock out of step (406) may be put right.
fn batch_retryable(status: u16) -> bool {
    !matches!(status, 400 | 413)
}

impl Replicator {
    /// Queues `body` (a forwarded `method` request) for `peer`; the returned future gives the
    /// peer's outcome.
    pub(crate) async fn forward(
        &self,
        node: &Arc<Node>,
        peer: Ed25519PublicKey,
        method: Method,
        body: Vec<u8>,
    ) -> impl Future<Output = NodeOutcome> + Send + 'static {
        let (reply, outcome) = oneshot::channel();
        let queue = self.queue(node, peer);
        let _ = queue
            .send(Item {
                body,
                method,
                reply,
            })
            .await;
        async move { outcome.await.unwrap_or_else(|_| unreachable_peer()) }
    }

    /// The queue of `peer`, with its task started if it has none.
    fn queue(&self, node: &Arc<Node>, peer: Ed25519PublicKey) -> mpsc::Sender<Item> {
        let mut peers = self
            .peers
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(queue) = peers.get(&peer.0).filter(|q| !q.is_closed()) {
            return queue.clone();
        }
        let (queue, items) = mpsc::channel(PEER_QUEUE);
        tokio::spawn(peer_task(Arc::downgrade(node), peer, items));
        peers.insert(peer.0, queue.clone());
        queue
    }

    /// Starts the task of every peer with requests in the retry queue (after a restart), and
    /// drops the queue of nodes no longer in this node's swarm.
    pub(crate) async fn resume(&self, node: &Arc<Node>) {
        let Ok(queued) = node.with_store(|s| s.queued_peers()).await else {
            return;
        };
        let view = node.view();
        if view.my_swarm().is_none() {
            return;
        }
        for (peer, count) in queued {
            let Ok(key) = <[u8; 32]>::try_from(peer.as_slice()) else {
                continue;
            };
            let key = Ed25519PublicKey(key);
            if view.peers().into_iter().any(|p| p.pubkey_ed25519() == key) {
                self.queue(node, key);
            } else if node
                .with_store(move |s| s.drop_forward_queue(&peer))
                .await
                .is_ok()
            {
                tracing::info!(peer = %short(&key), count, "dropped the retry queue of a node that left the swarm");
            }
        }
    }
}

/// What one attempt to send the retry queue did.
enum Drained {
    /// The queue is empty.
    Empty,
    /// The peer took a batch; more may follow.
    Progress,
    /// The peer did not take it.
    Failed,
    /// The peer left the swarm; its queue was dropped.
    Dropped,
}

/// The task of one peer: batches its requests, sends them, and keeps its retry queue.
async fn peer_task(node: Weak<Node>, peer: Ed25519PublicKey, mut items: mpsc::Receiver<Item>) {
    let slots = Arc::new(Semaphore::new(MAX_IN_FLIGHT));
    let backlog = Arc::new(AtomicBool::new(false));
    match node.upgrade() {
        Some(n) => {
            let key = peer.0;
            let queued = n
                .with_store(move |s| s.queued_forwards(&key, 1, unix_now_ms()))
                .await;
            backlog.store(queued.is_ok_and(|q| !q.is_empty()), Ordering::SeqCst);
        }
        None => return,
    }
    let mut pause = RETRY_FIRST;
    let mut retry_at = Instant::now();
    let mut carry: Option<Item> = None;
    loop {
        let first = if let Some(item) = carry.take() {
            Some(item)
        } else if backlog.load(Ordering::SeqCst) {
            tokio::select! {
                item = items.recv() => match item {
                    Some(item) => Some(item),
                    None => return,
                },
                () = tokio::time::sleep_until(retry_at) => None,
            }
        } else {
            match items.recv().await {
                Some(item) => Some(item),
                None => return,
            }
        };
        let Some(node) = node.upgrade() else {
            return;
        };
        let Some(first) = first else {
            match node.drain_backlog(peer).await {
                Drained::Empty => {
                    backlog.store(false, Ordering::SeqCst);
                    pause = RETRY_FIRST;
                    tracing::info!(peer = %short(&peer), "retry queue delivered");
                }
                Drained::Dropped => {
                    backlog.store(false, Ordering::SeqCst);
                    pause = RETRY_FIRST;
                }
                Drained::Progress => {
                    pause = RETRY_FIRST;
                    retry_at = Instant::now();
                }
                Drained::Failed => {
                    retry_at = Instant::now() + pause;
                    pause = (pause * 2).min(RETRY_MAX);
                }
            }
            continue;
        };
        let mut batch = vec![first];
        let busy = slots.available_permits() < MAX_IN_FLIGHT;
        let linger_until = Instant::now() + LINGER;
        fill(&mut batch, &mut items, &mut carry);
        while busy && carry.is_none() && !full(&batch) {
            match tokio::time::timeout_at(linger_until, items.recv()).await {
                Ok(Some(item)) => {
                    push(&mut batch, item, &mut carry);
                    fill(&mut batch, &mut items, &mut carry);
                }
                Ok(None) | Err(_) => break,
            }
        }
        if backlog.load(Ordering::SeqCst) {
            node.queue_for_retry(peer, batch, None).await;
            continue;
        }
        let Ok(slot) = Arc::clone(&slots).acquire_owned().await else {
            return;
        };
        fill(&mut batch, &mut items, &mut carry);
        let backlog = Arc::clone(&backlog);
        tokio::spawn(async move {
            if let Some(retry) = node.send_batch(peer, batch).await {
                node.queue_for_retry(peer, retry.0, Some(retry.1)).await;
                backlog.store(true, Ordering::SeqCst);
            }
            drop(slot);
        });
    }
}

fn batch_len(batch: &[Item]) -> usize {
    ForwardBatch::encoded_len(batch.iter().map(|i| i.body.len()))
}

fn full(batch: &[Item]) -> bool {
    batch.len() >= MAX_BATCH_ITEMS || batch_len(batch) >= BATCH_BYTES
}

/// Adds the requests already waiting to `batch` while they fit; one that does not fit is
/// kept in `carry` to start the next batch.
fn fill(batch: &mut Vec<Item>, items: &mut mpsc::Receiver<Item>, carry: &mut Option<Item>) {
    while carry.is_none() && !full(batch) {
        match items.try_recv() {
            Ok(item) => push(batch, item, carry),
            Err(_) => return,
        }
    }
}

/// Adds `item` to `batch` if it fits, else keeps it in `carry`.
fn push(batch: &mut Vec<Item>, item: Item, carry: &mut Option<Item>) {
    let with =
        ForwardBatch::encoded_len(batch.iter().map(|i| i.body.len()).chain([item.body.len()]));
    if batch.is_empty() || (with <= BATCH_BYTES && batch.len() < MAX_BATCH_ITEMS) {
        batch.push(item);
    } else {
        *carry = Some(item);
    }
}

/// How a forwarded batch failed as a whole.
fn whole_failure(result: &Result<Response, TransportError>) -> Option<(Failure, bool)> {
    match result {
        Ok(resp) if resp.status == 200 => None,
        Ok(resp) => Some((
            Failure {
                code: Some(resp.status),
                reason: Some(
                    String::from_utf8_lossy(resp.body.get(..200).unwrap_or(&resp.body))
                        .into_owned(),
                ),
                ..Failure::default()
            },
            batch_retryable(resp.status),
        )),
        Err(TransportError::Timeout(_)) => Some((
            Failure {
                timeout: true,
                ..Failure::default()
            },
            true,
        )),
        Err(_) => Some((
            Failure {
                reason: Some("peer unreachable".into()),
                ..Failure::default()
            },
            true,
        )),
    }
}

/// The outcome of one request from its answer in a batch.
fn item_outcome(method: Method, answer: &BatchItemAnswer) -> NodeOutcome {
    if answer.status == 200 {
        return match NodeResult::parse(method, &answer.body, Encoding::Bencode) {
            Ok(r) => NodeOutcome::Ok(r),
            Err(_) => failed(Failure {
                bad_peer_response: true,
                ..Failure::default()
            }),
        };
    }
    failed(Failure {
        code: Some(answer.status),
        reason: Some(
            String::from_utf8_lossy(answer.body.get(..200).unwrap_or(&answer.body)).into_owned(),
        ),
        ..Failure::default()
    })
}

impl Node {
    /// POSTs `items` to `peer` as one batch and answers each; returns the requests (in order)
    /// that the peer did not take and should get again, with the failure they were answered.
    async fn send_batch(
        &self,
        peer: Ed25519PublicKey,
        items: Vec<Item>,
    ) -> Option<(Vec<Item>, Failure)> {
        let Some(listing) = self
            .view()
            .peers()
            .into_iter()
            .find(|p| p.pubkey_ed25519() == peer)
            .cloned()
        else {
            for item in items {
                let _ = item.reply.send(failed(Failure {
                    reason: Some("no longer a swarm peer".into()),
                    ..Failure::default()
                }));
            }
            return None;
        };
        let body = ForwardBatch {
            items: items.iter().map(|i| i.body.clone()).collect(),
        }
        .encode();
        let result = self
            .post_to_node(&listing, "/sn/storage_batch", body, FORWARD_TIMEOUT)
            .await;
        if let Some((failure, retry)) = whole_failure(&result) {
            tracing::info!(peer = %short(&peer), count = items.len(), code = ?failure.code, timeout = failure.timeout, "forwarding a batch failed");
            if retry {
                return Some((items, failure));
            }
            for item in items {
                let _ = item.reply.send(failed(failure.clone()));
            }
            return None;
        }
        let answer = result
            .ok()
            .and_then(|r| BatchAnswer::parse(&r.body).ok())
            .filter(|a| a.items.len() == items.len());
        let Some(answer) = answer else {
            for item in items {
                let _ = item.reply.send(failed(Failure {
                    bad_peer_response: true,
                    ..Failure::default()
                }));
            }
            return None;
        };
        let mut again = Vec::new();
        let mut again_failure = None;
        for (item, a) in items.into_iter().zip(&answer.items) {
            // After the first request the peer could not take now, the rest go again too,
            // in order.
            if again_failure.is_some() || retryable(a.status) {
                let f = Failure {
                    code: Some(a.status),
                    reason: Some("peer busy; queued for retry".into()),
                    ..Failure::default()
                };
                again_failure.get_or_insert(f);
                again.push(item);
                continue;
            }
            let _ = item.reply.send(item_outcome(item.method, a));
        }
        again_failure.map(|f| (again, f))
    }

    /// Puts `items` in the retry queue for `peer` and answers them with `failure` (or
    /// "unreachable, queued").
    async fn queue_for_retry(
        &self,
        peer: Ed25519PublicKey,
        items: Vec<Item>,
        failure: Option<Failure>,
    ) {
        let bodies: Vec<Vec<u8>> = items.iter().map(|i| i.body.clone()).collect();
        let count = bodies.len();
        let expiry =
            unix_now_ms().saturating_add(u64::try_from(QUEUE_TTL.as_millis()).unwrap_or(u64::MAX));
        let key = peer.0;
        let queued = self
            .with_store(move |s| s.queue_forwards(&key, &bodies, expiry))
            .await;
        if let Err(e) = &queued {
            tracing::warn!(peer = %short(&peer), count, error = %e, "cannot keep forwards for a retry");
        }
        let failure = failure.unwrap_or_else(|| Failure {
            reason: Some("peer unreachable; queued for retry".into()),
            ..Failure::default()
        });
        for item in items {
            let _ = item.reply.send(failed(failure.clone()));
        }
    }

    /// Sends the oldest part of `peer`'s retry queue as one batch; removes what the peer took.
    async fn drain_backlog(&self, peer: Ed25519PublicKey) -> Drained {
        let key = peer.0;
        let Ok(queued) = self
            .with_store(move |s| s.queued_forwards(&key, BATCH_BYTES, unix_now_ms()))
            .await
        else {
            return Drained::Failed;
        };
        if queued.is_empty() {
            return Drained::Empty;
        }
        let queued: Vec<(i64, Vec<u8>)> = queued.into_iter().take(MAX_BATCH_ITEMS).collect();
        let view = self.view();
        let Some(listing) = view
            .peers()
            .into_iter()
            .find(|p| p.pubkey_ed25519() == peer)
            .cloned()
        else {
            if view.my_swarm().is_some() {
                let _ = self.with_store(move |s| s.drop_forward_queue(&key)).await;
                tracing::info!(peer = %short(&peer), "dropped the retry queue of a node that left the swarm");
                return Drained::Dropped;
            }
            return Drained::Failed;
        };
        let body = ForwardBatch {
            items: queued.iter().map(|(_, b)| b.clone()).collect(),
        }
        .encode();
        let result = self
            .post_to_node(&listing, "/sn/storage_batch", body, FORWARD_TIMEOUT)
            .await;
        let taken: Vec<i64> = match &result {
            Ok(resp) if resp.status == 200 => match BatchAnswer::parse(&resp.body) {
                Ok(answer) => queued
                    .iter()
                    .zip(&answer.items)
                    .take_while(|(_, a)| !retryable(a.status))
                    .map(|((id, _), _)| *id)
                    .collect(),
                Err(_) => queued.iter().map(|(id, _)| *id).collect(),
            },
            Ok(resp) if !batch_retryable(resp.status) => queued.iter().map(|(id, _)| *id).collect(),
            _ => Vec::new(),
        };
        if taken.is_empty() {
            return Drained::Failed;
        }
        let n = taken.len();
        if self
            .with_store(move |s| s.unqueue_forwards(&taken))
            .await
            .is_err()
        {
            return Drained::Failed;
        }
        tracing::debug!(peer = %short(&peer), count = n, "retried forwards delivered");
        Drained::Progress
    }
}
