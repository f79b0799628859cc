//! All HTTP hardening in one function (conduwuit's `layers.rs` style): sensitive headers
//! redacted in logs, a request id on every request and response and in every log line about
//! it, panic catching, a request timeout, the body limit, CSRF origin checks, security
//! headers on every response — and every refusal a layer makes itself rendered by the front
//! end of the request's path (JSON under `/api/`, an HTML page elsewhere). Answers the
//! dispatcher rendered (marked [`Rendered`]) pass unchanged.
//!
//! Order, outermost first: redaction → request id → trace span → request id on the
//! response → finish (layer refusals, security headers) → catch panic → timeout → body
//! limit → CSRF → dispatcher.

use crate::dispatch;
use crate::http::csrf::CsrfGuardLayer;
use crate::http::front::{Front, Rendered};
use crate::http::{ApiError, Body, BoxError};
use crate::refusal::{Target, render};
use crate::routes::Router;
use crate::settings::Settings;
use crate::state::AppState;
use bytes::Bytes;
use http::header::{
    AUTHORIZATION, CONTENT_SECURITY_POLICY, COOKIE, HeaderName, HeaderValue, PROXY_AUTHORIZATION,
    REFERRER_POLICY, SET_COOKIE, X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS,
};
use http::{Request, Response, StatusCode};
use http_body_util::BodyExt;
use std::any::Any;
use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use tower::util::BoxCloneService;
use tower::{Service, ServiceBuilder};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::request_id::{
    MakeRequestId, PropagateRequestIdLayer, RequestId, SetRequestIdLayer,
};
use tower_http::sensitive_headers::{
    SetSensitiveRequestHeadersLayer, SetSensitiveResponseHeadersLayer,
};
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::{DefaultOnFailure, DefaultOnResponse, TraceLayer};
use tracing::{Level, Span};

/// The whole server as one cloneable tower service, ready for hyper (or for mounting inside
/// another application's stack).
pub type HttpService<B> = BoxCloneService<Request<B>, Response<Body>, Infallible>;

/// The header carrying the request id.
pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Builds the service: the dispatcher over the compiled route table, wrapped in every layer.
///
/// # Errors
/// A configured allowed origin that is not a valid browser origin.
pub fn service<B>(state: AppState) -> Result<HttpService<B>, tower_http::csrf::ConfigError>
where
    B: hyper::body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    let settings = state.settings().clone();
    let router = Arc::new(Router::new());
    let app = tower::service_fn(move |req: Request<tower_http::body::Limited<B>>| {
        let state = state.clone();
        let router = router.clone();
        async move {
            let req = req.map(|b| b.map_err(Into::into).boxed_unsync());
            Ok::<_, Infallible>(dispatch::handle(state, &router, req).await)
        }
    });
    wrap(app, &settings)
}

/// Wraps any inner service (the dispatcher, or a test's) in every layer.
///
/// # Errors
/// A configured allowed origin that is not a valid browser origin.
pub fn wrap<S, B>(
    inner: S,
    settings: &Settings,
) -> Result<HttpService<B>, tower_http::csrf::ConfigError>
where
    S: Service<
            Request<tower_http::body::Limited<B>>,
            Response = Response<Body>,
            Error = Infallible,
        > + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    B: hyper::body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    let csrf = CsrfGuardLayer::new(&settings.allowed_origins)?;
    let body_limit = settings.body_limit;
    let stack = ServiceBuilder::new()
        .map_response(boxed)
        .layer(SetSensitiveRequestHeadersLayer::new([
            AUTHORIZATION,
            PROXY_AUTHORIZATION,
            COOKIE,
            HeaderName::from_static(crate::http::csrf::CSRF_HEADER),
        ]))
        .map_request(drop_unfit_request_id::<B>)
        .layer(SetRequestIdLayer::new(REQUEST_ID, RandomRequestId))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(request_span::<B>)
                .on_request(|req: &Request<B>, _: &Span| {
                    tracing::debug!(headers = ?req.headers(), "request");
                })
                .on_response(DefaultOnResponse::new().level(Level::INFO))
                .on_failure(DefaultOnFailure::new().level(Level::ERROR)),
        )
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(SetSensitiveResponseHeadersLayer::new([SET_COOKIE]))
        .layer(tower::layer::layer_fn(move |inner| Finish {
            inner,
            body_limit,
        }))
        .layer(CatchPanicLayer::custom(
            panic_response as fn(Box<dyn Any + Send + 'static>) -> Response<Body>,
        ))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::SERVICE_UNAVAILABLE,
            settings.request_timeout,
        ))
        .layer(RequestBodyLimitLayer::new(body_limit))
        .layer(csrf)
        .service(inner);
    Ok(BoxCloneService::new(stack))
}

