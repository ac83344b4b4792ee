//! The `attachment` suite: legacy AES-CBC+HMAC attachments and the deterministic "S" format.

use sha2::{Digest, Sha256};
use sotto_attachment::deterministic::{self, Domain, Encryptor, KeyDeriver};
use sotto_attachment::legacy::{self, LegacyKey, Padding};
use sotto_crypto::SecretBytes;

use super::case::{eq, eq_hex};
use super::{Case, CaseResult, Handler};

pub(super) fn handler(group: &str) -> Option<Handler> {
    Some(match group {
        "legacy_padding" => legacy_padding,
        "legacy_encrypt" => legacy_encrypt,
        "deterministic_size" => deterministic_size,
        "deterministic_encrypt" => deterministic_encrypt,
        _ => return None,
    })
}

fn legacy_padding(case: &Case<'_>) -> CaseResult {
    eq(
        "padded length",
        legacy::padded_size(case.u64("input_len")?),
        case.u64("expected_padded_len")?,
    )
}

fn legacy_encrypt(case: &Case<'_>) -> CaseResult {
    let key_bytes = case.hex("key_hex")?;
    let key = LegacyKey::from_slice(&key_bytes).map_err(|e| e.to_string())?;
    let iv = case.hex_array("iv_hex")?;
    let plaintext = case.hex("plaintext_hex")?;
    let padding = if case.bool("pad_plaintext")? {
        Padding::Padded
    } else {
        Padding::Unpadded
    };
    if let Some(want) = case.intermediate_u64("padded_len")? {
        let len = plaintext.len() as u64;
        let padded = match padding {
            Padding::Padded => legacy::padded_size(len),
            Padding::Unpadded => len,
        };
        eq("intermediate.padded_len", padded, want)?;
    }
    let enc = legacy::encrypt_with(key.clone(), &iv, &plaintext, padding)
        .map_err(|e| format!("encrypt: {e}"))?;
    eq_hex("blob", &enc.blob, &case.hex("expected_blob_hex")?)?;
    eq_hex("digest", &enc.digest, &case.hex("expected_digest_hex")?)?;
    eq("pointer size", enc.size, case.u64("expected_pointer_size")?)?;
    let decrypted = legacy::decrypt(&enc.blob, &key, &enc.digest, enc.size)
        .map_err(|e| format!("decrypt: {e}"))?;
    eq_hex("decrypted", &decrypted, &plaintext)
}

fn deterministic_size(case: &Case<'_>) -> CaseResult {
    let len = case.u64("plaintext_len")?;
    if let Some(want) = case.intermediate_u64("padding_bytes")? {
        eq("padding bytes", deterministic::padding_len(len), Some(want))?;
    }
    eq(
        "encrypted length",
        deterministic::encrypted_size(len),
        Some(case.u64("expected_encrypted_len")?),
    )
}

/// Byte `i` of the suite's plaintexts: `7·i mod 256`.
fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i.wrapping_mul(7) % 256) as u8).collect()
}

fn deterministic_encrypt(case: &Case<'_>) -> CaseResult {
    let seed = SecretBytes::new(case.hex_array("seed_hex")?);
    let domain = match case.str("domain")? {
        "ATTACHMENT" => Domain::Attachment,
        "PROFILE_PIC" => Domain::ProfilePic,
        other => return Err(format!("unknown domain {other:?}")),
    };
    let len = usize::try_from(case.u64("plaintext_len")?).map_err(|e| e.to_string())?;
    let plaintext = pattern(len);
    if let Some(given) = case.opt_hex("plaintext_hex")? {
        eq_hex("plaintext_hex against the pattern", &given, &plaintext)?;
    }

    let mut deriver = KeyDeriver::new(&seed, domain).map_err(|e| e.to_string())?;
    deriver.update(&plaintext).map_err(|e| e.to_string())?;
    let key = deriver.finish();
    eq_hex("header", key.header(), &case.hex("expected_header_hex")?)?;
    eq_hex("key", key.key().expose(), &case.hex("expected_key_hex")?)?;
    if let Some(want) = case.intermediate_str("nonce_key_hex")? {
        let nonce_key = [key.header().as_slice(), key.key().expose()].concat();
        eq(
            "intermediate.nonce_key_hex",
            hex::encode(nonce_key).as_str(),
            want,
        )?;
    }
    if let Some(want) = case.intermediate_u64("padding_bytes")? {
        eq(
            "intermediate.padding_bytes",
            deterministic::padding_len(len as u64),
            Some(want),
        )?;
    }

    // The one-shot encryption, and the same through the streaming encryptor in odd pieces.
    let enc = deterministic::encrypt(&seed, domain, &plaintext).map_err(|e| e.to_string())?;
    let mut streamed = Vec::new();
    let mut encryptor = Encryptor::new(&key).map_err(|e| e.to_string())?;
    for piece in plaintext.chunks(1000) {
        encryptor
            .update(piece, &mut streamed)
            .map_err(|e| e.to_string())?;
    }
    encryptor.finish(&mut streamed).map_err(|e| e.to_string())?;
    eq_hex("streamed encryption", &streamed, &enc.ciphertext)?;
    eq_hex("returned key", enc.key.expose(), key.key().expose())?;

    eq(
        "encrypted length",
        enc.ciphertext.len() as u64,
        case.u64("expected_encrypted_len")?,
    )?;
    eq(
        "encrypted_size()",
        deterministic::encrypted_size(len as u64),
        Some(enc.ciphertext.len() as u64),
    )?;
    eq_hex(
        "SHA-256 of the encryption",
        &Sha256::digest(&enc.ciphertext),
        &case.hex("expected_encrypted_sha256_hex")?,
    )?;
    if let Some(want) = case.opt_hex("expected_encrypted_hex")? {
        eq_hex("encryption", &enc.ciphertext, &want)?;
    }
    let decrypted =
        deterministic::decrypt(&enc.ciphertext, &enc.key).map_err(|e| format!("decrypt: {e}"))?;
    eq_hex("decrypted", &decrypted, &plaintext)
}
