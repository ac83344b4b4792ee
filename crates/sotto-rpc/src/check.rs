//! The node's checks of a parsed request (spec §2.3–§2.4): TTL and clock bounds, then the
//! signature with the permissions each method needs, in the storage server's order. The swarm
//! check ("is this account mine", 421) comes first and is the node's, since it needs the swarm
//! list.

use crate::auth::{Auth, Permission};
use crate::error::{ParseError, RpcError};
use crate::request::{
    DeleteAll, DeleteBefore, Expire, ExpireAll, ExpireMode, MAX_DATA_LEN, Method, Request,
    Retrieve, Store, SubaccountRevocation,
};
use crate::subaccount::{SubaccountFlags, SubaccountToken};
use crate::{AccountId, Namespace, TTL_MAX_PRIVATE_MS, TTL_MIN_MS};

/// How far a store timestamp may be ahead of the node, or its expiry behind: 10 s.
pub const STORE_TOLERANCE_MS: u64 = 10_000;
/// How far a signature timestamp may be from the node's clock: 60 s.
pub const SIGNATURE_TOLERANCE_MS: u64 = 60_000;
/// The same for `delete_all` / `expire_all` received from a swarm peer: 70 s.
pub const SIGNATURE_TOLERANCE_FORWARDED_MS: u64 = 70_000;
/// The most a single `retrieve` returns: 7,800,000 bytes.
pub const RETRIEVE_MAX_SIZE: u64 = 7_800_000;
/// What a `retrieve` costs per message besides its hash and base64 data.
pub const RETRIEVE_MESSAGE_OVERHEAD: u64 = 100;

/// What the node knows when it checks a request.
#[derive(Debug, Clone, Copy)]
pub struct NodeContext<'a> {
    /// The node's clock, ms since the Unix epoch.
    pub now_ms: u64,
    /// The revoked subaccount tokens of the request's account (from the node's database).
    pub revoked: &'a [SubaccountToken],
    /// Whether the request came from a swarm peer rather than a client.
    pub forwarded: bool,
}

impl NodeContext<'_> {
    fn signature_tolerance(&self) -> u64 {
        if self.forwarded {
            SIGNATURE_TOLERANCE_FORWARDED_MS
        } else {
            SIGNATURE_TOLERANCE_MS
        }
    }
}

/// `|a − b| > tolerance`, without overflow.
fn too_far(a: u64, b: u64, tolerance: u64) -> bool {
    a.abs_diff(b) > tolerance
}

fn verify(
    method: Method,
    account: &AccountId,
    auth: &Auth,
    message: &[u8],
    permission: &Permission<'_>,
) -> Result<(), RpcError> {
    auth.verify(account, message, permission)
        .map_err(|reason| RpcError::Unauthorized { method, reason })
}

fn permission<'a>(ctx: &NodeContext<'a>, required: SubaccountFlags) -> Permission<'a> {
    Permission {
        required,
        subaccount_allowed: true,
        revoked: ctx.revoked,
        ignore_revocation: false,
    }
}

impl Request {
    /// Checks bounds and signature. `Ok` means the node may execute the request. `batch` and
    /// `sequence` pass here; their subrequests are checked one by one as they run.
    pub fn check(&self, ctx: &NodeContext<'_>) -> Result<(), RpcError> {
        match self {
            Self::Store(r) => r.check(ctx),
            Self::Retrieve(r) => r.check(ctx),
            Self::Delete(r) => verify_delete(
                Method::Delete,
                &r.account,
                &r.auth,
                &r.signed_message(),
                ctx,
            ),
            Self::DeleteAll(r) => r.check(ctx),
            Self::DeleteBefore(r) => r.check(ctx),
            Self::Expire(r) => r.check(ctx),
            Self::ExpireAll(r) => r.check(ctx),
            Self::GetExpiries(r) => {
                if too_far(r.timestamp, ctx.now_ms, SIGNATURE_TOLERANCE_MS) {
                    return Err(RpcError::SignatureTimestamp(Method::GetExpiries));
                }
                verify(
                    Method::GetExpiries,
                    &r.account,
                    &r.auth,
                    &r.signed_message(),
                    &permission(ctx, SubaccountFlags::READ),
                )
            }
            Self::Revocation(r) => r.check(ctx),
            Self::GetSwarm(_)
            | Self::Info
            | Self::Batch(_)
            | Self::Sequence(_)
            | Self::OxendRequest(_)
            | Self::ActiveNodesBin => Ok(()),
        }
    }
}

