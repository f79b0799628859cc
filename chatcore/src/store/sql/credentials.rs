//! Credentials: password hashes, API tokens and browser sessions (the last two stored as
//! the SHA-256 of their secret). Compiled once per backend (see `sql/mod.rs`); `Db` is
//! that backend.

use super::Db;
use crate::error::{Error, Result};
use crate::model::UserId;
use crate::store::UserRecord;
use crate::store::sql::{SessionRow, internal};
use sqlx::{Pool, Transaction};
use time::OffsetDateTime;

/// Replaces the password hash and revokes every token and session of the user, in one
/// transaction; `NotFound` when the user does not exist.
pub(super) async fn set_password_hash(pool: &Pool<Db>, id: UserId, hash: &str) -> Result<()> {
    let run = async {
        let mut tx = super::begin_write(pool).await?;
        let done = sqlx::query("UPDATE users SET password_hash = $2 WHERE id = $1")
            .bind(id)
            .bind(hash)
            .execute(&mut *tx)
            .await?;
        revoke_all(&mut tx, id).await?;
        tx.commit().await?;
        Ok::<_, sqlx::Error>(done.rows_affected())
    };
    match run.await.map_err(internal("set password"))? {
        0 => Err(Error::NotFound("User")),
        _ => Ok(()),
    }
}

/// Deletes every token and session of a user (password change, deactivation).
pub(super) async fn revoke_all(tx: &mut Transaction<'static, Db>, id: UserId) -> sqlx::Result<()> {
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

/// Takes the user's row lock if the user is active and their password hash is still
/// `verified_hash`: whether a credential minted from that verification may be stored.
async fn lock_verified_user(
    tx: &mut Transaction<'static, Db>,
    user: UserId,
    verified_hash: &str,
) -> sqlx::Result<bool> {
    let locked: Option<UserId> = sqlx::query_scalar(
        "UPDATE users SET is_active = is_active \
         WHERE id = $1 AND password_hash = $2 AND is_active RETURNING id",
    )
    .bind(user)
    .bind(verified_hash)
    .fetch_optional(&mut **tx)
    .await?;
    Ok(locked.is_some())
}

/// Stores a token hash for a user whose credentials are still the verified ones.
pub(super) async fn insert_token(
    pool: &Pool<Db>,
    user: UserId,
    verified_hash: &str,
    token_hash: &str,
    now: OffsetDateTime,
) -> Result<bool> {
    let run = async {
        let mut tx = super::begin_write(pool).await?;
        if !lock_verified_user(&mut tx, user, verified_hash).await? {
            return Ok(false);
        }
        sqlx::query("INSERT INTO api_tokens (token_hash, user_id, created_at) VALUES ($1, $2, $3)")
            .bind(token_hash)
            .bind(user)
            .bind(super::db_time(now))
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(true)
    };
    run.await.map_err(internal("insert token"))
}

/// The account owning a token hash.
pub(super) async fn token_user(pool: &Pool<Db>, token_hash: &str) -> Result<Option<UserRecord>> {
    sqlx::query_as(
        "SELECT u.id, u.username, u.email, u.first_name, u.last_name, u.password_hash, \
         u.is_admin, u.is_active FROM api_tokens t JOIN users u ON u.id = t.user_id \
         WHERE t.token_hash = $1",
    )
    .bind(token_hash)
    .fetch_optional(pool)
    .await
    .map_err(internal("token user"))
}

/// Deletes a token hash.
pub(super) async fn delete_token(pool: &Pool<Db>, token_hash: &str) -> Result<()> {
    sqlx::query("DELETE FROM api_tokens WHERE token_hash = $1")
        .bind(token_hash)
        .execute(pool)
        .await
        .map(|_| ())
        .map_err(internal("delete token"))
}

/// Stores a session for a user whose credentials are still the verified ones.
pub(super) async fn insert_session(
    pool: &Pool<Db>,
    session_hash: &str,
    user: UserId,
    verified_hash: &str,
    csrf_token: &str,
    expires_at: OffsetDateTime,
) -> Result<bool> {
    let run = async {
        let mut tx = super::begin_write(pool).await?;
        if !lock_verified_user(&mut tx, user, verified_hash).await? {
            return Ok(false);
        }
        sqlx::query(
            "INSERT INTO sessions (session_hash, user_id, csrf_token, expires_at) \
             VALUES ($1, $2, $3, $4)",
        )
        .bind(session_hash)
        .bind(user)
        .bind(csrf_token)
        .bind(super::db_time(expires_at))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(true)
    };
    run.await.map_err(internal("insert session"))
}

/// The account and CSRF token of a session that has not expired at `now`.
pub(super) async fn session_user(
    pool: &Pool<Db>,
    session_hash: &str,
    now: OffsetDateTime,
) -> Result<Option<(UserRecord, String)>> {
    let row: Option<SessionRow> = sqlx::query_as(
        "SELECT u.id, u.username, u.email, u.first_name, u.last_name, u.password_hash, \
         u.is_admin, u.is_active, s.csrf_token FROM sessions s JOIN users u ON u.id = s.user_id \
         WHERE s.session_hash = $1 AND s.expires_at > $2",
    )
    .bind(session_hash)
    .bind(super::db_time(now))
    .fetch_optional(pool)
    .await
    .map_err(internal("session user"))?;
    Ok(row.map(|r| (r.user, r.csrf_token)))
}

/// Deletes a session, and every expired one.
pub(super) async fn delete_session(
    pool: &Pool<Db>,
    session_hash: &str,
    now: OffsetDateTime,
) -> Result<()> {
    sqlx::query("DELETE FROM sessions WHERE session_hash = $1 OR expires_at <= $2")
        .bind(session_hash)
        .bind(super::db_time(now))
        .execute(pool)
        .await
        .map(|_| ())
        .map_err(internal("delete session"))
}
