//! Events, messages and chats for the tests of the `ws` module.

use chatcore::model::{Chat, ChatId, Event, Message, MessageId, RemovalReason, User, UserId};

pub(super) fn user(id: i64, name: &str) -> User {
    User {
        id: UserId(id),
        first_name: String::new(),
        last_name: String::new(),
        username: name.to_owned(),
        email: String::new(),
    }
}

/// Message `seq` of chat 1, as history lists it.
pub(super) fn stored(seq: i64) -> Message {
    Message {
        id: MessageId(100 + seq),
        chat: ChatId(1),
        user: user(2, "user1"),
        content: format!("message {seq}"),
        timestamp: time::OffsetDateTime::UNIX_EPOCH,
        seq,
        client_id: None,
    }
}

/// Message `seq` of chat 1, as the socket sends it.
pub(super) fn message(seq: i64) -> Event {
    Event::message(stored(seq))
}

pub(super) fn removed(id: i64, reason: RemovalReason) -> Event {
    Event::MemberRemoved {
        chat: ChatId(1),
        user: user(id, "someone"),
        reason,
        at_seq: 0,
    }
}

/// Chat 1 named `name` with members `ids` (user `n` is named `user<n>`).
pub(super) fn chat(name: &str, ids: &[i64], last_seq: i64) -> Chat {
    Chat {
        id: ChatId(1),
        name: name.to_owned(),
        participants: ids
            .iter()
            .map(|&id| user(id, &format!("user{id}")))
            .collect(),
        created_at: time::OffsetDateTime::UNIX_EPOCH,
        last_seq,
        last_message: None,
        unread: 0,
    }
}

pub(super) fn text(event: &Event) -> String {
    serde_json::to_string(event).unwrap()
}
