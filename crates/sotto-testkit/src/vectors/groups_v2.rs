//! Suite `groups_v2`: multi-recipient encryption, keys messages (rekeys, loading, supplements),
//! group messages, subaccount auth data, kicked notices, and Info/Members config pushes.

use rand_chacha::ChaCha20Rng;
use rand_chacha::rand_core::SeedableRng;
use serde_json::Value;
use sotto_config::{ConfigKind, GroupInfo, GroupMembers};
use sotto_crypto::{Ed25519PublicKey, Ed25519SecretKey, SymmetricKey, X25519PublicKey};
use sotto_groups::auth::{member_flags, verify_subaccount_request};
use sotto_groups::configs::open_group_config;
use sotto_groups::control::read_kicked_notice;
use sotto_groups::message::{DEFAULT_PADDING, decrypt_group_message, encrypt_group_message};
use sotto_groups::multi::{decrypt_for_multiple, encode_simple, encrypt_for_multiple};
use sotto_groups::{GroupAdmin, GroupId, GroupKeys, KeyInfo};
use sotto_identity::{Account, SessionId};

use super::case::{eq, eq_hex};
use super::{Case, CaseResult, Handler};

pub(super) fn handler(group: &str) -> Option<Handler> {
    Some(match group {
        "multi_encrypt" => multi_encrypt,
        "multi_decrypt" => multi_decrypt,
        "rekey" => rekey,
        "keys_load" => keys_load,
        "key_supplement" => key_supplement,
        "message_decrypt" => message_decrypt,
        "message_sizes" => message_sizes,
        "subaccount_auth" => subaccount_auth,
        "kicked_notice" => kicked_notice,
        "config_push_decrypt" => config_push_decrypt,
        _ => return None,
    })
}

fn account(case: &Case<'_>, key: &str) -> Result<Account, String> {
    Ok(Account::from_ed25519_seed(&case.hex_array(key)?))
}

fn admin(case: &Case<'_>) -> Result<GroupAdmin, String> {
    GroupAdmin::from_seed(&case.hex_array("group_seed_hex")?).map_err(|e| e.to_string())
}

fn session_ids(case: &Case<'_>, key: &str) -> Result<Vec<SessionId>, String> {
    case.str_list(key)?
        .into_iter()
        .map(|s| s.parse().map_err(|e| format!("{key}: {e}")))
        .collect()
}

fn x25519_list(case: &Case<'_>, key: &str) -> Result<Vec<X25519PublicKey>, String> {
    case.str_list(key)?
        .into_iter()
        .map(|s| {
            let bytes = hex::decode(s).map_err(|e| format!("{key}: {e}"))?;
            X25519PublicKey::from_slice(&bytes).map_err(|e| format!("{key}: {e}"))
        })
        .collect()
}

fn hex_list(case: &Case<'_>, key: &str) -> Result<Vec<Vec<u8>>, String> {
    case.str_list(key)?
        .into_iter()
        .map(|s| hex::decode(s).map_err(|e| format!("{key}: {e}")))
        .collect()
}

fn symmetric_keys(case: &Case<'_>, key: &str) -> Result<Vec<SymmetricKey>, String> {
    hex_list(case, key)?
        .iter()
        .map(|k| SymmetricKey::from_slice(k).map_err(|e| format!("{key}: {e}")))
        .collect()
}

fn intermediate_hex(case: &Case<'_>, key: &str, got: &[u8]) -> CaseResult {
    match case.intermediate_str(key)? {
        Some(want) => eq_hex(
            &format!("intermediate.{key}"),
            got,
            &hex::decode(want).map_err(|e| format!("intermediate.{key}: {e}"))?,
        ),
        None => Ok(()),
    }
}

fn multi_encrypt(case: &Case<'_>) -> CaseResult {
    let sender = Ed25519SecretKey::from_seed(&case.hex_array("sender_ed25519_seed_hex")?);
    let a = sender.to_x25519();
    let pa = a.public_key();
    eq(
        "sender X25519 key",
        pa,
        X25519PublicKey(case.hex_array("sender_x25519_pk_hex")?),
    )?;
    let recipients = x25519_list(case, "recipient_x25519_pks_hex")?;
    let nonce = case.hex_array::<24>("nonce_hex")?;
    let domain = case.str("domain_utf8")?.as_bytes();
    let messages = case.str_list("messages_utf8")?;
    let refs: Vec<&[u8]> = messages.iter().map(|m| m.as_bytes()).collect();
    let copies = encrypt_for_multiple(&refs, &recipients, &nonce, &a, &pa, domain, false)
        .map_err(|e| e.to_string())?;
    match case.str("encoding")? {
        "list" => {
            let want = hex_list(case, "expected_ciphertexts_hex")?;
            eq("copies", copies.len(), want.len())?;
            for (i, (got, want)) in copies.iter().zip(&want).enumerate() {
                eq_hex(&format!("copy {i}"), got, want)?;
            }
            Ok(())
        }
        "simple" => eq_hex(
            "encoded",
            &encode_simple(&nonce, &copies),
            &case.hex("expected_encoded_hex")?,
        ),
        other => Err(format!("unknown encoding {other}")),
    }
}

