//! The server's TOML configuration.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use thiserror::Error;

/// A commented example configuration (`sotto-community example-config`).
pub const EXAMPLE: &str = r#"# Where the server keeps identity.key (its X25519/Ed25519 secret, created by
# `sotto-community keygen` or on first start, mode 0600) and community.sqlite (rooms,
# messages, users; WAL). The directory is created with mode 0700.
data_dir = "target/community"
# Optional: store rooms, messages and users in PostgreSQL instead of DATA_DIR/community.sqlite
# (uploads and identity.key stay in data_dir). The database must exist; the server creates
# its tables. No TLS: use a unix socket (host=/run/postgresql) or a trusted network.
# database_url = "postgresql://sogs@localhost/sogs"
# database_url = "host=/run/postgresql user=sogs dbname=sogs"
# Plain HTTP address. Session apps reach it directly or through onion requests.
listen = "127.0.0.1:8081"
# Optional: the base URL printed in join links (default: http://LISTEN).
# public_url = "http://community.example.org"
# Optional: refuse requests signed with unblinded (00) keys (default true, as pysogs).
require_blind_keys = true
# Optional: largest request body in bytes (default 10100000: a 10 MB upload and its
# headers; pysogs accepts uploads up to 10 MB).
max_body = 10100000
# Optional: per client address, requests per second and burst (defaults shown). Over: 429.
requests_per_s_per_ip = 20
request_burst_per_ip = 100
"#;

/// Default `max_body`: a 10 MB upload with room to spare.
pub const DEFAULT_MAX_BODY: usize = 10_100_000;

/// Why the configuration could not be loaded.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file could not be read.
    #[error("{path}: {source}")]
    Read {
        /// The path.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The file is not valid TOML for this server.
    #[error("{path}: {source}")]
    Parse {
        /// The path.
        path: PathBuf,
        /// Why.
        #[source]
        source: toml::de::Error,
    },
    /// A value is out of range.
    #[error("{0}")]
    Invalid(&'static str),
}

/// The configuration file, as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    data_dir: PathBuf,
    listen: SocketAddr,
    public_url: Option<String>,
    require_blind_keys: Option<bool>,
    max_body: Option<usize>,
    requests_per_s_per_ip: Option<u32>,
    request_burst_per_ip: Option<u32>,
    database_url: Option<String>,
}

/// The validated configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Config {
    /// The data directory.
    pub data_dir: PathBuf,
    /// The listening address.
    pub listen: SocketAddr,
    /// The base URL of join links.
    pub public_url: String,
    /// Refuse unblinded keys.
    pub require_blind_keys: bool,
    /// Largest request body, bytes.
    pub max_body: usize,
    /// Requests per second per client address.
    pub requests_per_s_per_ip: u32,
    /// Burst per client address.
    pub request_burst_per_ip: u32,
    /// The PostgreSQL database to use instead of SQLite, if any.
    pub database_url: Option<String>,
}

impl Config {
    /// Parses a configuration from TOML text (`path` is for error messages).
    pub fn parse(text: &str, path: &Path) -> Result<Self, ConfigError> {
        let f: File = toml::from_str(text).map_err(|source| ConfigError::Parse {
            path: path.to_owned(),
            source,
        })?;
        let max_body = f.max_body.unwrap_or(DEFAULT_MAX_BODY);
        if !(1024..=100_000_000).contains(&max_body) {
            return Err(ConfigError::Invalid(
                "max_body must be between 1024 and 100000000",
            ));
        }
        let rate = f.requests_per_s_per_ip.unwrap_or(20);
        let burst = f.request_burst_per_ip.unwrap_or(100);
        if rate == 0 || burst == 0 {
            return Err(ConfigError::Invalid(
                "requests_per_s_per_ip and request_burst_per_ip must be positive",
            ));
        }
        let public_url = f
            .public_url
            .unwrap_or_else(|| format!("http://{}", f.listen));
        if !(public_url.starts_with("http://") || public_url.starts_with("https://")) {
            return Err(ConfigError::Invalid(
                "public_url must start with http:// or https://",
            ));
        }
        Ok(Self {
            data_dir: f.data_dir,
            listen: f.listen,
            public_url,
            require_blind_keys: f.require_blind_keys.unwrap_or(true),
            max_body,
            requests_per_s_per_ip: rate,
            request_burst_per_ip: burst,
            database_url: f.database_url.filter(|u| !u.trim().is_empty()),
        })
    }

    /// Reads and parses the configuration file.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::parse(&text, path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn example_parses_with_defaults() {
        let c = Config::parse(EXAMPLE, Path::new("x")).unwrap();
        assert_eq!(c.public_url, "http://127.0.0.1:8081");
        assert!(c.require_blind_keys);
        assert!(
            Config::parse(
                "data_dir = \"d\"\nlisten = \"1.2.3.4:5\"\nbogus = 1",
                Path::new("x")
            )
            .is_err()
        );
        assert!(matches!(
            Config::parse(
                "data_dir = \"d\"\nlisten = \"1.2.3.4:5\"\nmax_body = 1",
                Path::new("x")
            ),
            Err(ConfigError::Invalid(_))
        ));
    }
}
