//! URLs: the relay-target and host filters nodes apply, and client-side URL parsing.

use core::net::{Ipv4Addr, Ipv6Addr};

use crate::OnionError;

/// The longest DNS name accepted as a relay host (RFC 1035, without the trailing dot).
pub const MAX_HOST_NAME_LEN: usize = 253;
/// The longest label of a DNS name.
const MAX_LABEL_LEN: usize = 63;

/// A relay host that passed [`parse_host`]: a DNS name or an IP literal, never a port, path,
/// query, fragment or user info.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum RelayHost {
    /// A DNS name: dot-separated labels of ASCII letters, digits, `-` and `_` (1 to 63 each,
    /// no `-` at either end), the last starting with a letter (so it is never read as an
    /// IPv4 address in another notation); at most 253 characters, one trailing dot allowed.
    Name(String),
    /// A dotted-quad IPv4 literal (decimal, no leading zeros).
    Ipv4(Ipv4Addr),
    /// An IPv6 literal, with or without brackets, without a zone.
    Ipv6(Ipv6Addr),
}

impl core::fmt::Display for RelayHost {
    /// The host as it goes in a URL: IPv6 in brackets.
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Name(name) => f.write_str(name),
            Self::Ipv4(ip) => write!(f, "{ip}"),
            Self::Ipv6(ip) => write!(f, "[{ip}]"),
        }
    }
}

/// Reads the `host` of a relay-to-server layer under Sotto's strict grammar (see
/// [`RelayHost`]). Anything else, in particular a `host` carrying `:port`, `/`, `?`, `#`,
/// `@`, `\`, whitespace or percent-escapes, is refused with [`OnionError::HostNotAllowed`]:
/// the port comes only from the layer's `port` field.
pub fn parse_host(host: &str) -> Result<RelayHost, OnionError> {
    let refuse = || OnionError::HostNotAllowed(host.chars().take(256).collect());
    if let Ok(ip) = host.parse::<Ipv4Addr>() {
        return Ok(RelayHost::Ipv4(ip));
    }
    let bare = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    if let Ok(ip) = bare.parse::<Ipv6Addr>() {
        return Ok(RelayHost::Ipv6(ip));
    }
    let name = host.strip_suffix('.').unwrap_or(host);
    if name.is_empty() || name.len() > MAX_HOST_NAME_LEN {
        return Err(refuse());
    }
    let label_ok = |label: &str| {
        (1..=MAX_LABEL_LEN).contains(&label.len())
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            && !label.starts_with('-')
            && !label.ends_with('-')
    };
    if !name.split('.').all(label_ok) {
        return Err(refuse());
    }
    let last = name.rsplit('.').next().unwrap_or_default();
    if !last.starts_with(|c: char| c.is_ascii_alphabetic()) {
        return Err(refuse());
    }
    Ok(RelayHost::Name(name.to_ascii_lowercase()))
}

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
    fn strict_host_grammar() {
        for (host, shown) in [
            ("example.com", "example.com"),
            ("Open.GetSession.org.", "open.getsession.org"),
            ("a-b_c.example", "a-b_c.example"),
            ("localhost", "localhost"),
            ("10.0.0.5", "10.0.0.5"),
            ("::1", "[::1]"),
            ("[2001:db8::1]", "[2001:db8::1]"),
            ("::ffff:127.0.0.1", "[::ffff:127.0.0.1]"),
        ] {
            assert_eq!(parse_host(host).unwrap().to_string(), shown, "{host}");
        }
        let long_label = "a".repeat(64);
        let long_name = vec!["a".repeat(50); 6].join(".");
        for bad in [
            "",
            ".",
            "10.0.0.5:8080",
            "10.0.0.5:8080/admin/x?",
            "example.com/x",
            "example.com?x",
            "example.com#x",
            "user@example.com",
            "user:pw@example.com",
            "example.com\\x",
            "example.com ",
            " example.com",
            "exa mple.com",
            "example%2ecom",
            "example..com",
            "-example.com",
            "example-.com",
            "example.com..",
            "[::1]:80",
            "[::1",
            "::1]",
            "fe80::1%eth0",
            "127.1",
            "2130706433",
            "0x7f.0.0.1",
            "0x7f000001",
            "010.0.0.1",
            "1.2.3.4.5",
            "example.123",
            "ex\u{e4}mple.com",
            "example.com\0",
            &long_label,
            &long_name,
        ] {
            assert!(
                matches!(parse_host(bad), Err(OnionError::HostNotAllowed(_))),
                "{bad:?} was accepted"
            );
        }
    }

    #[test]
    fn target_filter() {
        assert!(is_target_allowed("/oxen/v4/lsrpc"));
        assert!(!is_target_allowed("/oxen/v4/lsrpc?x=1/lsrpc"));
        assert!(!is_target_allowed("/oxen/lsrpc/x"));
    }
}
