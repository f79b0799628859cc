//! Chats as the wire shows them.

use super::ids::ChatId;
use super::message::Message;
use super::user::User;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// A chat with its members, as `GET /api/chat/` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Chat {
    /// The chat's id.
    pub id: ChatId,
    /// Display name, 1–100 characters.
    pub name: String,
    /// Current members, ordered by user id.
    pub participants: Vec<User>,
    /// When the chat was created.
    #[serde(with = "super::timestamp::serde_wire")]
    pub created_at: OffsetDateTime,
    /// `seq` of the newest message (0 when there is none yet).
    #[serde(default)]
    pub last_seq: i64,
    /// How many messages the viewer has not read (`last_seq − last_read_seq` of their
    /// membership); 0 where the viewer is not a member.
    #[serde(default)]
    pub unread: i64,
    /// The newest message, if any.
    #[serde(default)]
    pub last_message: Option<Message>,
}

/// What an admin sends to create a chat.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct NewChat {
    /// Display name, 1–100 characters after trimming.
    pub name: String,
    /// Users to add as members at once.
    #[serde(default)]
    pub participants: Vec<super::ids::UserId>,
}