impl Store {
    /// TTL in [10 s, max for the namespace] (403); timestamp ≤ now + 10 s and expiry ≥
    /// now − 10 s (406); outside public inboxes a signature (401) made within ±60 s (406) by
    /// the owner or a subaccount with write (and delete, for a public outbox) (401).
    pub fn check(&self, ctx: &NodeContext<'_>) -> Result<(), RpcError> {
        check_message_bounds(
            self.namespace,
            self.timestamp,
            self.expiry(),
            self.data.len(),
            ctx.now_ms,
        )?;
        if self.namespace.is_public_inbox() {
            return Ok(());
        }
        let auth = self.auth.as_ref().ok_or(RpcError::SignatureRequired {
            method: Method::Store,
            namespace: self.namespace,
        })?;
        if too_far(
            self.effective_sig_timestamp(),
            ctx.now_ms,
            SIGNATURE_TOLERANCE_MS,
        ) {
            return Err(RpcError::SignatureTimestamp(Method::Store));
        }
        let mut required = SubaccountFlags::WRITE;
        if self.namespace.is_public_outbox() {
            required = required | SubaccountFlags::DELETE;
        }
        verify(
            Method::Store,
            &self.account,
            auth,
            &self.signed_message(),
            &permission(ctx, required),
        )
    }
}

/// The bounds every stored message meets, whoever hands it to the node (a client's `store`, a
/// swarm peer's replica or catch-up page): data at most [`MAX_DATA_LEN`] bytes (400), TTL in
/// [10 s, the namespace's maximum] (403), timestamp at most 10 s ahead of `now_ms` and expiry
/// at most 10 s behind it (406). A store's signature is checked separately ([`Store::check`]).
pub fn check_message_bounds(
    namespace: Namespace,
    timestamp: u64,
    expiry: u64,
    data_len: usize,
    now_ms: u64,
) -> Result<(), RpcError> {
    if data_len > MAX_DATA_LEN {
        return Err(RpcError::Malformed(ParseError::DataTooLarge));
    }
    let ttl_ok = expiry
        .checked_sub(timestamp)
        .is_some_and(|ttl| (TTL_MIN_MS..=namespace.max_ttl_ms()).contains(&ttl));
    if !ttl_ok {
        return Err(RpcError::InvalidTtl);
    }
    if timestamp > now_ms.saturating_add(STORE_TOLERANCE_MS)
        || expiry < now_ms.saturating_sub(STORE_TOLERANCE_MS)
    {
        return Err(RpcError::ClockSkew);
    }
    Ok(())
}

/// The bounds a copy of a stored message meets when one node hands it to another (catch-up):
/// data at most [`MAX_DATA_LEN`] bytes (400); timestamp at most 10 s ahead of `now_ms` (406);
/// expiry no later than the longest any message may live from now, 30 days (the cap of a
/// store's TTL in every namespace and of `expire`), plus 10 s (403). Its TTL is not checked
/// against the namespace's: `expire` may have moved the expiry since the store.
pub fn check_replica_bounds(
    timestamp: u64,
    expiry: u64,
    data_len: usize,
    now_ms: u64,
) -> Result<(), RpcError> {
    if data_len > MAX_DATA_LEN {
        return Err(RpcError::Malformed(ParseError::DataTooLarge));
    }
    if timestamp > now_ms.saturating_add(STORE_TOLERANCE_MS) {
        return Err(RpcError::ClockSkew);
    }
    if expiry
        > now_ms
            .saturating_add(TTL_MAX_PRIVATE_MS)
            .saturating_add(STORE_TOLERANCE_MS)
    {
        return Err(RpcError::InvalidTtl);
    }
    Ok(())
}

