//! `messages`: 1:1 message encryption and decryption against the primitives they are made of.
//!
//! An encrypt is one ephemeral X25519 key pair and agreement plus one Ed25519 signature; a decrypt
//! one X25519 agreement plus one Ed25519 verification (and the Ed25519 → X25519 conversion of
//! the sender key). Each figure is reported with its ratio to raw X25519 agreements and to the
//! combined cost of the primitives, all measured in this run.

use rand_chacha::ChaCha20Rng;
use rand_chacha::rand_core::SeedableRng;
use sotto_crypto::{Ed25519SecretKey, X25519SecretKey};
use sotto_envelope::{
    Content, Message, VisibleMessage, decrypt_from_swarm, decrypt_incoming, encrypt_for_recipient,
    encrypt_for_swarm,
};
use sotto_identity::Account;

use crate::harness::{Report, per_second};

/// The size of the Content measured: 1 KiB, before padding.
const CONTENT_LEN: usize = 1024;

const SENT_MS: u64 = 1_754_971_101_000;

pub fn run(report: &mut Report) -> anyhow::Result<()> {
    one_to_one(report)?;
    // Attachment throughput: 10 MB in both formats against the raw ciphers, in the same run.
    crate::attachment::measure(report)
}

/// A text message whose Content (with its signed timestamp) is exactly `len` bytes.
fn content_of_len(len: usize) -> anyhow::Result<Content> {
    let with_body = |n: usize| Content {
        sig_timestamp: Some(SENT_MS),
        ..Content::new(Message::Visible(VisibleMessage::text("x".repeat(n))))
    };
    let overhead = with_body(0).to_bytes().len();
    // The two length prefixes grow by a byte each at 128 bytes of body: try both sizes.
    (len.saturating_sub(overhead + 2)..=len.saturating_sub(overhead))
        .map(with_body)
        .find(|c| c.to_bytes().len() == len)
        .ok_or_else(|| anyhow::anyhow!("no text Content of exactly {len} bytes"))
}

/// Operations per second of two operations done one after the other.
fn combined(a: f64, b: f64) -> f64 {
    if a > 0.0 && b > 0.0 {
        1.0 / (1.0 / a + 1.0 / b)
    } else {
        0.0
    }
}

fn one_to_one(report: &mut Report) -> anyhow::Result<()> {
    let alice = Account::from_ed25519_seed(&[0xa1; 32]);
    let bob = Account::from_ed25519_seed(&[0xb0; 32]);
    let mut rng = ChaCha20Rng::seed_from_u64(1);
    let content = content_of_len(CONTENT_LEN)?;
    let padded = content.to_padded_bytes();

    // The bounds: the primitives an encrypt and a decrypt are made of, on the same sizes.
    let eph = X25519SecretKey::from_bytes(&[2; 32]);
    let bob_x = bob.x25519_public();
    let x25519 = per_second(|| eph.diffie_hellman(&bob_x));
    let signer = Ed25519SecretKey::from_seed(&[3; 32]);
    let signed = vec![0x5a; padded.len() + 64];
    let sig = signer.sign(&signed);
    let sign = per_second(|| signer.sign(&signed));
    let verifier = signer.public_key();
    let verify = per_second(|| verifier.verify(&signed, &sig));
    report.figure("x25519_per_s", x25519, "op/s");
    report.figure("ed25519_sign_per_s", sign, "op/s");
    report.figure("ed25519_verify_per_s", verify, "op/s");

    // The session protocol alone (padded Content in, ciphertext out) ...
    let ciphertext = encrypt_for_recipient(alice.ed25519_secret(), &bob_x, &padded, &mut rng)?;
    let encrypt =
        per_second(|| encrypt_for_recipient(alice.ed25519_secret(), &bob_x, &padded, &mut rng));
    let decrypt = per_second(|| decrypt_incoming(&bob, &ciphertext));
    // ... and the whole path: Content → swarm data, and swarm data → verified Content.
    let data = encrypt_for_swarm(&alice, &bob.session_id(), &content, SENT_MS, &mut rng)?;
    decrypt_from_swarm(&bob, &data)?;
    let send =
        per_second(|| encrypt_for_swarm(&alice, &bob.session_id(), &content, SENT_MS, &mut rng));
    let receive = per_second(|| decrypt_from_swarm(&bob, &data));

    report.figure("encrypt_1k_per_s", encrypt, "op/s");
    report.figure("decrypt_1k_per_s", decrypt, "op/s");
    report.figure("swarm_send_1k_per_s", send, "op/s");
    report.figure("swarm_receive_1k_per_s", receive, "op/s");
    report.ratio("encrypt_vs_x25519", encrypt, x25519);
    report.ratio("decrypt_vs_x25519", decrypt, x25519);
    report.ratio(
        "encrypt_vs_x25519_plus_sign",
        encrypt,
        combined(x25519, sign),
    );
    report.ratio(
        "decrypt_vs_x25519_plus_verify",
        decrypt,
        combined(x25519, verify),
    );
    report.ratio(
        "swarm_send_vs_x25519_plus_sign",
        send,
        combined(x25519, sign),
    );
    report.ratio(
        "swarm_receive_vs_x25519_plus_verify",
        receive,
        combined(x25519, verify),
    );
    Ok(())
}
