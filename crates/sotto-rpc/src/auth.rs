//! Request authentication (spec §2.3): what a client sends, how it signs, how a node checks.

use sotto_crypto::{Ed25519PublicKey, Ed25519SecretKey, Signature};

use crate::AccountId;
use crate::error::AuthError;
use crate::subaccount::{SignedSubaccount, SubaccountFlags, SubaccountToken};

/// The authentication parameters of a signed request: `signature`, and optionally
/// `pubkey_ed25519` (Session-ID accounts) and `subaccount` / `subaccount_sig`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Auth {
    /// The request signature.
    pub signature: Signature,
    /// For a `05` account: the Ed25519 key whose X25519 form is the account key.
    pub pubkey_ed25519: Option<Ed25519PublicKey>,
    /// A subaccount token and the owner's signature of it; the request signature is then the
    /// subaccount's.
    pub subaccount: Option<SignedSubaccount>,
}

/// What a node needs besides the request to check a subaccount: the account's revocation list
/// and whether revoked tokens are still accepted (retrieval from unrevocable namespaces).
#[derive(Debug, Clone, Copy)]
pub struct Permission<'a> {
    /// The flags the method needs of a subaccount.
    pub required: SubaccountFlags,
    /// Whether a subaccount may sign at all.
    pub subaccount_allowed: bool,
    /// The account's revoked tokens.
    pub revoked: &'a [SubaccountToken],
    /// Whether to accept revoked tokens anyway.
    pub ignore_revocation: bool,
}

impl Auth {
    /// Checks the signature of `message` for `account`, in the storage server's order: the
    /// verification key (the account key, or `pubkey_ed25519` after checking that it converts
    /// to a `05` account's X25519 key); then, for a subaccount, revocation, network prefix,
    /// flags and the owner's signature of the token, after which the token's key verifies the
    /// request signature.
    pub fn verify(
        &self,
        account: &AccountId,
        message: &[u8],
        permission: &Permission<'_>,
    ) -> Result<(), AuthError> {
        let mut key = match self.pubkey_ed25519 {
            Some(ed) if account.is_session_id() => {
                let x = ed.to_x25519().map_err(|_| AuthError::KeyMismatch)?;
                if x.0 != *account.key() {
                    return Err(AuthError::KeyMismatch);
                }
                ed
            }
            _ => account.ed25519_key(),
        };
        if let Some(sub) = &self.subaccount {
            if !permission.subaccount_allowed {
                return Err(AuthError::SubaccountNotAllowed);
            }
            if !permission.ignore_revocation && permission.revoked.contains(&sub.token) {
                return Err(AuthError::Revoked);
            }
            if !sub.token.prefix_allowed(account.prefix()) {
                return Err(AuthError::WrongPrefix);
            }
            if !sub.token.flags().contains(permission.required) {
                return Err(AuthError::MissingPermissions);
            }
            key.verify(sub.token.as_bytes(), &sub.signature)
                .map_err(|_| AuthError::BadTokenSignature)?;
            key = sub.token.pubkey();
        }
        key.verify(message, &self.signature)
            .map_err(|_| AuthError::BadSignature)
    }
}

/// How a client signs: with an account's own Ed25519 key (a Session ID account, which also
/// sends `pubkey_ed25519`, or an Ed25519 account such as a group), or as a subaccount.
#[derive(Debug, Clone)]
pub struct Signer<'a> {
    key: &'a Ed25519SecretKey,
    pubkey_ed25519: Option<Ed25519PublicKey>,
    subaccount: Option<SignedSubaccount>,
}

impl<'a> Signer<'a> {
    /// The owner of a Session ID (`05`) account: signs with its Ed25519 key and sends that key
    /// as `pubkey_ed25519` (without it the node cannot verify).
    #[must_use]
    pub fn session(key: &'a Ed25519SecretKey) -> Self {
        Self {
            key,
            pubkey_ed25519: Some(key.public_key()),
            subaccount: None,
        }
    }