/// A response with its body boxed into the server's [`Body`].
fn boxed<B>(resp: Response<B>) -> Response<Body>
where
    B: hyper::body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    resp.map(|b| b.map_err(Into::into).boxed_unsync())
}

/// One span per request; everything logged while serving it carries the id.
fn request_span<B>(req: &Request<B>) -> Span {
    let id = req
        .headers()
        .get(REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("-");
    tracing::info_span!("request", id = %id, method = %req.method(), path = %req.uri().path())
}

/// Removes a client's `x-request-id` unless it is 1–64 visible ASCII characters without
/// spaces, so that a new one is made: an id is written into every log line of its request.
fn drop_unfit_request_id<B>(mut req: Request<B>) -> Request<B> {
    let fit = req.headers().get(REQUEST_ID).is_none_or(|v| {
        let bytes = v.as_bytes();
        (1..=64).contains(&bytes.len()) && bytes.iter().all(u8::is_ascii_graphic)
    });
    if !fit {
        req.headers_mut().remove(REQUEST_ID);
    }
    req
}

/// Request ids: 64 bits in hex (a fit client-supplied `x-request-id` is kept), unique
/// and unpredictable enough to tell requests apart in logs; not a secret.
#[derive(Debug, Clone, Copy)]
struct RandomRequestId;

impl MakeRequestId for RandomRequestId {
    fn make_request_id<B>(&mut self, _: &Request<B>) -> Option<RequestId> {
        HeaderValue::from_str(&format!("{:016x}", next_request_id()))
            .ok()
            .map(RequestId::new)
    }
}

/// The next request id of this thread: SplitMix64 over a per-thread state seeded from the
/// system's random source once (a system call per request cost more than the rest of
/// making the id). SplitMix64 is a bijection of its counter, so one thread never repeats
/// an id, and the random seeds keep threads (and restarts) apart.
fn next_request_id() -> u64 {
    thread_local! {
        static STATE: std::cell::Cell<u64> = std::cell::Cell::new(
            u64::from_str_radix(&chatcore::auth::random_hex(8), 16).unwrap_or_default(),
        );
    }
    STATE.with(|state| {
        let next = state.get().wrapping_add(0x9e37_79b9_7f4a_7c15);
        state.set(next);
        let mut z = next;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    })
}

/// A panicking handler answers a 500 (rendered by [`Finish`]); the panic is logged inside the request's span.
fn panic_response(panic: Box<dyn Any + Send + 'static>) -> Response<Body> {
    let detail = panic
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| panic.downcast_ref::<&str>().copied())
        .unwrap_or("(no message)");
    tracing::error!(panic = detail, "a handler panicked");
    ApiError::internal().into_refusal()
}

/// Renders the refusals the layers make themselves (timeout, body limit, panic, CSRF) by
/// the front end of the request's path, keeps every answer the dispatcher rendered, and adds
/// the security headers every response carries.
#[derive(Clone)]
struct Finish<S> {
    inner: S,
    body_limit: usize,
}

impl<S, B, ResBody> Service<Request<B>> for Finish<S>
where
    S: Service<Request<B>, Response = Response<ResBody>, Error = Infallible>,
    S::Future: Send + 'static,
    ResBody: hyper::body::Body<Data = Bytes> + Send + 'static,
    ResBody::Error: Into<BoxError>,
{
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response<Body>, Infallible>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        let front = Front::for_path(req.uri().path());
        let target = Target::of(&req);
        let body_limit = self.body_limit;
        let answer = self.inner.call(req);
        Box::pin(async move {
            let Ok(resp) = answer.await;
            Ok(finish(boxed(resp), front, &target, body_limit))
        })
    }
}

