//! The sending pipeline, pure: what the user does → a [`Content`] → padded, encrypted and framed
//! bytes for the recipient's swarm (and the sync copy for one's own) → `store` requests; then,
//! from the nodes' answers, the message's state.
//!
//! TTLs: 60 s for typing indicators (as Session desktop), 14 days (the public-inbox maximum,
//! libsession's 1:1 TTL) for everything else, except that a text in a conversation whose
//! messages disappear after sending lives on the swarm only as long as its timer (at least the
//! 10 s the nodes accept).

use std::collections::BTreeSet;

use sotto_crypto::{CryptoRngCore, Ed25519PublicKey};
use sotto_envelope::{
    Content, DataFields, DisappearingSetting, EncryptError, Envelope, Message,
    MessageRequestResponse, Profile, Quote, Reaction, ReactionAction, ReactionMessage, Receipt,
    ReceiptKind, Typing, TypingAction, UnknownFields, UnsendRequest, VisibleMessage,
    WebSocketMessage, WireStyle, encrypt_for_recipient,
};
use sotto_identity::{Account, PrefixedId, SessionId};
use sotto_rpc::request::{Lifetime, Store};
use sotto_rpc::response::{NodeOutcome, NodeResult, SwarmNode, SwarmResponse};
use sotto_rpc::{AccountId, MessageHash, Namespace, Signer, TTL_MAX_PUBLIC_MS, TTL_MIN_MS};

use crate::model::{Disappearing, MessageKey, MessageState, QuoteRef};

/// How long ordinary messages live on the swarm: 14 days.
pub const CONTENT_TTL_MS: u64 = TTL_MAX_PUBLIC_MS;
/// How long typing indicators live on the swarm: 60 s.
pub const TYPING_TTL_MS: u64 = 60_000;

/// The most bytes one message may take on the swarm (its store's `data`): what the nodes
/// accept ([`sotto_rpc::request::MAX_DATA_LEN`]).
pub const MAX_MESSAGE_LEN: usize = sotto_rpc::request::MAX_DATA_LEN;

/// The longest text (UTF-8 bytes) that fits in [`MAX_MESSAGE_LEN`] once padded, encrypted and
/// framed, with no quote and no display name; a quote or a display name leave less room.
pub const MAX_TEXT_LEN: usize = 76_391;

/// Refuses a text that cannot fit in one message ([`ClientError::TooLarge`]), before any
/// account, database or network is needed: it is prepared as a text with no quote and no
/// display name between two throwaway accounts (both copies). Sending checks the real message again.
///
/// [`ClientError::TooLarge`]: crate::ClientError::TooLarge
pub fn check_text(body: &str) -> Result<(), crate::ClientError> {
    let sender = Account::from_ed25519_seed(&[1; 32]);
    let recipient = Account::from_ed25519_seed(&[2; 32]).session_id();
    let text = Outgoing::Text {
        body: body.to_owned(),
        quote: None,
    };
    // To someone else, so that the sync copy (the larger one, with `syncTarget`) is made too.
    // The largest timestamp the client stores (2⁶³ − 1 ms) has the longest encoding.
    let prepared = prepare(
        &sender,
        &recipient,
        &text,
        &Context::default(),
        i64::MAX.unsigned_abs(),
        &mut sotto_crypto::OsRng,
    )?;
    match prepared.jobs.iter().map(|j| j.data.len()).max() {
        Some(size) if size > MAX_MESSAGE_LEN => Err(crate::ClientError::TooLarge {
            size,
            limit: MAX_MESSAGE_LEN,
        }),
        _ => Ok(()),
    }
}

/// Something to send to a peer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outgoing {
    /// A text, optionally replying to (quoting) a message.
    Text {
        /// The text.
        body: String,
        /// The message replied to.
        quote: Option<QuoteRef>,
    },
    /// Add or remove an emoji reaction.
    Reaction {
        /// The message reacted to.
        target: MessageKey,
        /// The emoji.
        emoji: String,
        /// Remove it instead of adding it.
        remove: bool,
    },
    /// Delete one of one's own messages for everyone.
    Unsend {
        /// The message (its author must be the sender).
        target: MessageKey,
    },
    /// The peer's messages with these sent timestamps were read.
    ReadReceipt {
        /// Sent timestamps, ms.
        timestamps: Vec<u64>,
    },
    /// Typing started or stopped.
    Typing {
        /// Started (or stopped).
        started: bool,
    },
    /// Accept the peer's message request.
    RequestResponse,
    /// Change the conversation's disappearing-messages setting.
    Disappearing(Disappearing),
    /// Attachments (already uploaded), with an optional text (the caption) and quote.
    Media {
        /// The text shown with the attachments.
        body: Option<String>,
        /// The attachments' pointers (at most [`crate::attachments::MAX_ATTACHMENTS`]).
        attachments: Vec<sotto_envelope::AttachmentPointer>,
        /// The message replied to.
        quote: Option<QuoteRef>,
    },
}

