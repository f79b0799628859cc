//! The WebSocket endpoints over the wire: refusals before the `101`, the protocol (events,
//! `send`/`ack`, the original's `{"message"}`, `error` frames), the limits, membership
//! changes and shutdown closing sockets, a slow reader, and the SDK's connection. Its socket
//! helpers are shared with `reads.rs`.

use crate::helpers::*;
use chatcore::model::ChatId;
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use std::time::Duration;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::{self, Message};

pub(crate) type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// How long a frame the test waits for may take.
pub(crate) const PATIENCE: Duration = Duration::from_secs(10);

/// Opens `path` on `app` as a WebSocket with extra headers; the refusal's status and body
/// when the server answers something else than `101`.
pub(crate) async fn open(
    app: &TestApp,
    path: &str,
    headers: &[(&'static str, String)],
) -> Result<Socket, (u16, String)> {
    let mut request = format!("ws://{}{path}", app.address)
        .into_client_request()
        .unwrap();
    for (name, value) in headers {
        request.headers_mut().insert(*name, value.parse().unwrap());
    }
    match tokio_tungstenite::connect_async(request).await {
        Ok((socket, _)) => Ok(socket),
        Err(tungstenite::Error::Http(response)) => {
            let status = response.status().as_u16();
            let body = response
                .body()
                .as_ref()
                .map(|b| String::from_utf8_lossy(b).into_owned())
                .unwrap_or_default();
            Err((status, body))
        }
        Err(e) => panic!("the upgrade failed without an answer: {e}"),
    }
}

pub(crate) fn token(user: &TestUser) -> Vec<(&'static str, String)> {
    vec![("authorization", format!("Token {}", user.token))]
}

/// `user`'s API socket on `chat`.
pub(crate) async fn socket(app: &TestApp, user: &TestUser, chat: ChatId) -> Socket {
    open(app, &format!("/ws/api/chat/{chat}/"), &token(user))
        .await
        .expect("the socket opens")
}

/// The next text frame as JSON (pings and pongs skipped).
pub(crate) async fn next_json(socket: &mut Socket) -> Value {
    loop {
        let frame = tokio::time::timeout(PATIENCE, socket.next())
            .await
            .expect("a frame arrives in time")
            .expect("the socket is open")
            .expect("the frame is readable");
        match frame {
            Message::Text(text) => return serde_json::from_str(&text).unwrap(),
            Message::Ping(_) | Message::Pong(_) => continue,
            other => panic!("expected a text frame, got {other:?}"),
        }
    }
}

/// Waits for the server's close frame: its code and reason.
async fn close_of(socket: &mut Socket) -> (CloseCode, String) {
    loop {
        let frame = tokio::time::timeout(PATIENCE, socket.next())
            .await
            .expect("the close arrives in time");
        match frame {
            Some(Ok(Message::Close(Some(frame)))) => return (frame.code, frame.reason.to_string()),
            Some(Ok(Message::Close(None))) | None => panic!("closed without a close frame"),
            Some(Ok(_)) => continue,
            Some(Err(e)) => panic!("the socket failed before its close frame: {e}"),
        }
    }
}

pub(crate) async fn send_json(socket: &mut Socket, value: Value) {
    socket
        .send(Message::Text(value.to_string().into()))
        .await
        .unwrap();
}

#[tokio::test]
async fn every_refusal_comes_before_the_upgrade_as_json() {
    let app = spawn_app().await;
    let admin = app.create_admin("root").await;
    let ann = app.create_user("ann").await;
    let eve = app.create_user("eve").await;
    let chat = app.create_chat(&admin, "general", &[&ann]).await;
    let path = format!("/ws/api/chat/{}/", chat.id);

    let (status, body) = open(&app, &path, &[]).await.unwrap_err();
    assert_eq!(status, 401, "{body}");
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap()["code"],
        "unauthenticated"
    );
    let (status, _) = open(&app, &path, &[("authorization", "Token nope".into())])
        .await
        .unwrap_err();
    assert_eq!(status, 401);
    let (status, body) = open(&app, &path, &token(&eve)).await.unwrap_err();
    assert_eq!(
        (
            status,
            serde_json::from_str::<Value>(&body).unwrap()["code"].clone()
        ),
        (403, json!("forbidden"))
    );
    let (status, _) = open(&app, "/ws/api/chat/999999/", &token(&ann))
        .await
        .unwrap_err();
    assert_eq!(status, 404);
    let (status, _) = open(&app, &format!("{path}?after_seq=-1"), &token(&ann))
        .await
        .unwrap_err();
    assert_eq!(status, 400);
    let (status, _) = open(&app, &format!("{path}?after_seq=x"), &token(&ann))
        .await
        .unwrap_err();
    assert_eq!(status, 400);
    // The API socket never takes the session cookie (a browser would attach it anywhere).
    let (session, _) = app.create_session(&ann).await;
    let cookie = vec![("cookie", format!("chat_session={session}"))];
    let (status, _) = open(&app, &path, &cookie).await.unwrap_err();
    assert_eq!(status, 401);
    // Without an upgrade: 426.
    app.get(&path, &ann).await.expect_error(426, "invalid");
    // Both slash forms open.
    socket(&app, &ann, chat.id).await;
    open(&app, path.trim_end_matches('/'), &token(&ann))
        .await
        .unwrap();
}

#[tokio::test]
async fn the_browser_socket_takes_the_session_cookie_from_its_own_origin_only() {
    let app = spawn_app().await;
    let (_, [ann], chat) = app.chat_with_members(["ann"]).await;
    let (session, _) = app.create_session(&ann).await;
    let path = format!("/ws/chat/{}/", chat.id);
    let cookie = ("cookie", format!("chat_session={session}"));
    let (status, body) = open(
        &app,
        &path,
        &[cookie.clone(), ("origin", "https://evil.example".into())],
    )
    .await
    .unwrap_err();
    assert_eq!(status, 403, "{body}");
    let (status, _) = open(&app, &path, std::slice::from_ref(&cookie))
        .await
        .unwrap_err();
    assert_eq!(status, 403, "no Origin at all");
    let own = format!("http://{}", app.address);
    let mut socket = open(&app, &path, &[cookie, ("origin", own)]).await.unwrap();
    app.post_message(&ann, chat.id, "hello").await;
    assert_eq!(next_json(&mut socket).await["content"], "hello");
}

#[tokio::test]
async fn messages_from_rest_and_from_sockets_reach_every_socket_and_the_history() {
    let app = spawn_app().await;
    let (_, [ann, bob], chat) = app.chat_with_members(["ann", "bob"]).await;
    let mut ann_socket = socket(&app, &ann, chat.id).await;
    let mut bob_socket = socket(&app, &bob, chat.id).await;

    app.post_message(&bob, chat.id, "over REST").await;
    for socket in [&mut ann_socket, &mut bob_socket] {
        let event = next_json(socket).await;
        assert_eq!(event["type"], "message");
        assert_eq!(event["content"], "over REST");
        assert_eq!(event["message"], "over REST", "the original's flat field");
        assert_eq!(event["username"], "bob");
        assert_eq!(event["user"]["email"], "", "e-mail hidden in events");
        insta::assert_json_snapshot!("socket_message_event", event, {
            ".id" => "[id]", ".chat" => "[id]", ".user.id" => "[id]",
            ".timestamp" => "[time]",
        });
    }

    send_json(
        &mut ann_socket,
        json!({"type": "send", "content": "over the socket", "client_id": "c-1"}),
    )
    .await;
    let mut seen = Vec::new();
    // The ack and the event may come in either order.
    for _ in 0..2 {
        seen.push(next_json(&mut ann_socket).await);
    }
    let ack = seen.iter().find(|f| f["type"] == "ack").expect("an ack");
    assert_eq!(ack["client_id"], "c-1");
    assert_eq!(ack["seq"], 2);
    let history = app
        .get(&format!("/api/chat/{}/message/", chat.id), &bob)
        .await;
    assert_eq!(history.json[1]["content"], "over the socket");
    assert_eq!(history.json[1]["id"], ack["id"]);
    assert_eq!(
        next_json(&mut bob_socket).await["content"],
        "over the socket"
    );

    // The same client_id again: no second copy, the same ack.
    send_json(
        &mut ann_socket,
        json!({"type": "send", "content": "over the socket", "client_id": "c-1"}),
    )
    .await;
    let again = next_json(&mut ann_socket).await;
    assert_eq!(
        (again["type"].clone(), again["seq"].clone()),
        (json!("ack"), json!(2))
    );

    // The original's frame: stored, fanned out, no ack.
    send_json(&mut bob_socket, json!({"message": "old client"})).await;
    let event = next_json(&mut ann_socket).await;
    assert_eq!(
        (event["seq"].clone(), event["message"].clone()),
        (json!(3), json!("old client"))
    );
    assert_eq!(next_json(&mut bob_socket).await["type"], "message");
}

#[tokio::test]
async fn bad_frames_get_error_events_store_nothing_and_keep_the_socket_open() {
    let app = spawn_app().await;
    let (_, [ann], chat) = app.chat_with_members(["ann"]).await;
    let mut socket = socket(&app, &ann, chat.id).await;
    let bad = [
        Message::Text("not json".into()),
        Message::Binary(vec![1, 2, 3].into()),
        Message::Text(json!({"type": "send", "content": "   "}).to_string().into()),
        Message::Text(json!({"type": "send", "content": 5}).to_string().into()),
        Message::Text(
            json!({"type": "send", "content": "x".repeat(5000)})
                .to_string()
                .into(),
        ),
        Message::Text(json!({"type": "shout"}).to_string().into()),
        Message::Text(json!({"message": ["hi"]}).to_string().into()),
    ];
    for frame in bad {
        socket.send(frame).await.unwrap();
        let answer = next_json(&mut socket).await;
        assert_eq!(answer["type"], "error", "{answer}");
        assert_eq!(answer["code"], "invalid", "{answer}");
        assert!(answer["error"].as_str().is_some_and(|e| !e.is_empty()));
    }
    let history = app
        .get(&format!("/api/chat/{}/message/", chat.id), &ann)
        .await;
    assert_eq!(history.json, json!([]), "nothing was stored");
    send_json(
        &mut socket,
        json!({"type": "send", "content": "still open", "client_id": "ok"}),
    )
    .await;
    let mut types = vec![
        next_json(&mut socket).await["type"].clone(),
        next_json(&mut socket).await["type"].clone(),
    ];
    types.sort_by_key(|t| t.to_string());
    assert_eq!(types, [json!("ack"), json!("message")]);
}

/// A client that sends without waiting for acks (more frames than the server answers at
/// once, a refused one among them) gets every answer in the order of its frames, and its
/// messages are stored in that order.
#[tokio::test]
async fn answers_to_frames_sent_without_waiting_come_in_the_frames_order() {
    const FRAMES: usize = 80;
    const BLANK_AT: usize = 37;
    let mut settings = chat_server::Settings::default();
    settings.ws.send_per_second = 10_000;
    settings.ws.send_burst = 10_000;
    let app = spawn_app_with(Backend::Sqlite, chatcore::Config::for_tests(), settings)
        .await
        .unwrap();
    let (_, [ann], chat) = app.chat_with_members(["ann"]).await;
    let mut socket = socket(&app, &ann, chat.id).await;
    for i in 0..FRAMES {
        let content = if i == BLANK_AT {
            "   ".to_owned()
        } else {
            format!("m{i}")
        };
        let frame = json!({"type": "send", "content": content, "client_id": format!("c{i}")});
        socket
            .feed(Message::Text(frame.to_string().into()))
            .await
            .unwrap();
    }
    socket.flush().await.unwrap();
    let mut answers = Vec::new();
    while answers.len() < FRAMES {
        let frame = next_json(&mut socket).await;
        if frame["type"] != "message" {
            answers.push(frame);
        }
    }
    let mut last_seq = 0;
    for (i, answer) in answers.iter().enumerate() {
        if i == BLANK_AT {
            assert_eq!(answer["type"], "error", "{answer}");
            continue;
        }
        assert_eq!(answer["type"], "ack", "{answer}");
        assert_eq!(
            answer["client_id"],
            format!("c{i}"),
            "answers in frame order"
        );
        let seq = answer["seq"].as_i64().unwrap();
        assert!(
            seq > last_seq,
            "stored in frame order: {seq} after {last_seq}"
        );
        last_seq = seq;
    }
    let history = app
        .get(&format!("/api/chat/{}/message/?limit=200", chat.id), &ann)
        .await;
    let stored: Vec<String> = history
        .each("content")
        .iter()
        .map(|c| c.as_str().unwrap().to_owned())
        .collect();
    let sent: Vec<String> = (0..FRAMES)
        .filter(|&i| i != BLANK_AT)
        .map(|i| format!("m{i}"))
        .collect();
    assert_eq!(stored, sent);
}

#[tokio::test]
async fn a_frame_over_64_kib_closes_the_socket_with_1009() {
    let app = spawn_app().await;
    let (_, [ann], chat) = app.chat_with_members(["ann"]).await;
    let mut socket = socket(&app, &ann, chat.id).await;
    let huge = json!({"type": "send", "content": "x".repeat(70 * 1024)}).to_string();
    socket.send(Message::Text(huge.into())).await.unwrap();
    let (code, _) = close_of(&mut socket).await;
    assert_eq!(code, CloseCode::Size);
}

#[tokio::test]
async fn sending_faster_than_the_rate_is_refused_with_rate_limited() {
    let mut settings = chat_server::Settings::default();
    settings.ws.send_per_second = 1;
    settings.ws.send_burst = 2;
    let app = spawn_app_with(Backend::Sqlite, chatcore::Config::for_tests(), settings)
        .await
        .unwrap();
    let (_, [ann], chat) = app.chat_with_members(["ann"]).await;
    let mut socket = socket(&app, &ann, chat.id).await;
    for i in 0..3 {
        send_json(
            &mut socket,
            json!({"type": "send", "content": format!("m{i}"), "client_id": format!("c{i}")}),
        )
        .await;
    }
    let mut frames = Vec::new();
    for _ in 0..5 {
        frames.push(next_json(&mut socket).await);
    }
    let refused: Vec<&Value> = frames.iter().filter(|f| f["type"] == "error").collect();
    assert_eq!(refused.len(), 1, "{frames:?}");
    assert_eq!(refused[0]["code"], "rate_limited");
    assert_eq!(frames.iter().filter(|f| f["type"] == "ack").count(), 2);
}

#[tokio::test]
async fn a_removed_member_gets_the_removal_and_the_socket_closes() {
    let app = spawn_app().await;
    let (admin, [ann, bob], chat) = app.chat_with_members(["ann", "bob"]).await;
    let mut ann_socket = socket(&app, &ann, chat.id).await;
    let mut bob_socket = socket(&app, &bob, chat.id).await;
    app.delete(&format!("/api/chat/{}/user/{}/", chat.id, ann.id()), &admin)
        .await
        .expect(200);
    let event = next_json(&mut ann_socket).await;
    assert_eq!(
        (event["type"].clone(), event["reason"].clone()),
        (json!("member_removed"), json!("removed"))
    );
    let (code, reason) = close_of(&mut ann_socket).await;
    assert_eq!(code, CloseCode::Normal);
    assert_eq!(reason, "you were removed from the chat");
    // Bob sees the removal and stays.
    assert_eq!(next_json(&mut bob_socket).await["type"], "member_removed");
    app.post_message(&bob, chat.id, "still here").await;
    assert_eq!(next_json(&mut bob_socket).await["content"], "still here");
}

/// Admins read every chat; one who is not a member loses the socket when demoted (or
/// deactivated), and the members see nothing of it.
#[tokio::test]
async fn a_non_member_admins_socket_closes_when_demoted_or_deactivated() {
    let app = spawn_app().await;
    let (root, [ann], chat) = app.chat_with_members(["ann"]).await;
    let demoted = app.create_admin("ops").await;
    let deactivated = app.create_admin("audit").await;
    let mut ann_socket = socket(&app, &ann, chat.id).await;
    let mut demoted_socket = socket(&app, &demoted, chat.id).await;
    let mut deactivated_socket = socket(&app, &deactivated, chat.id).await;
    app.patch(
        &format!("/api/users/{}/", demoted.id()),
        &root,
        json!({"is_superuser": false}),
    )
    .await
    .expect(200);
    app.set_active(&root, &deactivated, false).await;
    for (socket, reason, closing) in [
        (
            &mut demoted_socket,
            "removed",
            "you were removed from the chat",
        ),
        (
            &mut deactivated_socket,
            "deactivated",
            "your account was deactivated",
        ),
    ] {
        let event = next_json(socket).await;
        assert_eq!(
            (event["type"].clone(), event["reason"].clone()),
            (json!("member_removed"), json!(reason))
        );
        assert_eq!(close_of(socket).await, (CloseCode::Normal, closing.into()));
    }
    app.post_message(&ann, chat.id, "members only").await;
    assert_eq!(next_json(&mut ann_socket).await["content"], "members only");
}

#[tokio::test]
async fn a_deleted_chat_closes_its_sockets_and_shutdown_closes_the_rest_with_1001() {
    let app = spawn_app().await;
    let admin = app.create_admin("root").await;
    let ann = app.create_user("ann").await;
    let doomed = app.create_chat(&admin, "doomed", &[&ann]).await;
    let general = app.create_chat(&admin, "general", &[&ann]).await;
    let mut doomed_socket = socket(&app, &ann, doomed.id).await;
    let mut general_socket = socket(&app, &ann, general.id).await;
    app.delete(&format!("/api/chat/{}/", doomed.id), &admin)
        .await
        .expect(204);
    assert_eq!(next_json(&mut doomed_socket).await["type"], "chat_deleted");
    assert_eq!(close_of(&mut doomed_socket).await.0, CloseCode::Normal);
    let stopping = tokio::spawn(app.stop());
    let (code, _) = close_of(&mut general_socket).await;
    assert_eq!(code, CloseCode::Away);
    stopping.await.unwrap();
}

#[tokio::test]
async fn a_socket_that_never_reads_is_closed_and_resuming_gets_everything() {
    let config = chatcore::Config {
        subscriber_buffer: 256,
        ..chatcore::Config::for_tests()
    };
    let app = spawn_app_with(Backend::Sqlite, config, chat_server::Settings::default())
        .await
        .unwrap();
    let (_, [ann, bob], chat) = app.chat_with_members(["ann", "bob"]).await;
    let sleeper = socket(&app, &ann, chat.id).await;
    let mut reader = socket(&app, &bob, chat.id).await;
    // Large messages fill the sleeper's TCP buffers, then its queue.
    let body = "x".repeat(4000);
    let total = 3000;
    let actor = app.actor(&bob).await;
    let poster = {
        let messaging = app.services.messaging.clone();
        let body = body.clone();
        tokio::spawn(async move {
            for i in 0..total {
                let message = chatcore::model::NewMessage {
                    content: format!("{i} {body}"),
                    client_id: None,
                };
                messaging.post(&actor, chat.id, message).await.unwrap();
            }
        })
    };
    // The reader keeps up the whole time.
    for expected in 1..=total {
        let event = next_json(&mut reader).await;
        assert_eq!(event["seq"], expected);
    }
    poster.await.unwrap();
    // The sleeper was closed; it wakes up and reads what reached it, then the close.
    let mut sleeper = sleeper;
    let mut last_seq = 0;
    let code = loop {
        match tokio::time::timeout(PATIENCE, sleeper.next())
            .await
            .expect("the sleeper is closed")
        {
            Some(Ok(Message::Text(text))) => {
                let event: Value = serde_json::from_str(&text).unwrap();
                if let Some(seq) = event["seq"].as_i64() {
                    assert_eq!(seq, last_seq + 1);
                    last_seq = seq;
                }
            }
            Some(Ok(Message::Close(frame))) => break frame.map(|f| f.code),
            Some(Ok(_)) => {}
            Some(Err(_)) | None => break None,
        }
    };
    assert!(
        last_seq < total,
        "the sleeper was cut off before the end ({last_seq})"
    );
    if let Some(code) = code {
        assert_eq!(code, CloseCode::Library(4000));
    }
    // Resuming from what it has gives it everything else, in order.
    let mut resumed = open(
        &app,
        &format!("/ws/api/chat/{}/?after_seq={last_seq}", chat.id),
        &token(&ann),
    )
    .await
    .unwrap();
    for expected in last_seq + 1..=total {
        assert_eq!(next_json(&mut resumed).await["seq"], expected);
    }
}

#[tokio::test]
async fn the_sdk_connection_streams_events_and_sends_with_an_ack() {
    let app = spawn_app().await;
    let (_, [ann, bob], chat) = app.chat_with_members(["ann", "bob"]).await;
    let client = chat_sdk::Client::new(&app.base_url)
        .unwrap()
        .with_token(&ann.token)
        .unwrap();
    let mut connection = client.connect(chat.id).await.unwrap();
    app.post_message(&bob, chat.id, "from bob").await;
    let event = tokio::time::timeout(PATIENCE, connection.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    match event.message() {
        Some(m) => assert_eq!(m.content, "from bob"),
        None => panic!("{event:?}"),
    }
    let ack = connection.send("from ann").await.unwrap();
    assert_eq!(ack.seq, 2);
    let history = app
        .get(&format!("/api/chat/{}/message/", chat.id), &bob)
        .await;
    assert_eq!(history.json[1]["content"], "from ann");
}
