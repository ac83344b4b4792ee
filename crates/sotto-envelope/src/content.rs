//! `Content`: what a 1:1 message carries once decrypted, as a validated enum of what it can be.

use sotto_identity::PrefixedId;

use crate::DecodeError;
use crate::generated::session as proto;
use crate::padding::{pad, unpad};
use crate::parts::{
    AttachmentPointer, CallMessage, CommunityInvitation, DataExtraction, KeyBytes,
    MessageRequestResponse, Preview, Profile, Quote, Reaction, Receipt, Typing, UnsendRequest,
    bytes_conversions, id_field, nested, repeated, wire_enum,
};
use crate::wire::{Fields, UnknownFields, Writer, parse};

wire_enum! {
    /// How a conversation's messages disappear (`Content.expirationType`).
    ExpirationType => proto::content::ExpirationType {
        /// Value 0: not set, or legacy.
        Unknown = Unknown,
        /// The timer starts when the message is read.
        DeleteAfterRead = DeleteAfterRead,
        /// The timer starts when the message is sent.
        DeleteAfterSend = DeleteAfterSend,
    }
}

/// What a received message is.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Message {
    /// A visible message: text with an optional quote, attachments, link previews and profile.
    Visible(VisibleMessage),
    /// An emoji reaction.
    Reaction(ReactionMessage),
    /// The disappearing-messages setting changed; the new setting is the Content's
    /// [`Content::expiration_type`] and [`Content::expiration_timer`].
    DisappearingSetting(DisappearingSetting),
    /// A typing indicator.
    Typing(Typing),
    /// A delivery or read receipt.
    Receipt(Receipt),
    /// A request to delete a message already sent.
    Unsend(UnsendRequest),
    /// The answer to a message request.
    MessageRequestResponse(MessageRequestResponse),
    /// A screenshot or media-saved notice.
    DataExtraction(DataExtraction),
    /// Call signalling.
    Call(CallMessage),
}

/// The fields of a `DataMessage` that any kind of data message (visible, reaction, setting
/// change) may carry.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DataFields {
    /// The sender's profile.
    pub profile: Option<Profile>,
    /// The key of the sender's profile picture.
    pub profile_key: Option<KeyBytes>,
    /// `DataMessage.flags` (see [`DataFields::EXPIRATION_TIMER_UPDATE`]).
    pub flags: Option<u32>,
    /// `DataMessage.timestamp` (legacy; libsession keeps it).
    pub timestamp: Option<u64>,
    /// In the copy a sender stores in its own swarm: the conversation it was sent to.
    pub sync_target: Option<PrefixedId>,
    /// The sender refuses message requests from community inboxes.
    pub blocks_community_message_requests: Option<bool>,
    /// `DataMessage` fields kept as received (including known ones that have no meaning for
    /// this kind of message, such as a body next to a reaction).
    pub unknown: UnknownFields,
}

impl DataFields {
    /// The flag of a disappearing-messages setting change.
    pub const EXPIRATION_TIMER_UPDATE: u32 =
        proto::data_message::Flags::ExpirationTimerUpdate as u32;

    /// Field numbers every kind of data message surfaces.
    const SURFACED: [u32; 6] = [4, 6, 7, 101, 105, 106];
}

/// A visible message.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VisibleMessage {
    /// The text.
    pub body: Option<String>,
    /// Attachments.
    pub attachments: Vec<AttachmentPointer>,
    /// The message replied to.
    pub quote: Option<Quote>,
    /// Link previews.
    pub previews: Vec<Preview>,
    /// A community invitation.
    pub community_invitation: Option<CommunityInvitation>,
    /// Profile, sync target and the other data-message fields.
    pub data: DataFields,
}

impl VisibleMessage {
    /// A text message.
    #[must_use]
    pub fn text(body: impl Into<String>) -> Self {
        Self {
            body: Some(body.into()),
            ..Self::default()
        }
    }
}

/// An emoji reaction, with the data-message fields around it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReactionMessage {
    /// The reaction.
    pub reaction: Reaction,
    /// Profile, sync target and the other data-message fields.
    pub data: DataFields,
}

