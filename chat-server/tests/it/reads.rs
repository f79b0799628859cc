//! Read markers over the wire: `POST /api/chat/{id}/read/`, the chat list's `unread`, the
//! socket's `read` frame and the `read` event that reaches only the reader's own sockets,
//! resuming beyond the last message, and the SDK's methods for both.

use crate::assert_wire_snapshot;
use crate::helpers::*;
use crate::sockets::{PATIENCE, Socket, next_json, open, send_json, socket, token};
use chatcore::model::{ChatId, Event, ReadMarker};
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

/// The next text frame of `socket`, skipping `message` events.
async fn next_non_message(socket: &mut Socket) -> Value {
    loop {
        let frame = next_json(socket).await;
        if frame["type"] != "message" {
            return frame;
        }
    }
}

#[tokio::test]
async fn a_read_on_one_socket_reaches_the_users_other_socket_and_no_one_elses() {
    let app = spawn_app().await;
    let admin = app.create_admin("root").await;
    let ann = app.create_user("ann").await;
    let bob = app.create_user("bob").await;
    let chat = app.create_chat(&admin, "general", &[&ann, &bob]).await;
    let mut phone = socket(&app, &ann, chat.id).await;
    let mut laptop = socket(&app, &ann, chat.id).await;
    let mut bobs = socket(&app, &bob, chat.id).await;
    app.post_message(&bob, chat.id, "first").await;
    app.post_message(&bob, chat.id, "second").await;
    for socket in [&mut phone, &mut laptop, &mut bobs] {
        assert_eq!(next_json(socket).await["seq"], 1);
        assert_eq!(next_json(socket).await["seq"], 2);
    }

    send_json(&mut phone, json!({"type": "read", "seq": 1})).await;
    let read =
        json!({"type": "read", "chat": chat.id.0, "user": ann.id().0, "seq": 1, "unread": 1});
    assert_eq!(next_json(&mut laptop).await, read);
    assert_eq!(
        next_json(&mut phone).await,
        read,
        "the reading socket gets it too"
    );
    // Bob's next frame is the next message: the read never reached him.
    app.post_message(&bob, chat.id, "third").await;
    let after = next_json(&mut bobs).await;
    assert_eq!(
        (after["type"].clone(), after["seq"].clone()),
        (json!("message"), json!(3))
    );

    // A bad seq is an `error` frame; the socket stays open.
    for bad in [
        json!({"type": "read", "seq": -1}),
        json!({"type": "read", "seq": "x"}),
    ] {
        send_json(&mut phone, bad).await;
        let answer = next_non_message(&mut phone).await;
        assert_eq!(
            (answer["type"].clone(), answer["code"].clone()),
            (json!("error"), json!("invalid")),
            "{answer}"
        );
    }
    // A read over REST reaches the sockets as well.
    app.post(&read_path(chat.id), &ann, json!({"seq": 3}))
        .await
        .expect(200);
    let read =
        json!({"type": "read", "chat": chat.id.0, "user": ann.id().0, "seq": 3, "unread": 0});
    assert_eq!(next_non_message(&mut phone).await, read);
    assert_eq!(next_non_message(&mut laptop).await, read);
    app.post_message(&ann, chat.id, "fourth").await;
    let after = next_json(&mut bobs).await;
    assert_eq!(
        (after["type"].clone(), after["seq"].clone()),
        (json!("message"), json!(4))
    );
}

#[tokio::test]
async fn resuming_beyond_the_last_message_is_400_on_the_upgrade() {
    let app = spawn_app().await;
    let admin = app.create_admin("root").await;
    let ann = app.create_user("ann").await;
    let chat = app.create_chat(&admin, "general", &[&ann]).await;
    let path = format!("/ws/api/chat/{}/", chat.id);
    open(&app, &format!("{path}?after_seq=0"), &token(&ann))
        .await
        .expect("nothing after seq 0 to miss");
    let (status, body) = open(&app, &format!("{path}?after_seq=1"), &token(&ann))
        .await
        .unwrap_err();
    assert_eq!(status, 400, "{body}");
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap()["code"],
        "invalid"
    );
    app.post_message(&ann, chat.id, "one").await;
    open(&app, &format!("{path}?after_seq=1"), &token(&ann))
        .await
        .expect("resuming at the last message");
    let (status, _) = open(&app, &format!("{path}?after_seq=2"), &token(&ann))
        .await
        .unwrap_err();
    assert_eq!(status, 400);
}

/// The next item of an SDK connection's stream that is a chat event, or its error.
async fn next_item(connection: &mut chat_sdk::ChatConnection) -> chat_sdk::Result<Event> {
    loop {
        let item = tokio::time::timeout(PATIENCE, futures_util::StreamExt::next(connection))
            .await
            .expect("an event in time")
            .expect("the stream goes on");
        match item {
            Ok(chat_sdk::ChatEvent::Event(event)) => return Ok(event),
            Ok(_) => continue,
            Err(e) => return Err(e),
        }
    }
}

/// The next event of an SDK connection.
async fn next_event(connection: &mut chat_sdk::ChatConnection) -> Event {
    next_item(connection).await.expect("a readable event")
}

#[tokio::test]
async fn the_sdk_marks_read_over_rest_and_on_its_connection() {
    let app = spawn_app().await;
    let admin = app.create_admin("root").await;
    let ann = app.create_user("ann").await;
    let bob = app.create_user("bob").await;
    let chat = app.create_chat(&admin, "general", &[&ann, &bob]).await;
    let client = chat_sdk::Client::new(&app.base_url)
        .unwrap()
        .with_token(&ann.token)
        .unwrap();
    let mut phone = client.connect(chat.id).await.unwrap();
    let mut laptop = client.connect(chat.id).await.unwrap();
    for n in 0..3 {
        app.post_message(&bob, chat.id, &format!("bob {n}")).await;
    }
    for connection in [&mut phone, &mut laptop] {
        for seq in 1..=3 {
            assert_eq!(next_event(connection).await.seq(), Some(seq));
        }
    }
    let listed = client.chats().await.unwrap();
    assert_eq!(listed[0].unread, 3);

    let marker = client.mark_read(chat.id, 1).await.unwrap();
    assert_eq!(
        marker,
        ReadMarker {
            chat: chat.id,
            last_read_seq: 1,
            unread: 2
        }
    );
    let read = |seq, unread| Event::Read {
        chat: chat.id,
        user: ann.id(),
        seq,
        unread,
    };
    assert_eq!(next_event(&mut laptop).await, read(1, 2));
    assert_eq!(next_event(&mut phone).await, read(1, 2));

    phone.mark_read(3).await.unwrap();
    assert_eq!(next_event(&mut laptop).await, read(3, 0));
    assert_eq!(next_event(&mut phone).await, read(3, 0));
    assert_eq!(laptop.last_seq(), 3, "a read is not a message");
    assert_eq!(client.chats().await.unwrap()[0].unread, 0);

    phone.mark_read(-1).await.unwrap();
    let refusal = next_item(&mut phone).await.unwrap_err();
    assert_eq!(refusal.kind(), Some(chatcore::ErrorKind::Invalid));
    let error = client.mark_read(chat.id, -1).await.unwrap_err();
    assert_eq!(error.kind(), Some(chatcore::ErrorKind::Invalid));
}
