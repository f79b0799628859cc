//! The persistence port: [`Store`], documented method by method, and its two adapters.
//! Only this module speaks SQL. Both adapters share one implementation (`sql/`, a module
//! per area), written once for the SQL the two engines have in common; they differ only in
//! how they connect and how a write transaction begins.

pub mod cache;
#[cfg(feature = "postgres")]
pub mod postgres;
mod records;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
mod sql;
#[cfg(feature = "sqlite")]
pub mod sqlite;

pub use records::{
    CacheStamp, ChatRecord, FlagsChange, MemberChange, NewUserRecord, PendingMessage, ReadUpdate,
    Standing, StoredMessage, UserRecord,
};

use crate::auth::Actor;
use crate::error::{Error, Result};
use crate::model::{Chat, ChatId, Message, PageLimit, PageRequest, UserId};
use async_trait::async_trait;
use std::sync::Arc;
use time::OffsetDateTime;

/// Persistence of users, credentials, chats and messages.
///
/// Implementations keep every write atomic and map unique-key clashes to
/// [`Error::Conflict`]; no SQL text ever leaves them in an error.
#[async_trait]
pub trait Store: Send + Sync {
    /// Which backend this is (`"sqlite"` or `"postgres"`), for logs.
    fn backend(&self) -> &'static str;
    /// Checks that the database answers.
    async fn ping(&self) -> Result<()>;

    // --- users ---
    /// Inserts an account; a taken `username_key` is `Conflict`.
    async fn insert_user(&self, user: NewUserRecord) -> Result<UserRecord>;
    /// An account by id.
    async fn user_by_id(&self, id: UserId) -> Result<Option<UserRecord>>;
    /// An account by its folded username.
    async fn user_by_key(&self, username_key: &str) -> Result<Option<UserRecord>>;
    /// Inserts an account linked to the external identity (`issuer`, `subject`) in one
    /// transaction; a taken `username_key` or an identity already linked is `Conflict`.
    async fn insert_external_user(
        &self,
        user: NewUserRecord,
        issuer: &str,
        subject: &str,
    ) -> Result<UserRecord>;
    /// The account an external identity is linked to.
    async fn user_by_external(&self, issuer: &str, subject: &str) -> Result<Option<UserRecord>>;
    /// Replaces names and e-mail (and the search key derived from them).
    async fn update_profile(
        &self,
        id: UserId,
        first_name: &str,
        last_name: &str,
        email: &str,
        search_key: &str,
    ) -> Result<UserRecord>;
    /// Replaces the password hash and revokes every token and session of the user.
    async fn set_password_hash(&self, id: UserId, hash: &str) -> Result<()>;
    /// Changes account flags. Refuses (`Conflict`) to leave no active admin. Deactivation
    /// revokes the user's tokens and sessions and reports the chats they are in.
    async fn set_user_flags(
        &self,
        id: UserId,
        is_admin: Option<bool>,
        is_active: Option<bool>,
    ) -> Result<FlagsChange>;
    /// Accounts whose search key matches the `LIKE … ESCAPE '\'` pattern (all when `None`),
    /// ordered by id.
    async fn list_users(
        &self,
        pattern: Option<&str>,
        limit: PageLimit,
        offset: u32,
    ) -> Result<Vec<UserRecord>>;

    // --- tokens and sessions (keyed by the SHA-256 hex of the secret) ---
    /// Stores a token hash for a user, if the user is active and their password hash is
    /// still `verified_hash` (checked under the user's row lock, which a password change and
    /// a deactivation take too); `false` when the credentials changed since they were
    /// verified, and nothing is stored.
    async fn insert_token(
        &self,
        user: UserId,
        verified_hash: &str,
        token_hash: &str,
        now: OffsetDateTime,
    ) -> Result<bool>;
    /// The account owning a token hash.
    async fn token_user(&self, token_hash: &str) -> Result<Option<UserRecord>>;
    /// Deletes a token hash.
    async fn delete_token(&self, token_hash: &str) -> Result<()>;
    /// Stores a session, under the same condition as [`Store::insert_token`].
    async fn insert_session(
        &self,
        session_hash: &str,
        user: UserId,
        verified_hash: &str,
        csrf_token: &str,
        expires_at: OffsetDateTime,
    ) -> Result<bool>;
    /// The account and CSRF token of a session that has not expired at `now`.
    async fn session_user(
        &self,
        session_hash: &str,
        now: OffsetDateTime,
    ) -> Result<Option<(UserRecord, String)>>;
    /// Deletes a session (and every expired one).
    async fn delete_session(&self, session_hash: &str, now: OffsetDateTime) -> Result<()>;

