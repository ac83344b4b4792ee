//! The config message: strict parsing, canonical serialization, hashes, signatures, seqno
//! increments and the merge of concurrent messages.

use std::collections::BTreeMap;

use sotto_bencode::Value;
use sotto_crypto::{Ed25519PublicKey, Ed25519SecretKey, SIGNATURE_LEN, Signature, blake2b_32};

use crate::data::{
    Dict, DiffDict, apply_diff, dict_to_value, diff, diff_to_value, parse_dict, parse_diff, prune,
};
use crate::{LoadError, MergeError, ParseError, SignatureError};

/// How many seqnos back lagged diffs are kept (libsession's default).
pub const DEFAULT_LAG: i64 = 5;

/// A config message hash: BLAKE2b-256 of its serialization.
pub type ConfigHash = [u8; 32];

/// `(seqno, hash)`: how lagged diffs and merge candidates are ordered.
pub type SeqnoHash = (i64, ConfigHash);

/// The BLAKE2b-256 hash of a serialized config message.
#[must_use]
pub fn message_hash(serialized: &[u8]) -> ConfigHash {
    blake2b_32(&[], &[serialized])
}

/// The parts every config message has, parsed or built.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Parts {
    seqno: i64,
    data: Dict,
    lagged: BTreeMap<SeqnoHash, DiffDict>,
    diff: DiffDict,
    unknown: BTreeMap<Vec<u8>, Value>,
}

impl Parts {
    /// The message dictionary without signature. Lagged diffs outside
    /// `(seqno − lag, seqno)` are left out.
    fn to_value(&self) -> Value {
        let mut top = self.unknown.clone();
        top.insert(b"#".to_vec(), Value::Int(self.seqno));
        top.insert(b"&".to_vec(), dict_to_value(&self.data));
        let lagged = self
            .lagged
            .iter()
            .filter(|((s, _), _)| *s > self.seqno.saturating_sub(DEFAULT_LAG) && *s < self.seqno)
            .map(|((s, h), d)| {
                Value::List(vec![
                    Value::Int(*s),
                    Value::Bytes(h.to_vec()),
                    diff_to_value(d),
                ])
            })
            .collect();
        top.insert(b"<".to_vec(), Value::List(lagged));
        top.insert(b"=".to_vec(), diff_to_value(&self.diff));
        Value::Dict(top)
    }

    /// The serialization, signed by `signer` if given.
    fn serialize(&self, signer: Option<&Ed25519SecretKey>) -> (Vec<u8>, Option<Signature>) {
        let mut out = sotto_bencode::encode(&self.to_value());
        let Some(signer) = signer else {
            return (out, None);
        };
        out.pop(); // the dictionary's closing `e`
        let sig = signer.sign(&out);
        append_signature(&mut out, &sig);
        (out, Some(sig))
    }
}

fn append_signature(unterminated: &mut Vec<u8>, sig: &Signature) {
    unterminated.extend_from_slice(b"1:~64:");
    unterminated.extend_from_slice(&sig.to_bytes());
    unterminated.push(b'e');
}

/// A config message as received or produced: immutable, with its hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigMessage {
    parts: Parts,
    signature: Option<Signature>,
    hash: ConfigHash,
    serialized: Vec<u8>,
}

impl ConfigMessage {
    /// An empty message with seqno 0 (`d1:#i0e1:&de1:<le1:=dee`).
    #[must_use]
    pub fn empty() -> Self {
        Self::from_parts(
            Parts {
                seqno: 0,
                data: Dict::new(),
                lagged: BTreeMap::new(),
                diff: DiffDict::new(),
                unknown: BTreeMap::new(),
            },
            None,
        )
    }

    fn from_parts(parts: Parts, signer: Option<&Ed25519SecretKey>) -> Self {
        let (serialized, signature) = parts.serialize(signer);
        Self {
            hash: message_hash(&serialized),
            parts,
            signature,
            serialized,
        }
    }

