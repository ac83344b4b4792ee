//! The client's group-message receive path on arbitrary input: a retrieved namespace-11
//! message opened with the group's keys (decryption, author signature, envelope, Content) and
//! the group update it may carry read and checked. The first byte picks whether the rest is
//! raw swarm data or a plaintext encrypted under the group's current key (so fuzzed input
//! reaches the envelope and Content parsers). Nothing may panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sotto_client::groups::{group_update_of, open_group_message};
use sotto_groups::{GroupAdmin, GroupKeys};
use sotto_identity::Account;

fuzz_target!(|data: &[u8]| {
    let me = Account::from_ed25519_seed(&[2; 32]);
    let admin = GroupAdmin::from_seed(&[7; 32]).expect("fixed seed");
    let group = admin.group_id();
    let mut keys = GroupKeys::new_admin(me.ed25519_secret(), admin).expect("keys");
    let rekey = keys.rekey(&[me.session_id()]).expect("rekey").to_vec();
    keys.load_key_message("h", &rekey, 1_000).expect("own rekey loads");
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let bytes = if mode & 1 == 0 {
        rest.to_vec()
    } else {
        match keys.encrypt_message(me.ed25519_secret(), rest, mode & 2 != 0, &[mode; 24]) {
            Ok(b) => b,
            Err(_) => return,
        }
    };
    if let Ok(content) = open_group_message(&keys, &bytes) {
        if let Some(update) = group_update_of(&content.content) {
            let _ = update.verify(&group, content.sent_ms, Some(&me.session_id()));
            let _ = update.to_bytes();
        }
    }
});
