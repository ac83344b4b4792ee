//! Community requests and answers without I/O: join links, signed v4 requests, and the
//! parsing of room messages, reactions and DMs (spec `shared/spec/groups.md` §4).

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::Value;
use sotto_crypto::{Ed25519PublicKey, Signature, X25519PublicKey};
use sotto_envelope::{Content, Message};
use sotto_identity::blinding::Blind15Nonce;
use sotto_identity::sogs::{SogsAuth, SogsRequest};
use sotto_identity::{Account, IdPrefix, PrefixedId};
use sotto_onion::{V4Request, V4Response};

use super::CommunityError;
use crate::net::OnionServer;

/// The longest join link read.
const MAX_LINK: usize = 2048;

/// A community room's join link, `http(s)://HOST[:PORT]/ROOM?public_key=HEX`: the server's
/// base URL, the room's token and the server's X25519 key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JoinLink {
    /// `http(s)://host[:port]`, without a trailing `/`.
    pub base_url: String,
    /// The room's token (1–64 of `A-Z a-z 0-9 _ -`).
    pub room: String,
    /// The server's X25519 public key (`server_pk` of every SOGS formula).
    pub server_pk: [u8; 32],
}

/// Whether `token` is a valid room token.
#[must_use]
pub fn valid_token(token: &str) -> bool {
    (1..=64).contains(&token.len())
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

impl JoinLink {
    /// Reads a join link.
    ///
    /// # Errors
    /// [`CommunityError::InvalidLink`] naming what is wrong.
    pub fn parse(link: &str) -> Result<Self, CommunityError> {
        let bad = CommunityError::InvalidLink;
        let link = link.trim();
        if link.len() > MAX_LINK {
            return Err(bad("the link is too long"));
        }
        let (protocol, host, port, parsed) = crate::net::server::split_url(link)
            .ok_or(bad("expected http(s)://HOST[:PORT]/ROOM?public_key=HEX"))?;
        if parsed.fragment().is_some() {
            return Err(bad("a join link has no #fragment"));
        }
        let room = parsed
            .path()
            .strip_prefix('/')
            .filter(|room| !room.is_empty())
            .ok_or(bad(
                "it has no room: expected http://HOST:PORT/ROOM?public_key=HEX",
            ))?;
        if !valid_token(room) {
            return Err(bad("the room token must be 1–64 of A-Z a-z 0-9 _ -"));
        }
        let key = parsed
            .query_pairs()
            .find_map(|(k, v)| (k == "public_key").then_some(v))
            .ok_or(bad("it has no ?public_key=HEX"))?;
        let mut server_pk = [0u8; 32];
        hex::decode_to_slice(key.as_bytes(), &mut server_pk)
            .map_err(|_| bad("public_key must be 64 hex digits"))?;
        let server = OnionServer {
            protocol,
            host,
            port,
            x25519: X25519PublicKey(server_pk),
        };
        let base_url = server.base_url();
        Ok(Self {
            base_url,
            room: room.to_owned(),
            server_pk,
        })
    }

    /// The server as onion requests reach it.
    ///
    /// # Errors
    /// [`CommunityError::InvalidLink`] when the base URL is unusable (it was checked when
    /// parsed, so only for links built by hand).
    pub fn server(&self) -> Result<OnionServer, CommunityError> {
        server_of(&self.base_url, &self.server_pk)
    }
}

impl core::fmt::Display for JoinLink {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(
            f,
            "{}/{}?public_key={}",
            self.base_url,
            self.room,
            hex::encode(self.server_pk)
        )
    }
}

/// The server at `base_url` with key `server_pk`.
pub(crate) fn server_of(
    base_url: &str,
    server_pk: &[u8; 32],
) -> Result<OnionServer, CommunityError> {
    OnionServer::new(base_url, X25519PublicKey(*server_pk))
        .map_err(|_| CommunityError::InvalidLink("the server address is not HOST[:PORT]"))
}

/// Percent-encodes one path segment (everything but unreserved ASCII).
#[must_use]
pub(crate) fn encode_segment(text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 3);
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// One request to sign: the endpoint as sent (percent-encoded) and as signed (decoded).
#[derive(Debug, Clone)]
pub(crate) struct Call {
    pub(crate) method: &'static str,
    /// As sent, e.g. `/room/lobby/reaction/5/%F0%9F%91%8D`.
    pub(crate) endpoint: String,
    /// As signed: the same with segments decoded, e.g. `/room/lobby/reaction/5/👍`.
    pub(crate) signed_path: String,
    /// A JSON body.
    pub(crate) body: Option<Value>,
}

impl Call {
    /// A call whose path has no encoded parts.
    pub(crate) fn new(method: &'static str, path: String, body: Option<Value>) -> Self {
        Self {
            method,
            endpoint: path.clone(),
            signed_path: path,
            body,
        }
    }

