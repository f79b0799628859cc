//! Cookies, read and built with the `cookie` crate; all of ours are
//! `HttpOnly; SameSite=Lax; Path=/`:
//!
//! - the session, `chat_session` — a plain random 256-bit id whose SHA-256 the database
//!   keeps (DESIGN.md); when cookies are secure (configured, or a trusted proxy says the
//!   request came over https: `client_ip::secure_cookies`) it is `__Host-chat_session` with
//!   `Secure`, so no other host or path can set or shadow it;
//! - the form token, `chat_form` (`__Host-chat_form`), for the two forms filled in before
//!   there is a session (log in, sign up): a random value the form must repeat in its
//!   `csrf_token` field (double submit), on top of the origin check every unsafe request
//!   passes. Signed-in forms carry the session's own CSRF token instead.

use cookie::{Cookie, SameSite};
use http::HeaderMap;
use http::header::{COOKIE, HeaderValue};

/// The browser session cookie (plain HTTP).
pub const SESSION_COOKIE: &str = "chat_session";
/// The session cookie when cookies are secure (`Secure`, so the `__Host-` prefix applies):
/// no other host or path can set or shadow it.
pub const SECURE_SESSION_COOKIE: &str = "__Host-chat_session";
/// The form token cookie (plain HTTP).
pub const FORM_COOKIE: &str = "chat_form";
/// The form token cookie when cookies are secure.
pub const SECURE_FORM_COOKIE: &str = "__Host-chat_form";

/// The value of cookie `name`, if the request has it (and it is not empty).
pub fn read(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(Cookie::split_parse)
        .filter_map(Result::ok)
        .find(|c| c.name() == name)
        .map(|c| c.value_trimmed().to_owned())
        .filter(|v| !v.is_empty())
}

/// The session id the request's cookie holds (the secure form first).
pub fn session_id(headers: &HeaderMap) -> Option<String> {
    read(headers, SECURE_SESSION_COOKIE).or_else(|| read(headers, SESSION_COOKIE))
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
    let mut cookie = Cookie::build((name(plain, secure), value))
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(secure);
    if let Some(age) = max_age {
        let age = i64::try_from(age).unwrap_or(i64::MAX);
        cookie = cookie.max_age(cookie::time::Duration::seconds(age));
    }
    // Values are hex made here; a bad one would be a bug, so it is dropped, not sent.
    HeaderValue::from_str(&cookie.build().to_string())
        .unwrap_or_else(|_| HeaderValue::from_static("x=; Max-Age=0"))
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

    /// The cookie a `Set-Cookie` value sets, as a browser parses it.
    fn parsed(value: &HeaderValue) -> Cookie<'static> {
        Cookie::parse(value.to_str().unwrap().to_owned()).unwrap()
    }

    #[test]
    fn cookies_are_http_only_lax_and_prefixed_when_secure() {
        for (secure, name) in [(false, "chat_session"), (true, "__Host-chat_session")] {
            let c = parsed(&session("ab", 60, secure));
            assert_eq!((c.name(), c.value()), (name, "ab"));
            assert_eq!(c.path(), Some("/"));
            assert_eq!(c.http_only(), Some(true));
            assert_eq!(c.same_site(), Some(SameSite::Lax));
            assert_eq!(c.max_age(), Some(cookie::time::Duration::seconds(60)));
            assert_eq!(c.secure().unwrap_or(false), secure);
            // `__Host-` demands `Secure`, `Path=/` and no `Domain`.
            assert_eq!(c.domain(), None);
        }
        let [plain, secure] = clear_session();
        let (plain, secure) = (parsed(&plain), parsed(&secure));
        assert_eq!((plain.name(), plain.value()), ("chat_session", ""));
        assert_eq!(plain.max_age(), Some(cookie::time::Duration::ZERO));
        assert_eq!(
            (secure.name(), secure.secure()),
            ("__Host-chat_session", Some(true))
        );
        let browser = parsed(&set_form_token(&"a".repeat(32), false));
        assert_eq!(
            browser.max_age(),
            None,
            "the form token lives as long as the browser"
        );
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
        // Quoted values, odd spacing, pairs without `=` and a second header all parse.
        h.insert(COOKIE, HeaderValue::from_static("junk; a = \"1\" ;b=2"));
        h.append(COOKIE, HeaderValue::from_static("c=3"));
        assert_eq!(read(&h, "a").as_deref(), Some("1"));
        assert_eq!(read(&h, "b").as_deref(), Some("2"));
        assert_eq!(read(&h, "c").as_deref(), Some("3"));
        assert_eq!(read(&h, "junk"), None);
    }
}