/// Which copy a store job carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobPurpose {
    /// The copy for the recipient (its storage decides the message's state).
    Recipient,
    /// The copy for this account's own swarm, for its other devices.
    SyncCopy,
}

impl JobPurpose {
    pub(crate) fn to_column(self) -> i64 {
        match self {
            Self::Recipient => 0,
            Self::SyncCopy => 1,
        }
    }

    pub(crate) fn from_column(value: i64) -> Option<Self> {
        match value {
            0 => Some(Self::Recipient),
            1 => Some(Self::SyncCopy),
            _ => None,
        }
    }
}

/// One message to store in one swarm's namespace 0. The encrypted data is fixed when the
/// message is prepared; each attempt builds a fresh [`Store`] request from it (same hash, fresh
/// signature).
#[derive(Clone, PartialEq, Eq)]
pub struct StoreJob {
    /// Which copy.
    pub purpose: JobPurpose,
    /// The swarm account it goes to.
    pub account: AccountId,
    /// The message bytes (a WebSocketMessage around the Envelope).
    pub data: Vec<u8>,
    /// The message timestamp (the sent time), ms.
    pub timestamp_ms: u64,
    /// When the swarm drops it, ms.
    pub expiry_ms: u64,
}

impl core::fmt::Debug for StoreJob {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("StoreJob")
            .field("purpose", &self.purpose)
            .field("account", &self.account.short())
            .field("data_len", &self.data.len())
            .field("timestamp_ms", &self.timestamp_ms)
            .field("expiry_ms", &self.expiry_ms)
            .finish()
    }
}

impl StoreJob {
    /// The hash the message gets on the swarm.
    #[must_use]
    pub fn hash(&self) -> MessageHash {
        MessageHash::compute(&self.account, Namespace::DEFAULT, &self.data)
    }

    /// The `store` request for an attempt at `now_ms`. A store to one's own swarm is signed
    /// (with `pubkey_ed25519`); a store to someone else's namespace 0, a public inbox, cannot
    /// be: only the account's owner can sign for it, and the nodes need no signature there.
    #[must_use]
    pub fn request(&self, sender: &Account, now_ms: u64) -> Store {
        let store = Store::new(
            self.account,
            Namespace::DEFAULT,
            self.data.clone(),
            self.timestamp_ms,
            Lifetime::Expiry(self.expiry_ms),
        );
        if self.account == AccountId::from(sender.session_id()) {
            store.signed(&Signer::session(sender.ed25519_secret()), now_ms)
        } else {
            store
        }
    }
}

/// A prepared message: its Content and the stores that deliver it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prepared {
    /// What was encrypted (for the recipient; the sync copy adds `syncTarget`).
    pub content: Content,
    /// The recipient's copy, then (for the kinds that have one) the sync copy.
    pub jobs: Vec<StoreJob>,
}

/// What goes into every outgoing message besides the message itself.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Context {
    /// This account's display name and when it last changed (seconds), sent with data messages
    /// and message-request responses.
    pub profile: Option<(String, Option<u64>)>,
    /// The conversation's disappearing setting, carried by texts.
    pub disappearing: Disappearing,
    /// This account's profile picture: its URL (in the profile) and its key (the data
    /// message's `profileKey`), carried with the profile.
    pub picture: Option<(String, Vec<u8>)>,
}

impl Context {
    fn profile(&self) -> Option<Profile> {
        self.profile.as_ref().map(|(name, updated)| Profile {
            display_name: Some(name.clone()),
            picture_url: self.picture.as_ref().map(|(url, _)| url.clone()),
            last_update_seconds: *updated,
            unknown: UnknownFields::default(),
        })
    }

    fn profile_key(&self) -> Option<sotto_envelope::KeyBytes> {
        self.profile.as_ref()?;
        self.picture
            .as_ref()
            .map(|(_, key)| sotto_envelope::KeyBytes::new(key.clone()))
    }

    fn data_fields(&self) -> DataFields {
        DataFields {
            profile: self.profile(),
            profile_key: self.profile_key(),
            ..DataFields::default()
        }
    }
}

