#![doc = include_str!("../README.md")]

use std::collections::BTreeMap;

use thiserror::Error;

/// How deeply lists and dictionaries may nest.
pub const MAX_DEPTH: usize = 64;

/// A bencoded value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// `i…e`.
    Int(i64),
    /// `len:bytes`.
    Bytes(Vec<u8>),
    /// `l…e`.
    List(Vec<Value>),
    /// `d…e`, keys in byte order.
    Dict(BTreeMap<Vec<u8>, Value>),
}

/// Why bytes are not a canonical bencoded value. `at` is the byte offset of the problem.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum Error {
    /// The input ended inside a value.
    #[error("bencode: unexpected end of input at byte {at}")]
    Truncated {
        /// Offset.
        at: usize,
    },
    /// A byte that cannot start or continue a value here.
    #[error("bencode: unexpected byte {byte:#04x} at byte {at}")]
    Unexpected {
        /// Offset.
        at: usize,
        /// The byte.
        byte: u8,
    },
    /// An integer or length with a leading zero, `-0`, no digits, or out of range.
    #[error("bencode: malformed number at byte {at}")]
    Number {
        /// Offset.
        at: usize,
    },
    /// Dictionary keys not strictly ascending (out of order or repeated).
    #[error("bencode: dictionary key out of order or repeated at byte {at}")]
    KeyOrder {
        /// Offset.
        at: usize,
    },
    /// Nesting deeper than [`MAX_DEPTH`].
    #[error("bencode: nested deeper than {MAX_DEPTH} at byte {at}")]
    TooDeep {
        /// Offset.
        at: usize,
    },
    /// Bytes after the value.
    #[error("bencode: {count} trailing bytes after the value")]
    Trailing {
        /// How many bytes are left.
        count: usize,
    },
}

impl Value {
    /// A dictionary from `(key, value)` pairs (later duplicates replace earlier ones).
    pub fn dict<K: AsRef<[u8]>>(pairs: impl IntoIterator<Item = (K, Value)>) -> Self {
        Self::Dict(
            pairs
                .into_iter()
                .map(|(k, v)| (k.as_ref().to_vec(), v))
                .collect(),
        )
    }

    /// The integer, if this is one.
    #[must_use]
    pub fn as_int(&self) -> Option<i64> {
        match self {
            Self::Int(i) => Some(*i),
            _ => None,
        }
    }

    /// The bytes, if this is a byte string.
    #[must_use]
    pub fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            Self::Bytes(b) => Some(b),
            _ => None,
        }
    }

    /// The byte string as UTF-8, if it is one and valid.
    #[must_use]
    pub fn as_str(&self) -> Option<&str> {
        self.as_bytes().and_then(|b| std::str::from_utf8(b).ok())
    }

    /// The items, if this is a list.
    #[must_use]
    pub fn as_list(&self) -> Option<&[Value]> {
        match self {
            Self::List(l) => Some(l),
            _ => None,
        }
    }

    /// The entries, if this is a dictionary.
    #[must_use]
    pub fn as_dict(&self) -> Option<&BTreeMap<Vec<u8>, Value>> {
        match self {
            Self::Dict(d) => Some(d),
            _ => None,
        }
    }

    /// A dictionary entry, if this is a dictionary that has `key`.
    #[must_use]
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.as_dict().and_then(|d| d.get(key.as_bytes()))
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Self::Bytes(s.as_bytes().to_vec())
    }
}

impl From<&[u8]> for Value {
    fn from(b: &[u8]) -> Self {
        Self::Bytes(b.to_vec())
    }
}

impl From<Vec<u8>> for Value {
    fn from(b: Vec<u8>) -> Self {
        Self::Bytes(b)
    }
}

impl From<i64> for Value {
    fn from(i: i64) -> Self {
        Self::Int(i)
    }
}

/// Encodes canonically.
#[must_use]
pub fn encode(value: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    encode_into(value, &mut out);
    out
}

/// Appends the canonical encoding of `value` to `out`.
pub fn encode_into(value: &Value, out: &mut Vec<u8>) {
    match value {
        Value::Int(i) => {
            out.push(b'i');
            out.extend_from_slice(i.to_string().as_bytes());
            out.push(b'e');
        }
        Value::Bytes(b) => encode_bytes(b, out),
        Value::List(items) => {
            out.push(b'l');
            for item in items {
                encode_into(item, out);
            }
            out.push(b'e');
        }
        Value::Dict(entries) => {
            out.push(b'd');
            for (k, v) in entries {
                encode_bytes(k, out);
                encode_into(v, out);
            }
            out.push(b'e');
        }
    }
}

fn encode_bytes(b: &[u8], out: &mut Vec<u8>) {
    out.extend_from_slice(b.len().to_string().as_bytes());
    out.push(b':');
    out.extend_from_slice(b);
}

/// Decodes exactly one canonical value; trailing bytes are an error.
pub fn decode(input: &[u8]) -> Result<Value, Error> {
    let (value, rest) = decode_prefix(input)?;
    if rest.is_empty() {
        Ok(value)
    } else {
        Err(Error::Trailing { count: rest.len() })
    }
}

/// Decodes one canonical value from the front of `input` and returns it with the bytes after it.
pub fn decode_prefix(input: &[u8]) -> Result<(Value, &[u8]), Error> {
    let mut parser = Parser { input, pos: 0 };
    let value = parser.value(0)?;
    Ok((value, input.get(parser.pos..).unwrap_or_default()))
}

