//! The binary: management commands on a fresh database, `serve` with no configuration at
//! all, graceful shutdown on SIGTERM, and clear refusals.

use crate::helpers::PASSWORD;
use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_chat-server");

/// The binary with a clean `CHAT_*` environment, run in `dir`.
fn chat_server(dir: &std::path::Path) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.current_dir(dir).env("RUST_LOG", "warn");
    for (key, _) in std::env::vars() {
        if key.starts_with("CHAT_") {
            cmd.env_remove(key);
        }
    }
    cmd
}

fn run_with_stdin(mut cmd: Command, stdin: &str) -> std::process::Output {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary starts");
    child
        .stdin
        .take()
        .expect("stdin is piped")
        .write_all(stdin.as_bytes())
        .expect("stdin takes the password");
    child.wait_with_output().expect("the binary ends")
}

#[test]
fn migrate_then_createsuperuser_then_changepassword_on_a_fresh_database() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("cli.db").display());

    let out = chat_server(dir.path())
        .args(["migrate", "--database-url", &url])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("Migrations applied"));

    let mut cmd = chat_server(dir.path());
    cmd.args([
        "createsuperuser",
        "--username",
        "root",
        "--email",
        "root@example.com",
        "--password-stdin",
    ])
    .env("CHAT_DATABASE_URL", &url);
    let out = run_with_stdin(cmd, &format!("{PASSWORD}\n"));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("Superuser root created"));

    let mut cmd = chat_server(dir.path());
    cmd.args([
        "createsuperuser",
        "--username",
        "ROOT",
        "--password-stdin",
        "--database-url",
        &url,
    ]);
    let out = run_with_stdin(cmd, &format!("{PASSWORD}\n"));
    assert!(!out.status.success(), "a taken username is refused");
    assert!(String::from_utf8_lossy(&out.stderr).contains("already exists"));

    let out = chat_server(dir.path())
        .args([
            "changepassword",
            "--username",
            "root",
            "--database-url",
            &url,
        ])
        .env("CHAT_SUPERUSER_PASSWORD", "a brand new passphrase")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let out = chat_server(dir.path())
        .args([
            "changepassword",
            "--username",
            "root",
            "--database-url",
            &url,
        ])
        .env("CHAT_SUPERUSER_PASSWORD", "1")
        .output()
        .unwrap();
    assert!(!out.status.success(), "a weak password is refused");
    assert!(String::from_utf8_lossy(&out.stderr).contains("password"));

    let out = chat_server(dir.path())
        .args([
            "changepassword",
            "--username",
            "nobody",
            "--database-url",
            &url,
        ])
        .env("CHAT_SUPERUSER_PASSWORD", "a brand new passphrase")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("User not found"));
}

#[test]
fn without_a_terminal_or_a_password_source_createsuperuser_explains_itself() {
    let dir = tempfile::tempdir().unwrap();
    let out = chat_server(dir.path())
        .args(["createsuperuser", "--username", "root"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--password-stdin") && err.contains("CHAT_SUPERUSER_PASSWORD"),
        "{err}"
    );
}

#[test]
fn an_unreachable_redis_stops_serve_at_start_with_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    // Nothing listens on a port just released; the password must not be shown.
    let url = format!("redis://:hunter2@127.0.0.1:{}", free_port());
    let out = chat_server(dir.path())
        .env("CHAT_BIND", format!("127.0.0.1:{}", free_port()))
        .env("CHAT_REDIS_URL", &url)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("error: cannot connect to Redis at redis://:***@127.0.0.1:"),
        "{err}"
    );
    assert!(!err.contains("hunter2"), "{err}");
}

#[tokio::test]
async fn serve_with_redis_comes_up_and_stops_on_sigterm() {
    let Some(redis) = chatcore::testing::redis_url() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let prefix = chatcore::testing::unique_prefix();
    let (mut child, _base) = serve_binary(
        dir.path(),
        &[("CHAT_REDIS_URL", &redis), ("CHAT_REDIS_PREFIX", &prefix)],
    )
    .await;
    signal(&child, "TERM");
    let (status, _) = exit_of(&mut child, Duration::from_secs(30)).await;
    assert!(status.success(), "{status:?}");
}

/// A free port (bound and released; good enough on loopback).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[tokio::test]
async fn serve_without_configuration_uses_chat_db_in_the_working_directory_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    // Only the port is moved off the default (8000 may be taken on a shared machine).
    let (mut child, _) = serve_binary(dir.path(), &[]).await;
    assert!(
        dir.path().join("chat.db").exists(),
        "the default database is chat.db in the cwd"
    );
    signal(&child, "TERM");
    let (status, _) = exit_of(&mut child, Duration::from_secs(20)).await;
    assert!(status.success(), "{status:?}");
}

