//! Member swarm authentication with subaccounts (§2.8): the admin mints 100 bytes of auth
//! data per member; the member signs storage requests with a key derived from it; anyone
//! holding the group ID checks it; the admin revokes it by its 36-byte token.

use core::fmt;

use sotto_crypto::{Ed25519PublicKey, Ed25519SecretKey, SecretScalar, Signature};
use sotto_identity::SessionId;
use sotto_rpc::{Auth, SignedSubaccount, SubaccountFlags, SubaccountToken};
use zeroize::Zeroize;

use crate::identity::keyed_hash;
use crate::{AuthError, GroupAdmin, GroupId};

/// Length of subaccount auth data.
pub const AUTH_DATA_LEN: usize = 100;
/// The network prefix of group accounts.
const GROUP_PREFIX: u8 = 0x03;

/// The permissions a member's subaccount gets: read (always), and optionally write and delete.
#[must_use]
pub fn member_flags(write: bool, delete: bool) -> SubaccountFlags {
    let mut flags = SubaccountFlags::READ;
    if write {
        flags = flags | SubaccountFlags::WRITE;
    }
    if delete {
        flags = flags | SubaccountFlags::DELETE;
    }
    flags
}

/// A member's 100-byte subaccount auth data: `03 ‖ flags ‖ 00 00 ‖ k ‖ group signature of
/// (03 ‖ flags ‖ 00 00 ‖ kT)`. It is a credential: zeroized on drop, never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct SubaccountAuth([u8; AUTH_DATA_LEN]);

impl Drop for SubaccountAuth {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl fmt::Debug for SubaccountAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "SubaccountAuth(flags {:#04x}, redacted)",
            self.flags().bits()
        )
    }
}

impl TryFrom<&[u8]> for SubaccountAuth {
    type Error = AuthError;

    fn try_from(bytes: &[u8]) -> Result<Self, AuthError> {
        bytes
            .try_into()
            .map(Self)
            .map_err(|_| AuthError::Length(bytes.len()))
    }
}

/// What a member sends with a storage request to its group's swarm.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SubaccountSignature {
    /// `subaccount`: prefix, flags, reserved bytes and `kT`.
    pub token: SubaccountToken,
    /// `subaccount_sig`: the group's signature of the token.
    pub token_signature: Signature,
    /// `signature`: the request signature, verifiable with `kT`.
    pub signature: Signature,
}

impl SubaccountSignature {
    /// The storage RPC authentication parameters to send: `signature`, `subaccount` and
    /// `subaccount_sig` (no `pubkey_ed25519`: a group account's key is its Ed25519 key).
    #[must_use]
    pub fn to_auth(&self) -> Auth {
        Auth {
            signature: self.signature,
            pubkey_ed25519: None,
            subaccount: Some(SignedSubaccount {
                token: self.token,
                signature: self.token_signature,
            }),
        }
    }
}

/// `k`, the member's blinding factor: `reduce512(B2b(64, key=mask)(05 ‖ X ‖ 03 ‖ group_pk))`.
fn blind_factor(admin: &GroupAdmin, member: &SessionId) -> SecretScalar {
    let wide = keyed_hash::<64>(
        admin.subaccount_mask().expose(),
        &[&member.to_bytes(), &admin.group_id().to_bytes()],
    );
    SecretScalar::from_bytes_mod_order_wide(&wide)
}

/// `k·|X|` for a Session ID: the member's subaccount public key.
fn member_subaccount_key(
    k: &SecretScalar,
    member: &SessionId,
) -> Result<Ed25519PublicKey, AuthError> {
    let t = member
        .x25519()
        .to_ed25519_positive()
        .map_err(|_| AuthError::InvalidKey)?;
    k.mul_point(&t).map_err(|_| AuthError::InvalidKey)
}

fn token_bytes(flags: SubaccountFlags, kt: &Ed25519PublicKey) -> SubaccountToken {
    SubaccountToken::new(GROUP_PREFIX, flags, kt)
}

