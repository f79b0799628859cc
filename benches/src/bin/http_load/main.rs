//! Requests per second and latency of the REST API over HTTP/1.1 keep-alive with `Token`
//! auth: `GET /api/chat/{id}/message/?limit=50` (a full page of the latest 50 messages) and
//! `POST /api/chat/{id}/message/` (a JSON `{"content": …}`), at 1, 16 and 64 connections.
//!
//! ```text
//! cargo build --release -p benches -p chat-server
//! target/release/http_load [--secs 8] [--warmup-secs 1] [--repeat 1] \
//!     [--connections 1,16,64] [--ops get,post] [--tools wrk,oha,builtin] \
//!     [--backends sqlite,postgres] [--users 64] [--seed 1000] [--limit 50] \
//!     [--server-threads 2] [--client-threads 2] [--server-log FILE] \
//!     [--server-bin target/release/chat-server] [--sqlite-dir /tmp]
//! ```
//!
//! By default the server is `chat_server::serve` in this process, on a runtime of its own
//! (`--server-threads` workers), over a core with the cheap test password parameters
//! (`Config::for_tests()`) on a fresh SQLite file or PostgreSQL schema (the database of
//! `CHAT_TEST_POSTGRES_URL`). Setup, not measured: an admin, `--users` members who all
//! share one chat, and `--seed` messages in it. Every member has their own API token.
//! With `--server-bin` the server is instead that `chat-server` binary as a child process
//! on a fresh SQLite file, with its own defaults (production password hashing, `info` logs
//! to a file), set up through the REST API.
//!
//! The load comes from three clients:
//!
//! - `wrk` (Debian's package) and `oha` (crates.io) run as separate processes. wrk's Lua
//!   script sends each request with the next member's token (so requests in flight come
//!   from distinct users); oha can only send one header set, so all of its requests come
//!   from the first member.
//! - `builtin` is a minimal hyper HTTP/1.1 client in this process, on a second runtime
//!   (`--client-threads` workers): one keep-alive connection per simulated user, each with
//!   that user's token, one request at a time.
//!
//! Each cell is a warm-up run (discarded) and a measured run of `--secs`. At the end the
//! bench reads the chat back and fails unless its `seq`s are exactly 1..n with no gap and n
//! covers every acknowledged post. With `--server-log FILE` the in-process server logs as
//! the `chat-server` binary does (`info`: one line per request) into FILE; without it, it
//! does not log at all.
//!
//! With `--against-limit` every cell is also measured, right after, against the limit
//! server (`limit.rs`: the answers `chat-server` gave to the same requests, replayed from
//! memory by a minimal hyper server in a process of its own), and the bench prints each
//! ratio with the targets of issue 13 (`GET` ≥ 0.30, `POST` ≥ 0.20 of the limit).
//!
//! The modules: `server` starts, sets up, reads back and stops the server under load;
//! `builtin` is the in-process client; `tools` runs `wrk` and `oha` and reads their output;
//! `limit` is the limit server.

mod builtin;
mod limit;
mod server;
mod tools;

use benches::{
    Backend, Percentiles, Summary, arg, cells, exit_if_failed, list_arg, load_average, machine, ms,
    print_median_note, repeat_arg, run_rounds, sqlite_dir_arg,
};
use chatcore::model::ChatId;
use server::Server;
use std::net::SocketAddr;
use std::process::Command;
use std::time::Duration;

/// The synopsis `--help` prints.
const USAGE: &str = "
http_load [--secs 8] [--warmup-secs 1] [--repeat 1] [--connections 1,16,64] [--ops get,post]
    [--tools wrk,oha,builtin] [--backends sqlite,postgres] [--users 64] [--seed 1000]
    [--limit 50] [--server-threads 2] [--client-threads 2] [--server-log FILE]
    [--server-bin target/release/chat-server] [--sqlite-dir /tmp] [--against-limit]
http_load limit-server FILE   (the limit server alone, answering what FILE holds)
";

/// The page size `GET` asks for unless `--limit` says otherwise.
const DEFAULT_PAGE: usize = 50;

/// Which request is measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    /// `GET /api/chat/{id}/message/?limit=` (`--limit`, default 50).
    Get,
    /// `POST /api/chat/{id}/message/` with a JSON body.
    Post,
}

impl Op {
    /// The op a `--ops` item names.
    fn parse(s: &str) -> Self {
        match s {
            "get" => Op::Get,
            "post" => Op::Post,
            other => panic!("unknown op {other:?} (get, post)"),
        }
    }