    /// Parses `bytes` strictly. With `verifier`, the message must carry a valid Ed25519
    /// signature by that key; without, a signature is parsed but not checked.
    pub fn parse(bytes: &[u8], verifier: Option<&Ed25519PublicKey>) -> Result<Self, LoadError> {
        let Value::Dict(mut top) = sotto_bencode::decode(bytes).map_err(ParseError::from)? else {
            return Err(ParseError::NotADict.into());
        };
        match top.first_key_value() {
            Some((k, Value::Int(_))) if k.as_slice() == b"#" => {}
            Some((k, _)) if k.as_slice() < b"#".as_slice() => {
                return Err(ParseError::FutureFormat.into());
            }
            _ => return Err(ParseError::MissingSeqno.into()),
        }
        if top
            .last_key_value()
            .is_some_and(|(k, _)| k.as_slice() > b"~".as_slice())
        {
            return Err(ParseError::KeyAfterSignature.into());
        }
        let seqno = match top.remove(b"#".as_slice()) {
            Some(Value::Int(s)) => s,
            _ => return Err(ParseError::MissingSeqno.into()),
        };
        let data = match top.remove(b"&".as_slice()) {
            Some(Value::Dict(d)) => parse_dict(d, true)?,
            _ => return Err(ParseError::MissingData.into()),
        };
        let lagged = match top.remove(b"<".as_slice()) {
            None => BTreeMap::new(),
            Some(Value::List(l)) => parse_lagged(l, seqno)?,
            Some(_) => return Err(ParseError::WrongType { key: "<" }.into()),
        };
        let diff = match top.remove(b"=".as_slice()) {
            None => DiffDict::new(),
            Some(Value::Dict(d)) => parse_diff(d)?,
            Some(_) => return Err(ParseError::WrongType { key: "=" }.into()),
        };
        let signature = match top.remove(b"~".as_slice()) {
            None => None,
            Some(Value::Bytes(b)) => Some(
                Signature::from_slice(&b)
                    .map_err(|_| ParseError::SignatureLength { found: b.len() })?,
            ),
            Some(_) => return Err(ParseError::WrongType { key: "~" }.into()),
        };
        if let Some(key) = verifier {
            let sig = signature.as_ref().ok_or(SignatureError::Missing)?;
            // Canonical input: the signed part is everything before `1:~64:<sig>e`.
            let signed_len = bytes.len().saturating_sub(3 + 3 + SIGNATURE_LEN + 1);
            let signed = bytes.get(..signed_len).unwrap_or_default();
            key.verify(signed, sig)
                .map_err(|_| SignatureError::Invalid)?;
        }
        let parts = Parts {
            seqno,
            data,
            lagged,
            diff,
            unknown: top,
        };
        Ok(Self {
            parts,
            signature,
            hash: message_hash(bytes),
            serialized: bytes.to_vec(),
        })
    }

    /// The seqno (`#`).
    #[must_use]
    pub fn seqno(&self) -> i64 {
        self.parts.seqno
    }

    /// The hash: BLAKE2b-256 of the bytes this message was parsed from (or serialized to).
    #[must_use]
    pub fn hash(&self) -> &ConfigHash {
        &self.hash
    }

    /// `(seqno, hash)`.
    #[must_use]
    pub fn seqno_hash(&self) -> SeqnoHash {
        (self.parts.seqno, self.hash)
    }

    /// The data tree (`&`).
    #[must_use]
    pub fn data(&self) -> &Dict {
        &self.parts.data
    }

    /// This message's own diff (`=`).
    #[must_use]
    pub fn diff(&self) -> &DiffDict {
        &self.parts.diff
    }

    /// The lagged diffs (`<`) by `(seqno, hash)`.
    #[must_use]
    pub fn lagged_diffs(&self) -> &BTreeMap<SeqnoHash, DiffDict> {
        &self.parts.lagged
    }

    /// Top-level keys this code does not know, kept for re-serialization.
    #[must_use]
    pub fn unknown(&self) -> &BTreeMap<Vec<u8>, Value> {
        &self.parts.unknown
    }

    /// The signature (`~`), if any.
    #[must_use]
    pub fn signature(&self) -> Option<&Signature> {
        self.signature.as_ref()
    }

    /// The bytes this message was parsed from or serialized to.
    #[must_use]
    pub fn serialized(&self) -> &[u8] {
        &self.serialized
    }

    /// The canonical serialization of the parsed parts with the carried signature (equal to
    /// [`serialized`](Self::serialized) unless the input held lagged diffs too old to keep).
    #[must_use]
    pub fn reserialize(&self) -> Vec<u8> {
        let (mut out, _) = self.parts.serialize(None);
        if let Some(sig) = &self.signature {
            out.pop();
            append_signature(&mut out, sig);
        }
        out
    }

