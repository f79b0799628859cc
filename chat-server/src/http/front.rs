//! The front ends a route can belong to, and how each renders a refusal: JSON for the REST
//! API and WebSocket upgrades (refused before the `101`), a readable HTML page for pages and
//! static files, and for a page that needs a signed-in user, a redirect to the login page.
//!
//! Responses rendered here (or by a handler) carry the [`Rendered`] mark, so the hardening
//! layers leave them alone and rewrite only the answers they produce themselves.

use super::{ApiError, Body, full};
use http::header::{CACHE_CONTROL, CONTENT_TYPE, HeaderValue, LOCATION};
use http::{Response, StatusCode};

/// Which front end serves a route (and so how its refusals look).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Front {
    /// The JSON REST API (`api/`); the only front end in the OpenAPI document.
    Rest,
    /// A WebSocket upgrade (`ws/`): refusals are JSON answers instead of the `101`.
    WebSocket,
    /// A server-rendered HTML page (`web/`).
    Page,
    /// An embedded static file (`/static/{*path}`).
    Static,
}

/// The login page a signed-out browser is sent to.
pub const LOGIN_PATH: &str = "/accounts/login/";

/// A mark on a response that a front end rendered: the hardening layers pass it unchanged.
#[derive(Debug, Clone, Copy)]
pub struct Rendered;

impl Front {
    /// The front end that answers for a path no route serves (404) or a wrong method
    /// (405): the API's JSON under `/api/`, `/ws/` and `/healthz`, an HTML page elsewhere.
    pub fn for_path(path: &str) -> Self {
        let api = ["/api", "/ws", "/healthz"].iter().any(|prefix| {
            path.strip_prefix(prefix)
                .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
        });
        if api { Front::Rest } else { Front::Page }
    }

    /// Whether the pipeline reads the request body for this front end (an upgrade and a
    /// static file have none worth reading).
    pub fn reads_body(self) -> bool {
        matches!(self, Front::Rest | Front::Page)
    }

    /// Renders `error` the way this front end answers; `path_and_query` is where a signed-out
    /// browser returns to after logging in.
    pub fn render(self, error: ApiError, path_and_query: &str) -> Response<Body> {
        let mut resp = match self {
            Front::Rest | Front::WebSocket => error.into_response(),
            Front::Page if error.status() == StatusCode::UNAUTHORIZED => {
                login_redirect(path_and_query)
            }
            Front::Page | Front::Static => error_page(error),
        };
        resp.extensions_mut().insert(Rendered);
        resp
    }
}

/// `303 See Other` to the login page, with `next` set to where the browser was going.
fn login_redirect(path_and_query: &str) -> Response<Body> {
    let target = format!(
        "{LOGIN_PATH}?next={}",
        url::form_urlencoded::byte_serialize(path_and_query.as_bytes()).collect::<String>()
    );
    let mut resp = Response::new(super::empty());
    *resp.status_mut() = StatusCode::SEE_OTHER;
    if let Ok(v) = HeaderValue::from_str(&target) {
        resp.headers_mut().insert(LOCATION, v);
    }
    resp
}

/// A minimal, self-contained HTML error page (the web UI dresses it in its own look).
fn error_page(error: ApiError) -> Response<Body> {
    let status = error.status();
    let title = format!(
        "{} {}",
        status.as_u16(),
        status.canonical_reason().unwrap_or("Error")
    );
    let page = format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title}</title></head>\n<body><main><h1>{title}</h1><p>{}</p>\
         <p><a href=\"/\">Home</a></p></main></body></html>\n",
        escape_html(error.message())
    );
    // Keep the error's own headers (`WWW-Authenticate`, `Retry-After`, `Allow`).
    let mut resp = error.into_response();
    *resp.body_mut() = full(page);
    let headers = resp.headers_mut();
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

/// Escapes text for HTML element content and attribute values.
fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#x27;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    async fn text(resp: Response<Body>) -> String {
        let bytes = resp.into_body().collect().await.unwrap().to_bytes();
        String::from_utf8(bytes.to_vec()).unwrap()
    }

    #[test]
    fn api_prefixes_answer_json_and_everything_else_html() {
        for path in [
            "/api",
            "/api/",
            "/api/nope/",
            "/ws/chat/1/",
            "/healthz",
            "/healthz/",
        ] {
            assert_eq!(Front::for_path(path), Front::Rest, "{path}");
        }
        for path in ["/", "/apix", "/admin/", "/static/x.js", "/chats/1/", "/wsx"] {
            assert_eq!(Front::for_path(path), Front::Page, "{path}");
        }
    }

    #[tokio::test]
    async fn a_page_refusal_is_an_escaped_html_page_with_the_errors_headers() {
        let resp = Front::Page.render(ApiError::method_not_allowed("GET".into()), "/x");
        assert_eq!(resp.status(), StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(resp.headers()["allow"], "GET");
        assert!(resp.extensions().get::<Rendered>().is_some());
        assert_eq!(resp.headers()[CONTENT_TYPE], "text/html; charset=utf-8");
        let resp = Front::Static.render(ApiError::malformed("<script>"), "/x");
        let body = text(resp).await;
        assert!(body.contains("<h1>400 Bad Request</h1>"), "{body}");
        assert!(
            body.contains("&lt;script&gt;") && !body.contains("<script>"),
            "{body}"
        );
    }

    #[tokio::test]
    async fn a_signed_out_page_visit_goes_to_the_login_page_and_back() {
        let resp = Front::Page.render(ApiError::unauthenticated("no"), "/chats/7/?a=1&b=2");
        assert_eq!(resp.status(), StatusCode::SEE_OTHER);
        assert_eq!(
            resp.headers()[LOCATION],
            "/accounts/login/?next=%2Fchats%2F7%2F%3Fa%3D1%26b%3D2"
        );
        let resp = Front::WebSocket.render(ApiError::unauthenticated("no"), "/ws/chat/1/");
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(resp.headers()["www-authenticate"], "Token");
        assert_eq!(
            text(resp).await,
            r#"{"error":"no","code":"unauthenticated"}"#
        );
    }
}
