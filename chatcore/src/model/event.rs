//! Events of a chat's live stream: what a subscription yields and what the broker carries
//! between nodes. Serialized once per event and shared by every subscriber. Two rules say
//! whose stream an event is for: [`Event::reaches`] (a `read` event only reaches its
//! reader's streams) and [`Event::ends_stream_of`].

use super::ids::{ChatId, UserId};
use super::message::Message;
use super::user::User;
use serde::{Deserialize, Serialize};
use std::fmt;

/// The `type` tag of every [`Event`], as on the wire (a client tells events from its other
/// frames, such as `ack` and `error`, by these).
pub const EVENT_TYPES: &[&str] = &[
    "message",
    "member_added",
    "member_removed",
    "chat_renamed",
    "chat_deleted",
    "lagged",
    "read",
];

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
    /// A member's read marker moved (on another of their devices, or on this one): it
    /// [reaches](Event::reaches) only that member's own streams, so every device's unread
    /// badge agrees. It has no `seq` of its own: its `seq` is the marker's. Two reads at the
    /// same moment may arrive in either order: the largest `seq` is the marker.
    Read {
        /// The chat.
        chat: ChatId,
        /// The member whose marker moved: the only viewer the event is for. (It is on the
        /// wire because the broker carries events between nodes as their JSON.)
        user: UserId,
        /// The `seq` of the last message read, now.
        seq: i64,
        /// How many messages come after it.
        unread: i64,
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
            | Event::Lagged { chat, .. }
            | Event::Read { chat, .. } => *chat,
        }
    }

    /// The message's `seq` if this is a message event (a `read` event's `seq` is a
    /// marker, not a place in the chat).
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

    /// Whether the stream of `viewer` carries this event: a `read` event only the reader's
    /// own streams (their other devices), every other event every stream of the chat. The
    /// one rule the core's subscriptions follow.
    pub fn reaches(&self, viewer: UserId) -> bool {
        match self {
            Event::Read { user, .. } => *user == viewer,
            _ => true,
        }
    }

    /// Whether this event ends the stream of `viewer`, and why: the one rule the core's
    /// subscriptions and the SDK's connections both follow. `chat_deleted` ends every
    /// stream. `member_removed` of the viewer ends theirs, unless the viewer is an active
    /// admin (admins may read every chat), but a removal because the account was
    /// deactivated always does. Nothing else ends a stream for good (`lagged` ends a
    /// connection, which the client resumes).
    pub fn ends_stream_of(
        &self,
        viewer: UserId,
        viewer_is_active_admin: bool,
    ) -> Option<StreamEnd> {
        match self {
            Event::ChatDeleted { .. } => Some(StreamEnd::ChatDeleted),
            Event::MemberRemoved { user, reason, .. }
                if user.id == viewer
                    && (!viewer_is_active_admin || *reason == RemovalReason::Deactivated) =>
            {
                Some(StreamEnd::Removed(*reason))
            }
            _ => None,
        }
    }
}

/// Why a viewer's stream ended for good ([`Event::ends_stream_of`]). Its `Display` is a
/// human-readable reason, e.g. for a close frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamEnd {
    /// The chat was deleted.
    ChatDeleted,
    /// The viewer stopped being a member: removed, left, or deactivated.
    Removed(RemovalReason),
}

