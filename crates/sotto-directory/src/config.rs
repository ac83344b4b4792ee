//! The directory's TOML configuration, validated into typed values.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use sotto_crypto::Ed25519PublicKey;
use thiserror::Error;

use crate::{Admission, Limits, Policy};

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
# Who may join: "allowlist" (the default) admits only the node Ed25519 keys listed
# in `allowlist`; with an empty allowlist no node can join, and registrations are
# refused with a message saying so. "open" lets any node join, within the limits
# below; allowlisted nodes are then admitted even above those limits.
admission = "allowlist"
# Node Ed25519 keys (64 hex digits, as `sotto-node keygen` prints them).
allowlist = []
# Optional limits on the nodes that are not on the allowlist (defaults shown): the
# most registered nodes, per announced IPv4 address, and per announced /24.
max_nodes = 2000
max_nodes_per_ip = 1
max_nodes_per_subnet = 4
# Optional: the shortest time between two epochs, in milliseconds (default 10000).
# Joins and departures in between wait and enter the next epoch together.
min_epoch_interval_ms = 10000
# Optional rate limits on every route, per client address and per client /24
# (requests per second, and bursts; defaults shown). Over them: 429.
requests_per_s_per_ip = 10
request_burst_per_ip = 40
requests_per_s_per_subnet = 50
request_burst_per_subnet = 200
"#;

/// Default `max_nodes`.
pub const DEFAULT_MAX_NODES: usize = 2000;
/// Default `max_nodes_per_ip`.
pub const DEFAULT_MAX_NODES_PER_IP: usize = 1;
/// Default `max_nodes_per_subnet`.
pub const DEFAULT_MAX_NODES_PER_SUBNET: usize = 4;
/// Default `min_epoch_interval_ms`.
pub const DEFAULT_MIN_EPOCH_INTERVAL_MS: u64 = 10_000;
/// Default rate limits.
pub const DEFAULT_RATES: Rates = Rates {
    per_ip: Rate {
        per_s: 10,
        burst: 40,
    },
    per_subnet: Rate {
        per_s: 50,
        burst: 200,
    },
};

pub use sotto_transport::ratelimit::Rate;

/// The rate limits on every route.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rates {
    /// Per client IPv4 address (or IPv6 address).
    pub per_ip: Rate,
    /// Per client /24 (or IPv6 /48).
    pub per_subnet: Rate,
}

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
    /// Who may join.
    pub admission: Admission,
    /// Nodes always admitted (under [`Admission::Allowlist`], the only ones).
    pub allowlist: BTreeSet<Ed25519PublicKey>,
    /// Caps on the other nodes.
    pub limits: Limits,
    /// The shortest time between epochs, ms.
    pub min_epoch_interval_ms: u64,
    /// Rate limits on every route.
    pub rates: Rates,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    data_dir: PathBuf,
    listen: String,
    decommission_after_s: Option<u64>,
    admission: Option<String>,
    #[serde(default)]
    allowlist: Vec<String>,
    max_nodes: Option<u64>,
    max_nodes_per_ip: Option<u64>,
    max_nodes_per_subnet: Option<u64>,
    min_epoch_interval_ms: Option<u64>,
    requests_per_s_per_ip: Option<u32>,
    request_burst_per_ip: Option<u32>,
    requests_per_s_per_subnet: Option<u32>,
    request_burst_per_subnet: Option<u32>,
}

/// A count key: at least 1, at most `max`.
fn count(key: &'static str, value: Option<u64>, default: usize) -> Result<usize, ConfigError> {
    let Some(value) = value else {
        return Ok(default);
    };
    usize::try_from(value)
        .ok()
        .filter(|&v| (1..=1_000_000).contains(&v))
        .ok_or(ConfigError::Invalid {
            key,
            value: value.to_string(),
            reason: "must be between 1 and 1000000",
        })
}

