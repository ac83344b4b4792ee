//! Typed storage RPC requests (spec §2.4): parsing from the JSON and bencoded bodies clients
//! send, writing them back, and the strings they sign.

use serde_json::{Map, Value as Json};

use crate::auth::{Auth, Signer};
use crate::encoding::{decode_base64, decode_hex, is_base64};
use crate::error::{ParseError, RpcError};
use crate::params::{Doc, DocMap, Item, Params};
use crate::subaccount::{MAX_REVOKED_TOKENS, SignedSubaccount, SubaccountToken};
use crate::{AccountId, MessageHash, Namespace, Namespaces, to_sign};

/// Largest request body a node reads (HTTPS body, OMQ message): 10 MiB.
pub const MAX_BODY_LEN: usize = 10 * 1024 * 1024;
/// Largest message `data`: 76,800 bytes (102,400 base64 characters).
pub const MAX_DATA_LEN: usize = 76_800;
/// Most subrequests in a `batch` or `sequence`.
pub const MAX_BATCH: usize = 20;

/// How a body was (or is to be) encoded: JSON with base64/hex text for binary values, or
/// bencode with raw bytes. A node answers in the encoding it was asked in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// JSON.
    Json,
    /// Bencode.
    Bencode,
}

/// A storage RPC method.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Method {
    /// `store`.
    Store,
    /// `retrieve`.
    Retrieve,
    /// `delete`.
    Delete,
    /// `delete_all`.
    DeleteAll,
    /// `delete_before`.
    DeleteBefore,
    /// `expire`.
    Expire,
    /// `expire_all`.
    ExpireAll,
    /// `get_expiries`.
    GetExpiries,
    /// `get_swarm` (alias `get_snodes_for_pubkey`).
    GetSwarm,
    /// `info`.
    Info,
    /// `revoke_subaccount`.
    RevokeSubaccount,
    /// `unrevoke_subaccount`.
    UnrevokeSubaccount,
    /// `batch`.
    Batch,
    /// `sequence`.
    Sequence,
    /// `oxend_request`.
    OxendRequest,
    /// `active_nodes_bin` (newer storage servers).
    ActiveNodesBin,
}

impl Method {
    /// Every method.
    pub const ALL: [Self; 16] = [
        Self::Store,
        Self::Retrieve,
        Self::Delete,
        Self::DeleteAll,
        Self::DeleteBefore,
        Self::Expire,
        Self::ExpireAll,
        Self::GetExpiries,
        Self::GetSwarm,
        Self::Info,
        Self::RevokeSubaccount,
        Self::UnrevokeSubaccount,
        Self::Batch,
        Self::Sequence,
        Self::OxendRequest,
        Self::ActiveNodesBin,
    ];

    /// The method's name on the wire.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::Store => "store",
            Self::Retrieve => "retrieve",
            Self::Delete => "delete",
            Self::DeleteAll => "delete_all",
            Self::DeleteBefore => "delete_before",
            Self::Expire => "expire",
            Self::ExpireAll => "expire_all",
            Self::GetExpiries => "get_expiries",
            Self::GetSwarm => "get_swarm",
            Self::Info => "info",
            Self::RevokeSubaccount => "revoke_subaccount",
            Self::UnrevokeSubaccount => "unrevoke_subaccount",
            Self::Batch => "batch",
            Self::Sequence => "sequence",
            Self::OxendRequest => "oxend_request",
            Self::ActiveNodesBin => "active_nodes_bin",
        }
    }

    /// The method with this name or alias.
    #[must_use]
    pub fn from_name(name: &str) -> Option<Self> {
        if name == "get_snodes_for_pubkey" {
            return Some(Self::GetSwarm);
        }
        Self::ALL.into_iter().find(|m| m.name() == name)
    }

    /// Whether a node forwards the request to its swarm peers and answers per node.
    #[must_use]
    pub const fn is_recursive(self) -> bool {
        matches!(
            self,
            Self::Store
                | Self::Delete
                | Self::DeleteAll
                | Self::DeleteBefore
                | Self::Expire
                | Self::ExpireAll
                | Self::RevokeSubaccount
                | Self::UnrevokeSubaccount
        )
    }

    /// Whether this is `batch` or `sequence` (which cannot be nested).
    #[must_use]
    pub const fn is_meta(self) -> bool {
        matches!(self, Self::Batch | Self::Sequence)
    }
}

/// How a message's expiry is given to `store`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lifetime {
    /// `ttl`: milliseconds after `timestamp`.
    Ttl(u64),
    /// `expiry`: an absolute time in milliseconds.
    Expiry(u64),
}

/// `expire`'s `shorten` / `extend` option.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ExpireMode {
    /// Set the expiry either way.
    #[default]
    Any,
    /// Only make expiries earlier.
    Shorten,
    /// Only make expiries later.
    Extend,
}

impl ExpireMode {
    /// The part of the signed string: `shorten`, `extend` or nothing.
    #[must_use]
    pub const fn signature_part(self) -> &'static str {
        match self {
            Self::Any => "",
            Self::Shorten => "shorten",
            Self::Extend => "extend",
        }
    }
}