fn multi_decrypt(case: &Case<'_>) -> CaseResult {
    let recipient = Ed25519SecretKey::from_seed(&case.hex_array("recipient_ed25519_seed_hex")?);
    let b = recipient.to_x25519();
    let pb = b.public_key();
    eq(
        "recipient X25519 key",
        pb,
        X25519PublicKey(case.hex_array("recipient_x25519_pk_hex")?),
    )?;
    let sender = X25519PublicKey(case.hex_array("sender_x25519_pk_hex")?);
    let nonce = case.hex_array::<24>("nonce_hex")?;
    let domain = case.str("domain_utf8")?.as_bytes();
    let copies = hex_list(case, "ciphertexts_hex")?;
    let got = decrypt_for_multiple(
        copies.iter().map(Vec::as_slice),
        &nonce,
        &b,
        &pb,
        &sender,
        domain,
    );
    if case.expects_error() {
        return match got {
            Ok(_) => Err("decrypted a copy that must not decrypt".into()),
            Err(_) => Ok(()),
        };
    }
    let got = got.map_err(|e| e.to_string())?;
    eq_hex(
        "plaintext",
        &got,
        case.str("expected_plaintext_utf8")?.as_bytes(),
    )
}

fn rekey(case: &Case<'_>) -> CaseResult {
    let admin = admin(case)?;
    intermediate_hex(case, "seed_hash_key_seed_hex", admin.seed_hash().expose())?;
    intermediate_hex(case, "admin_key_hex", admin.admin_key().expose())?;
    intermediate_hex(
        case,
        "group_x25519_pk_hex",
        admin.x25519_public().as_bytes(),
    )?;
    let members = session_ids(case, "member_session_ids_hex")?;
    let generation =
        i64::try_from(case.u64("generation")?).map_err(|_| "generation out of range")?;
    let rekey = admin
        .build_rekey(&members, generation)
        .map_err(|e| e.to_string())?;
    eq_hex(
        "group key",
        rekey.key.expose(),
        &case.hex("expected_group_enc_key_hex")?,
    )?;
    eq(
        "keys message length",
        rekey.message.len() as u64,
        case.u64("expected_keys_message_len")?,
    )?;
    eq_hex(
        "keys message",
        &rekey.message,
        &case.hex("expected_keys_message_hex")?,
    )
}

fn keys_load(case: &Case<'_>) -> CaseResult {
    let member = account(case, "member_ed25519_seed_hex")?;
    let group = GroupId::from_public_key(Ed25519PublicKey(case.hex_array("group_pk_hex")?));
    let message = case.hex("keys_message_hex")?;
    let mut keys = GroupKeys::new(member.ed25519_secret(), group).map_err(|e| e.to_string())?;
    let found = keys
        .load_key_message("hash", &message, 1_700_000_000_000)
        .map_err(|e| e.to_string())?;
    eq("key found", found, case.bool("expected_key_found")?)?;
    if found {
        let info = keys.key_infos().last().ok_or("no key stored")?;
        eq_hex("key", info.key.expose(), &case.hex("expected_key_hex")?)?;
        eq(
            "generation",
            info.generation as u64,
            case.u64("expected_generation")?,
        )?;
    }
    Ok(())
}

fn key_supplement(case: &Case<'_>) -> CaseResult {
    let admin = admin(case)?;
    let recipients = session_ids(case, "recipient_session_ids_hex")?;
    let keys = case
        .json_list("keys")?
        .iter()
        .map(|k| {
            let generation = k
                .get("generation")
                .and_then(Value::as_i64)
                .ok_or("keys: generation")?;
            let key = k
                .get("key_hex")
                .and_then(Value::as_str)
                .and_then(|h| hex::decode(h).ok())
                .and_then(|b| SymmetricKey::from_slice(&b).ok())
                .ok_or("keys: key_hex")?;
            let timestamp_ms = k
                .get("timestamp_ms")
                .and_then(Value::as_i64)
                .ok_or("keys: timestamp_ms")?;
            Ok(KeyInfo {
                generation,
                key,
                timestamp_ms,
            })
        })
        .collect::<Result<Vec<_>, String>>()?;
    let supplement = admin
        .build_supplement(&recipients, &keys)
        .map_err(|e| e.to_string())?;
    eq_hex(
        "supplement",
        &supplement,
        &case.hex("expected_supplement_hex")?,
    )?;
    let recipient = account(case, "recipient_ed25519_seed_hex")?;
    let mut loaded =
        GroupKeys::new(recipient.ed25519_secret(), admin.group_id()).map_err(|e| e.to_string())?;
    let found = loaded
        .load_key_message("hash", &supplement, 1_700_000_002_000)
        .map_err(|e| e.to_string())?;
    eq("recipient found keys", found, true)?;
    eq(
        "recipient key count",
        loaded.key_infos().len() as u64,
        case.u64("expected_recipient_key_count")?,
    )?;
    let current = loaded.encryption_key().map_err(|e| e.to_string())?;
    eq_hex(
        "recipient current key",
        current.expose(),
        &case.hex("expected_recipient_current_key_hex")?,
    )
}

