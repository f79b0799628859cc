//! The two servers under load: `chat-server` (the release binary as a child process on a
//! fresh SQLite file, or `chat_server::serve` in this process for the smoke test) and the
//! broadcast-only baseline (this binary again as a child, `ws_load baseline-server`, or in
//! this process). Each measurement gets a new chat: the real server's admin creates one of
//! all members; the baseline's chats exist on first use.

use crate::baseline;
use crate::load::Target;
use benches::child_server::{ChildServer, Member};
use benches::{BenchCore, BoxError, create_users, register_users};
use chatcore::model::{ChatId, NewChat};
use chatcore::{Actor, Config};
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Stdio};
use tokio_util::sync::CancellationToken;

/// Messages a socket may send per second and at once: the real server's limits, raised so
/// that the senders are limited by the server's speed, not by its rate limit.
pub(crate) const SEND_PER_SECOND: u32 = 10_000;
pub(crate) const SEND_BURST: u32 = 100_000;
/// Connections the real server accepts at once (default 4 096), raised for the idle
/// sockets.
pub(crate) const CONNECTION_LIMIT: usize = 50_000;

/// The `serve` flags the real server runs with (besides `--bind` and `--database-url`).
pub(crate) fn real_server_flags() -> Vec<String> {
    [
        "--ws-send-per-second".to_owned(),
        SEND_PER_SECOND.to_string(),
        "--ws-send-burst".to_owned(),
        SEND_BURST.to_string(),
        "--connection-limit".to_owned(),
        CONNECTION_LIMIT.to_string(),
    ]
    .into()
}

/// Which server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Kind {
    /// `chat-server`: auth, the core, SQLite, the group-commit writer.
    Real,
    /// The broadcast-only baseline.
    Baseline,
}

impl Kind {
    pub(crate) fn label(self) -> &'static str {
        match self {
            Kind::Real => "chat-server",
            Kind::Baseline => "broadcast-only",
        }
    }
}

/// A running server.
pub(crate) struct Server {
    pub(crate) addr: SocketAddr,
    running: Running,
    chats: i64,
}

enum Running {
    RealChild {
        child: Box<ChildServer>,
        members: Vec<Member>,
    },
    RealInProcess {
        bench: Box<BenchCore>,
        admin: Box<Actor>,
        members: Vec<(Actor, String)>,
        shutdown: CancellationToken,
        task: tokio::task::JoinHandle<Result<(), chat_server::ServeError>>,
    },
    BaselineChild(std::process::Child),
    BaselineInProcess {
        shutdown: CancellationToken,
        task: tokio::task::JoinHandle<()>,
    },
}

impl Server {
    /// `program` (the `chat-server` binary) on a new SQLite file under `parent`, with
    /// [`real_server_flags`] and `users` members.
    pub(crate) async fn real_child(
        program: &Path,
        parent: &Path,
        users: usize,
    ) -> Result<Self, BoxError> {
        let child = ChildServer::spawn(program, parent, &real_server_flags(), &[]).await?;
        let members = child.register_members(users).await?;
        Ok(Self {
            addr: child.addr,
            running: Running::RealChild {
                child: Box::new(child),
                members,
            },
            chats: 0,
        })
    }

    /// `chat_server::serve` in this process on a new SQLite file under `parent` (cheap
    /// password hashing), with the same WebSocket limits as [`real_server_flags`].
    pub(crate) async fn real_in_process(parent: &Path, users: usize) -> Result<Self, BoxError> {
        let bench = BenchCore::open(
            &benches::Backend::Sqlite(parent.to_owned()),
            Config::for_tests(),
        )
        .await?;
        let core = bench.core();
        let (admin, _) = create_users(core, "member", 0).await?;
        let members = register_users(core, "member", users).await?;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let mut settings = chat_server::Settings {
            connection_limit: CONNECTION_LIMIT,
            ..chat_server::Settings::default()
        };
        settings.ws.send_per_second = SEND_PER_SECOND;
        settings.ws.send_burst = SEND_BURST;
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(chat_server::serve(
            listener,
            core.services(),
            settings,
            shutdown.clone(),
        ));
        Ok(Self {
            addr,
            running: Running::RealInProcess {
                bench: Box::new(bench),
                admin: Box::new(admin),
                members,
                shutdown,
                task,
            },
            chats: 0,
        })
    }

