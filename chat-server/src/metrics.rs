//! Metrics in the Prometheus text format, on a listener of their own (`--metrics-bind`),
//! never on the public one. Everything is recorded through the `metrics` facade: the HTTP
//! requests here (by [`RequestTimer`], which the dispatcher starts), the open WebSockets and
//! their deliveries in `ws::session`, the writer and the login limiter in chatcore
//! ([`chatcore::metrics`]).
//!
//! The recorder is process-wide (the facade has one global recorder): [`install`] sets it
//! up once per process, the first time a metrics listener starts, and every server of the
//! process renders the same numbers. Until then, and in a process that never serves
//! metrics, every recording is a no-op.

use bytes::Bytes;
use http::header::{ALLOW, CONTENT_TYPE, HeaderValue};
use http::{Method, Request, Response, StatusCode};
use http_body_util::Full;
use hyper_util::rt::{TokioIo, TokioTimer};
use metrics::{Unit, describe_counter, describe_gauge, describe_histogram};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use std::convert::Infallible;
use std::sync::OnceLock;
use std::time::{Duration, Instant};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// HTTP requests answered, by `route` (the route table's path pattern, or `unmatched`),
/// `method` and `status` (counter).
pub const HTTP_REQUESTS: &str = "chat_http_requests_total";
/// Seconds from dispatch to the answer's head, by `route` and `method` (histogram).
pub const HTTP_REQUEST_SECONDS: &str = "chat_http_request_duration_seconds";
/// WebSocket sessions open now (gauge).
pub const WEBSOCKETS_OPEN: &str = "chat_websockets_open";
/// Chat events handed to WebSockets (counter; its rate is deliveries per second).
pub const WEBSOCKET_DELIVERIES: &str = "chat_websocket_deliveries_total";

/// The content type of the Prometheus text format.
pub const CONTENT_TYPE_TEXT: &str = "text/plain; version=0.0.4";

/// The route label of a request no route serves (keeps the label set bounded).
pub const UNMATCHED_ROUTE: &str = "unmatched";

/// Latency buckets, in seconds.
const SECONDS_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];
/// Batch-size buckets, in messages (up to chatcore's largest batch).
const BATCH_BUCKETS: &[f64] = &[
    1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0, 1024.0, 2048.0, 4096.0,
];
/// How often histogram samples are folded into their buckets between scrapes.
const UPKEEP_INTERVAL: Duration = Duration::from_secs(5);

/// The process's Prometheus recorder, installed as the global recorder on the first call.
///
/// If another global recorder was installed first (an embedding application's), it stays,
/// a warning is logged and the handle renders only what reaches it (nothing).
pub fn install() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let recorder = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), SECONDS_BUCKETS)
            .and_then(|b| {
                b.set_buckets_for_metric(
                    Matcher::Full(chatcore::metrics::WRITER_BATCH_SIZE.into()),
                    BATCH_BUCKETS,
                )
            })
            .expect("the bucket lists are not empty")
            .build_recorder();
        let handle = recorder.handle();
        if let Err(e) = metrics::set_global_recorder(recorder) {
            tracing::warn!(error = %e, "another metrics recorder is installed; /metrics stays empty");
        }
        describe();
        chatcore::metrics::describe();
        // Histogram samples wait in a queue until folded into buckets: a scrape folds them,
        // and so does this thread, so memory stays bounded when nobody scrapes. A thread,
        // not a task: the recorder outlives any one runtime.
        let upkeep = handle.clone();
        let spawned = std::thread::Builder::new()
            .name("metrics-upkeep".into())
            .spawn(move || {
                loop {
                    std::thread::sleep(UPKEEP_INTERVAL);
                    upkeep.run_upkeep();
                }
            });
        if let Err(e) = spawned {
            tracing::warn!(error = %e, "cannot start the metrics upkeep thread");
        }
        handle
    })
}

fn describe() {
    describe_counter!(
        HTTP_REQUESTS,
        Unit::Count,
        "HTTP requests answered, by route pattern, method and status."
    );
    describe_histogram!(
        HTTP_REQUEST_SECONDS,
        Unit::Seconds,
        "Time from dispatch to the answer's head, by route pattern and method."
    );
    describe_gauge!(WEBSOCKETS_OPEN, Unit::Count, "WebSocket sessions open now.");
    describe_counter!(
        WEBSOCKET_DELIVERIES,
        Unit::Count,
        "Chat events handed to WebSocket sessions."
    );
}

/// Serves `GET /metrics` on `listener` until `shutdown` is cancelled; then stops at once
/// (a scrape cut short is simply retried), closing every connection.
pub async fn serve(listener: TcpListener, shutdown: CancellationToken) {
    let handle = install();
    let connections = TaskTracker::new();
    loop {
        let Some((stream, _)) = crate::conn::accept(&listener, &shutdown).await else {
            break;
        };
        let shutdown = shutdown.clone();
        connections.spawn(async move {
            let service = hyper::service::service_fn(move |req: Request<hyper::body::Incoming>| {
                std::future::ready(Ok::<_, Infallible>(answer(handle, &req)))
            });
            let conn = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(Duration::from_secs(10))
                .serve_connection(TokioIo::new(stream), service);
            tokio::select! {
                result = conn => if let Err(e) = result {
                    tracing::debug!(error = %e, "metrics: connection ended with an error");
                },
                () = shutdown.cancelled() => {}
            }
        });
    }
    drop(listener);
    connections.close();
    connections.wait().await;
}