    /// The owner of an account whose key bytes are its Ed25519 key (`03` groups and others).
    #[must_use]
    pub fn ed25519(key: &'a Ed25519SecretKey) -> Self {
        Self {
            key,
            pubkey_ed25519: None,
            subaccount: None,
        }
    }

    /// A subaccount: `key` is the subaccount's key (the one in the token).
    #[must_use]
    pub fn subaccount(key: &'a Ed25519SecretKey, grant: SignedSubaccount) -> Self {
        Self {
            key,
            pubkey_ed25519: None,
            subaccount: Some(grant),
        }
    }

    /// Signs `message` and returns the parameters to send.
    #[must_use]
    pub fn authorize(&self, message: &[u8]) -> Auth {
        Auth {
            signature: self.key.sign(message),
            pubkey_ed25519: self.pubkey_ed25519,
            subaccount: self.subaccount,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::subaccount::SubaccountToken;
    use sotto_identity::Account;

    const OWNER_ONLY: Permission<'static> = Permission {
        required: SubaccountFlags::NONE,
        subaccount_allowed: false,
        revoked: &[],
        ignore_revocation: false,
    };

    fn perm(required: SubaccountFlags, revoked: &[SubaccountToken]) -> Permission<'_> {
        Permission {
            required,
            subaccount_allowed: true,
            revoked,
            ignore_revocation: false,
        }
    }

    #[test]
    fn session_id_accounts_need_pubkey_ed25519() {
        let account = Account::from_ed25519_seed(&[1; 32]);
        let id = AccountId::from(account.session_id());
        let auth = Signer::session(account.ed25519_secret()).authorize(b"msg");
        assert_eq!(auth.verify(&id, b"msg", &OWNER_ONLY), Ok(()));
        assert_eq!(
            auth.verify(&id, b"other", &OWNER_ONLY),
            Err(AuthError::BadSignature)
        );
        // Without pubkey_ed25519 the X25519 bytes are used as an Ed25519 key: fails.
        let bare = Signer::ed25519(account.ed25519_secret()).authorize(b"msg");
        assert_eq!(
            bare.verify(&id, b"msg", &OWNER_ONLY),
            Err(AuthError::BadSignature)
        );
        // Someone else's Ed25519 key does not convert to this Session ID.
        let mallory = Account::from_ed25519_seed(&[2; 32]);
        let forged = Signer::session(mallory.ed25519_secret()).authorize(b"msg");
        assert_eq!(
            forged.verify(&id, b"msg", &OWNER_ONLY),
            Err(AuthError::KeyMismatch)
        );
        // An invalid point as pubkey_ed25519.
        let mut bad = auth;
        bad.pubkey_ed25519 = Some(Ed25519PublicKey([0; 32]));
        assert_eq!(
            bad.verify(&id, b"msg", &OWNER_ONLY),
            Err(AuthError::KeyMismatch)
        );
    }

    #[test]
    fn ed25519_accounts() {
        let group = Ed25519SecretKey::from_seed(&[3; 32]);
        let id = AccountId::new(3, group.public_key().0);
        let auth = Signer::ed25519(&group).authorize(b"msg");
        assert_eq!(auth.verify(&id, b"msg", &OWNER_ONLY), Ok(()));
        // pubkey_ed25519 is ignored for non-05 accounts at this stage (parsing rejects it).
        let with = Signer::session(&group).authorize(b"msg");
        assert_eq!(with.verify(&id, b"msg", &OWNER_ONLY), Ok(()));
    }

