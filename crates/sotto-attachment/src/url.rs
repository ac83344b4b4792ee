//! Attachment URLs: `<scheme>://<host>[:port]/file/<id>[#<fragment>]` (files.md §3).
//!
//! The fragment is a `&`-joined list: `d` marks the deterministic ("S") encryption format,
//! `p=<64 hex>` names the file server's Ed25519 key, and other items (libsession's `sr=`) are kept
//! as they are. [`AttachmentUrl::parse`] is strict: one scheme (`http`/`https`), a plain host
//! name or IP address, exactly the path `/file/<id>` with a 1–44 character `[A-Za-z0-9_-]` id, no
//! user info, query, percent-encoding or repeated fragment items. Reading accepts `d` and `d=`;
//! writing always gives bare `d`, and `p=` for every server but Session's default one (§9).

use std::fmt;
use thiserror::Error;

/// The longest URL [`AttachmentUrl::parse`] reads, in bytes.
pub const MAX_URL_LEN: usize = 2048;
/// The longest file id (the file server's database limit; hash ids are exactly this long).
pub const MAX_FILE_ID_LEN: usize = 44;
/// The longest host name.
const MAX_HOST_LEN: usize = 253;
/// The most fragment items kept beyond `d` and `p=`.
const MAX_EXTRA_ITEMS: usize = 8;

/// Session's default file server host (files.md §2.1).
pub const DEFAULT_FILE_SERVER_HOST: &str = "filev2.getsession.org";
/// Session's default file server's Ed25519 public key (files.md §2.1).
pub const DEFAULT_FILE_SERVER_ED25519: [u8; 32] = [
    0xb8, 0xee, 0xf9, 0x82, 0x14, 0x45, 0xae, 0x16, 0xe2, 0xe9, 0x7e, 0xf8, 0xaa, 0x6f, 0xe7, 0x82,
    0xfd, 0x11, 0xad, 0x52, 0x53, 0xcd, 0x67, 0x23, 0xb2, 0x81, 0x34, 0x1d, 0xba, 0x22, 0xe3, 0x71,
];

/// Why a string is not an attachment URL Sotto accepts.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum UrlError {
    /// The URL is longer than [`MAX_URL_LEN`].
    #[error("attachment URL is {len} bytes, over the limit of {max}")]
    TooLong {
        /// Its length.
        len: usize,
        /// [`MAX_URL_LEN`].
        max: usize,
    },
    /// The scheme is missing or is neither `http` nor `https`.
    #[error("attachment URL must start with http:// or https://")]
    Scheme,
    /// The URL carries `user@` information.
    #[error("attachment URL must not carry user information")]
    UserInfo,
    /// The host is empty, too long, or not a host name or IP address.
    #[error("attachment URL host is not a valid host name or IP address")]
    Host,
    /// The port is not a number in 1–65535.
    #[error("attachment URL port is not a number in 1-65535")]
    Port,
    /// The path is not exactly `/file/<id>`.
    #[error("attachment URL path must be exactly /file/<id>")]
    Path,
    /// The file id is empty, too long, or has characters outside `[A-Za-z0-9_-]`.
    #[error("attachment file id must be 1-44 characters of [A-Za-z0-9_-]")]
    FileId,
    /// The URL has a query (`?`).
    #[error("attachment URL must not have a query")]
    Query,
    /// A fragment item is empty, malformed, or has characters outside the URL fragment set.
    #[error("attachment URL fragment item {index} is malformed")]
    FragmentItem {
        /// Its position in the fragment, from 0.
        index: usize,
    },
    /// A fragment item (`d` or `p`) appears twice.
    #[error("attachment URL fragment repeats the item {0:?}")]
    DuplicateItem(&'static str),
    /// `p=` is not 64 hex digits.
    #[error("attachment URL server key (p=) must be 64 hex digits")]
    ServerKey,
    /// More unknown fragment items than Sotto keeps.
    #[error("attachment URL fragment has more than {max} unknown items")]
    TooManyItems {
        /// The limit.
        max: usize,
    },
    /// No `p=` key, and the host is not Session's (files.md §3: the default key is assumed only
    /// for `*.getsession.org`).
    #[error("attachment URL names no server key (p=) and its host is not a Session server")]
    NoServerKey,
}