fn message_decrypt(case: &Case<'_>) -> CaseResult {
    let keys = symmetric_keys(case, "keys_hex")?;
    let refs: Vec<&SymmetricKey> = keys.iter().collect();
    let ciphertext = case.hex("ciphertext_hex")?;
    let got = decrypt_group_message(&refs, &ciphertext).map_err(|e| e.to_string())?;
    eq(
        "sender",
        got.sender.to_string().as_str(),
        case.str("expected_sender_session_id_hex")?,
    )?;
    if let Some(compressed) = case.intermediate_str("compressed").ok().flatten() {
        eq(
            "compressed",
            got.compressed.to_string().as_str(),
            compressed,
        )?;
    }
    eq_hex(
        "plaintext",
        &got.plaintext,
        case.str("expected_plaintext_utf8")?.as_bytes(),
    )
}

fn message_sizes(case: &Case<'_>) -> CaseResult {
    let author = Ed25519SecretKey::from_seed(&[1; 32]);
    let key = SymmetricKey::new([2; 32]);
    let plaintext = case.str("plaintext_utf8")?.as_bytes();
    let size = |compress| {
        encrypt_group_message(
            &author,
            &key,
            plaintext,
            compress,
            DEFAULT_PADDING,
            &[3; 24],
        )
        .map(|c| c.len() as u64)
        .map_err(|e| e.to_string())
    };
    eq(
        "compressed size",
        size(true)?,
        case.u64("expected_compressed_len")?,
    )?;
    eq(
        "uncompressed size",
        size(false)?,
        case.u64("expected_uncompressed_len")?,
    )
}

fn expected_bytes(
    case: &Case<'_>,
    hex_key: &str,
    b64_key: &str,
) -> Result<Option<Vec<u8>>, String> {
    if case.has(hex_key) {
        return case.hex(hex_key).map(Some);
    }
    if case.has(b64_key) {
        return case.b64(b64_key).map(Some);
    }
    Ok(None)
}

fn subaccount_auth(case: &Case<'_>) -> CaseResult {
    let admin = admin(case)?;
    let member: SessionId = case
        .str("member_session_id_hex")?
        .parse()
        .map_err(|e| format!("member_session_id_hex: {e}"))?;
    let flags = member_flags(case.bool("write")?, case.bool("delete")?);
    let auth = admin
        .make_subaccount(&member, flags)
        .map_err(|e| e.to_string())?;
    if let Some(want) = expected_bytes(case, "expected_auth_data_hex", "expected_auth_data_b64")? {
        eq_hex("auth data", auth.as_bytes(), &want)?;
    }
    intermediate_hex(case, "auth_data_hex", auth.as_bytes())?;
    intermediate_hex(
        case,
        "subaccount_mask_hex",
        admin.subaccount_mask().expose(),
    )?;
    intermediate_hex(
        case,
        "k_hex",
        auth.as_bytes().get(4..36).unwrap_or_default(),
    )?;
    let token = admin
        .subaccount_token(&member, flags)
        .map_err(|e| e.to_string())?;
    intermediate_hex(case, "subaccount_hex", token.as_bytes())?;
    intermediate_hex(case, "kt_hex", token.pubkey().as_bytes())?;
    if let Some(want) = expected_bytes(case, "expected_subaccount_hex", "expected_subaccount_b64")?
    {
        eq_hex("subaccount token", token.as_bytes(), &want)?;
    }
    if let Some(want) = expected_bytes(
        case,
        "expected_subaccount_sig_hex",
        "expected_subaccount_sig_b64",
    )? {
        eq_hex(
            "subaccount signature",
            auth.as_bytes().get(36..).unwrap_or_default(),
            &want,
        )?;
    }
    let message = case.opt_str("message_utf8")?;
    let member_seed = case.opt_hex("member_ed25519_seed_hex")?;
    if let (Some(message), Some(seed)) = (message, member_seed) {
        let seed: [u8; 32] = seed
            .as_slice()
            .try_into()
            .map_err(|_| "member_ed25519_seed_hex is not 32 bytes")?;
        let user = Account::from_ed25519_seed(&seed);
        eq("member Session ID", user.session_id(), member)?;
        auth.check(
            &admin.group_id(),
            &user.ed25519_public(),
            case.bool("write")?,
            false,
        )
        .map_err(|e| format!("member-side check: {e}"))?;
        let mut t = *user.ed25519_public().as_bytes();
        t[31] &= 0x7f;
        intermediate_hex(case, "member_t_hex", &t)?;
        let signed = auth
            .sign(user.ed25519_secret(), message.as_bytes())
            .map_err(|e| e.to_string())?;
        eq("token used", signed.token, token)?;
        verify_subaccount_request(&admin.group_id(), &signed, message.as_bytes())
            .map_err(|e| format!("storage-server check: {e}"))?;
        if let Some(want) =
            expected_bytes(case, "expected_signature_hex", "expected_signature_b64")?
        {
            eq_hex("request signature", &signed.signature.to_bytes(), &want)?;
        }
    }
    Ok(())
}