    /// This binary as `ws_load baseline-server`, a process of its own; it prints its
    /// address and serves until its stdin closes.
    pub(crate) fn baseline_child() -> Result<Self, BoxError> {
        let mut child = Command::new(std::env::current_exe()?)
            .arg("baseline-server")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()?;
        let stdout = child.stdout.take().ok_or("the baseline has no stdout")?;
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line)?;
        let addr = match line.trim().parse() {
            Ok(addr) => addr,
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("the baseline server said {line:?}, not its address").into());
            }
        };
        Ok(Self {
            addr,
            running: Running::BaselineChild(child),
            chats: 0,
        })
    }

    /// The baseline on this process's runtime.
    pub(crate) async fn baseline_in_process() -> Result<Self, BoxError> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(baseline::serve(listener, shutdown.clone()));
        Ok(Self {
            addr,
            running: Running::BaselineInProcess { shutdown, task },
            chats: 0,
        })
    }

    /// A new chat of every member, and where its sockets go.
    pub(crate) async fn new_chat(&mut self) -> Result<Target, BoxError> {
        self.chats += 1;
        let name = format!("ws load {}", self.chats);
        let (chat, tokens) = match &self.running {
            Running::RealChild { child, members } => (
                child.create_chat(&name, members).await?,
                members.iter().map(|m| m.token.clone()).collect(),
            ),
            Running::RealInProcess {
                bench,
                admin,
                members,
                ..
            } => {
                let chat = bench
                    .core()
                    .membership()
                    .create_chat(
                        admin,
                        NewChat {
                            name,
                            participants: members.iter().map(|(a, _)| a.id()).collect(),
                        },
                    )
                    .await?;
                (chat.id, members.iter().map(|(_, t)| t.clone()).collect())
            }
            Running::BaselineChild(_) | Running::BaselineInProcess { .. } => {
                (ChatId(self.chats), Vec::new())
            }
        };
        Ok(Target {
            addr: self.addr,
            chat,
            tokens,
        })
    }

    /// The server's process, when it has one of its own (for its memory and CPU time).
    pub(crate) fn pid(&self) -> Option<u32> {
        match &self.running {
            Running::RealChild { child, .. } => Some(child.pid()),
            Running::BaselineChild(child) => Some(child.id()),
            Running::RealInProcess { .. } | Running::BaselineInProcess { .. } => None,
        }
    }

    /// How many messages the real server stored in `chat` (gapless `seq` 1..n, read back
    /// through the history); `None` for the baseline, which stores nothing.
    pub(crate) async fn stored(&self, chat: ChatId) -> Result<Option<i64>, BoxError> {
        match &self.running {
            Running::RealChild { child, .. } => Ok(Some(child.read_back(chat).await?)),
            Running::RealInProcess { bench, admin, .. } => Ok(Some(
                benches::read_back(bench.core(), admin, chat, |_| {}).await?,
            )),
            Running::BaselineChild(_) | Running::BaselineInProcess { .. } => Ok(None),
        }
    }

    /// Stops the server and waits for it.
    pub(crate) async fn stop(self) -> Result<(), BoxError> {
        match self.running {
            Running::RealChild { mut child, .. } => child.stop(),
            Running::RealInProcess {
                bench,
                shutdown,
                task,
                ..
            } => {
                shutdown.cancel();
                task.await??;
                bench.shutdown().await;
            }
            Running::BaselineChild(mut child) => {
                // Closing its stdin tells it to stop.
                drop(child.stdin.take());
                child.wait()?;
            }
            Running::BaselineInProcess { shutdown, task } => {
                shutdown.cancel();
                task.await?;
            }
        }
        Ok(())
    }
}

/// `ws_load baseline-server`: the baseline on a runtime of its own (as many workers as
/// cores, like `chat-server`), on a free loopback port it prints; it stops when stdin
/// closes (the bench stopped it, or went away).
pub(crate) fn baseline_main() {
    let runtime = tokio::runtime::Runtime::new().expect("the baseline's runtime starts");
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a free loopback port");
        println!("{}", listener.local_addr().expect("a bound address"));
        let shutdown = CancellationToken::new();
        let stdin_closed = shutdown.clone();
        std::thread::spawn(move || {
            let mut sink = Vec::new();
            let _ = std::io::Read::read_to_end(&mut std::io::stdin(), &mut sink);
            stdin_closed.cancel();
        });
        baseline::serve(listener, shutdown).await;
    });
}

/// `/proc/<pid>/status`'s `VmRSS`, in bytes.
pub(crate) fn rss_bytes(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// CPU time (user + system) a process has used so far, in seconds.
pub(crate) fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The fields after the command name, which is in parentheses and may hold spaces.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name.
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some(ticks as f64 / clock_ticks())
}

fn clock_ticks() -> f64 {
    // SAFETY: sysconf only reads a system constant.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if ticks > 0 { ticks as f64 } else { 100.0 }
}

/// Raises this process's open-file limit (inherited by the servers it starts) to `wanted`,
/// or as far as the hard limit allows; returns the soft limit then.
pub(crate) fn raise_open_files(wanted: u64) -> u64 {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit and setrlimit write to / read from a valid `rlimit`.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
            return 0;
        }
        if limit.rlim_cur >= wanted {
            return limit.rlim_cur;
        }
        let raised = libc::rlimit {
            rlim_cur: wanted,
            rlim_max: limit.rlim_max.max(wanted),
        };
        // Raising the hard limit needs privileges; without them, go up to it.
        if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
            return wanted;
        }
        let capped = libc::rlimit {
            rlim_cur: limit.rlim_max.min(wanted),
            rlim_max: limit.rlim_max,
        };
        if libc::setrlimit(libc::RLIMIT_NOFILE, &capped) == 0 {
            return capped.rlim_cur;
        }
        limit.rlim_cur
    }
}
