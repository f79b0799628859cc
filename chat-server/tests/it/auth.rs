//! The ways in: Token (keyword in any case), Basic, the session cookie with CSRF, and what
//! every 401 looks like.

use crate::assert_wire_snapshot;
use crate::helpers::*;
use reqwest::Method;
use serde_json::json;

#[tokio::test]
async fn the_token_keyword_is_matched_case_insensitively() {
    let app = spawn_app().await;
    let ann = app.create_user("ann").await;
    for keyword in ["Token", "token", "TOKEN", "tOkEn"] {
        app.get(
            "/api/accounts/me/",
            As::Header(format!("{keyword} {}", ann.token)),
        )
        .await
        .expect(200);
    }
}

#[tokio::test]
async fn an_upper_case_token_still_works() {
    let app = spawn_app().await;
    let ann = app.create_user("ann").await;
    app.get("/api/accounts/me/", As::Token(ann.token.to_uppercase()))
        .await
        .expect(200);
}

#[tokio::test]
async fn without_credentials_the_answer_is_401_with_www_authenticate_token() {
    let app = spawn_app().await;
    let answer = app.get("/api/chat/", As::Anonymous).await;
    answer.expect_error(401, "unauthenticated");
    assert_eq!(answer.header("www-authenticate"), Some("Token"));
    assert_wire_snapshot!("no_credentials", answer.json);
}

#[tokio::test]
async fn a_bad_or_malformed_credential_is_401() {
    let app = spawn_app().await;
    for header in [
        "Token 0000000000000000000000000000000000000000",
        "Token not-even-hex",
        "Token",
        "Bearer abc",
        "Basic %%%",
        "Basic bm9jb2xvbg==",
    ] {
        app.get("/api/chat/", As::Header(header.into()))
            .await
            .expect_error(401, "unauthenticated");
    }
    let answer = app
        .get(
            "/api/chat/",
            As::Header("Token 0000000000000000000000000000000000000000".into()),
        )
        .await;
    assert_wire_snapshot!("bad_token", answer.json);
}

#[tokio::test]
async fn basic_credentials_authenticate_and_a_wrong_password_is_401_not_basic() {
    let app = spawn_app().await;
    let ann = app.create_user("ann").await;
    let answer = app
        .get(
            "/api/accounts/me/",
            As::Basic("ANN".into(), PASSWORD.into()),
        )
        .await;
    answer.expect(200);
    assert_eq!(answer.json["username"], ann.username());
    let answer = app
        .get(
            "/api/accounts/me/",
            As::Basic("ann".into(), "wrong password!".into()),
        )
        .await;
    answer.expect_error(401, "invalid_credentials");
    assert_eq!(answer.header("www-authenticate"), Some("Token"));
    assert_wire_snapshot!("basic_wrong_password", answer.json);
}

#[tokio::test]
async fn the_authorization_header_wins_over_the_session_cookie() {
    let app = spawn_app().await;
    let ann = app.create_user("ann").await;
    let (session, _) = app.create_session(&ann).await;
    let answer = app
        .http
        .get(app.url("/api/accounts/me/"))
        .header("Cookie", format!("chat_session={session}"))
        .header(
            "Authorization",
            "Token 0000000000000000000000000000000000000000",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status().as_u16(), 401);
}

#[tokio::test]
async fn a_session_cookie_authenticates_safe_requests() {
    let app = spawn_app().await;
    let ann = app.create_user("ann").await;
    let (session, _) = app.create_session(&ann).await;
    let answer = app
        .get("/api/accounts/me/", As::Session(session, None))
        .await;
    answer.expect(200);
    assert_eq!(answer.json["username"], "ann");
    app.get("/api/accounts/me/", As::Session("f".repeat(64), None))
        .await
        .expect_error(401, "unauthenticated");
}

