//! Signing up, logging in and out. Thin like every handler: the core registers, checks
//! passwords (with its login limiter) and opens and ends sessions; these pages show its
//! answers, set and clear the cookies, and keep what was typed when a form comes back.

use super::i18n;
use super::page::{Page, optional_auth, safe_next, see_other};
use crate::http::cookies;
use crate::http::ctx::Ctx;
use crate::http::{ApiError, Body};
use chatcore::model::Registration;
use chatcore::{Credential, Error, NewSession};
use http::header::SET_COOKIE;
use http::{Response, StatusCode};
use minijinja::context;
use minijinja::value::Serde;
use serde::{Deserialize, Serialize};

/// Where a signed-in user lands when no `next` says otherwise.
const AFTER_LOGIN: &str = "/chats/";

/// `?next=` of the login and sign-up pages.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct NextQuery {
    next: Option<String>,
}

/// The login form.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct LoginForm {
    username: String,
    password: String,
    next: Option<String>,
    csrf_token: Option<String>,
}

/// The sign-up form (what is shown again when it comes back with errors).
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(default)]
struct SignupForm {
    username: String,
    first_name: String,
    last_name: String,
    email: String,
    #[serde(skip_serializing)]
    password: String,
    #[serde(skip_serializing)]
    next: Option<String>,
    #[serde(skip_serializing)]
    csrf_token: Option<String>,
}

/// A form's errors by field, as the sign-up page shows them.
#[derive(Debug, Default, Serialize)]
struct FieldErrors {
    username: Option<String>,
    first_name: Option<String>,
    last_name: Option<String>,
    email: Option<String>,
    password: Option<String>,
}

/// The form token of this browser: the cookie's, or a new one (then `Some` in `.1`, to set).
fn form_token(ctx: &Ctx) -> (String, Option<String>) {
    match cookies::form_token(&ctx.parts().headers) {
        Some(token) => (token, None),
        None => {
            let token = chatcore::auth::random_hex(16);
            (token.clone(), Some(token))
        }
    }
}

/// Checks a pre-session form's token against the browser's form cookie (double submit).
fn check_form_token(ctx: &Ctx, presented: Option<&str>) -> Result<(), ApiError> {
    let expected = cookies::form_token(&ctx.parts().headers);
    match (expected, presented) {
        (Some(expected), Some(presented))
            if chatcore::auth::constant_time_eq(&expected, presented) =>
        {
            Ok(())
        }
        _ => Err(ApiError::csrf(
            "CSRF token incorrect: reload the page and try again",
        )),
    }
}

/// Renders a pre-session form page, setting the form cookie when it is new.
fn form_page(
    ctx: &Ctx,
    status: StatusCode,
    template: &str,
    extra: minijinja::Value,
) -> Result<Response<Body>, ApiError> {
    let (token, new) = form_token(ctx);
    let page = Page::with_actor(ctx, None);
    let mut resp = page.render(status, template, context! { form_token => token, ..extra })?;
    if let Some(token) = new {
        resp.headers_mut().append(
            SET_COOKIE,
            cookies::set_form_token(&token, ctx.secure_cookies()),
        );
    }
    Ok(resp)
}

/// Sends a browser with a new session on to `next`: the session cookie set, the form
/// token and any previous session's cookie dropped.
async fn signed_in(ctx: &Ctx, session: NewSession, next: Option<&str>) -> Response<Body> {
    if let Some(Credential::Session(old)) = crate::http::auth::credential(&ctx.parts().headers)
        .ok()
        .flatten()
        && let Err(e) = ctx.services().auth.end_session(&old).await
    {
        tracing::warn!(error = %e, "the previous session could not be ended");
    }
    let max_age = (session.expires_at - chatcore::model::timestamp::now())
        .whole_seconds()
        .max(0)
        .unsigned_abs();
    let secure = ctx.secure_cookies();
    let mut resp = see_other(safe_next(next).unwrap_or(AFTER_LOGIN));
    let headers = resp.headers_mut();
    for clear in cookies::clear_form_token() {
        headers.append(SET_COOKIE, clear);
    }
    // The other form of the session cookie, if the policy changed since it was set.
    let [plain, prefixed] = cookies::clear_session();
    headers.append(SET_COOKIE, if secure { plain } else { prefixed });
    headers.append(SET_COOKIE, cookies::session(&session.id, max_age, secure));
    resp
}

/// A signed-in browser asking for the login or signup form goes straight on to `next`.
async fn signed_in_already(ctx: &Ctx, next: Option<&str>) -> Option<Response<Body>> {
    optional_auth(ctx)
        .await
        .map(|_| see_other(next.unwrap_or(AFTER_LOGIN)))
}

/// `GET /accounts/login/`: the form (a signed-in browser goes straight on).
pub async fn login_page(ctx: Ctx) -> Result<Response<Body>, ApiError> {
    let query: NextQuery = ctx.query()?;
    let next = safe_next(query.next.as_deref());
    if let Some(onward) = signed_in_already(&ctx, next).await {
        return Ok(onward);
    }
    form_page(
        &ctx,
        StatusCode::OK,
        "login.html",
        context! { next => next, username => "", error => None::<String>, rate_limited => false },
    )
}