/// `store`: deposit a message. `Debug` shows the data's length, not the data.
#[derive(Clone, PartialEq, Eq)]
pub struct Store {
    /// The recipient account (`pubkey`, alias `pubKey`).
    pub account: AccountId,
    /// The namespace (omitted = 0).
    pub namespace: Namespace,
    /// The message timestamp, ms.
    pub timestamp: u64,
    /// `ttl` or `expiry`.
    pub lifetime: Lifetime,
    /// The message bytes.
    pub data: Vec<u8>,
    /// `sig_timestamp` (defaults to `timestamp` when signed).
    pub sig_timestamp: Option<u64>,
    /// Present when signed (needed outside public-inbox namespaces).
    pub auth: Option<Auth>,
}

impl Store {
    /// An unsigned store (enough for public-inbox namespaces such as 0).
    #[must_use]
    pub fn new(
        account: AccountId,
        namespace: Namespace,
        data: Vec<u8>,
        timestamp: u64,
        lifetime: Lifetime,
    ) -> Self {
        Self {
            account,
            namespace,
            timestamp,
            lifetime,
            data,
            sig_timestamp: None,
            auth: None,
        }
    }

    /// The same store signed at `sig_timestamp`.
    #[must_use]
    pub fn signed(mut self, signer: &Signer<'_>, sig_timestamp: u64) -> Self {
        self.sig_timestamp = Some(sig_timestamp);
        self.auth = Some(signer.authorize(&self.signed_message()));
        self
    }

    /// The absolute expiry (`timestamp + ttl`, saturating, or `expiry`).
    #[must_use]
    pub fn expiry(&self) -> u64 {
        match self.lifetime {
            Lifetime::Ttl(ttl) => self.timestamp.saturating_add(ttl),
            Lifetime::Expiry(e) => e,
        }
    }

    /// The signature timestamp in effect: `sig_timestamp`, or `timestamp`.
    #[must_use]
    pub fn effective_sig_timestamp(&self) -> u64 {
        self.sig_timestamp.unwrap_or(self.timestamp)
    }

    /// The string signed: `"store" ‖ namespace ‖ sig_timestamp`.
    #[must_use]
    pub fn signed_message(&self) -> Vec<u8> {
        to_sign::store(self.namespace, self.effective_sig_timestamp())
    }

    /// The hash the stored message gets.
    #[must_use]
    pub fn message_hash(&self) -> MessageHash {
        MessageHash::compute(&self.account, self.namespace, &self.data)
    }

    fn read(p: Params<'_>) -> Result<Self, ParseError> {
        let expiry = p.timestamp("expiry")?;
        let namespace = p.namespace("namespace")?.unwrap_or_default();
        let sig_timestamp = p.timestamp("sig_timestamp")?;
        let timestamp = p
            .lenient_unsigned("timestamp", true)?
            .ok_or(ParseError::Missing("timestamp"))?;
        let ttl = p.lenient_unsigned("ttl", false)?;
        let lifetime = match (expiry, ttl) {
            (Some(_), Some(_)) => return Err(ParseError::Both("expiry", "ttl")),
            (Some(e), None) => Lifetime::Expiry(e),
            (None, Some(t)) => Lifetime::Ttl(t),
            (None, None) => return Err(ParseError::Neither("expiry", "ttl")),
        };
        let account = AccountId::parse(p.one_of("pubkey", "pubKey")?)?;
        let (auth, sig_timestamp) = if p.has("signature") {
            (Some(read_auth(p, &account, true)?), sig_timestamp)
        } else {
            (None, None)
        };
        let raw = p.bytes("data")?.ok_or(ParseError::Missing("data"))?;
        let data = if p.is_json() {
            if !is_base64(raw) {
                return Err(ParseError::DataNotBase64);
            }
            if raw.len() > MAX_DATA_LEN / 3 * 4 {
                return Err(ParseError::DataTooLarge);
            }
            decode_base64(raw).ok_or(ParseError::DataNotBase64)?
        } else {
            if raw.len() > MAX_DATA_LEN {
                return Err(ParseError::DataTooLarge);
            }
            raw.to_vec()
        };
        Ok(Self {
            account,
            namespace,
            timestamp,
            lifetime,
            data,
            sig_timestamp,
            auth,
        })
    }

    fn write(&self, out: &mut DocMap) {
        write_account(out, &self.account);
        write_namespace(out, self.namespace);
        out.put("timestamp", Doc::uint(self.timestamp));
        match self.lifetime {
            Lifetime::Ttl(t) => out.put("ttl", Doc::uint(t)),
            Lifetime::Expiry(e) => out.put("expiry", Doc::uint(e)),
        };
        out.put("data", Doc::Bin(self.data.clone()));
        if let Some(auth) = &self.auth {
            write_auth(out, auth);
            out.put_opt("sig_timestamp", self.sig_timestamp.map(Doc::uint));
        }
    }
}

impl core::fmt::Debug for Store {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Store")
            .field("account", &self.account)
            .field("namespace", &self.namespace)
            .field("timestamp", &self.timestamp)
            .field("lifetime", &self.lifetime)
            .field("data_len", &self.data.len())
            .field("sig_timestamp", &self.sig_timestamp)
            .field("auth", &self.auth)
            .finish()
    }
}

