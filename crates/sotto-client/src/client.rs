//! [`Client`]: the bot-facing API, an [`Engine`] driven over a [`Network`] on tokio.

use core::pin::Pin;
use core::task::{Context, Poll};
use core::time::Duration;
use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use futures_core::Stream;
use sotto_crypto::Ed25519PublicKey;
use sotto_crypto::OsRng;
use sotto_identity::{Account, SessionId};
use sotto_rpc::response::SwarmNode;
use sotto_rpc::{AccountId, MessageHash};
use tokio::sync::{Notify, mpsc};
use tokio::task::JoinHandle;

use crate::db::Job;
use crate::deletion::{SwarmOutcome, SwarmUpdate, tally_delete, tally_expire};
use crate::engine::{Engine, Sent};
use crate::error::{ClientError, NetworkError};
use crate::incoming::{Event, IncomingMessage};
use crate::model::{Disappearing, MessageId, MessageState, Settings};
use crate::network::Network;
use crate::outgoing::{RetryPolicy, tally};
use crate::poll::PollPolicy;

#[path = "config_sync.rs"]
mod config_sync;

/// The time source: milliseconds since the Unix epoch.
#[derive(Clone)]
pub struct Clock(Arc<dyn Fn() -> u64 + Send + Sync>);

impl Clock {
    /// The system clock.
    #[must_use]
    pub fn system() -> Self {
        Self(Arc::new(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        }))
    }

    /// A clock read from `f` (tests, simulations).
    #[must_use]
    pub fn from_fn(f: impl Fn() -> u64 + Send + Sync + 'static) -> Self {
        Self(Arc::new(f))
    }

    /// The time now, ms.
    #[must_use]
    pub fn now_ms(&self) -> u64 {
        (self.0)()
    }
}

impl core::fmt::Debug for Clock {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("Clock")
    }
}

/// How a [`Client`] runs.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// The SQLite file (created with mode 0600).
    pub database: PathBuf,
    /// When to poll.
    pub poll: PollPolicy,
    /// When to retry failed stores.
    pub retry: RetryPolicy,
    /// Run the poller (retrieve, retry, expire) in a background task. Without it, call
    /// [`Client::poll_once`] and [`Client::flush_outbox`] yourself.
    pub background: bool,
    /// The clock.
    pub clock: Clock,
    /// Sync the user configs (namespaces 2–5) with every poll, before messages.
    pub sync_configs: bool,
}

impl ClientConfig {
    /// The defaults, with the database at `database`.
    #[must_use]
    pub fn new(database: impl Into<PathBuf>) -> Self {
        Self {
            database: database.into(),
            poll: PollPolicy::default(),
            retry: RetryPolicy::default(),
            background: true,
            clock: Clock::system(),
            sync_configs: true,
        }
    }
}

/// What [`Client::send_text`] did: the message and its state after the first attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SendOutcome {
    /// The message.
    pub message: MessageId,
    /// Stored on k of n nodes, or failed (and retried in the background).
    pub state: MessageState,
}

/// What the client and its poller share.
pub(crate) struct Shared<N> {
    network: N,
    engine: Mutex<Engine>,
    swarms: Mutex<HashMap<AccountId, Vec<SwarmNode>>>,
    subscribers: Mutex<Vec<Subscriber>>,
    last_activity_ms: Mutex<Option<u64>>,
    wake: Notify,
    poll: PollPolicy,
    clock: Clock,
    sync_configs: bool,
    /// Held while configs are pushed.
    config_push: tokio::sync::Mutex<()>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding the lock cannot leave the database half-written (transactions),
    // so the data is still usable.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// How many nodes of a swarm one request tries before it fails.
const NODES_PER_ATTEMPT: usize = 3;

/// Whether `e` says the node (or the way to it) failed, so that another node of the swarm may
/// answer; not when the request itself was refused or the network is unusable.
fn node_failure(e: &NetworkError) -> bool {
    match e {
        NetworkError::Timeout
        | NetworkError::Transport(_)
        | NetworkError::Onion(_)
        | NetworkError::InvalidResponse(_)
        | NetworkError::WrongSwarmUnconfirmed { .. }
        | NetworkError::UnlistedNode
        // No path to this node (it is a guard, say): another node may have one.
        | NetworkError::NoPath(_) => true,
        NetworkError::Status(status) => *status >= 500,
        _ => false,
    }
}

/// A random node of `swarm`.
fn pick(swarm: &[SwarmNode]) -> Option<SwarmNode> {
    use sotto_crypto::CryptoRngCore as _;
    let len = u64::try_from(swarm.len()).ok().filter(|l| *l > 0)?;
    let index = usize::try_from(OsRng.as_rngcore().next_u64() % len).ok()?;
    swarm.get(index).cloned()
}

impl<N: Network> Shared<N> {
    fn now(&self) -> u64 {
        self.clock.now_ms()
    }

