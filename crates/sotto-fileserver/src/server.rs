//! The file server process: the plain-HTTP shell of `sotto-transport`, the routes, onion v4
//! requests opened with the server's own key, the expiry sweep.
// A refusal is the whole answer (`Reply`), built once per request: its size does not matter.
#![allow(clippy::result_large_err)]

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use sotto_crypto::OsRng;
use sotto_onion::{V4Response, X25519Keypair, open_v4};
use sotto_transport::ratelimit::{PerAddress, Rate};
use sotto_transport::{
    Admission, BodyReader, RequestHead, Response, ResponseBody, ServerLimits, StreamRequest,
    StreamResponse, serve_http_streaming,
};
use thiserror::Error;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpListener;

use crate::api::{self, NoRoute, Route};
use crate::config::Config;
use crate::id::FileId;
use crate::store::{FileRow, Store, StoreError};

/// Bytes an onion request may carry beyond the largest file: v4 framing, headers and the
/// layer's JSON and encryption.
pub const ONION_OVERHEAD: usize = 64 * 1024;
/// The body cap of routes that take no body.
const SMALL_BODY: usize = 4096;

/// Why the server could not start or stopped.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum ServerError {
    /// The data directory, key or database is unusable.
    #[error("{0}")]
    Identity(#[from] sotto_transport::identity::IdentityError),
    /// The store could not be opened.
    #[error("{0}")]
    Store(#[from] StoreError),
    /// The data directory could not be created.
    #[error("data directory {path}: {source}", path = path.display())]
    DataDir {
        /// The directory.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// Listening failed.
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        /// The address.
        addr: std::net::SocketAddr,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

/// Now, in unix seconds.
fn now_s() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// An answer before it is written for plain HTTP or sealed for an onion reply.
struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: ResponseBody,
}

impl Reply {
    fn json(status: u16, value: &serde_json::Value) -> Self {
        Self {
            status,
            headers: vec![("content-type".into(), "application/json".into())],
            body: ResponseBody::Bytes(Bytes::from(value.to_string())),
        }
    }

    fn error(status: u16) -> Self {
        Self::error_with(status, None)
    }

    fn error_with(status: u16, message: Option<&str>) -> Self {
        Self {
            status,
            headers: vec![("content-type".into(), "application/json".into())],
            body: ResponseBody::Bytes(Bytes::from(api::error_body(status, message))),
        }
    }
}

/// The body of a request as the routes see it.
enum Body {
    /// Plain HTTP: streamed.
    Stream(BodyReader),
    /// An onion request's body (already in memory).
    Memory(Option<Vec<u8>>),
}

/// The running server's state.
pub struct FileServer {
    config: Config,
    store: Arc<Store>,
    keypair: X25519Keypair,
    used: AtomicU64,
}

/// Removes a partial upload unless it was committed.
struct TmpGuard(Option<PathBuf>);

impl Drop for TmpGuard {
    fn drop(&mut self) {
        if let Some(p) = self.0.take() {
            let _ = std::fs::remove_file(p);
        }
    }
}

impl FileServer {
    /// Opens the data directory (0700; `identity.key` created if missing) and the store.
    ///
    /// # Errors
    /// [`ServerError`] when they cannot be used.
    pub fn open(config: Config) -> Result<Self, ServerError> {
        let identity = sotto_transport::identity::load_or_create(&config.data_dir, &mut OsRng)?;
        let keypair = X25519Keypair::from_ed25519(&identity.key);
        let store = Store::open(&config.data_dir)?;
        let used = store.used_bytes()?;
        Ok(Self {
            config,
            store: Arc::new(store),
            keypair,
            used: AtomicU64::new(used),
        })
    }

    /// The X25519 key clients encrypt onion requests to.
    #[must_use]
    pub fn x25519(&self) -> &sotto_crypto::X25519PublicKey {
        self.keypair.public_key()
    }

    async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Store) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, Reply> {
        let store = Arc::clone(&self.store);
        match tokio::task::spawn_blocking(move || f(&store)).await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "storage failed");
                Err(Reply::error(500))
            }
            Err(_) => Err(Reply::error(500)),
        }
    }

    /// Handles one request of any route but the onion one.
    async fn handle(
        &self,
        method: &str,
        endpoint: &str,
        headers: &[(String, String)],
        content_length: Option<u64>,
        body: Body,
    ) -> Reply {
        let route = match api::route(method, endpoint) {
            Ok(Route::Onion) | Err(NoRoute::NotFound) => return Reply::error(404),
            Err(NoRoute::Method) => return Reply::error(405),
            Ok(r) => r,
        };
        let reply = match route {
            Route::Upload => self.upload(headers, content_length, body).await,
            Route::Download(id) => self.download(id).await,
            Route::Info(id) => self.info(id).await,
            Route::Extend(id) => self.extend(id, headers).await,
            Route::Onion => Err(Reply::error(404)),
        };
        let reply = reply.unwrap_or_else(|r| r);
        tracing::debug!(method, status = reply.status, "request");
        reply
    }

    fn ttl(&self, headers: &[(String, String)]) -> Result<Option<u64>, Reply> {
        api::ttl_header(
            api::header(headers, "x-fs-ttl"),
            self.config.max_ttl.as_secs(),
        )
        .map_err(|_| Reply::error(400))
    }

    fn quota_full() -> Reply {
        Reply::error_with(
            507,
            Some("the file server's storage quota is full; try again later"),
        )
    }

    async fn upload(
        &self,
        headers: &[(String, String)],
        content_length: Option<u64>,
        body: Body,
    ) -> Result<Reply, Reply> {
        let ttl = self
            .ttl(headers)?
            .unwrap_or(self.config.default_ttl.as_secs());
        let max = self.config.max_file_size;
        if content_length.is_some_and(|n| n > max) {
            return Err(Reply::error(413));
        }
        let quota = self.config.quota_bytes;
        let used = self.used.load(Ordering::SeqCst);
        if content_length.is_some_and(|n| used.saturating_add(n) > quota) {
            return Err(Self::quota_full());
        }
        let tmp = self
            .store
            .tmp_dir()
            .join(hex::encode(rand::random::<[u8; 16]>()));
        let mut guard = TmpGuard(Some(tmp.clone()));
        let mut file = tokio::fs::File::create(&tmp).await.map_err(|e| {
            tracing::warn!(error = %e, "cannot create an upload file");
            Reply::error(500)
        })?;
        let mut hasher = FileId::hasher();
        let mut size = 0u64;
        let mut write = |chunk: &[u8], size: &mut u64| -> Result<(), Reply> {
            *size = size.saturating_add(u64::try_from(chunk.len()).unwrap_or(u64::MAX));
            if *size > max {
                return Err(Reply::error(413));
            }
            if used.saturating_add(*size) > quota {
                return Err(Self::quota_full());
            }
            hasher.update(chunk);
            Ok(())
        };
        let io_fail = |e: std::io::Error| {
            tracing::warn!(error = %e, "cannot write an upload");
            Reply::error(500)
        };
        match body {
            Body::Stream(mut reader) => loop {
                match reader.chunk().await {
                    Ok(Some(chunk)) => {
                        write(&chunk, &mut size)?;
                        file.write_all(&chunk).await.map_err(io_fail)?;
                    }
                    Ok(None) => break,
                    Err(e) => {
                        let r = e.response();
                        return Err(Reply::error(r.status));
                    }
                }
            },
            Body::Memory(bytes) => {
                let bytes = bytes.unwrap_or_default();
                write(&bytes, &mut size)?;
                file.write_all(&bytes).await.map_err(io_fail)?;
            }
        }
        if size == 0 {
            return Err(Reply::error(413));
        }
        file.flush().await.map_err(io_fail)?;
        file.sync_all().await.map_err(io_fail)?;
        drop(file);
        let id = FileId::from_hasher(&hasher);
        let now = now_s();
        #[allow(clippy::cast_precision_loss)]
        let ttl_s = ttl as f64;
        let commit_id = id.clone();
        let (row, new) = self
            .blocking(move |s| s.commit(&tmp, &commit_id, size, now, ttl_s))
            .await?;
        guard.0 = None;
        if new {
            self.used.fetch_add(size, Ordering::SeqCst);
        }
        tracing::info!(id = %id.short(), size, new, "file stored");
        Ok(Reply::json(
            200,
            &serde_json::json!({ "id": row.id.as_str(), "expires": row.expires }),
        ))
    }

    async fn lookup(&self, id: FileId) -> Result<FileRow, Reply> {
        let now = now_s();
        self.blocking(move |s| s.get(&id, now))
            .await?
            .ok_or_else(|| Reply::error(404))
    }

    async fn download(&self, id: FileId) -> Result<Reply, Reply> {
        let row = self.lookup(id).await?;
        let path = self.store.path_of(&row.id);
        let file = tokio::fs::File::open(&path)
            .await
            .map_err(|_| Reply::error(404))?;
        Ok(Reply {
            status: 200,
            headers: vec![
                ("content-type".into(), "application/octet-stream".into()),
                ("expires".into(), http_date(row.expires)),
            ],
            body: ResponseBody::File {
                file,
                len: row.size,
            },
        })
    }

    async fn info(&self, id: FileId) -> Result<Reply, Reply> {
        let row = self.lookup(id).await?;
        Ok(Reply::json(200, &row_json(&row)))
    }

    async fn extend(&self, id: FileId, headers: &[(String, String)]) -> Result<Reply, Reply> {
        let ttl = self
            .ttl(headers)?
            .unwrap_or(self.config.default_ttl.as_secs());
        // Compat (short) ids are never extended (Session's server answers 404).
        if !id.is_hash_id() {
            return Err(Reply::error(404));
        }
        let now = now_s();
        #[allow(clippy::cast_precision_loss)]
        let ttl_s = ttl as f64;
        let row = self
            .blocking(move |s| s.extend(&id, now, ttl_s))
            .await?
            .ok_or_else(|| Reply::error(404))?;
        Ok(Reply::json(200, &row_json(&row)))
    }

    /// `POST /oxen/v4/lsrpc`: opens the layer with the server's key, runs the inner request
    /// on the same routes, seals the answer. An undecryptable body gets a plain 400.
    async fn onion(&self, body: Bytes) -> StreamResponse {
        let Ok(opened) = open_v4(&body, &self.keypair) else {
            return Response::text(400, "Invalid ciphertext").into();
        };
        drop(body);
        let sealed = match opened.request {
            Err(_) => opened.reply_key.seal_invalid(&mut OsRng),
            Ok(request) => {
                // An onion request has no transport-level length: the body's own length is
                // what the upload route checks.
                let len = request
                    .body
                    .as_ref()
                    .map(|b| u64::try_from(b.len()).unwrap_or(u64::MAX));
                let reply = if matches!(
                    api::route(&request.method, &request.endpoint),
                    Ok(Route::Onion)
                ) {
                    Reply::error(404)
                } else {
                    self.handle(
                        &request.method,
                        &request.endpoint,
                        &request.headers,
                        len,
                        Body::Memory(request.body),
                    )
                    .await
                };
                let response = match self.to_v4(reply).await {
                    Ok(r) => r,
                    Err(status) => V4Response {
                        code: status,
                        headers: Vec::new(),
                        body: Some(api::error_body(status, None)),
                    },
                };
                opened.reply_key.seal(&response, &mut OsRng)
            }
        };
        match sealed {
            Ok(bytes) => StreamResponse {
                status: 200,
                headers: vec![("content-type".into(), "application/octet-stream".into())],
                body: ResponseBody::Bytes(Bytes::from(bytes)),
            },
            Err(_) => Response::text(500, "cannot seal the reply").into(),
        }
    }

    /// An answer as a v4 response: header names lower-cased, no content length, a file read
    /// into memory (at most `max_file_size`).
    async fn to_v4(&self, reply: Reply) -> Result<V4Response, u16> {
        let body = match reply.body {
            ResponseBody::Bytes(b) => b.to_vec(),
            ResponseBody::File { file, len } => {
                if len > self.config.max_file_size {
                    return Err(500);
                }
                let mut out = Vec::with_capacity(usize::try_from(len).unwrap_or(0));
                file.take(len)
                    .read_to_end(&mut out)
                    .await
                    .map_err(|_| 500u16)?;
                out
            }
            _ => Vec::new(),
        };
        Ok(V4Response {
            code: reply.status,
            headers: reply
                .headers
                .into_iter()
                .map(|(n, v)| (n.to_ascii_lowercase(), v))
                .filter(|(n, _)| n != "content-length")
                .collect(),
            body: Some(body),
        })
    }

    /// One plain-HTTP request.
    async fn serve_one(self: Arc<Self>, req: StreamRequest) -> StreamResponse {
        if matches!(api::route(&req.method, &req.path), Ok(Route::Onion)) {
            return match req.body.read_all().await {
                Ok(body) => self.onion(body).await,
                Err(e) => e.response().into(),
            };
        }
        let reply = self
            .handle(
                &req.method,
                &req.path,
                &req.headers,
                req.content_length,
                Body::Stream(req.body),
            )
            .await;
        StreamResponse {
            status: reply.status,
            headers: reply.headers,
            body: reply.body,
        }
    }

    /// Deletes expired files.
    async fn sweep(&self) {
        let now = now_s();
        match self.blocking(move |s| s.sweep(now)).await {
            Ok((0, _)) => {}
            Ok((files, bytes)) => {
                let _ = self
                    .used
                    .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |u| {
                        Some(u.saturating_sub(bytes))
                    });
                tracing::info!(files, bytes, "expired files deleted");
            }
            Err(_) => tracing::warn!("expiry sweep failed"),
        }
    }

    /// The limits of the HTTP shell: `/file` takes up to `max_file_size`, the onion route
    /// that plus [`ONION_OVERHEAD`], everything else a few KiB.
    #[must_use]
    pub fn limits(config: &Config) -> ServerLimits {
        let max = usize::try_from(config.max_file_size).unwrap_or(usize::MAX);
        let mut limits = ServerLimits::new(SMALL_BODY)
            .with_route_body("/file", max)
            .with_route_body(sotto_onion::V4_TARGET, max.saturating_add(ONION_OVERHEAD));
        limits.max_connections = config.max_connections;
        limits.max_connections_per_ip = config.max_connections_per_ip;
        // Uploads of 10 MB from slow clients (or through a slow exit) need more than the
        // default minute.
        limits.request_timeout = Duration::from_secs(120);
        limits
    }

    /// The admission check: a token per request and address, before any body is read.
    #[must_use]
    pub fn admission(config: &Config) -> Admission {
        let limiter = PerAddress::new(Rate {
            per_s: config.requests_per_s_per_ip,
            burst: config.request_burst_per_ip,
        });
        Arc::new(move |head: &RequestHead<'_>| {
            if limiter.allow(head.peer.ip()) {
                Ok(())
            } else {
                Err(Response::bytes(
                    429,
                    "application/json",
                    api::error_body(429, None),
                ))
            }
        })
    }
}

