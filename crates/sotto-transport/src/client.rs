//! The HTTPS client: pinned keys, pooled connections.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use rustls::pki_types::ServerName;
use sotto_crypto::Ed25519PublicKey;
use tokio::net::{TcpSocket, TcpStream};
use tokio_rustls::TlsConnector;

use crate::tls::{SERVER_NAME, pinned_client_config, web_client_config};
use crate::{Response, TargetPolicy, TransportError};

/// The largest response body the client reads.
pub const MAX_RESPONSE_BODY: usize = 16 << 20;

type Sender = SendRequest<Full<Bytes>>;
type PoolKey = (SocketAddr, Peer);

/// Who the client expects at the other end of a connection.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Peer {
    /// Plain HTTP: nobody is authenticated.
    Plain,
    /// A Sotto process holding this Ed25519 key.
    Pinned([u8; 32]),
    /// A web server with a certificate for this name, chaining to a trusted root.
    Web(String),
}

/// An HTTPS client that pins each Sotto server's Ed25519 key, can also reach ordinary web
/// servers ([`HttpsClient::post_url`]), and reuses connections per `(address, peer)`. Cheap to
/// clone; clones share the pool.
#[derive(Clone, Default)]
pub struct HttpsClient {
    pool: Arc<Mutex<HashMap<PoolKey, Vec<Sender>>>>,
    local_ip: Option<IpAddr>,
    web: Option<Arc<rustls::ClientConfig>>,
    targets: TargetPolicy,
}

