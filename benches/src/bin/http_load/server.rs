//! The server under load: `chat_server::serve` in this process over a fresh core, or the
//! `chat-server` binary as a child process; either way set up with an admin, members who
//! share one chat and a seed of messages, and at the end read back (gapless, nothing
//! acknowledged missing) and stopped.

use crate::builtin::connect;
use crate::{Op, Target};
use benches::{Backend, BenchCore, BoxError, PASSWORD, create_users, read_back, register_users};
use bytes::Bytes;
use chatcore::model::{ChatId, MAX_PAGE_LIMIT, NewChat, NewMessage};
use chatcore::{Actor, Config};
use http_body_util::{BodyExt, Full};
use hyper::Request;
use std::net::SocketAddr;
use std::process::Command;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

/// The server under load, with the chat the load goes to.
pub(crate) struct Server {
    /// Where the load goes.
    pub(crate) target: Target,
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
    pub(crate) async fn start(
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
    pub(crate) async fn spawn_binary(
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

    /// Waits for `/healthz`, then makes the admin's token, the members, the chat and the
    /// seed through the REST API.
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
    pub(crate) async fn stop(mut self, acknowledged: u64) -> Result<u64, BoxError> {
        let stored = match &self.running {
            Running::InProcess {
                bench,
                admin,
                shutdown,
                ..
            } => {
                shutdown.cancel();
                read_back(bench.core(), admin, self.target.chat, |_| {}).await?
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
