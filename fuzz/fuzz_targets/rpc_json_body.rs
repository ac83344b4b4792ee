//! Storage RPC JSON bodies (`{"method", "params"}` over HTTPS, and bare params as OMQ/QUIC
//! carry them): never panic, and whatever parses writes back to JSON that parses to the same
//! request (decode → encode → decode). Parsed requests also go through the node's checks, and
//! JSON responses through their parsers. A fuzz input that is a JSON object is also laid over
//! the params of a valid signed request, so that changing one field is easy to reach.
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use sotto_rpc::request::Encoding;
use sotto_rpc::response::{
    BatchResponse, GetExpiriesResponse, GetSwarmResponse, InfoResponse, RetrieveResponse,
    SwarmResponse,
};
use sotto_rpc::{Method, NodeContext, Request, SubaccountToken};

/// A signed `store` to namespace 3 by the account of Ed25519 seed 11…11, with a subaccount.
const TEMPLATE: &str = r#"{"pubkey":"0599a7ba6e8f0a3ec82d4ee16b0f1a43aca1a9d3bc2e6ffc23f2b72d7bb34e2a2f","namespace":3,"timestamp":1700000000000,"ttl":86400000,"data":"aGVsbG8=","signature":"B5p6kXlGcqh6x6H5yGt3wN8bP9l0b2dAXdmA1N5GU6pyz7V/4A7XKbGx4ZrY0xXj8Zs6nRRvXH4oE6v7v1+dAg==","pubkey_ed25519":"d04ab232742bb4ab3a1368bd4615e4e6d0224ab71a016baf8520a332c9778737","sig_timestamp":1700000000000,"subaccount":"AwcAAMVYGfZ3Y0oxvFzCjJCp2gzR7Tu7R5bTbq6dwPovpbXs","subaccount_sig":"B5p6kXlGcqh6x6H5yGt3wN8bP9l0b2dAXdmA1N5GU6pyz7V/4A7XKbGx4ZrY0xXj8Zs6nRRvXH4oE6v7v1+dAg","messages":["4sMyAuaZlMwww3oFvfhazfw7ASx/7TDtO+TVc8aAjHs"],"expiry":1700000100000,"before":1700000000000,"revoke":["AwcAAMVYGfZ3Y0oxvFzCjJCp2gzR7Tu7R5bTbq6dwPovpbXs"],"unrevoke":"AwcAAMVYGfZ3Y0oxvFzCjJCp2gzR7Tu7R5bTbq6dwPovpbXs","endpoint":"get_service_nodes","params":{"active_only":true}}"#;

fn exercise(req: &Request) {
    let again = Request::from_http_body(&req.to_http_body()).expect("written request parses");
    assert_eq!(&again, req);
    let revoked = [SubaccountToken::from_bytes([3; 36])];
    for forwarded in [false, true] {
        let ctx = NodeContext {
            now_ms: 1_700_000_000_000,
            revoked: &revoked,
            forwarded,
        };
        let _ = req.check(&ctx);
    }
}

fuzz_target!(|data: &[u8]| {
    if let Ok(req) = Request::from_http_body(data) {
        exercise(&req);
    }
    let method = Method::ALL[usize::from(data.first().copied().unwrap_or(0)) % Method::ALL.len()];
    let rest = data.get(1..).unwrap_or_default();
    if let Ok((req, Encoding::Json)) = Request::from_command(method.name(), rest) {
        exercise(&req);
    }
    if let Ok(Value::Object(overlay)) = serde_json::from_slice::<Value>(rest) {
        let Ok(Value::Object(mut params)) = serde_json::from_str(TEMPLATE) else {
            unreachable!("the template is a JSON object");
        };
        params.extend(overlay);
        if let Ok(req) = Request::from_json_params(method, &params) {
            exercise(&req);
        }
    }
    let _ = SwarmResponse::parse(method, data, Encoding::Json);
    let _ = RetrieveResponse::parse(data, Encoding::Json);
    let _ = GetSwarmResponse::parse(data, Encoding::Json);
    let _ = GetExpiriesResponse::parse(data, Encoding::Json);
    let _ = InfoResponse::parse(data, Encoding::Json);
    let _ = BatchResponse::parse_json(data);
});