/// A quote as it travels: the quoted message's time, author and text.
fn wire_quote(q: &QuoteRef) -> Quote {
    Quote {
        id: q.key.sent_ms,
        author: PrefixedId::from(q.key.author),
        text: q.text.clone(),
        // Android's description of the quoted attachments (no thumbnail: optional, and the
        // receiver has the quoted message's own pointer).
        attachments: q
            .attachments
            .iter()
            .map(|a| sotto_envelope::QuotedAttachment {
                content_type: a.content_type.clone(),
                file_name: a.file_name.clone(),
                flags: a.voice.then_some(1),
                ..sotto_envelope::QuotedAttachment::default()
            })
            .collect(),
        unknown: UnknownFields::default(),
    }
}

/// How the sync copy of a kind of message is made.
enum SyncCopy {
    /// None (typing, receipts, request responses concern only the peer).
    None,
    /// The same Content with `syncTarget` set (the kinds a DataMessage carries).
    WithTarget,
    /// The same Content encrypted to oneself (unsend: other devices delete the message too).
    Plain,
}

impl Outgoing {
    /// The Content for this message, sent at `sent_ms`.
    #[must_use]
    pub fn content(&self, ctx: &Context, sent_ms: u64) -> Content {
        let message = match self {
            Self::Text { body, quote } => Message::Visible(VisibleMessage {
                body: Some(body.clone()),
                quote: quote.as_ref().map(wire_quote),
                data: ctx.data_fields(),
                ..VisibleMessage::default()
            }),
            Self::Media {
                body,
                attachments,
                quote,
            } => Message::Visible(VisibleMessage {
                body: body.clone(),
                attachments: attachments.clone(),
                quote: quote.as_ref().map(wire_quote),
                data: ctx.data_fields(),
                ..VisibleMessage::default()
            }),
            Self::Reaction {
                target,
                emoji,
                remove,
            } => Message::Reaction(ReactionMessage {
                reaction: Reaction {
                    id: target.sent_ms,
                    author: PrefixedId::from(target.author),
                    emoji: Some(emoji.clone()),
                    action: if *remove {
                        ReactionAction::Remove
                    } else {
                        ReactionAction::React
                    },
                    unknown: UnknownFields::default(),
                },
                data: ctx.data_fields(),
            }),
            Self::Unsend { target } => Message::Unsend(UnsendRequest {
                timestamp: target.sent_ms,
                author: PrefixedId::from(target.author),
                unknown: UnknownFields::default(),
            }),
            Self::ReadReceipt { timestamps } => Message::Receipt(Receipt {
                kind: ReceiptKind::Read,
                timestamps: timestamps.clone(),
                unknown: UnknownFields::default(),
            }),
            Self::Typing { started } => Message::Typing(Typing {
                timestamp: sent_ms,
                action: if *started {
                    TypingAction::Started
                } else {
                    TypingAction::Stopped
                },
                unknown: UnknownFields::default(),
            }),
            Self::RequestResponse => Message::MessageRequestResponse(MessageRequestResponse {
                is_approved: true,
                profile_key: ctx.profile_key(),
                profile: ctx.profile(),
                unknown: UnknownFields::default(),
            }),
            Self::Disappearing(_) => {
                let mut setting = DisappearingSetting::default();
                setting.data.profile = ctx.profile();
                Message::DisappearingSetting(setting)
            }
        };
        let mut content = Content::new(message);
        match self {
            Self::Text { .. } | Self::Media { .. } => ctx.disappearing.write_to(&mut content),
            Self::Disappearing(setting) => setting.write_to(&mut content),
            _ => {}
        }
        content
    }

    /// How long the message lives on the swarm, ms.
    #[must_use]
    pub fn ttl_ms(&self, ctx: &Context) -> u64 {
        match (self, ctx.disappearing) {
            (Self::Typing { .. }, _) => TYPING_TTL_MS,
            (Self::Text { .. } | Self::Media { .. }, Disappearing::AfterSend(secs)) => {
                (u64::from(secs) * 1000).clamp(TTL_MIN_MS, CONTENT_TTL_MS)
            }
            _ => CONTENT_TTL_MS,
        }
    }

    /// How long the sync copy lives on one's own swarm, ms: as [`Outgoing::ttl_ms`], except
    /// that an after-read text's timer starts when it is sent (one has read one's own
    /// message), so its sync copy expires with that timer.
    #[must_use]
    pub fn sync_ttl_ms(&self, ctx: &Context) -> u64 {
        match (self, ctx.disappearing) {
            (Self::Text { .. } | Self::Media { .. }, Disappearing::AfterRead(secs)) => {
                (u64::from(secs) * 1000).clamp(TTL_MIN_MS, CONTENT_TTL_MS)
            }
            _ => self.ttl_ms(ctx),
        }
    }

