//! How each front end answers a refusal: JSON for the REST API and WebSocket upgrades
//! (refused before the `101`), the web UI's error page (`web::errors`, in the site's look
//! and the browser's language) for pages and static files, and for a page that needs a
//! signed-in user, a redirect to the login page. Used by the dispatcher and by the
//! hardening layers for their own refusals; every answer made here carries [`Rendered`].

use crate::http::front::{Front, LOGIN_PATH, Rendered};
use crate::http::{ApiError, Body, empty};
use crate::web::i18n::Lang;
use http::header::{HeaderValue, LOCATION};
use http::{Method, Request, Response, StatusCode};

/// What a front end needs to know of a request to render its refusal: where the browser
/// was going (the login redirect's `next`), with which method, in which language.
#[derive(Debug, Clone)]
pub struct Target {
    /// The path and query asked for.
    pub path_and_query: String,
    /// The request's method (only a `GET` or `HEAD` is worth returning to after logging in).
    pub method: Method,
    /// The language the browser prefers.
    pub lang: Lang,
}

impl Target {
    /// The target of `req`.
    pub fn of<B>(req: &Request<B>) -> Self {
        Self {
            path_and_query: req
                .uri()
                .path_and_query()
                .map_or_else(|| req.uri().path().to_owned(), |pq| pq.as_str().to_owned()),
            method: req.method().clone(),
            lang: Lang::of(req.headers()),
        }
    }
}

/// Renders `error` the way `front` answers the request `target`.
pub fn render(front: Front, error: ApiError, target: &Target) -> Response<Body> {
    let mut resp = match front {
        Front::Rest | Front::WebSocket => error.into_response(),
        Front::Page if error.status() == StatusCode::UNAUTHORIZED => login_redirect(target),
        Front::Page | Front::Static => crate::web::errors::page(error, target.lang),
    };
    resp.extensions_mut().insert(Rendered);
    resp
}

/// `303 See Other` to the login page, with `next` set to where the browser was going (a
/// form posted after the session ended goes back to no particular page).
fn login_redirect(request: &Target) -> Response<Body> {
    let target = if matches!(request.method, Method::GET | Method::HEAD) {
        format!(
            "{LOGIN_PATH}?next={}",
            url::form_urlencoded::byte_serialize(request.path_and_query.as_bytes())
                .collect::<String>()
        )
    } else {
        LOGIN_PATH.to_owned()
    };
    let mut resp = Response::new(empty());
    *resp.status_mut() = StatusCode::SEE_OTHER;
    if let Ok(v) = HeaderValue::from_str(&target) {
        resp.headers_mut().insert(LOCATION, v);
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    async fn text(resp: Response<Body>) -> String {
        let bytes = resp.into_body().collect().await.unwrap().to_bytes();
        String::from_utf8(bytes.to_vec()).unwrap()
    }

    fn target(path_and_query: &str, method: Method) -> Target {
        Target {
            path_and_query: path_and_query.to_owned(),
            method,
            lang: Lang::En,
        }
    }

    #[tokio::test]
    async fn a_page_refusal_is_an_escaped_html_page_with_the_errors_headers() {
        let get = target("/x", Method::GET);
        let resp = render(
            Front::Page,
            ApiError::method_not_allowed("GET".into()),
            &get,
        );
        assert_eq!(resp.status(), StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(resp.headers()["allow"], "GET");
        assert!(resp.extensions().get::<Rendered>().is_some());
        assert_eq!(
            resp.headers()[http::header::CONTENT_TYPE],
            "text/html; charset=utf-8"
        );
        let resp = render(Front::Static, ApiError::malformed("<script>"), &get);
        let body = text(resp).await;
        assert!(body.contains("Bad request"), "{body}");
        assert!(
            body.contains("&lt;script&gt;") && !body.contains("<script>"),
            "{body}"
        );
    }

    #[tokio::test]
    async fn a_signed_out_page_visit_goes_to_the_login_page_and_back() {
        let visit = target("/chats/7/?a=1&b=2", Method::GET);
        let resp = render(Front::Page, ApiError::unauthenticated("no"), &visit);
        assert_eq!(resp.status(), StatusCode::SEE_OTHER);
        assert_eq!(
            resp.headers()[LOCATION],
            "/accounts/login/?next=%2Fchats%2F7%2F%3Fa%3D1%26b%3D2"
        );
        // A form posted after the session ended is not replayed as a GET after logging in.
        let post = target("/chats/7/leave/", Method::POST);
        let resp = render(Front::Page, ApiError::unauthenticated("no"), &post);
        assert_eq!(resp.headers()[LOCATION], "/accounts/login/");
        let socket = target("/ws/chat/1/", Method::GET);
        let resp = render(Front::WebSocket, ApiError::unauthenticated("no"), &socket);
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(resp.headers()["www-authenticate"], "Token");
        assert_eq!(
            text(resp).await,
            r#"{"error":"no","code":"unauthenticated"}"#
        );
    }
}