    fn engine(&self) -> MutexGuard<'_, Engine> {
        lock(&self.engine)
    }

    fn active(&self, at_ms: u64) {
        let mut last = lock(&self.last_activity_ms);
        *last = Some(last.map_or(at_ms, |t| t.max(at_ms)));
        drop(last);
        self.wake.notify_one();
    }

    async fn swarm(&self, account: AccountId) -> Result<Vec<SwarmNode>, NetworkError> {
        if let Some(nodes) = lock(&self.swarms).get(&account).filter(|n| !n.is_empty()) {
            return Ok(nodes.clone());
        }
        let nodes = self.network.get_swarm(account).await?;
        lock(&self.swarms).insert(account, nodes.clone());
        Ok(nodes)
    }

    /// Forgets a node that failed (the next attempt picks another; an empty swarm is fetched
    /// again).
    fn forget(&self, account: AccountId, node: &SwarmNode) {
        if let Some(nodes) = lock(&self.swarms).get_mut(&account) {
            nodes.retain(|n| n.pubkey_ed25519 != node.pubkey_ed25519);
        }
    }

    /// Runs `call` against a node of `account`'s swarm; on a 421 the network confirmed (its
    /// signed node list, fetched again, moved the account) retries once in the swarm
    /// [`Network::get_swarm`] gives now; the nodes a 421 names are never used. A node that
    /// fails (a 421 the list does not confirm included) (no answer, a server error) is forgotten and, up to
    /// [`NODES_PER_ATTEMPT`] nodes in all, another node of the swarm is tried at once: one dead
    /// node does not fail a message the rest of its swarm would store.
    pub(crate) async fn on_swarm<T, F, Fut>(
        &self,
        account: AccountId,
        call: F,
    ) -> Result<T, NetworkError>
    where
        F: Fn(SwarmNode) -> Fut,
        Fut: core::future::Future<Output = Result<T, NetworkError>>,
    {
        let mut swarm = self.swarm(account).await?;
        let mut tried = 0;
        loop {
            let node = pick(&swarm).ok_or(NetworkError::NoSwarm)?;
            tried += 1;
            match call(node.clone()).await {
                Err(NetworkError::WrongSwarm(_)) => {
                    lock(&self.swarms).remove(&account);
                    let fresh = self.swarm(account).await?;
                    let others: Vec<SwarmNode> = fresh
                        .into_iter()
                        .filter(|n| n.pubkey_ed25519 != node.pubkey_ed25519)
                        .collect();
                    let node = pick(&others).ok_or(NetworkError::NoSwarm)?;
                    return call(node).await;
                }
                Err(e) => {
                    self.forget(account, &node);
                    swarm.retain(|n| n.pubkey_ed25519 != node.pubkey_ed25519);
                    if tried >= NODES_PER_ATTEMPT || swarm.is_empty() || !node_failure(&e) {
                        return Err(e);
                    }
                    tracing::debug!(error = %e, "a swarm node failed; trying another");
                }
                ok => return ok,
            }
        }
    }

    /// One attempt of `job`; its outcome goes to the engine.
    async fn attempt(&self, job: &Job) -> Result<Option<Event>, ClientError> {
        let request = self.engine().store_request(job, self.now());
        let answer = self
            .on_swarm(job.store.account, |node| {
                self.network.store(node, request.clone())
            })
            .await;
        let counted = match answer {
            // Only members of the swarm in the signed node list count (S-10).
            Ok(response) => {
                let swarm = self.network.get_swarm(job.store.account).await;
                Some(tally(&request, &response, &swarm.unwrap_or_default()))
            }
            Err(e) if e.is_refusal() => {
                tracing::info!(error = %e, "store refused; not retrying");
                return Ok(self.engine().record_refusal(job.id)?);
            }
            Err(e) => {
                tracing::info!(error = %e, "store failed");
                None
            }
        };
        Ok(self.engine().record_store(job.id, counted, self.now())?)
    }

