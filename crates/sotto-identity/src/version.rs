//! The version-check key (`07…`): a key pair derived from the account seed that signs requests
//! to Session's network APIs (such as the file server's version check) without revealing the
//! Session ID.

use sotto_crypto::{Ed25519PublicKey, Ed25519SecretKey, Signature, blake2b_32};

use crate::{Account, IdPrefix, PrefixedId};

/// The version-check key pair of an account.
#[derive(Debug, Clone)]
pub struct VersionKey(Ed25519SecretKey);

impl VersionKey {
    /// Derives the key: Ed25519 key pair of `BLAKE2b-256(key = "VersionCheckKey_sig", seed)`.
    #[must_use]
    pub fn from_account(account: &Account) -> Self {
        let seed = blake2b_32(b"VersionCheckKey_sig", &[account.ed25519_seed().expose()]);
        Self(Ed25519SecretKey::from_seed(&seed))
    }

    /// The key pair (its libsodium 64-byte form is `seed' ‖ pk`).
    #[must_use]
    pub fn secret(&self) -> &Ed25519SecretKey {
        &self.0
    }

    /// The public key.
    #[must_use]
    pub fn public_key(&self) -> Ed25519PublicKey {
        self.0.public_key()
    }

    /// The ID `07 ‖ pk`.
    #[must_use]
    pub fn id(&self) -> PrefixedId {
        PrefixedId::new(IdPrefix::VersionBlinded, self.public_key().0)
    }

    /// Signs a request: plain Ed25519 over [`signed_message`].
    #[must_use]
    pub fn sign_request(
        &self,
        timestamp: u64,
        method: &str,
        path: &str,
        body: Option<&[u8]>,
    ) -> Signature {
        self.0.sign(&signed_message(timestamp, method, path, body))
    }
}

/// The bytes a version-check request signs: `decimal timestamp ‖ method ‖ path ‖ [body]`.
#[must_use]
pub fn signed_message(timestamp: u64, method: &str, path: &str, body: Option<&[u8]>) -> Vec<u8> {
    let mut msg = format!("{timestamp}{method}{path}").into_bytes();
    msg.extend_from_slice(body.unwrap_or_default());
    msg
}
