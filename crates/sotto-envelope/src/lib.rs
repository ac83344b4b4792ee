#![doc = include_str!("../README.md")]

mod blinded;
mod content;
mod envelope;
mod error;
mod generated;
mod lookup;
mod padding;
mod parts;
mod session;
mod shared_config;
mod swarm;
mod wire;

pub use blinded::{
    BLINDED_DM_OVERHEAD, decrypt_from_blinded, encrypt_for_blinded_recipient,
    encrypt_for_blinded_recipient_with_nonce,
};
pub use content::{
    Content, DataFields, DisappearingSetting, ExpirationType, Message, ReactionMessage,
    VisibleMessage,
};
pub use envelope::{
    Envelope, EnvelopeType, WebSocketMessage, WebSocketMessageType, WebSocketRequest, WireStyle,
};
pub use error::{DecodeError, DecryptError, EncryptError, ReceiveError};
pub use lookup::{ONS_CIPHERTEXT_LEN, decrypt_ons_response, decrypt_push_notification};
pub use padding::{PADDING_BLOCK, PaddingRule, pad, pad_with, padded_len, unpad};
pub use parts::{
    AttachmentPointer, CallKind, CallMessage, CommunityInvitation, DataExtraction,
    DataExtractionKind, KeyBytes, MessageRequestResponse, Preview, Profile, Quote,
    QuotedAttachment, Reaction, ReactionAction, Receipt, ReceiptKind, Typing, TypingAction,
    UnsendRequest,
};
pub use session::{
    Decrypted, SESSION_PROTOCOL_OVERHEAD, decrypt_incoming, decrypt_incoming_x25519,
    encrypt_for_recipient, encrypt_for_recipient_deterministic,
};
pub use shared_config::{SharedConfigKind, UnwrapError, unwrap_shared_config, wrap_shared_config};
pub use swarm::{
    Received, decrypt_from_swarm, encrypt_for_swarm, encrypt_sync_copy, frame_for_swarm,
    unframe_from_swarm,
};
pub use wire::{UnknownFields, WireError};