#[tokio::test]
async fn an_unsafe_request_under_a_session_needs_the_csrf_token() {
    let app = spawn_app().await;
    let (_, [ann], chat) = app.chat_with_members(["ann"]).await;
    let path = format!("/api/chat/{}/message/", chat.id);
    let (session, csrf) = app.create_session(&ann).await;
    let body = || Send::Json(json!({"content": "hi"}));

    let answer = app
        .call(
            Method::POST,
            &path,
            As::Session(session.clone(), None),
            body(),
        )
        .await;
    answer.expect_error(403, "forbidden");
    assert_wire_snapshot!("csrf_missing", answer.json);
    app.call(
        Method::POST,
        &path,
        As::Session(session.clone(), Some("0".repeat(64))),
        body(),
    )
    .await
    .expect_error(403, "forbidden");
    app.call(
        Method::POST,
        &path,
        As::Session(session.clone(), Some(csrf.clone())),
        body(),
    )
    .await
    .expect(201);
    // A form may carry the token as a field instead of the header.
    app.call(
        Method::POST,
        &path,
        As::Session(session.clone(), None),
        form(&[("content", "from a form"), ("csrf_token", &csrf)]),
    )
    .await
    .expect(201);
    let history = app.get(&path, As::Session(session, None)).await;
    assert_eq!(history.json.as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn a_cross_site_request_with_the_session_cookie_is_refused() {
    let app = spawn_app().await;
    let ann = app.create_user("ann").await;
    let (session, csrf) = app.create_session(&ann).await;
    let answer = app
        .http
        .patch(app.url("/api/accounts/me/"))
        .header("Cookie", format!("chat_session={session}"))
        .header("X-CSRF-Token", &csrf)
        .header("Origin", "https://evil.example")
        .header("Sec-Fetch-Site", "cross-site")
        .json(&json!({"first_name": "Mallory"}))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status().as_u16(), 403);
    let body: serde_json::Value = answer.json().await.unwrap();
    assert_eq!(body["code"], "forbidden");
    // The same request from the server's own origin passes.
    let answer = app
        .http
        .patch(app.url("/api/accounts/me/"))
        .header("Cookie", format!("chat_session={session}"))
        .header("X-CSRF-Token", &csrf)
        .header("Origin", &app.base_url)
        .header("Sec-Fetch-Site", "same-origin")
        .json(&json!({"first_name": "Ann"}))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status().as_u16(), 200);
}

#[tokio::test]
async fn logging_out_a_session_ends_it_and_clears_the_cookie() {
    let app = spawn_app().await;
    let ann = app.create_user("ann").await;
    let (session, csrf) = app.create_session(&ann).await;
    let answer = app
        .post_nothing(
            "/api/accounts/logout/",
            As::Session(session.clone(), Some(csrf)),
        )
        .await;
    answer.expect(204);
    // Both forms of the cookie are cleared: plain and `__Host-` (secure deployments).
    let cleared: Vec<&str> = answer
        .headers
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap())
        .collect();
    assert_eq!(cleared.len(), 2, "{cleared:?}");
    for (cookie, name) in cleared
        .iter()
        .zip(["chat_session=;", "__Host-chat_session=;"])
    {
        assert!(
            cookie.starts_with(name) && cookie.contains("Max-Age=0"),
            "{cookie}"
        );
    }
    app.get("/api/accounts/me/", As::Session(session, None))
        .await
        .expect_error(401, "unauthenticated");
    app.get("/api/accounts/me/", &ann).await.expect(200);
}

#[tokio::test]
async fn a_deactivated_user_is_locked_out_at_once() {
    let app = spawn_app().await;
    let admin = app.create_admin("root").await;
    let ann = app.create_user("ann").await;
    app.set_active(&admin, &ann, false).await;
    app.get("/api/accounts/me/", &ann)
        .await
        .expect_error(401, "unauthenticated");
    app.get(
        "/api/accounts/me/",
        As::Basic("ann".into(), PASSWORD.into()),
    )
    .await
    .expect(401);
}

/// Failed logins from one client address, whatever the usernames, until the IP is limited.
async fn fail_logins_from(app: &TestApp, forwarded_for: &str, users: &[&str]) -> Vec<u16> {
    let mut statuses = Vec::new();
    for user in users {
        let answer = app
            .http
            .post(app.url("/api/accounts/login/"))
            .header("X-Forwarded-For", forwarded_for)
            .json(&json!({"username": user, "password": "wrong password!"}))
            .send()
            .await
            .unwrap();
        statuses.push(answer.status().as_u16());
    }
    statuses
}

#[tokio::test]
async fn forwarded_for_names_the_client_only_behind_a_trusted_proxy() {
    let mut config = chatcore::Config::for_tests();
    config.login_rate_limit.max_failures = 2;
    let behind_proxy = chat_server::Settings {
        trusted_proxies: vec!["127.0.0.1".parse().unwrap()],
        ..chat_server::Settings::default()
    };
    let app = spawn_app_with(Backend::Sqlite, config.clone(), behind_proxy)
        .await
        .unwrap();
    assert_eq!(
        fail_logins_from(&app, "203.0.113.1", &["a", "b", "c"]).await,
        [400, 400, 429]
    );
    // Another client behind the same proxy is not punished for the first one.
    assert_eq!(fail_logins_from(&app, "203.0.113.2", &["d"]).await, [400]);

    let direct = spawn_app_with(Backend::Sqlite, config, chat_server::Settings::default())
        .await
        .unwrap();
    // Untrusted peers cannot dodge the limit by inventing addresses.
    assert_eq!(
        fail_logins_from(&direct, "203.0.113.1", &["a", "b"]).await,
        [400, 400]
    );
    assert_eq!(
        fail_logins_from(&direct, "203.0.113.2", &["d"]).await,
        [429]
    );
}