    /// The next message: seqno + 1, data unchanged, this message's diff appended to the lagged
    /// diffs (those older than the lag dropped), an empty diff, no signature.
    #[must_use]
    pub fn increment(&self) -> MutableConfig {
        let new_seqno = self.parts.seqno.saturating_add(1);
        let mut lagged: BTreeMap<SeqnoHash, DiffDict> = self
            .parts
            .lagged
            .iter()
            .filter(|((s, _), _)| *s > new_seqno.saturating_sub(DEFAULT_LAG) && *s < self.seqno())
            .map(|(k, v)| (*k, v.clone()))
            .collect();
        lagged.insert(self.seqno_hash(), self.parts.diff.clone());
        MutableConfig {
            seqno: new_seqno,
            orig_data: self.parts.data.clone(),
            data: self.parts.data.clone(),
            lagged,
            unknown: self.parts.unknown.clone(),
        }
    }

    /// Edits this message without taking a new seqno: for a merge result that has not been
    /// pushed yet, so that local changes join it (as libsession does) rather than making a
    /// second message. Only possible while its own diff is empty (true of every merge result);
    /// otherwise `None`, and [`increment`](Self::increment) is the way to edit.
    #[must_use]
    pub fn amend(&self) -> Option<MutableConfig> {
        self.parts.diff.is_empty().then(|| MutableConfig {
            seqno: self.parts.seqno,
            orig_data: self.parts.data.clone(),
            data: self.parts.data.clone(),
            lagged: self.parts.lagged.clone(),
            unknown: self.parts.unknown.clone(),
        })
    }

    /// Merges config messages from several devices (libsession's rules, §3.3 of the spec).
    ///
    /// Every input that fails to load is skipped (and reported). Messages `lag` or more behind
    /// the highest seqno, messages included in another's lagged diffs and duplicates are
    /// dropped. If one message remains it is adopted as is; otherwise they are merged into a
    /// new message with seqno max + 1 (signed by `signer`), which must then be pushed. If
    /// `verifier` is set but there is no `signer`, the highest message is adopted instead.
    pub fn merge(
        inputs: &[&[u8]],
        verifier: Option<&Ed25519PublicKey>,
        signer: Option<&Ed25519SecretKey>,
    ) -> Result<Merged, MergeError> {
        let mut errors = Vec::new();
        let mut loaded: Vec<(usize, Self)> = Vec::new();
        for (i, bytes) in inputs.iter().enumerate() {
            match Self::parse(bytes, verifier) {
                Ok(m) => loaded.push((i, m)),
                Err(e) => errors.push((i, e)),
            }
        }
        let Some(max_seqno) = loaded.iter().map(|(_, m)| m.seqno()).max() else {
            return Err(MergeError::NoValidMessage {
                count: inputs.len(),
                errors,
            });
        };
        let mut redundant = vec![false; loaded.len()];
        for (i, (_, m)) in loaded.iter().enumerate() {
            let sh = m.seqno_hash();
            let covered = loaded.iter().enumerate().any(|(j, (_, other))| {
                i != j
                    && (other.parts.lagged.contains_key(&sh) || (j < i && other.seqno_hash() == sh))
            });
            let stale = m.seqno().saturating_add(DEFAULT_LAG) <= max_seqno;
            if let Some(r) = redundant.get_mut(i) {
                *r = covered || stale;
            }
        }
        let mut keep: Vec<(usize, &Self)> = loaded
            .iter()
            .zip(&redundant)
            .filter(|(_, r)| !**r)
            .map(|((i, m), _)| (*i, m))
            .collect();
        keep.sort_by_key(|k| std::cmp::Reverse(k.1.seqno_hash()));
        let obsolete_except = |adopted: Option<usize>| -> Vec<(usize, ConfigHash)> {
            loaded
                .iter()
                .filter(|(i, _)| Some(*i) != adopted)
                .map(|(i, m)| (*i, m.hash))
                .collect()
        };

        let adopt = match keep.as_slice() {
            [(i, m)] => Some((*i, *m)),
            [(i, m), ..] if verifier.is_some() && signer.is_none() => Some((*i, *m)),
            _ => None,
        };
        if let Some((i, m)) = adopt {
            return Ok(Merged {
                message: m.clone(),
                adopted: Some(i),
                obsolete: obsolete_except(Some(i)),
                errors,
            });
        }

        let new_seqno = max_seqno.saturating_add(1);
        let mut data = keep
            .first()
            .map(|(_, m)| m.parts.data.clone())
            .unwrap_or_default();
        let mut replay: BTreeMap<SeqnoHash, (&Dict, &DiffDict)> = BTreeMap::new();
        for (_, m) in &keep {
            replay
                .entry(m.seqno_hash())
                .or_insert((&m.parts.data, &m.parts.diff));
            for (sh, d) in &m.parts.lagged {
                replay.entry(*sh).or_insert((&m.parts.data, d));
            }
        }
        let mut lagged = BTreeMap::new();
        for (sh, (source, d)) in &replay {
            apply_diff(&mut data, d, source);
            lagged.insert(*sh, (*d).clone());
        }
        prune(&mut data);
        let unknown = keep
            .first()
            .map(|(_, m)| m.parts.unknown.clone())
            .unwrap_or_default();
        let message = Self::from_parts(
            Parts {
                seqno: new_seqno,
                data,
                lagged,
                diff: DiffDict::new(),
                unknown,
            },
            signer,
        );
        Ok(Merged {
            message,
            adopted: None,
            obsolete: obsolete_except(None),
            errors,
        })
    }
}

