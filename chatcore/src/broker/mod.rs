//! The fan-out port: [`Broker`] carries committed events to every subscriber of a chat, on
//! this node and (with the Redis adapter) on every other. Only this module knows how events
//! travel; each event is serialized once ([`EventFrame`]) and the bytes are shared.

mod local;

pub use local::LocalBroker;

use crate::model::{ChatId, Event};
use async_trait::async_trait;
use bytes::Bytes;
use std::sync::Arc;
use tokio::sync::broadcast;

/// An event with its JSON, serialized once and shared (via `Arc`) by every subscriber.
#[derive(Debug)]
pub struct EventFrame {
    event: Event,
    json: Bytes,
}

/// What subscribers receive.
pub type SharedEvent = Arc<EventFrame>;

impl EventFrame {
    /// Serializes `event` once.
    pub fn new(event: Event) -> SharedEvent {
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
}

/// Delivers committed events to the subscribers of their chat.
#[async_trait]
pub trait Broker: Send + Sync {
    /// Sends `event` to every current subscriber of its chat (on every node).
    async fn publish(&self, event: SharedEvent);
    /// Registers a subscriber on this node. The receiver is bounded: one that falls behind
    /// gets `RecvError::Lagged` instead of slowing the chat down.
    fn subscribe(&self, chat: ChatId) -> broadcast::Receiver<SharedEvent>;
}