impl fmt::Display for StreamEnd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            StreamEnd::ChatDeleted => "the chat was deleted",
            StreamEnd::Removed(RemovalReason::Left) => "this user left the chat",
            StreamEnd::Removed(RemovalReason::Removed) => "this user was removed from the chat",
            StreamEnd::Removed(RemovalReason::Deactivated) => "this user's account was deactivated",
        })
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
    use crate::model::MessageId;

    fn user(id: i64) -> User {
        User {
            id: UserId(id),
            first_name: String::new(),
            last_name: String::new(),
            username: format!("user{id}"),
            email: String::new(),
        }
    }

    /// One event of every kind, with `user(7)` as the member concerned.
    fn one_of_each(reason: RemovalReason) -> Vec<Event> {
        let chat = ChatId(1);
        vec![
            Event::message(Message {
                id: MessageId(1),
                chat,
                user: user(7),
                content: "hi".into(),
                timestamp: time::OffsetDateTime::UNIX_EPOCH,
                seq: 1,
                client_id: None,
            }),
            Event::MemberAdded {
                chat,
                user: user(7),
                at_seq: 1,
            },
            Event::MemberRemoved {
                chat,
                user: user(7),
                reason,
                at_seq: 1,
            },
            Event::ChatRenamed {
                chat,
                name: "new".into(),
                at_seq: 1,
            },
            Event::ChatDeleted { chat, at_seq: 1 },
            Event::Lagged { chat, last_seq: 1 },
            Event::Read {
                chat,
                user: UserId(7),
                seq: 1,
                unread: 0,
            },
        ]
    }

    /// The wire tag of an event; the match breaks the build when a kind is added.
    fn tag(event: &Event) -> &'static str {
        match event {
            Event::Message(_) => "message",
            Event::MemberAdded { .. } => "member_added",
            Event::MemberRemoved { .. } => "member_removed",
            Event::ChatRenamed { .. } => "chat_renamed",
            Event::ChatDeleted { .. } => "chat_deleted",
            Event::Lagged { .. } => "lagged",
            Event::Read { .. } => "read",
        }
    }

    #[test]
    fn event_types_lists_the_tag_of_every_event() {
        let events = one_of_each(RemovalReason::Left);
        assert_eq!(events.len(), EVENT_TYPES.len());
        for (event, listed) in events.iter().zip(EVENT_TYPES) {
            let json = serde_json::to_value(event).unwrap();
            assert_eq!(json["type"], *listed);
            assert_eq!(tag(event), *listed);
        }
    }

    #[test]
    fn which_events_end_whose_stream() {
        use RemovalReason::{Deactivated, Left, Removed};
        // (event tag, removal reason, viewer, viewer is an active admin, the end expected)
        let cases = [
            // A deleted chat ends every stream.
            ("chat_deleted", Left, 7, false, Some(StreamEnd::ChatDeleted)),
            ("chat_deleted", Left, 8, true, Some(StreamEnd::ChatDeleted)),
            // The viewer's own removal ends a member's stream, whatever the reason.
            (
                "member_removed",
                Removed,
                7,
                false,
                Some(StreamEnd::Removed(Removed)),
            ),
            (
                "member_removed",
                Left,
                7,
                false,
                Some(StreamEnd::Removed(Left)),
            ),
            (
                "member_removed",
                Deactivated,
                7,
                false,
                Some(StreamEnd::Removed(Deactivated)),
            ),
            // An admin may read every chat: removed or leaving, the stream goes on...
            ("member_removed", Removed, 7, true, None),
            ("member_removed", Left, 7, true, None),
            // ...but not once the account is deactivated.
            (
                "member_removed",
                Deactivated,
                7,
                true,
                Some(StreamEnd::Removed(Deactivated)),
            ),
            // Someone else's removal ends nothing.
            ("member_removed", Removed, 8, false, None),
            ("member_removed", Deactivated, 8, true, None),
            // Nothing else ends a stream for good.
            ("message", Left, 7, false, None),
            ("member_added", Left, 7, false, None),
            ("chat_renamed", Left, 7, false, None),
            ("lagged", Left, 7, false, None),
            ("read", Left, 7, false, None),
            ("read", Left, 8, true, None),
        ];
        for (kind, reason, viewer, admin, expected) in cases {
            let event = one_of_each(reason)
                .into_iter()
                .find(|e| tag(e) == kind)
                .unwrap();
            assert_eq!(
                event.ends_stream_of(UserId(viewer), admin),
                expected,
                "{kind} {reason:?} viewer {viewer} admin {admin}"
            );
        }
    }

    #[test]
    fn a_read_reaches_only_its_readers_streams_and_every_other_event_every_stream() {
        for event in one_of_each(RemovalReason::Removed) {
            let expected_for_8 = tag(&event) != "read";
            assert!(event.reaches(UserId(7)), "{}", tag(&event));
            assert_eq!(event.reaches(UserId(8)), expected_for_8, "{}", tag(&event));
        }
    }

    #[test]
    fn a_read_event_has_the_documented_wire_shape_and_no_seq_of_its_own() {
        let event = Event::Read {
            chat: ChatId(3),
            user: UserId(7),
            seq: 5,
            unread: 2,
        };
        assert_eq!(
            serde_json::to_value(&event).unwrap(),
            serde_json::json!({"type": "read", "chat": 3, "user": 7, "seq": 5, "unread": 2})
        );
        assert_eq!(event.seq(), None);
    }

    #[test]
    fn a_stream_end_reads_as_a_reason() {
        assert_eq!(StreamEnd::ChatDeleted.to_string(), "the chat was deleted");
        assert_eq!(
            StreamEnd::Removed(RemovalReason::Removed).to_string(),
            "this user was removed from the chat"
        );
        assert_eq!(
            StreamEnd::Removed(RemovalReason::Left).to_string(),
            "this user left the chat"
        );
        assert_eq!(
            StreamEnd::Removed(RemovalReason::Deactivated).to_string(),
            "this user's account was deactivated"
        );
    }

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
