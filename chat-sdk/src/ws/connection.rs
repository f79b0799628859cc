//! [`ChatConnection`]: one chat's WebSocket, opened by [`Client::connect`]. It reads
//! frames, sends messages and waits for their `ack`, pings a quiet server, and reconnects
//! with backoff, resuming after the last `seq` the [`Tracker`] delivered.

use super::CLOSE_LAGGED;
use super::frames::{Ack, ClientFrame, ServerFrame};
use super::options::ConnectOptions;
use super::tracker::Tracker;
use crate::client::Client;
use crate::error::{Error, Result};
use chatcore::model::{ChatId, Event};
use futures_util::{SinkExt, StreamExt};
use std::collections::VecDeque;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{self, Message as WsMessage};
use tokio_tungstenite::{Connector, MaybeTlsStream, WebSocketStream};

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

    /// Marks the chat read up to `seq` (the `{"type":"read","seq":N}` frame), connecting
    /// first if need be. The server answers nothing directly: when the marker moved, this
    /// user's connections to the chat (this one too) get an [`Event::Read`] with the marker
    /// and the unread count, and a refusal (a negative `seq`) comes as an `Err` from
    /// [`ChatConnection::next_event`]. A frame lost with a dropped socket is not sent again
    /// (the next read covers it); [`Client::mark_read`](crate::Client::mark_read) answers
    /// the marker itself.
    pub async fn mark_read(&mut self, seq: i64) -> Result<()> {
        let frame = serde_json::to_string(&ClientFrame::Read { seq })
            .expect("a frame of one integer always serializes");
        self.ensure_connected().await?;
        let socket = self
            .socket
            .as_mut()
            .expect("ensure_connected leaves a socket");
        if let Err(e) = socket.send(WsMessage::text(frame)).await {
            self.lost(None, e.to_string());
            return Err(e.into());
        }
        Ok(())
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
}
