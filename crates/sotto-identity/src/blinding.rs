//! Community blinding: per-server IDs (`15…` and `25…`) that cannot be linked to a Session ID
//! without knowing it, and signatures that verify as plain Ed25519 under the blinded key.
//!
//! `server_pk` is always the 32 raw bytes of the community's public key as published in its join
//! link. It is only hashed, never decoded as a point.

use sotto_crypto::{Ed25519PublicKey, SecretScalar, Signature, blake2b_32, blake2b_64, sha512};
use thiserror::Error;

use crate::{Account, IdPrefix, PrefixedId, SessionId};

/// Why a blinded ID could not be computed or checked.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum BlindingError {
    /// The Session ID's key is not the X25519 form of any valid Ed25519 key.
    #[error("the Session ID's key is not a valid curve point, so it cannot be blinded")]
    InvalidSessionKey,
    /// The ID to check is not a 15- or 25-blinded ID.
    #[error("expected a 15- or 25-blinded ID, got a {}", .0.name())]
    NotBlinded(IdPrefix),
}

/// The two ways to derive the nonce of a 15-blinded signature. Both verify; they differ in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Blind15Nonce {
    /// The standard Ed25519 nonce prefix, SHA-512(seed)[32..64] (Session desktop and pysogs).
    #[default]
    Standard,
    /// libsession's `blind15_sign`: SHA-512(seed ‖ pubkey)[32..64].
    Libsession,
}

/// The 15-blinding factor `k = reduce(BLAKE2b-512(server_pk))`.
#[must_use]
pub fn blind15_factor(server_pk: &[u8; 32]) -> SecretScalar {
    SecretScalar::from_bytes_mod_order_wide(&blake2b_64(&[], &[server_pk]))
}

/// The 25-blinding factor `k = reduce(BLAKE2b-512(05 ‖ X ‖ server_pk))`.
#[must_use]
pub fn blind25_factor(session_id: &SessionId, server_pk: &[u8; 32]) -> SecretScalar {
    SecretScalar::from_bytes_mod_order_wide(&blake2b_64(&[], &[&session_id.to_bytes(), server_pk]))
}

fn positive_point(session_id: &SessionId) -> Result<Ed25519PublicKey, BlindingError> {
    session_id
        .x25519()
        .to_ed25519_positive()
        .map_err(|_| BlindingError::InvalidSessionKey)
}

/// The two 15-blinded IDs a Session ID may have on a server: `k·A⁺` and the same with its sign
/// bit flipped. The account's real blinded ID is one of them; which one depends on the sign of its
/// Ed25519 key, which a Session ID does not reveal.
pub fn blind15_ids(
    session_id: &SessionId,
    server_pk: &[u8; 32],
) -> Result<[PrefixedId; 2], BlindingError> {
    let point = blind15_factor(server_pk)
        .mul_point(&positive_point(session_id)?)
        .map_err(|_| BlindingError::InvalidSessionKey)?;
    let mut flipped = point.0;
    flipped[31] ^= 0x80;
    Ok([
        PrefixedId::new(IdPrefix::Blinded15, point.0),
        PrefixedId::new(IdPrefix::Blinded15, flipped),
    ])
}

/// The 25-blinded ID of a Session ID on a server (unambiguous).
pub fn blind25_id(
    session_id: &SessionId,
    server_pk: &[u8; 32],
) -> Result<PrefixedId, BlindingError> {
    let point = blind25_factor(session_id, server_pk)
        .mul_point(&positive_point(session_id)?)
        .map_err(|_| BlindingError::InvalidSessionKey)?;
    Ok(PrefixedId::new(IdPrefix::Blinded25, point.0))
}

/// Whether `blinded` (a `15…` or `25…` ID) belongs to `session_id` on this server.
pub fn matches_session_id(
    blinded: &PrefixedId,
    session_id: &SessionId,
    server_pk: &[u8; 32],
) -> Result<bool, BlindingError> {
    match blinded.prefix() {
        IdPrefix::Blinded15 => Ok(blind15_ids(session_id, server_pk)?.contains(blinded)),
        IdPrefix::Blinded25 => Ok(blind25_id(session_id, server_pk)? == *blinded),
        other => Err(BlindingError::NotBlinded(other)),
    }
}

/// Which blinding scheme a key pair uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Scheme {
    /// 15-blinding.
    Blind15,
    /// 25-blinding.
    Blind25,
}

/// An account's blinded key pair for one server: the private scalar `ka` and `kA = ka·G`.
#[derive(Clone)]
pub struct BlindedKeypair {
    scheme: Scheme,
    ka: SecretScalar,
    public: Ed25519PublicKey,
    account: Account,
}

impl core::fmt::Debug for BlindedKeypair {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "BlindedKeypair({})", self.id())
    }
}

impl BlindedKeypair {
    /// The owner's 15-blinded key pair: `ka = k·a`.
    #[must_use]
    pub fn blind15(account: &Account, server_pk: &[u8; 32]) -> Self {
        let ka = blind15_factor(server_pk).mul(&account.ed25519_secret().scalar());
        Self::new(Scheme::Blind15, ka, account)
    }

