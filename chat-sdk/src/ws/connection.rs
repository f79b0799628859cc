//! [`ChatConnection`], opened by [`Client::connect`]: a [`Stream`] of the chat's
//! [`ChatEvent`]s that can also send, and [`ChatSender`], a cheap handle for sending from
//! other tasks. Both talk to the connection's task (`driver.rs`), which owns the socket.

use super::driver::{CLOSE_TIMEOUT, Command, Driver};
use super::event::ChatEvent;
use super::frames::{Ack, ClientFrame};
use super::options::ConnectOptions;
use super::socket::open_socket;
use super::tracker::{Tracker, apply, starting_at};
use crate::client::Client;
use crate::client_id::new_client_id;
use crate::error::{Error, Result};
use chatcore::model::{Chat, ChatId, Event, NewMessage};
use futures_util::Stream;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};
use tokio::sync::{mpsc, oneshot};

/// How many items the connection's task hands over ahead of the reader (it queues more
/// itself, see `driver.rs`).
const EVENT_CHANNEL: usize = 64;
/// How many sends may wait for the connection's task to take them.
const COMMAND_CHANNEL: usize = 64;

/// A live connection to one chat: a [`Stream`] of [`ChatEvent`]s, oldest first, that
/// reconnects by itself, and a way to send.
///
/// The stream yields the chat's events, and [`ChatEvent::Reconnected`] after the connection
/// came back (resuming after the last `seq`, so nothing is missed or repeated; what the chat
/// read again shows changed comes with it). A gap in `seq` is filled from history. An error
/// item is either one the stream goes on after (a frame the SDK could not read, a refusal
/// the server sent outside any send), or the last item: the server refused to reconnect
/// (401/403/404), revoked the credential (close 4001), or reconnecting failed too often.
/// The stream also ends, after delivering it, with an event that [ends this user's
/// stream](Event::ends_stream_of) (this user's removal, the chat's deletion).
///
/// Sending does not need the stream to be read: [`ChatConnection::sender`] gives a
/// [`ChatSender`] for another task, and [`ChatConnection::send`] works on a shared
/// reference. Reading the stream is cancel-safe (`tokio::select!` on `next()` is fine).
/// Dropping the connection (and every sender) closes the socket. Needs a Tokio runtime: the
/// socket is served by a task of its own.
#[derive(Debug)]
pub struct ChatConnection {
    events: mpsc::Receiver<Result<ChatEvent>>,
    sender: ChatSender,
    /// The chat as the delivered items show it.
    state: Chat,
    /// The `seq` of the last message delivered (or the starting point).
    last_seq: i64,
}

/// Sends messages on a [`ChatConnection`], from any task: cheap to clone, and usable while
/// another task awaits the stream. Sends wait for a socket while the connection reconnects.
#[derive(Debug, Clone)]
pub struct ChatSender {
    chat: ChatId,
    commands: mpsc::Sender<Command>,
    ended: Arc<OnceLock<String>>,
}

impl Client {
    /// Opens the chat's live connection, starting at the chat's current `last_seq` (see
    /// [`Client::connect_with`]). Asks the server who the user is and where the chat stands
    /// first, so a non-member or a missing chat fails here with 403/404.
    pub async fn connect(&self, chat: ChatId) -> Result<ChatConnection> {
        self.connect_with(chat, ConnectOptions::default()).await
    }

    /// Opens the chat's live connection with `options`: reads who the user is (unless the
    /// options say) and the chat's `last_seq` (unless the options give `after_seq`), opens
    /// the socket, then reads the chat (its name and members, [`ChatConnection::chat_state`]).
    /// Must be called within a Tokio runtime.
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
        // Read after the socket subscribed: a change made in between is in the read, or
        // arrives on the socket (and is then not repeated).
        let state = starting_at(self.chat(chat).await?, after_seq);
        let (events_tx, events) = mpsc::channel(EVENT_CHANNEL);
        let (commands, commands_rx) = mpsc::channel(COMMAND_CHANNEL);
        let ended = Arc::new(OnceLock::new());
        let driver = Driver {
            client: self.clone(),
            chat,
            options,
            tracker: Tracker::new(me, admin, after_seq, state.clone()),
            socket: Some(socket),
            events: events_tx,
            commands: commands_rx,
            ended: Arc::clone(&ended),
        };
        tokio::spawn(driver.run());
        Ok(ChatConnection {
            events,
            sender: ChatSender {
                chat,
                commands,
                ended,
            },
            state,
            last_seq: after_seq,
        })
    }
}

impl ChatConnection {
    /// The chat this connection belongs to.
    pub fn chat(&self) -> ChatId {
        self.sender.chat
    }

    /// The chat as the items delivered so far show it: read when the connection opened,
    /// then changed by every event and [`ChatEvent::Reconnected`] the stream yielded (name,
    /// members, the last message delivered; its `last_seq` is [`ChatConnection::last_seq`]).
    pub fn chat_state(&self) -> &Chat {
        &self.state
    }

    /// The `seq` of the last message the stream yielded (or the starting point): a later
    /// connection can resume from it with [`ConnectOptions::after_seq`].
    pub fn last_seq(&self) -> i64 {
        self.last_seq
    }

