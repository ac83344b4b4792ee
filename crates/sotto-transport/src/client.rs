//! The HTTPS client: pinned keys, pooled connections.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use rustls::pki_types::ServerName;
use sotto_crypto::Ed25519PublicKey;
use tokio::net::{TcpSocket, TcpStream};
use tokio_rustls::TlsConnector;

use crate::tls::{SERVER_NAME, pinned_client_config};
use crate::{Response, TransportError};

/// The largest response body the client reads.
pub const MAX_RESPONSE_BODY: usize = 16 << 20;

type Sender = SendRequest<Full<Bytes>>;
type PoolKey = (SocketAddr, Option<[u8; 32]>);

/// An HTTPS client that pins each server's Ed25519 key and reuses connections per
/// `(address, key)`. Cheap to clone; clones share the pool.
#[derive(Clone, Default)]
pub struct HttpsClient {
    pool: Arc<Mutex<HashMap<PoolKey, Vec<Sender>>>>,
    local_ip: Option<IpAddr>,
}

impl core::fmt::Debug for HttpsClient {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "HttpsClient(local {:?})", self.local_ip)
    }
}

impl HttpsClient {
    /// A client that connects from any local address.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// A client whose connections come from `ip` (so a peer on loopback sees which process
    /// called it).
    #[must_use]
    pub fn with_local_addr(ip: IpAddr) -> Self {
        Self {
            pool: Arc::default(),
            local_ip: Some(ip),
        }
    }

    fn take_idle(&self, key: &PoolKey) -> Option<Sender> {
        let mut pool = self.pool.lock().ok()?;
        let idle = pool.get_mut(key)?;
        while let Some(sender) = idle.pop() {
            if !sender.is_closed() {
                return Some(sender);
            }
        }
        None
    }

    fn put_idle(&self, key: PoolKey, sender: Sender) {
        if sender.is_closed() {
            return;
        }
        if let Ok(mut pool) = self.pool.lock() {
            let idle = pool.entry(key).or_default();
            if idle.len() < 8 {
                idle.push(sender);
            }
        }
    }

    async fn tcp(&self, addr: SocketAddr) -> Result<TcpStream, TransportError> {
        let connect_err = |source| TransportError::Connect { addr, source };
        let socket = if addr.is_ipv4() {
            TcpSocket::new_v4()
        } else {
            TcpSocket::new_v6()
        }
        .map_err(connect_err)?;
        if let Some(ip) = self.local_ip {
            socket.bind(SocketAddr::new(ip, 0)).map_err(connect_err)?;
        }
        let stream = socket.connect(addr).await.map_err(connect_err)?;
        let _ = stream.set_nodelay(true);
        Ok(stream)
    }

    async fn connect(
        &self,
        addr: SocketAddr,
        pinned: Option<Ed25519PublicKey>,
    ) -> Result<Sender, TransportError> {
        let tcp = self.tcp(addr).await?;
        let http_err = |e: hyper::Error| TransportError::Http(e.to_string());
        let sender = match pinned {
            Some(key) => {
                let connector = TlsConnector::from(pinned_client_config(key)?);
                let name = ServerName::try_from(SERVER_NAME)
                    .map_err(|e| TransportError::Identity(e.to_string()))?;
                let tls = connector
                    .connect(name, tcp)
                    .await
                    .map_err(|e| TransportError::Tls {
                        addr,
                        reason: e.to_string(),
                    })?;
                let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
                    .await
                    .map_err(http_err)?;
                tokio::spawn(conn);
                sender
            }
            None => {
                let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tcp))
                    .await
                    .map_err(http_err)?;
                tokio::spawn(conn);
                sender
            }
        };
        Ok(sender)
    }

    async fn exchange(
        &self,
        addr: SocketAddr,
        pinned: Option<Ed25519PublicKey>,
        host: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Vec<u8>,
    ) -> Result<Response, TransportError> {
        let key = (addr, pinned.map(|k| k.0));
        let mut sender = match self.take_idle(&key) {
            Some(s) => s,
            None => self.connect(addr, pinned).await?,
        };
        let mut builder = hyper::Request::builder()
            .method("POST")
            .uri(path)
            .header("host", host);
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        let request = builder
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| TransportError::Http(e.to_string()))?;
        sender
            .ready()
            .await
            .map_err(|e| TransportError::Http(e.to_string()))?;
        let resp = sender
            .send_request(request)
            .await
            .map_err(|e| TransportError::Http(e.to_string()))?;
        let (parts, body) = resp.into_parts();
        let body = Limited::new(body, MAX_RESPONSE_BODY)
            .collect()
            .await
            .map_err(|_| TransportError::BodyTooLarge {
                limit: MAX_RESPONSE_BODY,
            })?
            .to_bytes();
        self.put_idle(key, sender);
        Ok(Response {
            status: parts.status.as_u16(),
            headers: parts
                .headers
                .iter()
                .filter_map(|(n, v)| Some((n.as_str().to_owned(), v.to_str().ok()?.to_owned())))
                .collect(),
            body,
        })
    }

    /// POSTs `body` to `path` on the server at `addr`, which must prove it holds `pinned`.
    pub async fn post(
        &self,
        addr: SocketAddr,
        pinned: &Ed25519PublicKey,
        path: &str,
        headers: &[(&str, &str)],
        body: Vec<u8>,
        timeout: Duration,
    ) -> Result<Response, TransportError> {
        tokio::time::timeout(
            timeout,
            self.exchange(addr, Some(*pinned), SERVER_NAME, path, headers, body),
        )
        .await
        .map_err(|_| TransportError::Timeout(timeout))?
    }

    /// POSTs to a plain `http://host:port/path` URL (onion requests proxied to a server).
    pub async fn post_plain(
        &self,
        url: &str,
        headers: &[(&str, &str)],
        body: Vec<u8>,
        timeout: Duration,
    ) -> Result<Response, TransportError> {
        let invalid = |reason| TransportError::InvalidUrl {
            url: url.to_owned(),
            reason,
        };
        let rest = url
            .strip_prefix("http://")
            .ok_or_else(|| invalid("only http:// URLs are supported"))?;
        let (authority, path) = rest.find('/').map_or((rest, "/"), |i| rest.split_at(i));
        let (host, port) = match authority.rsplit_once(':') {
            Some((h, p)) => (h, p.parse::<u16>().map_err(|_| invalid("bad port"))?),
            None => (authority, 80),
        };
        if host.is_empty() {
            return Err(invalid("no host"));
        }
        let work = async {
            let addr = tokio::net::lookup_host((host, port))
                .await
                .map_err(|_| invalid("cannot resolve host"))?
                .next()
                .ok_or_else(|| invalid("cannot resolve host"))?;
            self.exchange(addr, None, authority, path, headers, body)
                .await
        };
        tokio::time::timeout(timeout, work)
            .await
            .map_err(|_| TransportError::Timeout(timeout))?
    }
}