/// A timestamp and the signature over it, as `retrieve` carries them when signed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimedAuth {
    /// The signature timestamp, ms.
    pub timestamp: u64,
    /// The signature.
    pub auth: Auth,
}

/// `retrieve`: fetch messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Retrieve {
    /// The account (`pubkey`, alias `pubKey`).
    pub account: AccountId,
    /// The namespace.
    pub namespace: Namespace,
    /// Return messages stored after this one (`last_hash`, alias `lastHash`).
    pub last_hash: Option<MessageHash>,
    /// `max_count` (0 = unspecified).
    pub max_count: Option<i32>,
    /// `max_size`: bytes if positive, a fraction `1/−n` of the node maximum if negative.
    pub max_size: Option<i32>,
    /// Present when signed (needed except in namespace −10 and public outboxes).
    pub auth: Option<TimedAuth>,
}

impl Retrieve {
    /// An unsigned retrieve of `namespace` from the start.
    #[must_use]
    pub fn new(account: AccountId, namespace: Namespace) -> Self {
        Self {
            account,
            namespace,
            last_hash: None,
            max_count: None,
            max_size: None,
            auth: None,
        }
    }

    /// The same retrieve signed at `timestamp`.
    #[must_use]
    pub fn signed(mut self, signer: &Signer<'_>, timestamp: u64) -> Self {
        let auth = signer.authorize(&to_sign::retrieve(self.namespace, timestamp));
        self.auth = Some(TimedAuth { timestamp, auth });
        self
    }

    /// The string signed: `"retrieve" ‖ namespace ‖ timestamp`, if signed.
    #[must_use]
    pub fn signed_message(&self) -> Option<Vec<u8>> {
        self.auth
            .as_ref()
            .map(|a| to_sign::retrieve(self.namespace, a.timestamp))
    }

    fn read(p: Params<'_>) -> Result<Self, ParseError> {
        let last_hash = match (p.bytes("last_hash")?, p.bytes("lastHash")?) {
            (Some(_), Some(_)) => return Err(ParseError::Both("last_hash", "lastHash")),
            (Some(h), None) | (None, Some(h)) if !h.is_empty() => {
                Some(MessageHash::parse(h).ok_or(ParseError::LastHash)?)
            }
            _ => None,
        };
        let max_count = p.i32("max_count")?;
        let max_size = p.i32("max_size")?;
        let explicit_ns = p.namespace("namespace")?;
        let namespace = explicit_ns.unwrap_or_default();
        let account = AccountId::parse(p.one_of("pubkey", "pubKey")?)?;
        let timestamp = p.timestamp("timestamp")?;
        let signed = p.has("pubkey_ed25519")
            || p.has("signature")
            || timestamp.is_some()
            || explicit_ns.is_some_and(|ns| !ns.is_noauth_retrieve());
        let auth = if signed {
            let auth = read_auth(p, &account, true)?;
            let timestamp = timestamp.ok_or(ParseError::Missing("timestamp"))?;
            Some(TimedAuth { timestamp, auth })
        } else {
            None
        };
        Ok(Self {
            account,
            namespace,
            last_hash,
            max_count,
            max_size,
            auth,
        })
    }

    fn write(&self, out: &mut DocMap) {
        write_account(out, &self.account);
        write_namespace(out, self.namespace);
        out.put_opt("last_hash", self.last_hash.map(|h| Doc::Str(h.to_string())));
        out.put_opt("max_count", self.max_count.map(|n| Doc::Int(n.into())));
        out.put_opt("max_size", self.max_size.map(|n| Doc::Int(n.into())));
        if let Some(a) = &self.auth {
            out.put("timestamp", Doc::uint(a.timestamp));
            write_auth(out, &a.auth);
        }
    }
}

/// `delete`: delete messages by hash (any namespaces).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delete {
    /// The account.
    pub account: AccountId,
    /// The hashes (at least one).
    pub messages: Vec<MessageHash>,
    /// `required`: answer 404 unless some node deleted something.
    pub required: bool,
    /// The signature.
    pub auth: Auth,
}

impl Delete {
    /// A signed delete.
    #[must_use]
    pub fn new(account: AccountId, messages: Vec<MessageHash>, signer: &Signer<'_>) -> Self {
        let auth = signer.authorize(&to_sign::delete(&messages));
        Self {
            account,
            messages,
            required: false,
            auth,
        }
    }

    /// The string signed: `"delete" ‖ hash…`.
    #[must_use]
    pub fn signed_message(&self) -> Vec<u8> {
        to_sign::delete(&self.messages)
    }

    fn read(p: Params<'_>) -> Result<Self, ParseError> {
        let (account, auth) = read_account_auth(p, true)?;
        Ok(Self {
            account,
            messages: read_hashes(p, "messages")?,
            required: p.bool("required")?.unwrap_or(false),
            auth,
        })
    }

    fn write(&self, out: &mut DocMap) {
        write_account(out, &self.account);
        write_auth(out, &self.auth);
        out.put("messages", hash_list(&self.messages));
        if self.required {
            out.put("required", Doc::Bool(true));
        }
    }
}

