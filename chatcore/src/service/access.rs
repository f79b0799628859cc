//! The access rules shared by the services: who may read a chat, who is an admin.

use crate::auth::Actor;
use crate::error::{Error, Result};
use crate::model::ChatId;
use crate::store::{ChatRecord, Store};

/// Refuses anyone but an admin.
pub(super) fn require_admin(actor: &Actor) -> Result<()> {
    if actor.is_admin() {
        Ok(())
    } else {
        Err(Error::forbidden("Only admins may do this"))
    }
}

/// The message every non-member gets.
pub(super) fn not_a_member() -> Error {
    Error::forbidden("You are not a member of this chat")
}

/// The chat, if it exists (404 for everyone otherwise).
pub(super) async fn existing_chat(store: &dyn Store, chat: ChatId) -> Result<ChatRecord> {
    store.chat(chat).await?.ok_or(Error::NotFound("Chat"))
}

/// The chat, if the actor may read it: members and admins (404 before 403).
pub(super) async fn readable_chat(
    store: &dyn Store,
    actor: &Actor,
    chat: ChatId,
) -> Result<ChatRecord> {
    let record = existing_chat(store, chat).await?;
    if actor.is_admin() || store.is_member(chat, actor.id()).await? {
        Ok(record)
    } else {
        Err(not_a_member())
    }
}
