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
        let (protocol, host, port, rest) = split_url(url).ok_or_else(bad)?;
        if rest.path() != "/" || rest.query().is_some() || rest.fragment().is_some() {
            return Err(bad());
        }
        Ok(Self {
            protocol,
            host,
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

    /// `http(s)://host[:port]` (IPv6 in brackets; the port only when it is not the default).
    #[must_use]
    pub fn base_url(&self) -> String {
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        match self.port {
            Some(port) => format!("{}://{host}:{port}", self.protocol.as_str()),
            None => format!("{}://{host}", self.protocol.as_str()),
        }
    }

    /// The port requests go to.
    #[must_use]
    pub fn port_or_default(&self) -> u16 {
        self.port.unwrap_or(self.protocol.default_port())
    }
}

/// Reads an `http(s)://host[:port]…` URL with the `url` crate (the one parser that decides what
/// a host, a port and a path are), refusing user info, port 0 and hosts outside Sotto's host
/// grammar (`sotto_onion::url::parse_host`, as exits apply it). Returns the protocol, the host
/// (IPv6 without brackets), the port unless it is the protocol's default, and the parsed URL
/// for its path, query and fragment.
pub(crate) fn split_url(text: &str) -> Option<(Protocol, String, Option<u16>, url::Url)> {
    let parsed = url::Url::parse(text.trim()).ok()?;
    let protocol = match parsed.scheme() {
        "http" => Protocol::Http,
        "https" => Protocol::Https,
        _ => return None,
    };
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return None;
    }
    let host = match parsed.host()? {
        url::Host::Domain(name) => name.to_owned(),
        url::Host::Ipv4(ip) => ip.to_string(),
        url::Host::Ipv6(ip) => ip.to_string(),
    };
    sotto_onion::url::parse_host(&host).ok()?;
    let port = parsed.port();
    if port == Some(0) {
        return None;
    }
    Some((protocol, host, port, parsed))
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
        for url in [
            "http://127.0.0.1:8080",
            "https://files.example.org",
            "http://[::1]:81",
        ] {
            assert_eq!(OnionServer::new(url, k).unwrap().base_url(), url);
        }
        assert_eq!(
            OnionServer::new("http://Files.Example.org:80/", k)
                .unwrap()
                .base_url(),
            "http://files.example.org"
        );
    }
}