/// `delete_all`, `delete_before` and `expire_all` share this shape: one namespace or all, a
/// time value and a signature.
macro_rules! bulk_request {
    ($(#[$doc:meta])* $name:ident, $field:ident, $key:literal, $sign:path, $field_doc:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub struct $name {
            /// The account.
            pub account: AccountId,
            /// The namespace, or all of them (omitted = 0).
            pub namespaces: Namespaces,
            #[doc = $field_doc]
            pub $field: u64,
            /// The signature.
            pub auth: Auth,
        }

        impl $name {
            /// A signed request.
            #[must_use]
            pub fn new(
                account: AccountId,
                namespaces: Namespaces,
                $field: u64,
                signer: &Signer<'_>,
            ) -> Self {
                let auth = signer.authorize(&$sign(namespaces, $field));
                Self { account, namespaces, $field, auth }
            }

            /// The string signed.
            #[must_use]
            pub fn signed_message(&self) -> Vec<u8> {
                $sign(self.namespaces, self.$field)
            }

            fn read(p: Params<'_>) -> Result<Self, ParseError> {
                let namespaces = p.namespaces("namespace")?.unwrap_or_default();
                let (account, auth) = read_account_auth(p, true)?;
                let $field = p.timestamp($key)?.ok_or(ParseError::Missing($key))?;
                Ok(Self { account, namespaces, $field, auth })
            }

            fn write(&self, out: &mut DocMap) {
                write_account(out, &self.account);
                write_auth(out, &self.auth);
                out.put($key, Doc::uint(self.$field));
                match self.namespaces {
                    Namespaces::All => {
                        out.put("namespace", Doc::Str("all".to_owned()));
                    }
                    Namespaces::One(ns) => write_namespace(out, ns),
                }
            }
        }
    };
}

bulk_request!(
    /// `delete_all`: delete every message of a namespace (or all namespaces).
    DeleteAll, timestamp, "timestamp", to_sign::delete_all,
    "The signature timestamp, ms (within ±60 s of the node's clock)."
);
bulk_request!(
    /// `delete_before`: delete messages with a timestamp at or before `before`.
    DeleteBefore, before, "before", to_sign::delete_before,
    "Delete messages with `timestamp ≤ before`, ms."
);
bulk_request!(
    /// `expire_all`: shorten every expiry later than `expiry`.
    ExpireAll, expiry, "expiry", to_sign::expire_all,
    "The new expiry, ms."
);

/// `expire`: set the expiry of messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expire {
    /// The account.
    pub account: AccountId,
    /// The hashes (at least one).
    pub messages: Vec<MessageHash>,
    /// One expiry for all, or one per message.
    pub expiry: Vec<u64>,
    /// `shorten` / `extend`.
    pub mode: ExpireMode,
    /// The signature.
    pub auth: Auth,
}

impl Expire {
    /// A signed expire.
    #[must_use]
    pub fn new(
        account: AccountId,
        messages: Vec<MessageHash>,
        expiry: Vec<u64>,
        mode: ExpireMode,
        signer: &Signer<'_>,
    ) -> Self {
        let auth = signer.authorize(&to_sign::expire(mode, &expiry, &messages));
        Self {
            account,
            messages,
            expiry,
            mode,
            auth,
        }
    }

    /// The string signed: `"expire" ‖ mode ‖ expiries ‖ hash…`.
    #[must_use]
    pub fn signed_message(&self) -> Vec<u8> {
        to_sign::expire(self.mode, &self.expiry, &self.messages)
    }

    fn read(p: Params<'_>) -> Result<Self, ParseError> {
        let expiry = p
            .timestamp_list("expiry")?
            .ok_or(ParseError::Missing("expiry"))?;
        if expiry.is_empty() {
            return Err(ParseError::Empty("expiry"));
        }
        let mode = match (
            p.bool("shorten")?.unwrap_or(false),
            p.bool("extend")?.unwrap_or(false),
        ) {
            (true, true) => return Err(ParseError::Both("shorten", "extend")),
            (true, false) => ExpireMode::Shorten,
            (false, true) => ExpireMode::Extend,
            (false, false) => ExpireMode::Any,
        };
        let (account, auth) = read_account_auth(p, true)?;
        let messages = read_hashes(p, "messages")?;
        if expiry.len() > 1 && expiry.len() != messages.len() {
            return Err(ParseError::ExpiryCount);
        }
        Ok(Self {
            account,
            messages,
            expiry,
            mode,
            auth,
        })
    }

    fn write(&self, out: &mut DocMap) {
        write_account(out, &self.account);
        write_auth(out, &self.auth);
        out.put("messages", hash_list(&self.messages));
        let expiry = match self.expiry.as_slice() {
            [one] => Doc::uint(*one),
            list => Doc::List(list.iter().copied().map(Doc::uint).collect()),
        };
        out.put("expiry", expiry);
        match self.mode {
            ExpireMode::Any => {}
            ExpireMode::Shorten => {
                out.put("shorten", Doc::Bool(true));
            }
            ExpireMode::Extend => {
                out.put("extend", Doc::Bool(true));
            }
        }
    }
}

/// `get_expiries`: read the expiries of messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GetExpiries {
    /// The account.
    pub account: AccountId,
    /// The hashes (at least one).
    pub messages: Vec<MessageHash>,
    /// The signature timestamp, ms.
    pub timestamp: u64,
    /// The signature.
    pub auth: Auth,
}

