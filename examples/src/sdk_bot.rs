//! A bot on `chat-sdk`: [`PingBot`] signs in to a running chat server and answers every
//! `!ping` in the chats it is a member of with `pong @<author>`.
//!
//! It holds one live connection per chat (`Client::connect`, a `futures::Stream` of
//! `ChatEvent`s that reconnects and resumes from the last `seq` by itself) and answers on
//! that connection (`send_message`, which resolves to the server's ack). The only polling
//! left is the chat list, re-read every `poll_interval`, since no stream says "you were
//! added to a chat": a new chat is connected from its `last_seq` at that moment.
//!
//! Behaviour worth knowing: old pings are never answered — nor one posted between the bot
//! being added to a chat and its next look at the chat list. A reply carries the
//! `client_id` `pong-<chat>-<seq>`, so a reply the connection sends again after a drop is
//! not stored twice. A chat's stream ends when the bot is removed from it or it is deleted
//! (the chat is dropped until the list shows it again); a 401 (token revoked, account
//! deactivated) stops the bot; other failures of the chat list back off up to 30 s. What
//! the bot does is logged with `tracing` at `info`.

use chat_sdk::model::{ChatId, Message, NewMessage, User};
use chat_sdk::{ChatEvent, ChatSender, Client};
use futures_util::stream::{self, BoxStream, SelectAll, StreamExt};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::time::Duration;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// The server the bot talks to when `CHAT_BASE_URL` is not set.
pub const DEFAULT_BASE_URL: &str = "http://127.0.0.1:8000";
/// Time between looks at the chat list when `CHAT_BOT_POLL_MS` is not set.
pub const DEFAULT_POLL: Duration = Duration::from_millis(1000);
/// The longest wait between looks at the chat list after repeated failures.
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

/// Where the bot signs in, as whom, and how often it looks for new chats.
#[derive(Debug, Clone)]
pub struct BotConfig {
    /// The chat server, e.g. `http://127.0.0.1:8000`.
    pub base_url: String,
    /// The bot's account.
    pub credentials: Credentials,
    /// Time between looks at the chat list (for chats the bot was added to) while all is
    /// well; messages come over the live connections without waiting.
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

/// A chat the bot follows: its name (for the log) and how to answer on its connection.
#[derive(Debug)]
struct Watched {
    name: String,
    sender: ChatSender,
}

/// What the merged streams yield: an item of a chat's connection, or (`None`) its end.
type ChatItem = (ChatId, Option<chat_sdk::Result<ChatEvent>>);

/// The bot: a signed-in client, who it is, and a live connection per chat.
pub struct PingBot {
    client: Client,
    me: User,
    chats: BTreeMap<ChatId, Watched>,
    /// Every chat's connection, merged; each ends with `(chat, None)`.
    streams: SelectAll<BoxStream<'static, ChatItem>>,
    poll_interval: Duration,
    answered: u64,
}

impl fmt::Debug for PingBot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PingBot")
            .field("me", &self.me.username)
            .field("chats", &self.chats)
            .field("answered", &self.answered)
            .finish_non_exhaustive()
    }
}

