//! [`Engine`]: the account and its local database, with every state transition of the client
//! and no I/O. The [`crate::Client`] moves its requests over a [`crate::Network`]; a CLI can use
//! it directly for what needs no network (contacts, history, settings).

use std::collections::HashMap;
use std::path::Path;

use sotto_crypto::{CryptoRngCore, Ed25519PublicKey};
use sotto_identity::{Account, SessionId};
use sotto_rpc::request::{Delete, Expire, ExpireMode, GetExpiries, Retrieve, Store};
use sotto_rpc::response::RetrievedMessage;
use sotto_rpc::{AccountId, MessageHash, Namespace, Signer};

use crate::db::{ContactFlag, Database, Job, JobId, MAX_TIME, NewMessage, Tx};
use crate::deletion::{MAX_UPDATE_ATTEMPTS, SwarmUpdate, batch};
use crate::error::{ClientError, DbError};
use crate::incoming::{Apply, Event, Stop, open};
use crate::model::{
    Contact, Conversation, Disappearing, MessageId, MessageKey, MessageRecord, MessageState,
    QuoteRef, ReactionRecord, Settings,
};
use crate::outgoing::{
    Context, JobPurpose, MAX_MESSAGE_LEN, Outgoing, RetryPolicy, Tally, prepare,
};

#[path = "configs.rs"]
pub mod configs;

/// How long a job handed out for an attempt stays reserved before it is due again (in case
/// the attempt never reports back, e.g. the process died): 30 s.
pub const LEASE_MS: u64 = 30_000;

/// A swarm node's poll position is forgotten after this long without use: 14 days, the
/// longest a message may live (`sotto_rpc` TTL bound), so whatever it held has expired.
pub const POLL_POSITION_LIFETIME_MS: u64 = 14 * 24 * 3600 * 1000;

/// A copy on the swarm that outlives its disappeared message by less than this is left to
/// expire there rather than deleted: 60 s.
pub const SWARM_EXPIRY_SLACK_MS: u64 = 60_000;

/// What a user action queued.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sent {
    /// The message written locally, for actions that write one (texts).
    pub message: Option<MessageId>,
    /// The stores to attempt now.
    pub jobs: Vec<Job>,
}

/// The client's state and its transitions. Every method that changes something runs in one
/// database transaction; time and randomness are parameters.
#[derive(Debug)]
pub struct Engine {
    account: Account,
    db: Database,
    retry: RetryPolicy,
    last_sent_ms: u64,
}

impl Engine {
    /// Opens (or creates) the database at `path` for `account`.
    pub fn open(path: &Path, account: Account) -> Result<Self, DbError> {
        Ok(Self::new(Database::open(path, &account)?, account))
    }

    /// An engine over a database in memory, for tests and tools.
    pub fn open_in_memory(account: Account) -> Result<Self, DbError> {
        Ok(Self::new(Database::open_in_memory(&account)?, account))
    }

    fn new(db: Database, account: Account) -> Self {
        Self {
            account,
            db,
            retry: RetryPolicy::default(),
            last_sent_ms: 0,
        }
    }

    /// Uses `policy` for failed stores.
    #[must_use]
    pub fn with_retry_policy(mut self, policy: RetryPolicy) -> Self {
        self.retry = policy;
        self
    }

    /// The database, for the attachment module.
    pub(crate) fn db(&self) -> &Database {
        &self.db
    }

    /// The database, for the attachment module's changes.
    pub(crate) fn db_mut(&mut self) -> &mut Database {
        &mut self.db
    }

    /// The account.
    #[must_use]
    pub fn account(&self) -> &Account {
        &self.account
    }

    /// This account's Session ID.
    #[must_use]
    pub fn session_id(&self) -> SessionId {
        self.account.session_id()
    }

    // Reading.

    /// The settings.
    pub fn settings(&self) -> Result<Settings, DbError> {
        self.db.read().settings()
    }

    /// A contact (anyone known: contact, requester, blocked).
    pub fn contact(&self, id: &SessionId) -> Result<Option<Contact>, DbError> {
        self.db.read().contact(id)
    }