fn parse_lagged(
    items: Vec<Value>,
    seqno: i64,
) -> Result<BTreeMap<SeqnoHash, DiffDict>, ParseError> {
    let bad = |reason| ParseError::InvalidLaggedDiff { reason };
    let mut out: BTreeMap<SeqnoHash, DiffDict> = BTreeMap::new();
    for item in items {
        let Value::List(entry) = item else {
            return Err(bad("an entry is not a list"));
        };
        let mut entry = entry.into_iter();
        let Some(Value::Int(s)) = entry.next() else {
            return Err(bad("an entry does not start with a seqno"));
        };
        if s >= seqno {
            return Err(bad("a lagged seqno is not below the message's seqno"));
        }
        if s <= seqno.saturating_sub(DEFAULT_LAG) {
            continue; // too old: dropped, as libsession does
        }
        let hash: ConfigHash = match entry.next() {
            Some(Value::Bytes(h)) => h
                .as_slice()
                .try_into()
                .map_err(|_| bad("a hash is not 32 bytes"))?,
            _ => return Err(bad("an entry has no hash")),
        };
        if out.last_key_value().is_some_and(|(k, _)| *k >= (s, hash)) {
            return Err(bad("entries are unsorted or repeated"));
        }
        let Some(Value::Dict(d)) = entry.next() else {
            return Err(bad("an entry has no diff dictionary"));
        };
        if entry.next().is_some() {
            return Err(bad("an entry has more than three elements"));
        }
        out.insert((s, hash), parse_diff(d)?);
    }
    Ok(out)
}

/// The result of [`ConfigMessage::merge`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Merged {
    /// The resulting message.
    pub message: ConfigMessage,
    /// The index of the input adopted as is, or `None` when a new merged message was made
    /// (which must be pushed).
    pub adopted: Option<usize>,
    /// Inputs (index and config hash) that the result supersedes: their swarm copies can be
    /// deleted once the result is stored. Inputs that failed to load are never listed.
    pub obsolete: Vec<(usize, ConfigHash)>,
    /// Inputs that failed to load, and why.
    pub errors: Vec<(usize, LoadError)>,
}

impl Merged {
    /// Whether the result is a new message that must be pushed.
    #[must_use]
    pub fn needs_push(&self) -> bool {
        self.adopted.is_none()
    }
}

/// A config message being edited: the next seqno, the data as it was, and the data as it is
/// now. The diff (`=`) is whatever changed between the two, computed as libsession does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MutableConfig {
    seqno: i64,
    orig_data: Dict,
    data: Dict,
    lagged: BTreeMap<SeqnoHash, DiffDict>,
    unknown: BTreeMap<Vec<u8>, Value>,
}

impl MutableConfig {
    /// The seqno the edited message will have.
    #[must_use]
    pub fn seqno(&self) -> i64 {
        self.seqno
    }

