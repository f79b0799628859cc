//! The authorization matrix over HTTP: every endpoint × {anonymous, bad token, non-member,
//! member, admin}, each cell on fresh state, compared with the expected status.

use crate::helpers::*;
use reqwest::Method;
use serde_json::{Value, json};

/// The callers of one cell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Anonymous,
    BadToken,
    Outsider,
    Member,
    Admin,
}

const ROLES: [Role; 5] = [
    Role::Anonymous,
    Role::BadToken,
    Role::Outsider,
    Role::Member,
    Role::Admin,
];

/// `{chat}`: a fresh chat with the member and `target` in it; `{target}`: another member;
/// `{self}`: the caller's own id (the member's for anonymous callers).
struct Row {
    method: Method,
    path: &'static str,
    body: Option<Value>,
    expected: [u16; 5],
}

fn rows() -> Vec<Row> {
    let row = |method: Method, path, body: Option<Value>, expected| Row {
        method,
        path,
        body,
        expected,
    };
    vec![
        row(Method::GET, "/api/chat/", None, [401, 401, 200, 200, 200]),
        row(
            Method::POST,
            "/api/chat/",
            Some(json!({"name": "new"})),
            [401, 401, 403, 403, 201],
        ),
        row(
            Method::GET,
            "/api/chat/{chat}/",
            None,
            [401, 401, 403, 200, 200],
        ),
        row(
            Method::PATCH,
            "/api/chat/{chat}/",
            Some(json!({"name": "renamed"})),
            [401, 401, 403, 403, 200],
        ),
        row(
            Method::DELETE,
            "/api/chat/{chat}/",
            None,
            [401, 401, 403, 403, 204],
        ),
        row(
            Method::GET,
            "/api/chat/{chat}/message/",
            None,
            [401, 401, 403, 200, 200],
        ),
        // An admin reads every chat but posts only where a member.
        row(
            Method::POST,
            "/api/chat/{chat}/message/",
            Some(json!({"content": "hi"})),
            [401, 401, 403, 201, 403],
        ),
        // Only a member has a read marker.
        row(
            Method::POST,
            "/api/chat/{chat}/read/",
            Some(json!({"seq": 0})),
            [401, 401, 403, 200, 403],
        ),
        row(
            Method::GET,
            "/api/chat/{chat}/members/",
            None,
            [401, 401, 403, 200, 200],
        ),
        row(
            Method::PUT,
            "/api/chat/{chat}/user/{outsider}/",
            None,
            [401, 401, 403, 403, 200],
        ),
        row(
            Method::DELETE,
            "/api/chat/{chat}/user/{target}/",
            None,
            [401, 401, 403, 403, 200],
        ),
        // Removing oneself is leaving: only a member has a membership to end.
        row(
            Method::DELETE,
            "/api/chat/{chat}/user/{self}/",
            None,
            [401, 401, 404, 200, 404],
        ),
        row(
            Method::POST,
            "/api/chat/{chat}/leave/",
            None,
            [401, 401, 404, 200, 404],
        ),
        row(Method::GET, "/api/users/", None, [401, 401, 403, 403, 200]),
        row(
            Method::PATCH,
            "/api/users/{target}/",
            Some(json!({"is_superuser": true})),
            [401, 401, 403, 403, 200],
        ),
        row(
            Method::GET,
            "/api/accounts/me/",
            None,
            [401, 401, 200, 200, 200],
        ),
        row(
            Method::PATCH,
            "/api/accounts/me/",
            Some(json!({"first_name": "N"})),
            [401, 401, 200, 200, 200],
        ),
        row(
            Method::POST,
            "/api/accounts/logout/",
            None,
            [401, 401, 204, 204, 204],
        ),
        row(Method::GET, "/healthz", None, [200, 200, 200, 200, 200]),
        row(
            Method::GET,
            "/api/openapi.json",
            None,
            [200, 200, 200, 200, 200],
        ),
    ]
}

#[tokio::test]
async fn the_authorization_matrix_holds_for_every_endpoint_on_every_backend() {
    for app in every_backend().await {
        check_matrix(&app).await;
    }
}

async fn check_matrix(app: &TestApp) {
    let admin = app.create_admin("root").await;
    let outsider = app.create_user("outsider").await;
    let member = app.create_user("member").await;
    let target = app.create_user("target").await;
    let mut failures = Vec::new();
    for row in rows() {
        for (role, expected) in ROLES.iter().zip(row.expected) {
            let chat = app.create_chat(&admin, "cell", &[&member, &target]).await;
            let (who, own_id) = match role {
                Role::Anonymous => (As::Anonymous, member.id()),
                Role::BadToken => (As::Token("0".repeat(40)), member.id()),
                Role::Outsider => (As::Token(fresh_token(app, &outsider).await), outsider.id()),
                Role::Member => (As::Token(fresh_token(app, &member).await), member.id()),
                Role::Admin => (As::Token(fresh_token(app, &admin).await), admin.id()),
            };
            let path = row
                .path
                .replace("{chat}", &chat.id.to_string())
                .replace("{target}", &target.id().to_string())
                .replace("{outsider}", &outsider.id().to_string())
                .replace("{self}", &own_id.to_string());
            let body = row.body.clone().map_or(Send::Nothing, Send::Json);
            let answer = app.call(row.method.clone(), &path, who, body).await;
            if answer.status.as_u16() != expected {
                failures.push(format!(
                    "{:?} {} {path}: expected {expected}, got {} {}",
                    role, row.method, answer.status, answer.text
                ));
            }
            if answer.status.as_u16() == 401 {
                assert_eq!(answer.header("www-authenticate"), Some("Token"));
            }
        }
        // Undo the one lasting change a row makes to the shared users.
        if row.path == "/api/users/{target}/" {
            app.patch(
                &format!("/api/users/{}/", target.id()),
                &admin,
                json!({"is_superuser": false}),
            )
            .await
            .expect(200);
        }
    }
    assert!(
        failures.is_empty(),
        "matrix mismatches:\n{}",
        failures.join("\n")
    );
}

/// A new token per cell, so a logout in one cell does not disturb the next.
async fn fresh_token(app: &TestApp, user: &TestUser) -> String {
    app.services
        .auth
        .login(user.username(), PASSWORD, &chatcore::ClientInfo::default())
        .await
        .expect("the user can log in")
}
