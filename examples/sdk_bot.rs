//! A bot built on `chat-sdk`: it signs in to a running chat server and answers every
//! `!ping` in the chats it is a member of with `pong @<author>`.
//!
//! It polls the REST API: each round is one `GET /api/chat/` (every chat carries its
//! `last_seq`) and, for each chat that moved, the history after the last `seq` the bot has
//! read (`?after_seq=`). The server's WebSocket comes with a later issue; once it is there a
//! bot like this one would hold `Client::connect(chat)` instead, which pushes events and
//! resumes from the last `seq` by itself, rather than asking every second.
//!
//! Behaviour worth knowing: a chat is read from its `last_seq` at the moment the bot first
//! sees it, so old pings are never answered — but neither is a ping posted in the one poll
//! interval between the bot being added to a chat and its next round. A reply carries the
//! `client_id` `pong-<chat>-<seq>`, so a reply retried after a lost answer is not stored
//! twice; the cursor moves past a ping only once its reply is stored. Transient failures
//! (server down, 429, 503) back off up to 30 s; a 401 (token revoked, account deactivated)
//! stops the bot; a chat answering 403 or 404 (removed, deleted) is dropped until the chat
//! list shows it again.
//!
//! Run it against a server (`cargo run -p chat-server`) with an account of its own, which
//! an admin adds to chats:
//! ```text
//! CHAT_BOT_USERNAME=pingbot CHAT_BOT_PASSWORD=… cargo run -p examples --example sdk_bot
//! ```
//! `CHAT_BASE_URL` (default `http://127.0.0.1:8000`) and `CHAT_BOT_POLL_MS` (default 1000)
//! are optional. `-- --self-test` instead starts a server in this process, makes the bot's
//! account and a chat, pings the bot as another user, waits for the pong and exits (CI
//! does this).

use chat_sdk::Client;
use chat_sdk::model::{ChatId, Message, NewChat, NewMessage, Registration, User, UserFlagsUpdate};
use chat_server::Settings;
use chatcore::auth::random_hex;
use chatcore::{ChatCore, Config};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::io::IsTerminal;
use std::process::ExitCode;
use std::time::{Duration, Instant};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The server the bot talks to when `CHAT_BASE_URL` is not set.
const DEFAULT_BASE_URL: &str = "http://127.0.0.1:8000";
/// Time between polls when `CHAT_BOT_POLL_MS` is not set.
const DEFAULT_POLL: Duration = Duration::from_millis(1000);
/// The longest wait between polls after repeated failures.
const MAX_BACKOFF: Duration = Duration::from_secs(30);

// ----- the bot ---------------------------------------------------------------------------

/// Where the bot signs in, as whom, and how often it looks.
#[derive(Clone)]
struct BotConfig {
    base_url: String,
    username: String,
    password: String,
    poll_interval: Duration,
}

impl fmt::Debug for BotConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The password never reaches a log.
        f.debug_struct("BotConfig")
            .field("base_url", &self.base_url)
            .field("username", &self.username)
            .field("poll_interval", &self.poll_interval)
            .finish_non_exhaustive()
    }
}

impl BotConfig {
    /// Reads `CHAT_BASE_URL`, `CHAT_BOT_USERNAME`, `CHAT_BOT_PASSWORD`, `CHAT_BOT_POLL_MS`.
    fn from_env() -> Result<Self, String> {
        let required = |name: &str| {
            std::env::var(name)
                .ok()
                .filter(|v| !v.is_empty())
                .ok_or_else(|| format!("{name} is not set"))
        };
        let poll_interval = match std::env::var("CHAT_BOT_POLL_MS") {
            Ok(ms) => ms
                .parse::<u64>()
                .ok()
                .filter(|&ms| ms > 0)
                .map(Duration::from_millis)
                .ok_or_else(|| {
                    format!("CHAT_BOT_POLL_MS must be a positive integer, not {ms:?}")
                })?,
            Err(_) => DEFAULT_POLL,
        };
        Ok(Self {
            base_url: std::env::var("CHAT_BASE_URL").unwrap_or_else(|_| DEFAULT_BASE_URL.into()),
            username: required("CHAT_BOT_USERNAME")?,
            password: required("CHAT_BOT_PASSWORD")?,
            poll_interval,
        })
    }
}

/// A chat the bot reads: its name (for the log) and the last `seq` it has handled.
#[derive(Debug)]
struct Watched {
    name: String,
    after_seq: i64,
}

/// The bot: a signed-in client, who it is, and a cursor per chat.
#[derive(Debug)]
struct PingBot {
    client: Client,
    me: User,
    chats: BTreeMap<ChatId, Watched>,
    poll_interval: Duration,
    answered: u64,
}

