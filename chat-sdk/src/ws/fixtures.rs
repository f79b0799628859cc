//! Events for the tests of the `ws` module.

use chatcore::model::{ChatId, Event, Message, MessageId, RemovalReason, User, UserId};

pub(super) fn user(id: i64, name: &str) -> User {
    User {
        id: UserId(id),
        first_name: String::new(),
        last_name: String::new(),
        username: name.to_owned(),
        email: String::new(),
    }
}

pub(super) fn message(seq: i64) -> Event {
    Event::message(Message {
        id: MessageId(100 + seq),
        chat: ChatId(1),
        user: user(2, "user1"),
        content: format!("message {seq}"),
        timestamp: time::OffsetDateTime::UNIX_EPOCH,
        seq,
        client_id: None,
    })
}

pub(super) fn removed(id: i64, reason: RemovalReason) -> Event {
    Event::MemberRemoved {
        chat: ChatId(1),
        user: user(id, "someone"),
        reason,
        at_seq: 0,
    }
}

pub(super) fn text(event: &Event) -> String {
    serde_json::to_string(event).unwrap()
}
