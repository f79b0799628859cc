//! WebSocket load on `/ws/api/chat/{id}/`: the `chat-server` release binary (auth, the core,
//! SQLite, the group-commit writer) against a broadcast-only WebSocket server (no auth, no
//! storage: what this machine can do at all) in the same run, under the same load, scenario
//! by scenario; each target printed as a ratio with PASS or MISS.
//!
//! ```text
//! cargo build --release -p benches -p chat-server
//! target/release/ws_load [--scenarios throughput,latency,idle] [--repeat 1] [--secs 5]
//!     [--warmup-secs 1] [--sockets 100] [--senders 10] [--rate 1000] [--idle-sockets 10000]
//!     [--users 100] [--in-flight 32] [--content-chars 100] [--client-threads 2]
//!     [--server-bin target/release/chat-server | --in-process] [--sqlite-dir /tmp] [--smoke]
//! ```
//!
//! Scenarios (each a new chat; every socket of it receives every message):
//! - `throughput`: `--sockets` sockets, the first `--senders` of them also sending as fast
//!   as the sockets take the messages (at most `--in-flight` of a sender's messages not yet
//!   at every socket); deliveries/s.
//! - `latency`: the same sockets, `--rate` messages/s in all, on a fixed schedule; delivery
//!   latency p50/p99 from when each frame was handed to its socket.
//! - `idle`: on freshly started servers, 100 sockets, then the server's RSS, then
//!   `--idle-sockets` more, then its RSS again: the difference per socket. Then 3 messages
//!   must reach every one of them.
//!
//! Every run checks every socket: nothing lost, duplicated or reordered (by `seq`, and by
//! each sender's own numbering), no `error` frame, no socket closed by the server; on the
//! real server the chat's history must hold exactly the acknowledged messages, gapless.
//! `chat-server` runs with `--ws-send-per-second 10000 --ws-send-burst 100000
//! --connection-limit 50000` and otherwise its defaults. `--smoke` is a few seconds of
//! tiny numbers (the unit test runs it with both servers in this process: `--in-process`).
//!
//! Modules: `load` (the sockets, senders and checks), `baseline` (the broadcast-only
//! server), `servers` (starting, setting up and stopping both).

mod baseline;
mod load;
mod servers;

use benches::{
    BoxError, Summary, arg, exit_if_failed, fsync_latency, list_arg, load_average, machine, ms,
    repeat_arg, run_rounds, sqlite_dir_arg,
};
use load::{Load, Report};
use servers::{Kind, Server};
use std::collections::HashMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// The synopsis `--help` prints.
const USAGE: &str = "
ws_load [--scenarios throughput,latency,idle] [--repeat 1] [--secs 5] [--warmup-secs 1]
    [--sockets 100] [--senders 10] [--rate 1000] [--idle-sockets 10000] [--users 100]
    [--in-flight 32] [--content-chars 100] [--client-threads 2]
    [--server-bin target/release/chat-server | --in-process] [--sqlite-dir /tmp] [--smoke]
ws_load baseline-server     (the broadcast-only server alone; prints its address)
";

/// Sockets opened (and measured against) before the idle sockets.
const IDLE_WARM: usize = 100;
/// Events a socket may fall behind its chat on both servers (chatcore's default
/// `subscriber_buffer`).
const SERVER_BUFFER: usize = 1024;
/// `fsync`s of the probe before each run.
const FSYNC_PROBES: usize = 10;
/// Upgrades in flight at once while connecting.
const CONNECT_PARALLEL: usize = 64;

/// What a run measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Scenario {
    Throughput,
    Latency,
    Idle,
}

impl Scenario {
    fn parse(s: &str) -> Self {
        match s {
            "throughput" => Scenario::Throughput,
            "latency" => Scenario::Latency,
            "idle" => Scenario::Idle,
            other => panic!("unknown scenario {other:?} (throughput, latency, idle)"),
        }
    }
}