    /// Attempts `jobs` and publishes the state changes.
    async fn deliver(&self, jobs: &[Job]) -> Result<Vec<Event>, ClientError> {
        let mut events = Vec::new();
        for job in jobs {
            events.extend(self.attempt(job).await?);
        }
        self.publish(&events);
        Ok(events)
    }

    async fn queued(&self, sent: Sent) -> Result<Vec<Event>, ClientError> {
        self.active(self.now());
        self.deliver(&sent.jobs).await
    }

    /// Hands `events` to the subscribers (dropping those that went away). Never waits: a
    /// subscriber that does not read only grows its own queue.
    fn publish(&self, events: &[Event]) {
        if events.is_empty() {
            return;
        }
        lock(&self.subscribers).retain(|subscriber| {
            events
                .iter()
                .filter(|e| subscriber.wants(e))
                .all(|e| subscriber.tx.send(e.clone()).is_ok())
        });
    }

    /// Publishes group events (a group message counts as activity).
    pub(crate) fn publish_groups(&self, events: Vec<crate::groups::GroupEvent>) {
        if events
            .iter()
            .any(|e| matches!(e, crate::groups::GroupEvent::Message(_)))
        {
            self.active(self.now());
        }
        let events: Vec<Event> = events.into_iter().map(Event::Group).collect();
        self.publish(&events);
    }

    fn subscribe(&self, messages_only: bool) -> mpsc::UnboundedReceiver<Event> {
        let (tx, rx) = mpsc::unbounded_channel();
        lock(&self.subscribers).push(Subscriber { tx, messages_only });
        rx
    }

    /// Retrieves everything new (following `more`), applies it, expires what ran out, and
    /// publishes the events.
    async fn poll_once(&self) -> Result<Vec<Event>, ClientError> {
        let own = AccountId::from(self.engine().session_id());
        // Configs first (as Session does): a restored account learns its name and contacts
        // before its messages.
        let mut events = if self.sync_configs {
            self.sync_configs().await?
        } else {
            Vec::new()
        };
        loop {
            let positions = self.engine().poll_positions()?;
            let (node, response) = self
                .on_swarm(own, |node| {
                    let key = node.pubkey_ed25519;
                    let request = self
                        .engine()
                        .retrieve_request(positions.get(&key).copied(), self.now());
                    let answer = self.network.retrieve(node, request);
                    async move { answer.await.map(|r| (key, r)) }
                })
                .await?;
            let now = self.now();
            let batch = self.engine().receive(&node, &response.messages, now)?;
            if batch.iter().any(|e| matches!(e, Event::Message(_))) {
                self.active(now);
            }
            self.publish(&batch);
            events.extend(batch);
            if !response.more || response.messages.is_empty() {
                break;
            }
        }
        let expired = self.engine().expire(self.now())?;
        self.publish(&expired);
        events.extend(expired);
        // The deletes and expiry updates this poll (and earlier actions) queued, batched.
        if let Err(e) = self.flush_swarm_updates().await {
            tracing::warn!(error = %e, "sending swarm updates failed");
        }
        Ok(events)
    }

    async fn flush_outbox(&self) -> Result<Vec<Event>, ClientError> {
        let jobs = self.engine().take_due_jobs(self.now())?;
        self.deliver(&jobs).await
    }

    /// Sends a signed `delete` of `hashes` to this account's swarm (through
    /// [`Shared::on_swarm`]: other members on failures, the fresh swarm on a confirmed 421)
    /// and checks each member's result.
    async fn delete_from_swarm(
        &self,
        hashes: Vec<MessageHash>,
    ) -> Result<SwarmOutcome, NetworkError> {
        let own = AccountId::from(self.engine().session_id());
        let request = self.engine().delete_request(hashes);
        let response = self
            .on_swarm(own, |node| self.network.delete(node, request.clone()))
            .await?;
        let swarm = self.network.get_swarm(own).await?;
        Ok(tally_delete(&request, &response, &swarm))
    }

    /// Sends a signed `expire` (shorten only) of `hashes` to `expiry_ms` to this account's
    /// swarm, as [`Shared::delete_from_swarm`].
    async fn shorten_expiry(
        &self,
        hashes: Vec<MessageHash>,
        expiry_ms: u64,
    ) -> Result<SwarmOutcome, NetworkError> {
        let own = AccountId::from(self.engine().session_id());
        let request = self.engine().expire_request(hashes, expiry_ms);
        let response = self
            .on_swarm(own, |node| self.network.expire(node, request.clone()))
            .await?;
        let swarm = self.network.get_swarm(own).await?;
        Ok(tally_expire(&request, &response, &swarm))
    }

