//! The plain-HTTP variant of the server shell, for servers that sit behind onion exits (file
//! and community servers, plain HTTP like Session's) and that stream request bodies instead of
//! reading them whole: the same connection caps, header, idle and whole-request deadlines,
//! per-address admission before a body is read, and body caps per route as
//! [`crate::serve_with`], with the body handed to the handler as a [`BodyReader`] and answers
//! that may stream a file ([`StreamResponse`]).

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use http_body_util::{BodyExt, Limited};
use hyper::body::{Body, Frame, Incoming, SizeHint};
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, ReadBuf};
use tokio::net::TcpListener;

use crate::server::{Activity, Busy, ConnSlot, ConnTable, is_transient};
use crate::{Admission, RequestHead, Response, ServerLimits};

/// How many bytes a streamed file answer reads at a time.
const FILE_CHUNK: usize = 64 * 1024;

/// A request whose body has not been read yet.
#[derive(Debug)]
pub struct StreamRequest {
    /// `GET`, `POST`, …
    pub method: String,
    /// The path with its query.
    pub path: String,
    /// Header names (lower case) and values.
    pub headers: Vec<(String, String)>,
    /// The body length the request declares, if it declares one (the body is no longer).
    pub content_length: Option<u64>,
    /// The TCP peer (for rate limiting; never log it).
    pub peer: SocketAddr,
    /// The body, read on demand within the route's cap and the request deadline.
    pub body: BodyReader,
}

impl StreamRequest {
    /// The first value of a header, by case-insensitive name.
    #[must_use]
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Why a request body could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BodyError {
    /// Longer than the route's cap.
    #[error("request body too large")]
    TooLarge,
    /// Not received within the request deadline.
    #[error("request body not received in time")]
    Timeout,
    /// The connection failed while the body was read.
    #[error("the request body could not be read")]
    Broken,
}

impl BodyError {
    /// The answer for it: 413, 408 or 400.
    #[must_use]
    pub fn response(self) -> Response {
        let status = match self {
            Self::TooLarge => 413,
            Self::Timeout => 408,
            Self::Broken => 400,
        };
        Response::text(status, self.to_string())
    }
}

/// A request body, read chunk by chunk.
#[derive(Debug)]
pub struct BodyReader {
    body: Limited<Incoming>,
    deadline: tokio::time::Instant,
}

impl BodyReader {
    /// The next chunk, `None` at the end.
    ///
    /// # Errors
    /// [`BodyError`] when the body is over its cap, late or broken.
    pub async fn chunk(&mut self) -> Result<Option<Bytes>, BodyError> {
        loop {
            let frame = tokio::time::timeout_at(self.deadline, self.body.frame())
                .await
                .map_err(|_| BodyError::Timeout)?;
            match frame {
                None => return Ok(None),
                Some(Err(e)) if e.is::<http_body_util::LengthLimitError>() => {
                    return Err(BodyError::TooLarge);
                }
                Some(Err(_)) => return Err(BodyError::Broken),
                Some(Ok(frame)) => {
                    if let Ok(data) = frame.into_data() {
                        return Ok(Some(data));
                    }
                }
            }
        }
    }

