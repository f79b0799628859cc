//! The PostgreSQL adapter, for several server nodes sharing one database. Row locks on
//! `chats` order each chat's writes; the rest is the shared SQL of `sql/`.

use super::sql::impl_sql_store;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{PgPool, Postgres, Transaction};
use std::str::FromStr;

// The shared SQL (`sql/`), compiled for this backend: the same files as in `sqlite.rs`
// (deliberately, hence `duplicate_mod`), with `Db` naming the engine, `begin_write` and
// `begin_read` beginning a write transaction or a read snapshot, and `db_time` the form a time is stored and compared in.
type Db = Postgres;
/// PostgreSQL prepares one statement per query: statements sent as one become CTEs.
const SEPARATE_STATEMENTS: bool = false;
#[path = "sql/chats.rs"]
#[allow(clippy::duplicate_mod, reason = "compiled once per backend")]
mod chats;
#[path = "sql/credentials.rs"]
#[allow(clippy::duplicate_mod, reason = "compiled once per backend")]
mod credentials;
#[path = "sql/messages.rs"]
#[allow(clippy::duplicate_mod, reason = "compiled once per backend")]
mod messages;
#[path = "sql/users.rs"]
#[allow(clippy::duplicate_mod, reason = "compiled once per backend")]
mod users;

/// The migrations of this backend, embedded at compile time.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/postgres");

/// [`Store`](super::Store) on PostgreSQL.
#[derive(Debug, Clone)]
pub struct PgStore {
    pool: PgPool,
}

impl PgStore {
    /// Connects to `url` and applies pending migrations. With `schema`, every connection
    /// uses that schema first in its `search_path` (tests give each test its own).
    pub async fn open(
        url: &str,
        max_connections: u32,
        schema: Option<&str>,
    ) -> crate::Result<Self> {
        let mut options = PgConnectOptions::from_str(url)
            .map_err(|e| crate::Error::invalid("database_url", e.to_string()))?;
        if let Some(schema) = schema {
            options = options.options([("search_path", schema)]);
        }
        let pool = PgPoolOptions::new()
            .max_connections(max_connections.max(1))
            .connect_with(options)
            .await
            .map_err(|e| crate::Error::internal("connect postgres", e))?;
        super::migrate(&MIGRATOR, &pool).await?;
        Ok(Self { pool })
    }

    /// The connection pool (for tests that read tables directly).
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// [`Store::cache_stamp`](super::Store::cache_stamp): one query.
    async fn read_cache_stamp(
        &self,
        chat: Option<crate::model::ChatId>,
    ) -> crate::Result<super::CacheStamp> {
        chats::cache_stamp(&self.pool, chat).await
    }
}

/// Begins a write transaction (the chat row locks order the writes).
async fn begin_write(pool: &PgPool) -> sqlx::Result<Transaction<'static, Postgres>> {
    pool.begin().await
}

/// Begins a read-only snapshot: every read of the transaction sees the same commits.
async fn begin_read(pool: &PgPool) -> sqlx::Result<Transaction<'static, Postgres>> {
    pool.begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        .await
}

/// PostgreSQL keeps `TIMESTAMPTZ`: a time is bound as it is.
fn db_time(t: time::OffsetDateTime) -> time::OffsetDateTime {
    t
}

impl_sql_store!(PgStore, "postgres");
