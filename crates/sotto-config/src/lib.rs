#![doc = include_str!("../README.md")]

mod crypt;
pub mod data;
mod domain;
pub mod edit;
mod error;
mod message;
pub mod views;

pub use crypt::{
    ENCRYPTION_OVERHEAD, MAX_DECOMPRESSED_SIZE, MAX_PUSH_SIZE, ZSTD_LEVEL, compress,
    decompress_limited, decrypt, encrypt, open_pushed, pad, padded_size, seal_for_push,
    unpad_and_decompress,
};
pub use data::{DataValue, Dict, DiffDict, DiffEntry, Scalar, Set};
pub use domain::ConfigKind;
pub use error::{CryptError, EditError, LoadError, MergeError, ParseError, SignatureError};
pub use message::{
    ConfigHash, ConfigMessage, DEFAULT_LAG, Merged, MutableConfig, SeqnoHash, message_hash,
};
pub use views::{
    CommunityRoom, Contact, Contacts, Conversation, ConvoInfoVolatile, GroupCommon, GroupInfo,
    GroupMember, GroupMembers, GroupV2, LegacyGroup, ReadState, UserGroups, UserProfile,
};