/// `/metrics` rendered, or a plain 404 / 405.
fn answer<B>(handle: &PrometheusHandle, req: &Request<B>) -> Response<Full<Bytes>> {
    let plain = |status: StatusCode| {
        let mut resp = Response::new(Full::new(Bytes::from_static(b"")));
        *resp.status_mut() = status;
        resp
    };
    if req.uri().path() != "/metrics" {
        return plain(StatusCode::NOT_FOUND);
    }
    if !matches!(*req.method(), Method::GET | Method::HEAD) {
        let mut resp = plain(StatusCode::METHOD_NOT_ALLOWED);
        resp.headers_mut()
            .insert(ALLOW, HeaderValue::from_static("GET, HEAD"));
        return resp;
    }
    // Upkeep first: it publishes the descriptions (`# HELP`) recorded since the last one.
    handle.run_upkeep();
    let mut resp = Response::new(Full::new(Bytes::from(handle.render())));
    resp.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE_TEXT));
    resp
}

/// One request's metrics, recorded when it is dropped: with its status once
/// [`RequestTimer::finish`]ed, with status `dropped` when the request was abandoned first
/// (the request timeout, a client gone), so every exit path counts.
pub struct RequestTimer {
    route: &'static str,
    method: &'static str,
    started: Instant,
    status: Option<StatusCode>,
}

impl RequestTimer {
    /// Starts timing a request to `route` (a path pattern of the route table, or
    /// [`UNMATCHED_ROUTE`]).
    pub fn start(route: &'static str, method: &Method) -> Self {
        Self {
            route,
            method: method_label(method),
            started: Instant::now(),
            status: None,
        }
    }

    /// The request is answered with `status`.
    pub fn finish(mut self, status: StatusCode) {
        self.status = Some(status);
    }
}

impl Drop for RequestTimer {
    fn drop(&mut self) {
        let status = self
            .status
            .map_or_else(|| "dropped".to_owned(), |s| s.as_u16().to_string());
        let (route, method) = (self.route, self.method);
        metrics::counter!(HTTP_REQUESTS, "route" => route, "method" => method, "status" => status)
            .increment(1);
        metrics::histogram!(HTTP_REQUEST_SECONDS, "route" => route, "method" => method)
            .record(self.started.elapsed());
    }
}

/// A method as a label: the standard ones by name, anything else as `other` (a client
/// chooses the method, and must not choose new label values).
fn method_label(method: &Method) -> &'static str {
    [
        Method::GET,
        Method::HEAD,
        Method::POST,
        Method::PUT,
        Method::PATCH,
        Method::DELETE,
        Method::OPTIONS,
    ]
    .into_iter()
    .zip(["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"])
    .find_map(|(m, label)| (m == *method).then_some(label))
    .unwrap_or("other")
}

/// An open WebSocket session: counted in [`WEBSOCKETS_OPEN`] from [`OpenSocket::new`] until
/// dropped, whichever way the session ends. It keeps the gauge it incremented, so a socket
/// opened before the recorder was installed is not subtracted from the real gauge.
pub struct OpenSocket(metrics::Gauge);

impl OpenSocket {
    /// Counts one more open socket.
    pub fn new() -> Self {
        let gauge = metrics::gauge!(WEBSOCKETS_OPEN);
        gauge.increment(1.0);
        Self(gauge)
    }
}

impl Default for OpenSocket {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for OpenSocket {
    fn drop(&mut self) {
        self.0.decrement(1.0);
    }
}

/// One chat event handed to a socket's writer.
pub fn delivered() {
    metrics::counter!(WEBSOCKET_DELIVERIES).increment(1);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn methods_outside_the_standard_ones_share_one_label() {
        assert_eq!(method_label(&Method::GET), "GET");
        assert_eq!(method_label(&Method::DELETE), "DELETE");
        let odd = Method::from_bytes(b"BREW").unwrap();
        assert_eq!(method_label(&odd), "other");
        assert_eq!(method_label(&Method::TRACE), "other");
    }

    #[test]
    fn only_get_metrics_is_served() {
        let handle = PrometheusBuilder::new().build_recorder().handle();
        let get = |method: Method, path: &str| {
            answer(
                &handle,
                &Request::builder()
                    .method(method)
                    .uri(path)
                    .body(())
                    .unwrap(),
            )
        };
        let ok = get(Method::GET, "/metrics");
        assert_eq!(ok.status(), StatusCode::OK);
        assert_eq!(ok.headers()[CONTENT_TYPE], CONTENT_TYPE_TEXT);
        assert_eq!(get(Method::GET, "/").status(), StatusCode::NOT_FOUND);
        assert_eq!(
            get(Method::GET, "/metrics/x").status(),
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            get(Method::POST, "/metrics").status(),
            StatusCode::METHOD_NOT_ALLOWED
        );
    }
}
