//! The Envelope around an encrypted message and the WebSocket wrapper around a 1:1 Envelope.

use sotto_crypto::Signature;
use sotto_identity::PrefixedId;

use crate::DecodeError;
use crate::generated::{session as proto, web_socket as ws};
use crate::padding::PaddingRule;
use crate::parts::{bytes_conversions, id_field, nested, wire_enum};
use crate::wire::{UnknownFields, Writer, parse};

wire_enum! {
    /// What an Envelope carries.
    EnvelopeType => proto::envelope::Type {
        /// A 1:1 message (or a sync copy): `content` is session-protocol ciphertext.
        SessionMessage = SessionMessage,
        /// A group message.
        ClosedGroupMessage = ClosedGroupMessage,
    }
}

/// How a sender lays out a 1:1 message. Receivers accept both.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum WireStyle {
    /// libsession (2025+): 160-byte padding, `sourceDevice = 1`, WebSocket verb and path
    /// present but empty.
    #[default]
    Libsession,
    /// Session desktop before October 2025: legacy padding, no `sourceDevice`, verb `PUT` and
    /// path `/api/v1/message`.
    DesktopLegacy,
}

impl WireStyle {
    /// The padding rule of this style.
    #[must_use]
    pub fn padding(self) -> PaddingRule {
        match self {
            Self::Libsession => PaddingRule::Current,
            Self::DesktopLegacy => PaddingRule::DesktopLegacy,
        }
    }

    fn verb_and_path(self) -> (&'static str, &'static str) {
        match self {
            Self::Libsession => ("", ""),
            Self::DesktopLegacy => ("PUT", "/api/v1/message"),
        }
    }
}

/// The outer message stored in a swarm.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    /// What it carries.
    pub kind: EnvelopeType,
    /// The sender's ID where one is given (not for 1:1; a present but empty `source`, which some
    /// clients send, reads as `None` and is kept in `unknown`).
    pub source: Option<PrefixedId>,
    /// Sent timestamp, ms since the Unix epoch. Not authenticated for 1:1 messages: compare
    /// with the Content's `sig_timestamp`.
    pub timestamp: u64,
    /// Sender device (libsession writes 1).
    pub source_device: Option<u32>,
    /// The encrypted message.
    pub content: Vec<u8>,
    /// Set by servers, not clients.
    pub server_timestamp: Option<u64>,
    /// Session Pro signature over `content` (receivers tolerate its absence).
    pub pro_sig: Option<Signature>,
    /// Fields kept as received.
    pub unknown: UnknownFields,
}

impl Envelope {
    /// A 1:1 envelope for `content` (session-protocol ciphertext), laid out in `style`.
    #[must_use]
    pub fn one_to_one(timestamp: u64, content: Vec<u8>, style: WireStyle) -> Self {
        Self {
            kind: EnvelopeType::SessionMessage,
            source: None,
            timestamp,
            source_device: (style == WireStyle::Libsession).then_some(1),
            content,
            server_timestamp: None,
            pro_sig: None,
            unknown: UnknownFields::default(),
        }
    }

    pub(crate) fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let (p, f) = parse::<proto::Envelope>(bytes, "Envelope")?;
        f.require(1, "Envelope.type")?;
        f.require(5, "Envelope.timestamp")?;
        let content = p.content.ok_or(DecodeError::MissingField {
            field: "Envelope.content",
        })?;
        let source = match p.source.as_deref() {
            None | Some("") => None,
            Some(text) => Some(id_field(text, "Envelope.source")?),
        };
        let pro_sig = p
            .pro_sig
            .map(|sig| {
                Signature::from_slice(&sig).map_err(|_| DecodeError::Length {
                    field: "Envelope.proSig",
                    expected: 64,
                    found: sig.len(),
                })
            })
            .transpose()?;
        let surfaced: &[u32] = if source.is_some() {
            &[1, 2, 5, 7, 8, 10, 11]
        } else {
            &[1, 5, 7, 8, 10, 11]
        };
        Ok(Self {
            kind: EnvelopeType::required(p.r#type, "Envelope.type")?,
            source,
            timestamp: p.timestamp,
            source_device: p.source_device,
            content,
            server_timestamp: p.server_timestamp,
            pro_sig,
            unknown: f.unknown(surfaced),
        })
    }

