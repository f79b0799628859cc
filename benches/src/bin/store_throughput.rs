//! Messages stored per second through `MessagingService::post` (validation, the
//! group-commit writer, the store), on SQLite and PostgreSQL, with 1, 8 and 64 concurrent
//! posters, group commit (`max_batch = 256`) against one transaction per message
//! (`max_batch = 1`). Prints markdown tables of throughput and post latency.
//!
//! ```text
//! cargo run --release -p benches --bin store_throughput -- \
//!     [--secs 3] [--warmup-ms 500] [--repeat 1] [--posters 1,8,64] [--batches 256,1] \
//!     [--backends sqlite,postgres] [--scenarios one-chat,chat-per-poster] [--sqlite-dir /tmp]
//! ```
//!
//! PostgreSQL is the database of `CHAT_TEST_POSTGRES_URL` (default
//! `postgres://postgres@127.0.0.1:5432/test`); every measurement gets its own schema, and
//! every SQLite measurement its own file, so each starts from empty tables.

use benches::{
    Backend, BenchCore, BoxError, Percentiles, Samples, Summary, Window, arg, cells, create_users,
    exit_if_failed, list_arg, load_average, machine, ms, print_median_note, read_back, repeat_arg,
    run_rounds, sqlite_dir_arg,
};
use chatcore::model::{ChatId, NewChat, NewMessage};
use chatcore::{Actor, Config};
use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How the posters are spread over chats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scenario {
    /// Every poster is a member of one shared chat (contention on one chat row).
    OneChat,
    /// Each poster has a chat of their own.
    ChatPerPoster,
}

impl Scenario {
    fn parse(s: &str) -> Self {
        match s {
            "one-chat" => Scenario::OneChat,
            "chat-per-poster" => Scenario::ChatPerPoster,
            other => panic!("unknown scenario {other:?} (one-chat, chat-per-poster)"),
        }
    }

    fn label(self) -> &'static str {
        match self {
            Scenario::OneChat => "one chat",
            Scenario::ChatPerPoster => "chat per poster",
        }
    }
}

/// One measurement's settings.
#[derive(Debug, Clone, Copy)]
struct Cell {
    scenario: Scenario,
    posters: usize,
    max_batch: usize,
}

/// One measurement's result.
struct Outcome {
    cell: Cell,
    /// Posts started in the measured window and acknowledged.
    measured: usize,
    /// From the end of the warm-up to the last measured acknowledgement.
    elapsed: Duration,
    latency: Percentiles,
    /// Posts that failed (there should be none).
    errors: usize,
    /// Messages per transaction over the whole run (warm-up included).
    per_transaction: f64,
}

impl Outcome {
    fn per_second(&self) -> f64 {
        self.measured as f64 / self.elapsed.as_secs_f64().max(f64::EPSILON)
    }
}

/// What one poster task reports: its measured posts, the number of acknowledged posts in
/// all, and failures.
struct PosterReport {
    measured: Samples,
    acknowledged: usize,
    errors: usize,
}

/// The synopsis `--help` prints.
const USAGE: &str = "
store_throughput [--secs 3] [--warmup-ms 500] [--repeat 1] [--posters 1,8,64] [--batches 256,1]
    [--backends sqlite,postgres] [--scenarios one-chat,chat-per-poster] [--sqlite-dir /tmp]
";

fn main() {
    benches::help(USAGE);
    let secs: f64 = arg("--secs").map_or(3.0, |v| v.parse().expect("--secs: a number"));
    let warmup_ms: u64 = arg("--warmup-ms").map_or(500, |v| v.parse().expect("--warmup-ms"));
    let repeat = repeat_arg();
    let posters: Vec<usize> = list_arg("--posters", &[1, 8, 64]);
    let batches: Vec<usize> = list_arg("--batches", &[256, 1]);
    let backends: Vec<String> = list_arg("--backends", &["sqlite".into(), "postgres".into()]);
    let scenarios: Vec<Scenario> = list_arg(
        "--scenarios",
        &["one-chat".to_owned(), "chat-per-poster".to_owned()],
    )
    .iter()
    .map(|s| Scenario::parse(s))
    .collect();
    let sqlite_dir = sqlite_dir_arg();
    let window = Duration::from_secs_f64(secs);
    let warmup = Duration::from_millis(warmup_ms);
    // What `#[tokio::main]` would build; each measurement runs on it in turn.
    let runtime = tokio::runtime::Runtime::new().expect("the runtime starts");

    println!(
        "# store throughput: {secs} s per measurement after {warmup_ms} ms warm-up, {repeat} run(s) per cell, {}\n",
        machine()
    );
    let mut failures = 0;
    for backend_name in &backends {
        let backend = Backend::parse(backend_name, &sqlite_dir);
        let cells = cells(
            &scenarios,
            &posters,
            &batches,
            |scenario, posters, max_batch| Cell {
                scenario,
                posters,
                max_batch,
            },
        );
        let rounds = run_rounds(
            backend.label(),
            &cells,
            repeat,
            |cell| runtime.block_on(measure(&backend, *cell, warmup, window)),
            |cell, outcome| format!("{cell:?}: {:.0} msgs/s", outcome.per_second()),
        );
        failures += rounds.failures;
        print_table(&backend, &rounds.summaries(Outcome::per_second), repeat);
        println!(
            "load average after {}: {}\n",
            backend.label(),
            load_average()
        );
    }
    exit_if_failed(failures);
}

