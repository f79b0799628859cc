//! Accounts over HTTP: register, login, logout, me, password.

use crate::assert_wire_snapshot;
use crate::helpers::*;
use chatcore::Config;
use reqwest::Method;
use serde_json::json;

#[tokio::test]
async fn registering_answers_201_with_a_token_and_the_user() {
    let app = spawn_app().await;
    let answer = app
        .post_register(json!({"username": "ann", "password": PASSWORD,
            "email": "ann@example.com", "first_name": "Ann", "last_name": "Lee"}))
        .await;
    answer.expect(201);
    assert_eq!(answer.header("content-type"), Some("application/json"));
    assert_wire_snapshot!("register_created", answer.json);
}

#[tokio::test]
async fn registering_accepts_a_form_body() {
    let app = spawn_app().await;
    let answer = app
        .call(
            Method::POST,
            "/api/accounts/register",
            As::Anonymous,
            form(&[("username", "bob"), ("password", PASSWORD)]),
        )
        .await;
    answer.expect(201);
    assert_eq!(answer.json["user"]["username"], "bob");
    assert_eq!(answer.json["user"]["email"], "");
}

#[tokio::test]
async fn a_taken_username_is_409_whatever_its_case() {
    let app = spawn_app().await;
    app.create_user("user4").await;
    let answer = app
        .post_register(json!({"username": "USER4", "password": PASSWORD}))
        .await;
    answer.expect_error(409, "conflict");
    assert_wire_snapshot!("register_taken", answer.json);
}

#[tokio::test]
async fn invalid_registrations_are_400_naming_the_field() {
    let app = spawn_app().await;
    let cases = [
        (
            json!({"username": "bad name!", "password": PASSWORD}),
            "username",
        ),
        (
            json!({"username": "a".repeat(151), "password": PASSWORD}),
            "username",
        ),
        (json!({"username": "", "password": PASSWORD}), "username"),
        (json!({"username": "carl", "password": "1"}), "password"),
        (
            json!({"username": "carl", "password": "12345678901"}),
            "password",
        ),
        (
            json!({"username": "carl", "password": "password"}),
            "password",
        ),
        (
            json!({"username": "alexander", "password": "alexander1"}),
            "password",
        ),
        (
            json!({"username": "carl", "password": PASSWORD, "email": "not-an-email"}),
            "email",
        ),
    ];
    for (body, field) in cases {
        let answer = app.post_register(body.clone()).await;
        answer.expect_error(400, "invalid");
        let text = answer.json["error"].as_str().unwrap();
        assert!(text.starts_with(&format!("{field}:")), "{body} → {text}");
    }
}

#[tokio::test]
async fn a_registration_with_a_missing_field_or_a_wrong_type_is_400() {
    let app = spawn_app().await;
    for body in [
        json!({"username": "carl"}),
        json!({"username": 5, "password": PASSWORD}),
        json!([{"username": "carl", "password": PASSWORD}]),
        json!("carl"),
    ] {
        app.post_register(body).await.expect_error(400, "invalid");
    }
    let answer = app.post_register(json!({"username": "carl"})).await;
    assert_wire_snapshot!("register_missing_field", answer.json);
}

#[tokio::test]
async fn registration_can_be_closed() {
    let config = Config {
        registration_open: false,
        ..Config::for_tests()
    };
    let app = spawn_app_with_config(config).await;
    let answer = app
        .post_register(json!({"username": "ann", "password": PASSWORD}))
        .await;
    answer.expect_error(403, "forbidden");
    assert_wire_snapshot!("register_closed", answer.json);
}

#[tokio::test]
async fn logging_in_gives_a_new_working_token_and_ignores_username_case() {
    let app = spawn_app().await;
    let ann = app.create_user("Ann").await;
    let answer = app.post_login("aNN", PASSWORD).await;
    answer.expect(200);
    assert_wire_snapshot!("login_ok", answer.json);
    let token = answer.json["token"].as_str().unwrap().to_owned();
    assert_ne!(token, ann.token, "each login mints a new token");
    app.get("/api/accounts/me/", As::Token(token))
        .await
        .expect(200);
    app.get("/api/accounts/me/", &ann).await.expect(200);
}

