//! Redis fixtures: the shared test Redis (`CHAT_TEST_REDIS_URL`) with a channel prefix per
//! test, and a private `redis-server` a test may kill and restart.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::Once;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// The variable naming the test Redis.
pub const REDIS_URL_VAR: &str = "CHAT_TEST_REDIS_URL";

/// The test Redis URL, or `None` after saying once on stderr that Redis tests are skipped.
pub fn redis_url() -> Option<String> {
    static SKIP_NOTICE: Once = Once::new();
    match std::env::var(REDIS_URL_VAR) {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            SKIP_NOTICE.call_once(|| {
                loud(&format!(
                    "{REDIS_URL_VAR} is not set: tests across nodes through Redis are SKIPPED"
                ))
            });
            None
        }
    }
}

/// A channel prefix no other test (of this or another process) uses: `t_<pid>_<n>:`.
/// Pub/sub leaves no keys behind, so nothing needs cleaning up.
pub fn unique_prefix() -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    format!(
        "t_{}_{}:",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// Written to the stderr handle, not with `eprintln!`, which the test harness captures.
fn loud(notice: &str) {
    let _ = writeln!(std::io::stderr(), "\n*** {notice} ***\n");
}

/// A `redis-server` of the test's own on a free loopback port, without persistence; killed
/// when dropped.
pub struct RedisServer {
    port: u16,
    child: Option<Child>,
}

impl RedisServer {
    /// Starts one and waits until it answers; `None` (after a loud notice) when
    /// `redis-server` is not installed.
    pub fn start() -> Option<Self> {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("loopback has a free port")
            .port();
        let mut server = Self { port, child: None };
        match server.spawn() {
            Ok(()) => Some(server),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                loud("redis-server is not installed: the Redis restart tests are SKIPPED");
                None
            }
            Err(e) => panic!("redis-server does not start: {e}"),
        }
    }

    /// `redis://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Kills the server (SIGKILL) and waits for it to exit.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it again on the same port (after [`RedisServer::kill`]) and waits until it
    /// answers.
    pub fn restart(&mut self) {
        self.kill();
        // The port may linger briefly after the kill; retry for a while.
        let started = Instant::now();
        loop {
            match self.spawn() {
                Ok(()) => return,
                Err(_) if started.elapsed() < Duration::from_secs(10) => {
                    std::thread::sleep(Duration::from_millis(100));
                }
                Err(e) => panic!("redis-server does not restart: {e}"),
            }
        }
    }

    fn spawn(&mut self) -> std::io::Result<()> {
        let mut child = Command::new("redis-server")
            .args(["--port", &self.port.to_string()])
            .args(["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?;
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(10) {
            if let Some(status) = child.try_wait()? {
                return Err(std::io::Error::other(format!(
                    "redis-server exited at start: {status}"
                )));
            }
            if self.answers() {
                self.child = Some(child);
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = child.kill();
        let _ = child.wait();
        Err(std::io::Error::other("redis-server did not answer in 10 s"))
    }

    /// Sends one inline command (`CLIENT KILL TYPE normal`) and returns the first line of
    /// the answer.
    ///
    /// # Panics
    /// When the server does not answer.
    pub fn command(&self, command: &str) -> String {
        self.try_command(command)
            .unwrap_or_else(|e| panic!("redis-server does not answer `{command}`: {e}"))
    }

    fn try_command(&self, command: &str) -> std::io::Result<String> {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port))?;
        stream.set_read_timeout(Some(Duration::from_secs(5)))?;
        stream.write_all(format!("{command}\r\n").as_bytes())?;
        let mut line = String::new();
        BufReader::new(stream).read_line(&mut line)?;
        Ok(line.trim_end().to_owned())
    }

    /// Whether the server answers `PING`.
    fn answers(&self) -> bool {
        self.try_command("PING")
            .is_ok_and(|answer| answer == "+PONG")
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
    }
}
