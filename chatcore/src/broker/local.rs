//! The in-process broker: one bounded `tokio::sync::broadcast` channel per chat with
//! subscribers. A chat's channel goes when its last [`Receiver`] is dropped and when the
//! chat is deleted, so the map holds only chats someone here follows. A `std` mutex guards
//! the map; it is never held across `.await`.

use super::{Broker, Delivery, SharedEvent};
use crate::model::{ChatId, Event, UserId};
use async_trait::async_trait;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};
use tokio::sync::broadcast::{
    self,
    error::{RecvError, TryRecvError},
};

/// The chats with a channel on this node.
type Channels = Mutex<HashMap<ChatId, broadcast::Sender<Delivery>>>;

/// Fan-out within one process (the default, and the local half of the Redis broker).
#[derive(Debug)]
pub struct LocalBroker {
    capacity: usize,
    chats: Arc<Channels>,
}

/// A subscriber's end of a chat's channel. Dropping the last one of a chat drops the
/// chat's channel.
#[derive(Debug)]
pub struct Receiver {
    /// Taken only by `drop`, which must let go of it before counting who is left.
    inner: Option<broadcast::Receiver<Delivery>>,
    chat: ChatId,
    chats: Weak<Channels>,
}

impl Receiver {
    /// The next delivery; `Lagged` when this subscriber fell more than the channel's
    /// capacity behind, `Closed` once the channel is gone (its chat was deleted) and
    /// everything sent before is received.
    pub async fn recv(&mut self) -> Result<Delivery, RecvError> {
        match self.inner.as_mut() {
            Some(receiver) => receiver.recv().await,
            None => Err(RecvError::Closed),
        }
    }

    /// The next delivery if one is waiting (see [`Receiver::recv`]).
    pub fn try_recv(&mut self) -> Result<Delivery, TryRecvError> {
        match self.inner.as_mut() {
            Some(receiver) => receiver.try_recv(),
            None => Err(TryRecvError::Closed),
        }
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        drop(self.inner.take());
        let Some(chats) = self.chats.upgrade() else {
            return;
        };
        let mut chats = lock(&chats);
        // Receivers are only made under this lock, so a count of 0 here stays 0.
        if chats
            .get(&self.chat)
            .is_some_and(|sender| sender.receiver_count() == 0)
        {
            chats.remove(&self.chat);
        }
    }
}

fn lock(
    chats: &Channels,
) -> std::sync::MutexGuard<'_, HashMap<ChatId, broadcast::Sender<Delivery>>> {
    chats.lock().expect("broker mutex is never poisoned")
}

impl LocalBroker {
    /// A broker whose subscribers may fall `capacity` events behind.
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity: capacity.max(1),
            chats: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    /// How many chats have a channel here (for tests and metrics).
    pub fn channels(&self) -> usize {
        lock(&self.chats).len()
    }

    /// Delivers to local subscribers only. A chat's deletion is its channel's last
    /// delivery: its subscribers receive what was sent, then the channel is closed.
    pub fn deliver(&self, event: SharedEvent) {
        let chat = event.event().chat();
        let deleted = matches!(event.event(), Event::ChatDeleted { .. });
        let mut chats = lock(&self.chats);
        Self::send(&mut chats, chat, Delivery::Event(event));
        if deleted {
            chats.remove(&chat);
        }
    }

    /// Tells the local subscriptions of `chat` to compare themselves with the store
    /// ([`Delivery::Resync`]).
    pub fn resync(&self, chat: ChatId) {
        Self::send(&mut lock(&self.chats), chat, Delivery::Resync);
    }

    /// Tells every local subscription that `user`'s account changed
    /// ([`Delivery::AccountChanged`]); only that user's subscriptions act on it.
    pub fn account_changed(&self, user: UserId) {
        let mut chats = lock(&self.chats);
        chats.retain(|_, sender| sender.send(Delivery::AccountChanged(user)).is_ok());
    }

    fn send(
        chats: &mut HashMap<ChatId, broadcast::Sender<Delivery>>,
        chat: ChatId,
        delivery: Delivery,
    ) {
        if let Some(sender) = chats.get(&chat)
            && sender.send(delivery).is_err()
        {
            // Nobody listens any more: forget the channel.
            chats.remove(&chat);
        }
    }

    /// Registers a subscriber; also says whether the chat's channel is new on this node.
    pub(super) fn subscribe_noting_new(&self, chat: ChatId) -> (Receiver, bool) {
        let mut chats = lock(&self.chats);
        let (inner, new) = match chats.get(&chat) {
            Some(sender) => (sender.subscribe(), false),
            None => {
                let (sender, receiver) = broadcast::channel(self.capacity);
                chats.insert(chat, sender);
                (receiver, true)
            }
        };
        let receiver = Receiver {
            inner: Some(inner),
            chat,
            chats: Arc::downgrade(&self.chats),
        };
        (receiver, new)
    }

    /// The chats that have local subscribers: the chats this node serves.
    #[cfg_attr(not(feature = "redis"), allow(dead_code))]
    pub(super) fn served_chats(&self) -> Vec<ChatId> {
        let mut chats = lock(&self.chats);
        chats.retain(|_, sender| sender.receiver_count() > 0);
        chats.keys().copied().collect()
    }
}

#[async_trait]
impl Broker for LocalBroker {
    async fn publish(&self, event: SharedEvent) {
        self.deliver(event);
    }

    fn subscribe(&self, chat: ChatId) -> Receiver {
        self.subscribe_noting_new(chat).0
    }

    async fn account_changed(&self, user: UserId) {
        LocalBroker::account_changed(self, user);
    }
}
