#![doc = include_str!("../README.md")]

mod schema;
mod store;

pub use store::{
    AccountUsage, DEFAULT_ACCOUNT_BYTES, DEFAULT_ACCOUNT_MESSAGES, DeletionProofs, ExpireMode,
    ExpireResult, MAX_REVOCATION_LOG_PER_ACCOUNT, MAX_REVOKED_PER_ACCOUNT, MessageHead, NewMessage,
    Quota, RESERVE_DIVISOR, RangeMessage, RetrieveLimits, RetrievePage, RevocationOutcome,
    RevocationRecord, Store, StoreError, StoreOutcome, StoredMessage, Usage,
};
