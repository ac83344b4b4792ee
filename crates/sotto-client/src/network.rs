//! The network as the client needs it: three storage RPCs, each sent to one node of a swarm.
//! The real implementation sends them through onion paths (path building, guard nodes,
//! strikes, the node cache and bootstrapping are its business); the client does the rest.

use core::future::Future;

use sotto_rpc::AccountId;
use sotto_rpc::request::{Retrieve, Store};
use sotto_rpc::response::{RetrieveResponse, SwarmNode, SwarmResponse};

use crate::error::NetworkError;

/// What the client sends over. Each method sends one storage RPC to `node` (a member of the
/// account's swarm, as [`Network::get_swarm`] listed it) and returns the node's parsed
/// answer. An HTTP 421 answer is [`NetworkError::WrongSwarm`] with the swarm the node named;
/// the client then retries there once.
pub trait Network: Send + Sync + 'static {
    /// The nodes of `account`'s swarm.
    fn get_swarm(
        &self,
        account: AccountId,
    ) -> impl Future<Output = Result<Vec<SwarmNode>, NetworkError>> + Send;

    /// Sends a `store`; the answer lists each swarm member's own result.
    fn store(
        &self,
        node: SwarmNode,
        request: Store,
    ) -> impl Future<Output = Result<SwarmResponse, NetworkError>> + Send;

    /// Sends a `retrieve`.
    fn retrieve(
        &self,
        node: SwarmNode,
        request: Retrieve,
    ) -> impl Future<Output = Result<RetrieveResponse, NetworkError>> + Send;
}
