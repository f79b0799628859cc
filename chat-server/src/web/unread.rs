//! The one place the web UI learns how many messages of a chat the viewer has not read:
//! chatcore's chat list items carry `unread` (`last_seq − last_read_seq`, 0 where the viewer
//! is not a member). The marker moves when the room's script sends `{"type":"read","seq":N}`
//! (`markSeen` in `static/js/room.js`) and when the viewer posts.

use chatcore::Actor;
use chatcore::model::Chat;

/// The unread count on `chat`'s badge for `viewer` (`None`: no badge, for a chat the viewer
/// only sees as an admin).
pub fn count(chat: &Chat, viewer: &Actor) -> Option<i64> {
    chat.participants
        .iter()
        .any(|member| member.id == viewer.id())
        .then_some(chat.unread)
}
