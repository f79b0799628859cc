//! The task behind a [`ChatConnection`](super::ChatConnection): it owns the socket, reads
//! frames into the stream's queue, writes sends and matches the server's answers to them,
//! pings a quiet server, fills gaps in `seq` from history, and reconnects with backoff
//! (waiting at least the server's `Retry-After`), resuming after the last `seq` and reading
//! the chat again. The handle and its senders talk to it through two channels: events out,
//! commands in.
//!
//! It never waits on the reader while a send waits for its ack: events are queued in the
//! task (the socket is left unread only while that queue is long and no send is waiting),
//! so a program that awaits a send before it reads the stream cannot deadlock.

use super::event::{ChatEvent, Reconnected};
use super::frames::{Ack, ServerFrame};
use super::options::ConnectOptions;
use super::socket::{Socket, is_final, open_socket};
use super::tracker::Tracker;
use super::{CLOSE_LAGGED, CLOSE_NORMAL, CLOSE_REVOKED};
use crate::client::Client;
use crate::error::{Error, Result};
use chatcore::model::{ChatId, Event, MAX_PAGE_LIMIT, PageRequest};
use futures_util::{SinkExt, StreamExt};
use std::collections::VecDeque;
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::{self, Message as WsMessage};

/// How many events the task queues before it stops reading the socket (unless a send waits
/// for its ack). A reader that stays this far behind is caught up by a resume later.
const HIGH_WATER: usize = 1024;
/// How long the closing handshake may take when the SDK closes.
pub(super) const CLOSE_TIMEOUT: Duration = Duration::from_secs(1);
/// A connection that lived this long counts as healthy even if it carried no frame.
const HEALTHY_AFTER: Duration = Duration::from_secs(10);
/// How many times one send frame is written (on successive connections) before it fails.
const MAX_SEND_ATTEMPTS: u32 = 3;

/// What a handle or a sender asks of the task.
pub(super) enum Command {
    /// Send this frame; answer with the server's ack or refusal.
    Send {
        /// The `send` frame, serialized.
        frame: String,
        /// Its `client_id`, to match the ack.
        client_id: String,
        /// Where the answer goes.
        reply: oneshot::Sender<Result<Ack>>,
    },
    /// Write this frame if the socket is up; nothing answers it directly (a `read`).
    Frame {
        /// The frame, serialized.
        frame: String,
    },
    /// Close the socket politely and end the stream; say when done.
    Close {
        /// Signalled once the socket is closed.
        done: oneshot::Sender<()>,
    },
}

/// A send written (or waiting to be written) and not answered yet.
struct PendingSend {
    frame: String,
    client_id: String,
    reply: oneshot::Sender<Result<Ack>>,
    /// How many times the frame was written.
    attempts: u32,
}

impl PendingSend {
    fn answer(self, result: Result<Ack>) {
        // The sender may have stopped waiting (a cancelled send): nothing to do then.
        let _ = self.reply.send(result);
    }
}

/// The task's state. Built by `Client::connect_with` around the first socket.
pub(super) struct Driver {
    pub(super) client: Client,
    pub(super) chat: ChatId,
    pub(super) options: ConnectOptions,
    pub(super) tracker: Tracker,
    pub(super) socket: Option<Socket>,
    /// The stream's items, to the handle.
    pub(super) events: mpsc::Sender<Result<ChatEvent>>,
    /// From the handle and its senders.
    pub(super) commands: mpsc::Receiver<Command>,
    /// Why the stream ended, for senders that ask after the task is gone.
    pub(super) ended: Arc<OnceLock<String>>,
}

/// The driver's moving parts, apart from what it was built with.
struct Run {
    d: Driver,
    /// Items not yet taken by the handle's channel.
    outbox: VecDeque<Result<ChatEvent>>,
    /// Whether the handle still listens.
    listening: bool,
    /// Whether any handle or sender can still send commands.
    commanded: bool,
    /// Sends written on the current socket, in order, awaiting their answer.
    in_flight: VecDeque<PendingSend>,
    /// Sends waiting for a socket.
    queued: VecDeque<PendingSend>,
    /// Failed connection attempts in a row.
    failures: u32,
    /// The error of the last failed attempt, for [`Error::ReconnectFailed`].
    last_failure: Option<Error>,
    /// The server's `Retry-After` from the last failed attempt.
    retry_after: Option<Duration>,
    connected_at: Instant,
    /// Whether the current socket has delivered any frame.
    received: bool,
    ping_outstanding: bool,
    /// When the socket counts as quiet (a ping is due, or the ping went unanswered).
    quiet_at: Instant,
    /// Who asked to close, once someone did.
    closing: Option<oneshot::Sender<()>>,
}

