//! Read markers: how far a member has read a chat, as `POST /api/chat/{id}/read/` takes and
//! answers it.

use super::ids::ChatId;
use serde::{Deserialize, Serialize};

/// What a member sends to mark a chat read up to a message: `{"seq": N}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReadRequest {
    /// The `seq` of the last message read: 0 or more; one beyond the chat's newest message
    /// counts as the newest.
    pub seq: i64,
}

/// A member's read marker in a chat after a change: `{"chat", "last_read_seq", "unread"}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReadMarker {
    /// The chat.
    pub chat: ChatId,
    /// The `seq` of the last message the member has read (it only moves forward, and never
    /// beyond the chat's `last_seq`).
    pub last_read_seq: i64,
    /// How many messages come after it (`last_seq − last_read_seq`).
    pub unread: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_read_marker_has_the_documented_wire_shape() {
        let marker = ReadMarker {
            chat: ChatId(4),
            last_read_seq: 7,
            unread: 2,
        };
        assert_eq!(
            serde_json::to_value(marker).unwrap(),
            serde_json::json!({"chat": 4, "last_read_seq": 7, "unread": 2})
        );
        let request: ReadRequest = serde_json::from_str(r#"{"seq": 7}"#).unwrap();
        assert_eq!(request.seq, 7);
        for bad in [r#"{"seq": 1.5}"#, r#"{"seq": "7"}"#, "{}"] {
            assert!(serde_json::from_str::<ReadRequest>(bad).is_err(), "{bad}");
        }
    }
}