impl GetExpiries {
    /// A signed request.
    #[must_use]
    pub fn new(
        account: AccountId,
        messages: Vec<MessageHash>,
        timestamp: u64,
        signer: &Signer<'_>,
    ) -> Self {
        let auth = signer.authorize(&to_sign::get_expiries(timestamp, &messages));
        Self {
            account,
            messages,
            timestamp,
            auth,
        }
    }

    /// The string signed: `"get_expiries" ‖ timestamp ‖ hash…`.
    #[must_use]
    pub fn signed_message(&self) -> Vec<u8> {
        to_sign::get_expiries(self.timestamp, &self.messages)
    }

    fn read(p: Params<'_>) -> Result<Self, ParseError> {
        let (account, auth) = read_account_auth(p, true)?;
        let timestamp = p
            .timestamp("timestamp")?
            .ok_or(ParseError::Missing("timestamp"))?;
        Ok(Self {
            account,
            messages: read_hashes(p, "messages")?,
            timestamp,
            auth,
        })
    }

    fn write(&self, out: &mut DocMap) {
        write_account(out, &self.account);
        write_auth(out, &self.auth);
        out.put("messages", hash_list(&self.messages));
        out.put("timestamp", Doc::uint(self.timestamp));
    }
}

/// Whether a revocation request adds or removes tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Revocation {
    /// `revoke_subaccount` (at most 50 tokens).
    Revoke,
    /// `unrevoke_subaccount`.
    Unrevoke,
}

impl Revocation {
    fn key(self) -> &'static str {
        match self {
            Self::Revoke => "revoke",
            Self::Unrevoke => "unrevoke",
        }
    }
}

/// `revoke_subaccount` / `unrevoke_subaccount`, signed by the account owner only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubaccountRevocation {
    /// Revoke or unrevoke.
    pub kind: Revocation,
    /// The account.
    pub account: AccountId,
    /// The tokens (`revoke` / `unrevoke`).
    pub tokens: Vec<SubaccountToken>,
    /// The signature timestamp, ms.
    pub timestamp: u64,
    /// The owner's signature (a subaccount is never accepted).
    pub auth: Auth,
}

impl SubaccountRevocation {
    /// A signed request.
    #[must_use]
    pub fn new(
        kind: Revocation,
        account: AccountId,
        tokens: Vec<SubaccountToken>,
        timestamp: u64,
        signer: &Signer<'_>,
    ) -> Self {
        let auth = signer.authorize(&revocation_message(kind, timestamp, &tokens));
        Self {
            kind,
            account,
            tokens,
            timestamp,
            auth,
        }
    }

    /// The method.
    #[must_use]
    pub fn method(&self) -> Method {
        match self.kind {
            Revocation::Revoke => Method::RevokeSubaccount,
            Revocation::Unrevoke => Method::UnrevokeSubaccount,
        }
    }

    /// The string signed: `method ‖ timestamp ‖ token bytes…`.
    #[must_use]
    pub fn signed_message(&self) -> Vec<u8> {
        revocation_message(self.kind, self.timestamp, &self.tokens)
    }

    fn read(kind: Revocation, p: Params<'_>) -> Result<Self, ParseError> {
        let key = kind.key();
        let (account, auth) = read_account_auth(p, false)?;
        let list = p.byte_list(key)?.ok_or(ParseError::Missing(key))?;
        if kind == Revocation::Revoke && list.len() > MAX_REVOKED_TOKENS {
            return Err(ParseError::TooManyTokens);
        }
        let tokens = list
            .into_iter()
            .map(|raw| read_token(p, raw, key))
            .collect::<Result<_, _>>()?;
        let timestamp = p
            .timestamp("timestamp")?
            .ok_or(ParseError::Missing("timestamp"))?;
        Ok(Self {
            kind,
            account,
            tokens,
            timestamp,
            auth,
        })
    }

    fn write(&self, out: &mut DocMap) {
        write_account(out, &self.account);
        write_auth(out, &self.auth);
        out.put("timestamp", Doc::uint(self.timestamp));
        let list = self
            .tokens
            .iter()
            .map(|t| Doc::Bin(t.as_bytes().to_vec()))
            .collect();
        out.put(self.kind.key(), Doc::List(list));
    }
}

fn revocation_message(kind: Revocation, timestamp: u64, tokens: &[SubaccountToken]) -> Vec<u8> {
    match kind {
        Revocation::Revoke => to_sign::revoke_subaccount(timestamp, tokens),
        Revocation::Unrevoke => to_sign::unrevoke_subaccount(timestamp, tokens),
    }
}

/// `get_swarm`: the nodes of the account's swarm.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GetSwarm {
    /// The account (`pubkey`, alias `pubKey`).
    pub account: AccountId,
}

/// The directory endpoints `oxend_request` may reach.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OxendEndpoint {
    /// `get_service_nodes` (see [`crate::nodes`]).
    GetServiceNodes,
    /// `ons_resolve`.
    OnsResolve,
}

impl OxendEndpoint {
    /// The endpoint name.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::GetServiceNodes => "get_service_nodes",
            Self::OnsResolve => "ons_resolve",
        }
    }
}

