//! The live half of the SDK: [`ChatConnection`], one chat's WebSocket
//! (`/ws/api/chat/{id}/?after_seq=N`, `Authorization` as on REST). It yields typed
//! [`Event`]s, sends messages and waits for their `ack`, and survives the network: when the
//! socket drops, or the server closes it with 4000 because this subscriber lagged, it
//! reconnects by itself with `after_seq` set to the last `seq` it delivered, so nothing is
//! missed and nothing is delivered twice. It stops for good when this user leaves or is
//! removed, when the chat is deleted, or when the server refuses the upgrade (401/403/404).
//!
//! The wire protocol, as the server documents it: the server sends the events of
//! [`chatcore::model::Event`] (tagged by `type`), `{"type":"ack","id","seq","client_id"}` for a
//! stored message and `{"type":"error","code","error"}` for a frame it refused; the client
//! sends `{"type":"send","content","client_id"}`.

use crate::client::Client;
use crate::error::{Error, Result};
use chatcore::ErrorKind;
use chatcore::model::{ChatId, Event, MessageId, RemovalReason, UserId};
use futures_util::{SinkExt, StreamExt};
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{self, Message as WsMessage};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// The close code of a subscriber that fell behind; the SDK resumes with `after_seq`.
pub const CLOSE_LAGGED: u16 = 4000;

/// The largest frame the SDK accepts from the server (the server's own limit is 64 KiB).
const MAX_INCOMING_FRAME: usize = 1 << 20;
/// How long a WebSocket handshake may take.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long the closing handshake may take when the SDK closes.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(1);
/// A connection that lived this long counts as healthy even if it carried no frame.
const HEALTHY_AFTER: Duration = Duration::from_secs(10);
/// How many times [`ChatConnection::send`] writes one frame before giving up.
const MAX_SEND_ATTEMPTS: u32 = 3;
/// The event types of [`Event`], as tagged on the wire.
const EVENT_TYPES: [&str; 6] = [
    "message",
    "member_added",
    "member_removed",
    "chat_renamed",
    "chat_deleted",
    "lagged",
];

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// The server's acknowledgement of a sent message: it is stored (and fanned out).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ack {
    /// The stored message's global id.
    pub id: MessageId,
    /// Its place in the chat.
    pub seq: i64,
    /// The `client_id` the message was sent with.
    #[serde(default)]
    pub client_id: Option<String>,
}

/// The server's refusal of a frame: `{"type":"error","code":…,"error":…}`. The socket stays
/// open.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorFrame {
    /// The machine-readable kind as sent (`"invalid"`, `"forbidden"`…).
    #[serde(default)]
    pub code: Option<String>,
    /// The human-readable text.
    pub error: String,
}

impl ErrorFrame {
    /// The kind, when `code` is one the SDK knows.
    pub fn kind(&self) -> Option<ErrorKind> {
        let code = self.code.as_deref()?;
        serde_json::from_value(serde_json::Value::String(code.to_owned())).ok()
    }

    /// This refusal as an [`Error::Rejected`].
    pub fn into_error(self) -> Error {
        Error::Rejected {
            kind: self.kind(),
            message: self.error,
        }
    }
}

/// One text frame from the server, by its `type`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerFrame {
    /// A chat event (`message`, membership changes, rename, deletion, `lagged`), boxed
    /// because it is much larger than the other frames.
    Event(Box<Event>),
    /// A sent message was stored.
    Ack(Ack),
    /// A frame was refused.
    Error(ErrorFrame),
    /// A `type` this SDK does not know yet (a newer server); skipped by the connection.
    Unknown(String),
}

