//! Property tests: merges converge whatever the order, merging is idempotent, edits to
//! different keys on different devices all survive, and unknown top-level keys survive a
//! parse → serialize and an increment.
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "test code"
)]

use proptest::prelude::*;
use sotto_bencode::Value;
use sotto_config::{ConfigMessage, DataValue, Scalar, edit};

#[derive(Debug, Clone)]
enum Op {
    Set(u8, u8, i64),
    SetText(u8, u8, String),
    Erase(u8, u8),
    Add(u8, i64),
    Remove(u8, i64),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0..3u8, 0..3u8, -3..3i64).prop_map(|(a, b, v)| Op::Set(a, b, v)),
        (0..3u8, 0..3u8, "[a-c]{0,2}").prop_map(|(a, b, v)| Op::SetText(a, b, v)),
        (0..3u8, 0..3u8).prop_map(|(a, b)| Op::Erase(a, b)),
        (0..2u8, -3..3i64).prop_map(|(a, v)| Op::Add(a, v)),
        (0..2u8, -3..3i64).prop_map(|(a, v)| Op::Remove(a, v)),
    ]
}

/// Applies `ops` under the top-level key `prefix` (so that devices can be kept apart).
fn apply(data: &mut sotto_config::Dict, prefix: &[u8], ops: &[Op]) {
    for op in ops {
        match op {
            Op::Set(a, b, v) => {
                let _ = edit::set_scalar(data, &[prefix, &[b'd', *a], &[*b]], Scalar::Int(*v));
            }
            Op::SetText(a, b, v) => {
                let _ = edit::set_scalar(data, &[prefix, &[b'd', *a], &[*b]], v.as_str().into());
            }
            Op::Erase(a, b) => edit::erase(data, &[prefix, &[b'd', *a], &[*b]]),
            Op::Add(a, v) => {
                let _ = edit::set_add(data, &[prefix, &[b's', *a]], Scalar::Int(*v));
            }
            Op::Remove(a, v) => {
                let _ = edit::set_remove(data, &[prefix, &[b's', *a]], &Scalar::Int(*v));
            }
        }
    }
}

/// Each device starts from `base`, makes one or two rounds of edits and produces a message.
fn device_messages(base: &ConfigMessage, devices: &[Vec<Vec<Op>>], shared: bool) -> Vec<Vec<u8>> {
    devices
        .iter()
        .enumerate()
        .map(|(i, rounds)| {
            let prefix = if shared {
                b"x".to_vec()
            } else {
                vec![b'p', i as u8]
            };
            let mut msg = base.clone();
            for ops in rounds {
                let mut next = msg.increment();
                apply(next.data_mut(), &prefix, ops);
                msg = next.finish(None);
            }
            msg.serialized().to_vec()
        })
        .collect()
}

fn base_message(ops: &[Op]) -> ConfigMessage {
    let mut first = ConfigMessage::empty().increment();
    apply(first.data_mut(), b"x", ops);
    first.finish(None)
}

/// Base edits, per device a list of edit rounds, whether devices share keys, a shuffle.
type History = (Vec<Op>, Vec<Vec<Vec<Op>>>, bool, Vec<usize>);

