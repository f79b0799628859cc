//! The built-in [`MessagingService`]: posts go through the group-commit writer, history
//! and read markers come from the store, subscriptions join the broker with the store.

use super::access::{Readable, current_account, existing_chat, not_a_member, readable_chat};
use super::{MessagingService, Posted, QueuedPost, Subscription};
use crate::auth::Actor;
use crate::broker::{Broker, EventFrame};
use crate::config::Config;
use crate::error::{Error, Result};
use crate::model::{ChatId, Cursor, Event, Message, NewMessage, PageRequest, ReadMarker};
use crate::store::cache::one_request;
use crate::store::{PendingMessage, Store};
use crate::validate;
use crate::writer::Writer;
use async_trait::async_trait;
use std::sync::Arc;

/// The core's built-in [`MessagingService`]: messages on a [`Store`], stored by a
/// [`Writer`], fanned out by a [`Broker`].
pub struct CoreMessaging {
    store: Arc<dyn Store>,
    broker: Arc<dyn Broker>,
    writer: Arc<Writer>,
    config: Arc<Config>,
}

impl CoreMessaging {
    /// Builds the service.
    pub fn new(
        store: Arc<dyn Store>,
        broker: Arc<dyn Broker>,
        writer: Arc<Writer>,
        config: Arc<Config>,
    ) -> Self {
        Self {
            store,
            broker,
            writer,
            config,
        }
    }
}

#[async_trait]
impl MessagingService for CoreMessaging {
    async fn post(&self, actor: &Actor, chat: ChatId, message: NewMessage) -> Result<Posted> {
        self.queue_post(actor, chat, message).await?.await
    }

    async fn queue_post(
        &self,
        actor: &Actor,
        chat: ChatId,
        message: NewMessage,
    ) -> Result<QueuedPost> {
        let content = validate::content(&message.content, self.config.max_message_chars)?;
        let client_id = message
            .client_id
            .as_deref()
            .map(validate::client_id)
            .transpose()?;
        // The chat, the membership and that the author is active are checked by the
        // writer, under the chat's lock.
        let committed = self
            .writer
            .enqueue(PendingMessage {
                chat,
                author: actor.user().clone(),
                content,
                client_id,
            })
            .await?;
        let actor = actor.clone();
        Ok(QueuedPost::new(async move {
            let stored = committed.await?;
            Ok(Posted {
                message: actor.view_message(stored.message),
                created: stored.created,
            })
        }))
    }

    async fn history(
        &self,
        actor: &Actor,
        chat: ChatId,
        page: PageRequest,
    ) -> Result<Vec<Message>> {
        readable_chat(&*self.store, actor, chat).await?;
        let messages = self.store.history(chat, page).await?;
        Ok(messages
            .into_iter()
            .map(|m| actor.view_message(m))
            .collect())
    }

    async fn history_json(
        &self,
        actor: &Actor,
        chat: ChatId,
        page: PageRequest,
    ) -> Result<Vec<u8>> {
        readable_chat(&*self.store, actor, chat).await?;
        self.store.history_json(chat, page, actor).await
    }

    async fn mark_read(&self, actor: &Actor, chat: ChatId, seq: i64) -> Result<ReadMarker> {
        if seq < 0 {
            return Err(Error::invalid("seq", "must be 0 or more"));
        }
        // One statement checks the membership and moves the marker; the chat is looked up
        // only to tell a missing chat (404) from a non-member (403).
        current_account(&*self.store, actor).await?;
        let Some(update) = self.store.mark_read(chat, actor.id(), seq).await? else {
            existing_chat(&*self.store, chat).await?;
            return Err(not_a_member());
        };
        let unread = (update.last_seq - update.last_read_seq).max(0);
        if update.moved {
            let event = Event::Read {
                chat,
                user: actor.id(),
                seq: update.last_read_seq,
                unread,
            };
            self.broker.publish(EventFrame::new(event)).await;
        }
        Ok(ReadMarker {
            chat,
            last_read_seq: update.last_read_seq,
            unread,
        })
    }

    async fn subscribe(
        &self,
        actor: &Actor,
        chat: ChatId,
        after_seq: Option<i64>,
    ) -> Result<Subscription> {
        // The same rule as a history page's `after_seq`.
        Cursor::parse(None, after_seq)?;
        // Register first, then check access and read where the chat stands: a removal,
        // deactivation or deletion committed before the check is seen by it, one committed
        // after reaches the registered stream; a message committed in between is in the
        // live stream or in the store. (Dropping the receiver on a refusal unregisters.)
        let receiver = self.broker.subscribe(chat);
        // A fresh reading of the store cache's stamp (a scope of its own, not the request's):
        // the check must see what was committed before the registration.
        let Readable {
            chat: record,
            admin,
        } = one_request(readable_chat(&*self.store, actor, chat)).await?;
        let now_at = record.last_seq;
        if after_seq.is_some_and(|seq| seq > now_at) {
            // A client cannot have seen it: resuming there would skip messages to come.
            return Err(Error::invalid(
                "after_seq",
                format!("beyond the chat's last message (seq {now_at})"),
            ));
        }
        Ok(Subscription::new(
            self.store.clone(),
            receiver,
            actor.clone(),
            admin,
            chat,
            after_seq.unwrap_or(now_at),
            now_at,
        ))
    }
}
