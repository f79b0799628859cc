//! Read markers over the wire: `POST /api/chat/{id}/read/` and the chat list's `unread`.

use crate::assert_wire_snapshot;
use crate::helpers::*;
use chatcore::model::ChatId;
use reqwest::Method;
use serde_json::{Value, json};

fn read_path(chat: ChatId) -> String {
    format!("/api/chat/{chat}/read/")
}

/// `who`'s unread count of `chat` in their chat list.
async fn listed_unread(app: &TestApp, who: &TestUser, chat: ChatId) -> Value {
    let list = app.get("/api/chat/", who).await;
    list.expect(200);
    let item = list
        .json
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == chat.0)
        .cloned()
        .expect("the chat is listed");
    item["unread"].clone()
}

#[tokio::test]
async fn marking_read_answers_the_marker_and_the_chat_list_counts_unread_on_every_backend() {
    for app in every_backend().await {
        let admin = app.create_admin("root").await;
        let ann = app.create_user("ann").await;
        let bob = app.create_user("bob").await;
        let chat = app.create_chat(&admin, "general", &[&ann, &bob]).await;
        for n in 0..3 {
            app.post_message(&bob, chat.id, &format!("bob {n}")).await;
        }
        assert_eq!(listed_unread(&app, &ann, chat.id).await, 3);
        assert_eq!(
            listed_unread(&app, &bob, chat.id).await,
            0,
            "posting moves the poster's own marker"
        );
        assert_eq!(
            listed_unread(&app, &admin, chat.id).await,
            0,
            "not a member"
        );

        let answer = app.post(&read_path(chat.id), &ann, json!({"seq": 2})).await;
        answer.expect(200);
        assert_eq!(
            answer.json,
            json!({"chat": chat.id.0, "last_read_seq": 2, "unread": 1})
        );
        if app.backend == Backend::Sqlite {
            assert_wire_snapshot!("read_marker", answer.json);
        }
        let back = app.post(&read_path(chat.id), &ann, json!({"seq": 1})).await;
        assert_eq!(back.json["last_read_seq"], 2, "never back");
        assert_eq!(listed_unread(&app, &ann, chat.id).await, 1);
        // A form works as JSON does; beyond the last message counts as the last.
        let all = app
            .call(
                Method::POST,
                &read_path(chat.id),
                &ann,
                form(&[("seq", "99")]),
            )
            .await;
        all.expect(200);
        assert_eq!(all.json["last_read_seq"], 3);
        assert_eq!(all.json["unread"], 0);
        assert_eq!(listed_unread(&app, &ann, chat.id).await, 0);
        let one = app.get(&format!("/api/chat/{}/", chat.id), &ann).await;
        assert_eq!(one.json["unread"], 0);

        app.post_message(&ann, chat.id, "ann writes").await;
        assert_eq!(listed_unread(&app, &ann, chat.id).await, 0);
        assert_eq!(listed_unread(&app, &bob, chat.id).await, 1);
    }
}

#[tokio::test]
async fn a_bad_seq_is_400_and_only_a_member_may_mark_a_chat_read() {
    let app = spawn_app().await;
    let admin = app.create_admin("root").await;
    let ann = app.create_user("ann").await;
    let eve = app.create_user("eve").await;
    let chat = app.create_chat(&admin, "general", &[&ann]).await;
    let path = read_path(chat.id);
    let negative = app.post(&path, &ann, json!({"seq": -1})).await;
    negative.expect_error(400, "invalid");
    assert_wire_snapshot!("read_negative_seq", negative.json);
    for body in [
        json!({"seq": "1"}),
        json!({"seq": 1.5}),
        json!({"seq": null}),
        json!({"seq": 1e30}),
        json!({}),
    ] {
        app.post(&path, &ann, body.clone())
            .await
            .expect_error(400, "invalid");
    }
    app.post(&path, &eve, json!({"seq": 0}))
        .await
        .expect_error(403, "forbidden");
    app.post(&path, &admin, json!({"seq": 0}))
        .await
        .expect_error(403, "forbidden");
    app.post(&read_path(ChatId(999_999)), &ann, json!({"seq": 0}))
        .await
        .expect_error(404, "not_found");
}
