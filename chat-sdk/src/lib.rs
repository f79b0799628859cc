//! `chat-sdk`: a typed Rust client for the chat server's REST and WebSocket API.
//!
//! [`Client`] has one method per REST endpoint and returns the wire types of
//! [`chatcore::model`] (re-exported here as [`model`]); a failure is an [`Error`] that keeps
//! the HTTP status, the error kind, the server's own text, its `Retry-After` and request id
//! ([`Error::retry_after`], [`Error::request_id`], [`Error::is_retryable`]). Posting makes a
//! `client_id` when none is given, so the SDK's own retries never store a message twice.
//!
//! [`Client::connect`] opens a chat's live connection, [`ChatConnection`]: a
//! [`Stream`](futures_util::Stream) of [`ChatEvent`]s that reconnects with backoff, resumes
//! after the last `seq` (nothing missed, nothing twice), says [`ChatEvent::Reconnected`]
//! with what changed meanwhile, and fills a gap in `seq` from history; it can send at the
//! same time, from any task ([`ChatConnection::sender`]), each send resolving to the
//! server's [`Ack`].
//!
//! The crate depends on `chatcore` without features, that is on its wire types and errors
//! only: no database driver, no Redis, no password hashing.
//!
//! ```no_run
//! use chat_sdk::model::{NewChat, PageRequest};
//! use chat_sdk::{ChatEvent, Client};
//! use futures_util::StreamExt;
//!
//! # async fn demo() -> chat_sdk::Result<()> {
//! let admin = Client::new("http://127.0.0.1:8000")?
//!     .login("admin", "correct horse battery staple")
//!     .await?;
//! let me = admin.me().await?;
//! let chat = admin
//!     .create_chat(&NewChat { name: "general".into(), participants: vec![me.user.id] })
//!     .await?;
//! admin.post(chat.id, "Hello, team").await?;
//! for message in admin.messages(chat.id, PageRequest::default()).await? {
//!     println!("#{} {}: {}", message.seq, message.user.username, message.content);
//! }
//!
//! // Live: one task reads the stream while another sends.
//! let mut live = admin.connect(chat.id).await?;
//! let sender = live.sender();
//! tokio::spawn(async move {
//!     match sender.send("anyone here?").await {
//!         Ok(ack) => println!("stored as #{}", ack.seq),
//!         Err(e) => eprintln!("not sent: {e}"),
//!     }
//! });
//! while let Some(item) = live.next().await {
//!     match item? {
//!         ChatEvent::Event(event) => println!("{event:?}"),
//!         ChatEvent::Reconnected(back) => println!("back after #{}", back.after_seq),
//!         _ => {}
//!     }
//! }
//! println!("the stream ended: {:?}", live.ended());
//! # Ok(())
//! # }
//! ```
//!
//! Errors carry what the server said:
//!
//! ```no_run
//! use chat_sdk::{Client, ErrorKind};
//! use chat_sdk::model::ChatId;
//!
//! # async fn demo(client: Client) {
//! match client.chat(ChatId(42)).await {
//!     Ok(chat) => println!("{}", chat.name),
//!     Err(e) if e.kind() == Some(ErrorKind::Forbidden) => println!("not a member"),
//!     Err(e) if e.is_not_found() => println!("no such chat"),
//!     Err(e) if e.is_retryable() => println!("later, in {:?}", e.retry_after()),
//!     Err(e) => eprintln!("failed: {e} (request {:?})", e.request_id()),
//! }
//! # }
//! ```

#![warn(missing_docs)]

mod answer;
mod answer_meta;
mod client;
mod client_id;
mod error;
mod routes;
#[cfg(test)]
mod scripted;
mod ws;

pub use chatcore::ErrorKind;
/// The wire types (users, chats, messages, events, requests), shared with the server.
pub use chatcore::model;
pub use client::{Client, Health};
pub use error::{Error, Result};
pub use routes::UserQuery;
pub use ws::{
    Ack, CLOSE_LAGGED, CLOSE_REVOKED, ChatConnection, ChatEvent, ChatSender, ConnectOptions,
    ErrorFrame, Reconnected, ServerFrame,
};