struct Parser<'a> {
    input: &'a [u8],
    pos: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Result<u8, Error> {
        self.input
            .get(self.pos)
            .copied()
            .ok_or(Error::Truncated { at: self.pos })
    }

    fn value(&mut self, depth: usize) -> Result<Value, Error> {
        if depth > MAX_DEPTH {
            return Err(Error::TooDeep { at: self.pos });
        }
        match self.peek()? {
            b'i' => {
                self.pos += 1;
                let n = self.number(b'e', true)?;
                Ok(Value::Int(n))
            }
            b'0'..=b'9' => Ok(Value::Bytes(self.bytes()?)),
            b'l' => {
                self.pos += 1;
                let mut items = Vec::new();
                while self.peek()? != b'e' {
                    items.push(self.value(depth + 1)?);
                }
                self.pos += 1;
                Ok(Value::List(items))
            }
            b'd' => {
                self.pos += 1;
                let mut entries = BTreeMap::new();
                let mut last: Option<Vec<u8>> = None;
                while self.peek()? != b'e' {
                    let key_at = self.pos;
                    let key = self.bytes()?;
                    if last.as_ref().is_some_and(|prev| *prev >= key) {
                        return Err(Error::KeyOrder { at: key_at });
                    }
                    let value = self.value(depth + 1)?;
                    last = Some(key.clone());
                    entries.insert(key, value);
                }
                self.pos += 1;
                Ok(Value::Dict(entries))
            }
            byte => Err(Error::Unexpected { at: self.pos, byte }),
        }
    }

    /// Reads a canonical decimal number up to `end` (consumed).
    fn number(&mut self, end: u8, signed: bool) -> Result<i64, Error> {
        let start = self.pos;
        let rest = self.input.get(start..).unwrap_or_default();
        let len = rest
            .iter()
            .position(|&b| b == end)
            .ok_or(Error::Truncated {
                at: self.input.len(),
            })?;
        let digits = rest.get(..len).unwrap_or_default();
        let (negative, magnitude) = match digits.split_first() {
            Some((b'-', m)) if signed => (true, m),
            _ => (false, digits),
        };
        let canonical = match magnitude {
            [] => false,
            [b'0'] => !negative,
            [first, ..] => *first != b'0' && magnitude.iter().all(u8::is_ascii_digit),
        };
        if !canonical {
            return Err(Error::Number { at: start });
        }
        let text = std::str::from_utf8(digits).map_err(|_| Error::Number { at: start })?;
        let n = text
            .parse::<i64>()
            .map_err(|_| Error::Number { at: start })?;
        self.pos = start + len + 1;
        Ok(n)
    }

    fn bytes(&mut self) -> Result<Vec<u8>, Error> {
        let at = self.pos;
        let len = usize::try_from(self.number(b':', false)?).map_err(|_| Error::Number { at })?;
        let end = self.pos.checked_add(len).ok_or(Error::Number { at })?;
        let bytes = self.input.get(self.pos..end).ok_or(Error::Truncated {
            at: self.input.len(),
        })?;
        self.pos = end;
        Ok(bytes.to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn rejects_non_canonical_input() {
        for bad in [
            &b"i01e"[..],
            b"i-0e",
            b"ie",
            b"i-e",
            b"01:a",
            b"2:a",
            b"d1:bi1e1:ai2ee",
            b"d1:ai1e1:ai2ee",
            b"l",
            b"i1ex",
            b"x",
            b"",
            b"i99999999999999999999e",
            b"18446744073709551616:",
            b"d1:a",
            b"-1:a",
            b"i+1e",
        ] {
            assert!(
                decode(bad).is_err(),
                "accepted {:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn depth_is_limited() {
        let deep = [vec![b'l'; MAX_DEPTH + 2], vec![b'e'; MAX_DEPTH + 2]].concat();
        assert!(matches!(decode(&deep), Err(Error::TooDeep { .. })));
        let ok = [vec![b'l'; MAX_DEPTH], vec![b'e'; MAX_DEPTH]].concat();
        assert!(decode(&ok).is_ok());
    }

    #[test]
    fn prefix_leaves_the_rest() {
        let (v, rest) = decode_prefix(b"l5:helloi0eeRAW").unwrap();
        assert_eq!(v, Value::List(vec![Value::from("hello"), Value::Int(0)]));
        assert_eq!(rest, b"RAW");
        assert_eq!(
            decode(b"l5:helloi0eeRAW"),
            Err(Error::Trailing { count: 3 })
        );
    }

    fn arb_value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            any::<i64>().prop_map(Value::Int),
            proptest::collection::vec(any::<u8>(), 0..20).prop_map(Value::Bytes),
        ];
        leaf.prop_recursive(4, 32, 6, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::List),
                proptest::collection::btree_map(
                    proptest::collection::vec(any::<u8>(), 0..6),
                    inner,
                    0..6
                )
                .prop_map(Value::Dict),
            ]
        })
    }

    proptest! {
        #[test]
        fn encode_decode_round_trip(v in arb_value()) {
            let bytes = encode(&v);
            prop_assert_eq!(decode(&bytes).unwrap(), v);
        }

        #[test]
        fn accepted_input_is_canonical(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            if let Ok(v) = decode(&bytes) {
                prop_assert_eq!(encode(&v), bytes);
            }
        }
    }
}
