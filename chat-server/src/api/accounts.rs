//! Accounts: register, login, logout, the caller's own profile and password.

use crate::http::cookies;
use crate::http::ctx::Ctx;
use crate::http::response::{json, no_content};
use crate::http::{ApiError, Body};
use chatcore::Credential;
use chatcore::model::{
    LoginRequest, PasswordChange, ProfileUpdate, RegisterResponse, Registration, TokenResponse,
};
use http::header::SET_COOKIE;
use http::{Response, StatusCode};

/// `POST /api/accounts/register/` → 201 `{token, user}`.
pub async fn register(ctx: Ctx) -> Result<Response<Body>, ApiError> {
    let registration: Registration = ctx.body()?;
    let (user, token) = ctx.services().auth.register(registration).await?;
    Ok(json(StatusCode::CREATED, &RegisterResponse { token, user }))
}

/// `POST /api/accounts/login/` → 200 `{token}`; bad credentials are a 400.
pub async fn login(ctx: Ctx) -> Result<Response<Body>, ApiError> {
    let login: LoginRequest = ctx.body()?;
    let token = ctx
        .services()
        .auth
        .login(&login.username, &login.password, ctx.client())
        .await?;
    Ok(json(StatusCode::OK, &TokenResponse { token }))
}

/// `POST /api/accounts/logout/` → 204: revokes the presented token, or ends the session
/// (and clears its cookie). Basic credentials have nothing to revoke.
pub async fn logout(ctx: Ctx) -> Result<Response<Body>, ApiError> {
    let auth = ctx
        .authenticated()
        .ok_or_else(|| ApiError::unauthenticated("Authentication credentials were not provided"))?;
    let mut resp = no_content();
    match &auth.credential {
        Credential::Token(token) => ctx.services().auth.logout(token).await?,
        Credential::Session(id) => {
            ctx.services().auth.end_session(id).await?;
            for clear in cookies::clear_session() {
                resp.headers_mut().append(SET_COOKIE, clear);
            }
        }
        Credential::Basic { .. } => {}
    }
    Ok(resp)
}

/// `GET /api/accounts/me/` → the caller with `is_active` / `is_superuser`.
pub async fn me(ctx: Ctx) -> Result<Response<Body>, ApiError> {
    let me = ctx.services().auth.me(ctx.actor()?).await?;
    Ok(json(StatusCode::OK, &me))
}

/// `PATCH /api/accounts/me/` → the changed account.
pub async fn update_me(ctx: Ctx) -> Result<Response<Body>, ApiError> {
    let update: ProfileUpdate = ctx.body()?;
    let me = ctx
        .services()
        .auth
        .update_profile(ctx.actor()?, update)
        .await?;
    Ok(json(StatusCode::OK, &me))
}

/// `POST /api/accounts/password/` → 200 `{token}`, the only credential left afterwards.
pub async fn change_password(ctx: Ctx) -> Result<Response<Body>, ApiError> {
    let change: PasswordChange = ctx.body()?;
    let token = ctx
        .services()
        .auth
        .change_password(ctx.actor()?, &change.old_password, &change.new_password)
        .await?;
    Ok(json(StatusCode::OK, &TokenResponse { token }))
}
