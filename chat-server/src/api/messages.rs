//! Messages: a page of history and posting.

use crate::http::ctx::Ctx;
use crate::http::response::json;
use crate::http::{ApiError, Body};
use chatcore::model::{ChatId, NewMessage, PageRequest};
use http::{Response, StatusCode};

/// `GET /api/chat/{id}/message/?limit=&before_seq=&after_seq=` → messages, oldest first.
pub async fn list(ctx: Ctx) -> Result<Response<Body>, ApiError> {
    let id: ChatId = ctx.id("id")?;
    let query = ctx.query()?;
    let page = PageRequest::new(
        query.integer("before_seq")?,
        query.integer("after_seq")?,
        query.integer("limit")?,
    )?;
    let messages = ctx
        .services()
        .messaging
        .history(ctx.actor()?, id, page)
        .await?;
    Ok(json(StatusCode::OK, &messages))
}

/// `POST /api/chat/{id}/message/` `{content, client_id?}` → 201 with the stored message
/// (also when a repeated `client_id` found it stored before).
pub async fn post(ctx: Ctx) -> Result<Response<Body>, ApiError> {
    let id: ChatId = ctx.id("id")?;
    let message: NewMessage = ctx.body()?;
    let posted = ctx
        .services()
        .messaging
        .post(ctx.actor()?, id, message)
        .await?;
    Ok(json(StatusCode::CREATED, &posted.message))
}
