//! Property tests of every parser of client input, through the real server: JSON and form
//! bodies, query strings, the `Authorization` header and cookies. Whatever a client sends,
//! the answer is never a 500 and never a panic, and every refusal is the JSON error shape.

use crate::helpers::*;
use proptest::prelude::*;
use proptest::test_runner::{Config as Cases, TestRunner};
use reqwest::Method;
use serde_json::Value;

/// Runs `cases` inputs from `strategy` through `request` against one server and checks
/// every answer.
fn check<S>(strategy: S, request: impl Fn(&TestApp, &TestUser, S::Value) -> reqwest::RequestBuilder)
where
    S: Strategy,
    S::Value: std::fmt::Debug,
{
    let runtime = tokio::runtime::Runtime::new().expect("a runtime starts");
    let (app, ann) = runtime.block_on(async {
        let app = spawn_app().await;
        let admin = app.create_admin("root").await;
        let ann = app.create_user("ann").await;
        app.create_chat(&admin, "general", &[&ann]).await;
        (app, ann)
    });
    let mut runner = TestRunner::new(Cases {
        cases: 128,
        failure_persistence: None,
        ..Cases::default()
    });
    let result = runner.run(&strategy, |input| {
        let described = format!("{input:?}");
        let answer = runtime.block_on(async {
            let response = request(&app, &ann, input)
                .send()
                .await
                .expect("the server answers");
            let status = response.status().as_u16();
            let content_type = response
                .headers()
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned();
            let text = response.text().await.unwrap_or_default();
            (status, content_type, text)
        });
        let (status, content_type, text) = answer;
        prop_assert!(status < 500, "{described} → {status} {text}");
        if status >= 400 {
            prop_assert_eq!(content_type.as_str(), "application/json", "{}", described);
            let body: Value = serde_json::from_str(&text).expect("the refusal is JSON");
            prop_assert!(
                body["error"].as_str().is_some_and(|e| !e.is_empty()),
                "{}",
                text
            );
            prop_assert!(body["code"].is_string(), "{}", text);
        }
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
}

/// Content types a client might declare (or none).
fn content_type() -> impl Strategy<Value = Option<String>> {
    prop_oneof![
        Just(None),
        Just(Some("application/json".to_owned())),
        Just(Some("application/x-www-form-urlencoded".to_owned())),
        Just(Some("application/json; charset=utf-8".to_owned())),
        Just(Some("text/plain".to_owned())),
        "[ -~]{0,40}".prop_map(Some),
    ]
}

/// Bodies: arbitrary bytes, JSON-ish text and form-ish text.
fn body() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..300),
        r#"\{("[a-z_]{0,12}": ?("[^"]{0,20}"|-?[0-9]{1,20}|true|null|\[[0-9, ]{0,10}\]|\{\}),? ?){0,5}\}"#
            .prop_map(String::into_bytes),
        "([a-z_%]{0,12}=[a-zA-Z0-9%+&=]{0,20}&?){0,6}".prop_map(String::into_bytes),
    ]
}

#[test]
fn any_body_on_any_body_route_is_answered_without_a_500() {
    let routes = [
        (Method::POST, "/api/accounts/login/"),
        (Method::POST, "/api/accounts/register/"),
        (Method::POST, "/api/chat/1/message/"),
        (Method::PATCH, "/api/accounts/me/"),
        (Method::POST, "/api/chat/"),
        (Method::PATCH, "/api/users/1/"),
    ];
    check(
        (0..routes.len(), content_type(), body()),
        move |app, ann, (route, content_type, body)| {
            let (method, path) = &routes[route];
            let mut req = app
                .http
                .request(method.clone(), app.url(path))
                .header("authorization", format!("Token {}", ann.token))
                .body(body);
            if let Some(ct) = content_type {
                req = req.header("content-type", ct);
            }
            req
        },
    );
}

#[test]
fn any_query_string_is_answered_without_a_500() {
    let paths = ["/api/chat/1/message/", "/api/users/", "/api/chat/"];
    let query = prop_oneof![
        "([a-z_]{0,12}=[-0-9a-z%+]{0,22}&?){0,5}",
        "(limit|before_seq|after_seq|offset|q)=[-0-9a-zA-Z%.+e]{0,25}(&(limit|before_seq|after_seq|offset|q)=[-0-9%]{0,25}){0,3}",
        "[ -~]{0,60}",
    ];
    check((0..paths.len(), query), move |app, ann, (path, query)| {
        let query: String = query.replace(['#', ' '], "");
        app.http
            .get(format!("{}?{query}", app.url(paths[path])))
            .header("authorization", format!("Token {}", ann.token))
    });
}

#[test]
fn any_authorization_header_is_answered_without_a_500() {
    let value = prop_oneof![
        "(Token|token|TOKEN|Basic|basic|Bearer|) ?[ -~]{0,80}",
        "Basic [A-Za-z0-9+/=]{0,60}",
        "[!-~][ -~]{0,100}",
    ];
    check(value, |app, _, value| {
        app.http
            .get(app.url("/api/chat/"))
            .header("authorization", value.trim().to_owned())
    });
}

#[test]
fn any_cookie_header_is_answered_without_a_500() {
    let value = prop_oneof![
        "chat_session=[ -:<-~]{0,80}",
        "([a-z_]{1,12}=[!-:<-~]{0,20}; ?){0,5}chat_session=[0-9a-f]{0,70}",
        "[!-~][ -~]{0,100}",
    ];
    check(value, |app, _, value| {
        app.http
            .post(app.url("/api/chat/1/message/"))
            .header("cookie", value.trim().to_owned())
            .header("content-type", "application/json")
            .body(r#"{"content":"hi"}"#)
    });
}
