//! The client's receive path on arbitrary input: a batch of up to 16 messages (split at 0xff
//! bytes) applied to a fresh in-memory client. The first byte of each part picks what it is:
//! raw swarm data, or the plaintext of a message validly encrypted to the client by a peer or
//! by the client itself (so the fuzzed Content reaches the code that applies it: requests,
//! reactions, unsend, receipts, typing, timers, profiles). Nothing may panic, untrusted input
//! may never fail the batch (only skip a message), and the same batch applied again changes
//! nothing.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sotto_client::{Account, Engine};
use sotto_envelope::{Envelope, WebSocketMessage, WireStyle, encrypt_for_recipient_deterministic};
use sotto_rpc::response::RetrievedMessage;
use sotto_rpc::{AccountId, MessageHash, Namespace};

const T: u64 = 1_754_971_101_000;
/// The swarm node the batch comes from.
const NODE: sotto_crypto::Ed25519PublicKey = sotto_crypto::Ed25519PublicKey([9; 32]);

fuzz_target!(|data: &[u8]| {
    let me = Account::from_ed25519_seed(&[2; 32]);
    let peer = Account::from_ed25519_seed(&[1; 32]);
    let mut engine = Engine::open_in_memory(me.clone()).expect("in-memory database");
    engine
        .update_settings(|s| {
            s.read_receipts = true;
            s.typing_indicators = true;
        })
        .expect("settings");
    let account = AccountId::from(me.session_id());
    let mut batch = Vec::new();
    for (i, part) in (0u64..).zip(data.split(|b| *b == 0xff).take(16)) {
        let Some((&mode, rest)) = part.split_first() else {
            continue;
        };
        let bytes = if mode % 3 == 0 {
            rest.to_vec()
        } else {
            let sender = if mode % 3 == 1 { &peer } else { &me };
            let sealed = encrypt_for_recipient_deterministic(
                sender.ed25519_secret(),
                &me.x25519_public(),
                rest,
            )
            .expect("encrypt");
            let envelope = Envelope::one_to_one(T + i, sealed, WireStyle::Libsession);
            WebSocketMessage::carrying(envelope.to_bytes(), WireStyle::Libsession).to_bytes()
        };
        batch.push(RetrievedMessage {
            hash: MessageHash::compute(&account, Namespace::DEFAULT, &bytes),
            timestamp: T,
            expiration: T + 1_000_000,
            data: bytes,
        });
    }
    engine
        .receive(&NODE, &batch, T + 100)
        .expect("untrusted input never fails a batch");
    assert!(engine.receive(&NODE, &batch, T + 200).expect("again").is_empty());
    engine.expire(T + 10_000_000).expect("expire");
});
