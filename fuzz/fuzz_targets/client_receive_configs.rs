//! The client's config receive path on arbitrary input: up to 8 parts (split at 0xff bytes)
//! merged into a fresh in-memory client's user configs and applied to its local tables. The
//! first byte of each part picks the namespace and whether the rest is raw swarm data or the
//! plaintext of a config message sealed with the account's key (so fuzzed messages reach the
//! merge and the local tables). Nothing may panic and untrusted input never fails the batch.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sotto_client::{Account, Engine};
use sotto_config::{ConfigKind, seal_for_push};
use sotto_rpc::response::RetrievedMessage;
use sotto_rpc::{AccountId, MessageHash, Namespace};

const T: u64 = 1_754_971_101_000;
const NODE: sotto_crypto::Ed25519PublicKey = sotto_crypto::Ed25519PublicKey([9; 32]);

fuzz_target!(|data: &[u8]| {
    let me = Account::from_ed25519_seed(&[2; 32]);
    let seed = me.ed25519_seed();
    let mut engine = Engine::open_in_memory(me.clone()).expect("in-memory database");
    let account = AccountId::from(me.session_id());
    for part in data.split(|b| *b == 0xff).take(8) {
        let Some((&mode, rest)) = part.split_first() else {
            continue;
        };
        let kind = ConfigKind::USER[usize::from(mode % 4)];
        let bytes = if mode & 0x10 == 0 {
            rest.to_vec()
        } else {
            match seal_for_push(rest, seed.expose(), kind.domain()) {
                Ok(sealed) => sealed,
                Err(_) => continue,
            }
        };
        let batch = [RetrievedMessage {
            hash: MessageHash::compute(&account, Namespace::new(kind.namespace()), &bytes),
            timestamp: T,
            expiration: T + 1_000_000,
            data: bytes,
        }];
        engine
            .receive_configs(kind, &NODE, &batch, T + 100)
            .expect("untrusted input never fails a batch");
    }
    engine.record_local_changes().expect("local changes");
    engine.config_pushes(T + 200).expect("pushes");
});
