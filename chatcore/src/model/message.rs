//! Messages and history pages.

use super::ids::{ChatId, MessageId};
use super::user::User;
use crate::error::Error;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// A stored message. The first five fields are the original's; `seq` is its place in the chat
/// (1, 2, 3 … without gaps) and `client_id` the sender's idempotency key, if one was given.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    /// Global id.
    pub id: MessageId,
    /// The chat it belongs to.
    pub chat: ChatId,
    /// The author (e-mail hidden unless the viewer may see it).
    pub user: User,
    /// Trimmed text.
    pub content: String,
    /// When it was stored.
    #[serde(with = "super::timestamp::serde_wire")]
    pub timestamp: OffsetDateTime,
    /// Position in the chat.
    pub seq: i64,
    /// The sender's idempotency key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
}

/// What a member sends to post.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct NewMessage {
    /// The text; trimmed, must not be blank, at most the configured length.
    pub content: String,
    /// Optional idempotency key (1–64 characters): a retry with the same key answers the
    /// stored message instead of storing a second copy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
}

/// Default number of messages in a history page.
pub const DEFAULT_PAGE_LIMIT: u32 = 50;
/// Largest allowed history page.
pub const MAX_PAGE_LIMIT: u32 = 200;

/// Which slice of a chat's history to read. Always returned oldest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cursor {
    /// The newest messages.
    Latest,
    /// The messages just below this `seq`.
    Before(i64),
    /// The messages from this `seq + 1` upward.
    After(i64),
}

/// A validated history request: a cursor and a limit in 1..=200.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageRequest {
    cursor: Cursor,
    limit: u32,
}

impl PageRequest {
    /// Checks the query parameters of a history request (`before_seq`, `after_seq`, `limit`).
    pub fn new(
        before_seq: Option<i64>,
        after_seq: Option<i64>,
        limit: Option<u32>,
    ) -> Result<Self, Error> {
        let cursor = match (before_seq, after_seq) {
            (Some(_), Some(_)) => {
                return Err(Error::invalid(
                    "before_seq",
                    "give before_seq or after_seq, not both",
                ));
            }
            (Some(b), None) if b < 1 => {
                return Err(Error::invalid("before_seq", "must be a positive integer"));
            }
            (None, Some(a)) if a < 0 => {
                return Err(Error::invalid(
                    "after_seq",
                    "must be zero or a positive integer",
                ));
            }
            (Some(b), None) => Cursor::Before(b),
            (None, Some(a)) => Cursor::After(a),
            (None, None) => Cursor::Latest,
        };
        let limit = limit.unwrap_or(DEFAULT_PAGE_LIMIT);
        if !(1..=MAX_PAGE_LIMIT).contains(&limit) {
            return Err(Error::invalid(
                "limit",
                format!("must be an integer from 1 to {MAX_PAGE_LIMIT}"),
            ));
        }
        Ok(Self { cursor, limit })
    }

    /// The newest `limit` messages.
    pub fn latest(limit: u32) -> Result<Self, Error> {
        Self::new(None, None, Some(limit))
    }

    /// `limit` messages after `after_seq`.
    pub fn after(after_seq: i64, limit: u32) -> Result<Self, Error> {
        Self::new(None, Some(after_seq), Some(limit))
    }

    /// `limit` messages before `before_seq`.
    pub fn before(before_seq: i64, limit: u32) -> Result<Self, Error> {
        Self::new(Some(before_seq), None, Some(limit))
    }

    /// Where the page starts.
    pub fn cursor(&self) -> Cursor {
        self.cursor
    }

    /// How many messages at most.
    pub fn limit(&self) -> u32 {
        self.limit
    }
}

impl Default for PageRequest {
    fn default() -> Self {
        Self {
            cursor: Cursor::Latest,
            limit: DEFAULT_PAGE_LIMIT,
        }
    }
}
