//! Subaccount tokens and their verification: the text forms parse without panicking and print
//! back to the same token; arbitrary tokens, signatures and keys give an error, never a panic.
//! Layout of the input: 33 account bytes, 36 token bytes, 64 token-signature bytes, 64
//! request-signature bytes, 1 flag byte, then the rest as token text and signed message.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sotto_crypto::{Ed25519PublicKey, Signature};
use sotto_rpc::{AccountId, Auth, Permission, SignedSubaccount, SubaccountFlags, SubaccountToken};

fn take<'a, const N: usize>(rest: &mut &'a [u8]) -> Option<[u8; N]> {
    let (head, tail) = rest.split_at_checked(N)?;
    *rest = tail;
    head.try_into().ok()
}

fuzz_target!(|data: &[u8]| {
    if let Some(token) = SubaccountToken::parse_text(data) {
        assert_eq!(
            SubaccountToken::parse_text(token.to_base64().as_bytes()),
            Some(token)
        );
        let hex: String = token
            .as_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(SubaccountToken::parse_text(hex.as_bytes()), Some(token));
    }
    let mut rest = data;
    let (Some(account), Some(token), Some(token_sig), Some(sig), Some([flags])) = (
        take::<33>(&mut rest),
        take::<36>(&mut rest),
        take::<64>(&mut rest),
        take::<64>(&mut rest),
        take::<1>(&mut rest),
    ) else {
        return;
    };
    let account = AccountId::from_bytes(&account);
    let token = SubaccountToken::from_bytes(token);
    let _ = token.pubkey().to_x25519();
    let auth = Auth {
        signature: Signature(sig),
        pubkey_ed25519: (flags & 0x80 != 0).then(|| Ed25519PublicKey(*account.key())),
        subaccount: (flags & 0x40 != 0).then_some(SignedSubaccount {
            token,
            signature: Signature(token_sig),
        }),
    };
    let revoked = [token];
    let permission = Permission {
        required: SubaccountFlags::from_bits(flags & 0x0f),
        subaccount_allowed: flags & 0x10 != 0,
        revoked: if flags & 0x20 != 0 { &revoked } else { &[] },
        ignore_revocation: flags & 0x01 != 0,
    };
    let _ = auth.verify(&account, rest, &permission);
});
