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
use crate::{Response, TransportError};

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
        let name = ServerName::try_from(name).map_err(|e| TransportError::Tls {
            addr,
            reason: e.to_string(),
        })?;
        let tls = TlsConnector::from(config)
            .connect(name, tcp)
            .await
            .map_err(|e| TransportError::Tls {
                addr,
                reason: e.to_string(),
            })?;
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
    pub async fn post_url(
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
        let (rest, tls, default_port) = if let Some(rest) = url.strip_prefix("https://") {
            (rest, true, 443)
        } else if let Some(rest) = url.strip_prefix("http://") {
            (rest, false, 80)
        } else {
            return Err(invalid("only http:// and https:// URLs are supported"));
        };
        let (authority, path) = rest.find('/').map_or((rest, "/"), |i| rest.split_at(i));
        let (host, port) =
            split_authority(authority, default_port).ok_or_else(|| invalid("bad host or port"))?;
        let peer = if tls {
            Peer::Web(host.to_owned())
        } else {
            Peer::Plain
        };
        let work = async {
            let addr = tokio::net::lookup_host((host, port))
                .await
                .map_err(|_| invalid("cannot resolve host"))?
                .next()
                .ok_or_else(|| invalid("cannot resolve host"))?;
            self.exchange(addr, peer, authority, path, headers, body)
                .await
        };
        tokio::time::timeout(timeout, work)
            .await
            .map_err(|_| TransportError::Timeout(timeout))?
    }
}

/// Splits `host[:port]` or `[v6]:port`; `None` for an empty host or a bad port.
fn split_authority(authority: &str, default_port: u16) -> Option<(&str, u16)> {
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let (host, after) = v6.split_once(']')?;
        match after {
            "" => (host, None),
            _ => (host, Some(after.strip_prefix(':')?)),
        }
    } else {
        match authority.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        }
    };
    let port = match port {
        Some(p) => p.parse::<u16>().ok().filter(|p| *p != 0)?,
        None => default_port,
    };
    (!host.is_empty()).then_some((host, port))
}

/// The HTTP/1.1 handshake over an established stream; the connection runs in its own task.
async fn handshake<S>(stream: S) -> Result<Sender, TransportError>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin + 'static,
{
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| TransportError::Http(e.to_string()))?;
    tokio::spawn(conn);
    Ok(sender)
}

#[cfg(test)]
mod tests {
    use super::split_authority;

    #[test]
    fn authorities() {
        assert_eq!(split_authority("a.example", 443), Some(("a.example", 443)));
        assert_eq!(
            split_authority("a.example:8443", 443),
            Some(("a.example", 8443))
        );
        assert_eq!(
            split_authority("127.0.0.1:80", 443),
            Some(("127.0.0.1", 80))
        );
        assert_eq!(split_authority("[::1]:8080", 80), Some(("::1", 8080)));
        assert_eq!(split_authority("[::1]", 80), Some(("::1", 80)));
        for bad in [
            "", ":80", "h:", "h:0", "h:65536", "h:x", "[::1", "[::1]x", "[]:80",
        ] {
            assert_eq!(split_authority(bad, 80), None, "{bad}");
        }
    }
}