fn rate(key: &'static str, value: Option<u32>, default: u32) -> Result<u32, ConfigError> {
    let value = value.unwrap_or(default);
    if value == 0 || value > 1_000_000 {
        return Err(ConfigError::Invalid {
            key,
            value: value.to_string(),
            reason: "must be between 1 and 1000000",
        });
    }
    Ok(value)
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
        let admission = match raw.admission.as_deref() {
            None | Some("allowlist") => Admission::Allowlist,
            Some("open") => Admission::Open,
            Some(other) => {
                return Err(ConfigError::Invalid {
                    key: "admission",
                    value: other.to_owned(),
                    reason: "must be \"allowlist\" (only listed keys join) or \"open\" (any node joins, within the limits)",
                });
            }
        };
        let limits = Limits {
            max_nodes: count("max_nodes", raw.max_nodes, DEFAULT_MAX_NODES)?,
            max_nodes_per_ip: count(
                "max_nodes_per_ip",
                raw.max_nodes_per_ip,
                DEFAULT_MAX_NODES_PER_IP,
            )?,
            max_nodes_per_subnet: count(
                "max_nodes_per_subnet",
                raw.max_nodes_per_subnet,
                DEFAULT_MAX_NODES_PER_SUBNET,
            )?,
        };
        let min_epoch_interval_ms = raw
            .min_epoch_interval_ms
            .unwrap_or(DEFAULT_MIN_EPOCH_INTERVAL_MS);
        if min_epoch_interval_ms > decommission_after_s.saturating_mul(1000) {
            return Err(ConfigError::Invalid {
                key: "min_epoch_interval_ms",
                value: min_epoch_interval_ms.to_string(),
                reason: "must not be longer than decommission_after_s",
            });
        }
        let d = DEFAULT_RATES;
        let rates = Rates {
            per_ip: Rate {
                per_s: rate(
                    "requests_per_s_per_ip",
                    raw.requests_per_s_per_ip,
                    d.per_ip.per_s,
                )?,
                burst: rate(
                    "request_burst_per_ip",
                    raw.request_burst_per_ip,
                    d.per_ip.burst,
                )?,
            },
            per_subnet: Rate {
                per_s: rate(
                    "requests_per_s_per_subnet",
                    raw.requests_per_s_per_subnet,
                    d.per_subnet.per_s,
                )?,
                burst: rate(
                    "request_burst_per_subnet",
                    raw.request_burst_per_subnet,
                    d.per_subnet.burst,
                )?,
            },
        };
        Ok(Self {
            data_dir: raw.data_dir,
            listen,
            decommission_after_s,
            admission,
            allowlist,
            limits,
            min_epoch_interval_ms,
            rates,
        })
    }

    /// Whether no node can join: admission by allowlist with an empty allowlist.
    #[must_use]
    pub fn admits_no_one(&self) -> bool {
        self.admission == Admission::Allowlist && self.allowlist.is_empty()
    }

    /// The state machine's policy.
    #[must_use]
    pub fn policy(&self) -> Policy {
        Policy {
            decommission_after_ms: self.decommission_after_s.saturating_mul(1000),
            admission: self.admission,
            allowlist: self.allowlist.clone(),
            limits: self.limits,
            min_epoch_interval_ms: self.min_epoch_interval_ms,
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
        // The example is the defaults: allowlisted admission, which with no keys admits no one.
        let base = Config::parse("data_dir = \"d\"\nlisten = \"127.0.0.1:1\"\n").unwrap();
        assert_eq!(
            base,
            Config {
                data_dir: base.data_dir.clone(),
                listen: base.listen,
                ..c.clone()
            }
        );
        assert_eq!(c.admission, Admission::Allowlist);
        assert!(c.admits_no_one());
        assert_eq!(c.rates, DEFAULT_RATES);
        assert_eq!(c.min_epoch_interval_ms, DEFAULT_MIN_EPOCH_INTERVAL_MS);
        assert_eq!(c.limits.max_nodes_per_ip, DEFAULT_MAX_NODES_PER_IP);
    }

    #[test]
    fn open_admission_and_limits() {
        let base = "data_dir = \"d\"\nlisten = \"127.0.0.1:1\"\n";
        let c = Config::parse(&format!(
            "{base}admission = \"open\"\nmax_nodes = 7\nmax_nodes_per_ip = 2\nmax_nodes_per_subnet = 3\nmin_epoch_interval_ms = 50\nrequests_per_s_per_ip = 5\nrequest_burst_per_subnet = 9\n"
        ))
        .unwrap();
        assert_eq!(c.admission, Admission::Open);
        assert!(!c.admits_no_one());
        assert_eq!(
            c.limits,
            Limits {
                max_nodes: 7,
                max_nodes_per_ip: 2,
                max_nodes_per_subnet: 3
            }
        );
        assert_eq!(c.policy().min_epoch_interval_ms, 50);
        assert_eq!(c.rates.per_ip.per_s, 5);
        assert_eq!(c.rates.per_subnet.burst, 9);
        let err = |text: &str| {
            Config::parse(&format!("{base}{text}"))
                .unwrap_err()
                .to_string()
        };
        assert!(err("admission = \"anyone\"").contains("`admission`"));
        assert!(err("max_nodes_per_ip = 0").contains("`max_nodes_per_ip`"));
        assert!(err("requests_per_s_per_ip = 0").contains("`requests_per_s_per_ip`"));
        assert!(err("min_epoch_interval_ms = 60000").contains("`min_epoch_interval_ms`"));
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