    /// Everyone known, by Session ID.
    pub fn contacts(&self) -> Result<Vec<Contact>, DbError> {
        self.db.read().contacts()
    }

    /// The conversation with `peer`.
    pub fn conversation(&self, peer: &SessionId) -> Result<Option<Conversation>, DbError> {
        self.db.read().conversation(peer)
    }

    /// Conversations (without blocked peers), most recent first, requests included.
    pub fn conversations(&self) -> Result<Vec<Conversation>, DbError> {
        self.db.read().conversations()
    }

    /// Pending message requests, most recent first.
    pub fn requests(&self) -> Result<Vec<Conversation>, DbError> {
        let mut all = self.conversations()?;
        all.retain(Conversation::is_request);
        Ok(all)
    }

    /// The last `limit` messages with `peer`, oldest first.
    pub fn messages(&self, peer: &SessionId, limit: u32) -> Result<Vec<MessageRecord>, DbError> {
        self.db.read().messages(peer, limit)
    }

    /// A message.
    pub fn message(&self, id: MessageId) -> Result<Option<MessageRecord>, DbError> {
        self.db.read().message(id)
    }

    /// A message's reactions.
    pub fn reactions(&self, id: MessageId) -> Result<Vec<ReactionRecord>, DbError> {
        self.db.read().reactions(id)
    }

    // Local changes.

    /// Changes the settings.
    pub fn update_settings(&mut self, f: impl FnOnce(&mut Settings)) -> Result<Settings, DbError> {
        self.db.write(|tx| {
            let mut settings = tx.settings()?;
            f(&mut settings);
            tx.set_settings(&settings)?;
            Ok(settings)
        })
    }

    /// Sets (or clears) the display name sent with this account's messages.
    pub fn set_display_name(
        &mut self,
        name: Option<&str>,
        now_ms: u64,
    ) -> Result<Settings, DbError> {
        self.update_settings(|s| {
            s.display_name = name.map(str::to_owned);
            s.profile_updated_s = Some(now_ms / 1000);
        })
    }

    /// Adds `id` as an approved contact, with an optional nickname.
    pub fn add_contact(
        &mut self,
        id: &SessionId,
        nickname: Option<&str>,
        now_ms: u64,
    ) -> Result<Contact, DbError> {
        self.db.write(|tx| {
            tx.ensure_contact(id, now_ms)?;
            tx.set_contact_flag(id, ContactFlag::Approved, true)?;
            if nickname.is_some() {
                tx.set_nickname(id, nickname)?;
            }
            tx.contact(id)?.ok_or(DbError::Corrupt("contact vanished"))
        })
    }

    /// Blocks or unblocks `id`: a blocked sender's messages are dropped.
    pub fn set_blocked(
        &mut self,
        id: &SessionId,
        blocked: bool,
        now_ms: u64,
    ) -> Result<(), DbError> {
        self.db.write(|tx| {
            tx.ensure_contact(id, now_ms)?;
            tx.set_contact_flag(id, ContactFlag::Blocked, blocked)
        })
    }

    /// Declines a message request: the conversation and its messages are deleted; the sender
    /// is not told.
    pub fn decline_request(&mut self, peer: &SessionId) -> Result<(), ClientError> {
        self.db.write(|tx| -> Result<(), ClientError> {
            pending_request(tx, peer)?;
            Ok(tx.delete_conversation(peer)?)
        })?;
        Ok(self.db.checkpoint()?)
    }

    // Sending.

    /// A sent timestamp for `now_ms`, strictly after the previous one (sent timestamps name
    /// messages).
    fn timestamp(&mut self, now_ms: u64) -> u64 {
        self.last_sent_ms = now_ms.max(self.last_sent_ms.saturating_add(1));
        self.last_sent_ms
    }

    /// Prepares `outgoing` for `to` and queues its stores (due after [`LEASE_MS`], the time
    /// the caller has to attempt them at once); sync copies are marked seen so this device
    /// does not apply them again.
    /// Whether typing indicators and read receipts may go to `peer`: an approved, unblocked
    /// contact other than oneself (never to someone whose request is still pending).
    fn may_signal(tx: &Tx<'_>, account: &Account, peer: &SessionId) -> Result<bool, ClientError> {
        Ok(*peer != account.session_id()
            && tx.contact(peer)?.is_some_and(|c| c.approved && !c.blocked))
    }

