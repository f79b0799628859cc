//! Chats over HTTP: list, create, read, rename, delete.

use crate::assert_wire_snapshot;
use crate::helpers::*;
use reqwest::Method;
use serde_json::json;

#[tokio::test]
async fn an_admin_creates_a_chat_with_members_and_gets_201_with_its_location() {
    let app = spawn_app().await;
    let admin = app.create_admin("root").await;
    let ann = app.create_user("ann").await;
    let bob = app.create_user("bob").await;
    let answer = app
        .post(
            "/api/chat/",
            &admin,
            json!({"name": "  первый  ", "participants": [bob.id().0, ann.id().0, ann.id().0]}),
        )
        .await;
    answer.expect(201);
    let id = answer.json["id"].as_i64().unwrap();
    assert_eq!(
        answer.header("location"),
        Some(format!("/api/chat/{id}/").as_str())
    );
    assert_wire_snapshot!("chat_created", answer.json);
}

#[tokio::test]
async fn a_chat_can_be_created_from_a_form() {
    let app = spawn_app().await;
    let admin = app.create_admin("root").await;
    let ann = app.create_user("ann").await;
    let bob = app.create_user("bob").await;
    let (a, b) = (ann.id().to_string(), bob.id().to_string());
    let answer = app
        .call(
            Method::POST,
            "/api/chat",
            &admin,
            form(&[("name", "team"), ("participants", &a), ("participants", &b)]),
        )
        .await;
    answer.expect(201);
    assert_eq!(answer.json["participants"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn creating_a_chat_checks_its_name_and_members() {
    let app = spawn_app().await;
    let admin = app.create_admin("root").await;
    let gone = app.create_user("gone").await;
    app.set_active(&admin, &gone, false).await;
    for body in [
        json!({"name": "   "}),
        json!({"name": "x".repeat(101)}),
        json!({"name": "ok", "participants": [999_999]}),
        json!({"name": "ok", "participants": ["1"]}),
        json!({"name": 5}),
        json!({}),
    ] {
        app.post("/api/chat/", &admin, body)
            .await
            .expect_error(400, "invalid");
    }
    let answer = app
        .post(
            "/api/chat/",
            &admin,
            json!({"name": "ok", "participants": [gone.id().0]}),
        )
        .await;
    answer.expect_error(409, "conflict");
    assert_wire_snapshot!("chat_with_inactive_member", answer.json);
    let answer = app.post("/api/chat/", &admin, json!({"name": ""})).await;
    assert_wire_snapshot!("chat_blank_name", answer.json);
}

#[tokio::test]
async fn a_user_lists_their_chats_and_an_admin_lists_every_chat() {
    let app = spawn_app().await;
    let (admin, [ann, bob], general) = app.chat_with_members(["ann", "bob"]).await;
    app.create_chat(&admin, "bob only", &[&bob]).await;
    app.post_message(&bob, general.id, "hello").await;

    let answer = app.get("/api/chat/", &ann).await;
    answer.expect(200);
    assert_wire_snapshot!("chat_list_member", answer.json);
    let answer = app.get("/api/chat", &admin).await;
    answer.expect(200);
    assert_eq!(answer.each("name"), [json!("general"), json!("bob only")]);
}

#[tokio::test]
async fn a_chat_is_read_by_its_members_and_admins() {
    let app = spawn_app().await;
    let (admin, [ann], chat) = app.chat_with_members(["ann"]).await;
    let eve = app.create_user("eve").await;
    let path = format!("/api/chat/{}/", chat.id);
    let answer = app.get(&path, &ann).await;
    answer.expect(200);
    assert_wire_snapshot!("chat_get", answer.json);
    app.get(&path, &admin).await.expect(200);
    let answer = app.get(&path, &eve).await;
    answer.expect_error(403, "forbidden");
    assert_wire_snapshot!("chat_not_a_member", answer.json);
}

#[tokio::test]
async fn a_missing_chat_is_404_for_everyone() {
    let app = spawn_app().await;
    let admin = app.create_admin("root").await;
    let ann = app.create_user("ann").await;
    for who in [&admin, &ann] {
        for (method, path) in [
            (Method::GET, "/api/chat/999/"),
            (Method::PATCH, "/api/chat/999/"),
            (Method::DELETE, "/api/chat/999/"),
            (Method::GET, "/api/chat/999/message/"),
            (Method::POST, "/api/chat/999/message/"),
            (Method::GET, "/api/chat/999/members/"),
            (Method::PUT, "/api/chat/999/user/1/"),
            (Method::DELETE, "/api/chat/999/user/1/"),
            (Method::POST, "/api/chat/999/leave/"),
        ] {
            let body = match method {
                Method::PATCH => Send::Json(json!({"name": "x"})),
                Method::POST if path.ends_with("message/") => Send::Json(json!({"content": "x"})),
                _ => Send::Nothing,
            };
            let answer = app.call(method.clone(), path, who, body).await;
            assert_eq!(
                answer.status.as_u16(),
                404,
                "{method} {path}: {}",
                answer.text
            );
            assert_eq!(answer.json["code"], "not_found");
        }
    }
    let answer = app.get("/api/chat/999/", &admin).await;
    assert_wire_snapshot!("chat_missing", answer.json);
}

#[tokio::test]
async fn a_non_integer_chat_id_is_404() {
    let app = spawn_app().await;
    let admin = app.create_admin("root").await;
    for path in [
        "/api/chat/abc/",
        "/api/chat/1.5/message/",
        "/api/chat/99999999999999999999/",
    ] {
        app.get(path, &admin).await.expect_error(404, "not_found");
    }
}

#[tokio::test]
async fn an_admin_renames_and_deletes_a_chat() {
    let app = spawn_app().await;
    let (admin, [ann], chat) = app.chat_with_members(["ann"]).await;
    let path = format!("/api/chat/{}/", chat.id);
    app.patch(&path, &ann, json!({"name": "mine"}))
        .await
        .expect_error(403, "forbidden");
    let answer = app.patch(&path, &admin, json!({"name": "new"})).await;
    answer.expect(200);
    assert_eq!(answer.json["name"], "new");
    assert_wire_snapshot!("chat_renamed", answer.json);
    app.patch(&path, &admin, json!({"name": ""}))
        .await
        .expect_error(400, "invalid");
    app.delete(&path, &ann).await.expect_error(403, "forbidden");
    let answer = app.delete(&path, &admin).await;
    answer.expect(204);
    assert!(answer.text.is_empty());
    app.get(&path, &admin).await.expect_error(404, "not_found");
    assert_eq!(app.get("/api/chat/", &ann).await.json, json!([]));
}
