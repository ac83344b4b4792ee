//! The node's TOML configuration, validated into typed values.

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use sotto_crypto::Ed25519PublicKey;
use thiserror::Error;

/// A commented example configuration (what `sotto-node --help` and the README show).
pub const EXAMPLE: &str = r#"# Where the node keeps identity.key (created on first start, mode 0600) and store.db.
# A relative path is relative to the directory the node is started from.
data_dir = "target/testnet/node-01"
# HTTPS address for clients and other nodes. The IP is also the address the node
# announces to the directory, so it must be a concrete IPv4 address others can reach.
listen = "127.0.0.11:22021"
# The directory's HTTPS address and its Ed25519 key (64 hex digits, pinned).
directory = "127.0.0.1:22020"
directory_pubkey = "0000000000000000000000000000000000000000000000000000000000000000"
# Optional: size cap of the message store in MiB (default 512). One part in 16 is kept
# for deletes: new messages are refused once the rest is used.
store_limit_mb = 512
# Optional: what one account may hold, in MiB of message data and in messages (defaults
# 32 and 20000). Over it, the account's oldest messages in public inboxes (where anyone
# may store without a signature) are evicted; signed stores that still do not fit are
# refused with 507.
account_quota_mb = 32
account_quota_messages = 20000
# Optional: open connections at once, in total and from one IP address (defaults 2048
# and 64). Connections over a cap are closed at once.
max_connections = 2048
max_connections_per_ip = 64
# Optional: seconds between uptime proofs to the directory (default 5).
proof_interval_s = 5
# Optional: seconds between fetches of the node list (default 2).
list_poll_interval_s = 2
# Optional: a PEM file of extra root certificates to trust when proxying onion requests
# to https:// servers (a private deployment's CA). The Mozilla roots are always trusted.
# server_ca_file = "/etc/sotto/private-ca.pem"
# Optional: let onion requests be proxied to loopback, private (RFC 1918, CGNAT),
# link-local and other non-public addresses (default false: such targets get the same
# 502 as an unreachable server). Only for a loopback testnet or a private deployment.
# allow_private_targets = false
"#;

/// Default `store_limit_mb`.
pub const DEFAULT_STORE_LIMIT_MB: u64 = 512;
/// Default `account_quota_mb`.
pub const DEFAULT_ACCOUNT_QUOTA_MB: u64 = sotto_store::DEFAULT_ACCOUNT_BYTES >> 20;
/// Default `account_quota_messages`.
pub const DEFAULT_ACCOUNT_QUOTA_MESSAGES: u64 = sotto_store::DEFAULT_ACCOUNT_MESSAGES;
/// Default `max_connections`.
pub const DEFAULT_MAX_CONNECTIONS: u64 = sotto_transport::DEFAULT_MAX_CONNECTIONS as u64;
/// Default `max_connections_per_ip`.
pub const DEFAULT_MAX_CONNECTIONS_PER_IP: u64 =
    sotto_transport::DEFAULT_MAX_CONNECTIONS_PER_IP as u64;
/// Default `proof_interval_s`.
pub const DEFAULT_PROOF_INTERVAL_S: u64 = 5;
/// Default `list_poll_interval_s`.
pub const DEFAULT_LIST_POLL_INTERVAL_S: u64 = 2;
/// Largest configuration file read, in bytes.
pub const MAX_CONFIG_LEN: usize = 64 * 1024;

/// Why a configuration was refused. Each message names the field and what it must be.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The file is larger than [`MAX_CONFIG_LEN`].
    #[error("config file is {len} bytes; at most {MAX_CONFIG_LEN} are read")]
    TooLarge {
        /// Its length.
        len: usize,
    },
    /// Not valid TOML, a field missing or unknown, or a value of the wrong type.
    #[error("config: {0}")]
    Toml(String),
    /// A field has the right type but an unusable value.
    #[error("config: {field} = {value:?}: {reason}")]
    Invalid {
        /// The field.
        field: &'static str,
        /// The value given (never secret: no field of this file is).
        value: String,
        /// What it must be.
        reason: &'static str,
    },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    data_dir: PathBuf,
    listen: String,
    directory: String,
    directory_pubkey: String,
    store_limit_mb: Option<u64>,
    account_quota_mb: Option<u64>,
    account_quota_messages: Option<u64>,
    max_connections: Option<u64>,
    max_connections_per_ip: Option<u64>,
    proof_interval_s: Option<u64>,
    list_poll_interval_s: Option<u64>,
    server_ca_file: Option<PathBuf>,
    allow_private_targets: Option<bool>,
}

