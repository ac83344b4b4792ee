//! secretstream pulls on arbitrary bytes: the first 24 bytes are the header, the rest is split
//! into messages by a length byte. Errors only, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sotto_crypto::SymmetricKey;
use sotto_crypto::secretstream::{Decryptor, HEADER_LEN};

fuzz_target!(|data: &[u8]| {
    let Some((header, mut rest)) = data.split_first_chunk::<HEADER_LEN>() else { return };
    let mut dec = Decryptor::new(&SymmetricKey::new([1; 32]), header);
    while let Some((&len, tail)) = rest.split_first() {
        let (msg, tail) = tail.split_at(usize::from(len).min(tail.len()));
        let _ = dec.pull(msg, b"");
        rest = tail;
    }
});