/// `http` or `https`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scheme {
    /// Plain HTTP (what Session's file server uses: privacy comes from the onion path).
    Http,
    /// HTTPS.
    Https,
}

impl Scheme {
    /// The scheme as written in URLs.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Http => "http",
            Self::Https => "https",
        }
    }

    /// The port used when the URL names none.
    #[must_use]
    pub fn default_port(self) -> u16 {
        match self {
            Self::Http => 80,
            Self::Https => 443,
        }
    }
}

/// A file server: where uploads go, and the key its onion requests are encrypted to.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FileServer {
    scheme: Scheme,
    host: String,
    port: Option<u16>,
    ed25519: [u8; 32],
}

impl FileServer {
    /// Session's default file server, `http://filev2.getsession.org`.
    #[must_use]
    pub fn session_default() -> Self {
        Self {
            scheme: Scheme::Http,
            host: DEFAULT_FILE_SERVER_HOST.to_owned(),
            port: None,
            ed25519: DEFAULT_FILE_SERVER_ED25519,
        }
    }

    /// A file server at `host` (a host name or IP address; IPv6 in brackets), with its Ed25519
    /// key. A port equal to the scheme's default is dropped (files.md §9.4).
    pub fn new(
        scheme: Scheme,
        host: &str,
        port: Option<u16>,
        ed25519: [u8; 32],
    ) -> Result<Self, UrlError> {
        let host = parse_host(host)?;
        let port = match port {
            Some(0) => return Err(UrlError::Port),
            Some(p) if p == scheme.default_port() => None,
            p => p,
        };
        Ok(Self {
            scheme,
            host,
            port,
            ed25519,
        })
    }

    /// The scheme.
    #[must_use]
    pub fn scheme(&self) -> Scheme {
        self.scheme
    }

    /// The host, lower-cased.
    #[must_use]
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The port, when it is not the scheme's default.
    #[must_use]
    pub fn port(&self) -> Option<u16> {
        self.port
    }

    /// The server's Ed25519 public key.
    #[must_use]
    pub fn ed25519(&self) -> &[u8; 32] {
        &self.ed25519
    }

    /// Whether this is Session's default server (same host, port, scheme and key): URLs to it
    /// carry no `p=`.
    #[must_use]
    pub fn is_session_default(&self) -> bool {
        *self == Self::session_default()
    }

    /// The URL of a file uploaded to this server, with bare `d` when `deterministic` and `p=`
    /// unless this is the default server.
    pub fn file_url(&self, file_id: &str, deterministic: bool) -> Result<AttachmentUrl, UrlError> {
        check_file_id(file_id)?;
        Ok(AttachmentUrl {
            scheme: self.scheme,
            host: self.host.clone(),
            port: self.port,
            file_id: file_id.to_owned(),
            deterministic,
            server_key: (!self.is_session_default()).then_some(self.ed25519),
            extra: Vec::new(),
        })
    }
}

/// A parsed attachment URL. Its [`Display`](fmt::Display) is the canonical form, which parses
/// back to an equal value.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AttachmentUrl {
    scheme: Scheme,
    host: String,
    port: Option<u16>,
    file_id: String,
    deterministic: bool,
    server_key: Option<[u8; 32]>,
    extra: Vec<String>,
}

impl AttachmentUrl {
    /// Parses an attachment URL strictly (see the module documentation).
    pub fn parse(url: &str) -> Result<Self, UrlError> {
        if url.len() > MAX_URL_LEN {
            return Err(UrlError::TooLong {
                len: url.len(),
                max: MAX_URL_LEN,
            });
        }
        let (scheme, rest) = if let Some(rest) = strip_prefix_ci(url, "http://") {
            (Scheme::Http, rest)
        } else if let Some(rest) = strip_prefix_ci(url, "https://") {
            (Scheme::Https, rest)
        } else {
            return Err(UrlError::Scheme);
        };
        let (before_fragment, fragment) = match rest.split_once('#') {
            Some((b, f)) => (b, Some(f)),
            None => (rest, None),
        };
        if before_fragment.contains('?') {
            return Err(UrlError::Query);
        }
        let (authority, path) = match before_fragment.find('/') {
            Some(i) => before_fragment.split_at(i),
            None => return Err(UrlError::Path),
        };
        if authority.contains('@') {
            return Err(UrlError::UserInfo);
        }
        let (host, port) = split_host_port(authority)?;
        let host = parse_host(host)?;
        let port = match port {
            Some(p) if p == scheme.default_port() => None,
            p => p,
        };
        let file_id = path.strip_prefix("/file/").ok_or(UrlError::Path)?;
        if file_id.contains('/') {
            return Err(UrlError::Path);
        }
        check_file_id(file_id)?;
        let mut out = Self {
            scheme,
            host,
            port,
            file_id: file_id.to_owned(),
            deterministic: false,
            server_key: None,
            extra: Vec::new(),
        };
        if let Some(fragment) = fragment {
            out.parse_fragment(fragment)?;
        }
        Ok(out)
    }