impl PingBot {
    /// Signs in with a password (the server mints a token the bot uses from then on) and
    /// lists the chats it is in, each to be read from its current end.
    async fn start(config: &BotConfig) -> chat_sdk::Result<Self> {
        let client = Client::new(&config.base_url)?
            .login(&config.username, &config.password)
            .await?;
        let me = client.me().await?.user;
        println!(
            "pingbot: signed in to {} as {} (user #{})",
            client.base_url(),
            me.username,
            me.id
        );
        let mut bot = Self {
            client,
            me,
            chats: BTreeMap::new(),
            poll_interval: config.poll_interval,
            answered: 0,
        };
        bot.refresh_chats().await?;
        if bot.chats.is_empty() {
            println!("pingbot: in no chat yet; an admin has to add me to one");
        }
        Ok(bot)
    }

    /// Polls until `shutdown` is cancelled (`Ok` with the number of pings answered) or the
    /// server refuses the bot's token (`Err`, a 401). Other failures are retried.
    async fn run(mut self, shutdown: CancellationToken) -> chat_sdk::Result<u64> {
        let mut wait = self.poll_interval;
        loop {
            tokio::select! {
                () = shutdown.cancelled() => return Ok(self.answered),
                () = tokio::time::sleep(wait) => {}
            }
            let outcome = tokio::select! {
                () = shutdown.cancelled() => return Ok(self.answered),
                outcome = self.poll_once() => outcome,
            };
            match outcome {
                Ok(()) => wait = self.poll_interval,
                Err(e) if e.is_unauthenticated() => {
                    println!("pingbot: the server no longer accepts my token ({e}); stopping");
                    return Err(e);
                }
                Err(e) => {
                    wait = (wait * 2).min(MAX_BACKOFF);
                    eprintln!("pingbot: poll failed: {e}; next try in {wait:?}");
                }
            }
        }
    }

