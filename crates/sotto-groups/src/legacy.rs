//! Legacy closed groups (`05…` group IDs, §1): read-only. Messages are session-protocol
//! encrypted to the group's X25519 encryption key pair; a group keeps every key pair it has
//! had. Nothing here creates a legacy group or sends to one: Session made them read-only.

use core::fmt;

use sotto_crypto::{X25519PublicKey, X25519SecretKey};
use sotto_envelope::{Content, Decrypted, decrypt_incoming_x25519};

use crate::LegacyError;

/// One of a legacy group's encryption key pairs.
#[derive(Clone)]
pub struct LegacyKeyPair {
    secret: X25519SecretKey,
    public: X25519PublicKey,
}

impl LegacyKeyPair {
    /// A key pair from its secret key (the public key is derived, so it cannot mismatch).
    #[must_use]
    pub fn from_secret(secret: X25519SecretKey) -> Self {
        let public = secret.public_key();
        Self { secret, public }
    }

    /// The public key (carried without `05`).
    #[must_use]
    pub fn public_key(&self) -> &X25519PublicKey {
        &self.public
    }
}

impl fmt::Debug for LegacyKeyPair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LegacyKeyPair")
            .field("public", &self.public)
            .finish_non_exhaustive()
    }
}

/// Decrypts a legacy group message (the Envelope's `content`) with the first of `key_pairs`
/// (newest first) that opens it and whose sender signature verifies. The plaintext is
/// returned as sent (padded Content in real messages).
pub fn decrypt_legacy_group_message(
    key_pairs: &[LegacyKeyPair],
    ciphertext: &[u8],
) -> Result<Decrypted, LegacyError> {
    key_pairs
        .iter()
        .find_map(|kp| decrypt_incoming_x25519(&kp.secret, &kp.public, ciphertext).ok())
        .ok_or(LegacyError::NoKey {
            tried: key_pairs.len(),
        })
}

/// Like [`decrypt_legacy_group_message`], then strips the padding and decodes the Content.
pub fn open_legacy_group_content(
    key_pairs: &[LegacyKeyPair],
    ciphertext: &[u8],
) -> Result<(Decrypted, Content), LegacyError> {
    let decrypted = decrypt_legacy_group_message(key_pairs, ciphertext)?;
    let content = Content::from_padded(&decrypted.plaintext).map_err(LegacyError::Content)?;
    Ok((decrypted, content))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_chacha::ChaCha20Rng;
    use rand_chacha::rand_core::SeedableRng;
    use sotto_envelope::{Message, VisibleMessage, encrypt_for_recipient};
    use sotto_identity::Account;

    #[test]
    fn tries_every_key_pair_and_reads_the_content() {
        let mut rng = ChaCha20Rng::seed_from_u64(1);
        let sender = Account::from_ed25519_seed(&[4; 32]);
        let old = LegacyKeyPair::from_secret(X25519SecretKey::from_bytes(&[1; 32]));
        let new = LegacyKeyPair::from_secret(X25519SecretKey::from_bytes(&[2; 32]));
        let content = Content::new(Message::Visible(VisibleMessage::text("old times")));
        let ct = encrypt_for_recipient(
            sender.ed25519_secret(),
            old.public_key(),
            &content.to_padded_bytes(),
            &mut rng,
        )
        .unwrap();
        let (d, c) = open_legacy_group_content(&[new.clone(), old], &ct).unwrap();
        assert_eq!(d.sender, sender.session_id());
        assert_eq!(c, content);
        assert_eq!(
            decrypt_legacy_group_message(&[new], &ct),
            Err(LegacyError::NoKey { tried: 1 })
        );
    }
}
