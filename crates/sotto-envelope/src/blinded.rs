//! Blinded DMs: messages between community members who know each other only by their 15- or
//! 25-blinded IDs (community inbox).
//!
//! Key agreement: for 15-blinding both sides share the blinding factor `k`, so the plain private
//! scalars agree (`a·(k·B) = b·(k·A)`); for 25-blinding each side uses its blinded scalar. The key
//! is `BLAKE2b-256(shared ‖ sender blinded key ‖ recipient blinded key)`, the plaintext
//! `message ‖ sender's Ed25519 key`, and the output `0x00 ‖ XChaCha20-Poly1305 ‖ nonce`.

use sotto_crypto::{
    AEAD_TAG_LEN, CryptoRngCore, Ed25519PublicKey, SecretScalar, SymmetricKey, XCHACHA_NONCE_LEN,
    blake2b_32, xchacha20poly1305_decrypt, xchacha20poly1305_encrypt,
};
use sotto_identity::blinding::{self, BlindedKeypair};
use sotto_identity::{Account, IdPrefix, PrefixedId, SessionId};
use zeroize::Zeroizing;

use crate::session::Decrypted;
use crate::{DecryptError, EncryptError};

/// The version byte of the format.
const VERSION: u8 = 0;

/// Bytes a blinded DM adds to its message: version, sender key, tag and nonce.
pub const BLINDED_DM_OVERHEAD: usize = 1 + 32 + AEAD_TAG_LEN + XCHACHA_NONCE_LEN;

/// This account's blinded key pair for the scheme of `id` (15 or 25), and the private scalar
/// its key agreement uses.
fn own_keys(
    account: &Account,
    server_pk: &[u8; 32],
    id: &PrefixedId,
) -> Option<(BlindedKeypair, SecretScalar)> {
    match id.prefix() {
        IdPrefix::Blinded15 => Some((
            account.blind15(server_pk),
            account.ed25519_secret().scalar(),
        )),
        IdPrefix::Blinded25 => {
            let keys = account.blind25(server_pk);
            let scalar = keys.scalar().clone();
            Some((keys, scalar))
        }
        _ => None,
    }
}

/// `BLAKE2b-256(s·other ‖ sender ‖ recipient)`, or `None` if `other` is not a valid point.
fn shared_key(
    scalar: &SecretScalar,
    other: &PrefixedId,
    sender: &PrefixedId,
    recipient: &PrefixedId,
) -> Option<SymmetricKey> {
    let shared = scalar.mul_point(&other.ed25519_key()).ok()?;
    let key = Zeroizing::new(blake2b_32(
        &[],
        &[shared.as_bytes(), sender.key(), recipient.key()],
    ));
    Some(SymmetricKey::new(*key))
}

/// Encrypts `message` (for Content: padded) from `sender` to the blinded ID `recipient` on the
/// community whose key is `server_pk`, with a random nonce. The recipient's prefix (15 or 25)
/// chooses the scheme; the sender uses its own blinded ID of the same scheme.
pub fn encrypt_for_blinded_recipient(
    sender: &Account,
    server_pk: &[u8; 32],
    recipient: &PrefixedId,
    message: &[u8],
    rng: &mut impl CryptoRngCore,
) -> Result<Vec<u8>, EncryptError> {
    let mut nonce = [0u8; XCHACHA_NONCE_LEN];
    rng.fill_bytes(&mut nonce);
    encrypt_for_blinded_recipient_with_nonce(sender, server_pk, recipient, message, &nonce)
}

/// [`encrypt_for_blinded_recipient`] with a caller-chosen nonce, which must never repeat for the
/// same pair of IDs (for tests and reproducible vectors).
pub fn encrypt_for_blinded_recipient_with_nonce(
    sender: &Account,
    server_pk: &[u8; 32],
    recipient: &PrefixedId,
    message: &[u8],
    nonce: &[u8; XCHACHA_NONCE_LEN],
) -> Result<Vec<u8>, EncryptError> {
    let bad_recipient = EncryptError::InvalidBlindedId { which: "recipient" };
    let (own, scalar) = own_keys(sender, server_pk, recipient).ok_or(bad_recipient.clone())?;
    let own_id = own.id();
    let key = shared_key(&scalar, recipient, &own_id, recipient).ok_or(bad_recipient)?;
    let mut inner = Zeroizing::new(Vec::with_capacity(message.len() + 32));
    inner.extend_from_slice(message);
    inner.extend_from_slice(sender.ed25519_public().as_bytes());
    let sealed = xchacha20poly1305_encrypt(&key, nonce, &[], &inner)
        .map_err(|_| EncryptError::MessageTooLong)?;
    let mut out = Vec::with_capacity(1 + sealed.len() + nonce.len());
    out.push(VERSION);
    out.extend_from_slice(&sealed);
    out.extend_from_slice(nonce);
    Ok(out)
}