#[tokio::test]
async fn serve_with_a_metrics_bind_serves_metrics_apart_and_still_stops_at_once_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let metrics = format!("127.0.0.1:{}", free_port());
    let (mut child, base) = serve_binary(dir.path(), &[("CHAT_METRICS_BIND", &metrics)]).await;
    let public = reqwest::get(format!("{base}/metrics")).await.unwrap();
    assert_eq!(public.status(), 404, "no metrics on the public listener");
    let scrape = reqwest::get(format!("http://{metrics}/metrics"))
        .await
        .unwrap();
    assert_eq!(scrape.status(), 200);
    let text = scrape.text().await.unwrap();
    assert!(text.contains("chat_http_requests_total{"), "{text}");
    signal(&child, "TERM");
    let (status, took) = exit_of(&mut child, Duration::from_secs(30)).await;
    assert!(status.success(), "{status:?}");
    assert!(took < Duration::from_secs(5), "took {took:?}");
}

/// The binary serving on a free port with `extra` environment; returns it and its base URL
/// once `/healthz` answers.
async fn serve_binary(
    dir: &std::path::Path,
    extra: &[(&str, &str)],
) -> (std::process::Child, String) {
    let port = free_port();
    let mut cmd = chat_server(dir);
    cmd.env("CHAT_BIND", format!("127.0.0.1:{port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    for (k, v) in extra {
        cmd.env(k, v);
    }
    let child = cmd.spawn().unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let started = Instant::now();
    loop {
        if let Ok(resp) = reqwest::get(format!("{base}/healthz")).await
            && resp.status() == 200
        {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "the server did not come up"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    (child, base)
}

fn signal(child: &std::process::Child, name: &str) {
    let sent = Command::new("kill")
        .args([&format!("-{name}"), &child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
}

/// Waits for the child to exit (at most `limit`) and returns its status and how long it took.
async fn exit_of(
    child: &mut std::process::Child,
    limit: Duration,
) -> (std::process::ExitStatus, Duration) {
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return (status, started.elapsed());
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            panic!("still running {limit:?} after the signal");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A request stuck in flight: a POST whose body never finishes arriving.
async fn stuck_request(base: &str) -> tokio::net::TcpStream {
    use tokio::io::AsyncWriteExt;
    let mut stream = tokio::net::TcpStream::connect(base.trim_start_matches("http://"))
        .await
        .unwrap();
    stream
        .write_all(
            b"POST /api/accounts/login/ HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n\
              content-length: 100\r\n\r\n{\"user",
        )
        .await
        .unwrap();
    stream
}

#[tokio::test]
async fn an_idle_server_exits_at_once_on_sigterm_without_waiting_for_the_grace() {
    let dir = tempfile::tempdir().unwrap();
    let (mut child, base) = serve_binary(dir.path(), &[("CHAT_SHUTDOWN_GRACE", "60")]).await;
    // An idle keep-alive connection does not hold the shutdown up either.
    let client = reqwest::Client::new();
    client.get(format!("{base}/healthz")).send().await.unwrap();
    signal(&child, "TERM");
    let (status, took) = exit_of(&mut child, Duration::from_secs(30)).await;
    assert!(status.success(), "{status:?}");
    assert!(
        took < Duration::from_secs(15),
        "took {took:?} of a 60 s grace"
    );
}

#[tokio::test]
async fn a_stuck_request_is_cut_off_after_one_grace_and_a_second_signal_exits_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let (mut child, base) = serve_binary(dir.path(), &[("CHAT_SHUTDOWN_GRACE", "2")]).await;
    let _stuck = stuck_request(&base).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    signal(&child, "TERM");
    let (status, took) = exit_of(&mut child, Duration::from_secs(30)).await;
    assert!(status.success(), "{status:?}");
    assert!(
        took >= Duration::from_millis(1500),
        "the stuck request was given its grace: {took:?}"
    );

    let (mut child, base) = serve_binary(dir.path(), &[("CHAT_SHUTDOWN_GRACE", "600")]).await;
    let _stuck = stuck_request(&base).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    signal(&child, "TERM");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        child.try_wait().unwrap().is_none(),
        "the first signal waits for the grace"
    );
    signal(&child, "INT");
    let (status, _) = exit_of(&mut child, Duration::from_secs(30)).await;
    assert_eq!(status.code(), Some(130), "{status:?}");
}
