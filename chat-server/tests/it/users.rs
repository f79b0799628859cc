//! User administration over HTTP: listing, searching, flags.

use crate::assert_wire_snapshot;
use crate::helpers::*;
use serde_json::json;

#[tokio::test]
async fn an_admin_lists_and_searches_users() {
    let app = spawn_app().await;
    let admin = app.create_admin("root").await;
    let ann = app.create_user("ann").await;
    app.create_user("bob").await;
    app.create_user("Иван").await;
    let answer = app.get("/api/users/", &admin).await;
    answer.expect(200);
    assert_wire_snapshot!("users_list", answer.json);
    let answer = app
        .get("/api/users?q=%D0%B8%D0%B2%D0%B0%D0%BD", &admin)
        .await;
    assert_eq!(answer.each("username"), [json!("Иван")]);
    let answer = app.get("/api/users/?limit=2&offset=1", &admin).await;
    assert_eq!(answer.each("username"), [json!("ann"), json!("bob")]);
    let answer = app.get("/api/users/?q=100%25", &admin).await;
    assert_eq!(answer.json, json!([]), "LIKE wildcards are literal");
    app.get("/api/users/", &ann)
        .await
        .expect_error(403, "forbidden");
}

#[tokio::test]
async fn bad_user_list_queries_are_400() {
    let app = spawn_app().await;
    let admin = app.create_admin("root").await;
    for query in ["limit=0", "limit=500", "limit=x", "offset=-1", "offset=x"] {
        let answer = app.get(&format!("/api/users/?{query}"), &admin).await;
        assert_eq!(answer.status.as_u16(), 400, "{query}: {}", answer.text);
    }
}

#[tokio::test]
async fn an_admin_promotes_and_deactivates_users() {
    let app = spawn_app().await;
    let admin = app.create_admin("root").await;
    let ann = app.create_user("ann").await;
    let path = format!("/api/users/{}/", ann.id());
    let answer = app
        .patch(&path, &admin, json!({"is_superuser": true}))
        .await;
    answer.expect(200);
    assert_wire_snapshot!("user_promoted", answer.json);
    app.get("/api/users/", &ann).await.expect(200);
    let answer = app
        .patch(
            path.trim_end_matches('/'),
            &admin,
            json!({"is_active": false, "is_superuser": false}),
        )
        .await;
    answer.expect(200);
    assert_eq!(answer.json["is_active"], false);
    app.patch(&path, &admin, json!({"is_active": "no"}))
        .await
        .expect_error(400, "invalid");
    app.patch("/api/users/999/", &admin, json!({"is_active": true}))
        .await
        .expect_error(404, "not_found");
}

#[tokio::test]
async fn an_admin_cannot_demote_or_deactivate_themself() {
    let app = spawn_app().await;
    let admin = app.create_admin("root").await;
    let path = format!("/api/users/{}/", admin.id());
    let answer = app
        .patch(&path, &admin, json!({"is_superuser": false}))
        .await;
    answer.expect_error(409, "conflict");
    assert_wire_snapshot!("user_self_demotion", answer.json);
    app.patch(&path, &admin, json!({"is_active": false}))
        .await
        .expect_error(409, "conflict");
}

#[tokio::test]
async fn a_user_cannot_change_flags() {
    let app = spawn_app().await;
    let ann = app.create_user("ann").await;
    app.patch(
        &format!("/api/users/{}/", ann.id()),
        &ann,
        json!({"is_superuser": true}),
    )
    .await
    .expect_error(403, "forbidden");
}
