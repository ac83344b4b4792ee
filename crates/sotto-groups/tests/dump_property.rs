//! Property: a saved keys state restores to the same state. After any run of rekeys (some
//! loaded, some lost, some pending) seen by an admin and a member, `restore(dump())` dumps to
//! the same bytes, and the restored state decrypts what the original decrypts.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use proptest::prelude::*;
use sotto_groups::{GroupAdmin, GroupKeys};
use sotto_identity::Account;

const DAY_MS: i64 = 24 * 60 * 60 * 1000;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn restore_of_a_dump_is_the_same_state(
        seed in any::<[u8; 32]>(),
        // Per rekey: whether the member is in it, and whether it is read back (loaded).
        steps in proptest::collection::vec((any::<bool>(), any::<bool>(), 0i64..90), 0..6),
    ) {
        println!("seed {}", hex::encode(seed));
        let group = GroupAdmin::from_seed(&seed).unwrap();
        let admin_user = Account::from_ed25519_seed(&[1; 32]);
        let member = Account::from_ed25519_seed(&[3; 32]);
        let mut admin = GroupKeys::new_admin(admin_user.ed25519_secret(), group.clone()).unwrap();
        let mut keys = GroupKeys::new(member.ed25519_secret(), group.group_id()).unwrap();
        let mut day = 0;
        let mut sent = Vec::new();
        for (i, &(with_member, loaded, days)) in steps.iter().enumerate() {
            day += days;
            let mut list = vec![admin_user.session_id()];
            if with_member {
                list.push(member.session_id());
            }
            let message = admin.rekey(&list).unwrap().to_vec();
            if loaded {
                let hash = format!("h{i}");
                admin.load_key_message(&hash, &message, day * DAY_MS).unwrap();
                keys.load_key_message(&hash, &message, day * DAY_MS).unwrap();
            }
            if let Ok(ct) = admin.encrypt_message(admin_user.ed25519_secret(), &[i as u8; 5], true, &[i as u8; 24]) {
                sent.push(ct);
            }
        }
        for (state, user) in [(&admin, &admin_user), (&keys, &member)] {
            let dump = state.dump();
            let restored = GroupKeys::restore(user.ed25519_secret(), &dump).unwrap();
            prop_assert_eq!(restored.dump(), dump);
            prop_assert_eq!(restored.is_admin(), state.is_admin());
            prop_assert_eq!(restored.current_generation(), state.current_generation());
            prop_assert_eq!(restored.pending_config(), state.pending_config());
            prop_assert_eq!(restored.active_hashes(), state.active_hashes());
            for ct in &sent {
                let a = state.decrypt_message(ct).map(|m| m.plaintext);
                let b = restored.decrypt_message(ct).map(|m| m.plaintext);
                prop_assert_eq!(a, b);
            }
        }
    }
}
