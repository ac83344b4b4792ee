//! The network file (`network.json`): where the directory is, its key, and a few nodes.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use sotto_crypto::Ed25519PublicKey;
use thiserror::Error;

use super::SpreadRule;

/// The network file clients load (`DIR/network.json` written by `cargo xtask testnet`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetworkFile {
    /// The directory's HTTPS address.
    pub directory: SocketAddr,
    /// The directory's Ed25519 key (it signs the node list).
    pub directory_pubkey: Ed25519PublicKey,
    /// Some node addresses (a hint; the directory's list is authoritative).
    pub nodes_hint: Vec<SocketAddr>,
    /// The spread rule this network needs, when it differs from the default (`"spread":
    /// "address"`, `"subnet24"` or `"any"`): a loopback testnet lives in one /24 and sets
    /// `"address"`. Overrides [`super::OnionConfig::spread`].
    pub spread: Option<SpreadRule>,
    /// Whether paths must avoid the target's and the user's own swarm (`"avoid_swarms"`): a
    /// testnet with one swarm sets `false`. Overrides [`super::OnionConfig::avoid_swarms`].
    pub avoid_swarms: Option<bool>,
    /// The network's file server, if it names one (`"file_server": {"url": "http://host:port",
    /// "pubkey": Ed25519 hex}`); [`FileServerEntry::onion_server`] gives what
    /// [`super::OnionNetwork::server_request`] needs.
    pub file_server: Option<FileServerEntry>,
}

/// A file server named by the network file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileServerEntry {
    /// Its base URL, `http(s)://host[:port]`.
    pub url: String,
    /// Its Ed25519 key (its X25519 key, which onion requests are encrypted to, is derived
    /// from it).
    pub pubkey: Ed25519PublicKey,
}

impl FileServerEntry {
    /// The server as onion requests address it.
    ///
    /// # Errors
    /// [`super::ServerUrlError`] when the URL or key is unusable (checked by
    /// [`NetworkFile::parse`], so not for a parsed file).
    pub fn onion_server(&self) -> Result<super::OnionServer, super::ServerUrlError> {
        let x25519 = self
            .pubkey
            .to_x25519()
            .map_err(|_| super::ServerUrlError::Key)?;
        super::OnionServer::new(&self.url, x25519)
    }
}

/// Why a network file could not be used.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum NetworkFileError {
    /// No file at this path.
    #[error("no network file at {}", .0.display())]
    NotFound(PathBuf),
    /// The file exists but could not be read.
    #[error("cannot read the network file {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The content is malformed.
    #[error("malformed network file: {0}")]
    Malformed(String),
}

impl NetworkFile {
    /// Reads and parses the file at `path`.
    ///
    /// # Errors
    /// [`NetworkFileError::NotFound`] when there is no file, otherwise why it is unusable.
    pub fn load(path: &Path) -> Result<Self, NetworkFileError> {
        let bytes = std::fs::read(path).map_err(|source| {
            if source.kind() == std::io::ErrorKind::NotFound {
                NetworkFileError::NotFound(path.to_owned())
            } else {
                NetworkFileError::Read {
                    path: path.to_owned(),
                    source,
                }
            }
        })?;
        Self::parse(&bytes)
    }