    /// The request column of the table.
    fn label(self, limit: usize) -> String {
        match self {
            Op::Get => format!("`GET …/message/?limit={limit}`"),
            Op::Post => "`POST …/message/`".to_owned(),
        }
    }
}

/// Which client sends the load.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tool {
    /// `wrk` with a Lua script that rotates the members' tokens.
    Wrk,
    /// `oha` with the first member's token.
    Oha,
    /// The in-process hyper client: one connection and one token per user.
    Builtin,
}

impl Tool {
    /// The tool a `--tools` item names.
    fn parse(s: &str) -> Self {
        match s {
            "wrk" => Tool::Wrk,
            "oha" => Tool::Oha,
            "builtin" => Tool::Builtin,
            other => panic!("unknown tool {other:?} (wrk, oha, builtin)"),
        }
    }

    /// The client column of the table, and the external tool's program name.
    fn label(self) -> &'static str {
        match self {
            Tool::Wrk => "wrk",
            Tool::Oha => "oha",
            Tool::Builtin => "builtin",
        }
    }
}

/// Which server a measurement loads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Which {
    /// The chat server (in process or the binary).
    Real,
    /// The limit server (`--against-limit`).
    Limit,
}

impl Which {
    fn label(self) -> &'static str {
        match self {
            Which::Real => "chat-server",
            Which::Limit => "limit",
        }
    }
}

/// The ratio of the real server's requests/s to the limit's that issue 13 asks of `op`.
fn target_ratio(op: Op) -> f64 {
    match op {
        Op::Get => 0.30,
        Op::Post => 0.20,
    }
}

/// One measurement's settings.
#[derive(Debug, Clone, Copy)]
struct Cell {
    op: Op,
    tool: Tool,
    connections: usize,
    server: Which,
}

/// One measurement's result.
#[derive(Debug, Clone)]
struct Outcome {
    cell: Cell,
    /// Responses in the measured run (any status).
    responses: u64,
    per_second: f64,
    latency: Percentiles,
    /// Responses whose status was not 2xx.
    non_2xx: u64,
    /// Connect, read, write errors and time-outs.
    errors: u64,
    /// Distinct tokens the requests carried.
    users: usize,
    /// 2xx posts over the whole run (warm-up included), for the read-back check.
    posted: u64,
}

/// What the load needs to know about the running server.
#[derive(Debug, Clone)]
struct Target {
    addr: SocketAddr,
    chat: ChatId,
    /// One token per member.
    tokens: Vec<String>,
    /// The page size of `GET`.
    limit: usize,
}

impl Target {
    /// The path and query of `op`'s request.
    fn path(&self, op: Op) -> String {
        match op {
            Op::Get => format!("/api/chat/{}/message/?limit={}", self.chat, self.limit),
            Op::Post => format!("/api/chat/{}/message/", self.chat),
        }
    }

    /// The absolute URL of `op`'s request.
    fn url(&self, op: Op) -> String {
        format!("http://{}{}", self.addr, self.path(op))
    }
}

/// The measured run's settings shared by every cell.
#[derive(Debug, Clone, Copy)]
struct Timing {
    warmup: Duration,
    window: Duration,
}

