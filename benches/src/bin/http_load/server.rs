//! The server under load: `chat_server::serve` in this process over a fresh core, or the
//! `chat-server` binary as a child process; either way set up with an admin, members who
//! share one chat and a seed of messages, and at the end read back (gapless, nothing
//! acknowledged missing) and stopped.

use crate::{Op, Target};
use benches::child_server::{ChildServer, call, expect};
use benches::{Backend, BenchCore, BoxError, create_users, read_back, register_users};
use chatcore::model::{NewChat, NewMessage};
use chatcore::{Actor, Config};
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
    /// The `chat-server` binary as a child process.
    Binary(Box<ChildServer>),
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
        let child = ChildServer::spawn(program, parent, &[], &[]).await?;
        let members = child.register_members(users).await?;
        let chat = child.create_chat("load", &members).await?;
        let target = Target {
            addr: child.addr,
            chat,
            tokens: members.into_iter().map(|m| m.token).collect(),
            limit,
        };
        let path = target.path(Op::Post);
        for i in 0..seed {
            let token = &target.tokens[i % users];
            let content = serde_json::json!({"content": seed_content(i)});
            expect(
                call(
                    target.addr,
                    http::Method::POST,
                    &path,
                    Some(token),
                    Some(content),
                )
                .await?,
                http::StatusCode::CREATED,
            )?;
        }
        Ok(Self {
            target,
            running: Running::Binary(Box::new(child)),
        })
    }

    /// Checks that the chat's `seq`s are 1..n without a gap and that n is at least
    /// `acknowledged` (a load tool may stop with posts in flight that were stored but never
    /// counted), stops the server and drops the database. Returns n.
    pub(crate) async fn stop(self, acknowledged: u64) -> Result<u64, BoxError> {
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
            // Dropping the child (below, or on an error here) stops it.
            Running::Binary(child) => child.read_back(self.target.chat).await?,
        };
        let stored = u64::try_from(stored)?;
        if stored < acknowledged {
            return Err(
                format!("{acknowledged} posts were acknowledged but {stored} are stored").into(),
            );
        }
        match self.running {
            Running::InProcess { bench, task, .. } => {
                task.await??;
                bench.shutdown().await;
            }
            Running::Binary(mut child) => child.stop(),
        }
        Ok(stored)
    }
}

/// The seed posts' text.
fn seed_content(i: usize) -> String {
    format!("seed message {i}: the quick brown fox")
}
