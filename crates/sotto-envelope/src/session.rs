//! One-to-one message encryption ("session protocol" v1): a signed, sealed box.
//!
//! `M ‖ A ‖ Ed25519(sender, M ‖ A ‖ Y)` sealed to the recipient's X25519 key `Y`, where `A` is the
//! sender's Ed25519 key. Signing `Y` binds the message to its recipient.

use sotto_crypto::{
    CryptoError, CryptoRngCore, Ed25519PublicKey, Ed25519SecretKey, SEALED_BOX_OVERHEAD,
    SIGNATURE_LEN, Signature, X25519PublicKey, X25519SecretKey, blake2b_32, box_seed_keypair, seal,
    seal_open_with_public, seal_with_ephemeral,
};
use sotto_identity::{Account, SessionId};

use crate::{DecryptError, EncryptError};

/// Bytes the session protocol adds to a message: the sealed box (48) and the sender's key and
/// signature (96).
pub const SESSION_PROTOCOL_OVERHEAD: usize = SEALED_BOX_OVERHEAD + 32 + SIGNATURE_LEN;

/// A decrypted message and who sent it.
#[derive(Clone, PartialEq, Eq)]
pub struct Decrypted {
    /// The plaintext (for 1:1 messages: padded Content).
    pub plaintext: Vec<u8>,
    /// The sender's Ed25519 key, as verified.
    pub sender_ed25519: Ed25519PublicKey,
    /// The sender's Session ID.
    pub sender: SessionId,
}

impl core::fmt::Debug for Decrypted {
    // Message bodies are not printed.
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Decrypted")
            .field("plaintext", &format_args!("{} bytes", self.plaintext.len()))
            .field("sender", &self.sender)
            .finish()
    }
}

/// `M ‖ A ‖ SIG`, the sealed plaintext.
fn signed_plaintext(
    sender: &Ed25519SecretKey,
    recipient: &X25519PublicKey,
    message: &[u8],
) -> Vec<u8> {
    let sender_pk = sender.public_key();
    let mut buf = Vec::with_capacity(message.len() + 32 + 32 + SIGNATURE_LEN);
    buf.extend_from_slice(message);
    buf.extend_from_slice(sender_pk.as_bytes());
    buf.extend_from_slice(recipient.as_bytes());
    let sig = sender.sign(&buf);
    buf.truncate(message.len() + 32);
    buf.extend_from_slice(&sig.to_bytes());
    buf
}

fn sealing_error(e: CryptoError) -> EncryptError {
    match e {
        CryptoError::WeakKeyAgreement => EncryptError::InvalidRecipientKey,
        _ => EncryptError::MessageTooLong,
    }
}

/// Encrypts `message` (already padded, for Content) from `sender` to the X25519 key `recipient`
/// (a Session ID's key, or a legacy group's encryption key), with a fresh ephemeral key.
pub fn encrypt_for_recipient(
    sender: &Ed25519SecretKey,
    recipient: &X25519PublicKey,
    message: &[u8],
    rng: &mut impl CryptoRngCore,
) -> Result<Vec<u8>, EncryptError> {
    seal(
        recipient,
        &signed_plaintext(sender, recipient, message),
        rng,
    )
    .map_err(sealing_error)
}

/// Like [`encrypt_for_recipient`], but the ephemeral key is derived from the sender's seed, the
/// recipient and the message (libsession `encrypt_for_recipient_deterministic`), so the same
/// inputs give the same bytes. Only for where reproducibility is wanted: it reveals repeats.
pub fn encrypt_for_recipient_deterministic(
    sender: &Ed25519SecretKey,
    recipient: &X25519PublicKey,
    message: &[u8],
) -> Result<Vec<u8>, EncryptError> {
    let seed = blake2b_32(
        b"SessionBoxEphemeralHashKey",
        &[sender.seed().expose(), recipient.as_bytes(), message],
    );
    let (ephemeral, _) = box_seed_keypair(&seed);
    seal_with_ephemeral(
        recipient,
        &signed_plaintext(sender, recipient, message),
        &ephemeral,
    )
    .map_err(sealing_error)
}

