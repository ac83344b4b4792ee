//! Suite `envelope`: Content / AttachmentPointer protobuf encoding, and the 1:1 path from a
//! Content to a swarm's base64 `data` and back.

use std::cell::RefCell;
use std::collections::BTreeSet;

use serde_json::{Map, Value};
use sotto_envelope::{
    AttachmentPointer, CallKind, CallMessage, CommunityInvitation, Content, DataExtraction,
    DataExtractionKind, DataFields, DisappearingSetting, Envelope, ExpirationType, KeyBytes,
    Message, MessageRequestResponse, Preview, Profile, Quote, QuotedAttachment, Reaction,
    ReactionAction, ReactionMessage, Receipt, ReceiptKind, Typing, TypingAction, UnknownFields,
    UnsendRequest, VisibleMessage, WebSocketMessage, WebSocketRequest, WireStyle,
    decrypt_from_swarm, encrypt_for_recipient_deterministic, frame_for_swarm, pad_with,
    unframe_from_swarm,
};
use sotto_identity::{Account, PrefixedId, SessionId};

use super::case::{eq, eq_hex};
use super::{Case, CaseResult, Handler};

pub(super) fn handler(group: &str) -> Option<Handler> {
    Some(match group {
        "framing_1o1" => framing_1o1,
        "content_encoding" => content_encoding,
        _ => return None,
    })
}

/// A JSON object describing a protobuf message (snake_case field names with the value suffix
/// of the vector schema). Every key must be read: [`Obj::finish`] fails on any left over.
struct Obj<'a> {
    path: String,
    map: &'a Map<String, Value>,
    used: RefCell<BTreeSet<&'a str>>,
}

impl<'a> Obj<'a> {
    fn new(value: &'a Value, path: impl Into<String>) -> Result<Self, String> {
        let path = path.into();
        let map = value
            .as_object()
            .ok_or_else(|| format!("{path} is not an object"))?;
        Ok(Self {
            path,
            map,
            used: RefCell::default(),
        })
    }

    fn get(&self, key: &'a str) -> Option<&'a Value> {
        self.used.borrow_mut().insert(key);
        self.map.get(key).filter(|v| !v.is_null())
    }

    fn bad(&self, key: &str, what: &str) -> String {
        format!("{}.{key} is not {what}", self.path)
    }

    fn missing(&self, key: &str) -> String {
        format!("{}.{key} is missing", self.path)
    }

    fn opt_u64(&self, key: &'a str) -> Result<Option<u64>, String> {
        self.get(key)
            .map(|v| {
                v.as_u64()
                    .ok_or_else(|| self.bad(key, "an unsigned integer"))
            })
            .transpose()
    }

    fn u64(&self, key: &'a str) -> Result<u64, String> {
        self.opt_u64(key)?.ok_or_else(|| self.missing(key))
    }

    fn opt_u32(&self, key: &'a str) -> Result<Option<u32>, String> {
        self.opt_u64(key)?
            .map(|n| u32::try_from(n).map_err(|_| self.bad(key, "a u32")))
            .transpose()
    }

    fn number(&self, key: &'a str) -> Result<i32, String> {
        i32::try_from(self.u64(key)?).map_err(|_| self.bad(key, "an enum number"))
    }

    fn opt_bool(&self, key: &'a str) -> Result<Option<bool>, String> {
        self.get(key)
            .map(|v| v.as_bool().ok_or_else(|| self.bad(key, "a boolean")))
            .transpose()
    }

    fn opt_str(&self, key: &'a str) -> Result<Option<String>, String> {
        self.get(key)
            .map(|v| {
                v.as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| self.bad(key, "a string"))
            })
            .transpose()
    }

    fn str(&self, key: &'a str) -> Result<String, String> {
        self.opt_str(key)?.ok_or_else(|| self.missing(key))
    }

    fn opt_hex(&self, key: &'a str) -> Result<Option<Vec<u8>>, String> {
        self.opt_str(key)?
            .map(|s| hex::decode(s).map_err(|_| self.bad(key, "hex")))
            .transpose()
    }

    fn id(&self, key: &'a str) -> Result<PrefixedId, String> {
        self.str(key)?
            .parse()
            .map_err(|e| format!("{}.{key}: {e}", self.path))
    }

