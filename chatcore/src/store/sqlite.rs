//! The SQLite adapter: the embedded default (`sqlite://chat.db`). WAL, foreign keys on,
//! `synchronous=FULL` (acknowledged means durable), `busy_timeout` 5 s, and every write
//! transaction `BEGIN IMMEDIATE` so writers queue for the lock instead of failing on upgrade.

use super::CacheStamp;
use super::sql::impl_sql_store;
use crate::model::ChatId;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Sqlite, SqlitePool, Transaction};
use std::path::Path;
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use time::OffsetDateTime;
use time::format_description::FormatItem;
use time::macros::format_description;

// The shared SQL (`sql/`), compiled for this backend: the same files as in `postgres.rs`
// (deliberately, hence `duplicate_mod`), with `Db` naming the engine, `begin_write` and
// `begin_read` beginning a write transaction or a read snapshot, and `db_time` the form a time is stored and compared in.
type Db = Sqlite;
/// SQLite runs `;`-separated statements of one query in one call.
const SEPARATE_STATEMENTS: bool = true;
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
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/sqlite");

/// [`Store`](super::Store) on SQLite.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
    /// Answers [`Store::cache_stamp`](super::Store::cache_stamp) for a database on disk.
    stamps: Option<Arc<StampReader>>,
}

/// A second connection to the database file, through rusqlite (the same SQLite library as
/// sqlx's), that reads only the cache stamp. The read takes microseconds and is answered on
/// the calling thread: a pool connection would cost a round trip to its own thread, as much
/// as the lookups the cache saves. In WAL mode it never waits for writers; should it fail
/// (a `SQLITE_BUSY` while another connection recovers the WAL), the pool answers instead.
#[derive(Debug)]
struct StampReader(Mutex<rusqlite::Connection>);

impl StampReader {
    /// Opens the file read-only in spirit (`query_only`), without waiting on locks.
    fn open(path: &Path) -> rusqlite::Result<Self> {
        use rusqlite::OpenFlags;
        let connection = rusqlite::Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        connection.pragma_update(None, "query_only", true)?;
        // Never sleep on a lock (rusqlite's default would wait 5 s on the runtime's thread,
        // holding the mutex): a busy database is asked through the pool instead.
        connection.busy_timeout(Duration::ZERO)?;
        Ok(Self(Mutex::new(connection)))
    }

    /// The stamp, read on this thread.
    fn read(&self, chat: Option<ChatId>) -> rusqlite::Result<CacheStamp> {
        // A panic cannot leave the connection half-used: a poisoned lock is still usable.
        let connection = self
            .0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let mut statement = connection.prepare_cached(chats::CACHE_STAMP)?;
        statement.query_row([chat.map(|c| c.0)], |row| {
            Ok(CacheStamp {
                epoch: row.get(0)?,
                last_seq: row.get(1)?,
            })
        })
    }
}

impl SqliteStore {
    /// Opens (creating if missing) the database at `url` and applies pending migrations.
    pub async fn open(url: &str, max_connections: u32) -> crate::Result<Self> {
        let options = SqliteConnectOptions::from_str(url)
            .map_err(|e| crate::Error::invalid("database_url", e.to_string()))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(5));
        let pool = SqlitePoolOptions::new()
            .max_connections(max_connections.max(1))
            // A connection to a file cannot drop like a network one: no ping (a round trip
            // to the connection's thread) before each use.
            .test_before_acquire(false)
            .connect_with(options.clone())
            .await
            .map_err(|e| crate::Error::internal("open sqlite", e))?;
        super::migrate(&MIGRATOR, &pool).await?;
        // An in-memory database has no file a second connection could open: its stamps
        // come from the pool.
        let file = options.get_filename();
        let stamps = match file.is_file() {
            true => match StampReader::open(file) {
                Ok(reader) => Some(Arc::new(reader)),
                Err(e) => {
                    tracing::warn!(error = %e, "cache stamps from the pool: no second connection");
                    None
                }
            },
            false => None,
        };
        Ok(Self { pool, stamps })
    }

    /// The connection pool (for tests that read tables directly).
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// [`Store::cache_stamp`](super::Store::cache_stamp): from the synchronous reader when
    /// there is one and it answers, else one query on the pool.
    async fn read_cache_stamp(&self, chat: Option<ChatId>) -> crate::Result<CacheStamp> {
        if let Some(reader) = &self.stamps {
            match reader.read(chat) {
                Ok(stamp) => return Ok(stamp),
                Err(e) => tracing::debug!(error = %e, "cache stamp from the pool"),
            }
        }
        chats::cache_stamp(&self.pool, chat).await
    }
}

/// Begins a write transaction: `BEGIN IMMEDIATE`, so writers queue for the lock instead of
/// failing when a read transaction would upgrade.
async fn begin_write(pool: &SqlitePool) -> sqlx::Result<Transaction<'static, Sqlite>> {
    pool.begin_with("BEGIN IMMEDIATE").await
}

/// SQLite keeps times as text and compares them as text, so every time is written in one
/// fixed width: UTC, six fractional digits, `Z` (`2026-12-02T10:00:11.500000Z`). sqlx's own
/// encoding trims trailing zeros, and `…11.5Z` would sort after `…11.50001Z`.
fn db_time(t: OffsetDateTime) -> String {
    const STORED: &[FormatItem<'static>] =
        format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:6]Z");
    crate::model::timestamp::truncate(t)
        .format(STORED)
        .expect("formatting a valid OffsetDateTime with a static description cannot fail")
}

/// Begins a read-only snapshot: a deferred `BEGIN`, whose first read fixes what every later
/// read of the transaction sees (WAL keeps it while writers go on).
async fn begin_read(pool: &SqlitePool) -> sqlx::Result<Transaction<'static, Sqlite>> {
    pool.begin().await
}

impl_sql_store!(SqliteStore, "sqlite");
