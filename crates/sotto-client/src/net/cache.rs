//! The node cache: the verified node list, when it was fetched, and its optional copy on disk.
//!
//! The file is JSON `{"version": 1, "directory": "<hex key>", "fetched_ms": n, "height": n,
//! "nodes": [listing…]}` (`height` absent in older files: 0) (listings in oxend's field names), written with mode 0600 to a temporary file
//! next to it and renamed into place. Reading it is defensive: a size cap, a node-count cap,
//! every listing validated, and a cache written for another directory is refused.

use std::io::Write as _;
use std::path::Path;

use serde::{Deserialize, Serialize};
use sotto_crypto::Ed25519PublicKey;
use sotto_swarm::{NodeListing, SwarmId, SwarmIds};
use thiserror::Error;

/// The cache file format version.
const VERSION: u32 = 1;
/// The largest cache file read.
pub(crate) const MAX_CACHE_FILE_LEN: usize = 8 << 20;
/// The most nodes a cache holds.
pub(crate) const MAX_NODES: usize = 20_000;

/// Why a cache file was not used.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum CacheFileError {
    /// Reading or writing the file failed.
    #[error("node cache file: {0}")]
    Io(#[from] std::io::Error),
    /// The file is not a cache this build reads.
    #[error("malformed node cache file: {0}")]
    Malformed(String),
    /// The cache lists the nodes of another network (another directory key).
    #[error("the node cache belongs to another network")]
    OtherNetwork,
}

/// The verified nodes, with the time they were fetched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeCache {
    /// Every listed node, sorted by Ed25519 key.
    pub nodes: Vec<NodeListing>,
    /// When the list was fetched from the directory (Unix ms).
    pub fetched_ms: u64,
    /// The signed height of the list (0: unknown).
    pub height: u64,
}

#[derive(Serialize, Deserialize)]
struct RawCache {
    version: u32,
    directory: String,
    fetched_ms: u64,
    #[serde(default)]
    height: u64,
    nodes: Vec<NodeListing>,
}

impl NodeCache {
    /// A cache of `nodes` fetched at `fetched_ms`.
    #[must_use]
    pub fn new(mut nodes: Vec<NodeListing>, fetched_ms: u64) -> Self {
        nodes.sort_by_key(NodeListing::pubkey_ed25519);
        nodes.dedup_by_key(|n| n.pubkey_ed25519());
        Self {
            nodes,
            fetched_ms,
            height: 0,
        }
    }

    /// The same cache, for the list signed at `height`.
    #[must_use]
    pub fn with_height(mut self, height: u64) -> Self {
        self.height = height;
        self
    }

    /// Whether `fresh` is older than this cache (a lower signed height): a replayed or
    /// rolled-back list, which is refused (review S-19).
    #[must_use]
    pub fn is_newer_than(&self, fresh: &Self) -> bool {
        fresh.height < self.height
    }

    /// The node with this key.
    pub fn get(&self, key: &Ed25519PublicKey) -> Option<&NodeListing> {
        self.nodes
            .binary_search_by_key(key, NodeListing::pubkey_ed25519)
            .ok()
            .and_then(|i| self.nodes.get(i))
    }

    /// Drops the node with this key.
    pub fn remove(&mut self, key: &Ed25519PublicKey) {
        self.nodes.retain(|n| n.pubkey_ed25519() != *key);
    }

    /// The nodes of the swarm responsible for the account key `key` (without its prefix byte),
    /// by the swarm ids present in the cache (spec §1.3).
    pub fn swarm_for(&self, key: &[u8; 32]) -> Vec<&NodeListing> {
        let mut ids = SwarmIds::new();
        for node in &self.nodes {
            if node.swarm_id().is_valid() {
                ids.insert(node.swarm_id());
            }
        }
        let Ok(id): Result<SwarmId, _> = ids.pick_for_key(key) else {
            return Vec::new();
        };
        self.nodes.iter().filter(|n| n.swarm_id() == id).collect()
    }

    /// The file form, for the network whose directory key is `directory`.
    #[must_use]
    pub fn to_file(&self, directory: &Ed25519PublicKey) -> Vec<u8> {
        let raw = RawCache {
            version: VERSION,
            directory: hex::encode(directory.as_bytes()),
            fetched_ms: self.fetched_ms,
            height: self.height,
            nodes: self.nodes.clone(),
        };
        serde_json::to_vec(&raw).unwrap_or_default()
    }