    /// Parses the JSON content of a network file: `directory` (`"ip:port"`),
    /// `directory_pubkey` (64 hex digits) and optionally `nodes_hint` (a list of `"ip:port"`),
    /// `spread` (`"address"`, `"subnet24"` or `"any"`) and `avoid_swarms` (a boolean).
    /// Unknown fields are ignored.
    ///
    /// # Errors
    /// [`NetworkFileError::Malformed`] saying which field is wrong.
    pub fn parse(bytes: &[u8]) -> Result<Self, NetworkFileError> {
        if bytes.len() > MAX_FILE_LEN {
            return Err(malformed(format!(
                "{} bytes, more than the {MAX_FILE_LEN} a network file may have",
                bytes.len()
            )));
        }
        let raw: RawFile = serde_json::from_slice(bytes)
            .map_err(|e| malformed(format!("not the expected JSON: {e}")))?;
        let directory = raw.directory.parse().map_err(|_| {
            malformed(format!(
                "directory {:?} is not an ip:port address",
                short(&raw.directory)
            ))
        })?;
        let mut key = [0u8; 32];
        hex::decode_to_slice(raw.directory_pubkey.as_bytes(), &mut key)
            .map_err(|_| malformed("directory_pubkey is not 64 hex digits".to_owned()))?;
        let directory_pubkey = Ed25519PublicKey(key);
        directory_pubkey
            .to_x25519()
            .map_err(|_| malformed("directory_pubkey is not an Ed25519 public key".to_owned()))?;
        if raw.nodes_hint.len() > MAX_HINTS {
            return Err(malformed(format!(
                "{} nodes_hint entries, more than {MAX_HINTS}",
                raw.nodes_hint.len()
            )));
        }
        let nodes_hint = raw
            .nodes_hint
            .iter()
            .map(|a| {
                a.parse().map_err(|_| {
                    malformed(format!(
                        "nodes_hint entry {:?} is not an ip:port address",
                        short(a)
                    ))
                })
            })
            .collect::<Result<_, _>>()?;
        let spread = match raw.spread.as_deref() {
            None => None,
            Some("address") => Some(SpreadRule::DistinctAddress),
            Some("subnet24") => Some(SpreadRule::DistinctSubnet24),
            Some("any") => Some(SpreadRule::Any),
            Some(other) => {
                return Err(malformed(format!(
                    "spread {:?} is not \"address\", \"subnet24\" or \"any\"",
                    short(other)
                )));
            }
        };
        let file_server = match raw.file_server {
            None => None,
            Some(raw) => {
                let mut key = [0u8; 32];
                hex::decode_to_slice(raw.pubkey.as_bytes(), &mut key)
                    .map_err(|_| malformed("file_server.pubkey is not 64 hex digits".to_owned()))?;
                let entry = FileServerEntry {
                    url: raw.url,
                    pubkey: Ed25519PublicKey(key),
                };
                entry
                    .onion_server()
                    .map_err(|e| malformed(format!("file_server: {}", short(&e.to_string()))))?;
                Some(entry)
            }
        };
        Ok(Self {
            directory,
            directory_pubkey,
            nodes_hint,
            spread,
            avoid_swarms: raw.avoid_swarms,
            file_server,
        })
    }

    /// The file's JSON form (what [`NetworkFile::parse`] reads).
    #[must_use]
    pub fn to_json(&self) -> String {
        let mut json = serde_json::Map::new();
        json.insert("directory".into(), self.directory.to_string().into());
        json.insert(
            "directory_pubkey".into(),
            hex::encode(self.directory_pubkey.as_bytes()).into(),
        );
        json.insert(
            "nodes_hint".into(),
            self.nodes_hint
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .into(),
        );
        if let Some(spread) = self.spread {
            let name = match spread {
                SpreadRule::DistinctAddress => "address",
                SpreadRule::DistinctSubnet24 => "subnet24",
                SpreadRule::Any => "any",
            };
            json.insert("spread".into(), name.into());
        }
        if let Some(avoid) = self.avoid_swarms {
            json.insert("avoid_swarms".into(), avoid.into());
        }
        if let Some(fs) = &self.file_server {
            json.insert(
                "file_server".into(),
                serde_json::json!({"url": fs.url, "pubkey": hex::encode(fs.pubkey.as_bytes())}),
            );
        }
        let json = serde_json::Value::Object(json);
        json.to_string()
    }
}

/// The largest network file accepted.
const MAX_FILE_LEN: usize = 1 << 20;
/// The most node hints accepted.
const MAX_HINTS: usize = 10_000;

#[derive(Deserialize)]
struct RawFile {
    directory: String,
    directory_pubkey: String,
    #[serde(default)]
    nodes_hint: Vec<String>,
    #[serde(default)]
    spread: Option<String>,
    #[serde(default)]
    avoid_swarms: Option<bool>,
    #[serde(default)]
    file_server: Option<RawFileServer>,
}

#[derive(Deserialize)]
struct RawFileServer {
    url: String,
    pubkey: String,
}

fn malformed(why: String) -> NetworkFileError {
    NetworkFileError::Malformed(why)
}