impl ServerFrame {
    /// Parses one text frame. A frame that is not a JSON object with a string `type`, or
    /// whose fields do not fit its type, is an [`Error::Decode`].
    pub fn parse(text: &str) -> Result<ServerFrame> {
        #[derive(Deserialize)]
        struct Tag {
            #[serde(rename = "type")]
            kind: Option<String>,
        }
        let fail = |reason: &dyn std::fmt::Display| {
            Error::decode("WebSocket frame", None, reason, text.as_bytes())
        };
        let tag: Tag = serde_json::from_str(text).map_err(|e| fail(&e))?;
        let kind = tag.kind.ok_or_else(|| fail(&"the frame has no `type`"))?;
        let frame = match kind.as_str() {
            "ack" => ServerFrame::Ack(serde_json::from_str(text).map_err(|e| fail(&e))?),
            "error" => ServerFrame::Error(serde_json::from_str(text).map_err(|e| fail(&e))?),
            known if EVENT_TYPES.contains(&known) => {
                ServerFrame::Event(Box::new(serde_json::from_str(text).map_err(|e| fail(&e))?))
            }
            _ => ServerFrame::Unknown(kind),
        };
        Ok(frame)
    }
}

/// What the client sends.
#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum ClientFrame<'a> {
    /// Post a message.
    Send {
        content: &'a str,
        client_id: &'a str,
    },
}

/// How [`Client::connect_with`] connects and reconnects.
#[derive(Debug, Clone)]
pub struct ConnectOptions {
    after_seq: Option<i64>,
    user: Option<UserId>,
    max_failures: Option<u32>,
    initial_backoff: Duration,
    max_backoff: Duration,
    ping_interval: Duration,
}

impl Default for ConnectOptions {
    fn default() -> Self {
        Self {
            after_seq: None,
            user: None,
            max_failures: Some(10),
            initial_backoff: Duration::from_millis(250),
            max_backoff: Duration::from_secs(30),
            ping_interval: Duration::from_secs(30),
        }
    }
}

impl ConnectOptions {
    /// Start after this `seq`: the server first replays the stored messages above it
    /// (`0` replays the whole history). Without it, the connection starts at the chat's
    /// current `last_seq` and delivers only what comes next.
    pub fn after_seq(mut self, seq: i64) -> Self {
        self.after_seq = Some(seq);
        self
    }

    /// The signed-in user's id, if already known; otherwise `connect` asks
    /// `GET /api/accounts/me/`. The connection needs it to notice its own removal.
    pub fn user(mut self, user: UserId) -> Self {
        self.user = Some(user);
        self
    }

    /// Give up after this many failed connection attempts in a row (`None`: never).
    /// Default 10, which with the default backoff is about two minutes of outage.
    pub fn max_failures(mut self, failures: Option<u32>) -> Self {
        self.max_failures = failures;
        self
    }

    /// The first wait after a failed attempt (default 250 ms); it doubles per failure.
    pub fn initial_backoff(mut self, wait: Duration) -> Self {
        self.initial_backoff = wait;
        self
    }

    /// The longest wait between attempts (default 30 s).
    pub fn max_backoff(mut self, wait: Duration) -> Self {
        self.max_backoff = wait;
        self
    }

    /// After this long without a frame the SDK pings; after twice this long without any
    /// answer it treats the connection as dead and reconnects (default 30 s).
    pub fn ping_interval(mut self, interval: Duration) -> Self {
        self.ping_interval = interval;
        self
    }

    /// The wait before the next attempt after `failures` failures in a row: none after a
    /// healthy connection, then `initial_backoff` doubling up to `max_backoff`, plus up to
    /// a quarter of it at random so that clients of a restarted server spread out.
    fn backoff(&self, failures: u32) -> Duration {
        if failures == 0 {
            return Duration::ZERO;
        }
        let doubling = 1u32 << (failures - 1).min(16);
        let base = self
            .initial_backoff
            .saturating_mul(doubling)
            .min(self.max_backoff);
        let noise = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0)
            % 256;
        base + base.mul_f64(f64::from(noise) / 1024.0)
    }
}

/// What the connection knows about the stream it delivers: who it is for, the last `seq`
/// delivered, and whether the stream is over. Pure, so the rules are tested without a socket.
#[derive(Debug, Clone)]
struct Tracker {
    me: UserId,
    last_seq: i64,
    ended: Option<String>,
}

