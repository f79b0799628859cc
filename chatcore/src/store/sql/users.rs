//! Accounts: insert and look up, profile changes, account flags, the admin's list.
//! Compiled once per backend (see `sql/mod.rs`); `Db` is that backend.

use super::Db;
use super::chats::lock_chat;
use super::credentials::revoke_all;
use crate::error::{Error, Result};
use crate::model::{ChatId, PageLimit, UserId};
use crate::store::sql::{USER_COLUMNS, internal, map_err};
use crate::store::{FlagsChange, NewUserRecord, UserRecord};
use sqlx::{AssertSqlSafe, Pool, Transaction};

/// Inserts an account; a taken `username_key` is `Conflict`.
pub(super) async fn insert(pool: &Pool<Db>, u: NewUserRecord) -> Result<UserRecord> {
    insert_on(pool, u).await
}

/// Inserts an account linked to the external identity (`issuer`, `subject`), both in one
/// transaction; a taken `username_key` or an identity already linked is `Conflict`.
pub(super) async fn insert_external(
    pool: &Pool<Db>,
    u: NewUserRecord,
    issuer: &str,
    subject: &str,
) -> Result<UserRecord> {
    let mut tx = super::begin_write(pool).await.map_err(internal("begin"))?;
    let created_at = u.created_at;
    let user = insert_on(&mut *tx, u).await?;
    sqlx::query(
        "INSERT INTO external_identities (issuer, subject, user_id, created_at) \
         VALUES ($1, $2, $3, $4)",
    )
    .bind(issuer)
    .bind(subject)
    .bind(user.id)
    .bind(super::db_time(created_at))
    .execute(&mut *tx)
    .await
    .map_err(map_err(
        "link external identity",
        "The identity is already linked.",
    ))?;
    tx.commit().await.map_err(internal("commit"))?;
    Ok(user)
}

/// The account linked to the external identity (`issuer`, `subject`).
pub(super) async fn by_external(
    pool: &Pool<Db>,
    issuer: &str,
    subject: &str,
) -> Result<Option<UserRecord>> {
    sqlx::query_as(AssertSqlSafe(format!(
        "SELECT {USER_COLUMNS} FROM users WHERE id = \
         (SELECT user_id FROM external_identities WHERE issuer = $1 AND subject = $2)"
    )))
    .bind(issuer)
    .bind(subject)
    .fetch_optional(pool)
    .await
    .map_err(internal("user by external identity"))
}

async fn insert_on<'e, E>(executor: E, u: NewUserRecord) -> Result<UserRecord>
where
    E: sqlx::Executor<'e, Database = Db>,
{
    sqlx::query_as(AssertSqlSafe(format!(
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
    .bind(super::db_time(u.created_at))
    .fetch_one(executor)
    .await
    .map_err(map_err(
        "insert user",
        "A user with that username already exists.",
    ))
}

/// An account by id.
pub(super) async fn by_id(pool: &Pool<Db>, id: UserId) -> Result<Option<UserRecord>> {
    sqlx::query_as(AssertSqlSafe(format!(
        "SELECT {USER_COLUMNS} FROM users WHERE id = $1"
    )))
    .bind(id)
    .fetch_optional(pool)
    .await
    .map_err(internal("user by id"))
}

/// An account by its folded username.
pub(super) async fn by_key(pool: &Pool<Db>, key: &str) -> Result<Option<UserRecord>> {
    sqlx::query_as(AssertSqlSafe(format!(
        "SELECT {USER_COLUMNS} FROM users WHERE username_key = $1"
    )))
    .bind(key)
    .fetch_optional(pool)
    .await
    .map_err(internal("user by key"))
}

/// Replaces names, e-mail and the search key.
pub(super) async fn update_profile(
    pool: &Pool<Db>,
    id: UserId,
    first_name: &str,
    last_name: &str,
    email: &str,
    search_key: &str,
) -> Result<UserRecord> {
    sqlx::query_as(AssertSqlSafe(format!(
        "UPDATE users SET first_name = $2, last_name = $3, email = $4, search_key = $5 \
         WHERE id = $1 RETURNING {USER_COLUMNS}"
    )))
    .bind(id)
    .bind(first_name)
    .bind(last_name)
    .bind(email)
    .bind(search_key)
    .fetch_optional(pool)
    .await
    .map_err(internal("update profile"))?
    .ok_or(Error::NotFound("User"))
}

/// Changes account flags in one transaction. Refuses (`Conflict`) to leave no active admin;
/// a deactivation revokes the user's credentials and reports their chats, each read under
/// its lock for the `at_seq` of the removal events.
pub(super) async fn set_flags(
    pool: &Pool<Db>,
    id: UserId,
    is_admin: Option<bool>,
    is_active: Option<bool>,
) -> Result<FlagsChange> {
    let mut tx = super::begin_write(pool).await.map_err(internal("begin"))?;
    let Some(before) = by_id_in(&mut tx, id).await.map_err(internal("user"))? else {
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
            return Err(Error::conflict(
                "The last active admin cannot be demoted or deactivated",
            ));
        }
    }
    let user: UserRecord = sqlx::query_as(AssertSqlSafe(format!(
        "UPDATE users SET is_admin = COALESCE(CAST($2 AS BOOLEAN), is_admin), \
         is_active = COALESCE(CAST($3 AS BOOLEAN), is_active) WHERE id = $1 \
         RETURNING {USER_COLUMNS}"
    )))
    .bind(id)
    .bind(is_admin)
    .bind(is_active)
    .fetch_one(&mut *tx)
    .await
    .map_err(internal("update flags"))?;
    let mut deactivated_in = Vec::new();
    if before.is_active && !user.is_active {
        revoke_all(&mut tx, id).await.map_err(internal("revoke"))?;
        let chats: Vec<ChatId> = sqlx::query_scalar(
            "SELECT chat_id FROM memberships WHERE user_id = $1 ORDER BY chat_id",
        )
        .bind(id)
        .fetch_all(&mut *tx)
        .await
        .map_err(internal("chats of user"))?;
        for chat in chats {
            let locked = lock_chat(&mut tx, chat)
                .await
                .map_err(internal("lock chat"))?;
            if let Some(at_seq) = locked {
                deactivated_in.push((chat, at_seq));
            }
        }
    }
    tx.commit().await.map_err(internal("commit"))?;
    Ok(FlagsChange {
        user,
        deactivated_in,
    })
}

/// Accounts whose search key matches the `LIKE … ESCAPE '\'` pattern (all when `None`),
/// ordered by id.
pub(super) async fn list(
    pool: &Pool<Db>,
    pattern: Option<&str>,
    limit: PageLimit,
    offset: u32,
) -> Result<Vec<UserRecord>> {
    sqlx::query_as(AssertSqlSafe(format!(
        "SELECT {USER_COLUMNS} FROM users \
         WHERE CAST($1 AS TEXT) IS NULL OR search_key LIKE $1 ESCAPE '\\' \
         ORDER BY id LIMIT $2 OFFSET $3"
    )))
    .bind(pattern)
    .bind(i64::from(limit.get()))
    .bind(i64::from(offset))
    .fetch_all(pool)
    .await
    .map_err(internal("list users"))
}

/// An account by id, inside a transaction.
async fn by_id_in(
    tx: &mut Transaction<'static, Db>,
    id: UserId,
) -> sqlx::Result<Option<UserRecord>> {
    sqlx::query_as(AssertSqlSafe(format!(
        "SELECT {USER_COLUMNS} FROM users WHERE id = $1"
    )))
    .bind(id)
    .fetch_optional(&mut **tx)
    .await
}
