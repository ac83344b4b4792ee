//! Config sync over the network: local changes into the configs, the config namespaces polled
//! (before messages) and merged, dirty configs pushed to this account's swarm.

use std::sync::Arc;

use sotto_rpc::AccountId;

use super::{Client, Shared};
use crate::configs::{ConfigStatus, USER_CONFIGS};
use crate::error::ClientError;
use crate::incoming::Event;
use crate::network::Network;
use crate::outgoing::tally;
use crate::{Placement, SessionId};

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

    /// After a local change: records it into the configs (persisted dirty, before any push)
    /// and pushes what is dirty now, unless config sync is off. A failed push is logged and
    /// stays dirty for the next sync: the local change itself succeeded.
    pub(super) async fn push_changes(&self) -> Result<(), ClientError> {
        if !self.sync_configs {
            return Ok(());
        }
        self.engine().record_local_changes()?;
        if let Err(e) = self.push_configs().await {
            tracing::info!(error = %e, "config push failed; it stays dirty");
        }
        Ok(())
    }

    /// [`Shared::push_changes`] for the calls that do not wait: the change is recorded now,
    /// and pushed by a task (when a runtime runs one; otherwise by the next sync).
    pub(super) fn push_changes_soon(self: &Arc<Self>) -> Result<(), ClientError> {
        if !self.sync_configs {
            return Ok(());
        }
        self.engine().record_local_changes()?;
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let shared = Arc::clone(self);
            runtime.spawn(async move {
                if let Err(e) = shared.push_configs().await {
                    tracing::info!(error = %e, "config push failed; it stays dirty");
                }
            });
        }
        Ok(())
    }

    /// Pushes the dirty configs; returns how many the swarm stored. One push runs at a time
    /// (a change's push and the poller's do not race).
    pub(super) async fn push_configs(&self) -> Result<usize, ClientError> {
        let _one_at_a_time = self.config_push.lock().await;
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

    /// Pins, unpins, hides or shows the conversation with `peer` (this account's own ID:
    /// Note to Self), here and, pushed at once, on this account's other devices.
    pub async fn set_placement(
        &self,
        peer: &SessionId,
        placement: Placement,
    ) -> Result<(), ClientError> {
        self.shared.engine().set_placement(peer, placement)?;
        self.shared.push_changes().await
    }

    /// Marks the conversation with `peer` unread, or clears the mark (reading it clears it
    /// too); pushed at once.
    pub async fn set_marked_unread(
        &self,
        peer: &SessionId,
        unread: bool,
    ) -> Result<(), ClientError> {
        self.shared.engine().set_marked_unread(peer, unread)?;
        self.shared.push_changes().await
    }

    /// Removes `peer` from the contacts (with the conversation), here and, pushed at once, on
    /// this account's other devices.
    pub async fn remove_contact(&self, peer: &SessionId) -> Result<(), ClientError> {
        self.shared.engine().remove_contact(peer)?;
        self.shared.push_changes().await
    }

    /// After a change to the group list (a group created, joined, left or destroyed): records
    /// it into UserGroups and pushes it at once. The group change itself has succeeded, so a
    /// failure here is logged, and the next sync records and pushes it.
    pub(crate) async fn push_group_list(&self) {
        if let Err(e) = self.shared.push_changes().await {
            tracing::info!(error = %e, "recording the group list failed; the next sync retries");
        }
    }

    /// Each user config's seqno and whether it is pushed (local changes not recorded in the
    /// configs yet are recorded first, so they count as not pushed).
    pub fn config_status(&self) -> Result<Vec<ConfigStatus>, ClientError> {
        let mut engine = self.shared.engine();
        engine.record_local_changes()?;
        Ok(engine.config_status()?)
    }
}
