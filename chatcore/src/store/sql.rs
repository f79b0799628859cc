//! The one SQL implementation of [`Store`](super::Store), instantiated for SQLite and for
//! PostgreSQL by [`impl_sql_store!`]. Every statement uses `$N` placeholders and SQL both
//! engines share (`RETURNING`, `ON CONFLICT DO NOTHING`, `LIKE … ESCAPE`), so the two
//! adapters cannot drift apart. A backend provides `pool` and `begin_write()`.

use crate::error::Error;

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

/// A member row of [`Store::chats`](super::Store::chats).
#[derive(Debug, sqlx::FromRow)]
pub(super) struct MemberRow {
    pub chat_id: crate::model::ChatId,
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

/// Implements [`Store`](super::Store) for a backend struct with a `pool: Pool<$db>` field and
/// an `async fn begin_write(&self) -> sqlx::Result<Transaction<'static, $db>>` method.
macro_rules! impl_sql_store {
    ($store:ty, $db:ty, $backend:literal) => {
        use $crate::error::{Error, Result};
        use $crate::model::{Chat, ChatId, Cursor, Message, PageLimit, PageRequest, UserId};
        use $crate::store::sql::{
            internal, map_err, MemberRow, MessageRow, SessionRow, MESSAGE_SELECT, USER_COLUMNS,
        };
        use $crate::store::{
            ChatFilter, ChatRecord, FlagsChange, MemberChange, NewUserRecord, PendingMessage,
            Store, StoredMessage, UserRecord,
        };
        use std::collections::{BTreeMap, HashMap};
        use time::OffsetDateTime;

        type Tx = sqlx::Transaction<'static, $db>;

        impl $store {
            /// Takes the chat's row lock (a no-op update) and reads its `last_seq`;
            /// `None` when the chat does not exist.
            async fn lock_chat(tx: &mut Tx, chat: ChatId) -> sqlx::Result<Option<i64>> {
                sqlx::query_scalar("UPDATE chats SET last_seq = last_seq WHERE id = $1 RETURNING last_seq")
                    .bind(chat)
                    .fetch_optional(&mut **tx)
                    .await
            }

            async fn user_in_tx(tx: &mut Tx, id: UserId) -> sqlx::Result<Option<UserRecord>> {
                sqlx::query_as(sqlx::AssertSqlSafe(format!(
                    "SELECT {USER_COLUMNS} FROM users WHERE id = $1"
                )))
                .bind(id)
                .fetch_optional(&mut **tx)
                .await
            }

            async fn revoke_credentials(tx: &mut Tx, id: UserId) -> sqlx::Result<()> {
                sqlx::query("DELETE FROM api_tokens WHERE user_id = $1")
                    .bind(id)
                    .execute(&mut **tx)
                    .await?;
                sqlx::query("DELETE FROM sessions WHERE user_id = $1")
                    .bind(id)
                    .execute(&mut **tx)
                    .await?;
                Ok(())
            }

            /// Stores one chat's share of a batch under its lock; fills `results` for the
            /// items at `indices` (input order within the chat).
            async fn store_chat_share(
                tx: &mut Tx,
                chat: ChatId,
                indices: &[usize],
                batch: &[PendingMessage],
                now: OffsetDateTime,
                results: &mut [Option<Result<StoredMessage>>],
            ) -> sqlx::Result<()> {
                let Some(mut last_seq) = Self::lock_chat(tx, chat).await? else {
                    for &i in indices {
                        results[i] = Some(Err(Error::NotFound("Chat")));
                    }
                    return Ok(());
                };
                // Every author of this chat's share, checked in one query under the lock.
                let mut authors: Vec<UserId> = indices.iter().map(|&i| batch[i].author.id).collect();
                authors.sort_unstable();
                authors.dedup();
                let mut members_query = sqlx::QueryBuilder::<$db>::new(
                    "SELECT user_id FROM memberships WHERE chat_id = ",
                );
                members_query.push_bind(chat).push(" AND user_id IN (");
                let mut list = members_query.separated(", ");
                for author in &authors {
                    list.push_bind(*author);
                }
                list.push_unseparated(")");
                let members: std::collections::HashSet<UserId> = members_query
                    .build_query_scalar()
                    .fetch_all(&mut **tx)
                    .await?
                    .into_iter()
                    .collect();
                // (author, client_id) -> index of the item in this batch that stores it.
                let mut first_with_key: HashMap<(UserId, &str), usize> = HashMap::new();
                let mut to_insert: Vec<(usize, i64)> = Vec::new();
                let mut duplicates_in_batch: Vec<(usize, usize)> = Vec::new();
                for &i in indices {
                    let item = &batch[i];
                    let author = item.author.id;
                    let member = members.contains(&author);
                    if !member {
                        results[i] = Some(Err(Error::forbidden("You are not a member of this chat")));
                        continue;
                    }
                    if let Some(key) = item.client_id.as_deref() {
                        if let Some(&first) = first_with_key.get(&(author, key)) {
                            duplicates_in_batch.push((i, first));
                            continue;
                        }
                        let stored: Option<MessageRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
                            "{MESSAGE_SELECT} WHERE m.chat_id = $1 AND m.user_id = $2 AND m.client_id = $3"
                        )))
                        .bind(chat)
                        .bind(author)
                        .bind(key)
                        .fetch_optional(&mut **tx)
                        .await?;
                        if let Some(row) = stored {
                            results[i] = Some(Ok(StoredMessage { message: row.into(), created: false }));
                            continue;
                        }
                        first_with_key.insert((author, key), i);
                    }
                    last_seq += 1;
                    to_insert.push((i, last_seq));
                }
                if !to_insert.is_empty() {
                    let mut insert = sqlx::QueryBuilder::<$db>::new(
                        "INSERT INTO messages (chat_id, seq, user_id, content, client_id, created_at) ",
                    );
                    insert.push_values(&to_insert, |mut row, &(i, seq)| {
                        let item = &batch[i];
                        row.push_bind(chat)
                            .push_bind(seq)
                            .push_bind(item.author.id)
                            .push_bind(item.content.clone())
                            .push_bind(item.client_id.clone())
                            .push_bind(now);
                    });
                    insert.push(" RETURNING id, seq");
                    let ids: Vec<(i64, i64)> = insert.build_query_as().fetch_all(&mut **tx).await?;
                    let ids: HashMap<i64, i64> = ids.into_iter().map(|(id, seq)| (seq, id)).collect();
                    for &(i, seq) in &to_insert {
                        let item = &batch[i];
                        let Some(&id) = ids.get(&seq) else {
                            // RETURNING yields every inserted row; anything else is a broken
                            // database, and the whole batch must not commit.
                            return Err(sqlx::Error::Protocol(format!(
                                "INSERT … RETURNING did not return seq {seq}"
                            )));
                        };
                        let message = Message {
                            id: id.into(),
                            chat,
                            user: item.author.clone(),
                            content: item.content.clone(),
                            timestamp: now,
                            seq,
                            client_id: item.client_id.clone(),
                        };
                        results[i] = Some(Ok(StoredMessage { message, created: true }));
                    }
                    sqlx::query("UPDATE chats SET last_seq = $2 WHERE id = $1")
                        .bind(chat)
                        .bind(last_seq)
                        .execute(&mut **tx)
                        .await?;
                }
                for (i, first) in duplicates_in_batch {
                    results[i] = match &results[first] {
                        Some(Ok(stored)) => Some(Ok(StoredMessage { message: stored.message.clone(), created: false })),
                        other => other.clone(),
                    };
                }
                Ok(())
            }
        }

        #[async_trait::async_trait]
        impl Store for $store {
            fn backend(&self) -> &'static str {
                $backend
            }

            async fn ping(&self) -> Result<()> {
                sqlx::query("SELECT 1")
                    .execute(&self.pool)
                    .await
                    .map(|_| ())
                    .map_err(|e| {
                        tracing::warn!(error = %e, "database ping failed");
                        Error::Unavailable { retry_after: std::time::Duration::from_secs(1) }
                    })
            }

            async fn insert_user(&self, u: NewUserRecord) -> Result<UserRecord> {
                sqlx::query_as(sqlx::AssertSqlSafe(format!(
                    "INSERT INTO users (username, username_key, search_key, email, first_name, last_name, \
                     password_hash, is_admin, is_active, created_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, TRUE, $9) RETURNING {USER_COLUMNS}"
                )))
                .bind(&u.username)
                .bind(&u.username_key)
                .bind(&u.search_key)
                .bind(&u.email)
                .bind(&u.first_name)
                .bind(&u.last_name)
                .bind(&u.password_hash)
                .bind(u.is_admin)
                .bind(u.created_at)
                .fetch_one(&self.pool)
                .await
                .map_err(map_err("insert user", "A user with that username already exists."))
            }

            async fn user_by_id(&self, id: UserId) -> Result<Option<UserRecord>> {
                sqlx::query_as(sqlx::AssertSqlSafe(format!(
                    "SELECT {USER_COLUMNS} FROM users WHERE id = $1"
                )))
                .bind(id)
                .fetch_optional(&self.pool)
                .await
                .map_err(internal("user by id"))
            }

            async fn user_by_key(&self, key: &str) -> Result<Option<UserRecord>> {
                sqlx::query_as(sqlx::AssertSqlSafe(format!(
                    "SELECT {USER_COLUMNS} FROM users WHERE username_key = $1"
                )))
                .bind(key)
                .fetch_optional(&self.pool)
                .await
                .map_err(internal("user by key"))
            }

            async fn update_profile(
                &self,
                id: UserId,
                first_name: &str,
                last_name: &str,
                email: &str,
                search_key: &str,
            ) -> Result<UserRecord> {
                sqlx::query_as(sqlx::AssertSqlSafe(format!(
                    "UPDATE users SET first_name = $2, last_name = $3, email = $4, search_key = $5 \
                     WHERE id = $1 RETURNING {USER_COLUMNS}"
                )))
                .bind(id)
                .bind(first_name)
                .bind(last_name)
                .bind(email)
                .bind(search_key)
                .fetch_optional(&self.pool)
                .await
                .map_err(internal("update profile"))?
                .ok_or(Error::NotFound("User"))
            }

            async fn set_password_hash(&self, id: UserId, hash: &str) -> Result<()> {
                let run = async {
                    let mut tx = self.begin_write().await?;
                    let done = sqlx::query("UPDATE users SET password_hash = $2 WHERE id = $1")
                        .bind(id)
                        .bind(hash)
                        .execute(&mut *tx)
                        .await?;
                    Self::revoke_credentials(&mut tx, id).await?;
                    tx.commit().await?;
                    Ok::<_, sqlx::Error>(done.rows_affected())
                };
                match run.await.map_err(internal("set password"))? {
                    0 => Err(Error::NotFound("User")),
                    _ => Ok(()),
                }
            }

            async fn set_user_flags(
                &self,
                id: UserId,
                is_admin: Option<bool>,
                is_active: Option<bool>,
            ) -> Result<FlagsChange> {
                let mut tx = self.begin_write().await.map_err(internal("begin"))?;
                let Some(before) = Self::user_in_tx(&mut tx, id).await.map_err(internal("user"))? else {
                    return Err(Error::NotFound("User"));
                };
                let stays_admin = is_admin.unwrap_or(before.is_admin) && is_active.unwrap_or(before.is_active);
                if before.is_admin && before.is_active && !stays_admin {
                    // Lock every active admin row so two demotions cannot both see another admin.
                    let admins: Vec<i64> = sqlx::query_scalar(
                        "UPDATE users SET is_admin = is_admin WHERE is_admin AND is_active RETURNING id",
                    )
                    .fetch_all(&mut *tx)
                    .await
                    .map_err(internal("lock admins"))?;
                    if admins.iter().all(|&a| a == id.0) {
                        return Err(Error::conflict("The last active admin cannot be demoted or deactivated"));
                    }
                }
                let user: UserRecord = sqlx::query_as(sqlx::AssertSqlSafe(format!(
                    "UPDATE users SET is_admin = COALESCE(CAST($2 AS BOOLEAN), is_admin), \
                     is_active = COALESCE(CAST($3 AS BOOLEAN), is_active) WHERE id = $1 RETURNING {USER_COLUMNS}"
                )))
                .bind(id)
                .bind(is_admin)
                .bind(is_active)
                .fetch_one(&mut *tx)
                .await
                .map_err(internal("update flags"))?;
                let mut deactivated_in = Vec::new();
                if before.is_active && !user.is_active {
                    Self::revoke_credentials(&mut tx, id).await.map_err(internal("revoke"))?;
                    let chats: Vec<ChatId> = sqlx::query_scalar(
                        "SELECT chat_id FROM memberships WHERE user_id = $1 ORDER BY chat_id",
                    )
                    .bind(id)
                    .fetch_all(&mut *tx)
                    .await
                    .map_err(internal("chats of user"))?;
                    for chat in chats {
                        if let Some(at_seq) = Self::lock_chat(&mut tx, chat).await.map_err(internal("lock chat"))? {
                            deactivated_in.push((chat, at_seq));
                        }
                    }
                }
                tx.commit().await.map_err(internal("commit"))?;
                Ok(FlagsChange { user, deactivated_in })
            }

            async fn list_users(&self, pattern: Option<&str>, limit: PageLimit, offset: u32) -> Result<Vec<UserRecord>> {
                sqlx::query_as(sqlx::AssertSqlSafe(format!(
                    "SELECT {USER_COLUMNS} FROM users \
                     WHERE CAST($1 AS TEXT) IS NULL OR search_key LIKE $1 ESCAPE '\\' \
                     ORDER BY id LIMIT $2 OFFSET $3"
                )))
                .bind(pattern)
                .bind(i64::from(limit.get()))
                .bind(i64::from(offset))
                .fetch_all(&self.pool)
                .await
                .map_err(internal("list users"))
            }

            async fn insert_token(&self, user: UserId, token_hash: &str, now: OffsetDateTime) -> Result<()> {
                sqlx::query("INSERT INTO api_tokens (token_hash, user_id, created_at) VALUES ($1, $2, $3)")
                    .bind(token_hash)
                    .bind(user)
                    .bind(now)
                    .execute(&self.pool)
                    .await
                    .map(|_| ())
                    .map_err(internal("insert token"))
            }

            async fn token_user(&self, token_hash: &str) -> Result<Option<UserRecord>> {
                sqlx::query_as(
                    "SELECT u.id, u.username, u.email, u.first_name, u.last_name, u.password_hash, \
                     u.is_admin, u.is_active FROM api_tokens t JOIN users u ON u.id = t.user_id \
                     WHERE t.token_hash = $1",
                )
                .bind(token_hash)
                .fetch_optional(&self.pool)
                .await
                .map_err(internal("token user"))
            }

            async fn delete_token(&self, token_hash: &str) -> Result<()> {
                sqlx::query("DELETE FROM api_tokens WHERE token_hash = $1")
                    .bind(token_hash)
                    .execute(&self.pool)
                    .await
                    .map(|_| ())
                    .map_err(internal("delete token"))
            }

            async fn insert_session(
                &self,
                session_hash: &str,
                user: UserId,
                csrf_token: &str,
                expires_at: OffsetDateTime,
            ) -> Result<()> {
                sqlx::query(
                    "INSERT INTO sessions (session_hash, user_id, csrf_token, expires_at) VALUES ($1, $2, $3, $4)",
                )
                .bind(session_hash)
                .bind(user)
                .bind(csrf_token)
                .bind(expires_at)
                .execute(&self.pool)
                .await
                .map(|_| ())
                .map_err(internal("insert session"))
            }

            async fn session_user(&self, session_hash: &str, now: OffsetDateTime) -> Result<Option<(UserRecord, String)>> {
                let row: Option<SessionRow> = sqlx::query_as(
                    "SELECT u.id, u.username, u.email, u.first_name, u.last_name, u.password_hash, \
                     u.is_admin, u.is_active, s.csrf_token FROM sessions s JOIN users u ON u.id = s.user_id \
                     WHERE s.session_hash = $1 AND s.expires_at > $2",
                )
                .bind(session_hash)
                .bind(now)
                .fetch_optional(&self.pool)
                .await
                .map_err(internal("session user"))?;
                Ok(row.map(|r| (r.user, r.csrf_token)))
            }

            async fn delete_session(&self, session_hash: &str, now: OffsetDateTime) -> Result<()> {
                sqlx::query("DELETE FROM sessions WHERE session_hash = $1 OR expires_at <= $2")
                    .bind(session_hash)
                    .bind(now)
                    .execute(&self.pool)
                    .await
                    .map(|_| ())
                    .map_err(internal("delete session"))
            }

            async fn create_chat(&self, name: &str, members: &[UserId], now: OffsetDateTime) -> Result<ChatId> {
                let run = async {
                    let mut tx = self.begin_write().await?;
                    let id: ChatId = sqlx::query_scalar(
                        "INSERT INTO chats (name, created_at, last_seq) VALUES ($1, $2, 0) RETURNING id",
                    )
                    .bind(name)
                    .bind(now)
                    .fetch_one(&mut *tx)
                    .await?;
                    for user in members {
                        sqlx::query(
                            "INSERT INTO memberships (chat_id, user_id, joined_at) VALUES ($1, $2, $3) \
                             ON CONFLICT DO NOTHING",
                        )
                        .bind(id)
                        .bind(user)
                        .bind(now)
                        .execute(&mut *tx)
                        .await?;
                    }
                    tx.commit().await?;
                    Ok(id)
                };
                run.await.map_err(|e: sqlx::Error| match &e {
                    sqlx::Error::Database(db) if db.is_foreign_key_violation() => {
                        Error::invalid("participants", "unknown user id")
                    }
                    _ => Error::internal("create chat", e),
                })
            }

            async fn chat(&self, id: ChatId) -> Result<Option<ChatRecord>> {
                sqlx::query_as("SELECT id, name, created_at, last_seq FROM chats WHERE id = $1")
                    .bind(id)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(internal("chat"))
            }

            async fn chats(&self, filter: ChatFilter) -> Result<Vec<Chat>> {
                let (member, one) = match filter {
                    ChatFilter::All => (None, None),
                    ChatFilter::MemberOf(u) => (Some(u), None),
                    ChatFilter::One(c) => (None, Some(c)),
                };
                const CHAT_FILTER: &str = "(CAST($1 AS BIGINT) IS NULL OR c.id IN \
                     (SELECT chat_id FROM memberships WHERE user_id = $1)) \
                     AND (CAST($2 AS BIGINT) IS NULL OR c.id = $2)";
                let records: Vec<ChatRecord> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
                    "SELECT c.id, c.name, c.created_at, c.last_seq FROM chats c WHERE {CHAT_FILTER} ORDER BY c.id"
                )))
                .bind(member)
                .bind(one)
                .fetch_all(&self.pool)
                .await
                .map_err(internal("chats"))?;
                let members: Vec<MemberRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
                    "SELECT ms.chat_id, u.id, u.username, u.email, u.first_name, u.last_name, \
                     u.password_hash, u.is_admin, u.is_active \
                     FROM memberships ms JOIN users u ON u.id = ms.user_id JOIN chats c ON c.id = ms.chat_id \
                     WHERE {CHAT_FILTER} ORDER BY ms.chat_id, u.id"
                )))
                .bind(member)
                .bind(one)
                .fetch_all(&self.pool)
                .await
                .map_err(internal("chat members"))?;
                let last: Vec<MessageRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
                    "{MESSAGE_SELECT} JOIN chats c ON c.id = m.chat_id AND m.seq = c.last_seq WHERE {CHAT_FILTER}"
                )))
                .bind(member)
                .bind(one)
                .fetch_all(&self.pool)
                .await
                .map_err(internal("last messages"))?;
                let mut participants: BTreeMap<ChatId, Vec<_>> = BTreeMap::new();
                for row in members {
                    participants.entry(row.chat_id).or_default().push(row.user.user());
                }
                let mut last: HashMap<ChatId, Message> =
                    last.into_iter().map(|r| (r.chat_id, Message::from(r))).collect();
                Ok(records
                    .into_iter()
                    .map(|c| Chat {
                        participants: participants.remove(&c.id).unwrap_or_default(),
                        last_message: last.remove(&c.id),
                        id: c.id,
                        name: c.name,
                        created_at: c.created_at,
                        last_seq: c.last_seq,
                    })
                    .collect())
            }

            async fn rename_chat(&self, id: ChatId, name: &str) -> Result<Option<i64>> {
                let run = async {
                    let mut tx = self.begin_write().await?;
                    let at_seq: Option<i64> = sqlx::query_scalar(
                        "UPDATE chats SET name = $2 WHERE id = $1 RETURNING last_seq",
                    )
                    .bind(id)
                    .bind(name)
                    .fetch_optional(&mut *tx)
                    .await?;
                    tx.commit().await?;
                    Ok(at_seq)
                };
                run.await.map_err(internal("rename chat"))
            }

            async fn delete_chat(&self, id: ChatId) -> Result<Option<i64>> {
                let run = async {
                    let mut tx = self.begin_write().await?;
                    let Some(at_seq) = Self::lock_chat(&mut tx, id).await? else {
                        return Ok(None);
                    };
                    sqlx::query("DELETE FROM messages WHERE chat_id = $1").bind(id).execute(&mut *tx).await?;
                    sqlx::query("DELETE FROM memberships WHERE chat_id = $1").bind(id).execute(&mut *tx).await?;
                    sqlx::query("DELETE FROM chats WHERE id = $1").bind(id).execute(&mut *tx).await?;
                    tx.commit().await?;
                    Ok(Some(at_seq))
                };
                run.await.map_err(internal("delete chat"))
            }

            async fn add_member(&self, chat: ChatId, user: UserId, now: OffsetDateTime) -> Result<MemberChange> {
                let run = async {
                    let mut tx = self.begin_write().await?;
                    let Some(at_seq) = Self::lock_chat(&mut tx, chat).await? else {
                        return Ok(MemberChange::ChatMissing);
                    };
                    let added = sqlx::query(
                        "INSERT INTO memberships (chat_id, user_id, joined_at) VALUES ($1, $2, $3) \
                         ON CONFLICT DO NOTHING",
                    )
                    .bind(chat)
                    .bind(user)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                    tx.commit().await?;
                    Ok(if added == 0 { MemberChange::Unchanged } else { MemberChange::Changed { at_seq } })
                };
                run.await.map_err(|e: sqlx::Error| match &e {
                    sqlx::Error::Database(db) if db.is_foreign_key_violation() => Error::NotFound("User"),
                    _ => Error::internal("add member", e),
                })
            }

            async fn remove_member(&self, chat: ChatId, user: UserId) -> Result<MemberChange> {
                let run = async {
                    let mut tx = self.begin_write().await?;
                    let Some(at_seq) = Self::lock_chat(&mut tx, chat).await? else {
                        return Ok(MemberChange::ChatMissing);
                    };
                    let removed = sqlx::query("DELETE FROM memberships WHERE chat_id = $1 AND user_id = $2")
                        .bind(chat)
                        .bind(user)
                        .execute(&mut *tx)
                        .await?
                        .rows_affected();
                    tx.commit().await?;
                    Ok(if removed == 0 { MemberChange::Unchanged } else { MemberChange::Changed { at_seq } })
                };
                run.await.map_err(internal("remove member"))
            }

            async fn is_member(&self, chat: ChatId, user: UserId) -> Result<bool> {
                let row: Option<i64> =
                    sqlx::query_scalar("SELECT CAST(1 AS BIGINT) FROM memberships WHERE chat_id = $1 AND user_id = $2")
                        .bind(chat)
                        .bind(user)
                        .fetch_optional(&self.pool)
                        .await
                        .map_err(internal("is member"))?;
                Ok(row.is_some())
            }

            async fn members(&self, chat: ChatId) -> Result<Vec<UserRecord>> {
                sqlx::query_as(
                    "SELECT u.id, u.username, u.email, u.first_name, u.last_name, u.password_hash, \
                     u.is_admin, u.is_active FROM memberships ms JOIN users u ON u.id = ms.user_id \
                     WHERE ms.chat_id = $1 ORDER BY u.id",
                )
                .bind(chat)
                .fetch_all(&self.pool)
                .await
                .map_err(internal("members"))
            }

            async fn store_messages(
                &self,
                batch: &[PendingMessage],
                now: OffsetDateTime,
            ) -> Result<Vec<Result<StoredMessage>>> {
                // Chats in ascending id order, so two nodes' batches cannot deadlock.
                let mut by_chat: BTreeMap<ChatId, Vec<usize>> = BTreeMap::new();
                for (i, item) in batch.iter().enumerate() {
                    by_chat.entry(item.chat).or_default().push(i);
                }
                let mut results: Vec<Option<Result<StoredMessage>>> = vec![None; batch.len()];
                let run = async {
                    let mut tx = self.begin_write().await?;
                    for (chat, indices) in &by_chat {
                        Self::store_chat_share(&mut tx, *chat, indices, batch, now, &mut results).await?;
                    }
                    tx.commit().await
                };
                run.await.map_err(internal("store messages"))?;
                Ok(results
                    .into_iter()
                    .map(|r| r.unwrap_or(Err(Error::Internal)))
                    .collect())
            }

            async fn history(&self, chat: ChatId, page: PageRequest) -> Result<Vec<Message>> {
                let limit = i64::from(page.limit().get());
                let query = match page.cursor() {
                    Cursor::Latest => sqlx::query_as::<_, MessageRow>(sqlx::AssertSqlSafe(format!(
                        "{MESSAGE_SELECT} WHERE m.chat_id = $1 AND m.seq > $2 ORDER BY m.seq DESC LIMIT $3"
                    )))
                    .bind(chat)
                    .bind(0_i64),
                    Cursor::Before(b) => sqlx::query_as::<_, MessageRow>(sqlx::AssertSqlSafe(format!(
                        "{MESSAGE_SELECT} WHERE m.chat_id = $1 AND m.seq < $2 ORDER BY m.seq DESC LIMIT $3"
                    )))
                    .bind(chat)
                    .bind(b),
                    Cursor::After(a) => sqlx::query_as::<_, MessageRow>(sqlx::AssertSqlSafe(format!(
                        "{MESSAGE_SELECT} WHERE m.chat_id = $1 AND m.seq > $2 ORDER BY m.seq ASC LIMIT $3"
                    )))
                    .bind(chat)
                    .bind(a),
                };
                let mut rows: Vec<Message> = query
                    .bind(limit)
                    .fetch_all(&self.pool)
                    .await
                    .map_err(internal("history"))?
                    .into_iter()
                    .map(Message::from)
                    .collect();
                if !matches!(page.cursor(), Cursor::After(_)) {
                    rows.reverse();
                }
                Ok(rows)
            }
        }
    };
}

pub(crate) use impl_sql_store;
