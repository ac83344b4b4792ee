//! From a Content to a swarm's `data` string and back, for 1:1 messages and sync copies.
//!
//! Sending: serialize the Content, pad, encrypt to the recipient (session protocol), wrap in an
//! Envelope, then in a WebSocketMessage, and base64 the result: that is the `data` of a storage
//! `store` request to the recipient's swarm. Receiving undoes each step and reads only the
//! WebSocket request's body.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use sotto_crypto::{CryptoRngCore, Ed25519PublicKey, X25519PublicKey};
use sotto_identity::{Account, PrefixedId, SessionId};

use crate::envelope::{Envelope, EnvelopeType, WebSocketMessage, WireStyle};
use crate::padding::pad_with;
use crate::session::{decrypt_incoming, encrypt_for_recipient};
use crate::{Content, DecodeError, EncryptError, ReceiveError};

/// Wraps an Envelope for a swarm: WebSocketMessage, then standard base64.
#[must_use]
pub fn frame_for_swarm(envelope: &Envelope, style: WireStyle) -> String {
    STANDARD.encode(WebSocketMessage::carrying(envelope.encode(), style).encode())
}

/// Reads the Envelope out of a swarm message's `data`: base64, WebSocketMessage, `request.body`.
pub fn unframe_from_swarm(data: impl AsRef<[u8]>) -> Result<Envelope, DecodeError> {
    let bytes = STANDARD.decode(data).map_err(|_| DecodeError::Base64)?;
    let wrapper = WebSocketMessage::decode(&bytes)?;
    Envelope::decode(wrapper.envelope_bytes()?)
}

/// Fills in `sigTimestamp` with the sent time, or checks that it already holds it (libsession
/// refuses to send when they differ).
fn signed_at(content: &Content, sent_ms: u64) -> Result<Content, EncryptError> {
    match content.sig_timestamp {
        Some(signed) if signed != sent_ms => Err(EncryptError::TimestampMismatch {
            content: signed,
            sent: sent_ms,
        }),
        _ => Ok(Content {
            sig_timestamp: Some(sent_ms),
            ..content.clone()
        }),
    }
}

fn seal_for_swarm(
    sender: &Account,
    to: &X25519PublicKey,
    content: &Content,
    sent_ms: u64,
    rng: &mut impl CryptoRngCore,
) -> Result<String, EncryptError> {
    let style = WireStyle::Libsession;
    let plaintext = pad_with(&signed_at(content, sent_ms)?.encode(), style.padding());
    let ciphertext = encrypt_for_recipient(sender.ed25519_secret(), to, &plaintext, rng)?;
    Ok(frame_for_swarm(
        &Envelope::one_to_one(sent_ms, ciphertext, style),
        style,
    ))
}

/// Encrypts `content` from `sender` to `recipient` and frames it for the recipient's swarm
/// (current layout, fresh ephemeral key). `sent_ms` becomes the Envelope timestamp and the
/// Content's signed `sigTimestamp`.
pub fn encrypt_for_swarm(
    sender: &Account,
    recipient: &SessionId,
    content: &Content,
    sent_ms: u64,
    rng: &mut impl CryptoRngCore,
) -> Result<String, EncryptError> {
    seal_for_swarm(sender, recipient.x25519(), content, sent_ms, rng)
}

/// The sync copy of a message sent to `recipient`: the same Content with `syncTarget` set to the
/// recipient, encrypted to the sender's own Session ID so the sender's other devices see it.
/// Only messages carried in a DataMessage (visible messages, reactions, setting changes) have
/// sync copies.
pub fn encrypt_sync_copy(
    sender: &Account,
    recipient: &SessionId,
    content: &Content,
    sent_ms: u64,
    rng: &mut impl CryptoRngCore,
) -> Result<String, EncryptError> {
    let mut copy = content.clone();
    copy.data_fields_mut()
        .ok_or(EncryptError::NotSyncable)?
        .sync_target = Some(PrefixedId::from(*recipient));
    seal_for_swarm(sender, &sender.x25519_public(), &copy, sent_ms, rng)
}

/// A 1:1 message received from a swarm, decrypted and verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    /// The Envelope it came in.
    pub envelope: Envelope,
    /// The sender's Session ID.
    pub sender: SessionId,
    /// The sender's Ed25519 key.
    pub sender_ed25519: Ed25519PublicKey,
    /// The message.
    pub content: Content,
}

impl Received {
    /// Whether this is a sync copy: sent by `own` (this account) to someone else.
    #[must_use]
    pub fn is_sync_copy(&self, own: &SessionId) -> bool {
        self.sender == *own && self.content.sync_target().is_some()
    }
}

/// Reads a swarm message's `data`: unframes it, requires a 1:1 Envelope, decrypts and verifies
/// it for `recipient`, unpads and parses the Content, and checks that the Content's signed
/// timestamp (when present) equals the Envelope's.
pub fn decrypt_from_swarm(
    recipient: &Account,
    data: impl AsRef<[u8]>,
) -> Result<Received, ReceiveError> {
    let envelope = unframe_from_swarm(data)?;
    if envelope.kind != EnvelopeType::SessionMessage {
        return Err(ReceiveError::NotOneToOne(envelope.kind));
    }
    let decrypted = decrypt_incoming(recipient, &envelope.content)?;
    let content = Content::from_padded(&decrypted.plaintext)?;
    if let Some(signed) = content.sig_timestamp
        && signed != envelope.timestamp
    {
        return Err(ReceiveError::TimestampMismatch {
            envelope: envelope.timestamp,
            signed,
        });
    }
    Ok(Received {
        envelope,
        sender: decrypted.sender,
        sender_ed25519: decrypted.sender_ed25519,
        content,
    })
}