/// `oxend_request`: a directory query proxied by the node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OxendRequest {
    /// The endpoint.
    pub endpoint: OxendEndpoint,
    /// Its JSON parameters (a JSON string when bencoded).
    pub params: Option<Json>,
}

impl OxendRequest {
    fn read(p: Params<'_>) -> Result<Self, ParseError> {
        let endpoint = match p
            .bytes("endpoint")?
            .ok_or(ParseError::Missing("endpoint"))?
        {
            b"get_service_nodes" => OxendEndpoint::GetServiceNodes,
            b"ons_resolve" => OxendEndpoint::OnsResolve,
            _ => return Err(ParseError::OxendEndpoint),
        };
        let params = match p {
            Params::Json(m) => m.get("params").filter(|v| !v.is_null()).cloned(),
            Params::Bt(_) => match p.bytes("params")? {
                None => None,
                Some(text) => {
                    let v: Json =
                        serde_json::from_slice(text).map_err(|_| ParseError::OxendParams)?;
                    (!v.is_null()).then_some(v)
                }
            },
        };
        Ok(Self { endpoint, params })
    }

    fn write(&self, out: &mut DocMap) {
        out.put("endpoint", Doc::Str(self.endpoint.name().to_owned()));
        out.put_opt("params", self.params.clone().map(Doc::JsonText));
    }
}

/// `batch` / `sequence`: up to 20 subrequests, each authenticated on its own. A sequence stops
/// after the first subrequest that does not succeed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Batch {
    /// The subrequests (never `batch` or `sequence`).
    pub requests: Vec<Request>,
}

impl Batch {
    fn read(p: Params<'_>) -> Result<Self, ParseError> {
        let items = p
            .list("requests")
            .ok_or(ParseError::Batch("no valid \"requests\" field"))?;
        if items.is_empty() {
            return Err(ParseError::Batch("empty \"requests\" list"));
        }
        if items.len() > MAX_BATCH {
            return Err(ParseError::Batch("subrequest limit exceeded"));
        }
        let requests = items
            .into_iter()
            .map(|item| {
                let sub = item
                    .params()
                    .ok_or(ParseError::Batch("requests must be objects"))?;
                let method = sub.bytes("method").ok().flatten().ok_or(ParseError::Batch(
                    "subrequests must have method/params keys",
                ))?;
                let method = core::str::from_utf8(method)
                    .ok()
                    .and_then(Method::from_name)
                    .ok_or(ParseError::BatchMethod)?;
                if method.is_meta() {
                    return Err(ParseError::Batch(
                        "subrequests may not contain meta-requests",
                    ));
                }
                let params = sub
                    .item("params")
                    .and_then(Item::params)
                    .ok_or(ParseError::Batch(
                        "subrequests must have method/params keys",
                    ))?;
                Request::read(method, params)
            })
            .collect::<Result<_, _>>()?;
        Ok(Self { requests })
    }

    fn write(&self, out: &mut DocMap) {
        let list = self
            .requests
            .iter()
            .map(|r| {
                DocMap::new()
                    .put("method", Doc::Str(r.method().name().to_owned()))
                    .put("params", r.params_doc())
                    .done()
            })
            .collect();
        out.put("requests", Doc::List(list));
    }
}

/// A parsed storage RPC request.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Request {
    /// `store`.
    Store(Store),
    /// `retrieve`.
    Retrieve(Retrieve),
    /// `delete`.
    Delete(Delete),
    /// `delete_all`.
    DeleteAll(DeleteAll),
    /// `delete_before`.
    DeleteBefore(DeleteBefore),
    /// `expire`.
    Expire(Expire),
    /// `expire_all`.
    ExpireAll(ExpireAll),
    /// `get_expiries`.
    GetExpiries(GetExpiries),
    /// `get_swarm`.
    GetSwarm(GetSwarm),
    /// `info` (no parameters).
    Info,
    /// `revoke_subaccount` or `unrevoke_subaccount`.
    Revocation(SubaccountRevocation),
    /// `batch`.
    Batch(Batch),
    /// `sequence`.
    Sequence(Batch),
    /// `oxend_request`.
    OxendRequest(OxendRequest),
    /// `active_nodes_bin` (no parameters).
    ActiveNodesBin,
}

impl Request {
    /// The method.
    #[must_use]
    pub fn method(&self) -> Method {
        match self {
            Self::Store(_) => Method::Store,
            Self::Retrieve(_) => Method::Retrieve,
            Self::Delete(_) => Method::Delete,
            Self::DeleteAll(_) => Method::DeleteAll,
            Self::DeleteBefore(_) => Method::DeleteBefore,
            Self::Expire(_) => Method::Expire,
            Self::ExpireAll(_) => Method::ExpireAll,
            Self::GetExpiries(_) => Method::GetExpiries,
            Self::GetSwarm(_) => Method::GetSwarm,
            Self::Info => Method::Info,
            Self::Revocation(r) => r.method(),
            Self::Batch(_) => Method::Batch,
            Self::Sequence(_) => Method::Sequence,
            Self::OxendRequest(_) => Method::OxendRequest,
            Self::ActiveNodesBin => Method::ActiveNodesBin,
        }
    }

