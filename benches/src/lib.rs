//! Shared fixtures of the load generators in `src/bin/`: a fresh core per measurement on a
//! temporary SQLite file or in a throwaway PostgreSQL schema, bench users, and latency
//! statistics. Nothing here is used outside the benchmarks.

use chatcore::broker::LocalBroker;
use chatcore::model::Registration;
use chatcore::testing::PgTestSchema;
use chatcore::{Actor, ChatCore, Config};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// The database used when `CHAT_TEST_POSTGRES_URL` is not set.
pub const DEFAULT_POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

/// One password for every bench account; it passes the core's password rules.
pub const PASSWORD: &str = "bench-lantern-orbit-7";

/// Where a measurement stores its messages.
#[derive(Debug, Clone)]
pub enum Backend {
    /// A new SQLite file in a temporary directory under this directory.
    Sqlite(PathBuf),
    /// A new schema in this PostgreSQL database.
    Postgres(String),
}

impl Backend {
    /// `"SQLite"` or `"PostgreSQL"`.
    pub fn label(&self) -> &'static str {
        match self {
            Backend::Sqlite(_) => "SQLite",
            Backend::Postgres(_) => "PostgreSQL",
        }
    }

    /// The PostgreSQL URL from `CHAT_TEST_POSTGRES_URL`, or the local default.
    pub fn postgres_from_env() -> Self {
        let url = std::env::var(chatcore::testing::POSTGRES_URL_VAR)
            .ok()
            .filter(|u| !u.is_empty())
            .unwrap_or_else(|| DEFAULT_POSTGRES_URL.to_owned());
        Backend::Postgres(url)
    }
}

/// A running core on a fresh, empty database, with the database's cleanup guard: the
/// temporary directory or the PostgreSQL schema goes away when this is dropped.
pub struct BenchCore {
    /// The core (take it with `Option::take` to shut it down before the guard drops).
    pub core: Option<ChatCore>,
    _sqlite_dir: Option<tempfile::TempDir>,
    _pg_schema: Option<PgTestSchema>,
}

impl BenchCore {
    /// Opens a core on a fresh database of `backend` with `config`.
    pub async fn open(backend: &Backend, config: Config) -> chatcore::Result<Self> {
        match backend {
            Backend::Sqlite(parent) => {
                let dir = tempdir_in(parent);
                let url = format!("sqlite://{}", dir.path().join("bench.db").display());
                let core = ChatCore::open(&url, config).await?;
                Ok(Self {
                    core: Some(core),
                    _sqlite_dir: Some(dir),
                    _pg_schema: None,
                })
            }
            Backend::Postgres(url) => {
                let schema = PgTestSchema::create(url).await?;
                let store = schema.store(config.max_connections).await?;
                let broker = Arc::new(LocalBroker::new(config.subscriber_buffer));
                let core = ChatCore::with_parts(Arc::new(store), broker, config)?;
                Ok(Self {
                    core: Some(core),
                    _sqlite_dir: None,
                    _pg_schema: Some(schema),
                })
            }
        }
    }

    /// The running core.
    pub fn core(&self) -> &ChatCore {
        self.core.as_ref().expect("the core runs until shutdown")
    }

    /// Waits until every queued post is stored, then drops the database.
    pub async fn shutdown(mut self) {
        if let Some(core) = self.core.take() {
            core.shutdown().await;
        }
    }
}

fn tempdir_in(parent: &Path) -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("chat-bench-")
        .tempdir_in(parent)
        .unwrap_or_else(|e| panic!("cannot create a temporary directory in {parent:?}: {e}"))
}

/// Creates an admin and `n` ordinary users named `{prefix}{i}`; returns their actors.
pub async fn create_users(
    core: &ChatCore,
    prefix: &str,
    n: usize,
) -> chatcore::Result<(Actor, Vec<Actor>)> {
    let admin = core
        .auth()
        .create_superuser(registration("benchadmin"))
        .await?;
    let admin = core.auth().actor_for(admin.id).await?;
    let mut users = Vec::with_capacity(n);
    for i in 0..n {
        let (user, _token) = core
            .auth()
            .register(registration(&format!("{prefix}{i}")))
            .await?;
        users.push(core.auth().actor_for(user.id).await?);
    }
    Ok((admin, users))
}

/// Registers `n` ordinary users named `{prefix}{i}`; returns each actor with the API token
/// that registration minted (for benches that go through HTTP with `Token` auth).
pub async fn register_users(
    core: &ChatCore,
    prefix: &str,
    n: usize,
) -> chatcore::Result<Vec<(Actor, String)>> {
    let mut users = Vec::with_capacity(n);
    for i in 0..n {
        let (user, token) = core
            .auth()
            .register(registration(&format!("{prefix}{i}")))
            .await?;
        users.push((core.auth().actor_for(user.id).await?, token));
    }
    Ok(users)
}

fn registration(username: &str) -> Registration {
    Registration {
        username: username.to_owned(),
        password: PASSWORD.to_owned(),
        ..Registration::default()
    }
}

/// Latency percentiles of a sorted sample.
#[derive(Debug, Clone, Copy, Default)]
pub struct Percentiles {
    /// Median.
    pub p50: Duration,
    /// 99th percentile.
    pub p99: Duration,
    /// Largest.
    pub max: Duration,
}

impl Percentiles {
    /// Sorts `sample` and reads its percentiles (all zero for an empty sample).
    pub fn of(sample: &mut [Duration]) -> Self {
        if sample.is_empty() {
            return Self::default();
        }
        sample.sort_unstable();
        let at = |q: f64| sample[((sample.len() - 1) as f64 * q).round() as usize];
        Self {
            p50: at(0.50),
            p99: at(0.99),
            max: sample[sample.len() - 1],
        }
    }
}

/// Milliseconds with two decimals, for tables.
pub fn ms(d: Duration) -> String {
    format!("{:.2}", d.as_secs_f64() * 1000.0)
}

/// The value of `--name value` among the command-line arguments.
pub fn arg(name: &str) -> Option<String> {
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        if a == name {
            return args.next();
        }
        if let Some(v) = a.strip_prefix(name).and_then(|r| r.strip_prefix('=')) {
            return Some(v.to_owned());
        }
    }
    None
}

/// A comma-separated list argument, e.g. `--posters 1,8,64`.
pub fn list_arg<T: std::str::FromStr + Clone>(name: &str, default: &[T]) -> Vec<T> {
    match arg(name) {
        Some(v) => v
            .split(',')
            .map(|p| {
                p.trim()
                    .parse()
                    .unwrap_or_else(|_| panic!("{name}: cannot parse {p:?}"))
            })
            .collect(),
        None => default.to_vec(),
    }
}

/// The 1-, 5- and 15-minute load averages (other work on the machine skews the numbers).
pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg").map_or_else(
        |_| "unknown".to_owned(),
        |l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "),
    )
}
