//! The directory's TOML configuration, validated into typed values.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use sotto_crypto::Ed25519PublicKey;
use thiserror::Error;

use crate::Policy;

/// A commented example configuration (shown by `sotto-directory --help` and the README).
pub const EXAMPLE: &str = r#"# Where the directory keeps identity.key (its Ed25519 key, created on first start,
# mode 0600) and state.json (registered nodes, epoch, swarms). Relative paths are
# relative to the directory the process is started from.
data_dir = "target/testnet/directory"
# HTTPS address for nodes (POST /register, /proof) and clients (POST /json_rpc).
listen = "127.0.0.1:22020"
# Optional: a node that sends no uptime proof for this many seconds leaves the
# active set (default 20).
decommission_after_s = 20
# Optional: the only node Ed25519 keys (64 hex digits) allowed to join.
# Empty or absent: any node may join.
allowlist = []
"#;

/// Default `decommission_after_s`.
pub const DEFAULT_DECOMMISSION_AFTER_S: u64 = 20;
/// Largest configuration file read, in bytes.
pub const MAX_CONFIG_LEN: u64 = 1 << 20;

/// Why a configuration was refused. Each message names the key and what it must be.
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
    #[error("config file {path} is larger than {MAX_CONFIG_LEN} bytes")]
    TooLarge {
        /// The file.
        path: PathBuf,
    },
    /// Not TOML, an unknown key, or a value of the wrong type.
    #[error("config: {0}")]
    Toml(#[from] toml::de::Error),
    /// A key with a value of the right type that is not usable.
    #[error("config: `{key}` = {value:?}: {reason}")]
    Invalid {
        /// The key.
        key: &'static str,
        /// The value given.
        value: String,
        /// What it must be.
        reason: &'static str,
    },
}

/// A validated configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// The data directory.
    pub data_dir: PathBuf,
    /// The HTTPS listening address.
    pub listen: SocketAddr,
    /// Seconds without a proof before a node leaves the active set.
    pub decommission_after_s: u64,
    /// The only nodes allowed to join (empty: anyone).
    pub allowlist: BTreeSet<Ed25519PublicKey>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    data_dir: PathBuf,
    listen: String,
    decommission_after_s: Option<u64>,
    #[serde(default)]
    allowlist: Vec<String>,
}

impl Config {
    /// Reads and validates a configuration file.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let read = |source| ConfigError::Read {
            path: path.to_owned(),
            source,
        };
        let len = std::fs::metadata(path).map_err(read)?.len();
        if len > MAX_CONFIG_LEN {
            return Err(ConfigError::TooLarge {
                path: path.to_owned(),
            });
        }
        Self::parse(&std::fs::read_to_string(path).map_err(read)?)
    }

    /// Validates configuration text.
    pub fn parse(text: &str) -> Result<Self, ConfigError> {
        let raw: RawConfig = toml::from_str(text)?;
        let listen: SocketAddr = raw.listen.parse().map_err(|_| ConfigError::Invalid {
            key: "listen",
            value: raw.listen.clone(),
            reason: "must be an IP:port address such as 127.0.0.1:22020",
        })?;
        let decommission_after_s = raw
            .decommission_after_s
            .unwrap_or(DEFAULT_DECOMMISSION_AFTER_S);
        if decommission_after_s == 0 || decommission_after_s > 86_400 * 365 {
            return Err(ConfigError::Invalid {
                key: "decommission_after_s",
                value: decommission_after_s.to_string(),
                reason: "must be between 1 and 31536000 seconds",
            });
        }
        let allowlist = raw
            .allowlist
            .iter()
            .map(|text| {
                let invalid = || ConfigError::Invalid {
                    key: "allowlist",
                    value: text.clone(),
                    reason: "entries must be node Ed25519 keys, 64 hex digits",
                };
                let mut key = [0u8; 32];
                hex::decode_to_slice(text.trim(), &mut key).map_err(|_| invalid())?;
                let key = Ed25519PublicKey(key);
                key.to_x25519().map_err(|_| invalid())?;
                Ok(key)
            })
            .collect::<Result<_, ConfigError>>()?;
        Ok(Self {
            data_dir: raw.data_dir,
            listen,
            decommission_after_s,
            allowlist,
        })
    }

    /// The state machine's policy.
    #[must_use]
    pub fn policy(&self) -> Policy {
        Policy {
            decommission_after_ms: self.decommission_after_s.saturating_mul(1000),
            allowlist: self.allowlist.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn example_parses() {
        let c = Config::parse(EXAMPLE).unwrap();
        assert_eq!(c.listen.to_string(), "127.0.0.1:22020");
        assert_eq!(c.decommission_after_s, 20);
        assert!(c.allowlist.is_empty());
        assert_eq!(c.policy().decommission_after_ms, 20_000);
    }

    #[test]
    fn errors_name_the_key() {
        let err = |text: &str| Config::parse(text).unwrap_err().to_string();
        let base = "data_dir = \"d\"\nlisten = \"127.0.0.1:1\"\n";
        assert!(err("data_dir = \"d\"\nlisten = \"nope\"").contains("`listen`"));
        assert!(err("listen = \"127.0.0.1:1\"").contains("data_dir"));
        assert!(err(&format!("{base}decommission_after_s = 0")).contains("decommission_after_s"));
        assert!(
            err(&format!("{base}decommission_after_s = \"5\"")).contains("decommission_after_s")
        );
        assert!(err(&format!("{base}allowlist = [\"abcd\"]")).contains("allowlist"));
        assert!(err(&format!("{base}alowlist = []")).contains("alowlist"));
        let key = sotto_crypto::Ed25519SecretKey::from_seed(&[1; 32]).public_key();
        let c = Config::parse(&format!("{base}allowlist = [\"{}\"]", hex::encode(key.0))).unwrap();
        assert_eq!(c.allowlist.into_iter().collect::<Vec<_>>(), vec![key]);
    }
}
