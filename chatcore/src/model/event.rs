//! Events of a chat's live stream: what a subscription yields and what the broker carries
//! between nodes. Serialized once per event and shared by every subscriber.

use super::ids::ChatId;
use super::message::Message;
use super::user::User;
use serde::{Deserialize, Serialize};

/// One event of a chat, tagged by `type` on the wire.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
    /// A message was stored.
    Message(MessageEvent),
    /// A user became a member.
    MemberAdded {
        /// The chat.
        chat: ChatId,
        /// The new member, in the [hidden form](User::hidden).
        user: User,
        /// The chat's `last_seq` when it happened.
        at_seq: i64,
    },
    /// A user stopped being a member.
    MemberRemoved {
        /// The chat.
        chat: ChatId,
        /// The former member, in the [hidden form](User::hidden).
        user: User,
        /// Why.
        reason: RemovalReason,
        /// The chat's `last_seq` when it happened.
        at_seq: i64,
    },
    /// An admin renamed the chat.
    ChatRenamed {
        /// The chat.
        chat: ChatId,
        /// The new name.
        name: String,
        /// The chat's `last_seq` when it happened.
        at_seq: i64,
    },
    /// An admin deleted the chat; the stream ends.
    ChatDeleted {
        /// The chat.
        chat: ChatId,
        /// The chat's `last_seq` when it happened.
        at_seq: i64,
    },
    /// The subscriber fell behind and the stream ends; resume with `after_seq = last_seq`.
    Lagged {
        /// The chat.
        chat: ChatId,
        /// The last `seq` delivered on this stream.
        last_seq: i64,
    },
}

impl Event {
    /// The chat this event belongs to.
    pub fn chat(&self) -> ChatId {
        match self {
            Event::Message(m) => m.message.chat,
            Event::MemberAdded { chat, .. }
            | Event::MemberRemoved { chat, .. }
            | Event::ChatRenamed { chat, .. }
            | Event::ChatDeleted { chat, .. }
            | Event::Lagged { chat, .. } => *chat,
        }
    }

    /// The message's `seq` if this is a message event.
    pub fn seq(&self) -> Option<i64> {
        match self {
            Event::Message(m) => Some(m.message.seq),
            _ => None,
        }
    }

    /// A message event for `message`; its author takes the [hidden form](User::hidden),
    /// since one event is shown to every subscriber.
    pub fn message(message: Message) -> Self {
        Event::Message(MessageEvent::new(message))
    }
}

/// Why a member left a chat.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RemovalReason {
    /// An admin removed them.
    Removed,
    /// They left on their own.
    Left,
    /// Their account was deactivated.
    Deactivated,
}

/// A message event: the REST message fields plus the original WebSocket's flat fields
/// (`message`, `username`, `first_name`, `last_name`), so old clients keep working.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageEvent {
    /// The stored message.
    #[serde(flatten)]
    pub message: Message,
    /// The original's flat fields.
    #[serde(flatten)]
    pub compat: LegacyMessageFields,
}

impl MessageEvent {
    /// Builds the event with the author in the [hidden form](User::hidden): one event is
    /// serialized once for every viewer.
    pub fn new(mut message: Message) -> Self {
        message.user = message.user.hidden();
        let compat = LegacyMessageFields {
            message: message.content.clone(),
            username: message.user.username.clone(),
            first_name: message.user.first_name.clone(),
            last_name: message.user.last_name.clone(),
        };
        Self { message, compat }
    }
}

/// The fields the original sent on its WebSocket (its `timestamp` is the message's own).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LegacyMessageFields {
    /// The text (same as `content`).
    pub message: String,
    /// The author's username.
    pub username: String,
    /// The author's given name.
    pub first_name: String,
    /// The author's family name.
    pub last_name: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{MessageId, UserId};

    #[test]
    fn a_message_event_carries_the_hidden_form_of_its_author() {
        let event = MessageEvent::new(Message {
            id: MessageId(1),
            chat: ChatId(1),
            user: User {
                id: UserId(2),
                first_name: "Ann".into(),
                last_name: "Lee".into(),
                username: "ann".into(),
                email: "ann@example.com".into(),
            },
            content: "hi".into(),
            timestamp: time::OffsetDateTime::UNIX_EPOCH,
            seq: 1,
            client_id: None,
        });
        assert_eq!(event.message.user.email, "");
        assert_eq!(event.compat.username, "ann");
    }
}
