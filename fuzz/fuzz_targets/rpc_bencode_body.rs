//! Bencoded storage RPC bodies (OMQ/QUIC and node-to-node forwarding): never panic, and
//! whatever parses writes back to canonical bencode that parses to the same request
//! (decode → encode → decode). The first byte picks the method. Parsed requests go through the
//! node's checks, and the bytes through the bencoded response parsers. An input that is a
//! bencoded dictionary is also laid over a valid request dictionary, so that changing one field
//! is easy to reach.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sotto_bencode::Value;
use sotto_rpc::request::Encoding;
use sotto_rpc::response::{
    GetExpiriesResponse, GetSwarmResponse, InfoResponse, NodeResult, OxendResponse,
    RetrieveResponse, SwarmResponse,
};
use sotto_rpc::{Method, NodeContext, Request};

/// Every field some method reads, with valid values (ttl given, so `expiry` is left out).
fn template() -> Value {
    let hash = Value::from("4sMyAuaZlMwww3oFvfhazfw7ASx/7TDtO+TVc8aAjHs");
    let token = Value::Bytes([3, 7, 0, 0].iter().copied().chain([9; 32]).collect());
    let info = Value::dict([
        ("method", Value::from("info")),
        ("params", Value::dict::<&str>([])),
    ]);
    Value::dict([
        (
            "pubkey",
            Value::Bytes([5u8].iter().copied().chain([0x42; 32]).collect()),
        ),
        ("namespace", Value::Int(3)),
        ("timestamp", Value::Int(1_700_000_000_000)),
        ("ttl", Value::Int(86_400_000)),
        ("data", Value::from("hello")),
        ("signature", Value::Bytes(vec![7; 64])),
        ("pubkey_ed25519", Value::Bytes(vec![0x42; 32])),
        ("sig_timestamp", Value::Int(1_700_000_000_000)),
        ("subaccount", token.clone()),
        ("subaccount_sig", Value::Bytes(vec![8; 64])),
        ("messages", Value::List(vec![hash])),
        ("before", Value::Int(1_700_000_000_000)),
        ("revoke", Value::List(vec![token.clone()])),
        ("unrevoke", token),
        ("endpoint", Value::from("get_service_nodes")),
        ("params", Value::from("{\"active_only\":true}")),
        ("requests", Value::List(vec![info])),
    ])
}

fn run(method: Method, body: &[u8]) {
    if let Ok((req, encoding)) = Request::from_command(method.name(), body) {
        let bytes = req.params_bencoded();
        let (again, enc) =
            Request::from_command(method.name(), &bytes).expect("written request parses");
        assert_eq!(enc, Encoding::Bencode);
        assert_eq!(again, req);
        assert_eq!(again.params_bencoded(), bytes);
        if encoding == Encoding::Bencode {
            let ctx = NodeContext {
                now_ms: 1_700_000_000_000,
                revoked: &[],
                forwarded: true,
            };
            let _ = req.check(&ctx);
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&first, body)) = data.split_first() else {
        return;
    };
    let method = Method::ALL[usize::from(first) % Method::ALL.len()];
    run(method, body);
    if let Ok(Value::Dict(overlay)) = sotto_bencode::decode(body) {
        if let Value::Dict(mut fields) = template() {
            fields.extend(overlay);
            run(method, &sotto_bencode::encode(&Value::Dict(fields)));
        }
    }
    if let Ok(r) = NodeResult::parse(method, body, Encoding::Bencode) {
        let again = NodeResult::parse(
            method,
            &r.encode(method, Encoding::Bencode),
            Encoding::Bencode,
        );
        assert_eq!(again.as_ref(), Ok(&r));
    }
    if let Ok(r) = SwarmResponse::parse(method, body, Encoding::Bencode) {
        assert_eq!(
            SwarmResponse::parse(method, &r.encode(Encoding::Bencode), Encoding::Bencode),
            Ok(r)
        );
    }
    if let Ok(r) = RetrieveResponse::parse(body, Encoding::Bencode) {
        assert_eq!(
            RetrieveResponse::parse(&r.encode(Encoding::Bencode), Encoding::Bencode),
            Ok(r)
        );
    }
    let _ = GetSwarmResponse::parse(body, Encoding::Bencode);
    let _ = GetExpiriesResponse::parse(body, Encoding::Bencode);
    let _ = InfoResponse::parse(body, Encoding::Bencode);
    let _ = OxendResponse::parse(body, Encoding::Bencode);
});
