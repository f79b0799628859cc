//! The access rules shared by the services: whose account still acts, who may read a chat,
//! who is an admin. They read the actor's account as it stands: a held [`Actor`] says what
//! its user was when authenticated, not whether they have been deactivated or demoted since.

use crate::auth::Actor;
use crate::error::{Error, Result};
use crate::model::ChatId;
use crate::store::{ChatRecord, Store, UserRecord};

/// The actor's account as it stands; a deactivated (or vanished) account no longer acts:
/// `Unauthenticated`, as its revoked credentials answer.
pub(super) async fn current_account(store: &dyn Store, actor: &Actor) -> Result<UserRecord> {
    still_acting(store.user_by_id(actor.id()).await?)
}

/// An account as read, if it may still act (exists and is active), else `Unauthenticated`.
fn still_acting(account: Option<UserRecord>) -> Result<UserRecord> {
    match account {
        Some(record) if record.is_active => Ok(record),
        _ => Err(Error::Unauthenticated),
    }
}

/// Refuses anyone but an active admin; returns the admin's account.
pub(super) async fn require_admin(store: &dyn Store, actor: &Actor) -> Result<UserRecord> {
    let account = current_account(store, actor).await?;
    if account.is_admin {
        Ok(account)
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

/// A chat the actor may read, and whether they read it as an admin.
pub(super) struct Readable {
    pub(super) chat: ChatRecord,
    pub(super) admin: bool,
}

/// The chat, if the actor may read it: active members and admins (401 for a deactivated
/// account, then 404 before 403).
pub(super) async fn readable_chat(
    store: &dyn Store,
    actor: &Actor,
    chat: ChatId,
) -> Result<Readable> {
    // One read of the three (the SQL stores answer in one query), checked in the order of
    // the separate rules: the account, then the chat, then the membership.
    let standing = store.standing(actor.id(), chat).await?;
    let account = still_acting(standing.account)?;
    let record = standing.chat.ok_or(Error::NotFound("Chat"))?;
    if account.is_admin || standing.member {
        Ok(Readable {
            chat: record,
            admin: account.is_admin,
        })
    } else {
        Err(not_a_member())
    }
}
