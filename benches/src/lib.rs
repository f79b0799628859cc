//! What the load generators in `src/bin/` share: a fresh core per measurement on a
//! temporary SQLite file or in a throwaway PostgreSQL schema, bench users and the gapless
//! read-back, the matrix of cells run in rounds with its median summaries, latency
//! statistics, and the command line. Nothing here is used outside the benchmarks.

pub mod child_server;

use chatcore::broker::LocalBroker;
use chatcore::model::{ChatId, MAX_PAGE_LIMIT, Message, PageRequest, Registration};
use chatcore::testing::PgTestSchema;
use chatcore::{Actor, ChatCore, Config};
use std::fmt::{Debug, Display};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The error of a failed measurement or setup step.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

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

    /// The backend a `--backends` item names: `sqlite` (a file under `sqlite_dir`) or
    /// `postgres` ([`Backend::postgres_from_env`]).
    pub fn parse(name: &str, sqlite_dir: &Path) -> Self {
        match name {
            "sqlite" => Backend::Sqlite(sqlite_dir.to_owned()),
            "postgres" => Backend::postgres_from_env(),
            other => panic!("unknown backend {other:?} (sqlite, postgres)"),
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
    let users = register_users(core, prefix, n).await?;
    Ok((admin, users.into_iter().map(|(actor, _)| actor).collect()))
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

/// Reads `chat` back through `history` pages of the largest size, as `reader`, calling
/// `each` on every message; fails unless the `seq`s are exactly 1..n. Returns n.
pub async fn read_back(
    core: &ChatCore,
    reader: &Actor,
    chat: ChatId,
    mut each: impl FnMut(&Message),
) -> Result<i64, BoxError> {
    let mut after = 0;
    loop {
        let page = PageRequest::after(after, MAX_PAGE_LIMIT)?;
        let messages = core.messaging().history(reader, chat, page).await?;
        for m in &messages {
            if m.seq != after + 1 {
                return Err(format!("seq {} follows {after}", m.seq).into());
            }
            after = m.seq;
            each(m);
        }
        if messages.len() < MAX_PAGE_LIMIT as usize {
            return Ok(after);
        }
    }
}

fn registration(username: &str) -> Registration {
    Registration {
        username: username.to_owned(),
        password: PASSWORD.to_owned(),
        ..Registration::default()
    }
}

// ----- the matrix, run in rounds --------------------------------------------------------

/// Every combination of one item of `a`, one of `b` and one of `c`, made into a cell by
/// `cell`, in the order of nested loops (`a` outermost, `c` innermost).
pub fn cells<A: Copy, B: Copy, C: Copy, T>(
    a: &[A],
    b: &[B],
    c: &[C],
    cell: impl Fn(A, B, C) -> T,
) -> Vec<T> {
    let mut cells = Vec::with_capacity(a.len() * b.len() * c.len());
    for &x in a {
        for &y in b {
            for &z in c {
                cells.push(cell(x, y, z));
            }
        }
    }
    cells
}

/// What [`run_rounds`] gives back: the successful runs of each cell, in the order of the
/// cells, and the number of failed runs.
pub struct Rounds<O> {
    /// The outcomes of each cell's successful runs.
    pub runs: Vec<Vec<O>>,
    /// Runs that failed (each reported on stderr).
    pub failures: usize,
}

impl<O> Rounds<O> {
    /// The [`Summary`] of every cell that succeeded at least once, by `rate`.
    pub fn summaries(self, rate: impl Fn(&O) -> f64) -> Vec<Summary<O>> {
        self.runs
            .into_iter()
            .filter_map(|runs| Summary::of(runs, &rate))
            .collect()
    }
}

/// Measures every cell `repeat` times. Rounds go over the whole matrix, so a burst of other
/// load on the machine hits one run of many cells rather than every run of one cell. Each
/// run is reported on stderr as `{label} round {round}/{repeat} {describe(cell, outcome)}`,
/// each failure as `{label} {cell:?}: FAILED: {error}`.
pub fn run_rounds<C: Debug, O, E: Display>(
    label: &str,
    cells: &[C],
    repeat: usize,
    mut measure: impl FnMut(&C) -> Result<O, E>,
    describe: impl Fn(&C, &O) -> String,
) -> Rounds<O> {
    let mut runs: Vec<Vec<O>> = cells.iter().map(|_| Vec::new()).collect();
    let mut failures = 0;
    for round in 1..=repeat {
        for (cell, runs) in cells.iter().zip(&mut runs) {
            match measure(cell) {
                Ok(outcome) => {
                    eprintln!(
                        "{label} round {round}/{repeat} {}",
                        describe(cell, &outcome)
                    );
                    runs.push(outcome);
                }
                Err(e) => {
                    failures += 1;
                    eprintln!("{label} {cell:?}: FAILED: {e}");
                }
            }
        }
    }
    Rounds { runs, failures }
}

/// The runs of one cell: the median run by rate, and the spread.
pub struct Summary<O> {
    /// The median run (of an even count, the faster of the middle two).
    pub median: O,
    /// The slowest run's rate.
    pub slowest: f64,
    /// The fastest run's rate.
    pub fastest: f64,
    /// How many runs there were.
    pub runs: usize,
}

impl<O> Summary<O> {
    /// Sorts `runs` by `rate` and keeps the median and the range; `None` for no runs.
    pub fn of(mut runs: Vec<O>, rate: impl Fn(&O) -> f64) -> Option<Self> {
        runs.sort_by(|a, b| rate(a).total_cmp(&rate(b)));
        let slowest = rate(runs.first()?);
        let fastest = rate(runs.last()?);
        let count = runs.len();
        let median = runs.swap_remove(count / 2);
        Some(Self {
            median,
            slowest,
            fastest,
            runs: count,
        })
    }

    /// The range column: `slowest–fastest`, or `—` for a single run.
    pub fn range(&self) -> String {
        if self.runs > 1 {
            format!("{:.0}–{:.0}", self.slowest, self.fastest)
        } else {
            "—".to_owned()
        }
    }
}

/// Above a table of medians: what the numbers are when every cell ran `repeat` times
/// (nothing for a single run). `rate` names the sorting column, e.g. `msgs/s`.
pub fn print_median_note(repeat: usize, rate: &str) {
    if repeat > 1 {
        println!(
            "Median of {repeat} runs by {rate} (range: slowest–fastest run); the other columns are the median run's.\n"
        );
    }
}

/// Exits with status 1, saying how many measurements failed, when any did.
pub fn exit_if_failed(failures: usize) {
    if failures > 0 {
        eprintln!("{failures} measurements FAILED (see above)");
        std::process::exit(1);
    }
}

// ----- a closed-loop measurement -------------------------------------------------------------

/// The timeline of a closed-loop measurement: every worker waits for `start` (a moment
/// after setup, so that all start together), warms up until `measured_from`, and starts no
/// request at or after `until`.
#[derive(Debug, Clone, Copy)]
pub struct Window {
    /// When the workers start.
    pub start: Instant,
    /// The end of the warm-up: requests that begin from here on are measured.
    pub measured_from: Instant,
    /// No request begins at or after this.
    pub until: Instant,
}

impl Window {
    /// A timeline starting 50 ms from now: `warmup`, then the measured `window`.
    pub fn new(warmup: Duration, window: Duration) -> Self {
        let start = Instant::now() + Duration::from_millis(50);
        let measured_from = start + warmup;
        Self {
            start,
            measured_from,
            until: measured_from + window,
        }
    }

    /// The moment a worker begins its next request: now, or `None` once the window is over.
    pub fn next_start(&self) -> Option<Instant> {
        let now = Instant::now();
        (now < self.until).then_some(now)
    }

    /// Whether a request that began at `began` is measured (it began after the warm-up).
    pub fn measures(&self, began: Instant) -> bool {
        began >= self.measured_from
    }
}

/// The measured requests of one or more workers: when each ended (from the end of the
/// warm-up) and how long it took.
#[derive(Debug, Default)]
pub struct Samples {
    ended_and_took: Vec<(Duration, Duration)>,
}

impl Samples {
    /// Records a request from `began` to `done`, when `window` measures it.
    pub fn record(&mut self, window: &Window, began: Instant, done: Instant) {
        if window.measures(began) {
            self.ended_and_took
                .push((done - window.measured_from, done - began));
        }
    }

    /// Adds another worker's samples.
    pub fn merge(&mut self, other: Samples) {
        self.ended_and_took.extend(other.ended_and_took);
    }

    /// From the end of the warm-up to the last measured end, and every latency.
    pub fn into_parts(self) -> (Duration, Vec<Duration>) {
        let elapsed = self
            .ended_and_took
            .iter()
            .map(|&(ended, _)| ended)
            .max()
            .unwrap_or(Duration::ZERO);
        let latencies = self
            .ended_and_took
            .into_iter()
            .map(|(_, took)| took)
            .collect();
        (elapsed, latencies)
    }
}

// ----- statistics ------------------------------------------------------------------------

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

// ----- the command line and the machine -------------------------------------------------

/// Prints `usage` and exits when `--help` or `-h` is among the arguments.
pub fn help(usage: &str) {
    if std::env::args().skip(1).any(|a| a == "--help" || a == "-h") {
        println!("{}", usage.trim());
        std::process::exit(0);
    }
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

/// `--repeat` (default 1, at least 1): how many rounds go over the matrix.
pub fn repeat_arg() -> usize {
    arg("--repeat")
        .map_or(1, |v| v.parse().expect("--repeat: a count"))
        .max(1)
}

/// `--sqlite-dir`: where SQLite measurements make their files (default the temp dir).
pub fn sqlite_dir_arg() -> PathBuf {
    arg("--sqlite-dir").map_or_else(std::env::temp_dir, Into::into)
}

/// `{n} cores, load average {1 5 15}`, for a bench's heading.
pub fn machine() -> String {
    format!(
        "{} cores, load average {}",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        load_average()
    )
}

/// The 1-, 5- and 15-minute load averages (other work on the machine skews the numbers).
pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg").map_or_else(
        |_| "unknown".to_owned(),
        |l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "),
    )
}

/// How long `fsync` takes in `dir` right now: `rounds` appends of 4 KiB to a new file, each
/// followed by `fsync`, as `p50 / max` milliseconds. SQLite with `synchronous = FULL` pays
/// one per commit, and other work writing to the same disk (builds) can make it slow.
pub fn fsync_latency(dir: &Path, rounds: usize) -> String {
    use std::io::Write;
    let probe = || -> std::io::Result<Percentiles> {
        let mut file = tempfile::tempfile_in(dir)?;
        let mut times = Vec::with_capacity(rounds);
        for _ in 0..rounds {
            file.write_all(&[0_u8; 4096])?;
            let began = Instant::now();
            file.sync_all()?;
            times.push(began.elapsed());
        }
        Ok(Percentiles::of(&mut times))
    };
    match probe() {
        Ok(p) => format!("{} / {}", ms(p.p50), ms(p.max)),
        Err(e) => format!("unknown ({e})"),
    }
}
