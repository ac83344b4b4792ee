//! Byte-for-byte compatibility with libsodium.
//!
//! Every case of every section of `fixtures/libsodium.json` (written by real libsodium through
//! PyNaCl, see `fixtures/gen_libsodium.py`) is checked against sotto-crypto's public API. Failure
//! messages name the section and the case index, e.g. `blake2b[7]`.

#![allow(
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "test helpers outside #[test] fns: a panic with context is how a case fails"
)]

use std::sync::OnceLock;

use chacha20::ChaCha20;
use chacha20::cipher::{KeyIvInit, StreamCipher};
use serde_json::Value;
use sotto_crypto::secretstream::{self, Tag};
use sotto_crypto::{
    Blake2b, CryptoError, Ed25519PublicKey, Ed25519SecretKey, SEALED_BOX_OVERHEAD, Signature,
    SymmetricKey, X25519PublicKey, X25519SecretKey, aes256gcm_decrypt, aes256gcm_encrypt,
    blake2b_32, blake2b_64, box_seed_keypair, seal, seal_open, seal_with_ephemeral, x25519,
    xchacha20poly1305_decrypt, xchacha20poly1305_encrypt,
};

/// The minimum number of cases each section must hold, so that an emptied or truncated fixture
/// cannot pass silently. For the secretstream section the count is of streams; the messages are
/// counted separately in `fixture_has_every_section_and_case`.
const SECTIONS: &[(&str, usize)] = &[
    ("ed25519", 3),
    ("ed25519_to_x25519", 3),
    ("x25519", 2),
    ("box_seed_keypair", 2),
    ("sealed_box", 3),
    ("sealed_box_deterministic", 2),
    ("blake2b", 16),
    ("xchacha20poly1305_ietf", 3),
    ("aes256gcm", 2),
    ("secretstream_xchacha20poly1305", 2),
    ("secretstream_rekey", 1),
];

/// Messages across all streams of `secretstream_xchacha20poly1305`.
const MIN_SECRETSTREAM_MESSAGES: usize = 7;

// ------------------------------------------------------------------------------------- helpers

fn fixture() -> &'static Value {
    static FIXTURE: OnceLock<Value> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        serde_json::from_str(include_str!("fixtures/libsodium.json"))
            .expect("fixtures/libsodium.json is not valid JSON")
    })
}

/// The cases of a section, each with its `section[index]` label for failure messages.
fn cases(section: &str) -> Vec<(String, &'static Value)> {
    let list = fixture()
        .get(section)
        .and_then(Value::as_array)
        .unwrap_or_else(|| panic!("fixture has no array section {section:?}"));
    assert!(!list.is_empty(), "fixture section {section:?} is empty");
    list.iter()
        .enumerate()
        .map(|(i, case)| (format!("{section}[{i}]"), case))
        .collect()
}

/// A hex byte-string field.
fn bytes(case: &Value, field: &str, ctx: &str) -> Vec<u8> {
    let s = case
        .get(field)
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("{ctx}: missing string field {field:?}"));
    hex::decode(s).unwrap_or_else(|e| panic!("{ctx}: field {field:?} is not hex: {e}"))
}

/// A hex field of exactly `N` bytes.
fn array<const N: usize>(case: &Value, field: &str, ctx: &str) -> [u8; N] {
    let v = bytes(case, field, ctx);
    v.as_slice()
        .try_into()
        .unwrap_or_else(|_| panic!("{ctx}: field {field:?} has {} bytes, expected {N}", v.len()))
}

fn int(case: &Value, field: &str, ctx: &str) -> u64 {
    case.get(field)
        .and_then(Value::as_u64)
        .unwrap_or_else(|| panic!("{ctx}: missing integer field {field:?}"))
}

/// The message of a case: `msg` in hex, or `msg_pattern` {len, byte_formula "i % 251"}.
fn message(case: &Value, ctx: &str) -> Vec<u8> {
    if case.get("msg").is_some() {
        return bytes(case, "msg", ctx);
    }
    let pattern = case
        .get("msg_pattern")
        .unwrap_or_else(|| panic!("{ctx}: neither \"msg\" nor \"msg_pattern\""));
    let formula = pattern.get("byte_formula").and_then(Value::as_str);
    assert_eq!(
        formula,
        Some("i % 251"),
        "{ctx}: unknown msg_pattern byte_formula"
    );
    let len = usize::try_from(int(pattern, "len", ctx)).expect("pattern length fits usize");
    (0..len).map(|i| (i % 251) as u8).collect()
}

