//! Property: a member can read exactly the messages its keys allow. A member is in the
//! group for an arbitrary subset of generations, and may be given history (a supplement) at
//! some generation; it must read a message of generation g if and only if it was a member at
//! g, or was given history at a generation ≥ g.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use proptest::prelude::*;
use sotto_groups::{GroupAdmin, GroupKeys, KeyInfo};
use sotto_identity::{Account, SessionId};

const DAY_MS: i64 = 24 * 60 * 60 * 1000;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn member_reads_exactly_what_its_keys_allow(
        seed in any::<[u8; 32]>(),
        membership in proptest::collection::vec(any::<bool>(), 1..7),
        history_at in proptest::option::of(0usize..7),
    ) {
        let admin_keys = GroupAdmin::from_seed(&seed).unwrap();
        let admin_user = Account::from_ed25519_seed(&[1; 32]);
        let others = [admin_user.session_id(), Account::from_ed25519_seed(&[2; 32]).session_id()];
        let member = Account::from_ed25519_seed(&[3; 32]);
        let mut admin = GroupKeys::new_admin(admin_user.ed25519_secret(), admin_keys.clone()).unwrap();
        let mut keys = GroupKeys::new(member.ed25519_secret(), admin_keys.group_id()).unwrap();
        let history_at = history_at.filter(|h| *h < membership.len());

        let mut ciphertexts = Vec::new();
        let mut expected = Vec::new();
        for (g, &in_group) in membership.iter().enumerate() {
            let mut list: Vec<SessionId> = others.to_vec();
            if in_group {
                list.push(member.session_id());
            }
            let message = admin.rekey(&list).unwrap().to_vec();
            let ts = (g as i64 + 1) * DAY_MS;
            admin.load_key_message(&format!("k{g}"), &message, ts).unwrap();
            prop_assert_eq!(admin.current_generation(), Some(g as i64));
            let found = keys.load_key_message(&format!("k{g}"), &message, ts).unwrap();
            prop_assert_eq!(found, in_group);
            if history_at == Some(g) {
                let supp = admin.key_supplement(&[member.session_id()]).unwrap();
                let hash = format!("s{g}");
                let loaded = keys.load_key_message(&hash, &supp, ts + 1).unwrap();
                prop_assert!(loaded);
            }
            let nonce = [g as u8; 24];
            let ct = admin
                .encrypt_message(admin_user.ed25519_secret(), format!("message {g}").as_bytes(), true, &nonce)
                .unwrap();
            ciphertexts.push(ct);
            expected.push(in_group || history_at.is_some_and(|h| g <= h));
        }

        for (g, ct) in ciphertexts.iter().enumerate() {
            let got = keys.decrypt_message(ct);
            prop_assert_eq!(got.is_ok(), expected[g], "generation {}", g);
            if let Ok(m) = got {
                prop_assert_eq!(m.plaintext, format!("message {g}").into_bytes());
                prop_assert_eq!(m.sender, admin_user.session_id());
            }
        }
        let known: Vec<i64> = keys.key_infos().iter().map(|k: &KeyInfo| k.generation).collect();
        let want: Vec<i64> = (0..membership.len() as i64).filter(|g| expected[*g as usize]).collect();
        prop_assert_eq!(known, want);
    }
}
