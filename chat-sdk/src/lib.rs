//! `chat-sdk`: a typed Rust client for the chat server's REST and WebSocket API.
//!
//! [`Client`] has one method per REST endpoint and returns the wire types of
//! [`chatcore::model`] (re-exported here as [`model`]); a failure is an [`Error`] that keeps
//! the HTTP status, the error kind and the server's own text. [`Client::connect`] opens a
//! chat's live connection ([`ChatConnection`]): typed events, sending with an
//! acknowledgement, and reconnection that resumes from the last `seq` by itself.
//!
//! The crate depends on `chatcore` without features, that is on its wire types and errors
//! only: no database driver, no Redis, no password hashing.
//!
//! ```no_run
//! use chat_sdk::model::{NewChat, PageRequest};
//! use chat_sdk::Client;
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
//! // Live: events as they happen; the connection reconnects and resumes by itself.
//! let mut live = admin.connect(chat.id).await?;
//! let ack = live.send("anyone here?", "greeting-1").await?;
//! println!("stored as #{}", ack.seq);
//! while let Some(event) = live.next_event().await {
//!     println!("{:?}", event?);
//! }
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
//!     Err(e) => eprintln!("failed: {e}"),
//! }
//! # }
//! ```

#![warn(missing_docs)]

mod answer;
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
pub use ws::{Ack, CLOSE_LAGGED, ChatConnection, ConnectOptions, ErrorFrame, ServerFrame};