fn kicked_notice(case: &Case<'_>) -> CaseResult {
    let admin = admin(case)?;
    let recipients = x25519_list(case, "recipient_x25519_pks_hex")?;
    let members: Vec<SessionId> = recipients
        .iter()
        .copied()
        .map(SessionId::from_x25519)
        .collect();
    let generation =
        i64::try_from(case.u64("generation")?).map_err(|_| "generation out of range")?;
    let nonce = case.hex_array::<24>("nonce_hex")?;
    let mut rng = ChaCha20Rng::seed_from_u64(0);
    let encoded = admin
        .kicked_notice(&members, generation, &nonce, &mut rng)
        .map_err(|e| e.to_string())?;
    eq_hex("encoded", &encoded, &case.hex("expected_encoded_hex")?)?;
    let member = account(case, "recipient_ed25519_seed_hex")?;
    let got = read_kicked_notice(
        &encoded,
        &admin.group_id(),
        &member.x25519_secret(),
        &member.x25519_public(),
        Some(generation),
    )
    .map_err(|e| e.to_string())?;
    eq("generation read back", got, generation)
}

fn config_push_decrypt(case: &Case<'_>) -> CaseResult {
    let keys = symmetric_keys(case, "keys_hex")?;
    let key_refs: Vec<&SymmetricKey> = keys.iter().collect();
    let kind = match case.str("domain_utf8")? {
        "groups::Info" => ConfigKind::GroupInfo,
        "groups::Members" => ConfigKind::GroupMembers,
        other => return Err(format!("unknown domain {other}")),
    };
    let group = Ed25519PublicKey(case.hex_array("group_pk_hex")?);
    let ciphertext = case.hex("ciphertext_hex")?;
    // Whether the padded plaintext was compressed: its first byte after the 0x00 padding is `z`.
    let padded = keys
        .iter()
        .find_map(|k| sotto_config::decrypt(&ciphertext, k.expose(), kind.domain()).ok())
        .ok_or("no key decrypts the push")?;
    let first = padded.iter().copied().find(|b| *b != 0);
    eq(
        "compressed",
        first == Some(b'z'),
        case.bool("expected_compressed")?,
    )?;
    let message =
        open_group_config(&ciphertext, &key_refs, kind, &group).map_err(|e| e.to_string())?;
    intermediate_hex(case, "config_message_hex", message.serialized())?;
    eq(
        "seqno",
        message.seqno(),
        i64::try_from(case.u64("expected_seqno")?).map_err(|e| e.to_string())?,
    )?;
    match kind {
        ConfigKind::GroupInfo => {
            let info = GroupInfo::read(message.data());
            eq(
                "name",
                info.name.as_deref(),
                Some(case.str("expected_name_utf8")?),
            )?;
            eq(
                "created",
                u64::try_from(info.created).ok(),
                Some(case.u64("expected_created")?),
            )
        }
        _ => {
            let members = GroupMembers::list(message.data());
            let want = case.json_list("expected_members")?;
            eq("members", members.len(), want.len())?;
            for (got, want) in members.iter().zip(want) {
                let field = |k: &str| want.get(k).ok_or(format!("expected_members: no {k}"));
                eq(
                    "member id",
                    hex::encode(&got.session_id).as_str(),
                    field("session_id_hex")?.as_str().unwrap_or_default(),
                )?;
                eq(
                    "member name",
                    got.name.as_str(),
                    field("name_utf8")?.as_str().unwrap_or_default(),
                )?;
                eq("member admin", Some(got.admin), field("admin")?.as_bool())?;
                eq(
                    "member invite status",
                    got.invite_status,
                    field("invite_status")?.as_i64(),
                )?;
            }
            Ok(())
        }
    }
}
