//! The live half of the SDK: [`ChatConnection`], one chat's WebSocket
//! (`/ws/api/chat/{id}/?after_seq=N`, `Authorization` as on REST). It yields typed
//! [`Event`]s, sends messages and waits for their `ack`, and survives the network: when the
//! socket drops, or the server closes it with 4000 because this subscriber lagged, it
//! reconnects by itself with `after_seq` set to the last `seq` it delivered, so nothing is
//! missed and nothing is delivered twice. It stops for good after an event that ends this
//! user's stream ([`Event::ends_stream_of`], the core's rule: the chat deleted; this user
//! removed, gone or deactivated, though an active admin reads on unless deactivated), or
//! when the server refuses the upgrade (401/403/404).
//!
//! The wire protocol, as the server documents it: the server sends the events of
//! [`chatcore::model::Event`] (tagged by `type`), `{"type":"ack","id","seq","client_id"}` for a
//! stored message and `{"type":"error","code","error"}` for a frame it refused; the client
//! sends `{"type":"send","content","client_id"}`.

use crate::client::Client;
use crate::error::{Error, Result};
use chatcore::ErrorKind;
use chatcore::model::{ChatId, EVENT_TYPES, Event, MessageId, UserId};
use futures_util::{SinkExt, StreamExt};
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{self, Message as WsMessage};
use tokio_tungstenite::{Connector, MaybeTlsStream, WebSocketStream};

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
    admin: Option<bool>,
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
            admin: None,
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

    /// Whether the signed-in user is an active admin, if already known; otherwise
    /// `connect` asks `GET /api/accounts/me/` (`is_superuser`). An admin may read every
    /// chat, so their removal as a member does not end the stream (a deactivation does):
    /// the rule of [`Event::ends_stream_of`].
    pub fn admin(mut self, is_active_admin: bool) -> Self {
        self.admin = Some(is_active_admin);
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
    /// Whether `me` is an active admin, who may read every chat.
    admin: bool,
    last_seq: i64,
    ended: Option<String>,
}

