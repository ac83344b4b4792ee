//! Errors, and the one place that maps them to an HTTP status and message.

use thiserror::Error;

use crate::Namespace;
use crate::request::Method;

/// Why a request body or a field in it is malformed (always HTTP 400). The messages are the
/// storage server's, so clients see the same text from a Sotto node.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum ParseError {
    /// The HTTPS body is not JSON.
    #[error("invalid json")]
    Json,
    /// The HTTPS body has no string `method`.
    #[error("invalid json: no `method` field")]
    NoMethod,
    /// The HTTPS body has no object `params`.
    #[error("invalid json: no `params` field")]
    NoParams,
    /// A request body that is neither a JSON object nor a canonical bencoded dictionary.
    #[error("invalid body: expected json or bt_dict")]
    Body,
    /// A required field is absent (or JSON `null`).
    #[error("Required field '{0}' missing")]
    Missing(&'static str),
    /// Neither of two alternative fields is given.
    #[error("Required field '{0}' or '{1}' missing")]
    Neither(&'static str, &'static str),
    /// Two fields that exclude each other are both given.
    #[error("Cannot specify both '{0}' and '{1}'")]
    Both(&'static str, &'static str),
    /// A field has the wrong type.
    #[error("Invalid value given for '{field}': expected {expected}")]
    WrongType {
        /// The field.
        field: &'static str,
        /// What it must be.
        expected: &'static str,
    },
    /// An integer field outside the range its type allows.
    #[error("Invalid value given for '{0}': value out of range")]
    OutOfRange(&'static str),
    /// A millisecond timestamp below 10^9 ms: almost certainly seconds.
    #[error("Invalid timestamp for '{0}': timestamp must be in milliseconds")]
    NotMilliseconds(&'static str),
    /// `pubkey` is not 66 hex digits or 33 bytes.
    #[error("Pubkey must be 66 hex digits (33 bytes) long")]
    Pubkey,
    /// `pubkey_ed25519` given for an account that is not a Session ID (`05`).
    #[error("pubkey_ed25519 is only permitted for 05[...] pubkeys")]
    Ed25519NotSession,
    /// `pubkey_ed25519` is not 64 hex digits or 32 bytes.
    #[error("Invalid pubkey_ed25519: expected 64 hex char or 32 byte pubkey")]
    Ed25519Key,
    /// A signature that is not 64 bytes (base64 of 86 or 88 characters in JSON).
    #[error("invalid {0}: expected base64 encoded Ed25519 signature")]
    Signature(&'static str),
    /// A subaccount token (or revocation entry) that is not 36 bytes (base64-48 or hex-72 in JSON).
    #[error("invalid {0}: expected base64 or hex-encoded subaccount token")]
    Token(&'static str),
    /// `subaccount` without `subaccount_sig`.
    #[error("invalid subaccount: subaccount_sig is required when using subaccount")]
    SubaccountSigMissing,
    /// JSON `data` that is not base64.
    #[error("Invalid 'data' value: not base64 encoded")]
    DataNotBase64,
    /// `data` larger than 76,800 bytes (102,400 base64 characters).
    #[error("Message body exceeds maximum allowed length of 76800 bytes")]
    DataTooLarge,
    /// `last_hash` that is neither empty nor a 43-character base64 hash.
    #[error("Invalid last_hash: expected base64 (43 chars)")]
    LastHash,
    /// A message hash that is not 43 base64 characters.
    #[error("invalid message hash in '{0}'")]
    MessageHash(&'static str),
    /// A list that must not be empty is.
    #[error("'{0}' does not contain any values")]
    Empty(&'static str),
    /// A list of expiries whose length is neither 1 nor the number of messages.
    #[error("'expiry' must be a single expiry, or the same length as 'messages'")]
    ExpiryCount,
    /// More than 50 tokens in one revocation.
    #[error("invalid revoke: cannot revoke more than 50 subaccounts at once")]
    TooManyTokens,
    /// A malformed `batch` / `sequence`.
    #[error("Invalid batch request: {0}")]
    Batch(&'static str),
    /// A batch subrequest naming a method that does not exist.
    #[error("Invalid batch subrequest: invalid method")]
    BatchMethod,
    /// An `oxend_request` endpoint other than `get_service_nodes` and `ons_resolve`.
    #[error("Invalid oxend endpoint")]
    OxendEndpoint,
    /// Bencoded `oxend_request` params that are not a JSON string.
    #[error("oxend_request params field does not contain valid json")]
    OxendParams,
    /// A response (read by a client) that lacks a field or has one of the wrong shape.
    #[error("malformed response: {0}")]
    Response(&'static str),
}

impl ParseError {
    /// Whether this error concerns the whole body rather than one parameter (the storage
    /// server then sends the message without the `invalid request:` prefix).
    fn is_body_level(&self) -> bool {
        matches!(
            self,
            Self::Json | Self::NoMethod | Self::NoParams | Self::Body
        )
    }
}

/// Why a signed request is not accepted (always HTTP 401). Bad signatures and missing
/// permissions are different variants; the client sees the same message for all of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum AuthError {
    /// `pubkey_ed25519` does not convert to the X25519 key of the `05` account.
    #[error("pubkey_ed25519 does not match the Session ID")]
    KeyMismatch,
    /// The subaccount token is on the account's revocation list.
    #[error("subaccount is revoked")]
    Revoked,
    /// The token's network prefix differs from the account's and it lacks the any-prefix flag.
    #[error("subaccount network prefix mismatch")]
    WrongPrefix,
    /// The token lacks a permission the method needs.
    #[error("subaccount is missing the required permissions")]
    MissingPermissions,
    /// The account owner's signature of the token does not verify.
    #[error("subaccount token signature verification failed")]
    BadTokenSignature,
    /// The request signature does not verify.
    #[error("request signature verification failed")]
    BadSignature,
    /// A subaccount was given for a method only the account owner may call.
    #[error("subaccounts may not sign this request")]
    SubaccountNotAllowed,
}

impl AuthError {
    /// Whether the signature itself is bad (as opposed to a valid signer lacking rights).
    #[must_use]
    pub fn is_bad_signature(self) -> bool {
        matches!(
            self,
            Self::KeyMismatch | Self::BadTokenSignature | Self::BadSignature
        )
    }
}

/// Every way a storage RPC request can fail, with its HTTP status ([`RpcError::status`]) and
/// the message the storage server sends (`Display`). This is the one mapping from failures to
/// status codes; nodes and clients use it rather than numbers.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum RpcError {
    /// 400: the body or a parameter is malformed.
    #[error("{}", malformed_message(.0))]
    Malformed(ParseError),
    /// 400: no such method. The name is the client's, as [`RpcError::unknown_method`] keeps
    /// it: at most [`MAX_SHOWN_METHOD_LEN`] characters, control and non-ASCII characters
    /// escaped, so it is safe to log and to echo.
    #[error("no method {0}")]
    UnknownMethod(String),
    /// 413: body over 10 MiB.
    #[error("Request body too large")]
    BodyTooLarge,
    /// 403: store TTL outside [10 s, 14 d] (public inbox) or [10 s, 30 d].
    #[error("Provided expiry/TTL is not valid.")]
    InvalidTtl,
    /// 406: store timestamp more than 10 s ahead, or expiry more than 10 s past.
    #[error("Timestamp error: check your clock")]
    ClockSkew,
    /// 401: a signature is needed for this namespace.
    #[error("{}", signature_required_message(*.method, *.namespace))]
    SignatureRequired {
        /// The method.
        method: Method,
        /// The namespace that needs it.
        namespace: Namespace,
    },
    /// 406: the signature timestamp is more than 60 s (70 s forwarded) from the node's clock.
    #[error("{}", timestamp_message(*.0))]
    SignatureTimestamp(Method),
    /// 401: the signature does not verify or the signer lacks a permission.
    #[error("{}", unauthorized_message(*.method))]
    Unauthorized {
        /// The method.
        method: Method,
        /// Why.
        reason: AuthError,
    },
    /// 401: `delete_before` more than 60 s in the future.
    #[error("delete_before timestamp too far in the future")]
    BeforeInFuture,
    /// 401: an `expire` expiry more than 60 s in the past.
    #[error("expire: timestamp should be >= current time")]
    ExpiryInPast,
    /// 406: an `expire_all` expiry more than 60 s (70 s forwarded) in the past.
    #[error("expire_all timestamp should be >= current time")]
    ExpireAllInPast,
    /// 400: `shorten` with a subaccount that cannot delete.
    #[error(
        "expire: shorten parameter cannot be used with this subaccount token (missing delete access)"
    )]
    ShortenNotAllowed,
    /// 404: `delete` with `required: true` deleted nothing on any node.
    #[error("Not Found")]
    NothingDeleted,
    /// 410: the obsolete long-poll header.
    #[error("long polling is no longer supported, client upgrade required")]
    LongPollGone,
    /// 421: the account belongs to another swarm (the body is that swarm, see
    /// [`crate::response::GetSwarmResponse`]).
    #[error("Misdirected Request")]
    WrongSwarm,
    /// 429: rate limited.
    #[error("Too Many Requests")]
    RateLimited,
    /// 500: the node failed internally.
    #[error("request failed")]
    Internal,
    /// 400: the directory (oxend) refused an `oxend_request`.
    #[error("{0}")]
    OxendFailed(String),
    /// 502: the directory answered something that is not JSON.
    #[error("oxend returned unparsable data")]
    OxendGarbage,
    /// 503: the node is not ready.
    #[error("Service node is not ready: {0}")]
    NotReady(String),
    /// 504: a forwarded request timed out.
    #[error("Request time out")]
    Timeout,
}

/// The most characters of an unknown method's name that [`RpcError::UnknownMethod`] keeps.
pub const MAX_SHOWN_METHOD_LEN: usize = 64;

/// The first `max_chars` characters of an untrusted string with control and non-ASCII
/// characters escaped (`\n`, `\u{1b}`, …), and `…` when it was longer: safe to log or echo,
/// since it can neither forge a log line nor flood one.
#[must_use]
pub fn escaped_prefix(text: &str, max_chars: usize) -> String {
    let mut shown: String = text
        .chars()
        .take(max_chars)
        .flat_map(char::escape_default)
        .collect();
    if text.chars().nth(max_chars).is_some() {
        shown.push('…');
    }
    shown
}

impl RpcError {
    /// [`RpcError::UnknownMethod`] for a name a client sent: truncated to
    /// [`MAX_SHOWN_METHOD_LEN`] characters, then control and non-ASCII characters escaped
    /// (`\n`, `\u{1b}`, …), so a client cannot forge or flood log lines through it.
    #[must_use]
    pub fn unknown_method(name: &str) -> Self {
        Self::UnknownMethod(escaped_prefix(name, MAX_SHOWN_METHOD_LEN))
    }

    /// The HTTP status code.
    #[must_use]
    pub fn status(&self) -> u16 {
        match self {
            Self::Malformed(_) | Self::UnknownMethod(_) | Self::ShortenNotAllowed => 400,
            Self::OxendFailed(_) => 400,
            Self::SignatureRequired { .. }
            | Self::Unauthorized { .. }
            | Self::BeforeInFuture
            | Self::ExpiryInPast => 401,
            Self::InvalidTtl => 403,
            Self::NothingDeleted => 404,
            Self::ClockSkew | Self::SignatureTimestamp(_) | Self::ExpireAllInPast => 406,
            Self::LongPollGone => 410,
            Self::BodyTooLarge => 413,
            Self::WrongSwarm => 421,
            Self::RateLimited => 429,
            Self::Internal => 500,
            Self::OxendGarbage => 502,
            Self::NotReady(_) => 503,
            Self::Timeout => 504,
        }
    }

    /// The response body text (the same as `Display`).
    #[must_use]
    pub fn message(&self) -> String {
        self.to_string()
    }
}

impl From<ParseError> for RpcError {
    fn from(e: ParseError) -> Self {
        Self::Malformed(e)
    }
}

fn malformed_message(e: &ParseError) -> String {
    if e.is_body_level() {
        e.to_string()
    } else {
        format!("invalid request: {e}")
    }
}

fn signature_required_message(method: Method, namespace: Namespace) -> String {
    match method {
        Method::Store => format!(
            "store: signature required to store to namespace {}",
            namespace.get()
        ),
        other => format!("{}: request signature required", other.name()),
    }
}

fn timestamp_message(method: Method) -> String {
    match method {
        Method::Store => "store signature timestamp too far from current time".to_owned(),
        other => format!("{} timestamp too far from current time", other.name()),
    }
}

fn unauthorized_message(method: Method) -> String {
    match method {
        Method::Delete => "delete_msgs signature verification failed".to_owned(),
        Method::Expire => "expire: signature verification failed".to_owned(),
        other => format!("{} signature verification failed", other.name()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_and_messages() {
        let e = RpcError::from(ParseError::Missing("pubkey"));
        assert_eq!(e.status(), 400);
        assert_eq!(
            e.message(),
            "invalid request: Required field 'pubkey' missing"
        );
        assert_eq!(RpcError::from(ParseError::Json).message(), "invalid json");
        let e = RpcError::SignatureRequired {
            method: Method::Store,
            namespace: Namespace::new(3),
        };
        assert_eq!(
            (e.status(), e.message().as_str()),
            (401, "store: signature required to store to namespace 3")
        );
        let e = RpcError::SignatureRequired {
            method: Method::Retrieve,
            namespace: Namespace::new(3),
        };
        assert_eq!(e.message(), "retrieve: request signature required");
        let e = RpcError::Unauthorized {
            method: Method::DeleteAll,
            reason: AuthError::BadSignature,
        };
        assert_eq!(
            (e.status(), e.message().as_str()),
            (401, "delete_all signature verification failed")
        );
        assert_eq!(
            RpcError::SignatureTimestamp(Method::GetExpiries).message(),
            "get_expiries timestamp too far from current time"
        );
        assert_eq!(RpcError::InvalidTtl.status(), 403);
        assert_eq!(RpcError::ClockSkew.status(), 406);
        assert_eq!(RpcError::UnknownMethod("x".into()).message(), "no method x");
        assert_eq!(RpcError::unknown_method("x").message(), "no method x");
        let forged = RpcError::unknown_method("x\n2026-12-07 INFO forged line\u{1b}[31m");
        let shown = forged.to_string();
        assert!(
            !shown.contains('\n') && !shown.contains('\u{1b}'),
            "{shown}"
        );
        assert!(shown.contains("\\n"), "{shown}");
        let long = RpcError::unknown_method(&"a".repeat(100_000)).to_string();
        assert!(long.len() < 100, "{} bytes", long.len());
        assert!(AuthError::BadSignature.is_bad_signature());
        assert!(!AuthError::Revoked.is_bad_signature());
    }
}
