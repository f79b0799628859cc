//! The in-process broker: one bounded `tokio::sync::broadcast` channel per chat with
//! subscribers. A `std` mutex guards the map; it is never held across `.await`.

use super::{Broker, Delivery, SharedEvent};
use crate::model::ChatId;
use async_trait::async_trait;
use std::collections::HashMap;
use std::sync::Mutex;
use tokio::sync::broadcast;

/// Fan-out within one process (the default, and the local half of the Redis broker).
#[derive(Debug)]
pub struct LocalBroker {
    capacity: usize,
    chats: Mutex<HashMap<ChatId, broadcast::Sender<Delivery>>>,
}

impl LocalBroker {
    /// A broker whose subscribers may fall `capacity` events behind.
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity: capacity.max(1),
            chats: Mutex::new(HashMap::new()),
        }
    }

    /// How many chats have a channel here (for tests and metrics).
    pub fn channels(&self) -> usize {
        self.chats
            .lock()
            .expect("broker mutex is never poisoned")
            .len()
    }

    /// Delivers to local subscribers only.
    pub fn deliver(&self, event: SharedEvent) {
        let chat = event.event().chat();
        self.send(chat, Delivery::Event(event));
    }

    /// Tells the local subscriptions of `chat` to compare themselves with the store
    /// ([`Delivery::Resync`]).
    pub fn resync(&self, chat: ChatId) {
        self.send(chat, Delivery::Resync);
    }

    fn send(&self, chat: ChatId, delivery: Delivery) {
        let mut chats = self.chats.lock().expect("broker mutex is never poisoned");
        if let Some(sender) = chats.get(&chat)
            && sender.send(delivery).is_err()
        {
            // Nobody listens any more: forget the channel.
            chats.remove(&chat);
        }
    }

    /// Registers a subscriber; also says whether the chat's channel is new on this node
    /// (it had no channel, or only one nobody listened to any more).
    pub(super) fn subscribe_noting_new(
        &self,
        chat: ChatId,
    ) -> (broadcast::Receiver<Delivery>, bool) {
        let mut chats = self.chats.lock().expect("broker mutex is never poisoned");
        match chats.get(&chat) {
            Some(sender) => (sender.subscribe(), false),
            None => {
                let (sender, receiver) = broadcast::channel(self.capacity);
                chats.insert(chat, sender);
                (receiver, true)
            }
        }
    }

    /// Forgets the channels nobody listens to any more and returns the chats that still have
    /// local subscribers: the chats this node serves.
    #[cfg_attr(not(feature = "redis"), allow(dead_code))]
    pub(super) fn served_chats(&self) -> Vec<ChatId> {
        let mut chats = self.chats.lock().expect("broker mutex is never poisoned");
        chats.retain(|_, sender| sender.receiver_count() > 0);
        chats.keys().copied().collect()
    }
}

#[async_trait]
impl Broker for LocalBroker {
    async fn publish(&self, event: SharedEvent) {
        self.deliver(event);
    }

    fn subscribe(&self, chat: ChatId) -> broadcast::Receiver<Delivery> {
        self.subscribe_noting_new(chat).0
    }
}
