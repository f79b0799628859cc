//! The live half of the SDK: [`ChatConnection`], one chat's WebSocket
//! (`/ws/api/chat/{id}/?after_seq=N`, `Authorization` as on REST). It yields typed
//! [`Event`](chatcore::model::Event)s, sends messages and waits for their `ack`, and
//! survives the network: when the socket drops, or the server closes it with 4000 because
//! this subscriber lagged, it reconnects by itself with `after_seq` set to the last `seq`
//! it delivered, so nothing is missed and nothing is delivered twice. It stops for good
//! after an event that ends this user's stream (the core's rule,
//! [`Event::ends_stream_of`](chatcore::model::Event::ends_stream_of): the chat deleted;
//! this user removed, gone or deactivated, though an active admin reads on unless
//! deactivated), or when the server refuses the upgrade (401/403/404).
//!
//! The wire protocol, as the server documents it: the server sends the events of
//! [`chatcore::model::Event`] (tagged by `type`), `{"type":"ack","id","seq","client_id"}` for a
//! stored message and `{"type":"error","code","error"}` for a frame it refused; the client
//! sends `{"type":"send","content","client_id"}`.
//!
//! The module's parts: `connection.rs` ([`ChatConnection`]: connect, read, send, reconnect),
//! `frames.rs` (the frames of the protocol, both ways), `options.rs` ([`ConnectOptions`] and
//! the reconnect backoff) and `tracker.rs` (which events are delivered and when the stream
//! ends, without a socket); `tests.rs` plays the protocol from a scripted server.

mod connection;
mod frames;
mod options;
mod tracker;

#[cfg(test)]
mod fixtures;
#[cfg(test)]
mod tests;

pub use connection::ChatConnection;
pub use frames::{Ack, ErrorFrame, ServerFrame};
pub use options::ConnectOptions;

/// The close code of a subscriber that fell behind; the SDK resumes with `after_seq`.
pub const CLOSE_LAGGED: u16 = 4000;
