//! The file server's TOML configuration, validated into typed values.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use thiserror::Error;

/// The largest body a Sotto file server accepts by default: the largest deterministic
/// attachment ciphertext (spec `files.md` §2.5), so that other clients' maximal uploads fit.
pub const MAX_LEGAL_UPLOAD: u64 = 10_223_616;
/// Default `default_ttl_s`: 14 days, as the official clients assume.
pub const DEFAULT_TTL_S: u64 = 14 * 24 * 3600;
/// Default `max_ttl_s`: 60 days.
pub const DEFAULT_MAX_TTL_S: u64 = 60 * 24 * 3600;
/// Default `quota_bytes`: 10 GiB.
pub const DEFAULT_QUOTA_BYTES: u64 = 10 << 30;
/// The longest a configuration file may be.
pub const MAX_CONFIG_LEN: u64 = 1 << 20;

/// A commented example configuration (`sotto-fileserver example-config`).
pub const EXAMPLE: &str = r#"# Where the file server keeps identity.key (its Ed25519 key, created by `keygen` or
# on first start, mode 0600; clients encrypt onion requests to its X25519 form),
# files.db (SQLite, mode 0600) and the uploaded files. The directory is made 0700.
data_dir = "target/testnet/fileserver"
# Plain-HTTP address. Clients reach it through onion paths: the exit node POSTs to
# /oxen/v4/lsrpc. Operators may also call /file directly.
listen = "127.0.0.1:22030"
# Optional: the largest upload in bytes (default 10223616, the largest legal
# deterministic attachment ciphertext). Larger uploads get 413 before their body
# is read.
max_file_size = 10223616
# Optional: the lifetime of an upload without X-FS-TTL, and of an extension, in
# seconds (default 1209600 = 14 days).
default_ttl_s = 1209600
# Optional: the largest X-FS-TTL accepted, in seconds (default 5184000 = 60 days);
# a larger or malformed value gets 400.
max_ttl_s = 5184000
# Optional: the most bytes of files kept at once (default 10737418240 = 10 GiB).
# Uploads beyond it are refused with 507 and a message saying the quota is full.
quota_bytes = 10737418240
# Optional: how often expired files are deleted, in seconds (default 60).
sweep_interval_s = 60
# Optional rate limit on every route, per client address (requests per second and
# burst; defaults shown). Over it: 429. Onion requests count against the address
# of the exit node that relays them.
requests_per_s_per_ip = 20
request_burst_per_ip = 100
# Optional connection caps (defaults shown).
max_connections = 2048
max_connections_per_ip = 64
"#;

/// A validated configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// The data directory.
    pub data_dir: PathBuf,
    /// The plain-HTTP listen address.
    pub listen: SocketAddr,
    /// The largest upload, bytes.
    pub max_file_size: u64,
    /// Lifetime without `X-FS-TTL`.
    pub default_ttl: Duration,
    /// The largest `X-FS-TTL`.
    pub max_ttl: Duration,
    /// The most bytes stored.
    pub quota_bytes: u64,
    /// Time between expiry sweeps.
    pub sweep_interval: Duration,
    /// Requests per second per address.
    pub requests_per_s_per_ip: u32,
    /// Burst per address.
    pub request_burst_per_ip: u32,
    /// Connections at once.
    pub max_connections: usize,
    /// Connections at once per address.
    pub max_connections_per_ip: usize,
}

/// Why a configuration is unusable.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}", path = path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The file is larger than [`MAX_CONFIG_LEN`].
    #[error("{path} is too large for a configuration file", path = path.display())]
    TooLarge {
        /// The file.
        path: PathBuf,
    },
    /// Not TOML of the expected shape (unknown keys included).
    #[error("invalid configuration: {0}")]
    Toml(#[from] toml::de::Error),
    /// A value out of range.
    #[error("invalid {key} = {value}: {reason}")]
    Invalid {
        /// The key.
        key: &'static str,
        /// Its value.
        value: String,
        /// Why.
        reason: &'static str,
    },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    data_dir: PathBuf,
    listen: String,
    max_file_size: Option<u64>,
    default_ttl_s: Option<u64>,
    max_ttl_s: Option<u64>,
    quota_bytes: Option<u64>,
    sweep_interval_s: Option<u64>,
    requests_per_s_per_ip: Option<u32>,
    request_burst_per_ip: Option<u32>,
    max_connections: Option<usize>,
    max_connections_per_ip: Option<usize>,
}