    fn queue(
        tx: &Tx<'_>,
        account: &Account,
        to: &SessionId,
        outgoing: &Outgoing,
        sent_ms: u64,
        message: Option<MessageId>,
        rng: &mut impl CryptoRngCore,
    ) -> Result<Vec<Job>, ClientError> {
        let settings = tx.settings()?;
        let disappearing = match tx.conversation(to)? {
            Some(c) => c.disappearing,
            None => settings.default_disappearing,
        };
        let ctx = Context {
            profile: settings
                .display_name
                .map(|name| (name, settings.profile_updated_s)),
            disappearing,
            picture: tx.own_picture()?.map(|p| (p.url, p.key)),
        };
        let prepared = prepare(account, to, outgoing, &ctx, sent_ms, rng)?;
        // Refused before anything is written or sent: no node would store it.
        if let Some(size) = prepared
            .jobs
            .iter()
            .map(|j| j.data.len())
            .find(|len| *len > MAX_MESSAGE_LEN)
        {
            return Err(ClientError::TooLarge {
                size,
                limit: MAX_MESSAGE_LEN,
            });
        }
        let due = sent_ms.saturating_add(LEASE_MS);
        let mut jobs = Vec::with_capacity(prepared.jobs.len());
        let own = AccountId::from(account.session_id());
        for store in prepared.jobs {
            if store.purpose == JobPurpose::SyncCopy {
                tx.mark_seen(&store.hash(), store.expiry_ms)?;
            }
            // A copy on one's own swarm (the sync copy, or a note to self) can be deleted or
            // expired there later.
            if let Some(message) = message
                && store.account == own
            {
                tx.add_swarm_copy(message, &store.hash(), store.expiry_ms)?;
            }
            let id = tx.insert_job(message, &store, due)?;
            jobs.push(Job {
                id,
                message,
                attempts: 0,
                store,
            });
        }
        Ok(jobs)
    }

    /// Sends a text to `to`, optionally replying to `quote`. Writing to someone makes them a
    /// contact; writing to someone whose request is pending accepts it (a message-request
    /// response goes first).
    pub fn send_text(
        &mut self,
        to: &SessionId,
        body: &str,
        quote: Option<MessageId>,
        now_ms: u64,
        rng: &mut impl CryptoRngCore,
    ) -> Result<Sent, ClientError> {
        if body.is_empty() {
            return Err(ClientError::Empty("text"));
        }
        self.send_visible(to, Some(body), &[], quote, now_ms, rng)
    }