    fn opt_obj<T>(
        &self,
        key: &'a str,
        build: impl Fn(&Obj<'a>) -> Result<T, String>,
    ) -> Result<Option<T>, String> {
        self.get(key)
            .map(|v| Obj::new(v, format!("{}.{key}", self.path)).and_then(|o| o.read(&build)))
            .transpose()
    }

    fn list(&self, key: &'a str) -> Result<&'a [Value], String> {
        match self.get(key) {
            None => Ok(&[]),
            Some(v) => v
                .as_array()
                .map(Vec::as_slice)
                .ok_or_else(|| self.bad(key, "a list")),
        }
    }

    fn objs<T>(
        &self,
        key: &'a str,
        build: impl Fn(&Obj<'a>) -> Result<T, String>,
    ) -> Result<Vec<T>, String> {
        self.list(key)?
            .iter()
            .enumerate()
            .map(|(i, v)| Obj::new(v, format!("{}.{key}[{i}]", self.path))?.read(&build))
            .collect()
    }

    fn strs(&self, key: &'a str) -> Result<Vec<String>, String> {
        self.list(key)?
            .iter()
            .map(|v| {
                v.as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| self.bad(key, "a list of strings"))
            })
            .collect()
    }

    fn numbers<T: TryFrom<u64>>(&self, key: &'a str) -> Result<Vec<T>, String> {
        self.list(key)?
            .iter()
            .map(|v| {
                v.as_u64()
                    .and_then(|n| T::try_from(n).ok())
                    .ok_or_else(|| self.bad(key, "a list of integers"))
            })
            .collect()
    }

    /// Builds a value and then requires that every key was read.
    fn read<T>(&self, build: impl Fn(&Self) -> Result<T, String>) -> Result<T, String> {
        let value = build(self)?;
        let used = self.used.borrow();
        let unread: Vec<&str> = self
            .map
            .keys()
            .map(String::as_str)
            .filter(|k| !used.contains(k))
            .collect();
        if unread.is_empty() {
            Ok(value)
        } else {
            Err(format!(
                "{}: unknown key(s) {}",
                self.path,
                unread.join(", ")
            ))
        }
    }
}

fn enum_value<T>(o: &Obj<'_>, key: &'static str, from: fn(i32) -> Option<T>) -> Result<T, String> {
    let n = o.number(key)?;
    from(n).ok_or_else(|| format!("{}.{key}: undefined value {n}", o.path))
}

fn attachment(o: &Obj<'_>) -> Result<AttachmentPointer, String> {
    Ok(AttachmentPointer {
        id: o.u64("id")?,
        content_type: o.opt_str("content_type_utf8")?,
        key: o.opt_hex("key_hex")?.map(KeyBytes::new),
        size: o.opt_u32("size")?,
        thumbnail: o.opt_hex("thumbnail_hex")?,
        digest: o.opt_hex("digest_hex")?,
        file_name: o.opt_str("file_name_utf8")?,
        flags: o.opt_u32("flags")?,
        width: o.opt_u32("width")?,
        height: o.opt_u32("height")?,
        caption: o.opt_str("caption_utf8")?,
        url: o.opt_str("url_utf8")?,
        unknown: UnknownFields::default(),
    })
}

fn profile(o: &Obj<'_>) -> Result<Profile, String> {
    Ok(Profile {
        display_name: o.opt_str("display_name_utf8")?,
        picture_url: o.opt_str("profile_picture_utf8")?,
        last_update_seconds: o.opt_u64("last_update_seconds")?,
        unknown: UnknownFields::default(),
    })
}

fn quote(o: &Obj<'_>) -> Result<Quote, String> {
    Ok(Quote {
        id: o.u64("id")?,
        author: o.id("author_utf8")?,
        text: o.opt_str("text_utf8")?,
        attachments: o.objs("attachments", |a| {
            Ok(QuotedAttachment {
                content_type: a.opt_str("content_type_utf8")?,
                file_name: a.opt_str("file_name_utf8")?,
                thumbnail: a.opt_obj("thumbnail", attachment)?,
                flags: a.opt_u32("flags")?,
                unknown: UnknownFields::default(),
            })
        })?,
        unknown: UnknownFields::default(),
    })
}

fn reaction(o: &Obj<'_>) -> Result<Reaction, String> {
    Ok(Reaction {
        id: o.u64("id")?,
        author: o.id("author_utf8")?,
        emoji: o.opt_str("emoji_utf8")?,
        action: enum_value(o, "action", ReactionAction::from_number)?,
        unknown: UnknownFields::default(),
    })
}

/// A DataMessage, classified the way the spec describes: a reaction if it has one, else a
/// disappearing-setting change if its flags say so, else a visible message.
fn data_message(o: &Obj<'_>) -> Result<Message, String> {
    let data = DataFields {
        profile: o.opt_obj("profile", profile)?,
        profile_key: o.opt_hex("profile_key_hex")?.map(KeyBytes::new),
        flags: o.opt_u32("flags")?,
        timestamp: o.opt_u64("timestamp")?,
        sync_target: o
            .opt_str("sync_target_utf8")?
            .map(|t| t.parse().map_err(|e| format!("sync_target_utf8: {e}")))
            .transpose()?,
        blocks_community_message_requests: o.opt_bool("blocks_community_message_requests")?,
        unknown: UnknownFields::default(),
    };
    let visible = VisibleMessage {
        body: o.opt_str("body_utf8")?,
        attachments: o.objs("attachments", attachment)?,
        quote: o.opt_obj("quote", quote)?,
        previews: o.objs("preview", |p| {
            Ok(Preview {
                url: p.str("url_utf8")?,
                title: p.opt_str("title_utf8")?,
                image: p.opt_obj("image", attachment)?,
                unknown: UnknownFields::default(),
            })
        })?,
        community_invitation: o.opt_obj("open_group_invitation", |i| {
            Ok(CommunityInvitation {
                url: i.str("url_utf8")?,
                name: i.str("name_utf8")?,
                unknown: UnknownFields::default(),
            })
        })?,
        data: DataFields::default(),
    };
    let only_data = visible == VisibleMessage::default();
    if let Some(reaction) = o.opt_obj("reaction", reaction)? {
        if !only_data {
            return Err("a reaction with visible-message fields".into());
        }
        return Ok(Message::Reaction(ReactionMessage { reaction, data }));
    }
    if data.flags.unwrap_or(0) & DataFields::EXPIRATION_TIMER_UPDATE != 0 {
        if !only_data {
            return Err("a setting change with visible-message fields".into());
        }
        return Ok(Message::DisappearingSetting(DisappearingSetting { data }));
    }
    Ok(Message::Visible(VisibleMessage { data, ..visible }))
}

fn content(o: &Obj<'_>) -> Result<Content, String> {
    let kinds: [Option<Message>; 7] = [
        o.opt_obj("data_message", data_message)?,
        o.opt_obj("call_message", |c| {
            Ok(Message::Call(CallMessage {
                kind: enum_value(c, "type", CallKind::from_number)?,
                sdps: c.strs("sdps_utf8")?,
                sdp_m_line_indexes: c.numbers("sdp_m_line_indexes")?,
                sdp_mids: c.strs("sdp_mids_utf8")?,
                uuid: c.str("uuid_utf8")?,
                unknown: UnknownFields::default(),
            }))
        })?,
        o.opt_obj("receipt_message", |r| {
            Ok(Message::Receipt(Receipt {
                kind: enum_value(r, "type", ReceiptKind::from_number)?,
                timestamps: r.numbers("timestamp")?,
                unknown: UnknownFields::default(),
            }))
        })?,
        o.opt_obj("typing_message", |t| {
            Ok(Message::Typing(Typing {
                timestamp: t.u64("timestamp")?,
                action: enum_value(t, "action", TypingAction::from_number)?,
                unknown: UnknownFields::default(),
            }))
        })?,
        o.opt_obj("data_extraction_notification", |d| {
            Ok(Message::DataExtraction(DataExtraction {
                kind: enum_value(d, "type", DataExtractionKind::from_number)?,
                timestamp: d.opt_u64("timestamp")?,
                unknown: UnknownFields::default(),
            }))
        })?,
        o.opt_obj("unsend_request", |u| {
            Ok(Message::Unsend(UnsendRequest {
                timestamp: u.u64("timestamp")?,
                author: u.id("author_utf8")?,
                unknown: UnknownFields::default(),
            }))
        })?,
        o.opt_obj("message_request_response", |m| {
            Ok(Message::MessageRequestResponse(MessageRequestResponse {
                is_approved: m
                    .opt_bool("is_approved")?
                    .ok_or_else(|| m.missing("is_approved"))?,
                profile_key: m.opt_hex("profile_key_hex")?.map(KeyBytes::new),
                profile: m.opt_obj("profile", profile)?,
                unknown: UnknownFields::default(),
            }))
        })?,
    ];
    let mut present = kinds.into_iter().flatten();
    let message = present
        .next()
        .ok_or_else(|| format!("{}: no message kind", o.path))?;
    if present.next().is_some() {
        return Err(format!("{}: more than one message kind", o.path));
    }
    Ok(Content {
        message,
        expiration_type: o
            .get("expiration_type")
            .map(|_| enum_value(o, "expiration_type", ExpirationType::from_number))
            .transpose()?,
        expiration_timer: o.opt_u32("expiration_timer")?,
        sig_timestamp: o.opt_u64("sig_timestamp")?,
        unknown: UnknownFields::default(),
    })
}

fn content_encoding(case: &Case<'_>) -> CaseResult {
    let message = case.json("message")?;
    let want = case.hex("expected_protobuf_hex")?;
    match case.str("message_type")? {
        "Content" => {
            let built = Obj::new(message, "message")?.read(content)?;
            eq_hex("Content encoding", &built.to_bytes(), &want)?;
            let decoded = Content::try_from(want.as_slice()).map_err(|e| e.to_string())?;
            eq("decoded Content", decoded, built)
        }
        "AttachmentPointer" => {
            let built = Obj::new(message, "message")?.read(attachment)?;
            eq_hex("AttachmentPointer encoding", &built.to_bytes(), &want)?;
            let decoded =
                AttachmentPointer::try_from(want.as_slice()).map_err(|e| e.to_string())?;
            eq("decoded AttachmentPointer", decoded, built)
        }
        other => Err(format!("unknown message_type {other:?}")),
    }
}

fn framing_1o1(case: &Case<'_>) -> CaseResult {
    let style = match case.str("style")? {
        "libsession" => WireStyle::Libsession,
        "desktop_legacy" => WireStyle::DesktopLegacy,
        other => return Err(format!("unknown style {other:?}")),
    };
    let sender = Account::from_ed25519_seed(&case.hex_array("sender_ed25519_seed_hex")?);
    let recipient = Account::from_ed25519_seed(&case.hex_array("recipient_ed25519_seed_hex")?);
    let recipient_id: SessionId = case
        .str("recipient_session_id_hex")?
        .parse()
        .map_err(|e| format!("recipient_session_id_hex: {e}"))?;
    eq(
        "recipient Session ID of the seed",
        recipient.session_id(),
        recipient_id,
    )?;
    let timestamp = case.u64("timestamp_ms")?;

    // Content → bytes (both ways).
    let content = Obj::new(case.json("content_message")?, "content_message")?.read(content)?;
    let content_bytes = case.hex("content_hex")?;
    eq_hex("Content encoding", &content.to_bytes(), &content_bytes)?;
    eq(
        "decoded Content",
        Content::try_from(content_bytes.as_slice()).map_err(|e| e.to_string())?,
        content.clone(),
    )?;

    // Pad, encrypt, wrap.
    let padded = pad_with(&content_bytes, style.padding());
    eq_hex(
        "padded Content",
        &padded,
        &case.hex("expected_padded_content_hex")?,
    )?;
    let ciphertext = encrypt_for_recipient_deterministic(
        sender.ed25519_secret(),
        recipient_id.x25519(),
        &padded,
    )
    .map_err(|e| e.to_string())?;
    eq_hex(
        "ciphertext",
        &ciphertext,
        &case.hex("expected_ciphertext_hex")?,
    )?;
    let envelope = Envelope::one_to_one(timestamp, ciphertext, style);
    let envelope_bytes = envelope.to_bytes();
    eq_hex(
        "Envelope",
        &envelope_bytes,
        &case.hex("expected_envelope_hex")?,
    )?;
    eq_hex(
        "WebSocketRequestMessage",
        &WebSocketRequest::carrying(envelope_bytes.clone(), style).to_bytes(),
        &case.hex("expected_websocket_request_hex")?,
    )?;
    eq_hex(
        "WebSocketMessage",
        &WebSocketMessage::carrying(envelope_bytes, style).to_bytes(),
        &case.hex("expected_websocket_message_hex")?,
    )?;
    let data = frame_for_swarm(&envelope, style);
    let want_data = case.str("expected_swarm_data_b64")?;
    eq("swarm data", data.as_str(), want_data)?;

    // And back, from the expected bytes.
    eq(
        "unframed Envelope",
        unframe_from_swarm(want_data).map_err(|e| e.to_string())?,
        envelope,
    )?;
    let received = decrypt_from_swarm(&recipient, want_data).map_err(|e| e.to_string())?;
    eq("sender", received.sender, sender.session_id())?;
    eq("received Content", received.content, content)
}
