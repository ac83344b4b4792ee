//! Catch-up between nodes: `POST /sn/sync` serves the messages of a swarm-space range in
//! bounded, resumable pages; [`Node::pull_range`] fetches a range from one node, and
//! [`Node::catch_up`] runs the pulls a change of the node list calls for. Deletes are caught up
//! too: after pulling, a node asks the source which of its own messages in the range the source
//! deleted (`POST /sn/deleted`, [`Node::purge_deleted`]) and drops them, and no node takes back
//! a copy of a message it deleted (the store keeps tombstones until the message would expire).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use sotto_crypto::Ed25519PublicKey;
use sotto_rpc::replication::{BlobFormat, ReplicatedMessage, encode_blob, parse_blob};
use sotto_rpc::{AccountId, MessageHash};
use sotto_store::NewMessage;
use sotto_swarm::{NodeListing, SwarmRange, swarm_space};
use sotto_transport::Response;
use thiserror::Error;

use crate::error::NodeError;
use crate::node::{Node, short, unix_now_ms};
use crate::view::NetworkView;
use crate::wire::{
    Hashes, MAX_DELETED_QUERY, MAX_SYNC_BYTES, NEXT_ROW_HEADER, SyncRequest, parse_next_row,
};

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
/// its contents and its owner must lie in `range`.
fn accept(m: ReplicatedMessage, range: &SwarmRange) -> Option<NewMessage> {
    let space = swarm_space(m.account.key());
    let hash = MessageHash::parse(&m.hash)?;
    if !range.contains(space) || hash != MessageHash::compute(&m.account, m.namespace, &m.data) {
        return None;
    }
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

impl Node {
    /// `POST /sn/sync`: one page of the requested range, for a listed node.
    pub(crate) fn serve_sync(
        &self,
        req: &sotto_transport::Request,
        now_ms: u64,
    ) -> Result<Response, NodeError> {
        let sender = self.authenticate_peer(req, now_ms)?;
        let sync = SyncRequest::parse(&req.body).map_err(|_| NodeError::PeerBody("sync body"))?;
        let max = usize::try_from(sync.max_bytes.clamp(1, MAX_SYNC_BYTES)).unwrap_or(usize::MAX);
        let rows = self
            .with_store(|s| s.range_after(sync.lower, sync.upper, sync.after_row, max, now_ms))?;
        let next = rows.last().map_or(sync.after_row, |r| r.row_id);
        let messages: Vec<ReplicatedMessage> = rows
            .into_iter()
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

    /// `POST /sn/deleted`: which of the listed hashes this node deleted, for a listed node.
    pub(crate) fn serve_deleted(
        &self,
        req: &sotto_transport::Request,
        now_ms: u64,
    ) -> Result<Response, NodeError> {
        self.authenticate_peer(req, now_ms)?;
        let query = Hashes::parse(&req.body).map_err(|_| NodeError::PeerBody("deleted query"))?;
        let hashes = self.with_store(|s| s.tombstoned(&query.hashes))?;
        Ok(Response::bytes(
            200,
            "application/json",
            Hashes { hashes }.to_json(),
        ))
    }

    /// Asks `source` which of this node's messages in `range` it deleted, in batches from row
    /// `*after_row` (updated as batches complete, so a failed run resumes), and deletes those
    /// here. Returns how many were deleted.
    pub async fn purge_deleted(
        &self,
        source: &NodeListing,
        range: SwarmRange,
        after_row: &mut i64,
    ) -> Result<usize, SyncError> {
        let mut purged = 0;
        loop {
            let (lower, upper) = (range.lower_exclusive(), range.upper_inclusive());
            let now = unix_now_ms();
            let rows = self
                .with_store(|s| s.hashes_after(lower, upper, *after_row, MAX_DELETED_QUERY, now))?;
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
            let gone = Hashes::parse(&resp.body).map_err(|_| SyncError::Malformed("deleted"))?;
            // Only hashes that were asked about count: a peer cannot delete anything else.
            let gone: Vec<String> = gone
                .hashes
                .into_iter()
                .filter(|h| query.hashes.contains(h))
                .collect();
            purged += self.with_store(|s| s.delete_hashes(&gone))?;
            *after_row = last;
        }
    }

    /// Pulls `range` from `source`, page by page from `*after_row` (updated as pages arrive, so
    /// a failed pull resumes where it stopped). Returns how many messages were new here.
    pub async fn pull_range(
        &self,
        source: &NodeListing,
        range: SwarmRange,
        after_row: &mut i64,
    ) -> Result<usize, SyncError> {
        let mut inserted = 0;
        loop {
            let body = SyncRequest {
                lower: range.lower_exclusive(),
                upper: range.upper_inclusive(),
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
            let batch: Vec<NewMessage> = messages
                .into_iter()
                .filter_map(|m| accept(m, &range))
                .collect();
            let now = unix_now_ms();
            inserted += self.with_store(|s| s.insert_replicated(&batch, now))?;
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
        let (mut after_row, mut purged_to) = (0i64, 0i64);
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
            let pulled = match self.pull_range(&listing, range, &mut after_row).await {
                Ok(new) => self
                    .purge_deleted(&listing, range, &mut purged_to)
                    .await
                    .map(|deleted| (new, deleted)),
                Err(e) => Err(e),
            };
            match pulled {
                Ok((new, deleted)) => {
                    tracing::info!(from = %short(&source), new, deleted, "catch-up done");
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
        let low = ids.boundaries(SwarmId(0)).unwrap();
        let account = AccountId::new(5, [0; 32]);
        let data = b"hi".to_vec();
        let good = ReplicatedMessage {
            account,
            hash: MessageHash::compute(&account, Namespace::DEFAULT, &data)
                .to_string()
                .into_bytes(),
            timestamp: 1,
            expiry: 2,
            data,
            namespace: Namespace::DEFAULT,
        };
        assert!(accept(good.clone(), &low).is_some());
        let high = ids.boundaries(SwarmId(1 << 63)).unwrap();
        assert!(accept(good.clone(), &high).is_none(), "outside the range");
        let mut forged = good.clone();
        forged.data = b"other".to_vec();
        assert!(accept(forged, &low).is_none(), "hash does not match");
        let mut bad_ns = good;
        bad_ns.namespace = Namespace::new(3);
        assert!(
            accept(bad_ns, &low).is_none(),
            "namespace is part of the hash"
        );
    }
}
