//! Unwrapping a protobuf-wrapped config push (WebSocketMessage → Envelope → session protocol →
//! Content.sharedConfigMessage) on arbitrary bytes: errors only, never a panic. With the first
//! byte odd, the rest is wrapped first and must unwrap to itself.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sotto_envelope::{SharedConfigKind, unwrap_shared_config, wrap_shared_config};
use sotto_identity::Account;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let me = Account::from_ed25519_seed(&[5u8; 32]);
    if mode & 1 == 0 {
        let _ = unwrap_shared_config(&me, SharedConfigKind::Contacts, rest);
    } else {
        let seqno = i64::from(mode);
        let wrapped = wrap_shared_config(&me, SharedConfigKind::UserProfile, seqno, rest)
            .expect("small inputs wrap");
        let (s, body) =
            unwrap_shared_config(&me, SharedConfigKind::UserProfile, &wrapped).expect("unwraps");
        assert_eq!((s, body.as_slice()), (seqno, rest));
    }
});