    fn parse_fragment(&mut self, fragment: &str) -> Result<(), UrlError> {
        let mut seen_d = false;
        for (index, item) in fragment.split('&').enumerate() {
            if item.is_empty() || !item.bytes().all(is_fragment_byte) {
                return Err(UrlError::FragmentItem { index });
            }
            let (name, value) = match item.split_once('=') {
                Some((n, v)) => (n, Some(v)),
                None => (item, None),
            };
            match (name, value) {
                ("d", None | Some("")) => {
                    if seen_d {
                        return Err(UrlError::DuplicateItem("d"));
                    }
                    seen_d = true;
                }
                ("d", Some(_)) => return Err(UrlError::FragmentItem { index }),
                ("p", Some(hex)) => {
                    if self.server_key.is_some() {
                        return Err(UrlError::DuplicateItem("p"));
                    }
                    self.server_key = Some(decode_key_hex(hex)?);
                }
                ("p", None) => return Err(UrlError::ServerKey),
                ("", _) => return Err(UrlError::FragmentItem { index }),
                _ => {
                    if self.extra.len() >= MAX_EXTRA_ITEMS {
                        return Err(UrlError::TooManyItems {
                            max: MAX_EXTRA_ITEMS,
                        });
                    }
                    self.extra.push(item.to_owned());
                }
            }
        }
        self.deterministic = seen_d;
        Ok(())
    }

    /// The scheme.
    #[must_use]
    pub fn scheme(&self) -> Scheme {
        self.scheme
    }

    /// The host, lower-cased.
    #[must_use]
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The port, when it is not the scheme's default.
    #[must_use]
    pub fn port(&self) -> Option<u16> {
        self.port
    }

    /// The file id: the last path segment. Opaque (§9.1): never rely on its shape.
    #[must_use]
    pub fn file_id(&self) -> &str {
        &self.file_id
    }

    /// The pointer's legacy `id` field: the file id when it is a number, else 0 (§3).
    #[must_use]
    pub fn numeric_id(&self) -> u64 {
        if self.file_id.bytes().all(|b| b.is_ascii_digit()) {
            self.file_id.parse().unwrap_or(0)
        } else {
            0
        }
    }

    /// Whether the body is in the deterministic format (`d`); else legacy. Choose the decryptor
    /// from this, not from the key length (§4.1).
    #[must_use]
    pub fn is_deterministic(&self) -> bool {
        self.deterministic
    }

    /// The `p=` key, when the URL names one.
    #[must_use]
    pub fn server_key(&self) -> Option<&[u8; 32]> {
        self.server_key.as_ref()
    }

    /// Fragment items other than `d` and `p=`, as they were read.
    #[must_use]
    pub fn extra_items(&self) -> &[String] {
        &self.extra
    }

    /// The file server to download from: the `p=` key, or Session's default key when the host
    /// is `getsession.org` or one of its subdomains (Android's rule, the strictest of §3).
    pub fn file_server(&self) -> Result<FileServer, UrlError> {
        let ed25519 = match self.server_key {
            Some(key) => key,
            None if self.host == "getsession.org" || self.host.ends_with(".getsession.org") => {
                DEFAULT_FILE_SERVER_ED25519
            }
            None => return Err(UrlError::NoServerKey),
        };
        Ok(FileServer {
            scheme: self.scheme,
            host: self.host.clone(),
            port: self.port,
            ed25519,
        })
    }

    /// The request path on the file server: `/file/<id>`.
    #[must_use]
    pub fn path(&self) -> String {
        format!("/file/{}", self.file_id)
    }
}

