//! What a [`ChatConnection`](super::ChatConnection) yields: the chat's events, and
//! [`Reconnected`] when the connection came back, with what the chat read again says changed
//! while it was away (a resume replays messages, not membership or renames).

use chatcore::model::{Chat, Event, Message, User};

/// One item of a chat's live stream.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ChatEvent {
    /// An event of the chat, in order: as the server sent it, or (a `message`) read from
    /// history to fill a gap in `seq`.
    Event(Event),
    /// The connection was lost and is back, resuming after [`Reconnected::after_seq`]: the
    /// messages stored meanwhile follow. What a resume cannot replay (members who joined or
    /// left, a rename) is in the [`Reconnected`] itself, from the chat read again.
    Reconnected(Reconnected),
}

impl ChatEvent {
    /// The chat event, unless this is a [`ChatEvent::Reconnected`].
    pub fn event(&self) -> Option<&Event> {
        match self {
            ChatEvent::Event(event) => Some(event),
            ChatEvent::Reconnected(_) => None,
        }
    }

    /// The message, if this is a `message` event.
    pub fn message(&self) -> Option<&Message> {
        match self {
            ChatEvent::Event(Event::Message(m)) => Some(&m.message),
            _ => None,
        }
    }
}

/// A connection came back: where it resumed, and how the chat changed while it was away.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Reconnected {
    /// The `seq` the new connection resumed after; every message above it follows.
    pub after_seq: i64,
    /// The chat as read (`GET /api/chat/{id}/`) once the new connection was open.
    pub chat: Chat,
    /// Members who joined while the connection was away.
    pub joined: Vec<User>,
    /// Members who left, were removed or deactivated while the connection was away (the
    /// chat read again does not say which).
    pub left: Vec<User>,
    /// The chat's new name, when it was renamed while the connection was away.
    pub renamed: Option<String>,
}

impl Reconnected {
    /// The difference between the chat as the stream last showed it (`before`) and as read
    /// again (`now`).
    pub(super) fn between(before: &Chat, now: Chat, after_seq: i64) -> Self {
        let has = |chat: &Chat, user: &User| chat.participants.iter().any(|u| u.id == user.id);
        let joined = now
            .participants
            .iter()
            .filter(|u| !has(before, u))
            .cloned()
            .collect();
        let left = before
            .participants
            .iter()
            .filter(|u| !has(&now, u))
            .cloned()
            .collect();
        let renamed = (before.name != now.name).then(|| now.name.clone());
        Self {
            after_seq,
            chat: now,
            joined,
            left,
            renamed,
        }
    }
}
