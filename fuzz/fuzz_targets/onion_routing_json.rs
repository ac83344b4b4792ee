//! The routing decision for a decrypted layer, on arbitrary JSON (framed behind a small blob)
//! and on arbitrary whole plaintexts; plus the client-side URL parser and the path-failure
//! policy's reading of error bodies. Never a panic; a relay decision re-encodes to a frame that
//! parses to the same request.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sotto_crypto::Ed25519PublicKey;
use sotto_onion::path::{self, PathNode, PathState, Reply, RequestInfo, SwarmInfo};
use sotto_onion::url::{ParsedUrl, is_target_allowed};
use sotto_onion::{Decision, OnionRequest, layer};

fuzz_target!(|data: &[u8]| {
    let framed = layer::join(b"inner blob", data).expect("small input");
    for plaintext in [&framed[..], data] {
        match Decision::parse(plaintext, 3) {
            Ok(Decision::RelayToNode { request, .. }) => {
                let frame = request.to_node_frame();
                assert_eq!(OnionRequest::from_node_frame(&frame).as_ref(), Ok(&request));
            }
            Ok(Decision::RelayToServer(relay)) => {
                let _ = is_target_allowed(&relay.target);
                let _ = relay.url();
            }
            Ok(Decision::FinalDestination(_)) | Err(_) => {}
        }
    }

    if let Ok(text) = core::str::from_utf8(data) {
        let _ = ParsedUrl::parse(text);
        let state = PathState {
            nodes: (1..=3)
                .map(|i| PathNode {
                    ed25519: Ed25519PublicKey([i; 32]),
                    failures: i,
                })
                .collect(),
            failures: data.len() as u8,
            connection_open: data.len() % 2 == 0,
        };
        let request = RequestInfo {
            to_node: true,
            retry: None,
            swarm: SwarmInfo::Cached { other_node: true },
        };
        for status in [None, Some(421), Some(500), Some(502)] {
            let reply = Reply {
                status,
                timeout: false,
                body: Some(text),
                decryption_failed: false,
            };
            let outcome = path::handle_error(&state, &request, &reply, true);
            assert_eq!(outcome.node_failures.len(), 3);
        }
    }
});
