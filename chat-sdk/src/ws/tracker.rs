//! The stream's bookkeeping, without a socket: the last `seq` delivered, the chat as the
//! delivered events show it, which events are delivered (no replayed duplicate, no change
//! the chat read already showed), where a gap must be filled first, and when the stream is
//! over (the core's rule, [`Event::ends_stream_of`]).

use chatcore::model::{Chat, Event, UserId};

/// What the connection knows about the stream it delivers. Pure, so the rules are tested
/// without a socket.
#[derive(Debug, Clone)]
pub(super) struct Tracker {
    /// The signed-in user.
    pub(super) me: UserId,
    /// Whether `me` is an active admin, who may read every chat.
    pub(super) admin: bool,
    /// The last `seq` delivered (or the starting point).
    pub(super) last_seq: i64,
    /// The chat as the delivered events (and the last read of it) show it.
    pub(super) chat: Chat,
    /// Why the stream is over, once it is.
    pub(super) ended: Option<String>,
}

impl Tracker {
    /// A tracker starting after `last_seq`, with the chat as read when connecting.
    pub(super) fn new(me: UserId, admin: bool, last_seq: i64, chat: Chat) -> Self {
        Self {
            me,
            admin,
            last_seq,
            chat: starting_at(chat, last_seq),
            ended: None,
        }
    }

    /// The last `seq` whose message must be delivered before `event`, when some are
    /// missing: a message beyond `last_seq + 1`, or a membership or chat change that
    /// happened after messages not delivered yet (its `at_seq`). An event that ends this
    /// stream, or the deletion of the chat, is never held back: there is no history to read.
    pub(super) fn missing_before(&self, event: &Event) -> Option<i64> {
        let needed = match event {
            Event::Message(m) => m.message.seq - 1,
            Event::MemberAdded { at_seq, .. }
            | Event::MemberRemoved { at_seq, .. }
            | Event::ChatRenamed { at_seq, .. } => *at_seq,
            // A read marker refers to messages already delivered or not, nothing to wait for.
            Event::ChatDeleted { .. } | Event::Lagged { .. } | Event::Read { .. } => return None,
        };
        if event.ends_stream_of(self.me, self.admin).is_some() {
            return None;
        }
        (needed > self.last_seq).then_some(needed)
    }

    /// Decides whether `event` is delivered: a message at or below the last `seq` is a
    /// replayed duplicate; `lagged` is handled by the connection (it reconnects); a
    /// membership or chat change the chat already shows (it came with the chat read after
    /// connecting) is not repeated; an event that [ends this user's
    /// stream](Event::ends_stream_of) is delivered, then the stream is over.
    pub(super) fn accept(&mut self, event: Event) -> Option<Event> {
        match &event {
            Event::Message(m) if m.message.seq <= self.last_seq => {
                tracing::debug!(
                    seq = m.message.seq,
                    last_seq = self.last_seq,
                    "dropping a replayed message"
                );
                return None;
            }
            Event::Message(m) => self.last_seq = m.message.seq,
            Event::Lagged { last_seq, .. } => {
                tracing::debug!(
                    server_last_seq = last_seq,
                    last_seq = self.last_seq,
                    "lagged; resuming after the close"
                );
                return None;
            }
            // A read marker is news for this user each time (the chat itself does not show it).
            Event::Read { .. } => return Some(event),
            _ => {}
        }
        let changed = apply(&mut self.chat, &event);
        if let Some(end) = event.ends_stream_of(self.me, self.admin) {
            self.ended = Some(end.to_string());
            return Some(event);
        }
        if !changed {
            tracing::debug!(?event, "dropping a change the chat already shows");
            return None;
        }
        Some(event)
    }

    /// Takes the chat read again after a reconnect: its name and members; the last message
    /// stays the last one delivered.
    pub(super) fn reread(&mut self, chat: &Chat) {
        self.chat.name.clone_from(&chat.name);
        self.chat.participants.clone_from(&chat.participants);
    }
}

/// `chat` as a stream starting after `last_seq` shows it: its last message is the one at
/// `last_seq` (if the chat read has it), not a newer one the stream has yet to deliver.
pub(super) fn starting_at(mut chat: Chat, last_seq: i64) -> Chat {
    chat.last_seq = last_seq;
    chat.last_message = chat.last_message.filter(|m| m.seq == last_seq);
    chat
}