impl Driver {
    /// Runs until the stream ends, or nobody listens or sends any more.
    pub(super) async fn run(self) {
        let now = Instant::now();
        let quiet_at = now + self.options.ping_interval;
        let mut run = Run {
            d: self,
            outbox: VecDeque::new(),
            listening: true,
            commanded: true,
            in_flight: VecDeque::new(),
            queued: VecDeque::new(),
            failures: 0,
            last_failure: None,
            retry_after: None,
            connected_at: now,
            received: false,
            ping_outstanding: false,
            quiet_at,
            closing: None,
        };
        while run.goes_on() {
            if run.d.socket.is_none() {
                if let Err(e) = run.reconnect().await {
                    run.end(e.to_string(), Some(e));
                }
                continue;
            }
            run.step().await;
        }
        run.finish().await;
    }
}

impl Run {
    /// Whether there is anything left to do.
    fn goes_on(&self) -> bool {
        self.d.tracker.ended.is_none() && (self.listening || self.commanded)
    }

    /// Queues an item for the handle (dropped when nobody listens).
    fn deliver(&mut self, item: Result<ChatEvent>) {
        if self.listening {
            self.outbox.push_back(item);
        }
    }

    /// Ends the stream for good: `reason` for [`ChatConnection::ended`](super::ChatConnection::ended),
    /// and `error`, if any, as the stream's last item.
    fn end(&mut self, reason: String, error: Option<Error>) {
        if self.d.tracker.ended.is_none() {
            self.d.tracker.ended = Some(reason);
        }
        if let Some(e) = error {
            self.deliver(Err(e));
        }
    }

    /// One turn while connected: hand an event over, take a command, read a frame, or
    /// notice a quiet socket.
    async fn step(&mut self) {
        let reading = !self.in_flight.is_empty() || self.outbox.len() < HIGH_WATER;
        if !reading {
            // The socket is not read: its silence says nothing about the server.
            self.quiet_at = Instant::now() + self.d.options.ping_interval;
        }
        let Some(socket) = self.d.socket.as_mut() else {
            return;
        };
        tokio::select! {
            () = hand_over(&self.d.events, &mut self.outbox, &mut self.listening),
                if self.listening && !self.outbox.is_empty() => {}
            () = self.d.events.closed(), if self.listening && self.outbox.is_empty() => {
                self.listening = false;
            }
            command = self.d.commands.recv(), if self.commanded => self.on_command(command).await,
            frame = socket.next(), if reading => self.on_frame(frame).await,
            () = tokio::time::sleep_until(self.quiet_at), if reading => self.on_quiet().await,
        }
    }

    async fn on_command(&mut self, command: Option<Command>) {
        match command {
            None => self.commanded = false,
            Some(Command::Send {
                frame,
                client_id,
                reply,
            }) => {
                let send = PendingSend {
                    frame,
                    client_id,
                    reply,
                    attempts: 0,
                };
                if self.d.socket.is_some() {
                    self.write(send).await;
                } else {
                    self.queued.push_back(send);
                }
            }
            Some(Command::Frame { frame }) => {
                if let Some(socket) = self.d.socket.as_mut()
                    && let Err(e) = socket.send(WsMessage::text(frame)).await
                {
                    self.lost(None, e.to_string());
                }
            }
            Some(Command::Close { done }) => {
                self.closing = Some(done);
                self.end("closed by the client".to_owned(), None);
            }
        }
    }

