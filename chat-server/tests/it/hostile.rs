//! Hostile clients: oversized request heads, floods of parallel password guesses, and names
//! no account can have. Raw TCP where the client must not be a well-behaved HTTP library.

use crate::helpers::*;
use chatcore::Config;
use serde_json::json;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// `GET /healthz` with one padding header that makes the head about `head_bytes` long.
fn request_with_head_of(head_bytes: usize) -> Vec<u8> {
    let start = "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\nX-Pad: ";
    let end = "\r\n\r\n";
    let pad = head_bytes.saturating_sub(start.len() + end.len());
    format!("{start}{}{end}", "a".repeat(pad)).into_bytes()
}

/// Sends `request` and reads what the server answers until it closes (or resets) the
/// connection: a server refusing a head may close before it has read all of it.
async fn send_raw(app: &TestApp, request: &[u8]) -> String {
    let mut stream = tokio::net::TcpStream::connect(app.address).await.unwrap();
    // The server may stop reading (and answer) before the whole request is written.
    let _ = stream.write_all(request).await;
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let read = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buf))
            .await
            .expect("the server answers or closes within 5 s");
        match read {
            Ok(0) | Err(_) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The status line's code, or the whole answer when there is none.
fn status_of(answer: &str) -> &str {
    answer
        .strip_prefix("HTTP/1.1 ")
        .and_then(|rest| rest.get(..3))
        .unwrap_or(answer)
}

#[tokio::test]
async fn a_request_head_over_16_kib_answers_431() {
    let app = spawn_app().await;
    let small = send_raw(&app, &request_with_head_of(12 * 1024)).await;
    assert_eq!(status_of(&small), "200", "a 12 KiB head is served");
    for size in [20 * 1024, 64 * 1024, 400 * 1024] {
        let answer = send_raw(&app, &request_with_head_of(size)).await;
        assert_eq!(status_of(&answer), "431", "a {size}-byte head");
    }
    // The server still serves afterwards.
    app.get("/healthz", As::Anonymous).await.expect(200);
}

#[tokio::test]
async fn the_request_head_limit_is_a_setting() {
    let settings = chat_server::Settings {
        max_header_bytes: 32 * 1024,
        ..chat_server::Settings::default()
    };
    let app = spawn_app_with(Backend::Sqlite, Config::for_tests(), settings)
        .await
        .unwrap();
    let answer = send_raw(&app, &request_with_head_of(20 * 1024)).await;
    assert_eq!(status_of(&answer), "200");
    let answer = send_raw(&app, &request_with_head_of(40 * 1024)).await;
    assert_eq!(status_of(&answer), "431");
}

#[tokio::test]
async fn forty_parallel_wrong_logins_get_only_the_budgets_guesses() {
    let mut config = Config::for_tests();
    config.login_rate_limit.max_failures = 3;
    let app = spawn_app_with(Backend::Sqlite, config, chat_server::Settings::default())
        .await
        .unwrap();
    app.create_user("ann").await;
    let answers = futures_util::future::join_all((0..40).map(|i| {
        app.post(
            "/api/accounts/login/",
            As::Anonymous,
            json!({"username": "ann", "password": format!("wrong password {i}")}),
        )
    }))
    .await;
    let (mut invalid, mut limited) = (0, 0);
    for answer in &answers {
        match answer.status.as_u16() {
            400 => {
                answer.expect_error(400, "invalid_credentials");
                invalid += 1;
            }
            429 => {
                answer.expect_error(429, "rate_limited");
                limited += 1;
            }
            other => panic!("unexpected {other}: {}", answer.text),
        }
    }
    eprintln!("40 parallel wrong logins over HTTP: {invalid} × 400, {limited} × 429");
    assert_eq!((invalid, limited), (3, 37));
}

#[tokio::test]
async fn a_name_no_account_can_have_answers_like_any_wrong_login() {
    let mut config = Config::for_tests();
    config.login_rate_limit.max_failures = 2;
    let app = spawn_app_with(Backend::Sqlite, config, chat_server::Settings::default())
        .await
        .unwrap();
    // 20 × U+FDFA is 360 characters after NFKC.
    let long = "\u{FDFA}".repeat(20);
    app.post(
        "/api/accounts/login/",
        As::Anonymous,
        json!({"username": long, "password": "wrong password!"}),
    )
    .await
    .expect_error(400, "invalid_credentials");
    app.get(
        "/api/chat/",
        As::Basic(long.clone(), "wrong password!".into()),
    )
    .await
    .expect_error(401, "invalid_credentials");
    // Both counted against this client's address.
    app.post(
        "/api/accounts/login/",
        As::Anonymous,
        json!({"username": "ann", "password": "wrong password!"}),
    )
    .await
    .expect_error(429, "rate_limited");
}
