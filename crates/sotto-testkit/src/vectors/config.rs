//! Suite `config`: libsession config messages (encryption, padding, bencoded data, hashes,
//! increments, merges, signatures, pushes of user configs).

use serde_json::Value;
use sotto_config::{
    ConfigMessage, DataValue, Dict, Scalar, Set, data::data_to_value, decrypt, encrypt,
    message_hash, open_pushed, pad, padded_size, seal_for_push, unpad_and_decompress,
};
use sotto_crypto::Ed25519SecretKey;
use sotto_envelope::{SharedConfigKind, unwrap_shared_config, wrap_shared_config};
use sotto_identity::Account;

use super::case::{eq, eq_hex};
use super::{Case, CaseResult, Handler};

pub(super) fn handler(group: &str) -> Option<Handler> {
    Some(match group {
        "encrypt" => encrypt_case,
        "padded_size" => padded_size_case,
        "bencode" => bencode,
        "message_hash" => hash_case,
        "increment" => increment,
        "merge" => merge,
        "signature" => signature,
        "reject_empty_containers" => reject_empty,
        "user_config_push" => user_config_push,
        _ => return None,
    })
}

fn int(case: &Case<'_>, key: &str) -> Result<i64, String> {
    match case.json(key)? {
        Value::Number(n) => n
            .as_i64()
            .ok_or_else(|| format!("field {key} is not an i64")),
        _ => Err(format!("field {key} is not a number")),
    }
}

fn usize_of(case: &Case<'_>, key: &str) -> Result<usize, String> {
    usize::try_from(case.u64(key)?).map_err(|e| format!("{key}: {e}"))
}

fn key_base(case: &Case<'_>) -> Result<[u8; 32], String> {
    case.hex_array("key_base_hex")
}

fn encrypt_case(case: &Case<'_>) -> CaseResult {
    let key = key_base(case)?;
    let domain = case.str("domain_utf8")?;
    match case.str("operation")? {
        "encrypt" => {
            let plaintext = case.str("plaintext_utf8")?.as_bytes();
            let ct = encrypt(plaintext, &key, domain).map_err(|e| e.to_string())?;
            if let Some(want) = case.opt_hex("expected_ciphertext_hex")? {
                eq_hex("ciphertext", &ct, &want)?;
            }
            let nonce = ct.get(ct.len().saturating_sub(24)..).unwrap_or_default();
            eq_hex("nonce", nonce, &case.hex("expected_nonce_hex")?)?;
            let back = decrypt(&ct, &key, domain).map_err(|e| e.to_string())?;
            eq_hex("decrypted", &back, plaintext)
        }
        "decrypt" => {
            let ct = case.hex("ciphertext_hex")?;
            match (decrypt(&ct, &key, domain), case.expects_error()) {
                (Err(_), true) => Ok(()),
                (Ok(_), true) => Err("decryption succeeded but must fail".into()),
                (Err(e), false) => Err(format!("decryption failed: {e}")),
                (Ok(pt), false) => eq_hex(
                    "plaintext",
                    &pt,
                    case.str("expected_plaintext_utf8")?.as_bytes(),
                ),
            }
        }
        other => Err(format!("unknown operation {other}")),
    }
}

fn padded_size_case(case: &Case<'_>) -> CaseResult {
    eq(
        "padded size",
        padded_size(usize_of(case, "size")?, usize_of(case, "overhead")?),
        usize_of(case, "expected_padded_size")?,
    )
}

fn scalar_from_json(v: &Value) -> Result<Scalar, String> {
    match data_from_json(v)? {
        DataValue::Scalar(s) => Ok(s),
        _ => Err("set element is not a scalar".into()),
    }
}