    /// Writes a send on the socket; when that fails, the send waits for the next one.
    async fn write(&mut self, mut send: PendingSend) {
        let Some(socket) = self.d.socket.as_mut() else {
            self.queued.push_back(send);
            return;
        };
        send.attempts += 1;
        match socket.send(WsMessage::text(send.frame.clone())).await {
            Ok(()) => self.in_flight.push_back(send),
            Err(e) => {
                self.in_flight.push_back(send);
                self.lost(None, e.to_string());
            }
        }
    }

    async fn on_frame(
        &mut self,
        frame: Option<std::result::Result<WsMessage, tungstenite::Error>>,
    ) {
        let message = match frame {
            None => return self.lost(None, "the server closed the connection".to_owned()),
            Some(Err(e)) => return self.lost(None, e.to_string()),
            Some(Ok(message)) => message,
        };
        self.received = true;
        self.ping_outstanding = false;
        self.quiet_at = Instant::now() + self.d.options.ping_interval;
        match message {
            WsMessage::Text(text) => match ServerFrame::parse(&text) {
                Ok(frame) => self.on_server_frame(frame).await,
                Err(e) => self.deliver(Err(e)),
            },
            WsMessage::Binary(data) => self.deliver(Err(Error::decode(
                "WebSocket frame",
                None,
                "a binary frame; the chat protocol is JSON text",
                data.len(),
                None,
            ))),
            WsMessage::Close(frame) => {
                let (code, reason) = match frame {
                    Some(frame) => (Some(u16::from(frame.code)), frame.reason.to_string()),
                    None => (None, String::new()),
                };
                let reason = if reason.is_empty() {
                    "the server closed the connection".to_owned()
                } else {
                    reason
                };
                self.lost(code, reason);
            }
            WsMessage::Ping(_) | WsMessage::Pong(_) | WsMessage::Frame(_) => {}
        }
    }

    async fn on_server_frame(&mut self, frame: ServerFrame) {
        match frame {
            ServerFrame::Event(event) => self.on_event(*event).await,
            ServerFrame::Ack(ack) => {
                // The server answers frames in order; the client_id confirms which.
                let at = match ack.client_id.as_deref() {
                    Some(id) => self.in_flight.iter().position(|s| s.client_id == id),
                    None => (!self.in_flight.is_empty()).then_some(0),
                };
                match at.and_then(|at| self.in_flight.remove(at)) {
                    Some(send) => send.answer(Ok(ack)),
                    None => tracing::debug!(?ack, "an ack no send is waiting for"),
                }
            }
            ServerFrame::Error(refusal) => match self.in_flight.pop_front() {
                Some(send) => send.answer(Err(refusal.into_error())),
                None => self.deliver(Err(refusal.into_error())),
            },
            ServerFrame::Unknown(kind) => {
                tracing::debug!(kind, "skipping an event type this SDK does not know");
            }
        }
    }

    /// Delivers a chat event, after the messages missing before it (read from history).
    async fn on_event(&mut self, event: Event) {
        if let Some(upto) = self.d.tracker.missing_before(&event)
            && let Err(e) = self.fill_gap(upto).await
        {
            // The resume replays what history could not give: reconnect after what was
            // delivered, and count it as a failure so that this cannot spin.
            tracing::warn!(chat = %self.d.chat, error = %e, "could not fill a gap from history; resuming");
            self.lost(None, format!("could not fill a gap from history: {e}"));
            self.failures += 1;
            self.retry_after = e.retry_after();
            self.last_failure = Some(e);
            return;
        }
        if let Some(event) = self.d.tracker.accept(event) {
            self.deliver(Ok(ChatEvent::Event(event)));
        }
    }

    /// Delivers the messages after the last `seq` up to `upto`, read from history.
    async fn fill_gap(&mut self, upto: i64) -> Result<()> {
        tracing::info!(chat = %self.d.chat, after = self.d.tracker.last_seq, upto, "filling a gap in seq from history");
        while self.d.tracker.last_seq < upto {
            let cursor = self.d.tracker.last_seq;
            let page = self
                .d
                .client
                .messages(self.d.chat, PageRequest::after(cursor, MAX_PAGE_LIMIT)?)
                .await?;
            let short = page.len() < MAX_PAGE_LIMIT as usize;
            for message in page.into_iter().take_while(|m| m.seq <= upto) {
                if let Some(event) = self.d.tracker.accept(Event::message(message)) {
                    self.deliver(Ok(ChatEvent::Event(event)));
                }
            }
            if short || self.d.tracker.last_seq == cursor {
                break;
            }
        }
        if self.d.tracker.last_seq < upto {
            tracing::warn!(chat = %self.d.chat, last_seq = self.d.tracker.last_seq, upto, "history has no messages for the whole gap");
        }
        Ok(())
    }

