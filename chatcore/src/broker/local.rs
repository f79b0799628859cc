//! The in-process broker: one bounded `tokio::sync::broadcast` channel per chat with
//! subscribers. A `std` mutex guards the map; it is never held across `.await`.

use super::{Broker, SharedEvent};
use crate::model::ChatId;
use async_trait::async_trait;
use std::collections::HashMap;
use std::sync::Mutex;
use tokio::sync::broadcast;

/// Fan-out within one process (the default, and the local half of the Redis broker).
#[derive(Debug)]
pub struct LocalBroker {
    capacity: usize,
    chats: Mutex<HashMap<ChatId, broadcast::Sender<SharedEvent>>>,
}

impl LocalBroker {
    /// A broker whose subscribers may fall `capacity` events behind.
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity: capacity.max(1),
            chats: Mutex::new(HashMap::new()),
        }
    }

    /// Delivers to local subscribers only.
    pub fn deliver(&self, event: SharedEvent) {
        let chat = event.event().chat();
        let mut chats = self.chats.lock().expect("broker mutex is never poisoned");
        if let Some(sender) = chats.get(&chat)
            && sender.send(event).is_err()
        {
            // Nobody listens any more: forget the channel.
            chats.remove(&chat);
        }
    }
}

#[async_trait]
impl Broker for LocalBroker {
    async fn publish(&self, event: SharedEvent) {
        self.deliver(event);
    }

    fn subscribe(&self, chat: ChatId) -> broadcast::Receiver<SharedEvent> {
        let mut chats = self.chats.lock().expect("broker mutex is never poisoned");
        match chats.get(&chat) {
            Some(sender) => sender.subscribe(),
            None => {
                let (sender, receiver) = broadcast::channel(self.capacity);
                chats.insert(chat, sender);
                receiver
            }
        }
    }
}
