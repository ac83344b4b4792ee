//! Reading parameters from a JSON object or a bencoded dictionary with the storage server's type
//! rules, and writing them back in either form.

use std::collections::BTreeMap;

use serde_json::{Map, Value as Json};
use sotto_bencode::Value as Bt;

use sotto_crypto::Signature;

use crate::encoding::{decode_base64_exact, encode_base64};
use crate::error::ParseError;
use crate::{Namespace, Namespaces};

/// Timestamps below this many milliseconds (10^6 seconds) were almost certainly sent in seconds.
const MIN_MS_TIMESTAMP: u64 = 1_000_000_000;

/// The largest integer both encodings carry (bencode integers are signed 64-bit here).
pub(crate) const MAX_INT: u64 = i64::MAX as u64;

/// A parameter object: JSON (binary values are text: base64 or hex) or bencode (raw bytes).
#[derive(Debug, Clone, Copy)]
pub(crate) enum Params<'a> {
    Json(&'a Map<String, Json>),
    Bt(&'a BTreeMap<Vec<u8>, Bt>),
}

/// One value of a parameter object.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Item<'a> {
    Json(&'a Json),
    Bt(&'a Bt),
}

fn wrong(field: &'static str, expected: &'static str) -> ParseError {
    ParseError::WrongType { field, expected }
}

impl<'a> Item<'a> {
    /// A JSON string's UTF-8 bytes, or a bencoded byte string.
    pub(crate) fn bytes(self) -> Option<&'a [u8]> {
        match self {
            Self::Json(v) => v.as_str().map(str::as_bytes),
            Self::Bt(v) => v.as_bytes(),
        }
    }

    /// Any integer (a JSON number without fraction or exponent, within i64).
    pub(crate) fn int(self) -> Option<i64> {
        match self {
            Self::Json(v) => v.as_i64(),
            Self::Bt(v) => v.as_int(),
        }
    }

    /// A non-negative integer. JSON must be written without a sign (the storage server's
    /// "unsigned" JSON type); bencode may be any non-negative integer.
    fn unsigned(self, field: &'static str, expected: &'static str) -> Result<u64, ParseError> {
        let n = match self {
            Self::Json(v) => v.as_u64().ok_or(wrong(field, expected))?,
            Self::Bt(v) => {
                let i = v.as_int().ok_or(wrong(field, expected))?;
                u64::try_from(i).map_err(|_| wrong(field, expected))?
            }
        };
        if n > MAX_INT {
            return Err(ParseError::OutOfRange(field));
        }
        Ok(n)
    }

    pub(crate) fn list(self) -> Option<Vec<Item<'a>>> {
        match self {
            Self::Json(Json::Array(items)) => Some(items.iter().map(Item::Json).collect()),
            Self::Bt(Bt::List(items)) => Some(items.iter().map(Item::Bt).collect()),
            _ => None,
        }
    }

    /// A nested parameter object.
    pub(crate) fn params(self) -> Option<Params<'a>> {
        match self {
            Self::Json(Json::Object(m)) => Some(Params::Json(m)),
            Self::Bt(Bt::Dict(d)) => Some(Params::Bt(d)),
            _ => None,
        }
    }
}

impl<'a> Params<'a> {
    /// Every entry (JSON `null`s included), keys as bytes.
    pub(crate) fn entries(self) -> Vec<(&'a [u8], Item<'a>)> {
        match self {
            Self::Json(m) => m
                .iter()
                .map(|(k, v)| (k.as_bytes(), Item::Json(v)))
                .collect(),
            Self::Bt(d) => d.iter().map(|(k, v)| (k.as_slice(), Item::Bt(v))).collect(),
        }
    }

    pub(crate) fn is_json(self) -> bool {
        matches!(self, Self::Json(_))
    }