    /// Sends the queued deletes and expiry updates, one request per batch, and records each
    /// outcome (a refused request is dropped: no retry changes it). Returns what each batch
    /// did; a batch that failed is retried with the next poll.
    async fn flush_swarm_updates(&self) -> Result<Vec<(SwarmUpdate, SwarmOutcome)>, ClientError> {
        let updates = self.engine().swarm_updates(self.now())?;
        let mut done = Vec::with_capacity(updates.len());
        for update in updates {
            let hashes = update.hashes.clone();
            let answer = match update.expiry_ms {
                None => self.delete_from_swarm(hashes).await,
                Some(expiry) => self.shorten_expiry(hashes, expiry).await,
            };
            match answer {
                Ok(outcome) => {
                    self.engine()
                        .record_swarm_update(&update, outcome.is_done())?;
                    done.push((update, outcome));
                }
                Err(e) if e.is_refusal() => {
                    tracing::info!(error = %e, "swarm update refused; not retrying");
                    self.engine().record_swarm_update(&update, true)?;
                }
                Err(e) => {
                    tracing::info!(error = %e, "swarm update failed");
                    self.engine().record_swarm_update(&update, false)?;
                }
            }
        }
        Ok(done)
    }

    /// The background loop: poll, retry due stores, sleep as the policy says, or less when a
    /// retry falls due sooner (or until woken by activity).
    async fn run(self: Arc<Self>) {
        let mut failures = 0u32;
        loop {
            match self.poll_once().await {
                Ok(_) => failures = 0,
                Err(e) => {
                    failures = failures.saturating_add(1);
                    tracing::warn!(error = %e, failures, "poll failed");
                }
            }
            // Closed groups: a view of this client without a poller of its own.
            let view = Client {
                shared: Arc::clone(&self),
                poller: None,
            };
            match view.poll_groups().await {
                Ok(events) => self.publish_groups(events),
                Err(e) => tracing::info!(error = %e, "polling groups failed"),
            }
            if let Err(e) = self.flush_outbox().await {
                tracing::warn!(error = %e, "retrying stores failed");
            }
            let now = self.now();
            let last = *lock(&self.last_activity_ms);
            let mut delay = self.poll.next_delay(now, last, failures);
            if let Ok(Some(due)) = self.engine().next_job_due() {
                delay = delay.min(Duration::from_millis(due.saturating_sub(now)));
            }
            tokio::select! {
                () = tokio::time::sleep(delay) => {}
                () = self.wake.notified() => {}
            }
        }
    }
}

/// A Sotto client: one account, its local database and a network. Cheap to share behind a
/// reference; the background poller stops when the client is dropped.
pub struct Client<N: Network> {
    shared: Arc<Shared<N>>,
    poller: Option<JoinHandle<()>>,
}

impl<N: Network> core::fmt::Debug for Client<N> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Client")
            .field("session_id", &self.session_id().short())
            .finish_non_exhaustive()
    }
}

impl<N: Network> Drop for Client<N> {
    fn drop(&mut self) {
        if let Some(poller) = self.poller.take() {
            poller.abort();
        }
    }
}

impl<N: Network> Client<N> {
    /// Opens the account's database, looks up its swarm (so a network that cannot be
    /// reached fails here), and starts the poller unless `config.background` is off. Stores
    /// left in the outbox by an earlier run are retried by the poller.
    pub async fn connect(
        network: N,
        account: Account,
        config: ClientConfig,
    ) -> Result<Self, ClientError> {
        let engine = Engine::open(&config.database, account)?.with_retry_policy(config.retry);
        let own = AccountId::from(engine.session_id());
        network.set_own_account(own);
        let shared = Arc::new(Shared {
            network,
            engine: Mutex::new(engine),
            swarms: Mutex::new(HashMap::new()),
            subscribers: Mutex::new(Vec::new()),
            last_activity_ms: Mutex::new(None),
            wake: Notify::new(),
            poll: config.poll,
            clock: config.clock,
            sync_configs: config.sync_configs,
            config_push: tokio::sync::Mutex::new(()),
        });
        shared.swarm(own).await?;
        let poller = config
            .background
            .then(|| tokio::spawn(Arc::clone(&shared).run()));
        Ok(Self { shared, poller })
    }