fn main() {
    benches::help(USAGE);
    if std::env::args().nth(1).as_deref() == Some("limit-server") {
        let file = std::env::args().nth(2).expect("limit-server FILE");
        limit::limit_main(&file);
        return;
    }
    let against_limit = std::env::args().any(|a| a == "--against-limit");
    let secs: u64 = arg("--secs").map_or(8, |v| v.parse().expect("--secs: whole seconds"));
    let warmup_secs: u64 =
        arg("--warmup-secs").map_or(1, |v| v.parse().expect("--warmup-secs: whole seconds"));
    let repeat = repeat_arg();
    let connections: Vec<usize> = list_arg("--connections", &[1, 16, 64]);
    let ops: Vec<Op> = list_arg("--ops", &["get".to_owned(), "post".to_owned()])
        .iter()
        .map(|s| Op::parse(s))
        .collect();
    let tools: Vec<Tool> = list_arg(
        "--tools",
        &["wrk".to_owned(), "oha".to_owned(), "builtin".to_owned()],
    )
    .iter()
    .map(|s| Tool::parse(s))
    .collect();
    let backends: Vec<String> = list_arg("--backends", &["sqlite".into(), "postgres".into()]);
    let max_connections = connections.iter().copied().max().unwrap_or(1);
    let users: usize = arg("--users").map_or(max_connections, |v| v.parse().expect("--users"));
    let seed: usize = arg("--seed").map_or(1000, |v| v.parse().expect("--seed: a count"));
    let limit: usize = arg("--limit").map_or(DEFAULT_PAGE, |v| v.parse().expect("--limit"));
    let server_threads: usize = arg("--server-threads").map_or(2, |v| v.parse().expect("count"));
    let client_threads: usize = arg("--client-threads").map_or(2, |v| v.parse().expect("count"));
    let sqlite_dir = sqlite_dir_arg();
    let server_bin: Option<std::path::PathBuf> = arg("--server-bin").map(Into::into);
    let timing = Timing {
        warmup: Duration::from_secs(warmup_secs),
        window: Duration::from_secs(secs),
    };
    assert!(users >= 1, "--users: at least one");
    assert!(
        seed >= limit,
        "--seed: at least --limit ({limit}), so that every page is full"
    );
    for tool in &tools {
        let program = tool.label();
        if *tool != Tool::Builtin && Command::new(program).arg("--version").output().is_err() {
            panic!("{program} is not installed (apt-get install wrk; cargo install oha)");
        }
    }
    if let Some(file) = arg("--server-log") {
        let file = std::fs::File::create(&file).expect("--server-log: a writable file");
        tracing_subscriber::fmt()
            .with_writer(std::sync::Mutex::new(file))
            .with_ansi(false)
            .with_env_filter(tracing_subscriber::EnvFilter::new("info"))
            .init();
    }

    let server_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(server_threads)
        .thread_name("server")
        .enable_all()
        .build()
        .expect("the server runtime starts");
    let client_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(client_threads)
        .thread_name("client")
        .enable_all()
        .build()
        .expect("the client runtime starts");

    println!(
        "# HTTP load: {secs} s per measurement after a {warmup_secs} s warm-up, {repeat} run(s) per cell, {users} users, {seed} seeded messages, server {server_threads} threads, client {client_threads} threads, {}\n",
        machine()
    );
    let mut failures = 0;
    for backend_name in &backends {
        let backend = Backend::parse(backend_name, &sqlite_dir);
        let (heading, started) = match (&server_bin, &backend) {
            (Some(program), Backend::Sqlite(parent)) => (
                format!("{} (`chat-server` binary)", backend.label()),
                server_rt.block_on(Server::spawn_binary(program, parent, users, seed, limit)),
            ),
            (Some(_), Backend::Postgres(_)) => {
                panic!("--server-bin runs on SQLite only (--backends sqlite)")
            }
            (None, _) => (
                format!("{} (in-process `chat_server::serve`)", backend.label()),
                server_rt.block_on(Server::start(&backend, users, seed, limit)),
            ),
        };
        let server = match started {
            Ok(server) => server,
            Err(e) => {
                failures += 1;
                eprintln!("{heading}: cannot start the server: {e}");
                continue;
            }
        };
        let target = server.target.clone();
        if let Err(e) = client_rt.block_on(builtin::check_page(&target)) {
            failures += 1;
            eprintln!("{}: the page check FAILED: {e}", heading);
        }
        // The limit server answers what the real one answered (capturing posts one message).
        let (limit_server, captured_posts) = if against_limit {
            match client_rt
                .block_on(limit::capture(&target))
                .and_then(|captured| limit::LimitChild::spawn(&captured))
            {
                Ok(child) => (Some(child), 1),
                Err(e) => {
                    failures += 1;
                    eprintln!("{heading}: cannot start the limit server: {e}");
                    (None, 1)
                }
            }
        } else {
            (None, 0)
        };
        let limit_target = limit_server.as_ref().map(|child| Target {
            addr: child.addr,
            ..target.clone()
        });
        let servers: &[Which] = if limit_target.is_some() {
            &[Which::Real, Which::Limit]
        } else {
            &[Which::Real]
        };
        let cells: Vec<Cell> = cells(&ops, &tools, &connections, |op, tool, connections| {
            servers.iter().map(move |&server| Cell {
                op,
                tool,
                connections,
                server,
            })
        })
        .into_iter()
        .flatten()
        .collect();
        let rounds = run_rounds(
            &heading,
            &cells,
            repeat,
            |cell| {
                let target = match (cell.server, &limit_target) {
                    (Which::Limit, Some(limit_target)) => limit_target,
                    _ => &target,
                };
                match cell.tool {
                    Tool::Builtin => client_rt.block_on(builtin::run(target, *cell, timing)),
                    Tool::Wrk => tools::run_wrk(target, *cell, timing, client_threads),
                    Tool::Oha => tools::run_oha(target, *cell, timing),
                }
            },
            |cell, outcome| {
                format!(
                    "{} {} {} c={}: {:.0} req/s, p50 {} ms, p99 {} ms, non-2xx {}, errors {} (load {})",
                    cell.server.label(),
                    cell.op.label(limit),
                    cell.tool.label(),
                    cell.connections,
                    outcome.per_second,
                    ms(outcome.latency.p50),
                    ms(outcome.latency.p99),
                    outcome.non_2xx,
                    outcome.errors,
                    load_average(),
                )
            },
        );
        failures += rounds.failures;
        drop(limit_server);
        let acknowledged_posts: u64 = rounds
            .runs
            .iter()
            .flatten()
            .filter(|o| o.cell.server == Which::Real)
            .map(|o| o.posted)
            .sum::<u64>()
            + captured_posts;
        if limit_target.is_some() {
            print_ratios(&heading, &rounds.runs, limit);
        }
        let summaries = rounds.summaries(|o| o.per_second);
        print_table(&heading, &summaries, repeat, limit);
        match server_rt.block_on(server.stop(seed as u64 + acknowledged_posts)) {
            Ok(stored) => println!(
                "{}: {stored} messages stored, gapless; {} posts acknowledged with 2xx (seed included). Load average after: {}\n",
                heading,
                seed as u64 + acknowledged_posts,
                load_average()
            ),
            Err(e) => {
                failures += 1;
                eprintln!("{}: the read-back check FAILED: {e}", heading);
            }
        }
    }
    exit_if_failed(failures);
}

