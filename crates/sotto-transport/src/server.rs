//! The HTTPS server shell every Sotto server uses: connection caps (global and per address),
//! handshake, header, idle and whole-request deadlines, admission per address before a body is
//! read, and body caps per route.

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

use crate::{Request, Response, TlsIdentity};

/// Default [`ServerLimits::max_connections`].
pub const DEFAULT_MAX_CONNECTIONS: usize = 2048;
/// Default [`ServerLimits::max_connections_per_ip`].
pub const DEFAULT_MAX_CONNECTIONS_PER_IP: usize = 64;
/// Default [`ServerLimits::handshake_timeout`].
pub const DEFAULT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Default [`ServerLimits::header_timeout`].
pub const DEFAULT_HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// Default [`ServerLimits::idle_timeout`].
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(30);
/// Default [`ServerLimits::request_timeout`].
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
/// How long the accept loop pauses when the process is out of file descriptors (or a similar
/// transient failure), instead of spinning.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// The limits of one server. Build with [`ServerLimits::new`] and adjust the fields.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ServerLimits {
    /// Open connections at once, from everyone. Further connections are closed at once.
    pub max_connections: usize,
    /// Open connections at once from one IP address. Further connections are closed at once.
    pub max_connections_per_ip: usize,
    /// Time to finish the TLS handshake.
    pub handshake_timeout: Duration,
    /// Time to send a request's headers once it has started.
    pub header_timeout: Duration,
    /// A connection with no request in progress for this long is closed (keep-alive idle).
    pub idle_timeout: Duration,
    /// Time to receive a whole request body, from the end of its headers.
    pub request_timeout: Duration,
    /// Body cap of routes without their own cap, bytes.
    pub max_body: usize,
    /// Body caps by exact path (without the query), bytes.
    pub route_max_body: Vec<(String, usize)>,
}

impl ServerLimits {
    /// The default caps and deadlines with `max_body` as the body cap of every route.
    #[must_use]
    pub fn new(max_body: usize) -> Self {
        Self {
            max_connections: DEFAULT_MAX_CONNECTIONS,
            max_connections_per_ip: DEFAULT_MAX_CONNECTIONS_PER_IP,
            handshake_timeout: DEFAULT_HANDSHAKE_TIMEOUT,
            header_timeout: DEFAULT_HEADER_TIMEOUT,
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            max_body,
            route_max_body: Vec::new(),
        }
    }

    /// Gives `path` its own body cap.
    #[must_use]
    pub fn with_route_body(mut self, path: &str, max_body: usize) -> Self {
        self.route_max_body.push((path.to_owned(), max_body));
        self
    }

    /// The body cap of `path` (a path without its query).
    #[must_use]
    pub fn body_cap(&self, path: &str) -> usize {
        self.route_max_body
            .iter()
            .find(|(p, _)| p == path)
            .map_or(self.max_body, |(_, cap)| *cap)
    }
}

/// What admission sees of a request: everything but the body, which has not been read yet.
#[derive(Debug, Clone, Copy)]
pub struct RequestHead<'a> {
    /// `GET`, `POST`, …
    pub method: &'a str,
    /// The path without its query.
    pub path: &'a str,
    /// The TCP peer.
    pub peer: SocketAddr,
    /// The body length the request declares (`content-length`), if it declares one; the body
    /// will be no longer.
    pub content_length: Option<u64>,
}

/// Decides, before the body is read, whether a request may proceed: `Err` is the answer sent
/// instead (for example `429`). It is where a server takes its per-address rate-limit token.
pub type Admission = Arc<dyn Fn(&RequestHead<'_>) -> Result<(), Response> + Send + Sync>;

/// Open connections, in total and per address.
#[derive(Debug, Default)]
pub(crate) struct ConnTable {
    total: usize,
    per_ip: HashMap<IpAddr, usize>,
}

/// One admitted connection; gives its place back when dropped.
pub(crate) struct ConnSlot {
    table: Arc<Mutex<ConnTable>>,
    ip: IpAddr,
}

fn lock(table: &Mutex<ConnTable>) -> std::sync::MutexGuard<'_, ConnTable> {
    table
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl ConnSlot {
    pub(crate) fn acquire(
        table: &Arc<Mutex<ConnTable>>,
        ip: IpAddr,
        limits: &ServerLimits,
    ) -> Option<Self> {
        let mut t = lock(table);
        let mine = t.per_ip.get(&ip).copied().unwrap_or(0);
        if t.total >= limits.max_connections || mine >= limits.max_connections_per_ip {
            return None;
        }
        t.total += 1;
        t.per_ip.insert(ip, mine + 1);
        Some(Self {
            table: Arc::clone(table),
            ip,
        })
    }
}

impl Drop for ConnSlot {
    fn drop(&mut self) {
        let mut t = lock(&self.table);
        t.total = t.total.saturating_sub(1);
        if let Some(n) = t.per_ip.get_mut(&self.ip) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                t.per_ip.remove(&self.ip);
            }
        }
    }
}

