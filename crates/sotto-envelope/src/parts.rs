//! The parts a message is made of: attachments, quotes, link previews, reactions, profiles and
//! the small control messages (typing, receipts, unsend, …).
//!
//! Each type decodes from the bytes of its protobuf message, checks required fields and IDs, and
//! keeps whatever it does not surface in `unknown`, which its encoding writes back.

use core::fmt;

use sotto_crypto::ct_eq;
use sotto_identity::PrefixedId;
use zeroize::Zeroizing;

use crate::DecodeError;
use crate::generated::session as proto;
use crate::wire::{Fields, UnknownFields, Writer, parse};

/// Reads a field that must hold a 66-hex-digit ID (any prefix: `05` in 1:1 chats, `15`/`25` in
/// communities).
pub(crate) fn id_field(text: &str, field: &'static str) -> Result<PrefixedId, DecodeError> {
    text.parse()
        .map_err(|source| DecodeError::InvalidId { field, source })
}

/// Decodes an optional nested message.
pub(crate) fn nested<T>(
    fields: &Fields<'_>,
    number: u32,
    decode: impl Fn(&[u8]) -> Result<T, DecodeError>,
) -> Result<Option<T>, DecodeError> {
    fields.message(number).map(|b| decode(&b)).transpose()
}

/// Decodes a repeated nested message.
pub(crate) fn repeated<T>(
    fields: &Fields<'_>,
    number: u32,
    decode: impl Fn(&[u8]) -> Result<T, DecodeError>,
) -> Result<Vec<T>, DecodeError> {
    fields.messages(number).map(decode).collect()
}

/// Declares a domain enum for a protobuf enum, with conversions from and to its wire value.
macro_rules! wire_enum {
    (
        $(#[$meta:meta])*
        $name:ident => $proto:ty {
            $( $(#[$vmeta:meta])* $variant:ident = $pvariant:ident ),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            $( $(#[$vmeta])* $variant ),+
        }

        impl $name {
            /// The value of a protobuf enum number, if the schema defines it.
            #[must_use]
            pub fn from_number(value: i32) -> Option<Self> {
                match <$proto>::try_from(value).ok()? {
                    $( <$proto>::$pvariant => Some(Self::$variant) ),+
                }
            }

            /// The protobuf enum number.
            #[must_use]
            pub fn number(self) -> i32 {
                match self {
                    $( Self::$variant => <$proto>::$pvariant as i32 ),+
                }
            }

            /// Reads a required enum field.
            #[allow(dead_code, reason = "not every enum is a required field")]
            pub(crate) fn required(value: i32, field: &'static str) -> Result<Self, DecodeError> {
                Self::from_number(value).ok_or(DecodeError::UnknownEnumValue { field, value })
            }
        }
    };
}
pub(crate) use wire_enum;

/// Implements `TryFrom<&[u8]>` and `to_bytes` for a type with `decode`/`encode`.
macro_rules! bytes_conversions {
    ($($name:ty),+ $(,)?) => {$(
        impl TryFrom<&[u8]> for $name {
            type Error = DecodeError;

            fn try_from(bytes: &[u8]) -> Result<Self, DecodeError> {
                Self::decode(bytes)
            }
        }

        impl $name {
            /// The protobuf encoding (declared fields in field-number order, then kept unknown
            /// fields in their place).
            #[must_use]
            pub fn to_bytes(&self) -> Vec<u8> {
                self.encode()
            }
        }
    )+};
}
pub(crate) use bytes_conversions;

/// Key material carried inside messages (attachment keys, profile keys): zeroized on drop,
/// compared in constant time, printed as its length only.
#[derive(Clone, Default)]
pub struct KeyBytes(Zeroizing<Vec<u8>>);

impl KeyBytes {
    /// Wraps key bytes.
    #[must_use]
    pub fn new(bytes: Vec<u8>) -> Self {
        Self(Zeroizing::new(bytes))
    }

    /// The key bytes. Keep the borrow short.
    #[must_use]
    pub fn expose(&self) -> &[u8] {
        &self.0
    }

    fn to_vec(&self) -> Vec<u8> {
        self.0.to_vec()
    }
}

impl From<Vec<u8>> for KeyBytes {
    fn from(bytes: Vec<u8>) -> Self {
        Self::new(bytes)
    }
}

impl PartialEq for KeyBytes {
    fn eq(&self, other: &Self) -> bool {
        ct_eq(&self.0, &other.0)
    }
}

impl Eq for KeyBytes {}

impl fmt::Debug for KeyBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyBytes({} bytes, redacted)", self.0.len())
    }
}

/// A sender's profile (`LokiProfile`): display name and profile-picture URL.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Profile {
    /// The display name.
    pub display_name: Option<String>,
    /// URL of the encrypted profile picture (decrypted with the message's profile key).
    pub picture_url: Option<String>,
    /// When the profile last changed, in seconds since the Unix epoch.
    pub last_update_seconds: Option<u64>,
    /// Fields kept as received.
    pub unknown: UnknownFields,
}