impl Retrieve {
    /// A signature is needed except in namespace −10 and public outboxes (401); when given, its
    /// timestamp must be within ±60 s (406) and it must verify with read permission, revoked
    /// subaccounts being accepted in unrevocable namespaces (401).
    pub fn check(&self, ctx: &NodeContext<'_>) -> Result<(), RpcError> {
        let Some(signed) = &self.auth else {
            if self.namespace.is_noauth_retrieve() {
                return Ok(());
            }
            return Err(RpcError::SignatureRequired {
                method: Method::Retrieve,
                namespace: self.namespace,
            });
        };
        if too_far(signed.timestamp, ctx.now_ms, SIGNATURE_TOLERANCE_MS) {
            return Err(RpcError::SignatureTimestamp(Method::Retrieve));
        }
        let mut read = permission(ctx, SubaccountFlags::READ);
        read.ignore_revocation = self.namespace.is_unrevocable();
        verify(
            Method::Retrieve,
            &self.account,
            &signed.auth,
            &crate::to_sign::retrieve(self.namespace, signed.timestamp),
            &read,
        )
    }

    /// The limits in effect: 0 means unspecified; with neither given, `max_size` is −5; a
    /// negative `max_size = −k` means 7,800,000 / k bytes; positive sizes are capped at
    /// 7,800,000; a negative `max_count` means no count limit.
    #[must_use]
    pub fn limits(&self) -> RetrieveLimits {
        let count = self.max_count.filter(|c| *c != 0);
        let mut size = self.max_size.filter(|s| *s != 0);
        if count.is_none() && size.is_none() {
            size = Some(-5);
        }
        let max_size = match size {
            Some(s) if s < 0 => RETRIEVE_MAX_SIZE / u64::from(s.unsigned_abs()),
            Some(s) => u64::from(s.unsigned_abs()).min(RETRIEVE_MAX_SIZE),
            None => RETRIEVE_MAX_SIZE,
        };
        RetrieveLimits {
            max_count: count.and_then(|c| usize::try_from(c).ok()),
            max_size,
        }
    }
}

/// How much one `retrieve` returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetrieveLimits {
    /// At most this many messages, if set.
    pub max_count: Option<usize>,
    /// At most this many bytes, counted with [`RetrieveLimits::message_cost`].
    pub max_size: u64,
}

impl RetrieveLimits {
    /// What one message counts against `max_size`: 100 + hash length + the base64 length
    /// estimate of its data (4/3 of it).
    #[must_use]
    pub fn message_cost(hash_len: usize, data_len: usize) -> u64 {
        let data = (data_len as u64).saturating_mul(4) / 3;
        RETRIEVE_MESSAGE_OVERHEAD
            .saturating_add(hash_len as u64)
            .saturating_add(data)
    }

    /// How many of the candidate messages (their data lengths, in order) to return: as many as
    /// fit both limits, and always at least one if there is one.
    #[must_use]
    pub fn take(&self, data_lens: impl IntoIterator<Item = usize>) -> usize {
        let mut total = 0u64;
        let mut count = 0usize;
        for len in data_lens {
            if self.max_count.is_some_and(|max| count >= max) {
                break;
            }
            total = total.saturating_add(Self::message_cost(crate::MESSAGE_HASH_LEN, len));
            if count > 0 && total > self.max_size {
                break;
            }
            count += 1;
        }
        count
    }
}

fn verify_delete(
    method: Method,
    account: &AccountId,
    auth: &Auth,
    message: &[u8],
    ctx: &NodeContext<'_>,
) -> Result<(), RpcError> {
    verify(
        method,
        account,
        auth,
        message,
        &permission(ctx, SubaccountFlags::DELETE),
    )
}