impl Tracker {
    /// Decides whether `event` is delivered: a message at or below the last `seq` is a
    /// replayed duplicate; `lagged` is handled by the connection (it reconnects); this
    /// user's removal and the chat's deletion are delivered and end the stream.
    fn accept(&mut self, event: Event) -> Option<Event> {
        match &event {
            Event::Message(m) => {
                let seq = m.message.seq;
                if seq <= self.last_seq {
                    tracing::debug!(seq, last_seq = self.last_seq, "dropping a replayed message");
                    return None;
                }
                if seq > self.last_seq + 1 {
                    tracing::warn!(seq, last_seq = self.last_seq, "gap in the message stream");
                }
                self.last_seq = seq;
            }
            Event::MemberRemoved { user, reason, .. } if user.id == self.me => {
                self.ended = Some(
                    match reason {
                        RemovalReason::Left => "this user left the chat",
                        RemovalReason::Removed => "this user was removed from the chat",
                        RemovalReason::Deactivated => "this user's account was deactivated",
                    }
                    .to_owned(),
                );
            }
            Event::ChatDeleted { .. } => {
                self.ended = Some("the chat was deleted".to_owned());
            }
            Event::Lagged { last_seq, .. } => {
                tracing::debug!(
                    server_last_seq = last_seq,
                    last_seq = self.last_seq,
                    "lagged; resuming after the close"
                );
                return None;
            }
            _ => {}
        }
        Some(event)
    }
}

/// One read from the socket.
enum Step {
    /// A text frame (parsed) or a frame that could not be read as the protocol.
    Frame(Result<ServerFrame>),
    /// The socket is gone; `code` is the close code when the server sent one.
    Disconnected { code: Option<u16>, reason: String },
}

/// A live connection to one chat.
///
/// [`ChatConnection::next_event`] is cancel-safe, so it can sit in a `tokio::select!` next
/// to other work; a [`ChatConnection::send`] that is cancelled may or may not have been
/// stored, and retrying it with the same `client_id` never stores it twice.
pub struct ChatConnection {
    client: Client,
    chat: ChatId,
    options: ConnectOptions,
    tracker: Tracker,
    socket: Option<Socket>,
    /// Events (and unreadable frames) read while waiting for an ack, delivered first.
    pending: VecDeque<Result<Event>>,
    /// Failed connection attempts in a row.
    failures: u32,
    /// The error of the last failed attempt, for [`Error::ReconnectFailed`].
    last_failure: Option<Error>,
    connected_at: Instant,
    /// Whether the current socket has delivered any frame.
    received: bool,
    ping_outstanding: bool,
}

impl std::fmt::Debug for ChatConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChatConnection")
            .field("chat", &self.chat)
            .field("last_seq", &self.tracker.last_seq)
            .field("connected", &self.socket.is_some())
            .field("ended", &self.tracker.ended)
            .finish()
    }
}

impl Client {
    /// Opens the chat's live connection, starting at the chat's current `last_seq` (see
    /// [`Client::connect_with`]). Asks the server who the user is and where the chat stands
    /// first, so a non-member or a missing chat fails here with 403/404.
    pub async fn connect(&self, chat: ChatId) -> Result<ChatConnection> {
        self.connect_with(chat, ConnectOptions::default()).await
    }

    /// Opens the chat's live connection with `options`.
    pub async fn connect_with(
        &self,
        chat: ChatId,
        options: ConnectOptions,
    ) -> Result<ChatConnection> {
        let me = match options.user {
            Some(user) => user,
            None => self.me().await?.user.id,
        };
        let after_seq = match options.after_seq {
            Some(seq) => seq,
            None => self.chat(chat).await?.last_seq,
        };
        let socket = open_socket(self, chat, after_seq).await?;
        Ok(ChatConnection {
            client: self.clone(),
            chat,
            options,
            tracker: Tracker {
                me,
                last_seq: after_seq,
                ended: None,
            },
            socket: Some(socket),
            pending: VecDeque::new(),
            failures: 0,
            last_failure: None,
            connected_at: Instant::now(),
            received: false,
            ping_outstanding: false,
        })
    }
}