/// See [`Finish`].
fn finish(
    resp: Response<Body>,
    front: Front,
    target: &Target,
    body_limit: usize,
) -> Response<Body> {
    let status = resp.status();
    let refused_by_a_layer = (status.is_client_error() || status.is_server_error())
        && resp.extensions().get::<Rendered>().is_none();
    let mut resp = if refused_by_a_layer {
        let error = match resp.extensions().get::<ApiError>() {
            Some(error) => error.clone(),
            None if status == StatusCode::PAYLOAD_TOO_LARGE => {
                ApiError::payload_too_large(body_limit)
            }
            None => ApiError::for_status(status),
        };
        let mut rendered = render(front, error, target);
        // Keep what the layer said about the connection.
        if let Some(v) = resp.headers().get(http::header::CONNECTION) {
            rendered
                .headers_mut()
                .insert(http::header::CONNECTION, v.clone());
        }
        rendered
    } else {
        resp
    };
    let headers = resp.headers_mut();
    for (name, value) in [
        (CONTENT_SECURITY_POLICY, "default-src 'self'"),
        (X_FRAME_OPTIONS, "DENY"),
        (X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (REFERRER_POLICY, "no-referrer"),
    ] {
        headers
            .entry(name)
            .or_insert(HeaderValue::from_static(value));
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::full;
    use http_body_util::Full;
    use std::time::Duration;
    use tower::ServiceExt;

    type TestBody = tower_http::body::Limited<Full<Bytes>>;

    async fn check(
        settings: Settings,
        handler: fn(Request<TestBody>) -> Response<Body>,
        req: Request<Full<Bytes>>,
    ) -> (StatusCode, http::HeaderMap, serde_json::Value) {
        let inner = tower::service_fn(move |req: Request<TestBody>| async move {
            if req.uri().path().ends_with("/slow") {
                tokio::time::sleep(Duration::from_secs(5)).await;
            }
            Ok::<_, Infallible>(handler(req))
        });
        let svc = wrap(inner, &settings).unwrap();
        let resp = svc.oneshot(req).await.unwrap();
        let (parts, body) = resp.into_parts();
        let bytes = body.collect().await.unwrap().to_bytes();
        let json = serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null);
        (parts.status, parts.headers, json)
    }

    fn ok(_: Request<TestBody>) -> Response<Body> {
        Response::new(full("ok"))
    }

    fn panics(_: Request<TestBody>) -> Response<Body> {
        panic!("deliberate test panic")
    }

    fn get(path: &str) -> Request<Full<Bytes>> {
        Request::get(path).body(Full::default()).unwrap()
    }

    #[tokio::test]
    async fn a_panic_becomes_a_json_500_with_every_header() {
        let (status, headers, json) = check(Settings::default(), panics, get("/api/chat/")).await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(json["code"], "internal");
        assert_eq!(json["error"], "Internal server error");
        assert_eq!(headers[http::header::CONTENT_TYPE], "application/json");
        assert_eq!(headers[X_FRAME_OPTIONS], "DENY");
        assert_eq!(headers[REQUEST_ID].len(), 16);
    }

    #[tokio::test]
    async fn a_slow_request_times_out_with_a_json_503_that_says_when_to_retry() {
        // Not 408: clients retry a 408 by themselves, and a POST stored without a
        // `client_id` would then be stored twice.
        let settings = Settings {
            request_timeout: Duration::from_millis(50),
            ..Settings::default()
        };
        let (status, headers, json) = check(settings, ok, get("/api/slow")).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(json["code"], "unavailable");
        assert_eq!(json["error"], "Request timed out");
        assert_eq!(headers[http::header::RETRY_AFTER], "1");
    }

    #[tokio::test]
    async fn a_declared_oversized_body_is_a_json_413_before_the_handler_runs() {
        let settings = Settings {
            body_limit: 10,
            ..Settings::default()
        };
        let req = Request::post("/api/chat/")
            .header(http::header::CONTENT_LENGTH, "11")
            .body(Full::new(Bytes::from_static(b"01234567890")))
            .unwrap();
        let (status, _, json) = check(settings, panics, req).await;
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(json["error"], "Request body is larger than 10 bytes");
    }

    /// Calls the stack and returns the status, the content type and the body's text.
    async fn check_text(
        handler: fn(Request<TestBody>) -> Response<Body>,
        req: Request<Full<Bytes>>,
    ) -> (StatusCode, String, String) {
        let inner = tower::service_fn(move |req: Request<TestBody>| async move {
            Ok::<_, Infallible>(handler(req))
        });
        let svc = wrap(inner, &Settings::default()).unwrap();
        let resp = svc.oneshot(req).await.unwrap();
        let (parts, body) = resp.into_parts();
        let text = String::from_utf8(body.collect().await.unwrap().to_bytes().to_vec()).unwrap();
        let content_type = parts.headers[http::header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .to_owned();
        (parts.status, content_type, text)
    }

    #[tokio::test]
    async fn a_layer_refusal_on_a_page_path_is_an_html_page() {
        let (status, content_type, text) = check_text(panics, get("/chats/")).await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(content_type, "text/html; charset=utf-8");
        assert!(text.contains("Что-то пошло не так"), "{text}");
    }

    #[tokio::test]
    async fn an_answer_the_dispatcher_rendered_is_never_rewritten() {
        fn teapot_page(_: Request<TestBody>) -> Response<Body> {
            let mut resp = Response::new(full("<p>short and stout</p>"));
            *resp.status_mut() = StatusCode::IM_A_TEAPOT;
            resp.headers_mut().insert(
                http::header::CONTENT_TYPE,
                HeaderValue::from_static("text/html"),
            );
            resp.extensions_mut().insert(Rendered);
            resp
        }
        for path in ["/api/chat/", "/chats/"] {
            let (status, content_type, text) = check_text(teapot_page, get(path)).await;
            assert_eq!(status, StatusCode::IM_A_TEAPOT);
            assert_eq!(content_type, "text/html");
            assert_eq!(text, "<p>short and stout</p>");
        }
    }

    #[tokio::test]
    async fn a_cross_site_post_is_refused_unless_it_carries_an_api_token() {
        let cross_site = |auth: Option<&str>| {
            let mut req = Request::post("http://chat.example/api/chat/")
                .header(http::header::HOST, "chat.example")
                .header(http::header::ORIGIN, "https://evil.example")
                .header("sec-fetch-site", "cross-site");
            if let Some(a) = auth {
                req = req.header(AUTHORIZATION, a);
            }
            req.body(Full::default()).unwrap()
        };
        let (status, _, json) = check(Settings::default(), ok, cross_site(None)).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert_eq!(json["code"], "forbidden");
        let (status, _, _) = check(Settings::default(), ok, cross_site(Some("Basic YTpi"))).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        let (status, _, _) = check(Settings::default(), ok, cross_site(Some("token abc"))).await;
        assert_eq!(status, StatusCode::OK);
        let trusted = Settings {
            allowed_origins: vec!["https://evil.example".into()],
            ..Settings::default()
        };
        let (status, _, _) = check(trusted, ok, cross_site(None)).await;
        assert_eq!(status, StatusCode::OK);
    }

    #[test]
    fn request_ids_do_not_repeat_within_or_across_threads() {
        let ids = || (0..20_000).map(|_| next_request_id()).collect::<Vec<_>>();
        let other = std::thread::spawn(ids)
            .join()
            .expect("the thread makes ids");
        let mut all: Vec<u64> = ids().into_iter().chain(other).collect();
        all.sort_unstable();
        all.dedup();
        assert_eq!(all.len(), 40_000);
    }

    #[tokio::test]
    async fn a_client_request_id_is_kept_and_echoed() {
        let req = Request::get("/")
            .header(REQUEST_ID, "abc-123")
            .body(Full::default())
            .unwrap();
        let (_, headers, _) = check(Settings::default(), ok, req).await;
        assert_eq!(headers[REQUEST_ID], "abc-123");
        assert_eq!(headers[CONTENT_SECURITY_POLICY], "default-src 'self'");
        assert_eq!(headers[X_CONTENT_TYPE_OPTIONS], "nosniff");
        assert_eq!(headers[REFERRER_POLICY], "no-referrer");
    }

    #[tokio::test]
    async fn a_client_request_id_that_could_forge_log_lines_is_replaced() {
        let long = "a".repeat(65);
        for bad in ["two words", "tab\there", long.as_str(), "", "naïve"] {
            let Ok(value) = HeaderValue::from_bytes(bad.as_bytes()) else {
                continue;
            };
            let req = Request::get("/api/chat/")
                .header(REQUEST_ID, value)
                .body(Full::default())
                .unwrap();
            let (_, headers, _) = check(Settings::default(), ok, req).await;
            let id = headers[REQUEST_ID].to_str().unwrap();
            assert!(
                id.len() == 16 && id.bytes().all(|b| b.is_ascii_hexdigit()),
                "{bad:?} was kept as {id:?}"
            );
        }
        let longest = "b".repeat(64);
        let req = Request::get("/api/chat/")
            .header(REQUEST_ID, longest.as_str())
            .body(Full::default())
            .unwrap();
        let (_, headers, _) = check(Settings::default(), ok, req).await;
        assert_eq!(headers[REQUEST_ID], longest.as_str());
    }

    #[tokio::test(flavor = "current_thread")]
    async fn log_lines_carry_the_request_id_and_never_the_credentials() {
        let (captured, _guard) = crate::test_logs::Captured::start();
        fn logs(req: Request<TestBody>) -> Response<Body> {
            tracing::info!("inside the handler");
            ok(req)
        }
        let req = Request::get("/api/chat/")
            .header(REQUEST_ID, "req-7")
            .header(AUTHORIZATION, "Token s3cr3t-token")
            .header(COOKIE, "chat_session=s3cr3t-session")
            .body(Full::default())
            .unwrap();
        check(Settings::default(), logs, req).await;
        let text = captured.text();
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines.len() >= 3, "{text}");
        for line in &lines {
            assert!(
                line.contains("id=req-7"),
                "a line without the request id: {line}"
            );
        }
        assert!(
            text.contains("inside the handler") && text.contains("status=200"),
            "{text}"
        );
        assert!(
            text.contains("Sensitive"),
            "headers are logged, redacted: {text}"
        );
        assert!(
            !text.contains("s3cr3t"),
            "a credential reached the log: {text}"
        );
    }
}
