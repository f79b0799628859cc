//! The web UI's cookies, all `HttpOnly; SameSite=Lax; Path=/`:
//!
//! - the session, `chat_session` — a plain random 256-bit id whose SHA-256 the database
//!   keeps (DESIGN.md); when cookies are secure (configured, or a trusted proxy says the
//!   request came over https: `client_ip::secure_cookies`) it is `__Host-chat_session` with
//!   `Secure`, so no other host or path can set or shadow it;
//! - the form token, `chat_form` (`__Host-chat_form`), for the two forms filled in before
//!   there is a session (log in, sign up): a random value the form must repeat in its
//!   `csrf_token` field (double submit), on top of the origin check every unsafe request
//!   passes. Signed-in forms carry the session's own CSRF token instead.

use crate::http::auth::{SECURE_SESSION_COOKIE, SESSION_COOKIE};
use crate::http::client_ip::{self, PeerAddr};
use crate::http::ctx::Ctx;
use http::HeaderMap;
use http::header::HeaderValue;

/// The form token cookie (plain HTTP).
pub const FORM_COOKIE: &str = "chat_form";
/// The form token cookie when cookies are secure.
pub const SECURE_FORM_COOKIE: &str = "__Host-chat_form";

/// Whether cookies set in answer to this request carry `Secure` (and the `__Host-` prefix).
pub fn secure(ctx: &Ctx) -> bool {
    let settings = ctx.state().settings();
    client_ip::secure_cookies(
        settings.secure_cookies,
        ctx.parts().extensions.get::<PeerAddr>().map(|p| p.0.ip()),
        &ctx.parts().headers,
        &settings.trusted_proxies,
    )
}

/// The value of cookie `name`, if the request has it (and it is not empty).
pub fn read(headers: &HeaderMap, name: &str) -> Option<String> {
    crate::http::auth::cookie(headers, name)
}

/// The name a cookie has under the secure policy or not.
fn name(plain: &'static str, secure: bool) -> &'static str {
    match (plain, secure) {
        (SESSION_COOKIE, true) => SECURE_SESSION_COOKIE,
        (FORM_COOKIE, true) => SECURE_FORM_COOKIE,
        (plain, _) => plain,
    }
}

/// `Set-Cookie` for `plain` (its `__Host-` form when `secure`) with `value`, for
/// `max_age` seconds (a browser-session cookie without it).
fn set(plain: &'static str, value: &str, max_age: Option<u64>, secure: bool) -> HeaderValue {
    let mut cookie = format!(
        "{}={value}; Path=/; HttpOnly; SameSite=Lax",
        name(plain, secure)
    );
    if let Some(age) = max_age {
        cookie.push_str(&format!("; Max-Age={age}"));
    }
    if secure {
        cookie.push_str("; Secure");
    }
    // Values are hex made here; a bad one would be a bug, so it is dropped, not sent.
    HeaderValue::from_str(&cookie).unwrap_or_else(|_| HeaderValue::from_static("x=; Max-Age=0"))
}

/// `Set-Cookie` values removing both forms of `plain`.
fn clear(plain: &'static str) -> [HeaderValue; 2] {
    [
        set(plain, "", Some(0), false),
        set(plain, "", Some(0), true),
    ]
}

/// The session cookie for a new session of `max_age` seconds.
pub fn session(id: &str, max_age: u64, secure: bool) -> HeaderValue {
    set(SESSION_COOKIE, id, Some(max_age), secure)
}

/// Removes the session cookie (both forms).
pub fn clear_session() -> [HeaderValue; 2] {
    clear(SESSION_COOKIE)
}

/// The form token the request's cookie holds, if any.
pub fn form_token(headers: &HeaderMap) -> Option<String> {
    read(headers, SECURE_FORM_COOKIE)
        .or_else(|| read(headers, FORM_COOKIE))
        .filter(|t| t.len() == 32 && t.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// The form token cookie (lives as long as the browser session).
pub fn set_form_token(token: &str, secure: bool) -> HeaderValue {
    set(FORM_COOKIE, token, None, secure)
}

/// Removes the form token cookie (both forms), once a session exists.
pub fn clear_form_token() -> [HeaderValue; 2] {
    clear(FORM_COOKIE)
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::header::COOKIE;

    #[test]
    fn cookies_are_http_only_lax_and_prefixed_when_secure() {
        assert_eq!(
            session("ab", 60, false),
            "chat_session=ab; Path=/; HttpOnly; SameSite=Lax; Max-Age=60"
        );
        assert_eq!(
            session("ab", 60, true),
            "__Host-chat_session=ab; Path=/; HttpOnly; SameSite=Lax; Max-Age=60; Secure"
        );
        let [plain, secure] = clear_session();
        assert_eq!(
            plain,
            "chat_session=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0"
        );
        assert!(
            secure
                .to_str()
                .unwrap()
                .starts_with("__Host-chat_session=;")
        );
        assert!(secure.to_str().unwrap().ends_with("; Secure"));
    }

    #[test]
    fn cookies_are_read_by_exact_name() {
        let mut h = HeaderMap::new();
        h.insert(
            COOKIE,
            HeaderValue::from_static(
                "a=1; chat_formx=2; chat_form=0123456789abcdef0123456789abcdef",
            ),
        );
        assert_eq!(read(&h, "a").as_deref(), Some("1"));
        assert_eq!(
            form_token(&h).as_deref(),
            Some("0123456789abcdef0123456789abcdef")
        );
        h.insert(COOKIE, HeaderValue::from_static("chat_form=short"));
        assert_eq!(form_token(&h), None);
    }
}
