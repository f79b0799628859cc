//! One WebSocket session: a `select!` over the client's frames, the chat's subscription, the
//! ping timer and shutdown (mini-redis's subscribe loop). Frames to the client go through a
//! bounded queue to a writer task. A client that does not read stops its own writer, then
//! its queue, then falls behind its subscription's buffer: it is closed (4000, resume with
//! `after_seq`) instead of slowing anything else down.

use super::outbound::write_queued;
use super::protocol::{AckFrame, ClientFrame, ErrorFrame, to_text};
use crate::metrics::{self, OpenSocket};
use crate::settings::WsSettings;
use crate::state::AppState;
use chatcore::model::{ChatId, Event, NewMessage, RemovalReason};
use chatcore::{Actor, Credential, Error, Subscription};
use futures_util::future::{BoxFuture, FutureExt};
use futures_util::stream::FuturesOrdered;
use futures_util::{SinkExt, StreamExt};
use hyper_tungstenite::tungstenite::error::CapacityError;
use hyper_tungstenite::tungstenite::protocol::CloseFrame;
use hyper_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use hyper_tungstenite::tungstenite::{self, Message, Utf8Bytes};
use hyper_tungstenite::{HyperWebsocket, HyperWebsocketStream};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

/// Close code: the client fell behind (its queue or the chat's buffer overflowed); it
/// resumes with `after_seq` and misses nothing.
pub const CLOSE_TOO_SLOW: u16 = 4000;
/// Close code: the socket's credential no longer authenticates (logout, password change,
/// deactivation).
pub const CLOSE_REVOKED: u16 = 4001;
/// How long the closing handshake may take before the socket is dropped.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(2);

/// Client frames answered out of the socket's order-keeping queue at most at once: a socket
/// queues its next `send` while the previous ones are being stored (their acks still go
/// out in order); beyond this many the socket is not read until an answer is out.
const MAX_UNANSWERED: usize = 32;

/// The answer to one client frame, once it is known: the text to send (an `ack`), nothing,
/// or the error to answer with.
type Answer = BoxFuture<'static, Result<Option<String>, Error>>;

/// Who is on the socket and what they follow.
pub struct Session {
    /// The shared state (services, settings, shutdown).
    pub state: AppState,
    /// The acting user.
    pub actor: Actor,
    /// The credential the upgrade presented, re-checked at every ping.
    pub credential: Credential,
    /// The chat.
    pub chat: ChatId,
    /// Its events, from the resume point on.
    pub subscription: Subscription,
}

/// Runs the session until the client leaves, the stream ends or the server shuts down.
pub async fn run(session: Session, socket: HyperWebsocket) {
    let socket = match socket.await {
        Ok(socket) => socket,
        Err(e) => {
            tracing::debug!(error = %e, "the WebSocket upgrade did not complete");
            return;
        }
    };
    // Counted open until this function returns, whichever way the session ends.
    let _open = OpenSocket::new();
    let limits = session.state.settings().ws.clone();
    let (sink, stream) = socket.split();
    let (queue, queued) = mpsc::channel(limits.outbound_queue.max(1));
    let (closing, close_rx) = oneshot::channel();
    let writer = tokio::spawn(write_loop(sink, queued, close_rx));
    tracing::debug!(chat = %session.chat, user = %session.actor.id(), "socket open");
    let close = Loop {
        session,
        limits,
        queue,
        budget: SendBudget::default(),
        read_budget: SendBudget::default(),
    }
    .run(stream)
    .await;
    if let Some(frame) = &close {
        tracing::debug!(code = %frame.code, reason = %frame.reason, "closing the socket");
    }
    let _ = closing.send(close);
    let _ = tokio::time::timeout(CLOSE_TIMEOUT * 2, writer).await;
}

struct Loop {
    session: Session,
    limits: WsSettings,
    queue: mpsc::Sender<Message>,
    /// The rate of `send` frames.
    budget: SendBudget,
    /// The rate of `read` frames (each a database write too), apart from the sends so a
    /// client marking every message read does not lose its right to talk.
    read_budget: SendBudget,
}