impl ChatConnection {
    /// The chat this connection belongs to.
    pub fn chat(&self) -> ChatId {
        self.chat
    }

    /// The `seq` of the last message delivered (or the starting point): a later
    /// connection can resume from it with [`ConnectOptions::after_seq`].
    pub fn last_seq(&self) -> i64 {
        self.tracker.last_seq
    }

    /// Why the stream ended, once it has (removed, left, chat deleted, refused, gave up).
    pub fn ended(&self) -> Option<&str> {
        self.tracker.ended.as_deref()
    }

    /// The next event of the chat, oldest first. Reconnects and resumes by itself.
    ///
    /// `Some(Err(_))` is either a frame the SDK could not read (the stream goes on), an
    /// `error` event from the server (the stream goes on), or the end: the server refused
    /// to reconnect (401/403/404) or reconnecting failed too often, after which this returns
    /// `None`. `None` also follows this user's removal and the chat's deletion, which are
    /// delivered as events first.
    pub async fn next_event(&mut self) -> Option<Result<Event>> {
        loop {
            if let Some(item) = self.pending.pop_front() {
                return Some(item);
            }
            if self.tracker.ended.is_some() {
                self.close_socket().await;
                return None;
            }
            if let Err(e) = self.ensure_connected().await {
                return Some(Err(e));
            }
            match self.read_once().await {
                Step::Frame(Ok(frame)) => match frame {
                    ServerFrame::Event(event) => {
                        if let Some(event) = self.tracker.accept(*event) {
                            self.pending.push_back(Ok(event));
                        }
                    }
                    ServerFrame::Error(refusal) => {
                        self.pending.push_back(Err(refusal.into_error()))
                    }
                    ServerFrame::Ack(ack) => {
                        tracing::debug!(?ack, "an ack no send is waiting for");
                    }
                    ServerFrame::Unknown(kind) => {
                        tracing::debug!(kind, "skipping an event type this SDK does not know");
                    }
                },
                Step::Frame(Err(e)) => self.pending.push_back(Err(e)),
                Step::Disconnected { code, reason } => self.lost(code, reason),
            }
        }
    }

    /// Sends a message and waits for the server's [`Ack`] (it is stored then). `client_id`
    /// (1–64 characters, unique per message of this user in this chat) makes the send
    /// idempotent: when the connection drops before the ack, the SDK reconnects and sends
    /// the same frame again, and the server answers the stored message instead of storing a
    /// second one. Events that arrive meanwhile are kept for [`ChatConnection::next_event`].
    ///
    /// Errors: [`Error::Rejected`] when the server refuses the message (blank, too long, not
    /// a member), [`Error::Closed`] when the stream has ended or the server closed the
    /// socket because of the frame, and connection errors as in `next_event`.
    pub async fn send(&mut self, content: &str, client_id: &str) -> Result<Ack> {
        let frame = serde_json::to_string(&ClientFrame::Send { content, client_id })
            .expect("a frame of two strings always serializes");
        let mut attempts = 0;
        loop {
            self.ensure_connected().await?;
            attempts += 1;
            let socket = self
                .socket
                .as_mut()
                .expect("ensure_connected leaves a socket");
            if let Err(e) = socket.send(WsMessage::text(frame.clone())).await {
                let reason = e.to_string();
                self.lost(None, reason);
                if attempts >= MAX_SEND_ATTEMPTS {
                    return Err(e.into());
                }
                continue;
            }
            loop {
                match self.read_once().await {
                    Step::Frame(Ok(ServerFrame::Ack(ack))) => {
                        if ack.client_id.as_deref().is_none_or(|id| id == client_id) {
                            return Ok(ack);
                        }
                        tracing::debug!(?ack, "an ack for another client_id");
                    }
                    Step::Frame(Ok(ServerFrame::Error(refusal))) => {
                        return Err(refusal.into_error());
                    }
                    Step::Frame(Ok(ServerFrame::Event(event))) => {
                        if let Some(event) = self.tracker.accept(*event) {
                            self.pending.push_back(Ok(event));
                        }
                        if let Some(reason) = &self.tracker.ended {
                            return Err(Error::Closed {
                                code: None,
                                reason: reason.clone(),
                            });
                        }
                    }
                    Step::Frame(Ok(ServerFrame::Unknown(_))) => {}
                    Step::Frame(Err(e)) => self.pending.push_back(Err(e)),
                    Step::Disconnected { code, reason } => {
                        self.lost(code, reason.clone());
                        // 1003 unsupported data, 1007 bad payload, 1008 policy, 1009 too big:
                        // the frame itself was the problem, so sending it again cannot help.
                        if matches!(code, Some(1003 | 1007 | 1008 | 1009))
                            || attempts >= MAX_SEND_ATTEMPTS
                        {
                            return Err(Error::Closed {
                                code,
                                reason: format!(
                                    "the connection closed before the server acknowledged \
                                     the message ({reason})"
                                ),
                            });
                        }
                        break;
                    }
                }
            }
        }
    }

