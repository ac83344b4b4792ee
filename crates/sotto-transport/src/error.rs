use thiserror::Error;

/// Why an HTTPS exchange failed.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum TransportError {
    /// The TCP connection could not be made.
    #[error("cannot connect to {addr}: {source}")]
    Connect {
        /// The address.
        addr: std::net::SocketAddr,
        /// The socket error.
        #[source]
        source: std::io::Error,
    },
    /// The TLS handshake failed; this includes a peer that does not hold the pinned key.
    #[error("TLS handshake with {addr} failed: {source}")]
    Tls {
        /// The address.
        addr: std::net::SocketAddr,
        /// What rustls reported, as the handshake's I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The host name cannot be a TLS server name (nothing was sent).
    #[error("{name:?} is not a valid TLS server name")]
    ServerName {
        /// The name.
        name: String,
    },
    /// The exchange did not finish in time.
    #[error("no answer within {0:?}")]
    Timeout(std::time::Duration),
    /// The HTTP exchange failed after connecting.
    #[error("HTTP exchange failed: {0}")]
    Http(#[source] hyper::Error),
    /// The request could not be built from the given path or headers (nothing was sent).
    #[error("cannot build the HTTP request: {0}")]
    Request(#[source] hyper::http::Error),
    /// The answer's body was larger than the limit.
    #[error("the response body is larger than {limit} bytes")]
    BodyTooLarge {
        /// The limit.
        limit: usize,
    },
    /// A URL the plain-HTTP client cannot use.
    #[error("invalid URL {url:?}: {reason}")]
    InvalidUrl {
        /// The URL.
        url: String,
        /// Why.
        reason: &'static str,
    },
    /// The URL's host resolved only to addresses the client's [`crate::TargetPolicy`]
    /// refuses (loopback, private, link-local, …); nothing was sent.
    #[error("{host} resolves to no address this client may connect to")]
    TargetRefused {
        /// The host as given in the URL.
        host: String,
    },
    /// Building the TLS identity failed.
    #[error("cannot build the TLS identity: {0}")]
    Identity(String),
}
