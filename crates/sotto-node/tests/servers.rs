//! Onion requests proxied by the exit node to HTTP and HTTPS servers (real node processes,
//! subnet 143). The server is a test process that reads the last onion layer with its own
//! X25519 key and answers with an encrypted v4 response. An HTTPS server must hold a
//! certificate that the exit trusts: here one from a private CA given to the nodes as
//! `server_ca_file`. A server whose certificate chains nowhere the exit trusts is refused.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

mod common;

use sotto_crypto::OsRng;
use sotto_onion::{
    Destination, EncType, NodeKeys, OnionRequest, Protocol, ServerDestination, V4_TARGET,
    V4Request, V4Response, X25519Keypair,
};
use sotto_testkit::net::{Testnet, TestnetConfig};
use sotto_testkit::web::{TestCa, serve};
use sotto_transport::HttpsClient;

const S: u8 = 143;

fn ip(host: u8) -> Ipv4Addr {
    Ipv4Addr::new(127, S, 0, host)
}

/// A v4 server: opens the layer, echoes the request's endpoint and body in a JSON answer.
fn v4_server(key: Arc<X25519Keypair>) -> sotto_testkit::web::Handler {
    Arc::new(move |path, body| {
        if path != V4_TARGET {
            return (404, b"not found".to_vec());
        }
        let Ok(request) = OnionRequest::from_client_body(body) else {
            return (400, b"bad onion".to_vec());
        };
        let Ok(opened) = key.open(&request) else {
            return (400, b"cannot decrypt".to_vec());
        };
        let Ok(v4) = V4Request::decode(opened.plaintext()) else {
            return (400, b"bad v4 request".to_vec());
        };
        let answer = serde_json::json!({
            "endpoint": v4.endpoint,
            "body": String::from_utf8_lossy(v4.body.as_deref().unwrap_or_default()),
        });
        let response = V4Response {
            code: 200,
            headers: vec![("content-type".into(), "application/json".into())],
            body: Some(answer.to_string().into_bytes()),
        };
        match opened.reply_key().encrypt(&response.encode(), &mut OsRng) {
            Ok(reply) => (200, reply),
            Err(_) => (500, b"cannot encrypt".to_vec()),
        }
    })
}

struct Net {
    net: Testnet,
    _dir: tempfile::TempDir,
}

impl Drop for Net {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("{}", self.net.logs_tail(60));
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn onion_requests_reach_http_and_https_servers() {
    let started = Instant::now();
    let ca = TestCa::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let ca_file = dir.path().join("ca.pem");
    std::fs::write(&ca_file, ca.root_pem()).unwrap();
    let mut cfg = TestnetConfig::new(dir.path().join("net"), common::bin_dir());
    cfg.subnet = S;
    cfg.nodes = 3;
    cfg.node_extra_config = format!("server_ca_file = {:?}\n", ca_file.display().to_string());
    let net = tokio::task::spawn_blocking(move || {
        let mut net = Testnet::start(cfg).unwrap();
        let ready = net.wait_ready(Duration::from_secs(30));
        let net = Net { net, _dir: dir };
        ready.unwrap();
        net
    })
    .await
    .unwrap();

    let server_key = Arc::new(X25519Keypair::generate(&mut OsRng));
    let server_ip = ip(200);
    let host = server_ip.to_string();
    let plain = serve(
        SocketAddr::new(IpAddr::V4(server_ip), 0),
        None,
        v4_server(Arc::clone(&server_key)),
    )
    .await
    .unwrap();
    let trusted = serve(
        SocketAddr::new(IpAddr::V4(server_ip), 0),
        Some(ca.server_config(&[&host]).unwrap()),
        v4_server(Arc::clone(&server_key)),
    )
    .await
    .unwrap();
    let stranger = TestCa::new().unwrap();
    let untrusted = serve(
        SocketAddr::new(IpAddr::V4(server_ip), 0),
        Some(stranger.server_config(&[&host]).unwrap()),
        v4_server(Arc::clone(&server_key)),
    )
    .await
    .unwrap();

    let keys: Vec<NodeKeys> = net
        .net
        .nodes
        .iter()
        .map(|n| NodeKeys::from_ed25519(n.pubkey).unwrap())
        .collect();
    let client = HttpsClient::with_local_addr(IpAddr::V4(ip(201)));
    let guard = &net.net.nodes[0];
    // Sends one request to the server at `port` through guard → middle → exit; returns the
    // HTTP status the guard answered and, on 200, the server's decrypted v4 response.
    let ask = |protocol: Protocol, port: u16, body: &'static str| {
        let (keys, client, host, server) = (&keys, &client, &host, *server_key.public_key());
        async move {
            let request = V4Request {
                method: "POST".into(),
                endpoint: "/echo".into(),
                headers: vec![],
                body: Some(body.as_bytes().to_vec()),
            }
            .encode();
            let onion = sotto_onion::build(
                keys,
                &Destination::Server(ServerDestination {
                    host,
                    port: Some(port),
                    protocol,
                    target: V4_TARGET,
                    x25519: server,
                    request: &request,
                }),
                EncType::XChaCha20,
                &mut OsRng,
            )
            .unwrap();
            let resp = client
                .post(
                    guard.addr,
                    &guard.pubkey,
                    "/onion_req/v2",
                    &[],
                    onion.body,
                    Duration::from_secs(15),
                )
                .await
                .ok()?;
            let answer =
                (resp.status == 200).then(|| onion.response_key.open_v4(&resp.body).unwrap());
            Some((
                resp.status,
                answer,
                String::from_utf8_lossy(&resp.body).into_owned(),
            ))
        }
    };

    // The nodes learn each other from the directory a little after it lists them.
    let deadline = Instant::now() + Duration::from_secs(30);
    let answer = loop {
        if let Some((200, Some(answer), _)) = ask(Protocol::Http, plain.port(), "over http").await {
            break answer;
        }
        assert!(Instant::now() < deadline, "no answer over http");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let json = |r: &V4Response| -> serde_json::Value {
        serde_json::from_slice(r.body.as_deref().unwrap()).unwrap()
    };
    assert_eq!(answer.code, 200);
    assert_eq!(json(&answer)["body"], "over http");

    let (status, answer, _) = ask(Protocol::Https, trusted.port(), "over https")
        .await
        .unwrap();
    assert_eq!(status, 200);
    let answer = answer.unwrap();
    assert_eq!(json(&answer)["endpoint"], "/echo");
    assert_eq!(json(&answer)["body"], "over https");

    // A certificate from a CA the exit does not trust: the exit refuses to proxy, in plain
    // text (it has no reply key for the server's layer), and the server never answers.
    let (status, answer, text) = ask(Protocol::Https, untrusted.port(), "refused")
        .await
        .unwrap();
    assert_eq!((status, answer), (502, None), "{text}");
    assert!(text.contains("Unable to reach the server"), "{text}");
    eprintln!("server proxy test took {:?}", started.elapsed());
}