    /// The value of a field; JSON `null` counts as absent.
    pub(crate) fn item(self, name: &str) -> Option<Item<'a>> {
        match self {
            Self::Json(m) => m.get(name).filter(|v| !v.is_null()).map(Item::Json),
            Self::Bt(d) => d.get(name.as_bytes()).map(Item::Bt),
        }
    }

    /// An Ed25519 signature given as `raw`: in JSON base64 of 86 characters (or 88 ending in
    /// `==`), in bencode 64 bytes.
    pub(crate) fn signature_value(
        self,
        raw: &[u8],
        field: &'static str,
    ) -> Result<Signature, ParseError> {
        let bytes: Option<[u8; 64]> = if self.is_json() {
            let padded_ok = raw.len() == 88 && raw.ends_with(b"==");
            if raw.len() == 86 || padded_ok {
                decode_base64_exact(raw)
            } else {
                None
            }
        } else {
            raw.try_into().ok()
        };
        bytes.map(Signature).ok_or(ParseError::Signature(field))
    }

    /// A required signature field.
    pub(crate) fn signature(self, name: &'static str) -> Result<Signature, ParseError> {
        let raw = self.bytes(name)?.ok_or(ParseError::Missing(name))?;
        self.signature_value(raw, name)
    }

    /// A list (JSON array or bencoded list).
    pub(crate) fn list(self, name: &str) -> Option<Vec<Item<'a>>> {
        self.item(name).and_then(Item::list)
    }

    pub(crate) fn has(self, name: &str) -> bool {
        self.item(name).is_some()
    }

    /// A string (JSON) or byte string (bencode), as bytes.
    pub(crate) fn bytes(self, name: &'static str) -> Result<Option<&'a [u8]>, ParseError> {
        self.item(name)
            .map(|i| i.bytes().ok_or(wrong(name, "string")))
            .transpose()
    }

    /// A JSON boolean, or a bencoded 0 or 1.
    pub(crate) fn bool(self, name: &'static str) -> Result<Option<bool>, ParseError> {
        self.item(name)
            .map(|i| match i {
                Item::Json(Json::Bool(b)) => Ok(*b),
                Item::Bt(Bt::Int(0)) => Ok(false),
                Item::Bt(Bt::Int(1)) => Ok(true),
                _ => Err(wrong(name, "boolean")),
            })
            .transpose()
    }

    /// An integer that must fit a 32-bit signed value.
    pub(crate) fn i32(self, name: &'static str) -> Result<Option<i32>, ParseError> {
        self.item(name)
            .map(|i| {
                let n = i.int().ok_or(wrong(name, "integer"))?;
                i32::try_from(n).map_err(|_| ParseError::OutOfRange(name))
            })
            .transpose()
    }

    /// A non-negative integer (at most 2^63 − 1).
    pub(crate) fn unsigned(self, name: &'static str) -> Result<Option<u64>, ParseError> {
        self.item(name)
            .map(|i| i.unsigned(name, "positive integer"))
            .transpose()
    }

    /// A millisecond timestamp: a non-negative integer; in JSON also at least 10^9.
    pub(crate) fn timestamp(self, name: &'static str) -> Result<Option<u64>, ParseError> {
        let Some(item) = self.item(name) else {
            return Ok(None);
        };
        let t = item.unsigned(name, "integer timestamp (in milliseconds)")?;
        if self.is_json() && t < MIN_MS_TIMESTAMP {
            return Err(ParseError::NotMilliseconds(name));
        }
        Ok(Some(t))
    }

    /// `store`'s `timestamp` and `ttl`, which JSON may also give as a decimal string. `signed`
    /// says whether a JSON number may carry a minus sign (negative values are then rejected as
    /// out of range).
    pub(crate) fn lenient_unsigned(
        self,
        name: &'static str,
        signed: bool,
    ) -> Result<Option<u64>, ParseError> {
        let Some(item) = self.item(name) else {
            return Ok(None);
        };
        let value: i128 = match item {
            Item::Json(Json::String(s)) => {
                parse_decimal(s, signed).ok_or(wrong(name, "integer or decimal string"))?
            }
            Item::Json(v) if signed => i128::from(v.as_i64().ok_or(wrong(name, "integer"))?),
            Item::Json(v) => i128::from(v.as_u64().ok_or(wrong(name, "positive integer"))?),
            Item::Bt(v) => i128::from(v.as_int().ok_or(wrong(name, "integer"))?),
        };
        u64::try_from(value)
            .ok()
            .filter(|v| *v <= MAX_INT)
            .map(Some)
            .ok_or(ParseError::OutOfRange(name))
    }

    /// A namespace: an integer in −32768..=32767.
    pub(crate) fn namespace(self, name: &'static str) -> Result<Option<Namespace>, ParseError> {
        self.item(name)
            .map(|i| int_namespace(i, name, "16-bit integer"))
            .transpose()
    }

    /// A namespace or the string `all`.
    pub(crate) fn namespaces(self, name: &'static str) -> Result<Option<Namespaces>, ParseError> {
        const EXPECTED: &str = "integer or \"all\"";
        self.item(name)
            .map(|i| match i.bytes() {
                Some(b"all") => Ok(Namespaces::All),
                Some(_) => Err(wrong(name, EXPECTED)),
                None => int_namespace(i, name, EXPECTED).map(Namespaces::One),
            })
            .transpose()
    }

    /// A list of strings, or a single string taken as a list of one.
    pub(crate) fn byte_list(self, name: &'static str) -> Result<Option<Vec<&'a [u8]>>, ParseError> {
        let Some(item) = self.item(name) else {
            return Ok(None);
        };
        if let Some(one) = item.bytes() {
            return Ok(Some(vec![one]));
        }
        let list = item.list().ok_or(wrong(name, "string array"))?;
        list.into_iter()
            .map(|i| i.bytes().ok_or(wrong(name, "string array")))
            .collect::<Result<_, _>>()
            .map(Some)
    }

    /// A list of millisecond values, or a single one. No 10^9 check here (the storage server
    /// applies none to these).
    pub(crate) fn timestamp_list(self, name: &'static str) -> Result<Option<Vec<u64>>, ParseError> {
        const EXPECTED: &str = "timestamp array";
        let Some(item) = self.item(name) else {
            return Ok(None);
        };
        match item.list() {
            Some(list) => list
                .into_iter()
                .map(|i| i.unsigned(name, EXPECTED))
                .collect::<Result<_, _>>()
                .map(Some),
            None => item.unsigned(name, EXPECTED).map(|t| Some(vec![t])),
        }
    }

    /// Exactly one of a name and its alias.
    pub(crate) fn one_of(
        self,
        name: &'static str,
        alias: &'static str,
    ) -> Result<&'a [u8], ParseError> {
        match (self.bytes(name)?, self.bytes(alias)?) {
            (Some(_), Some(_)) => Err(ParseError::Both(name, alias)),
            (Some(v), None) | (None, Some(v)) => Ok(v),
            (None, None) => Err(ParseError::Missing(name)),
        }
    }
}