impl GroupAdmin {
    /// Mints auth data for `member` with `flags` (read is always added).
    pub fn make_subaccount(
        &self,
        member: &SessionId,
        flags: SubaccountFlags,
    ) -> Result<SubaccountAuth, AuthError> {
        let flags = flags | SubaccountFlags::READ;
        let k = blind_factor(self, member);
        let kt = member_subaccount_key(&k, member)?;
        let token = token_bytes(flags, &kt);
        let sig = self.signing_key().sign(token.as_bytes());
        let mut out = [0u8; AUTH_DATA_LEN];
        let (head, rest) = out.split_at_mut(4);
        let (k_part, sig_part) = rest.split_at_mut(32);
        head.copy_from_slice(&[GROUP_PREFIX, flags.bits(), 0, 0]);
        k_part.copy_from_slice(k.to_bytes().expose());
        sig_part.copy_from_slice(&sig.to_bytes());
        Ok(SubaccountAuth(out))
    }

    /// The 36-byte token the swarm knows `member`'s subaccount by (for `revoke_subaccount`).
    pub fn subaccount_token(
        &self,
        member: &SessionId,
        flags: SubaccountFlags,
    ) -> Result<SubaccountToken, AuthError> {
        let k = blind_factor(self, member);
        Ok(token_bytes(
            flags | SubaccountFlags::READ,
            &member_subaccount_key(&k, member)?,
        ))
    }
}

/// `|P|`: the Ed25519 key with its sign bit cleared, and whether it was set.
fn positive(pk: &Ed25519PublicKey) -> (Ed25519PublicKey, bool) {
    let mut t = pk.0;
    let neg = t[31] & 0x80 != 0;
    t[31] &= 0x7f;
    (Ed25519PublicKey(t), neg)
}

impl SubaccountAuth {
    /// The 100 bytes.
    #[must_use]
    pub fn as_bytes(&self) -> &[u8; AUTH_DATA_LEN] {
        &self.0
    }

    /// The permission flags.
    #[must_use]
    pub fn flags(&self) -> SubaccountFlags {
        SubaccountFlags::from_bits(self.0[1])
    }

    fn head(&self) -> [u8; 4] {
        [self.0[0], self.0[1], self.0[2], self.0[3]]
    }

    /// `k` (libsodium's non-clamping multiplication ignores the scalar's top bit; so do we).
    fn factor(&self) -> SecretScalar {
        let mut k = [0u8; 32];
        if let Some(bytes) = self.0.get(4..36) {
            k.copy_from_slice(bytes);
        }
        k[31] &= 0x7f;
        let s = SecretScalar::from_bytes_mod_order(&k);
        k.zeroize();
        s
    }

    fn group_signature(&self) -> Signature {
        let mut sig = [0u8; 64];
        if let Some(bytes) = self.0.get(36..) {
            sig.copy_from_slice(bytes);
        }
        Signature(sig)
    }

    /// The token of the member whose Ed25519 key is `user`.
    pub fn token_for(&self, user: &Ed25519PublicKey) -> Result<SubaccountToken, AuthError> {
        let (t, _) = positive(user);
        let kt = self
            .factor()
            .mul_point(&t)
            .map_err(|_| AuthError::InvalidKey)?;
        let head = self.head();
        let mut bytes = [0u8; 36];
        let (h, key) = bytes.split_at_mut(4);
        h.copy_from_slice(&head);
        key.copy_from_slice(kt.as_bytes());
        Ok(SubaccountToken::from_bytes(bytes))
    }