    /// The socket said nothing for a ping interval: ping it, or give it up when the last
    /// ping went unanswered.
    async fn on_quiet(&mut self) {
        if self.ping_outstanding {
            return self.lost(None, "the server did not answer a ping".to_owned());
        }
        self.ping_outstanding = true;
        self.quiet_at = Instant::now() + self.d.options.ping_interval;
        if let Some(socket) = self.d.socket.as_mut()
            && let Err(e) = socket.send(WsMessage::Ping(Default::default())).await
        {
            self.lost(None, e.to_string());
        }
    }

    /// Forgets the socket after it failed or closed. What was sent and not answered goes
    /// again on the next socket, first and in order, with the same `client_id`. A connection
    /// that delivered frames, or lived a while, resets the failure count (the next attempt
    /// is immediate); one that died at once counts as a failure, so a server that accepts
    /// and drops backs off too. A revoked credential (4001) or a normal close (1000, the
    /// server ended the stream) ends the stream.
    fn lost(&mut self, code: Option<u16>, reason: String) {
        self.d.socket = None;
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
        let mut unanswered = std::mem::take(&mut self.in_flight);
        // 1003 unsupported data, 1007 bad payload, 1008 policy, 1009 too big: the oldest
        // unanswered frame was the problem, so sending it again cannot help.
        if matches!(code, Some(1003 | 1007 | 1008 | 1009))
            && let Some(send) = unanswered.pop_front()
        {
            send.answer(Err(Error::Closed {
                code,
                reason: format!("the server closed the connection because of the frame ({reason})"),
            }));
        }
        while let Some(send) = unanswered.pop_back() {
            if send.attempts >= MAX_SEND_ATTEMPTS {
                send.answer(Err(Error::Closed {
                    code,
                    reason: format!(
                        "the connection closed {MAX_SEND_ATTEMPTS} times before the server \
                         acknowledged the message ({reason})"
                    ),
                }));
            } else {
                self.queued.push_front(send);
            }
        }
        if code == Some(CLOSE_REVOKED) {
            let error = Error::Closed {
                code,
                reason: reason.clone(),
            };
            return self.end(format!("the credential was revoked: {reason}"), Some(error));
        }
        if code == Some(CLOSE_NORMAL) {
            // The server closes normally only when it ended the stream for good, after the
            // event that says why (e.g. an admin who was not a member has been demoted: their
            // `member_removed` did not end the stream by the rule known at connect time).
            return self.end(format!("the server ended the stream: {reason}"), None);
        }
        if code == Some(CLOSE_LAGGED) {
            tracing::info!(chat = %self.d.chat, last_seq = self.d.tracker.last_seq, "lagged; resuming");
        } else {
            tracing::debug!(chat = %self.d.chat, ?code, reason, last_seq = self.d.tracker.last_seq, "connection lost; resuming");
        }
    }

    /// Opens a new socket, waiting out the backoff (and the server's `Retry-After`) while
    /// it keeps handing events over and taking commands. `Ok` once connected, or when the
    /// stream ended meanwhile; `Err` when the server refused for good or after too many
    /// failures in a row.
    async fn reconnect(&mut self) -> Result<()> {
        loop {
            if let Some(max) = self.d.options.max_failures
                && self.failures >= max
            {
                let last = self.last_failure.take().unwrap_or(Error::Closed {
                    code: None,
                    reason: "the connection kept failing".to_owned(),
                });
                return Err(Error::ReconnectFailed {
                    attempts: self.failures,
                    last: Box::new(last),
                });
            }
            let backoff = self.d.options.backoff(self.failures);
            let wait = backoff.max(self.retry_after.take().unwrap_or_default());
            self.idle(wait).await;
            if !self.goes_on() {
                return Ok(());
            }
            match self.establish().await {
                Ok(()) => return Ok(()),
                Err(e) if is_final(&e) => return Err(e),
                Err(e) => {
                    self.failures += 1;
                    self.retry_after = e.retry_after();
                    tracing::warn!(chat = %self.d.chat, failures = self.failures, error = %e, "reconnect failed");
                    self.last_failure = Some(e);
                }
            }
        }
    }

