//! Restoring a saved groups v2 keys state (`GroupKeys::restore`) from arbitrary bytes: errors
//! only, never a panic, and whatever is accepted dumps back to exactly the same bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sotto_crypto::Ed25519SecretKey;
use sotto_groups::GroupKeys;

fuzz_target!(|data: &[u8]| {
    let user = Ed25519SecretKey::from_seed(&[8; 32]);
    if let Ok(keys) = GroupKeys::restore(&user, data) {
        assert_eq!(keys.dump().as_slice(), data, "restore accepted a non-canonical dump");
        let again = GroupKeys::restore(&user, &keys.dump()).expect("a dump restores");
        assert_eq!(again.dump(), keys.dump());
    }
});
