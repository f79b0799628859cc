//! Cross-site request forgery protection, in two parts:
//!
//! 1. [`CsrfGuardLayer`]: tower-http's `CsrfLayer` (`Sec-Fetch-Site` / `Origin` against
//!    `Host` and the configured trusted origins) for every request except those carrying
//!    `Authorization: Token …`, which a browser never attaches by itself (and we answer no
//!    CORS preflight, so a page cannot make it add one). Basic is *not* exempt: browsers may
//!    replay cached Basic credentials.
//! 2. [`check_token`]: an unsafe request authenticated by the session cookie must also carry
//!    the session's CSRF token (`X-CSRF-Token` header or `csrf_token` form field), compared
//!    in constant time.

use super::body::{Format, format};
use super::{ApiError, Body, form};
use http::header::AUTHORIZATION;
use http::{HeaderMap, Method, Request, Response};
use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use tower::{Layer, Service, ServiceExt};
use tower_http::csrf::{ConfigError, Csrf, CsrfLayer, ProtectionError};

/// The header an unsafe cookie-authenticated request carries its CSRF token in.
pub const CSRF_HEADER: &str = "x-csrf-token";
/// The form field that may carry it instead.
pub const CSRF_FIELD: &str = "csrf_token";

type Rejection = fn(ProtectionError) -> Response<Body>;

fn rejection(error: ProtectionError) -> Response<Body> {
    tracing::info!(%error, "cross-origin request refused");
    ApiError::csrf(format!("{error}: cross-origin requests are refused")).into_refusal()
}

/// Applies the origin check to every request not authenticated by an API token.
#[derive(Clone)]
pub struct CsrfGuardLayer {
    layer: CsrfLayer<Rejection>,
}

impl CsrfGuardLayer {
    /// Trusts `Host` and the given origins (`https://chat.example.com`, as browsers send them).
    pub fn new(trusted_origins: &[String]) -> Result<Self, ConfigError> {
        let mut layer = CsrfLayer::new();
        for origin in trusted_origins {
            layer = layer.add_trusted_origin(origin)?;
        }
        Ok(Self {
            layer: layer.with_rejection_response(rejection as Rejection),
        })
    }
}

impl<S: Clone> Layer<S> for CsrfGuardLayer {
    type Service = CsrfGuard<S>;

    fn layer(&self, inner: S) -> Self::Service {
        CsrfGuard {
            guarded: self.layer.layer(inner.clone()),
            exempt: inner,
        }
    }
}

/// See [`CsrfGuardLayer`].
#[derive(Clone)]
pub struct CsrfGuard<S> {
    guarded: Csrf<S, Rejection>,
    exempt: S,
}

/// Whether the request authenticates with an API token (exempt from the origin check).
fn carries_token(headers: &HeaderMap) -> bool {
    headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim_start().get(..6))
        .is_some_and(|scheme| scheme.eq_ignore_ascii_case("token "))
}

impl<S, B> Service<Request<B>> for CsrfGuard<S>
where
    S: Service<Request<B>, Response = Response<Body>, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
    B: Send + 'static,
{
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response<Body>, Infallible>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        // Each call drives a clone to readiness itself (`oneshot`).
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        if carries_token(req.headers()) {
            Box::pin(self.exempt.clone().oneshot(req))
        } else {
            Box::pin(self.guarded.clone().oneshot(req))
        }
    }
}

/// Whether a browser request comes from the server's own origin (its `Origin` names the
/// `Host` it was sent to) or from one of `trusted_origins`. No `Origin` is not allowed:
/// browsers always send one on a WebSocket upgrade.
pub fn origin_allowed(headers: &HeaderMap, trusted_origins: &[String]) -> bool {
    let Some(origin) = headers
        .get(http::header::ORIGIN)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let origin = origin.trim().trim_end_matches('/');
    if trusted_origins
        .iter()
        .any(|t| t.trim().trim_end_matches('/').eq_ignore_ascii_case(origin))
    {
        return true;
    }
    let authority = origin
        .strip_prefix("https://")
        .or_else(|| origin.strip_prefix("http://"));
    let host = headers
        .get(http::header::HOST)
        .and_then(|v| v.to_str().ok());
    matches!((authority, host), (Some(a), Some(h)) if a.eq_ignore_ascii_case(h.trim()))
}

/// Whether `method` changes state (and so needs CSRF proof under a session).
pub fn is_unsafe(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// Checks the session's CSRF token against the `X-CSRF-Token` header or, in a form body,
/// the `csrf_token` field.
pub fn check_token(expected: &str, headers: &HeaderMap, body: &[u8]) -> Result<(), ApiError> {
    let presented = match headers.get(CSRF_HEADER) {
        Some(v) => v.to_str().ok().map(str::to_owned),
        None if matches!(format(headers), Ok(Format::Form)) => form::field(body, CSRF_FIELD),
        None => None,
    };
    match presented {
        Some(token) if chatcore::auth::constant_time_eq(&token, expected) => Ok(()),
        Some(_) => Err(ApiError::csrf("CSRF token incorrect")),
        None => Err(ApiError::csrf("CSRF token missing")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    #[test]
    fn the_csrf_token_comes_from_the_header_or_the_form_field() {
        let mut h = HeaderMap::new();
        assert!(check_token("abc", &h, b"").is_err());
        h.insert(CSRF_HEADER, HeaderValue::from_static("abc"));
        assert!(check_token("abc", &h, b"").is_ok());
        assert!(check_token("abd", &h, b"").is_err());
        let mut h = HeaderMap::new();
        h.insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/x-www-form-urlencoded"),
        );
        assert!(check_token("abc", &h, b"content=hi&csrf_token=abc").is_ok());
        assert!(check_token("abc", &h, b"content=hi&csrf_token=xyz").is_err());
        assert!(check_token("abc", &h, b"content=hi").is_err());
    }

    #[test]
    fn a_browser_origin_is_allowed_when_it_is_the_servers_own_or_trusted() {
        let headers = |origin: Option<&str>, host: &str| {
            let mut h = HeaderMap::new();
            h.insert(http::header::HOST, HeaderValue::from_str(host).unwrap());
            if let Some(o) = origin {
                h.insert(http::header::ORIGIN, HeaderValue::from_str(o).unwrap());
            }
            h
        };
        let trusted = vec!["https://chat.example.com".to_owned()];
        let check = |origin, host| origin_allowed(&headers(origin, host), &trusted);
        assert!(check(Some("http://127.0.0.1:8000"), "127.0.0.1:8000"));
        assert!(check(Some("https://Chat.Example.com"), "internal:8000"));
        assert!(!check(Some("https://evil.example"), "127.0.0.1:8000"));
        assert!(!check(Some("http://127.0.0.1:8001"), "127.0.0.1:8000"));
        assert!(!check(Some("null"), "127.0.0.1:8000"));
        assert!(!check(None, "127.0.0.1:8000"));
    }

    #[test]
    fn only_token_authorization_is_exempt_from_the_origin_check() {
        let mut h = HeaderMap::new();
        assert!(!carries_token(&h));
        h.insert(AUTHORIZATION, HeaderValue::from_static("token abc"));
        assert!(carries_token(&h));
        h.insert(AUTHORIZATION, HeaderValue::from_static("Basic YTpi"));
        assert!(!carries_token(&h));
    }
}
