//! The external load tools, each run as a separate process once for the warm-up
//! (discarded) and once for the window: `wrk` with a Lua script that rotates the members'
//! tokens, and `oha` with the first member's token; their reports read into an [`Outcome`].

use crate::{Cell, Op, Outcome, Target, Timing};
use benches::{BoxError, Percentiles};
use std::process::Command;
use std::time::Duration;

/// The Lua script of a `wrk` run: each request carries the next member's token; `done`
/// prints the counts and exact percentiles (µs) on one line for [`parse_wrk`].
fn wrk_script(target: &Target, op: Op, users: usize) -> String {
    let tokens: Vec<String> = target.tokens[..users]
        .iter()
        .map(|t| format!("{t:?}"))
        .collect();
    let method = match op {
        Op::Get => "GET",
        Op::Post => "POST",
    };
    format!(
        r#"local tokens = {{ {tokens} }}
local counter = 0
local next_id = 0
id = 0

-- Runs in the main state; `id` becomes a global of that thread's own state, so the
-- threads start their token rotation at different members.
function setup(thread)
  thread:set("id", next_id)
  next_id = next_id + 1
end

function request()
  counter = counter + 1
  local headers = {{ ["Authorization"] = "Token " .. tokens[((counter + id * 7) % #tokens) + 1] }}
  local body = nil
  if "{method}" == "POST" then
    headers["Content-Type"] = "application/json"
    body = string.format('{{"content": "wrk message %d of thread %d: the quick brown fox"}}', counter, id)
  end
  return wrk.format("{method}", "{path}", headers, body)
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("BENCH requests=%d duration_us=%d status=%d connect=%d read=%d write=%d timeout=%d p50_us=%d p99_us=%d max_us=%d\n",
    summary.requests, summary.duration, e.status, e.connect, e.read, e.write, e.timeout,
    latency:percentile(50), latency:percentile(99), latency.max))
end
"#,
        tokens = tokens.join(", "),
        path = target.path(op),
    )
}

/// Runs `wrk` once for the warm-up (discarded) and once for the window.
pub(crate) fn run_wrk(
    target: &Target,
    cell: Cell,
    timing: Timing,
    client_threads: usize,
) -> Result<Outcome, BoxError> {
    let users = cell.connections.min(target.tokens.len());
    let script = tempfile::Builder::new()
        .prefix("http-load-")
        .suffix(".lua")
        .tempfile()?;
    std::fs::write(script.path(), wrk_script(target, cell.op, users))?;
    let threads = cell.connections.min(client_threads).max(1);
    let run = |duration: Duration| -> Result<WrkResult, BoxError> {
        let output = Command::new("wrk")
            .arg(format!("--threads={threads}"))
            .arg(format!("--connections={}", cell.connections))
            .arg(format!("--duration={}s", duration.as_secs().max(1)))
            .arg("--timeout=10s")
            .arg(format!("--script={}", script.path().display()))
            .arg(target.url(cell.op))
            .output()?;
        let stdout = String::from_utf8_lossy(&output.stdout);
        if !output.status.success() {
            return Err(format!(
                "wrk exited with {}: {stdout}{}",
                output.status,
                String::from_utf8_lossy(&output.stderr)
            )
            .into());
        }
        parse_wrk(&stdout)
    };
    let warmup = run(timing.warmup)?;
    let measured = run(timing.window)?;
    let posted = match cell.op {
        Op::Get => 0,
        Op::Post => {
            warmup.requests - warmup.status_errors + measured.requests - measured.status_errors
        }
    };
    let micros = Duration::from_micros;
    Ok(Outcome {
        cell,
        responses: measured.requests,
        per_second: measured.requests as f64 / (measured.duration_us as f64 / 1e6),
        latency: Percentiles {
            p50: micros(measured.p50_us),
            p99: micros(measured.p99_us),
            max: micros(measured.max_us),
        },
        non_2xx: measured.status_errors,
        errors: measured.socket_errors,
        users,
        posted,
    })
}

/// The `BENCH` line of a `wrk` run.
#[derive(Debug, Default)]
struct WrkResult {
    requests: u64,
    duration_us: u64,
    /// Responses with a status of 400 or more (wrk's "Non-2xx or 3xx").
    status_errors: u64,
    socket_errors: u64,
    p50_us: u64,
    p99_us: u64,
    max_us: u64,
}

/// Reads the `BENCH` line that [`wrk_script`]'s `done` prints.
fn parse_wrk(stdout: &str) -> Result<WrkResult, BoxError> {
    let line = stdout
        .lines()
        .find_map(|l| l.strip_prefix("BENCH "))
        .ok_or_else(|| format!("no BENCH line in wrk's output: {stdout}"))?;
    let mut result = WrkResult::default();
    for pair in line.split_whitespace() {
        let (key, value) = pair.split_once('=').ok_or("a BENCH field without '='")?;
        let value: u64 = value.parse()?;
        match key {
            "requests" => result.requests = value,
            "duration_us" => result.duration_us = value,
            "status" => result.status_errors = value,
            "connect" | "read" | "write" | "timeout" => result.socket_errors += value,
            "p50_us" => result.p50_us = value,
            "p99_us" => result.p99_us = value,
            "max_us" => result.max_us = value,
            _ => {}
        }
    }
    Ok(result)
}

/// Runs `oha` once for the warm-up (discarded) and once for the window, all requests with
/// the first member's token.
pub(crate) fn run_oha(target: &Target, cell: Cell, timing: Timing) -> Result<Outcome, BoxError> {
    let run = |duration: Duration| -> Result<serde_json::Value, BoxError> {
        let mut command = Command::new("oha");
        command
            .arg("--no-tui")
            .arg("--output-format=json")
            .arg("-z")
            .arg(format!("{}s", duration.as_secs().max(1)))
            .arg("-c")
            .arg(cell.connections.to_string())
            .arg("-H")
            .arg(format!("Authorization: Token {}", target.tokens[0]));
        if cell.op == Op::Post {
            command
                .args(["-m", "POST", "-T", "application/json"])
                .arg("-d")
                .arg(r#"{"content": "oha message: the quick brown fox"}"#);
        }
        let output = command.arg(target.url(cell.op)).output()?;
        if !output.status.success() {
            return Err(format!(
                "oha exited with {}: {}{}",
                output.status,
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            )
            .into());
        }
        Ok(serde_json::from_slice(&output.stdout)?)
    };
    let warmup = run(timing.warmup)?;
    let measured = run(timing.window)?;
    let statuses = |report: &serde_json::Value| -> (u64, u64) {
        let mut ok = 0;
        let mut other = 0;
        if let Some(codes) = report["statusCodeDistribution"].as_object() {
            for (code, count) in codes {
                let count = count.as_u64().unwrap_or(0);
                if code.starts_with('2') {
                    ok += count;
                } else {
                    other += count;
                }
            }
        }
        (ok, other)
    };
    let (warmup_ok, _) = statuses(&warmup);
    let (ok, non_2xx) = statuses(&measured);
    // Requests still in flight when the window closes are "aborted due to deadline": not
    // errors of the server.
    let errors = measured["errorDistribution"].as_object().map_or(0, |e| {
        e.iter()
            .filter(|(kind, _)| !kind.contains("deadline"))
            .filter_map(|(_, count)| count.as_u64())
            .sum()
    });
    let seconds = |v: &serde_json::Value| Duration::from_secs_f64(v.as_f64().unwrap_or(0.0));
    let posted = if cell.op == Op::Post {
        warmup_ok + ok
    } else {
        0
    };
    Ok(Outcome {
        cell,
        responses: ok + non_2xx,
        // oha's own requestsPerSec counts failed requests too.
        per_second: (ok + non_2xx) as f64
            / measured["summary"]["total"]
                .as_f64()
                .ok_or("oha: no summary.total")?,
        latency: Percentiles {
            p50: seconds(&measured["latencyPercentiles"]["p50"]),
            p99: seconds(&measured["latencyPercentiles"]["p99"]),
            max: seconds(&measured["summary"]["slowest"]),
        },
        non_2xx,
        errors,
        users: 1,
        posted,
    })
}