#[tokio::test]
async fn logging_in_accepts_a_form_body() {
    let app = spawn_app().await;
    app.create_user("ann").await;
    app.call(
        Method::POST,
        "/api/accounts/login",
        As::Anonymous,
        form(&[("username", "ann"), ("password", PASSWORD)]),
    )
    .await
    .expect(200);
}

#[tokio::test]
async fn bad_credentials_are_400_and_the_same_for_unknown_inactive_and_wrong_password() {
    let app = spawn_app().await;
    let admin = app.create_admin("root").await;
    app.create_user("ann").await;
    let gone = app.create_user("gone").await;
    app.set_active(&admin, &gone, false).await;
    let mut bodies = Vec::new();
    for (user, password) in [
        ("ann", "wrong password!"),
        ("nobody", PASSWORD),
        ("gone", PASSWORD),
    ] {
        let answer = app.post_login(user, password).await;
        answer.expect_error(400, "invalid_credentials");
        bodies.push(answer.text);
    }
    assert!(bodies.windows(2).all(|w| w[0] == w[1]), "{bodies:?}");
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&bodies[0]).unwrap(),
        json!({"error": "Invalid credentials", "code": "invalid_credentials"})
    );
}

#[tokio::test]
async fn repeated_failed_logins_are_rate_limited_with_retry_after() {
    let mut config = Config::for_tests();
    config.login_rate_limit.max_failures = 2;
    let app = spawn_app_with_config(config).await;
    app.create_user("ann").await;
    for _ in 0..2 {
        app.post_login("ann", "wrong password!").await.expect(400);
    }
    let answer = app.post_login("ann", PASSWORD).await;
    answer.expect_error(429, "rate_limited");
    let retry: u64 = answer.header("retry-after").unwrap().parse().unwrap();
    assert!(retry >= 1);
    assert_wire_snapshot!("login_rate_limited", answer.json);
}

#[tokio::test]
async fn logout_revokes_only_the_presented_token() {
    let app = spawn_app().await;
    let ann = app.create_user("ann").await;
    let second = app.post_login("ann", PASSWORD).await.json["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let answer = app.post_nothing("/api/accounts/logout/", &ann).await;
    answer.expect(204);
    assert!(answer.text.is_empty());
    app.get("/api/accounts/me/", &ann)
        .await
        .expect_error(401, "unauthenticated");
    app.get("/api/accounts/me/", As::Token(second))
        .await
        .expect(200);
}

#[tokio::test]
async fn me_shows_the_caller_with_flags_and_can_be_changed() {
    let app = spawn_app().await;
    let ann = app.create_user("ann").await;
    let answer = app.get("/api/accounts/me", &ann).await;
    answer.expect(200);
    assert_wire_snapshot!("me", answer.json);
    let answer = app
        .patch(
            "/api/accounts/me/",
            &ann,
            json!({"first_name": "Анна", "email": "anna@example.com"}),
        )
        .await;
    answer.expect(200);
    assert_wire_snapshot!("me_patched", answer.json);
    app.patch("/api/accounts/me/", &ann, json!({"email": "nope"}))
        .await
        .expect_error(400, "invalid");
    app.patch("/api/accounts/me/", &ann, json!({"first_name": 7}))
        .await
        .expect_error(400, "invalid");
}

#[tokio::test]
async fn changing_the_password_revokes_old_tokens_and_returns_a_new_one() {
    let app = spawn_app().await;
    let ann = app.create_user("ann").await;
    let new_password = "an entirely new passphrase";
    let answer = app
        .post(
            "/api/accounts/password/",
            &ann,
            json!({"old_password": "not it at all", "new_password": new_password}),
        )
        .await;
    answer.expect_error(400, "invalid");
    assert_wire_snapshot!("password_wrong_old", answer.json);
    let answer = app
        .post(
            "/api/accounts/password/",
            &ann,
            json!({"old_password": PASSWORD, "new_password": new_password}),
        )
        .await;
    answer.expect(200);
    assert_wire_snapshot!("password_changed", answer.json);
    let token = answer.json["token"].as_str().unwrap().to_owned();
    app.get("/api/accounts/me/", &ann)
        .await
        .expect_error(401, "unauthenticated");
    app.get("/api/accounts/me/", As::Token(token))
        .await
        .expect(200);
    app.post_login("ann", new_password).await.expect(200);
}