    pub(crate) fn encode(&self) -> Vec<u8> {
        Writer::new(&proto::Envelope {
            r#type: self.kind.number(),
            source: self.source.map(|s| s.to_string()),
            timestamp: self.timestamp,
            source_device: self.source_device,
            content: Some(self.content.clone()),
            server_timestamp: self.server_timestamp,
            pro_sig: self.pro_sig.map(|s| s.to_bytes().to_vec()),
        })
        .finish(&self.unknown)
    }
}

wire_enum! {
    /// `WebSocketMessage.type`.
    WebSocketMessageType => ws::web_socket_message::Type {
        /// Unset.
        Unknown = Unknown,
        /// A request (what carries a 1:1 Envelope).
        Request = Request,
        /// A response.
        Response = Response,
    }
}

/// `WebSocketRequestMessage`: `body` is the serialized Envelope; the rest is ignored on receipt.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WebSocketRequest {
    /// HTTP-like verb.
    pub verb: Option<String>,
    /// HTTP-like path.
    pub path: Option<String>,
    /// The serialized Envelope.
    pub body: Option<Vec<u8>>,
    /// Request id (desktop: `id`).
    pub request_id: Option<u64>,
    /// Headers.
    pub headers: Vec<String>,
    /// Fields kept as received.
    pub unknown: UnknownFields,
}

impl WebSocketRequest {
    /// The request that carries `envelope` (serialized), laid out in `style`.
    #[must_use]
    pub fn carrying(envelope: Vec<u8>, style: WireStyle) -> Self {
        let (verb, path) = style.verb_and_path();
        Self {
            verb: Some(verb.to_owned()),
            path: Some(path.to_owned()),
            body: Some(envelope),
            request_id: Some(0),
            headers: Vec::new(),
            unknown: UnknownFields::default(),
        }
    }

    pub(crate) fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let (p, f) = parse::<ws::WebSocketRequestMessage>(bytes, "WebSocketRequestMessage")?;
        Ok(Self {
            verb: p.verb,
            path: p.path,
            body: p.body,
            request_id: p.request_id,
            headers: p.headers,
            unknown: f.unknown(&[1, 2, 3, 4, 5]),
        })
    }

    pub(crate) fn encode(&self) -> Vec<u8> {
        Writer::new(&ws::WebSocketRequestMessage {
            verb: self.verb.clone(),
            path: self.path.clone(),
            body: self.body.clone(),
            request_id: self.request_id,
            headers: self.headers.clone(),
        })
        .finish(&self.unknown)
    }
}

/// `WebSocketMessage`: the wrapper a 1:1 Envelope is stored in.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WebSocketMessage {
    /// The message type (an undefined value reads as `None` and is kept in `unknown`).
    pub kind: Option<WebSocketMessageType>,
    /// The request.
    pub request: Option<WebSocketRequest>,
    /// Fields kept as received.
    pub unknown: UnknownFields,
}

impl WebSocketMessage {
    /// A REQUEST message carrying `envelope` (serialized), laid out in `style`.
    #[must_use]
    pub fn carrying(envelope: Vec<u8>, style: WireStyle) -> Self {
        Self {
            kind: Some(WebSocketMessageType::Request),
            request: Some(WebSocketRequest::carrying(envelope, style)),
            unknown: UnknownFields::default(),
        }
    }

    /// The serialized Envelope: `request.body`, the only part receivers read.
    pub fn envelope_bytes(&self) -> Result<&[u8], DecodeError> {
        self.request
            .as_ref()
            .ok_or(DecodeError::MissingField {
                field: "WebSocketMessage.request",
            })?
            .body
            .as_deref()
            .ok_or(DecodeError::MissingField {
                field: "WebSocketRequestMessage.body",
            })
    }

    pub(crate) fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let (p, f) = parse::<ws::WebSocketMessage>(bytes, "WebSocketMessage")?;
        let kind = p.r#type.and_then(WebSocketMessageType::from_number);
        let surfaced: &[u32] = if kind.is_some() || p.r#type.is_none() {
            &[1, 2]
        } else {
            &[2]
        };
        Ok(Self {
            kind,
            request: nested(&f, 2, WebSocketRequest::decode)?,
            unknown: f.unknown(surfaced),
        })
    }

    pub(crate) fn encode(&self) -> Vec<u8> {
        Writer::new(&ws::WebSocketMessage {
            r#type: self.kind.map(WebSocketMessageType::number),
            request: None,
        })
        .opt_message(2, self.request.as_ref(), WebSocketRequest::encode)
        .finish(&self.unknown)
    }
}

bytes_conversions!(Envelope, WebSocketRequest, WebSocketMessage);
