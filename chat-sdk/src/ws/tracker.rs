//! The seq tracker: which events a connection delivers, and when its stream is over.

use chatcore::model::{Event, UserId};

/// What the connection knows about the stream it delivers: who it is for, the last `seq`
/// delivered, and whether the stream is over. Pure, so the rules are tested without a socket.
#[derive(Debug, Clone)]
pub(super) struct Tracker {
    /// The signed-in user.
    pub(super) me: UserId,
    /// Whether `me` is an active admin, who may read every chat.
    pub(super) admin: bool,
    /// The last `seq` delivered (or the starting point).
    pub(super) last_seq: i64,
    /// Why the stream is over, once it is.
    pub(super) ended: Option<String>,
}

impl Tracker {
    /// Decides whether `event` is delivered: a message at or below the last `seq` is a
    /// replayed duplicate; `lagged` is handled by the connection (it reconnects); an event
    /// that [ends this user's stream](Event::ends_stream_of) is delivered, then the stream
    /// is over.
    pub(super) fn accept(&mut self, event: Event) -> Option<Event> {
        match &event {
            Event::Message(m) => {
                let seq = m.message.seq;
                if seq <= self.last_seq {
                    tracing::debug!(seq, last_seq = self.last_seq, "dropping a replayed message");
                    return None;
                }
                if seq > self.last_seq + 1 {
                    tracing::warn!(seq, last_seq = self.last_seq, "gap in the message stream");
                }
                self.last_seq = seq;
            }
            Event::Lagged { last_seq, .. } => {
                tracing::debug!(
                    server_last_seq = last_seq,
                    last_seq = self.last_seq,
                    "lagged; resuming after the close"
                );
                return None;
            }
            _ => {}
        }
        if let Some(end) = event.ends_stream_of(self.me, self.admin) {
            self.ended = Some(end.to_string());
        }
        Some(event)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ws::fixtures::{message, removed};
    use chatcore::model::{ChatId, RemovalReason};

    fn tracker() -> Tracker {
        Tracker {
            me: UserId(7),
            admin: false,
            last_seq: 2,
            ended: None,
        }
    }

    #[test]
    fn replayed_messages_at_or_below_the_last_seq_are_dropped() {
        let mut t = tracker();
        assert!(t.accept(message(1)).is_none());
        assert!(t.accept(message(2)).is_none());
        assert_eq!(t.accept(message(3)).and_then(|e| e.seq()), Some(3));
        assert!(t.accept(message(3)).is_none());
        assert_eq!(t.last_seq, 3);
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