/// A disappearing-messages setting change (a `DataMessage` whose flags include
/// `EXPIRATION_TIMER_UPDATE`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DisappearingSetting {
    /// Profile, sync target and the other data-message fields; `flags` includes
    /// [`DataFields::EXPIRATION_TIMER_UPDATE`].
    pub data: DataFields,
}

impl Default for DisappearingSetting {
    fn default() -> Self {
        Self {
            data: DataFields {
                flags: Some(DataFields::EXPIRATION_TIMER_UPDATE),
                ..DataFields::default()
            },
        }
    }
}

/// A decrypted message: what it is, its disappearing-messages setting and its signed timestamp.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Content {
    /// What the message is.
    pub message: Message,
    /// How the conversation's messages disappear.
    pub expiration_type: Option<ExpirationType>,
    /// After how many seconds.
    pub expiration_timer: Option<u32>,
    /// The sent timestamp (ms), signed with the message; a receiver compares it with the
    /// unauthenticated Envelope timestamp.
    pub sig_timestamp: Option<u64>,
    /// Content fields kept as received (Session Pro, legacy fields, a second message kind, …).
    pub unknown: UnknownFields,
}

/// The Content fields that carry a kind of message, in the order they are looked for.
const MESSAGE_FIELDS: [u32; 7] = [1, 3, 5, 6, 8, 9, 10];

impl Content {
    /// A Content carrying `message`, with no disappearing setting and no signed timestamp.
    #[must_use]
    pub fn new(message: Message) -> Self {
        Self {
            message,
            expiration_type: None,
            expiration_timer: None,
            sig_timestamp: None,
            unknown: UnknownFields::default(),
        }
    }

    /// Decodes padded Content bytes (padding of either rule, or none).
    pub fn from_padded(bytes: &[u8]) -> Result<Self, DecodeError> {
        Self::decode(unpad(bytes))
    }

    /// The encoding padded with the current rule, ready to encrypt.
    #[must_use]
    pub fn to_padded_bytes(&self) -> Vec<u8> {
        pad(&self.encode())
    }

    /// The data-message fields, for the kinds of message a `DataMessage` carries.
    #[must_use]
    pub fn data_fields(&self) -> Option<&DataFields> {
        match &self.message {
            Message::Visible(m) => Some(&m.data),
            Message::Reaction(m) => Some(&m.data),
            Message::DisappearingSetting(m) => Some(&m.data),
            _ => None,
        }
    }

    /// Mutable data-message fields.
    pub fn data_fields_mut(&mut self) -> Option<&mut DataFields> {
        match &mut self.message {
            Message::Visible(m) => Some(&mut m.data),
            Message::Reaction(m) => Some(&mut m.data),
            Message::DisappearingSetting(m) => Some(&mut m.data),
            _ => None,
        }
    }

    /// The sync target, if this is a sync copy of a message sent to someone else.
    #[must_use]
    pub fn sync_target(&self) -> Option<&PrefixedId> {
        self.data_fields()?.sync_target.as_ref()
    }

    pub(crate) fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let (p, f) = parse::<proto::Content>(bytes, "Content")?;
        let number = MESSAGE_FIELDS
            .into_iter()
            .find(|n| f.has(*n))
            .ok_or(DecodeError::NoMessage)?;
        let body = f.message(number).unwrap_or_default();
        let message = match number {
            1 => decode_data_message(&body)?,
            3 => Message::Call(CallMessage::decode(&body)?),
            5 => Message::Receipt(Receipt::decode(&body)?),
            6 => Message::Typing(Typing::decode(&body)?),
            8 => Message::DataExtraction(DataExtraction::decode(&body)?),
            9 => Message::Unsend(UnsendRequest::decode(&body)?),
            _ => Message::MessageRequestResponse(MessageRequestResponse::decode(&body)?),
        };
        // An expiration type the schema does not define stays an unknown field, as in proto2.
        let expiration_type = p.expiration_type.and_then(ExpirationType::from_number);
        let surfaced: &[u32] = if expiration_type.is_some() || !f.has(12) {
            &[number, 12, 13, 15]
        } else {
            &[number, 13, 15]
        };
        Ok(Self {
            message,
            expiration_type,
            expiration_timer: p.expiration_timer,
            sig_timestamp: p.sig_timestamp,
            unknown: f.unknown(surfaced),
        })
    }

    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut w = Writer::new(&proto::Content {
            expiration_type: self.expiration_type.map(ExpirationType::number),
            expiration_timer: self.expiration_timer,
            sig_timestamp: self.sig_timestamp,
            ..proto::Content::default()
        });
        let (number, body) = match &self.message {
            Message::Visible(m) => (1, encode_visible(m)),
            Message::Reaction(m) => (1, encode_reaction(m)),
            Message::DisappearingSetting(m) => (
                1,
                encode_data(&m.data, proto::DataMessage::default(), |_| {}),
            ),
            Message::Call(m) => (3, m.encode()),
            Message::Receipt(m) => (5, m.encode()),
            Message::Typing(m) => (6, m.encode()),
            Message::DataExtraction(m) => (8, m.encode()),
            Message::Unsend(m) => (9, m.encode()),
            Message::MessageRequestResponse(m) => (10, m.encode()),
        };
        w.message(number, &body).finish(&self.unknown)
    }
}