    /// Sends a visible message: a text, or uploaded attachments (each pointer with the local
    /// file it was made from, if any) with an optional text.
    pub(crate) fn send_visible(
        &mut self,
        to: &SessionId,
        body: Option<&str>,
        attachments: &[crate::attachments::OutgoingAttachment],
        quote: Option<MessageId>,
        now_ms: u64,
        rng: &mut impl CryptoRngCore,
    ) -> Result<Sent, ClientError> {
        let sent_ms = self.timestamp(now_ms);
        let Self { account, db, .. } = self;
        db.write(|tx| {
            let contact = tx.contact(to)?;
            if let Some(c) = &contact
                && c.blocked
            {
                return Err(ClientError::Blocked(to.short()));
            }
            let quote = match quote {
                None => None,
                Some(id) => {
                    let quoted = live_message(tx, id)?;
                    let attachments = tx
                        .attachments(id)?
                        .into_iter()
                        .map(|a| crate::model::QuotedFile {
                            content_type: Some(a.record.content_type),
                            file_name: a.record.file_name,
                            voice: a.record.voice,
                        })
                        .collect();
                    Some(QuoteRef {
                        key: quoted.key,
                        text: quoted.body,
                        attachments,
                    })
                }
            };
            let mut jobs = Vec::new();
            let accepting = contact.is_some_and(|c| !c.approved) && tx.conversation(to)?.is_some();
            if accepting && *to != account.session_id() {
                jobs = Self::queue(
                    tx,
                    account,
                    to,
                    &Outgoing::RequestResponse,
                    sent_ms,
                    None,
                    rng,
                )?;
            }
            let conversation =
                tx.ensure_conversation(to, now_ms, tx.settings()?.default_disappearing)?;
            tx.set_contact_flag(to, ContactFlag::Approved, true)?;
            let disappearing = tx
                .conversation(to)?
                .map(|c| c.disappearing)
                .unwrap_or_default();
            let id = tx
                .insert_message(&NewMessage {
                    conversation,
                    key: MessageKey {
                        author: account.session_id(),
                        sent_ms,
                    },
                    outgoing: true,
                    received_ms: now_ms,
                    body,
                    quote: quote.as_ref(),
                    state: MessageState::Sending,
                    disappearing,
                    // Both kinds of timer start at sending for one's own messages.
                    expires_at_ms: disappearing.timer_ms().map(|t| sent_ms.saturating_add(t)),
                })?
                .ok_or(DbError::Corrupt("duplicate sent timestamp"))?;
            tx.touch(conversation, now_ms)?;
            let text = if attachments.is_empty() {
                Outgoing::Text {
                    body: body.unwrap_or_default().to_owned(),
                    quote,
                }
            } else {
                for (index, a) in attachments.iter().enumerate() {
                    tx.insert_attachment(id, index, &a.pointer, a.local.as_deref(), true)?;
                }
                Outgoing::Media {
                    body: body.map(str::to_owned),
                    attachments: attachments.iter().map(|a| a.pointer.clone()).collect(),
                    quote,
                }
            };
            jobs.extend(Self::queue(tx, account, to, &text, sent_ms, Some(id), rng)?);
            Ok(Sent {
                message: Some(id),
                jobs,
            })
        })
    }

    /// Adds (or removes) a reaction to a message.
    pub fn react(
        &mut self,
        message: MessageId,
        emoji: &str,
        remove: bool,
        now_ms: u64,
        rng: &mut impl CryptoRngCore,
    ) -> Result<Sent, ClientError> {
        if emoji.is_empty() {
            return Err(ClientError::Empty("emoji"));
        }
        let sent_ms = self.timestamp(now_ms);
        let Self { account, db, .. } = self;
        db.write(|tx| {
            let target = live_message(tx, message)?;
            let own = account.session_id();
            tx.set_reaction(message, &own, emoji, sent_ms, !remove)?;
            let reaction = Outgoing::Reaction {
                target: target.key,
                emoji: emoji.to_owned(),
                remove,
            };
            let jobs = Self::queue(tx, account, &target.peer, &reaction, sent_ms, None, rng)?;
            Ok(Sent {
                message: None,
                jobs,
            })
        })
    }

    /// Unsends one of this account's messages: it is deleted here at once (with any store of
    /// it still pending), its sync copy is queued for deletion from this account's swarm, and
    /// an unsend request goes to the peer and to this account's other devices.
    pub fn unsend(
        &mut self,
        message: MessageId,
        now_ms: u64,
        rng: &mut impl CryptoRngCore,
    ) -> Result<Sent, ClientError> {
        let sent_ms = self.timestamp(now_ms);
        let Self { account, db, .. } = self;
        db.write(|tx| {
            let target = live_message(tx, message)?;
            if target.key.author != account.session_id() {
                return Err(ClientError::NotOwnMessage(message));
            }
            tx.queue_swarm_delete(message, now_ms)?;
            tx.tombstone(message)?;
            let unsend = Outgoing::Unsend { target: target.key };
            let jobs = Self::queue(tx, account, &target.peer, &unsend, sent_ms, None, rng)?;
            Ok(Sent {
                message: None,
                jobs,
            })
        })
        .and_then(|sent| {
            db.checkpoint()?;
            Ok(sent)
        })
    }

