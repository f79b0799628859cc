//! Chats and membership: create, read, rename, delete, add and remove members, read
//! markers, and the chat row lock every chat change takes. Compiled once per backend (see
//! `sql/mod.rs`); `Db` is that backend.

use super::Db;
use crate::error::{Error, Result};
use crate::model::{Chat, ChatId, Message, UserId};
use crate::store::sql::{MESSAGE_SELECT, MemberRow, MessageRow, internal};
use crate::store::{
    CacheStamp, ChatFilter, ChatRecord, MemberChange, ReadUpdate, Standing, UserRecord,
};
use sqlx::{AssertSqlSafe, Pool, Transaction};
use std::collections::{BTreeMap, HashMap};
use time::OffsetDateTime;

/// Takes the chat's row lock (a no-op update) and reads its `last_seq`; `None` when the
/// chat does not exist.
pub(super) async fn lock_chat(
    tx: &mut Transaction<'static, Db>,
    chat: ChatId,
) -> sqlx::Result<Option<i64>> {
    sqlx::query_scalar("UPDATE chats SET last_seq = last_seq WHERE id = $1 RETURNING last_seq")
        .bind(chat)
        .fetch_optional(&mut **tx)
        .await
}

/// Takes a user's row lock (a no-op update) and reads `(is_active, username)`; `None` when
/// there is no such user. Deactivation updates the same row first, so a membership added
/// under this lock is either refused or seen by the deactivation (which locks users before
/// chats: every writer takes them in that order).
async fn lock_user(
    tx: &mut Transaction<'static, Db>,
    user: UserId,
) -> sqlx::Result<Option<(bool, String)>> {
    sqlx::query_as(
        "UPDATE users SET is_active = is_active WHERE id = $1 RETURNING is_active, username",
    )
    .bind(user)
    .fetch_optional(&mut **tx)
    .await
}

/// The conflict of adding an inactive user.
fn inactive(username: &str) -> Error {
    Error::conflict(format!("User {username} is inactive"))
}