fn positive<T: Copy + PartialOrd + From<u8> + ToString>(
    key: &'static str,
    value: Option<T>,
    default: T,
) -> Result<T, ConfigError> {
    let v = value.unwrap_or(default);
    if v < T::from(1) {
        return Err(ConfigError::Invalid {
            key,
            value: v.to_string(),
            reason: "must be at least 1",
        });
    }
    Ok(v)
}

impl Config {
    /// Reads and validates a configuration file.
    ///
    /// # Errors
    /// [`ConfigError`] naming the key at fault.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let read = |source| ConfigError::Read {
            path: path.to_owned(),
            source,
        };
        if std::fs::metadata(path).map_err(read)?.len() > MAX_CONFIG_LEN {
            return Err(ConfigError::TooLarge {
                path: path.to_owned(),
            });
        }
        Self::parse(&std::fs::read_to_string(path).map_err(read)?)
    }

    /// Validates configuration text.
    ///
    /// # Errors
    /// [`ConfigError`] naming the key at fault.
    pub fn parse(text: &str) -> Result<Self, ConfigError> {
        let raw: RawConfig = toml::from_str(text)?;
        let listen = raw.listen.parse().map_err(|_| ConfigError::Invalid {
            key: "listen",
            value: raw.listen.clone(),
            reason: "must be an IP:port address such as 127.0.0.1:22030",
        })?;
        let max_file_size = positive("max_file_size", raw.max_file_size, MAX_LEGAL_UPLOAD)?;
        if max_file_size > 64 << 20 {
            return Err(ConfigError::Invalid {
                key: "max_file_size",
                value: max_file_size.to_string(),
                reason: "must be at most 64 MiB (onion requests carry whole files)",
            });
        }
        let default_ttl = positive("default_ttl_s", raw.default_ttl_s, DEFAULT_TTL_S)?;
        let max_ttl = positive("max_ttl_s", raw.max_ttl_s, DEFAULT_MAX_TTL_S)?;
        if default_ttl > max_ttl {
            return Err(ConfigError::Invalid {
                key: "default_ttl_s",
                value: default_ttl.to_string(),
                reason: "must not exceed max_ttl_s",
            });
        }
        Ok(Self {
            data_dir: raw.data_dir,
            listen,
            max_file_size,
            default_ttl: Duration::from_secs(default_ttl),
            max_ttl: Duration::from_secs(max_ttl),
            quota_bytes: positive("quota_bytes", raw.quota_bytes, DEFAULT_QUOTA_BYTES)?,
            sweep_interval: Duration::from_secs(positive(
                "sweep_interval_s",
                raw.sweep_interval_s,
                60,
            )?),
            requests_per_s_per_ip: positive(
                "requests_per_s_per_ip",
                raw.requests_per_s_per_ip,
                20,
            )?,
            request_burst_per_ip: positive("request_burst_per_ip", raw.request_burst_per_ip, 100)?,
            max_connections: positive("max_connections", raw.max_connections, 2048)?,
            max_connections_per_ip: positive(
                "max_connections_per_ip",
                raw.max_connections_per_ip,
                64,
            )?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn example_parses_to_the_defaults() {
        let c = Config::parse(EXAMPLE).unwrap();
        assert_eq!(c.max_file_size, MAX_LEGAL_UPLOAD);
        assert_eq!(c.default_ttl, Duration::from_secs(DEFAULT_TTL_S));
        assert_eq!(c.max_ttl, Duration::from_secs(DEFAULT_MAX_TTL_S));
        assert_eq!(c.quota_bytes, DEFAULT_QUOTA_BYTES);
        assert_eq!((c.requests_per_s_per_ip, c.request_burst_per_ip), (20, 100));
    }

    #[test]
    fn errors_name_the_key() {
        let base = "data_dir = \"d\"\nlisten = \"127.0.0.1:1\"\n";
        assert!(Config::parse(base).is_ok());
        for (extra, key) in [
            ("quota_bytes = 0", "quota_bytes"),
            ("max_file_size = 100000000", "max_file_size"),
            ("default_ttl_s = 10\nmax_ttl_s = 5", "default_ttl_s"),
        ] {
            let err = Config::parse(&format!("{base}{extra}\n")).unwrap_err();
            assert!(err.to_string().contains(key), "{err}");
        }
        assert!(Config::parse("data_dir = \"d\"\nlisten = \"nope\"\n").is_err());
        assert!(Config::parse(&format!("{base}unknown = 1\n")).is_err());
    }
}