/// A validated node configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeConfig {
    /// The data directory.
    pub data_dir: PathBuf,
    /// The HTTPS listening address, also announced to the directory.
    pub listen: SocketAddrV4,
    /// The directory's address.
    pub directory: SocketAddr,
    /// The directory's Ed25519 key.
    pub directory_pubkey: Ed25519PublicKey,
    /// The store's size cap, bytes.
    pub store_limit_bytes: u64,
    /// What one account may hold.
    pub account_quota: sotto_store::Quota,
    /// Open connections at once, in total.
    pub max_connections: usize,
    /// Open connections at once from one IP address.
    pub max_connections_per_ip: usize,
    /// Time between uptime proofs.
    pub proof_interval: Duration,
    /// Time between node-list fetches.
    pub list_poll_interval: Duration,
    /// Extra PEM root certificates for `https://` onion targets, besides the Mozilla roots.
    pub server_ca_file: Option<PathBuf>,
    /// Whether onion requests may be proxied to non-public addresses (loopback, private,
    /// link-local, …) after the target's host is resolved. Off by default.
    pub allow_private_targets: bool,
}

fn invalid(field: &'static str, value: impl ToString, reason: &'static str) -> ConfigError {
    ConfigError::Invalid {
        field,
        value: value.to_string(),
        reason,
    }
}

fn in_range(
    field: &'static str,
    value: Option<u64>,
    default: u64,
    range: core::ops::RangeInclusive<u64>,
    reason: &'static str,
) -> Result<u64, ConfigError> {
    let v = value.unwrap_or(default);
    if range.contains(&v) {
        Ok(v)
    } else {
        Err(invalid(field, v, reason))
    }
}

impl NodeConfig {
    /// Parses and validates a configuration text.
    pub fn parse(text: &str) -> Result<Self, ConfigError> {
        if text.len() > MAX_CONFIG_LEN {
            return Err(ConfigError::TooLarge { len: text.len() });
        }
        let raw: RawConfig = toml::from_str(text).map_err(|e| ConfigError::Toml(e.to_string()))?;
        if raw.data_dir.as_os_str().is_empty() {
            return Err(invalid("data_dir", "", "must not be empty"));
        }
        let listen: SocketAddrV4 = raw.listen.parse().map_err(|_| {
            invalid(
                "listen",
                &raw.listen,
                "must be IPv4:port, e.g. \"127.0.0.11:22021\"",
            )
        })?;
        if listen.ip().is_unspecified() || listen.ip().is_broadcast() || listen.ip().is_multicast()
        {
            return Err(invalid(
                "listen",
                &raw.listen,
                "the IP is announced to other nodes, so it must be a concrete unicast address (not 0.0.0.0)",
            ));
        }
        if listen.port() == 0 {
            return Err(invalid("listen", &raw.listen, "the port must not be 0"));
        }
        let directory: SocketAddr = raw.directory.parse().map_err(|_| {
            invalid(
                "directory",
                &raw.directory,
                "must be IP:port, e.g. \"127.0.0.1:22020\"",
            )
        })?;
        if directory.port() == 0 || directory.ip().is_unspecified() {
            return Err(invalid(
                "directory",
                &raw.directory,
                "must be a reachable address and a non-zero port",
            ));
        }
        let key: [u8; 32] = hex::decode(raw.directory_pubkey.trim())
            .ok()
            .and_then(|v| v.try_into().ok())
            .ok_or_else(|| {
                invalid(
                    "directory_pubkey",
                    &raw.directory_pubkey,
                    "must be 64 hex digits (the directory's Ed25519 key)",
                )
            })?;
        let directory_pubkey = Ed25519PublicKey(key);
        if directory_pubkey.to_x25519().is_err() {
            return Err(invalid(
                "directory_pubkey",
                &raw.directory_pubkey,
                "is not a valid Ed25519 public key",
            ));
        }
        let store_limit_mb = in_range(
            "store_limit_mb",
            raw.store_limit_mb,
            DEFAULT_STORE_LIMIT_MB,
            1..=1 << 30,
            "must be between 1 and 2^30 MiB",
        )?;
        let account_mb = in_range(
            "account_quota_mb",
            raw.account_quota_mb,
            DEFAULT_ACCOUNT_QUOTA_MB,
            1..=1 << 30,
            "must be between 1 and 2^30 MiB",
        )?;
        let account_messages = in_range(
            "account_quota_messages",
            raw.account_quota_messages,
            DEFAULT_ACCOUNT_QUOTA_MESSAGES,
            1..=1 << 40,
            "must be between 1 and 2^40",
        )?;
        let max_connections = in_range(
            "max_connections",
            raw.max_connections,
            DEFAULT_MAX_CONNECTIONS,
            1..=1 << 20,
            "must be between 1 and 2^20",
        )?;
        let max_connections_per_ip = in_range(
            "max_connections_per_ip",
            raw.max_connections_per_ip,
            DEFAULT_MAX_CONNECTIONS_PER_IP,
            1..=1 << 20,
            "must be between 1 and 2^20",
        )?;
        let proof = in_range(
            "proof_interval_s",
            raw.proof_interval_s,
            DEFAULT_PROOF_INTERVAL_S,
            1..=3600,
            "must be between 1 and 3600 seconds",
        )?;
        let poll = in_range(
            "list_poll_interval_s",
            raw.list_poll_interval_s,
            DEFAULT_LIST_POLL_INTERVAL_S,
            1..=3600,
            "must be between 1 and 3600 seconds",
        )?;
        Ok(Self {
            data_dir: raw.data_dir,
            listen,
            directory,
            directory_pubkey,
            store_limit_bytes: store_limit_mb.saturating_mul(1 << 20),
            account_quota: sotto_store::Quota {
                account_bytes: account_mb.saturating_mul(1 << 20),
                account_messages,
            },
            max_connections: usize::try_from(max_connections).unwrap_or(usize::MAX),
            max_connections_per_ip: usize::try_from(max_connections_per_ip).unwrap_or(usize::MAX),
            proof_interval: Duration::from_secs(proof),
            list_poll_interval: Duration::from_secs(poll),
            server_ca_file: raw.server_ca_file.filter(|p| !p.as_os_str().is_empty()),
            allow_private_targets: raw.allow_private_targets.unwrap_or(false),
        })
    }