/// Applies `event` to `chat` (members ordered by id, as the server lists them); false when
/// it changes nothing.
pub(super) fn apply(chat: &mut Chat, event: &Event) -> bool {
    match event {
        Event::Message(m) => {
            chat.last_seq = chat.last_seq.max(m.message.seq);
            chat.last_message = Some(m.message.clone());
            true
        }
        Event::MemberAdded { user, .. } => {
            match chat.participants.binary_search_by_key(&user.id, |u| u.id) {
                Ok(_) => false,
                Err(at) => {
                    chat.participants.insert(at, user.clone());
                    true
                }
            }
        }
        Event::MemberRemoved { user, .. } => {
            let before = chat.participants.len();
            chat.participants.retain(|u| u.id != user.id);
            chat.participants.len() != before
        }
        Event::ChatRenamed { name, .. } => {
            if chat.name == *name {
                false
            } else {
                chat.name.clone_from(name);
                true
            }
        }
        Event::ChatDeleted { .. } => true,
        // The chat's own fields do not change (the unread count is per viewer).
        Event::Lagged { .. } | Event::Read { .. } => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ws::fixtures::{chat, message, removed, user};
    use chatcore::model::{ChatId, RemovalReason};

    fn tracker() -> Tracker {
        Tracker::new(UserId(7), false, 2, chat("general", &[7, 8], 2))
    }

    #[test]
    fn replayed_messages_at_or_below_the_last_seq_are_dropped() {
        let mut t = tracker();
        assert!(t.accept(message(1)).is_none());
        assert!(t.accept(message(2)).is_none());
        assert_eq!(t.accept(message(3)).and_then(|e| e.seq()), Some(3));
        assert!(t.accept(message(3)).is_none());
        assert_eq!(t.last_seq, 3);
        assert_eq!(t.chat.last_message.as_ref().map(|m| m.seq), Some(3));
    }

    #[test]
    fn a_message_beyond_the_next_seq_needs_the_ones_between_first() {
        let t = tracker();
        assert_eq!(t.missing_before(&message(3)), None);
        assert_eq!(t.missing_before(&message(6)), Some(5));
        let renamed_later = Event::ChatRenamed {
            chat: ChatId(1),
            name: "later".into(),
            at_seq: 4,
        };
        assert_eq!(t.missing_before(&renamed_later), Some(4));
        let mut my_removal = removed(7, RemovalReason::Removed);
        if let Event::MemberRemoved { at_seq, .. } = &mut my_removal {
            *at_seq = 9;
        }
        assert_eq!(
            t.missing_before(&my_removal),
            None,
            "no history to read then"
        );
    }

    #[test]
    fn the_removal_of_this_user_is_delivered_and_ends_the_stream() {
        for reason in [
            RemovalReason::Removed,
            RemovalReason::Left,
            RemovalReason::Deactivated,
        ] {
            let mut t = tracker();
            assert!(t.accept(removed(7, reason)).is_some());
            assert!(t.ended.is_some(), "{reason:?}");
        }
    }

    #[test]
    fn an_admin_removed_as_a_member_keeps_reading_unless_deactivated() {
        for reason in [RemovalReason::Removed, RemovalReason::Left] {
            let mut t = Tracker {
                admin: true,
                ..tracker()
            };
            assert!(t.accept(removed(7, reason)).is_some());
            assert!(t.ended.is_none(), "{reason:?}");
        }
        let mut t = Tracker {
            admin: true,
            ..tracker()
        };
        assert!(t.accept(removed(7, RemovalReason::Deactivated)).is_some());
        assert_eq!(
            t.ended.as_deref(),
            Some("this user's account was deactivated")
        );
    }

    #[test]
    fn the_removal_of_someone_else_does_not_end_the_stream() {
        let mut t = tracker();
        assert!(t.accept(removed(8, RemovalReason::Removed)).is_some());
        assert!(t.ended.is_none());
        let members: Vec<_> = t.chat.participants.iter().map(|u| u.id).collect();
        assert_eq!(members, [UserId(7)]);
    }

    #[test]
    fn a_change_the_chat_already_shows_is_not_repeated() {
        let mut t = tracker();
        let added = |id| Event::MemberAdded {
            chat: ChatId(1),
            user: user(id, "someone"),
            at_seq: 2,
        };
        assert!(t.accept(added(8)).is_none(), "8 is a member already");
        assert!(t.accept(added(9)).is_some());
        assert!(t.accept(added(9)).is_none());
        assert!(t.accept(removed(5, RemovalReason::Left)).is_none());
        let rename = |name: &str| Event::ChatRenamed {
            chat: ChatId(1),
            name: name.into(),
            at_seq: 2,
        };
        assert!(t.accept(rename("general")).is_none());
        assert!(t.accept(rename("new")).is_some());
        let members: Vec<_> = t.chat.participants.iter().map(|u| u.id).collect();
        assert_eq!(members, [UserId(7), UserId(8), UserId(9)]);
    }

    #[test]
    fn a_deleted_chat_ends_the_stream_and_lagged_is_not_delivered() {
        let mut t = tracker();
        assert!(
            t.accept(Event::Lagged {
                chat: ChatId(1),
                last_seq: 2
            })
            .is_none()
        );
        assert!(t.ended.is_none());
        assert!(
            t.accept(Event::ChatDeleted {
                chat: ChatId(1),
                at_seq: 2
            })
            .is_some()
        );
        assert_eq!(t.ended.as_deref(), Some("the chat was deleted"));
    }
}
