//! Subaccount auth data (100 bytes, from an invite or a config) checked, turned into a token
//! and used to sign, on arbitrary bytes. Errors only, never a panic; data that passes the
//! check signs requests the storage server accepts.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sotto_crypto::Ed25519SecretKey;
use sotto_groups::auth::verify_subaccount_request;
use sotto_groups::{GroupAdmin, SubaccountAuth};

fuzz_target!(|data: &[u8]| {
    let admin = GroupAdmin::from_seed(&[7; 32]).expect("fixed seed");
    let group = admin.group_id();
    let user = Ed25519SecretKey::from_seed(&[8; 32]);
    let Ok(auth) = SubaccountAuth::try_from(data) else {
        return;
    };
    let checked = auth.check(&group, &user.public_key(), false, false);
    let _ = auth.token_for(&user.public_key());
    if let Ok(signed) = auth.sign(&user, b"retrieve111700000000000") {
        let verified = verify_subaccount_request(&group, &signed, b"retrieve111700000000000");
        if checked.is_ok() {
            assert!(verified.is_ok(), "checked auth data signed an unverifiable request");
        }
    }
});
