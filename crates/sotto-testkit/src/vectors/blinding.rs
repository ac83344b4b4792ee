use sotto_crypto::{Ed25519PublicKey, Ed25519SecretKey, Signature};
use sotto_identity::blinding::{self, Blind15Nonce, BlindedKeypair};
use sotto_identity::version::{self, VersionKey};
use sotto_identity::{Account, IdPrefix, PrefixedId, SessionId};

use super::case::{eq, eq_hex};
use super::{Case, CaseResult, Handler};

pub(super) fn handler(group: &str) -> Option<Handler> {
    Some(match group {
        "blind15_key" => blind15_key,
        "blind15_id_from_session_id" => blind15_id_from_session_id,
        "blind25_id" => blind25_id,
        "blind15_sign" => |c| blinded_sign(c, IdPrefix::Blinded15),
        "blind25_sign" => |c| blinded_sign(c, IdPrefix::Blinded25),
        "version_key" => version_key,
        "version_sign" => version_sign,
        _ => return None,
    })
}

fn session_id(case: &Case<'_>) -> Result<SessionId, String> {
    case.str("session_id_hex")?
        .parse()
        .map_err(|e| format!("session_id_hex: {e}"))
}

fn blinded_id(case: &Case<'_>, key: &str) -> Result<PrefixedId, String> {
    case.str(key)?.parse().map_err(|e| format!("{key}: {e}"))
}

fn seed_account(case: &Case<'_>) -> Result<Account, String> {
    Ok(Account::from_ed25519_seed(
        &case.hex_array("ed25519_seed_hex")?,
    ))
}

fn blind15_key(case: &Case<'_>) -> CaseResult {
    let account = seed_account(case)?;
    let server_pk = case.hex_array("server_pk_hex")?;
    let want = blinded_id(case, "expected_blinded_id_hex")?;
    eq(
        "owner's 15-blinded id",
        account.blind15(&server_pk).id(),
        want,
    )?;
    let sid = session_id(case)?;
    eq("Session ID of the seed", account.session_id(), sid)?;
    let candidates = blinding::blind15_ids(&sid, &server_pk).map_err(|e| e.to_string())?;
    if !candidates.contains(&want) {
        return Err(format!(
            "{want} is not among the Session ID's candidates {candidates:?}"
        ));
    }
    Ok(())
}

fn blind15_id_from_session_id(case: &Case<'_>) -> CaseResult {
    let sid = session_id(case)?;
    let server_pk = case.hex_array("server_pk_hex")?;
    let want = blinded_id(case, "expected_blinded_id_hex")?;
    let [plus, flipped] = blinding::blind15_ids(&sid, &server_pk).map_err(|e| e.to_string())?;
    match case.opt_str("expected_candidate")? {
        Some("k_times_a_plus") => eq("k·A⁺ candidate", plus, want)?,
        Some("sign_flipped") => eq("sign-flipped candidate", flipped, want)?,
        Some(other) => return Err(format!("unknown expected_candidate {other:?}")),
        None if plus == want || flipped == want => {}
        None => return Err(format!("{want} is neither candidate ({plus}, {flipped})")),
    }
    if let Some(c0) = case.intermediate_str("candidate_k_times_a_plus_hex")? {
        eq("intermediate k·A⁺", plus.to_string().as_str(), c0)?;
    }
    if let Some(c1) = case.intermediate_str("candidate_sign_flipped_hex")? {
        eq(
            "intermediate sign-flipped",
            flipped.to_string().as_str(),
            c1,
        )?;
    }
    if let Some(own) = case.intermediate_str("account_blinded_id_hex")? {
        let own: PrefixedId = own
            .parse()
            .map_err(|e| format!("account_blinded_id_hex: {e}"))?;
        if own != plus && own != flipped {
            return Err(format!("account's id {own} is neither candidate"));
        }
    }
    Ok(())
}

fn blind25_id(case: &Case<'_>) -> CaseResult {
    let sid = session_id(case)?;
    let server_pk = case.hex_array("server_pk_hex")?;
    let want = blinded_id(case, "expected_blinded_id_hex")?;
    eq(
        "25-blinded id",
        blinding::blind25_id(&sid, &server_pk).map_err(|e| e.to_string())?,
        want,
    )?;
    if case.has("ed25519_seed_hex") {
        let account = seed_account(case)?;
        eq("Session ID of the seed", account.session_id(), sid)?;
        eq(
            "owner's 25-blinded id",
            account.blind25(&server_pk).id(),
            want,
        )?;
    }
    Ok(())
}

fn blinded_sign(case: &Case<'_>, prefix: IdPrefix) -> CaseResult {
    let sk =
        Ed25519SecretKey::from_bytes(&case.hex("ed25519_sk_hex")?).map_err(|e| e.to_string())?;
    let account = Account::from_ed25519_seed(sk.seed().expose());
    let server_pk = case.hex_array("server_pk_hex")?;
    let msg = case.str("message_utf8")?.as_bytes();
    let keys: BlindedKeypair = match prefix {
        IdPrefix::Blinded15 => account.blind15(&server_pk),
        _ => account.blind25(&server_pk),
    };
    let want_id = blinded_id(case, "expected_blinded_id_hex")?;
    eq("blinded id", keys.id(), want_id)?;
    let sig = keys.sign_with(msg, Blind15Nonce::Libsession);
    eq_hex("signature", &sig.0, &case.hex("expected_signature_hex")?)?;
    let pk = Ed25519PublicKey(*want_id.key());
    pk.verify(msg, &sig)
        .map_err(|e| format!("expected signature does not verify: {e}"))?;
    // The other 15 nonce variant differs in bytes but verifies just the same.
    let other = keys.sign_with(msg, Blind15Nonce::Standard);
    pk.verify(msg, &other)
        .map_err(|e| format!("standard-nonce signature does not verify: {e}"))?;
    if pk.verify(b"other message", &Signature(sig.0)).is_ok() {
        return Err("signature verified over another message".into());
    }
    Ok(())
}

fn version_key(case: &Case<'_>) -> CaseResult {
    let key = VersionKey::from_account(&seed_account(case)?);
    eq_hex(
        "07 secret key",
        key.secret().to_libsodium_bytes().expose(),
        &case.hex("expected_blinded_sk_hex")?,
    )?;
    eq_hex(
        "07 public key",
        key.public_key().as_bytes(),
        &case.hex("expected_blinded_pk_hex")?,
    )?;
    eq("07 id prefix", key.id().prefix(), IdPrefix::VersionBlinded)
}

fn version_sign(case: &Case<'_>) -> CaseResult {
    let key = VersionKey::from_account(&seed_account(case)?);
    let (ts, method, path) = (
        case.u64("timestamp")?,
        case.str("method")?,
        case.str("path_utf8")?,
    );
    if let Some(signed) = case.intermediate_str("signed_message_utf8")? {
        eq_hex(
            "signed message",
            &version::signed_message(ts, method, path, None),
            signed.as_bytes(),
        )?;
    }
    let sig = key.sign_request(ts, method, path, None);
    eq_hex("signature", &sig.0, &case.hex("expected_signature_hex")?)
}
