#![doc = include_str!("../README.md")]

mod schema;
mod store;

pub use store::{
    AccountUsage, DEFAULT_ACCOUNT_BYTES, DEFAULT_ACCOUNT_MESSAGES, DeletionProofs, ExpireMode,
    ExpireResult, MAX_REVOKED_PER_ACCOUNT, MessageHead, NewMessage, Quota, RESERVE_DIVISOR,
    RangeMessage, RetrieveLimits, RetrievePage, Store, StoreError, StoreOutcome, StoredMessage,
    Usage,
};
