//! The data tree of a config message (`&`) and the diffs between two trees (`=` and `<`).

use std::collections::{BTreeMap, BTreeSet};

use sotto_bencode::Value;

use crate::ParseError;

/// A set element or a plain value: an integer or a byte string.
///
/// The derived order is the order of config sets: every integer (ascending) before every byte
/// string (bytewise ascending).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Scalar {
    /// A signed 64-bit integer.
    Int(i64),
    /// A byte string (often UTF-8 text, but not necessarily).
    Bytes(Vec<u8>),
}

impl Scalar {
    /// The integer, if this is one.
    #[must_use]
    pub fn as_int(&self) -> Option<i64> {
        match self {
            Self::Int(i) => Some(*i),
            Self::Bytes(_) => None,
        }
    }

    /// The bytes, if this is a byte string.
    #[must_use]
    pub fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            Self::Bytes(b) => Some(b),
            Self::Int(_) => None,
        }
    }

    fn to_value(&self) -> Value {
        match self {
            Self::Int(i) => Value::Int(*i),
            Self::Bytes(b) => Value::Bytes(b.clone()),
        }
    }
}

impl From<i64> for Scalar {
    fn from(i: i64) -> Self {
        Self::Int(i)
    }
}

impl From<&str> for Scalar {
    fn from(s: &str) -> Self {
        Self::Bytes(s.as_bytes().to_vec())
    }
}

impl From<&[u8]> for Scalar {
    fn from(b: &[u8]) -> Self {
        Self::Bytes(b.to_vec())
    }
}

impl From<Vec<u8>> for Scalar {
    fn from(b: Vec<u8>) -> Self {
        Self::Bytes(b)
    }
}

/// A config set: never empty once pruned, kept in [`Scalar`] order.
pub type Set = BTreeSet<Scalar>;

/// A config dictionary: keys in bytewise order.
pub type Dict = BTreeMap<Vec<u8>, DataValue>;

/// A value in the data tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DataValue {
    /// An integer or a byte string.
    Scalar(Scalar),
    /// A set of scalars (a bt list on the wire).
    Set(Set),
    /// A nested dictionary.
    Dict(Dict),
}

impl DataValue {
    /// The scalar, if this is one.
    #[must_use]
    pub fn as_scalar(&self) -> Option<&Scalar> {
        match self {
            Self::Scalar(s) => Some(s),
            _ => None,
        }
    }

    /// The integer, if this is an integer scalar.
    #[must_use]
    pub fn as_int(&self) -> Option<i64> {
        self.as_scalar().and_then(Scalar::as_int)
    }

    /// The bytes, if this is a byte-string scalar.
    #[must_use]
    pub fn as_bytes(&self) -> Option<&[u8]> {
        self.as_scalar().and_then(Scalar::as_bytes)
    }

    /// The set, if this is one.
    #[must_use]
    pub fn as_set(&self) -> Option<&Set> {
        match self {
            Self::Set(s) => Some(s),
            _ => None,
        }
    }

    /// The dictionary, if this is one.
    #[must_use]
    pub fn as_dict(&self) -> Option<&Dict> {
        match self {
            Self::Dict(d) => Some(d),
            _ => None,
        }
    }
}

/// One entry of a diff dictionary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DiffEntry {
    /// `""`: the scalar at this key was assigned (its value is in the message's data).
    Assigned,
    /// `"-"`: the scalar at this key was removed.
    Removed,
    /// `[added, removed]`: set elements added and removed.
    Set {
        /// Elements added.
        added: Set,
        /// Elements removed.
        removed: Set,
    },
    /// Changes inside the dictionary at this key.
    Dict(DiffDict),
}

/// A diff dictionary: what changed, key by key.
pub type DiffDict = BTreeMap<Vec<u8>, DiffEntry>;

// ---------------------------------------------------------------------------------------------
// Parsing from bencode values.

pub(crate) fn parse_dict(
    entries: BTreeMap<Vec<u8>, Value>,
    top_level: bool,
) -> Result<Dict, ParseError> {
    if !top_level && entries.is_empty() {
        return Err(ParseError::EmptyDict);
    }
    entries
        .into_iter()
        .map(|(k, v)| {
            let value = match v {
                Value::Int(i) => DataValue::Scalar(Scalar::Int(i)),
                Value::Bytes(b) => DataValue::Scalar(Scalar::Bytes(b)),
                Value::Dict(d) => DataValue::Dict(parse_dict(d, false)?),
                Value::List(l) => DataValue::Set(parse_set(l)?),
            };
            Ok((k, value))
        })
        .collect()
}