    /// Reads and validates a configuration file.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let read = |source| ConfigError::Read {
            path: path.to_owned(),
            source,
        };
        let len = std::fs::metadata(path).map_err(read)?.len();
        if len > MAX_CONFIG_LEN as u64 {
            return Err(ConfigError::TooLarge {
                len: usize::try_from(len).unwrap_or(usize::MAX),
            });
        }
        Self::parse(&std::fs::read_to_string(path).map_err(read)?)
    }

    /// The IP address announced to the directory.
    #[must_use]
    pub fn public_ip(&self) -> Ipv4Addr {
        *self.listen.ip()
    }

    /// `DATA_DIR/store.db`.
    #[must_use]
    pub fn store_path(&self) -> PathBuf {
        self.data_dir.join("store.db")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn valid_key() -> String {
        hex::encode(
            sotto_crypto::Ed25519SecretKey::from_seed(&[9; 32])
                .public_key()
                .0,
        )
    }

    fn with(field: &str, value: &str) -> String {
        let mut out = String::new();
        for line in EXAMPLE.lines() {
            if line.starts_with(&format!("{field} =")) {
                out.push_str(&format!("{field} = {value}\n"));
            } else if line.starts_with("directory_pubkey =") {
                out.push_str(&format!("directory_pubkey = \"{}\"\n", valid_key()));
            } else {
                out.push_str(line);
                out.push('\n');
            }
        }
        out
    }

    #[test]
    fn example_with_a_real_key_parses() {
        let c = NodeConfig::parse(&with("unused", "")).unwrap();
        assert_eq!(c.listen, "127.0.0.11:22021".parse().unwrap());
        assert_eq!(c.public_ip(), Ipv4Addr::new(127, 0, 0, 11));
        assert_eq!(c.store_limit_bytes, 512 << 20);
        assert_eq!(c.proof_interval, Duration::from_secs(5));
        assert_eq!(c.list_poll_interval, Duration::from_secs(2));
        assert_eq!(c.store_path(), Path::new("target/testnet/node-01/store.db"));
    }

    #[test]
    fn optional_fields_default() {
        let text = format!(
            "data_dir = \"d\"\nlisten = \"127.0.0.2:1\"\ndirectory = \"127.0.0.1:2\"\ndirectory_pubkey = \"{}\"\n",
            valid_key()
        );
        let c = NodeConfig::parse(&text).unwrap();
        assert_eq!(c.store_limit_bytes, DEFAULT_STORE_LIMIT_MB << 20);
        assert_eq!(
            c.proof_interval,
            Duration::from_secs(DEFAULT_PROOF_INTERVAL_S)
        );
        assert!(
            !c.allow_private_targets,
            "private targets are refused by default"
        );
        let allowed = NodeConfig::parse(&format!("{text}allow_private_targets = true\n")).unwrap();
        assert!(allowed.allow_private_targets);
    }

    #[test]
    fn bad_values_name_the_field() {
        for (field, value, needle) in [
            ("listen", "\"0.0.0.0:22021\"", "listen"),
            ("listen", "\"[::1]:22021\"", "listen"),
            ("listen", "\"127.0.0.1:0\"", "port"),
            ("listen", "22021", "listen"),
            ("directory", "\"nowhere\"", "directory"),
            ("directory_pubkey", "\"abcd\"", "64 hex"),
            ("store_limit_mb", "0", "store_limit_mb"),
            ("proof_interval_s", "0", "proof_interval_s"),
            ("list_poll_interval_s", "99999", "list_poll_interval_s"),
            ("data_dir", "\"\"", "data_dir"),
        ] {
            let err = NodeConfig::parse(&with(field, value)).unwrap_err();
            assert!(err.to_string().contains(needle), "{field}={value}: {err}");
        }
        // The example's placeholder key (all zeros) is not a usable key.
        let err = NodeConfig::parse(EXAMPLE).unwrap_err();
        assert!(err.to_string().contains("directory_pubkey"), "{err}");
        let err = NodeConfig::parse(&format!("{}\nextra = 1\n", with("x", ""))).unwrap_err();
        assert!(err.to_string().contains("extra"), "{err}");
        let err = NodeConfig::parse("listen = ").unwrap_err();
        assert!(matches!(err, ConfigError::Toml(_)));
        let err = NodeConfig::parse(&" ".repeat(MAX_CONFIG_LEN + 1)).unwrap_err();
        assert!(matches!(err, ConfigError::TooLarge { .. }));
    }
}