    /// The call as a `/batch` subrequest.
    pub(crate) fn subrequest(&self) -> Value {
        let mut sub = serde_json::json!({ "method": self.method, "path": self.endpoint });
        if let (Some(body), Some(obj)) = (&self.body, sub.as_object_mut()) {
            obj.insert("json".into(), body.clone());
        }
        sub
    }

    /// The v4 request, signed as `account` with its 15-blinded key at `now_s` with `nonce`.
    pub(crate) fn sign(
        &self,
        account: &Account,
        server_pk: &[u8; 32],
        now_s: u64,
        nonce: &[u8; 16],
    ) -> V4Request {
        let body = self.body.as_ref().map(|b| b.to_string().into_bytes());
        let headers = SogsRequest {
            server_pk,
            nonce,
            timestamp: now_s,
            method: self.method,
            path: &self.signed_path,
            body: body.as_deref().filter(|b| !b.is_empty()),
        }
        .sign(account, SogsAuth::Blinded15(Blind15Nonce::Standard));
        let mut pairs: Vec<(String, String)> = headers
            .to_pairs()
            .into_iter()
            .map(|(n, v)| (n.to_owned(), v))
            .collect();
        if body.is_some() {
            pairs.push(("Content-Type".into(), "application/json".into()));
        }
        V4Request {
            method: self.method.into(),
            endpoint: self.endpoint.clone(),
            headers: pairs,
            body,
        }
    }
}

/// The short text of a refusal: the server's plain-text body, cut to 200 characters.
fn refusal(code: u16, body: &[u8]) -> CommunityError {
    let text = String::from_utf8_lossy(body);
    let message = text
        .trim()
        .chars()
        .filter(|c| !c.is_control())
        .take(200)
        .collect();
    CommunityError::Refused {
        status: code,
        message,
    }
}

/// The JSON body of a 2xx answer, else the refusal.
pub(crate) fn json_answer(resp: &V4Response) -> Result<Value, CommunityError> {
    let body = resp.body.as_deref().unwrap_or_default();
    if !(200..300).contains(&resp.code) {
        return Err(refusal(resp.code, body));
    }
    if body.is_empty() {
        return Ok(Value::Null);
    }
    serde_json::from_slice(body).map_err(|_| CommunityError::Malformed("a JSON answer"))
}

/// One answer of a `/batch`: its code and body (JSON, or the base64 text of a non-JSON body).
pub(crate) fn batch_answers(
    resp: &V4Response,
    expected: usize,
) -> Result<Vec<(u16, Value)>, CommunityError> {
    let list = json_answer(resp)?;
    let list = list
        .as_array()
        .filter(|l| l.len() == expected)
        .ok_or(CommunityError::Malformed("a batch answer"))?;
    list.iter()
        .map(|item| {
            let code = item
                .get("code")
                .and_then(Value::as_u64)
                .and_then(|c| u16::try_from(c).ok())
                .ok_or(CommunityError::Malformed("a batch answer's code"))?;
            Ok((code, item.get("body").cloned().unwrap_or(Value::Null)))
        })
        .collect()
}

/// A sub-answer as a result: its body on 2xx, else the refusal (the server's text is base64
/// in a batch).
pub(crate) fn sub_answer(code: u16, body: Value) -> Result<Value, CommunityError> {
    if (200..300).contains(&code) {
        return Ok(body);
    }
    let text = body
        .as_str()
        .and_then(|b| STANDARD.decode(b).ok())
        .unwrap_or_default();
    Err(refusal(code, &text))
}

/// One reaction on a message, as the server counts it.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ReactionCount {
    /// How many reacted.
    pub count: u64,
    /// Whether this account is one of them.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub you: bool,
}

/// Reactions by emoji.
pub type Reactions = BTreeMap<String, ReactionCount>;

/// One change of a room as `messages/since` lists it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Update {
    /// A message, new, edited or deleted (`data` is `None` when deleted).
    Message {
        id: i64,
        sender: String,
        posted_ms: i64,
        edited_ms: Option<i64>,
        seqno: i64,
        data: Option<Vec<u8>>,
        signature: Option<Vec<u8>>,
        reactions: Reactions,
    },
    /// Only the reactions of a message changed.
    Reactions {
        id: i64,
        seqno: Option<i64>,
        reactions: Reactions,
    },
}

fn ms(seconds: f64) -> i64 {
    #[allow(clippy::cast_possible_truncation, reason = "times in ms fit in i64")]
    let ms = (seconds * 1000.0).round() as i64;
    ms
}

