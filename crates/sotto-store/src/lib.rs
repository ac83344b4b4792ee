#![doc = include_str!("../README.md")]

mod schema;
mod store;

pub use store::{
    DeletionProofs, ExpireMode, ExpireResult, MAX_REVOKED_PER_ACCOUNT, MessageHead, NewMessage,
    RangeMessage, RetrieveLimits, RetrievePage, Store, StoreError, StoreOutcome, StoredMessage,
    Usage,
};