    /// The data tree as edited so far.
    #[must_use]
    pub fn data(&self) -> &Dict {
        &self.data
    }

    /// The data tree, for edits through [`crate::edit`]'s functions or directly. Empty sets and
    /// dictionaries left behind are pruned before serialization.
    pub fn data_mut(&mut self) -> &mut Dict {
        &mut self.data
    }

    /// Top-level keys this code does not know (kept).
    #[must_use]
    pub fn unknown(&self) -> &BTreeMap<Vec<u8>, Value> {
        &self.unknown
    }

    /// The diff from the data this message started from to the data now.
    #[must_use]
    pub fn diff(&self) -> DiffDict {
        let mut data = self.data.clone();
        prune(&mut data);
        diff(&self.orig_data, &data)
    }

    /// Whether anything changed.
    #[must_use]
    pub fn is_dirty(&self) -> bool {
        !self.diff().is_empty()
    }

    /// Freezes the edits into a message (signed by `signer` if given).
    #[must_use]
    pub fn finish(&self, signer: Option<&Ed25519SecretKey>) -> ConfigMessage {
        let mut data = self.data.clone();
        prune(&mut data);
        let diff = diff(&self.orig_data, &data);
        ConfigMessage::from_parts(
            Parts {
                seqno: self.seqno,
                data,
                lagged: self.lagged.clone(),
                diff,
                unknown: self.unknown.clone(),
            },
            signer,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(bytes: &[u8]) -> Result<ConfigMessage, LoadError> {
        ConfigMessage::parse(bytes, None)
    }

    #[test]
    fn strict_top_level() {
        assert_eq!(
            parse(b"d1:!i1e1:#i0e1:&dee"),
            Err(ParseError::FutureFormat.into())
        );
        assert_eq!(parse(b"d1:&dee"), Err(ParseError::MissingSeqno.into()));
        assert_eq!(
            parse(b"d1:#1:x1:&dee"),
            Err(ParseError::MissingSeqno.into())
        );
        assert_eq!(parse(b"d1:#i0ee"), Err(ParseError::MissingData.into()));
        assert_eq!(parse(b"le"), Err(ParseError::NotADict.into()));
        assert_eq!(
            parse(b"d1:#i0e1:&de1:~0:2:~~i1ee"),
            Err(ParseError::KeyAfterSignature.into())
        );
        assert_eq!(
            parse(b"d1:#i0e1:&de1:~3:abce"),
            Err(ParseError::SignatureLength { found: 3 }.into())
        );
        assert!(matches!(
            parse(b"d1:&de1:#i0ee"),
            Err(LoadError::Parse(ParseError::Bencode(_)) | LoadError::Parse(_))
        ));
        assert_eq!(
            parse(b"d1:#i0e1:&d1:sli2ei1eeee"),
            Err(ParseError::UnsortedSet.into())
        );
        assert_eq!(
            parse(b"d1:#i0e1:&d1:sli1ei1eeee"),
            Err(ParseError::DuplicateInSet.into())
        );
        assert_eq!(
            parse(b"d1:#i0e1:&d1:sl1:ai1eeee"),
            Err(ParseError::UnsortedSet.into())
        );
        assert_eq!(
            parse(b"d1:#i0e1:&de1:=d1:ai1eee"),
            Err(ParseError::InvalidDiff {
                reason: "an integer is not a change"
            }
            .into())
        );
        // `<` and `=` may be absent; they are written back.
        let m = parse(b"d1:#i3e1:&d1:ai1eee").unwrap();
        assert_eq!(m.reserialize(), b"d1:#i3e1:&d1:ai1ee1:<le1:=dee");
        // Unknown keys between known ones stay in place.
        let with_unknown = b"d1:#i0e1:$i7e1:&de1:<le1:=de1:_0:e";
        let m = parse(with_unknown).unwrap();
        assert_eq!(m.unknown().len(), 2);
        assert_eq!(m.reserialize(), with_unknown);
    }

    #[test]
    fn lagged_diffs_checked_and_trimmed() {
        let h = [7u8; 32];
        let entry = |s: i64| {
            Value::List(vec![
                Value::Int(s),
                Value::Bytes(h.to_vec()),
                Value::dict::<&str>([]),
            ])
        };
        let msg = |seqno: i64, lagged: Vec<Value>| {
            sotto_bencode::encode(&Value::dict([
                ("#", Value::Int(seqno)),
                ("&", Value::dict::<&str>([])),
                ("<", Value::List(lagged)),
            ]))
        };
        assert!(matches!(
            parse(&msg(10, vec![entry(10)])),
            Err(LoadError::Parse(ParseError::InvalidLaggedDiff { .. }))
        ));
        assert!(matches!(
            parse(&msg(10, vec![entry(9), entry(8)])),
            Err(LoadError::Parse(ParseError::InvalidLaggedDiff { .. }))
        ));
        let m = parse(&msg(10, vec![entry(4), entry(6), entry(9)])).unwrap();
        assert_eq!(
            m.lagged_diffs().keys().map(|k| k.0).collect::<Vec<_>>(),
            vec![6, 9]
        );
        // The increment to 11 keeps 7..=10 only.
        let next = m.increment().finish(None);
        assert_eq!(
            next.lagged_diffs().keys().map(|k| k.0).collect::<Vec<_>>(),
            vec![9, 10]
        );
    }

    #[test]
    fn signatures_are_required_when_verifying() {
        let sk = Ed25519SecretKey::from_seed(&[9u8; 32]);
        let other = Ed25519SecretKey::from_seed(&[8u8; 32]);
        let mut next = ConfigMessage::empty().increment();
        crate::edit::set_scalar(next.data_mut(), &[b"n"], "x".into()).unwrap();
        let signed = next.finish(Some(&sk));
        let pk = sk.public_key();
        let loaded = ConfigMessage::parse(signed.serialized(), Some(&pk)).unwrap();
        assert_eq!(loaded.hash(), signed.hash());
        assert_eq!(loaded.reserialize(), signed.serialized());
        assert_eq!(
            ConfigMessage::parse(signed.serialized(), Some(&other.public_key())),
            Err(SignatureError::Invalid.into())
        );
        let unsigned = next.finish(None);
        assert_eq!(
            ConfigMessage::parse(unsigned.serialized(), Some(&pk)),
            Err(SignatureError::Missing.into())
        );
        // A verifier without a signer keeps the highest message instead of merging.
        let mut a = signed.increment();
        crate::edit::set_scalar(a.data_mut(), &[b"a"], 1.into()).unwrap();
        let mut b = signed.increment();
        crate::edit::set_scalar(b.data_mut(), &[b"b"], 1.into()).unwrap();
        let (a, b) = (a.finish(Some(&sk)), b.finish(Some(&sk)));
        let inputs = [a.serialized(), b.serialized()];
        let kept = ConfigMessage::merge(&inputs, Some(&pk), None).unwrap();
        assert!(!kept.needs_push());
        assert_eq!(
            kept.message.seqno_hash(),
            a.seqno_hash().max(b.seqno_hash())
        );
        let merged = ConfigMessage::merge(&inputs, Some(&pk), Some(&sk)).unwrap();
        assert!(merged.needs_push());
        assert_eq!(merged.message.seqno(), 3);
        assert!(ConfigMessage::parse(merged.message.serialized(), Some(&pk)).is_ok());
        assert_eq!(merged.message.data().len(), 3);
        // Local edits join the unpushed merge result at the same seqno.
        let mut amended = merged.message.amend().unwrap();
        crate::edit::set_scalar(amended.data_mut(), &[b"c"], 1.into()).unwrap();
        let amended = amended.finish(Some(&sk));
        assert_eq!(amended.seqno(), 3);
        assert_eq!(amended.lagged_diffs(), merged.message.lagged_diffs());
        assert_eq!(amended.data().len(), 4);
        assert!(amended.amend().is_none());
    }

    #[test]
    fn merge_drops_stale_and_reports_failures() {
        let m0 = ConfigMessage::empty();
        let mut m = m0.clone();
        for _ in 0..6 {
            m = m.increment().finish(None);
        }
        let out =
            ConfigMessage::merge(&[m0.serialized(), b"junk", m.serialized()], None, None).unwrap();
        assert_eq!(out.adopted, Some(2));
        assert_eq!(out.obsolete, vec![(0, *m0.hash())]);
        assert_eq!(out.errors.len(), 1);
        assert!(matches!(
            ConfigMessage::merge(&[b"junk"], None, None),
            Err(MergeError::NoValidMessage { count: 1, .. })
        ));
    }
}
