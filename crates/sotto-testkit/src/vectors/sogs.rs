use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use sotto_identity::Account;
use sotto_identity::blinding::Blind15Nonce;
use sotto_identity::sogs::{SogsAuth, SogsRequest};

use super::case::{eq, eq_hex};
use super::{Case, CaseResult, Handler};

pub(super) fn handler(group: &str) -> Option<Handler> {
    Some(match group {
        "request_signing" => request_signing,
        _ => return None,
    })
}

fn request_signing(case: &Case<'_>) -> CaseResult {
    let account = Account::from_ed25519_seed(&case.hex_array("ed25519_seed_hex")?);
    let server_pk = case.hex_array("server_pk_hex")?;
    let nonce: [u8; 16] = case
        .b64("nonce_b64")?
        .as_slice()
        .try_into()
        .map_err(|_| "nonce_b64 is not 16 bytes")?;
    let body = case.opt_str("body_utf8")?;
    let request = SogsRequest {
        server_pk: &server_pk,
        nonce: &nonce,
        timestamp: case.u64("timestamp")?,
        method: case.str("method")?,
        path: case.str("path_utf8")?,
        body: body.map(str::as_bytes),
    };
    eq_hex(
        "signed message",
        &request.signed_message(),
        &case.hex("expected_signed_message_hex")?,
    )?;
    let blinded = case.bool("blinded")?;
    let auth = if blinded {
        SogsAuth::Blinded15(Blind15Nonce::Standard)
    } else {
        SogsAuth::Unblinded
    };
    let headers = request.sign(&account, auth);
    let pairs = headers.to_pairs();
    let header = |name: &str| {
        pairs
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
            .unwrap_or_default()
    };
    eq(
        "X-SOGS-Pubkey",
        header("X-SOGS-Pubkey"),
        case.str("expected_x_sogs_pubkey_hex")?,
    )?;
    eq(
        "X-SOGS-Nonce",
        header("X-SOGS-Nonce"),
        case.str("expected_x_sogs_nonce_b64")?,
    )?;
    eq(
        "X-SOGS-Timestamp",
        header("X-SOGS-Timestamp"),
        case.str("expected_x_sogs_timestamp_utf8")?,
    )?;
    eq(
        "X-SOGS-Signature",
        header("X-SOGS-Signature"),
        case.str("expected_x_sogs_signature_b64")?,
    )?;
    if blinded {
        let libsession = request.sign(&account, SogsAuth::Blinded15(Blind15Nonce::Libsession));
        headers
            .pubkey
            .ed25519_key()
            .verify(&request.signed_message(), &libsession.signature)
            .map_err(|e| format!("libsession-nonce signature does not verify: {e}"))?;
        if let Some(want) = case.intermediate_str("libsession_nonce_signature_b64")? {
            eq(
                "libsession-nonce signature",
                STANDARD.encode(libsession.signature.0).as_str(),
                want,
            )?;
        }
    }
    Ok(())
}
