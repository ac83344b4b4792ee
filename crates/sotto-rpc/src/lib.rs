#![doc = include_str!("../README.md")]

mod account;
pub mod auth;
mod check;
mod encoding;
mod error;
mod hash;
pub mod heuristics;
mod namespace;
pub mod nodes;
mod params;
pub mod replication;
pub mod request;
pub mod response;
pub mod subaccount;
pub mod to_sign;

pub use account::{AccountId, GROUP_PREFIX, SESSION_PREFIX};
pub use auth::{Auth, Permission, Signer};
pub use check::{
    NodeContext, RETRIEVE_MAX_SIZE, RETRIEVE_MESSAGE_OVERHEAD, RetrieveLimits,
    SIGNATURE_TOLERANCE_FORWARDED_MS, SIGNATURE_TOLERANCE_MS, STORE_TOLERANCE_MS,
    check_message_bounds, check_replica_bounds,
};
pub use error::{AuthError, MAX_SHOWN_METHOD_LEN, ParseError, RpcError, escaped_prefix};
pub use hash::{MESSAGE_HASH_LEN, MessageHash};
pub use namespace::{Namespace, Namespaces, TTL_MAX_PRIVATE_MS, TTL_MAX_PUBLIC_MS, TTL_MIN_MS};
pub use request::{Encoding, Method, Request};
pub use subaccount::{SignedSubaccount, SubaccountFlags, SubaccountToken};

#[cfg(test)]
mod tests;