/// Each cell's requests/s on the real server as a share of the limit server's, judged
/// against issue 13's targets: the median of the rounds' ratios (each round measured the
/// two back to back).
fn print_ratios(heading: &str, runs: &[Vec<Outcome>], limit: usize) {
    println!("## {heading}: against the limit server\n");
    for pair in runs.chunks(2) {
        let [real, limit_runs] = pair else { continue };
        let (Some(first), Some(_)) = (real.first(), limit_runs.first()) else {
            continue;
        };
        let pairs: Vec<(f64, f64)> = real
            .iter()
            .zip(limit_runs)
            .map(|(r, l)| (r.per_second, l.per_second))
            .collect();
        let mut ratios: Vec<f64> = pairs.iter().map(|(r, l)| r / l).collect();
        ratios.sort_by(f64::total_cmp);
        let median = ratios[ratios.len() / 2];
        let wanted = target_ratio(first.cell.op);
        let rounds: Vec<String> = pairs
            .iter()
            .map(|(r, l)| format!("{:.2} ({r:.0} / {l:.0})", r / l))
            .collect();
        let non_2xx: u64 = real.iter().map(|o| o.non_2xx + o.errors).sum();
        println!(
            "- {} {} c={}: chat-server / limit = **{median:.2}** (rounds: {}; target ≥ {wanted:.2}){}: {}",
            first.cell.op.label(limit),
            first.cell.tool.label(),
            first.cell.connections,
            rounds.join(", "),
            if non_2xx > 0 {
                format!(", {non_2xx} non-2xx or failed")
            } else {
                String::new()
            },
            if median >= wanted && non_2xx == 0 {
                "PASS"
            } else {
                "MISS"
            },
        );
    }
    println!();
}

/// The markdown table of one server's cells.
fn print_table(heading: &str, summaries: &[Summary<Outcome>], repeat: usize, limit: usize) {
    println!("## {heading}\n");
    print_median_note(repeat, "requests/s");
    println!(
        "| server | request | client | connections | users | req/s | range | p50 ms | p99 ms | max ms | responses | non-2xx | errors |"
    );
    println!("|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for s in summaries {
        let o = &s.median;
        let range = s.range();
        println!(
            "| {} | {} | {} | {} | {} | {:.0} | {range} | {} | {} | {} | {} | {} | {} |",
            o.cell.server.label(),
            o.cell.op.label(limit),
            o.cell.tool.label(),
            o.cell.connections,
            o.users,
            o.per_second,
            ms(o.latency.p50),
            ms(o.latency.p99),
            ms(o.latency.max),
            o.responses,
            o.non_2xx,
            o.errors,
        );
    }
    println!();
}
