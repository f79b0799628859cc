//! Messages: a page of history, posting, and the caller's read marker.

use crate::http::ctx::Ctx;
use crate::http::query::QueryInt;
use crate::http::response::{json, json_bytes};
use crate::http::{ApiError, Body};
use chatcore::model::{ChatId, NewMessage, PageLimit, PageRequest, ReadRequest};
use http::{Response, StatusCode};
use serde::Deserialize;

/// The query of a history page.
#[derive(Debug, Deserialize)]
struct HistoryQuery {
    before_seq: Option<QueryInt>,
    after_seq: Option<QueryInt>,
    limit: Option<QueryInt>,
}

/// `GET /api/chat/{id}/message/?limit=&before_seq=&after_seq=` → messages, oldest first.
pub async fn list(ctx: Ctx) -> Result<Response<Body>, ApiError> {
    let id: ChatId = ctx.id("id")?;
    let query: HistoryQuery = ctx.query()?;
    let limit = query
        .limit
        .map(|l| PageLimit::parse(Some(l.0)))
        .transpose()?
        .map(PageLimit::get);
    let page = PageRequest::new(
        query.before_seq.map(|q| q.0),
        query.after_seq.map(|q| q.0),
        limit,
    )?;
    let page = ctx
        .services()
        .messaging
        .history_json(ctx.actor()?, id, page)
        .await?;
    Ok(json_bytes(StatusCode::OK, page))
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

/// `POST /api/chat/{id}/read/` `{"seq": N}` → `{"chat", "last_read_seq", "unread"}`: the
/// caller's read marker, moved forward to `N` (never back, never beyond the last message).
pub async fn read(ctx: Ctx) -> Result<Response<Body>, ApiError> {
    let id: ChatId = ctx.id("id")?;
    let request: ReadRequest = ctx.body()?;
    let marker = ctx
        .services()
        .messaging
        .mark_read(ctx.actor()?, id, request.seq)
        .await?;
    Ok(json(StatusCode::OK, &marker))
}