    /// Waits `wait` without a socket, handing events over and taking commands (sends are
    /// queued for the next socket).
    async fn idle(&mut self, wait: Duration) {
        let until = Instant::now() + wait;
        while self.goes_on() {
            tokio::select! {
                () = tokio::time::sleep_until(until) => return,
                () = hand_over(&self.d.events, &mut self.outbox, &mut self.listening),
                    if self.listening && !self.outbox.is_empty() => {}
                () = self.d.events.closed(), if self.listening && self.outbox.is_empty() => {
                    self.listening = false;
                }
                command = self.d.commands.recv(), if self.commanded => self.on_command(command).await,
            }
        }
    }

    /// One connection attempt: the socket (resuming after the last `seq`), then the chat
    /// read again; then `Reconnected` with what changed, and the queued sends written.
    async fn establish(&mut self) -> Result<()> {
        let after_seq = self.d.tracker.last_seq;
        let socket = open_socket(&self.d.client, self.d.chat, after_seq).await?;
        let chat = self.d.client.chat(self.d.chat).await?;
        tracing::debug!(chat = %self.d.chat, after_seq, "reconnected");
        let reconnected = Reconnected::between(&self.d.tracker.chat, chat, after_seq);
        self.d.tracker.reread(&reconnected.chat);
        self.d.socket = Some(socket);
        self.connected_at = Instant::now();
        self.received = false;
        self.ping_outstanding = false;
        self.quiet_at = self.connected_at + self.d.options.ping_interval;
        self.deliver(Ok(ChatEvent::Reconnected(reconnected)));
        while self.d.socket.is_some()
            && let Some(send) = self.queued.pop_front()
        {
            self.write(send).await;
        }
        Ok(())
    }

    /// The stream is over: every unanswered send fails, the socket is closed politely, and
    /// what is left of the outbox goes to the handle.
    async fn finish(mut self) {
        let reason = self
            .d
            .tracker
            .ended
            .clone()
            .unwrap_or_else(|| "nobody listens or sends any more".to_owned());
        let _ = self.d.ended.set(reason.clone());
        self.d.commands.close();
        while let Ok(command) = self.d.commands.try_recv() {
            if let Command::Close { done } = command {
                let _ = done.send(());
            }
            // A send's reply is dropped with it: its sender sees the stream's end.
        }
        let closed = || Error::Closed {
            code: None,
            reason: reason.clone(),
        };
        for send in self.in_flight.drain(..).chain(self.queued.drain(..)) {
            send.answer(Err(closed()));
        }
        if let Some(mut socket) = self.d.socket.take() {
            // Best effort: the server may already be gone.
            let _ = tokio::time::timeout(CLOSE_TIMEOUT, socket.close(None)).await;
        }
        if let Some(done) = self.closing.take() {
            let _ = done.send(());
        }
        if self.listening {
            for item in self.outbox.drain(..) {
                if self.d.events.send(item).await.is_err() {
                    break;
                }
            }
        }
        tracing::debug!(chat = %self.d.chat, reason, "chat stream ended");
    }
}

/// Gives the front of the outbox to the handle's channel once it has room, or forgets the
/// outbox when the handle is gone. Cancel-safe: the item leaves the outbox only with a slot.
async fn hand_over(
    events: &mpsc::Sender<Result<ChatEvent>>,
    outbox: &mut VecDeque<Result<ChatEvent>>,
    listening: &mut bool,
) {
    match events.reserve().await {
        Ok(permit) => {
            if let Some(item) = outbox.pop_front() {
                permit.send(item);
            }
        }
        Err(_) => {
            *listening = false;
            outbox.clear();
        }
    }
}