impl fmt::Display for AttachmentUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}://{}", self.scheme.as_str(), self.host)?;
        if let Some(port) = self.port {
            write!(f, ":{port}")?;
        }
        write!(f, "/file/{}", self.file_id)?;
        let mut sep = '#';
        if self.deterministic {
            write!(f, "{sep}d")?;
            sep = '&';
        }
        if let Some(key) = &self.server_key {
            write!(f, "{sep}p=")?;
            for b in key {
                write!(f, "{b:02x}")?;
            }
            sep = '&';
        }
        for item in &self.extra {
            write!(f, "{sep}{item}")?;
            sep = '&';
        }
        Ok(())
    }
}

impl std::str::FromStr for AttachmentUrl {
    type Err = UrlError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

fn strip_prefix_ci<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    if head.eq_ignore_ascii_case(prefix) {
        s.get(prefix.len()..)
    } else {
        None
    }
}

/// Characters allowed in a fragment item: RFC 3986 `pchar` without percent-encoding, `&`
/// (the separator) or `#`.
fn is_fragment_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-._~!$'()*+,;=:@/?".contains(&b)
}

fn split_host_port(authority: &str) -> Result<(&str, Option<u16>), UrlError> {
    let (host, port) = if authority.starts_with('[') {
        let end = authority.find(']').ok_or(UrlError::Host)?;
        let (host, rest) = authority.split_at(end + 1);
        match rest {
            "" => (host, None),
            _ => (host, Some(rest.strip_prefix(':').ok_or(UrlError::Host)?)),
        }
    } else {
        match authority.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        }
    };
    let port = match port {
        None => None,
        Some(p) => {
            if p.is_empty() || p.len() > 5 || !p.bytes().all(|b| b.is_ascii_digit()) {
                return Err(UrlError::Port);
            }
            match p.parse::<u16>() {
                Ok(0) | Err(_) => return Err(UrlError::Port),
                Ok(n) => Some(n),
            }
        }
    };
    Ok((host, port))
}

/// A DNS name (`[A-Za-z0-9-]` labels of 1–63 bytes joined by dots, no leading or trailing hyphen),
/// an IPv4 address, or a bracketed IPv6 address; returned lower-cased.
fn parse_host(host: &str) -> Result<String, UrlError> {
    if host.is_empty() || host.len() > MAX_HOST_LEN {
        return Err(UrlError::Host);
    }
    if let Some(inner) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        let ip: std::net::Ipv6Addr = inner.parse().map_err(|_| UrlError::Host)?;
        return Ok(format!("[{ip}]"));
    }
    let lower = host.to_ascii_lowercase();
    let labels_ok = lower.split('.').all(|label| {
        !label.is_empty()
            && label.len() <= 63
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
    });
    if !labels_ok {
        return Err(UrlError::Host);
    }
    // A name whose labels are all digits must be a well-formed IPv4 address, written canonically.
    if lower.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        let ip: std::net::Ipv4Addr = lower.parse().map_err(|_| UrlError::Host)?;
        if ip.to_string() != lower {
            return Err(UrlError::Host);
        }
    }
    Ok(lower)
}

fn check_file_id(id: &str) -> Result<(), UrlError> {
    if id.is_empty()
        || id.len() > MAX_FILE_ID_LEN
        || !id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(UrlError::FileId);
    }
    Ok(())
}

fn decode_key_hex(hex: &str) -> Result<[u8; 32], UrlError> {
    let bytes = hex.as_bytes();
    if bytes.len() != 64 {
        return Err(UrlError::ServerKey);
    }
    let mut key = [0u8; 32];
    for (out, pair) in key.iter_mut().zip(bytes.chunks_exact(2)) {
        let [hi, lo] = pair else {
            return Err(UrlError::ServerKey);
        };
        *out = (nibble(*hi)? << 4) | nibble(*lo)?;
    }
    Ok(key)
}

