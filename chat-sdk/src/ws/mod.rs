//! The live half of the SDK: [`ChatConnection`], one chat's WebSocket
//! (`/ws/api/chat/{id}/?after_seq=N`, `Authorization` as on REST), as a
//! [`Stream`](futures_util::Stream) of [`ChatEvent`]s that can also send (and a
//! [`ChatSender`] to send from other tasks), each send resolving to the server's [`Ack`].
//!
//! It survives the network: when the socket drops, the server goes away (1001) or closes
//! it because this subscriber lagged (4000), the connection reconnects by itself with
//! backoff (never sooner than a refused upgrade's `Retry-After`), with `after_seq` set to the
//! last `seq` it delivered, so nothing is missed and nothing is delivered twice; it then
//! reads the chat again and yields [`ChatEvent::Reconnected`] with the members who joined or
//! left and the new name, which a resume does not replay. A gap in `seq` (a message beyond
//! the next one) is filled from history (`GET …/message/?after_seq=`) before the later
//! message is delivered. Sends not yet acknowledged when a socket drops are sent again on the
//! next with the same `client_id`, which the server stores once. It stops for good after an
//! event that ends this user's stream (the core's rule,
//! [`Event::ends_stream_of`](chatcore::model::Event::ends_stream_of): the chat deleted; this
//! user removed, gone or deactivated, though an active admin reads on unless deactivated),
//! when the credential is revoked (4001), or when the server refuses the upgrade
//! (401/403/404).
//!
//! The wire protocol, as the server documents it: the server sends the events of
//! [`chatcore::model::Event`] (tagged by `type`), `{"type":"ack","id","seq","client_id"}` for a
//! stored message and `{"type":"error","code","error"}` for a frame it refused, in the order
//! of the client's frames; the client sends `{"type":"send","content","client_id"}`.
//!
//! The module's parts: `connection.rs` (the handle, [`ChatConnection`] and [`ChatSender`], and
//! `Client::connect`), `driver.rs` (the task that owns the socket: reading, sending, acks,
//! gaps, pings, reconnecting), `socket.rs` (opening a socket), `event.rs` ([`ChatEvent`],
//! [`Reconnected`]), `frames.rs` (the frames of the protocol, both ways), `options.rs`
//! ([`ConnectOptions`] and the backoff) and `tracker.rs` (which events are delivered, the chat
//! as they show it, gaps, and when the stream ends, without a socket); `tests.rs` plays the
//! protocol from a scripted server.

mod connection;
mod driver;
mod event;
mod frames;
mod options;
mod socket;
mod tracker;

#[cfg(test)]
mod fixtures;
#[cfg(test)]
mod tests;

pub use connection::{ChatConnection, ChatSender};
pub use event::{ChatEvent, Reconnected};
pub use frames::{Ack, ErrorFrame, ServerFrame};
pub use options::ConnectOptions;

/// The close code of a stream the server ended for good (its reason follows the event
/// that ended it).
pub const CLOSE_NORMAL: u16 = 1000;

/// The close code of a subscriber that fell behind; the SDK resumes with `after_seq`.
pub const CLOSE_LAGGED: u16 = 4000;
/// The close code of a socket whose credential was revoked (logout, password change,
/// deactivation); the SDK ends the stream.
pub const CLOSE_REVOKED: u16 = 4001;
