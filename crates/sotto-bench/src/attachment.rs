//! `attachment`: encryption and decryption throughput of a 10 MB attachment in both formats,
//! each against the raw cipher it is built on, measured in the same run with the same libraries
//! (sotto-crypto's XChaCha20-Poly1305 for the deterministic "S" format, its AES-256-CBC for the
//! legacy format).

use sotto_attachment::MAX_PLAINTEXT_LEN;
use sotto_attachment::deterministic::{self, Domain};
use sotto_attachment::legacy::{self, LegacyKey, Padding};
use sotto_crypto::{
    Blake2b, SecretBytes, SymmetricKey, aes256cbc_decrypt, aes256cbc_encrypt, hmac_sha256,
    xchacha20poly1305_decrypt, xchacha20poly1305_encrypt,
};

use crate::harness::{Report, mb_per_second};

/// Records throughput figures (MB/s of plaintext) and their ratios to the raw-cipher bounds.
pub fn measure(report: &mut Report) -> anyhow::Result<()> {
    let len = usize::try_from(MAX_PLAINTEXT_LEN)?;
    let file: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();

    // Bounds: the raw ciphers over the same 10 MB.
    let key = SymmetricKey::new([1; 32]);
    let sealed = xchacha20poly1305_encrypt(&key, &[2; 24], b"", &file)?;
    let xchacha_enc = mb_per_second(len, || {
        xchacha20poly1305_encrypt(&key, &[2; 24], b"", &file)
    });
    let xchacha_dec = mb_per_second(len, || {
        xchacha20poly1305_decrypt(&key, &[2; 24], b"", &sealed)
    });
    let cbc = aes256cbc_encrypt(&key, &[3; 16], &file);
    let cbc_enc = mb_per_second(len, || aes256cbc_encrypt(&key, &[3; 16], &file));
    let cbc_dec = mb_per_second(len, || aes256cbc_decrypt(&key, &[3; 16], &cbc));
    report.figure(
        "attachment_raw_xchacha20poly1305_encrypt_mb_per_s",
        xchacha_enc,
        "MB/s",
    );
    report.figure(
        "attachment_raw_xchacha20poly1305_decrypt_mb_per_s",
        xchacha_dec,
        "MB/s",
    );
    report.figure("attachment_raw_aes256cbc_encrypt_mb_per_s", cbc_enc, "MB/s");
    report.figure("attachment_raw_aes256cbc_decrypt_mb_per_s", cbc_dec, "MB/s");

    // Deterministic "S": BLAKE2b key derivation plus secretstream in 32 KiB chunks.
    let seed = SecretBytes::new([4; 32]);
    let det = deterministic::encrypt(&seed, Domain::Attachment, &file)?;
    let det_enc = mb_per_second(len, || {
        deterministic::encrypt(&seed, Domain::Attachment, &file)
    });
    let det_dec = mb_per_second(len, || deterministic::decrypt(&det.ciphertext, &det.key));
    report.figure("attachment_deterministic_encrypt_mb_per_s", det_enc, "MB/s");
    report.ratio(
        "attachment_deterministic_encrypt_ratio",
        det_enc,
        xchacha_enc,
    );
    // Encryption also hashes the file once (BLAKE2b key derivation): a second bound.
    let blake = mb_per_second(len, || {
        Blake2b::keyed(56, &[4; 32]).map(|mut h| h.update(&file).finalize())
    });
    report.figure("attachment_raw_blake2b_mb_per_s", blake, "MB/s");
    report.ratio(
        "attachment_deterministic_encrypt_ratio_xchacha_blake2b",
        det_enc,
        1.0 / (1.0 / xchacha_enc + 1.0 / blake),
    );
    report.figure("attachment_deterministic_decrypt_mb_per_s", det_dec, "MB/s");
    report.ratio(
        "attachment_deterministic_decrypt_ratio",
        det_dec,
        xchacha_dec,
    );

    // The same through Read/Write in constant memory (a slice reader, a discarding writer).
    let det_stream_dec = mb_per_second(len, || {
        deterministic::decrypt_reader(&det.key, det.ciphertext.as_slice(), std::io::sink())
    });
    report.figure(
        "attachment_deterministic_decrypt_stream_mb_per_s",
        det_stream_dec,
        "MB/s",
    );
    report.ratio(
        "attachment_deterministic_decrypt_stream_ratio",
        det_stream_dec,
        xchacha_dec,
    );

    // Legacy: padding, AES-256-CBC, HMAC-SHA256 and the SHA-256 digest.
    let legacy_key = LegacyKey::from_slice(&[5; 64])?;
    let enc =
        |file: &[u8]| legacy::encrypt_with(legacy_key.clone(), &[6; 16], file, Padding::Padded);
    let blob = enc(&file)?;
    let legacy_enc = mb_per_second(len, || enc(&file));
    let legacy_dec = mb_per_second(len, || {
        legacy::decrypt(&blob.blob, &blob.key, &blob.digest, blob.size)
    });
    report.figure("attachment_legacy_encrypt_mb_per_s", legacy_enc, "MB/s");
    report.ratio("attachment_legacy_encrypt_ratio", legacy_enc, cbc_enc);
    report.figure("attachment_legacy_decrypt_mb_per_s", legacy_dec, "MB/s");
    report.ratio("attachment_legacy_decrypt_ratio", legacy_dec, cbc_dec);

    // The legacy format also hashes the blob twice (HMAC and digest), which costs more than the
    // parallel CBC decryption: a second bound is CBC plus two SHA-256 passes.
    let sha = mb_per_second(len, || hmac_sha256(&[7; 32], &[&file]));
    report.figure("attachment_raw_hmac_sha256_mb_per_s", sha, "MB/s");
    let composed = |cbc: f64| 1.0 / (1.0 / cbc + 2.0 / sha);
    report.ratio(
        "attachment_legacy_encrypt_ratio_cbc_2sha",
        legacy_enc,
        composed(cbc_enc),
    );
    report.ratio(
        "attachment_legacy_decrypt_ratio_cbc_2sha",
        legacy_dec,
        composed(cbc_dec),
    );

    // The measured calls succeed: check their results once, outside the timing loops.
    anyhow::ensure!(
        deterministic::decrypt(&det.ciphertext, &det.key)? == file,
        "deterministic round trip"
    );
    anyhow::ensure!(
        legacy::decrypt(&blob.blob, &blob.key, &blob.digest, blob.size)? == file,
        "legacy round trip"
    );
    Ok(())
}
