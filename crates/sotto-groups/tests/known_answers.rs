//! Known answers from `shared/vectors/groups_v2.json` (official and libsession-generated),
//! checked through the public API. The full suite runs through the vector runner; these keep
//! the crate's own tests honest without it.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use sotto_crypto::{Blake2b, Ed25519SecretKey, SymmetricKey, X25519PublicKey};
use sotto_groups::auth::{member_flags, verify_subaccount_request};
use sotto_groups::message::decrypt_group_message;
use sotto_groups::multi::{decrypt_for_multiple, encode_simple, encrypt_for_multiple};
use sotto_groups::{GroupAdmin, GroupKeys, KeyInfo, SubaccountAuth};
use sotto_identity::{Account, SessionId};

const GROUP_SEED: &str = "0123456789abcdeffedcba98765432100123456789abcdeffedcba9876543210";
const MEMBERS: [&str; 5] = [
    "050a41669a06c098f22633aee2eba03764ef6813bd4f770a3a2b9033b868ca470d",
    "053ac269b71512776b0bd4a1234aaf93e67b4e9068a2c252f3b93a20acb590ae3c",
    "05a2b03abdda4df8316f9d7aed5d2d1e483e9af269d0b39191b08321b8495bc118",
    "05ece06dd8e02fb2f7d9497f956a1996e199953c651f4016a2f79a3b3e38d55628",
    "05f1e8b64bbf761edf8f7b47e3a1f369985644cce0a62adb8e21604474bdd49627",
];
const GEN0_KEY: &str = "1da2efe2a0bdc35a2626294db96d4bc21653c24f71ee0582233ef16eb9d6d102";
const GEN1_KEY: &str = "ab2e6771f0b324bab4e23bb2396eacd5adf4e50d1200426a6991b6b0dafa1898";
/// member1 (05ece06d…) and member4 (050a4166…) seeds.
const MEMBER1_SEED: &str = "000111222333444555666777888999aaabbbcccdddeeefff0123456789abcdef";
const MEMBER4_SEED: &str = "0000111122223333444455556666777788889999aaaabbbbccccddddeeeeffff";

fn h32(s: &str) -> [u8; 32] {
    hex::decode(s).unwrap().try_into().unwrap()
}

fn admin() -> GroupAdmin {
    GroupAdmin::from_seed(&h32(GROUP_SEED)).unwrap()
}

fn ids(list: &[&str]) -> Vec<SessionId> {
    list.iter().map(|s| s.parse().unwrap()).collect()
}

fn b2b(bytes: &[u8]) -> String {
    let mut h = Blake2b::new(32).unwrap();
    h.update(bytes);
    hex::encode(h.finalize())
}

#[test]
fn admin_secrets() {
    let a = admin();
    assert_eq!(
        hex::encode(a.seed_hash().expose()),
        "87f879e6e89abce3389b1531aef850d1147d3f9f81e712547ba26306be8a0ef1"
    );
    assert_eq!(
        hex::encode(a.admin_key().expose()),
        "3aa44e2e355a0910f046a2f7053a1dab2597cd75cb6ef6235e98aba27ec0f19a"
    );
    assert_eq!(
        hex::encode(a.x25519_public().as_bytes()),
        "9768c908ea9d7a20456f585fd349a78f31b262148be79fc7f779604f51e24b4e"
    );
    assert_eq!(
        a.group_id().to_string(),
        "03c50cb3ae956947a8de19135b5be2685ff348afc63fc34a837aca12bc5c1f5625"
    );
}

#[test]
fn multi_encrypt_official() {
    let sender = Ed25519SecretKey::from_seed(&h32(
        "0123456789abcdef0123456789abcdef00000000000000000000000000000000",
    ));
    let a = sender.to_x25519();
    let pa = a.public_key();
    let recipients: Vec<X25519PublicKey> = [
        "d673a8fb4800d2a252d2fc4e3342a88cdfa9412853934e8993d12d593be13371",
        "afd9716ea69ab8c7f475e1b250c86a6539e260804faecf2a803e9281a4160738",
        "03be14feabd59122349614b88bdc90db1d1af4c230e9a73c898beec833d51f11",
    ]
    .iter()
    .map(|h| X25519PublicKey(h32(h)))
    .collect();
    let nonce: [u8; 24] = hex::decode("32ab4bb45d6df5cc14e1c330fb1a8b68ea3826a8c2213a49")
        .unwrap()
        .try_into()
        .unwrap();
    let copies = encrypt_for_multiple(
        &[b"hello", b"cruel", b"world"],
        &recipients,
        &nonce,
        &a,
        &pa,
        b"test suite",
        false,
    )
    .unwrap();
    assert_eq!(
        hex::encode(encode_simple(&nonce, &copies)),
        "64313a2332343a32ab4bb45d6df5cc14e1c330fb1a8b68ea3826a8c2213a49313a656c32313ae64937e5ea201b84f4e88a976dad900d91caaf6a1732313abcb642c49c6da03f70cdaab2ed6666721318afd63132313a1ecee2215d226817edfdb097f05037eb799309103a6565"
    );
    let r2 = Ed25519SecretKey::from_seed(&h32(
        "0123456789abcdef222222222222222200000000000000000000000000000000",
    ))
    .to_x25519();
    let got = decrypt_for_multiple(
        copies.iter().map(Vec::as_slice),
        &nonce,
        &r2,
        &r2.public_key(),
        &pa,
        b"test suite",
    )
    .unwrap();
    assert_eq!(got, b"world");
    assert!(
        decrypt_for_multiple(
            copies.iter().map(Vec::as_slice),
            &nonce,
            &r2,
            &r2.public_key(),
            &pa,
            b"not test suite",
        )
        .is_err()
    );
}

