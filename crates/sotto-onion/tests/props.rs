//! Property tests: framings round-trip, and any payload survives any path.

use proptest::prelude::*;
use rand_chacha::ChaCha20Rng;
use rand_chacha::rand_core::SeedableRng;
use sotto_crypto::{X25519PublicKey, X25519SecretKey};
use sotto_onion::{
    Decision, Destination, EncType, NodeKeys, OnionRequest, V4Request, V4Response, X25519Keypair,
    build,
};

fn enc_type() -> impl Strategy<Value = EncType> {
    prop_oneof![Just(EncType::AesGcm), Just(EncType::XChaCha20)]
}

fn headers() -> impl Strategy<Value = Vec<(String, String)>> {
    proptest::collection::vec((".{0,12}", ".{0,12}"), 0..4)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn v4_framing_round_trips(
        method in "[A-Z]{1,7}",
        endpoint in ".{0,40}",
        code in any::<u16>(),
        headers in headers(),
        body in proptest::option::of(proptest::collection::vec(any::<u8>(), 0..200)),
    ) {
        let request = V4Request { method, endpoint, headers: headers.clone(), body: body.clone() };
        prop_assert_eq!(V4Request::decode(&request.encode()), Ok(request));
        let response = V4Response { code, headers, body };
        prop_assert_eq!(V4Response::decode(&response.encode()), Ok(response));
    }

    #[test]
    fn frames_round_trip(
        blob in proptest::collection::vec(any::<u8>(), 0..300),
        key in any::<[u8; 32]>(),
        enc in enc_type(),
        hop_no in 1u64..1000,
    ) {
        let request = OnionRequest {
            blob: blob.into(),
            ephemeral_key: X25519PublicKey(key),
            enc_type: enc,
            hop_no,
        };
        prop_assert_eq!(OnionRequest::from_node_frame(&request.to_node_frame()), Ok(request.clone()));
        // The frame is written directly, byte for byte the canonical bencode of its dict.
        let canonical = sotto_bencode::encode(&sotto_bencode::Value::dict([
            ("data", sotto_bencode::Value::from(&*request.blob)),
            ("enc_type", sotto_bencode::Value::from(request.enc_type.as_str())),
            ("ephemeral_key", sotto_bencode::Value::from(&request.ephemeral_key.0[..])),
            ("hop_no", sotto_bencode::Value::Int(i64::try_from(request.hop_no).unwrap_or(i64::MAX))),
        ]));
        prop_assert_eq!(request.to_node_frame(), canonical);
        let body = request.to_client_body().unwrap();
        prop_assert_eq!(
            OnionRequest::from_client_body(&body),
            Ok(OnionRequest { hop_no: 0, ..request })
        );
    }

    #[test]
    fn any_payload_crosses_any_path(
        rpc in proptest::collection::vec(any::<u8>(), 0..2000),
        hops in 1usize..=5,
        enc in enc_type(),
        seed in any::<u64>(),
    ) {
        let mut rng = ChaCha20Rng::seed_from_u64(seed);
        let keypairs: Vec<X25519Keypair> =
            (0..=hops).map(|_| X25519Keypair::new(X25519SecretKey::generate(&mut rng))).collect();
        let keys: Vec<NodeKeys> = keypairs
            .iter()
            .enumerate()
            .map(|(i, k)| NodeKeys {
                ed25519: sotto_crypto::Ed25519PublicKey([u8::try_from(i).unwrap(); 32]),
                x25519: *k.public_key(),
            })
            .collect();
        let (path, dest) = keys.split_at(hops);
        let onion = build(path, &Destination::Node { node: dest[0], rpc: &rpc }, enc, &mut rng).unwrap();
        let mut frame = onion.body.clone();
        for (hop, keypair) in keypairs.iter().enumerate() {
            let request = if hop == 0 {
                OnionRequest::from_client_body(&frame).unwrap()
            } else {
                OnionRequest::from_node_frame(&frame).unwrap()
            };
            let layer = keypair.open(&request).unwrap();
            match layer.route().unwrap() {
                Decision::RelayToNode { next_node, request } => {
                    prop_assert_eq!(next_node, keys[hop + 1].ed25519);
                    frame = request.to_node_frame();
                }
                Decision::FinalDestination(fin) => {
                    prop_assert_eq!(hop, hops);
                    prop_assert_eq!(fin.body, &rpc[..]);
                }
                Decision::RelayToServer(relay) => prop_assert!(false, "unexpected {relay:?}"),
            }
        }
    }
}
