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

use benches::{
    Backend, BenchCore, PASSWORD, Percentiles, arg, create_users, list_arg, load_average, ms,
    register_users,
};
use bytes::Bytes;
use chatcore::model::{ChatId, MAX_PAGE_LIMIT, NewChat, NewMessage, PageRequest};
use chatcore::{Actor, Config};
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper_util::rt::TokioIo;
use std::net::SocketAddr;
use std::process::Command;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

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
    fn parse(s: &str) -> Self {
        match s {
            "get" => Op::Get,
            "post" => Op::Post,
            other => panic!("unknown op {other:?} (get, post)"),
        }
    }

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
    fn parse(s: &str) -> Self {
        match s {
            "wrk" => Tool::Wrk,
            "oha" => Tool::Oha,
            "builtin" => Tool::Builtin,
            other => panic!("unknown tool {other:?} (wrk, oha, builtin)"),
        }
    }

    fn label(self) -> &'static str {
        match self {
            Tool::Wrk => "wrk",
            Tool::Oha => "oha",
            Tool::Builtin => "builtin",
        }
    }
}

/// One measurement's settings.
#[derive(Debug, Clone, Copy)]
struct Cell {
    op: Op,
    tool: Tool,
    connections: usize,
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
    fn path(&self, op: Op) -> String {
        match op {
            Op::Get => format!("/api/chat/{}/message/?limit={}", self.chat, self.limit),
            Op::Post => format!("/api/chat/{}/message/", self.chat),
        }
    }

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
    let secs: u64 = arg("--secs").map_or(8, |v| v.parse().expect("--secs: whole seconds"));
    let warmup_secs: u64 =
        arg("--warmup-secs").map_or(1, |v| v.parse().expect("--warmup-secs: whole seconds"));
    let repeat: usize = arg("--repeat").map_or(1, |v| v.parse().expect("--repeat: a count"));
    let repeat = repeat.max(1);
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
    let sqlite_dir = arg("--sqlite-dir").map_or_else(std::env::temp_dir, Into::into);
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
        "# HTTP load: {secs} s per measurement after a {warmup_secs} s warm-up, {repeat} run(s) per cell, {users} users, {seed} seeded messages, server {server_threads} threads, client {client_threads} threads, {} cores, load average {}\n",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        load_average()
    );
    let mut failures = 0;
    for backend_name in &backends {
        let backend = match backend_name.as_str() {
            "sqlite" => Backend::Sqlite(sqlite_dir.clone()),
            "postgres" => Backend::postgres_from_env(),
            other => panic!("unknown backend {other:?} (sqlite, postgres)"),
        };
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
        if let Err(e) = client_rt.block_on(check_page(&target)) {
            failures += 1;
            eprintln!("{}: the page check FAILED: {e}", heading);
        }
        let mut cells = Vec::new();
        for &op in &ops {
            for &tool in &tools {
                for &connections in &connections {
                    cells.push(Cell {
                        op,
                        tool,
                        connections,
                    });
                }
            }
        }
        // Rounds go over the whole matrix, so a burst of other load on the machine hits
        // one run of many cells rather than every run of one cell.
        let mut runs: Vec<Vec<Outcome>> = cells.iter().map(|_| Vec::new()).collect();
        let mut acknowledged_posts = 0;
        for round in 1..=repeat {
            for (cell, runs) in cells.iter().zip(&mut runs) {
                let result = match cell.tool {
                    Tool::Builtin => client_rt.block_on(run_builtin(&target, *cell, timing)),
                    Tool::Wrk => run_wrk(&target, *cell, timing, client_threads),
                    Tool::Oha => run_oha(&target, *cell, timing),
                };
                match result {
                    Ok((outcome, posted)) => {
                        eprintln!(
                            "{} round {round}/{repeat} {} {} c={}: {:.0} req/s, p50 {} ms, p99 {} ms, non-2xx {}, errors {} (load {})",
                            heading,
                            cell.op.label(limit),
                            cell.tool.label(),
                            cell.connections,
                            outcome.per_second,
                            ms(outcome.latency.p50),
                            ms(outcome.latency.p99),
                            outcome.non_2xx,
                            outcome.errors,
                            load_average(),
                        );
                        acknowledged_posts += posted;
                        runs.push(outcome);
                    }
                    Err(e) => {
                        failures += 1;
                        eprintln!("{} {cell:?}: FAILED: {e}", heading);
                    }
                }
            }
        }
        let summaries: Vec<Summary> = runs.into_iter().filter_map(Summary::of).collect();
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
    if failures > 0 {
        eprintln!("{failures} measurements FAILED (see above)");
        std::process::exit(1);
    }
}

