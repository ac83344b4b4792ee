//! Real sockets on loopback: pinning, limits, source addresses, plain HTTP and timeouts.
#![allow(clippy::unwrap_used, reason = "test code")]

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use sotto_crypto::Ed25519SecretKey;
use sotto_transport::{HttpsClient, Response, TargetPolicy, TlsIdentity, TransportError, serve};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

const T: Duration = Duration::from_secs(5);

async fn start(key: &Ed25519SecretKey, ip: [u8; 4], max_body: usize) -> SocketAddr {
    let listener = TcpListener::bind((Ipv4Addr::from(ip), 0)).await.unwrap();
    let addr = listener.local_addr().unwrap();
    let tls = TlsIdentity::new(key).unwrap();
    tokio::spawn(serve(listener, tls, max_body, |req| async move {
        if req.path == "/slow" {
            tokio::time::sleep(Duration::from_secs(3)).await;
        }
        let who = format!(
            "{} {} {} {}",
            req.method,
            req.path,
            req.peer.ip(),
            req.body.len()
        );
        Response::text(200, who)
    }));
    addr
}

#[tokio::test]
async fn pinned_key_connects_and_a_wrong_key_is_refused() {
    let key = Ed25519SecretKey::from_seed(&[1; 32]);
    let addr = start(&key, [127, 0, 0, 1], 1024).await;
    let client = HttpsClient::new();
    for _ in 0..3 {
        let resp = client
            .post(addr, &key.public_key(), "/a?b=1", &[], b"xyz".to_vec(), T)
            .await
            .unwrap();
        assert_eq!(
            (resp.status, &resp.body[..]),
            (200, &b"POST /a?b=1 127.0.0.1 3"[..])
        );
    }
    let other = Ed25519SecretKey::from_seed(&[2; 32]).public_key();
    let err = client
        .post(addr, &other, "/a", &[], vec![], T)
        .await
        .unwrap_err();
    assert!(matches!(err, TransportError::Tls { .. }), "{err:?}");
}

#[tokio::test]
async fn bodies_over_the_limit_get_413() {
    let key = Ed25519SecretKey::from_seed(&[3; 32]);
    let addr = start(&key, [127, 0, 0, 1], 1024).await;
    let client = HttpsClient::new();
    let ok = client
        .post(addr, &key.public_key(), "/", &[], vec![0; 1024], T)
        .await
        .unwrap();
    assert_eq!(ok.status, 200);
    let big = client
        .post(addr, &key.public_key(), "/", &[], vec![0; 1025], T)
        .await
        .unwrap();
    assert_eq!(big.status, 413);
}

#[tokio::test]
async fn the_server_sees_the_clients_own_loopback_address() {
    let key = Ed25519SecretKey::from_seed(&[4; 32]);
    let addr = start(&key, [127, 0, 0, 1], 1024).await;
    let client = HttpsClient::with_local_addr(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 77)));
    let resp = client
        .post(addr, &key.public_key(), "/", &[], vec![], T)
        .await
        .unwrap();
    assert_eq!(&resp.body[..], b"POST / 127.0.0.77 0");
}

#[tokio::test]
async fn slow_servers_time_out() {
    let key = Ed25519SecretKey::from_seed(&[5; 32]);
    let addr = start(&key, [127, 0, 0, 1], 1024).await;
    let err = HttpsClient::new()
        .post(
            addr,
            &key.public_key(),
            "/slow",
            &[],
            vec![],
            Duration::from_millis(300),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, TransportError::Timeout(_)), "{err:?}");
}

#[tokio::test]
async fn plain_http_urls() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        let (mut conn, _) = listener.accept().await.unwrap();
        let mut buf = vec![0u8; 4096];
        let mut seen = Vec::new();
        while !String::from_utf8_lossy(&seen).contains("hello") {
            let n = conn.read(&mut buf).await.unwrap();
            seen.extend_from_slice(&buf[..n]);
        }
        let head = String::from_utf8_lossy(&seen).to_string();
        assert!(head.starts_with("POST /x/y HTTP/1.1"), "{head}");
        conn.write_all(b"HTTP/1.1 201 Created\r\ncontent-length: 2\r\n\r\nok")
            .await
            .unwrap();
    });
    // The default policy refuses a loopback target before connecting: the listener's
    // single accept is left for the allowed request below.
    let url = format!("http://127.0.0.1:{port}/x/y");
    for refused in [
        url.clone(),
        format!("http://localhost:{port}/x/y"),
        format!("http://[::ffff:127.0.0.1]:{port}/x/y"),
        format!("http://10.0.0.5:{port}/x/y"),
        "http://169.254.169.254/latest/meta-data".to_owned(),
    ] {
        let err = HttpsClient::new()
            .post_url(&refused, &[], b"hello".to_vec(), T)
            .await
            .unwrap_err();
        assert!(
            matches!(err, TransportError::TargetRefused { .. }),
            "{refused}: {err:?}"
        );
    }
    let client = HttpsClient::new().with_target_policy(TargetPolicy::AllowPrivate);
    let resp = client
        .post_url(&url, &[], b"hello".to_vec(), T)
        .await
        .unwrap();
    assert_eq!((resp.status, &resp.body[..]), (201, &b"ok"[..]));
    for bad in [
        "ftp://x",
        "http://:80/",
        "http://127.0.0.1:port/",
        "http://user@127.0.0.1/",
        "http://127.0.0.1/#x",
        "http://127.0.0.1:0/",
        "not a url",
    ] {
        let err = client.post_url(bad, &[], vec![], T).await.unwrap_err();
        assert!(
            matches!(err, TransportError::InvalidUrl { .. }),
            "{bad}: {err:?}"
        );
    }
}

#[tokio::test]
async fn nothing_listening_is_a_connect_error() {
    let key = Ed25519SecretKey::from_seed(&[6; 32]);
    let free = TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap()
        .local_addr()
        .unwrap();
    let err = HttpsClient::new()
        .post(free, &key.public_key(), "/", &[], vec![], T)
        .await
        .unwrap_err();
    assert!(matches!(err, TransportError::Connect { .. }), "{err:?}");
}
