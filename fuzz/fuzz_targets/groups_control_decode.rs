//! Groups v2 control messages (`GroupUpdateMessage`) and kicked notices on arbitrary bytes.
//! Errors only, never a panic; decode → encode → decode is stable, and signature checks on
//! whatever decodes return an answer.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sotto_groups::control::read_kicked_notice;
use sotto_groups::{GroupAdmin, GroupUpdate};
use sotto_identity::Account;

fuzz_target!(|data: &[u8]| {
    let admin = GroupAdmin::from_seed(&[7; 32]).expect("fixed seed");
    let group = admin.group_id();
    let me = Account::from_ed25519_seed(&[8; 32]);
    if let Ok(update) = GroupUpdate::try_from(data) {
        let again = GroupUpdate::try_from(update.to_bytes().as_slice()).expect("re-decodes");
        assert_eq!(again, update);
        let _ = update.verify(&group, 1_700_000_000_000, Some(&me.session_id()));
    }
    let _ = GroupUpdate::from_data_message_unknown(data);
    let _ = read_kicked_notice(
        data,
        &group,
        &me.x25519_secret(),
        &me.x25519_public(),
        Some(1),
    );
});
