//! S-10 end to end: a fake "stored on 7 of 7" receipt, on a real 7-node testnet (subnet 200).
//!
//! The client sends through a real [`OnionNetwork`] to real nodes. A wrapper plays the rogue
//! entry node: it takes the real answer to each store and replaces every per-node result with
//! one signed (validly) by a throwaway key, as an entry node that stored nothing could. The
//! client's own result handling must count none of them: the message is not stored, and is
//! stored once the answers are honest again.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::sync::atomic::{AtomicBool, Ordering};

use common::{TestNet, client_config, new_account, onion_config};
use sotto_client::outgoing::tally;
use sotto_client::{Client, ClientConfig, MessageState, Network, NetworkError, OnionNetwork};
use sotto_crypto::Ed25519SecretKey;
use sotto_rpc::AccountId;
use sotto_rpc::request::{Retrieve, Store};
use sotto_rpc::response::{
    NodeOutcome, NodeResult, RetrieveResponse, StoreResult, SwarmNode, SwarmResponse,
};

/// The real network, with an entry node that lies about stores when `forge` is on.
struct RogueEntry {
    inner: OnionNetwork,
    forge: AtomicBool,
}

/// `response` with every per-node result replaced by a valid result for the same message,
/// signed by a throwaway key: "stored on n of n" that no member of the swarm signed.
fn forged(request: &Store, response: &SwarmResponse) -> SwarmResponse {
    let hash = request.message_hash();
    let swarm = (0..response.swarm.len().max(7))
        .map(|i| {
            let fake = Ed25519SecretKey::from_seed(&[u8::try_from(i).unwrap() + 0xf0; 32]);
            let result = StoreResult::sign(&fake, hash, request.expiry(), false);
            (
                fake.public_key(),
                NodeOutcome::Ok(NodeResult::Store(result)),
            )
        })
        .collect();
    SwarmResponse {
        swarm,
        ..response.clone()
    }
}

impl Network for RogueEntry {
    async fn get_swarm(&self, account: AccountId) -> Result<Vec<SwarmNode>, NetworkError> {
        self.inner.get_swarm(account).await
    }

    async fn store(&self, node: SwarmNode, request: Store) -> Result<SwarmResponse, NetworkError> {
        let response = self.inner.store(node, request.clone()).await?;
        if self.forge.load(Ordering::SeqCst) {
            Ok(forged(&request, &response))
        } else {
            Ok(response)
        }
    }

    async fn retrieve(
        &self,
        node: SwarmNode,
        request: Retrieve,
    ) -> Result<RetrieveResponse, NetworkError> {
        self.inner.retrieve(node, request).await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fake_7_of_7_receipt_does_not_mark_a_message_stored() {
    let net = TestNet::start(200, 7).await;
    let alice = new_account();
    let bob = new_account();
    let onion = OnionNetwork::connect(&net.file, onion_config(None))
        .await
        .unwrap();

    // The network layer: a real answer counts 7 of 7; the same answer re-signed by
    // throwaway keys counts 0 of 7.
    let account = AccountId::from(bob.session_id());
    let swarm = onion.get_swarm(account).await.unwrap();
    assert_eq!(swarm.len(), 7);
    let store = Store::new(
        account,
        sotto_rpc::Namespace::DEFAULT,
        b"probe".to_vec(),
        common::now_ms(),
        sotto_rpc::request::Lifetime::Ttl(3_600_000),
    );
    let real = onion.store(swarm[0].clone(), store.clone()).await.unwrap();
    let honest = tally(&store, &real, &swarm);
    assert_eq!((honest.stored, honest.nodes), (7, 7), "{real:?}");
    let fake = forged(&store, &real);
    assert_eq!(fake.swarm.len(), 7);
    let counted = tally(&store, &fake, &swarm);
    assert_eq!((counted.stored, counted.nodes), (0, 7));

    // The client: the forged receipt leaves the message failed (to be retried), not stored.
    let rogue = RogueEntry {
        inner: onion,
        forge: AtomicBool::new(true),
    };
    let db = net.dir.path().join("alice.db");
    let config = ClientConfig {
        background: false,
        ..client_config(&db)
    };
    let client = Client::connect(rogue, alice, config).await.unwrap();
    let sent = client
        .send_text(&bob.session_id(), "did it arrive?")
        .await
        .unwrap();
    assert!(
        matches!(
            sent.state,
            MessageState::Failed {
                attempts: 1,
                next_retry_ms: Some(_)
            }
        ),
        "{:?}",
        sent.state
    );

    // Honest answers again: the retry stores it on the real swarm.
    client.network().forge.store(false, Ordering::SeqCst);
    client.retry(sent.message).await.unwrap();
    let state = client.with_engine(|e| e.message(sent.message).unwrap().unwrap().state);
    assert!(
        matches!(state, MessageState::Stored { k, n: 7 } if k >= 2),
        "{state:?}"
    );
}