#[test]
fn rekeys_match_libsession_and_members_load_them() {
    let a = admin();
    let gen0 = a.build_rekey(&ids(&MEMBERS), 0).unwrap();
    assert_eq!(hex::encode(gen0.key.expose()), GEN0_KEY);
    assert_eq!(gen0.message.len(), 3992);
    assert_eq!(
        b2b(&gen0.message),
        "319c1764778746402f3c573c0d1008191aa3f8c6698b9e8107767a7263ff1b01"
    );
    // The input order does not matter: members are sorted.
    let mut shuffled = ids(&MEMBERS);
    shuffled.reverse();
    assert_eq!(a.build_rekey(&shuffled, 0).unwrap().message, gen0.message);

    let gen1 = a.build_rekey(&ids(&MEMBERS[1..]), 1).unwrap();
    assert_eq!(hex::encode(gen1.key.expose()), GEN1_KEY);
    assert_eq!(
        b2b(&gen1.message),
        "4c155ac4847ccdbbc3661bd41a6abdfe5d7010e717e2d31419134510d7f6c73b"
    );

    let m1 = Account::from_ed25519_seed(&h32(MEMBER1_SEED));
    let mut k1 = GroupKeys::new(m1.ed25519_secret(), a.group_id()).unwrap();
    assert!(
        k1.load_key_message("h0", &gen0.message, 1_700_000_000_000)
            .unwrap()
    );
    assert!(
        k1.load_key_message("h1", &gen1.message, 1_700_000_001_000)
            .unwrap()
    );
    assert_eq!(hex::encode(k1.encryption_key().unwrap().expose()), GEN1_KEY);
    assert_eq!(k1.current_generation(), Some(1));

    let m4 = Account::from_ed25519_seed(&h32(MEMBER4_SEED));
    let mut k4 = GroupKeys::new(m4.ed25519_secret(), a.group_id()).unwrap();
    assert!(
        k4.load_key_message("h0", &gen0.message, 1_700_000_000_000)
            .unwrap()
    );
    assert!(
        !k4.load_key_message("h1", &gen1.message, 1_700_000_001_000)
            .unwrap()
    );
    assert_eq!(hex::encode(k4.encryption_key().unwrap().expose()), GEN0_KEY);
    // The unreadable message is still remembered for renewal.
    assert!(k4.active_hashes().contains("h1"));
}

#[test]
fn supplement_matches_libsession() {
    let a = admin();
    let keys = vec![
        KeyInfo {
            generation: 0,
            key: SymmetricKey::new(h32(GEN0_KEY)),
            timestamp_ms: 1_700_000_000_000,
        },
        KeyInfo {
            generation: 1,
            key: SymmetricKey::new(h32(GEN1_KEY)),
            timestamp_ms: 1_700_000_001_000,
        },
    ];
    let recipient = Account::from_ed25519_seed(&[0x33; 32]);
    assert_eq!(
        recipient.session_id().to_string(),
        "054eb4fafee2bd3018a24e310de8106333c2b364eaed029a7f05d7b45ccc77683a"
    );
    let supp = a
        .build_supplement(&[recipient.session_id()], &keys)
        .unwrap();
    assert_eq!(
        b2b(&supp),
        "b7805ff5509e5d8dfcedd9a6e96a802ee45fd53938a4d6dffa8003ab9b24fb94"
    );
    let mut loaded = GroupKeys::new(recipient.ed25519_secret(), a.group_id()).unwrap();
    assert!(
        loaded
            .load_key_message("s", &supp, 1_700_000_002_000)
            .unwrap()
    );
    assert_eq!(loaded.key_infos().len(), 2);
    assert_eq!(
        hex::encode(loaded.encryption_key().unwrap().expose()),
        GEN1_KEY
    );
    assert_eq!(loaded.key_infos()[0].timestamp_ms, 1_700_000_000_000);
}

