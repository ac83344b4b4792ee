#![doc = include_str!("../README.md")]

pub mod auth;
pub mod configs;
pub mod control;
mod error;
mod identity;
pub mod keys;
pub mod legacy;
pub mod message;
pub mod multi;
mod proto;

pub use auth::{SubaccountAuth, SubaccountSignature};
pub use control::{GroupUpdate, InfoChangeKind, MemberChangeKind};
pub use error::{
    AuthError, ControlError, GroupConfigError, KeysError, LegacyError, MessageError, MultiError,
};
pub use identity::{GroupAdmin, GroupId, MEMBER_KEY_DOMAIN};
pub use keys::{GroupKeys, KeyInfo, KeysMessage, Rekey};
pub use message::{DecryptedGroupMessage, GroupContent, GroupEnvelopeStyle};
