//! Chats: list, create, read, rename, delete.

use crate::http::ctx::Ctx;
use crate::http::response::{json, no_content};
use crate::http::{ApiError, Body};
use chatcore::model::{ChatId, ChatRename, NewChat};
use http::header::{HeaderValue, LOCATION};
use http::{Response, StatusCode};

/// `GET /api/chat/` → the caller's chats (an admin's: every chat).
pub async fn list(ctx: Ctx) -> Result<Response<Body>, ApiError> {
    let chats = ctx.services().membership.list_chats(ctx.actor()?).await?;
    Ok(json(StatusCode::OK, &chats))
}

/// `POST /api/chat/` → 201 with the new chat and its `Location`.
pub async fn create(ctx: Ctx) -> Result<Response<Body>, ApiError> {
    let new: NewChat = ctx.body()?;
    let chat = ctx
        .services()
        .membership
        .create_chat(ctx.actor()?, new)
        .await?;
    let mut resp = json(StatusCode::CREATED, &chat);
    if let Ok(location) = HeaderValue::from_str(&format!("/api/chat/{}/", chat.id)) {
        resp.headers_mut().insert(LOCATION, location);
    }
    Ok(resp)
}

/// `GET /api/chat/{id}/` → the chat.
pub async fn get(ctx: Ctx) -> Result<Response<Body>, ApiError> {
    let id: ChatId = ctx.id("id")?;
    let chat = ctx.services().membership.get_chat(ctx.actor()?, id).await?;
    Ok(json(StatusCode::OK, &chat))
}

/// `PATCH /api/chat/{id}/` `{name}` → the renamed chat.
pub async fn rename(ctx: Ctx) -> Result<Response<Body>, ApiError> {
    let id: ChatId = ctx.id("id")?;
    let rename: ChatRename = ctx.body()?;
    let chat = ctx
        .services()
        .membership
        .rename_chat(ctx.actor()?, id, &rename.name)
        .await?;
    Ok(json(StatusCode::OK, &chat))
}

/// `DELETE /api/chat/{id}/` → 204.
pub async fn delete(ctx: Ctx) -> Result<Response<Body>, ApiError> {
    let id: ChatId = ctx.id("id")?;
    ctx.services()
        .membership
        .delete_chat(ctx.actor()?, id)
        .await?;
    Ok(no_content())
}