impl Profile {
    pub(crate) fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let (p, f) = parse::<proto::LokiProfile>(bytes, "LokiProfile")?;
        Ok(Self {
            display_name: p.display_name,
            picture_url: p.profile_picture,
            last_update_seconds: p.last_update_seconds,
            unknown: f.unknown(&[1, 2, 3]),
        })
    }

    pub(crate) fn encode(&self) -> Vec<u8> {
        Writer::new(&proto::LokiProfile {
            display_name: self.display_name.clone(),
            profile_picture: self.picture_url.clone(),
            last_update_seconds: self.last_update_seconds,
        })
        .finish(&self.unknown)
    }
}

/// Where an attachment is and how to decrypt it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AttachmentPointer {
    /// Legacy numeric id: the last path segment of the URL when it is a number, else 0.
    pub id: u64,
    /// MIME type.
    pub content_type: Option<String>,
    /// Decryption key: 64 bytes (legacy AES-CBC + HMAC) or 32 bytes (deterministic).
    pub key: Option<KeyBytes>,
    /// Plaintext size before padding.
    pub size: Option<u32>,
    /// Thumbnail bytes (unused by current clients).
    pub thumbnail: Option<Vec<u8>>,
    /// SHA-256 of the encrypted blob (legacy encryption only).
    pub digest: Option<Vec<u8>>,
    /// File name.
    pub file_name: Option<String>,
    /// Flags; see [`AttachmentPointer::VOICE_MESSAGE`].
    pub flags: Option<u32>,
    /// Image width.
    pub width: Option<u32>,
    /// Image height.
    pub height: Option<u32>,
    /// Caption.
    pub caption: Option<String>,
    /// File URL, possibly with a `#p=…&d=` fragment.
    pub url: Option<String>,
    /// Fields kept as received.
    pub unknown: UnknownFields,
}

impl AttachmentPointer {
    /// The flag bit of a voice message.
    pub const VOICE_MESSAGE: u32 = proto::attachment_pointer::Flags::VoiceMessage as u32;

    /// Whether the attachment is a voice message.
    #[must_use]
    pub fn is_voice_message(&self) -> bool {
        self.flags.unwrap_or(0) & Self::VOICE_MESSAGE != 0
    }

    pub(crate) fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let (p, f) = parse::<proto::AttachmentPointer>(bytes, "AttachmentPointer")?;
        f.require(1, "AttachmentPointer.id")?;
        Ok(Self {
            id: p.id,
            content_type: p.content_type,
            key: p.key.map(KeyBytes::new),
            size: p.size,
            thumbnail: p.thumbnail,
            digest: p.digest,
            file_name: p.file_name,
            flags: p.flags,
            width: p.width,
            height: p.height,
            caption: p.caption,
            url: p.url,
            unknown: f.unknown(&[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 101]),
        })
    }

    pub(crate) fn encode(&self) -> Vec<u8> {
        Writer::new(&proto::AttachmentPointer {
            id: self.id,
            content_type: self.content_type.clone(),
            key: self.key.as_ref().map(KeyBytes::to_vec),
            size: self.size,
            thumbnail: self.thumbnail.clone(),
            digest: self.digest.clone(),
            file_name: self.file_name.clone(),
            flags: self.flags,
            width: self.width,
            height: self.height,
            caption: self.caption.clone(),
            url: self.url.clone(),
        })
        .finish(&self.unknown)
    }
}

/// A quoted message: the message a reply refers to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Quote {
    /// Sent timestamp of the quoted message (ms).
    pub id: u64,
    /// Its author.
    pub author: PrefixedId,
    /// Its text, as the replier saw it.
    pub text: Option<String>,
    /// Its attachments, described.
    pub attachments: Vec<QuotedAttachment>,
    /// Fields kept as received.
    pub unknown: UnknownFields,
}

