//! Everything in the core that is tunable, in one struct with production defaults.

use std::time::Duration;

/// The most messages one transaction stores, whatever `max_batch` says: the batch is one
/// multi-row `INSERT` of 6 bind parameters a row, and SQLite takes at most 32 766 bind
/// parameters in a statement (PostgreSQL 65 535).
pub const MAX_BATCH_LIMIT: usize = 4096;

/// argon2id cost. The default is the OWASP minimum (m = 19 MiB, t = 2, p = 1); tests and
/// benchmarks use [`PasswordHashing::cheap`]. A stored hash carries its own parameters, so
/// changing these only affects new hashes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PasswordHashing {
    /// Memory in KiB.
    pub memory_kib: u32,
    /// Passes.
    pub iterations: u32,
    /// Lanes.
    pub parallelism: u32,
}

impl Default for PasswordHashing {
    fn default() -> Self {
        Self {
            memory_kib: 19 * 1024,
            iterations: 2,
            parallelism: 1,
        }
    }
}

impl PasswordHashing {
    /// Fast, weak parameters for tests only.
    pub fn cheap() -> Self {
        Self {
            memory_kib: 1024,
            iterations: 1,
            parallelism: 1,
        }
    }
}

/// Login throttling: after `max_failures` failed attempts for one username or one client IP
/// within `window`, further attempts are refused with `RateLimited` until the window passes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoginRateLimit {
    /// Failures allowed per key and window.
    pub max_failures: u32,
    /// Length of the window.
    pub window: Duration,
}

impl Default for LoginRateLimit {
    fn default() -> Self {
        Self {
            max_failures: 10,
            window: Duration::from_secs(300),
        }
    }
}

/// The store cache (`chatcore::store::cache`): what every request reads, kept in memory
/// and checked against the database's change counter before each answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CacheConfig {
    /// Whether the cache is used (`CHAT_CACHE=off` turns it off).
    pub enabled: bool,
    /// Most credentials, and most (user, chat) standings, kept (each map evicts the least
    /// recently used beyond it).
    pub entries: usize,
    /// Most bytes of message tails kept, over every chat (the least recently read chat's
    /// tail goes first); each chat keeps at most its newest 200 messages.
    pub tail_bytes: usize,
}

impl Default for CacheConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            entries: 10_000,
            tail_bytes: 64 * 1024 * 1024,
        }
    }
}

/// The core's settings.
#[derive(Debug, Clone)]
pub struct Config {
    /// Longest message, in Unicode scalar values after trimming.
    pub max_message_chars: usize,
    /// argon2id cost.
    pub password_hashing: PasswordHashing,
    /// Concurrent password hashes; `None` = max(1, cores / 2).
    pub hash_concurrency: Option<usize>,
    /// How long a login may wait for a hashing slot before `Unavailable`.
    pub hash_wait: Duration,
    /// Most messages one group-commit transaction stores (1 = one transaction per message;
    /// at most [`MAX_BATCH_LIMIT`], the databases' bind-parameter limits).
    pub max_batch: usize,
    /// Writer tasks on PostgreSQL, sharded by chat id (SQLite always has one).
    pub pg_writers: usize,
    /// Events a subscriber may fall behind before its stream ends with `lagged`.
    pub subscriber_buffer: usize,
    /// Lifetime of a browser session.
    pub session_ttl: Duration,
    /// Whether anyone may register (`CHAT_REGISTRATION=open|closed`).
    pub registration_open: bool,
    /// Login throttling.
    pub login_rate_limit: LoginRateLimit,
    /// Database connections in the pool.
    pub max_connections: u32,
    /// The store cache.
    pub cache: CacheConfig,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            max_message_chars: 4096,
            password_hashing: PasswordHashing::default(),
            hash_concurrency: None,
            hash_wait: Duration::from_secs(2),
            max_batch: 256,
            pg_writers: 4,
            subscriber_buffer: 1024,
            session_ttl: Duration::from_secs(14 * 24 * 3600),
            registration_open: true,
            login_rate_limit: LoginRateLimit::default(),
            max_connections: 8,
            cache: CacheConfig::default(),
        }
    }
}

impl Config {
    /// Defaults with cheap password hashing and generous rate limits, for tests and benches.
    pub fn for_tests() -> Self {
        Self {
            password_hashing: PasswordHashing::cheap(),
            login_rate_limit: LoginRateLimit {
                max_failures: 1000,
                window: Duration::from_secs(60),
            },
            ..Self::default()
        }
    }
}