impl Tracker {
    /// Decides whether `event` is delivered: a message at or below the last `seq` is a
    /// replayed duplicate; `lagged` is handled by the connection (it reconnects); an event
    /// that [ends this user's stream](Event::ends_stream_of) is delivered, then the stream
    /// is over.
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
        if let Some(end) = event.ends_stream_of(self.me, self.admin) {
            self.ended = Some(end.to_string());
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
        let (me, admin) = match (options.user, options.admin) {
            (Some(user), Some(admin)) => (user, admin),
            (user, admin) => {
                let account = self.me().await?;
                (
                    user.unwrap_or(account.user.id),
                    admin.unwrap_or(account.is_superuser && account.is_active),
                )
            }
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
                admin,
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
    /// `None`. `None` also follows an event that [ends this user's
    /// stream](Event::ends_stream_of) (this user's removal, the chat's deletion), which is
    /// delivered first.
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
    let connector = if url.scheme() == "wss" {
        Some(tls_connector()?)
    } else {
        None
    };
    let connecting =
        tokio_tungstenite::connect_async_tls_with_config(request, Some(config), true, connector);
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

/// The TLS setup for `wss://`: rustls with the aws-lc-rs provider (the one reqwest uses),
/// chosen explicitly so that no process-wide default provider is needed (and an
/// application that also compiles *ring* does not make the choice ambiguous), and the
/// system's root certificates. Built once.
fn tls_connector() -> Result<Connector> {
    static CONFIG: OnceLock<Arc<rustls::ClientConfig>> = OnceLock::new();
    if let Some(config) = CONFIG.get() {
        return Ok(Connector::Rustls(Arc::clone(config)));
    }
    let loaded = rustls_native_certs::load_native_certs();
    for e in &loaded.errors {
        tracing::warn!(error = %e, "a system root certificate could not be loaded");
    }
    let mut roots = rustls::RootCertStore::empty();
    let (added, ignored) = roots.add_parsable_certificates(loaded.certs);
    tracing::debug!(added, ignored, "system root certificates for wss://");
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| {
            Error::WebSocket(Box::new(tungstenite::Error::Tls(
                tungstenite::error::TlsError::Rustls(Box::new(e)),
            )))
        })?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Connector::Rustls(Arc::clone(
        CONFIG.get_or_init(|| Arc::new(config)),
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chatcore::model::{Message, RemovalReason, User};
    use tokio::net::TcpListener;

    fn user(id: i64, name: &str) -> User {
        User {
            id: UserId(id),
            first_name: String::new(),
            last_name: String::new(),
            username: name.to_owned(),
            email: String::new(),
        }
    }

    fn message(seq: i64) -> Event {
        Event::message(Message {
            id: MessageId(100 + seq),
            chat: ChatId(1),
            user: user(2, "user1"),
            content: format!("message {seq}"),
            timestamp: time::OffsetDateTime::UNIX_EPOCH,
            seq,
            client_id: None,
        })
    }

    fn removed(id: i64, reason: RemovalReason) -> Event {
        Event::MemberRemoved {
            chat: ChatId(1),
            user: user(id, "someone"),
            reason,
            at_seq: 0,
        }
    }

    fn text(event: &Event) -> String {
        serde_json::to_string(event).unwrap()
    }

    // ----- parsing ------------------------------------------------------------------

    #[test]
    fn a_message_event_with_the_originals_flat_fields_parses() {
        let frame = r#"{"type":"message","id":5,"chat":1,
            "user":{"id":2,"first_name":"Ann","last_name":"Lee","username":"user1","email":""},
            "content":"Привет","timestamp":"2026-11-24T09:21:11.386088+00:00","seq":3,
            "message":"Привет","username":"user1","first_name":"Ann","last_name":"Lee"}"#;
        let ServerFrame::Event(event) = ServerFrame::parse(frame).unwrap() else {
            panic!("not an event")
        };
        let Event::Message(m) = *event else {
            panic!("not a message event")
        };
        assert_eq!(m.message.id, MessageId(5));
        assert_eq!(m.message.seq, 3);
        assert_eq!(m.message.content, "Привет");
        assert_eq!(m.compat.username, "user1");
        assert_eq!(m.message.timestamp.microsecond(), 386_088);
    }

    #[test]
    fn every_event_the_core_serializes_parses_back() {
        let events = [
            message(1),
            Event::MemberAdded {
                chat: ChatId(1),
                user: user(3, "new"),
                at_seq: 4,
            },
            removed(3, RemovalReason::Left),
            Event::ChatRenamed {
                chat: ChatId(1),
                name: "renamed".into(),
                at_seq: 4,
            },
            Event::ChatDeleted {
                chat: ChatId(1),
                at_seq: 4,
            },
            Event::Lagged {
                chat: ChatId(1),
                last_seq: 4,
            },
        ];
        for event in events {
            assert_eq!(
                ServerFrame::parse(&text(&event)).unwrap(),
                ServerFrame::Event(Box::new(event.clone()))
            );
        }
    }

    #[test]
    fn an_ack_parses_with_or_without_client_id() {
        assert_eq!(
            ServerFrame::parse(r#"{"type":"ack","id":9,"seq":4,"client_id":"c-1"}"#).unwrap(),
            ServerFrame::Ack(Ack {
                id: MessageId(9),
                seq: 4,
                client_id: Some("c-1".into())
            })
        );
        assert_eq!(
            ServerFrame::parse(r#"{"type":"ack","id":9,"seq":4}"#).unwrap(),
            ServerFrame::Ack(Ack {
                id: MessageId(9),
                seq: 4,
                client_id: None
            })
        );
    }

    #[test]
    fn an_error_event_becomes_a_rejected_error_with_its_kind() {
        let ServerFrame::Error(refusal) = ServerFrame::parse(
            r#"{"type":"error","code":"invalid","error":"content: must not be blank"}"#,
        )
        .unwrap() else {
            panic!("not an error frame")
        };
        assert_eq!(refusal.kind(), Some(ErrorKind::Invalid));
        let e = refusal.into_error();
        assert_eq!(e.kind(), Some(ErrorKind::Invalid));
        assert_eq!(e.server_message(), Some("content: must not be blank"));
    }

    #[test]
    fn an_error_event_with_an_unknown_code_keeps_its_text() {
        let ServerFrame::Error(refusal) =
            ServerFrame::parse(r#"{"type":"error","code":"bad_frame","error":"expected JSON"}"#)
                .unwrap()
        else {
            panic!("not an error frame")
        };
        assert_eq!(refusal.kind(), None);
        assert_eq!(refusal.error, "expected JSON");
    }

    #[test]
    fn an_unknown_type_is_reported_as_unknown_not_as_an_error() {
        assert_eq!(
            ServerFrame::parse(r#"{"type":"read_receipt","seq":3}"#).unwrap(),
            ServerFrame::Unknown("read_receipt".into())
        );
    }

    #[test]
    fn frames_that_break_the_protocol_are_decode_errors() {
        for bad in [
            "not json",
            "[1,2]",
            r#"{"message":"hi"}"#,
            r#"{"type":7}"#,
            r#"{"type":"message","id":"x"}"#,
            r#"{"type":"ack","seq":1}"#,
        ] {
            let err = ServerFrame::parse(bad).unwrap_err();
            assert!(
                matches!(&err, Error::Decode { context, status: None, .. } if context == "WebSocket frame"),
                "{bad}: {err:?}"
            );
        }
    }

    #[test]
    fn a_send_frame_is_tagged_send() {
        let frame = serde_json::to_value(ClientFrame::Send {
            content: "hi",
            client_id: "c-1",
        })
        .unwrap();
        assert_eq!(
            frame,
            serde_json::json!({"type": "send", "content": "hi", "client_id": "c-1"})
        );
    }

    // ----- the stream's rules -------------------------------------------------------

    fn tracker() -> Tracker {
        Tracker {
            me: UserId(7),
            admin: false,
            last_seq: 2,
            ended: None,
        }
    }

    #[test]
    fn replayed_messages_at_or_below_the_last_seq_are_dropped() {
        let mut t = tracker();
        assert!(t.accept(message(1)).is_none());
        assert!(t.accept(message(2)).is_none());
        assert_eq!(t.accept(message(3)).and_then(|e| e.seq()), Some(3));
        assert!(t.accept(message(3)).is_none());
        assert_eq!(t.last_seq, 3);
    }

    #[test]
    fn the_removal_of_this_user_is_delivered_and_ends_the_stream() {
        for reason in [
            RemovalReason::Removed,
            RemovalReason::Left,
            RemovalReason::Deactivated,
        ] {
            let mut t = tracker();
            assert!(t.accept(removed(7, reason)).is_some());
            assert!(t.ended.is_some(), "{reason:?}");
        }
    }

    #[test]
    fn an_admin_removed_as_a_member_keeps_reading_unless_deactivated() {
        for reason in [RemovalReason::Removed, RemovalReason::Left] {
            let mut t = Tracker {
                admin: true,
                ..tracker()
            };
            assert!(t.accept(removed(7, reason)).is_some());
            assert!(t.ended.is_none(), "{reason:?}");
        }
        let mut t = Tracker {
            admin: true,
            ..tracker()
        };
        assert!(t.accept(removed(7, RemovalReason::Deactivated)).is_some());
        assert_eq!(
            t.ended.as_deref(),
            Some("this user's account was deactivated")
        );
    }

    #[test]
    fn the_removal_of_someone_else_does_not_end_the_stream() {
        let mut t = tracker();
        assert!(t.accept(removed(8, RemovalReason::Removed)).is_some());
        assert!(t.ended.is_none());
    }

    #[test]
    fn a_deleted_chat_ends_the_stream_and_lagged_is_not_delivered() {
        let mut t = tracker();
        assert!(
            t.accept(Event::Lagged {
                chat: ChatId(1),
                last_seq: 2
            })
            .is_none()
        );
        assert!(t.ended.is_none());
        assert!(
            t.accept(Event::ChatDeleted {
                chat: ChatId(1),
                at_seq: 2
            })
            .is_some()
        );
        assert_eq!(t.ended.as_deref(), Some("the chat was deleted"));
    }

    #[test]
    fn backoff_is_immediate_after_a_healthy_connection_then_doubles_up_to_the_cap() {
        let o = ConnectOptions::default()
            .initial_backoff(Duration::from_millis(100))
            .max_backoff(Duration::from_secs(1));
        assert_eq!(o.backoff(0), Duration::ZERO);
        for (failures, base_ms) in [
            (1, 100),
            (2, 200),
            (3, 400),
            (4, 800),
            (5, 1000),
            (40, 1000),
        ] {
            let wait = o.backoff(failures);
            let base = Duration::from_millis(base_ms);
            assert!(
                wait >= base && wait <= base + base / 4,
                "{failures}: {wait:?}"
            );
        }
    }

    #[test]
    fn only_client_errors_of_the_upgrade_stop_reconnecting() {
        let api = |status| Error::Api {
            status,
            kind: None,
            message: String::new(),
        };
        for status in [400, 401, 403, 404, 410] {
            assert!(is_final(&api(status)), "{status}");
        }
        for status in [408, 429, 500, 502, 503] {
            assert!(!is_final(&api(status)), "{status}");
        }
        let io = Error::WebSocket(Box::new(tungstenite::Error::Io(std::io::Error::from(
            std::io::ErrorKind::ConnectionRefused,
        ))));
        assert!(!is_final(&io));
    }

    #[test]
    fn the_wss_connector_builds_without_a_process_wide_crypto_provider() {
        // No test installs a default provider, so this passing shows the SDK names its own.
        assert!(
            rustls::crypto::CryptoProvider::get_default().is_none(),
            "this test's premise: nothing in this binary installs a default provider"
        );
        let Connector::Rustls(config) = tls_connector().unwrap() else {
            panic!("wss:// uses rustls")
        };
        // Built once: the second call shares the configuration.
        let Connector::Rustls(again) = tls_connector().unwrap() else {
            panic!("wss:// uses rustls")
        };
        assert!(Arc::ptr_eq(&config, &again));
    }

    // ----- against a scripted server ------------------------------------------------
    //
    // The chat server's WebSocket comes in a later issue; until then these tests play the
    // documented protocol from a small tungstenite server, one scripted connection at a time.

    type ServerSocket = WebSocketStream<TcpStream>;

    /// What the client asked for when it connected.
    #[derive(Debug)]
    struct Upgrade {
        path_and_query: String,
        authorization: Option<String>,
    }

    async fn listen() -> (TcpListener, Client) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let client = Client::new(&base)
            .unwrap()
            .with_token("0123456789abcdef0123456789abcdef01234567")
            .unwrap();
        (listener, client)
    }

    /// Accepts one WebSocket connection and reports how it was asked for.
    // tungstenite's handshake callback returns its large error response by value.
    #[allow(clippy::result_large_err)]
    async fn accept(listener: &TcpListener) -> (ServerSocket, Upgrade) {
        let (tcp, _) = listener.accept().await.unwrap();
        let mut upgrade = None;
        let socket = tokio_tungstenite::accept_hdr_async(
            tcp,
            |request: &tungstenite::handshake::server::Request,
             response: tungstenite::handshake::server::Response| {
                upgrade = Some(Upgrade {
                    path_and_query: request.uri().to_string(),
                    authorization: request
                        .headers()
                        .get(http::header::AUTHORIZATION)
                        .map(|v| v.to_str().unwrap().to_owned()),
                });
                Ok(response)
            },
        )
        .await
        .unwrap();
        (socket, upgrade.unwrap())
    }

    /// Refuses one upgrade with `status` and the contract's error body.
    #[allow(clippy::result_large_err)]
    async fn refuse(listener: &TcpListener, status: u16, body: &str) {
        let (tcp, _) = listener.accept().await.unwrap();
        let body = body.to_owned();
        let _ = tokio_tungstenite::accept_hdr_async(
            tcp,
            move |_: &tungstenite::handshake::server::Request,
                  _: tungstenite::handshake::server::Response| {
                Err(http::Response::builder()
                    .status(status)
                    .header("content-type", "application/json")
                    .body(Some(body))
                    .unwrap())
            },
        )
        .await;
    }

    async fn push(socket: &mut ServerSocket, event: &Event) {
        socket.send(WsMessage::text(text(event))).await.unwrap();
    }

    async fn close_with(socket: &mut ServerSocket, code: u16) {
        use tungstenite::protocol::CloseFrame;
        socket
            .close(Some(CloseFrame {
                code: code.into(),
                reason: "scripted".into(),
            }))
            .await
            .unwrap();
    }

    /// Reads client frames until a text one arrives.
    async fn read_text(socket: &mut ServerSocket) -> serde_json::Value {
        loop {
            match socket.next().await.unwrap().unwrap() {
                WsMessage::Text(t) => return serde_json::from_str(&t).unwrap(),
                WsMessage::Close(_) => panic!("the client closed"),
                _ => {}
            }
        }
    }

    fn options() -> ConnectOptions {
        ConnectOptions::default()
            .user(UserId(7))
            .admin(false)
            .after_seq(0)
            .initial_backoff(Duration::from_millis(10))
            .max_backoff(Duration::from_millis(50))
    }

    async fn next_seq(conn: &mut ChatConnection) -> i64 {
        let event = tokio::time::timeout(Duration::from_secs(5), conn.next_event())
            .await
            .expect("an event within 5 s")
            .expect("the stream goes on")
            .expect("an event, not an error");
        event.seq().expect("a message event")
    }

    #[tokio::test]
    async fn the_upgrade_carries_the_token_and_after_seq_and_events_arrive_typed() {
        let (listener, client) = listen().await;
        let server = tokio::spawn(async move {
            let (mut socket, upgrade) = accept(&listener).await;
            push(&mut socket, &message(1)).await;
            push(&mut socket, &removed(8, RemovalReason::Left)).await;
            socket
                .send(WsMessage::text(r#"{"type":"typing","user":3}"#))
                .await
                .unwrap();
            push(&mut socket, &message(2)).await;
            (upgrade, socket)
        });
        let mut conn = client
            .connect_with(ChatId(1), options().after_seq(0))
            .await
            .unwrap();
        assert_eq!(next_seq(&mut conn).await, 1);
        let event = conn.next_event().await.unwrap().unwrap();
        assert!(matches!(event, Event::MemberRemoved { ref user, .. } if user.id == UserId(8)));
        // The unknown `typing` frame is skipped.
        assert_eq!(next_seq(&mut conn).await, 2);
        assert_eq!(conn.last_seq(), 2);
        let (upgrade, _socket) = server.await.unwrap();
        assert_eq!(upgrade.path_and_query, "/ws/api/chat/1/?after_seq=0");
        assert_eq!(
            upgrade.authorization.as_deref(),
            Some("Token 0123456789abcdef0123456789abcdef01234567")
        );
    }

    #[tokio::test]
    async fn a_lagged_close_resumes_from_the_last_seq_without_duplicates() {
        let (listener, client) = listen().await;
        let server = tokio::spawn(async move {
            let (mut first, _) = accept(&listener).await;
            push(&mut first, &message(1)).await;
            push(&mut first, &message(2)).await;
            push(
                &mut first,
                &Event::Lagged {
                    chat: ChatId(1),
                    last_seq: 2,
                },
            )
            .await;
            close_with(&mut first, CLOSE_LAGGED).await;
            let (mut second, upgrade) = accept(&listener).await;
            // A replay that overlaps what was delivered: the client drops the duplicate.
            push(&mut second, &message(2)).await;
            push(&mut second, &message(3)).await;
            (upgrade, second)
        });
        let mut conn = client.connect_with(ChatId(1), options()).await.unwrap();
        assert_eq!(next_seq(&mut conn).await, 1);
        assert_eq!(next_seq(&mut conn).await, 2);
        assert_eq!(next_seq(&mut conn).await, 3);
        let (upgrade, _socket) = server.await.unwrap();
        assert_eq!(upgrade.path_and_query, "/ws/api/chat/1/?after_seq=2");
    }

    #[tokio::test]
    async fn send_waits_for_the_ack_and_keeps_events_that_came_first() {
        let (listener, client) = listen().await;
        let server = tokio::spawn(async move {
            let (mut socket, _) = accept(&listener).await;
            let frame = read_text(&mut socket).await;
            push(&mut socket, &message(1)).await;
            socket
                .send(WsMessage::text(
                    r#"{"type":"ack","id":101,"seq":1,"client_id":"c-1"}"#,
                ))
                .await
                .unwrap();
            (frame, socket)
        });
        let mut conn = client.connect_with(ChatId(1), options()).await.unwrap();
        let ack = conn.send("hello", "c-1").await.unwrap();
        assert_eq!(ack.seq, 1);
        assert_eq!(ack.id, MessageId(101));
        assert_eq!(next_seq(&mut conn).await, 1);
        let (frame, _socket) = server.await.unwrap();
        assert_eq!(
            frame,
            serde_json::json!({"type": "send", "content": "hello", "client_id": "c-1"})
        );
    }

    #[tokio::test]
    async fn a_send_cut_off_before_its_ack_is_sent_again_with_the_same_client_id() {
        let (listener, client) = listen().await;
        let server = tokio::spawn(async move {
            let (mut first, _) = accept(&listener).await;
            let first_frame = read_text(&mut first).await;
            close_with(&mut first, 1001).await;
            let (mut second, upgrade) = accept(&listener).await;
            let second_frame = read_text(&mut second).await;
            second
                .send(WsMessage::text(
                    r#"{"type":"ack","id":101,"seq":1,"client_id":"c-9"}"#,
                ))
                .await
                .unwrap();
            (first_frame, second_frame, upgrade, second)
        });
        let mut conn = client.connect_with(ChatId(1), options()).await.unwrap();
        let ack = conn.send("hello", "c-9").await.unwrap();
        assert_eq!(ack.client_id.as_deref(), Some("c-9"));
        let (first, second, upgrade, _socket) = server.await.unwrap();
        assert_eq!(first, second);
        assert_eq!(upgrade.path_and_query, "/ws/api/chat/1/?after_seq=0");
    }

    #[tokio::test]
    async fn a_refused_frame_is_a_rejected_error_and_the_connection_stays() {
        let (listener, client) = listen().await;
        let server = tokio::spawn(async move {
            let (mut socket, _) = accept(&listener).await;
            read_text(&mut socket).await;
            socket
                .send(WsMessage::text(
                    r#"{"type":"error","code":"invalid","error":"content: must not be blank"}"#,
                ))
                .await
                .unwrap();
            push(&mut socket, &message(1)).await;
            socket
        });
        let mut conn = client.connect_with(ChatId(1), options()).await.unwrap();
        let err = conn.send("   ", "c-2").await.unwrap_err();
        assert_eq!(err.kind(), Some(ErrorKind::Invalid));
        assert_eq!(err.server_message(), Some("content: must not be blank"));
        assert_eq!(next_seq(&mut conn).await, 1);
        drop(server.await.unwrap());
    }

    #[tokio::test]
    async fn the_removal_of_this_user_ends_the_stream_and_later_sends_fail() {
        let (listener, client) = listen().await;
        let server = tokio::spawn(async move {
            let (mut socket, _) = accept(&listener).await;
            push(&mut socket, &removed(7, RemovalReason::Removed)).await;
            // The server closes; the client must not come back.
            close_with(&mut socket, 1000).await;
            let again = tokio::time::timeout(Duration::from_millis(300), listener.accept()).await;
            again.is_err()
        });
        let mut conn = client.connect_with(ChatId(1), options()).await.unwrap();
        let event = conn.next_event().await.unwrap().unwrap();
        assert!(matches!(event, Event::MemberRemoved { ref user, .. } if user.id == UserId(7)));
        assert!(conn.next_event().await.is_none());
        assert_eq!(conn.ended(), Some("this user was removed from the chat"));
        let err = conn.send("still here?", "c-3").await.unwrap_err();
        assert!(matches!(err, Error::Closed { .. }), "{err:?}");
        assert!(
            server.await.unwrap(),
            "the client reconnected after its removal"
        );
    }

    /// Answers one plain HTTP request with a JSON `body`; returns the request line.
    async fn answer_http(listener: &TcpListener, body: &str) -> String {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let (mut tcp, _) = listener.accept().await.unwrap();
        let mut head = Vec::new();
        let mut buf = [0u8; 1024];
        while !head.windows(4).any(|w| w == b"\r\n\r\n") {
            let n = tcp.read(&mut buf).await.unwrap();
            assert!(n > 0, "the client closed before its request ended");
            head.extend_from_slice(&buf[..n]);
        }
        let response = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\
             connection: close\r\n\r\n{body}",
            body.len()
        );
        tcp.write_all(response.as_bytes()).await.unwrap();
        let _ = tcp.shutdown().await;
        let head = String::from_utf8_lossy(&head);
        head.lines().next().unwrap_or_default().to_owned()
    }

    #[tokio::test]
    async fn connect_asks_whether_the_user_is_an_admin_who_reads_on_after_a_removal() {
        let (listener, client) = listen().await;
        let server = tokio::spawn(async move {
            let request = answer_http(
                &listener,
                r#"{"id":7,"first_name":"","last_name":"","username":"root","email":"",
                    "is_active":true,"is_superuser":true}"#,
            )
            .await;
            let (mut socket, _) = accept(&listener).await;
            push(&mut socket, &removed(7, RemovalReason::Removed)).await;
            push(&mut socket, &message(1)).await;
            (request, socket)
        });
        let mut conn = client
            .connect_with(ChatId(1), ConnectOptions::default().after_seq(0))
            .await
            .unwrap();
        let event = conn.next_event().await.unwrap().unwrap();
        assert!(matches!(event, Event::MemberRemoved { ref user, .. } if user.id == UserId(7)));
        assert_eq!(next_seq(&mut conn).await, 1);
        assert_eq!(conn.ended(), None);
        let (request, _socket) = server.await.unwrap();
        assert_eq!(request, "GET /api/accounts/me/ HTTP/1.1");
    }

    #[tokio::test]
    async fn a_refused_reconnect_ends_the_stream_with_the_servers_error() {
        let (listener, client) = listen().await;
        let server = tokio::spawn(async move {
            let (mut socket, _) = accept(&listener).await;
            push(&mut socket, &message(1)).await;
            close_with(&mut socket, 1001).await;
            refuse(
                &listener,
                403,
                r#"{"error":"You are not a member of this chat","code":"forbidden"}"#,
            )
            .await;
        });
        let mut conn = client.connect_with(ChatId(1), options()).await.unwrap();
        assert_eq!(next_seq(&mut conn).await, 1);
        let err = conn.next_event().await.unwrap().unwrap_err();
        assert_eq!(err.status(), Some(403), "{err:?}");
        assert!(conn.next_event().await.is_none());
        server.await.unwrap();
    }

    #[tokio::test]
    async fn reconnecting_gives_up_after_the_configured_number_of_failures() {
        let (listener, client) = listen().await;
        let server = tokio::spawn(async move {
            let (mut socket, _) = accept(&listener).await;
            push(&mut socket, &message(1)).await;
            close_with(&mut socket, 1001).await;
            // The listener goes away: every reconnect is refused by the operating system.
            drop(listener);
        });
        let mut conn = client
            .connect_with(ChatId(1), options().max_failures(Some(3)))
            .await
            .unwrap();
        assert_eq!(next_seq(&mut conn).await, 1);
        server.await.unwrap();
        let err = tokio::time::timeout(Duration::from_secs(5), conn.next_event())
            .await
            .unwrap()
            .unwrap()
            .unwrap_err();
        assert!(
            matches!(err, Error::ReconnectFailed { attempts: 3, .. }),
            "{err:?}"
        );
        assert!(conn.next_event().await.is_none());
    }

    #[tokio::test]
    async fn a_silent_server_is_pinged_and_then_left_for_a_new_connection() {
        let (listener, client) = listen().await;
        let server = tokio::spawn(async move {
            let (first, _) = accept(&listener).await;
            // Never read: tungstenite answers pings only while reading, so no pong comes.
            let (mut second, upgrade) = accept(&listener).await;
            push(&mut second, &message(1)).await;
            (first, second, upgrade)
        });
        let mut conn = client
            .connect_with(
                ChatId(1),
                options().ping_interval(Duration::from_millis(100)),
            )
            .await
            .unwrap();
        assert_eq!(next_seq(&mut conn).await, 1);
        let (_first, _second, upgrade) = server.await.unwrap();
        assert_eq!(upgrade.path_and_query, "/ws/api/chat/1/?after_seq=0");
    }
}