    /// Why the stream ended, once it has (removed, left, chat deleted, credential revoked,
    /// refused, gave up, closed).
    pub fn ended(&self) -> Option<&str> {
        self.sender.ended.get().map(String::as_str)
    }

    /// A sender for this connection, for another task.
    pub fn sender(&self) -> ChatSender {
        self.sender.clone()
    }

    /// Sends `content` and waits for the server's [`Ack`] (see [`ChatSender::send`]).
    pub async fn send(&self, content: &str) -> Result<Ack> {
        self.sender.send(content).await
    }

    /// Sends a message and waits for the server's [`Ack`] (see [`ChatSender::send_message`]).
    pub async fn send_message(&self, message: &NewMessage) -> Result<Ack> {
        self.sender.send_message(message).await
    }

    /// Marks the chat read up to `seq`; see [`ChatSender::mark_read`].
    pub async fn mark_read(&self, seq: i64) -> Result<()> {
        self.sender.mark_read(seq).await
    }

    /// Closes the connection politely (a close frame, then a short wait for the server's)
    /// and ends the stream; senders of this connection fail with [`Error::Closed`] from now.
    pub async fn close(self) {
        let ChatConnection { events, sender, .. } = self;
        // Nobody reads any more: the task must not wait to hand items over.
        drop(events);
        let (done, closed) = oneshot::channel();
        if sender.commands.send(Command::Close { done }).await.is_ok() {
            let _ = tokio::time::timeout(CLOSE_TIMEOUT * 2, closed).await;
        }
    }

    /// Keeps the connection's own view up to date with an item it yields.
    fn observe(&mut self, item: &ChatEvent) {
        match item {
            ChatEvent::Event(event) => {
                if let Event::Message(m) = event {
                    self.last_seq = self.last_seq.max(m.message.seq);
                }
                apply(&mut self.state, event);
            }
            ChatEvent::Reconnected(reconnected) => {
                self.state.name.clone_from(&reconnected.chat.name);
                self.state
                    .participants
                    .clone_from(&reconnected.chat.participants);
            }
        }
    }
}

impl Stream for ChatConnection {
    type Item = Result<ChatEvent>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        let item = std::task::ready!(this.events.poll_recv(cx));
        if let Some(Ok(event)) = &item {
            this.observe(event);
        }
        Poll::Ready(item)
    }
}

impl ChatSender {
    /// The chat this sender posts to.
    pub fn chat(&self) -> ChatId {
        self.chat
    }

    /// Sends `content` with a `client_id` the SDK makes, and waits for the server's [`Ack`]
    /// (see [`ChatSender::send_message`]).
    pub async fn send(&self, content: &str) -> Result<Ack> {
        let message = NewMessage {
            content: content.to_owned(),
            client_id: None,
        };
        self.send_message(&message).await
    }

    /// Sends a message and waits for the server's [`Ack`]: it is stored then (and its event
    /// reaches the stream too). The `client_id` (the caller's, 1–64 characters unique per
    /// message of this user in this chat, or one the SDK makes) makes the send idempotent:
    /// when the connection drops before the ack, the frame is sent again on the next one and
    /// the server answers the stored message instead of storing a second one.
    ///
    /// Errors: [`Error::Rejected`] when the server refuses the message (blank, too long, not
    /// a member, rate limited), [`Error::Closed`] when the stream has ended, the connection
    /// dropped three times before the ack, or the server closed it because of the frame (over
    /// the size limit). A cancelled send may or may not be stored; sending it again with the
    /// same `client_id` never stores it twice.
    pub async fn send_message(&self, message: &NewMessage) -> Result<Ack> {
        let client_id = message.client_id.clone().unwrap_or_else(new_client_id);
        let frame = serde_json::to_string(&ClientFrame::Send {
            content: &message.content,
            client_id: &client_id,
        })
        .expect("a frame of two strings always serializes");
        let (reply, answer) = oneshot::channel();
        let command = Command::Send {
            frame,
            client_id,
            reply,
        };
        if self.commands.send(command).await.is_err() {
            return Err(self.closed());
        }
        answer.await.unwrap_or_else(|_| Err(self.closed()))
    }

    /// Marks the chat read up to `seq` (the `{"type":"read","seq":N}` frame). The server
    /// answers nothing directly: when the marker moved, this user's connections to the chat
    /// (this one too) get an [`Event::Read`](crate::model::Event::Read) with the marker and
    /// the unread count, and a refusal (a negative `seq`) comes as an `Err` on the stream. A
    /// frame written while the socket is down is dropped (the next read covers it);
    /// [`Client::mark_read`](crate::Client::mark_read) answers the marker itself.
    pub async fn mark_read(&self, seq: i64) -> Result<()> {
        let frame = serde_json::to_string(&ClientFrame::Read { seq })
            .expect("a frame of one integer always serializes");
        self.commands
            .send(Command::Frame { frame })
            .await
            .map_err(|_| self.closed())
    }

    /// The error of a send after the stream ended.
    fn closed(&self) -> Error {
        Error::Closed {
            code: None,
            reason: self
                .ended
                .get()
                .cloned()
                .unwrap_or_else(|| "the connection has ended".to_owned()),
        }
    }
}
