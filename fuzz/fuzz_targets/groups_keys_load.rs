//! Groups v2 keys-message loading (namespace 12) on arbitrary bytes, as a member and as an
//! admin. Errors only, never a panic, and a refused message changes nothing.
//!
//! Even first bytes feed the input as is (signature checks stop most of it); odd ones decode
//! it as bencode and, if it is a dictionary, re-sign it with the group key so the loader's
//! field checks, trial decryption and key bookkeeping see arbitrary structure.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sotto_bencode::Value;
use sotto_crypto::Ed25519SecretKey;
use sotto_groups::{GroupAdmin, GroupKeys};

fn resign(admin: &GroupAdmin, input: &[u8]) -> Option<Vec<u8>> {
    let Ok(Value::Dict(mut dict)) = sotto_bencode::decode(input) else {
        return None;
    };
    dict.remove(b"~".as_slice());
    let mut bytes = sotto_bencode::encode(&Value::Dict(dict));
    bytes.pop();
    let sig = admin.signing_key().sign(&bytes);
    bytes.extend_from_slice(b"1:~64:");
    bytes.extend_from_slice(&sig.to_bytes());
    bytes.push(b'e');
    Some(bytes)
}

fn load(keys: &mut GroupKeys, data: &[u8]) {
    let before = (keys.key_infos().len(), keys.active_hashes().len(), keys.current_generation());
    let result = keys.load_key_message("hash", data, 1_700_000_000_000);
    if result.is_err() {
        let after = (keys.key_infos().len(), keys.active_hashes().len(), keys.current_generation());
        assert_eq!(before, after, "a refused message changed the state");
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let admin = GroupAdmin::from_seed(&[7; 32]).expect("fixed seed");
    let user = Ed25519SecretKey::from_seed(&[8; 32]);
    let message = if mode % 2 == 0 {
        rest.to_vec()
    } else {
        match resign(&admin, rest) {
            Some(m) => m,
            None => return,
        }
    };
    let mut member = GroupKeys::new(&user, admin.group_id()).expect("fixed group");
    load(&mut member, &message);
    let mut as_admin = GroupKeys::new_admin(&user, admin).expect("fixed group");
    load(&mut as_admin, &message);
});