impl PingBot {
    /// Signs in and connects to the chats the bot is in, each from its current end.
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
            streams: SelectAll::new(),
            poll_interval: config.poll_interval,
            answered: 0,
        };
        bot.refresh_chats().await?;
        if bot.chats.is_empty() {
            tracing::info!("in no chat yet; an admin has to add me to one");
        }
        Ok(bot)
    }

    /// The chats the bot follows, by id.
    pub fn chats(&self) -> Vec<ChatId> {
        self.chats.keys().copied().collect()
    }

    /// Answers pings until `shutdown` is cancelled (`Ok` with the number of pings answered)
    /// or the server refuses the bot's token (`Err`, a 401). Other failures are retried.
    pub async fn run(mut self, shutdown: CancellationToken) -> chat_sdk::Result<u64> {
        let mut wait = self.poll_interval;
        let mut next_look = Instant::now() + wait;
        loop {
            tokio::select! {
                () = shutdown.cancelled() => return Ok(self.answered),
                Some((chat, item)) = self.streams.next() => {
                    let handled = tokio::select! {
                        () = shutdown.cancelled() => return Ok(self.answered),
                        handled = self.handle(chat, item) => handled,
                    };
                    if let Err(e) = handled {
                        tracing::warn!("the server no longer accepts my token ({e}); stopping");
                        return Err(e);
                    }
                }
                () = tokio::time::sleep_until(next_look) => {
                    let outcome = tokio::select! {
                        () = shutdown.cancelled() => return Ok(self.answered),
                        outcome = self.refresh_chats() => outcome,
                    };
                    match outcome {
                        Ok(()) => wait = self.poll_interval,
                        Err(e) if e.is_unauthenticated() => {
                            tracing::warn!("the server no longer accepts my token ({e}); stopping");
                            return Err(e);
                        }
                        Err(e) => {
                            wait = (wait * 2).min(MAX_BACKOFF);
                            tracing::warn!("reading the chat list failed: {e}; next try in {wait:?}");
                        }
                    }
                    next_look = Instant::now() + wait;
                }
            }
        }
    }

    /// One item of a chat's stream: a ping is answered, the end forgets the chat. `Err` only
    /// for a refused credential, which stops the bot.
    async fn handle(
        &mut self,
        chat: ChatId,
        item: Option<chat_sdk::Result<ChatEvent>>,
    ) -> chat_sdk::Result<()> {
        match item {
            Some(Ok(event)) => {
                if let Some(message) = event.message()
                    && message.user.id != self.me.id
                    && is_ping(&message.content)
                {
                    self.answer(chat, message).await;
                }
            }
            Some(Err(e)) if e.is_unauthenticated() => return Err(e),
            Some(Err(e)) => tracing::warn!("#{chat}: {e}"),
            None => {
                if let Some(gone) = self.chats.remove(&chat) {
                    tracing::info!("the stream of #{chat} {:?} ended", gone.name);
                }
            }
        }
        Ok(())
    }

    /// Reads the chat list (only chats the bot is a member of: an admin bot would see all
    /// of them but may post only where it is a member), connects to the new ones from their
    /// current end, and forgets the ones it left.
    async fn refresh_chats(&mut self) -> chat_sdk::Result<()> {
        let mut present = BTreeSet::new();
        for chat in self.client.chats().await? {
            if !chat.participants.iter().any(|p| p.id == self.me.id) {
                continue;
            }
            present.insert(chat.id);
            if let Some(watched) = self.chats.get_mut(&chat.id) {
                watched.name = chat.name;
                continue;
            }
            match self.client.connect(chat.id).await {
                Ok(connection) => {
                    tracing::info!(
                        "watching #{} {:?} from seq {}",
                        chat.id,
                        chat.name,
                        connection.last_seq()
                    );
                    let sender = connection.sender();
                    let id = chat.id;
                    let items = connection
                        .map(move |item| (id, Some(item)))
                        .chain(stream::once(async move { (id, None) }));
                    self.streams.push(items.boxed());
                    self.chats.insert(
                        chat.id,
                        Watched {
                            name: chat.name,
                            sender,
                        },
                    );
                }
                // Removed, or the chat deleted, since the list was read.
                Err(e) if e.is_forbidden() || e.is_not_found() => {
                    tracing::info!("cannot follow #{} {:?}: {e}", chat.id, chat.name);
                }
                Err(e) => return Err(e),
            }
        }
        // A chat the bot left: its stream ends by itself (with the removal); stop answering.
        self.chats.retain(|id, watched| {
            let still = present.contains(id);
            if !still {
                tracing::info!("no longer in #{id} {:?}", watched.name);
            }
            still
        });
        Ok(())
    }

    /// Sends the pong for `ping` on the chat's connection; its `client_id` makes a reply
    /// sent again after a reconnection idempotent. A refused reply is logged.
    async fn answer(&mut self, chat: ChatId, ping: &Message) {
        let Some(watched) = self.chats.get(&chat) else {
            return;
        };
        let reply = NewMessage {
            content: format!("pong @{}", ping.user.username),
            client_id: Some(format!("pong-{chat}-{}", ping.seq)),
        };
        match watched.sender.send_message(&reply).await {
            Ok(ack) => {
                self.answered += 1;
                tracing::info!(
                    "#{chat}: {} said {:?} (seq {}) -> {:?} (seq {})",
                    ping.user.username,
                    ping.content,
                    ping.seq,
                    reply.content,
                    ack.seq
                );
            }
            Err(e) => tracing::warn!("#{chat}: could not answer seq {}: {e}", ping.seq),
        }
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
