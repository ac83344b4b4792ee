//! File ids: 44 base64url characters of a 33-byte BLAKE2b hash of the stored bytes (the
//! file server's hash mode, spec `files.md` §2.3), so that identical uploads get the same id.
//! Ids read from requests may be any string of `[A-Za-z0-9_-]` up to 44 characters (the
//! compat numeric form included); clients treat them as opaque.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use thiserror::Error;

/// The length of a hash id.
pub const HASH_ID_LEN: usize = 44;
/// The hash's salt (Session's Python server passes this constant as BLAKE2b salt).
const SALT: &[u8; 16] = b"SessionFileSvr\0\0";

/// A file id of the accepted form.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FileId(String);

/// An id outside the accepted form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[error("a file id is 1 to 44 characters of A-Z, a-z, 0-9, '_' and '-'")]
pub struct BadId;

impl FileId {
    /// Checks an id from a request path.
    ///
    /// # Errors
    /// [`BadId`] for anything else.
    pub fn parse(text: &str) -> Result<Self, BadId> {
        let ok = !text.is_empty()
            && text.len() <= HASH_ID_LEN
            && text
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        if ok {
            Ok(Self(text.to_owned()))
        } else {
            Err(BadId)
        }
    }

    /// The id of a 33-byte content hash.
    #[must_use]
    pub fn for_content_hash(hash: &[u8; 33]) -> Self {
        Self(URL_SAFE_NO_PAD.encode(hash))
    }

    /// A hasher whose 33-byte output names the content fed to it.
    #[must_use]
    pub fn hasher() -> blake2b_simd::State {
        blake2b_simd::Params::new()
            .hash_length(33)
            .salt(SALT)
            .to_state()
    }

    /// The id of a finished [`Self::hasher`].
    #[must_use]
    pub fn from_hasher(hasher: &blake2b_simd::State) -> Self {
        let mut hash = [0u8; 33];
        let out = hasher.finalize();
        for (d, s) in hash.iter_mut().zip(out.as_bytes()) {
            *d = *s;
        }
        Self::for_content_hash(&hash)
    }

    /// The id as text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether this is a full-length (hash) id: only those can be extended.
    #[must_use]
    pub fn is_hash_id(&self) -> bool {
        self.0.len() == HASH_ID_LEN
    }

    /// The storage subdirectory: the first two characters (padded for shorter ids).
    #[must_use]
    pub fn shard(&self) -> String {
        let mut s: String = self.0.chars().take(2).collect();
        while s.len() < 2 {
            s.push('_');
        }
        s
    }

    /// A short form for logs (ids are capabilities: never logged whole).
    #[must_use]
    pub fn short(&self) -> String {
        self.0.chars().take(6).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms() {
        assert!(FileId::parse("12345").is_ok());
        assert!(FileId::parse(&"a".repeat(44)).is_ok());
        for bad in ["", "a/b", "..", "a.b", "é", &"a".repeat(45)] {
            assert_eq!(FileId::parse(bad), Err(BadId), "{bad}");
        }
        let mut h = FileId::hasher();
        h.update(b"hello");
        let id = FileId::from_hasher(&h);
        assert!(id.is_hash_id());
        assert_eq!(FileId::parse(id.as_str()).unwrap(), id);
        let mut h2 = FileId::hasher();
        h2.update(b"hellp");
        assert_ne!(FileId::from_hasher(&h2), id);
        assert_eq!(FileId::parse("7").unwrap().shard(), "7_");
    }
}