    /// One round: re-read the chat list, then catch up on every chat that moved.
    async fn poll_once(&mut self) -> chat_sdk::Result<()> {
        for chat in self.refresh_chats().await? {
            match self.catch_up(chat).await {
                Ok(()) => {}
                // Removed from the chat, or it was deleted, since the list was read.
                Err(e) if e.is_forbidden() || e.is_not_found() => {
                    if let Some(gone) = self.chats.remove(&chat) {
                        println!("pingbot: lost access to #{chat} {:?}: {e}", gone.name);
                    }
                }
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Reads the chat list (only chats the bot is a member of: an admin bot would see all
    /// of them but may post only where it is a member). Starts watching new chats from
    /// their current end, forgets chats it left, and returns the chats with unread messages.
    async fn refresh_chats(&mut self) -> chat_sdk::Result<Vec<ChatId>> {
        let mut moved = Vec::new();
        let mut present = BTreeSet::new();
        for chat in self.client.chats().await? {
            if !chat.participants.iter().any(|p| p.id == self.me.id) {
                continue;
            }
            present.insert(chat.id);
            match self.chats.get_mut(&chat.id) {
                Some(watched) => {
                    if chat.last_seq > watched.after_seq {
                        moved.push(chat.id);
                    }
                    watched.name = chat.name;
                }
                None => {
                    println!(
                        "pingbot: watching #{} {:?} from seq {}",
                        chat.id, chat.name, chat.last_seq
                    );
                    self.chats.insert(
                        chat.id,
                        Watched {
                            name: chat.name,
                            after_seq: chat.last_seq,
                        },
                    );
                }
            }
        }
        self.chats.retain(|id, watched| {
            let still = present.contains(id);
            if !still {
                println!("pingbot: no longer in #{id} {:?}", watched.name);
            }
            still
        });
        Ok(moved)
    }

    /// Answers the pings among the chat's messages after the cursor, moving the cursor past
    /// each message once it is handled.
    async fn catch_up(&mut self, chat: ChatId) -> chat_sdk::Result<()> {
        let Some(after_seq) = self.chats.get(&chat).map(|w| w.after_seq) else {
            return Ok(());
        };
        for message in self.client.messages_since(chat, after_seq).await? {
            if message.user.id != self.me.id && is_ping(&message.content) {
                let reply = self.reply(chat, &message).await?;
                self.answered += 1;
                println!(
                    "pingbot: #{chat}: {} said {:?} (seq {}) -> {:?} (seq {})",
                    message.user.username, message.content, message.seq, reply.content, reply.seq
                );
            }
            if let Some(watched) = self.chats.get_mut(&chat) {
                watched.after_seq = message.seq;
            }
        }
        Ok(())
    }

    /// Posts the pong for `ping`; its `client_id` makes a retried reply idempotent.
    async fn reply(&self, chat: ChatId, ping: &Message) -> chat_sdk::Result<Message> {
        let reply = NewMessage {
            content: format!("pong @{}", ping.user.username),
            client_id: Some(format!("pong-{chat}-{}", ping.seq)),
        };
        self.client.post_message(chat, &reply).await
    }
}

/// Whether a message asks for a pong: its first word is `!ping`, in any case.
fn is_ping(content: &str) -> bool {
    content
        .split_whitespace()
        .next()
        .is_some_and(|word| word.eq_ignore_ascii_case("!ping"))
}

// ----- the program -----------------------------------------------------------------------

#[tokio::main]
async fn main() -> ExitCode {
    let self_test = match std::env::args().skip(1).collect::<Vec<_>>().as_slice() {
        [] => false,
        [flag] if flag == "--self-test" => true,
        _ => {
            eprintln!("usage: sdk_bot [--self-test]");
            return ExitCode::from(2);
        }
    };
    // SDK and (in the self-test) server warnings to stderr; `RUST_LOG` for more.
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .init();
    // One rustls provider for every TLS user (an `https://` base URL); an error only means
    // one is installed already.
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let outcome = if self_test {
        self_test_with_server().await
    } else {
        match BotConfig::from_env() {
            Ok(config) => run_bot(config).await,
            Err(e) => {
                eprintln!("sdk_bot: {e}");
                eprintln!(
                    "usage: CHAT_BOT_USERNAME=… CHAT_BOT_PASSWORD=… [CHAT_BASE_URL={DEFAULT_BASE_URL}] \
                     [CHAT_BOT_POLL_MS=1000] sdk_bot\n       sdk_bot --self-test"
                );
                return ExitCode::from(2);
            }
        }
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("sdk_bot: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The bot against the configured server, until Ctrl-C.
async fn run_bot(config: BotConfig) -> Result<(), BoxError> {
    let bot = PingBot::start(&config).await.map_err(|e| {
        format!(
            "cannot start as {} on {}: {e}",
            config.username, config.base_url
        )
    })?;
    let shutdown = CancellationToken::new();
    let on_ctrl_c = shutdown.clone();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            on_ctrl_c.cancel();
        }
    });
    println!(
        "pingbot: polling every {:?}; Ctrl-C stops me",
        config.poll_interval
    );
    let answered = bot.run(shutdown).await?;
    println!("pingbot: stopped after answering {answered} ping(s)");
    Ok(())
}

// ----- the self-test ---------------------------------------------------------------------

/// Starts a chat server in this process (temporary SQLite, a free port), runs the scenario
/// against it, and stops it again whatever the outcome.
async fn self_test_with_server() -> Result<(), BoxError> {
    let dir = tempfile::tempdir()?;
    let database_url = format!("sqlite://{}", dir.path().join("chat.db").display());
    let core = ChatCore::open(&database_url, Config::default()).await?;
    let admin_password = format!("admin-{}", random_hex(12));
    core.auth()
        .create_superuser(Registration {
            username: "admin".into(),
            password: admin_password.clone(),
            email: "admin@example.com".into(),
            first_name: "Ada".into(),
            last_name: "Admin".into(),
        })
        .await?;
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let base_url = format!("http://{}", listener.local_addr()?);
    let shutdown = CancellationToken::new();
    let server = tokio::spawn(chat_server::serve(
        listener,
        core.services(),
        Settings::default(),
        shutdown.clone(),
    ));
    println!("== sdk_bot self-test: chat-server in this process at {base_url}\n");

    let outcome = scenario(&base_url, &admin_password).await;
    shutdown.cancel();
    let served = server.await;
    core.shutdown().await;
    outcome?;
    served??;
    println!("\nself-test passed.");
    Ok(())
}

/// The bot's life, checked step by step from the outside (as alice and the admin see it).
async fn scenario(base_url: &str, admin_password: &str) -> Result<(), BoxError> {
    let anonymous = Client::new(base_url)?;
    let admin = anonymous.login("admin", admin_password).await?;
    let bot_password = format!("bot-{}", random_hex(12));
    let (_, bot_user) = anonymous
        .register(&registration("pingbot", &bot_password, "Ping", "Bot"))
        .await?;
    let alice_password = format!("alice-{}", random_hex(12));
    let (alice, alice_user) = anonymous
        .register(&registration("alice", &alice_password, "Alice", "Liddell"))
        .await?;
    let ops = admin
        .create_chat(&NewChat {
            name: "ops".into(),
            participants: vec![bot_user.id, alice_user.id],
        })
        .await?;
    let old_ping = alice.post(ops.id, "!ping").await?;
    println!(
        "setup: admin made chat #{} \"ops\" with pingbot and alice; alice pinged (seq {}) before the bot runs\n",
        ops.id, old_ping.seq
    );

    let config = BotConfig {
        base_url: base_url.into(),
        username: "pingbot".into(),
        password: bot_password,
        poll_interval: Duration::from_millis(100),
    };
    let bot = PingBot::start(&config).await?;
    let stop_bot = CancellationToken::new();
    let bot_task = tokio::spawn(bot.run(stop_bot.clone()));
    let outcome = watch_the_bot(&admin, &alice, &ops, &bot_user, &alice_user, old_ping).await;
    if outcome.is_err() {
        stop_bot.cancel();
        return outcome;
    }

    println!("\n-- the admin deactivates pingbot: its token stops working and the bot stops");
    admin
        .update_user(
            bot_user.id,
            &UserFlagsUpdate {
                is_active: Some(false),
                is_superuser: None,
            },
        )
        .await?;
    match tokio::time::timeout(Duration::from_secs(10), bot_task).await {
        Ok(Ok(Err(e))) if e.is_unauthenticated() => Ok(()),
        Ok(Ok(other)) => {
            Err(format!("self-test: expected the bot to stop with a 401, got {other:?}").into())
        }
        Ok(Err(e)) => Err(format!("self-test: the bot task failed: {e}").into()),
        Err(_) => {
            stop_bot.cancel();
            Err("self-test: the bot still runs 10 s after its account was deactivated".into())
        }
    }
}

/// Pings the running bot in a chat it knew at start and in one made afterwards, and checks
/// what it answered (and what it did not).
async fn watch_the_bot(
    admin: &Client,
    alice: &Client,
    ops: &chat_sdk::model::Chat,
    bot_user: &User,
    alice_user: &User,
    old_ping: Message,
) -> Result<(), BoxError> {
    println!("\n-- alice chats, then pings the running bot in \"ops\"");
    alice.post(ops.id, "morning, everyone").await?;
    let ping = alice.post(ops.id, "!ping").await?;
    let pong = wait_for_reply(alice, ops.id, ping.seq, bot_user, Duration::from_secs(10))
        .await?
        .ok_or("self-test: no pong within 10 s")?;
    println!(
        "alice sees: {} (seq {}) answering her ping (seq {})",
        pong.content, pong.seq, ping.seq
    );
    ensure(
        pong.content == "pong @alice",
        format!("the reply is \"pong @alice\" (got {:?})", pong.content),
    )?;
    let from_bot: Vec<i64> = alice
        .messages_since(ops.id, 0)
        .await?
        .into_iter()
        .filter(|m| m.user.id == bot_user.id)
        .map(|m| m.seq)
        .collect();
    ensure(
        from_bot == [pong.seq],
        format!(
            "exactly one bot message in \"ops\": the ping at seq {} came before the bot and stays unanswered (bot messages at {from_bot:?})",
            old_ping.seq
        ),
    )?;

    println!("\n-- a chat made while the bot runs: noticed on its next round");
    let incidents = admin
        .create_chat(&NewChat {
            name: "incidents".into(),
            participants: vec![bot_user.id, alice_user.id],
        })
        .await?;
    // A ping in the moment before the bot's next round goes unanswered (see the module
    // comment), so alice pings again after a short wait, as a person would.
    let deadline = Instant::now() + Duration::from_secs(10);
    let pong = loop {
        let ping = alice.post(incidents.id, "!ping are you here too?").await?;
        if let Some(pong) = wait_for_reply(
            alice,
            incidents.id,
            ping.seq,
            bot_user,
            Duration::from_millis(500),
        )
        .await?
        {
            break pong;
        }
        if Instant::now() > deadline {
            return Err("self-test: no pong in the new chat within 10 s".into());
        }
    };
    println!(
        "alice sees: {} (seq {}) in #{} \"incidents\"",
        pong.content, pong.seq, incidents.id
    );
    Ok(())
}

/// The first message by `bot` after `after_seq` in `chat`, polling as alice for `patience`.
async fn wait_for_reply(
    reader: &Client,
    chat: ChatId,
    after_seq: i64,
    bot: &User,
    patience: Duration,
) -> chat_sdk::Result<Option<Message>> {
    let deadline = Instant::now() + patience;
    loop {
        let reply = reader
            .messages_since(chat, after_seq)
            .await?
            .into_iter()
            .find(|m| m.user.id == bot.id);
        if reply.is_some() || Instant::now() >= deadline {
            return Ok(reply);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn registration(username: &str, password: &str, first_name: &str, last_name: &str) -> Registration {
    Registration {
        username: username.into(),
        password: password.into(),
        email: format!("{username}@example.com"),
        first_name: first_name.into(),
        last_name: last_name.into(),
    }
}

/// `Ok` when `condition` holds, otherwise an error saying what was expected.
fn ensure(condition: bool, expectation: impl fmt::Display) -> Result<(), BoxError> {
    if condition {
        Ok(())
    } else {
        Err(format!("self-test: expected {expectation}").into())
    }
}
