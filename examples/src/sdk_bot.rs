//! A bot on `chat-sdk`: [`PingBot`] signs in to a running chat server and answers every
//! `!ping` in the chats it is a member of with `pong @<author>`.
//!
//! It polls the REST API: each round is one `GET /api/chat/` (every chat carries its
//! `last_seq`) and, for each chat that moved, the history after the last `seq` the bot has
//! read (`?after_seq=`). Once the server's WebSocket is there, a bot like this one would
//! hold `Client::connect(chat)` instead, which pushes events and resumes from the last
//! `seq` by itself, rather than asking every second.
//!
//! Behaviour worth knowing: a chat is read from its `last_seq` at the moment the bot first
//! sees it, so old pings are never answered — but neither is a ping posted in the one poll
//! interval between the bot being added to a chat and its next round. A reply carries the
//! `client_id` `pong-<chat>-<seq>`, so a reply retried after a lost answer is not stored
//! twice; the cursor moves past a ping only once its reply is stored. Transient failures
//! (server down, 429, 503) back off up to 30 s; a 401 (token revoked, account deactivated)
//! stops the bot; a chat answering 403 or 404 (removed, deleted) is dropped until the chat
//! list shows it again. What the bot does is logged with `tracing` at `info`.

use chat_sdk::Client;
use chat_sdk::model::{ChatId, Message, NewMessage, User};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// The server the bot talks to when `CHAT_BASE_URL` is not set.
pub const DEFAULT_BASE_URL: &str = "http://127.0.0.1:8000";
/// Time between polls when `CHAT_BOT_POLL_MS` is not set.
pub const DEFAULT_POLL: Duration = Duration::from_millis(1000);
/// The longest wait between polls after repeated failures.
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// How the bot signs in.
#[derive(Clone)]
pub enum Credentials {
    /// A password login: the server mints a token the bot uses from then on.
    Password {
        /// The bot account's username.
        username: String,
        /// Its password.
        password: String,
    },
    /// An API token the bot already holds (from a login, or a key the server accepts).
    Token(String),
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Secrets never reach a log.
        match self {
            Credentials::Password { username, .. } => write!(f, "Password({username}, ..)"),
            Credentials::Token(_) => f.write_str("Token(..)"),
        }
    }
}

/// Where the bot signs in, as whom, and how often it looks.
#[derive(Debug, Clone)]
pub struct BotConfig {
    /// The chat server, e.g. `http://127.0.0.1:8000`.
    pub base_url: String,
    /// The bot's account.
    pub credentials: Credentials,
    /// Time between polls while all is well.
    pub poll_interval: Duration,
}

impl BotConfig {
    /// Reads `CHAT_BASE_URL` (default [`DEFAULT_BASE_URL`]), `CHAT_BOT_TOKEN` or else
    /// `CHAT_BOT_USERNAME` and `CHAT_BOT_PASSWORD`, and `CHAT_BOT_POLL_MS` (default 1000).
    pub fn from_env() -> Result<Self, String> {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        let required = |name: &str| var(name).ok_or_else(|| format!("{name} is not set"));
        let credentials = match var("CHAT_BOT_TOKEN") {
            Some(token) => Credentials::Token(token),
            None => Credentials::Password {
                username: required("CHAT_BOT_USERNAME")?,
                password: required("CHAT_BOT_PASSWORD")?,
            },
        };
        let poll_interval = match var("CHAT_BOT_POLL_MS") {
            Some(ms) => ms
                .parse::<u64>()
                .ok()
                .filter(|&ms| ms > 0)
                .map(Duration::from_millis)
                .ok_or_else(|| {
                    format!("CHAT_BOT_POLL_MS must be a positive integer, not {ms:?}")
                })?,
            None => DEFAULT_POLL,
        };
        Ok(Self {
            base_url: var("CHAT_BASE_URL").unwrap_or_else(|| DEFAULT_BASE_URL.into()),
            credentials,
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
pub struct PingBot {
    client: Client,
    me: User,
    chats: BTreeMap<ChatId, Watched>,
    poll_interval: Duration,
    answered: u64,
}

impl PingBot {
    /// Signs in and lists the chats the bot is in, each to be read from its current end.
    pub async fn start(config: &BotConfig) -> chat_sdk::Result<Self> {
        let client = Client::new(&config.base_url)?;
        let client = match &config.credentials {
            Credentials::Password { username, password } => {
                client.login(username, password).await?
            }
            Credentials::Token(token) => client.with_token(token)?,
        };
        let me = client.me().await?.user;
        tracing::info!(
            "signed in to {} as {} (user #{})",
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
            tracing::info!("in no chat yet; an admin has to add me to one");
        }
        Ok(bot)
    }

    /// Polls until `shutdown` is cancelled (`Ok` with the number of pings answered) or the
    /// server refuses the bot's token (`Err`, a 401). Other failures are retried.
    pub async fn run(mut self, shutdown: CancellationToken) -> chat_sdk::Result<u64> {
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
                    tracing::warn!("the server no longer accepts my token ({e}); stopping");
                    return Err(e);
                }
                Err(e) => {
                    wait = (wait * 2).min(MAX_BACKOFF);
                    tracing::warn!("poll failed: {e}; next try in {wait:?}");
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
                        tracing::info!("lost access to #{chat} {:?}: {e}", gone.name);
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
                    tracing::info!(
                        "watching #{} {:?} from seq {}",
                        chat.id,
                        chat.name,
                        chat.last_seq
                    );
                    let after_seq = chat.last_seq;
                    let name = chat.name;
                    self.chats.insert(chat.id, Watched { name, after_seq });
                }
            }
        }
        self.chats.retain(|id, watched| {
            let still = present.contains(id);
            if !still {
                tracing::info!("no longer in #{id} {:?}", watched.name);
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
                tracing::info!(
                    "#{chat}: {} said {:?} (seq {}) -> {:?} (seq {})",
                    message.user.username,
                    message.content,
                    message.seq,
                    reply.content,
                    reply.seq
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
pub fn is_ping(content: &str) -> bool {
    content
        .split_whitespace()
        .next()
        .is_some_and(|word| word.eq_ignore_ascii_case("!ping"))
}

#[cfg(test)]
mod tests {
    use super::is_ping;

    #[test]
    fn a_ping_is_the_first_word_in_any_case() {
        for text in ["!ping", "  !PING are you there?", "!Ping\tnow"] {
            assert!(is_ping(text), "{text:?}");
        }
        for text in ["ping", "say !ping", "!pingpong", ""] {
            assert!(!is_ping(text), "{text:?}");
        }
    }
}