impl Loop {
    /// The loop; returns the close frame to send (none when the client went away).
    async fn run(
        mut self,
        mut stream: futures_util::stream::SplitStream<HyperWebsocketStream>,
    ) -> Option<CloseFrame> {
        let shutdown = self.session.state.shutdown().clone();
        let mut ping = tokio::time::interval_at(
            Instant::now() + self.limits.ping_interval,
            self.limits.ping_interval,
        );
        let mut heard = Instant::now();
        let mut ended_by: Option<CloseFrame> = None;
        // Answers to the client's frames, in the order the frames came.
        let mut unanswered: FuturesOrdered<Answer> = FuturesOrdered::new();
        loop {
            tokio::select! {
                biased;
                () = shutdown.cancelled() => {
                    return Some(close(CloseCode::Away, "the server is shutting down"));
                }
                Some(answer) = unanswered.next(), if !unanswered.is_empty() => {
                    let text = match answer {
                        Ok(text) => text,
                        Err(e) => Some(to_text(&ErrorFrame::from(&e))),
                    };
                    if let Some(text) = text
                        && let Err(frame) = self.send_text(text).await
                    {
                        return Some(frame);
                    }
                }
                frame = stream.next(), if unanswered.len() < MAX_UNANSWERED => {
                    heard = Instant::now();
                    match frame {
                        None | Some(Ok(Message::Close(_))) => return None,
                        Some(Err(tungstenite::Error::Capacity(CapacityError::MessageTooLong { .. }))) => {
                            return Some(close(CloseCode::Size, "the frame is larger than 64 KiB"));
                        }
                        Some(Err(e)) => {
                            tracing::debug!(error = %e, "the socket failed");
                            return None;
                        }
                        Some(Ok(Message::Text(text))) => {
                            unanswered.push_back(self.on_text(&text).await);
                        }
                        Some(Ok(Message::Binary(_))) => {
                            let refusal = Error::invalid("frame", "binary frames are not supported: send JSON text");
                            unanswered.push_back(std::future::ready(Err(refusal)).boxed());
                        }
                        Some(Ok(_)) => {} // Ping (answered by tungstenite), Pong.
                    }
                }
                event = self.session.subscription.next() => match event {
                    Some(event) => {
                        if let Some(frame) = self.end_of_stream(event.event()) {
                            ended_by = Some(frame);
                        }
                        let text = Utf8Bytes::try_from(event.json().clone())
                            .unwrap_or_else(|_| Utf8Bytes::from_static("{}"));
                        if let Err(frame) = self.queue_frame(Message::Text(text)).await {
                            return Some(frame);
                        }
                        metrics::delivered();
                    }
                    None => {
                        return Some(ended_by.unwrap_or_else(|| {
                            close(CloseCode::Error, "the stream failed; reconnect with after_seq")
                        }));
                    }
                },
                _ = ping.tick() => {
                    if heard.elapsed() > self.limits.ping_interval * 2 {
                        return Some(close(CloseCode::Policy, "no answer to pings"));
                    }
                    if let Err(frame) = self.still_authenticated().await {
                        return Some(frame);
                    }
                    if let Err(frame) = self.queue_frame(Message::Ping(Default::default())).await {
                        return Some(frame);
                    }
                }
            }
        }
    }

    /// A client frame, and the answer to it once known: a `send` is queued for storing and
    /// answered with an `ack` (when asked for) once stored; a `read` moves the read marker
    /// (the `read` event on the subscription is its answer, when it moved); a refusal is
    /// answered with an `error`.
    async fn on_text(&mut self, text: &str) -> Answer {
        let queued = match ClientFrame::parse(text) {
            Err(e) => Err(e),
            Ok(ClientFrame::Send { message, acked }) => self.post(message, acked).await,
            Ok(ClientFrame::Read { seq }) => {
                let read = self.mark_read(seq).await.map(|()| None);
                return std::future::ready(read).boxed();
            }
        };
        queued.unwrap_or_else(|e| std::future::ready(Err(e)).boxed())
    }

    /// Queues a `send` frame's message (in the socket's order); the answer is the `ack`, if
    /// the client asked for one, once the message is stored.
    async fn post(&mut self, message: NewMessage, acked: bool) -> Result<Answer, Error> {
        self.budget.spend(&self.limits)?;
        let session = &self.session;
        let client_id = message.client_id.clone();
        let queued = session
            .state
            .services()
            .messaging
            .queue_post(&session.actor, session.chat, message)
            .await?;
        Ok(async move {
            let posted = queued.await?;
            Ok(acked.then(|| {
                to_text(&AckFrame::new(
                    client_id,
                    posted.message.id,
                    posted.message.seq,
                ))
            }))
        }
        .boxed())
    }

    /// Moves the user's read marker for a `read` frame.
    async fn mark_read(&mut self, seq: i64) -> Result<(), Error> {
        self.read_budget.spend(&self.limits)?;
        let session = &self.session;
        session
            .state
            .services()
            .messaging
            .mark_read(&session.actor, session.chat, seq)
            .await
            .map(drop)
    }

    /// Whether the socket's credential still proves its user (logout, password change and
    /// deactivation revoke it); a Basic credential is not hashed again, its user's account
    /// is checked instead.
    async fn still_authenticated(&self) -> Result<(), CloseFrame> {
        let services = self.session.state.services();
        let result = match &self.session.credential {
            Credential::Basic { .. } => services
                .auth
                .actor_for(self.session.actor.id())
                .await
                .map(|_| ()),
            credential => services
                .authenticator
                .authenticate(credential, &chatcore::ClientInfo::default())
                .await
                .map(|_| ()),
        };
        match result {
            Ok(()) | Err(Error::Unavailable { .. } | Error::Internal) => Ok(()),
            Err(_) => Err(close(
                CloseCode::Library(CLOSE_REVOKED),
                "the credential was revoked; sign in again",
            )),
        }
    }