fn reactions_of(v: Option<&Value>) -> Reactions {
    v.and_then(Value::as_object)
        .map(|map| {
            map.iter()
                .map(|(emoji, r)| {
                    (
                        emoji.clone(),
                        ReactionCount {
                            count: r.get("count").and_then(Value::as_u64).unwrap_or(0),
                            you: r.get("you").and_then(Value::as_bool).unwrap_or(false),
                        },
                    )
                })
                .filter(|(_, r)| r.count > 0)
                .collect()
        })
        .unwrap_or_default()
}

fn b64(v: Option<&Value>) -> Option<Vec<u8>> {
    v.and_then(Value::as_str)
        .and_then(|s| STANDARD.decode(s).ok())
}

/// Parses one message object (or reaction-only update); `None` when malformed.
pub(crate) fn parse_update(v: &Value) -> Option<Update> {
    let id = v.get("id")?.as_i64()?;
    let seqno = v.get("seqno").and_then(Value::as_i64);
    if v.get("data").is_none() && v.get("deleted").is_none() {
        return Some(Update::Reactions {
            id,
            seqno,
            reactions: reactions_of(v.get("reactions")),
        });
    }
    let deleted = v.get("deleted").and_then(Value::as_bool).unwrap_or(false);
    Some(Update::Message {
        id,
        sender: v.get("session_id")?.as_str()?.to_owned(),
        posted_ms: ms(v.get("posted")?.as_f64()?),
        edited_ms: v.get("edited").and_then(Value::as_f64).map(ms),
        seqno: seqno?,
        data: if deleted { None } else { b64(v.get("data")) },
        signature: b64(v.get("signature")),
        reactions: reactions_of(v.get("reactions")),
    })
}

/// What a verified post says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Post {
    pub(crate) text: Option<String>,
    pub(crate) sent_ms: Option<u64>,
    pub(crate) display_name: Option<String>,
    pub(crate) quote: Option<(u64, String, Option<String>)>,
}

/// Checks a post's signature under the sender's key (15-, 25-blinded or `00` Ed25519) and
/// reads its Content; `None` when the signature fails or the Content is not a visible
/// message.
pub(crate) fn open_post(sender: &str, data: &[u8], signature: Option<&[u8]>) -> Option<Post> {
    let id: PrefixedId = sender.parse().ok()?;
    if !matches!(
        id.prefix(),
        IdPrefix::Blinded15 | IdPrefix::Blinded25 | IdPrefix::Unblinded
    ) {
        return None;
    }
    let sig: [u8; 64] = signature?.try_into().ok()?;
    Ed25519PublicKey(*id.key())
        .verify(data, &Signature(sig))
        .ok()?;
    visible(data)
}

/// Reads padded Content bytes as a visible message.
pub(crate) fn visible(data: &[u8]) -> Option<Post> {
    let content = Content::from_padded(data).ok()?;
    let Message::Visible(v) = content.message else {
        return None;
    };
    Some(Post {
        text: v.body,
        sent_ms: v.data.timestamp,
        display_name: v.data.profile.and_then(|p| p.display_name),
        quote: v.quote.map(|q| (q.id, q.author.to_string(), q.text)),
    })
}

/// One DM as `/inbox` and `/outbox` list it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RawDm {
    pub(crate) id: i64,
    pub(crate) posted_ms: i64,
    pub(crate) sender: PrefixedId,
    pub(crate) recipient: PrefixedId,
    pub(crate) message: Vec<u8>,
}

