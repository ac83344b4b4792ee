//! Sealed-box opening on arbitrary bytes: an error, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sotto_crypto::{box_seed_keypair, seal_open};

fuzz_target!(|data: &[u8]| {
    let (sk, _) = box_seed_keypair(&[7; 32]);
    let _ = seal_open(&sk, data);
});