    /// The whole body (within the route's cap).
    ///
    /// # Errors
    /// As [`Self::chunk`].
    pub async fn read_all(mut self) -> Result<Bytes, BodyError> {
        let mut out = BytesMut::new();
        while let Some(chunk) = self.chunk().await? {
            out.extend_from_slice(&chunk);
        }
        Ok(out.freeze())
    }
}

/// An answer whose body is in memory or streamed from an open file.
#[derive(Debug)]
pub struct StreamResponse {
    /// The status code.
    pub status: u16,
    /// Header names and values.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: ResponseBody,
}

/// The body of a [`StreamResponse`].
#[derive(Debug)]
#[non_exhaustive]
pub enum ResponseBody {
    /// Bytes in memory.
    Bytes(Bytes),
    /// The first `len` bytes of an open file, read as they are sent.
    File {
        /// The file, positioned at the start of the body.
        file: tokio::fs::File,
        /// Bytes to send.
        len: u64,
    },
}

impl From<Response> for StreamResponse {
    fn from(r: Response) -> Self {
        Self {
            status: r.status,
            headers: r.headers,
            body: ResponseBody::Bytes(r.body),
        }
    }
}

/// The hyper body of a [`ResponseBody`].
struct OutBody {
    body: Option<ResponseBody>,
    remaining: u64,
}

impl Body for OutBody {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, std::io::Error>>> {
        let this = self.get_mut();
        match this.body.as_mut() {
            None => Poll::Ready(None),
            Some(ResponseBody::Bytes(_)) => match this.body.take() {
                Some(ResponseBody::Bytes(b)) if !b.is_empty() => {
                    Poll::Ready(Some(Ok(Frame::data(b))))
                }
                _ => Poll::Ready(None),
            },
            Some(ResponseBody::File { file, .. }) => {
                if this.remaining == 0 {
                    this.body = None;
                    return Poll::Ready(None);
                }
                let want = usize::try_from(this.remaining)
                    .unwrap_or(usize::MAX)
                    .min(FILE_CHUNK);
                let mut buf = vec![0u8; want];
                let mut read = ReadBuf::new(&mut buf);
                match Pin::new(file).poll_read(cx, &mut read) {
                    Poll::Pending => Poll::Pending,
                    Poll::Ready(Err(e)) => {
                        this.body = None;
                        Poll::Ready(Some(Err(e)))
                    }
                    Poll::Ready(Ok(())) => {
                        let n = read.filled().len();
                        if n == 0 {
                            this.body = None;
                            return Poll::Ready(Some(Err(std::io::Error::new(
                                std::io::ErrorKind::UnexpectedEof,
                                "file shorter than announced",
                            ))));
                        }
                        this.remaining = this
                            .remaining
                            .saturating_sub(u64::try_from(n).unwrap_or(u64::MAX));
                        buf.truncate(n);
                        Poll::Ready(Some(Ok(Frame::data(Bytes::from(buf)))))
                    }
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        match &self.body {
            None => true,
            Some(ResponseBody::Bytes(b)) => b.is_empty(),
            Some(ResponseBody::File { .. }) => self.remaining == 0,
        }
    }

    fn size_hint(&self) -> SizeHint {
        match &self.body {
            None => SizeHint::with_exact(0),
            Some(ResponseBody::Bytes(b)) => {
                SizeHint::with_exact(u64::try_from(b.len()).unwrap_or(u64::MAX))
            }
            Some(ResponseBody::File { .. }) => SizeHint::with_exact(self.remaining),
        }
    }
}

fn to_hyper(resp: StreamResponse) -> hyper::Response<OutBody> {
    let remaining = match &resp.body {
        ResponseBody::Bytes(b) => u64::try_from(b.len()).unwrap_or(u64::MAX),
        ResponseBody::File { len, .. } => *len,
    };
    let mut builder = hyper::Response::builder().status(resp.status);
    for (name, value) in &resp.headers {
        builder = builder.header(name, value);
    }
    builder
        .body(OutBody {
            body: Some(resp.body),
            remaining,
        })
        .unwrap_or_else(|_| {
            let mut fallback = hyper::Response::new(OutBody {
                body: Some(ResponseBody::Bytes(Bytes::from_static(b"bad response"))),
                remaining: 12,
            });
            *fallback.status_mut() = hyper::StatusCode::INTERNAL_SERVER_ERROR;
            fallback
        })
}

/// Serves plain HTTP on `listener` until accepting fails, within `limits` (the TLS handshake
/// deadline does not apply). Before a request's body is read, its declared length is checked
/// against the route's cap (`413`) and `admission` (when given) decides whether it may
/// proceed; the handler then reads the body as it needs, within the route's cap and
/// [`ServerLimits::request_timeout`].
pub async fn serve_http_streaming<H, F>(
    listener: TcpListener,
    limits: ServerLimits,
    admission: Option<Admission>,
    handler: H,
) -> std::io::Result<()>
where
    H: Fn(StreamRequest) -> F + Clone + Send + Sync + 'static,
    F: Future<Output = StreamResponse> + Send + 'static,
{
    let limits = Arc::new(limits);
    let table = Arc::new(Mutex::new(ConnTable::default()));
    loop {
        let (tcp, peer) = match listener.accept().await {
            Ok(conn) => conn,
            Err(e) if is_transient(&e) => {
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
            Err(e) => return Err(e),
        };
        let Some(slot) = ConnSlot::acquire(&table, peer.ip(), &limits) else {
            drop(tcp);
            continue;
        };
        let handler = handler.clone();
        let limits = Arc::clone(&limits);
        let admission = admission.clone();
        tokio::spawn(async move {
            let _slot = slot;
            let _ = tcp.set_nodelay(true);
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
                        let resp = admit(req, peer, &limits, admission.as_ref(), handler).await;
                        Ok::<_, Infallible>(to_hyper(resp))
                    }
                })
            };
            let conn = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(limits.header_timeout)
                .serve_connection(TokioIo::new(tcp), service);
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
            conn.as_mut().graceful_shutdown();
            let _ = tokio::time::timeout(Duration::from_secs(1), conn).await;
        });
    }
}

/// Checks and admits one request, then hands it to the handler.
async fn admit<H, F>(
    req: hyper::Request<Incoming>,
    peer: SocketAddr,
    limits: &ServerLimits,
    admission: Option<&Admission>,
    handler: H,
) -> StreamResponse
where
    H: Fn(StreamRequest) -> F,
    F: Future<Output = StreamResponse>,
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
        return BodyError::TooLarge.response().into();
    }
    if let Some(admit) = admission {
        let head = RequestHead {
            method: parts.method.as_str(),
            path,
            peer,
            content_length: declared,
        };
        if let Err(refusal) = admit(&head) {
            return refusal.into();
        }
    }
    let request = StreamRequest {
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
        content_length: declared,
        peer,
        body: BodyReader {
            body: Limited::new(body, cap),
            deadline: tokio::time::Instant::now() + limits.request_timeout,
        },
    };
    handler(request).await
}