fn key(case: &Value, field: &str, ctx: &str) -> SymmetricKey {
    SymmetricKey::new(array(case, field, ctx))
}

fn tag(case: &Value, field: &str, ctx: &str) -> Tag {
    match int(case, field, ctx) {
        0 => Tag::Message,
        1 => Tag::Push,
        2 => Tag::Rekey,
        3 => Tag::Final,
        other => panic!("{ctx}: unknown secretstream tag {other}"),
    }
}

/// `bytes` with bit 0 of byte `i` flipped.
fn flipped(bytes: &[u8], i: usize) -> Vec<u8> {
    let mut out = bytes.to_vec();
    out[i] ^= 1;
    out
}

/// A seeded ChaCha20 keystream as the RNG for `seal`, so a failure can be replayed: the seed is
/// printed, and `SOTTO_TEST_SEED=<16 hex digits>` reuses it.
struct SeededRng(ChaCha20);

impl SeededRng {
    fn from_env_or_random() -> Self {
        let seed = match std::env::var("SOTTO_TEST_SEED") {
            Ok(s) => u64::from_str_radix(s.trim(), 16).expect("SOTTO_TEST_SEED is 16 hex digits"),
            Err(_) => rand_core::RngCore::next_u64(&mut rand_core::OsRng),
        };
        println!("libsodium.rs: RNG seed {seed:016x} (rerun with SOTTO_TEST_SEED={seed:016x})");
        let mut key = [0u8; 32];
        key[..8].copy_from_slice(&seed.to_le_bytes());
        Self(ChaCha20::new(&key.into(), &[0u8; 12].into()))
    }
}

impl rand_core::RngCore for SeededRng {
    fn next_u32(&mut self) -> u32 {
        rand_core::impls::next_u32_via_fill(self)
    }
    fn next_u64(&mut self) -> u64 {
        rand_core::impls::next_u64_via_fill(self)
    }
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        dest.fill(0);
        self.0.apply_keystream(dest);
    }
    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand_core::Error> {
        self.fill_bytes(dest);
        Ok(())
    }
}

impl rand_core::CryptoRng for SeededRng {}

// ------------------------------------------------------------------------------ fixture shape

#[test]
fn fixture_has_every_section_and_case() {
    let root = fixture().as_object().expect("fixture root is an object");
    for &(section, min) in SECTIONS {
        let n = root
            .get(section)
            .and_then(Value::as_array)
            .map_or(0, Vec::len);
        assert!(
            n >= min,
            "fixture section {section:?} has {n} cases, expected at least {min}"
        );
    }
    // A section added to the generator must get a check here too.
    for name in root.keys().filter(|k| *k != "_meta") {
        assert!(
            SECTIONS.iter().any(|(s, _)| s == name),
            "fixture section {name:?} is not checked by tests/libsodium.rs"
        );
    }
    let messages: usize = cases("secretstream_xchacha20poly1305")
        .iter()
        .map(|(ctx, stream)| {
            stream
                .get("messages")
                .and_then(Value::as_array)
                .unwrap_or_else(|| panic!("{ctx}: no messages array"))
                .len()
        })
        .sum();
    assert!(
        messages >= MIN_SECRETSTREAM_MESSAGES,
        "secretstream_xchacha20poly1305 has {messages} messages, expected at least \
         {MIN_SECRETSTREAM_MESSAGES}"
    );
}

// ------------------------------------------------------------------------------ Ed25519/X25519

