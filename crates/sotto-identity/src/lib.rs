#![doc = include_str!("../README.md")]

mod account;
pub mod blinding;
mod id;
pub mod mnemonic;
pub mod sogs;
pub mod version;

pub use account::{Account, RecoverySeed};
pub use id::{IdError, IdPrefix, PrefixedId, SessionId};
pub use mnemonic::MnemonicError;