impl From<Message> for Content {
    fn from(message: Message) -> Self {
        Self::new(message)
    }
}

bytes_conversions!(Content);

/// Reads a `DataMessage`: a reaction if it has one, else a setting change if its flags say so,
/// else a visible message. Fields with no meaning for the kind found are kept as unknown.
fn decode_data_message(bytes: &[u8]) -> Result<Message, DecodeError> {
    let (p, f) = parse::<proto::DataMessage>(bytes, "DataMessage")?;
    let data = |extra: &[u32]| -> Result<DataFields, DecodeError> {
        let surfaced: Vec<u32> = DataFields::SURFACED.iter().chain(extra).copied().collect();
        Ok(DataFields {
            profile: nested(&f, 101, Profile::decode)?,
            profile_key: p.profile_key.clone().map(KeyBytes::new),
            flags: p.flags,
            timestamp: p.timestamp,
            sync_target: p
                .sync_target
                .as_deref()
                .map(|t| id_field(t, "DataMessage.syncTarget"))
                .transpose()?,
            blocks_community_message_requests: p.blocks_community_message_requests,
            unknown: f.unknown(&surfaced),
        })
    };
    if let Some(reaction) = nested(&f, 11, Reaction::decode)? {
        return Ok(Message::Reaction(ReactionMessage {
            reaction,
            data: data(&[11])?,
        }));
    }
    if p.flags.unwrap_or(0) & DataFields::EXPIRATION_TIMER_UPDATE != 0 {
        return Ok(Message::DisappearingSetting(DisappearingSetting {
            data: data(&[])?,
        }));
    }
    Ok(Message::Visible(visible(
        &p,
        &f,
        data(&[1, 2, 8, 10, 102])?,
    )?))
}

fn visible(
    p: &proto::DataMessage,
    f: &Fields<'_>,
    data: DataFields,
) -> Result<VisibleMessage, DecodeError> {
    Ok(VisibleMessage {
        body: p.body.clone(),
        attachments: repeated(f, 2, AttachmentPointer::decode)?,
        quote: nested(f, 8, Quote::decode)?,
        previews: repeated(f, 10, Preview::decode)?,
        community_invitation: nested(f, 102, CommunityInvitation::decode)?,
        data,
    })
}

/// Encodes a `DataMessage` from its common fields, the kind-specific scalars in `proto` and the
/// kind-specific nested messages added by `nested`.
fn encode_data(
    data: &DataFields,
    proto: proto::DataMessage,
    nested: impl FnOnce(&mut Writer),
) -> Vec<u8> {
    let mut w = Writer::new(&proto::DataMessage {
        flags: data.flags,
        profile_key: data.profile_key.as_ref().map(|k| k.expose().to_vec()),
        timestamp: data.timestamp,
        sync_target: data.sync_target.map(|t| t.to_string()),
        blocks_community_message_requests: data.blocks_community_message_requests,
        ..proto
    });
    w.opt_message(101, data.profile.as_ref(), Profile::encode);
    nested(&mut w);
    w.finish(&data.unknown)
}

