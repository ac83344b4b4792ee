//! Protobuf at the level of records: a strict scanner, the unknown fields a message keeps, and a
//! writer that merges prost's encoding of the declared fields with nested messages and kept
//! records, in field-number order.
//!
//! prost drops fields it does not know. Every domain type therefore scans its own bytes too: the
//! scan says which required fields are present (prost fills absent required fields with defaults),
//! hands nested messages their own bytes, and keeps every record the type does not surface.

use std::borrow::Cow;

use prost::encoding::{WireType, encode_key, encode_varint};

use crate::DecodeError;

/// How deeply groups (wire types 3 and 4, which only unknown fields can use) may nest.
const MAX_GROUP_DEPTH: usize = 64;

/// Why bytes are not a sequence of protobuf records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WireError {
    /// The bytes end inside a record.
    #[error("truncated record")]
    Truncated,
    /// A varint longer than 10 bytes or larger than 64 bits.
    #[error("varint longer than 64 bits")]
    VarintOverflow,
    /// A field number of 0 or above 2^29 − 1.
    #[error("invalid field number {0}")]
    FieldNumber(u64),
    /// Wire types 6 and 7 do not exist.
    #[error("invalid wire type {0}")]
    WireType(u8),
    /// A group end without its start, or with another field number.
    #[error("unmatched end of group")]
    UnmatchedEndGroup,
    /// Groups nested more than 64 deep.
    #[error("groups nested too deeply")]
    TooDeep,
}

/// One record: its field number, the whole record (key included) and, for length-delimited
/// records, the payload.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Record<'a> {
    pub number: u32,
    pub bytes: &'a [u8],
    pub payload: Option<&'a [u8]>,
}

fn take<'a>(buf: &mut &'a [u8], n: usize) -> Result<&'a [u8], WireError> {
    if buf.len() < n {
        return Err(WireError::Truncated);
    }
    let (head, tail) = buf.split_at(n);
    *buf = tail;
    Ok(head)
}

fn varint(buf: &mut &[u8]) -> Result<u64, WireError> {
    let mut value = 0u64;
    for shift in (0..64).step_by(7) {
        let byte = *take(buf, 1)?.first().ok_or(WireError::Truncated)?;
        if shift == 63 && byte > 1 {
            return Err(WireError::VarintOverflow);
        }
        value |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Ok(value);
        }
    }
    Err(WireError::VarintOverflow)
}

/// Reads one record's key and value, returning the field number, the wire type and the payload
/// of a length-delimited record.
fn record<'a>(buf: &mut &'a [u8], depth: usize) -> Result<(u32, u8, Option<&'a [u8]>), WireError> {
    let key = varint(buf)?;
    let number = key >> 3;
    let number = u32::try_from(number)
        .ok()
        .filter(|n| (1..1 << 29).contains(n))
        .ok_or(WireError::FieldNumber(number))?;
    // The mask keeps three bits, so the cast cannot truncate.
    let wire_type = (key & 7) as u8;
    let mut payload = None;
    match wire_type {
        0 => {
            varint(buf)?;
        }
        1 => {
            take(buf, 8)?;
        }
        2 => {
            let len = usize::try_from(varint(buf)?).map_err(|_| WireError::Truncated)?;
            payload = Some(take(buf, len)?);
        }
        3 => {
            if depth >= MAX_GROUP_DEPTH {
                return Err(WireError::TooDeep);
            }
            loop {
                match record(buf, depth + 1)? {
                    (end, 4, _) if end == number => break,
                    (_, 4, _) => return Err(WireError::UnmatchedEndGroup),
                    _ => {}
                }
            }
        }
        4 => {} // Matched (or rejected) by the enclosing group.
        5 => {
            take(buf, 4)?;
        }
        other => return Err(WireError::WireType(other)),
    }
    Ok((number, wire_type, payload))
}

/// Splits a message into its records, strictly.
pub(crate) fn scan(bytes: &[u8]) -> Result<Vec<Record<'_>>, WireError> {
    let mut records = Vec::new();
    let mut rest = bytes;
    while !rest.is_empty() {
        let before = rest;
        let (number, wire_type, payload) = record(&mut rest, 0)?;
        if wire_type == 4 {
            return Err(WireError::UnmatchedEndGroup);
        }
        let used = before.len() - rest.len();
        records.push(Record {
            number,
            bytes: before.get(..used).ok_or(WireError::Truncated)?,
            payload,
        });
    }
    Ok(records)
}

