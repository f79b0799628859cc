//! The whole story over HTTP, on every backend: register, log in, an admin makes a chat,
//! members talk, read history, leave.

use crate::helpers::*;
use serde_json::json;

#[tokio::test]
async fn the_main_flow_works_on_every_backend() {
    for app in every_backend().await {
        let admin = app.create_admin("root").await;
        let reg = app
            .post_register(
                json!({"username": "ann", "password": PASSWORD, "email": "ann@example.com"}),
            )
            .await;
        reg.expect(201);
        let ann_id = reg.json["user"]["id"].as_i64().unwrap();
        let login = app.post_login("ANN", PASSWORD).await;
        login.expect(200);
        let ann = As::Token(login.json["token"].as_str().unwrap().to_owned());

        let chat = app
            .post(
                "/api/chat/",
                &admin,
                json!({"name": "general", "participants": [ann_id]}),
            )
            .await;
        chat.expect(201);
        let chat_id = chat.json["id"].as_i64().unwrap();

        let posted = app
            .post(
                &format!("/api/chat/{chat_id}/message/"),
                ann.clone(),
                json!({"content": "  Привет  "}),
            )
            .await;
        posted.expect(201);
        assert_eq!(posted.json["content"], "Привет");
        assert_eq!(posted.json["seq"], 1);
        assert!(posted.text.contains("Привет"), "UTF-8 is not escaped");

        let history = app
            .get(&format!("/api/chat/{chat_id}/message"), ann.clone())
            .await;
        history.expect(200);
        assert_eq!(history.json.as_array().unwrap().len(), 1);

        let left = app
            .post_nothing(&format!("/api/chat/{chat_id}/leave/"), ann.clone())
            .await;
        left.expect(200);
        assert_eq!(left.json, json!({"message": "User ann removed from chat"}));
        app.get(&format!("/api/chat/{chat_id}/message/"), ann)
            .await
            .expect_error(403, "forbidden");
        app.stop().await;
    }
}