    /// What the client and its poller share (for the group module).
    pub(crate) fn shared(&self) -> &Shared<N> {
        &self.shared
    }

    /// The network this client sends over (for its traces and paths, say).
    #[must_use]
    pub fn network(&self) -> &N {
        &self.shared.network
    }

    /// The client's clock, ms since the Unix epoch.
    #[must_use]
    pub fn now_ms(&self) -> u64 {
        self.shared.now()
    }

    /// This account's Session ID.
    #[must_use]
    pub fn session_id(&self) -> SessionId {
        self.shared.engine().session_id()
    }

    /// Runs `f` on the local state (contacts, conversations, history, settings). Do not hold
    /// on to anything across an `.await`.
    pub fn with_engine<R>(&self, f: impl FnOnce(&mut Engine) -> R) -> R {
        f(&mut self.shared.engine())
    }

    /// The messages arriving from now on (from others; requests included), as a stream.
    #[must_use]
    pub fn messages(&self) -> Messages {
        Messages(self.shared.subscribe(true))
    }

    /// Every event from now on (messages, delivery states, reactions, typing, skipped
    /// messages, …), as a stream.
    #[must_use]
    pub fn events(&self) -> Events {
        Events(self.shared.subscribe(false))
    }

    /// Sends a text to `to` and returns once the first store attempt answered; a failed
    /// message is retried in the background.
    pub async fn send_text(&self, to: &SessionId, body: &str) -> Result<SendOutcome, ClientError> {
        let sent = self
            .shared
            .engine()
            .send_text(to, body, None, self.shared.now(), &mut OsRng)?;
        self.text_sent(sent).await
    }

    /// Replies to `message` (quoting it) in its conversation.
    pub async fn reply(&self, message: MessageId, body: &str) -> Result<SendOutcome, ClientError> {
        let sent = {
            let mut engine = self.shared.engine();
            let peer = engine
                .message(message)?
                .ok_or(ClientError::UnknownMessage(message))?
                .peer;
            engine.send_text(&peer, body, Some(message), self.shared.now(), &mut OsRng)?
        };
        self.text_sent(sent).await
    }

    pub(crate) async fn text_sent(&self, sent: Sent) -> Result<SendOutcome, ClientError> {
        let message = sent
            .message
            .ok_or(crate::DbError::Corrupt("text without a message"))?;
        self.shared.queued(sent).await?;
        let state = self
            .shared
            .engine()
            .message(message)?
            .map_or(MessageState::Deleted, |m| m.state);
        Ok(SendOutcome { message, state })
    }

    /// Reacts to `message` with `emoji`.
    pub async fn react(&self, message: MessageId, emoji: &str) -> Result<(), ClientError> {
        self.reaction(message, emoji, false).await
    }

    /// Removes this account's `emoji` reaction from `message`.
    pub async fn remove_reaction(
        &self,
        message: MessageId,
        emoji: &str,
    ) -> Result<(), ClientError> {
        self.reaction(message, emoji, true).await
    }

    async fn reaction(
        &self,
        message: MessageId,
        emoji: &str,
        remove: bool,
    ) -> Result<(), ClientError> {
        let sent =
            self.shared
                .engine()
                .react(message, emoji, remove, self.shared.now(), &mut OsRng)?;
        self.shared.queued(sent).await.map(drop)
    }

    /// Deletes one of this account's messages here and for the peer.
    pub async fn unsend(&self, message: MessageId) -> Result<(), ClientError> {
        let sent = self
            .shared
            .engine()
            .unsend(message, self.shared.now(), &mut OsRng)?;
        self.shared.queued(sent).await?;
        self.shared.flush_swarm_updates().await.map(drop)
    }

    /// "Delete for me": deletes `message` here (one's own or someone else's) and its copies
    /// on this account's swarm (the sync copy of a sent message, the stored copy of a
    /// received one); the peer keeps theirs. A swarm delete that fails is retried with the
    /// next polls.
    pub async fn delete_for_me(&self, message: MessageId) -> Result<(), ClientError> {
        self.shared
            .engine()
            .delete_for_me(message, self.shared.now())?;
        self.shared.flush_swarm_updates().await.map(drop)
    }

