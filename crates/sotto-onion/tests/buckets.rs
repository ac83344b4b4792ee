//! Optional size buckets (Sotto's extension): padded requests land on a bucket, every hop
//! still peels them, and the destination gets the exact payload.
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "test helpers outside #[test] functions"
)]

use std::collections::BTreeMap;

use rand_chacha::ChaCha20Rng;
use rand_chacha::rand_core::SeedableRng;
use sotto_crypto::Ed25519SecretKey;
use sotto_onion::{
    Decision, Destination, EncType, NodeKeys, OnionError, OnionRequest, Padding, Protocol,
    SIZE_BUCKETS, ServerDestination, V4_TARGET, X25519Keypair, build, build_with, size_bucket,
};

const SEED: u64 = 0x5077_0b0c;

fn rng() -> ChaCha20Rng {
    ChaCha20Rng::seed_from_u64(SEED)
}

fn nodes(n: u8) -> Vec<(NodeKeys, X25519Keypair)> {
    (1..=n)
        .map(|i| {
            let identity = Ed25519SecretKey::from_seed(&[i; 32]);
            (
                NodeKeys::from_ed25519(identity.public_key()).unwrap(),
                X25519Keypair::from_ed25519(&identity),
            )
        })
        .collect()
}

/// Payload lengths across several buckets, many of them within one bucket.
fn lengths() -> Vec<usize> {
    let mut v: Vec<usize> = vec![0, 1, 2, 3, 17, 100, 255, 256, 500, 777];
    v.extend((800..1100).step_by(13));
    v.extend([2000, 3000, 4095, 4096, 9000, 70_000]);
    v
}

/// Peels `body` through `route` (path then destination node) and returns the blob length each
/// hop received and the destination's payload.
fn peel(body: &[u8], route: &[&X25519Keypair]) -> (Vec<usize>, Vec<u8>) {
    let mut sizes = Vec::new();
    let mut frame: Option<Vec<u8>> = None;
    for (hop, key) in route.iter().enumerate() {
        let request = match &frame {
            None => OnionRequest::from_client_body(body).unwrap(),
            Some(f) => OnionRequest::from_node_frame(f).unwrap(),
        };
        sizes.push(request.blob.len());
        let layer = key.open(&request).unwrap();
        match layer.route().unwrap() {
            Decision::RelayToNode { request, .. } => {
                assert!(hop + 1 < route.len());
                frame = Some(request.to_node_frame());
            }
            Decision::FinalDestination(fin) => {
                assert_eq!(hop + 1, route.len());
                return (sizes, fin.body.to_vec());
            }
            Decision::RelayToServer(_) => panic!("hop {hop} relays to a server"),
        }
    }
    panic!("no destination");
}

#[test]
fn padded_node_requests_land_on_buckets_and_peel() {
    let mut rng = rng();
    let all = nodes(4);
    for enc in [EncType::AesGcm, EncType::XChaCha20] {
        for hops in 1..=3 {
            let path: Vec<NodeKeys> = all[..hops].iter().map(|n| n.0).collect();
            let route: Vec<&X25519Keypair> =
                all[..hops].iter().chain([&all[3]]).map(|n| &n.1).collect();
            // Bucket -> what each hop received, which must be the same for every payload.
            let mut seen: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
            for len in lengths() {
                let rpc = vec![b'r'; len];
                let dest = Destination::Node {
                    node: all[3].0,
                    rpc: &rpc,
                };
                let onion = build_with(&path, &dest, enc, Padding::SizeBuckets, &mut rng).unwrap();
                let size = onion.body.len();
                assert!(
                    SIZE_BUCKETS.contains(&size),
                    "{enc} {hops} hops {len}: {size}"
                );
                let unpadded = build(&path, &dest, enc, &mut rng).unwrap().body.len();
                assert_eq!(size_bucket(unpadded + 15), Some(size), "smallest bucket");
                let (sizes, payload) = peel(&onion.body, &route);
                assert_eq!(payload, rpc, "{enc} {hops} hops {len}");
                let first = seen.entry(size).or_insert_with(|| sizes.clone());
                assert_eq!(*first, sizes, "{enc} {hops} hops {len}");
            }
            assert!(seen.len() >= 5, "{seen:?}");
        }
    }
}

