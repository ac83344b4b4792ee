use sotto_crypto::{Ed25519PublicKey, Ed25519SecretKey, Signature, X25519PublicKey};
use sotto_identity::{Account, IdPrefix, RecoverySeed};

use super::case::{eq, eq_hex};
use super::{Case, CaseResult, Handler};

pub(super) fn handler(group: &str) -> Option<Handler> {
    Some(match group {
        "seed_keys" => seed_keys,
        "xed25519_pubkey" => xed25519_pubkey,
        "ed25519_sign" => ed25519_sign,
        "key_conversion" => key_conversion,
        _ => return None,
    })
}

fn seed_keys(case: &Case<'_>) -> CaseResult {
    let seed: [u8; 32] = case.hex_array("ed25519_seed_hex")?;
    let account = Account::from_ed25519_seed(&seed);
    if let Some(seed16) = case.opt_hex("seed16_hex")? {
        let seed16: [u8; 16] = seed16
            .as_slice()
            .try_into()
            .map_err(|_| "seed16_hex is not 16 bytes")?;
        let from16 = Account::from_recovery_seed(&RecoverySeed::from_bytes(&seed16));
        eq_hex("seed16 ‖ 0¹⁶", from16.ed25519_seed().expose(), &seed)?;
        eq(
            "account from seed16",
            from16.session_id(),
            account.session_id(),
        )?;
    }
    if let Some(pk) = case.opt_hex("expected_ed25519_pk_hex")? {
        eq_hex("Ed25519 pk", account.ed25519_public().as_bytes(), &pk)?;
    }
    if let Some(sk) = case.opt_hex("expected_ed25519_sk_hex")? {
        eq_hex(
            "Ed25519 sk",
            account.ed25519_secret().to_libsodium_bytes().expose(),
            &sk,
        )?;
    }
    if let Some(pk) = case.opt_hex("expected_x25519_pk_hex")? {
        eq_hex("X25519 pk", account.x25519_public().as_bytes(), &pk)?;
    }
    if let Some(sk) = case.opt_hex("expected_x25519_sk_hex")? {
        eq_hex(
            "X25519 sk",
            account.x25519_secret().to_bytes().expose(),
            &sk,
        )?;
    }
    if let Some(id) = case.opt_str("expected_session_id_hex")? {
        eq("Session ID", account.session_id().to_string().as_str(), id)?;
        // The storage server's pubkey_ed25519 check: the Session ID is the X25519 form of the key.
        let converted = account
            .ed25519_public()
            .to_x25519()
            .map_err(|e| e.to_string())?;
        eq("X25519(Ed25519 pk)", converted, account.x25519_public())?;
    }
    if let Some(id) = case.opt_str("expected_group_id_hex")? {
        eq(
            "group id",
            account.ed25519_id(IdPrefix::Group).to_string().as_str(),
            id,
        )?;
    }
    Ok(())
}

fn xed25519_pubkey(case: &Case<'_>) -> CaseResult {
    let x = X25519PublicKey(case.hex_array("x25519_pk_hex")?);
    let got = x.to_ed25519_positive().map_err(|e| e.to_string())?;
    eq_hex(
        "positive Ed25519 key",
        got.as_bytes(),
        &case.hex("expected_xed25519_pk_hex")?,
    )?;
    if let Some(real) = case.opt_hex("account_ed25519_pk_hex")? {
        let real = Ed25519PublicKey::from_slice(&real).map_err(|e| e.to_string())?;
        let mut expect = got.0;
        if real.is_negative() {
            expect[31] |= 0x80;
        }
        eq_hex(
            "account key = positive key with its sign",
            &expect,
            real.as_bytes(),
        )?;
        eq(
            "account key converts back",
            real.to_x25519().map_err(|e| e.to_string())?,
            x,
        )?;
    }
    Ok(())
}

fn ed25519_sign(case: &Case<'_>) -> CaseResult {
    let key = Ed25519SecretKey::from_seed(&case.hex_array("ed25519_seed_hex")?);
    let msg = case.str("message_utf8")?.as_bytes();
    let sig = key.sign(msg);
    eq_hex("signature", &sig.0, &case.hex("expected_signature_hex")?)?;
    key.public_key()
        .verify(msg, &sig)
        .map_err(|e| e.to_string())?;
    let mut tampered = msg.to_vec();
    tampered.push(0);
    if key
        .public_key()
        .verify(&tampered, &Signature(sig.0))
        .is_ok()
    {
        return Err("signature verified over a different message".into());
    }
    Ok(())
}

fn key_conversion(case: &Case<'_>) -> CaseResult {
    let input = case.hex("input_hex")?;
    let want = case.hex("expected_output_hex")?;
    let got = match case.str("conversion")? {
        "ed25519_pk_to_x25519" => Ed25519PublicKey::from_slice(&input)
            .and_then(|pk| pk.to_x25519())
            .map(|x| x.0.to_vec())
            .map_err(|e| e.to_string())?,
        "ed25519_sk_to_x25519" => Ed25519SecretKey::from_bytes(&input)
            .map(|sk| sk.to_x25519().to_bytes().expose().to_vec())
            .map_err(|e| e.to_string())?,
        other => return Err(format!("unknown conversion {other:?}")),
    };
    eq_hex("converted key", &got, &want)
}
