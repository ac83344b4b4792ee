//! The server shell's deadlines and caps on real loopback sockets (S-04): an idle TLS
//! connection is closed, a header sent byte by byte is cut off, a body that never finishes
//! gets 408, connections over the per-address cap are closed at once, and admission answers
//! before the body is read.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    reason = "test code"
)]

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use sotto_crypto::Ed25519SecretKey;
use sotto_transport::{Admission, Response, ServerLimits, TlsIdentity, serve_with};
use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio_rustls::client::TlsStream;

/// Accepts any certificate: these tests are about timing, not identity.
#[derive(Debug)]
struct AnyCert;

impl rustls::client::danger::ServerCertVerifier for AnyCert {
    fn verify_server_cert(
        &self,
        _: &rustls::pki_types::CertificateDer<'_>,
        _: &[rustls::pki_types::CertificateDer<'_>],
        _: &rustls::pki_types::ServerName<'_>,
        _: &[u8],
        _: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        _: &[u8],
        _: &rustls::pki_types::CertificateDer<'_>,
        _: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        Ok(rustls::client::danger::HandshakeSignatureValid::assertion())
    }

    fn verify_tls13_signature(
        &self,
        _: &[u8],
        _: &rustls::pki_types::CertificateDer<'_>,
        _: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        Ok(rustls::client::danger::HandshakeSignatureValid::assertion())
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        vec![rustls::SignatureScheme::ED25519]
    }
}

fn limits() -> ServerLimits {
    let mut limits = ServerLimits::new(1024).with_route_body("/big", 4096);
    limits.max_connections_per_ip = 2;
    limits.header_timeout = Duration::from_secs(1);
    limits.idle_timeout = Duration::from_secs(1);
    limits.request_timeout = Duration::from_secs(1);
    limits.handshake_timeout = Duration::from_secs(1);
    limits
}

async fn start(host: u8, admission: Option<Admission>) -> SocketAddr {
    let listener = TcpListener::bind((Ipv4Addr::new(127, 174, 0, host), 0))
        .await
        .unwrap();
    let addr = listener.local_addr().unwrap();
    let tls = TlsIdentity::new(&Ed25519SecretKey::from_seed(&[host; 32])).unwrap();
    tokio::spawn(serve_with(
        listener,
        tls,
        limits(),
        admission,
        |req| async move { Response::text(200, format!("{} bytes", req.body.len())) },
    ));
    addr
}

async fn tcp(from: u8, to: SocketAddr) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    socket
        .bind(SocketAddr::from((Ipv4Addr::new(127, 174, 1, from), 0)))
        .unwrap();
    socket.connect(to).await.unwrap()
}

async fn tls(from: u8, to: SocketAddr) -> TlsStream<TcpStream> {
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_protocol_versions(&[&rustls::version::TLS13])
    .unwrap()
    .dangerous()
    .with_custom_certificate_verifier(Arc::new(AnyCert))
    .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let name = rustls::pki_types::ServerName::try_from("sotto.invalid").unwrap();
    connector.connect(name, tcp(from, to).await).await.unwrap()
}

/// Reads until the peer closes (or 5 s pass); returns what was read and whether it closed.
async fn read_to_close(stream: &mut (impl AsyncRead + Unpin)) -> (String, bool) {
    let mut all = Vec::new();
    let mut buf = [0u8; 1024];
    let closed = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => all.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await
    .is_ok();
    (String::from_utf8_lossy(&all).into_owned(), closed)
}

#[tokio::test]
async fn an_idle_tls_connection_is_closed() {
    let addr = start(1, None).await;
    let mut conn = tls(1, addr).await;
    let started = Instant::now();
    let (_, closed) = read_to_close(&mut conn).await;
    assert!(closed, "an idle connection was kept open");
    assert!(started.elapsed() < Duration::from_secs(4));
    // After a request, the connection is closed again once idle.
    let mut conn = tls(1, addr).await;
    conn.write_all(b"GET /x HTTP/1.1\r\nhost: s\r\n\r\n")
        .await
        .unwrap();
    let (text, closed) = read_to_close(&mut conn).await;
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    assert!(closed, "an idle keep-alive connection was kept open");
}

