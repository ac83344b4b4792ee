//! The HTTPS server loop.

use std::convert::Infallible;
use std::future::Future;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

use crate::{Request, Response, TlsIdentity};

/// How long a client may take to finish the TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

fn to_hyper(resp: Response) -> hyper::Response<Full<Bytes>> {
    let mut builder = hyper::Response::builder().status(resp.status);
    for (name, value) in &resp.headers {
        builder = builder.header(name, value);
    }
    builder.body(Full::new(resp.body)).unwrap_or_else(|_| {
        let mut fallback = hyper::Response::new(Full::new(Bytes::from_static(b"bad response")));
        *fallback.status_mut() = hyper::StatusCode::INTERNAL_SERVER_ERROR;
        fallback
    })
}

/// Serves HTTPS on `listener` until accepting fails. Each request's body is read whole, up to
/// `max_body` bytes (larger bodies get `413`), and passed to `handler` with the peer address.
pub async fn serve<H, F>(
    listener: TcpListener,
    tls: TlsIdentity,
    max_body: usize,
    handler: H,
) -> std::io::Result<()>
where
    H: Fn(Request) -> F + Clone + Send + Sync + 'static,
    F: Future<Output = Response> + Send + 'static,
{
    let acceptor = TlsAcceptor::from(tls.config.clone());
    loop {
        let (tcp, peer) = match listener.accept().await {
            Ok(conn) => conn,
            // Too many open files and similar: back off briefly instead of spinning.
            Err(e) if is_transient(&e) => {
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
            Err(e) => return Err(e),
        };
        let acceptor = acceptor.clone();
        let handler = handler.clone();
        tokio::spawn(async move {
            let _ = tcp.set_nodelay(true);
            let Ok(Ok(stream)) =
                tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await
            else {
                return;
            };
            let service = service_fn(move |req: hyper::Request<Incoming>| {
                let handler = handler.clone();
                async move {
                    let (parts, body) = req.into_parts();
                    let resp = match Limited::new(body, max_body).collect().await {
                        Ok(collected) => {
                            let request = Request {
                                method: parts.method.as_str().to_owned(),
                                path: parts
                                    .uri
                                    .path_and_query()
                                    .map_or("/", |p| p.as_str())
                                    .to_owned(),
                                headers: parts
                                    .headers
                                    .iter()
                                    .filter_map(|(n, v)| {
                                        Some((n.as_str().to_owned(), v.to_str().ok()?.to_owned()))
                                    })
                                    .collect(),
                                body: collected.to_bytes(),
                                peer,
                            };
                            handler(request).await
                        }
                        Err(_) => Response::text(413, "request body too large"),
                    };
                    Ok::<_, Infallible>(to_hyper(resp))
                }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

fn is_transient(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::ConnectionAborted
            | std::io::ErrorKind::ConnectionReset
            | std::io::ErrorKind::Interrupted
            | std::io::ErrorKind::WouldBlock
    ) || e.raw_os_error().is_some_and(|c| c == 23 || c == 24)
}