    /// Clears the conversation with `peer`: deletes its messages here and their copies on
    /// this account's swarm, as [`Client::delete_for_me`]; the conversation and the contact
    /// stay. Returns how many messages were deleted.
    pub async fn clear_conversation(&self, peer: &SessionId) -> Result<usize, ClientError> {
        let cleared = self
            .shared
            .engine()
            .clear_conversation(peer, self.shared.now())?;
        self.shared.flush_swarm_updates().await?;
        Ok(cleared)
    }

    /// Deletes `hashes` from this account's swarm now (a signed `delete` through an onion
    /// path, with the same retries as stores) and returns each member's checked result:
    /// [`SwarmOutcome::everywhere`] says whether they are gone from every member.
    pub async fn delete_from_swarm(
        &self,
        hashes: Vec<MessageHash>,
    ) -> Result<SwarmOutcome, ClientError> {
        Ok(self.shared.delete_from_swarm(hashes).await?)
    }

    /// Shortens the expiry of `hashes` on this account's swarm to `expiry_ms` (a signed
    /// `expire` with `shorten`: a later expiry is never set) and returns each member's
    /// checked result.
    pub async fn shorten_expiry(
        &self,
        hashes: Vec<MessageHash>,
        expiry_ms: u64,
    ) -> Result<SwarmOutcome, ClientError> {
        Ok(self.shared.shorten_expiry(hashes, expiry_ms).await?)
    }

    /// Asks every member of this account's swarm for the expiries of `hashes` (a signed
    /// `get_expiries`, which each member answers for itself): per member, the expiry of each
    /// message it holds, or why it did not answer.
    pub async fn swarm_expiries(
        &self,
        hashes: Vec<MessageHash>,
    ) -> Result<
        BTreeMap<Ed25519PublicKey, Result<BTreeMap<MessageHash, u64>, NetworkError>>,
        ClientError,
    > {
        let own = AccountId::from(self.session_id());
        let swarm = self.shared.network.get_swarm(own).await?;
        let mut out = BTreeMap::new();
        for node in swarm {
            let key = node.pubkey_ed25519;
            let request = self
                .shared
                .engine()
                .get_expiries_request(hashes.clone(), self.shared.now());
            let answer = self.shared.network.get_expiries(node, request).await;
            out.insert(key, answer.map(|r| r.expiries));
        }
        Ok(out)
    }

    /// Sends the queued deletes and expiry updates now (the poller sends them after each
    /// poll), one request per batch; returns each batch and its members' results.
    pub async fn flush_swarm_updates(
        &self,
    ) -> Result<Vec<(SwarmUpdate, SwarmOutcome)>, ClientError> {
        self.shared.flush_swarm_updates().await
    }

    /// Marks the conversation with `peer` read; sends a read receipt when they are on, and
    /// shortens the expiry of the after-read messages on this account's swarm to their
    /// timers (one `expire` for them all).
    pub async fn mark_read(&self, peer: &SessionId) -> Result<(), ClientError> {
        let sent = self
            .shared
            .engine()
            .mark_read(peer, self.shared.now(), &mut OsRng)?;
        if let Some(sent) = sent {
            self.shared.deliver(&sent.jobs).await?;
        }
        // The after-read timers that started: one expiry update for them all.
        self.shared.flush_swarm_updates().await?;
        // The read position, for this account's other devices.
        self.shared.push_changes().await
    }

    /// Tells `peer` that typing started or stopped (only when typing indicators are on).
    pub async fn set_typing(&self, peer: &SessionId, started: bool) -> Result<(), ClientError> {
        let sent = self
            .shared
            .engine()
            .set_typing(peer, started, self.shared.now(), &mut OsRng)?;
        match sent {
            Some(sent) => self.shared.deliver(&sent.jobs).await.map(drop),
            None => Ok(()),
        }
    }

    /// Accepts `peer`'s message request.
    pub async fn accept_request(&self, peer: &SessionId) -> Result<(), ClientError> {
        let sent = self
            .shared
            .engine()
            .accept_request(peer, self.shared.now(), &mut OsRng)?;
        self.shared.queued(sent).await?;
        self.shared.push_changes().await
    }

    /// Declines `peer`'s message request (deletes it; they are not told).
    pub fn decline_request(&self, peer: &SessionId) -> Result<(), ClientError> {
        self.shared.engine().decline_request(peer)
    }