/// Where `chat-server` comes from.
#[derive(Debug, Clone)]
enum Mode {
    /// The binary at this path, and the baseline as this binary's child.
    Binary(PathBuf),
    /// Both in this process (the smoke test: no release build needed).
    InProcess,
}

#[derive(Debug, Clone)]
struct Options {
    scenarios: Vec<Scenario>,
    repeat: usize,
    warmup: Duration,
    window: Duration,
    sockets: usize,
    senders: usize,
    rate: f64,
    idle_sockets: usize,
    users: usize,
    in_flight: usize,
    content_chars: usize,
    client_threads: usize,
    mode: Mode,
    sqlite_dir: PathBuf,
}

impl Options {
    fn from_args() -> Self {
        let smoke = std::env::args().any(|a| a == "--smoke");
        let number = |name: &str, full: usize, small: usize| -> usize {
            arg(name).map_or(if smoke { small } else { full }, |v| {
                v.parse().unwrap_or_else(|_| panic!("{name}: a count"))
            })
        };
        let mode = if std::env::args().any(|a| a == "--in-process") {
            Mode::InProcess
        } else {
            let program = arg("--server-bin").map_or_else(
                || {
                    std::env::current_exe()
                        .expect("the bench's own path")
                        .with_file_name("chat-server")
                },
                PathBuf::from,
            );
            assert!(
                program.exists(),
                "{}: no such file; build it (cargo build --release -p chat-server), pass --server-bin, or use --in-process",
                program.display()
            );
            Mode::Binary(program)
        };
        let sockets = number("--sockets", 100, 6);
        Self {
            scenarios: list_arg(
                "--scenarios",
                &["throughput".to_owned(), "latency".into(), "idle".into()],
            )
            .iter()
            .map(|s| Scenario::parse(s))
            .collect(),
            repeat: repeat_arg(),
            warmup: Duration::from_secs(number("--warmup-secs", 1, 0) as u64),
            window: Duration::from_secs(number("--secs", 5, 1) as u64),
            sockets,
            senders: number("--senders", 10, 2),
            rate: arg("--rate").map_or(if smoke { 100.0 } else { 1000.0 }, |v| {
                v.parse().expect("--rate: messages per second")
            }),
            idle_sockets: number("--idle-sockets", 10_000, 20),
            users: number("--users", sockets.min(100), sockets.min(100)),
            in_flight: number("--in-flight", 32, 8),
            content_chars: number("--content-chars", 100, 100),
            client_threads: number("--client-threads", 2, 2),
            mode,
            sqlite_dir: sqlite_dir_arg(),
        }
    }

    /// A few seconds of tiny numbers with both servers in this process.
    #[cfg(test)]
    fn smoke() -> Self {
        Self {
            scenarios: vec![Scenario::Throughput, Scenario::Latency, Scenario::Idle],
            repeat: 1,
            warmup: Duration::ZERO,
            window: Duration::from_secs(1),
            sockets: 6,
            senders: 2,
            rate: 100.0,
            idle_sockets: 20,
            users: 3,
            in_flight: 8,
            content_chars: 100,
            client_threads: 2,
            mode: Mode::InProcess,
            sqlite_dir: std::env::temp_dir(),
        }
    }

    fn load(&self, scenario: Scenario) -> Load {
        let common = Load {
            senders: self.senders,
            rate: None,
            warmup: self.warmup,
            window: self.window,
            in_flight: self.in_flight,
            per_sender: None,
            content_chars: self.content_chars,
            drain: Duration::from_secs(10),
        };
        match scenario {
            Scenario::Throughput => common,
            // An open loop: the window is only a safety net (a sender late by that many
            // messages would wait, and its wait would count in the latency).
            Scenario::Latency => Load {
                rate: Some(self.rate),
                in_flight: 1024 / self.senders.max(1),
                ..common
            },
            // Three messages from one sender through every socket, to check they all live.
            Scenario::Idle => Load {
                senders: 1,
                warmup: Duration::ZERO,
                window: Duration::from_secs(30),
                in_flight: 1,
                per_sender: Some(3),
                drain: Duration::from_secs(30),
                ..common
            },
        }
    }
}

