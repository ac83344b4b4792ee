//! Suite `session`: 1:1 encryption (deterministic variant), padding, blinded DMs, and the ONS and
//! push-notification decryptions.

use sotto_crypto::{
    Blake2b, SymmetricKey, X25519PublicKey, blake2b_32, box_seed_keypair, seal_open,
};
use sotto_envelope::{
    PaddingRule, decrypt_from_blinded, decrypt_incoming, decrypt_ons_response,
    decrypt_push_notification, encrypt_for_blinded_recipient_with_nonce,
    encrypt_for_recipient_deterministic, pad_with, padded_len, unpad,
};
use sotto_identity::{Account, IdPrefix, PrefixedId, SessionId};

use super::case::{eq, eq_hex};
use super::{Case, CaseResult, Handler};

pub(super) fn handler(group: &str) -> Option<Handler> {
    Some(match group {
        "encrypt_deterministic" => encrypt_deterministic,
        "padding" => padding,
        "unpad" => unpad_case,
        "ons_response_decrypt" => ons_response_decrypt,
        "push_notification_decrypt" => push_notification_decrypt,
        "blinded_dm" => blinded_dm,
        _ => return None,
    })
}

fn seed_account(case: &Case<'_>, key: &str) -> Result<Account, String> {
    Ok(Account::from_ed25519_seed(&case.hex_array(key)?))
}

fn session_id(case: &Case<'_>, key: &str) -> Result<SessionId, String> {
    case.str(key)?.parse().map_err(|e| format!("{key}: {e}"))
}

/// Compares an optional intermediate hex value.
fn intermediate(case: &Case<'_>, key: &str, got: &[u8]) -> CaseResult {
    match case.intermediate_str(key)? {
        Some(want) => eq_hex(
            &format!("intermediate.{key}"),
            got,
            &hex::decode(want).map_err(|e| format!("intermediate.{key}: {e}"))?,
        ),
        None => Ok(()),
    }
}

fn encrypt_deterministic(case: &Case<'_>) -> CaseResult {
    let sender = seed_account(case, "sender_ed25519_seed_hex")?;
    let recipient = seed_account(case, "recipient_ed25519_seed_hex")?;
    let y = X25519PublicKey(case.hex_array("recipient_x25519_pk_hex")?);
    eq(
        "recipient X25519 key of the seed",
        recipient.x25519_public(),
        y,
    )?;
    let message = case.str("plaintext_utf8")?.as_bytes();

    let ciphertext = encrypt_for_recipient_deterministic(sender.ed25519_secret(), &y, message)
        .map_err(|e| e.to_string())?;
    let want = case.hex("expected_ciphertext_hex")?;
    eq_hex("ciphertext", &ciphertext, &want)?;

    // The intermediate values, recomputed from the primitives, must describe that ciphertext.
    let a = sender.ed25519_public();
    let signed = [message, a.as_bytes(), y.as_bytes()].concat();
    intermediate(case, "signed_data_hex", &signed)?;
    let sig = sender.ed25519_secret().sign(&signed);
    intermediate(case, "signature_hex", &sig.0)?;
    let sealed = [message, a.as_bytes(), &sig.0].concat();
    intermediate(case, "sealed_plaintext_hex", &sealed)?;
    let seed = blake2b_32(
        b"SessionBoxEphemeralHashKey",
        &[sender.ed25519_seed().expose(), y.as_bytes(), message],
    );
    intermediate(case, "ephemeral_seed_hex", &seed)?;
    let (_, epk) = box_seed_keypair(&seed);
    intermediate(case, "ephemeral_x25519_pk_hex", epk.as_bytes())?;
    eq_hex(
        "ephemeral key in the ciphertext",
        want.get(..32).unwrap_or_default(),
        epk.as_bytes(),
    )?;
    let mut nonce = [0u8; 24];
    Blake2b::new(24)
        .and_then(|mut h| {
            h.update(epk.as_bytes())
                .update(y.as_bytes())
                .finalize_into(&mut nonce)
        })
        .map_err(|e| e.to_string())?;
    intermediate(case, "box_nonce_hex", &nonce)?;
    let opened = seal_open(&recipient.x25519_secret(), &want).map_err(|e| e.to_string())?;
    eq_hex("sealed plaintext", &opened, &sealed)?;

    // Decryption of the expected ciphertext.
    let got = decrypt_incoming(&recipient, &want).map_err(|e| e.to_string())?;
    eq_hex(
        "plaintext",
        &got.plaintext,
        case.str("expected_plaintext_utf8")?.as_bytes(),
    )?;
    eq_hex(
        "sender Ed25519 key",
        got.sender_ed25519.as_bytes(),
        &case.hex("expected_sender_ed25519_pk_hex")?,
    )?;
    eq(
        "sender Session ID",
        got.sender,
        session_id(case, "expected_sender_session_id_hex")?,
    )
}