/// Parses a DM list; malformed entries are skipped.
pub(crate) fn parse_dms(v: &Value) -> Vec<RawDm> {
    v.as_array()
        .map(|list| {
            list.iter()
                .filter_map(|d| {
                    Some(RawDm {
                        id: d.get("id")?.as_i64()?,
                        posted_ms: ms(d.get("posted_at")?.as_f64()?),
                        sender: d.get("sender")?.as_str()?.parse().ok()?,
                        recipient: d.get("recipient")?.as_str()?.parse().ok()?,
                        message: b64(d.get("message"))?,
                    })
                })
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use sotto_crypto::OsRng;
    use sotto_envelope::VisibleMessage;

    #[test]
    fn join_links_are_read_and_printed() {
        let key = "a".repeat(64);
        let link =
            JoinLink::parse(&format!("http://127.0.0.5:8080/lobby?public_key={key}")).unwrap();
        assert_eq!(link.base_url, "http://127.0.0.5:8080");
        assert_eq!(link.room, "lobby");
        assert_eq!(link.server_pk, [0xaa; 32]);
        assert_eq!(
            link.to_string(),
            format!("http://127.0.0.5:8080/lobby?public_key={key}")
        );
        assert_eq!(link.server().unwrap().port, Some(8080));
        let ok = JoinLink::parse(&format!(
            "https://open.example.org/r-1?x=1&public_key={key}"
        ));
        assert_eq!(ok.unwrap().base_url, "https://open.example.org");
        for bad in [
            format!("ftp://a/lobby?public_key={key}"),
            format!("http://a?public_key={key}"),
            "http://a/lobby".to_owned(),
            "http://a/lobby?public_key=zz".to_owned(),
            format!("http://a/lob/by?public_key={key}"),
            format!("http://a//?public_key={key}"),
            format!("http://a:0/lobby?public_key={key}"),
            format!("http:///lobby?public_key={key}"),
            format!("http://a/{}?public_key={key}", "x".repeat(65)),
        ] {
            assert!(JoinLink::parse(&bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn segments_are_percent_encoded() {
        assert_eq!(encode_segment("abc-_.~"), "abc-_.~");
        assert_eq!(encode_segment("👍"), "%F0%9F%91%8D");
        assert_eq!(encode_segment("a/b"), "a%2Fb");
    }

    #[test]
    fn signed_requests_verify_under_the_blinded_key() {
        let account = Account::generate(&mut OsRng);
        let server_pk = [7u8; 32];
        let call = Call {
            method: "PUT",
            endpoint: "/room/r/reaction/1/%F0%9F%91%8D".into(),
            signed_path: "/room/r/reaction/1/👍".into(),
            body: Some(serde_json::json!({})),
        };
        let req = call.sign(&account, &server_pk, 1_700_000_000, &[3; 16]);
        let header = |n: &str| {
            req.headers
                .iter()
                .find(|(k, _)| k == n)
                .map(|(_, v)| v.clone())
                .unwrap()
        };
        let pubkey: PrefixedId = header("X-SOGS-Pubkey").parse().unwrap();
        assert_eq!(pubkey, account.blind15(&server_pk).id());
        let body = req.body.clone().unwrap();
        let msg = SogsRequest {
            server_pk: &server_pk,
            nonce: &[3; 16],
            timestamp: 1_700_000_000,
            method: "PUT",
            path: "/room/r/reaction/1/👍",
            body: Some(&body),
        }
        .signed_message();
        let sig: [u8; 64] = STANDARD
            .decode(header("X-SOGS-Signature"))
            .unwrap()
            .try_into()
            .unwrap();
        Ed25519PublicKey(*pubkey.key())
            .verify(&msg, &Signature(sig))
            .unwrap();
        assert_eq!(header("Content-Type"), "application/json");
    }

    #[test]
    fn posts_are_opened_only_with_a_good_signature() {
        let account = Account::generate(&mut OsRng);
        let keys = account.blind15(&[1; 32]);
        let mut v = VisibleMessage::text("hi there");
        v.data.timestamp = Some(1234);
        let data = Content::new(Message::Visible(v)).to_padded_bytes();
        let sig = keys.sign(&data);
        let sender = keys.id().to_string();
        let post = open_post(&sender, &data, Some(&sig.0)).unwrap();
        assert_eq!(post.text.as_deref(), Some("hi there"));
        assert_eq!(post.sent_ms, Some(1234));
        let mut forged = sig.0;
        forged[0] ^= 1;
        assert!(open_post(&sender, &data, Some(&forged)).is_none());
        assert!(open_post(&sender, &data, None).is_none());
        let other = Account::generate(&mut OsRng)
            .blind15(&[1; 32])
            .id()
            .to_string();
        assert!(open_post(&other, &data, Some(&sig.0)).is_none());
        assert!(open_post(&account.session_id().to_string(), &data, Some(&sig.0)).is_none());
    }

    #[test]
    fn updates_parse() {
        let m = serde_json::json!({"id": 3, "session_id": "15ab", "posted": 1.5, "seqno": 9,
            "data": STANDARD.encode(b"x"), "signature": STANDARD.encode([0u8; 64]),
            "reactions": {"👍": {"index": 0, "count": 2, "you": true}, "x": {"count": 0}}});
        let Some(Update::Message {
            id,
            posted_ms,
            seqno,
            data,
            reactions,
            ..
        }) = parse_update(&m)
        else {
            panic!()
        };
        assert_eq!(
            (id, posted_ms, seqno, data.as_deref()),
            (3, 1500, 9, Some(&b"x"[..]))
        );
        assert_eq!(reactions.len(), 1);
        assert!(reactions["👍"].you);
        let d = serde_json::json!({"id": 3, "session_id": "15ab", "posted": 1.5, "seqno": 10,
            "data": null, "deleted": true});
        assert!(matches!(
            parse_update(&d),
            Some(Update::Message { data: None, .. })
        ));
        let r = serde_json::json!({"id": 3, "seqno": 11, "reactions": {}});
        assert!(matches!(
            parse_update(&r),
            Some(Update::Reactions {
                seqno: Some(11),
                ..
            })
        ));
        assert!(parse_update(&serde_json::json!({"seqno": 1})).is_none());
        assert!(parse_update(&serde_json::json!("x")).is_none());
    }
}
