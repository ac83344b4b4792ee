//! Following the directory: register once, send uptime proofs, poll the signed node list and
//! react when this node's swarm or range changes.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use thiserror::Error;

use crate::node::{Node, short};
use crate::sync::SyncGeneration;
use crate::view::{NetworkView, NodeList};

/// A boxed future (the directory link is used as a trait object).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Why a directory exchange failed (the node logs it and tries again).
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum DirectoryLinkError {
    /// The node's own listing (address, port, keys) cannot be announced.
    #[error("directory: the node's own listing is invalid: {0}")]
    Listing(#[source] Arc<sotto_swarm::NodeListingError>),
    /// The exchange with the directory failed or was refused.
    #[error("directory: {0}")]
    Client(#[from] sotto_nodelist::ClientError),
}

/// What the node needs from the directory. The implementation signs with the node's key and
/// verifies the directory's signature on the list.
pub trait Directory: Send + Sync + 'static {
    /// Registers this node (keys, address, port, version).
    fn register(&self) -> BoxFuture<'_, Result<(), DirectoryLinkError>>;
    /// Sends one uptime proof.
    fn proof(&self) -> BoxFuture<'_, Result<(), DirectoryLinkError>>;
    /// Fetches and verifies the current list of active nodes.
    fn fetch(&self) -> BoxFuture<'_, Result<NodeList, DirectoryLinkError>>;
}

/// Installs a newly fetched list and starts the catch-up it calls for. Returns whether the
/// list was installed: false when it is the one installed, or older (a lower height, whose
/// signature the directory made earlier: a replay or a rollback is refused).
pub fn apply_list(node: &Arc<Node>, list: NodeList, generation: &Arc<SyncGeneration>) -> bool {
    let current = node.view();
    if *current.list() == list {
        return false;
    }
    if list.height < current.list().height {
        tracing::warn!(
            held = current.list().height,
            offered = list.height,
            "refused a node list older than the one held"
        );
        return false;
    }
    let new = NetworkView::new(node.pubkey(), list);
    let sources = new.sync_sources(&current);
    let (old_swarm, new_swarm) = (current.my_swarm(), new.my_swarm());
    let height = new.list().height;
    let peers = new.peers().len();
    node.set_view(new);
    if old_swarm != new_swarm {
        match new_swarm {
            Some(s) => tracing::info!(swarm = %s, peers, height, "now in swarm"),
            None => tracing::info!(height, "not in any swarm"),
        }
    } else {
        tracing::debug!(height, "node list updated");
    }
    if !sources.is_empty() {
        let round = generation.advance();
        tracing::info!(
            sources = sources.len(),
            first = %sources.first().map(short).unwrap_or_default(),
            "catching up"
        );
        let node = Arc::clone(node);
        let generation = Arc::clone(generation);
        tokio::spawn(async move { node.catch_up(sources, generation, round).await });
    }
    true
}

/// Registers (retrying until it works), then sends proofs every `proof_interval` and polls
/// the list every `poll_interval`, forever.
pub async fn follow(
    node: Arc<Node>,
    directory: Arc<dyn Directory>,
    proof_interval: Duration,
    poll_interval: Duration,
) {
    let mut pause = Duration::from_millis(200);
    loop {
        match directory.register().await {
            Ok(()) => break,
            Err(e) => {
                tracing::warn!(error = %e, "registration failed; retrying");
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_secs(5));
            }
        }
    }
    tracing::info!("registered with the directory");
    let proofs = {
        let directory = Arc::clone(&directory);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(proof_interval);
            loop {
                tick.tick().await;
                if let Err(e) = directory.proof().await {
                    tracing::warn!(error = %e, "uptime proof failed");
                    // A directory that lost our registration (e.g. restarted without state)
                    // learns about us again.
                    if let Err(e) = directory.register().await {
                        tracing::warn!(error = %e, "re-registration failed");
                    }
                }
            }
        })
    };
    let generation = Arc::new(SyncGeneration::default());
    let mut tick = tokio::time::interval(poll_interval);
    loop {
        tick.tick().await;
        match directory.fetch().await {
            Ok(list) => {
                apply_list(&node, list, &generation);
            }
            Err(e) => tracing::warn!(error = %e, "fetching the node list failed"),
        }
        if proofs.is_finished() {
            break;
        }
    }
}
