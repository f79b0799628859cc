//! Test and benchmark fixtures: a throwaway PostgreSQL schema per test, so suites run in
//! parallel on one database and leave nothing behind (and, for tests across nodes, a Redis
//! channel prefix per test and a private `redis-server`). Not for production use:
//! built only with the `testing` feature, which test suites and benchmarks enable.

use crate::error::{Error, Result};
use crate::store::postgres::PgStore;
use sqlx::Connection;
use std::sync::Once;
use std::sync::atomic::{AtomicU32, Ordering};

mod redis;
pub use redis::{REDIS_URL_VAR, RedisServer, redis_url, unique_prefix};

/// The variable naming the test PostgreSQL database.
pub const POSTGRES_URL_VAR: &str = "CHAT_TEST_POSTGRES_URL";

/// The test PostgreSQL URL, or `None` after saying once on stderr that PostgreSQL tests
/// are skipped.
pub fn postgres_url() -> Option<String> {
    static SKIP_NOTICE: Once = Once::new();
    match std::env::var(POSTGRES_URL_VAR) {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            SKIP_NOTICE.call_once(|| {
                // Written to the stderr handle, not with `eprintln!`, which the test harness
                // captures (and shows only for failing tests).
                use std::io::Write;
                let _ = writeln!(
                    std::io::stderr(),
                    "\n*** {POSTGRES_URL_VAR} is not set: PostgreSQL tests are SKIPPED (SQLite only) ***\n"
                );
            });
            None
        }
    }
}

/// A schema `t_<pid>_<n>` that exists while this value lives; dropped (CASCADE) on drop.
pub struct PgTestSchema {
    url: String,
    name: String,
}

impl PgTestSchema {
    /// Creates a fresh schema. The first call of a process also drops `t_*` schemas left
    /// by processes that no longer run.
    pub async fn create(url: &str) -> Result<Self> {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        static SWEPT: AtomicU32 = AtomicU32::new(0);
        let pid = std::process::id();
        let name = format!("t_{pid}_{}", NEXT.fetch_add(1, Ordering::Relaxed));
        let mut conn = sqlx::PgConnection::connect(url)
            .await
            .map_err(|e| Error::internal("connect test postgres", e))?;
        if SWEPT.fetch_add(1, Ordering::Relaxed) == 0 {
            sweep_dead_schemas(&mut conn).await?;
        }
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {name}")))
            .execute(&mut conn)
            .await
            .map_err(|e| Error::internal("create test schema", e))?;
        Ok(Self {
            url: url.to_owned(),
            name,
        })
    }

    /// The schema's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Opens a migrated [`PgStore`] whose connections use this schema.
    pub async fn store(&self, max_connections: u32) -> Result<PgStore> {
        PgStore::open(&self.url, max_connections, Some(&self.name)).await
    }
}

impl Drop for PgTestSchema {
    fn drop(&mut self) {
        let (url, name) = (self.url.clone(), self.name.clone());
        // Drop may run inside or outside a runtime (and during a panic): use a thread with
        // its own small runtime and wait for it.
        let cleanup = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a current-thread runtime can always be built");
            runtime.block_on(async move {
                if let Ok(mut conn) = sqlx::PgConnection::connect(&url).await {
                    let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
                        "DROP SCHEMA IF EXISTS {name} CASCADE"
                    )))
                    .execute(&mut conn)
                    .await;
                }
            });
        });
        let _ = cleanup.join();
    }
}

async fn sweep_dead_schemas(conn: &mut sqlx::PgConnection) -> Result<()> {
    let schemas: Vec<String> = sqlx::query_scalar(
        "SELECT nspname FROM pg_namespace WHERE nspname LIKE 't\\_%\\_%' ESCAPE '\\'",
    )
    .fetch_all(&mut *conn)
    .await
    .map_err(|e| Error::internal("list test schemas", e))?;
    for schema in schemas {
        let pid = schema.split('_').nth(1).and_then(|p| p.parse::<u32>().ok());
        let alive = pid.is_some_and(|p| std::path::Path::new(&format!("/proc/{p}")).exists());
        if pid.is_some() && !alive {
            let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
                "DROP SCHEMA IF EXISTS {schema} CASCADE"
            )))
            .execute(&mut *conn)
            .await;
        }
    }
    Ok(())
}
