//! Suite `groups_legacy`: read-only legacy closed-group message decryption.

use sotto_crypto::{X25519PublicKey, X25519SecretKey};
use sotto_groups::legacy::{LegacyKeyPair, decrypt_legacy_group_message};

use super::case::{eq, eq_hex};
use super::{Case, CaseResult, Handler};

pub(super) fn handler(group: &str) -> Option<Handler> {
    Some(match group {
        "message_decrypt" => message_decrypt,
        _ => return None,
    })
}

fn message_decrypt(case: &Case<'_>) -> CaseResult {
    let pair = LegacyKeyPair::from_secret(X25519SecretKey::from_bytes(
        &case.hex_array("group_x25519_sk_hex")?,
    ));
    eq(
        "group public key",
        *pair.public_key(),
        X25519PublicKey(case.hex_array("group_x25519_pk_hex")?),
    )?;
    let got = decrypt_legacy_group_message(&[pair], &case.hex("ciphertext_hex")?)
        .map_err(|e| e.to_string())?;
    eq(
        "sender",
        got.sender.to_string().as_str(),
        case.str("expected_sender_session_id_hex")?,
    )?;
    eq_hex(
        "plaintext",
        &got.plaintext,
        case.str("expected_plaintext_utf8")?.as_bytes(),
    )
}
