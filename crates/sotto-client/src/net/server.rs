//! Servers reached through onion paths (file server, community server): where they are and
//! their key.

use sotto_crypto::{Ed25519PublicKey, X25519PublicKey};
use sotto_onion::Protocol;
use thiserror::Error;

/// A server that clients reach with v4 onion requests: its base URL and X25519 key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OnionServer {
    /// `http` or `https`.
    pub protocol: Protocol,
    /// Host name or IP address (IPv6 without brackets).
    pub host: String,
    /// Port; the protocol's default when `None`.
    pub port: Option<u16>,
    /// The server's X25519 key (requests are encrypted to it).
    pub x25519: X25519PublicKey,
}

/// Why a server URL or key is unusable.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum ServerUrlError {
    /// Not `http://host[:port][/]` or `https://host[:port][/]`.
    #[error("server URL {0:?} is not http(s)://host[:port]")]
    Url(String),
    /// The key is not a 64-hex-digit public key.
    #[error("server key is not 64 hex digits of a public key")]
    Key,
}

impl OnionServer {
    /// A server at `url` (`http(s)://host[:port]`, a trailing `/` allowed, nothing after it)
    /// with the X25519 key `x25519`.
    ///
    /// # Errors
    /// [`ServerUrlError::Url`] for anything else.
    pub fn new(url: &str, x25519: X25519PublicKey) -> Result<Self, ServerUrlError> {
        let bad = || ServerUrlError::Url(url.chars().take(200).collect());
        let (protocol, rest) = if let Some(rest) = url.strip_prefix("http://") {
            (Protocol::Http, rest)
        } else if let Some(rest) = url.strip_prefix("https://") {
            (Protocol::Https, rest)
        } else {
            return Err(bad());
        };
        let authority = rest.strip_suffix('/').unwrap_or(rest);
        if authority.is_empty() || authority.contains(['/', '?', '#', '@']) {
            return Err(bad());
        }
        let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
            let (host, after) = v6.split_once(']').ok_or_else(bad)?;
            let port = match after {
                "" => None,
                p => Some(p.strip_prefix(':').ok_or_else(bad)?),
            };
            (host, port)
        } else {
            match authority.rsplit_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (authority, None),
            }
        };
        let port = match port {
            None => None,
            Some(p) => Some(p.parse::<u16>().ok().filter(|&p| p != 0).ok_or_else(bad)?),
        };
        sotto_onion::url::parse_host(host).map_err(|_| bad())?;
        Ok(Self {
            protocol,
            host: host.to_owned(),
            port,
            x25519,
        })
    }

    /// [`Self::new`] with the key as 64 hex digits: a server's Ed25519 key (as in an
    /// attachment URL's `p=`), converted, when `ed25519` is set, else its X25519 key.
    ///
    /// # Errors
    /// [`ServerUrlError`] for an unusable URL or key.
    pub fn with_hex_key(url: &str, key_hex: &str, ed25519: bool) -> Result<Self, ServerUrlError> {
        let mut key = [0u8; 32];
        hex::decode_to_slice(key_hex, &mut key).map_err(|_| ServerUrlError::Key)?;
        let x25519 = if ed25519 {
            Ed25519PublicKey(key)
                .to_x25519()
                .map_err(|_| ServerUrlError::Key)?
        } else {
            X25519PublicKey(key)
        };
        Self::new(url, x25519)
    }

    /// The port requests go to.
    #[must_use]
    pub fn port_or_default(&self) -> u16 {
        self.port.unwrap_or(self.protocol.default_port())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_read() {
        let k = X25519PublicKey([9; 32]);
        let s = OnionServer::new("http://127.0.0.1:8080/", k).unwrap();
        assert_eq!(
            (s.protocol, s.host.as_str(), s.port),
            (Protocol::Http, "127.0.0.1", Some(8080))
        );
        let s = OnionServer::new("https://files.example.org", k).unwrap();
        assert_eq!((s.port, s.port_or_default()), (None, 443));
        let s = OnionServer::new("http://[::1]:81", k).unwrap();
        assert_eq!((s.host.as_str(), s.port), ("::1", Some(81)));
        for bad in [
            "ftp://a",
            "http://",
            "http://a:0",
            "http://a:x",
            "http://a/b",
            "http://a?b",
            "http://u@a",
            "http://[::1",
            "http://a b",
        ] {
            assert!(OnionServer::new(bad, k).is_err(), "{bad}");
        }
        assert!(OnionServer::with_hex_key("http://a", "zz", false).is_err());
        let x = OnionServer::with_hex_key("http://a", &hex::encode([9u8; 32]), false).unwrap();
        assert_eq!(x.x25519, k);
    }
}
