//! The protobuf wrapping of libsession user-config pushes, which older clients expect
//! (shared/spec/groups.md §3.7): `Content{sharedConfigMessage}` ‖ `0x80`, session-protocol
//! deterministic encryption to one's own X25519 key, in an Envelope in a WebSocketMessage.

use prost::Message as _;
use sotto_identity::Account;

use crate::generated::session as proto;
use crate::parts::wire_enum;
use crate::session::{decrypt_incoming, encrypt_for_recipient_deterministic};
use crate::wire::parse;
use crate::{
    DecodeError, EncryptError, Envelope, EnvelopeType, ReceiveError, UnknownFields,
    WebSocketMessage, WireStyle,
};

wire_enum! {
    /// `SharedConfigMessage.kind`: which user config a wrapped push carries.
    SharedConfigKind => proto::shared_config_message::Kind {
        /// UserProfile (namespace 2).
        UserProfile = UserProfile,
        /// Contacts (namespace 3).
        Contacts = Contacts,
        /// ConvoInfoVolatile (namespace 4).
        ConvoInfoVolatile = ConvoInfoVolatile,
        /// UserGroups (namespace 5).
        UserGroups = UserGroups,
    }
}

/// Why a pushed user config could not be unwrapped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum UnwrapError {
    /// The WebSocket, Envelope or decrypted Content framing is malformed or did not decrypt.
    #[error(transparent)]
    Receive(#[from] ReceiveError),
    /// It decrypted, but was not sent by this account (not authorised).
    #[error("the wrapped config was not sent by this account")]
    NotFromSelf,
    /// The decrypted Content does not end with `0x80` padding.
    #[error("the wrapped config Content is not padded")]
    NotPadded,
    /// The Content carries no `sharedConfigMessage`.
    #[error("the Content carries no sharedConfigMessage")]
    NotSharedConfig,
    /// The wrapped kind is not the one expected for this namespace.
    #[error("the wrapped config is {found:?}, expected {expected:?}")]
    WrongKind {
        /// The kind expected.
        expected: SharedConfigKind,
        /// The kind found (`None`: a value the schema does not define).
        found: Option<SharedConfigKind>,
    },
}

impl From<DecodeError> for UnwrapError {
    fn from(e: DecodeError) -> Self {
        Self::Receive(ReceiveError::Decode(e))
    }
}

/// Wraps an encrypted config message (`data`) of `kind` and `seqno` for `account`'s own swarm,
/// deterministically: the same inputs give the same bytes.
pub fn wrap_shared_config(
    account: &Account,
    kind: SharedConfigKind,
    seqno: i64,
    data: &[u8],
) -> Result<Vec<u8>, EncryptError> {
    let content = proto::Content {
        shared_config_message: Some(proto::SharedConfigMessage {
            kind: kind.number(),
            seqno,
            data: data.to_vec(),
        }),
        ..proto::Content::default()
    };
    let mut plaintext = content.encode_to_vec();
    plaintext.push(0x80);
    let ciphertext = encrypt_for_recipient_deterministic(
        account.ed25519_secret(),
        &account.x25519_public(),
        &plaintext,
    )?;
    let envelope = Envelope {
        kind: EnvelopeType::SessionMessage,
        source: None,
        timestamp: 1,
        source_device: None,
        content: ciphertext,
        server_timestamp: None,
        pro_sig: None,
        unknown: UnknownFields::default(),
    };
    Ok(WebSocketMessage::carrying(envelope.to_bytes(), WireStyle::Libsession).to_bytes())
}

/// Unwraps what [`wrap_shared_config`] produced: the encrypted config message and its seqno.
/// The sender must be `account` itself and the kind must be `expected`.
pub fn unwrap_shared_config(
    account: &Account,
    expected: SharedConfigKind,
    bytes: &[u8],
) -> Result<(i64, Vec<u8>), UnwrapError> {
    let ws = WebSocketMessage::try_from(bytes)?;
    let envelope = Envelope::try_from(ws.envelope_bytes()?)?;
    if envelope.kind != EnvelopeType::SessionMessage {
        return Err(ReceiveError::NotOneToOne(envelope.kind).into());
    }
    let decrypted = decrypt_incoming(account, &envelope.content).map_err(ReceiveError::Decrypt)?;
    if decrypted.sender_ed25519 != account.ed25519_public() {
        return Err(UnwrapError::NotFromSelf);
    }
    // Padding: trailing zero bytes, then the 0x80 marker.
    let end = decrypted
        .plaintext
        .iter()
        .rposition(|&b| b != 0)
        .ok_or(UnwrapError::NotPadded)?;
    let (body, marker) = decrypted
        .plaintext
        .get(..=end)
        .and_then(<[u8]>::split_last)
        .map(|(m, b)| (b, *m))
        .ok_or(UnwrapError::NotPadded)?;
    if marker != 0x80 {
        return Err(UnwrapError::NotPadded);
    }
    let (content, _) = parse::<proto::Content>(body, "Content")?;
    let shared = content
        .shared_config_message
        .ok_or(UnwrapError::NotSharedConfig)?;
    let found = SharedConfigKind::from_number(shared.kind);
    if found != Some(expected) {
        return Err(UnwrapError::WrongKind { expected, found });
    }
    Ok((shared.seqno, shared.data))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrap_unwrap_round_trip_and_checks() {
        let me = Account::from_ed25519_seed(&[3u8; 32]);
        let other = Account::from_ed25519_seed(&[4u8; 32]);
        let data = b"encrypted config".to_vec();
        let wrapped = wrap_shared_config(&me, SharedConfigKind::Contacts, 7, &data).unwrap();
        assert_eq!(
            wrap_shared_config(&me, SharedConfigKind::Contacts, 7, &data).unwrap(),
            wrapped,
            "deterministic"
        );
        assert_eq!(
            unwrap_shared_config(&me, SharedConfigKind::Contacts, &wrapped).unwrap(),
            (7, data)
        );
        assert!(matches!(
            unwrap_shared_config(&me, SharedConfigKind::UserGroups, &wrapped),
            Err(UnwrapError::WrongKind { .. })
        ));
        assert!(matches!(
            unwrap_shared_config(&other, SharedConfigKind::Contacts, &wrapped),
            Err(UnwrapError::Receive(_))
        ));
        assert!(unwrap_shared_config(&me, SharedConfigKind::Contacts, b"\x08\x01").is_err());
    }
}