fn data_from_json(v: &Value) -> Result<DataValue, String> {
    if let Some(n) = v.get("int") {
        return n
            .as_i64()
            .map(|i| DataValue::Scalar(Scalar::Int(i)))
            .ok_or_else(|| "int is not an i64".to_owned());
    }
    if let Some(s) = v.get("bytes_utf8").and_then(Value::as_str) {
        return Ok(DataValue::Scalar(Scalar::from(s)));
    }
    if let Some(items) = v.get("set").and_then(Value::as_array) {
        return items
            .iter()
            .map(scalar_from_json)
            .collect::<Result<Set, _>>()
            .map(DataValue::Set);
    }
    if let Some(entries) = v.get("dict").and_then(Value::as_array) {
        let mut d = Dict::new();
        for e in entries {
            let key = e
                .get("key_utf8")
                .and_then(Value::as_str)
                .ok_or("dict entry without key_utf8")?;
            let value = e.get("value").ok_or("dict entry without value")?;
            d.insert(key.as_bytes().to_vec(), data_from_json(value)?);
        }
        return Ok(DataValue::Dict(d));
    }
    Err(format!("unknown value form {v}"))
}

fn bencode(case: &Case<'_>) -> CaseResult {
    let value = data_from_json(case.json("value")?)?;
    let encoded = sotto_bencode::encode(&data_to_value(&value));
    eq_hex(
        "encoding",
        &encoded,
        case.str("expected_encoded_utf8")?.as_bytes(),
    )
}

fn hash_case(case: &Case<'_>) -> CaseResult {
    let bytes = case.hex("serialized_hex")?;
    let want = case.hex("expected_hash_hex")?;
    eq_hex("hash", &message_hash(&bytes), &want)?;
    let msg = ConfigMessage::parse(&bytes, None).map_err(|e| format!("parse: {e}"))?;
    eq("seqno", msg.seqno(), int(case, "expected_seqno")?)?;
    eq_hex("parsed hash", msg.hash(), &want)?;
    eq_hex("re-serialization", &msg.reserialize(), &bytes)
}

fn increment(case: &Case<'_>) -> CaseResult {
    let bytes = case.hex("serialized_hex")?;
    let msg = ConfigMessage::parse(&bytes, None).map_err(|e| format!("parse: {e}"))?;
    let next = msg.increment().finish(None);
    eq("seqno", next.seqno(), int(case, "expected_seqno")?)?;
    eq_hex("hash", next.hash(), &case.hex("expected_hash_hex")?)?;
    if let Some(want) = case.opt_hex("expected_serialized_hex")? {
        eq_hex("serialization", next.serialized(), &want)?;
    }
    Ok(())
}

fn merge(case: &Case<'_>) -> CaseResult {
    let inputs = case
        .str_list("inputs_hex")?
        .into_iter()
        .map(hex::decode)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("inputs_hex: {e}"))?;
    let want = case.hex("expected_merged_hex")?;
    let seqno = int(case, "expected_seqno")?;
    let want_hash = case
        .intermediate_str("merged_hash_hex")?
        .map(hex::decode)
        .transpose()
        .map_err(|e| format!("intermediate.merged_hash_hex: {e}"))?;
    // Every rotation of the inputs, and the reverse order, must give the same bytes.
    let mut orders: Vec<Vec<&[u8]>> = Vec::new();
    for r in 0..inputs.len() {
        let mut order: Vec<&[u8]> = inputs.iter().map(Vec::as_slice).collect();
        order.rotate_left(r);
        orders.push(order.clone());
        order.reverse();
        orders.push(order);
    }
    for order in orders {
        let merged = ConfigMessage::merge(&order, None, None).map_err(|e| e.to_string())?;
        eq_hex("merged message", merged.message.serialized(), &want)?;
        eq("seqno", merged.message.seqno(), seqno)?;
        if let Some(h) = &want_hash {
            eq_hex("merged hash", merged.message.hash(), h)?;
        }
    }
    Ok(())
}

