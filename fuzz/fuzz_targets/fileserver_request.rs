//! The file server's request parsing on arbitrary bytes: the body an exit node POSTs to
//! `/oxen/v4/lsrpc` opened with a fixed server key (and, for inputs that decode as a v4 request
//! directly, its method, endpoint and headers), the route and id of a path, `X-FS-TTL` and the
//! server configuration. Never a panic; a matched route keeps a well-formed id.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sotto_crypto::X25519SecretKey;
use sotto_fileserver::api::{self, Route};
use sotto_fileserver::id::FileId;
use sotto_onion::{V4Request, X25519Keypair, open_v4};

fn check_route(method: &str, endpoint: &str) {
    if let Ok(Route::Download(id) | Route::Info(id) | Route::Extend(id)) =
        api::route(method, endpoint)
    {
        assert!(FileId::parse(id.as_str()).is_ok());
        assert!(!id.as_str().contains(['/', '.']));
    }
}

fuzz_target!(|data: &[u8]| {
    let server = X25519Keypair::new(X25519SecretKey::from_bytes(&[7; 32]));
    if let Ok(opened) = open_v4(data, &server)
        && let Ok(req) = opened.request
    {
        check_route(&req.method, &req.endpoint);
    }
    if let Ok(req) = V4Request::decode(data) {
        check_route(&req.method, &req.endpoint);
        let ttl = api::header(&req.headers, "x-fs-ttl");
        if let Ok(Some(n)) = api::ttl_header(ttl, 5_184_000) {
            assert!(n <= 5_184_000);
        }
    }
    let text = String::from_utf8_lossy(data);
    let (method, endpoint) = text.split_once(' ').unwrap_or(("GET", &*text));
    check_route(method, endpoint);
    let _ = api::ttl_header(Some(&*text), u64::MAX);
    let _ = sotto_fileserver::Config::parse(&text);
});