/// The web client configuration with the bundled roots only, built once.
fn default_web_config() -> Result<Arc<rustls::ClientConfig>, TransportError> {
    static CONFIG: OnceLock<Arc<rustls::ClientConfig>> = OnceLock::new();
    if let Some(config) = CONFIG.get() {
        return Ok(Arc::clone(config));
    }
    let config = web_client_config(&[])?;
    Ok(Arc::clone(CONFIG.get_or_init(|| config)))
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
            local_ip: Some(ip),
            ..Self::default()
        }
    }

    /// Also trusts the PEM certificates in `pem` as roots for `https://` URLs (a private
    /// deployment's CA), besides the bundled Mozilla roots.
    pub fn with_extra_roots(mut self, pem: &[u8]) -> Result<Self, TransportError> {
        self.web = Some(web_client_config(pem)?);
        Ok(self)
    }

    /// Sets which addresses [`HttpsClient::post_url`] may connect to after resolving a URL's
    /// host (by default [`TargetPolicy::PublicOnly`]). Pinned connections to Sotto processes
    /// ([`HttpsClient::post`]) are not affected.
    #[must_use]
    pub fn with_target_policy(mut self, policy: TargetPolicy) -> Self {
        self.targets = policy;
        self
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

    async fn connect(&self, addr: SocketAddr, peer: &Peer) -> Result<Sender, TransportError> {
        let tcp = self.tcp(addr).await?;
        let (config, name) = match peer {
            Peer::Plain => return handshake(tcp).await,
            Peer::Pinned(key) => (
                pinned_client_config(Ed25519PublicKey(*key))?,
                SERVER_NAME.to_owned(),
            ),
            Peer::Web(host) => (
                match &self.web {
                    Some(config) => Arc::clone(config),
                    None => default_web_config()?,
                },
                host.clone(),
            ),
        };
        let name =
            ServerName::try_from(name.clone()).map_err(|_| TransportError::ServerName { name })?;
        let tls = TlsConnector::from(config)
            .connect(name, tcp)
            .await
            .map_err(|source| TransportError::Tls { addr, source })?;
        handshake(tls).await
    }

    async fn exchange(
        &self,
        addr: SocketAddr,
        peer: Peer,
        host: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Vec<u8>,
    ) -> Result<Response, TransportError> {
        let mut sender = match self.take_idle(&(addr, peer.clone())) {
            Some(s) => s,
            None => self.connect(addr, &peer).await?,
        };
        let key = (addr, peer);
        let mut builder = hyper::Request::builder()
            .method("POST")
            .uri(path)
            .header("host", host);
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        let request = builder
            .body(Full::new(Bytes::from(body)))
            .map_err(TransportError::Request)?;
        sender.ready().await.map_err(TransportError::Http)?;
        let resp = sender
            .send_request(request)
            .await
            .map_err(TransportError::Http)?;
        let (parts, body) = resp.into_parts();
        let body = Limited::new(body, MAX_RESPONSE_BODY)
            .collect()
            .await
            // The limit's error, or the connection's while the body was arriving.
            .map_err(|e| match e.downcast::<hyper::Error>() {
                Ok(cause) => TransportError::Http(*cause),
                Err(_) => TransportError::BodyTooLarge {
                    limit: MAX_RESPONSE_BODY,
                },
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
            self.exchange(
                addr,
                Peer::Pinned(pinned.0),
                SERVER_NAME,
                path,
                headers,
                body,
            ),
        )
        .await
        .map_err(|_| TransportError::Timeout(timeout))?
    }

    /// POSTs to an `http://` or `https://` URL (onion requests proxied to a server). An
    /// `https://` server must present a certificate for the URL's host that chains to the
    /// bundled Mozilla roots or to a root added with [`HttpsClient::with_extra_roots`].
    ///
    /// The URL is parsed as a URL (no user info, no fragment, a non-zero port). The host is
    /// resolved once, and the client connects to the first address its [`TargetPolicy`]
    /// allows, the address it checked, never resolving again; when there is none it fails
    /// with [`TransportError::TargetRefused`] and sends nothing.
    pub async fn post_url(
        &self,
        url: &str,
        headers: &[(&str, &str)],
        body: Vec<u8>,
        timeout: Duration,
    ) -> Result<Response, TransportError> {
        let invalid = |reason| TransportError::InvalidUrl {
            url: url.chars().take(256).collect(),
            reason,
        };
        let parsed = url::Url::parse(url).map_err(|_| invalid("not a valid URL"))?;
        let tls = match parsed.scheme() {
            "https" => true,
            "http" => false,
            _ => return Err(invalid("only http:// and https:// URLs are supported")),
        };
        if !parsed.username().is_empty() || parsed.password().is_some() {
            return Err(invalid("user info is not allowed"));
        }
        if parsed.fragment().is_some() {
            return Err(invalid("a fragment is not allowed"));
        }
        let port = parsed
            .port_or_known_default()
            .filter(|p| *p != 0)
            .ok_or_else(|| invalid("bad port"))?;
        let host = parsed.host().ok_or_else(|| invalid("no host"))?;
        let (name, literal) = match host {
            url::Host::Domain(d) => (d.to_owned(), None),
            url::Host::Ipv4(ip) => (ip.to_string(), Some(IpAddr::V4(ip))),
            url::Host::Ipv6(ip) => (ip.to_string(), Some(IpAddr::V6(ip))),
        };
        let authority = &parsed[url::Position::BeforeHost..url::Position::AfterPort];
        let path = &parsed[url::Position::BeforePath..url::Position::AfterQuery];
        let peer = if tls {
            Peer::Web(name.clone())
        } else {
            Peer::Plain
        };
        let policy = self.targets;
        let work = async {
            let addr = match literal {
                Some(ip) => policy
                    .allows(ip)
                    .then_some(SocketAddr::new(ip, port))
                    .ok_or_else(|| TransportError::TargetRefused { host: name.clone() })?,
                None => {
                    let mut found = false;
                    let addr = tokio::net::lookup_host((name.as_str(), port))
                        .await
                        .map_err(|_| invalid("cannot resolve host"))?
                        .inspect(|_| found = true)
                        .find(|a| policy.allows(a.ip()));
                    match addr {
                        Some(addr) => addr,
                        None if found => {
                            return Err(TransportError::TargetRefused { host: name.clone() });
                        }
                        None => return Err(invalid("cannot resolve host")),
                    }
                }
            };
            self.exchange(addr, peer, authority, path, headers, body)
                .await
        };
        tokio::time::timeout(timeout, work)
            .await
            .map_err(|_| TransportError::Timeout(timeout))?
    }
}

/// The HTTP/1.1 handshake over an established stream; the connection runs in its own task.
async fn handshake<S>(stream: S) -> Result<Sender, TransportError>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin + 'static,
{
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(TransportError::Http)?;
    tokio::spawn(conn);
    Ok(sender)
}