fn signature(case: &Case<'_>) -> CaseResult {
    let sk = Ed25519SecretKey::from_bytes(&case.hex("ed25519_sk_hex")?)
        .map_err(|e| format!("ed25519_sk_hex: {e}"))?;
    let pk = sk.public_key();
    let bytes = case.hex("message_hex")?;
    let loaded = ConfigMessage::parse(&bytes, Some(&pk));
    if case.expects_error() {
        return match loaded {
            Err(_) => Ok(()),
            Ok(_) => Err("message loaded but must be rejected".into()),
        };
    }
    let msg = loaded.map_err(|e| format!("load: {e}"))?;
    let want_sig = case.hex("expected_signature_hex")?;
    eq_hex(
        "carried signature",
        &msg.signature().map(|s| s.to_bytes()).unwrap_or([0; 64]),
        &want_sig,
    )?;
    // Re-sign: an unsigned copy of the same parts, signed by the key.
    let unsigned = bytes
        .get(..bytes.len().saturating_sub(71))
        .ok_or("message too short")?;
    let resigned = sk.sign(unsigned);
    eq_hex("re-signed", &resigned.to_bytes(), &want_sig)?;
    eq_hex("hash", msg.hash(), &case.hex("expected_hash_hex")?)?;
    eq_hex("re-serialization", &msg.reserialize(), &bytes)
}

fn reject_empty(case: &Case<'_>) -> CaseResult {
    let bytes = case.str("message_utf8")?.as_bytes();
    match (ConfigMessage::parse(bytes, None), case.expects_error()) {
        (Err(_), true) => Ok(()),
        (Ok(_), true) => Err("message parsed but must be rejected".into()),
        (Err(e), false) => Err(format!("parse failed: {e}")),
        (Ok(_), false) => Ok(()),
    }
}

fn user_config_push(case: &Case<'_>) -> CaseResult {
    let seed: [u8; 32] = case.hex_array("ed25519_seed_hex")?;
    let account = Account::from_ed25519_seed(&seed);
    let domain = case.str("domain_utf8")?;
    let message = case.hex("config_message_hex")?;
    // The message is too short to compress: seal_for_push must only pad and encrypt.
    let encrypted = seal_for_push(&message, &seed, domain).map_err(|e| e.to_string())?;
    eq_hex(
        "padded + encrypted",
        &encrypted,
        &encrypt(&pad(&message), &seed, domain).map_err(|e| e.to_string())?,
    )?;
    if let Some(want) = case.opt_hex("expected_encrypted_hex")? {
        eq_hex("encrypted config", &encrypted, &want)?;
    }
    if let Some(want) = case.intermediate_str("encrypted_config_hex")? {
        eq_hex(
            "intermediate.encrypted_config",
            &encrypted,
            &hex::decode(want).map_err(|e| e.to_string())?,
        )?;
    }
    let received = if case.bool("protobuf_wrap")? {
        let kind = SharedConfigKind::from_number(
            i32::try_from(case.u64("kind")?).map_err(|e| e.to_string())?,
        )
        .ok_or("unknown kind")?;
        let seqno = int(case, "seqno")?;
        eq(
            "seqno of the message",
            ConfigMessage::parse(&message, None)
                .map_err(|e| e.to_string())?
                .seqno(),
            seqno,
        )?;
        let pushed =
            wrap_shared_config(&account, kind, seqno, &encrypted).map_err(|e| e.to_string())?;
        eq_hex("pushed", &pushed, &case.hex("expected_pushed_hex")?)?;
        let (got_seqno, data) =
            unwrap_shared_config(&account, kind, &pushed).map_err(|e| e.to_string())?;
        eq("unwrapped seqno", got_seqno, seqno)?;
        data
    } else {
        encrypted
    };
    let opened = open_pushed(&received, &seed, domain).map_err(|e| e.to_string())?;
    eq_hex("decrypted config", &opened, &message)?;
    eq_hex(
        "unpadded",
        &unpad_and_decompress(&decrypt(&received, &seed, domain).map_err(|e| e.to_string())?)
            .map_err(|e| e.to_string())?,
        &message,
    )
}
