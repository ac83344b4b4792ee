//! Onion layer peeling on arbitrary bytes: the node reads a client body or an inter-node frame,
//! opens the layer and routes it; and, so that decryption is not the end of the road, the input
//! is also sealed as a valid layer and peeled. The client reads replies the same way. Never a
//! panic; whatever parses re-encodes to something that parses to the same request.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use sotto_crypto::X25519SecretKey;
use sotto_onion::{EncType, HopKey, OnionRequest, ResponseKey, X25519Keypair, layer};

struct Keys {
    node: X25519Keypair,
    client: X25519Keypair,
    layer_keys: [HopKey; 2],
}

/// Fixed keys, derived once so that each run spends its X25519s on the input.
fn keys() -> &'static Keys {
    static KEYS: OnceLock<Keys> = OnceLock::new();
    KEYS.get_or_init(|| {
        let node = X25519Keypair::new(X25519SecretKey::from_bytes(&[7; 32]));
        let client = X25519Keypair::new(X25519SecretKey::from_bytes(&[9; 32]));
        let layer_keys = [EncType::AesGcm, EncType::XChaCha20]
            .map(|enc| HopKey::for_client(enc, &client, node.public_key()).expect("valid keys"));
        Keys {
            node,
            client,
            layer_keys,
        }
    })
}

fuzz_target!(|data: &[u8]| {
    let Keys {
        node,
        client,
        layer_keys,
    } = keys();

    // Requests exactly as received.
    if let Ok(request) = OnionRequest::from_client_body(data) {
        let again = request
            .to_client_body()
            .expect("a parsed blob fits its length prefix");
        let reparsed = OnionRequest::from_client_body(&again).expect("re-encoded body parses");
        assert_eq!(
            reparsed,
            OnionRequest {
                hop_no: 0,
                ..request.clone()
            }
        );
        peel(node, &request);
    }
    if let Ok(request) = OnionRequest::from_node_frame(data) {
        let again = OnionRequest::from_node_frame(&request.to_node_frame())
            .expect("re-encoded frame parses");
        assert_eq!(again, request);
        peel(node, &request);
    }

    // The input as a layer's plaintext, in a layer that decrypts.
    let key = &layer_keys[usize::from(data.first().is_some_and(|b| b & 1 == 1))];
    let nonce = [0x42u8; 24];
    let nonce = &nonce[..key.enc_type().overhead() - 16];
    let sealed = key.encrypt_with_nonce(nonce, data).expect("small input");
    let request = OnionRequest {
        blob: sealed.as_slice().into(),
        ephemeral_key: *client.public_key(),
        enc_type: key.enc_type(),
        hop_no: 1,
    };
    let opened = node.open(&request).expect("a valid layer opens");
    assert_eq!(opened.plaintext(), data);
    let _ = opened.route();

    // The client reading replies: raw bytes, and the input sealed as a reply.
    let reader = ResponseKey::new(key.clone());
    let _ = reader.open_v3(data);
    let _ = reader.open_v4(data);
    let _ = reader.open_v3(&sealed);
    let _ = reader.open_v4(&sealed);
    let _ = layer::split(data);
});

fn peel(node: &X25519Keypair, request: &OnionRequest<'_>) {
    if let Ok(opened) = node.open(request) {
        let _ = opened.route();
    }
}