fn padding(case: &Case<'_>) -> CaseResult {
    let len = usize::try_from(case.u64("input_len")?).map_err(|e| e.to_string())?;
    let input = case
        .opt_hex("input_hex")?
        .unwrap_or_else(|| vec![0x42; len]);
    eq("input_hex length", input.len(), len)?;
    for (rule, len_key, hex_key) in [
        (
            PaddingRule::DesktopLegacy,
            "expected_desktop_legacy_padded_len",
            "expected_desktop_legacy_padded_hex",
        ),
        (
            PaddingRule::Current,
            "expected_libsession_padded_len",
            "expected_libsession_padded_hex",
        ),
    ] {
        let want_len = usize::try_from(case.u64(len_key)?).map_err(|e| e.to_string())?;
        eq(len_key, padded_len(len, rule), want_len)?;
        let padded = pad_with(&input, rule);
        eq(len_key, padded.len(), want_len)?;
        if let Some(want) = case.opt_hex(hex_key)? {
            eq_hex(hex_key, &padded, &want)?;
        }
        eq_hex("unpadded", unpad(&padded), &input)?;
    }
    Ok(())
}

fn unpad_case(case: &Case<'_>) -> CaseResult {
    eq_hex(
        "unpadded",
        unpad(&case.hex("padded_hex")?),
        &case.hex("expected_unpadded_hex")?,
    )
}

fn ons_response_decrypt(case: &Case<'_>) -> CaseResult {
    let name = case.str("name_utf8")?;
    let name_hash = blake2b_32(&[], &[name.as_bytes()]);
    intermediate(case, "key_hex", &blake2b_32(&name_hash, &[name.as_bytes()]))?;
    let got = decrypt_ons_response(
        name,
        &case.hex("ciphertext_hex")?,
        &case.hex_array("nonce_hex")?,
    );
    if case.expects_error() {
        return match got {
            Err(_) => Ok(()),
            Ok(id) => Err(format!("accepted, giving {id}")),
        };
    }
    eq(
        "Session ID",
        got.map_err(|e| e.to_string())?,
        session_id(case, "expected_session_id_hex")?,
    )
}

fn push_notification_decrypt(case: &Case<'_>) -> CaseResult {
    let key = SymmetricKey::new(case.hex_array("enc_key_hex")?);
    let got = decrypt_push_notification(&case.hex("payload_hex")?, &key);
    if case.expects_error() {
        return match got {
            Err(_) => Ok(()),
            Ok(_) => Err("accepted".into()),
        };
    }
    eq_hex(
        "plaintext",
        &got.map_err(|e| e.to_string())?,
        case.str("expected_plaintext_utf8")?.as_bytes(),
    )
}

fn blinded_dm(case: &Case<'_>) -> CaseResult {
    let sender = seed_account(case, "sender_ed25519_seed_hex")?;
    let recipient = seed_account(case, "recipient_ed25519_seed_hex")?;
    let server_pk = case.hex_array("server_pk_hex")?;
    let (sender_id, recipient_id, prefix) = match case.str("scheme")? {
        "blind15" => (
            sender.blind15(&server_pk).id(),
            recipient.blind15(&server_pk).id(),
            IdPrefix::Blinded15,
        ),
        "blind25" => (
            sender.blind25(&server_pk).id(),
            recipient.blind25(&server_pk).id(),
            IdPrefix::Blinded25,
        ),
        other => return Err(format!("unknown scheme {other:?}")),
    };
    let want_id = |key: &str| -> Result<PrefixedId, String> {
        PrefixedId::parse_with_prefix(case.str(key)?, prefix).map_err(|e| format!("{key}: {e}"))
    };
    eq(
        "sender blinded id",
        sender_id,
        want_id("expected_sender_blinded_id_hex")?,
    )?;
    eq(
        "recipient blinded id",
        recipient_id,
        want_id("expected_recipient_blinded_id_hex")?,
    )?;

    // The shared key, recomputed from the primitives: s·kB with s = a (15) or k'·a (25).
    let scalar = match prefix {
        IdPrefix::Blinded15 => sender.ed25519_secret().scalar(),
        _ => sender.blind25(&server_pk).scalar().clone(),
    };
    let shared = scalar
        .mul_point(&recipient_id.ed25519_key())
        .map_err(|e| e.to_string())?;
    intermediate(
        case,
        "shared_key_hex",
        &blake2b_32(
            &[],
            &[shared.as_bytes(), sender_id.key(), recipient_id.key()],
        ),
    )?;

    let ciphertext = match case.opt_hex("nonce_hex")? {
        Some(nonce) => {
            let nonce: [u8; 24] = nonce.try_into().map_err(|_| "nonce_hex is not 24 bytes")?;
            let message = case.str("plaintext_utf8")?.as_bytes();
            let ct = encrypt_for_blinded_recipient_with_nonce(
                &sender,
                &server_pk,
                &recipient_id,
                message,
                &nonce,
            )
            .map_err(|e| e.to_string())?;
            let want = case.hex("expected_ciphertext_hex")?;
            eq_hex("ciphertext", &ct, &want)?;
            want
        }
        None => case.hex("ciphertext_hex")?,
    };
    let want_plain = case.str("expected_plaintext_utf8")?.as_bytes();
    let want_sender = session_id(case, "expected_sender_session_id_hex")?;
    // The recipient reads it; so does the sender (its own sent message).
    for (who, reader) in [("recipient", &recipient), ("sender", &sender)] {
        let got = decrypt_from_blinded(reader, &server_pk, &sender_id, &recipient_id, &ciphertext)
            .map_err(|e| format!("decrypting as the {who}: {e}"))?;
        eq_hex("plaintext", &got.plaintext, want_plain)?;
        eq("sender Session ID", got.sender, want_sender)?;
    }
    eq(
        "sender Session ID of the seed",
        sender.session_id(),
        want_sender,
    )
}