    /// Tells `peer` that typing started or stopped; `None` when typing indicators are off or
    /// the peer is not an approved contact.
    pub fn set_typing(
        &mut self,
        peer: &SessionId,
        started: bool,
        now_ms: u64,
        rng: &mut impl CryptoRngCore,
    ) -> Result<Option<Sent>, ClientError> {
        let sent_ms = self.timestamp(now_ms);
        let Self { account, db, .. } = self;
        db.write(|tx| {
            let allowed = tx.settings()?.typing_indicators && Self::may_signal(tx, account, peer)?;
            if !allowed {
                return Ok(None);
            }
            let typing = Outgoing::Typing { started };
            let jobs = Self::queue(tx, account, peer, &typing, sent_ms, None, rng)?;
            Ok(Some(Sent {
                message: None,
                jobs,
            }))
        })
    }

    /// Accepts `peer`'s message request: they become a contact and a message-request response
    /// (with this account's display name) goes to them.
    pub fn accept_request(
        &mut self,
        peer: &SessionId,
        now_ms: u64,
        rng: &mut impl CryptoRngCore,
    ) -> Result<Sent, ClientError> {
        let sent_ms = self.timestamp(now_ms);
        let Self { account, db, .. } = self;
        db.write(|tx| {
            pending_request(tx, peer)?;
            tx.set_contact_flag(peer, ContactFlag::Approved, true)?;
            let jobs = Self::queue(
                tx,
                account,
                peer,
                &Outgoing::RequestResponse,
                sent_ms,
                None,
                rng,
            )?;
            Ok(Sent {
                message: None,
                jobs,
            })
        })
    }

    /// Changes the disappearing setting of the conversation with `peer` and tells them.
    pub fn set_disappearing(
        &mut self,
        peer: &SessionId,
        setting: Disappearing,
        now_ms: u64,
        rng: &mut impl CryptoRngCore,
    ) -> Result<Sent, ClientError> {
        let sent_ms = self.timestamp(now_ms);
        let Self { account, db, .. } = self;
        db.write(|tx| {
            if tx.contact(peer)?.is_some_and(|c| c.blocked) {
                return Err(ClientError::Blocked(peer.short()));
            }
            let conversation = tx.ensure_conversation(peer, now_ms, setting)?;
            tx.set_conversation_disappearing(conversation, setting)?;
            let change = Outgoing::Disappearing(setting);
            let jobs = Self::queue(tx, account, peer, &change, sent_ms, None, rng)?;
            Ok(Sent {
                message: None,
                jobs,
            })
        })
    }

    /// Marks the conversation with `peer` read (starting after-read timers, whose copies on
    /// this account's swarm are queued for a shorter expiry) and, when read receipts are on and the peer is an approved contact, sends them a read receipt.
    pub fn mark_read(
        &mut self,
        peer: &SessionId,
        now_ms: u64,
        rng: &mut impl CryptoRngCore,
    ) -> Result<Option<Sent>, ClientError> {
        let sent_ms = self.timestamp(now_ms);
        let Self { account, db, .. } = self;
        db.write(|tx| {
            let Some(conversation) = tx.conversation_id(peer)? else {
                return Ok(None);
            };
            let timestamps = tx.mark_read(conversation, now_ms)?;
            tx.set_marked_unread(conversation, false)?;
            tx.queue_read_expiries(conversation, now_ms)?;
            let send = !timestamps.is_empty()
                && tx.settings()?.read_receipts
                && Self::may_signal(tx, account, peer)?;
            if !send {
                return Ok(None);
            }
            let receipt = Outgoing::ReadReceipt { timestamps };
            let jobs = Self::queue(tx, account, peer, &receipt, sent_ms, None, rng)?;
            Ok(Some(Sent {
                message: None,
                jobs,
            }))
        })
    }

    /// Tries a failed message again now (after the client gave up on it, or before its next
    /// automatic attempt); returns its jobs.
    pub fn retry(&mut self, message: MessageId, now_ms: u64) -> Result<Vec<Job>, ClientError> {
        self.db.write(|tx| {
            let record = live_message(tx, message)?;
            let jobs = tx.jobs_of(message)?;
            if let MessageState::Failed { attempts, .. } = record.state {
                tx.set_state(
                    message,
                    MessageState::Failed {
                        attempts,
                        next_retry_ms: Some(now_ms),
                    },
                )?;
            }
            for job in &jobs {
                tx.reschedule_job(job.id, job.attempts, Some(now_ms.saturating_add(LEASE_MS)))?;
            }
            Ok(jobs)
        })
    }

