//! The node's TOML configuration: never panics on any text; a configuration that parses is
//! within the documented bounds.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sotto_node::NodeConfig;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(c) = NodeConfig::parse(text) {
        assert!(!c.listen.ip().is_unspecified() && c.listen.port() != 0);
        assert!(c.store_limit_bytes >= 1 << 20);
        assert!(!c.proof_interval.is_zero() && !c.list_poll_interval.is_zero());
    }
});