/// Decrypts a 1:1 message sent to `recipient` and verifies the sender's signature over it and
/// the recipient's own key. Returns the plaintext (still padded) and the sender.
pub fn decrypt_incoming(recipient: &Account, ciphertext: &[u8]) -> Result<Decrypted, DecryptError> {
    decrypt_incoming_x25519(
        &recipient.x25519_secret(),
        &recipient.x25519_public(),
        ciphertext,
    )
}

/// [`decrypt_incoming`] with an X25519 key pair (e.g. a legacy group's encryption key pair).
/// `public` must be `secret`'s public key: the signature is checked against it.
pub fn decrypt_incoming_x25519(
    secret: &X25519SecretKey,
    public: &X25519PublicKey,
    ciphertext: &[u8],
) -> Result<Decrypted, DecryptError> {
    if ciphertext.len() < SESSION_PROTOCOL_OVERHEAD {
        return Err(DecryptError::TooShort {
            what: "1:1 message ciphertext",
            min: SESSION_PROTOCOL_OVERHEAD,
            found: ciphertext.len(),
        });
    }
    let mut buf = seal_open_with_public(secret, public, ciphertext).map_err(|_| {
        DecryptError::NotAuthentic {
            what: "1:1 message ciphertext",
        }
    })?;
    let too_short = DecryptError::TooShort {
        what: "1:1 message plaintext",
        min: 32 + SIGNATURE_LEN,
        found: buf.len(),
    };
    let (sig, sender_ed25519, message_len) = {
        let (rest, sig) = buf
            .split_last_chunk::<SIGNATURE_LEN>()
            .ok_or(too_short.clone())?;
        let (message, key) = rest.split_last_chunk::<32>().ok_or(too_short)?;
        (Signature(*sig), Ed25519PublicKey(*key), message.len())
    };
    // Verify over M ‖ A ‖ Y, reusing the buffer: M ‖ A is already in place.
    buf.truncate(message_len + 32);
    buf.extend_from_slice(public.as_bytes());
    sender_ed25519.verify(&buf, &sig).map_err(|e| match e {
        CryptoError::InvalidEd25519Point => DecryptError::InvalidSenderKey,
        _ => DecryptError::BadSignature,
    })?;
    buf.truncate(message_len);
    let sender = SessionId::from_x25519(
        sender_ed25519
            .to_x25519()
            .map_err(|_| DecryptError::InvalidSenderKey)?,
    );
    Ok(Decrypted {
        plaintext: buf,
        sender_ed25519,
        sender,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn account(byte: u8) -> Account {
        Account::from_ed25519_seed(&[byte; 32])
    }

    #[test]
    fn round_trip_and_sizes() {
        let (alice, bob) = (account(1), account(2));
        let ct = encrypt_for_recipient(
            alice.ed25519_secret(),
            &bob.x25519_public(),
            b"hello",
            &mut sotto_crypto::OsRng,
        )
        .unwrap();
        assert_eq!(ct.len(), 5 + SESSION_PROTOCOL_OVERHEAD);
        let got = decrypt_incoming(&bob, &ct).unwrap();
        assert_eq!(got.plaintext, b"hello");
        assert_eq!(got.sender, alice.session_id());
        assert_eq!(got.sender_ed25519, alice.ed25519_public());
        assert!(!format!("{got:?}").contains("hello"));
        // Someone else cannot open it.
        assert_eq!(
            decrypt_incoming(&account(3), &ct),
            Err(DecryptError::NotAuthentic {
                what: "1:1 message ciphertext"
            })
        );
    }

    #[test]
    fn deterministic_variant_repeats_and_opens() {
        let (alice, bob) = (account(1), account(2));
        let a =
            encrypt_for_recipient_deterministic(alice.ed25519_secret(), &bob.x25519_public(), b"m")
                .unwrap();
        let b =
            encrypt_for_recipient_deterministic(alice.ed25519_secret(), &bob.x25519_public(), b"m")
                .unwrap();
        assert_eq!(a, b);
        assert_eq!(decrypt_incoming(&bob, &a).unwrap().plaintext, b"m");
    }

    /// Seals `M ‖ A ‖ SIG` built by hand, to reach the checks behind the sealed box.
    fn sealed(parts: &[&[u8]], to: &Account) -> Vec<u8> {
        seal(
            &to.x25519_public(),
            &parts.concat(),
            &mut sotto_crypto::OsRng,
        )
        .unwrap()
    }

    #[test]
    fn signature_checks_behind_the_box() {
        let (alice, bob, carol) = (account(1), account(2), account(3));
        let a = alice.ed25519_public();
        let signed = |to: &Account| {
            alice
                .ed25519_secret()
                .sign(&[&b"hi"[..], a.as_bytes(), to.x25519_public().as_bytes()].concat())
        };
        let good = signed(&bob);
        assert!(decrypt_incoming(&bob, &sealed(&[b"hi", a.as_bytes(), &good.0], &bob)).is_ok());
        // Every bit of the signature matters.
        for i in 0..SIGNATURE_LEN {
            let mut bad = good.0;
            bad[i] ^= 1;
            let ct = sealed(&[b"hi", a.as_bytes(), &bad], &bob);
            assert!(
                matches!(
                    decrypt_incoming(&bob, &ct),
                    Err(DecryptError::BadSignature | DecryptError::InvalidSenderKey)
                ),
                "signature byte {i}"
            );
        }
        // A message signed for Carol and re-sealed to Bob is rejected.
        let ct = sealed(&[b"hi", a.as_bytes(), &signed(&carol).0], &bob);
        assert_eq!(decrypt_incoming(&bob, &ct), Err(DecryptError::BadSignature));
        // A changed message or sender key is rejected.
        let ct = sealed(&[b"ho", a.as_bytes(), &good.0], &bob);
        assert_eq!(decrypt_incoming(&bob, &ct), Err(DecryptError::BadSignature));
        let other = carol.ed25519_public();
        let ct = sealed(&[b"hi", other.as_bytes(), &good.0], &bob);
        assert_eq!(decrypt_incoming(&bob, &ct), Err(DecryptError::BadSignature));
        let ct = sealed(&[b"hi", &[0xff; 32], &good.0], &bob);
        assert!(matches!(
            decrypt_incoming(&bob, &ct),
            Err(DecryptError::InvalidSenderKey | DecryptError::BadSignature)
        ));
    }

    #[test]
    fn short_and_tampered_ciphertexts_are_typed_errors() {
        let (alice, bob) = (account(1), account(2));
        let ct =
            encrypt_for_recipient_deterministic(alice.ed25519_secret(), &bob.x25519_public(), b"x")
                .unwrap();
        for len in 0..SESSION_PROTOCOL_OVERHEAD {
            assert!(matches!(
                decrypt_incoming(&bob, &ct[..len.min(ct.len())]),
                Err(DecryptError::TooShort { .. })
            ));
        }
        for i in 0..ct.len() {
            let mut bad = ct.clone();
            bad[i] ^= 0x40;
            assert!(matches!(
                decrypt_incoming(&bob, &bad),
                Err(DecryptError::NotAuthentic { .. })
            ));
        }
        assert_eq!(
            encrypt_for_recipient(
                alice.ed25519_secret(),
                &X25519PublicKey([0; 32]),
                b"x",
                &mut sotto_crypto::OsRng
            ),
            Err(EncryptError::InvalidRecipientKey)
        );
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(32))]
        #[test]
        fn encrypt_then_decrypt_round_trips(
            sender in proptest::array::uniform32(any::<u8>()),
            recipient in proptest::array::uniform32(any::<u8>()),
            message in proptest::collection::vec(any::<u8>(), 0..600),
        ) {
            let (alice, bob) = (Account::from_ed25519_seed(&sender), Account::from_ed25519_seed(&recipient));
            let ct = encrypt_for_recipient_deterministic(alice.ed25519_secret(), &bob.x25519_public(), &message).unwrap();
            prop_assert_eq!(ct.len(), message.len() + SESSION_PROTOCOL_OVERHEAD);
            let got = decrypt_incoming(&bob, &ct).unwrap();
            prop_assert_eq!(got.plaintext, message);
            prop_assert_eq!(got.sender, alice.session_id());
        }
    }
}