    // Delivery.

    /// The stores due at `now_ms`, reserved for [`LEASE_MS`] so that a concurrent call does
    /// not hand them out again.
    pub fn take_due_jobs(&mut self, now_ms: u64) -> Result<Vec<Job>, DbError> {
        self.db.write(|tx| {
            let jobs = tx.due_jobs(now_ms)?;
            for job in &jobs {
                tx.reschedule_job(job.id, job.attempts, Some(now_ms.saturating_add(LEASE_MS)))?;
            }
            Ok(jobs)
        })
    }

    /// When the next store is due, if any is waiting.
    pub fn next_job_due(&self) -> Result<Option<u64>, DbError> {
        self.db.read().next_job_due()
    }

    /// The `store` request for an attempt of `job` at `now_ms`.
    #[must_use]
    pub fn store_request(&self, job: &Job, now_ms: u64) -> Store {
        job.store.request(&self.account, now_ms)
    }

    /// Records an attempt of `job`: `tally` is how the swarm answered (`None`: no answer). A
    /// stored job leaves the outbox; a failed one is rescheduled or given up. The message's
    /// state follows its recipient copy, unless it has moved on (read, deleted). Returns the
    /// state change, if any.
    pub fn record_store(
        &mut self,
        job: JobId,
        tally: Option<Tally>,
        now_ms: u64,
    ) -> Result<Option<Event>, DbError> {
        let retry = self.retry;
        self.record(job, |attempts, expiry_ms| {
            retry.state_after(attempts, tally, now_ms, expiry_ms)
        })
    }

    /// Records an attempt of `job` that the swarm refused in a way no retry can change (see
    /// [`crate::NetworkError::is_refusal`]): the message fails for good (no automatic retry;
    /// [`Engine::retry`] still tries it again when asked). Returns the state change, if any.
    pub fn record_refusal(&mut self, job: JobId) -> Result<Option<Event>, DbError> {
        self.record(job, |attempts, _| MessageState::Failed {
            attempts,
            next_retry_ms: None,
        })
    }

    /// Records an attempt of `job` whose outcome is `state_after(attempts, expiry_ms)`.
    fn record(
        &mut self,
        job: JobId,
        state_after: impl FnOnce(u32, u64) -> MessageState,
    ) -> Result<Option<Event>, DbError> {
        self.db.write(|tx| {
            let Some(job) = tx.job(job)? else {
                return Ok(None);
            };
            let attempts = job.attempts.saturating_add(1);
            let state = state_after(attempts, job.store.expiry_ms);
            match state {
                MessageState::Failed {
                    next_retry_ms: Some(next),
                    ..
                } => tx.reschedule_job(job.id, attempts, Some(next))?,
                // Given up: a message's jobs wait for a manual retry.
                MessageState::Failed { .. } if job.message.is_some() => {
                    tx.reschedule_job(job.id, attempts, None)?;
                }
                _ => tx.delete_job(job.id)?,
            }
            let (Some(message), JobPurpose::Recipient) = (job.message, job.store.purpose) else {
                return Ok(None);
            };
            let pending = tx.message(message)?.is_some_and(|m| m.state.is_pending());
            if !pending {
                return Ok(None);
            }
            tx.set_state(message, state)?;
            Ok(Some(Event::Delivery { message, state }))
        })
    }

    // Receiving.

    /// How far each swarm node has been read (namespace 0). Positions are per node: each
    /// node lists an account's messages in its own arrival order, so a position from one
    /// node could skip messages on another.
    pub fn poll_positions(&self) -> Result<HashMap<Ed25519PublicKey, MessageHash>, DbError> {
        let account = AccountId::from(self.session_id());
        self.db.read().poll_positions(&account, Namespace::DEFAULT)
    }

    /// The signed `retrieve` of this account's namespace 0 after `last_hash` (a node's
    /// position from [`Engine::poll_positions`]; `None` reads from the start).
    #[must_use]
    pub fn retrieve_request(&self, last_hash: Option<MessageHash>, now_ms: u64) -> Retrieve {
        let mut retrieve = Retrieve::new(AccountId::from(self.session_id()), Namespace::DEFAULT);
        retrieve.last_hash = last_hash;
        retrieve.signed(&Signer::session(self.account.ed25519_secret()), now_ms)
    }