    /// The close frame an event that ends this viewer's stream calls for.
    fn end_of_stream(&self, event: &Event) -> Option<CloseFrame> {
        match event {
            Event::Lagged { last_seq, .. } => Some(close(
                CloseCode::Library(CLOSE_TOO_SLOW),
                &format!("fell behind at seq {last_seq}; reconnect with after_seq"),
            )),
            Event::ChatDeleted { .. } => Some(close(CloseCode::Normal, "the chat was deleted")),
            Event::MemberRemoved { user, reason, .. } if user.id == self.session.actor.id() => {
                Some(close(
                    CloseCode::Normal,
                    match reason {
                        RemovalReason::Left => "you left the chat",
                        RemovalReason::Removed => "you were removed from the chat",
                        RemovalReason::Deactivated => "your account was deactivated",
                    },
                ))
            }
            _ => None,
        }
    }

    async fn send_text(&self, text: String) -> Result<(), CloseFrame> {
        self.queue_frame(Message::Text(text.into())).await
    }

    /// Queues a frame for the writer, waiting while the queue is full; a queue that has not
    /// moved for a whole ping interval means the client does not read.
    async fn queue_frame(&self, message: Message) -> Result<(), CloseFrame> {
        match tokio::time::timeout(self.limits.ping_interval, self.queue.send(message)).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(_writer_gone)) => Err(close(CloseCode::Away, "")),
            Err(_stuck) => Err(close(
                CloseCode::Library(CLOSE_TOO_SLOW),
                "too slow to read; reconnect with after_seq",
            )),
        }
    }
}

fn close(code: CloseCode, reason: &str) -> CloseFrame {
    CloseFrame {
        code,
        reason: reason.to_owned().into(),
    }
}

/// Writes queued frames until told to close; then writes what is still queued and the close
/// frame, all within [`CLOSE_TIMEOUT`] (a client that does not read cannot hold it up), and
/// ends.
async fn write_loop(
    mut sink: futures_util::stream::SplitSink<HyperWebsocketStream, Message>,
    mut queued: mpsc::Receiver<Message>,
    mut closing: oneshot::Receiver<Option<CloseFrame>>,
) {
    let close = loop {
        tokio::select! {
            biased;
            close = &mut closing => break close.ok().flatten(),
            message = queued.recv() => {
                let Some(message) = message else { return };
                // The frame (with whatever else is queued by now) goes out unless the
                // client stopped reading and the session closes meanwhile.
                tokio::select! {
                    biased;
                    sent = write_queued(&mut sink, message, &mut queued) => if sent.is_err() { return },
                    close = &mut closing => break close.ok().flatten(),
                }
            }
        }
    };
    let finish = async {
        while let Ok(message) = queued.try_recv() {
            if sink.feed(message).await.is_err() {
                return;
            }
        }
        if let Some(frame) = close {
            let _ = sink.send(Message::Close(Some(frame))).await;
        }
        let _ = sink.close().await;
    };
    let _ = tokio::time::timeout(CLOSE_TIMEOUT, finish).await;
}

/// The per-socket send rate: a token bucket of `send_burst` messages refilled at
/// `send_per_second`.
#[derive(Debug)]
struct SendBudget {
    tokens: f64,
    updated: Option<Instant>,
}

impl Default for SendBudget {
    fn default() -> Self {
        Self {
            tokens: f64::NAN,
            updated: None,
        }
    }
}

impl SendBudget {
    fn refill(&mut self, limits: &WsSettings) {
        let now = Instant::now();
        let burst = f64::from(limits.send_burst.max(1));
        self.tokens = match self.updated {
            None => burst,
            Some(then) => (self.tokens
                + now.duration_since(then).as_secs_f64() * f64::from(limits.send_per_second))
            .min(burst),
        };
        self.updated = Some(now);
    }

    /// Takes one message's token if there is one.
    fn take(&mut self, limits: &WsSettings) -> bool {
        self.refill(limits);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    /// Takes one message's token, or refuses with `rate_limited` saying when to try again.
    fn spend(&mut self, limits: &WsSettings) -> Result<(), Error> {
        if self.take(limits) {
            Ok(())
        } else {
            Err(Error::RateLimited {
                retry_after: self.wait(limits),
            })
        }
    }

    /// How long until the next token.
    fn wait(&self, limits: &WsSettings) -> Duration {
        let rate = f64::from(limits.send_per_second.max(1));
        Duration::from_secs_f64(((1.0 - self.tokens) / rate).max(0.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn the_send_budget_allows_a_burst_then_the_rate() {
        let limits = WsSettings {
            send_per_second: 2,
            send_burst: 3,
            ..WsSettings::default()
        };
        let mut budget = SendBudget::default();
        assert!((0..3).all(|_| budget.take(&limits)));
        assert!(!budget.take(&limits));
        assert!(budget.wait(&limits) <= Duration::from_millis(500));
        tokio::time::advance(Duration::from_millis(500)).await;
        assert!(budget.take(&limits));
        assert!(!budget.take(&limits));
        tokio::time::advance(Duration::from_secs(60)).await;
        assert!((0..3).all(|_| budget.take(&limits)));
        assert!(!budget.take(&limits));
    }
}