#[tokio::test]
async fn a_header_sent_slowly_is_cut_off() {
    let addr = start(2, None).await;
    let mut conn = tls(2, addr).await;
    conn.write_all(b"POST /x HTTP/1.1\r\nhost: s\r\n")
        .await
        .unwrap();
    conn.flush().await.unwrap();
    let started = Instant::now();
    let drip = async {
        for _ in 0..8 {
            tokio::time::sleep(Duration::from_millis(300)).await;
            if conn.write_all(b"x-a: b\r\n").await.is_err() {
                break;
            }
            let _ = conn.flush().await;
        }
    };
    drip.await;
    let (text, closed) = read_to_close(&mut conn).await;
    assert!(closed && !text.contains(" 200"), "{text}");
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[tokio::test]
async fn a_body_that_never_finishes_gets_408() {
    let addr = start(3, None).await;
    let mut conn = tls(3, addr).await;
    conn.write_all(b"POST /x HTTP/1.1\r\nhost: s\r\ncontent-length: 100\r\n\r\nabc")
        .await
        .unwrap();
    let (text, closed) = read_to_close(&mut conn).await;
    assert!(text.starts_with("HTTP/1.1 408"), "{text}");
    assert!(closed);
}

#[tokio::test]
async fn connections_over_the_per_address_cap_are_closed_at_once() {
    let addr = start(4, None).await;
    let _a = tls(4, addr).await;
    let _b = tls(4, addr).await;
    let mut third = tcp(4, addr).await;
    let mut buf = [0u8; 8];
    let read = tokio::time::timeout(Duration::from_millis(500), third.read(&mut buf)).await;
    assert!(
        matches!(read, Ok(Ok(0) | Err(_))),
        "a third connection was kept"
    );
    // Another address is unaffected.
    let mut other = tls(5, addr).await;
    other
        .write_all(b"GET /x HTTP/1.1\r\nhost: s\r\nconnection: close\r\n\r\n")
        .await
        .unwrap();
    let (text, _) = read_to_close(&mut other).await;
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
}

#[tokio::test]
async fn admission_and_route_caps_answer_before_the_body() {
    let admission: Admission = Arc::new(|head| {
        if head.path == "/refused" {
            Err(Response::text(429, "slow down"))
        } else {
            Ok(())
        }
    });
    let addr = start(6, Some(admission)).await;
    for (path, len, status) in [
        ("/refused", 10, "429"),
        ("/x", 1025, "413"),
        ("/big", 4097, "413"),
    ] {
        let mut conn = tls(6, addr).await;
        let head = format!("POST {path} HTTP/1.1\r\nhost: s\r\ncontent-length: {len}\r\n\r\n");
        conn.write_all(head.as_bytes()).await.unwrap();
        let mut buf = [0u8; 64];
        let n = tokio::time::timeout(Duration::from_millis(800), conn.read(&mut buf))
            .await
            .expect("answered before the body")
            .unwrap();
        let text = String::from_utf8_lossy(&buf[..n]).into_owned();
        assert!(
            text.starts_with(&format!("HTTP/1.1 {status}")),
            "{path}: {text}"
        );
    }
    // Within its route's cap, a body is read.
    let mut conn = tls(6, addr).await;
    let body = vec![b'x'; 4096];
    let head = "POST /big HTTP/1.1\r\nhost: s\r\nconnection: close\r\ncontent-length: 4096\r\n\r\n";
    conn.write_all(head.as_bytes()).await.unwrap();
    conn.write_all(&body).await.unwrap();
    let (text, _) = read_to_close(&mut conn).await;
    assert!(text.contains("4096 bytes"), "{text}");
}
