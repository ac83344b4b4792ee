//! Sotto's two onion extensions on arbitrary input: the strict relay-host grammar and the
//! sealed relay-error format. Never a panic. An accepted host shows without any character that
//! could end a URL's host (`/ ? # @ \` or whitespace) and with a port only inside IPv6
//! brackets, and reads back to itself; a decoded relay error re-encodes to the same bytes; a
//! body opens (or not) without a panic under a fixed key.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sotto_crypto::{SecretBytes, X25519PublicKey};
use sotto_onion::relay_error::{self, RelayError};
use sotto_onion::url::{RelayHost, parse_host};
use sotto_onion::{EncType, HopKey};

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = core::str::from_utf8(data)
        && let Ok(host) = parse_host(text)
    {
        let shown = host.to_string();
        assert!(
            !shown.contains(['/', '?', '#', '@', '\\', '%']) && !shown.contains(char::is_whitespace),
            "{shown:?}"
        );
        let bare = shown.trim_start_matches('[').trim_end_matches(']');
        match &host {
            RelayHost::Ipv6(_) => assert!(shown.starts_with('[')),
            _ => assert!(!bare.contains(':'), "{shown:?}"),
        }
        assert_eq!(parse_host(&shown).as_ref(), Ok(&host));
    }

    if let Ok(error) = RelayError::decode(data) {
        assert_eq!(error.encode().as_deref(), Ok(data));
    }
    let key = HopKey::derive(
        EncType::XChaCha20,
        &SecretBytes::new([7; 32]),
        &X25519PublicKey([1; 32]),
        &X25519PublicKey([2; 32]),
    );
    let _ = relay_error::open(core::slice::from_ref(&key), data);
});
