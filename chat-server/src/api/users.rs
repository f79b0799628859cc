//! User administration: search accounts, change their flags.

use crate::http::ctx::Ctx;
use crate::http::query::QueryInt;
use crate::http::response::json;
use crate::http::{ApiError, Body};
use chatcore::model::{PageLimit, UserFlagsUpdate, UserId};
use http::{Response, StatusCode};
use serde::Deserialize;

/// The query of a users search.
#[derive(Debug, Deserialize)]
struct UsersQuery {
    q: Option<String>,
    limit: Option<QueryInt>,
    offset: Option<QueryInt>,
}

/// `GET /api/users/?q=&limit=&offset=` → matching accounts with their flags.
pub async fn list(ctx: Ctx) -> Result<Response<Body>, ApiError> {
    let query: UsersQuery = ctx.query()?;
    let limit = PageLimit::parse(query.limit.map(|l| l.0))?.get();
    let offset = match query.offset {
        None => 0,
        Some(QueryInt(n)) => u32::try_from(n)
            .map_err(|_| ApiError::invalid_parameter("offset", "must be 0 or more"))?,
    };
    let users = ctx
        .services()
        .auth
        .list_users(
            ctx.actor()?,
            query.q.as_deref().unwrap_or_default(),
            limit,
            offset,
        )
        .await?;
    Ok(json(StatusCode::OK, &users))
}

/// `PATCH /api/users/{id}/` `{is_active?, is_superuser?}` → the changed account.
pub async fn update(ctx: Ctx) -> Result<Response<Body>, ApiError> {
    let user: UserId = ctx.id("id")?;
    let update: UserFlagsUpdate = ctx.body()?;
    let detail = ctx
        .services()
        .auth
        .update_user(ctx.actor()?, user, update)
        .await?;
    Ok(json(StatusCode::OK, &detail))
}