impl Quote {
    pub(crate) fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let (p, f) = parse::<proto::data_message::Quote>(bytes, "Quote")?;
        f.require(1, "Quote.id")?;
        f.require(2, "Quote.author")?;
        Ok(Self {
            id: p.id,
            author: id_field(&p.author, "Quote.author")?,
            text: p.text,
            attachments: repeated(&f, 4, QuotedAttachment::decode)?,
            unknown: f.unknown(&[1, 2, 3, 4]),
        })
    }

    pub(crate) fn encode(&self) -> Vec<u8> {
        Writer::new(&proto::data_message::Quote {
            id: self.id,
            author: self.author.to_string(),
            text: self.text.clone(),
            attachments: Vec::new(),
        })
        .messages(4, &self.attachments, QuotedAttachment::encode)
        .finish(&self.unknown)
    }
}

/// An attachment of a quoted message.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QuotedAttachment {
    /// MIME type.
    pub content_type: Option<String>,
    /// File name.
    pub file_name: Option<String>,
    /// Thumbnail.
    pub thumbnail: Option<AttachmentPointer>,
    /// Flags (`VOICE_MESSAGE` = 1).
    pub flags: Option<u32>,
    /// Fields kept as received.
    pub unknown: UnknownFields,
}

impl QuotedAttachment {
    pub(crate) fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let (p, f) =
            parse::<proto::data_message::quote::QuotedAttachment>(bytes, "QuotedAttachment")?;
        Ok(Self {
            content_type: p.content_type,
            file_name: p.file_name,
            thumbnail: nested(&f, 3, AttachmentPointer::decode)?,
            flags: p.flags,
            unknown: f.unknown(&[1, 2, 3, 4]),
        })
    }

    pub(crate) fn encode(&self) -> Vec<u8> {
        Writer::new(&proto::data_message::quote::QuotedAttachment {
            content_type: self.content_type.clone(),
            file_name: self.file_name.clone(),
            thumbnail: None,
            flags: self.flags,
        })
        .opt_message(3, self.thumbnail.as_ref(), AttachmentPointer::encode)
        .finish(&self.unknown)
    }
}

/// A link preview.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Preview {
    /// The previewed URL.
    pub url: String,
    /// The page title.
    pub title: Option<String>,
    /// The preview image.
    pub image: Option<AttachmentPointer>,
    /// Fields kept as received.
    pub unknown: UnknownFields,
}

impl Preview {
    pub(crate) fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let (p, f) = parse::<proto::data_message::Preview>(bytes, "Preview")?;
        f.require(1, "Preview.url")?;
        Ok(Self {
            url: p.url,
            title: p.title,
            image: nested(&f, 3, AttachmentPointer::decode)?,
            unknown: f.unknown(&[1, 2, 3]),
        })
    }

    pub(crate) fn encode(&self) -> Vec<u8> {
        Writer::new(&proto::data_message::Preview {
            url: self.url.clone(),
            title: self.title.clone(),
            image: None,
        })
        .opt_message(3, self.image.as_ref(), AttachmentPointer::encode)
        .finish(&self.unknown)
    }
}

wire_enum! {
    /// Whether a reaction is added or removed.
    ReactionAction => proto::data_message::reaction::Action {
        /// Add the emoji.
        React = React,
        /// Remove it.
        Remove = Remove,
    }
}

/// An emoji reaction to a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reaction {
    /// Sent timestamp of the message reacted to (ms).
    pub id: u64,
    /// That message's author.
    pub author: PrefixedId,
    /// The emoji.
    pub emoji: Option<String>,
    /// Add or remove.
    pub action: ReactionAction,
    /// Fields kept as received.
    pub unknown: UnknownFields,
}

impl Reaction {
    pub(crate) fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let (p, f) = parse::<proto::data_message::Reaction>(bytes, "Reaction")?;
        f.require(1, "Reaction.id")?;
        f.require(2, "Reaction.author")?;
        f.require(4, "Reaction.action")?;
        Ok(Self {
            id: p.id,
            author: id_field(&p.author, "Reaction.author")?,
            emoji: p.emoji,
            action: ReactionAction::required(p.action, "Reaction.action")?,
            unknown: f.unknown(&[1, 2, 3, 4]),
        })
    }

    pub(crate) fn encode(&self) -> Vec<u8> {
        Writer::new(&proto::data_message::Reaction {
            id: self.id,
            author: self.author.to_string(),
            emoji: self.emoji.clone(),
            action: self.action.number(),
        })
        .finish(&self.unknown)
    }
}