/// At most 64 characters of an untrusted string, for error messages.
fn short(s: &str) -> String {
    s.chars().take(64).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a";

    fn good() -> String {
        format!(
            r#"{{"directory":"127.0.0.1:22020","directory_pubkey":"{KEY}","nodes_hint":["127.0.0.11:22022","127.0.0.12:22024"]}}"#
        )
    }

    #[test]
    fn parses_the_testnet_file_and_round_trips() {
        let file = NetworkFile::parse(good().as_bytes()).unwrap();
        assert_eq!(file.directory, "127.0.0.1:22020".parse().unwrap());
        assert_eq!(hex::encode(file.directory_pubkey.as_bytes()), KEY);
        assert_eq!(file.nodes_hint.len(), 2);
        assert_eq!((file.spread, file.avoid_swarms), (None, None));
        assert_eq!(NetworkFile::parse(file.to_json().as_bytes()).unwrap(), file);
        // A loopback testnet's path rules.
        let testnet = good().replace('}', r#","spread":"address","avoid_swarms":false}"#);
        let file = NetworkFile::parse(testnet.as_bytes()).unwrap();
        assert_eq!(file.spread, Some(SpreadRule::DistinctAddress));
        assert_eq!(file.avoid_swarms, Some(false));
        assert_eq!(NetworkFile::parse(file.to_json().as_bytes()).unwrap(), file);
    }

    #[test]
    fn the_file_server_entry_is_read_and_checked() {
        let with = good().replace(
            '}',
            &format!(r#","file_server":{{"url":"http://127.0.0.2:22030","pubkey":"{KEY}"}}}}"#),
        );
        let file = NetworkFile::parse(with.as_bytes()).unwrap();
        let fs = file.file_server.clone().unwrap();
        assert_eq!(fs.url, "http://127.0.0.2:22030");
        let server = fs.onion_server().unwrap();
        assert_eq!(server.port, Some(22030));
        assert_eq!(server.x25519, fs.pubkey.to_x25519().unwrap());
        assert_eq!(NetworkFile::parse(file.to_json().as_bytes()).unwrap(), file);
        for bad in [
            format!(r#"{{"url":"ftp://x","pubkey":"{KEY}"}}"#),
            r#"{"url":"http://x","pubkey":"abcd"}"#.to_owned(),
            r#"{"url":"http://x"}"#.to_owned(),
        ] {
            let text = good().replace('}', &format!(r#","file_server":{bad}}}"#));
            assert!(NetworkFile::parse(text.as_bytes()).is_err(), "{bad}");
        }
    }

    #[test]
    fn hints_are_optional_and_unknown_fields_ignored() {
        let text = format!(r#"{{"directory":"[::1]:1","directory_pubkey":"{KEY}","extra":[1,2]}}"#);
        let file = NetworkFile::parse(text.as_bytes()).unwrap();
        assert!(file.nodes_hint.is_empty());
    }

    #[test]
    fn hostile_files_are_refused_with_the_field_named() {
        let cases: Vec<(String, &str)> = vec![
            (String::new(), "JSON"),
            ("[]".into(), "JSON"),
            ("\u{0}\u{ff}garbage".into(), "JSON"),
            (format!(r#"{{"directory_pubkey":"{KEY}"}}"#), "JSON"),
            (
                format!(r#"{{"directory":"localhost:80","directory_pubkey":"{KEY}"}}"#),
                "directory",
            ),
            (
                format!(r#"{{"directory":"127.0.0.1","directory_pubkey":"{KEY}"}}"#),
                "directory",
            ),
            (
                format!(r#"{{"directory":7,"directory_pubkey":"{KEY}"}}"#),
                "JSON",
            ),
            (
                r#"{"directory":"127.0.0.1:1","directory_pubkey":"abcd"}"#.into(),
                "directory_pubkey",
            ),
            (
                format!(
                    r#"{{"directory":"127.0.0.1:1","directory_pubkey":"{}"}}"#,
                    "zz".repeat(32)
                ),
                "directory_pubkey",
            ),
            (
                format!(
                    r#"{{"directory":"127.0.0.1:1","directory_pubkey":"{KEY}","nodes_hint":["x"]}}"#
                ),
                "nodes_hint",
            ),
            (
                format!(
                    r#"{{"directory":"127.0.0.1:1","directory_pubkey":"{KEY}","nodes_hint":"127.0.0.1:2"}}"#
                ),
                "JSON",
            ),
            (" ".repeat(MAX_FILE_LEN + 1), "bytes"),
            (
                format!(
                    r#"{{"directory":"127.0.0.1:1","directory_pubkey":"{KEY}","spread":"ip"}}"#
                ),
                "spread",
            ),
            (
                format!(
                    r#"{{"directory":"127.0.0.1:1","directory_pubkey":"{KEY}","avoid_swarms":"no"}}"#
                ),
                "JSON",
            ),
        ];
        for (text, field) in cases {
            let err = NetworkFile::parse(text.as_bytes()).unwrap_err();
            assert!(
                matches!(&err, NetworkFileError::Malformed(m) if m.contains(field)),
                "{:?}: {err}",
                text.get(..80.min(text.len()))
            );
        }
    }

    #[test]
    fn missing_file_is_its_own_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("network.json");
        assert!(
            matches!(NetworkFile::load(&path), Err(NetworkFileError::NotFound(p)) if p == path)
        );
        std::fs::write(&path, good()).unwrap();
        assert!(NetworkFile::load(&path).is_ok());
    }
}