    // --- chats and membership ---
    /// Creates a chat with its first members in one transaction; an unknown member is
    /// `Invalid`, an inactive one `Conflict` (checked under the members' row locks).
    async fn create_chat(
        &self,
        name: &str,
        members: &[UserId],
        now: OffsetDateTime,
    ) -> Result<ChatId>;
    /// A chat's own row.
    async fn chat(&self, id: ChatId) -> Result<Option<ChatRecord>>;
    /// Full chats (members with e-mail, last message): one chat, the chats of a member, or
    /// every chat; ordered by id. `unread` is counted for `viewer` (0 in a chat they are
    /// not a member of).
    async fn chats(&self, filter: ChatFilter, viewer: UserId) -> Result<Vec<Chat>>;
    /// Renames a chat under its lock; `None` when it does not exist, else the `at_seq`.
    async fn rename_chat(&self, id: ChatId, name: &str) -> Result<Option<i64>>;
    /// Deletes a chat with its messages and memberships; `None` when it did not exist.
    async fn delete_chat(&self, id: ChatId) -> Result<Option<i64>>;
    /// Adds a member under the user's and the chat's locks; an unknown user is `NotFound`,
    /// an inactive one `Conflict`.
    async fn add_member(
        &self,
        chat: ChatId,
        user: UserId,
        now: OffsetDateTime,
    ) -> Result<MemberChange>;
    /// Removes a member under the chat's lock.
    async fn remove_member(&self, chat: ChatId, user: UserId) -> Result<MemberChange>;
    /// Whether `user` is a member of `chat`.
    async fn is_member(&self, chat: ChatId, user: UserId) -> Result<bool>;
    /// What every read of a chat checks first, as it stands: `user`'s account, the chat and
    /// whether `user` is a member. The SQL stores answer in one query; this default asks
    /// [`Store::user_by_id`], [`Store::chat`] and [`Store::is_member`] in turn.
    async fn standing(&self, user: UserId, chat: ChatId) -> Result<Standing> {
        Ok(Standing {
            account: self.user_by_id(user).await?,
            chat: self.chat(chat).await?,
            member: self.is_member(chat, user).await?,
        })
    }
    /// A chat's members, ordered by id.
    async fn members(&self, chat: ChatId) -> Result<Vec<UserRecord>>;
    /// Moves `user`'s read marker in `chat` forward to `seq` (at least 0), clamped to the
    /// chat's `last_seq`, in one statement: it never moves back, never beyond the last
    /// message. `None` when `user` is not a member (or the chat does not exist).
    async fn mark_read(&self, chat: ChatId, user: UserId, seq: i64) -> Result<Option<ReadUpdate>>;

    // --- messages ---
    /// Stores a batch in one transaction (group commit). Chats are locked in ascending id
    /// order; under each lock the chat, the author's membership and `client_id` duplicates
    /// (in the table and within the batch) are checked before `seq`s are assigned, and each
    /// author's read marker moves to their newest message of the batch. One
    /// result per item, in input order; a rejected item does not fail the others. The outer
    /// error means the transaction failed and nothing was stored.
    async fn store_messages(
        &self,
        batch: &[PendingMessage],
        now: OffsetDateTime,
    ) -> Result<Vec<Result<StoredMessage>>>;
    /// A page of a chat's history, oldest first (authors with e-mail).
    async fn history(&self, chat: ChatId, page: PageRequest) -> Result<Vec<Message>>;

    /// The page as the JSON list the API answers, each author as `viewer` may see them
    /// ([`Actor::view_message`]): byte for byte `serde_json::to_vec` of the viewed
    /// [`Store::history`], which is what this default does.
    async fn history_json(
        &self,
        chat: ChatId,
        page: PageRequest,
        viewer: &Actor,
    ) -> Result<Vec<u8>> {
        let messages: Vec<Message> = self
            .history(chat, page)
            .await?
            .into_iter()
            .map(|m| viewer.view_message(m))
            .collect();
        serde_json::to_vec(&messages).map_err(|e| Error::internal("serialize a page", e))
    }

    // --- caching ---
    /// What [`CachedStore`](cache::CachedStore) compares before every answer: the
    /// database's change counter and, when `chat` is given, that chat's `last_seq`. Read on
    /// every call of a cached method, so it must be cheap. `None` (the default): this store
    /// keeps no such counter and is never cached.
    async fn cache_stamp(&self, chat: Option<ChatId>) -> Result<Option<CacheStamp>> {
        let _ = chat;
        Ok(None)
    }
}

/// Which chats [`Store::chats`] returns.
#[derive(Debug, Clone, Copy)]
pub enum ChatFilter {
    /// Every chat.
    All,
    /// The chats `UserId` is a member of.
    MemberOf(UserId),
    /// Just this one.
    One(ChatId),
}

/// Opens the store a URL names: `sqlite://…` or `postgres://…` / `postgresql://…`,
/// creating a missing SQLite file and applying pending migrations.
pub async fn open(url: &str, max_connections: u32) -> Result<Arc<dyn Store>> {
    #[cfg(feature = "sqlite")]
    if url.starts_with("sqlite:") {
        return Ok(Arc::new(
            sqlite::SqliteStore::open(url, max_connections).await?,
        ));
    }
    #[cfg(feature = "postgres")]
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        return Ok(Arc::new(
            postgres::PgStore::open(url, max_connections, None).await?,
        ));
    }
    let _ = max_connections;
    Err(Error::invalid(
        "database_url",
        "unsupported database URL (use sqlite://… or postgres://…, with the matching feature)",
    ))
}

/// Applies pending migrations; refuses a database that has migrations this binary does not
/// know (it was migrated by a newer version).
async fn migrate<'a, A>(migrator: &sqlx::migrate::Migrator, pool: A) -> Result<()>
where
    A: sqlx::Acquire<'a>,
    <A::Connection as std::ops::Deref>::Target: sqlx::migrate::Migrate,
{
    migrator.run(pool).await.map_err(|e| match e {
        sqlx::migrate::MigrateError::VersionMissing(v) => Error::conflict(format!(
            "the database has migration {v}, which this binary does not know: it is newer than this binary"
        )),
        other => Error::internal("migrate", other),
    })
}