/// `POST /accounts/login/`: opens a session, or shows the form again with the reason
/// (wrong credentials 400, too many attempts 429 with how long to wait).
pub async fn login(ctx: Ctx) -> Result<Response<Body>, ApiError> {
    let form: LoginForm = ctx.body()?;
    check_form_token(&ctx, form.csrf_token.as_deref())?;
    let next = safe_next(form.next.as_deref());
    let lang = Page::with_actor(&ctx, None).lang();
    let refusal = if form.username.trim().is_empty() || form.password.is_empty() {
        (
            StatusCode::BAD_REQUEST,
            i18n::tr(lang, "login_missing", &[]),
            false,
        )
    } else {
        match ctx
            .services()
            .auth
            .create_session(&form.username, &form.password, ctx.client())
            .await
        {
            Ok(session) => return Ok(signed_in(&ctx, session, next).await),
            Err(e @ Error::RateLimited { .. }) => (
                StatusCode::TOO_MANY_REQUESTS,
                i18n::error_text(lang, &e),
                true,
            ),
            Err(e @ (Error::InvalidCredentials | Error::Unavailable { .. })) => (
                ApiError::from(e.clone()).status(),
                i18n::error_text(lang, &e),
                false,
            ),
            Err(e) => return Err(e.into()),
        }
    };
    let (status, error, rate_limited) = refusal;
    form_page(
        &ctx,
        status,
        "login.html",
        context! {
            next => next,
            username => form.username,
            error => error,
            rate_limited => rate_limited,
        },
    )
}

/// `GET /accounts/signup/`: the form.
pub async fn signup_page(ctx: Ctx) -> Result<Response<Body>, ApiError> {
    let query: NextQuery = ctx.query()?;
    let next = safe_next(query.next.as_deref());
    if let Some(onward) = signed_in_already(&ctx, next).await {
        return Ok(onward);
    }
    form_page(
        &ctx,
        StatusCode::OK,
        "signup.html",
        context! {
            next => next,
            form => Serde(SignupForm::default()),
            errors => Serde(FieldErrors::default()),
            error => None::<String>,
        },
    )
}

/// `POST /accounts/signup/`: creates the account and signs it in, or shows the form again
/// with each field's problem (400), a taken name (409) or closed registration (403).
pub async fn signup(ctx: Ctx) -> Result<Response<Body>, ApiError> {
    let form: SignupForm = ctx.body()?;
    check_form_token(&ctx, form.csrf_token.as_deref())?;
    let lang = Page::with_actor(&ctx, None).lang();
    let registration = Registration {
        username: form.username.clone(),
        password: form.password.clone(),
        email: form.email.clone(),
        first_name: form.first_name.clone(),
        last_name: form.last_name.clone(),
    };
    let outcome = match ctx.services().auth.register(registration).await {
        Ok(_) => {
            ctx.services()
                .auth
                .create_session(&form.username, &form.password, ctx.client())
                .await
        }
        Err(e) => Err(e),
    };
    let error = match outcome {
        Ok(session) => return Ok(signed_in(&ctx, session, form.next.as_deref()).await),
        Err(e @ (Error::Invalid { .. } | Error::Conflict(_) | Error::Forbidden(_))) => e,
        Err(e) => return Err(e.into()),
    };
    let status = ApiError::from(error.clone()).status();
    let mut errors = FieldErrors::default();
    let mut general = None;
    match &error {
        Error::Invalid { field, .. } => {
            let text = i18n::error_text(lang, &error);
            match *field {
                "username" => errors.username = Some(text),
                "first_name" => errors.first_name = Some(text),
                "last_name" => errors.last_name = Some(text),
                "email" => errors.email = Some(text),
                "password" => errors.password = Some(text),
                other => {
                    general = Some(match i18n::field_label(lang, other) {
                        Some(label) => format!("{label}: {text}"),
                        None => text,
                    });
                }
            }
        }
        Error::Conflict(_) => errors.username = Some(i18n::error_text(lang, &error)),
        Error::Forbidden(_) => general = Some(i18n::tr(lang, "signup_closed", &[])),
        _ => general = Some(i18n::error_text(lang, &error)),
    }
    let next = safe_next(form.next.as_deref());
    form_page(
        &ctx,
        status,
        "signup.html",
        context! {
            next => next,
            form => Serde(&form),
            errors => Serde(&errors),
            error => general,
        },
    )
}

/// `POST /accounts/logout/`: ends the session (the pipeline checked its CSRF token) and
/// clears the cookie.
pub async fn logout(ctx: Ctx) -> Result<Response<Body>, ApiError> {
    let auth = ctx
        .authenticated()
        .ok_or_else(|| ApiError::unauthenticated("Authentication credentials were not provided"))?;
    if let Credential::Session(id) = &auth.credential {
        ctx.services().auth.end_session(id).await?;
    }
    let mut resp = see_other(crate::http::front::LOGIN_PATH);
    for clear in cookies::clear_session() {
        resp.headers_mut().append(SET_COOKIE, clear);
    }
    Ok(resp)
}
