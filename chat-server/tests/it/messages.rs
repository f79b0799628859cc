//! Messages over HTTP: posting (JSON, form, idempotent retries) and history pages.

use crate::assert_wire_snapshot;
use crate::helpers::*;
use reqwest::Method;
use serde_json::{Value, json};

fn seqs(answer: &Answer) -> Vec<i64> {
    answer
        .json
        .as_array()
        .expect("history is a bare array")
        .iter()
        .map(|m| m["seq"].as_i64().unwrap())
        .collect()
}

#[tokio::test]
async fn a_member_posts_a_message_and_gets_201_with_it() {
    let app = spawn_app().await;
    let (_, [ann], chat) = app.chat_with_members(["ann"]).await;
    let answer = app
        .post(
            &format!("/api/chat/{}/message/", chat.id),
            &ann,
            json!({"content": "  Привет, мир!  "}),
        )
        .await;
    answer.expect(201);
    assert_eq!(answer.json["chat"], chat.id.0);
    assert_wire_snapshot!("message_posted", answer.json);
}

#[tokio::test]
async fn a_message_may_be_posted_as_a_form_without_the_trailing_slash() {
    let app = spawn_app().await;
    let (_, [ann], chat) = app.chat_with_members(["ann"]).await;
    let answer = app
        .call(
            Method::POST,
            &format!("/api/chat/{}/message", chat.id),
            &ann,
            form(&[("content", "from a form")]),
        )
        .await;
    answer.expect(201);
    assert_eq!(answer.json["content"], "from a form");
}

#[tokio::test]
async fn a_retried_client_id_answers_201_with_the_stored_message_and_burns_no_seq() {
    let app = spawn_app().await;
    let (_, [ann], chat) = app.chat_with_members(["ann"]).await;
    let path = format!("/api/chat/{}/message/", chat.id);
    let first = app
        .post(&path, &ann, json!({"content": "once", "client_id": "c-1"}))
        .await;
    first.expect(201);
    let again = app
        .post(&path, &ann, json!({"content": "once", "client_id": "c-1"}))
        .await;
    again.expect(201);
    assert_eq!(first.json, again.json);
    assert_eq!(first.json["client_id"], "c-1");
    let next = app.post(&path, &ann, json!({"content": "twice"})).await;
    assert_eq!(next.json["seq"], 2);
    app.post(&path, &ann, json!({"content": "x", "client_id": ""}))
        .await
        .expect_error(400, "invalid");
    app.post(
        &path,
        &ann,
        json!({"content": "x", "client_id": "c".repeat(65)}),
    )
    .await
    .expect_error(400, "invalid");
}

#[tokio::test]
async fn content_must_be_a_non_blank_string_within_the_limit() {
    let app = spawn_app().await;
    let (_, [ann], chat) = app.chat_with_members(["ann"]).await;
    let path = format!("/api/chat/{}/message/", chat.id);
    for body in [
        json!({"content": "   "}),
        json!({"content": ""}),
        json!({"content": 123}),
        json!({"content": {"a": 1}}),
        json!({"content": null}),
        json!({"content": "я".repeat(4097)}),
        json!({"message": "the REST field is content"}),
        json!(["hi"]),
    ] {
        let answer = app.post(&path, &ann, body.clone()).await;
        assert_eq!(answer.status.as_u16(), 400, "{body}: {}", answer.text);
        assert_eq!(answer.json["code"], "invalid");
    }
    app.post(&path, &ann, json!({"content": "я".repeat(4096)}))
        .await
        .expect(201);
    let answer = app.post(&path, &ann, json!({"content": "   "})).await;
    assert_wire_snapshot!("message_blank", answer.json);
    let answer = app.post(&path, &ann, json!({"content": 123})).await;
    assert_wire_snapshot!("message_not_a_string", answer.json);
    let history = app.get(&path, &ann).await;
    assert_eq!(seqs(&history), [1], "nothing invalid was stored");
}

#[tokio::test]
async fn history_pages_are_oldest_first_with_cursors() {
    let app = spawn_app().await;
    let (_, [ann], chat) = app.chat_with_members(["ann"]).await;
    for i in 1..=60 {
        app.post_message(&ann, chat.id, &format!("m{i}")).await;
    }
    let path = format!("/api/chat/{}/message/", chat.id);
    let latest = app.get(&path, &ann).await;
    latest.expect(200);
    assert_eq!(
        seqs(&latest),
        (11..=60).collect::<Vec<_>>(),
        "the newest 50 by default"
    );
    let page = app
        .get(&format!("{path}?limit=5&before_seq=11"), &ann)
        .await;
    assert_eq!(seqs(&page), [6, 7, 8, 9, 10]);
    let page = app.get(&format!("{path}?after_seq=57"), &ann).await;
    assert_eq!(seqs(&page), [58, 59, 60]);
    let page = app.get(&format!("{path}?after_seq=0&limit=2"), &ann).await;
    assert_eq!(seqs(&page), [1, 2]);
    let page = app.get(&format!("{path}?limit=200"), &ann).await;
    assert_eq!(seqs(&page).len(), 60);
}

#[tokio::test]
async fn bad_history_queries_are_400() {
    let app = spawn_app().await;
    let (_, [ann], chat) = app.chat_with_members(["ann"]).await;
    let path = format!("/api/chat/{}/message/", chat.id);
    for query in [
        "limit=0",
        "limit=201",
        "limit=ten",
        "limit=-1",
        "before_seq=abc",
        "after_seq=1.5",
        "before_seq=0",
        "after_seq=-1",
        "before_seq=5&after_seq=1",
        "limit=5&limit=6",
    ] {
        let answer = app.get(&format!("{path}?{query}"), &ann).await;
        assert_eq!(answer.status.as_u16(), 400, "{query}: {}", answer.text);
        assert_eq!(answer.json["code"], "invalid");
    }
    let answer = app.get(&format!("{path}?limit=ten"), &ann).await;
    assert_wire_snapshot!("history_bad_limit", answer.json);
    // An empty value is an absent parameter (browsers send `limit=` for an empty field).
    app.get(&format!("{path}?limit=&before_seq="), &ann)
        .await
        .expect(200);
    let answer = app
        .get(&format!("{path}?before_seq=5&after_seq=1"), &ann)
        .await;
    assert_wire_snapshot!("history_both_cursors", answer.json);
}

#[tokio::test]
async fn history_shows_messages_with_the_authors_email_hidden_from_other_members() {
    let app = spawn_app().await;
    let (admin, [ann, bob], chat) = app.chat_with_members(["ann", "bob"]).await;
    app.post_message(&ann, chat.id, "from ann").await;
    app.post_message(&bob, chat.id, "from bob").await;
    let path = format!("/api/chat/{}/message/", chat.id);
    let answer = app.get(&path, &ann).await;
    assert_wire_snapshot!("history_as_member", answer.json);
    let emails = |a: &Answer| -> Vec<Value> {
        a.json
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["user"]["email"].clone())
            .collect()
    };
    assert_eq!(emails(&answer), [json!("ann@example.com"), json!("")]);
    let answer = app.get(&path, &admin).await;
    assert_eq!(
        emails(&answer),
        [json!("ann@example.com"), json!("bob@example.com")]
    );
}
