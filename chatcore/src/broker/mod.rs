//! The fan-out port: [`Broker`] carries committed events to every subscriber of a chat, on
//! this node and (with the Redis adapter) on every other. Only this module knows how events
//! travel; each event is serialized once ([`EventFrame`]) and the bytes are shared.
//! A chat's local channel carries [`Delivery`]: events, the [`Delivery::Resync`] signal a
//! broker sends when events may have been lost on the way between nodes, and
//! [`Delivery::AccountChanged`] when a user's flags changed.

mod local;
#[cfg(feature = "redis")]
pub mod redis;

pub use local::{LocalBroker, Receiver};

use crate::model::{ChatId, Event, UserId};
use async_trait::async_trait;
use bytes::Bytes;
use std::sync::Arc;

/// An event with its JSON, serialized once and shared (via `Arc`) by every subscriber.
#[derive(Debug)]
pub struct EventFrame {
    event: Event,
    json: Bytes,
}

/// What subscribers receive.
pub type SharedEvent = Arc<EventFrame>;

impl EventFrame {
    /// Serializes `event` once. Crate-private: only the core makes events, so a subscriber
    /// can trust every frame it is given.
    pub(crate) fn new(event: Event) -> SharedEvent {
        let json = serde_json::to_vec(&event).expect("events serialize to JSON infallibly");
        Arc::new(Self {
            event,
            json: Bytes::from(json),
        })
    }

    /// The event.
    pub fn event(&self) -> &Event {
        &self.event
    }

    /// Its JSON text, ready for a WebSocket frame.
    pub fn json(&self) -> &Bytes {
        &self.json
    }

    /// An event received as JSON (from another node): parsed once, the bytes kept as they
    /// came, so they are not serialized again.
    #[cfg_attr(not(feature = "redis"), allow(dead_code))]
    pub(crate) fn from_json(json: Bytes) -> serde_json::Result<SharedEvent> {
        let event = serde_json::from_slice(&json)?;
        Ok(Arc::new(Self { event, json }))
    }
}

/// What a chat's local channel carries to its subscriptions.
#[derive(Debug, Clone)]
pub enum Delivery {
    /// A committed event.
    Event(SharedEvent),
    /// Events of this chat may have been lost on the way (the broker's link to the other
    /// nodes dropped and came back, or has only now been set up): each subscription
    /// compares itself with the store, reads what it missed, and re-checks that its viewer
    /// may still read the chat.
    Resync,
    /// This user's account was deactivated, demoted or promoted: their subscriptions
    /// re-read it and end if they may no longer read the chat (an admin who is not a
    /// member, demoted or deactivated); everyone else's ignore it.
    AccountChanged(UserId),
}

/// Delivers committed events to the subscribers of their chat.
#[async_trait]
pub trait Broker: Send + Sync {
    /// Sends `event` to every current subscriber of its chat (on every node).
    async fn publish(&self, event: SharedEvent);
    /// Registers a subscriber on this node. The receiver is bounded: one that falls behind
    /// gets `RecvError::Lagged` instead of slowing the chat down. Dropping a chat's last
    /// receiver drops its channel (a chat's deletion does too, after its last delivery).
    fn subscribe(&self, chat: ChatId) -> Receiver;
    /// Tells every subscription of `user` (on every node) that their account changed
    /// ([`Delivery::AccountChanged`]), after the change is committed.
    async fn account_changed(&self, user: UserId);
    /// Hands on what is still queued for other nodes and stops background work (called by
    /// `ChatCore::shutdown` after the writer has stopped). The in-process broker has none.
    async fn shutdown(&self) {}
}