fn histories() -> impl Strategy<Value = History> {
    (
        proptest::collection::vec(op(), 0..8),
        proptest::collection::vec(
            proptest::collection::vec(proptest::collection::vec(op(), 0..6), 1..3),
            2..5,
        ),
        any::<bool>(),
        proptest::collection::vec(any::<usize>(), 8),
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn merge_converges_in_any_order_and_is_idempotent(
        (base_ops, devices, shared, shuffle) in histories()
    ) {
        let base = base_message(&base_ops);
        let msgs = device_messages(&base, &devices, shared);
        let refs: Vec<&[u8]> = msgs.iter().map(Vec::as_slice).collect();
        let merged = ConfigMessage::merge(&refs, None, None).unwrap();

        // Any other order gives the same bytes.
        let mut other = refs.clone();
        for (i, s) in shuffle.iter().enumerate() {
            let n = other.len();
            other.swap(i % n, s % n);
        }
        let again = ConfigMessage::merge(&other, None, None).unwrap();
        prop_assert_eq!(again.message.serialized(), merged.message.serialized());

        // Merging the result with what it came from changes nothing.
        let mut with_result = vec![merged.message.serialized()];
        with_result.extend(refs.iter().copied());
        let idem = ConfigMessage::merge(&with_result, None, None).unwrap();
        prop_assert_eq!(idem.message.serialized(), merged.message.serialized());
        let twice = ConfigMessage::merge(
            &[merged.message.serialized(), merged.message.serialized()],
            None,
            None,
        )
        .unwrap();
        prop_assert_eq!(twice.message.serialized(), merged.message.serialized());
        prop_assert!(!twice.needs_push());

        // Parsing the merge result gives it back.
        let parsed = ConfigMessage::parse(merged.message.serialized(), None).unwrap();
        prop_assert_eq!(parsed.reserialize(), merged.message.serialized().to_vec());

        // Devices that edited different keys: every device's final data survives.
        if !shared {
            for (i, m) in msgs.iter().enumerate() {
                let m = ConfigMessage::parse(m, None).unwrap();
                let key = vec![b'p', i as u8];
                prop_assert_eq!(m.data().get(&key), merged.message.data().get(&key));
            }
        }
    }
}

fn unknown_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        any::<i64>().prop_map(Value::Int),
        proptest::collection::vec(any::<u8>(), 0..8).prop_map(Value::Bytes),
    ];
    leaf.prop_recursive(2, 8, 3, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..3).prop_map(Value::List),
            proptest::collection::btree_map(
                proptest::collection::vec(any::<u8>(), 0..3),
                inner,
                0..3
            )
            .prop_map(Value::Dict),
        ]
    })
}

fn unknown_key() -> impl Strategy<Value = Vec<u8>> {
    // Keys after "#" and before "~" that are not the known ones.
    proptest::collection::vec(b'$'..b'}', 1..4)
        .prop_filter("known key", |k| !matches!(k.as_slice(), b"&" | b"<" | b"="))
}

proptest! {
    #[test]
    fn unknown_keys_survive_round_trips(
        ops in proptest::collection::vec(op(), 0..6),
        unknown in proptest::collection::btree_map(unknown_key(), unknown_value(), 1..4),
    ) {
        let msg = base_message(&ops);
        let Value::Dict(mut top) = sotto_bencode::decode(msg.serialized()).unwrap() else {
            panic!("not a dict")
        };
        for (k, v) in &unknown {
            top.insert(k.clone(), v.clone());
        }
        let bytes = sotto_bencode::encode(&Value::Dict(top));
        let parsed = ConfigMessage::parse(&bytes, None).unwrap();
        prop_assert_eq!(parsed.unknown(), &unknown);
        prop_assert_eq!(parsed.reserialize(), bytes.clone());

        // A read-modify-write keeps them too.
        let mut next = parsed.increment();
        edit::set_scalar(next.data_mut(), &[b"n"], "new".into()).unwrap();
        let written = next.finish(None);
        let reread = ConfigMessage::parse(written.serialized(), None).unwrap();
        prop_assert_eq!(reread.unknown(), &unknown);
        prop_assert_eq!(
            reread.data().get(b"n".as_slice()),
            Some(&DataValue::Scalar("new".into()))
        );
    }
}

proptest! {
    /// Damaged messages (truncated, a byte changed) are refused or parse to something that
    /// re-serializes consistently; damaged ciphertexts never decrypt. Never a panic.
    #[test]
    fn damaged_input_is_refused_cleanly(
        ops in proptest::collection::vec(op(), 1..8),
        cut in any::<prop::sample::Index>(),
        flip in any::<prop::sample::Index>(),
        xor in 1..=255u8,
    ) {
        let msg = base_message(&ops);
        let bytes = msg.serialized();
        let truncated = &bytes[..cut.index(bytes.len())];
        prop_assert!(ConfigMessage::parse(truncated, None).is_err());
        let mut changed = bytes.to_vec();
        changed[flip.index(bytes.len())] ^= xor;
        if let Ok(m) = ConfigMessage::parse(&changed, None) {
            let again = ConfigMessage::parse(&m.reserialize(), None).unwrap();
            prop_assert_eq!(again.data(), m.data());
        }
        let key = [1u8; 32];
        let sealed = sotto_config::seal_for_push(bytes, &key, "Contacts").unwrap();
        prop_assert_eq!(sotto_config::open_pushed(&sealed, &key, "Contacts").unwrap(), bytes.to_vec());
        let mut bad = sealed.clone();
        let i = flip.index(bad.len());
        bad[i] ^= xor;
        prop_assert!(sotto_config::open_pushed(&bad, &key, "Contacts").is_err());
    }
}