    fn sync_copy(&self) -> SyncCopy {
        match self {
            Self::Text { .. }
            | Self::Media { .. }
            | Self::Reaction { .. }
            | Self::Disappearing(_) => SyncCopy::WithTarget,
            Self::Unsend { .. } => SyncCopy::Plain,
            Self::ReadReceipt { .. } | Self::Typing { .. } | Self::RequestResponse => {
                SyncCopy::None
            }
        }
    }
}

/// Content → signed timestamp → padded → encrypted to `to` → Envelope → WebSocketMessage bytes
/// (the `data` of a store; its base64 is what `sotto_envelope::decrypt_from_swarm` reads).
fn seal(
    sender: &Account,
    to: &SessionId,
    content: &Content,
    sent_ms: u64,
    rng: &mut impl CryptoRngCore,
) -> Result<Vec<u8>, EncryptError> {
    let style = WireStyle::Libsession;
    let signed = Content {
        sig_timestamp: Some(sent_ms),
        ..content.clone()
    };
    let ciphertext = encrypt_for_recipient(
        sender.ed25519_secret(),
        to.x25519(),
        &signed.to_padded_bytes(),
        rng,
    )?;
    let envelope = Envelope::one_to_one(sent_ms, ciphertext, style);
    Ok(WebSocketMessage::carrying(envelope.to_bytes(), style).to_bytes())
}

/// Seals `content` 1:1 from `sender` to `to` as [`prepare`] does (for the group module's
/// invitations and promotions).
pub(crate) fn seal_content(
    sender: &Account,
    to: &SessionId,
    content: &Content,
    sent_ms: u64,
    rng: &mut impl CryptoRngCore,
) -> Result<Vec<u8>, EncryptError> {
    seal(sender, to, content, sent_ms, rng)
}

/// Prepares `outgoing` from `sender` to `to`, sent at `sent_ms`: the recipient's copy and, for
/// texts, reactions, setting changes and unsend requests, the copy for the sender's own swarm
/// (none when writing to oneself).
pub fn prepare(
    sender: &Account,
    to: &SessionId,
    outgoing: &Outgoing,
    ctx: &Context,
    sent_ms: u64,
    rng: &mut impl CryptoRngCore,
) -> Result<Prepared, EncryptError> {
    let content = outgoing.content(ctx, sent_ms);
    let expiry_ms = sent_ms.saturating_add(outgoing.ttl_ms(ctx));
    let own = sender.session_id();
    let job = |purpose, account: SessionId, data| StoreJob {
        purpose,
        account: AccountId::from(account),
        data,
        timestamp_ms: sent_ms,
        expiry_ms,
    };
    let mut jobs = vec![job(
        JobPurpose::Recipient,
        *to,
        seal(sender, to, &content, sent_ms, rng)?,
    )];
    if *to != own {
        let copy = match outgoing.sync_copy() {
            SyncCopy::None => None,
            SyncCopy::Plain => Some(content.clone()),
            SyncCopy::WithTarget => {
                let mut copy = content.clone();
                copy.data_fields_mut()
                    .ok_or(EncryptError::NotSyncable)?
                    .sync_target = Some(PrefixedId::from(*to));
                Some(copy)
            }
        };
        if let Some(copy) = copy {
            jobs.push(StoreJob {
                expiry_ms: sent_ms.saturating_add(outgoing.sync_ttl_ms(ctx)),
                ..job(
                    JobPurpose::SyncCopy,
                    own,
                    seal(sender, &own, &copy, sent_ms, rng)?,
                )
            });
        }
    }
    Ok(Prepared { content, jobs })
}

/// The fewest distinct members of the recipient's swarm that must confirm a store before the
/// message counts as stored. One confirmation could be the entry node's alone, or made up by
/// it; two are what a single misbehaving node cannot give.
pub const MIN_CONFIRMATIONS: u32 = 2;

/// How a swarm answered one `store`: `stored` of the `nodes` the answer lists are members of
/// the swarm that returned a result for this message's hash with a valid signature.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tally {
    /// Members that confirmed (k).
    pub stored: u32,
    /// Nodes listed in the answer (n; the entry node's word, unlike k).
    pub nodes: u32,
}

impl Tally {
    /// Whether at least [`MIN_CONFIRMATIONS`] members confirmed.
    #[must_use]
    pub fn is_stored(&self) -> bool {
        self.stored >= MIN_CONFIRMATIONS
    }
}