    /// Blocks `peer`: their messages are dropped from now on. The Contacts config records it
    /// at once and a task pushes it (with a runtime; otherwise the next sync does).
    pub fn block(&self, peer: &SessionId) -> Result<(), ClientError> {
        let now = self.shared.now();
        self.shared.engine().set_blocked(peer, true, now)?;
        self.shared.push_changes_soon()
    }

    /// Unblocks `peer` (pushed like [`Client::block`]).
    pub fn unblock(&self, peer: &SessionId) -> Result<(), ClientError> {
        let now = self.shared.now();
        self.shared.engine().set_blocked(peer, false, now)?;
        self.shared.push_changes_soon()
    }

    /// Changes the disappearing setting of the conversation with `peer` and tells them.
    pub async fn set_disappearing(
        &self,
        peer: &SessionId,
        setting: Disappearing,
    ) -> Result<(), ClientError> {
        let sent =
            self.shared
                .engine()
                .set_disappearing(peer, setting, self.shared.now(), &mut OsRng)?;
        self.shared.queued(sent).await?;
        self.shared.push_changes().await
    }

    /// Sets the display name sent with this account's messages (pushed to the UserProfile
    /// config like [`Client::block`]).
    pub fn set_display_name(&self, name: Option<&str>) -> Result<Settings, ClientError> {
        let now = self.shared.now();
        let settings = self.shared.engine().set_display_name(name, now)?;
        self.shared.push_changes_soon()?;
        Ok(settings)
    }

    /// Changes settings (read receipts, typing indicators, the default disappearing setting).
    pub fn update_settings(&self, f: impl FnOnce(&mut Settings)) -> Result<Settings, ClientError> {
        Ok(self.shared.engine().update_settings(f)?)
    }

    /// Tries a failed message again now.
    pub async fn retry(&self, message: MessageId) -> Result<(), ClientError> {
        let jobs = self.shared.engine().retry(message, self.shared.now())?;
        self.shared.deliver(&jobs).await.map(drop)
    }

    /// Polls once: retrieves everything new, applies it and returns (and publishes) the
    /// events. The background poller calls this; call it yourself without one.
    pub async fn poll_once(&self) -> Result<Vec<Event>, ClientError> {
        let mut events = self.shared.poll_once().await?;
        match self.poll_groups().await {
            Ok(group_events) => {
                let group_events: Vec<Event> = group_events.into_iter().map(Event::Group).collect();
                self.shared.publish(&group_events);
                events.extend(group_events);
            }
            Err(e) => tracing::info!(error = %e, "polling groups failed"),
        }
        Ok(events)
    }

    /// Attempts the stores that are due (retries, or stores left by an earlier run).
    pub async fn flush_outbox(&self) -> Result<Vec<Event>, ClientError> {
        self.shared.flush_outbox().await
    }
}

/// A stream's end of the client's events.
struct Subscriber {
    tx: mpsc::UnboundedSender<Event>,
    messages_only: bool,
}

impl Subscriber {
    fn wants(&self, event: &Event) -> bool {
        !self.messages_only || matches!(event, Event::Message(m) if !m.message.outgoing)
    }
}

/// The stream of [`Client::messages`]: new messages from others. Unread items queue up
/// (unbounded): keep reading it, or drop it.
#[derive(Debug)]
pub struct Messages(mpsc::UnboundedReceiver<Event>);

impl Messages {
    /// The next message; `None` once the client is gone.
    pub async fn next(&mut self) -> Option<IncomingMessage> {
        core::future::poll_fn(|cx| Pin::new(&mut *self).poll_next(cx)).await
    }
}

impl Stream for Messages {
    type Item = IncomingMessage;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        loop {
            match self.0.poll_recv(cx) {
                Poll::Ready(Some(Event::Message(m))) => return Poll::Ready(Some(m)),
                Poll::Ready(Some(_)) => {}
                Poll::Ready(None) => return Poll::Ready(None),
                Poll::Pending => return Poll::Pending,
            }
        }
    }
}

/// The stream of [`Client::events`]. Unread items queue up (unbounded): keep reading it, or
/// drop it.
#[derive(Debug)]
pub struct Events(mpsc::UnboundedReceiver<Event>);

impl Events {
    /// The next event; `None` once the client is gone.
    pub async fn next(&mut self) -> Option<Event> {
        self.0.recv().await
    }
}

impl Stream for Events {
    type Item = Event;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.0.poll_recv(cx)
    }
}