/// Creates a chat with its first members in one transaction; an unknown member is
/// `Invalid` on `participants`, an inactive one a `Conflict` (checked under the members'
/// row locks, taken in ascending id order).
pub(super) async fn create(
    pool: &Pool<Db>,
    name: &str,
    members: &[UserId],
    now: OffsetDateTime,
) -> Result<ChatId> {
    let mut members = members.to_vec();
    members.sort_unstable();
    members.dedup();
    let run = async {
        let mut tx = super::begin_write(pool).await?;
        for &user in &members {
            match lock_user(&mut tx, user).await? {
                None => {
                    return Ok(Err(Error::invalid(
                        "participants",
                        format!("unknown user id {user}"),
                    )));
                }
                Some((false, username)) => return Ok(Err(inactive(&username))),
                Some((true, _)) => {}
            }
        }
        let id: ChatId = sqlx::query_scalar(
            "INSERT INTO chats (name, created_at, last_seq) VALUES ($1, $2, 0) RETURNING id",
        )
        .bind(name)
        .bind(super::db_time(now))
        .fetch_one(&mut *tx)
        .await?;
        for user in &members {
            sqlx::query(
                "INSERT INTO memberships (chat_id, user_id, joined_at) VALUES ($1, $2, $3) \
                 ON CONFLICT DO NOTHING",
            )
            .bind(id)
            .bind(user)
            .bind(super::db_time(now))
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(Ok(id))
    };
    run.await.map_err(|e: sqlx::Error| match &e {
        sqlx::Error::Database(db) if db.is_foreign_key_violation() => {
            Error::invalid("participants", "unknown user id")
        }
        _ => Error::internal("create chat", e),
    })?
}

/// The change counter and `chat`'s `last_seq` (`None` for no chat, or a missing one), in
/// one statement.
pub(super) async fn cache_stamp(pool: &Pool<Db>, chat: Option<ChatId>) -> Result<CacheStamp> {
    let (epoch, last_seq): (i64, Option<i64>) = sqlx::query_as(CACHE_STAMP)
        .bind(chat)
        .fetch_one(pool)
        .await
        .map_err(internal("cache stamp"))?;
    Ok(CacheStamp { epoch, last_seq })
}

/// The statement of [`cache_stamp`] (also run by SQLite's synchronous reader).
pub(super) const CACHE_STAMP: &str = "SELECT n, (SELECT last_seq FROM chats WHERE id = $1) \
     FROM cache_epoch WHERE id = 1";

/// A chat's own row.
pub(super) async fn get(pool: &Pool<Db>, id: ChatId) -> Result<Option<ChatRecord>> {
    sqlx::query_as("SELECT id, name, created_at, last_seq FROM chats WHERE id = $1")
        .bind(id)
        .fetch_optional(pool)
        .await
        .map_err(internal("chat"))
}

/// Full chats (members with e-mail, the last message, `viewer`'s unread count) for a
/// filter, ordered by id: three queries whatever the number of chats, in one snapshot (a
/// post landing between them cannot pair one `last_seq` with another's last message).
pub(super) async fn list(pool: &Pool<Db>, filter: ChatFilter, viewer: UserId) -> Result<Vec<Chat>> {
    let (member, one) = match filter {
        ChatFilter::All => (None, None),
        ChatFilter::MemberOf(u) => (Some(u), None),
        ChatFilter::One(c) => (None, Some(c)),
    };
    const CHAT_FILTER: &str = "(CAST($1 AS BIGINT) IS NULL OR c.id IN \
         (SELECT chat_id FROM memberships WHERE user_id = $1)) \
         AND (CAST($2 AS BIGINT) IS NULL OR c.id = $2)";
    let mut snapshot = super::begin_read(pool)
        .await
        .map_err(internal("begin chat list"))?;
    let records: Vec<ChatRecord> = sqlx::query_as(AssertSqlSafe(format!(
        "SELECT c.id, c.name, c.created_at, c.last_seq FROM chats c WHERE {CHAT_FILTER} \
         ORDER BY c.id"
    )))
    .bind(member)
    .bind(one)
    .fetch_all(&mut *snapshot)
    .await
    .map_err(internal("chats"))?;
    let members: Vec<MemberRow> = sqlx::query_as(AssertSqlSafe(format!(
        "SELECT ms.chat_id, ms.last_read_seq, u.id, u.username, u.email, u.first_name, \
         u.last_name, u.password_hash, u.is_admin, u.is_active \
         FROM memberships ms JOIN users u ON u.id = ms.user_id JOIN chats c ON c.id = ms.chat_id \
         WHERE {CHAT_FILTER} ORDER BY ms.chat_id, u.id"
    )))
    .bind(member)
    .bind(one)
    .fetch_all(&mut *snapshot)
    .await
    .map_err(internal("chat members"))?;
    let last: Vec<MessageRow> = sqlx::query_as(AssertSqlSafe(format!(
        "{MESSAGE_SELECT} JOIN chats c ON c.id = m.chat_id AND m.seq = c.last_seq \
         WHERE {CHAT_FILTER}"
    )))
    .bind(member)
    .bind(one)
    .fetch_all(&mut *snapshot)
    .await
    .map_err(internal("last messages"))?;
    // Only read: ending it is all that is left, and a failure to end it changes nothing.
    let _ = snapshot.rollback().await;
    let mut participants: BTreeMap<ChatId, Vec<_>> = BTreeMap::new();
    let mut read_by_viewer: HashMap<ChatId, i64> = HashMap::new();
    for row in members {
        if row.user.id == viewer {
            read_by_viewer.insert(row.chat_id, row.last_read_seq);
        }
        participants
            .entry(row.chat_id)
            .or_default()
            .push(row.user.user());
    }
    let mut last: HashMap<ChatId, Message> = last
        .into_iter()
        .map(|r| (r.chat_id, Message::from(r)))
        .collect();
    Ok(records
        .into_iter()
        .map(|c| Chat {
            participants: participants.remove(&c.id).unwrap_or_default(),
            last_message: last.remove(&c.id),
            id: c.id,
            name: c.name,
            created_at: c.created_at,
            unread: read_by_viewer
                .get(&c.id)
                .map_or(0, |read| (c.last_seq - read).max(0)),
            last_seq: c.last_seq,
        })
        .collect())
}

/// Renames a chat; `None` when it does not exist, else its `last_seq` (the event's
/// `at_seq`).
pub(super) async fn rename(pool: &Pool<Db>, id: ChatId, name: &str) -> Result<Option<i64>> {
    let run = async {
        let mut tx = super::begin_write(pool).await?;
        let at_seq: Option<i64> =
            sqlx::query_scalar("UPDATE chats SET name = $2 WHERE id = $1 RETURNING last_seq")
                .bind(id)
                .bind(name)
                .fetch_optional(&mut *tx)
                .await?;
        tx.commit().await?;
        Ok(at_seq)
    };
    run.await.map_err(internal("rename chat"))
}

/// Deletes a chat with its messages and memberships under its lock; `None` when it did
/// not exist.
pub(super) async fn delete(pool: &Pool<Db>, id: ChatId) -> Result<Option<i64>> {
    let run = async {
        let mut tx = super::begin_write(pool).await?;
        let Some(at_seq) = lock_chat(&mut tx, id).await? else {
            return Ok(None);
        };
        for statement in [
            "DELETE FROM messages WHERE chat_id = $1",
            "DELETE FROM memberships WHERE chat_id = $1",
            "DELETE FROM chats WHERE id = $1",
        ] {
            sqlx::query(statement).bind(id).execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(Some(at_seq))
    };
    run.await.map_err(internal("delete chat"))
}

/// Adds a member under the user's and the chat's locks (in that order); an unknown user is
/// `NotFound`, an inactive one a `Conflict`.
pub(super) async fn add_member(
    pool: &Pool<Db>,
    chat: ChatId,
    user: UserId,
    now: OffsetDateTime,
) -> Result<MemberChange> {
    let run = async {
        let mut tx = super::begin_write(pool).await?;
        match lock_user(&mut tx, user).await? {
            None => return Ok(Err(Error::NotFound("User"))),
            Some((false, username)) => return Ok(Err(inactive(&username))),
            Some((true, _)) => {}
        }
        let Some(at_seq) = lock_chat(&mut tx, chat).await? else {
            return Ok(Ok(MemberChange::ChatMissing));
        };
        let added = sqlx::query(
            "INSERT INTO memberships (chat_id, user_id, joined_at) VALUES ($1, $2, $3) \
             ON CONFLICT DO NOTHING",
        )
        .bind(chat)
        .bind(user)
        .bind(super::db_time(now))
        .execute(&mut *tx)
        .await?
        .rows_affected();
        tx.commit().await?;
        Ok(Ok(changed(added, at_seq)))
    };
    run.await.map_err(|e: sqlx::Error| match &e {
        sqlx::Error::Database(db) if db.is_foreign_key_violation() => Error::NotFound("User"),
        _ => Error::internal("add member", e),
    })?
}

/// Removes a member under the chat's lock.
pub(super) async fn remove_member(
    pool: &Pool<Db>,
    chat: ChatId,
    user: UserId,
) -> Result<MemberChange> {
    let run = async {
        let mut tx = super::begin_write(pool).await?;
        let Some(at_seq) = lock_chat(&mut tx, chat).await? else {
            return Ok(MemberChange::ChatMissing);
        };
        let removed = sqlx::query("DELETE FROM memberships WHERE chat_id = $1 AND user_id = $2")
            .bind(chat)
            .bind(user)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        tx.commit().await?;
        Ok(changed(removed, at_seq))
    };
    run.await.map_err(internal("remove member"))
}

/// `Changed` when a row was touched, else `Unchanged`.
fn changed(rows: u64, at_seq: i64) -> MemberChange {
    if rows == 0 {
        MemberChange::Unchanged
    } else {
        MemberChange::Changed { at_seq }
    }
}

/// Whether `user` is a member of `chat`.
pub(super) async fn is_member(pool: &Pool<Db>, chat: ChatId, user: UserId) -> Result<bool> {
    let row: Option<i64> = sqlx::query_scalar(
        "SELECT CAST(1 AS BIGINT) FROM memberships WHERE chat_id = $1 AND user_id = $2",
    )
    .bind(chat)
    .bind(user)
    .fetch_optional(pool)
    .await
    .map_err(internal("is member"))?;
    Ok(row.is_some())
}

/// The columns [`standing`] reads: the account's (each `NULL` when there is none), the
/// chat's (likewise), and membership.
type StandingRow = (
    Option<UserId>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<bool>,
    Option<bool>,
    Option<ChatId>,
    Option<String>,
    Option<OffsetDateTime>,
    Option<i64>,
    bool,
);

/// A user's account, a chat and the membership between them, in one query (one statement
/// sees one state of the three).
pub(super) async fn standing(pool: &Pool<Db>, user: UserId, chat: ChatId) -> Result<Standing> {
    let row: StandingRow = sqlx::query_as(
        "SELECT u.id, u.username, u.email, u.first_name, u.last_name, u.password_hash, \
                u.is_admin, u.is_active, c.id, c.name, c.created_at, c.last_seq, \
                EXISTS (SELECT 1 FROM memberships m WHERE m.chat_id = $2 AND m.user_id = $1) \
         FROM (SELECT 1 AS one) AS one \
         LEFT JOIN users u ON u.id = $1 \
         LEFT JOIN chats c ON c.id = $2",
    )
    .bind(user)
    .bind(chat)
    .fetch_one(pool)
    .await
    .map_err(internal("standing"))?;
    let (
        id,
        username,
        email,
        first_name,
        last_name,
        password_hash,
        is_admin,
        is_active,
        chat_id,
        name,
        created_at,
        last_seq,
        member,
    ) = row;
    let account = (|| {
        Some(UserRecord {
            id: id?,
            username: username?,
            email: email?,
            first_name: first_name?,
            last_name: last_name?,
            password_hash: password_hash?,
            is_admin: is_admin?,
            is_active: is_active?,
        })
    })();
    let chat = (|| {
        Some(ChatRecord {
            id: chat_id?,
            name: name?,
            created_at: created_at?,
            last_seq: last_seq?,
        })
    })();
    Ok(Standing {
        account,
        chat,
        member,
    })
}

/// A chat's members, ordered by id.
pub(super) async fn members(pool: &Pool<Db>, chat: ChatId) -> Result<Vec<UserRecord>> {
    sqlx::query_as(
        "SELECT u.id, u.username, u.email, u.first_name, u.last_name, u.password_hash, \
         u.is_admin, u.is_active FROM memberships ms JOIN users u ON u.id = ms.user_id \
         WHERE ms.chat_id = $1 ORDER BY u.id",
    )
    .bind(chat)
    .fetch_all(pool)
    .await
    .map_err(internal("members"))
}

/// Moves a member's read marker forward to `seq`, clamped to the chat's `last_seq`: one
/// `UPDATE` (the membership row's lock orders concurrent calls; no chat lock is taken, so
/// reads never wait for a batch of posts). When it moves nothing, one `SELECT` reports where
/// the marker is; `None` when `user` is not a member.
pub(super) async fn mark_read(
    pool: &Pool<Db>,
    chat: ChatId,
    user: UserId,
    seq: i64,
) -> Result<Option<ReadUpdate>> {
    // Forward only: `last_read_seq < min($3, last_seq)`, written as two comparisons.
    let moved: Option<(i64, i64)> = sqlx::query_as(
        "UPDATE memberships SET last_read_seq = \
         (SELECT CASE WHEN c.last_seq < $3 THEN c.last_seq ELSE $3 END \
          FROM chats c WHERE c.id = $1) \
         WHERE chat_id = $1 AND user_id = $2 AND last_read_seq < $3 \
         AND last_read_seq < (SELECT c.last_seq FROM chats c WHERE c.id = $1) \
         RETURNING last_read_seq, (SELECT c.last_seq FROM chats c WHERE c.id = $1)",
    )
    .bind(chat)
    .bind(user)
    .bind(seq)
    .fetch_optional(pool)
    .await
    .map_err(internal("mark read"))?;
    if let Some((last_read_seq, last_seq)) = moved {
        return Ok(Some(ReadUpdate {
            last_read_seq,
            last_seq,
            moved: true,
        }));
    }
    let current: Option<(i64, i64)> = sqlx::query_as(
        "SELECT ms.last_read_seq, c.last_seq FROM memberships ms \
         JOIN chats c ON c.id = ms.chat_id WHERE ms.chat_id = $1 AND ms.user_id = $2",
    )
    .bind(chat)
    .bind(user)
    .fetch_optional(pool)
    .await
    .map_err(internal("read marker"))?;
    Ok(current.map(|(last_read_seq, last_seq)| ReadUpdate {
        last_read_seq,
        last_seq,
        moved: false,
    }))
}
