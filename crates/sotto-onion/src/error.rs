use sotto_crypto::CryptoError;
use thiserror::Error;

/// Why an onion operation failed.
///
/// The variants keep apart *malformed input* (truncated frames, bad JSON, bad fields), *a layer
/// that is not authentic* ([`OnionError::Decrypt`], [`OnionError::KeyAgreement`]), *refused by
/// policy* (hop limit, relay target) and *API misuse* (a path of the wrong length).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum OnionError {
    /// Fewer bytes than a length prefix or fixed-size part needs.
    #[error("{what}: need {need} bytes, have {have}")]
    Truncated {
        /// What was being read.
        what: &'static str,
        /// Bytes needed.
        need: usize,
        /// Bytes present.
        have: usize,
    },
    /// Text that should be a JSON object of the expected shape is not.
    #[error("{what}: invalid JSON: {reason}")]
    Json {
        /// What was being read.
        what: &'static str,
        /// The parser's explanation.
        reason: String,
    },
    /// A field is present but its value is unusable.
    #[error("{what}: {reason}")]
    Field {
        /// Which field.
        what: &'static str,
        /// Why it is unusable.
        reason: &'static str,
    },
    /// A required field is absent.
    #[error("{what}: missing field {field:?}")]
    MissingField {
        /// What was being read.
        what: &'static str,
        /// The absent key.
        field: &'static str,
    },
    /// An `enc_type` this implementation does not know.
    #[error("unknown enc_type {0:?}")]
    UnknownEncType(String),
    /// The legacy unauthenticated `aes-cbc` layer encryption, which Sotto refuses to route.
    #[error("enc_type {0:?} (AES-CBC without authentication) is refused")]
    UnauthenticatedEncType(String),
    /// Bytes that are not the bencoded value the format needs.
    #[error("{what}: {source}")]
    Bencode {
        /// What was being read.
        what: &'static str,
        /// The decoder's error.
        source: sotto_bencode::Error,
    },
    /// Text that should be base64 is not.
    #[error("{what}: not base64")]
    Base64 {
        /// What was being read.
        what: &'static str,
    },
    /// The key agreement failed (a low-order public key).
    #[error("key agreement failed: {0}")]
    KeyAgreement(CryptoError),
    /// A layer or response does not decrypt: wrong key, or it was tampered with.
    #[error("ciphertext does not decrypt (wrong key or tampered)")]
    Decrypt,
    /// A request has already crossed more hops than [`crate::MAX_HOPS`].
    #[error("onion request max path length exceeded (hop {hop_no} > {max})", max = crate::MAX_HOPS)]
    HopLimit {
        /// The hop number it arrived with.
        hop_no: u64,
    },
    /// A relay-to-server layer names a target outside `/loki/…/lsrpc` or `/oxen/…/lsrpc`.
    #[error("relay target {0:?} is not allowed")]
    TargetNotAllowed(String),
    /// A relay-to-server layer's `host` is not a DNS name or IP literal (it carries a port,
    /// path, query, fragment, user info or other characters), or its `port` is 0.
    #[error("relay host {0:?} is not allowed")]
    HostNotAllowed(String),
    /// A value too large for its length field (more than 4 GiB in a `u32` prefix).
    #[error("{what} is too large ({len} bytes)")]
    TooLarge {
        /// What was being written.
        what: &'static str,
        /// Its length.
        len: usize,
    },
    /// API misuse: an empty path, or one that with a node destination would cross more nodes
    /// than the hop limit lets through.
    #[error("a path of {nodes} nodes is not allowed (1 to {max})")]
    PathLength {
        /// Nodes on the path.
        nodes: usize,
        /// The most this destination allows.
        max: usize,
    },
    /// API misuse: a server destination whose host exit nodes would refuse.
    #[error("server host {0:?} would be refused by the exit node")]
    BadServerHost(String),
    /// API misuse: a server destination whose target nodes would refuse to relay to.
    #[error("server target {0:?} would be refused by the exit node")]
    BadServerTarget(String),
}

impl OnionError {
    pub(crate) fn json(what: &'static str, err: &serde_json::Error) -> Self {
        Self::Json {
            what,
            reason: err.to_string(),
        }
    }
}