/// An invitation to a community (`OpenGroupInvitation`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CommunityInvitation {
    /// The community's join URL.
    pub url: String,
    /// Its name.
    pub name: String,
    /// Fields kept as received.
    pub unknown: UnknownFields,
}

impl CommunityInvitation {
    pub(crate) fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let (p, f) =
            parse::<proto::data_message::OpenGroupInvitation>(bytes, "OpenGroupInvitation")?;
        f.require(1, "OpenGroupInvitation.url")?;
        f.require(3, "OpenGroupInvitation.name")?;
        Ok(Self {
            url: p.url,
            name: p.name,
            unknown: f.unknown(&[1, 3]),
        })
    }

    pub(crate) fn encode(&self) -> Vec<u8> {
        Writer::new(&proto::data_message::OpenGroupInvitation {
            url: self.url.clone(),
            name: self.name.clone(),
        })
        .finish(&self.unknown)
    }
}

wire_enum! {
    /// Typing started or stopped.
    TypingAction => proto::typing_message::Action {
        /// The sender started typing.
        Started = Started,
        /// The sender stopped typing.
        Stopped = Stopped,
    }
}

/// A typing indicator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Typing {
    /// When (ms).
    pub timestamp: u64,
    /// Started or stopped.
    pub action: TypingAction,
    /// Fields kept as received.
    pub unknown: UnknownFields,
}

impl Typing {
    pub(crate) fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let (p, f) = parse::<proto::TypingMessage>(bytes, "TypingMessage")?;
        f.require(1, "TypingMessage.timestamp")?;
        f.require(2, "TypingMessage.action")?;
        Ok(Self {
            timestamp: p.timestamp,
            action: TypingAction::required(p.action, "TypingMessage.action")?,
            unknown: f.unknown(&[1, 2]),
        })
    }

    pub(crate) fn encode(&self) -> Vec<u8> {
        Writer::new(&proto::TypingMessage {
            timestamp: self.timestamp,
            action: self.action.number(),
        })
        .finish(&self.unknown)
    }
}

wire_enum! {
    /// What a receipt acknowledges.
    ReceiptKind => proto::receipt_message::Type {
        /// Delivery (legacy; libsession only).
        Delivery = Delivery,
        /// The messages were read.
        Read = Read,
    }
}

/// A delivery or read receipt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receipt {
    /// Delivery or read.
    pub kind: ReceiptKind,
    /// Sent timestamps (ms) of the messages acknowledged.
    pub timestamps: Vec<u64>,
    /// Fields kept as received.
    pub unknown: UnknownFields,
}

impl Receipt {
    pub(crate) fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let (p, f) = parse::<proto::ReceiptMessage>(bytes, "ReceiptMessage")?;
        f.require(1, "ReceiptMessage.type")?;
        Ok(Self {
            kind: ReceiptKind::required(p.r#type, "ReceiptMessage.type")?,
            timestamps: p.timestamp,
            unknown: f.unknown(&[1, 2]),
        })
    }

    pub(crate) fn encode(&self) -> Vec<u8> {
        Writer::new(&proto::ReceiptMessage {
            r#type: self.kind.number(),
            timestamp: self.timestamps.clone(),
        })
        .finish(&self.unknown)
    }
}

wire_enum! {
    /// What the recipient did with a message's media.
    DataExtractionKind => proto::data_extraction_notification::Type {
        /// A screenshot was taken.
        Screenshot = Screenshot,
        /// Media was saved.
        MediaSaved = MediaSaved,
    }
}

/// A notice that the recipient took a screenshot or saved media.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataExtraction {
    /// Screenshot or media saved.
    pub kind: DataExtractionKind,
    /// Sent timestamp (ms) of the message whose media was saved.
    pub timestamp: Option<u64>,
    /// Fields kept as received.
    pub unknown: UnknownFields,
}

impl DataExtraction {
    pub(crate) fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let (p, f) =
            parse::<proto::DataExtractionNotification>(bytes, "DataExtractionNotification")?;
        f.require(1, "DataExtractionNotification.type")?;
        Ok(Self {
            kind: DataExtractionKind::required(p.r#type, "DataExtractionNotification.type")?,
            timestamp: p.timestamp,
            unknown: f.unknown(&[1, 2]),
        })
    }

    pub(crate) fn encode(&self) -> Vec<u8> {
        Writer::new(&proto::DataExtractionNotification {
            r#type: self.kind.number(),
            timestamp: self.timestamp,
        })
        .finish(&self.unknown)
    }
}