/// The server under load, with the chat the load goes to.
struct Server {
    target: Target,
    running: Running,
}

/// How the server runs.
enum Running {
    /// `chat_server::serve` on this process's server runtime.
    InProcess {
        bench: Box<BenchCore>,
        admin: Actor,
        shutdown: CancellationToken,
        task: tokio::task::JoinHandle<Result<(), chat_server::ServeError>>,
    },
    /// The `chat-server` binary as a child process, on SQLite in `dir`.
    Binary {
        child: std::process::Child,
        admin_token: String,
        dir: tempfile::TempDir,
    },
}

impl Server {
    /// Opens a core on `backend`, creates an admin, `users` members with a token each and
    /// one chat of all of them, posts `seed` messages, and serves on a free port.
    async fn start(
        backend: &Backend,
        users: usize,
        seed: usize,
        limit: usize,
    ) -> Result<Self, BoxError> {
        let bench = BenchCore::open(backend, Config::for_tests()).await?;
        let core = bench.core();
        let (admin, _) = create_users(core, "member", 0).await?;
        let members = register_users(core, "member", users).await?;
        let chat = core
            .membership()
            .create_chat(
                &admin,
                NewChat {
                    name: "load".to_owned(),
                    participants: members.iter().map(|(actor, _)| actor.id()).collect(),
                },
            )
            .await?;
        for i in 0..seed {
            let (author, _) = &members[i % members.len()];
            core.messaging()
                .post(
                    author,
                    chat.id,
                    NewMessage {
                        content: seed_content(i),
                        client_id: None,
                    },
                )
                .await?;
        }
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(chat_server::serve(
            listener,
            core.services(),
            chat_server::Settings::default(),
            shutdown.clone(),
        ));
        Ok(Self {
            target: Target {
                addr,
                chat: chat.id,
                tokens: members.into_iter().map(|(_, token)| token).collect(),
                limit,
            },
            running: Running::InProcess {
                bench: Box::new(bench),
                admin,
                shutdown,
                task,
            },
        })
    }

    /// Runs the `chat-server` binary at `program` on a new SQLite file in a temporary
    /// directory under `parent`, with its defaults (production password hashing, `info`
    /// logs into `server.log` beside the database), and sets it up over HTTP as
    /// [`Server::start`] does: `createsuperuser`, then register, login, create the chat and
    /// post the seed through the REST API.
    async fn spawn_binary(
        program: &std::path::Path,
        parent: &std::path::Path,
        users: usize,
        seed: usize,
        limit: usize,
    ) -> Result<Self, BoxError> {
        let dir = tempfile::Builder::new()
            .prefix("chat-bench-")
            .tempdir_in(parent)?;
        let database_url = format!("sqlite://{}", dir.path().join("bench.db").display());
        let created = Command::new(program)
            .args(["createsuperuser", "--username", "benchadmin"])
            .args(["--database-url", &database_url])
            .env("CHAT_SUPERUSER_PASSWORD", PASSWORD)
            .output()?;
        if !created.status.success() {
            return Err(format!(
                "createsuperuser failed: {}",
                String::from_utf8_lossy(&created.stderr)
            )
            .into());
        }
        // A free port: bind port 0, read it, let it go (the child binds it a moment later).
        let addr = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?;
        let log = std::fs::File::create(dir.path().join("server.log"))?;
        let child = Command::new(program)
            .arg("serve")
            .args(["--bind", &addr.to_string()])
            .args(["--database-url", &database_url])
            .env_remove("RUST_LOG")
            .stdout(std::process::Stdio::null())
            .stderr(log)
            .spawn()?;
        let mut server = Self {
            target: Target {
                addr,
                chat: ChatId(0),
                tokens: Vec::new(),
                limit,
            },
            running: Running::Binary {
                child,
                admin_token: String::new(),
                dir,
            },
        };
        // From here on, dropping `server` on an error leaves the child running: stop it.
        match server.set_up_over_http(users, seed).await {
            Ok(()) => Ok(server),
            Err(e) => {
                server.stop_binary();
                Err(e)
            }
        }
    }

