//! v4 onion framing between a client and a server: a bencoded list of one or two byte strings,
//! `l <len>:<meta JSON> [<len>:<body>] e`.

use core::fmt;

use serde::de::{MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sotto_bencode::Value;

use crate::{OnionError, layer};

/// The path servers accept v4 onion requests on.
pub const V4_TARGET: &str = "/oxen/v4/lsrpc";

/// HTTP headers in the order given (names as the sender wrote them).
pub type Headers = Vec<(String, String)>;

/// A v4 request: meta `{"method", "endpoint", "headers"}` and an optional body.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct V4Request {
    /// `GET`, `POST`, …
    pub method: String,
    /// Path and query, e.g. `/room/sudoku?limit=5`.
    pub endpoint: String,
    /// Request headers.
    #[serde(default, with = "header_map")]
    pub headers: Headers,
    /// The body, if any.
    #[serde(skip)]
    pub body: Option<Vec<u8>>,
}

/// A v4 response: meta `{"code", "headers"}` and an optional body.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct V4Response {
    /// HTTP status code.
    pub code: u16,
    /// Response headers (lower-case names by convention).
    #[serde(default, with = "header_map")]
    pub headers: Headers,
    /// The body, if any.
    #[serde(skip)]
    pub body: Option<Vec<u8>>,
}

impl V4Request {
    /// Encodes the request (meta keys in the order method, endpoint, headers; no whitespace).
    #[must_use]
    pub fn encode(&self) -> Vec<u8> {
        frame(self, self.body.as_deref())
    }

    /// Decodes and checks a request.
    pub fn decode(bytes: &[u8]) -> Result<Self, OnionError> {
        let (meta, body) = unframe("v4 request", bytes)?;
        let mut req: Self = layer::parse_json("v4 request meta", &meta)?;
        req.body = body;
        Ok(req)
    }
}

impl V4Response {
    /// Encodes the response (meta keys in the order code, headers; no whitespace).
    #[must_use]
    pub fn encode(&self) -> Vec<u8> {
        frame(self, self.body.as_deref())
    }

    /// Decodes and checks a response.
    pub fn decode(bytes: &[u8]) -> Result<Self, OnionError> {
        let (meta, body) = unframe("v4 response", bytes)?;
        let mut resp: Self = layer::parse_json("v4 response meta", &meta)?;
        resp.body = body;
        Ok(resp)
    }
}

fn frame(meta: &impl Serialize, body: Option<&[u8]>) -> Vec<u8> {
    // Serialising these types cannot fail: every key is a string and every value plain data.
    let meta = serde_json::to_vec(meta).unwrap_or_default();
    let mut parts = vec![Value::Bytes(meta)];
    parts.extend(body.map(Value::from));
    sotto_bencode::encode(&Value::List(parts))
}

fn unframe(what: &'static str, bytes: &[u8]) -> Result<(Vec<u8>, Option<Vec<u8>>), OnionError> {
    let shape = OnionError::Field {
        what,
        reason: "must be a list of one or two byte strings",
    };
    let value =
        sotto_bencode::decode(bytes).map_err(|source| OnionError::Bencode { what, source })?;
    let Value::List(parts) = value else {
        return Err(shape);
    };
    let mut parts = parts.into_iter();
    match (parts.next(), parts.next(), parts.next()) {
        (Some(Value::Bytes(meta)), None, None) => Ok((meta, None)),
        (Some(Value::Bytes(meta)), Some(Value::Bytes(body)), None) => Ok((meta, Some(body))),
        _ => Err(shape),
    }
}

/// Headers as a JSON object of strings, keeping their order.
mod header_map {
    use super::*;

    pub fn serialize<S: Serializer>(headers: &Headers, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(headers.len()))?;
        for (name, value) in headers {
            map.serialize_entry(name, value)?;
        }
        map.end()
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Headers, D::Error> {
        struct Pairs;
        impl<'de> Visitor<'de> for Pairs {
            type Value = Headers;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object of string header values")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Headers, A::Error> {
                let mut out = Vec::new();
                while let Some(pair) = map.next_entry::<String, String>()? {
                    out.push(pair);
                }
                Ok(out)
            }
        }
        d.deserialize_map(Pairs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_round_trip_and_layout() {
        let req = V4Request {
            method: "POST".into(),
            endpoint: "/some/thing".into(),
            headers: vec![("Some-Header".into(), "a".into())],
            body: Some(b"post body here".to_vec()),
        };
        let bytes = req.encode();
        assert_eq!(
            bytes,
            br#"l72:{"method":"POST","endpoint":"/some/thing","headers":{"Some-Header":"a"}}14:post body heree"#
        );
        assert_eq!(V4Request::decode(&bytes).unwrap(), req);
    }

    #[test]
    fn response_without_body_or_headers() {
        let resp = V4Response::decode(br#"l10:{"code":7}e"#).unwrap();
        assert_eq!((resp.code, resp.headers.len(), resp.body), (7, 0, None));
    }

    fn framed(meta: &str) -> Vec<u8> {
        format!("l{}:{meta}e", meta.len()).into_bytes()
    }

    #[test]
    fn malformed_frames_are_rejected() {
        for bad in [&b"le"[..], b"l1:a1:b1:ce", b"li1ee", b"d1:ai1ee", b"l3:abc"] {
            assert!(
                V4Response::decode(bad).is_err(),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
        for meta in [
            "{}",
            r#"{"code":-1}"#,
            r#"{"code":1,"headers":[]}"#,
            r#"{"code":1,"headers":{"a":1}}"#,
            r#"{"code":1} x"#,
        ] {
            assert!(V4Response::decode(&framed(meta)).is_err(), "{meta}");
        }
        assert!(V4Request::decode(&framed(r#"{"method":"GET"}"#)).is_err());
    }
}