fn encode_visible(m: &VisibleMessage) -> Vec<u8> {
    let scalars = proto::DataMessage {
        body: m.body.clone(),
        ..proto::DataMessage::default()
    };
    encode_data(&m.data, scalars, |w| {
        w.messages(2, &m.attachments, AttachmentPointer::encode)
            .opt_message(8, m.quote.as_ref(), Quote::encode)
            .messages(10, &m.previews, Preview::encode)
            .opt_message(
                102,
                m.community_invitation.as_ref(),
                CommunityInvitation::encode,
            );
    })
}

fn encode_reaction(m: &ReactionMessage) -> Vec<u8> {
    encode_data(&m.data, proto::DataMessage::default(), |w| {
        w.message(11, &m.reaction.encode());
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        CallKind, DataExtractionKind, QuotedAttachment, ReactionAction, ReceiptKind, TypingAction,
        WireError,
    };

    const ALICE: &str = "05d2ad010eeb72d72e561d9de7bd7b6989af77dcabffa03a5111a6c859ae5c3a72";

    fn alice() -> PrefixedId {
        ALICE.parse().unwrap()
    }

    /// One protobuf record: key, then the value bytes as given (a LEN payload gets its length).
    fn rec(number: u32, wire_type: u8, value: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        prost::encoding::encode_varint(u64::from(number << 3 | u32::from(wire_type)), &mut out);
        if wire_type == 2 {
            prost::encoding::encode_varint(value.len() as u64, &mut out);
        }
        out.extend_from_slice(value);
        out
    }

    fn every_kind() -> Vec<Content> {
        let attachment = AttachmentPointer {
            id: 7,
            content_type: Some("image/png".into()),
            key: Some(KeyBytes::new(vec![1; 64])),
            size: Some(1234),
            digest: Some(vec![2; 32]),
            url: Some("http://filev2.getsession.org/file/7".into()),
            ..AttachmentPointer::default()
        };
        let profile = Profile {
            display_name: Some("Alice".into()),
            picture_url: Some("http://x/p".into()),
            last_update_seconds: Some(1_700_000_000),
            unknown: UnknownFields::default(),
        };
        let data = DataFields {
            profile: Some(profile.clone()),
            profile_key: Some(KeyBytes::new(vec![3; 32])),
            sync_target: Some(alice()),
            ..DataFields::default()
        };
        let messages = vec![
            Message::Visible(VisibleMessage {
                body: Some("hello".into()),
                attachments: vec![attachment.clone(), AttachmentPointer::default()],
                quote: Some(Quote {
                    id: 5,
                    author: alice(),
                    text: Some("earlier".into()),
                    attachments: vec![QuotedAttachment {
                        content_type: Some("image/png".into()),
                        thumbnail: Some(attachment.clone()),
                        ..QuotedAttachment::default()
                    }],
                    unknown: UnknownFields::default(),
                }),
                previews: vec![Preview {
                    url: "https://example.org".into(),
                    title: Some("Example".into()),
                    image: Some(attachment),
                    unknown: UnknownFields::default(),
                }],
                community_invitation: Some(CommunityInvitation {
                    url: "https://open.example/r/x?public_key=00".into(),
                    name: "X".into(),
                    unknown: UnknownFields::default(),
                }),
                data: data.clone(),
            }),
            Message::Reaction(ReactionMessage {
                reaction: Reaction {
                    id: 9,
                    author: alice(),
                    emoji: Some("👍".into()),
                    action: ReactionAction::Remove,
                    unknown: UnknownFields::default(),
                },
                data,
            }),
            Message::DisappearingSetting(DisappearingSetting::default()),
            Message::Typing(Typing {
                timestamp: 1,
                action: TypingAction::Stopped,
                unknown: UnknownFields::default(),
            }),
            Message::Receipt(Receipt {
                kind: ReceiptKind::Read,
                timestamps: vec![1, 2, 3],
                unknown: UnknownFields::default(),
            }),
            Message::Unsend(UnsendRequest {
                timestamp: 4,
                author: alice(),
                unknown: UnknownFields::default(),
            }),
            Message::MessageRequestResponse(MessageRequestResponse {
                is_approved: true,
                profile_key: Some(KeyBytes::new(vec![4; 32])),
                profile: Some(profile),
                unknown: UnknownFields::default(),
            }),
            Message::DataExtraction(DataExtraction {
                kind: DataExtractionKind::Screenshot,
                timestamp: None,
                unknown: UnknownFields::default(),
            }),
            Message::Call(CallMessage {
                kind: CallKind::IceCandidates,
                sdps: vec!["candidate:1".into(), "candidate:2".into()],
                sdp_m_line_indexes: vec![0, 1],
                sdp_mids: vec!["0".into(), "1".into()],
                uuid: "6f1c5a1e-0000-4000-8000-000000000000".into(),
                unknown: UnknownFields::default(),
            }),
        ];
        messages
            .into_iter()
            .map(|message| Content {
                message,
                expiration_type: Some(ExpirationType::DeleteAfterSend),
                expiration_timer: Some(86_400),
                sig_timestamp: Some(1_754_971_101_000),
                unknown: UnknownFields::default(),
            })
            .collect()
    }

    #[test]
    fn every_kind_round_trips() {
        for content in every_kind() {
            let bytes = content.to_bytes();
            assert_eq!(Content::try_from(bytes.as_slice()).unwrap(), content);
            assert_eq!(
                Content::from_padded(&content.to_padded_bytes()).unwrap(),
                content
            );
        }
    }

    #[test]
    fn unknown_fields_survive_at_every_level() {
        // An attachment with an unknown fixed32 field 50 and an unknown group 60.
        let attachment = [
            rec(1, 1, &[7, 0, 0, 0, 0, 0, 0, 0]),
            rec(50, 5, &[1, 2, 3, 4]),
            rec(60, 3, &rec(1, 0, &[5])),
            rec(60, 4, &[]),
        ]
        .concat();
        // A profile with an unknown field 9.
        let profile = [rec(1, 2, b"Al"), rec(9, 0, &[1])].concat();
        // A data message with a body, the attachment, the profile and groups v2's field 120.
        let data = [
            rec(1, 2, b"hi"),
            rec(2, 2, &attachment),
            rec(101, 2, &profile),
            rec(120, 2, &rec(1, 2, b"group update")),
        ]
        .concat();
        // A Content with the data message, Session Pro's fields 16 and 17 and an undefined
        // expiration type (kept as an unknown field, as proto2 does).
        let content = [
            rec(1, 2, &data),
            rec(12, 0, &[9]),
            rec(15, 0, &[42]),
            rec(16, 2, &rec(2, 0, &[1])),
            rec(17, 2, &[0xaa; 64]),
        ]
        .concat();
        let decoded = Content::try_from(content.as_slice()).unwrap();
        assert_eq!(decoded.unknown.field_numbers(), [12, 16, 17]);
        assert_eq!(decoded.expiration_type, None);
        let Message::Visible(visible) = &decoded.message else {
            panic!("{decoded:?}")
        };
        assert_eq!(visible.data.unknown.field_numbers(), [120]);
        assert_eq!(visible.attachments[0].unknown.field_numbers(), [50, 60]);
        assert_eq!(
            visible
                .data
                .profile
                .as_ref()
                .unwrap()
                .unknown
                .field_numbers(),
            [9]
        );
        // Written back byte for byte (the input is in field-number order).
        assert_eq!(decoded.to_bytes(), content);
        // Unknown fields given out of order come back sorted, and stay stable from then on.
        let shuffled = [rec(17, 2, &[0xaa; 64]), rec(1, 2, &data), rec(16, 2, &[])].concat();
        let once = Content::try_from(shuffled.as_slice()).unwrap().to_bytes();
        assert_eq!(
            once,
            [rec(1, 2, &data), rec(16, 2, &[]), rec(17, 2, &[0xaa; 64])].concat()
        );
        assert_eq!(Content::try_from(once.as_slice()).unwrap().to_bytes(), once);
    }

    #[test]
    fn fields_without_meaning_for_the_kind_are_kept() {
        let reaction = [
            rec(1, 0, &[9]),
            rec(2, 2, ALICE.as_bytes()),
            rec(4, 0, &[0]),
        ]
        .concat();
        // A reaction next to a body, and a typing message next to the data message.
        let data = [rec(1, 2, b"ignored"), rec(11, 2, &reaction)].concat();
        let typing = [rec(1, 0, &[1]), rec(2, 0, &[0])].concat();
        let content = [rec(1, 2, &data), rec(6, 2, &typing)].concat();
        let decoded = Content::try_from(content.as_slice()).unwrap();
        let Message::Reaction(r) = &decoded.message else {
            panic!("{decoded:?}")
        };
        assert_eq!(r.reaction.action, ReactionAction::React);
        assert_eq!(r.data.unknown.field_numbers(), [1]);
        assert_eq!(decoded.unknown.field_numbers(), [6]);
        assert_eq!(decoded.to_bytes(), content);
    }

    #[test]
    fn missing_required_fields_are_typed_errors() {
        let cases: Vec<(Vec<u8>, &str)> = vec![
            (rec(6, 2, &rec(1, 0, &[1])), "TypingMessage.action"),
            (rec(6, 2, &rec(2, 0, &[1])), "TypingMessage.timestamp"),
            (rec(5, 2, &rec(2, 0, &[1])), "ReceiptMessage.type"),
            (
                rec(8, 2, &rec(2, 0, &[1])),
                "DataExtractionNotification.type",
            ),
            (rec(9, 2, &rec(1, 0, &[1])), "UnsendRequest.author"),
            (rec(10, 2, &[]), "MessageRequestResponse.isApproved"),
            (rec(3, 2, &rec(1, 0, &[1])), "CallMessage.uuid"),
            (
                rec(1, 2, &rec(2, 2, &rec(2, 2, b"x"))),
                "AttachmentPointer.id",
            ),
            (rec(1, 2, &rec(8, 2, &rec(1, 0, &[1]))), "Quote.author"),
            (rec(1, 2, &rec(10, 2, &rec(2, 2, b"t"))), "Preview.url"),
            (rec(1, 2, &rec(11, 2, &rec(1, 0, &[1]))), "Reaction.author"),
            (
                rec(1, 2, &rec(102, 2, &rec(1, 2, b"u"))),
                "OpenGroupInvitation.name",
            ),
        ];
        for (bytes, field) in cases {
            assert_eq!(
                Content::try_from(bytes.as_slice()),
                Err(DecodeError::MissingField { field }),
                "{field}"
            );
        }
    }

    #[test]
    fn bad_values_are_typed_errors() {
        let typing = [rec(1, 0, &[1]), rec(2, 0, &[7])].concat();
        assert_eq!(
            Content::try_from(rec(6, 2, &typing).as_slice()),
            Err(DecodeError::UnknownEnumValue {
                field: "TypingMessage.action",
                value: 7
            })
        );
        let unsend = [rec(1, 0, &[1]), rec(2, 2, b"05nothex")].concat();
        assert!(matches!(
            Content::try_from(rec(9, 2, &unsend).as_slice()),
            Err(DecodeError::InvalidId {
                field: "UnsendRequest.author",
                ..
            })
        ));
        assert_eq!(
            Content::try_from(rec(13, 0, &[1]).as_slice()),
            Err(DecodeError::NoMessage)
        );
        assert_eq!(Content::try_from(&[][..]), Err(DecodeError::NoMessage));
        assert_eq!(
            Content::try_from(&[0x0a, 0x05, 0x01][..]),
            Err(DecodeError::Malformed {
                message: "Content",
                reason: WireError::Truncated
            })
        );
        // Not UTF-8, and a wire type that does not fit the declared field.
        let body = rec(1, 2, &rec(1, 2, &[0xff, 0xfe]));
        assert!(matches!(
            Content::try_from(body.as_slice()),
            Err(DecodeError::Protobuf {
                message: "Content",
                ..
            })
        ));
        assert!(matches!(
            Content::try_from(rec(1, 0, &[1]).as_slice()),
            Err(DecodeError::Protobuf { .. })
        ));
    }

    #[test]
    fn keys_are_not_printed() {
        let content = &every_kind()[0];
        let shown = format!("{content:?}");
        assert!(shown.contains("KeyBytes(64 bytes, redacted)"), "{shown}");
        assert!(!shown.contains("[1, 1, 1"), "{shown}");
    }
}