#[test]
fn padded_server_requests_land_on_buckets_and_reach_the_server() {
    let mut rng = rng();
    let all = nodes(3);
    let server = X25519Keypair::generate(&mut rng);
    for hops in 1..=3 {
        let path: Vec<NodeKeys> = all[..hops].iter().map(|n| n.0).collect();
        let mut seen: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
        for len in lengths() {
            let request = vec![b'q'; len];
            let dest = Destination::Server(ServerDestination {
                host: "files.example.org",
                port: None,
                protocol: Protocol::Https,
                target: V4_TARGET,
                x25519: *server.public_key(),
                request: &request,
            });
            let onion = build_with(
                &path,
                &dest,
                EncType::XChaCha20,
                Padding::SizeBuckets,
                &mut rng,
            )
            .unwrap();
            assert!(
                SIZE_BUCKETS.contains(&onion.body.len()),
                "{hops} hops {len}"
            );
            let mut sizes = Vec::new();
            let mut frame: Option<Vec<u8>> = None;
            let mut delivered = None;
            for (hop, node) in all[..hops].iter().enumerate() {
                let req = match &frame {
                    None => OnionRequest::from_client_body(&onion.body).unwrap(),
                    Some(f) => OnionRequest::from_node_frame(f).unwrap(),
                };
                sizes.push(req.blob.len());
                let layer = node.1.open(&req).unwrap();
                match layer.route().unwrap() {
                    Decision::RelayToNode { request, .. } => {
                        frame = Some(request.to_node_frame());
                    }
                    Decision::RelayToServer(relay) => {
                        assert_eq!(hop + 1, hops);
                        let at_server = OnionRequest::from_client_body(relay.payload).unwrap();
                        delivered = Some(server.open(&at_server).unwrap().plaintext().to_vec());
                    }
                    Decision::FinalDestination(_) => panic!("hop {hop} is a destination"),
                }
            }
            assert_eq!(delivered.unwrap(), request, "{hops} hops {len}");
            // Every hop but the exit (which sees the server request anyway) gets a size that
            // depends only on the bucket.
            sizes.pop();
            let first = seen
                .entry(onion.body.len())
                .or_insert_with(|| sizes.clone());
            assert_eq!(*first, sizes, "{hops} hops {len}");
        }
    }
}

#[test]
fn padding_off_leaves_the_bytes_unchanged() {
    let all = nodes(4);
    let path: Vec<NodeKeys> = all[..3].iter().map(|n| n.0).collect();
    let rpc = br#"{"method":"info","params":{}}"#;
    let dest = Destination::Node {
        node: all[3].0,
        rpc,
    };
    let plain = build(&path, &dest, EncType::AesGcm, &mut rng()).unwrap();
    let off = build_with(&path, &dest, EncType::AesGcm, Padding::None, &mut rng()).unwrap();
    assert_eq!(plain.body, off.body);
    assert_eq!(Padding::default(), Padding::None);
    assert!(!plain.body.windows(9).any(|w| w == b"sotto_pad"));
}

#[test]
fn a_request_beyond_the_last_bucket_is_refused() {
    let all = nodes(2);
    let rpc = vec![b'r'; 10 << 20];
    let dest = Destination::Node {
        node: all[1].0,
        rpc: &rpc,
    };
    assert!(matches!(
        build_with(
            &[all[0].0],
            &dest,
            EncType::AesGcm,
            Padding::SizeBuckets,
            &mut rng()
        ),
        Err(OnionError::TooLarge { .. })
    ));
    assert!(build(&[all[0].0], &dest, EncType::AesGcm, &mut rng()).is_ok());
}
