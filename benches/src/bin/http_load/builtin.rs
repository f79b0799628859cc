//! The built-in client: a minimal hyper HTTP/1.1 client on the client runtime, one
//! keep-alive connection per simulated user with that user's token, one request at a time.
//! Also the page check before the load.

use crate::{Cell, Op, Outcome, Target, Timing};
use benches::child_server::connect;
use benches::{BoxError, Percentiles, Samples, Window};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use std::time::Instant;

/// The request of `op` with `token` (and, for a post, `body`).
pub(crate) fn request(target: &Target, op: Op, token: &str, body: String) -> Request<Full<Bytes>> {
    let builder = Request::builder()
        .uri(target.path(op))
        .header(http::header::HOST, target.addr.to_string())
        .header(http::header::AUTHORIZATION, format!("Token {token}"));
    match op {
        Op::Get => builder.method(http::Method::GET).body(Full::default()),
        Op::Post => builder
            .method(http::Method::POST)
            .header(http::header::CONTENT_TYPE, "application/json")
            .body(Full::new(Bytes::from(body))),
    }
    .expect("the request is well-formed")
}

/// Fails unless `GET …?limit=` answers 200 with a full page; prints the page's size.
pub(crate) async fn check_page(target: &Target) -> Result<(), BoxError> {
    let mut sender = connect(target.addr).await?;
    let response = sender
        .send_request(request(target, Op::Get, &target.tokens[0], String::new()))
        .await?;
    let status = response.status();
    let body = response.into_body().collect().await?.to_bytes();
    let page: serde_json::Value = serde_json::from_slice(&body)?;
    let len = page.as_array().map_or(0, Vec::len);
    if status != http::StatusCode::OK || len != target.limit {
        return Err(format!(
            "status {status}, {len} messages, wanted 200 and {}",
            target.limit
        )
        .into());
    }
    println!(
        "A page of {len} messages is {} bytes of JSON.\n",
        body.len()
    );
    Ok(())
}

/// What one built-in connection reports: the requests that started in the window, and the
/// counts.
#[derive(Default)]
struct ConnectionReport {
    measured: Samples,
    non_2xx: u64,
    errors: u64,
    /// 2xx posts over the whole run (warm-up included).
    posted: u64,
}

/// `connections` users, each on their own keep-alive connection with their own token,
/// sending one request at a time for the warm-up and the window.
pub(crate) async fn run(target: &Target, cell: Cell, timing: Timing) -> Result<Outcome, BoxError> {
    let timeline = Window::new(timing.warmup, timing.window);
    let users = cell.connections.min(target.tokens.len());
    let tasks: Vec<_> = (0..cell.connections)
        .map(|c| {
            let target = target.clone();
            let token = target.tokens[c % target.tokens.len()].clone();
            tokio::spawn(async move {
                let mut report = ConnectionReport::default();
                let mut sender = connect(target.addr).await?;
                tokio::time::sleep_until(timeline.start.into()).await;
                let mut k = 0_u64;
                while let Some(began) = timeline.next_start() {
                    k += 1;
                    let body = format!(
                        r#"{{"content": "message {k} from connection {c}: the quick brown fox"}}"#
                    );
                    let result = async {
                        sender.ready().await?;
                        let response = sender
                            .send_request(request(&target, cell.op, &token, body))
                            .await?;
                        let status = response.status();
                        response.into_body().collect().await?;
                        Ok::<_, BoxError>(status)
                    }
                    .await;
                    let done = Instant::now();
                    match result {
                        Ok(status) => {
                            if status.is_success() {
                                if cell.op == Op::Post {
                                    report.posted += 1;
                                }
                            } else if timeline.measures(began) {
                                report.non_2xx += 1;
                            }
                            report.measured.record(&timeline, began, done);
                        }
                        Err(e) => {
                            report.errors += 1;
                            if report.errors == 1 {
                                eprintln!("connection {c}: request failed: {e}");
                            }
                            sender = connect(target.addr).await?;
                        }
                    }
                }
                Ok::<_, BoxError>(report)
            })
        })
        .collect();

    let mut samples = Samples::default();
    let mut non_2xx = 0;
    let mut errors = 0;
    let mut posted = 0;
    for task in tasks {
        let report = task.await??;
        non_2xx += report.non_2xx;
        errors += report.errors;
        posted += report.posted;
        samples.merge(report.measured);
    }
    let (elapsed, mut latencies) = samples.into_parts();
    let responses = latencies.len() as u64;
    Ok(Outcome {
        cell,
        responses,
        per_second: responses as f64 / elapsed.as_secs_f64().max(f64::EPSILON),
        latency: Percentiles::of(&mut latencies),
        non_2xx,
        errors,
        users,
        posted,
    })
}
