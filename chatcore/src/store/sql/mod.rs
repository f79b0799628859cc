//! The one SQL implementation of [`Store`](super::Store), shared by SQLite and PostgreSQL.
//! Every statement uses `$N` placeholders and SQL both engines share (`RETURNING`,
//! `ON CONFLICT DO NOTHING`, `LIKE … ESCAPE`), so the two adapters cannot drift apart.
//!
//! This module holds what does not depend on the engine: the row types, the error mapping
//! and [`impl_sql_store!`], the thin `impl Store` that only delegates. The SQL itself is in
//! plain functions, one module per area next to this file: `users.rs`, `credentials.rs`,
//! `chats.rs`, `messages.rs`. Each adapter (`sqlite.rs`, `postgres.rs`) compiles those
//! files as its own child modules (`#[path]`), after naming its engine `Db` and its
//! `begin_write(pool)`: the same source, concrete per backend, with no generic bounds.

use crate::error::{Error, Result};

/// Columns of a [`UserRecord`](super::UserRecord), for `SELECT … FROM users`.
pub(super) const USER_COLUMNS: &str =
    "id, username, email, first_name, last_name, password_hash, is_admin, is_active";

/// Maps a database error to the domain: unique clashes become `Conflict(message)`,
/// everything else is logged and becomes `Internal`.
pub(super) fn map_err(
    context: &'static str,
    conflict: &'static str,
) -> impl Fn(sqlx::Error) -> Error {
    move |e| match &e {
        sqlx::Error::Database(db) if db.is_unique_violation() => Error::conflict(conflict),
        _ => Error::internal(context, e),
    }
}

/// Logs a database error and hides it behind `Internal`.
pub(super) fn internal(context: &'static str) -> impl Fn(sqlx::Error) -> Error {
    move |e| Error::internal(context, e)
}

/// A message joined with its author, as history and batch results read it.
#[derive(Debug, sqlx::FromRow)]
pub(super) struct MessageRow {
    pub id: crate::model::MessageId,
    pub chat_id: crate::model::ChatId,
    pub seq: i64,
    pub content: String,
    pub client_id: Option<String>,
    pub created_at: time::OffsetDateTime,
    pub user_id: crate::model::UserId,
    pub username: String,
    pub email: String,
    pub first_name: String,
    pub last_name: String,
}

impl From<MessageRow> for crate::model::Message {
    fn from(r: MessageRow) -> Self {
        crate::model::Message {
            id: r.id,
            chat: r.chat_id,
            user: crate::model::User {
                id: r.user_id,
                first_name: r.first_name,
                last_name: r.last_name,
                username: r.username,
                email: r.email,
            },
            content: r.content,
            timestamp: r.created_at,
            seq: r.seq,
            client_id: r.client_id,
        }
    }
}

/// `SELECT` list and joins of [`MessageRow`]; append `WHERE …`.
pub(super) const MESSAGE_SELECT: &str = "SELECT m.id, m.chat_id, m.seq, m.content, m.client_id, m.created_at, \
     u.id AS user_id, u.username, u.email, u.first_name, u.last_name \
     FROM messages m JOIN users u ON u.id = m.user_id";

/// A member row of [`Store::chats`](super::Store::chats), with the member's read marker.
#[derive(Debug, sqlx::FromRow)]
pub(super) struct MemberRow {
    pub chat_id: crate::model::ChatId,
    pub last_read_seq: i64,
    #[sqlx(flatten)]
    pub user: super::UserRecord,
}

/// A session row: the user and the session's CSRF token.
#[derive(Debug, sqlx::FromRow)]
pub(super) struct SessionRow {
    #[sqlx(flatten)]
    pub user: super::UserRecord,
    pub csrf_token: String,
}

/// Checks that the database answers.
pub(super) async fn ping<'c, E>(executor: E) -> Result<()>
where
    E: sqlx::Executor<'c>,
    <E::Database as sqlx::Database>::Arguments: sqlx::IntoArguments<E::Database>,
{
    sqlx::query("SELECT 1")
        .execute(executor)
        .await
        .map(|_| ())
        .map_err(|e| {
            tracing::warn!(error = %e, "database ping failed");
            Error::Unavailable {
                retry_after: std::time::Duration::from_secs(1),
            }
        })
}