    /// Reads a cache file's content for the network whose directory key is `directory`.
    ///
    /// # Errors
    /// [`CacheFileError::Malformed`] or [`CacheFileError::OtherNetwork`].
    pub fn from_file(bytes: &[u8], directory: &Ed25519PublicKey) -> Result<Self, CacheFileError> {
        let malformed = CacheFileError::Malformed;
        if bytes.len() > MAX_CACHE_FILE_LEN {
            return Err(malformed(format!(
                "{} bytes, more than {MAX_CACHE_FILE_LEN}",
                bytes.len()
            )));
        }
        let raw: RawCache = serde_json::from_slice(bytes)
            .map_err(|e| malformed(format!("not the expected JSON: {e}")))?;
        if raw.version != VERSION {
            return Err(malformed(format!(
                "version {}, this build reads {VERSION}",
                raw.version
            )));
        }
        if raw.directory != hex::encode(directory.as_bytes()) {
            return Err(CacheFileError::OtherNetwork);
        }
        if raw.nodes.len() > MAX_NODES {
            return Err(malformed(format!(
                "{} nodes, more than {MAX_NODES}",
                raw.nodes.len()
            )));
        }
        Ok(Self::new(raw.nodes, raw.fetched_ms).with_height(raw.height))
    }

    /// Reads the cache file at `path`; `Ok(None)` when there is none.
    ///
    /// # Errors
    /// Why an existing file is unusable.
    pub fn load(path: &Path, directory: &Ed25519PublicKey) -> Result<Option<Self>, CacheFileError> {
        match read_capped(path, MAX_CACHE_FILE_LEN)? {
            Some(bytes) => Self::from_file(&bytes, directory).map(Some),
            None => Ok(None),
        }
    }

    /// Writes the cache to `path` atomically (a 0600 temporary file renamed into place).
    ///
    /// # Errors
    /// The I/O failure.
    pub fn save(&self, path: &Path, directory: &Ed25519PublicKey) -> Result<(), CacheFileError> {
        Ok(write_private(path, &self.to_file(directory))?)
    }
}

/// Reads at most `cap + 1` bytes of the file at `path` (so that an oversize file is seen as one
/// without reading all of it); `Ok(None)` when there is no file.
pub(crate) fn read_capped(path: &Path, cap: usize) -> std::io::Result<Option<Vec<u8>>> {
    use std::io::Read as _;
    let file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let mut bytes = Vec::new();
    let cap = u64::try_from(cap).unwrap_or(u64::MAX).saturating_add(1);
    file.take(cap).read_to_end(&mut bytes)?;
    Ok(Some(bytes))
}