#[test]
fn libsession_message_decrypts() {
    let ct = hex::decode("caff52ba6ccf2edeb31c81167e997433028a06c01a74f7a1390e8e2d7aaab9c6a9485df95648195668ef5853c35aecd5b633bb7d5c9fbc4aa3b4147efdf5370cf814a193d25958bac0cc0c80bc01f6e64d2bf76fdebe9d26739c82889fcc607079bbcfa1ce629f0b5282ebc5b78ad9a309c5b8d39316b334f5757d383ee4b17e95763e4ee632aba600adaf728b1524168c44f961ea8368a89a0309570e5783790a7052509d563a61a01e89316d8afe1da085f635201b4dc674e8f20bf2d432e87112aa21a6e44526c785b82c4eacd198562b787dd68b27a24d0e179aaa0e6e725a4c2cb0918104f634dbdf8036bdeaad5b56a4f58587bb3dd99e5b5b3a495dbd").unwrap();
    let k1 = SymmetricKey::new(h32(GEN1_KEY));
    let k0 = SymmetricKey::new(h32(GEN0_KEY));
    let got = decrypt_group_message(&[&k1, &k0], &ct).unwrap();
    assert_eq!(got.plaintext, b"hello group");
    assert_eq!(got.sender.to_string(), MEMBERS[3]);
    assert!(!got.compressed);
    assert!(decrypt_group_message(&[&k1], &ct).is_err());
}

#[test]
fn subaccount_official_case() {
    use base64::Engine as _;
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.decode(s).unwrap();
    let a = admin();
    let member: SessionId = "05c5ba413c336f2fe1fb9a2c525f8a86a412a1db128a7841b4e0e217fa9eb7fd5e"
        .parse()
        .unwrap();
    let user = Account::from_ed25519_seed(&h32(
        "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff",
    ));
    assert_eq!(user.session_id(), member);
    let auth = a
        .make_subaccount(&member, member_flags(true, false))
        .unwrap();
    assert_eq!(
        hex::encode(auth.as_bytes()),
        "03030000013cb83a207d36c574aefe7dc51a5d1c3ad69d17f6c8d1c9398bee1180f8770ae9baefbffda37dc88100979128c1927a93492ee965cab5551e28f254313ef060b939cf3d50dc6336bab59155753fea6450844339ec36e2048b1602d97dd97e05"
    );
    let msg = b"retrieve9991693340111000";
    let signed = auth.sign(user.ed25519_secret(), msg).unwrap();
    assert_eq!(
        signed.token.as_bytes().to_vec(),
        b64("AwMAAIWvMR2nJXCFnK5+hNahNecWqMC39/TVVLjaR3imNug5")
    );
    assert_eq!(
        signed.signature.to_bytes().to_vec(),
        b64(
            "c3PJ4g29v5RivKm8Tdg49vGU2/6kVd0yONnpz5U5zePMYptqW3iYQ0TYf2rEzv3qqkPhS5p67M5GAccHoBHGDQ=="
        )
    );
    verify_subaccount_request(&a.group_id(), &signed, msg).unwrap();
    assert!(
        verify_subaccount_request(&a.group_id(), &signed, b"retrieve9991693340111001").is_err()
    );
    assert_eq!(
        a.subaccount_token(&member, member_flags(true, false))
            .unwrap(),
        signed.token
    );
    auth.check(&a.group_id(), &user.ed25519_public(), true, false)
        .unwrap();
    assert!(
        auth.check(&a.group_id(), &user.ed25519_public(), true, true)
            .is_err()
    );

    // Flipping any bit fails the check, except the ignored top bit of k.
    for byte in 0..100 {
        for bit in 0..8 {
            let mut bad = *auth.as_bytes();
            bad[byte] ^= 1 << bit;
            let bad = SubaccountAuth::try_from(bad.as_slice()).unwrap();
            let ok = bad
                .check(&a.group_id(), &user.ed25519_public(), false, false)
                .is_ok();
            // Prefix, flags and reserved bytes are all signed; libsodium ignores k's top bit.
            let harmless = byte == 35 && bit == 7;
            assert_eq!(ok, harmless, "byte {byte} bit {bit}");
        }
    }
}

#[test]
fn kicked_notice_matches_libsession() {
    use rand_chacha::rand_core::SeedableRng;
    let a = admin();
    let member = Account::from_ed25519_seed(&h32(MEMBER4_SEED));
    let nonce: [u8; 24] = core::array::from_fn(|i| i as u8);
    let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(0);
    let encoded = a
        .kicked_notice(&[member.session_id()], 1, &nonce, &mut rng)
        .unwrap();
    assert_eq!(
        hex::encode(&encoded),
        "64313a2332343a000102030405060708090a0b0c0d0e0f1011121314151617313a656c34393ae4f4bde585a8cbe062cf9b3059a28e87cfce9a271dcc4f348c4d78e6a33442624c6edf16428fb4d74a8dccee09a9153cde6565"
    );
    let read = |current| {
        sotto_groups::control::read_kicked_notice(
            &encoded,
            &a.group_id(),
            &member.x25519_secret(),
            &member.x25519_public(),
            current,
        )
    };
    assert_eq!(read(Some(1)).unwrap(), 1);
    assert_eq!(read(None).unwrap(), 1);
    assert!(read(Some(2)).is_err());
    let other = Account::from_ed25519_seed(&[9; 32]);
    assert!(
        sotto_groups::control::read_kicked_notice(
            &encoded,
            &a.group_id(),
            &other.x25519_secret(),
            &other.x25519_public(),
            None,
        )
        .is_err()
    );
}
