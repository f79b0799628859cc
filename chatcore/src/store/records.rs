//! Rows and results that cross the [`Store`](super::Store) port.

use crate::model::{ChatId, Message, User, UserDetail, UserId};
use time::OffsetDateTime;

/// An account as stored, password hash included.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct UserRecord {
    /// Id.
    pub id: UserId,
    /// Display username.
    pub username: String,
    /// E-mail (may be empty).
    pub email: String,
    /// Given name.
    pub first_name: String,
    /// Family name.
    pub last_name: String,
    /// argon2id PHC string.
    pub password_hash: String,
    /// Administrator flag (`is_superuser` on the wire).
    pub is_admin: bool,
    /// Active flag.
    pub is_active: bool,
}

impl UserRecord {
    /// The public fields (with e-mail).
    pub fn user(&self) -> User {
        User {
            id: self.id,
            first_name: self.first_name.clone(),
            last_name: self.last_name.clone(),
            username: self.username.clone(),
            email: self.email.clone(),
        }
    }

    /// The fields with flags (with e-mail).
    pub fn detail(&self) -> UserDetail {
        UserDetail {
            user: self.user(),
            is_active: self.is_active,
            is_superuser: self.is_admin,
        }
    }
}

/// A validated account about to be inserted.
#[derive(Debug, Clone)]
pub struct NewUserRecord {
    /// Display username (NFKC).
    pub username: String,
    /// Folded username, unique.
    pub username_key: String,
    /// Folded text for search.
    pub search_key: String,
    /// E-mail (may be empty).
    pub email: String,
    /// Given name.
    pub first_name: String,
    /// Family name.
    pub last_name: String,
    /// argon2id PHC string.
    pub password_hash: String,
    /// Administrator flag.
    pub is_admin: bool,
    /// Creation time.
    pub created_at: OffsetDateTime,
}

/// A chat's own row.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ChatRecord {
    /// Id.
    pub id: ChatId,
    /// Name.
    pub name: String,
    /// Creation time.
    pub created_at: OffsetDateTime,
    /// `seq` of the newest message.
    pub last_seq: i64,
}

/// A user's standing towards a chat ([`Store::standing`](super::Store::standing)).
#[derive(Debug, Clone)]
pub struct Standing {
    /// The account, if it exists (active or not).
    pub account: Option<UserRecord>,
    /// The chat, if it exists.
    pub chat: Option<ChatRecord>,
    /// Whether the user is a member of the chat.
    pub member: bool,
}

/// A validated post waiting for the group-commit writer.
#[derive(Debug, Clone)]
pub struct PendingMessage {
    /// Target chat.
    pub chat: ChatId,
    /// The author (as the actor saw themself; stored by id).
    pub author: User,
    /// Trimmed, validated text.
    pub content: String,
    /// Idempotency key.
    pub client_id: Option<String>,
}

/// A stored message, and whether this batch stored it (`false`: a `client_id` duplicate).
#[derive(Debug, Clone)]
pub struct StoredMessage {
    /// The message.
    pub message: Message,
    /// Whether it is new.
    pub created: bool,
}

/// The outcome of adding or removing a member.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemberChange {
    /// The chat does not exist.
    ChatMissing,
    /// Done; the chat's `last_seq` at the time.
    Changed {
        /// The chat's `last_seq` under the lock.
        at_seq: i64,
    },
    /// Nothing to do (already a member / not a member).
    Unchanged,
}

/// The outcome of [`Store::mark_read`](super::Store::mark_read).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadUpdate {
    /// The member's marker after the call: the `seq` of the last message read.
    pub last_read_seq: i64,
    /// The chat's `last_seq` as the call saw it (at least `last_read_seq`).
    pub last_seq: i64,
    /// Whether this call moved the marker (`false`: it was already there or further).
    pub moved: bool,
}

/// The outcome of changing account flags.
#[derive(Debug, Clone)]
pub struct FlagsChange {
    /// The account after the change.
    pub user: UserRecord,
    /// When the change deactivated the account: its chats with their `last_seq`.
    pub deactivated_in: Vec<(ChatId, i64)>,
}

/// What a cache compares before it answers ([`Store::cache_stamp`](super::Store::cache_stamp)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CacheStamp {
    /// The database's change counter: bumped in the transaction of every change that can
    /// make a cached answer wrong (a revoked credential, an account, membership or chat
    /// change; not a new message).
    pub epoch: i64,
    /// The chat's `last_seq`, when a chat was asked about and exists.
    pub last_seq: Option<i64>,
}