    /// Applies what a retrieve of namespace 0 from `node` returned, in one transaction with
    /// that node's new poll position (the last message's hash). Skipped messages become [`Event::Skipped`]; only a
    /// database failure stops the batch (then nothing of it is applied and it is retrieved
    /// again).
    pub fn receive(
        &mut self,
        node: &Ed25519PublicKey,
        messages: &[RetrievedMessage],
        now_ms: u64,
    ) -> Result<Vec<Event>, DbError> {
        let Self { account, db, .. } = self;
        let own = account.session_id();
        let own_account = AccountId::from(own);
        db.write(|tx| {
            let settings = tx.settings()?;
            let mut events = Vec::new();
            for m in messages {
                let hash = MessageHash::compute(&own_account, Namespace::DEFAULT, &m.data);
                if hash != m.hash {
                    tracing::warn!("skipped a message whose hash does not match its data");
                    events.push(Event::Skipped {
                        hash: m.hash,
                        reason: crate::SkipReason::HashMismatch { claimed: m.hash },
                    });
                    continue;
                }
                if !tx.mark_seen(&hash, m.expiration.max(now_ms).min(MAX_TIME))? {
                    continue;
                }
                // Each message applies whole or not at all; its events count only if it did.
                let mut applied_events = Vec::new();
                let applied = tx.atomic(|| {
                    let opened = open(account, &m.data).map_err(Stop::Skip)?;
                    let apply = Apply {
                        tx,
                        account,
                        own,
                        settings: &settings,
                        now_ms,
                        hash,
                        swarm_expiry_ms: m.expiration.min(MAX_TIME),
                    };
                    apply.run(&opened, &mut applied_events)
                });
                match applied {
                    Ok(()) => events.append(&mut applied_events),
                    Err(Stop::Skip(reason)) => {
                        tracing::warn!(%reason, "skipped a received message");
                        events.push(Event::Skipped { hash, reason });
                    }
                    Err(Stop::Db(e)) => return Err(e),
                }
            }
            if let Some(last) = messages.last() {
                tx.set_poll_position(&own_account, Namespace::DEFAULT, node, &last.hash, now_ms)?;
            }
            Ok(events)
        })
    }

    // Deleting here and on one's own swarm.

    /// "Delete for me": deletes `message` here (any message, one's own or not) and queues the
    /// deletion of its copies on this account's swarm. The peer keeps theirs.
    pub fn delete_for_me(&mut self, message: MessageId, now_ms: u64) -> Result<(), ClientError> {
        self.db.write(|tx| {
            live_message(tx, message)?;
            tx.queue_swarm_delete(message, now_ms)?;
            tx.tombstone(message)?;
            Ok::<_, ClientError>(())
        })?;
        Ok(self.db.checkpoint()?)
    }

    /// Clears the conversation with `peer`: deletes each of its messages here (as
    /// [`Engine::delete_for_me`]) and queues the deletion of their copies on this account's
    /// swarm; the conversation and contact stay. Returns how many messages were deleted.
    pub fn clear_conversation(
        &mut self,
        peer: &SessionId,
        now_ms: u64,
    ) -> Result<usize, ClientError> {
        let cleared = self.db.write(|tx| {
            let messages = tx.live_messages_of(peer)?;
            for message in &messages {
                tx.queue_swarm_delete(*message, now_ms)?;
                tx.tombstone(*message)?;
            }
            Ok::<_, ClientError>(messages.len())
        })?;
        if cleared > 0 {
            self.db.checkpoint()?;
        }
        Ok(cleared)
    }

    /// The hashes of `message`'s copies on this account's swarm that this device knows (the
    /// sync copy of a sent message, the stored copy of a received one). Empty once the
    /// message is deleted (its copies are then queued for deletion).
    pub fn swarm_copies(&self, message: MessageId) -> Result<Vec<MessageHash>, DbError> {
        self.db.read().swarm_copies(message)
    }

