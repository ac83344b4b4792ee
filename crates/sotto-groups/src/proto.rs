//! `DataMessage.groupUpdateMessage` (field 120) and its parts, written from the field table of
//! `shared/spec/groups.md` §2.9. Private: the public types are in `control`.

#![allow(missing_docs, clippy::all)]

#[derive(Clone, PartialEq, ::prost::Message)]
pub struct GroupUpdateMessage {
    #[prost(message, optional, tag = "1")]
    pub invite_message: Option<GroupUpdateInviteMessage>,
    #[prost(message, optional, tag = "2")]
    pub info_change_message: Option<GroupUpdateInfoChangeMessage>,
    #[prost(message, optional, tag = "3")]
    pub member_change_message: Option<GroupUpdateMemberChangeMessage>,
    #[prost(message, optional, tag = "4")]
    pub promote_message: Option<GroupUpdatePromoteMessage>,
    #[prost(message, optional, tag = "5")]
    pub member_left_message: Option<Empty>,
    #[prost(message, optional, tag = "6")]
    pub invite_response: Option<GroupUpdateInviteResponseMessage>,
    #[prost(message, optional, tag = "7")]
    pub delete_member_content: Option<GroupUpdateDeleteMemberContentMessage>,
    #[prost(message, optional, tag = "8")]
    pub member_left_notification_message: Option<Empty>,
}

#[derive(Clone, PartialEq, ::prost::Message)]
pub struct Empty {}

#[derive(Clone, PartialEq, ::prost::Message)]
pub struct GroupUpdateInviteMessage {
    #[prost(string, optional, tag = "1")]
    pub group_session_id: Option<String>,
    #[prost(string, optional, tag = "2")]
    pub name: Option<String>,
    #[prost(bytes = "vec", optional, tag = "3")]
    pub member_auth_data: Option<Vec<u8>>,
    #[prost(bytes = "vec", optional, tag = "4")]
    pub admin_signature: Option<Vec<u8>>,
}

#[derive(Clone, PartialEq, ::prost::Message)]
pub struct GroupUpdatePromoteMessage {
    #[prost(bytes = "vec", optional, tag = "1")]
    pub group_identity_seed: Option<Vec<u8>>,
    #[prost(string, optional, tag = "2")]
    pub name: Option<String>,
}

#[derive(Clone, PartialEq, ::prost::Message)]
pub struct GroupUpdateInfoChangeMessage {
    #[prost(int32, optional, tag = "1")]
    pub r#type: Option<i32>,
    #[prost(string, optional, tag = "2")]
    pub updated_name: Option<String>,
    #[prost(uint32, optional, tag = "3")]
    pub updated_expiration: Option<u32>,
    #[prost(bytes = "vec", optional, tag = "4")]
    pub admin_signature: Option<Vec<u8>>,
}

#[derive(Clone, PartialEq, ::prost::Message)]
pub struct GroupUpdateMemberChangeMessage {
    #[prost(int32, optional, tag = "1")]
    pub r#type: Option<i32>,
    #[prost(string, repeated, tag = "2")]
    pub member_session_ids: Vec<String>,
    #[prost(bool, optional, tag = "3")]
    pub history_shared: Option<bool>,
    #[prost(bytes = "vec", optional, tag = "4")]
    pub admin_signature: Option<Vec<u8>>,
}

#[derive(Clone, PartialEq, ::prost::Message)]
pub struct GroupUpdateInviteResponseMessage {
    #[prost(bool, optional, tag = "1")]
    pub is_approved: Option<bool>,
}

#[derive(Clone, PartialEq, ::prost::Message)]
pub struct GroupUpdateDeleteMemberContentMessage {
    #[prost(string, repeated, tag = "1")]
    pub member_session_ids: Vec<String>,
    #[prost(string, repeated, tag = "2")]
    pub message_hashes: Vec<String>,
    #[prost(bytes = "vec", optional, tag = "3")]
    pub admin_signature: Option<Vec<u8>>,
}

/// Reads field 120 out of a DataMessage's unknown fields.
#[derive(Clone, PartialEq, ::prost::Message)]
pub struct DataMessageGroupUpdate {
    #[prost(message, optional, tag = "120")]
    pub group_update_message: Option<GroupUpdateMessage>,
}
