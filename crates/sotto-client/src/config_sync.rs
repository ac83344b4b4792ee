//! Config sync over the network: local changes into the configs, the config namespaces polled
//! (before messages) and merged, dirty configs pushed to this account's swarm.

use sotto_rpc::AccountId;

use super::{Client, Shared};
use crate::configs::{ConfigStatus, USER_CONFIGS};
use crate::error::ClientError;
use crate::incoming::Event;
use crate::network::Network;
use crate::outgoing::tally;

impl<N: Network> Shared<N> {
    /// Records local changes into the configs, polls and merges namespaces 2–5, and pushes
    /// what is dirty. A push that fails stays dirty (persisted) and is tried with the next
    /// sync.
    pub(super) async fn sync_configs(&self) -> Result<Vec<Event>, ClientError> {
        self.engine().record_local_changes()?;
        let events = self.poll_configs().await?;
        if let Err(e) = self.push_configs().await {
            tracing::info!(error = %e, "config push failed; it stays dirty");
        }
        Ok(events)
    }

    async fn poll_configs(&self) -> Result<Vec<Event>, ClientError> {
        let own = AccountId::from(self.engine().session_id());
        let mut events = Vec::new();
        for kind in USER_CONFIGS {
            loop {
                let positions = self.engine().config_poll_positions(kind)?;
                let (node, response) = self
                    .on_swarm(own, |node| {
                        let key = node.pubkey_ed25519;
                        let request = self.engine().config_retrieve_request(
                            kind,
                            positions.get(&key).copied(),
                            self.now(),
                        );
                        let answer = self.network.retrieve(node, request);
                        async move { answer.await.map(|r| (key, r)) }
                    })
                    .await?;
                let batch =
                    self.engine()
                        .receive_configs(kind, &node, &response.messages, self.now())?;
                self.publish(&batch);
                events.extend(batch);
                if !response.more || response.messages.is_empty() {
                    break;
                }
            }
        }
        Ok(events)
    }

    /// Pushes the dirty configs; returns how many the swarm stored.
    pub(super) async fn push_configs(&self) -> Result<usize, ClientError> {
        let own = AccountId::from(self.engine().session_id());
        let pushes = self.engine().config_pushes(self.now())?;
        let mut stored = 0;
        for push in pushes {
            let request = push.request(self.engine().account(), self.now());
            let response = self
                .on_swarm(own, |node| self.network.store(node, request.clone()))
                .await?;
            let swarm = self.network.get_swarm(own).await.unwrap_or_default();
            if tally(&request, &response, &swarm).is_stored() {
                self.engine().record_config_push(&push)?;
                stored += 1;
            } else {
                tracing::info!(kind = ?push.kind, "no node confirmed a config push");
            }
        }
        Ok(stored)
    }
}

impl<N: Network> Client<N> {
    /// Syncs the configs now: local changes in, other devices' changes merged and applied,
    /// dirty configs pushed. [`Client::poll_once`] does this before it reads messages.
    pub async fn sync_configs(&self) -> Result<Vec<Event>, ClientError> {
        self.shared.sync_configs().await
    }

    /// Records local changes and pushes the dirty configs now (without polling); returns how
    /// many pushes the swarm stored.
    pub async fn push_configs(&self) -> Result<usize, ClientError> {
        self.shared.engine().record_local_changes()?;
        self.shared.push_configs().await
    }

    /// Each user config's seqno and whether it is pushed (local changes not recorded in the
    /// configs yet are recorded first, so they count as not pushed).
    pub fn config_status(&self) -> Result<Vec<ConfigStatus>, ClientError> {
        let mut engine = self.shared.engine();
        engine.record_local_changes()?;
        Ok(engine.config_status()?)
    }
}