    /// The account the request is about, for the node's "is this my swarm" check.
    #[must_use]
    pub fn account(&self) -> Option<&AccountId> {
        match self {
            Self::Store(r) => Some(&r.account),
            Self::Retrieve(r) => Some(&r.account),
            Self::Delete(r) => Some(&r.account),
            Self::DeleteAll(r) => Some(&r.account),
            Self::DeleteBefore(r) => Some(&r.account),
            Self::Expire(r) => Some(&r.account),
            Self::ExpireAll(r) => Some(&r.account),
            Self::GetExpiries(r) => Some(&r.account),
            Self::GetSwarm(r) => Some(&r.account),
            Self::Revocation(r) => Some(&r.account),
            Self::Info
            | Self::Batch(_)
            | Self::Sequence(_)
            | Self::OxendRequest(_)
            | Self::ActiveNodesBin => None,
        }
    }

    /// Parses an HTTPS `POST /storage_rpc/v1` body (also the final hop of an onion request):
    /// `{"method": NAME, "params": {...}}`. Unknown fields are ignored.
    pub fn from_http_body(body: &[u8]) -> Result<Self, RpcError> {
        if body.len() > MAX_BODY_LEN {
            return Err(RpcError::BodyTooLarge);
        }
        let doc: Json = serde_json::from_slice(body).map_err(|_| ParseError::Json)?;
        let method = doc
            .get("method")
            .and_then(Json::as_str)
            .ok_or(ParseError::NoMethod)?;
        let params = doc
            .get("params")
            .and_then(Json::as_object)
            .ok_or(ParseError::NoParams)?;
        let method = Method::from_name(method).ok_or_else(|| RpcError::unknown_method(method))?;
        Ok(Self::read(method, Params::Json(params))?)
    }

    /// Parses a request given as a command name and a parameter body, as OxenMQ, QUIC and
    /// Sotto's node-to-node transport carry them: a JSON object, or a bencoded dictionary when
    /// the first byte is `d`; an empty body means no parameters. Returns the encoding, in which
    /// the node must answer.
    pub fn from_command(method: &str, body: &[u8]) -> Result<(Self, Encoding), RpcError> {
        let method = Method::from_name(method).ok_or_else(|| RpcError::unknown_method(method))?;
        if body.len() > MAX_BODY_LEN {
            return Err(RpcError::BodyTooLarge);
        }
        match body.first() {
            None => Ok((
                Self::read(method, Params::Json(&Map::new()))?,
                Encoding::Json,
            )),
            Some(b'd') => {
                let value = sotto_bencode::decode(body).map_err(|_| ParseError::Body)?;
                let dict = value.as_dict().ok_or(ParseError::Body)?;
                Ok((Self::read(method, Params::Bt(dict))?, Encoding::Bencode))
            }
            Some(_) => {
                let value: Json = serde_json::from_slice(body).map_err(|_| ParseError::Body)?;
                let map = value.as_object().ok_or(ParseError::Body)?;
                Ok((Self::read(method, Params::Json(map))?, Encoding::Json))
            }
        }
    }

    /// Parses the parameters of `method` from a JSON object.
    pub fn from_json_params(method: Method, params: &Map<String, Json>) -> Result<Self, RpcError> {
        Ok(Self::read(method, Params::Json(params))?)
    }

    fn read(method: Method, p: Params<'_>) -> Result<Self, ParseError> {
        Ok(match method {
            Method::Store => Self::Store(Store::read(p)?),
            Method::Retrieve => Self::Retrieve(Retrieve::read(p)?),
            Method::Delete => Self::Delete(Delete::read(p)?),
            Method::DeleteAll => Self::DeleteAll(DeleteAll::read(p)?),
            Method::DeleteBefore => Self::DeleteBefore(DeleteBefore::read(p)?),
            Method::Expire => Self::Expire(Expire::read(p)?),
            Method::ExpireAll => Self::ExpireAll(ExpireAll::read(p)?),
            Method::GetExpiries => Self::GetExpiries(GetExpiries::read(p)?),
            Method::GetSwarm => Self::GetSwarm(GetSwarm {
                account: AccountId::parse(p.one_of("pubkey", "pubKey")?)?,
            }),
            Method::Info => Self::Info,
            Method::RevokeSubaccount => {
                Self::Revocation(SubaccountRevocation::read(Revocation::Revoke, p)?)
            }
            Method::UnrevokeSubaccount => {
                Self::Revocation(SubaccountRevocation::read(Revocation::Unrevoke, p)?)
            }
            Method::Batch => Self::Batch(Batch::read(p)?),
            Method::Sequence => Self::Sequence(Batch::read(p)?),
            Method::OxendRequest => Self::OxendRequest(OxendRequest::read(p)?),
            Method::ActiveNodesBin => Self::ActiveNodesBin,
        })
    }