fn row_json(row: &FileRow) -> serde_json::Value {
    serde_json::json!({ "size": row.size, "uploaded": row.uploaded, "expires": row.expires })
}

/// An RFC 1123 date for `Expires`.
fn http_date(unix_s: f64) -> String {
    let secs = if unix_s.is_finite() && unix_s > 0.0 {
        Duration::from_secs_f64(unix_s.min(1e11))
    } else {
        Duration::ZERO
    };
    httpdate::fmt_http_date(UNIX_EPOCH + secs)
}

/// Runs the server until listening fails: the plain-HTTP shell and the expiry sweep.
///
/// # Errors
/// [`ServerError`] when it cannot start or listening fails.
pub async fn run(config: Config) -> Result<(), ServerError> {
    sotto_transport::identity::ensure_private_dir(&config.data_dir).map_err(|source| {
        ServerError::DataDir {
            path: config.data_dir.clone(),
            source,
        }
    })?;
    let listen = config.listen;
    let limits = FileServer::limits(&config);
    let admission = FileServer::admission(&config);
    let sweep_every = config.sweep_interval;
    let server = Arc::new(FileServer::open(config)?);
    let listener = TcpListener::bind(listen)
        .await
        .map_err(|source| ServerError::Listen {
            addr: listen,
            source,
        })?;
    tracing::info!(
        %listen,
        x25519 = %hex::encode(server.x25519().0),
        "file server listening (plain HTTP; onion requests at /oxen/v4/lsrpc)"
    );
    let sweeper = Arc::clone(&server);
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(sweep_every);
        loop {
            tick.tick().await;
            sweeper.sweep().await;
        }
    });
    serve_http_streaming(listener, limits, Some(admission), move |req| {
        Arc::clone(&server).serve_one(req)
    })
    .await
    .map_err(|source| ServerError::Listen {
        addr: listen,
        source,
    })
}
