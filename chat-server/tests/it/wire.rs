//! The wire itself: every route with and without its trailing slash, unknown paths, wrong
//! methods, body limits and types, and the headers every response carries.

use crate::assert_wire_snapshot;
use crate::helpers::*;
use chat_server::routes::ROUTES;
use reqwest::Method;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Sends raw bytes and reads the raw answer until the server closes the connection.
async fn raw(app: &TestApp, request: &[u8]) -> String {
    let mut stream = tokio::net::TcpStream::connect(app.address).await.unwrap();
    stream.write_all(request).await.unwrap();
    let mut out = Vec::new();
    stream.read_to_end(&mut out).await.unwrap();
    String::from_utf8_lossy(&out).into_owned()
}

#[tokio::test]
async fn every_route_answers_with_and_without_its_trailing_slash() {
    let app = spawn_app().await;
    let admin = app.create_admin("root").await;
    let ann = app.create_user("ann").await;
    // Basic is used because logout cannot revoke it.
    let who = || As::Basic("root".into(), PASSWORD.into());
    for route in ROUTES {
        let chat = app.create_chat(&admin, "general", &[&ann]).await;
        let path = route
            .path
            .replace(
                "{id}",
                &match route.doc.name {
                    "updateUser" => ann.id().to_string(),
                    _ => chat.id.to_string(),
                },
            )
            .replace("{uid}", &ann.id().to_string());
        let other = match path.strip_suffix('/') {
            Some(bare) => bare.to_owned(),
            None => format!("{path}/"),
        };
        for p in [&path, &other] {
            let body = match route.method {
                Method::GET | Method::DELETE | Method::PUT => Send::Nothing,
                _ => Send::Json(json!({})),
            };
            let answer = app.call(route.method.clone(), p, who(), body).await;
            let status = answer.status.as_u16();
            assert!(
                status != 405 && answer.json["error"] != "Not found",
                "{} {p} is not routed: {status} {}",
                route.method,
                answer.text
            );
        }
    }
}

#[tokio::test]
async fn an_unknown_api_path_is_a_json_404_without_internals() {
    let app = spawn_app().await;
    let admin = app.create_admin("root").await;
    for path in [
        "/api",
        "/api/",
        "/api/nope/",
        "/api/chat/1/nope/",
        "/ws/nope/",
    ] {
        let answer = app.get(path, &admin).await;
        answer.expect_error(404, "not_found");
        assert_eq!(
            answer.json,
            json!({"error": "Not found", "code": "not_found"}),
            "{path}"
        );
    }
    let answer = app.get("/api/nope/", As::Anonymous).await;
    assert_wire_snapshot!("unknown_path", answer.json);
}

#[tokio::test]
async fn an_unknown_path_outside_the_api_is_an_html_404_page() {
    let app = spawn_app().await;
    let admin = app.create_admin("root").await;
    for path in ["/nope/", "/admin/nope/", "/static/x.js", "/chats/1/nope/"] {
        let answer = app.get(path, &admin).await;
        answer.expect(404);
        assert_eq!(
            answer.header("content-type"),
            Some("text/html; charset=utf-8"),
            "{path}"
        );
        assert!(
            answer
                .text
                .contains("<p class=\"error-code\" aria-hidden=\"true\">404</p>"),
            "{path}: {}",
            answer.text
        );
    }
    let answer = app.delete("/api/chat/", &admin).await;
    answer.expect_error(405, "invalid");
}

#[tokio::test]
async fn a_wrong_method_is_405_with_allow() {
    let app = spawn_app().await;
    let admin = app.create_admin("root").await;
    let answer = app.delete("/api/chat/", &admin).await;
    answer.expect_error(405, "invalid");
    assert_eq!(answer.header("allow"), Some("GET, POST, HEAD, OPTIONS"));
    assert_wire_snapshot!("wrong_method", answer.json);
    let answer = app.get("/api/accounts/login", As::Anonymous).await;
    answer.expect(405);
    assert_eq!(answer.header("allow"), Some("POST, OPTIONS"));
    let answer = app.put("/api/chat/1/message/", As::Anonymous).await;
    assert_eq!(answer.header("allow"), Some("GET, POST, HEAD, OPTIONS"));
}

#[tokio::test]
async fn options_lists_the_allowed_methods_and_grants_no_cors() {
    let app = spawn_app().await;
    let answer = app
        .http
        .request(Method::OPTIONS, app.url("/api/chat/1/user/2/"))
        .header("Origin", "https://elsewhere.example")
        .header("Access-Control-Request-Method", "DELETE")
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status().as_u16(), 204);
    assert_eq!(answer.headers()["allow"], "PUT, DELETE, OPTIONS");
    assert!(
        answer
            .headers()
            .get("access-control-allow-origin")
            .is_none()
    );
}

#[tokio::test]
async fn head_answers_like_get_without_a_body() {
    let app = spawn_app().await;
    let ann = app.create_user("ann").await;
    let answer = app
        .call(Method::HEAD, "/api/chat", &ann, Send::Nothing)
        .await;
    answer.expect(200);
    assert!(answer.text.is_empty());
    assert_eq!(answer.header("content-type"), Some("application/json"));
}