/// Fields a message carried that its type does not surface: unknown to our schema, or known but
/// without meaning for this kind of message (e.g. a body next to a reaction). They are kept as
/// raw records, sorted by field number, and written back when the message is encoded.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct UnknownFields(Vec<u8>);

impl UnknownFields {
    /// Whether there are none.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The raw records, concatenated.
    #[must_use]
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The field numbers of the kept records, in order.
    #[must_use]
    pub fn field_numbers(&self) -> Vec<u32> {
        split(&self.0).into_iter().map(|(n, _)| n).collect()
    }

    /// Records to send that this crate does not surface, such as `DataMessage` field 120 (the
    /// groups v2 `groupUpdateMessage`, which `sotto-groups` encodes). `bytes` must be whole
    /// protobuf records; they are kept sorted by field number, as received records are.
    pub fn from_records(bytes: &[u8]) -> Result<Self, WireError> {
        let mut records = scan(bytes)?;
        records.sort_by_key(|r| r.number);
        Ok(Self(
            records
                .iter()
                .flat_map(|r| r.bytes.iter().copied())
                .collect(),
        ))
    }
}

impl core::fmt::Debug for UnknownFields {
    // Message contents are not logged: show only which fields are kept.
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "UnknownFields({:?})", self.field_numbers())
    }
}

/// A message's records, with the prost decoding of its declared fields.
pub(crate) struct Fields<'a> {
    records: Vec<Record<'a>>,
}

impl<'a> Fields<'a> {
    /// Whether field `number` is present.
    pub fn has(&self, number: u32) -> bool {
        self.records.iter().any(|r| r.number == number)
    }

    /// Requires field `number` (named `name` in errors).
    pub fn require(&self, number: u32, name: &'static str) -> Result<(), DecodeError> {
        if self.has(number) {
            Ok(())
        } else {
            Err(DecodeError::MissingField { field: name })
        }
    }

    /// The bytes of a singular message field: protobuf merges repeated occurrences, which is the
    /// same as decoding their concatenation.
    pub fn message(&self, number: u32) -> Option<Cow<'a, [u8]>> {
        let mut parts = self.messages(number);
        let first = parts.next()?;
        match parts.next() {
            None => Some(Cow::Borrowed(first)),
            Some(second) => {
                let mut all = [first, second].concat();
                parts.for_each(|p| all.extend_from_slice(p));
                Some(Cow::Owned(all))
            }
        }
    }

    /// The bytes of each element of a repeated message field, in order.
    pub fn messages(&self, number: u32) -> impl Iterator<Item = &'a [u8]> + '_ {
        self.records
            .iter()
            .filter(move |r| r.number == number)
            .filter_map(|r| r.payload)
    }

    /// Every record whose field number is not in `surfaced`, sorted by field number.
    pub fn unknown(&self, surfaced: &[u32]) -> UnknownFields {
        let mut kept: Vec<&Record<'_>> = self
            .records
            .iter()
            .filter(|r| !surfaced.contains(&r.number))
            .collect();
        kept.sort_by_key(|r| r.number);
        UnknownFields(kept.iter().flat_map(|r| r.bytes.iter().copied()).collect())
    }
}

/// Scans `bytes` and decodes them as `P`. `message` names the protobuf message in errors.
pub(crate) fn parse<'a, P: prost::Message + Default>(
    bytes: &'a [u8],
    message: &'static str,
) -> Result<(P, Fields<'a>), DecodeError> {
    let records = scan(bytes).map_err(|reason| DecodeError::Malformed { message, reason })?;
    let proto = P::decode(bytes).map_err(|e| DecodeError::Protobuf {
        message,
        detail: e.to_string(),
    })?;
    Ok((proto, Fields { records }))
}

/// Splits bytes that are known to be records (prost's own output, or records kept by a scan).
/// Should that ever fail, the bytes are kept whole, after every field, rather than lost.
fn split(bytes: &[u8]) -> Vec<(u32, &[u8])> {
    match scan(bytes) {
        Ok(records) => records.into_iter().map(|r| (r.number, r.bytes)).collect(),
        Err(_) => vec![(u32::MAX, bytes)],
    }
}

/// Builds one message's bytes: the declared scalar fields (encoded by prost), nested messages
/// (encoded by their own domain types) and kept records, all in field-number order.
pub(crate) struct Writer {
    declared: Vec<u8>,
    extra: Vec<(u32, Vec<u8>)>,
}

impl Writer {
    /// Starts from prost's encoding of `proto`, whose nested message fields are left empty.
    pub fn new(proto: &impl prost::Message) -> Self {
        Self {
            declared: proto.encode_to_vec(),
            extra: Vec::new(),
        }
    }