fn int_namespace(
    item: Item<'_>,
    name: &'static str,
    expected: &'static str,
) -> Result<Namespace, ParseError> {
    let n = item.int().ok_or(wrong(name, expected))?;
    i16::try_from(n)
        .map(Namespace::new)
        .map_err(|_| ParseError::OutOfRange(name))
}

/// A whole decimal string: digits, with a leading `-` when `signed`; no `+`, no spaces.
fn parse_decimal(text: &str, signed: bool) -> Option<i128> {
    let digits = if signed {
        text.strip_prefix('-').unwrap_or(text)
    } else {
        text
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let value: i64 = text.parse().ok()?;
    Some(i128::from(value))
}

/// A value to write in either encoding.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Doc {
    Int(i64),
    Bool(bool),
    Str(String),
    /// Binary: base64 in JSON, raw in bencode.
    Bin(Vec<u8>),
    /// Binary: hex in JSON, raw in bencode.
    Hex(Vec<u8>),
    List(Vec<Doc>),
    Map(BTreeMap<String, Doc>),
    /// A JSON value: itself in JSON, its serialization as a string in bencode.
    JsonText(Json),
}

impl Doc {
    /// A millisecond value or count (values above 2^63 − 1 are clamped; parsing never yields
    /// them).
    pub(crate) fn uint(v: u64) -> Self {
        Self::Int(i64::try_from(v).unwrap_or(i64::MAX))
    }

    pub(crate) fn to_json(&self) -> Json {
        match self {
            Self::Int(i) => Json::from(*i),
            Self::Bool(b) => Json::Bool(*b),
            Self::Str(s) => Json::String(s.clone()),
            Self::Bin(b) => Json::String(encode_base64(b)),
            Self::Hex(b) => Json::String(hex::encode(b)),
            Self::List(items) => Json::Array(items.iter().map(Self::to_json).collect()),
            Self::Map(m) => Json::Object(m.iter().map(|(k, v)| (k.clone(), v.to_json())).collect()),
            Self::JsonText(v) => v.clone(),
        }
    }

    pub(crate) fn to_bt(&self) -> Bt {
        match self {
            Self::Int(i) => Bt::Int(*i),
            Self::Bool(b) => Bt::Int(i64::from(*b)),
            Self::Str(s) => Bt::Bytes(s.as_bytes().to_vec()),
            Self::Bin(b) | Self::Hex(b) => Bt::Bytes(b.clone()),
            Self::List(items) => Bt::List(items.iter().map(Self::to_bt).collect()),
            Self::Map(m) => Bt::Dict(
                m.iter()
                    .map(|(k, v)| (k.as_bytes().to_vec(), v.to_bt()))
                    .collect(),
            ),
            Self::JsonText(v) => Bt::Bytes(v.to_string().into_bytes()),
        }
    }
}

/// Builds a [`Doc::Map`].
#[derive(Debug, Default)]
pub(crate) struct DocMap(BTreeMap<String, Doc>);

impl DocMap {
    pub(crate) fn new() -> Self {
        Self::default()
    }

    pub(crate) fn put(&mut self, key: &str, value: Doc) -> &mut Self {
        self.0.insert(key.to_owned(), value);
        self
    }

    pub(crate) fn put_opt(&mut self, key: &str, value: Option<Doc>) -> &mut Self {
        if let Some(v) = value {
            self.put(key, v);
        }
        self
    }

