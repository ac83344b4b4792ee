//! The [`Directory`] link over `sotto-nodelist`'s [`DirectoryClient`].

use std::sync::Arc;

use sotto_crypto::Ed25519SecretKey;
use sotto_nodelist::DirectoryClient;
use sotto_swarm::{INVALID_SWARM_ID, NodeListing, NodeListingError, NodeVersion};
use sotto_transport::HttpsClient;

use crate::config::NodeConfig;
use crate::directory::{BoxFuture, Directory, DirectoryLinkError};
use crate::node::PROTOCOL_VERSION;
use crate::view::NodeList;

struct Link {
    client: DirectoryClient,
    key: Ed25519SecretKey,
    listing: Result<NodeListing, Arc<NodeListingError>>,
}

impl Directory for Link {
    fn register(&self) -> BoxFuture<'_, Result<(), DirectoryLinkError>> {
        Box::pin(async move {
            let listing = self
                .listing
                .as_ref()
                .map_err(|e| DirectoryLinkError::Listing(Arc::clone(e)))?;
            self.client.register(&self.key, listing).await?;
            Ok(())
        })
    }

    fn proof(&self) -> BoxFuture<'_, Result<(), DirectoryLinkError>> {
        Box::pin(async move {
            self.client.proof(&self.key).await?;
            Ok(())
        })
    }

    fn fetch(&self) -> BoxFuture<'_, Result<NodeList, DirectoryLinkError>> {
        Box::pin(async move {
            let list = self.client.fetch_nodes().await?;
            Ok(NodeList {
                height: list.height,
                block_hash: hex::encode(list.block_hash),
                nodes: list.nodes,
            })
        })
    }
}

/// The link for a node with identity `key`, announcing `config.listen`.
pub fn connect(
    config: &NodeConfig,
    key: &Ed25519SecretKey,
    http: HttpsClient,
) -> Arc<dyn Directory> {
    let listing = NodeListing::new(
        key.public_key(),
        config.public_ip(),
        config.listen.port(),
        INVALID_SWARM_ID,
        NodeVersion::from(PROTOCOL_VERSION),
    )
    .map_err(Arc::new);
    Arc::new(Link {
        client: DirectoryClient::new(config.directory, config.directory_pubkey).with_http(http),
        key: key.clone(),
        listing,
    })
}
