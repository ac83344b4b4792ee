//! Property tests: encrypt → decrypt round trips in both formats, with sizes around the 32 KiB
//! chunk boundaries, streaming in arbitrary pieces, and rejection of damaged input.

use proptest::prelude::*;
use sotto_attachment::deterministic::{self, CHUNK_LEN, Decryptor, Domain};
use sotto_attachment::legacy::{self, Padding};
use sotto_attachment::profile_pic;
use sotto_crypto::{SecretBytes, SymmetricKey};

fn length() -> impl Strategy<Value = usize> {
    let c = CHUNK_LEN;
    prop_oneof![
        prop::sample::select(vec![
            0,
            1,
            4053,
            4054,
            c - 1,
            c,
            c + 1,
            2 * c - 1,
            2 * c,
            2 * c + 1,
            3 * c + 5,
        ]),
        0..200_000usize,
    ]
}

fn bytes(len: usize, salt: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(29).wrapping_add(salt))
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn deterministic_round_trips(
        len in length(),
        salt: u8,
        seed: [u8; 32],
        profile: bool,
        piece in 1usize..70_000,
    ) {
        let domain = if profile { Domain::ProfilePic } else { Domain::Attachment };
        let plaintext = bytes(len, salt);
        let seed = SecretBytes::new(seed);
        let enc = deterministic::encrypt(&seed, domain, &plaintext).unwrap();
        prop_assert_eq!(
            Some(enc.ciphertext.len() as u64),
            deterministic::encrypted_size(len as u64)
        );
        prop_assert_eq!(&deterministic::decrypt(&enc.ciphertext, &enc.key).unwrap(), &plaintext);

        // The same bytes in pieces of any size.
        let mut out = Vec::new();
        let mut dec = Decryptor::new(&enc.key);
        for part in enc.ciphertext.chunks(piece) {
            dec.update(part, &mut out).unwrap();
        }
        dec.finish(&mut out).unwrap();
        prop_assert_eq!(&out, &plaintext);

        // Same input, same output.
        let again = deterministic::encrypt(&seed, domain, &plaintext).unwrap();
        prop_assert_eq!(&again.ciphertext, &enc.ciphertext);
    }

    #[test]
    fn deterministic_rejects_damage(
        len in length(),
        at: prop::sample::Index,
        bit in 0u8..8,
        cut: prop::sample::Index,
    ) {
        let plaintext = bytes(len, 1);
        let enc = deterministic::encrypt(&SecretBytes::new([4; 32]), Domain::Attachment, &plaintext)
            .unwrap();
        let mut flipped = enc.ciphertext.clone();
        flipped[at.index(enc.ciphertext.len())] ^= 1 << bit;
        prop_assert!(deterministic::decrypt(&flipped, &enc.key).is_err());
        let short = &enc.ciphertext[..cut.index(enc.ciphertext.len())];
        prop_assert!(deterministic::decrypt(short, &enc.key).is_err());
    }

    #[test]
    fn legacy_round_trips_and_rejects_damage(
        len in length(),
        padded: bool,
        key: [u8; 64],
        iv: [u8; 16],
        at: prop::sample::Index,
    ) {
        let padding = if padded { Padding::Padded } else { Padding::Unpadded };
        let plaintext = bytes(len, 2);
        let key = legacy::LegacyKey::from_slice(&key).unwrap();
        let enc = legacy::encrypt_with(key.clone(), &iv, &plaintext, padding).unwrap();
        prop_assert_eq!(enc.size, len as u64);
        prop_assert_eq!(
            &legacy::decrypt(&enc.blob, &key, &enc.digest, enc.size).unwrap(),
            &plaintext
        );
        let mut bad = enc.blob.clone();
        bad[at.index(enc.blob.len())] ^= 0x80;
        prop_assert!(legacy::decrypt(&bad, &key, &enc.digest, enc.size).is_err());
        let short = &enc.blob[..at.index(enc.blob.len())];
        prop_assert!(legacy::decrypt(short, &key, &enc.digest, enc.size).is_err());
    }

    #[test]
    fn legacy_profile_pictures_round_trip(len in 0usize..100_000, key: [u8; 32], iv: [u8; 12]) {
        let key = SymmetricKey::new(key);
        let image = bytes(len, 3);
        let blob = profile_pic::encrypt_legacy_with_iv(&key, &iv, &image).unwrap();
        prop_assert_eq!(&profile_pic::decrypt_legacy(&key, &blob).unwrap(), &image);
    }
}