#[test]
fn ed25519() {
    for (ctx, case) in cases("ed25519") {
        let seed = array::<32>(case, "seed", &ctx);
        let pk = array::<32>(case, "pk", &ctx);
        let sk64 = array::<64>(case, "sk64", &ctx);
        let msg = message(case, &ctx);
        let sig = array::<64>(case, "sig", &ctx);

        let sk = Ed25519SecretKey::from_seed(&seed);
        assert_eq!(sk.public_key().as_bytes(), &pk, "{ctx}: public key");
        assert_eq!(
            sk.to_libsodium_bytes().expose(),
            &sk64,
            "{ctx}: 64-byte secret key"
        );
        assert_eq!(sk.seed().expose(), &seed, "{ctx}: seed");
        let from_sk64 = Ed25519SecretKey::from_bytes(&sk64).expect("64-byte secret key loads");
        assert_eq!(
            from_sk64.public_key().as_bytes(),
            &pk,
            "{ctx}: public key from sk64"
        );

        let ours = sk.sign(&msg);
        assert_eq!(ours.to_bytes(), sig, "{ctx}: signature bytes");

        let public = Ed25519PublicKey::from_slice(&pk).expect("32-byte key");
        let theirs = Signature::from_slice(&sig).expect("64-byte signature");
        assert_eq!(
            public.verify(&msg, &theirs),
            Ok(()),
            "{ctx}: libsodium signature verifies"
        );

        // A changed message must fail: flip a bit, or for the empty message add a byte.
        let other_msg = if msg.is_empty() {
            vec![0]
        } else {
            flipped(&msg, msg.len() / 2)
        };
        assert_eq!(
            public.verify(&other_msg, &theirs),
            Err(CryptoError::BadSignature),
            "{ctx}: signature verifies for a changed message"
        );
        for i in [0, 31, 32, 63] {
            let bad = Signature(flipped(&sig, i).try_into().expect("64 bytes"));
            assert!(
                public.verify(&msg, &bad).is_err(),
                "{ctx}: signature with byte {i} flipped verifies"
            );
        }
    }
}

#[test]
fn ed25519_to_x25519() {
    for (ctx, case) in cases("ed25519_to_x25519") {
        let ed_pk = array::<32>(case, "ed_pk", &ctx);
        let ed_sk64 = bytes(case, "ed_sk64", &ctx);
        let x_pk = array::<32>(case, "x_pk", &ctx);
        let x_sk = array::<32>(case, "x_sk", &ctx);

        let converted = Ed25519PublicKey(ed_pk)
            .to_x25519()
            .expect("valid Ed25519 key converts");
        assert_eq!(converted.as_bytes(), &x_pk, "{ctx}: pk_to_curve25519");

        let sk = Ed25519SecretKey::from_bytes(&ed_sk64).expect("64-byte secret key loads");
        assert_eq!(
            sk.public_key().as_bytes(),
            &ed_pk,
            "{ctx}: Ed25519 public key"
        );
        let xsk = sk.to_x25519();
        assert_eq!(xsk.to_bytes().expose(), &x_sk, "{ctx}: sk_to_curve25519");
        assert_eq!(
            sk.clamped_scalar_bytes().expose(),
            &x_sk,
            "{ctx}: clamped scalar"
        );
        assert_eq!(
            xsk.public_key().as_bytes(),
            &x_pk,
            "{ctx}: X25519 public key of converted sk"
        );
    }
}

#[test]
fn x25519_shared_secrets() {
    for (ctx, case) in cases("x25519") {
        let sk = X25519SecretKey::from_bytes(&array(case, "sk", &ctx));
        let pk = X25519PublicKey(array(case, "pk", &ctx));
        let peer_sk = X25519SecretKey::from_bytes(&array(case, "peer_sk", &ctx));
        let peer_pk = X25519PublicKey(array(case, "peer_pk", &ctx));
        let shared = array::<32>(case, "shared", &ctx);

        assert_eq!(sk.public_key(), pk, "{ctx}: public key of sk");
        assert_eq!(
            peer_sk.public_key(),
            peer_pk,
            "{ctx}: public key of peer_sk"
        );
        let ab = sk.diffie_hellman(&peer_pk).expect("contributory");
        let ba = peer_sk.diffie_hellman(&pk).expect("contributory");
        assert_eq!(ab.expose(), &shared, "{ctx}: sk · peer_pk");
        assert_eq!(ba.expose(), &shared, "{ctx}: peer_sk · pk");
        assert_eq!(
            x25519(&sk, &peer_pk).expect("contributory").expose(),
            &shared,
            "{ctx}: x25519()"
        );
    }
}

#[test]
fn box_seed_keypairs() {
    for (ctx, case) in cases("box_seed_keypair") {
        let (sk, pk) = box_seed_keypair(&array(case, "seed", &ctx));
        assert_eq!(
            sk.to_bytes().expose(),
            &array::<32>(case, "sk", &ctx),
            "{ctx}: secret key"
        );
        assert_eq!(
            pk.as_bytes(),
            &array::<32>(case, "pk", &ctx),
            "{ctx}: public key"
        );
        assert_eq!(sk.public_key(), pk, "{ctx}: public key of secret key");
    }
}

// --------------------------------------------------------------------------------- sealed boxes

