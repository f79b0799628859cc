//! The built-in [`MembershipService`]: chats and members, with events for every change.

use super::MembershipService;
use super::access::{current_account, existing_chat, not_a_member, readable_chat, require_admin};
use crate::auth::Actor;
use crate::broker::{Broker, EventFrame};
use crate::error::{Error, Result};
use crate::model::{Chat, ChatId, Event, NewChat, Notice, RemovalReason, User, UserId, timestamp};
use crate::store::{ChatFilter, MemberChange, Store, UserRecord};
use crate::validate;
use async_trait::async_trait;
use std::sync::Arc;

/// The core's built-in [`MembershipService`]: chats and membership on a [`Store`],
/// publishing through a [`Broker`].
pub struct CoreMembership {
    store: Arc<dyn Store>,
    broker: Arc<dyn Broker>,
}

impl CoreMembership {
    /// Builds the service.
    pub fn new(store: Arc<dyn Store>, broker: Arc<dyn Broker>) -> Self {
        Self { store, broker }
    }

    /// A chat as `actor` may see it ([`Actor::view_of`] for every user in it).
    fn view(actor: &Actor, mut chat: Chat) -> Chat {
        chat.participants = actor.view_users(chat.participants);
        chat.last_message = chat.last_message.map(|m| actor.view_message(m));
        chat
    }

    async fn full_chat(&self, actor: &Actor, chat: ChatId) -> Result<Chat> {
        let chat = self
            .store
            .chats(ChatFilter::One(chat), actor.id())
            .await?
            .pop()
            .ok_or(Error::NotFound("Chat"))?;
        Ok(Self::view(actor, chat))
    }

    async fn user(&self, id: UserId) -> Result<UserRecord> {
        self.store
            .user_by_id(id)
            .await?
            .ok_or(Error::NotFound("User"))
    }

    async fn publish(&self, event: Event) {
        self.broker.publish(EventFrame::new(event)).await;
    }
}

#[async_trait]
impl MembershipService for CoreMembership {
    async fn create_chat(&self, actor: &Actor, new: NewChat) -> Result<Chat> {
        require_admin(&*self.store, actor).await?;
        let name = validate::chat_name(&new.name)?;
        // The store checks every member (exists, active) under its row lock.
        let id = self
            .store
            .create_chat(&name, &new.participants, timestamp::now())
            .await?;
        self.full_chat(actor, id).await
    }

    async fn rename_chat(&self, actor: &Actor, chat: ChatId, name: &str) -> Result<Chat> {
        existing_chat(&*self.store, chat).await?;
        require_admin(&*self.store, actor).await?;
        let name = validate::chat_name(name)?;
        let at_seq = self
            .store
            .rename_chat(chat, &name)
            .await?
            .ok_or(Error::NotFound("Chat"))?;
        self.publish(Event::ChatRenamed { chat, name, at_seq })
            .await;
        self.full_chat(actor, chat).await
    }

    async fn delete_chat(&self, actor: &Actor, chat: ChatId) -> Result<()> {
        existing_chat(&*self.store, chat).await?;
        require_admin(&*self.store, actor).await?;
        let at_seq = self
            .store
            .delete_chat(chat)
            .await?
            .ok_or(Error::NotFound("Chat"))?;
        self.publish(Event::ChatDeleted { chat, at_seq }).await;
        Ok(())
    }

    async fn get_chat(&self, actor: &Actor, chat: ChatId) -> Result<Chat> {
        let account = current_account(&*self.store, actor).await?;
        let full = self.full_chat(actor, chat).await?;
        if account.is_admin || full.participants.iter().any(|u| u.id == actor.id()) {
            Ok(full)
        } else {
            Err(not_a_member())
        }
    }

    async fn list_chats(&self, actor: &Actor) -> Result<Vec<Chat>> {
        let filter = if current_account(&*self.store, actor).await?.is_admin {
            ChatFilter::All
        } else {
            ChatFilter::MemberOf(actor.id())
        };
        let chats = self.store.chats(filter, actor.id()).await?;
        Ok(chats.into_iter().map(|c| Self::view(actor, c)).collect())
    }

    async fn add_member(&self, actor: &Actor, chat: ChatId, user: UserId) -> Result<Notice> {
        existing_chat(&*self.store, chat).await?;
        require_admin(&*self.store, actor).await?;
        let target = self.user(user).await?;
        // Whether the user is active is checked by the store, under the user's lock.
        match self.store.add_member(chat, user, timestamp::now()).await? {
            MemberChange::ChatMissing => return Err(Error::NotFound("Chat")),
            MemberChange::Changed { at_seq } => {
                let user = target.user().hidden();
                self.publish(Event::MemberAdded { chat, user, at_seq })
                    .await;
            }
            MemberChange::Unchanged => {}
        }
        Ok(Notice {
            message: format!("User {} added to chat", target.username),
        })
    }

    async fn remove_member(&self, actor: &Actor, chat: ChatId, user: UserId) -> Result<Notice> {
        existing_chat(&*self.store, chat).await?;
        let reason = if user == actor.id() {
            current_account(&*self.store, actor).await?;
            RemovalReason::Left
        } else {
            require_admin(&*self.store, actor).await?;
            RemovalReason::Removed
        };
        let target = self.user(user).await?;
        match self.store.remove_member(chat, user).await? {
            MemberChange::ChatMissing => return Err(Error::NotFound("Chat")),
            MemberChange::Unchanged => return Err(Error::NotFound("Member")),
            MemberChange::Changed { at_seq } => {
                let user = target.user().hidden();
                self.publish(Event::MemberRemoved {
                    chat,
                    user,
                    reason,
                    at_seq,
                })
                .await;
            }
        }
        Ok(Notice {
            message: format!("User {} removed from chat", target.username),
        })
    }

    async fn leave(&self, actor: &Actor, chat: ChatId) -> Result<Notice> {
        self.remove_member(actor, chat, actor.id()).await
    }

    async fn members(&self, actor: &Actor, chat: ChatId) -> Result<Vec<User>> {
        readable_chat(&*self.store, actor, chat).await?;
        let members = self.store.members(chat).await?;
        Ok(actor.view_users(members.iter().map(UserRecord::user)))
    }
}
