//! `--metrics-bind`: the metrics listener answers the Prometheus text format with every
//! family after some traffic, the public listener has no `/metrics`, and without the flag
//! nothing listens. The recorder is process-wide and other tests run beside these, so the
//! counters are checked as deltas between two scrapes, never as absolute values.

use crate::helpers::*;
use crate::sockets::{next_json, socket};
use chat_server::Application;
use chatcore::{Config, LoginRateLimit};
use serde_json::json;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// A sample's labels, `(name, value)`.
type Labels<'a> = &'a [(&'a str, &'a str)];

/// One scrape of a metrics listener.
struct Scrape(String);

impl Scrape {
    async fn of(app: &TestApp) -> Self {
        let address = app.metrics_address.expect("the app serves metrics");
        let resp = reqwest::get(format!("http://{address}/metrics"))
            .await
            .expect("the metrics listener answers");
        assert_eq!(resp.status(), 200);
        assert_eq!(
            resp.headers()["content-type"],
            "text/plain; version=0.0.4",
            "the Prometheus text format"
        );
        Self(resp.text().await.expect("the body is text"))
    }

    /// The sum of the samples of `name` carrying every label of `labels` (0 when none).
    fn value(&self, name: &str, labels: Labels) -> f64 {
        self.0
            .lines()
            .filter(|line| !line.starts_with('#'))
            .filter_map(|line| line.rsplit_once(' '))
            .filter(|(series, _)| {
                let (metric, rest) = series.split_once('{').unwrap_or((series, ""));
                metric == name
                    && labels
                        .iter()
                        .all(|(k, v)| rest.contains(&format!("{k}=\"{v}\"")))
            })
            .map(|(_, value)| value.parse::<f64>().expect("a sample is a number"))
            .sum()
    }

    /// Whether the family is described with its type.
    fn has_family(&self, name: &str, kind: &str) -> bool {
        self.0.contains(&format!("# TYPE {name} {kind}\n"))
    }
}

#[tokio::test]
async fn the_metrics_listener_serves_every_family_after_requests_logins_and_a_socket() {
    let mut config = Config::for_tests();
    config.login_rate_limit = LoginRateLimit {
        max_failures: 2,
        window: Duration::from_secs(300),
    };
    let app = spawn_app_with_metrics(config).await;
    let before = Scrape::of(&app).await;

    let (admin, chat) = app.admin_with_own_chat().await;
    app.get("/api/chat/", &admin).await.expect(200);
    app.get("/api/chat/", &admin).await.expect(200);
    app.get("/api/chat/987654/", &admin).await.expect(404);
    app.get("/no/such/page/123456/", &admin).await.expect(404);
    // Two wrong passwords, then the limiter refuses the third attempt.
    app.post_login("root", "wrong password").await.expect(400);
    app.post_login("root", "wrong password").await.expect(400);
    app.post_login("root", "wrong password").await.expect(429);

    // The second page comes from memory; a rename moves the database's change counter,
    // so the next read empties the cache.
    let page = format!("/api/chat/{}/message/", chat.id);
    app.get(&page, &admin).await.expect(200);
    app.get(&page, &admin).await.expect(200);
    let renamed = json!({ "name": "renamed" });
    app.patch(&format!("/api/chat/{}/", chat.id), &admin, renamed)
        .await
        .expect(200);
    app.get(&page, &admin).await.expect(200);

    let mut ws = socket(&app, &admin, chat.id).await;
    app.post(
        &format!("/api/chat/{}/message/", chat.id),
        &admin,
        json!({ "content": "hello" }),
    )
    .await
    .expect(201);
    assert_eq!(next_json(&mut ws).await["type"], "message");
    let during = Scrape::of(&app).await;
    assert!(during.value("chat_websockets_open", &[]) >= 1.0);
    ws.close(None).await.expect("the socket closes");

    let after = Scrape::of(&app).await;
    let requests = "chat_http_requests_total";
    let seconds = "chat_http_request_duration_seconds";
    let grown: &[(&str, Labels, f64)] = &[
        (
            requests,
            &[
                ("route", "/api/chat/"),
                ("method", "GET"),
                ("status", "200"),
            ],
            2.0,
        ),
        (
            requests,
            &[("route", "/api/chat/{id}/"), ("status", "404")],
            1.0,
        ),
        (requests, &[("route", "unmatched"), ("status", "404")], 1.0),
        (
            &format!("{seconds}_count"),
            &[("route", "/api/chat/"), ("method", "GET")],
            2.0,
        ),
        (
            &format!("{seconds}_bucket"),
            &[("route", "/api/chat/"), ("le", "+Inf")],
            2.0,
        ),
        ("chat_login_failures_total", &[], 2.0),
        ("chat_login_limiter_refusals_total", &[], 1.0),
        ("chat_websocket_deliveries_total", &[], 1.0),
        ("chat_writer_batch_size_count", &[], 1.0),
        ("chat_writer_commit_seconds_count", &[], 1.0),
        ("chat_writer_post_seconds_count", &[], 1.0),
        ("chat_cache_hits_total", &[("cache", "token")], 1.0),
        ("chat_cache_hits_total", &[("cache", "standing")], 1.0),
        ("chat_cache_hits_total", &[("cache", "tail")], 1.0),
        ("chat_cache_misses_total", &[("cache", "tail")], 1.0),
        ("chat_cache_flushes_total", &[], 1.0),
    ];
    for (name, labels, at_least) in grown {
        let delta = after.value(name, labels) - before.value(name, labels);
        assert!(delta >= *at_least, "{name} {labels:?} grew by {delta}");
    }
    assert!(
        !after.0.contains("987654") && !after.0.contains("123456"),
        "labels hold route patterns, never raw paths"
    );
    for (family, kind) in [
        ("chat_http_requests_total", "counter"),
        ("chat_http_request_duration_seconds", "histogram"),
        ("chat_websockets_open", "gauge"),
        ("chat_websocket_deliveries_total", "counter"),
        ("chat_writer_batch_size", "histogram"),
        ("chat_writer_commit_seconds", "histogram"),
        ("chat_writer_post_seconds", "histogram"),
        ("chat_login_failures_total", "counter"),
        ("chat_login_limiter_refusals_total", "counter"),
        ("chat_cache_hits_total", "counter"),
        ("chat_cache_misses_total", "counter"),
        ("chat_cache_flushes_total", "counter"),
    ] {
        assert!(
            after.has_family(family, kind),
            "{family} {kind}:\n{}",
            after.0
        );
        assert!(
            after.0.contains(&format!("# HELP {family} ")),
            "{family} has help"
        );
    }
}