#[test]
fn sealed_box() {
    let mut rng = SeededRng::from_env_or_random();
    for (ctx, case) in cases("sealed_box") {
        let rsk = X25519SecretKey::from_bytes(&array(case, "recipient_sk", &ctx));
        let rpk = X25519PublicKey(array(case, "recipient_pk", &ctx));
        let msg = message(case, &ctx);
        let ct = bytes(case, "ciphertext", &ctx);

        assert_eq!(rsk.public_key(), rpk, "{ctx}: recipient public key");
        assert_eq!(
            ct.len(),
            msg.len() + SEALED_BOX_OVERHEAD,
            "{ctx}: ciphertext length"
        );
        assert_eq!(
            seal_open(&rsk, &ct).as_deref(),
            Ok(msg.as_slice()),
            "{ctx}: seal_open"
        );
        for i in 0..ct.len() {
            assert_eq!(
                seal_open(&rsk, &flipped(&ct, i)),
                Err(CryptoError::Decrypt),
                "{ctx}: ciphertext with byte {i} flipped opens"
            );
        }

        let fresh = seal(&rpk, &msg, &mut rng).expect("seal");
        assert_eq!(
            fresh.len(),
            msg.len() + SEALED_BOX_OVERHEAD,
            "{ctx}: fresh box length"
        );
        assert_eq!(
            seal_open(&rsk, &fresh).as_deref(),
            Ok(msg.as_slice()),
            "{ctx}: open fresh box"
        );
    }
}

#[test]
fn sealed_box_deterministic() {
    for (ctx, case) in cases("sealed_box_deterministic") {
        let (esk, epk) = box_seed_keypair(&array(case, "eph_seed", &ctx));
        let rsk = X25519SecretKey::from_bytes(&array(case, "recipient_sk", &ctx));
        let rpk = X25519PublicKey(array(case, "recipient_pk", &ctx));
        let msg = message(case, &ctx);
        let ct = bytes(case, "ciphertext", &ctx);

        assert_eq!(
            epk.as_bytes(),
            &array::<32>(case, "eph_pk", &ctx),
            "{ctx}: ephemeral pk"
        );
        assert_eq!(
            esk.to_bytes().expose(),
            &array::<32>(case, "eph_sk", &ctx),
            "{ctx}: ephemeral sk"
        );
        assert_eq!(rsk.public_key(), rpk, "{ctx}: recipient public key");

        let mut nonce = [0u8; 24];
        Blake2b::new(24)
            .expect("valid length")
            .update(epk.as_bytes())
            .update(rpk.as_bytes())
            .finalize_into(&mut nonce)
            .expect("24-byte buffer");
        assert_eq!(
            nonce,
            array::<24>(case, "nonce", &ctx),
            "{ctx}: BLAKE2b-192(epk ‖ pk) nonce"
        );

        let sealed = seal_with_ephemeral(&rpk, &msg, &esk).expect("seal_with_ephemeral");
        assert_eq!(
            hex::encode(&sealed),
            hex::encode(&ct),
            "{ctx}: seal_with_ephemeral ciphertext"
        );
        assert_eq!(
            seal_open(&rsk, &ct).as_deref(),
            Ok(msg.as_slice()),
            "{ctx}: seal_open"
        );
    }
}

// ----------------------------------------------------------------------------------- BLAKE2b

/// `blake2b_32`/`blake2b_64` need the key length at compile time; dispatch on the lengths the
/// fixture uses.
fn fixed_digest(out_len: usize, key: &[u8], parts: &[&[u8]], ctx: &str) -> Vec<u8> {
    fn by_len<const K: usize>(out_len: usize, key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
        let key: &[u8; K] = key.try_into().expect("length matched");
        if out_len == 32 {
            blake2b_32(key, parts).to_vec()
        } else {
            blake2b_64(key, parts).to_vec()
        }
    }
    match key.len() {
        0 => by_len::<0>(out_len, key, parts),
        16 => by_len::<16>(out_len, key, parts),
        32 => by_len::<32>(out_len, key, parts),
        64 => by_len::<64>(out_len, key, parts),
        n => panic!("{ctx}: no blake2b_32/64 dispatch for a {n}-byte key"),
    }
}