/// Counts the members of `swarm` that stored `request`'s message: a member whose result in
/// `response` has the message's hash and a signature that verifies under the member's key.
///
/// `swarm` is the account's swarm as the signed node list gives it
/// ([`crate::Network::get_swarm`]), never a list the answering node supplied: the entry node
/// assembles the answer, and could list results under keys it made up. Results under keys
/// outside `swarm` count nowhere in `stored`; each member counts at most once. `nodes` is the
/// number of nodes the answer lists (with failures, other results and bad signatures).
#[must_use]
pub fn tally(request: &Store, response: &SwarmResponse, swarm: &[SwarmNode]) -> Tally {
    let members: BTreeSet<&Ed25519PublicKey> = swarm.iter().map(|n| &n.pubkey_ed25519).collect();
    let stored = members
        .iter()
        .filter(|key| match response.swarm.get(**key) {
            Some(NodeOutcome::Ok(NodeResult::Store(result))) => result.verify(key, request).is_ok(),
            _ => false,
        })
        .count();
    Tally {
        stored: u32::try_from(stored).unwrap_or(u32::MAX),
        nodes: u32::try_from(response.swarm.len()).unwrap_or(u32::MAX),
    }
}

/// When failed stores are tried again: after `first_delay_ms`, doubling up to `max_delay_ms`,
/// at most `max_attempts` times, and never after the message's expiry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// The wait after the first failure, ms (default 2 s).
    pub first_delay_ms: u64,
    /// The longest wait, ms (default 5 min).
    pub max_delay_ms: u64,
    /// Attempts before giving up (default 10).
    pub max_attempts: u32,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            first_delay_ms: 2_000,
            max_delay_ms: 300_000,
            max_attempts: 10,
        }
    }
}

impl RetryPolicy {
    /// When to try again after `attempts` failed attempts, or `None` to give up.
    #[must_use]
    pub fn next_retry(&self, attempts: u32, now_ms: u64, expiry_ms: u64) -> Option<u64> {
        if attempts >= self.max_attempts {
            return None;
        }
        let factor = 1u64 << attempts.saturating_sub(1).min(32);
        let delay = self
            .first_delay_ms
            .saturating_mul(factor)
            .min(self.max_delay_ms);
        let at = now_ms.saturating_add(delay);
        (at < expiry_ms).then_some(at)
    }