    #[test]
    fn subaccount_checks_in_order() {
        let group = Ed25519SecretKey::from_seed(&[3; 32]);
        let id = AccountId::new(3, group.public_key().0);
        let member = Ed25519SecretKey::from_seed(&[4; 32]);
        let rw = SubaccountFlags::READ | SubaccountFlags::WRITE;
        let token = SubaccountToken::new(3, rw, &member.public_key());
        let grant = SignedSubaccount::grant(&group, token);
        let auth = Signer::subaccount(&member, grant).authorize(b"msg");
        assert_eq!(
            auth.verify(&id, b"msg", &perm(SubaccountFlags::WRITE, &[])),
            Ok(())
        );
        assert_eq!(
            auth.verify(&id, b"msg", &perm(SubaccountFlags::DELETE, &[])),
            Err(AuthError::MissingPermissions)
        );
        assert_eq!(
            auth.verify(&id, b"msg", &perm(SubaccountFlags::READ, &[token])),
            Err(AuthError::Revoked)
        );
        let revoked = [token];
        let mut unrevocable = perm(SubaccountFlags::READ, &revoked);
        unrevocable.ignore_revocation = true;
        assert_eq!(auth.verify(&id, b"msg", &unrevocable), Ok(()));
        assert_eq!(
            auth.verify(&id, b"msg", &OWNER_ONLY),
            Err(AuthError::SubaccountNotAllowed)
        );
        // The same key under another prefix.
        let other = AccountId::new(0x13, *id.key());
        assert_eq!(
            auth.verify(&other, b"msg", &perm(SubaccountFlags::READ, &[])),
            Err(AuthError::WrongPrefix)
        );
        let any = SubaccountToken::new(3, rw | SubaccountFlags::ANY_PREFIX, &member.public_key());
        let any_auth =
            Signer::subaccount(&member, SignedSubaccount::grant(&group, any)).authorize(b"msg");
        assert_eq!(
            any_auth.verify(&other, b"msg", &perm(SubaccountFlags::READ, &[])),
            Ok(())
        );
        // A token not signed by the owner.
        let forged = SignedSubaccount::grant(&member, token);
        let forged_auth = Signer::subaccount(&member, forged).authorize(b"msg");
        assert_eq!(
            forged_auth.verify(&id, b"msg", &perm(SubaccountFlags::READ, &[])),
            Err(AuthError::BadTokenSignature)
        );
        // The request signed by the owner instead of the subaccount.
        let mut owner_signed = auth;
        owner_signed.signature = group.sign(b"msg");
        assert_eq!(
            owner_signed.verify(&id, b"msg", &perm(SubaccountFlags::READ, &[])),
            Err(AuthError::BadSignature)
        );
    }

    /// groups_v2/subaccount_auth/01: a libsession-made token, its signature by the group key
    /// and a member's request signature verify as the storage server checks them.
    #[test]
    fn libsession_subaccount_example() {
        use crate::encoding::decode_base64;
        let group = Ed25519SecretKey::from_seed(
            &hex::decode("0123456789abcdeffedcba98765432100123456789abcdeffedcba9876543210")
                .unwrap()
                .try_into()
                .unwrap(),
        );
        let id = AccountId::new(3, group.public_key().0);
        let token =
            SubaccountToken::parse_text(b"AwMAAIWvMR2nJXCFnK5+hNahNecWqMC39/TVVLjaR3imNug5")
                .unwrap();
        let sig =
            |b64: &str| Signature::from_slice(&decode_base64(b64.as_bytes()).unwrap()).unwrap();
        let auth = Auth {
            signature: sig(
                "c3PJ4g29v5RivKm8Tdg49vGU2/6kVd0yONnpz5U5zePMYptqW3iYQ0TYf2rEzv3qqkPhS5p67M5GAccHoBHGDQ==",
            ),
            pubkey_ed25519: None,
            subaccount: Some(SignedSubaccount {
                token,
                signature: sig(
                    "6brvv/2jfciBAJeRKMGSepNJLullyrVVHijyVDE+8GC5Oc89UNxjNrq1kVV1P+pkUIRDOew24gSLFgLZfdl+BQ==",
                ),
            }),
        };
        let msg = b"retrieve9991693340111000";
        assert_eq!(
            auth.verify(&id, msg, &perm(SubaccountFlags::READ, &[])),
            Ok(())
        );
        assert_eq!(
            auth.verify(&id, msg, &perm(SubaccountFlags::DELETE, &[])),
            Err(AuthError::MissingPermissions)
        );
    }
}