#[test]
fn blake2b() {
    let mut fixed_checked = 0;
    for (ctx, case) in cases("blake2b") {
        let msg = message(case, &ctx);
        let key = bytes(case, "key", &ctx);
        let salt = bytes(case, "salt", &ctx);
        let personal = bytes(case, "personal", &ctx);
        let out_len = usize::try_from(int(case, "outlen", &ctx)).expect("fits usize");
        let digest = bytes(case, "digest", &ctx);
        assert_eq!(digest.len(), out_len, "{ctx}: fixture digest length");

        let mut h =
            Blake2b::with_params(out_len, &key, &salt, &personal).expect("valid parameters");
        h.update(&msg);
        assert_eq!(
            hex::encode(h.finalize()),
            hex::encode(&digest),
            "{ctx}: with_params digest"
        );
        let mut out = vec![0u8; out_len];
        h.finalize_into(&mut out).expect("right-sized buffer");
        assert_eq!(out, digest, "{ctx}: finalize_into");

        // The same digest when the input arrives in two pieces.
        let (a, b) = msg.split_at(msg.len() / 3);
        let mut split = Blake2b::with_params(out_len, &key, &salt, &personal).expect("valid");
        split.update(a).update(b);
        assert_eq!(split.finalize(), digest, "{ctx}: incremental digest");

        if salt.is_empty() && personal.is_empty() {
            let plain = if key.is_empty() {
                Blake2b::new(out_len)
            } else {
                Blake2b::keyed(out_len, &key)
            };
            assert_eq!(
                plain.expect("valid").update(&msg).finalize(),
                digest,
                "{ctx}: new/keyed"
            );
            if out_len == 32 || out_len == 64 {
                assert_eq!(
                    fixed_digest(out_len, &key, &[a, b], &ctx),
                    digest,
                    "{ctx}: blake2b_{out_len}"
                );
                fixed_checked += 1;
            }
        }
    }
    assert!(
        fixed_checked >= 9,
        "only {fixed_checked} blake2b cases reached blake2b_32/64"
    );
}

// --------------------------------------------------------------------------------------- AEADs

#[test]
fn xchacha20poly1305_ietf() {
    for (ctx, case) in cases("xchacha20poly1305_ietf") {
        let key = key(case, "key", &ctx);
        let nonce = array::<24>(case, "nonce", &ctx);
        let ad = bytes(case, "ad", &ctx);
        let msg = message(case, &ctx);
        let ct = bytes(case, "ciphertext", &ctx);

        let ours = xchacha20poly1305_encrypt(&key, &nonce, &ad, &msg).expect("encrypt");
        assert_eq!(hex::encode(&ours), hex::encode(&ct), "{ctx}: ciphertext");
        assert_eq!(
            xchacha20poly1305_decrypt(&key, &nonce, &ad, &ct).as_deref(),
            Ok(msg.as_slice()),
            "{ctx}: decrypt"
        );
        for i in 0..ct.len() {
            assert_eq!(
                xchacha20poly1305_decrypt(&key, &nonce, &ad, &flipped(&ct, i)),
                Err(CryptoError::Decrypt),
                "{ctx}: ciphertext with byte {i} flipped decrypts"
            );
        }
        let mut other_ad = ad.clone();
        other_ad.push(0);
        assert_eq!(
            xchacha20poly1305_decrypt(&key, &nonce, &other_ad, &ct),
            Err(CryptoError::Decrypt),
            "{ctx}: decrypts with different associated data"
        );
    }
}

#[test]
fn aes256gcm() {
    for (ctx, case) in cases("aes256gcm") {
        let key = key(case, "key", &ctx);
        let nonce = array::<12>(case, "nonce", &ctx);
        let ad = bytes(case, "ad", &ctx);
        let msg = message(case, &ctx);
        let ct = bytes(case, "ciphertext", &ctx);

        let ours = aes256gcm_encrypt(&key, &nonce, &ad, &msg).expect("encrypt");
        assert_eq!(hex::encode(&ours), hex::encode(&ct), "{ctx}: ciphertext");
        assert_eq!(
            aes256gcm_decrypt(&key, &nonce, &ad, &ct).as_deref(),
            Ok(msg.as_slice()),
            "{ctx}: decrypt"
        );
        for i in 0..ct.len() {
            assert_eq!(
                aes256gcm_decrypt(&key, &nonce, &ad, &flipped(&ct, i)),
                Err(CryptoError::Decrypt),
                "{ctx}: ciphertext with byte {i} flipped decrypts"
            );
        }
        let mut other_ad = ad.clone();
        other_ad.push(0);
        assert_eq!(
            aes256gcm_decrypt(&key, &nonce, &other_ad, &ct),
            Err(CryptoError::Decrypt),
            "{ctx}: decrypts with different associated data"
        );
    }
}