    /// Closes the connection politely (a close frame, then a short wait for the server's).
    pub async fn close(mut self) {
        self.tracker.ended = Some("closed by the client".to_owned());
        self.close_socket().await;
    }

    /// Opens a socket if there is none, waiting out the backoff. Fails for good when the
    /// stream has ended, when the server refuses the upgrade with a client error, or after
    /// too many failures in a row.
    async fn ensure_connected(&mut self) -> Result<()> {
        while self.socket.is_none() {
            if let Some(reason) = &self.tracker.ended {
                return Err(Error::Closed {
                    code: None,
                    reason: reason.clone(),
                });
            }
            if let Some(max) = self.options.max_failures
                && self.failures >= max
            {
                let last = self.last_failure.take().unwrap_or(Error::Closed {
                    code: None,
                    reason: "the connection kept failing".to_owned(),
                });
                self.tracker.ended = Some(format!("gave up after {} failures", self.failures));
                return Err(Error::ReconnectFailed {
                    attempts: self.failures,
                    last: Box::new(last),
                });
            }
            let wait = self.options.backoff(self.failures);
            if !wait.is_zero() {
                tokio::time::sleep(wait).await;
            }
            match open_socket(&self.client, self.chat, self.tracker.last_seq).await {
                Ok(socket) => {
                    tracing::debug!(chat = %self.chat, after_seq = self.tracker.last_seq, "reconnected");
                    self.socket = Some(socket);
                    self.connected_at = Instant::now();
                    self.received = false;
                    self.ping_outstanding = false;
                }
                Err(e) if is_final(&e) => {
                    self.tracker.ended = Some(format!("the server refused to reconnect: {e}"));
                    return Err(e);
                }
                Err(e) => {
                    self.failures += 1;
                    tracing::warn!(chat = %self.chat, failures = self.failures, error = %e, "reconnect failed");
                    self.last_failure = Some(e);
                }
            }
        }
        Ok(())
    }