    pub(crate) fn done(&mut self) -> Doc {
        Doc::Map(std::mem::take(&mut self.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json(text: &str) -> Map<String, Json> {
        serde_json::from_str(text).unwrap()
    }

    #[test]
    fn json_types() {
        let m = json(
            r#"{"b":true,"i":-5,"u":5,"f":1.0,"s":"x","n":null,"big":9223372036854775808,
                "t":1000000000,"ts":999999999,"ns":-32768,"nsbig":32768,"all":"all",
                "l":["a","b"],"lbad":["a",1],"str":"12","neg":"-12","plus":"+1","e":""}"#,
        );
        let p = Params::Json(&m);
        assert_eq!(p.bool("b"), Ok(Some(true)));
        assert!(p.bool("i").is_err());
        assert_eq!(p.i32("i"), Ok(Some(-5)));
        assert!(p.i32("f").is_err());
        assert_eq!(p.i32("n"), Ok(None));
        assert_eq!(p.i32("missing"), Ok(None));
        assert!(matches!(p.unsigned("i"), Err(ParseError::WrongType { .. })));
        assert_eq!(p.unsigned("u"), Ok(Some(5)));
        assert_eq!(p.unsigned("big"), Err(ParseError::OutOfRange("big")));
        assert_eq!(p.timestamp("t"), Ok(Some(1_000_000_000)));
        assert_eq!(p.timestamp("ts"), Err(ParseError::NotMilliseconds("ts")));
        assert_eq!(p.namespace("ns"), Ok(Some(Namespace::new(-32768))));
        assert_eq!(p.namespace("nsbig"), Err(ParseError::OutOfRange("nsbig")));
        assert!(p.namespace("all").is_err());
        assert_eq!(p.namespaces("all"), Ok(Some(Namespaces::All)));
        assert!(p.namespaces("s").is_err());
        assert_eq!(p.byte_list("l").unwrap().unwrap().len(), 2);
        assert_eq!(p.byte_list("s").unwrap().unwrap(), vec![&b"x"[..]]);
        assert!(p.byte_list("lbad").is_err());
        assert!(p.byte_list("i").is_err());
        assert_eq!(p.lenient_unsigned("str", false), Ok(Some(12)));
        assert_eq!(p.lenient_unsigned("u", false), Ok(Some(5)));
        assert!(p.lenient_unsigned("i", false).is_err());
        assert_eq!(
            p.lenient_unsigned("i", true),
            Err(ParseError::OutOfRange("i"))
        );
        assert_eq!(
            p.lenient_unsigned("neg", true),
            Err(ParseError::OutOfRange("neg"))
        );
        assert!(p.lenient_unsigned("neg", false).is_err());
        assert!(p.lenient_unsigned("plus", true).is_err());
        assert!(p.lenient_unsigned("e", true).is_err());
        assert_eq!(p.timestamp_list("u"), Ok(Some(vec![5])));
        assert!(p.timestamp_list("l").is_err());
        assert_eq!(p.one_of("s", "missing"), Ok(&b"x"[..]));
        assert_eq!(p.one_of("s", "str"), Err(ParseError::Both("s", "str")));
        assert_eq!(p.one_of("x", "y"), Err(ParseError::Missing("x")));
    }

    #[test]
    fn bencode_types() {
        let v =
            sotto_bencode::decode(b"d1:bi1e1:ii-5e1:lli1ei2ee2:nsi40000e1:s1:x1:ti5ee").unwrap();
        let Bt::Dict(d) = v else { panic!() };
        let p = Params::Bt(&d);
        assert_eq!(p.bool("b"), Ok(Some(true)));
        assert!(p.bool("i").is_err());
        assert!(p.unsigned("i").is_err());
        // No milliseconds check in bencode.
        assert_eq!(p.timestamp("t"), Ok(Some(5)));
        assert_eq!(p.timestamp_list("l"), Ok(Some(vec![1, 2])));
        assert_eq!(p.namespace("ns"), Err(ParseError::OutOfRange("ns")));
        assert_eq!(p.bytes("s"), Ok(Some(&b"x"[..])));
        assert!(p.bytes("i").is_err());
    }

    #[test]
    fn doc_renders_both_ways() {
        let d = DocMap::new()
            .put("b", Doc::Bool(true))
            .put("bin", Doc::Bin(vec![0xff]))
            .put("hex", Doc::Hex(vec![0xff]))
            .put("j", Doc::JsonText(serde_json::json!({"a": 1})))
            .put("big", Doc::uint(u64::MAX))
            .done();
        assert_eq!(
            d.to_json(),
            serde_json::json!({"b": true, "bin": "/w==", "hex": "ff", "j": {"a": 1}, "big": i64::MAX})
        );
        assert_eq!(
            sotto_bencode::encode(&d.to_bt()),
            b"d1:bi1e3:bigi9223372036854775807e3:bin1:\xff3:hex1:\xff1:j7:{\"a\":1}e"
        );
    }
}