    /// The owner's 25-blinded key pair: `ka = k'·a`, with `k' = −k` when the account's Ed25519
    /// key is negative, so that `kA` equals the ID computed from the Session ID.
    #[must_use]
    pub fn blind25(account: &Account, server_pk: &[u8; 32]) -> Self {
        let k = blind25_factor(&account.session_id(), server_pk);
        let k = if account.ed25519_public().is_negative() {
            k.negate()
        } else {
            k
        };
        let ka = k.mul(&account.ed25519_secret().scalar());
        Self::new(Scheme::Blind25, ka, account)
    }

    fn new(scheme: Scheme, ka: SecretScalar, account: &Account) -> Self {
        let public = ka.public_point();
        Self {
            scheme,
            ka,
            public,
            account: account.clone(),
        }
    }

    /// The scheme.
    #[must_use]
    pub fn scheme(&self) -> Scheme {
        self.scheme
    }

    /// The blinded public key `kA`.
    #[must_use]
    pub fn public_key(&self) -> Ed25519PublicKey {
        self.public
    }

    /// The blinded private scalar `ka` (used for blinded DM key agreement).
    #[must_use]
    pub fn scalar(&self) -> &SecretScalar {
        &self.ka
    }

    /// The blinded ID: `15 ‖ kA` or `25 ‖ kA`.
    #[must_use]
    pub fn id(&self) -> PrefixedId {
        let prefix = match self.scheme {
            Scheme::Blind15 => IdPrefix::Blinded15,
            Scheme::Blind25 => IdPrefix::Blinded25,
        };
        PrefixedId::new(prefix, self.public.0)
    }

    /// Signs `msg` so that it verifies as plain Ed25519 under [`Self::public_key`]. For 25-blinded
    /// keys the nonce is libsession's; for 15-blinded keys it is [`Blind15Nonce::Standard`].
    #[must_use]
    pub fn sign(&self, msg: &[u8]) -> Signature {
        self.sign_with(msg, Blind15Nonce::default())
    }

    /// Signs with a chosen 15-blinding nonce variant (ignored for 25-blinded keys).
    #[must_use]
    pub fn sign_with(&self, msg: &[u8], nonce: Blind15Nonce) -> Signature {
        let secret = self.account.ed25519_secret();
        let kpub = self.public.as_bytes();
        let r_wide = match (self.scheme, nonce) {
            (Scheme::Blind15, Blind15Nonce::Standard) => {
                sha512(&[secret.nonce_prefix().expose(), kpub, msg])
            }
            (Scheme::Blind15, Blind15Nonce::Libsession) => {
                let digest = sha512(&[secret.to_libsodium_bytes().expose()]);
                let hrh = digest.split_at(32).1;
                sha512(&[hrh, kpub, msg])
            }
            (Scheme::Blind25, _) => {
                let seedhash = blake2b_32(b"SessCommBlind25_seed", &[secret.seed().expose()]);
                blake2b_64(b"SessCommBlind25_sig", &[&seedhash, kpub, msg])
            }
        };
        let r = SecretScalar::from_bytes_mod_order_wide(&r_wide);
        self.ka.sign_with_nonce(&self.public, &r, msg)
    }
}

impl Account {
    /// This account's 15-blinded key pair for a community server.
    #[must_use]
    pub fn blind15(&self, server_pk: &[u8; 32]) -> BlindedKeypair {
        BlindedKeypair::blind15(self, server_pk)
    }

    /// This account's 25-blinded key pair for a community server.
    #[must_use]
    pub fn blind25(&self, server_pk: &[u8; 32]) -> BlindedKeypair {
        BlindedKeypair::blind25(self, server_pk)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn blinded_id_from_seed_is_a_candidate_from_session_id(
            seed in proptest::array::uniform32(any::<u8>()),
            server_pk in proptest::array::uniform32(any::<u8>()),
        ) {
            let account = Account::from_ed25519_seed(&seed);
            let sid = account.session_id();
            let own15 = account.blind15(&server_pk);
            prop_assert!(blind15_ids(&sid, &server_pk).unwrap().contains(&own15.id()));
            prop_assert!(matches_session_id(&own15.id(), &sid, &server_pk).unwrap());
            let own25 = account.blind25(&server_pk);
            prop_assert_eq!(blind25_id(&sid, &server_pk).unwrap(), own25.id());
            // The signatures verify as plain Ed25519 under the blinded keys.
            for nonce in [Blind15Nonce::Standard, Blind15Nonce::Libsession] {
                let sig = own15.sign_with(b"msg", nonce);
                prop_assert!(own15.public_key().verify(b"msg", &sig).is_ok());
            }
            prop_assert!(own25.public_key().verify(b"msg", &own25.sign(b"msg")).is_ok());
        }
    }

    #[test]
    fn non_blinded_ids_are_rejected() {
        let account = Account::from_ed25519_seed(&[1; 32]);
        let sid = account.session_id();
        assert_eq!(
            matches_session_id(&sid.into(), &sid, &[0; 32]),
            Err(BlindingError::NotBlinded(IdPrefix::Standard))
        );
    }
}