fn scalar_of(value: Value) -> Result<Scalar, ParseError> {
    match value {
        Value::Int(i) => Ok(Scalar::Int(i)),
        Value::Bytes(b) => Ok(Scalar::Bytes(b)),
        Value::List(_) | Value::Dict(_) => Err(ParseError::NonScalarInSet),
    }
}

/// A strictly ascending list of scalars (may be empty).
fn parse_sorted_scalars(items: Vec<Value>) -> Result<Set, ParseError> {
    let mut set = Set::new();
    for item in items {
        let scalar = scalar_of(item)?;
        match set.last() {
            Some(last) if *last == scalar => return Err(ParseError::DuplicateInSet),
            Some(last) if *last > scalar => return Err(ParseError::UnsortedSet),
            _ => {}
        }
        set.insert(scalar);
    }
    Ok(set)
}

fn parse_set(items: Vec<Value>) -> Result<Set, ParseError> {
    if items.is_empty() {
        return Err(ParseError::EmptySet);
    }
    parse_sorted_scalars(items)
}

pub(crate) fn parse_diff(entries: BTreeMap<Vec<u8>, Value>) -> Result<DiffDict, ParseError> {
    entries
        .into_iter()
        .map(|(k, v)| {
            let entry = match v {
                Value::Bytes(b) if b.is_empty() => DiffEntry::Assigned,
                Value::Bytes(b) if b == b"-" => DiffEntry::Removed,
                Value::Bytes(_) => {
                    return Err(ParseError::InvalidDiff {
                        reason: "a scalar change must be \"\" or \"-\"",
                    });
                }
                Value::Int(_) => {
                    return Err(ParseError::InvalidDiff {
                        reason: "an integer is not a change",
                    });
                }
                Value::Dict(d) => DiffEntry::Dict(parse_diff(d)?),
                Value::List(l) => {
                    let [added, removed]: [Value; 2] =
                        l.try_into().map_err(|_| ParseError::InvalidDiff {
                            reason: "a set change must be [added, removed]",
                        })?;
                    let (Value::List(added), Value::List(removed)) = (added, removed) else {
                        return Err(ParseError::InvalidDiff {
                            reason: "a set change must hold two lists",
                        });
                    };
                    DiffEntry::Set {
                        added: parse_sorted_scalars(added)?,
                        removed: parse_sorted_scalars(removed)?,
                    }
                }
            };
            Ok((k, entry))
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Encoding to bencode values.

/// The data tree as a bencode value (sets as sorted lists).
#[must_use]
pub fn dict_to_value(dict: &Dict) -> Value {
    Value::Dict(
        dict.iter()
            .map(|(k, v)| (k.clone(), data_to_value(v)))
            .collect(),
    )
}

/// One data value as a bencode value.
#[must_use]
pub fn data_to_value(value: &DataValue) -> Value {
    match value {
        DataValue::Scalar(s) => s.to_value(),
        DataValue::Set(s) => set_to_value(s),
        DataValue::Dict(d) => dict_to_value(d),
    }
}

fn set_to_value(set: &Set) -> Value {
    Value::List(set.iter().map(Scalar::to_value).collect())
}

/// A diff dictionary as a bencode value.
#[must_use]
pub fn diff_to_value(diff: &DiffDict) -> Value {
    Value::Dict(
        diff.iter()
            .map(|(k, e)| {
                let v = match e {
                    DiffEntry::Assigned => Value::Bytes(Vec::new()),
                    DiffEntry::Removed => Value::Bytes(b"-".to_vec()),
                    DiffEntry::Set { added, removed } => {
                        Value::List(vec![set_to_value(added), set_to_value(removed)])
                    }
                    DiffEntry::Dict(d) => diff_to_value(d),
                };
                (k.clone(), v)
            })
            .collect(),
    )
}

// ---------------------------------------------------------------------------------------------
// Diff computation, application and pruning (libsession's rules).

/// Removes empty sets and dictionaries anywhere below `dict` (not `dict` itself).
pub fn prune(dict: &mut Dict) {
    dict.retain(|_, v| match v {
        DataValue::Scalar(_) => true,
        DataValue::Set(s) => !s.is_empty(),
        DataValue::Dict(d) => {
            prune(d);
            !d.is_empty()
        }
    });
}

fn set_diff(old: &Set, new: &Set) -> Option<DiffEntry> {
    let added: Set = new.difference(old).cloned().collect();
    let removed: Set = old.difference(new).cloned().collect();
    (!added.is_empty() || !removed.is_empty()).then_some(DiffEntry::Set { added, removed })
}

fn added_entry(value: &DataValue) -> Option<DiffEntry> {
    match value {
        DataValue::Scalar(_) => Some(DiffEntry::Assigned),
        DataValue::Set(s) => set_diff(&Set::new(), s),
        DataValue::Dict(d) => {
            let sub = diff(&Dict::new(), d);
            (!sub.is_empty()).then_some(DiffEntry::Dict(sub))
        }
    }
}

fn removed_entry(value: &DataValue) -> Option<DiffEntry> {
    match value {
        DataValue::Scalar(_) => Some(DiffEntry::Removed),
        DataValue::Set(s) => set_diff(s, &Set::new()),
        DataValue::Dict(d) => {
            let sub = diff(d, &Dict::new());
            (!sub.is_empty()).then_some(DiffEntry::Dict(sub))
        }
    }
}

/// The diff that turns `old` into `new` (both pruned): assigned scalars as `""`, removed ones as
/// `"-"`, set changes as `[added, removed]`, nested changes as nested diffs. A value whose kind
/// changed (scalar, set, dictionary) is described as newly added.
#[must_use]
pub fn diff(old: &Dict, new: &Dict) -> DiffDict {
    let mut out = DiffDict::new();
    for (k, o) in old {
        if !new.contains_key(k)
            && let Some(e) = removed_entry(o)
        {
            out.insert(k.clone(), e);
        }
    }
    for (k, n) in new {
        let entry = match (old.get(k), n) {
            (Some(DataValue::Scalar(o)), DataValue::Scalar(s)) => {
                (o != s).then_some(DiffEntry::Assigned)
            }
            (Some(DataValue::Set(o)), DataValue::Set(s)) => set_diff(o, s),
            (Some(DataValue::Dict(o)), DataValue::Dict(d)) => {
                let sub = diff(o, d);
                (!sub.is_empty()).then_some(DiffEntry::Dict(sub))
            }
            _ => added_entry(n),
        };
        if let Some(e) = entry {
            out.insert(k.clone(), e);
        }
    }
    out
}

/// Applies `diff` to `data`, taking assigned values from `source` (the data of the message the
/// diff belongs to). A value that `source` no longer holds with the kind the diff expects is
/// removed (a later diff removes or replaces it). Does not prune.
pub fn apply_diff(data: &mut Dict, diff: &DiffDict, source: &Dict) {
    for (k, change) in diff {
        let src = source.get(k);
        match (change, src) {
            (DiffEntry::Removed, Some(DataValue::Scalar(_))) => {
                data.remove(k);
            }
            (DiffEntry::Assigned, Some(DataValue::Scalar(s))) => {
                data.insert(k.clone(), DataValue::Scalar(s.clone()));
            }
            (DiffEntry::Dict(sub), Some(DataValue::Dict(src_sub))) => {
                let slot = data
                    .entry(k.clone())
                    .or_insert_with(|| DataValue::Dict(Dict::new()));
                if !matches!(slot, DataValue::Dict(_)) {
                    *slot = DataValue::Dict(Dict::new());
                }
                if let DataValue::Dict(d) = slot {
                    apply_diff(d, sub, src_sub);
                }
            }
            (DiffEntry::Set { added, removed }, Some(DataValue::Set(_))) => {
                let slot = data
                    .entry(k.clone())
                    .or_insert_with(|| DataValue::Set(Set::new()));
                if !matches!(slot, DataValue::Set(_)) {
                    *slot = DataValue::Set(Set::new());
                }
                if let DataValue::Set(s) = slot {
                    s.extend(added.iter().cloned());
                    for r in removed {
                        s.remove(r);
                    }
                }
            }
            _ => {
                data.remove(k);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(pairs: &[(&str, DataValue)]) -> Dict {
        pairs
            .iter()
            .map(|(k, v)| (k.as_bytes().to_vec(), v.clone()))
            .collect()
    }

    #[test]
    fn diff_then_apply_reproduces_new() {
        let old = d(&[
            ("a", DataValue::Scalar(1.into())),
            (
                "b",
                DataValue::Set([Scalar::from(1), Scalar::from("x")].into()),
            ),
            (
                "c",
                DataValue::Dict(d(&[("x", DataValue::Scalar("y".into()))])),
            ),
        ]);
        let new = d(&[
            ("a", DataValue::Scalar(2.into())),
            (
                "b",
                DataValue::Set([Scalar::from(2), Scalar::from("x")].into()),
            ),
            ("d", DataValue::Scalar("new".into())),
        ]);
        let df = diff(&old, &new);
        let mut data = old.clone();
        apply_diff(&mut data, &df, &new);
        prune(&mut data);
        assert_eq!(data, new);
    }

    #[test]
    fn set_order_is_ints_then_bytes() {
        let s: Set = [Scalar::from("a"), Scalar::from(-5), Scalar::from(3)].into();
        let v: Vec<_> = s.into_iter().collect();
        assert_eq!(v, vec![Scalar::Int(-5), Scalar::Int(3), Scalar::from("a")]);
    }
}