/// When a connection last finished a request, and how many it has in progress.
pub(crate) struct Activity {
    pub(crate) start: Instant,
    pub(crate) last_ms: AtomicU64,
    pub(crate) in_flight: AtomicUsize,
}

impl Activity {
    fn now_ms(&self) -> u64 {
        u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    pub(crate) fn idle_for(&self) -> Option<Duration> {
        (self.in_flight.load(Ordering::SeqCst) == 0).then(|| {
            Duration::from_millis(
                self.now_ms()
                    .saturating_sub(self.last_ms.load(Ordering::SeqCst)),
            )
        })
    }
}

/// Marks a request in progress until dropped.
pub(crate) struct Busy(Arc<Activity>);

impl Busy {
    pub(crate) fn new(activity: &Arc<Activity>) -> Self {
        activity.in_flight.fetch_add(1, Ordering::SeqCst);
        Self(Arc::clone(activity))
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.last_ms.store(self.0.now_ms(), Ordering::SeqCst);
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

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

/// Serves HTTPS on `listener` until accepting fails, with the default caps and deadlines of
/// [`ServerLimits::new`] and no admission check. Each request's body is read whole, up to
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
    serve_with(listener, tls, ServerLimits::new(max_body), None, handler).await
}

/// Serves HTTPS on `listener` until accepting fails, within `limits`. Before a request's body
/// is read, its declared length is checked against the route's cap (`413`) and `admission`
/// (when given) decides whether it may proceed. The body is then read whole within the route's
/// cap and [`ServerLimits::request_timeout`] (`408`), and passed to `handler`.
pub async fn serve_with<H, F>(
    listener: TcpListener,
    tls: TlsIdentity,
    limits: ServerLimits,
    admission: Option<Admission>,
    handler: H,
) -> std::io::Result<()>
where
    H: Fn(Request) -> F + Clone + Send + Sync + 'static,
    F: Future<Output = Response> + Send + 'static,
{
    let acceptor = TlsAcceptor::from(tls.config.clone());
    accept_loop(listener, Some(acceptor), limits, admission, handler).await
}

/// Serves plain HTTP on `listener` until accepting fails, with the same caps, deadlines,
/// admission and body caps as [`serve_with`]. For servers that Session clients reach over plain
/// HTTP or through onion requests (the community server), never between Sotto processes.
pub async fn serve_plain_with<H, F>(
    listener: TcpListener,
    limits: ServerLimits,
    admission: Option<Admission>,
    handler: H,
) -> std::io::Result<()>
where
    H: Fn(Request) -> F + Clone + Send + Sync + 'static,
    F: Future<Output = Response> + Send + 'static,
{
    accept_loop(listener, None, limits, admission, handler).await
}

/// The accept loop of [`serve_with`] (with TLS) and [`serve_plain_with`] (without).
async fn accept_loop<H, F>(
    listener: TcpListener,
    acceptor: Option<TlsAcceptor>,
    limits: ServerLimits,
    admission: Option<Admission>,
    handler: H,
) -> std::io::Result<()>
where
    H: Fn(Request) -> F + Clone + Send + Sync + 'static,
    F: Future<Output = Response> + Send + 'static,
{
    let limits = Arc::new(limits);
    let table = Arc::new(Mutex::new(ConnTable::default()));
    loop {
        let (tcp, peer) = match listener.accept().await {
            Ok(conn) => conn,
            // Too many open files and similar: back off briefly instead of spinning.
            Err(e) if is_transient(&e) => {
                tokio::time::sleep(ACCEPT_BACKOFF).await;
                continue;
            }
            Err(e) => return Err(e),
        };
        let Some(slot) = ConnSlot::acquire(&table, peer.ip(), &limits) else {
            // Over a cap: close at once (dropping the socket), without a handshake.
            drop(tcp);
            continue;
        };
        let acceptor = acceptor.clone();
        let handler = handler.clone();
        let limits = Arc::clone(&limits);
        let admission = admission.clone();
        tokio::spawn(async move {
            let _slot = slot;
            let _ = tcp.set_nodelay(true);
            match acceptor {
                Some(acceptor) => {
                    let Ok(Ok(stream)) =
                        tokio::time::timeout(limits.handshake_timeout, acceptor.accept(tcp)).await
                    else {
                        return;
                    };
                    serve_connection(stream, peer, limits, admission, handler).await;
                }
                None => serve_connection(tcp, peer, limits, admission, handler).await,
            }
        });
    }
}

/// Serves the requests of one accepted connection until it closes or idles too long.
async fn serve_connection<S, H, F>(
    stream: S,
    peer: SocketAddr,
    limits: Arc<ServerLimits>,
    admission: Option<Admission>,
    handler: H,
) where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    H: Fn(Request) -> F + Clone + Send + Sync + 'static,
    F: Future<Output = Response> + Send + 'static,
{
    let activity = Arc::new(Activity {
        start: Instant::now(),
        last_ms: AtomicU64::new(0),
        in_flight: AtomicUsize::new(0),
    });
    let service = {
        let activity = Arc::clone(&activity);
        let limits = Arc::clone(&limits);
        service_fn(move |req: hyper::Request<Incoming>| {
            let busy = Busy::new(&activity);
            let handler = handler.clone();
            let limits = Arc::clone(&limits);
            let admission = admission.clone();
            async move {
                let _busy = busy;
                let resp = answer(req, peer, &limits, admission.as_ref(), handler).await;
                Ok::<_, Infallible>(to_hyper(resp))
            }
        })
    };
    let conn = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .serve_connection(TokioIo::new(stream), service);
    let mut conn = std::pin::pin!(conn);
    let tick = (limits.idle_timeout / 4).max(Duration::from_millis(100));
    loop {
        tokio::select! {
            _ = conn.as_mut() => return,
            () = tokio::time::sleep(tick) => {
                if activity.idle_for().is_some_and(|idle| idle >= limits.idle_timeout) {
                    break;
                }
            }
        }
    }
    // Idle too long: close, giving hyper a moment to finish cleanly.
    conn.as_mut().graceful_shutdown();
    let _ = tokio::time::timeout(Duration::from_secs(1), conn).await;
}

/// Checks, admits, reads and answers one request.
async fn answer<H, F>(
    req: hyper::Request<Incoming>,
    peer: SocketAddr,
    limits: &ServerLimits,
    admission: Option<&Admission>,
    handler: H,
) -> Response
where
    H: Fn(Request) -> F,
    F: Future<Output = Response>,
{
    let (parts, body) = req.into_parts();
    let path = parts.uri.path();
    let cap = limits.body_cap(path);
    let declared = parts
        .headers
        .get(hyper::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|len| len > u64::try_from(cap).unwrap_or(u64::MAX)) {
        return Response::text(413, "request body too large");
    }
    if let Some(admit) = admission {
        let head = RequestHead {
            method: parts.method.as_str(),
            path,
            peer,
            content_length: declared,
        };
        if let Err(refusal) = admit(&head) {
            return refusal;
        }
    }
    let read = tokio::time::timeout(limits.request_timeout, Limited::new(body, cap).collect());
    let collected = match read.await {
        Ok(Ok(collected)) => collected,
        Ok(Err(_)) => return Response::text(413, "request body too large"),
        Err(_) => return Response::text(408, "request body not received in time"),
    };
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
            .filter_map(|(n, v)| Some((n.as_str().to_owned(), v.to_str().ok()?.to_owned())))
            .collect(),
        body: collected.to_bytes(),
        peer,
    };
    handler(request).await
}

pub(crate) fn is_transient(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::ConnectionAborted
            | std::io::ErrorKind::ConnectionReset
            | std::io::ErrorKind::Interrupted
            | std::io::ErrorKind::WouldBlock
    ) || e.raw_os_error().is_some_and(|c| c == 23 || c == 24)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connection_caps_per_ip_and_total() {
        let mut limits = ServerLimits::new(10);
        limits.max_connections = 3;
        limits.max_connections_per_ip = 2;
        let table = Arc::new(Mutex::new(ConnTable::default()));
        let a: IpAddr = [10, 0, 0, 1].into();
        let b: IpAddr = [10, 0, 0, 2].into();
        let a1 = ConnSlot::acquire(&table, a, &limits);
        let a2 = ConnSlot::acquire(&table, a, &limits);
        assert!(a1.is_some() && a2.is_some());
        assert!(ConnSlot::acquire(&table, a, &limits).is_none());
        let b1 = ConnSlot::acquire(&table, b, &limits);
        assert!(b1.is_some());
        // Total reached.
        assert!(ConnSlot::acquire(&table, b, &limits).is_none());
        drop(a1);
        assert!(ConnSlot::acquire(&table, a, &limits).is_some());
        drop((a2, b1));
        assert_eq!(lock(&table).total, 0);
        assert!(lock(&table).per_ip.is_empty());
    }

    #[test]
    fn route_caps() {
        let limits = ServerLimits::new(100).with_route_body("/big", 1000);
        assert_eq!(limits.body_cap("/big"), 1000);
        assert_eq!(limits.body_cap("/other"), 100);
    }
}
