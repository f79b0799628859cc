//! The `chat-server` binary as a child process on a fresh SQLite file, set up over its REST
//! API (an admin, members with their own tokens, chats of them), read back over HTTP and
//! stopped with SIGTERM; and the small HTTP/1.1 client those setup requests use. Shared by
//! `http_load --server-bin` and `ws_load`.

use crate::{BoxError, PASSWORD};
use bytes::Bytes;
use chatcore::model::{ChatId, MAX_PAGE_LIMIT};
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper_util::rt::TokioIo;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// A running `chat-server serve` child on its own SQLite file, with its admin's token.
/// Dropping it stops the child (SIGTERM) and removes the database.
pub struct ChildServer {
    /// Where it listens.
    pub addr: SocketAddr,
    /// The admin's API token.
    pub admin_token: String,
    child: std::process::Child,
    dir: tempfile::TempDir,
    stopped: bool,
}

/// A member made by [`ChildServer::register_members`].
#[derive(Debug, Clone)]
pub struct Member {
    /// The user's id as the API wrote it.
    pub id: serde_json::Value,
    /// The API token registration minted.
    pub token: String,
}

impl ChildServer {
    /// Runs the `chat-server` binary at `program` on a new SQLite file in a temporary
    /// directory under `parent`, with its defaults (production password hashing, `info`
    /// logs into `server.log` beside the database), the `serve` flags `extra` and the
    /// environment variables `env`: first `createsuperuser`, then `serve` on a free port;
    /// waits for `/healthz` and logs the admin in.
    pub async fn spawn(
        program: &Path,
        parent: &Path,
        extra: &[String],
        env: &[(&str, &str)],
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
            .args(extra)
            .envs(env.iter().copied())
            .env_remove("RUST_LOG")
            .stdout(std::process::Stdio::null())
            .stderr(log)
            .spawn()?;
        // From here on, dropping `server` stops the child.
        let mut server = Self {
            addr,
            admin_token: String::new(),
            child,
            dir,
            stopped: false,
        };
        server.wait_ready().await?;
        let login = serde_json::json!({"username": "benchadmin", "password": PASSWORD});
        server.admin_token = expect(
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
        Ok(server)
    }

    /// Waits up to 30 s for `/healthz` to answer 200.
    async fn wait_ready(&self) -> Result<(), BoxError> {
        let ready = Instant::now() + Duration::from_secs(30);
        while call(self.addr, http::Method::GET, "/healthz", None, None)
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
        Ok(())
    }

    /// The child's process id (for its `/proc/<pid>/status`).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The child's log file.
    pub fn log_path(&self) -> PathBuf {
        self.dir.path().join("server.log")
    }

    /// Registers `n` users `member0` … through `POST /api/accounts/register/`.
    pub async fn register_members(&self, n: usize) -> Result<Vec<Member>, BoxError> {
        let mut members = Vec::with_capacity(n);
        for i in 0..n {
            let registration =
                serde_json::json!({"username": format!("member{i}"), "password": PASSWORD});
            let registered = expect(
                call(
                    self.addr,
                    http::Method::POST,
                    "/api/accounts/register/",
                    None,
                    Some(registration),
                )
                .await?,
                http::StatusCode::CREATED,
            )?;
            members.push(Member {
                id: registered["user"]["id"].clone(),
                token: registered["token"]
                    .as_str()
                    .ok_or("register: no token")?
                    .to_owned(),
            });
        }
        Ok(members)
    }

    /// Creates a chat named `name` of `members`, as the admin.
    pub async fn create_chat(&self, name: &str, members: &[Member]) -> Result<ChatId, BoxError> {
        let ids: Vec<_> = members.iter().map(|m| m.id.clone()).collect();
        let chat = expect(
            call(
                self.addr,
                http::Method::POST,
                "/api/chat/",
                Some(&self.admin_token),
                Some(serde_json::json!({"name": name, "participants": ids})),
            )
            .await?,
            http::StatusCode::CREATED,
        )?;
        Ok(serde_json::from_value(chat["id"].clone())?)
    }

    /// The last `seq` of `chat`, read through `GET …?after_seq=` pages as the admin; fails
    /// on a gap.
    pub async fn read_back(&self, chat: ChatId) -> Result<i64, BoxError> {
        let mut after = 0;
        loop {
            let path =
                format!("/api/chat/{chat}/message/?after_seq={after}&limit={MAX_PAGE_LIMIT}");
            let page = expect(
                call(
                    self.addr,
                    http::Method::GET,
                    &path,
                    Some(&self.admin_token),
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

    /// Stops the child with SIGTERM (a graceful shutdown) and waits for it; says so on
    /// stderr, with the log's path, when it did not exit cleanly.
    pub fn stop(&mut self) {
        if std::mem::replace(&mut self.stopped, true) {
            return;
        }
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        match self.child.wait() {
            Ok(status) if status.success() => {}
            Ok(status) => eprintln!(
                "chat-server exited with {status}; its log: {}",
                self.log_path().display()
            ),
            Err(e) => eprintln!("cannot wait for chat-server: {e}"),
        }
    }
}

impl Drop for ChildServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// One connection of a minimal HTTP/1.1 client: keep-alive, no Nagle delay.
pub async fn connect(
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

/// One setup request on a connection of its own: the status and the JSON body (`null`
/// when empty).
pub async fn call(
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
pub fn expect(
    (status, body): (http::StatusCode, serde_json::Value),
    wanted: http::StatusCode,
) -> Result<serde_json::Value, BoxError> {
    if status == wanted {
        Ok(body)
    } else {
        Err(format!("{status} (wanted {wanted}): {body}").into())
    }
}
