//! **Read markers plug in here.** The one place the web UI learns how many messages of a
//! chat the viewer has not read. The read-marker work (`memberships.last_read_seq`, chat list
//! items with `unread`, `POST /api/chat/{id}/read/`, the WebSocket `read` frame: DESIGN.md,
//! second round) lands separately; until chatcore's [`Chat`] carries `unread`, this answers
//! `None` and the chat list shows no badge — never a made-up number.
//!
//! Its browser half is `markSeen` in `static/js/room.js`: the room calls it with the newest
//! `seq` the viewer has seen; it will send `{"type":"read","seq":N}` on the room's socket.

use chatcore::Actor;
use chatcore::model::Chat;

/// The unread count on `chat`'s badge for `viewer`, when the server knows it.
///
/// When `Chat` gains its `unread` field, this becomes `Some(chat.unread)` for members (the
/// core answers 0 where the viewer is not one) and the badge, its `aria-label` and the
/// bold row in the chat list follow by themselves.
pub fn count(chat: &Chat, viewer: &Actor) -> Option<i64> {
    let _ = (chat, viewer);
    None
}