    async fn set_up_over_http(&mut self, users: usize, seed: usize) -> Result<(), BoxError> {
        let addr = self.target.addr;
        let ready = Instant::now() + Duration::from_secs(30);
        while call(addr, http::Method::GET, "/healthz", None, None)
            .await
            .map(|(status, _)| status)
            .ok()
            != Some(http::StatusCode::OK)
        {
            if Instant::now() > ready {
                return Err("chat-server did not answer /healthz within 30 s".into());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let login = serde_json::json!({"username": "benchadmin", "password": PASSWORD});
        let admin_token = expect(
            call(
                addr,
                http::Method::POST,
                "/api/accounts/login/",
                None,
                Some(login),
            )
            .await?,
            http::StatusCode::OK,
        )?["token"]
            .as_str()
            .ok_or("login: no token")?
            .to_owned();
        let mut ids = Vec::with_capacity(users);
        for i in 0..users {
            let registration =
                serde_json::json!({"username": format!("member{i}"), "password": PASSWORD});
            let registered = expect(
                call(
                    addr,
                    http::Method::POST,
                    "/api/accounts/register/",
                    None,
                    Some(registration),
                )
                .await?,
                http::StatusCode::CREATED,
            )?;
            self.target.tokens.push(
                registered["token"]
                    .as_str()
                    .ok_or("register: no token")?
                    .to_owned(),
            );
            ids.push(registered["user"]["id"].clone());
        }
        let chat = expect(
            call(
                addr,
                http::Method::POST,
                "/api/chat/",
                Some(&admin_token),
                Some(serde_json::json!({"name": "load", "participants": ids})),
            )
            .await?,
            http::StatusCode::CREATED,
        )?;
        self.target.chat = serde_json::from_value(chat["id"].clone())?;
        let path = self.target.path(Op::Post);
        for i in 0..seed {
            let token = &self.target.tokens[i % users];
            let content = serde_json::json!({"content": seed_content(i)});
            expect(
                call(addr, http::Method::POST, &path, Some(token), Some(content)).await?,
                http::StatusCode::CREATED,
            )?;
        }
        if let Running::Binary {
            admin_token: slot, ..
        } = &mut self.running
        {
            *slot = admin_token;
        }
        Ok(())
    }

    /// Checks that the chat's `seq`s are 1..n without a gap and that n is at least
    /// `acknowledged` (a load tool may stop with posts in flight that were stored but never
    /// counted), stops the server and drops the database. Returns n.
    async fn stop(mut self, acknowledged: u64) -> Result<u64, BoxError> {
        let stored = match &self.running {
            Running::InProcess {
                bench,
                admin,
                shutdown,
                ..
            } => {
                shutdown.cancel();
                let core = bench.core();
                let mut after = 0;
                loop {
                    let page = PageRequest::after(after, MAX_PAGE_LIMIT)?;
                    let messages = core
                        .messaging()
                        .history(admin, self.target.chat, page)
                        .await?;
                    for m in &messages {
                        if m.seq != after + 1 {
                            return Err(format!("seq {} follows {after}", m.seq).into());
                        }
                        after = m.seq;
                    }
                    if messages.len() < MAX_PAGE_LIMIT as usize {
                        break;
                    }
                }
                after
            }
            Running::Binary { admin_token, .. } => {
                let result = read_back_over_http(&self.target, admin_token).await;
                self.stop_binary();
                result?
            }
        };
        let stored = u64::try_from(stored)?;
        if stored < acknowledged {
            return Err(
                format!("{acknowledged} posts were acknowledged but {stored} are stored").into(),
            );
        }
        if let Running::InProcess { bench, task, .. } = self.running {
            task.await??;
            bench.shutdown().await;
        }
        Ok(stored)
    }

    /// Stops the child with SIGTERM (a graceful shutdown) and waits for it.
    fn stop_binary(&mut self) {
        if let Running::Binary { child, dir, .. } = &mut self.running {
            let _ = Command::new("kill")
                .args(["-TERM", &child.id().to_string()])
                .status();
            match child.wait() {
                Ok(status) if status.success() => {}
                Ok(status) => eprintln!(
                    "chat-server exited with {status}; its log: {}",
                    dir.path().join("server.log").display()
                ),
                Err(e) => eprintln!("cannot wait for chat-server: {e}"),
            }
        }
    }
}

/// The seed posts' text.
fn seed_content(i: usize) -> String {
    format!("seed message {i}: the quick brown fox")
}

/// The last `seq` of the chat, read through `GET …?after_seq=` pages as the admin; fails
/// on a gap.
async fn read_back_over_http(target: &Target, admin_token: &str) -> Result<i64, BoxError> {
    let mut after = 0;
    loop {
        let path = format!(
            "/api/chat/{}/message/?after_seq={after}&limit={MAX_PAGE_LIMIT}",
            target.chat
        );
        let page = expect(
            call(
                target.addr,
                http::Method::GET,
                &path,
                Some(admin_token),
                None,
            )
            .await?,
            http::StatusCode::OK,
        )?;
        let messages = page.as_array().ok_or("history: not an array")?;
        for m in messages {
            let seq = m["seq"].as_i64().ok_or("history: no seq")?;
            if seq != after + 1 {
                return Err(format!("seq {seq} follows {after}").into());
            }
            after = seq;
        }
        if messages.len() < MAX_PAGE_LIMIT as usize {
            return Ok(after);
        }
    }
}

/// One setup request on a connection of its own: the status and the JSON body (`null`
/// when empty).
async fn call(
    addr: SocketAddr,
    method: http::Method,
    path: &str,
    token: Option<&str>,
    body: Option<serde_json::Value>,
) -> Result<(http::StatusCode, serde_json::Value), BoxError> {
    let mut sender = connect(addr).await?;
    let mut builder = Request::builder()
        .method(method)
        .uri(path)
        .header(http::header::HOST, addr.to_string());
    if let Some(token) = token {
        builder = builder.header(http::header::AUTHORIZATION, format!("Token {token}"));
    }
    let request = match body {
        Some(body) => builder
            .header(http::header::CONTENT_TYPE, "application/json")
            .body(Full::new(Bytes::from(body.to_string())))?,
        None => builder.body(Full::default())?,
    };
    let response = sender.send_request(request).await?;
    let status = response.status();
    let body = response.into_body().collect().await?.to_bytes();
    let json = if body.is_empty() {
        serde_json::Value::Null
    } else {
        serde_json::from_slice(&body)?
    };
    Ok((status, json))
}

/// The body of a setup response with the `wanted` status, else an error naming both.
fn expect(
    (status, body): (http::StatusCode, serde_json::Value),
    wanted: http::StatusCode,
) -> Result<serde_json::Value, BoxError> {
    if status == wanted {
        Ok(body)
    } else {
        Err(format!("{status} (wanted {wanted}): {body}").into())
    }
}

/// One connection of the built-in client: HTTP/1.1, keep-alive, no Nagle delay.
async fn connect(
    addr: SocketAddr,
) -> Result<hyper::client::conn::http1::SendRequest<Full<Bytes>>, BoxError> {
    let stream = tokio::net::TcpStream::connect(addr).await?;
    stream.set_nodelay(true)?;
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(async move {
        // The connection ends when the sender is dropped; an error here is counted by the
        // request that sees it.
        let _ = conn.await;
    });
    Ok(sender)
}

fn request(target: &Target, op: Op, token: &str, body: String) -> Request<Full<Bytes>> {
    let builder = Request::builder()
        .uri(target.path(op))
        .header(http::header::HOST, target.addr.to_string())
        .header(http::header::AUTHORIZATION, format!("Token {token}"));
    match op {
        Op::Get => builder.method(http::Method::GET).body(Full::default()),
        Op::Post => builder
            .method(http::Method::POST)
            .header(http::header::CONTENT_TYPE, "application/json")
            .body(Full::new(Bytes::from(body))),
    }
    .expect("the request is well-formed")
}

/// Fails unless `GET …?limit=` answers 200 with a full page; prints the page's size.
async fn check_page(target: &Target) -> Result<(), BoxError> {
    let mut sender = connect(target.addr).await?;
    let response = sender
        .send_request(request(target, Op::Get, &target.tokens[0], String::new()))
        .await?;
    let status = response.status();
    let body = response.into_body().collect().await?.to_bytes();
    let page: serde_json::Value = serde_json::from_slice(&body)?;
    let len = page.as_array().map_or(0, Vec::len);
    if status != http::StatusCode::OK || len != target.limit {
        return Err(format!(
            "status {status}, {len} messages, wanted 200 and {}",
            target.limit
        )
        .into());
    }
    println!(
        "A page of {len} messages is {} bytes of JSON.\n",
        body.len()
    );
    Ok(())
}

/// What one built-in connection reports: (end offset from the window start, latency) of
/// each request that started in the window, and the counts.
#[derive(Default)]
struct ConnectionReport {
    measured: Vec<(Duration, Duration)>,
    non_2xx: u64,
    errors: u64,
    /// 2xx posts over the whole run (warm-up included).
    posted: u64,
}

/// `connections` users, each on their own keep-alive connection with their own token,
/// sending one request at a time for the warm-up and the window.
async fn run_builtin(
    target: &Target,
    cell: Cell,
    timing: Timing,
) -> Result<(Outcome, u64), BoxError> {
    let start = Instant::now() + Duration::from_millis(50);
    let measured_from = start + timing.warmup;
    let until = measured_from + timing.window;
    let users = cell.connections.min(target.tokens.len());
    let tasks: Vec<_> = (0..cell.connections)
        .map(|c| {
            let target = target.clone();
            let token = target.tokens[c % target.tokens.len()].clone();
            tokio::spawn(async move {
                let mut report = ConnectionReport::default();
                let mut sender = connect(target.addr).await?;
                tokio::time::sleep_until(start.into()).await;
                let mut k = 0_u64;
                loop {
                    let began = Instant::now();
                    if began >= until {
                        break;
                    }
                    k += 1;
                    let body = format!(
                        r#"{{"content": "message {k} from connection {c}: the quick brown fox"}}"#
                    );
                    let result = async {
                        sender.ready().await?;
                        let response = sender
                            .send_request(request(&target, cell.op, &token, body))
                            .await?;
                        let status = response.status();
                        response.into_body().collect().await?;
                        Ok::<_, BoxError>(status)
                    }
                    .await;
                    let done = Instant::now();
                    match result {
                        Ok(status) => {
                            if status.is_success() {
                                if cell.op == Op::Post {
                                    report.posted += 1;
                                }
                            } else if began >= measured_from {
                                report.non_2xx += 1;
                            }
                            if began >= measured_from {
                                report.measured.push((done - measured_from, done - began));
                            }
                        }
                        Err(e) => {
                            report.errors += 1;
                            if report.errors == 1 {
                                eprintln!("connection {c}: request failed: {e}");
                            }
                            sender = connect(target.addr).await?;
                        }
                    }
                }
                Ok::<_, BoxError>(report)
            })
        })
        .collect();

    let mut latencies = Vec::new();
    let mut elapsed = Duration::ZERO;
    let mut non_2xx = 0;
    let mut errors = 0;
    let mut posted = 0;
    for task in tasks {
        let report = task.await??;
        non_2xx += report.non_2xx;
        errors += report.errors;
        posted += report.posted;
        for (finished_at, latency) in report.measured {
            elapsed = elapsed.max(finished_at);
            latencies.push(latency);
        }
    }
    let responses = latencies.len() as u64;
    Ok((
        Outcome {
            cell,
            responses,
            per_second: responses as f64 / elapsed.as_secs_f64().max(f64::EPSILON),
            latency: Percentiles::of(&mut latencies),
            non_2xx,
            errors,
            users,
        },
        posted,
    ))
}

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
fn run_wrk(
    target: &Target,
    cell: Cell,
    timing: Timing,
    client_threads: usize,
) -> Result<(Outcome, u64), BoxError> {
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
    Ok((
        Outcome {
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
        },
        posted,
    ))
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
fn run_oha(target: &Target, cell: Cell, timing: Timing) -> Result<(Outcome, u64), BoxError> {
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
    Ok((
        Outcome {
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
        },
        posted,
    ))
}

/// The runs of one cell: the median run by requests/s, and the spread.
struct Summary {
    median: Outcome,
    slowest: f64,
    fastest: f64,
    runs: usize,
}

impl Summary {
    fn of(mut runs: Vec<Outcome>) -> Option<Self> {
        runs.sort_by(|a, b| a.per_second.total_cmp(&b.per_second));
        let slowest = runs.first()?.per_second;
        let fastest = runs.last()?.per_second;
        let count = runs.len();
        let median = runs.swap_remove(count / 2);
        Some(Self {
            median,
            slowest,
            fastest,
            runs: count,
        })
    }
}

fn print_table(heading: &str, summaries: &[Summary], repeat: usize, limit: usize) {
    println!("## {heading}\n");
    if repeat > 1 {
        println!(
            "Median of {repeat} runs by requests/s (range: slowest–fastest run); the other columns are the median run's.\n"
        );
    }
    println!(
        "| request | client | connections | users | req/s | range | p50 ms | p99 ms | max ms | responses | non-2xx | errors |"
    );
    println!("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for s in summaries {
        let o = &s.median;
        let range = if s.runs > 1 {
            format!("{:.0}–{:.0}", s.slowest, s.fastest)
        } else {
            "—".to_owned()
        };
        println!(
            "| {} | {} | {} | {} | {:.0} | {range} | {} | {} | {} | {} | {} | {} |",
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