    /// The queued deletes and expiry updates still worth sending at `now_ms`, one
    /// [`SwarmUpdate`] per request: one per distinct expiry (and one for the deletes), each
    /// of at most [`crate::deletion::MAX_HASHES_PER_REQUEST`] hashes.
    pub fn swarm_updates(&self, now_ms: u64) -> Result<Vec<SwarmUpdate>, DbError> {
        Ok(batch(self.db.read().swarm_updates(now_ms)?))
    }

    /// Records an attempt of `update`: `done` takes it out of the queue; otherwise it is
    /// tried again with the next poll, up to [`MAX_UPDATE_ATTEMPTS`] times.
    pub fn record_swarm_update(&mut self, update: &SwarmUpdate, done: bool) -> Result<(), DbError> {
        self.db.write(|tx| {
            for hash in &update.hashes {
                tx.finish_swarm_update(hash, update.expiry_ms, done, MAX_UPDATE_ATTEMPTS)?;
            }
            Ok(())
        })
    }

    /// A signed `delete` of `hashes` from this account's swarm.
    #[must_use]
    pub fn delete_request(&self, hashes: Vec<MessageHash>) -> Delete {
        let account = AccountId::from(self.session_id());
        Delete::new(
            account,
            hashes,
            &Signer::session(self.account.ed25519_secret()),
        )
    }

    /// A signed `expire` that shortens (never extends) the expiry of `hashes` on this
    /// account's swarm to `expiry_ms`.
    #[must_use]
    pub fn expire_request(&self, hashes: Vec<MessageHash>, expiry_ms: u64) -> Expire {
        let account = AccountId::from(self.session_id());
        Expire::new(
            account,
            hashes,
            vec![expiry_ms],
            ExpireMode::Shorten,
            &Signer::session(self.account.ed25519_secret()),
        )
    }

    /// A signed `get_expiries` of `hashes` on this account's swarm, at `now_ms`.
    #[must_use]
    pub fn get_expiries_request(&self, hashes: Vec<MessageHash>, now_ms: u64) -> GetExpiries {
        let account = AccountId::from(self.session_id());
        GetExpiries::new(
            account,
            hashes,
            now_ms,
            &Signer::session(self.account.ed25519_secret()),
        )
    }

    /// Deletes the disappearing messages whose time ran out and forgets seen hashes the
    /// swarm no longer holds. When messages disappeared, the WAL is checkpointed and
    /// truncated, so that nothing of them stays on disk (with `secure_delete`, their cells
    /// were overwritten).
    pub fn expire(&mut self, now_ms: u64) -> Result<Vec<Event>, DbError> {
        let events = self.db.write(|tx| -> Result<Vec<Event>, DbError> {
            let mut events = Vec::new();
            for message in tx.expired(now_ms)? {
                // A copy the swarm would keep longer (an expiry update that never got
                // through) is deleted there.
                tx.queue_swarm_delete(message, now_ms.saturating_add(SWARM_EXPIRY_SLACK_MS))?;
                tx.tombstone(message)?;
                events.push(Event::Expired { message });
            }
            tx.prune_seen(now_ms)?;
            tx.prune_swarm(now_ms)?;
            tx.prune_poll_positions(now_ms.saturating_sub(POLL_POSITION_LIFETIME_MS))?;
            Ok(events)
        })?;
        if !events.is_empty() {
            self.db.checkpoint()?;
        }
        Ok(events)
    }
}

/// A message that exists and is not deleted.
fn live_message(tx: &Tx<'_>, id: MessageId) -> Result<MessageRecord, ClientError> {
    let record = tx.message(id)?.ok_or(ClientError::UnknownMessage(id))?;
    if record.state == MessageState::Deleted {
        return Err(ClientError::MessageDeleted(id));
    }
    Ok(record)
}

/// Checks that `peer` has a pending request: a conversation with a peer not approved.
fn pending_request(tx: &Tx<'_>, peer: &SessionId) -> Result<(), ClientError> {
    match tx.conversation(peer)? {
        Some(c) if c.is_request() => Ok(()),
        _ => Err(ClientError::NoRequest(peer.short())),
    }
}
