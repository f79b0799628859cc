//! User administration: search accounts, change their flags.

use crate::http::ctx::Ctx;
use crate::http::response::json;
use crate::http::{ApiError, Body};
use chatcore::model::{DEFAULT_PAGE_LIMIT, UserFlagsUpdate, UserId};
use http::{Response, StatusCode};

/// `GET /api/users/?q=&limit=&offset=` → matching accounts with their flags.
pub async fn list(ctx: Ctx) -> Result<Response<Body>, ApiError> {
    let query = ctx.query()?;
    let limit = query.integer("limit")?.unwrap_or(DEFAULT_PAGE_LIMIT);
    let offset = query.integer("offset")?.unwrap_or(0);
    let users = ctx
        .services()
        .auth
        .list_users(
            ctx.actor()?,
            query.text("q").unwrap_or_default(),
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
