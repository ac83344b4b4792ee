//! The node-cache file parser (`NodeCache::from_file`) on arbitrary bytes: an error or a
//! cache, never a panic; a parsed cache writes back to a file that parses to the same cache.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sotto_client::NodeCache;
use sotto_crypto::Ed25519PublicKey;

fuzz_target!(|data: &[u8]| {
    // The directory key the cache must name is the first 32 bytes when the input is long
    // enough to hold them, else a fixed one (so plain JSON inputs reach the parser too).
    let (key, body) = match data.split_first_chunk::<32>() {
        Some((key, rest)) if rest.first() == Some(&b'{') => (Ed25519PublicKey(*key), rest),
        _ => (Ed25519PublicKey([0; 32]), data),
    };
    if let Ok(cache) = NodeCache::from_file(body, &key) {
        let again = NodeCache::from_file(&cache.to_file(&key), &key).expect("re-parses");
        assert_eq!(again, cache);
    }
});