    /// The state of a message after attempt number `attempts` (1 for the first) answered
    /// with `tally` (`None`: no answer at all).
    #[must_use]
    pub fn state_after(
        &self,
        attempts: u32,
        tally: Option<Tally>,
        now_ms: u64,
        expiry_ms: u64,
    ) -> MessageState {
        match tally {
            Some(t) if t.is_stored() => MessageState::Stored {
                k: t.stored,
                n: t.nodes,
            },
            _ => MessageState::Failed {
                attempts,
                next_retry_ms: self.next_retry(attempts, now_ms, expiry_ms),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use base64::Engine as _;
    use proptest::prelude::*;
    use rand_chacha::ChaCha20Rng;
    use rand_chacha::rand_core::SeedableRng;
    use sotto_crypto::Ed25519SecretKey;
    use sotto_envelope::decrypt_from_swarm;
    use sotto_rpc::response::{Failure, Meta, StoreResult};

    use super::*;

    fn accounts() -> (Account, Account) {
        (
            Account::from_ed25519_seed(&[1; 32]),
            Account::from_ed25519_seed(&[2; 32]),
        )
    }

    fn rng() -> ChaCha20Rng {
        ChaCha20Rng::seed_from_u64(7)
    }

    fn open(to: &Account, data: &[u8]) -> sotto_envelope::Received {
        let b64 = base64::engine::general_purpose::STANDARD.encode(data);
        decrypt_from_swarm(to, b64).unwrap()
    }

    const T: u64 = 1_754_971_101_000;

    #[test]
    fn text_goes_to_the_recipient_and_a_sync_copy_to_oneself() {
        let (alice, bob) = accounts();
        let ctx = Context {
            profile: Some(("Alice".into(), Some(1_700_000_000))),
            disappearing: Disappearing::Off,
            picture: None,
        };
        let text = Outgoing::Text {
            body: "hi".into(),
            quote: None,
        };
        let p = prepare(&alice, &bob.session_id(), &text, &ctx, T, &mut rng()).unwrap();
        assert_eq!(p.jobs.len(), 2);
        let [to_bob, sync] = [&p.jobs[0], &p.jobs[1]];
        assert_eq!(to_bob.purpose, JobPurpose::Recipient);
        assert_eq!(to_bob.account, AccountId::from(bob.session_id()));
        assert_eq!(to_bob.expiry_ms, T + CONTENT_TTL_MS);
        let got = open(&bob, &to_bob.data);
        assert_eq!(got.sender, alice.session_id());
        assert_eq!(got.envelope.timestamp, T);
        assert_eq!(got.content.sig_timestamp, Some(T));
        let Message::Visible(v) = &got.content.message else {
            panic!()
        };
        assert_eq!(v.body.as_deref(), Some("hi"));
        let name = v.data.profile.as_ref().unwrap().display_name.as_deref();
        assert_eq!(name, Some("Alice"));
        assert_eq!(v.data.sync_target, None);

        assert_eq!(sync.purpose, JobPurpose::SyncCopy);
        assert_eq!(sync.account, AccountId::from(alice.session_id()));
        let copy = open(&alice, &sync.data);
        assert!(copy.is_sync_copy(&alice.session_id()));
        assert_eq!(
            copy.content.sync_target(),
            Some(&PrefixedId::from(bob.session_id()))
        );
        // Bob cannot read Alice's copy.
        let b64 = base64::engine::general_purpose::STANDARD.encode(&sync.data);
        assert!(decrypt_from_swarm(&bob, b64).is_err());
    }

    #[test]
    fn only_stores_to_ones_own_swarm_are_signed() {
        let (alice, bob) = accounts();
        let text = Outgoing::Text {
            body: "x".into(),
            quote: None,
        };
        let p = prepare(
            &alice,
            &bob.session_id(),
            &text,
            &Context::default(),
            T,
            &mut rng(),
        )
        .unwrap();
        let to_bob = p.jobs[0].request(&alice, T + 5);
        assert!(to_bob.auth.is_none());
        assert_eq!(to_bob.message_hash(), p.jobs[0].hash());
        let own = p.jobs[1].request(&alice, T + 5);
        let auth = own.auth.unwrap();
        assert_eq!(auth.pubkey_ed25519, Some(alice.ed25519_public()));
        assert_eq!(own.sig_timestamp, Some(T + 5));
        let ctx = sotto_rpc::NodeContext {
            now_ms: T + 5,
            revoked: &[],
            forwarded: false,
        };
        sotto_rpc::Request::from(own).check(&ctx).unwrap();
        sotto_rpc::Request::from(to_bob).check(&ctx).unwrap();
    }

    #[test]
    fn kinds_and_their_copies() {
        let (alice, bob) = accounts();
        let target = MessageKey {
            author: bob.session_id(),
            sent_ms: T - 10,
        };
        let cases = [
            (
                Outgoing::Reaction {
                    target,
                    emoji: "👍".into(),
                    remove: false,
                },
                2,
            ),
            (
                Outgoing::Unsend {
                    target: MessageKey {
                        author: alice.session_id(),
                        sent_ms: T - 5,
                    },
                },
                2,
            ),
            (
                Outgoing::ReadReceipt {
                    timestamps: vec![T - 10],
                },
                1,
            ),
            (Outgoing::Typing { started: true }, 1),
            (Outgoing::RequestResponse, 1),
            (Outgoing::Disappearing(Disappearing::AfterRead(60)), 2),
        ];
        for (outgoing, copies) in cases {
            let p = prepare(
                &alice,
                &bob.session_id(),
                &outgoing,
                &Context::default(),
                T,
                &mut rng(),
            )
            .unwrap();
            assert_eq!(p.jobs.len(), copies, "{outgoing:?}");
            let got = open(&bob, &p.jobs[0].data).content;
            assert_eq!(
                Content {
                    sig_timestamp: None,
                    ..got
                },
                p.content
            );
            for job in &p.jobs[1..] {
                assert_eq!(open(&alice, &job.data).sender, alice.session_id());
            }
        }
        // Typing lives a minute; a note to oneself has no second copy.
        let typing = Outgoing::Typing { started: false };
        let p = prepare(
            &alice,
            &alice.session_id(),
            &typing,
            &Context::default(),
            T,
            &mut rng(),
        )
        .unwrap();
        assert_eq!(p.jobs[0].expiry_ms, T + TYPING_TTL_MS);
        let note = Outgoing::Text {
            body: "note".into(),
            quote: None,
        };
        let p = prepare(
            &alice,
            &alice.session_id(),
            &note,
            &Context::default(),
            T,
            &mut rng(),
        )
        .unwrap();
        assert_eq!(p.jobs.len(), 1);
    }

    #[test]
    fn disappearing_texts_carry_the_setting_and_expire_with_it() {
        let (alice, bob) = accounts();
        let text = Outgoing::Text {
            body: "soon gone".into(),
            quote: None,
        };
        for (setting, ttl) in [
            (Disappearing::AfterSend(3600), 3_600_000),
            (Disappearing::AfterSend(1), TTL_MIN_MS),
            (Disappearing::AfterSend(u32::MAX), CONTENT_TTL_MS),
            (Disappearing::AfterRead(3600), CONTENT_TTL_MS),
        ] {
            let ctx = Context {
                profile: None,
                disappearing: setting,
                picture: None,
            };
            let p = prepare(&alice, &bob.session_id(), &text, &ctx, T, &mut rng()).unwrap();
            assert_eq!(p.jobs[0].expiry_ms - T, ttl, "{setting:?}");
            let got = open(&bob, &p.jobs[0].data).content;
            assert_eq!(Disappearing::of_content(&got), setting);
        }
    }

    fn swarm(keys: &[Ed25519SecretKey], outcomes: &[u8], request: &Store) -> SwarmResponse {
        let mut swarm = BTreeMap::new();
        for (key, outcome) in keys.iter().zip(outcomes) {
            let hash = request.message_hash();
            let entry = match outcome {
                0 => NodeOutcome::Failed(Failure {
                    timeout: true,
                    ..Failure::default()
                }),
                1 => NodeOutcome::Ok(NodeResult::Store(StoreResult::sign(
                    key,
                    hash,
                    request.expiry(),
                    false,
                ))),
                // Signed by another key.
                2 => NodeOutcome::Ok(NodeResult::Store(StoreResult::sign(
                    &Ed25519SecretKey::from_seed(&[99; 32]),
                    hash,
                    request.expiry(),
                    false,
                ))),
                // Another message's hash.
                _ => NodeOutcome::Ok(NodeResult::Store(StoreResult::sign(
                    key,
                    MessageHash::compute(&request.account, Namespace::DEFAULT, b"other"),
                    request.expiry(),
                    false,
                ))),
            };
            swarm.insert(key.public_key(), entry);
        }
        SwarmResponse {
            method: sotto_rpc::Method::Store,
            swarm,
            hash: None,
            meta: Meta::default(),
        }
    }

    fn member_nodes(keys: &[Ed25519SecretKey]) -> Vec<SwarmNode> {
        keys.iter()
            .map(|k| SwarmNode {
                pubkey_ed25519: k.public_key(),
                pubkey_x25519: [0; 32],
                ip: std::net::Ipv4Addr::LOCALHOST,
                port_https: 22021,
                port_omq: 0,
            })
            .collect()
    }

    fn bob_request() -> (StoreJob, Store) {
        let (alice, bob) = accounts();
        let job = StoreJob {
            purpose: JobPurpose::Recipient,
            account: AccountId::from(bob.session_id()),
            data: b"data".to_vec(),
            timestamp_ms: T,
            expiry_ms: T + CONTENT_TTL_MS,
        };
        let request = job.request(&alice, T);
        (job, request)
    }

    fn keys(seeds: core::ops::Range<u8>) -> Vec<Ed25519SecretKey> {
        seeds
            .map(|i| Ed25519SecretKey::from_seed(&[i; 32]))
            .collect()
    }

    /// S-10: an entry node answers "stored on 7 of 7" with results signed by keys it made
    /// up. None of them is a member of the swarm, so none counts, and the message is not
    /// stored.
    #[test]
    fn forged_receipts_from_non_members_count_for_nothing() {
        let (job, request) = bob_request();
        let members = member_nodes(&keys(10..17));
        let forged = swarm(&keys(200..207), &[1; 7], &request);
        let t = tally(&request, &forged, &members);
        assert_eq!(
            t,
            Tally {
                stored: 0,
                nodes: 7
            }
        );
        let state = RetryPolicy::default().state_after(1, Some(t), T, job.expiry_ms);
        assert!(matches!(state, MessageState::Failed { .. }), "{state:?}");

        // Two real members among forged entries: only the two count.
        let mut mixed = forged.swarm.clone();
        mixed.extend(swarm(&keys(10..12), &[1, 1], &request).swarm);
        let mixed = SwarmResponse {
            swarm: mixed,
            ..forged
        };
        let t = tally(&request, &mixed, &members);
        assert_eq!(
            t,
            Tally {
                stored: 2,
                nodes: 9
            }
        );
        assert!(t.is_stored());
    }

    /// A member listed twice in the swarm counts once, and one confirmation is not "stored".
    #[test]
    fn one_member_counts_once_and_is_not_enough() {
        let (job, request) = bob_request();
        let member = keys(10..11);
        let mut listed = member_nodes(&member);
        listed.extend(member_nodes(&member));
        let response = swarm(&member, &[1], &request);
        let t = tally(&request, &response, &listed);
        assert_eq!(
            t,
            Tally {
                stored: 1,
                nodes: 1
            }
        );
        assert!(!t.is_stored());
        let state = RetryPolicy::default().state_after(1, Some(t), T, job.expiry_ms);
        assert!(matches!(state, MessageState::Failed { .. }), "{state:?}");
        // One of seven confirmed: not stored either.
        let members = member_nodes(&keys(10..17));
        let t = tally(&request, &response, &members);
        assert_eq!(
            t,
            Tally {
                stored: 1,
                nodes: 1
            }
        );
        assert!(!t.is_stored());
    }

    /// [`MAX_TEXT_LEN`] is the longest text that fits: one byte more does not.
    #[test]
    fn the_longest_text_fits_and_one_byte_more_does_not() {
        let fits = |n: usize| check_text(&"x".repeat(n)).is_ok();
        let (mut lo, mut hi) = (0, MAX_MESSAGE_LEN);
        while lo + 1 < hi {
            let mid = (lo + hi) / 2;
            if fits(mid) { lo = mid } else { hi = mid }
        }
        assert_eq!(lo, MAX_TEXT_LEN, "the longest text that fits");
        assert!(fits(MAX_TEXT_LEN));
        let err = check_text(&"x".repeat(MAX_TEXT_LEN + 1)).unwrap_err();
        assert!(
            matches!(err, crate::ClientError::TooLarge { limit: MAX_MESSAGE_LEN, size } if size > MAX_MESSAGE_LEN),
            "{err}"
        );
        // What a new user would try: 100,000 characters.
        let err = check_text(&"a".repeat(100_000)).unwrap_err().to_string();
        assert!(err.contains("76800 bytes") && err.contains("file"), "{err}");
    }

    proptest! {
        /// k counts exactly the members that signed this message's hash; the state is Stored
        /// iff k ≥ 2.
        #[test]
        fn k_of_n(outcomes in proptest::collection::vec(0u8..4, 0..8), attempts in 1u32..12) {
            let (alice, bob) = accounts();
            let keys: Vec<_> = (0..outcomes.len())
                .map(|i| Ed25519SecretKey::from_seed(&[u8::try_from(i).unwrap() + 10; 32]))
                .collect();
            let job = StoreJob {
                purpose: JobPurpose::Recipient,
                account: AccountId::from(bob.session_id()),
                data: b"data".to_vec(),
                timestamp_ms: T,
                expiry_ms: T + CONTENT_TTL_MS,
            };
            let request = job.request(&alice, T);
            let t = tally(&request, &swarm(&keys, &outcomes, &request), &member_nodes(&keys));
            let good = outcomes.iter().filter(|o| **o == 1).count();
            prop_assert_eq!(t.stored as usize, good);
            prop_assert_eq!(t.nodes as usize, outcomes.len());
            let policy = RetryPolicy::default();
            let state = policy.state_after(attempts, Some(t), T, job.expiry_ms);
            if good >= 2 {
                prop_assert_eq!(state, MessageState::Stored { k: t.stored, n: t.nodes });
            } else {
                let MessageState::Failed { attempts: a, next_retry_ms } = state else {
                    return Err(TestCaseError::fail("not failed"));
                };
                prop_assert_eq!(a, attempts);
                prop_assert_eq!(next_retry_ms.is_some(), attempts < policy.max_attempts);
            }
        }

        /// Retry delays never shrink, stay within the bounds and never pass the expiry.
        #[test]
        fn retry_backoff(attempts in 1u32..40, now in 0u64..1 << 50, ttl in 0u64..1 << 40) {
            let policy = RetryPolicy { max_attempts: 64, ..RetryPolicy::default() };
            let expiry = now + ttl;
            let this = policy.next_retry(attempts, now, expiry);
            let next = policy.next_retry(attempts + 1, now, expiry);
            if let Some(at) = this {
                prop_assert!(at - now >= policy.first_delay_ms);
                prop_assert!(at - now <= policy.max_delay_ms);
                prop_assert!(at < expiry);
            }
            if let (Some(a), Some(b)) = (this, next) {
                prop_assert!(b >= a);
            }
        }

        /// Any text survives the pipeline.
        #[test]
        fn any_text_round_trips(body in ".{0,300}", seed in any::<u64>()) {
            let (alice, bob) = accounts();
            let text = Outgoing::Text { body: body.clone(), quote: None };
            let mut rng = ChaCha20Rng::seed_from_u64(seed);
            let p = prepare(&alice, &bob.session_id(), &text, &Context::default(), T, &mut rng)
                .unwrap();
            let got = open(&bob, &p.jobs[0].data);
            let Message::Visible(v) = got.content.message else {
                return Err(TestCaseError::fail("not visible"));
            };
            prop_assert_eq!(v.body, Some(body));
        }
    }
}