/// Implements [`Store`](super::Store) for a backend struct with a `pool` field, by
/// delegating every method to the area modules (`users`, `credentials`, `chats`,
/// `messages`) that the invoking file declares for its engine.
macro_rules! impl_sql_store {
    ($store:ty, $backend:literal) => {
        // An anonymous const scopes these imports to the impl.
        const _: () = {
            use time::OffsetDateTime;
            use $crate::error::Result;
            use $crate::model::{Chat, ChatId, Message, PageLimit, PageRequest, UserId};
            use $crate::store::{
                CacheStamp, ChatFilter, ChatRecord, FlagsChange, MemberChange, NewUserRecord,
                PendingMessage, ReadUpdate, Standing, Store, StoredMessage, UserRecord,
            };

            #[async_trait::async_trait]
            impl Store for $store {
                fn backend(&self) -> &'static str {
                    $backend
                }

                async fn ping(&self) -> Result<()> {
                    $crate::store::sql::ping(&self.pool).await
                }

                async fn insert_user(&self, user: NewUserRecord) -> Result<UserRecord> {
                    users::insert(&self.pool, user).await
                }

                async fn user_by_id(&self, id: UserId) -> Result<Option<UserRecord>> {
                    users::by_id(&self.pool, id).await
                }

                async fn user_by_key(&self, username_key: &str) -> Result<Option<UserRecord>> {
                    users::by_key(&self.pool, username_key).await
                }

                async fn insert_external_user(
                    &self,
                    user: NewUserRecord,
                    issuer: &str,
                    subject: &str,
                ) -> Result<UserRecord> {
                    users::insert_external(&self.pool, user, issuer, subject).await
                }

                async fn user_by_external(
                    &self,
                    issuer: &str,
                    subject: &str,
                ) -> Result<Option<UserRecord>> {
                    users::by_external(&self.pool, issuer, subject).await
                }

                async fn update_profile(
                    &self,
                    id: UserId,
                    first_name: &str,
                    last_name: &str,
                    email: &str,
                    search_key: &str,
                ) -> Result<UserRecord> {
                    users::update_profile(&self.pool, id, first_name, last_name, email, search_key)
                        .await
                }

                async fn set_password_hash(&self, id: UserId, hash: &str) -> Result<()> {
                    credentials::set_password_hash(&self.pool, id, hash).await
                }

                async fn set_user_flags(
                    &self,
                    id: UserId,
                    is_admin: Option<bool>,
                    is_active: Option<bool>,
                ) -> Result<FlagsChange> {
                    users::set_flags(&self.pool, id, is_admin, is_active).await
                }

                async fn list_users(
                    &self,
                    pattern: Option<&str>,
                    limit: PageLimit,
                    offset: u32,
                ) -> Result<Vec<UserRecord>> {
                    users::list(&self.pool, pattern, limit, offset).await
                }

                async fn insert_token(
                    &self,
                    user: UserId,
                    verified_hash: &str,
                    token_hash: &str,
                    now: OffsetDateTime,
                ) -> Result<bool> {
                    credentials::insert_token(&self.pool, user, verified_hash, token_hash, now)
                        .await
                }

                async fn token_user(&self, token_hash: &str) -> Result<Option<UserRecord>> {
                    credentials::token_user(&self.pool, token_hash).await
                }

                async fn delete_token(&self, token_hash: &str) -> Result<()> {
                    credentials::delete_token(&self.pool, token_hash).await
                }

                async fn insert_session(
                    &self,
                    session_hash: &str,
                    user: UserId,
                    verified_hash: &str,
                    csrf_token: &str,
                    expires_at: OffsetDateTime,
                ) -> Result<bool> {
                    credentials::insert_session(
                        &self.pool,
                        session_hash,
                        user,
                        verified_hash,
                        csrf_token,
                        expires_at,
                    )
                    .await
                }

                async fn session_user(
                    &self,
                    session_hash: &str,
                    now: OffsetDateTime,
                ) -> Result<Option<(UserRecord, String)>> {
                    credentials::session_user(&self.pool, session_hash, now).await
                }

                async fn delete_session(
                    &self,
                    session_hash: &str,
                    now: OffsetDateTime,
                ) -> Result<()> {
                    credentials::delete_session(&self.pool, session_hash, now).await
                }

                async fn create_chat(
                    &self,
                    name: &str,
                    members: &[UserId],
                    now: OffsetDateTime,
                ) -> Result<ChatId> {
                    chats::create(&self.pool, name, members, now).await
                }

                async fn chat(&self, id: ChatId) -> Result<Option<ChatRecord>> {
                    chats::get(&self.pool, id).await
                }

                async fn chats(&self, filter: ChatFilter, viewer: UserId) -> Result<Vec<Chat>> {
                    chats::list(&self.pool, filter, viewer).await
                }

                async fn rename_chat(&self, id: ChatId, name: &str) -> Result<Option<i64>> {
                    chats::rename(&self.pool, id, name).await
                }

                async fn delete_chat(&self, id: ChatId) -> Result<Option<i64>> {
                    chats::delete(&self.pool, id).await
                }

                async fn add_member(
                    &self,
                    chat: ChatId,
                    user: UserId,
                    now: OffsetDateTime,
                ) -> Result<MemberChange> {
                    chats::add_member(&self.pool, chat, user, now).await
                }

                async fn remove_member(&self, chat: ChatId, user: UserId) -> Result<MemberChange> {
                    chats::remove_member(&self.pool, chat, user).await
                }

                async fn is_member(&self, chat: ChatId, user: UserId) -> Result<bool> {
                    chats::is_member(&self.pool, chat, user).await
                }

                async fn standing(&self, user: UserId, chat: ChatId) -> Result<Standing> {
                    chats::standing(&self.pool, user, chat).await
                }

                async fn members(&self, chat: ChatId) -> Result<Vec<UserRecord>> {
                    chats::members(&self.pool, chat).await
                }

                async fn mark_read(
                    &self,
                    chat: ChatId,
                    user: UserId,
                    seq: i64,
                ) -> Result<Option<ReadUpdate>> {
                    chats::mark_read(&self.pool, chat, user, seq).await
                }

                async fn store_messages(
                    &self,
                    batch: &[PendingMessage],
                    now: OffsetDateTime,
                ) -> Result<Vec<Result<StoredMessage>>> {
                    messages::store_batch(&self.pool, batch, now).await
                }

                async fn history(&self, chat: ChatId, page: PageRequest) -> Result<Vec<Message>> {
                    messages::history(&self.pool, chat, page).await
                }

                async fn cache_stamp(&self, chat: Option<ChatId>) -> Result<Option<CacheStamp>> {
                    self.read_cache_stamp(chat).await.map(Some)
                }
            }
        };
    };
}

pub(crate) use impl_sql_store;
