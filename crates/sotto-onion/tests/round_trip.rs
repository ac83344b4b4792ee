//! End to end, sans IO: a client builds onions, nodes peel them hop by hop, destinations answer.
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "test helpers outside #[test] functions"
)]

use rand_chacha::ChaCha20Rng;
use rand_chacha::rand_core::SeedableRng;
use sotto_crypto::Ed25519SecretKey;
use sotto_onion::{
    Decision, Destination, EncType, NodeKeys, OnionError, OnionRequest, Protocol, ReplyBody,
    ServerDestination, V4_TARGET, V4Request, V4Response, X25519Keypair, build, seal_v3,
};

const SEED: u64 = 0x5077_0001;

fn rng() -> ChaCha20Rng {
    println!("rng seed {SEED:#x}");
    ChaCha20Rng::seed_from_u64(SEED)
}

struct Node {
    keys: NodeKeys,
    onion_key: X25519Keypair,
}

fn nodes(n: u8) -> Vec<Node> {
    (1..=n)
        .map(|i| {
            let identity = Ed25519SecretKey::from_seed(&[i; 32]);
            Node {
                keys: NodeKeys::from_ed25519(identity.public_key()).unwrap(),
                onion_key: X25519Keypair::from_ed25519(&identity),
            }
        })
        .collect()
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// What one hop receives: the client's body at the guard, a node frame after that.
enum Incoming {
    Client(Vec<u8>),
    Node(Vec<u8>),
}

impl Incoming {
    fn request(&self) -> Result<OnionRequest<'_>, OnionError> {
        match self {
            Self::Client(body) => OnionRequest::from_client_body(body),
            Self::Node(frame) => OnionRequest::from_node_frame(frame),
        }
    }
}

/// Every single-byte corruption of the blob, and of the ephemeral key, makes `node` refuse.
fn assert_tampering_rejected(node: &Node, request: &OnionRequest<'_>, hop: usize) {
    for i in 0..request.blob.len() {
        let mut bad = request.clone();
        bad.blob.to_mut()[i] ^= 0x01;
        let err = node.onion_key.open(&bad).unwrap_err();
        assert_eq!(err, OnionError::Decrypt, "hop {hop}, blob byte {i}");
    }
    for i in 0..32 {
        let mut bad = request.clone();
        bad.ephemeral_key.0[i] ^= 0x04;
        assert!(
            node.onion_key.open(&bad).is_err(),
            "hop {hop}, key byte {i}"
        );
    }
    let mut short = request.clone();
    short.blob.to_mut().truncate(10);
    assert!(node.onion_key.open(&short).is_err(), "hop {hop}, truncated");
}

/// Flipping the low or high bit of any byte of the message as received either makes `node`
/// refuse it or changes nothing but the (unauthenticated) hop count.
fn assert_wire_tampering_rejected(
    node: &Node,
    incoming: &Incoming,
    original: &OnionRequest<'_>,
    hop: usize,
) {
    let bytes = match incoming {
        Incoming::Client(b) | Incoming::Node(b) => b,
    };
    for i in 0..bytes.len() {
        for bit in [0x01, 0x80] {
            let mut bad = bytes.clone();
            bad[i] ^= bit;
            let bad = match incoming {
                Incoming::Client(_) => Incoming::Client(bad),
                Incoming::Node(_) => Incoming::Node(bad),
            };
            let Ok(request) = bad.request() else { continue };
            if node.onion_key.open(&request).is_ok() {
                // X25519 ignores the top bit of a public key (RFC 7748), so flipping it
                // leaves the agreement, and the layer, as they were.
                let mut ephemeral_key = request.ephemeral_key;
                ephemeral_key.0[31] &= 0x7f;
                let same_layer = OnionRequest {
                    hop_no: original.hop_no,
                    ephemeral_key,
                    ..request
                };
                assert_eq!(
                    &same_layer, original,
                    "hop {hop}: byte {i} ^ {bit:#x} accepted"
                );
            }
        }
    }
}

