//! `crypto`: sotto-crypto's constructions against the primitives they are built from.

use sotto_crypto::secretstream::{Encryptor, Tag};
use sotto_crypto::{
    SymmetricKey, X25519SecretKey, box_seed_keypair, seal_open, seal_with_ephemeral,
    xchacha20poly1305_encrypt,
};

use crate::harness::{Report, mb_per_second, per_second};

pub fn run(report: &mut Report) -> anyhow::Result<()> {
    // Sealed-box opening costs one X25519 agreement plus a small AEAD: compare the two.
    let (sk, pk) = box_seed_keypair(&[1; 32]);
    let eph = X25519SecretKey::from_bytes(&[2; 32]);
    let boxed = seal_with_ephemeral(&pk, &[0u8; 1024], &eph)?;
    let x25519 = per_second(|| sk.diffie_hellman(&eph.public_key()));
    let open = per_second(|| seal_open(&sk, &boxed));
    report.figure("x25519_per_s", x25519, "op/s");
    report.figure("seal_open_1k_per_s", open, "op/s");
    report.ratio("seal_open_ratio", open, x25519);

    // secretstream in 32 KiB chunks against one-shot XChaCha20-Poly1305 over the same bytes.
    let key = SymmetricKey::new([3; 32]);
    let data = vec![0x5au8; 1 << 20];
    let raw = mb_per_second(data.len(), || {
        xchacha20poly1305_encrypt(&key, &[4; 24], b"", &data)
    });
    let stream = mb_per_second(data.len(), || {
        let mut enc = Encryptor::with_header(&key, &[5; 24]);
        let mut out = Vec::with_capacity(data.len() + data.len() / 32768 * 17 + 17);
        for chunk in data.chunks(32 * 1024) {
            enc.push_into(chunk, b"", Tag::Message, &mut out)?;
        }
        Ok::<_, sotto_crypto::CryptoError>(out)
    });
    report.figure("xchacha20poly1305_mb_per_s", raw, "MB/s");
    report.figure("secretstream_32k_mb_per_s", stream, "MB/s");
    report.ratio("secretstream_ratio", stream, raw);
    Ok(())
}