fn nibble(c: u8) -> Result<u8, UrlError> {
    match c {
        b'0'..=b'9' => Ok(c - b'0'),
        b'a'..=b'f' => Ok(c - b'a' + 10),
        b'A'..=b'F' => Ok(c - b'A' + 10),
        _ => Err(UrlError::ServerKey),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HASH_ID: &str = "aBcD-_0123456789aBcD-_0123456789aBcD-_012345";
    const KEY_HEX: &str = "929e33ded05e653fec04b49645117f51851f102a947e04806791be416ed76602";

    #[test]
    fn default_key_constant_is_the_spec_key() {
        assert_eq!(
            hex::encode(DEFAULT_FILE_SERVER_ED25519),
            "b8eef9821445ae16e2e97ef8aa6fe782fd11ad5253cd6723b281341dba22e371"
        );
    }

    #[test]
    fn builds_bare_d_and_no_key_for_the_default_server() {
        assert_eq!(HASH_ID.len(), 44);
        let url = FileServer::session_default()
            .file_url(HASH_ID, true)
            .unwrap();
        assert_eq!(
            url.to_string(),
            format!("http://filev2.getsession.org/file/{HASH_ID}#d")
        );
        assert_eq!(url.numeric_id(), 0);
        let legacy = FileServer::session_default()
            .file_url("12345", false)
            .unwrap();
        assert_eq!(
            legacy.to_string(),
            "http://filev2.getsession.org/file/12345"
        );
        assert_eq!(legacy.numeric_id(), 12345);
        assert!(!legacy.is_deterministic());
    }

    #[test]
    fn builds_p_for_any_other_server_and_round_trips() {
        let key: [u8; 32] = hex::decode(KEY_HEX).unwrap().try_into().unwrap();
        let server = FileServer::new(Scheme::Http, "Files.Example.ORG", Some(8080), key).unwrap();
        let url = server.file_url(HASH_ID, true).unwrap();
        let text = url.to_string();
        assert_eq!(
            text,
            format!("http://files.example.org:8080/file/{HASH_ID}#d&p={KEY_HEX}")
        );
        let back = AttachmentUrl::parse(&text).unwrap();
        assert_eq!(back, url);
        assert_eq!(back.file_server().unwrap(), server);
        // The default server's host with another key still writes p=.
        let other = FileServer::new(Scheme::Http, DEFAULT_FILE_SERVER_HOST, None, key).unwrap();
        assert!(
            other
                .file_url("1", true)
                .unwrap()
                .to_string()
                .ends_with(&format!("#d&p={KEY_HEX}"))
        );
        // A default port is dropped.
        let s = FileServer::new(Scheme::Https, "127.0.0.1", Some(443), key).unwrap();
        assert_eq!(s.port(), None);
    }

    #[test]
    fn reads_the_fragment_forms_official_clients_write() {
        let base = format!("http://filev2.getsession.org/file/{HASH_ID}");
        for (frag, det, key) in [
            ("", false, false),
            ("#d", true, false),
            ("#d=", true, false),
            (&format!("#d=&p={KEY_HEX}") as &str, true, true),
            (&format!("#p={}&d", KEY_HEX.to_uppercase()), true, true),
            ("#sr=abc.sesh:11235&d", true, false),
        ] {
            let url = AttachmentUrl::parse(&format!("{base}{frag}")).unwrap();
            assert_eq!(url.is_deterministic(), det, "{frag}");
            assert_eq!(url.server_key().is_some(), key, "{frag}");
            // Canonical form parses back equal.
            assert_eq!(AttachmentUrl::parse(&url.to_string()).unwrap(), url);
        }
        let url = AttachmentUrl::parse(&format!("{base}#sr=abc.sesh:11235&d")).unwrap();
        assert_eq!(url.extra_items(), ["sr=abc.sesh:11235"]);
        assert_eq!(url.to_string(), format!("{base}#d&sr=abc.sesh:11235"));
        // Default key only for Session's hosts.
        assert_eq!(
            url.file_server().unwrap().ed25519(),
            &DEFAULT_FILE_SERVER_ED25519
        );
        let foreign = AttachmentUrl::parse("http://files.example.org/file/1#d").unwrap();
        assert_eq!(foreign.file_server(), Err(UrlError::NoServerKey));
        let ipv6 = AttachmentUrl::parse(&format!("HTTPS://[::1]:8443/file/1#p={KEY_HEX}")).unwrap();
        assert_eq!(
            ipv6.to_string(),
            format!("https://[::1]:8443/file/1#p={KEY_HEX}")
        );
    }

    #[test]
    fn refuses_everything_else_with_a_typed_error() {
        let id = HASH_ID;
        let long_id = "a".repeat(45);
        let many = ["x=1"; 9].join("&");
        let cases: Vec<(String, UrlError)> = vec![
            (format!("ftp://h/file/{id}"), UrlError::Scheme),
            (format!("//h/file/{id}"), UrlError::Scheme),
            (format!("http://u@h/file/{id}"), UrlError::UserInfo),
            (format!("http:///file/{id}"), UrlError::Host),
            (format!("http://h_x/file/{id}"), UrlError::Host),
            (format!("http://-h/file/{id}"), UrlError::Host),
            (format!("http://999.1.1.1/file/{id}"), UrlError::Host),
            (format!("http://[zz]/file/{id}"), UrlError::Host),
            (format!("http://h:0/file/{id}"), UrlError::Port),
            (format!("http://h:65536/file/{id}"), UrlError::Port),
            (format!("http://h:/file/{id}"), UrlError::Port),
            ("http://h".to_owned(), UrlError::Path),
            (format!("http://h/files/{id}"), UrlError::Path),
            (format!("http://h/x/file/{id}"), UrlError::Path),
            (format!("http://h/file/{id}/info"), UrlError::Path),
            ("http://h/file/".to_owned(), UrlError::FileId),
            (format!("http://h/file/{long_id}"), UrlError::FileId),
            ("http://h/file/a%41".to_owned(), UrlError::FileId),
            ("http://h/file/a.b".to_owned(), UrlError::FileId),
            (format!("http://h/file/{id}?x=1"), UrlError::Query),
            (
                format!("http://h/file/{id}#"),
                UrlError::FragmentItem { index: 0 },
            ),
            (
                format!("http://h/file/{id}#d&&p"),
                UrlError::FragmentItem { index: 1 },
            ),
            (
                format!("http://h/file/{id}#d=1"),
                UrlError::FragmentItem { index: 0 },
            ),
            (
                format!("http://h/file/{id}#=x"),
                UrlError::FragmentItem { index: 0 },
            ),
            (
                format!("http://h/file/{id}#d&x y"),
                UrlError::FragmentItem { index: 1 },
            ),
            (
                format!("http://h/file/{id}#d&d="),
                UrlError::DuplicateItem("d"),
            ),
            (
                format!("http://h/file/{id}#p={KEY_HEX}&p={KEY_HEX}"),
                UrlError::DuplicateItem("p"),
            ),
            (format!("http://h/file/{id}#p=00"), UrlError::ServerKey),
            (format!("http://h/file/{id}#p"), UrlError::ServerKey),
            (
                format!("http://h/file/{id}#p={}", "g".repeat(64)),
                UrlError::ServerKey,
            ),
            (
                format!("http://h/file/{id}#{many}"),
                UrlError::TooManyItems { max: 8 },
            ),
            (
                format!("http://h/file/{}", "a".repeat(MAX_URL_LEN)),
                UrlError::TooLong {
                    len: MAX_URL_LEN + 14,
                    max: MAX_URL_LEN,
                },
            ),
        ];
        for (url, want) in cases {
            assert_eq!(AttachmentUrl::parse(&url), Err(want), "{url}");
        }
        assert_eq!(
            FileServer::session_default().file_url("a/b", true),
            Err(UrlError::FileId)
        );
        assert_eq!(
            FileServer::new(Scheme::Http, "a b", None, [0; 32]),
            Err(UrlError::Host)
        );
    }

    proptest::proptest! {
        #[test]
        fn parse_never_panics_and_canonical_form_round_trips(s in "\\PC{0,200}") {
            if let Ok(url) = AttachmentUrl::parse(&s) {
                let text = url.to_string();
                proptest::prop_assert_eq!(AttachmentUrl::parse(&text).unwrap(), url);
            }
        }

        #[test]
        fn built_urls_parse_back(
            id in "[A-Za-z0-9_-]{1,44}",
            host in "[a-z][a-z0-9-]{0,20}[a-z0-9](\\.[a-z]{2,6}){0,2}",
            port in proptest::option::of(1u16..),
            det: bool,
            key: [u8; 32],
        ) {
            let server = FileServer::new(Scheme::Http, &host, port, key).unwrap();
            let url = server.file_url(&id, det).unwrap();
            let back = AttachmentUrl::parse(&url.to_string()).unwrap();
            proptest::prop_assert_eq!(back.file_server().unwrap(), server);
            proptest::prop_assert_eq!(back, url);
        }
    }
}