    /// Reads until a text frame arrives or the socket is gone; pings when it is quiet.
    async fn read_once(&mut self) -> Step {
        loop {
            let Some(socket) = self.socket.as_mut() else {
                return Step::Disconnected {
                    code: None,
                    reason: "not connected".to_owned(),
                };
            };
            let next = tokio::time::timeout(self.options.ping_interval, socket.next()).await;
            let message = match next {
                Err(_quiet) if self.ping_outstanding => {
                    return Step::Disconnected {
                        code: None,
                        reason: "the server did not answer a ping".to_owned(),
                    };
                }
                Err(_quiet) => {
                    self.ping_outstanding = true;
                    if let Err(e) = socket.send(WsMessage::Ping(Default::default())).await {
                        return Step::Disconnected {
                            code: None,
                            reason: e.to_string(),
                        };
                    }
                    continue;
                }
                Ok(None) => {
                    return Step::Disconnected {
                        code: None,
                        reason: "the server closed the connection".to_owned(),
                    };
                }
                Ok(Some(Err(e))) => {
                    return Step::Disconnected {
                        code: None,
                        reason: e.to_string(),
                    };
                }
                Ok(Some(Ok(message))) => message,
            };
            self.received = true;
            self.ping_outstanding = false;
            match message {
                WsMessage::Text(text) => return Step::Frame(ServerFrame::parse(&text)),
                WsMessage::Binary(data) => {
                    return Step::Frame(Err(Error::decode(
                        "WebSocket frame",
                        None,
                        "a binary frame; the chat protocol is JSON text",
                        &data,
                    )));
                }
                WsMessage::Close(frame) => {
                    let (code, reason) = match frame {
                        Some(frame) => (Some(u16::from(frame.code)), frame.reason.to_string()),
                        None => (None, String::new()),
                    };
                    return Step::Disconnected {
                        code,
                        reason: if reason.is_empty() {
                            "the server closed the connection".to_owned()
                        } else {
                            reason
                        },
                    };
                }
                WsMessage::Ping(_) | WsMessage::Pong(_) | WsMessage::Frame(_) => {}
            }
        }
    }

    /// Forgets the socket after it failed or closed. A connection that delivered frames, or
    /// lived a while, resets the failure count (the next attempt is immediate); one that
    /// died at once counts as a failure, so a server that accepts and drops backs off too.
    fn lost(&mut self, code: Option<u16>, reason: String) {
        self.socket = None;
        let healthy = self.received || self.connected_at.elapsed() >= HEALTHY_AFTER;
        if healthy {
            self.failures = 0;
        } else {
            self.failures += 1;
            self.last_failure = Some(Error::Closed {
                code,
                reason: reason.clone(),
            });
        }
        if code == Some(CLOSE_LAGGED) {
            tracing::info!(chat = %self.chat, last_seq = self.tracker.last_seq, "lagged; resuming");
        } else {
            tracing::debug!(chat = %self.chat, ?code, reason, last_seq = self.tracker.last_seq, "connection lost; resuming");
        }
    }

    async fn close_socket(&mut self) {
        if let Some(mut socket) = self.socket.take() {
            // Best effort: the server may already be gone.
            let _ = tokio::time::timeout(CLOSE_TIMEOUT, socket.close(None)).await;
        }
    }
}

/// Whether a failed connection attempt is the server's final word: a client error on the
/// upgrade (401, 403, 404…) except timeouts and rate limits, or an invalid request.
fn is_final(e: &Error) -> bool {
    match e {
        Error::Api { status, .. } => (400..500).contains(status) && !matches!(status, 408 | 429),
        Error::Invalid(_) => true,
        _ => false,
    }
}

/// Opens the chat's socket, resuming after `after_seq`, with the client's credential.
async fn open_socket(client: &Client, chat: ChatId, after_seq: i64) -> Result<Socket> {
    let url = client.routes().chat_socket(chat, Some(after_seq));
    let mut request = url.as_str().into_client_request()?;
    if let Some(value) = client.authorization() {
        request
            .headers_mut()
            .insert(http::header::AUTHORIZATION, value.clone());
    }
    let config = WebSocketConfig::default()
        .max_message_size(Some(MAX_INCOMING_FRAME))
        .max_frame_size(Some(MAX_INCOMING_FRAME));
    let connecting = tokio_tungstenite::connect_async_with_config(request, Some(config), true);
    match tokio::time::timeout(HANDSHAKE_TIMEOUT, connecting).await {
        Ok(Ok((socket, _response))) => Ok(socket),
        Ok(Err(e)) => Err(e.into()),
        Err(_) => Err(Error::WebSocket(Box::new(tungstenite::Error::Io(
            std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "WebSocket handshake timed out",
            ),
        )))),
    }
}