/// One run of `cell` on a fresh database: posters post for the warm-up and the window,
/// then every chat is read back.
async fn measure(
    backend: &Backend,
    cell: Cell,
    warmup: Duration,
    window: Duration,
) -> Result<Outcome, BoxError> {
    let config = Config {
        max_batch: cell.max_batch,
        ..Config::for_tests()
    };
    let bench = BenchCore::open(backend, config).await?;
    let core = bench.core();
    let (admin, users) = create_users(core, "poster", cell.posters).await?;
    let chats: Vec<ChatId> = match cell.scenario {
        Scenario::OneChat => {
            let everyone = users.iter().map(Actor::id).collect();
            let chat = core
                .membership()
                .create_chat(&admin, new_chat("load", everyone))
                .await?;
            vec![chat.id; users.len()]
        }
        Scenario::ChatPerPoster => {
            let mut chats = Vec::with_capacity(users.len());
            for (i, user) in users.iter().enumerate() {
                let chat = core
                    .membership()
                    .create_chat(&admin, new_chat(&format!("load {i}"), vec![user.id()]))
                    .await?;
                chats.push(chat.id);
            }
            chats
        }
    };

    let timeline = Window::new(warmup, window);
    let tasks: Vec<_> = users
        .into_iter()
        .zip(chats.iter().copied())
        .enumerate()
        .map(|(i, (user, chat))| {
            let messaging = Arc::clone(core.messaging());
            tokio::spawn(async move {
                tokio::time::sleep_until(timeline.start.into()).await;
                let mut report = PosterReport {
                    measured: Samples::default(),
                    acknowledged: 0,
                    errors: 0,
                };
                let mut k = 0_u64;
                while let Some(began) = timeline.next_start() {
                    k += 1;
                    let content = format!("message {k} from poster {i}: the quick brown fox");
                    let result = messaging
                        .post(
                            &user,
                            chat,
                            NewMessage {
                                content,
                                client_id: None,
                            },
                        )
                        .await;
                    let done = Instant::now();
                    match result {
                        Ok(_) => {
                            report.acknowledged += 1;
                            report.measured.record(&timeline, began, done);
                        }
                        Err(e) => {
                            report.errors += 1;
                            if report.errors == 1 {
                                eprintln!("poster {i}: post failed: {e:?}");
                            }
                        }
                    }
                }
                report
            })
        })
        .collect();

    let mut samples = Samples::default();
    let mut acknowledged = 0;
    let mut errors = 0;
    for task in tasks {
        let report = task.await?;
        acknowledged += report.acknowledged;
        errors += report.errors;
        samples.merge(report.measured);
    }
    let (elapsed, mut latencies) = samples.into_parts();

    // Every acknowledged post is stored, with no gap in any chat's seq. The writer stamps
    // every message of one transaction with the same time, so distinct timestamps count
    // the transactions.
    let mut distinct = chats.clone();
    distinct.dedup();
    let mut stored = 0;
    let mut transactions = HashSet::new();
    for chat in distinct {
        stored += read_back(core, &admin, chat, |m| {
            transactions.insert(m.timestamp);
        })
        .await
        .map_err(|e| format!("chat {chat}: {e}"))?;
    }
    if stored != acknowledged as i64 {
        return Err(format!(
            "{acknowledged} posts were acknowledged but {stored} messages are stored"
        )
        .into());
    }

    bench.shutdown().await;
    Ok(Outcome {
        cell,
        measured: latencies.len(),
        elapsed,
        latency: Percentiles::of(&mut latencies),
        errors,
        per_transaction: stored as f64 / transactions.len().max(1) as f64,
    })
}

fn new_chat(name: &str, participants: Vec<chatcore::model::UserId>) -> NewChat {
    NewChat {
        name: name.to_owned(),
        participants,
    }
}

/// The markdown table of one backend's cells.
fn print_table(backend: &Backend, summaries: &[Summary<Outcome>], repeat: usize) {
    println!("## {}\n", backend.label());
    print_median_note(repeat, "msgs/s");
    println!(
        "| scenario | posters | writes | msgs/s | range | vs 1 tx/msg | msgs/tx | p50 ms | p99 ms | max ms | errors |"
    );
    println!("|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|");
    for s in summaries {
        let o = &s.median;
        let baseline = summaries.iter().find(|b| {
            b.median.cell.max_batch == 1
                && b.median.cell.scenario == o.cell.scenario
                && b.median.cell.posters == o.cell.posters
        });
        let ratio = match baseline {
            Some(b) if o.cell.max_batch != 1 => format!(
                "{:.1}×",
                o.per_second() / b.median.per_second().max(f64::EPSILON)
            ),
            _ => "—".to_owned(),
        };
        let writes = if o.cell.max_batch == 1 {
            "1 tx per message".to_owned()
        } else {
            format!("group commit ≤{}", o.cell.max_batch)
        };
        let range = s.range();
        println!(
            "| {} | {} | {writes} | {:.0} | {range} | {ratio} | {:.1} | {} | {} | {} | {} |",
            o.cell.scenario.label(),
            o.cell.posters,
            o.per_second(),
            o.per_transaction,
            ms(o.latency.p50),
            ms(o.latency.p99),
            ms(o.latency.max),
            o.errors,
        );
    }
    println!();
}
