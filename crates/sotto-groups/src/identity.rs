//! The group identity (§2.1) and the secrets an admin derives from the group seed (§2.2).

use core::fmt;

use sotto_crypto::{
    Blake2b, CryptoRngCore, Ed25519PublicKey, Ed25519SecretKey, SecretBytes, SymmetricKey,
    X25519PublicKey, X25519SecretKey,
};
use sotto_identity::{IdError, IdPrefix, PrefixedId};

use crate::KeysError;

/// BLAKE2b key of `H2`, the seed hash mixed into every new key.
pub(crate) const SEED_HASH_KEY: &[u8] = b"SessionGroupKeySeed";
/// BLAKE2b key of the admin key that opens `K` in keys messages.
pub(crate) const ADMIN_KEY_HASH_KEY: &[u8] = b"SessionGroupKeyAdminKey";
/// BLAKE2b key of the subaccount mask.
pub(crate) const SUBACCOUNT_MASK_KEY: &[u8] = b"SessionGroupSubaccountMask";
/// Multi-encryption domain of member key copies.
pub const MEMBER_KEY_DOMAIN: &[u8] = b"SessionGroupKeyMemberKey";

/// A groups v2 group ID: `03` followed by the group's Ed25519 public key.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct GroupId(Ed25519PublicKey);

impl GroupId {
    /// The group with this Ed25519 public key.
    #[must_use]
    pub fn from_public_key(pk: Ed25519PublicKey) -> Self {
        Self(pk)
    }

    /// Parses `03…` (66 hex digits).
    pub fn parse(text: &str) -> Result<Self, IdError> {
        let id = PrefixedId::parse_with_prefix(text, IdPrefix::Group)?;
        Ok(Self(Ed25519PublicKey(*id.key())))
    }

    /// Reads the 33-byte binary form.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, IdError> {
        let id = PrefixedId::from_bytes(bytes)?;
        if id.prefix() != IdPrefix::Group {
            return Err(IdError::WrongPrefix {
                expected: IdPrefix::Group,
                found: id.prefix(),
            });
        }
        Ok(Self(Ed25519PublicKey(*id.key())))
    }

    /// The group's Ed25519 public key (it verifies admin signatures).
    #[must_use]
    pub fn public_key(&self) -> &Ed25519PublicKey {
        &self.0
    }

    /// The 33-byte binary form.
    #[must_use]
    pub fn to_bytes(&self) -> [u8; 33] {
        PrefixedId::new(IdPrefix::Group, self.0.0).to_bytes()
    }

    /// The group's X25519 public key, the sender key of its multi-encrypted messages.
    pub fn x25519(&self) -> Result<X25519PublicKey, KeysError> {
        self.0
            .to_x25519()
            .map_err(|_| KeysError::Malformed("group public key has no X25519 form"))
    }
}

impl fmt::Display for GroupId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "03{}", hex::encode(self.0.0))
    }
}

impl fmt::Debug for GroupId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "GroupId({self})")
    }
}

/// A 32-byte keyed BLAKE2b hash of `parts`.
pub(crate) fn keyed_hash<const N: usize>(key: &[u8], parts: &[&[u8]]) -> [u8; N] {
    let mut out = [0u8; N];
    // Keys here are constants or 32-byte values (≤ 64), and N is 24, 32, 56 or 64: never fails.
    if let Ok(mut h) = Blake2b::keyed(N, key) {
        for part in parts {
            h.update(part);
        }
        let _ = h.finalize_into(&mut out);
    }
    out
}

/// Everything an admin (a holder of the group seed) derives from it.
#[derive(Clone)]
pub struct GroupAdmin {
    signing: Ed25519SecretKey,
    id: GroupId,
    seed_hash: SymmetricKey,
    admin_key: SymmetricKey,
    subaccount_mask: SymmetricKey,
    x_secret: X25519SecretKey,
    x_public: X25519PublicKey,
}

impl GroupAdmin {
    /// The admin keys of the group made from `seed` (32 bytes; the first half of a libsodium
    /// 64-byte secret key).
    pub fn from_seed(seed: &[u8; 32]) -> Result<Self, KeysError> {
        let signing = Ed25519SecretKey::from_seed(seed);
        let id = GroupId(signing.public_key());
        let x_public = id.x25519()?;
        let hash = |key: &[u8]| SecretBytes::new(keyed_hash::<32>(key, &[seed]));
        Ok(Self {
            seed_hash: hash(SEED_HASH_KEY),
            admin_key: hash(ADMIN_KEY_HASH_KEY),
            subaccount_mask: hash(SUBACCOUNT_MASK_KEY),
            x_secret: signing.to_x25519(),
            x_public,
            signing,
            id,
        })
    }

    /// A new group: a fresh Ed25519 identity.
    pub fn generate(rng: &mut impl CryptoRngCore) -> Self {
        loop {
            let seed = SecretBytes::<32>::random(rng);
            // A fresh key whose public point has no X25519 form is astronomically unlikely;
            // draw again rather than fail.
            if let Ok(admin) = Self::from_seed(seed.expose()) {
                return admin;
            }
        }
    }

    /// The group ID.
    #[must_use]
    pub fn group_id(&self) -> GroupId {
        self.id
    }

    /// The group seed (what promotion hands to a new admin).
    #[must_use]
    pub fn seed(&self) -> SecretBytes<32> {
        self.signing.seed()
    }

    /// The group's signing key.
    #[must_use]
    pub fn signing_key(&self) -> &Ed25519SecretKey {
        &self.signing
    }

    /// `H2 = B2b(32, key="SessionGroupKeySeed")(seed)`.
    #[must_use]
    pub fn seed_hash(&self) -> &SymmetricKey {
        &self.seed_hash
    }

    /// `B2b(32, key="SessionGroupKeyAdminKey")(seed)`: encrypts `K` in keys messages.
    #[must_use]
    pub fn admin_key(&self) -> &SymmetricKey {
        &self.admin_key
    }

    /// `B2b(32, key="SessionGroupSubaccountMask")(seed)`: keys the subaccount factors.
    #[must_use]
    pub fn subaccount_mask(&self) -> &SymmetricKey {
        &self.subaccount_mask
    }

    /// The group's X25519 secret key (`sk→x` of the group key).
    #[must_use]
    pub fn x25519_secret(&self) -> &X25519SecretKey {
        &self.x_secret
    }

    /// The group's X25519 public key.
    #[must_use]
    pub fn x25519_public(&self) -> &X25519PublicKey {
        &self.x_public
    }
}

impl fmt::Debug for GroupAdmin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GroupAdmin")
            .field("group", &self.id)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn group_id_text_and_binary_forms() {
        let admin = GroupAdmin::from_seed(&[1; 32]).unwrap();
        let id = admin.group_id();
        let text = id.to_string();
        assert!(text.starts_with("03"));
        assert_eq!(GroupId::parse(&text).unwrap(), id);
        assert_eq!(GroupId::from_bytes(&id.to_bytes()).unwrap(), id);
        let mut user = id.to_bytes();
        user[0] = 5;
        assert!(GroupId::from_bytes(&user).is_err());
        assert!(GroupId::parse(&format!("05{}", &text[2..])).is_err());
    }
}