/// Decrypts a blinded DM from `sender` to `recipient` (both blinded IDs of one scheme on the
/// community `server_pk`), as the recipient or as the sender reading its own sent message.
/// The sender's Ed25519 key inside must belong to the claimed sender ID. Returns the plaintext
/// (for Content: padded) and the sender's Session ID.
pub fn decrypt_from_blinded(
    own: &Account,
    server_pk: &[u8; 32],
    sender: &PrefixedId,
    recipient: &PrefixedId,
    ciphertext: &[u8],
) -> Result<Decrypted, DecryptError> {
    if sender.prefix() != recipient.prefix() {
        return Err(DecryptError::InvalidBlindedId { which: "sender" });
    }
    let (own_keys, scalar) = own_keys(own, server_pk, recipient)
        .ok_or(DecryptError::InvalidBlindedId { which: "recipient" })?;
    let own_id = own_keys.id();
    let (other, which) = if *sender == own_id {
        (recipient, "recipient")
    } else if *recipient == own_id {
        (sender, "sender")
    } else {
        return Err(DecryptError::NotOurs);
    };
    let too_short = DecryptError::TooShort {
        what: "blinded DM",
        min: BLINDED_DM_OVERHEAD,
        found: ciphertext.len(),
    };
    let (&version, rest) = ciphertext.split_first().ok_or(too_short.clone())?;
    if version != VERSION {
        return Err(DecryptError::UnsupportedVersion {
            what: "blinded DM",
            version,
        });
    }
    let (sealed, nonce) = rest
        .split_last_chunk::<XCHACHA_NONCE_LEN>()
        .filter(|_| ciphertext.len() >= BLINDED_DM_OVERHEAD)
        .ok_or(too_short)?;
    let key = shared_key(&scalar, other, sender, recipient)
        .ok_or(DecryptError::InvalidBlindedId { which })?;
    let mut plaintext = xchacha20poly1305_decrypt(&key, nonce, &[], sealed)
        .map_err(|_| DecryptError::NotAuthentic { what: "blinded DM" })?;
    let (message_len, sender_ed25519) = plaintext
        .split_last_chunk::<32>()
        .map(|(message, key)| (message.len(), Ed25519PublicKey(*key)))
        .ok_or(DecryptError::InvalidSenderKey)?;
    plaintext.truncate(message_len);
    let sender_id = SessionId::from_x25519(
        sender_ed25519
            .to_x25519()
            .map_err(|_| DecryptError::InvalidSenderKey)?,
    );
    let matches = blinding::matches_session_id(sender, &sender_id, server_pk)
        .map_err(|_| DecryptError::InvalidSenderKey)?;
    if !matches {
        return Err(DecryptError::SenderMismatch { claimed: *sender });
    }
    Ok(Decrypted {
        plaintext,
        sender_ed25519,
        sender: sender_id,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const SERVER: [u8; 32] = [0x1d; 32];

    fn pair(a: u8, b: u8) -> (Account, Account) {
        (
            Account::from_ed25519_seed(&[a; 32]),
            Account::from_ed25519_seed(&[b; 32]),
        )
    }

    fn ids(alice: &Account, bob: &Account, prefix: IdPrefix) -> (PrefixedId, PrefixedId) {
        match prefix {
            IdPrefix::Blinded15 => (alice.blind15(&SERVER).id(), bob.blind15(&SERVER).id()),
            _ => (alice.blind25(&SERVER).id(), bob.blind25(&SERVER).id()),
        }
    }

    #[test]
    fn both_directions_both_schemes() {
        let (alice, bob) = pair(1, 2);
        for prefix in [IdPrefix::Blinded15, IdPrefix::Blinded25] {
            let (a, b) = ids(&alice, &bob, prefix);
            let ct = encrypt_for_blinded_recipient(
                &alice,
                &SERVER,
                &b,
                b"hi bob",
                &mut sotto_crypto::OsRng,
            )
            .unwrap();
            assert_eq!(ct.len(), 6 + BLINDED_DM_OVERHEAD);
            for reader in [&bob, &alice] {
                let got = decrypt_from_blinded(reader, &SERVER, &a, &b, &ct).unwrap();
                assert_eq!(got.plaintext, b"hi bob");
                assert_eq!(got.sender, alice.session_id());
            }
            let back =
                encrypt_for_blinded_recipient(&bob, &SERVER, &a, b"hi", &mut sotto_crypto::OsRng)
                    .unwrap();
            let got = decrypt_from_blinded(&alice, &SERVER, &b, &a, &back).unwrap();
            assert_eq!(got.sender, bob.session_id());
            // A third party is told it is not theirs.
            let carol = Account::from_ed25519_seed(&[3; 32]);
            assert_eq!(
                decrypt_from_blinded(&carol, &SERVER, &a, &b, &ct),
                Err(DecryptError::NotOurs)
            );
        }
    }

    #[test]
    fn a_claimed_sender_must_match_the_key_inside() {
        let (alice, bob) = pair(1, 2);
        let mallory = Account::from_ed25519_seed(&[9; 32]);
        for prefix in [IdPrefix::Blinded15, IdPrefix::Blinded25] {
            let (a, b) = ids(&alice, &bob, prefix);
            let (m, _) = ids(&mallory, &bob, prefix);
            // Mallory encrypts to Bob, then claims to be Alice: the key agreement differs, so the
            // box does not open; and if it did, the key inside would still be Mallory's.
            let ct = encrypt_for_blinded_recipient(
                &mallory,
                &SERVER,
                &b,
                b"x",
                &mut sotto_crypto::OsRng,
            )
            .unwrap();
            assert!(decrypt_from_blinded(&bob, &SERVER, &a, &b, &ct).is_err());
            assert!(decrypt_from_blinded(&bob, &SERVER, &m, &b, &ct).is_ok());
        }
    }

    #[test]
    fn sender_check_rejects_a_foreign_key_under_the_right_shared_key() {
        // Build a message under Alice→Bob's key that carries Mallory's Ed25519 key.
        let (alice, bob) = pair(1, 2);
        let mallory = Account::from_ed25519_seed(&[9; 32]);
        let (a, b) = ids(&alice, &bob, IdPrefix::Blinded25);
        let scalar = alice.blind25(&SERVER).scalar().clone();
        let key = shared_key(&scalar, &b, &a, &b).unwrap();
        let inner = [&b"x"[..], mallory.ed25519_public().as_bytes()].concat();
        let nonce = [7u8; 24];
        let sealed = xchacha20poly1305_encrypt(&key, &nonce, &[], &inner).unwrap();
        let ct = [&[0u8][..], &sealed, &nonce].concat();
        assert_eq!(
            decrypt_from_blinded(&bob, &SERVER, &a, &b, &ct),
            Err(DecryptError::SenderMismatch { claimed: a })
        );
    }

    #[test]
    fn malformed_input_is_a_typed_error() {
        let (alice, bob) = pair(1, 2);
        let (a, b) = ids(&alice, &bob, IdPrefix::Blinded15);
        let ct = encrypt_for_blinded_recipient_with_nonce(&alice, &SERVER, &b, b"hey", &[1; 24])
            .unwrap();
        for len in 0..BLINDED_DM_OVERHEAD {
            assert!(decrypt_from_blinded(&bob, &SERVER, &a, &b, &ct[..len]).is_err());
        }
        for i in 0..ct.len() {
            let mut bad = ct.clone();
            bad[i] ^= 0x01;
            assert!(
                decrypt_from_blinded(&bob, &SERVER, &a, &b, &bad).is_err(),
                "byte {i}"
            );
        }
        let mut v1 = ct.clone();
        v1[0] = 1;
        assert_eq!(
            decrypt_from_blinded(&bob, &SERVER, &a, &b, &v1),
            Err(DecryptError::UnsupportedVersion {
                what: "blinded DM",
                version: 1
            })
        );
        // Mixed schemes and non-blinded IDs are misuse.
        let (_, b25) = ids(&alice, &bob, IdPrefix::Blinded25);
        assert!(matches!(
            decrypt_from_blinded(&bob, &SERVER, &a, &b25, &ct),
            Err(DecryptError::InvalidBlindedId { .. })
        ));
        let sid = PrefixedId::from(bob.session_id());
        assert_eq!(
            encrypt_for_blinded_recipient_with_nonce(&alice, &SERVER, &sid, b"x", &[0; 24]),
            Err(EncryptError::InvalidBlindedId { which: "recipient" })
        );
        let not_a_point = PrefixedId::new(IdPrefix::Blinded15, [0xff; 32]);
        assert_eq!(
            encrypt_for_blinded_recipient_with_nonce(&alice, &SERVER, &not_a_point, b"x", &[0; 24]),
            Err(EncryptError::InvalidBlindedId { which: "recipient" })
        );
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(16))]
        #[test]
        fn round_trips(
            a in proptest::array::uniform32(any::<u8>()),
            b in proptest::array::uniform32(any::<u8>()),
            server in proptest::array::uniform32(any::<u8>()),
            message in proptest::collection::vec(any::<u8>(), 0..400),
            use25 in any::<bool>(),
        ) {
            let (alice, bob) = (Account::from_ed25519_seed(&a), Account::from_ed25519_seed(&b));
            let (sa, sb) = if use25 {
                (alice.blind25(&server).id(), bob.blind25(&server).id())
            } else {
                (alice.blind15(&server).id(), bob.blind15(&server).id())
            };
            let ct = encrypt_for_blinded_recipient_with_nonce(&alice, &server, &sb, &message, &[5; 24]).unwrap();
            for reader in [&bob, &alice] {
                let got = decrypt_from_blinded(reader, &server, &sa, &sb, &ct).unwrap();
                prop_assert_eq!(&got.plaintext, &message);
                prop_assert_eq!(got.sender, alice.session_id());
            }
        }
    }
}