#[tokio::test]
async fn the_public_listener_has_no_metrics_and_the_metrics_listener_nothing_else() {
    let app = spawn_app_with_metrics(Config::for_tests()).await;
    app.get("/metrics", As::Anonymous).await.expect(404);
    let address = app.metrics_address.expect("the app serves metrics");
    let other = reqwest::get(format!("http://{address}/api/chat/"))
        .await
        .expect("the metrics listener answers");
    assert_eq!(other.status(), 404);
}

#[tokio::test]
async fn without_metrics_bind_nothing_listens_and_with_it_the_listener_stops_with_the_server() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("chat.db").display());
    let build = || {
        Application::build(
            &url,
            Config::for_tests(),
            "127.0.0.1:0".parse().unwrap(),
            chat_server::Settings::default(),
        )
    };
    let plain = build().await.expect("the application builds");
    assert_eq!(plain.metrics_addr(), None, "no metrics listener by default");
    drop(plain);

    let app = build()
        .await
        .expect("the application builds")
        .with_metrics("127.0.0.1:0".parse().unwrap())
        .await
        .expect("the metrics address binds");
    let metrics = app.metrics_addr().expect("a metrics listener");
    assert_ne!(Some(metrics), app.local_addr().ok());
    let shutdown = CancellationToken::new();
    let server = tokio::spawn(app.run_until_stopped(shutdown.clone()));
    let url = format!("http://{metrics}/metrics");
    assert_eq!(reqwest::get(&url).await.unwrap().status(), 200);
    // An idle keep-alive connection to the metrics listener does not hold shutdown up.
    let client = reqwest::Client::new();
    client.get(&url).send().await.unwrap();
    shutdown.cancel();
    tokio::time::timeout(Duration::from_secs(5), server)
        .await
        .expect("the server stops promptly")
        .expect("the server task ends cleanly")
        .expect("the server ran");
    assert!(
        tokio::net::TcpStream::connect(metrics).await.is_err(),
        "nothing listens once stopped"
    );
}