/// One measurement's settings.
#[derive(Debug, Clone, Copy)]
struct Cell {
    scenario: Scenario,
    kind: Kind,
}

/// The server's memory around the idle sockets.
#[derive(Debug, Clone, Copy)]
struct Memory {
    before: u64,
    after: u64,
    sockets: usize,
    connect: Duration,
}

impl Memory {
    fn per_socket(&self) -> f64 {
        self.after.saturating_sub(self.before) as f64 / self.sockets.max(1) as f64
    }
}

/// One measurement's result.
#[derive(Debug, Clone)]
struct Outcome {
    cell: Cell,
    /// Which round of `--repeat` (from 1).
    round: usize,
    report: Report,
    /// The server's CPU time over the load, as a share of one core (200 % = both cores).
    server_cpu: Option<f64>,
    memory: Option<Memory>,
    load: String,
    /// `fsync` p50 / max ms in the SQLite directory just before the run.
    fsync: String,
}

impl Outcome {
    /// What the median run is chosen by.
    fn key(&self) -> f64 {
        match self.cell.scenario {
            Scenario::Throughput => self.report.per_second,
            Scenario::Latency => self.report.latency.p99.as_secs_f64(),
            Scenario::Idle => self.memory.map_or(0.0, |m| m.per_socket()),
        }
    }
}

fn main() {
    if std::env::args().nth(1).as_deref() == Some("baseline-server") {
        servers::baseline_main();
        return;
    }
    benches::help(USAGE);
    let options = Options::from_args();
    match run(&options) {
        Ok(result) => {
            print_results(&options, &result);
            exit_if_failed(result.failures);
        }
        Err(e) => {
            eprintln!("ws_load: {e}");
            std::process::exit(1);
        }
    }
}

/// Every run's outcomes and the failures.
struct RunResult {
    summaries: Vec<Summary<Outcome>>,
    /// Every run, for the zero-loss target (it holds in every run, not in the median).
    all: Vec<Outcome>,
    failures: usize,
}

impl RunResult {
    /// The runs of one cell.
    fn summary(&self, scenario: Scenario, kind: Kind) -> Option<&Summary<Outcome>> {
        self.summaries
            .iter()
            .find(|s| s.median.cell.scenario == scenario && s.median.cell.kind == kind)
    }

    /// The runs of `scenario`, each server's run of a round together (they ran one right
    /// after the other, so they saw the same machine). Rounds in which either failed are
    /// left out.
    fn pairs(&self, scenario: Scenario) -> Vec<(&Outcome, &Outcome)> {
        let of = |kind: Kind| {
            self.all
                .iter()
                .filter(move |o| o.cell.scenario == scenario && o.cell.kind == kind)
        };
        of(Kind::Real)
            .filter_map(|real| {
                of(Kind::Baseline)
                    .find(|base| base.round == real.round)
                    .map(|base| (real, base))
            })
            .collect()
    }
}

/// The median of `values` (of an even count, the mean of the middle two); `None` for none.
fn median(mut values: Vec<f64>) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let n = values.len();
    Some(if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    })
}