    fn params_doc(&self) -> Doc {
        let mut out = DocMap::new();
        match self {
            Self::Store(r) => r.write(&mut out),
            Self::Retrieve(r) => r.write(&mut out),
            Self::Delete(r) => r.write(&mut out),
            Self::DeleteAll(r) => r.write(&mut out),
            Self::DeleteBefore(r) => r.write(&mut out),
            Self::Expire(r) => r.write(&mut out),
            Self::ExpireAll(r) => r.write(&mut out),
            Self::GetExpiries(r) => r.write(&mut out),
            Self::GetSwarm(r) => write_account(&mut out, &r.account),
            Self::Revocation(r) => r.write(&mut out),
            Self::Batch(b) | Self::Sequence(b) => b.write(&mut out),
            Self::OxendRequest(r) => r.write(&mut out),
            Self::Info | Self::ActiveNodesBin => {}
        }
        out.done()
    }

    /// The parameters as JSON, as Session clients send them (binary values in padded base64,
    /// keys in hex).
    #[must_use]
    pub fn params_json(&self) -> Json {
        self.params_doc().to_json()
    }

    /// The parameters as a canonical bencoded dictionary with raw binary values; for the
    /// recursive methods this is also the form forwarded to swarm peers.
    #[must_use]
    pub fn params_bencoded(&self) -> Vec<u8> {
        sotto_bencode::encode(&self.params_doc().to_bt())
    }

    /// The whole HTTPS body: `{"method": NAME, "params": {...}}`.
    #[must_use]
    pub fn to_http_body(&self) -> Vec<u8> {
        let mut body = Map::new();
        body.insert("method".into(), Json::from(self.method().name()));
        body.insert("params".into(), self.params_json());
        Json::Object(body).to_string().into_bytes()
    }
}

impl From<Store> for Request {
    fn from(r: Store) -> Self {
        Self::Store(r)
    }
}

impl From<Retrieve> for Request {
    fn from(r: Retrieve) -> Self {
        Self::Retrieve(r)
    }
}

fn read_token(
    p: Params<'_>,
    raw: &[u8],
    field: &'static str,
) -> Result<SubaccountToken, ParseError> {
    if p.is_json() {
        SubaccountToken::parse_text(raw)
    } else {
        SubaccountToken::from_slice(raw)
    }
    .ok_or(ParseError::Token(field))
}

/// `signature`, `pubkey_ed25519` and (when allowed) `subaccount` / `subaccount_sig`.
fn read_auth(p: Params<'_>, account: &AccountId, subaccounts: bool) -> Result<Auth, ParseError> {
    let raw = p
        .bytes("signature")?
        .ok_or(ParseError::Missing("signature"))?;
    let pubkey_ed25519 = match p.bytes("pubkey_ed25519")? {
        None => None,
        Some(_) if !account.is_session_id() => return Err(ParseError::Ed25519NotSession),
        Some(raw) => Some(sotto_crypto::Ed25519PublicKey(match raw.len() {
            64 => decode_hex(raw).ok_or(ParseError::Ed25519Key)?,
            32 => raw.try_into().map_err(|_| ParseError::Ed25519Key)?,
            _ => return Err(ParseError::Ed25519Key),
        })),
    };
    let signature = p.signature_value(raw, "signature")?;
    let subaccount = match p.bytes("subaccount")? {
        Some(token) if subaccounts && !token.is_empty() => {
            let sig = p
                .bytes("subaccount_sig")?
                .ok_or(ParseError::SubaccountSigMissing)?;
            Some(SignedSubaccount {
                token: read_token(p, token, "subaccount")?,
                signature: p.signature_value(sig, "subaccount_sig")?,
            })
        }
        _ => None,
    };
    Ok(Auth {
        signature,
        pubkey_ed25519,
        subaccount,
    })
}

/// `pubkey` (no alias) and a required signature.
fn read_account_auth(p: Params<'_>, subaccounts: bool) -> Result<(AccountId, Auth), ParseError> {
    let account = AccountId::parse(p.bytes("pubkey")?.ok_or(ParseError::Missing("pubkey"))?)?;
    let auth = read_auth(p, &account, subaccounts)?;
    Ok((account, auth))
}

fn read_hashes(p: Params<'_>, field: &'static str) -> Result<Vec<MessageHash>, ParseError> {
    let list = p.byte_list(field)?.ok_or(ParseError::Missing(field))?;
    if list.is_empty() {
        return Err(ParseError::Empty(field));
    }
    list.into_iter()
        .map(|h| MessageHash::parse(h).ok_or(ParseError::MessageHash(field)))
        .collect()
}

fn hash_list(list: &[MessageHash]) -> Doc {
    Doc::List(list.iter().map(|h| Doc::Str(h.to_string())).collect())
}

fn write_account(out: &mut DocMap, account: &AccountId) {
    out.put("pubkey", Doc::Hex(account.to_bytes().to_vec()));
}

fn write_namespace(out: &mut DocMap, ns: Namespace) {
    if ns != Namespace::DEFAULT {
        out.put("namespace", Doc::Int(ns.get().into()));
    }
}

fn write_auth(out: &mut DocMap, auth: &Auth) {
    out.put("signature", Doc::Bin(auth.signature.0.to_vec()));
    out.put_opt(
        "pubkey_ed25519",
        auth.pubkey_ed25519.map(|k| Doc::Hex(k.0.to_vec())),
    );
    if let Some(sub) = &auth.subaccount {
        out.put("subaccount", Doc::Bin(sub.token.as_bytes().to_vec()));
        out.put("subaccount_sig", Doc::Bin(sub.signature.0.to_vec()));
    }
}