    /// Adds a length-delimited field holding an encoded message.
    pub fn message(&mut self, number: u32, body: &[u8]) -> &mut Self {
        let mut record = Vec::with_capacity(body.len() + 12);
        encode_key(number, WireType::LengthDelimited, &mut record);
        encode_varint(body.len() as u64, &mut record);
        record.extend_from_slice(body);
        self.extra.push((number, record));
        self
    }

    /// Adds an optional nested message.
    pub fn opt_message<T>(
        &mut self,
        number: u32,
        value: Option<&T>,
        encode: impl Fn(&T) -> Vec<u8>,
    ) -> &mut Self {
        if let Some(v) = value {
            self.message(number, &encode(v));
        }
        self
    }

    /// Adds a repeated nested message, one record per element.
    pub fn messages<T>(
        &mut self,
        number: u32,
        values: &[T],
        encode: impl Fn(&T) -> Vec<u8>,
    ) -> &mut Self {
        for v in values {
            self.message(number, &encode(v));
        }
        self
    }

    /// The message bytes, with `unknown` merged in.
    pub fn finish(&self, unknown: &UnknownFields) -> Vec<u8> {
        let mut parts = split(&self.declared);
        parts.extend(self.extra.iter().map(|(n, b)| (*n, b.as_slice())));
        parts.extend(split(&unknown.0));
        // Stable: repeated fields keep their order.
        parts.sort_by_key(|(n, _)| *n);
        parts.concat_bytes()
    }
}

trait ConcatBytes {
    fn concat_bytes(&self) -> Vec<u8>;
}

impl ConcatBytes for Vec<(u32, &[u8])> {
    fn concat_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.iter().map(|(_, b)| b.len()).sum());
        for (_, bytes) in self {
            out.extend_from_slice(bytes);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scans_every_wire_type() {
        // 1: varint 150; 2: bytes "ab"; 3: fixed64; 4: fixed32; 5: group with a varint inside.
        let bytes =
            hex::decode("089601120261621901020304050607082d0a0b0c0d2b0801 2c".replace(' ', ""))
                .unwrap();
        let records = scan(&bytes).unwrap();
        let numbers: Vec<u32> = records.iter().map(|r| r.number).collect();
        assert_eq!(numbers, [1, 2, 3, 5, 5]);
        assert_eq!(records[1].payload, Some(&b"ab"[..]));
        assert_eq!(
            records.iter().map(|r| r.bytes.len()).sum::<usize>(),
            bytes.len()
        );
    }

    #[test]
    fn rejects_malformed_records() {
        let cases: &[(&str, WireError)] = &[
            ("08", WireError::Truncated),
            ("0a05ab", WireError::Truncated),
            ("00", WireError::FieldNumber(0)),
            ("0e00", WireError::WireType(6)),
            ("0c", WireError::UnmatchedEndGroup),
            ("0b14", WireError::UnmatchedEndGroup),
            ("08ffffffffffffffffff02", WireError::VarintOverflow),
            ("08ffffffffffffffffffff01", WireError::VarintOverflow),
            ("f8ffffff7f00", WireError::FieldNumber(0xffff_ffff)),
        ];
        for (input, want) in cases {
            let bytes = hex::decode(input).unwrap();
            assert_eq!(scan(&bytes).unwrap_err(), *want, "{input}");
        }
        let deep = [vec![0x0b; 65], vec![0x0c; 65]].concat();
        assert_eq!(scan(&deep).unwrap_err(), WireError::TooDeep);
        let ok = [vec![0x0b; 64], vec![0x0c; 64]].concat();
        assert_eq!(scan(&ok).unwrap().len(), 1);
    }

    #[test]
    fn largest_varint_and_field_number_are_accepted() {
        let bytes = hex::decode("08ffffffffffffffffff01f8ffffff0f00").unwrap();
        let records = scan(&bytes).unwrap();
        assert_eq!(records[1].number, (1 << 29) - 1);
    }

    #[test]
    fn unknown_fields_are_sorted_and_merged_in_order() {
        let bytes = hex::decode("a80601 0801 9006 02 1000".replace(' ', "")).unwrap();
        let fields = Fields {
            records: scan(&bytes).unwrap(),
        };
        let unknown = fields.unknown(&[1]);
        assert_eq!(unknown.field_numbers(), [2, 98, 101]);
        let writer = Writer::new(&());
        assert_eq!(
            writer.finish(&unknown),
            hex::decode("1000900602a80601").unwrap()
        );
    }
}