/// A request to delete a message already sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnsendRequest {
    /// Sent timestamp (ms) of the message to delete.
    pub timestamp: u64,
    /// Its sender.
    pub author: PrefixedId,
    /// Fields kept as received.
    pub unknown: UnknownFields,
}

impl UnsendRequest {
    pub(crate) fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let (p, f) = parse::<proto::UnsendRequest>(bytes, "UnsendRequest")?;
        f.require(1, "UnsendRequest.timestamp")?;
        f.require(2, "UnsendRequest.author")?;
        Ok(Self {
            timestamp: p.timestamp,
            author: id_field(&p.author, "UnsendRequest.author")?,
            unknown: f.unknown(&[1, 2]),
        })
    }

    pub(crate) fn encode(&self) -> Vec<u8> {
        Writer::new(&proto::UnsendRequest {
            timestamp: self.timestamp,
            author: self.author.to_string(),
        })
        .finish(&self.unknown)
    }
}

/// The answer to a message request (sent when accepting one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageRequestResponse {
    /// Whether the request was approved.
    pub is_approved: bool,
    /// The responder's profile key.
    pub profile_key: Option<KeyBytes>,
    /// The responder's profile.
    pub profile: Option<Profile>,
    /// Fields kept as received.
    pub unknown: UnknownFields,
}

impl MessageRequestResponse {
    pub(crate) fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let (p, f) = parse::<proto::MessageRequestResponse>(bytes, "MessageRequestResponse")?;
        f.require(1, "MessageRequestResponse.isApproved")?;
        Ok(Self {
            is_approved: p.is_approved,
            profile_key: p.profile_key.map(KeyBytes::new),
            profile: nested(&f, 3, Profile::decode)?,
            unknown: f.unknown(&[1, 2, 3]),
        })
    }

    pub(crate) fn encode(&self) -> Vec<u8> {
        Writer::new(&proto::MessageRequestResponse {
            is_approved: self.is_approved,
            profile_key: self.profile_key.as_ref().map(KeyBytes::to_vec),
            profile: None,
        })
        .opt_message(3, self.profile.as_ref(), Profile::encode)
        .finish(&self.unknown)
    }
}

wire_enum! {
    /// The step of call signalling a message carries.
    CallKind => proto::call_message::Type {
        /// Announces an offer (sent first).
        PreOffer = PreOffer,
        /// SDP offer.
        Offer = Offer,
        /// SDP answer.
        Answer = Answer,
        /// Provisional answer.
        ProvisionalAnswer = ProvisionalAnswer,
        /// ICE candidates.
        IceCandidates = IceCandidates,
        /// Hang up.
        EndCall = EndCall,
    }
}

/// WebRTC call signalling.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallMessage {
    /// The signalling step.
    pub kind: CallKind,
    /// SDP blobs.
    pub sdps: Vec<String>,
    /// `sdpMLineIndex` of each ICE candidate.
    pub sdp_m_line_indexes: Vec<u32>,
    /// `sdpMid` of each ICE candidate.
    pub sdp_mids: Vec<String>,
    /// The call's identifier.
    pub uuid: String,
    /// Fields kept as received.
    pub unknown: UnknownFields,
}

impl CallMessage {
    pub(crate) fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let (p, f) = parse::<proto::CallMessage>(bytes, "CallMessage")?;
        f.require(1, "CallMessage.type")?;
        f.require(5, "CallMessage.uuid")?;
        Ok(Self {
            kind: CallKind::required(p.r#type, "CallMessage.type")?,
            sdps: p.sdps,
            sdp_m_line_indexes: p.sdp_m_line_indexes,
            sdp_mids: p.sdp_mids,
            uuid: p.uuid,
            unknown: f.unknown(&[1, 2, 3, 4, 5]),
        })
    }

    pub(crate) fn encode(&self) -> Vec<u8> {
        Writer::new(&proto::CallMessage {
            r#type: self.kind.number(),
            sdps: self.sdps.clone(),
            sdp_m_line_indexes: self.sdp_m_line_indexes.clone(),
            sdp_mids: self.sdp_mids.clone(),
            uuid: self.uuid.clone(),
        })
        .finish(&self.unknown)
    }
}

bytes_conversions!(
    Profile,
    AttachmentPointer,
    Quote,
    QuotedAttachment,
    Preview,
    Reaction,
    CommunityInvitation,
    Typing,
    Receipt,
    DataExtraction,
    UnsendRequest,
    MessageRequestResponse,
    CallMessage,
);
