//! Membership: list members, add and remove them, leave.

use crate::http::ctx::Ctx;
use crate::http::response::json;
use crate::http::{ApiError, Body};
use chatcore::model::{ChatId, UserId};
use http::{Response, StatusCode};

/// `GET /api/chat/{id}/members/` → the members.
pub async fn list(ctx: Ctx) -> Result<Response<Body>, ApiError> {
    let chat: ChatId = ctx.id("id")?;
    let members = ctx
        .services()
        .membership
        .members(ctx.actor()?, chat)
        .await?;
    Ok(json(StatusCode::OK, &members))
}

/// `PUT /api/chat/{id}/user/{uid}/` → `{"message": "User X added to chat"}`.
pub async fn add(ctx: Ctx) -> Result<Response<Body>, ApiError> {
    let (chat, user): (ChatId, UserId) = (ctx.id("id")?, ctx.id("uid")?);
    let notice = ctx
        .services()
        .membership
        .add_member(ctx.actor()?, chat, user)
        .await?;
    Ok(json(StatusCode::OK, &notice))
}

/// `DELETE /api/chat/{id}/user/{uid}/` → `{"message": "User X removed from chat"}`.
pub async fn remove(ctx: Ctx) -> Result<Response<Body>, ApiError> {
    let (chat, user): (ChatId, UserId) = (ctx.id("id")?, ctx.id("uid")?);
    let notice = ctx
        .services()
        .membership
        .remove_member(ctx.actor()?, chat, user)
        .await?;
    Ok(json(StatusCode::OK, &notice))
}

/// `POST /api/chat/{id}/leave/` → `{"message": "User X removed from chat"}`.
pub async fn leave(ctx: Ctx) -> Result<Response<Body>, ApiError> {
    let chat: ChatId = ctx.id("id")?;
    let notice = ctx.services().membership.leave(ctx.actor()?, chat).await?;
    Ok(json(StatusCode::OK, &notice))
}
