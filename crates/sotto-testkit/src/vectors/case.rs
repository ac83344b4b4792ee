use std::cell::RefCell;
use std::collections::BTreeSet;

use base64::Engine as _;
use serde_json::{Map, Value};

use super::Failure;

/// The result of checking one case: `Err` carries the reason it failed.
pub type CaseResult = Result<(), String>;

/// Keys every case may carry that are not inputs or expectations.
const RESERVED: &[&str] = &[
    "id",
    "origin",
    "source",
    "note",
    "behavioural",
    "intermediate",
    "error_hint",
];

/// One vector case, with typed accessors that record which keys a handler read.
pub struct Case<'a> {
    id: String,
    fields: &'a Map<String, Value>,
    read: RefCell<BTreeSet<String>>,
}

impl<'a> Case<'a> {
    pub(super) fn new(value: &'a Value, fallback_id: impl Fn() -> String) -> Result<Self, Failure> {
        let Some(fields) = value.as_object() else {
            return Err(Failure {
                id: fallback_id(),
                reason: "case is not an object".into(),
            });
        };
        let id = fields
            .get("id")
            .and_then(Value::as_str)
            .map_or_else(&fallback_id, str::to_owned);
        Ok(Self {
            id,
            fields,
            read: RefCell::default(),
        })
    }

    /// The case id.
    #[must_use]
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Runs a handler, then requires that it read every input and expectation.
    pub(super) fn run(&self, handler: super::Handler) -> CaseResult {
        handler(self)?;
        let read = self.read.borrow();
        let unread: Vec<&str> = self
            .fields
            .keys()
            .map(String::as_str)
            .filter(|k| !RESERVED.contains(k) && !read.contains(*k))
            .collect();
        if unread.is_empty() {
            Ok(())
        } else {
            Err(format!(
                "handler did not use field(s) {}",
                unread.join(", ")
            ))
        }
    }

    fn raw(&self, key: &str) -> Option<&'a Value> {
        self.read.borrow_mut().insert(key.to_owned());
        self.fields.get(key).filter(|v| !v.is_null())
    }

    /// Whether a (non-null) field is present. Marks it read.
    #[must_use]
    pub fn has(&self, key: &str) -> bool {
        self.raw(key).is_some()
    }

    /// A required string field.
    pub fn str(&self, key: &str) -> Result<&'a str, String> {
        self.opt_str(key)?
            .ok_or_else(|| format!("missing field {key}"))
    }

    /// An optional string field.
    pub fn opt_str(&self, key: &str) -> Result<Option<&'a str>, String> {
        self.raw(key)
            .map(|v| {
                v.as_str()
                    .ok_or_else(|| format!("field {key} is not a string"))
            })
            .transpose()
    }

    /// A required hex field.
    pub fn hex(&self, key: &str) -> Result<Vec<u8>, String> {
        hex::decode(self.str(key)?).map_err(|e| format!("field {key} is not hex: {e}"))
    }

    /// An optional hex field.
    pub fn opt_hex(&self, key: &str) -> Result<Option<Vec<u8>>, String> {
        self.opt_str(key)?
            .map(|s| hex::decode(s).map_err(|e| format!("field {key} is not hex: {e}")))
            .transpose()
    }

    /// A required hex field of exactly `N` bytes.
    pub fn hex_array<const N: usize>(&self, key: &str) -> Result<[u8; N], String> {
        let bytes = self.hex(key)?;
        bytes
            .as_slice()
            .try_into()
            .map_err(|_| format!("field {key} has {} bytes, want {N}", bytes.len()))
    }

    /// A required standard-base64 field.
    pub fn b64(&self, key: &str) -> Result<Vec<u8>, String> {
        base64::engine::general_purpose::STANDARD
            .decode(self.str(key)?)
            .map_err(|e| format!("field {key} is not base64: {e}"))
    }

    /// A required unsigned integer field (a JSON number, or a decimal string for `_u64` fields).
    pub fn u64(&self, key: &str) -> Result<u64, String> {
        match self.raw(key) {
            Some(Value::Number(n)) => n
                .as_u64()
                .ok_or_else(|| format!("field {key} is not a u64")),
            Some(Value::String(s)) => s.parse().map_err(|_| format!("field {key} is not a u64")),
            _ => Err(format!("missing field {key}")),
        }
    }

    /// A required boolean field.
    pub fn bool(&self, key: &str) -> Result<bool, String> {
        self.raw(key)
            .and_then(Value::as_bool)
            .ok_or_else(|| format!("missing boolean field {key}"))
    }

    /// A required list of strings.
    pub fn str_list(&self, key: &str) -> Result<Vec<&'a str>, String> {
        self.raw(key)
            .and_then(Value::as_array)
            .ok_or_else(|| format!("missing list field {key}"))?
            .iter()
            .map(|v| {
                v.as_str()
                    .ok_or_else(|| format!("field {key} has a non-string item"))
            })
            .collect()
    }

    /// A required list of JSON values (e.g. a list of objects the handler reads itself).
    pub fn json_list(&self, key: &str) -> Result<&'a [Value], String> {
        self.raw(key)
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .ok_or_else(|| format!("missing list field {key}"))
    }

    /// A string inside `intermediate`, if present.
    pub fn intermediate_str(&self, key: &str) -> Result<Option<&'a str>, String> {
        self.fields
            .get("intermediate")
            .and_then(|i| i.get(key))
            .map(|v| {
                v.as_str()
                    .ok_or_else(|| format!("intermediate.{key} is not a string"))
            })
            .transpose()
    }

    /// An unsigned integer inside `intermediate` (a JSON number or a decimal string), if present.
    pub fn intermediate_u64(&self, key: &str) -> Result<Option<u64>, String> {
        self.fields
            .get("intermediate")
            .and_then(|i| i.get(key))
            .map(|v| match v {
                Value::Number(n) => n.as_u64(),
                Value::String(s) => s.parse().ok(),
                _ => None,
            })
            .map(|n| n.ok_or_else(|| format!("intermediate.{key} is not a u64")))
            .transpose()
    }

    /// A required field of any JSON type (an object or `_json` value the handler reads itself).
    pub fn json(&self, key: &str) -> Result<&'a Value, String> {
        self.raw(key).ok_or_else(|| format!("missing field {key}"))
    }

    /// Whether the case must be rejected.
    #[must_use]
    pub fn expects_error(&self) -> bool {
        self.raw("expect_error")
            .and_then(Value::as_bool)
            .unwrap_or(false)
    }

    /// The `error_hint`, if any.
    #[must_use]
    pub fn error_hint(&self) -> Option<&'a str> {
        self.fields.get("error_hint").and_then(Value::as_str)
    }
}

/// Fails with a readable diff when two values differ.
pub fn eq<T: PartialEq + std::fmt::Debug>(what: &str, got: T, want: T) -> CaseResult {
    if got == want {
        Ok(())
    } else {
        Err(format!("{what}: got {got:?}, want {want:?}"))
    }
}

/// Compares bytes, printing both in hex.
pub fn eq_hex(what: &str, got: &[u8], want: &[u8]) -> CaseResult {
    if got == want {
        Ok(())
    } else {
        Err(format!(
            "{what}: got {}, want {}",
            hex::encode(got),
            hex::encode(want)
        ))
    }
}
