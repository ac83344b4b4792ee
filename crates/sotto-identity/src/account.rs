use core::fmt;

use sotto_crypto::{
    Ed25519PublicKey, Ed25519SecretKey, SecretBytes, X25519PublicKey, X25519SecretKey,
};
use zeroize::Zeroizing;

use crate::mnemonic::{self, MnemonicError};
use crate::{IdPrefix, PrefixedId, SessionId};

/// The 16 random bytes a new account is made from; the recovery phrase encodes them.
#[derive(Clone, PartialEq, Eq)]
pub struct RecoverySeed(SecretBytes<16>);

impl RecoverySeed {
    /// Wraps 16 seed bytes.
    #[must_use]
    pub fn from_bytes(bytes: &[u8; 16]) -> Self {
        Self(SecretBytes::new(*bytes))
    }

    /// Fresh random bytes.
    pub fn generate(rng: &mut impl rand_core::CryptoRngCore) -> Self {
        Self(SecretBytes::random(rng))
    }

    /// The seed bytes.
    #[must_use]
    pub fn expose(&self) -> &[u8; 16] {
        self.0.expose()
    }

    /// The Ed25519 seed: these 16 bytes followed by 16 zero bytes.
    #[must_use]
    pub fn ed25519_seed(&self) -> SecretBytes<32> {
        let mut seed = Zeroizing::new([0u8; 32]);
        seed.split_at_mut(16).0.copy_from_slice(self.expose());
        SecretBytes::new(*seed)
    }

    /// The 13-word recovery phrase.
    #[must_use]
    pub fn phrase(&self) -> Zeroizing<String> {
        // 16 bytes is a multiple of 4, so encoding cannot fail.
        mnemonic::encode(self.expose(), true).unwrap_or_default()
    }
}

impl fmt::Debug for RecoverySeed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RecoverySeed(redacted)")
    }
}

/// The keys of one account: its Ed25519 key pair (signing), the X25519 key pair derived from it
/// (encryption) and the Session ID `05 ‖ X25519 public key`.
#[derive(Clone)]
pub struct Account {
    ed25519: Ed25519SecretKey,
    x25519_public: X25519PublicKey,
    recovery: Option<RecoverySeed>,
}

impl Account {
    /// A new account with a random 16-byte recovery seed.
    pub fn generate(rng: &mut impl rand_core::CryptoRngCore) -> Self {
        Self::from_recovery_seed(&RecoverySeed::generate(rng))
    }

    /// The account of a 16-byte recovery seed (Ed25519 seed = seed ‖ 16 zero bytes).
    #[must_use]
    pub fn from_recovery_seed(seed: &RecoverySeed) -> Self {
        Self::from_ed25519_seed(seed.ed25519_seed().expose())
    }

    /// The account of a full 32-byte Ed25519 seed. If its last 16 bytes are zero it also has a
    /// 13-word recovery phrase.
    #[must_use]
    pub fn from_ed25519_seed(seed: &[u8; 32]) -> Self {
        let ed25519 = Ed25519SecretKey::from_seed(seed);
        let (head, tail) = seed.split_at(16);
        let recovery = (tail.iter().all(|&b| b == 0))
            .then(|| head.try_into().ok().map(RecoverySeed::from_bytes))
            .flatten();
        let x25519_public = ed25519.to_x25519().public_key();
        Self {
            ed25519,
            x25519_public,
            recovery,
        }
    }

    /// Restores an account from its recovery phrase: 13 words (or 12 without the checksum) give
    /// the 16-byte seed; 25 (or 24) words give a full 32-byte seed, used as is.
    pub fn from_phrase(phrase: &str) -> Result<Self, MnemonicError> {
        let bytes = mnemonic::decode(phrase)?;
        if let Ok(seed16) = <&[u8; 16]>::try_from(bytes.as_slice()) {
            Ok(Self::from_recovery_seed(&RecoverySeed::from_bytes(seed16)))
        } else if let Ok(seed32) = <&[u8; 32]>::try_from(bytes.as_slice()) {
            Ok(Self::from_ed25519_seed(seed32))
        } else {
            Err(MnemonicError::SeedLength { len: bytes.len() })
        }
    }

    /// The Session ID.
    #[must_use]
    pub fn session_id(&self) -> SessionId {
        SessionId::from_x25519(self.x25519_public)
    }

    /// The recovery phrase: 13 words for accounts made from a 16-byte seed, 25 words otherwise.
    #[must_use]
    pub fn recovery_phrase(&self) -> Zeroizing<String> {
        match &self.recovery {
            Some(seed) => seed.phrase(),
            None => mnemonic::encode(self.ed25519.seed().expose(), true).unwrap_or_default(),
        }
    }

    /// The 16-byte recovery seed, if the account has one.
    #[must_use]
    pub fn recovery_seed(&self) -> Option<&RecoverySeed> {
        self.recovery.as_ref()
    }

    /// The 32-byte Ed25519 seed.
    #[must_use]
    pub fn ed25519_seed(&self) -> SecretBytes<32> {
        self.ed25519.seed()
    }

    /// The Ed25519 signing key.
    #[must_use]
    pub fn ed25519_secret(&self) -> &Ed25519SecretKey {
        &self.ed25519
    }

    /// The Ed25519 public key.
    #[must_use]
    pub fn ed25519_public(&self) -> Ed25519PublicKey {
        self.ed25519.public_key()
    }

    /// The X25519 secret key (encryption).
    #[must_use]
    pub fn x25519_secret(&self) -> X25519SecretKey {
        self.ed25519.to_x25519()
    }

    /// The X25519 public key (the Session ID without its prefix).
    #[must_use]
    pub fn x25519_public(&self) -> X25519PublicKey {
        self.x25519_public
    }

    /// This key pair's ID in another role, e.g. `03 ‖ Ed25519 pk` when it is a group's key or
    /// `00 ‖ Ed25519 pk` for unblinded community auth.
    #[must_use]
    pub fn ed25519_id(&self, prefix: IdPrefix) -> PrefixedId {
        PrefixedId::new(prefix, self.ed25519_public().0)
    }
}

impl fmt::Debug for Account {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Account({:?})", self.session_id())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phrase_round_trip_and_seed_layout() {
        let account = Account::generate(&mut rand_core::OsRng);
        let restored = Account::from_phrase(&account.recovery_phrase()).unwrap();
        assert_eq!(restored.session_id(), account.session_id());
        assert_eq!(&restored.ed25519_seed().expose()[16..], &[0u8; 16]);
        assert_eq!(account.recovery_phrase().split(' ').count(), 13);
    }

    #[test]
    fn full_seed_accounts_use_25_words() {
        let account = Account::from_ed25519_seed(&[0x42; 32]);
        assert!(account.recovery_seed().is_none());
        let phrase = account.recovery_phrase();
        assert_eq!(phrase.split(' ').count(), 25);
        assert_eq!(
            Account::from_phrase(&phrase).unwrap().session_id(),
            account.session_id()
        );
    }

    #[test]
    fn debug_shows_no_secrets() {
        let account = Account::from_recovery_seed(&RecoverySeed::from_bytes(&[0x11; 16]));
        let shown = format!("{account:?} {:?}", account.recovery_seed());
        assert!(!shown.contains("1111"), "{shown}");
    }
}