#[test]
fn storage_rpc_through_three_hops() {
    let mut rng = rng();
    let all = nodes(5);
    let (path, dest, outsider) = (&all[..3], &all[3], &all[4]);
    let path_keys: Vec<NodeKeys> = path.iter().map(|n| n.keys).collect();
    let mut rpc = br#"{"method":"retrieve","params":{"pubkey":"05","data":""#.to_vec();
    rpc.extend(std::iter::repeat_n(b'A', 1024));
    rpc.extend_from_slice(br#""}}"#);

    for enc in [EncType::AesGcm, EncType::XChaCha20] {
        let onion = build(
            &path_keys,
            &Destination::Node {
                node: dest.keys,
                rpc: &rpc,
            },
            enc,
            &mut rng,
        )
        .unwrap();
        assert_eq!(onion.guard, path[0].keys);
        // The guard's body names no node and does not carry the RPC in the clear.
        for n in &all {
            assert!(!contains(
                &onion.body,
                hex::encode(n.keys.ed25519.0).as_bytes()
            ));
            assert!(!contains(&onion.body, &n.keys.ed25519.0));
        }
        assert!(!contains(&onion.body, b"retrieve"));

        let route: Vec<&Node> = path.iter().chain([dest]).collect();
        let mut incoming = Incoming::Client(onion.body.clone());
        for (hop, node) in route.iter().enumerate() {
            let request = incoming.request().unwrap();
            assert_eq!(request.enc_type, enc);
            assert_eq!(request.hop_no, u64::try_from(hop).unwrap());
            // Nobody else can open this hop's layer.
            assert_eq!(
                outsider.onion_key.open(&request).unwrap_err(),
                OnionError::Decrypt
            );
            assert_tampering_rejected(node, &request, hop);
            assert_wire_tampering_rejected(node, &incoming, &request, hop);

            let layer = node.onion_key.open(&request).unwrap();
            let plaintext = layer.plaintext();
            // A hop sees the next hop's identity and no other node's.
            let next = route.get(hop + 1);
            for n in &all {
                let named = contains(plaintext, hex::encode(n.keys.ed25519.0).as_bytes());
                let is_next = next.is_some_and(|x| x.keys == n.keys);
                assert_eq!(named, is_next, "hop {hop} and node {:?}", n.keys.ed25519);
            }
            assert_eq!(
                contains(plaintext, b"retrieve"),
                next.is_none(),
                "hop {hop}"
            );

            match layer.route().unwrap() {
                Decision::RelayToNode { next_node, request } => {
                    assert_eq!(Some(next_node), next.map(|n| n.keys.ed25519));
                    assert_eq!(request.hop_no, u64::try_from(hop).unwrap() + 1);
                    incoming = Incoming::Node(request.to_node_frame());
                }
                Decision::FinalDestination(fin) => {
                    assert_eq!(hop, 3);
                    assert_eq!(fin.body, &rpc[..]);
                    let answer = r#"{"messages":[],"more":false,"t":1700000000000}"#;
                    let reply = seal_v3(
                        layer.reply_key(),
                        200,
                        ReplyBody::Json(answer),
                        fin.options,
                        &mut rng,
                    )
                    .unwrap();
                    // Intermediate nodes pass the reply back unchanged; the client reads it.
                    let read = onion.response_key.open_v3(&reply).unwrap();
                    assert_eq!((read.status, read.body.as_str()), (200, answer));
                }
                other => panic!("hop {hop}: unexpected {other:?}"),
            }
        }
    }
}

#[test]
fn v4_request_to_a_server() {
    let mut rng = rng();
    let all = nodes(3);
    let path_keys: Vec<NodeKeys> = all.iter().map(|n| n.keys).collect();
    let server = X25519Keypair::generate(&mut rng);
    let request = V4Request {
        method: "GET".into(),
        endpoint: "/room/sudoku".into(),
        headers: vec![],
        body: None,
    };
    let encoded = request.encode();
    let onion = build(
        &path_keys,
        &Destination::Server(ServerDestination {
            host: "open.example",
            port: None,
            protocol: Protocol::Https,
            target: V4_TARGET,
            x25519: *server.public_key(),
            request: &encoded,
        }),
        EncType::XChaCha20,
        &mut rng,
    )
    .unwrap();

    let mut incoming = Incoming::Client(onion.body);
    let payload = loop {
        let request = incoming.request().unwrap();
        let node = all
            .iter()
            .find(|n| n.onion_key.open(&request).is_ok())
            .unwrap();
        let layer = node.onion_key.open(&request).unwrap();
        match layer.route().unwrap() {
            Decision::RelayToNode { request, .. } => {
                incoming = Incoming::Node(request.to_node_frame());
            }
            Decision::RelayToServer(relay) => {
                assert_eq!(node.keys, all[2].keys, "the exit proxies");
                assert_eq!(relay.url(), "https://open.example/oxen/v4/lsrpc");
                break relay.payload.to_vec();
            }
            other => panic!("unexpected {other:?}"),
        }
    };
    // The server reads the proxied layer like a node would, and answers raw (v4).
    let proxied = OnionRequest::from_client_body(&payload).unwrap();
    let opened = server.open(&proxied).unwrap();
    assert_eq!(V4Request::decode(opened.plaintext()).unwrap(), request);
    let response = V4Response {
        code: 200,
        headers: vec![("content-type".into(), "application/json".into())],
        body: Some(br#"{"id":1}"#.to_vec()),
    };
    let reply = opened
        .reply_key()
        .encrypt(&response.encode(), &mut rng)
        .unwrap();
    assert_eq!(onion.response_key.open_v4(&reply).unwrap(), response);
}

#[test]
fn hop_limit_and_relay_errors() {
    let mut rng = rng();
    let all = nodes(2);
    let keys: Vec<NodeKeys> = all.iter().map(|n| n.keys).collect();
    let onion = build(
        &keys[..1],
        &Destination::Node {
            node: keys[1],
            rpc: b"{}",
        },
        EncType::AesGcm,
        &mut rng,
    )
    .unwrap();
    let request = OnionRequest::from_client_body(&onion.body).unwrap();
    for (hop_no, ok) in [(15, true), (16, false)] {
        let r = OnionRequest {
            hop_no,
            ..request.clone()
        };
        let opened = all[0].onion_key.open(&r);
        assert_eq!(opened.is_ok(), ok, "hop {hop_no}");
        if let Ok(layer) = opened {
            let Decision::RelayToNode { request, .. } = layer.route().unwrap() else {
                panic!("not a relay")
            };
            assert_eq!(request.hop_no, 16);
            let frame = request.to_node_frame();
            let next = OnionRequest::from_node_frame(&frame).unwrap();
            assert_eq!(
                all[1].onion_key.open(&next).unwrap_err(),
                OnionError::HopLimit { hop_no: 16 }
            );
        }
    }

    // A disallowed target is refused by route() but seen by Decision::parse.
    let eph = X25519Keypair::generate(&mut rng);
    let key = sotto_onion::HopKey::for_client(EncType::AesGcm, &eph, all[0].onion_key.public_key())
        .unwrap();
    let plaintext =
        sotto_onion::layer::join(b"x", br#"{"host":"h","target":"/oxen/v4/lsrpc?a"}"#).unwrap();
    let request = OnionRequest {
        blob: key.encrypt(&plaintext, &mut rng).unwrap().into(),
        ephemeral_key: *eph.public_key(),
        enc_type: EncType::AesGcm,
        hop_no: 0,
    };
    let layer = all[0].onion_key.open(&request).unwrap();
    assert!(matches!(
        layer.route(),
        Err(OnionError::TargetNotAllowed(_))
    ));
    assert!(matches!(
        Decision::parse(layer.plaintext(), 1),
        Ok(Decision::RelayToServer(_))
    ));
    // The error goes back encrypted under the layer's key.
    let reply = seal_v3(
        layer.reply_key(),
        400,
        ReplyBody::Text("Invalid url"),
        Default::default(),
        &mut rng,
    )
    .unwrap();
    let read = sotto_onion::ResponseKey::new(key).open_v3(&reply).unwrap();
    assert_eq!((read.status, read.body.as_str()), (400, "Invalid url"));
}

/// S-06: a `host` that smuggles a port, path, query or user info into the exit's URL (or a
/// port of 0) is refused by route(), though Decision::parse reads it; build() refuses to
/// write one.
#[test]
fn injected_relay_hosts_are_refused() {
    let mut rng = rng();
    let all = nodes(1);
    for json in [
        r#"{"host":"10.0.0.5:8080/admin/x?","target":"/oxen/v4/lsrpc"}"#,
        r#"{"host":"example.com/x","target":"/oxen/v4/lsrpc"}"#,
        r#"{"host":"example.com?","target":"/oxen/v4/lsrpc"}"#,
        r#"{"host":"a@example.com","target":"/oxen/v4/lsrpc"}"#,
        r#"{"host":"example.com:22","target":"/oxen/v4/lsrpc"}"#,
        r#"{"host":"example.com","port":0,"target":"/oxen/v4/lsrpc"}"#,
    ] {
        let eph = X25519Keypair::generate(&mut rng);
        let key =
            sotto_onion::HopKey::for_client(EncType::AesGcm, &eph, all[0].onion_key.public_key())
                .unwrap();
        let plaintext = sotto_onion::layer::join(b"x", json.as_bytes()).unwrap();
        let request = OnionRequest {
            blob: key.encrypt(&plaintext, &mut rng).unwrap().into(),
            ephemeral_key: *eph.public_key(),
            enc_type: EncType::AesGcm,
            hop_no: 0,
        };
        let layer = all[0].onion_key.open(&request).unwrap();
        assert!(
            matches!(layer.route(), Err(OnionError::HostNotAllowed(_))),
            "{json}"
        );
        assert!(matches!(
            Decision::parse(layer.plaintext(), 1),
            Ok(Decision::RelayToServer(_))
        ));
    }
    let node = all[0].keys;
    for (host, port) in [("10.0.0.5:8080/admin/x?", Some(80)), ("h", Some(0))] {
        let server = Destination::Server(ServerDestination {
            host,
            port,
            protocol: Protocol::Http,
            target: "/oxen/v4/lsrpc",
            x25519: node.x25519,
            request: b"",
        });
        assert!(matches!(
            build(&[node], &server, EncType::AesGcm, &mut rng),
            Err(OnionError::BadServerHost(_))
        ));
    }
}

#[test]
fn path_length_limits() {
    let mut rng = rng();
    let all = nodes(1);
    let node = all[0].keys;
    let dest = Destination::Node { node, rpc: b"{}" };
    assert!(matches!(
        build(&[], &dest, EncType::AesGcm, &mut rng),
        Err(OnionError::PathLength { nodes: 0, .. })
    ));
    assert!(build(&[node; 15], &dest, EncType::AesGcm, &mut rng).is_ok());
    assert!(matches!(
        build(&[node; 16], &dest, EncType::AesGcm, &mut rng),
        Err(OnionError::PathLength { nodes: 16, max: 15 })
    ));
    let server = Destination::Server(ServerDestination {
        host: "h",
        port: Some(80),
        protocol: Protocol::Http,
        target: "/not/allowed",
        x25519: node.x25519,
        request: b"",
    });
    assert!(matches!(
        build(&[node], &server, EncType::AesGcm, &mut rng),
        Err(OnionError::BadServerTarget(_))
    ));
}