/// Writes `bytes` to `path` atomically: a 0600 temporary file beside it, synced, renamed into
/// place.
pub(crate) fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt as _;
    let mut tmp_name = path.file_name().unwrap_or_default().to_owned();
    tmp_name.push(format!(".tmp{}", std::process::id()));
    let tmp = path.with_file_name(tmp_name);
    let write = || -> std::io::Result<()> {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    };
    write().inspect_err(|_| {
        let _ = std::fs::remove_file(&tmp);
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use std::net::Ipv4Addr;

    use sotto_crypto::Ed25519SecretKey;
    use sotto_swarm::NodeVersion;

    use super::*;

    /// A listing for a fresh key at `ip`, in swarm `swarm`.
    pub(crate) fn listing(ip: Ipv4Addr, swarm: u64) -> NodeListing {
        let key = Ed25519SecretKey::generate(&mut sotto_crypto::OsRng).public_key();
        NodeListing::new(
            key,
            ip,
            22_021,
            SwarmId(swarm),
            NodeVersion::from([2, 8, 0]),
        )
        .unwrap()
    }

    fn dir_key() -> Ed25519PublicKey {
        Ed25519SecretKey::generate(&mut sotto_crypto::OsRng).public_key()
    }

    /// S-19: the signed height is kept (in memory and on disk), and a lower one is refused.
    #[test]
    fn an_older_list_is_refused() {
        let key = dir_key();
        let held = NodeCache::new(vec![listing(Ipv4Addr::new(127, 0, 0, 1), 0)], 5).with_height(9);
        let back = NodeCache::from_file(&held.to_file(&key), &key).unwrap();
        assert_eq!(back, held);
        let older = NodeCache::new(held.nodes.clone(), 6).with_height(8);
        assert!(held.is_newer_than(&older));
        assert!(!held.is_newer_than(&held.clone().with_height(9)));
        assert!(!held.is_newer_than(&older.with_height(10)));
        // A file written before heights were kept reads as height 0 and accepts any list.
        let old_file = br#"{"version":1,"directory":"DIR","fetched_ms":1,"nodes":[]}"#;
        let old_file =
            String::from_utf8_lossy(old_file).replace("DIR", &hex::encode(key.as_bytes()));
        let old = NodeCache::from_file(old_file.as_bytes(), &key).unwrap();
        assert_eq!(old.height, 0);
    }

    #[test]
    fn round_trips_through_a_private_file() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nodes.json");
        let key = dir_key();
        assert_eq!(NodeCache::load(&path, &key).unwrap(), None);
        let cache = NodeCache::new(
            (1..=5)
                .map(|i| listing(Ipv4Addr::new(10, 0, 0, i), u64::from(i % 2)))
                .collect(),
            1_700_000_000_000,
        );
        cache.save(&path, &key).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        assert_eq!(NodeCache::load(&path, &key).unwrap(), Some(cache.clone()));
        // Saving again replaces it; no temporary file is left behind.
        cache.save(&path, &key).unwrap();
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
        assert!(matches!(
            NodeCache::load(&path, &dir_key()),
            Err(CacheFileError::OtherNetwork)
        ));
    }

    #[test]
    fn corrupt_caches_are_refused() {
        let key = dir_key();
        let good = NodeCache::new(vec![listing(Ipv4Addr::new(10, 0, 0, 1), 7)], 5).to_file(&key);
        let good_text = String::from_utf8(good.clone()).unwrap();
        let mut cases: Vec<Vec<u8>> = vec![
            Vec::new(),
            b"{".to_vec(),
            b"null".to_vec(),
            good.get(..good.len() / 2).unwrap().to_vec(),
            good_text
                .replace("\"version\":1", "\"version\":2")
                .into_bytes(),
            good_text
                .replace("\"public_ip\":\"10.0.0.1\"", "\"public_ip\":\"0.0.0.0\"")
                .into_bytes(),
            good_text
                .replace("\"storage_port\":22021", "\"storage_port\":0")
                .into_bytes(),
            good_text
                .replace("\"fetched_ms\":5", "\"fetched_ms\":-5")
                .into_bytes(),
            vec![b' '; MAX_CACHE_FILE_LEN + 1],
        ];
        // A flipped byte inside the key: not hex any more.
        let at = good_text.find("pubkey_ed25519").unwrap() + 20;
        let mut flipped = good.clone();
        flipped[at] = b'g';
        cases.push(flipped);
        for bytes in cases {
            assert!(
                matches!(
                    NodeCache::from_file(&bytes, &key),
                    Err(CacheFileError::Malformed(_))
                ),
                "{}",
                String::from_utf8_lossy(bytes.get(..100.min(bytes.len())).unwrap())
            );
        }
        assert!(NodeCache::from_file(&good, &key).is_ok());
    }

    #[test]
    fn swarm_lookup_uses_the_cached_swarm_ids() {
        let cache = NodeCache::new(
            (1..=6)
                .map(|i| {
                    listing(
                        Ipv4Addr::new(10, 0, 0, i),
                        if i <= 3 { 100 } else { u64::MAX - 100 },
                    )
                })
                .collect(),
            0,
        );
        // Position 0 is 100 from swarm 100 and 101 from swarm 2^64 − 101 (going round).
        let near_100 = cache.swarm_for(&[0u8; 32]);
        assert_eq!(near_100.len(), 3);
        assert!(near_100.iter().all(|n| n.swarm_id() == SwarmId(100)));
        assert!(NodeCache::new(Vec::new(), 0).swarm_for(&[0; 32]).is_empty());
    }
}