// ------------------------------------------------------------------------------ secretstream

#[test]
fn secretstream_xchacha20poly1305() {
    for (ctx, stream) in cases("secretstream_xchacha20poly1305") {
        let key = key(stream, "key", &ctx);
        let header = array::<{ secretstream::HEADER_LEN }>(stream, "header", &ctx);
        let messages = stream
            .get("messages")
            .and_then(Value::as_array)
            .unwrap_or_else(|| panic!("{ctx}: no messages array"));
        assert!(!messages.is_empty(), "{ctx}: stream has no messages");

        let mut enc = secretstream::Encryptor::with_header(&key, &header);
        let mut dec = secretstream::Decryptor::new(&key, &header);
        let mut ended = false;
        for (j, entry) in messages.iter().enumerate() {
            let ctx = format!("{ctx}.messages[{j}]");
            let msg = message(entry, &ctx);
            let ad = bytes(entry, "ad", &ctx);
            let tag = tag(entry, "tag", &ctx);
            let ct = bytes(entry, "ciphertext", &ctx);
            assert!(!ended, "{ctx}: message after a Final tag");
            assert_eq!(
                ct.len(),
                msg.len() + secretstream::ABYTES,
                "{ctx}: ciphertext length"
            );

            let ours = enc.push(&msg, &ad, tag).expect("push");
            assert_eq!(
                hex::encode(&ours),
                hex::encode(&ct),
                "{ctx}: push ciphertext"
            );

            // A tampered message fails and leaves the state usable for the real one.
            for i in [0, ct.len() / 2, ct.len() - 1] {
                assert_eq!(
                    dec.pull(&flipped(&ct, i), &ad),
                    Err(CryptoError::Decrypt),
                    "{ctx}: message with byte {i} flipped pulls"
                );
            }
            let (plain, got_tag) = dec.pull(&ct, &ad).expect("pull");
            assert_eq!(plain, msg, "{ctx}: pulled message");
            assert_eq!(got_tag, tag, "{ctx}: pulled tag");
            ended = tag == Tag::Final;
        }
        if ended {
            assert_eq!(
                enc.push(b"x", b"", Tag::Message),
                Err(CryptoError::StreamFinished),
                "{ctx}: push after Final"
            );
        }
    }
}

#[test]
fn secretstream_rekey() {
    for (ctx, case) in cases("secretstream_rekey") {
        let key = key(case, "key", &ctx);
        let header = array::<{ secretstream::HEADER_LEN }>(case, "header", &ctx);
        let (msg1, tag1, ct1) = (
            bytes(case, "msg1", &ctx),
            tag(case, "tag1", &ctx),
            bytes(case, "ct1", &ctx),
        );
        let (msg2, tag2, ct2) = (
            bytes(case, "msg2", &ctx),
            tag(case, "tag2", &ctx),
            bytes(case, "ct2", &ctx),
        );

        let mut enc = secretstream::Encryptor::with_header(&key, &header);
        assert_eq!(
            hex::encode(enc.push(&msg1, &[], tag1).expect("push")),
            hex::encode(&ct1),
            "{ctx}: ct1"
        );
        enc.rekey();
        assert_eq!(
            hex::encode(enc.push(&msg2, &[], tag2).expect("push")),
            hex::encode(&ct2),
            "{ctx}: ct2"
        );

        let mut dec = secretstream::Decryptor::new(&key, &header);
        assert_eq!(
            dec.pull(&ct1, &[]),
            Ok((msg1.clone(), tag1)),
            "{ctx}: pull ct1"
        );
        dec.rekey();
        assert_eq!(
            dec.pull(&ct2, &[]),
            Ok((msg2, tag2)),
            "{ctx}: pull ct2 after rekey"
        );

        // Without the explicit rekey the second message must not open.
        let mut no_rekey = secretstream::Decryptor::new(&key, &header);
        assert_eq!(
            no_rekey.pull(&ct1, &[]),
            Ok((msg1, tag1)),
            "{ctx}: pull ct1 (no rekey)"
        );
        assert_eq!(
            no_rekey.pull(&ct2, &[]),
            Err(CryptoError::Decrypt),
            "{ctx}: ct2 opened without rekey"
        );
    }
}