#[tokio::test]
async fn an_oversized_body_is_413_whether_its_length_is_declared_or_not() {
    let app = spawn_app().await;
    let ann = app.create_user("ann").await;
    let big = format!(r#"{{"content": "{}"}}"#, "x".repeat(100 * 1024));
    let answer = app
        .call(
            Method::POST,
            "/api/chat/1/message/",
            &ann,
            Send::Raw(Some("application/json".into()), big.clone().into_bytes()),
        )
        .await;
    answer.expect_error(413, "invalid");
    assert_wire_snapshot!("too_large", answer.json);

    // Chunked, so only reading the body finds out.
    let chunk = "x".repeat(70 * 1024);
    let request = format!(
        "POST /api/accounts/login/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\
         Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n\
         {:x}\r\n{chunk}\r\n0\r\n\r\n",
        chunk.len()
    );
    let answer = raw(&app, request.as_bytes()).await;
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.contains(r#""code":"invalid""#), "{answer}");
}

#[tokio::test]
async fn a_body_that_is_neither_json_nor_a_form_is_415() {
    let app = spawn_app().await;
    for content_type in [
        Some("text/plain"),
        Some("multipart/form-data; boundary=x"),
        None,
    ] {
        let answer = app
            .call(
                Method::POST,
                "/api/accounts/login/",
                As::Anonymous,
                Send::Raw(
                    content_type.map(str::to_owned),
                    br#"{"username":"a","password":"b"}"#.to_vec(),
                ),
            )
            .await;
        answer.expect_error(415, "invalid");
    }
    let answer = app
        .call(
            Method::POST,
            "/api/accounts/login/",
            As::Anonymous,
            Send::Raw(Some("text/plain".into()), b"hi".to_vec()),
        )
        .await;
    assert_wire_snapshot!("unsupported_media_type", answer.json);
}

#[tokio::test]
async fn malformed_bodies_are_400() {
    let app = spawn_app().await;
    let json_type = || Some("application/json".to_owned());
    for body in [
        &b"{"[..],
        b"",
        b"null",
        b"42",
        b"\"x\"",
        b"{\"username\": \"\xff\"}",
    ] {
        let answer = app
            .call(
                Method::POST,
                "/api/accounts/login/",
                As::Anonymous,
                Send::Raw(json_type(), body.to_vec()),
            )
            .await;
        answer.expect_error(400, "invalid");
    }
    let answer = app
        .call(
            Method::POST,
            "/api/accounts/login/",
            As::Anonymous,
            Send::Raw(json_type(), b"{".to_vec()),
        )
        .await;
    assert_wire_snapshot!("malformed_json", answer.json);
    let answer = app
        .call(
            Method::POST,
            "/api/accounts/login/",
            As::Anonymous,
            form(&[("username", "a"), ("username", "b"), ("password", "c")]),
        )
        .await;
    answer.expect_error(400, "invalid");
}

#[tokio::test]
async fn every_response_carries_the_security_headers_and_a_request_id() {
    let app = spawn_app().await;
    let ann = app.create_user("ann").await;
    let answers = [
        app.get("/api/chat/", &ann).await,
        app.get("/api/chat/", As::Anonymous).await,
        app.get("/api/nope", As::Anonymous).await,
        app.delete("/healthz", As::Anonymous).await,
        app.get("/healthz", As::Anonymous).await,
    ];
    for answer in &answers {
        assert_eq!(
            answer.header("content-security-policy"),
            Some("default-src 'self'")
        );
        assert_eq!(answer.header("x-frame-options"), Some("DENY"));
        assert_eq!(answer.header("x-content-type-options"), Some("nosniff"));
        assert_eq!(answer.header("referrer-policy"), Some("no-referrer"));
        let id = answer.header("x-request-id").unwrap();
        assert!(
            id.len() == 16 && id.bytes().all(|b| b.is_ascii_hexdigit()),
            "{id}"
        );
        assert_eq!(answer.header("content-type"), Some("application/json"));
    }
    let ids: std::collections::HashSet<_> = answers
        .iter()
        .map(|a| a.header("x-request-id").unwrap())
        .collect();
    assert_eq!(ids.len(), answers.len(), "request ids are unique");
    let answer = app
        .http
        .get(app.url("/healthz"))
        .header("x-request-id", "trace-me-42")
        .send()
        .await
        .unwrap();
    assert_eq!(answer.headers()["x-request-id"], "trace-me-42");
}

#[tokio::test]
async fn json_is_utf8_and_not_escaped() {
    let app = spawn_app().await;
    let admin = app.create_admin("root").await;
    let chat = app.create_chat(&admin, "Чат", &[&admin]).await;
    app.post_message(&admin, chat.id, "Привет 👋").await;
    let answer = app
        .get(&format!("/api/chat/{}/message/", chat.id), &admin)
        .await;
    assert!(answer.text.contains("Привет 👋"), "{}", answer.text);
    assert!(!answer.text.contains("\\u"), "{}", answer.text);
    assert_eq!(answer.header("cache-control"), Some("no-store"));
}

#[tokio::test]
async fn a_slow_client_sending_headers_is_cut_off() {
    let settings = chat_server::Settings {
        header_read_timeout: std::time::Duration::from_millis(200),
        ..chat_server::Settings::default()
    };
    let app = spawn_app_with(Backend::Sqlite, chatcore::Config::for_tests(), settings)
        .await
        .unwrap();
    let mut stream = tokio::net::TcpStream::connect(app.address).await.unwrap();
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let mut out = Vec::new();
    let read = tokio::time::timeout(
        std::time::Duration::from_secs(5),
        stream.read_to_end(&mut out),
    )
    .await
    .expect("the server closes the connection by itself");
    assert!(read.is_ok());
    let text = String::from_utf8_lossy(&out);
    assert!(
        text.is_empty() || text.starts_with("HTTP/1.1 408"),
        "{text}"
    );
}
