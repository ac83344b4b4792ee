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
    #[error("TLS handshake with {addr} failed: {reason}")]
    Tls {
        /// The address.
        addr: std::net::SocketAddr,
        /// What rustls reported.
        reason: String,
    },
    /// The exchange did not finish in time.
    #[error("no answer within {0:?}")]
    Timeout(std::time::Duration),
    /// The HTTP exchange failed after connecting.
    #[error("HTTP error: {0}")]
    Http(String),
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
