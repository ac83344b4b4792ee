use sha2::{Digest, Sha256};
use sotto_identity::mnemonic::{self, MnemonicError};
use sotto_identity::{Account, RecoverySeed};

use super::case::{eq, eq_hex};
use super::{Case, CaseResult, Handler};

pub(super) fn handler(group: &str) -> Option<Handler> {
    Some(match group {
        "wordlist" => wordlist,
        "encode" => encode,
        "decode" => decode,
        _ => return None,
    })
}

fn wordlist(case: &Case<'_>) -> CaseResult {
    let words = mnemonic::words();
    eq(
        "word count",
        words.len() as u64,
        case.u64("expected_word_count")?,
    )?;
    eq(
        "prefix length",
        mnemonic::PREFIX_LEN as u64,
        case.u64("expected_prefix_len")?,
    )?;
    eq(
        "first words",
        words.iter().take(3).copied().collect(),
        case.str_list("expected_first_words_utf8")?,
    )?;
    let last: Vec<&str> = words
        .iter()
        .skip(words.len().saturating_sub(3))
        .copied()
        .collect();
    eq(
        "last words",
        last,
        case.str_list("expected_last_words_utf8")?,
    )?;
    let prefixes: std::collections::HashSet<String> = words
        .iter()
        .map(|w| w.chars().take(mnemonic::PREFIX_LEN).collect())
        .collect();
    eq(
        "prefixes unique",
        prefixes.len() == words.len(),
        case.bool("expected_prefixes_unique")?,
    )?;
    let joined = words.join("\n");
    eq_hex(
        "sha256(words joined by LF)",
        &Sha256::digest(&joined),
        &case.hex("expected_sha256_joined_lf_hex")?,
    )?;
    let trailing = format!("{joined}\n");
    eq_hex(
        "sha256(words joined by LF, trailing LF)",
        &Sha256::digest(&trailing),
        &case.hex("expected_sha256_joined_lf_trailing_hex")?,
    )
}

fn encode(case: &Case<'_>) -> CaseResult {
    let entropy = case.hex("entropy_hex")?;
    let phrase = case.str("expected_phrase_utf8")?;
    let got = mnemonic::encode(&entropy, case.bool("with_checksum")?).map_err(|e| e.to_string())?;
    eq("phrase", got.as_str(), phrase)?;
    let back = mnemonic::decode(phrase).map_err(|e| e.to_string())?;
    eq_hex("decoded entropy", &back, &entropy)?;
    let seed16 = || -> Result<RecoverySeed, String> {
        let bytes: [u8; 16] = entropy
            .as_slice()
            .try_into()
            .map_err(|_| "entropy is not a 16-byte seed")?;
        Ok(RecoverySeed::from_bytes(&bytes))
    };
    if let Some(seed) = case.opt_hex("expected_ed25519_seed_hex")? {
        eq_hex("account seed", seed16()?.ed25519_seed().expose(), &seed)?;
    }
    if let Some(id) = case.opt_str("expected_session_id_hex")? {
        let account = Account::from_phrase(phrase).map_err(|e| e.to_string())?;
        eq(
            "Session ID from phrase",
            account.session_id().to_string().as_str(),
            id,
        )?;
        eq(
            "Session ID from seed",
            Account::from_recovery_seed(&seed16()?).session_id(),
            account.session_id(),
        )?;
    }
    Ok(())
}

fn decode(case: &Case<'_>) -> CaseResult {
    let result = mnemonic::decode(case.str("phrase_utf8")?);
    if case.expects_error() {
        let err = match result {
            Ok(bytes) => return Err(format!("accepted, decoding to {}", hex::encode(&*bytes))),
            Err(e) => e,
        };
        let kind = match err {
            MnemonicError::Checksum { .. } => "checksum",
            MnemonicError::UnknownWord { .. } => "unknown_word",
            MnemonicError::InvalidGroup { .. } => "invalid_value",
            MnemonicError::WordCount { .. } => "invalid_word_count",
            _ => "other",
        };
        return match case.error_hint() {
            Some(hint) if !hint.starts_with(kind) => Err(format!(
                "rejected for the wrong reason: {err} (hint: {hint})"
            )),
            _ => Ok(()),
        };
    }
    let bytes = result.map_err(|e| format!("rejected: {e}"))?;
    eq_hex("entropy", &bytes, &case.hex("expected_entropy_hex")?)
}
