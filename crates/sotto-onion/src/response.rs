//! Responses travelling back to the client: the "v3" JSON wrapping a destination node puts
//! around a storage-RPC answer, and the client's side of both v3 and v4 responses.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use serde::Deserialize;
use sotto_crypto::CryptoRngCore;

use crate::hop::HopKey;
use crate::v4::V4Response;
use crate::{OnionError, layer};

/// How a destination node wraps its answer (from the final layer's JSON).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReplyOptions {
    /// `"json": true`: embed a JSON answer as a JSON value rather than as a string.
    pub json: bool,
    /// `"base64": false` returns the raw ciphertext; the default is base64 text.
    pub base64: bool,
}

impl Default for ReplyOptions {
    fn default() -> Self {
        Self {
            json: false,
            base64: true,
        }
    }
}

/// The answer a destination node wraps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReplyBody<'a> {
    /// Plain text (error messages).
    Text(&'a str),
    /// A JSON document (RPC results): embedded as a value when the client asked for `json`.
    Json(&'a str),
}

/// The plaintext `{"status": code, "body": …}` a destination node encrypts. The body is a JSON
/// string, unless `options.json` is set and the body is valid JSON, which is then embedded.
#[must_use]
pub fn v3_plaintext(status: u16, body: ReplyBody<'_>, options: ReplyOptions) -> String {
    match body {
        ReplyBody::Json(json)
            if options.json && serde_json::from_str::<serde::de::IgnoredAny>(json).is_ok() =>
        {
            format!(r#"{{"status":{status},"body":{}}}"#, json.trim())
        }
        ReplyBody::Json(text) | ReplyBody::Text(text) => {
            format!(
                r#"{{"status":{status},"body":{}}}"#,
                serde_json::Value::from(text)
            )
        }
    }
}

/// A destination node's whole reply: [`v3_plaintext`] encrypted with the layer's key, as
/// base64 text unless `options.base64` is false. The node sends it as an HTTP 200 body.
pub fn seal_v3(
    key: &HopKey,
    status: u16,
    body: ReplyBody<'_>,
    options: ReplyOptions,
    rng: &mut impl CryptoRngCore,
) -> Result<Vec<u8>, OnionError> {
    let ciphertext = key.encrypt(v3_plaintext(status, body, options).as_bytes(), rng)?;
    Ok(if options.base64 {
        STANDARD.encode(ciphertext).into_bytes()
    } else {
        ciphertext
    })
}

/// A storage-RPC answer as the client reads it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct V3Response {
    /// The RPC's HTTP-like status.
    pub status: u16,
    /// The RPC's body: the string, or the JSON text of an embedded value.
    pub body: String,
}

#[derive(Deserialize)]
struct Wrapped {
    result: String,
}

#[derive(Deserialize)]
struct V3Json {
    status: Option<u16>,
    status_code: Option<u16>,
    body: Option<serde_json::Value>,
}

/// The key with which the client reads the destination's response (its final layer's key).
#[derive(Clone, Debug)]
pub struct ResponseKey(pub(crate) HopKey);

impl ResponseKey {
    /// Wraps a hop key (the client's key for the destination's layer).
    #[must_use]
    pub fn new(key: HopKey) -> Self {
        Self(key)
    }

    /// The underlying key.
    #[must_use]
    pub fn hop_key(&self) -> &HopKey {
        &self.0
    }

    /// Reads a destination node's reply: base64 text (padded or not; also inside a
    /// `{"result": "…"}` wrapper) or raw ciphertext, decrypted, then
    /// `{"status" or "status_code": n, "body": …}`.
    pub fn open_v3(&self, reply: &[u8]) -> Result<V3Response, OnionError> {
        const WHAT: &str = "v3 response";
        let trimmed = reply.trim_ascii();
        let unwrapped = serde_json::from_slice::<Wrapped>(trimmed).ok();
        let text = unwrapped.as_ref().map_or(trimmed, |w| w.result.as_bytes());
        let ciphertext = STANDARD
            .decode(text)
            .or_else(|_| STANDARD_NO_PAD.decode(text));
        let plaintext = match ciphertext {
            Ok(ct) => self.0.decrypt(&ct)?,
            Err(_) if unwrapped.is_none() => self.0.decrypt(reply)?,
            Err(_) => return Err(OnionError::Base64 { what: WHAT }),
        };
        let parsed: V3Json = layer::parse_json(WHAT, &plaintext)?;
        let status = parsed
            .status_code
            .or(parsed.status)
            .ok_or(OnionError::MissingField {
                what: WHAT,
                field: "status",
            })?;
        let body = match parsed.body {
            Some(serde_json::Value::String(s)) => s,
            Some(serde_json::Value::Null) | None => String::new(),
            Some(value) => value.to_string(),
        };
        Ok(V3Response { status, body })
    }

    /// Reads a server's v4 reply (raw ciphertext, not base64): decrypts and decodes the
    /// bencoded `[meta, body?]`.
    pub fn open_v4(&self, reply: &[u8]) -> Result<V4Response, OnionError> {
        V4Response::decode(&self.0.decrypt(reply)?)
    }
}

#[cfg(test)]
mod tests {
    use rand_chacha::ChaCha20Rng;
    use rand_chacha::rand_core::SeedableRng;
    use sotto_crypto::SecretBytes;

    use super::*;
    use crate::EncType;

    fn key(enc: EncType) -> HopKey {
        let pk = sotto_crypto::X25519PublicKey([9; 32]);
        HopKey::derive(enc, &SecretBytes::new([1; 32]), &pk, &pk)
    }

    #[test]
    fn plaintext_shapes() {
        let opts = ReplyOptions::default();
        assert_eq!(
            v3_plaintext(200, ReplyBody::Json(r#"{"a":1}"#), opts),
            r#"{"status":200,"body":"{\"a\":1}"}"#
        );
        let json = ReplyOptions { json: true, ..opts };
        assert_eq!(
            v3_plaintext(200, ReplyBody::Json(r#"{"a":1}"#), json),
            r#"{"status":200,"body":{"a":1}}"#
        );
        assert_eq!(
            v3_plaintext(400, ReplyBody::Text("Invalid json"), json),
            r#"{"status":400,"body":"Invalid json"}"#
        );
        assert_eq!(
            v3_plaintext(200, ReplyBody::Json("{not json"), json),
            r#"{"status":200,"body":"{not json"}"#
        );
    }

    #[test]
    fn client_reads_every_reply_form() {
        let mut rng = ChaCha20Rng::seed_from_u64(3);
        for enc in [EncType::AesGcm, EncType::XChaCha20] {
            let k = key(enc);
            let client = ResponseKey::new(k.clone());
            for (base64, json) in [(true, false), (false, false), (true, true)] {
                let opts = ReplyOptions { json, base64 };
                let sealed =
                    seal_v3(&k, 200, ReplyBody::Json(r#"{"t":5}"#), opts, &mut rng).unwrap();
                let got = client.open_v3(&sealed).unwrap();
                assert_eq!(got.status, 200);
                assert_eq!(got.body, r#"{"t":5}"#);
            }
            let ct = k
                .encrypt(br#"{"status_code":421,"body":"moved"}"#, &mut rng)
                .unwrap();
            let wrapped = format!(r#"{{"result":"{}"}}"#, STANDARD_NO_PAD.encode(&ct));
            let got = client.open_v3(wrapped.as_bytes()).unwrap();
            assert_eq!((got.status, got.body.as_str()), (421, "moved"));
            assert!(matches!(
                client.open_v3(b"{\"result\":\"!!\"}"),
                Err(OnionError::Base64 { .. })
            ));
            let bad = k.encrypt(b"[1]", &mut rng).unwrap();
            assert!(matches!(client.open_v3(&bad), Err(OnionError::Json { .. })));
            assert!(matches!(
                client.open_v3(b"garbage"),
                Err(OnionError::Truncated { .. })
            ));
        }
    }
}