fn run(options: &Options) -> Result<RunResult, BoxError> {
    // Every socket is a file in this process, and another in the server's (the same one,
    // with the servers in this process); the limit is inherited by the servers.
    let ends = match options.mode {
        Mode::Binary(_) => 1,
        Mode::InProcess => 2,
    };
    let needed = (options.idle_sockets + IDLE_WARM + options.sockets) as u64 * ends + 1024;
    if options.senders * options.in_flight > SERVER_BUFFER {
        eprintln!(
            "note: {} senders × {} messages in flight exceed the servers' buffer of {SERVER_BUFFER} events per socket: a sending socket that is slow to read its own deliveries will be closed (4000)",
            options.senders, options.in_flight
        );
    }
    let open_files = servers::raise_open_files(needed.max(65_536));
    if open_files < needed {
        return Err(format!(
            "{needed} open files needed, the limit is {open_files}: raise `ulimit -n`"
        )
        .into());
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(options.client_threads)
        .thread_name("client")
        .enable_all()
        .build()?;
    println!(
        "# WebSocket load: {} sockets, {} senders, {} s measured after {} s warm-up, {} run(s) per cell, {}; {}\n",
        options.sockets,
        options.senders,
        options.window.as_secs(),
        options.warmup.as_secs(),
        options.repeat,
        match &options.mode {
            Mode::Binary(p) => format!("`{}` vs `ws_load baseline-server`", p.display()),
            Mode::InProcess => "both servers in this process".to_owned(),
        },
        machine()
    );
    println!(
        "SQLite in {} (fsync p50 / max: {} ms).\n",
        options.sqlite_dir.display(),
        fsync_latency(&options.sqlite_dir, FSYNC_PROBES)
    );
    let cells: Vec<Cell> = options
        .scenarios
        .iter()
        .flat_map(|&scenario| [Kind::Real, Kind::Baseline].map(|kind| Cell { scenario, kind }))
        .collect();
    let mut shared: HashMap<Kind, Server> = HashMap::new();
    let mut rounds_done: HashMap<(Scenario, Kind), usize> = HashMap::new();
    let rounds = run_rounds(
        "ws_load",
        &cells,
        options.repeat,
        |cell| {
            let round = rounds_done.entry((cell.scenario, cell.kind)).or_insert(0);
            *round += 1;
            let round = *round;
            runtime
                .block_on(measure(*cell, options, &mut shared))
                .map(|o| Outcome { round, ..o })
        },
        |cell, o| {
            format!(
                "{:?} {}: {:.0} deliveries/s, {:.0} msgs/s, p50 {} ms, p99 {} ms, {}{} (load {}, fsync p50/max {} ms)",
                cell.scenario,
                cell.kind.label(),
                o.report.per_second,
                o.report.messages_per_second,
                ms(o.report.latency.p50),
                ms(o.report.latency.p99),
                o.report.checks(),
                o.memory.map_or(String::new(), |m| format!(
                    ", {:.1} KiB per idle socket",
                    m.per_socket() / 1024.0
                )),
                o.load,
                o.fsync,
            )
        },
    );
    for (_, server) in shared.drain() {
        runtime.block_on(server.stop())?;
    }
    let all: Vec<Outcome> = rounds.runs.iter().flatten().cloned().collect();
    let failures = rounds.failures;
    Ok(RunResult {
        summaries: rounds.summaries(Outcome::key),
        all,
        failures,
    })
}

/// Starts a server of `kind`.
async fn start(kind: Kind, options: &Options) -> Result<Server, BoxError> {
    match (kind, &options.mode) {
        (Kind::Real, Mode::Binary(program)) => {
            Server::real_child(program, &options.sqlite_dir, options.users).await
        }
        (Kind::Real, Mode::InProcess) => {
            Server::real_in_process(&options.sqlite_dir, options.users).await
        }
        (Kind::Baseline, Mode::Binary(_)) => Server::baseline_child(),
        (Kind::Baseline, Mode::InProcess) => Server::baseline_in_process().await,
    }
}

async fn measure(
    cell: Cell,
    options: &Options,
    shared: &mut HashMap<Kind, Server>,
) -> Result<Outcome, BoxError> {
    let load = options.load(cell.scenario);
    if cell.scenario == Scenario::Idle {
        // Fresh servers, so that no memory freed by an earlier run is reused.
        let mut server = start(cell.kind, options).await?;
        let result = idle(cell, &mut server, options, load).await;
        server.stop().await?;
        return result;
    }
    let server = match shared.entry(cell.kind) {
        std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
        std::collections::hash_map::Entry::Vacant(e) => e.insert(start(cell.kind, options).await?),
    };
    let target = server.new_chat().await?;
    let sockets = load::connect_all(&target, options.sockets, CONNECT_PARALLEL, 64 * 1024).await?;
    let fsync = fsync_latency(&options.sqlite_dir, FSYNC_PROBES);
    let cpu_before = server.pid().and_then(servers::cpu_seconds);
    let started = Instant::now();
    let report = load::drive(sockets, load).await?;
    let elapsed = started.elapsed().as_secs_f64();
    let cpu_after = server.pid().and_then(servers::cpu_seconds);
    check_stored(server, &target, &report).await?;
    Ok(Outcome {
        cell,
        round: 0,
        report,
        server_cpu: cpu_before
            .zip(cpu_after)
            .map(|(b, a)| (a - b) / elapsed * 100.0),
        memory: None,
        load: load_average(),
        fsync,
    })
}

/// The idle scenario on a fresh `server`.
async fn idle(
    cell: Cell,
    server: &mut Server,
    options: &Options,
    load: Load,
) -> Result<Outcome, BoxError> {
    let target = server.new_chat().await?;
    let mut sockets = load::connect_all(&target, IDLE_WARM, CONNECT_PARALLEL, 4096).await?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let before = server.pid().and_then(servers::rss_bytes);
    let started = Instant::now();
    sockets.extend(load::connect_all(&target, options.idle_sockets, CONNECT_PARALLEL, 4096).await?);
    let connect = started.elapsed();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let after = server.pid().and_then(servers::rss_bytes);
    let report = load::drive(sockets, load).await?;
    check_stored(server, &target, &report).await?;
    Ok(Outcome {
        cell,
        round: 0,
        report,
        server_cpu: None,
        memory: before.zip(after).map(|(before, after)| Memory {
            before,
            after,
            sockets: options.idle_sockets,
            connect,
        }),
        load: load_average(),
        fsync: fsync_latency(&options.sqlite_dir, FSYNC_PROBES),
    })
}

/// On the real server: the chat's history holds exactly the acknowledged messages.
async fn check_stored(
    server: &Server,
    target: &load::Target,
    report: &Report,
) -> Result<(), BoxError> {
    if let Some(stored) = server.stored(target.chat).await? {
        let stored = u64::try_from(stored)?;
        if stored != report.acked {
            return Err(format!(
                "{} messages acknowledged, {stored} stored in chat {}",
                report.acked, target.chat
            )
            .into());
        }
    }
    Ok(())
}

// ----- the tables and the targets ---------------------------------------------------------

fn print_results(options: &Options, result: &RunResult) {
    let median_note = if options.repeat > 1 {
        format!(
            "Median of {} runs (range: the other runs' extremes); the other columns are the median run's.\n",
            options.repeat
        )
    } else {
        String::new()
    };
    for scenario in &options.scenarios {
        let rows: Vec<&Summary<Outcome>> = [Kind::Real, Kind::Baseline]
            .iter()
            .filter_map(|&kind| result.summary(*scenario, kind))
            .collect();
        match scenario {
            Scenario::Throughput | Scenario::Latency => {
                if *scenario == Scenario::Throughput {
                    println!(
                        "## {} sockets, {} senders, as fast as possible\n",
                        options.sockets, options.senders
                    );
                } else {
                    println!(
                        "## {} messages/s into a chat of {} sockets ({} senders)\n",
                        options.rate, options.sockets, options.senders
                    );
                }
                print!("{median_note}");
                println!(
                    "| server | deliveries/s | range | messages/s | p50 ms | p99 ms | max ms | server CPU % | lost | duplicated | reordered | errors | closed early | load | fsync p50 / max ms |"
                );
                println!(
                    "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|"
                );
                for s in rows {
                    let o = &s.median;
                    let r = &o.report;
                    let range = if s.runs > 1 {
                        match scenario {
                            Scenario::Latency => format!(
                                "p99 {:.2}–{:.2} ms",
                                s.slowest * 1000.0,
                                s.fastest * 1000.0
                            ),
                            _ => s.range(),
                        }
                    } else {
                        "—".to_owned()
                    };
                    println!(
                        "| {} | {:.0} | {range} | {:.0} | {} | {} | {} | {} | {} | {} | {} |",
                        o.cell.kind.label(),
                        r.per_second,
                        r.messages_per_second,
                        ms(r.latency.p50),
                        ms(r.latency.p99),
                        ms(r.latency.max),
                        o.server_cpu.map_or("—".to_owned(), |c| format!("{c:.0}")),
                        r.check_cells(),
                        o.load,
                        o.fsync,
                    );
                }
                println!();
            }
            Scenario::Idle => {
                println!(
                    "## {} idle sockets (after {IDLE_WARM} warm ones)\n",
                    options.idle_sockets
                );
                print!("{median_note}");
                println!(
                    "| server | RSS before MiB | RSS after MiB | per socket KiB | connect s | lost | duplicated | reordered | errors | closed early | load |"
                );
                println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|");
                for s in rows {
                    let o = &s.median;
                    let r = &o.report;
                    let mib = |b: u64| format!("{:.1}", b as f64 / (1024.0 * 1024.0));
                    let (before, after, per, connect) = o.memory.map_or_else(
                        || {
                            (
                                "—".to_owned(),
                                "—".to_owned(),
                                "—".to_owned(),
                                "—".to_owned(),
                            )
                        },
                        |m| {
                            (
                                mib(m.before),
                                mib(m.after),
                                format!("{:.1}", m.per_socket() / 1024.0),
                                format!("{:.1}", m.connect.as_secs_f64()),
                            )
                        },
                    );
                    println!(
                        "| {} | {before} | {after} | {per} | {connect} | {} | {} |",
                        o.cell.kind.label(),
                        r.check_cells(),
                        o.load,
                    );
                }
                println!();
            }
        }
    }
    println!("## Targets\n");
    for line in targets(options, result) {
        println!("- {line}");
    }
    println!("\nLoad average at the end: {}", load_average());
}

/// Each target as a ratio with PASS or MISS (or why it could not be judged). A ratio is
/// taken within each round, between the two servers' runs back to back, and the median of
/// those ratios is judged: the load of this shared machine changes from minute to minute,
/// and a ratio of two medians from different minutes would compare the minutes.
fn targets(options: &Options, result: &RunResult) -> Vec<String> {
    let verdict = |pass: bool| if pass { "PASS" } else { "MISS" };
    let mut lines = Vec::new();
    let throughput = result.pairs(Scenario::Throughput);
    if !throughput.is_empty() {
        let ratios: Vec<f64> = throughput
            .iter()
            .map(|(real, base)| real.report.per_second / base.report.per_second.max(f64::EPSILON))
            .collect();
        let rounds: Vec<String> = throughput
            .iter()
            .zip(&ratios)
            .map(|((real, base), ratio)| {
                format!(
                    "{:.0} % ({:.0} / {:.0})",
                    ratio * 100.0,
                    real.report.per_second,
                    base.report.per_second
                )
            })
            .collect();
        let ratio = median(ratios).unwrap_or(0.0);
        lines.push(format!(
            "{} sockets, {} senders, as fast as possible: chat-server / broadcast-only deliveries/s = {:.0} % (median of rounds: {}; target ≥ 50 %): {}",
            options.sockets,
            options.senders,
            ratio * 100.0,
            rounds.join(", "),
            verdict(ratio >= 0.5)
        ));
    }
    let latency = result.pairs(Scenario::Latency);
    if !latency.is_empty() {
        // A round where even the broadcast-only server fell behind the rate measured the
        // machine's overload, not the server: its p99 is a queue, and so is the ratio.
        let carried = |o: &Outcome| o.report.messages_per_second >= 0.95 * options.rate;
        let mut ratios = Vec::new();
        let rounds: Vec<String> = latency
            .iter()
            .map(|(real, base)| {
                let ratio = real.report.latency.p99.as_secs_f64()
                    / base.report.latency.p99.as_secs_f64().max(1e-9);
                let fell_behind = |o: &Outcome| {
                    if carried(o) {
                        String::new()
                    } else {
                        format!(
                            ", {} carried only {:.0} msg/s",
                            o.cell.kind.label(),
                            o.report.messages_per_second
                        )
                    }
                };
                if carried(base) {
                    ratios.push(ratio);
                    format!(
                        "{ratio:.2}× ({} / {} ms{})",
                        ms(real.report.latency.p99),
                        ms(base.report.latency.p99),
                        fell_behind(real)
                    )
                } else {
                    format!("void ({})", fell_behind(base).trim_start_matches(", "))
                }
            })
            .collect();
        let line = format!(
            "{} msg/s into {} sockets: p99 chat-server / broadcast-only",
            options.rate, options.sockets
        );
        lines.push(match median(ratios) {
            Some(ratio) => format!(
                "{line} = {ratio:.2}× (median of rounds: {}; target ≤ 2×): {}",
                rounds.join(", "),
                verdict(ratio <= 2.0)
            ),
            None => format!(
                "{line}: NOT JUDGED (rounds: {}; the broadcast-only server itself did not carry the rate)",
                rounds.join(", ")
            ),
        });
    }
    let idle = result.pairs(Scenario::Idle);
    if !idle.is_empty() {
        let kib = |o: &Outcome| o.memory.map(|m| m.per_socket() / 1024.0);
        match median(idle.iter().filter_map(|(real, _)| kib(real)).collect()) {
            Some(real) => {
                let base = median(idle.iter().filter_map(|(_, base)| kib(base)).collect())
                    .unwrap_or(0.0);
                lines.push(format!(
                    "{} idle sockets: chat-server {real:.1} KiB of RSS per socket (broadcast-only: {base:.1} KiB) = {:.2}× the 16 KiB budget (target ≤ 1×): {}",
                    options.idle_sockets,
                    real / 16.0,
                    verdict(real <= 16.0)
                ));
            }
            None => lines.push(
                "idle sockets: not judged (the server runs in this process, its RSS is the bench's)"
                    .to_owned(),
            ),
        }
    }
    let dirty: Vec<String> = result
        .all
        .iter()
        .filter(|o| !o.report.clean())
        .map(|o| {
            format!(
                "{:?} {} ({})",
                o.cell.scenario,
                o.cell.kind.label(),
                o.report.checks()
            )
        })
        .collect();
    let deliveries: u64 = result
        .all
        .iter()
        .map(|o| o.report.acked * o.report.sockets)
        .sum();
    lines.push(format!(
        "zero lost, duplicated or reordered deliveries in every run: {} of {} runs clean, {deliveries} deliveries checked{}{}: {}",
        result.all.len() - dirty.len(),
        result.all.len(),
        if result.failures > 0 {
            format!(", {} runs FAILED", result.failures)
        } else {
            String::new()
        },
        if dirty.is_empty() {
            String::new()
        } else {
            format!("; not clean: {}", dirty.join("; "))
        },
        verdict(dirty.is_empty() && result.failures == 0)
    ));
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The generator against both servers in this process, tiny and short: it must run every
    /// scenario and find every delivery. No timing is asserted.
    #[test]
    fn the_smoke_run_delivers_everything_in_every_scenario() {
        let options = Options::smoke();
        let result = run(&options).expect("the smoke run completes");
        assert_eq!(result.failures, 0);
        assert_eq!(result.all.len(), 6, "3 scenarios × 2 servers");
        for o in &result.all {
            assert!(
                o.report.clean(),
                "{:?} {}: {:?}",
                o.cell.scenario,
                o.cell.kind.label(),
                o.report
            );
            assert!(o.report.acked > 0, "{:?}: nothing was sent", o.cell);
        }
        let lines = targets(&options, &result);
        assert!(
            lines.last().is_some_and(|l| l.ends_with("PASS")),
            "{lines:?}"
        );
    }
}
