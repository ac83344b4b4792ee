//! The network as the client needs it: the storage RPCs, each sent to one node of a swarm.
//! The real implementation sends them through onion paths (path building, guard nodes,
//! strikes, the node cache and bootstrapping are its business); the client does the rest.

use core::future::Future;

use sotto_rpc::AccountId;
use sotto_rpc::request::{Delete, Expire, GetExpiries, Retrieve, Store, SubaccountRevocation};
use sotto_rpc::response::{GetExpiriesResponse, RetrieveResponse, SwarmNode, SwarmResponse};

use core::time::Duration;

use sotto_onion::{V4Request, V4Response};

use crate::error::NetworkError;
use crate::net::OnionServer;

/// What the client sends over. Each method sends one storage RPC to `node` (a member of the
/// account's swarm, as [`Network::get_swarm`] listed it) and returns the node's parsed
/// answer. An HTTP 421 answer is only a hint that the node list is stale: an implementation
/// checks it against its signed node list and returns [`NetworkError::WrongSwarm`] (the client
/// then asks [`Network::get_swarm`] again and retries once) or
/// [`NetworkError::WrongSwarmUnconfirmed`] (the client tries another node); it never passes on
/// the nodes a 421's body names.
pub trait Network: Send + Sync + 'static {
    /// Tells the network whose account the client runs, so that its paths avoid that
    /// account's swarm. [`crate::Client::connect`] calls it; the default does nothing.
    fn set_own_account(&self, account: AccountId) {
        let _ = account;
    }

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

    /// Sends a signed `delete`; the answer lists each swarm member's own result. The default
    /// answers [`NetworkError::Unsupported`].
    fn delete(
        &self,
        node: SwarmNode,
        request: Delete,
    ) -> impl Future<Output = Result<SwarmResponse, NetworkError>> + Send {
        let _ = (node, request);
        async { Err(NetworkError::Unsupported("delete")) }
    }

    /// Sends a signed `expire`; the answer lists each swarm member's own result. The default
    /// answers [`NetworkError::Unsupported`].
    fn expire(
        &self,
        node: SwarmNode,
        request: Expire,
    ) -> impl Future<Output = Result<SwarmResponse, NetworkError>> + Send {
        let _ = (node, request);
        async { Err(NetworkError::Unsupported("expire")) }
    }

    /// Sends a signed `get_expiries` (answered by `node` alone, not forwarded to the swarm).
    /// The default answers [`NetworkError::Unsupported`].
    fn get_expiries(
        &self,
        node: SwarmNode,
        request: GetExpiries,
    ) -> impl Future<Output = Result<GetExpiriesResponse, NetworkError>> + Send {
        let _ = (node, request);
        async { Err(NetworkError::Unsupported("get_expiries")) }
    }

    /// Sends an admin-signed `revoke_subaccount` (or unrevoke) for a group account; the answer
    /// lists each swarm member's own result. The default answers [`NetworkError::Unsupported`].
    fn revoke_subaccount(
        &self,
        node: SwarmNode,
        request: SubaccountRevocation,
    ) -> impl Future<Output = Result<SwarmResponse, NetworkError>> + Send {
        let _ = (node, request);
        async { Err(NetworkError::Unsupported("revoke_subaccount")) }
    }

    /// Sends a v4 request to a server reached through the network (a file server), bounded by
    /// `timeout`, and returns its answer whatever its code. The default answers
    /// [`NetworkError::Unsupported`].
    fn server_request(
        &self,
        server: &OnionServer,
        request: &V4Request,
        timeout: Duration,
    ) -> impl Future<Output = Result<V4Response, NetworkError>> + Send {
        let _ = (server, request, timeout);
        async { Err(NetworkError::Unsupported("server_request")) }
    }
}
