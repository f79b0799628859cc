//! Messages.

use super::ids::{ChatId, MessageId};
use super::user::User;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// A stored message. The first five fields are the original's; `seq` is its place in the chat
/// (1, 2, 3 … without gaps) and `client_id` the sender's idempotency key, if one was given.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    /// Global id.
    pub id: MessageId,
    /// The chat it belongs to.
    pub chat: ChatId,
    /// The author (e-mail hidden unless the viewer may see it).
    pub user: User,
    /// Trimmed text.
    pub content: String,
    /// When it was stored.
    #[serde(with = "super::timestamp::serde_wire")]
    pub timestamp: OffsetDateTime,
    /// Position in the chat.
    pub seq: i64,
    /// The sender's idempotency key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
}

/// What a member sends to post.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct NewMessage {
    /// The text; trimmed, must not be blank, at most the configured length.
    pub content: String,
    /// Optional idempotency key (1–64 characters): a retry with the same key answers the
    /// stored message instead of storing a second copy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
}
