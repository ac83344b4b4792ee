//! Path-based reads and edits of a data tree, for typed views.
//!
//! A path is a list of dictionary keys from the top of the tree. Edits create intermediate
//! dictionaries as needed; empty sets and dictionaries left by erasures are pruned when the
//! message is finished (and by [`erase`] on the way back up).

use crate::EditError;
use crate::data::{DataValue, Dict, Scalar, Set};

/// The value at `path`, if present.
#[must_use]
pub fn get<'a>(data: &'a Dict, path: &[&[u8]]) -> Option<&'a DataValue> {
    let (last, parents) = path.split_last()?;
    let mut dict = data;
    for key in parents {
        dict = dict.get(*key)?.as_dict()?;
    }
    dict.get(*last)
}

/// The dictionary that holds the last key of `path`, created if absent. A scalar or set in the
/// way is an error (it is not silently replaced).
fn parent_mut<'a>(data: &'a mut Dict, parents: &[&[u8]]) -> Result<&'a mut Dict, EditError> {
    let mut dict = data;
    for (index, key) in parents.iter().enumerate() {
        let slot = dict
            .entry(key.to_vec())
            .or_insert_with(|| DataValue::Dict(Dict::new()));
        dict = match slot {
            DataValue::Dict(d) => d,
            _ => return Err(EditError::NotADict { index }),
        };
    }
    Ok(dict)
}

/// Sets the scalar at `path` (replacing whatever was there).
pub fn set_scalar(data: &mut Dict, path: &[&[u8]], value: Scalar) -> Result<(), EditError> {
    let (last, parents) = path.split_last().ok_or(EditError::EmptyPath)?;
    parent_mut(data, parents)?.insert(last.to_vec(), DataValue::Scalar(value));
    Ok(())
}

/// Removes the value at `path` (if any), then prunes dictionaries left empty along the path.
pub fn erase(data: &mut Dict, path: &[&[u8]]) {
    fn go(dict: &mut Dict, path: &[&[u8]]) {
        match path {
            [] => {}
            [last] => {
                dict.remove(*last);
            }
            [first, rest @ ..] => {
                if let Some(DataValue::Dict(sub)) = dict.get_mut(*first) {
                    go(sub, rest);
                    if sub.is_empty() {
                        dict.remove(*first);
                    }
                }
            }
        }
    }
    go(data, path);
}

/// Adds `value` to the set at `path` (created if absent).
pub fn set_add(data: &mut Dict, path: &[&[u8]], value: Scalar) -> Result<(), EditError> {
    let (last, parents) = path.split_last().ok_or(EditError::EmptyPath)?;
    let slot = parent_mut(data, parents)?
        .entry(last.to_vec())
        .or_insert_with(|| DataValue::Set(Set::new()));
    match slot {
        DataValue::Set(s) => {
            s.insert(value);
            Ok(())
        }
        _ => Err(EditError::NotASet),
    }
}

/// Removes `value` from the set at `path`; the set (and dictionaries left empty) disappear
/// with its last element.
pub fn set_remove(data: &mut Dict, path: &[&[u8]], value: &Scalar) -> Result<(), EditError> {
    let emptied = match get_mut(data, path) {
        None => return Ok(()),
        Some(DataValue::Set(s)) => {
            s.remove(value);
            s.is_empty()
        }
        Some(_) => return Err(EditError::NotASet),
    };
    if emptied {
        erase(data, path);
    }
    Ok(())
}

fn get_mut<'a>(data: &'a mut Dict, path: &[&[u8]]) -> Option<&'a mut DataValue> {
    let (last, parents) = path.split_last()?;
    let mut dict = data;
    for key in parents {
        dict = match dict.get_mut(*key)? {
            DataValue::Dict(d) => d,
            _ => return None,
        };
    }
    dict.get_mut(*last)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_erase_and_sets() {
        let mut d = Dict::new();
        set_scalar(&mut d, &[b"c", b"id", b"n"], "Alice".into()).unwrap();
        assert_eq!(
            get(&d, &[b"c", b"id", b"n"]).and_then(DataValue::as_bytes),
            Some(&b"Alice"[..])
        );
        assert_eq!(
            set_scalar(&mut d, &[b"c", b"id", b"n", b"x"], 1.into()),
            Err(EditError::NotADict { index: 2 })
        );
        set_add(&mut d, &[b"s"], 3.into()).unwrap();
        set_add(&mut d, &[b"s"], "a".into()).unwrap();
        set_remove(&mut d, &[b"s"], &3.into()).unwrap();
        set_remove(&mut d, &[b"s"], &"a".into()).unwrap();
        assert!(get(&d, &[b"s"]).is_none());
        erase(&mut d, &[b"c", b"id", b"n"]);
        assert!(d.is_empty());
    }
}