    /// Checks received auth data as its member (Ed25519 key `user`) would: group prefix (or
    /// the any-prefix flag), the read flag, `write`/`delete` when required, and the group's
    /// signature over `prefix ‖ k·|user|`.
    pub fn check(
        &self,
        group: &GroupId,
        user: &Ed25519PublicKey,
        write: bool,
        delete: bool,
    ) -> Result<(), AuthError> {
        let flags = self.flags();
        if self.head()[0] != GROUP_PREFIX && !flags.contains(SubaccountFlags::ANY_PREFIX) {
            return Err(AuthError::Prefix);
        }
        let required = member_flags(write, delete);
        if !flags.contains(required) {
            return Err(AuthError::Permission);
        }
        let token = self.token_for(user)?;
        group
            .public_key()
            .verify(token.as_bytes(), &self.group_signature())
            .map_err(|_| AuthError::BadSignature)
    }

    /// Signs the storage request string `msg` as the member `user`: the token, the group's
    /// signature of it, and a signature by `k·t` (deterministic nonce, libsession's).
    pub fn sign(
        &self,
        user: &Ed25519SecretKey,
        msg: &[u8],
    ) -> Result<SubaccountSignature, AuthError> {
        let (_, neg) = positive(&user.public_key());
        let token = self.token_for(&user.public_key())?;
        let kt_pub = token.pubkey();
        let s = SecretScalar::from_bytes_mod_order(user.clamped_scalar_bytes().expose());
        let t = if neg { s.negate() } else { s };
        let kt = self.factor().mul(&t);
        let hseed = keyed_hash::<32>(b"SubaccountSeed", &[user.seed().expose()]);
        let wide = keyed_hash::<64>(b"SubaccountSig", &[&hseed, kt_pub.as_bytes(), msg]);
        let r = SecretScalar::from_bytes_mod_order_wide(&wide);
        let signature = kt.sign_with_nonce(&kt_pub, &r, msg);
        Ok(SubaccountSignature {
            token,
            token_signature: self.group_signature(),
            signature,
        })
    }
}

/// The storage server's view: the token is signed by the group and the request by `kT`.
pub fn verify_subaccount_request(
    group: &GroupId,
    auth: &SubaccountSignature,
    msg: &[u8],
) -> Result<(), AuthError> {
    group
        .public_key()
        .verify(auth.token.as_bytes(), &auth.token_signature)
        .map_err(|_| AuthError::BadSignature)?;
    auth.token
        .pubkey()
        .verify(msg, &auth.signature)
        .map_err(|_| AuthError::BadSignature)
}

#[cfg(test)]
mod tests {
    use super::*;
    use sotto_identity::Account;
    use sotto_rpc::{AccountId, Permission};

    const READ_WRITE: Permission<'static> = Permission {
        required: SubaccountFlags::WRITE,
        subaccount_allowed: true,
        revoked: &[],
        ignore_revocation: false,
    };

    #[test]
    fn a_member_signature_is_what_the_swarm_checks() {
        let admin = GroupAdmin::from_seed(&[4; 32]).unwrap();
        let member = Account::from_ed25519_seed(&[5; 32]);
        let auth = admin
            .make_subaccount(&member.session_id(), member_flags(true, false))
            .unwrap();
        let sig = auth
            .sign(member.ed25519_secret(), b"store111700000000000")
            .unwrap();
        let account = AccountId::from_bytes(&admin.group_id().to_bytes());
        let rpc = sig.to_auth();
        assert_eq!(
            rpc.verify(&account, b"store111700000000000", &READ_WRITE),
            Ok(())
        );
        // Another request string, another group, or a revoked token: refused.
        assert!(
            rpc.verify(&account, b"store121700000000000", &READ_WRITE)
                .is_err()
        );
        let other = GroupAdmin::from_seed(&[6; 32]).unwrap();
        let elsewhere = AccountId::from_bytes(&other.group_id().to_bytes());
        assert!(
            rpc.verify(&elsewhere, b"store111700000000000", &READ_WRITE)
                .is_err()
        );
        let revoked = [admin
            .subaccount_token(&member.session_id(), member_flags(true, false))
            .unwrap()];
        let perm = Permission {
            revoked: &revoked,
            ..READ_WRITE
        };
        assert!(
            rpc.verify(&account, b"store111700000000000", &perm)
                .is_err()
        );
    }
}
