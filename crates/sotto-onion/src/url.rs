//! URLs: the relay-target filter nodes apply, and client-side URL parsing.

use crate::OnionError;

/// Whether a node may proxy to `target`: it starts with `/loki/` or `/oxen/`, ends with
/// `/lsrpc` and has no `?`.
#[must_use]
pub fn is_target_allowed(target: &str) -> bool {
    (target.starts_with("/loki/") || target.starts_with("/oxen/"))
        && target.ends_with("/lsrpc")
        && !target.contains('?')
}

/// A URL split as Session clients split server URLs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParsedUrl {
    /// The scheme, lower-cased, with `://` (e.g. `https://`).
    pub protocol: String,
    /// The host.
    pub host: String,
    /// The port, when the URL gives one.
    pub port: Option<u16>,
    /// The path with its query (from the first `/` or `?`), when there is one.
    pub path: Option<String>,
}

impl ParsedUrl {
    /// Splits `scheme://host[:port][/path][?query]`.
    pub fn parse(url: &str) -> Result<Self, OnionError> {
        let bad = |reason| OnionError::Field {
            what: "URL",
            reason,
        };
        let (scheme, rest) = url.split_once("://").ok_or(bad("has no scheme://"))?;
        if scheme.is_empty()
            || !scheme
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
        {
            return Err(bad("has an invalid scheme"));
        }
        let (authority, path) = match rest.find(['/', '?']) {
            Some(at) => {
                let (a, p) = rest.split_at(at);
                (a, Some(p.to_owned()))
            }
            None => (rest, None),
        };
        let (host, port) = match authority.rsplit_once(':') {
            Some((host, port)) => {
                let port = port
                    .parse::<u16>()
                    .ok()
                    .filter(|p| *p != 0 && port.bytes().all(|b| b.is_ascii_digit()))
                    .ok_or(bad("has an invalid port"))?;
                (host, Some(port))
            }
            None => (authority, None),
        };
        if host.is_empty() {
            return Err(bad("has no host"));
        }
        Ok(Self {
            protocol: format!("{}://", scheme.to_ascii_lowercase()),
            host: host.to_owned(),
            port,
            path,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_port_and_path() {
        let u = ParsedUrl::parse("http://example2.com:1234/test/123456").unwrap();
        assert_eq!(u.protocol, "http://");
        assert_eq!(u.host, "example2.com");
        assert_eq!(u.port, Some(1234));
        assert_eq!(u.path.as_deref(), Some("/test/123456"));
    }

    #[test]
    fn rejects_malformed_urls() {
        for bad in [
            "example.com",
            "://x",
            "https://",
            "https://:80/",
            "https://h:0",
            "https://h:99999",
            "https://h:+1",
            "ht tp://h",
        ] {
            assert!(ParsedUrl::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn target_filter() {
        assert!(is_target_allowed("/oxen/v4/lsrpc"));
        assert!(!is_target_allowed("/oxen/v4/lsrpc?x=1/lsrpc"));
        assert!(!is_target_allowed("/oxen/lsrpc/x"));
    }
}