impl DeleteAll {
    /// Timestamp within ±60 s (±70 s forwarded) (406); delete permission (401).
    pub fn check(&self, ctx: &NodeContext<'_>) -> Result<(), RpcError> {
        if too_far(self.timestamp, ctx.now_ms, ctx.signature_tolerance()) {
            return Err(RpcError::SignatureTimestamp(Method::DeleteAll));
        }
        let msg = self.signed_message();
        verify_delete(Method::DeleteAll, &self.account, &self.auth, &msg, ctx)
    }
}

impl DeleteBefore {
    /// `before` at most 60 s ahead (401); delete permission (401).
    pub fn check(&self, ctx: &NodeContext<'_>) -> Result<(), RpcError> {
        if self.before > ctx.now_ms.saturating_add(SIGNATURE_TOLERANCE_MS) {
            return Err(RpcError::BeforeInFuture);
        }
        let msg = self.signed_message();
        verify_delete(Method::DeleteBefore, &self.account, &self.auth, &msg, ctx)
    }
}

impl ExpireAll {
    /// Expiry at most 60 s (70 s forwarded) past (406); delete permission (401).
    pub fn check(&self, ctx: &NodeContext<'_>) -> Result<(), RpcError> {
        if self.expiry < ctx.now_ms.saturating_sub(ctx.signature_tolerance()) {
            return Err(RpcError::ExpireAllInPast);
        }
        let msg = self.signed_message();
        verify_delete(Method::ExpireAll, &self.account, &self.auth, &msg, ctx)
    }
}

impl Expire {
    /// Every expiry ≥ now − 60 s (401); a signature with write permission (401); a subaccount
    /// without delete permission may not `shorten` (400).
    pub fn check(&self, ctx: &NodeContext<'_>) -> Result<(), RpcError> {
        let floor = ctx.now_ms.saturating_sub(SIGNATURE_TOLERANCE_MS);
        if self.expiry.iter().any(|e| *e < floor) {
            return Err(RpcError::ExpiryInPast);
        }
        verify(
            Method::Expire,
            &self.account,
            &self.auth,
            &self.signed_message(),
            &permission(ctx, SubaccountFlags::WRITE),
        )?;
        if self.mode == ExpireMode::Shorten && !self.subaccount_may_delete() {
            return Err(RpcError::ShortenNotAllowed);
        }
        Ok(())
    }

    fn subaccount_may_delete(&self) -> bool {
        self.auth
            .subaccount
            .is_none_or(|s| s.token.flags().contains(SubaccountFlags::DELETE))
    }

    /// The expiries to apply: each clamped to at most now + 30 days.
    #[must_use]
    pub fn applied_expiries(&self, now_ms: u64) -> Vec<u64> {
        let cap = now_ms.saturating_add(TTL_MAX_PRIVATE_MS);
        self.expiry.iter().map(|e| (*e).min(cap)).collect()
    }

    /// Whether only extensions apply: `extend` was asked, or a subaccount without delete
    /// permission sent no mode.
    #[must_use]
    pub fn extend_only(&self) -> bool {
        self.mode == ExpireMode::Extend
            || (self.mode == ExpireMode::Any && !self.subaccount_may_delete())
    }
}

impl SubaccountRevocation {
    /// Timestamp within ±60 s (406); signed by the account owner, never a subaccount (401).
    pub fn check(&self, ctx: &NodeContext<'_>) -> Result<(), RpcError> {
        if too_far(self.timestamp, ctx.now_ms, SIGNATURE_TOLERANCE_MS) {
            return Err(RpcError::SignatureTimestamp(self.method()));
        }
        let owner_only = Permission {
            required: SubaccountFlags::NONE,
            subaccount_allowed: false,
            revoked: ctx.revoked,
            ignore_revocation: false,
        };
        verify(
            self.method(),
            &self.account,
            &self.auth,
            &self.signed_message(),
            &owner_only,
        )
    }
}
