//! The connection against a scripted server: a small tungstenite server plays the documented
//! protocol one scripted connection at a time, and `crate::scripted` answers the REST reads
//! the connection makes (the chat after each upgrade, history to fill a gap). The same
//! behaviours against the real server are in `chat-server/tests/it/sdk_stream.rs`.

use super::fixtures::{chat, message, removed, stored, text, user};
use super::{CLOSE_LAGGED, ChatConnection, ChatEvent, ConnectOptions};
use crate::client::Client;
use crate::error::Error;
use crate::scripted;
use chatcore::ErrorKind;
use chatcore::model::{Chat, ChatId, Event, MessageId, NewMessage, RemovalReason, UserId};
use futures_util::{SinkExt, StreamExt};
use std::time::{Duration, Instant};
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::{self, Message as WsMessage};

type ServerSocket = WebSocketStream<TcpStream>;

/// How long a test waits for something that should come at once.
const PATIENCE: Duration = Duration::from_secs(5);

/// What the client asked for when it connected.
#[derive(Debug)]
struct Upgrade {
    path_and_query: String,
    authorization: Option<String>,
}

async fn listen() -> (TcpListener, Client) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let client = Client::new(&base)
        .unwrap()
        .with_token("0123456789abcdef0123456789abcdef01234567")
        .unwrap();
    (listener, client)
}

/// Accepts one WebSocket connection and reports how it was asked for.
// tungstenite's handshake callback returns its large error response by value.
#[allow(clippy::result_large_err)]
async fn accept_socket(listener: &TcpListener) -> (ServerSocket, Upgrade) {
    let (tcp, _) = listener.accept().await.unwrap();
    let mut upgrade = None;
    let socket = tokio_tungstenite::accept_hdr_async(
        tcp,
        |request: &tungstenite::handshake::server::Request,
         response: tungstenite::handshake::server::Response| {
            upgrade = Some(Upgrade {
                path_and_query: request.uri().to_string(),
                authorization: request
                    .headers()
                    .get(http::header::AUTHORIZATION)
                    .map(|v| v.to_str().unwrap().to_owned()),
            });
            Ok(response)
        },
    )
    .await
    .unwrap();
    (socket, upgrade.unwrap())
}

/// Answers one `GET /api/chat/1/` with `chat`.
async fn answer_chat(listener: &TcpListener, chat: &Chat) {
    let request = scripted::answer(
        listener,
        "200 OK",
        &[("content-type", "application/json")],
        serde_json::to_string(chat).unwrap().as_bytes(),
    )
    .await;
    assert_eq!(request.line, "GET /api/chat/1/ HTTP/1.1");
}

/// Accepts a connection as the SDK makes one: the upgrade, then its read of the chat.
async fn accept(listener: &TcpListener) -> (ServerSocket, Upgrade) {
    accept_as(listener, &chat("general", &[2, 7], 0)).await
}

/// Like [`accept`], answering the chat read with `chat`.
async fn accept_as(listener: &TcpListener, chat: &Chat) -> (ServerSocket, Upgrade) {
    let accepted = accept_socket(listener).await;
    answer_chat(listener, chat).await;
    accepted
}

/// Refuses one upgrade with `status`, `headers` and the contract's error body.
#[allow(clippy::result_large_err)]
async fn refuse(listener: &TcpListener, status: u16, headers: &[(&str, &str)], body: &str) {
    let (tcp, _) = listener.accept().await.unwrap();
    let mut response = http::Response::builder()
        .status(status)
        .header("content-type", "application/json");
    for (name, value) in headers {
        response = response.header(*name, *value);
    }
    let response = response.body(Some(body.to_owned())).unwrap();
    let _ = tokio_tungstenite::accept_hdr_async(
        tcp,
        move |_: &tungstenite::handshake::server::Request,
              _: tungstenite::handshake::server::Response| Err(response),
    )
    .await;
}

async fn push(socket: &mut ServerSocket, event: &Event) {
    socket.send(WsMessage::text(text(event))).await.unwrap();
}

async fn push_text(socket: &mut ServerSocket, frame: &str) {
    socket.send(WsMessage::text(frame)).await.unwrap();
}

async fn close_with(socket: &mut ServerSocket, code: u16) {
    use tungstenite::protocol::CloseFrame;
    socket
        .close(Some(CloseFrame {
            code: code.into(),
            reason: "scripted".into(),
        }))
        .await
        .unwrap();
}

/// Reads client frames until a text one arrives.
async fn read_text(socket: &mut ServerSocket) -> serde_json::Value {
    loop {
        match socket.next().await.unwrap().unwrap() {
            WsMessage::Text(t) => return serde_json::from_str(&t).unwrap(),
            WsMessage::Close(_) => panic!("the client closed"),
            _ => {}
        }
    }
}

fn options() -> ConnectOptions {
    ConnectOptions::default()
        .user(UserId(7))
        .admin(false)
        .after_seq(0)
        .initial_backoff(Duration::from_millis(10))
        .max_backoff(Duration::from_millis(50))
}

/// The next item of the stream.
async fn next(conn: &mut ChatConnection) -> ChatEvent {
    tokio::time::timeout(PATIENCE, conn.next())
        .await
        .expect("an item within 5 s")
        .expect("the stream goes on")
        .expect("an event, not an error")
}

/// The next item, which must be a message: its `seq`.
async fn next_seq(conn: &mut ChatConnection) -> i64 {
    match next(conn).await {
        ChatEvent::Event(event) => event.seq().expect("a message event"),
        other => panic!("expected a message, got {other:?}"),
    }
}

/// The next item, which must be an event of the chat.
async fn next_event(conn: &mut ChatConnection) -> Event {
    match next(conn).await {
        ChatEvent::Event(event) => event,
        other => panic!("expected an event, got {other:?}"),
    }
}

/// The end of the stream: the error it ended with, if any, then `None`.
async fn end_of(conn: &mut ChatConnection) -> Option<Error> {
    let last = tokio::time::timeout(PATIENCE, conn.next())
        .await
        .expect("the end within 5 s");
    match last {
        None => None,
        Some(Err(e)) => {
            let after = tokio::time::timeout(PATIENCE, conn.next()).await.unwrap();
            assert!(after.is_none(), "the stream goes on after {e:?}: {after:?}");
            Some(e)
        }
        Some(Ok(item)) => panic!("expected the end, got {item:?}"),
    }
}

#[tokio::test]
async fn the_upgrade_carries_the_token_and_after_seq_and_events_arrive_typed() {
    let (listener, client) = listen().await;
    let server = tokio::spawn(async move {
        let (mut socket, upgrade) = accept(&listener).await;
        push(&mut socket, &message(1)).await;
        push(&mut socket, &removed(2, RemovalReason::Left)).await;
        push_text(&mut socket, r#"{"type":"typing","user":3}"#).await;
        push(&mut socket, &message(2)).await;
        (upgrade, socket)
    });
    let mut conn = client.connect_with(ChatId(1), options()).await.unwrap();
    assert_eq!(conn.chat_state().name, "general");
    assert_eq!(next_seq(&mut conn).await, 1);
    let event = next_event(&mut conn).await;
    assert!(matches!(event, Event::MemberRemoved { ref user, .. } if user.id == UserId(2)));
    // The unknown `typing` frame is skipped.
    assert_eq!(next_seq(&mut conn).await, 2);
    assert_eq!(conn.last_seq(), 2);
    // The connection's view of the chat follows the events it delivered.
    let members: Vec<_> = conn
        .chat_state()
        .participants
        .iter()
        .map(|u| u.id)
        .collect();
    assert_eq!(members, [UserId(7)]);
    assert_eq!(conn.chat_state().last_seq, 2);
    let (upgrade, _socket) = server.await.unwrap();
    assert_eq!(upgrade.path_and_query, "/ws/api/chat/1/?after_seq=0");
    assert_eq!(
        upgrade.authorization.as_deref(),
        Some("Token 0123456789abcdef0123456789abcdef01234567")
    );
}

#[tokio::test]
async fn a_lagged_close_resumes_from_the_last_seq_says_reconnected_and_drops_duplicates() {
    let (listener, client) = listen().await;
    let server = tokio::spawn(async move {
        let (mut first, _) = accept(&listener).await;
        push(&mut first, &message(1)).await;
        push(&mut first, &message(2)).await;
        push(
            &mut first,
            &Event::Lagged {
                chat: ChatId(1),
                last_seq: 2,
            },
        )
        .await;
        close_with(&mut first, CLOSE_LAGGED).await;
        let (mut second, upgrade) = accept_as(&listener, &chat("general", &[2, 7], 3)).await;
        // A replay that overlaps what was delivered: the client drops the duplicate.
        push(&mut second, &message(2)).await;
        push(&mut second, &message(3)).await;
        (upgrade, second)
    });
    let mut conn = client.connect_with(ChatId(1), options()).await.unwrap();
    assert_eq!(next_seq(&mut conn).await, 1);
    assert_eq!(next_seq(&mut conn).await, 2);
    let ChatEvent::Reconnected(reconnected) = next(&mut conn).await else {
        panic!("expected Reconnected")
    };
    assert_eq!(reconnected.after_seq, 2);
    assert!(reconnected.joined.is_empty() && reconnected.left.is_empty());
    assert_eq!(reconnected.renamed, None);
    assert_eq!(next_seq(&mut conn).await, 3);
    let (upgrade, _socket) = server.await.unwrap();
    assert_eq!(upgrade.path_and_query, "/ws/api/chat/1/?after_seq=2");
}

#[tokio::test]
async fn what_a_resume_cannot_replay_comes_with_reconnected_from_the_chat_read_again() {
    let (listener, client) = listen().await;
    let server = tokio::spawn(async move {
        let (mut first, _) = accept_as(&listener, &chat("general", &[2, 7], 0)).await;
        push(&mut first, &message(1)).await;
        close_with(&mut first, 1001).await;
        // While the client was away user 2 left, user 9 joined and the chat was renamed.
        let (mut second, _) = accept_as(&listener, &chat("renamed", &[7, 9], 1)).await;
        // The addition also arrives live (it raced the read): it is not repeated.
        push(
            &mut second,
            &Event::MemberAdded {
                chat: ChatId(1),
                user: user(9, "user9"),
                at_seq: 1,
            },
        )
        .await;
        push(&mut second, &message(2)).await;
        second
    });
    let mut conn = client.connect_with(ChatId(1), options()).await.unwrap();
    assert_eq!(next_seq(&mut conn).await, 1);
    let ChatEvent::Reconnected(reconnected) = next(&mut conn).await else {
        panic!("expected Reconnected")
    };
    assert_eq!(reconnected.after_seq, 1);
    assert_eq!(reconnected.chat.name, "renamed");
    assert_eq!(reconnected.renamed.as_deref(), Some("renamed"));
    let ids = |users: &[chatcore::model::User]| users.iter().map(|u| u.id).collect::<Vec<_>>();
    assert_eq!(ids(&reconnected.joined), [UserId(9)]);
    assert_eq!(ids(&reconnected.left), [UserId(2)]);
    assert_eq!(next_seq(&mut conn).await, 2);
    assert_eq!(conn.chat_state().name, "renamed");
    assert_eq!(ids(&conn.chat_state().participants), [UserId(7), UserId(9)]);
    drop(server.await.unwrap());
}

#[tokio::test]
async fn a_gap_in_seq_is_filled_from_history_before_the_later_message() {
    let (listener, client) = listen().await;
    let server = tokio::spawn(async move {
        let (mut socket, _) = accept(&listener).await;
        push(&mut socket, &message(1)).await;
        // 2 and 3 never come on the socket.
        push(&mut socket, &message(4)).await;
        let history = serde_json::to_string(&[stored(2), stored(3), stored(4)]).unwrap();
        let request = scripted::answer(
            &listener,
            "200 OK",
            &[("content-type", "application/json")],
            history.as_bytes(),
        )
        .await;
        push(&mut socket, &message(5)).await;
        (request, socket)
    });
    let mut conn = client.connect_with(ChatId(1), options()).await.unwrap();
    let mut seqs = Vec::new();
    for _ in 0..5 {
        seqs.push(next_seq(&mut conn).await);
    }
    assert_eq!(seqs, [1, 2, 3, 4, 5]);
    let (request, _socket) = server.await.unwrap();
    assert_eq!(
        request.line,
        "GET /api/chat/1/message/?limit=200&after_seq=1 HTTP/1.1"
    );
}

#[tokio::test]
async fn send_waits_for_the_ack_and_keeps_events_that_came_first() {
    let (listener, client) = listen().await;
    let server = tokio::spawn(async move {
        let (mut socket, _) = accept(&listener).await;
        let frame = read_text(&mut socket).await;
        push(&mut socket, &message(1)).await;
        push_text(
            &mut socket,
            r#"{"type":"ack","id":101,"seq":1,"client_id":"c-1"}"#,
        )
        .await;
        (frame, socket)
    });
    let mut conn = client.connect_with(ChatId(1), options()).await.unwrap();
    let message = NewMessage {
        content: "hello".into(),
        client_id: Some("c-1".into()),
    };
    let ack = conn.send_message(&message).await.unwrap();
    assert_eq!(ack.seq, 1);
    assert_eq!(ack.id, MessageId(101));
    assert_eq!(next_seq(&mut conn).await, 1);
    let (frame, _socket) = server.await.unwrap();
    assert_eq!(
        frame,
        serde_json::json!({"type": "send", "content": "hello", "client_id": "c-1"})
    );
}

#[tokio::test]
async fn a_send_from_another_task_is_acknowledged_while_this_one_awaits_events() {
    let (listener, client) = listen().await;
    let server = tokio::spawn(async move {
        let (mut socket, _) = accept(&listener).await;
        let frame = read_text(&mut socket).await;
        let client_id = frame["client_id"].as_str().unwrap().to_owned();
        let ack = serde_json::json!({"type": "ack", "id": 101, "seq": 1, "client_id": client_id});
        push_text(&mut socket, &ack.to_string()).await;
        push(&mut socket, &message(1)).await;
        (frame, socket)
    });
    let mut conn = client.connect_with(ChatId(1), options()).await.unwrap();
    let sender = conn.sender();
    let reader = tokio::spawn(async move {
        let seq = next_seq(&mut conn).await;
        (seq, conn)
    });
    // The reader task is parked on the stream; the send goes on.
    let ack = tokio::time::timeout(PATIENCE, sender.send("hello"))
        .await
        .unwrap()
        .unwrap();
    let (seq, _conn) = reader.await.unwrap();
    assert_eq!((ack.seq, seq), (1, 1));
    let (frame, _socket) = server.await.unwrap();
    assert_eq!(frame["content"], "hello");
    assert_eq!(ack.client_id.as_deref(), frame["client_id"].as_str());
}

#[tokio::test]
async fn a_send_is_acknowledged_even_when_nobody_reads_the_stream() {
    let (listener, client) = listen().await;
    let server = tokio::spawn(async move {
        let (mut socket, _) = accept(&listener).await;
        let frame = read_text(&mut socket).await;
        // Far more events than the connection buffers before the ack.
        for seq in 1..=3000 {
            push(&mut socket, &message(seq)).await;
        }
        let ack = serde_json::json!({"type": "ack", "id": 1, "seq": 3001,
                                     "client_id": frame["client_id"]});
        push_text(&mut socket, &ack.to_string()).await;
        socket
    });
    let mut conn = client.connect_with(ChatId(1), options()).await.unwrap();
    let ack = tokio::time::timeout(PATIENCE, conn.send("hello"))
        .await
        .expect("the ack is not stuck behind unread events")
        .unwrap();
    assert_eq!(ack.seq, 3001);
    for expected in 1..=3000 {
        assert_eq!(next_seq(&mut conn).await, expected);
    }
    drop(server.await.unwrap());
}

#[tokio::test]
async fn a_send_cut_off_before_its_ack_is_sent_again_with_the_same_client_id() {
    let (listener, client) = listen().await;
    let server = tokio::spawn(async move {
        let (mut first, _) = accept(&listener).await;
        let first_frame = read_text(&mut first).await;
        close_with(&mut first, 1001).await;
        let (mut second, upgrade) = accept(&listener).await;
        let second_frame = read_text(&mut second).await;
        push_text(
            &mut second,
            r#"{"type":"ack","id":101,"seq":1,"client_id":"c-9"}"#,
        )
        .await;
        (first_frame, second_frame, upgrade, second)
    });
    let conn = client.connect_with(ChatId(1), options()).await.unwrap();
    let message = NewMessage {
        content: "hello".into(),
        client_id: Some("c-9".into()),
    };
    let ack = conn.send_message(&message).await.unwrap();
    assert_eq!(ack.client_id.as_deref(), Some("c-9"));
    let (first, second, upgrade, _socket) = server.await.unwrap();
    assert_eq!(first, second);
    assert_eq!(upgrade.path_and_query, "/ws/api/chat/1/?after_seq=0");
}

#[tokio::test]
async fn a_refused_frame_is_a_rejected_error_and_the_connection_stays() {
    let (listener, client) = listen().await;
    let server = tokio::spawn(async move {
        let (mut socket, _) = accept(&listener).await;
        read_text(&mut socket).await;
        push_text(
            &mut socket,
            r#"{"type":"error","code":"invalid","error":"content: must not be blank"}"#,
        )
        .await;
        push(&mut socket, &message(1)).await;
        socket
    });
    let mut conn = client.connect_with(ChatId(1), options()).await.unwrap();
    let err = conn.send("   ").await.unwrap_err();
    assert_eq!(err.kind(), Some(ErrorKind::Invalid));
    assert_eq!(err.server_message(), Some("content: must not be blank"));
    assert_eq!(next_seq(&mut conn).await, 1);
    drop(server.await.unwrap());
}

#[tokio::test]
async fn the_removal_of_this_user_ends_the_stream_and_later_sends_fail() {
    let (listener, client) = listen().await;
    let server = tokio::spawn(async move {
        let (mut socket, _) = accept(&listener).await;
        push(&mut socket, &removed(7, RemovalReason::Removed)).await;
        // The server closes; the client must not come back.
        close_with(&mut socket, 1000).await;
        let again = tokio::time::timeout(Duration::from_millis(300), listener.accept()).await;
        again.is_err()
    });
    let mut conn = client.connect_with(ChatId(1), options()).await.unwrap();
    let event = next_event(&mut conn).await;
    assert!(matches!(event, Event::MemberRemoved { ref user, .. } if user.id == UserId(7)));
    assert!(end_of(&mut conn).await.is_none());
    assert_eq!(conn.ended(), Some("this user was removed from the chat"));
    let err = conn.send("still here?").await.unwrap_err();
    assert!(matches!(err, Error::Closed { .. }), "{err:?}");
    assert!(
        server.await.unwrap(),
        "the client reconnected after its removal"
    );
}

#[tokio::test]
async fn a_revoked_credential_ends_the_stream_without_reconnecting() {
    let (listener, client) = listen().await;
    let server = tokio::spawn(async move {
        let (mut socket, _) = accept(&listener).await;
        push(&mut socket, &message(1)).await;
        close_with(&mut socket, 4001).await;
        let again = tokio::time::timeout(Duration::from_millis(300), listener.accept()).await;
        again.is_err()
    });
    let mut conn = client.connect_with(ChatId(1), options()).await.unwrap();
    assert_eq!(next_seq(&mut conn).await, 1);
    let err = end_of(&mut conn).await.expect("an error ends the stream");
    assert!(
        matches!(
            err,
            Error::Closed {
                code: Some(4001),
                ..
            }
        ),
        "{err:?}"
    );
    assert!(conn.ended().is_some());
    assert!(server.await.unwrap(), "the client reconnected after 4001");
}

#[tokio::test]
async fn connect_asks_whether_the_user_is_an_admin_who_reads_on_after_a_removal() {
    let (listener, client) = listen().await;
    let server = tokio::spawn(async move {
        let me = scripted::answer(
            &listener,
            "200 OK",
            &[("content-type", "application/json")],
            br#"{"id":7,"first_name":"","last_name":"","username":"root","email":"",
                "is_active":true,"is_superuser":true}"#,
        )
        .await;
        let (mut socket, _) = accept(&listener).await;
        push(&mut socket, &removed(7, RemovalReason::Removed)).await;
        push(&mut socket, &message(1)).await;
        (me.line, socket)
    });
    let mut conn = client
        .connect_with(ChatId(1), ConnectOptions::default().after_seq(0))
        .await
        .unwrap();
    let event = next_event(&mut conn).await;
    assert!(matches!(event, Event::MemberRemoved { ref user, .. } if user.id == UserId(7)));
    assert_eq!(next_seq(&mut conn).await, 1);
    assert_eq!(conn.ended(), None);
    let (request, _socket) = server.await.unwrap();
    assert_eq!(request, "GET /api/accounts/me/ HTTP/1.1");
}

/// An admin who is not a member is demoted: the server sends their `member_removed` and
/// ends the stream with a normal close (1000). The stream ends there, cleanly; the client
/// does not come back to be refused.
#[tokio::test]
async fn a_normal_close_by_the_server_ends_the_stream_of_a_demoted_admin() {
    let (listener, client) = listen().await;
    let server = tokio::spawn(async move {
        let (mut socket, _) = accept(&listener).await;
        push(&mut socket, &removed(7, RemovalReason::Removed)).await;
        close_with(&mut socket, 1000).await;
        let again = tokio::time::timeout(Duration::from_millis(300), listener.accept()).await;
        again.is_err()
    });
    let mut conn = client
        .connect_with(
            ChatId(1),
            ConnectOptions::default()
                .user(UserId(7))
                .admin(true)
                .after_seq(0),
        )
        .await
        .unwrap();
    let event = next_event(&mut conn).await;
    assert!(matches!(event, Event::MemberRemoved { ref user, .. } if user.id == UserId(7)));
    assert!(end_of(&mut conn).await.is_none(), "a clean end, no error");
    assert!(conn.ended().is_some());
    assert!(
        server.await.unwrap(),
        "the client reconnected after the server ended the stream"
    );
}

#[tokio::test]
async fn without_after_seq_the_connection_starts_at_the_chats_last_seq() {
    let (listener, client) = listen().await;
    let server = tokio::spawn(async move {
        answer_chat(&listener, &chat("general", &[2, 7], 41)).await;
        let (socket, upgrade) = accept_as(&listener, &chat("general", &[2, 7], 41)).await;
        (upgrade, socket)
    });
    let conn = client
        .connect_with(
            ChatId(1),
            ConnectOptions::default().user(UserId(7)).admin(false),
        )
        .await
        .unwrap();
    assert_eq!(conn.last_seq(), 41);
    let (upgrade, _socket) = server.await.unwrap();
    assert_eq!(upgrade.path_and_query, "/ws/api/chat/1/?after_seq=41");
}

#[tokio::test]
async fn a_refused_reconnect_ends_the_stream_with_the_servers_error() {
    let (listener, client) = listen().await;
    let server = tokio::spawn(async move {
        let (mut socket, _) = accept(&listener).await;
        push(&mut socket, &message(1)).await;
        close_with(&mut socket, 1001).await;
        refuse(
            &listener,
            403,
            &[],
            r#"{"error":"You are not a member of this chat","code":"forbidden"}"#,
        )
        .await;
    });
    let mut conn = client.connect_with(ChatId(1), options()).await.unwrap();
    assert_eq!(next_seq(&mut conn).await, 1);
    let err = end_of(&mut conn).await.expect("an error ends the stream");
    assert_eq!(err.status(), Some(403), "{err:?}");
    server.await.unwrap();
}

#[tokio::test]
async fn a_refused_upgrade_with_retry_after_is_not_retried_sooner() {
    let (listener, client) = listen().await;
    let server = tokio::spawn(async move {
        let (mut socket, _) = accept(&listener).await;
        push(&mut socket, &message(1)).await;
        close_with(&mut socket, 1001).await;
        refuse(
            &listener,
            503,
            &[("retry-after", "1")],
            r#"{"error":"The server is busy","code":"unavailable"}"#,
        )
        .await;
        let refused_at = Instant::now();
        let (mut socket, _) = accept(&listener).await;
        let waited = refused_at.elapsed();
        push(&mut socket, &message(2)).await;
        (waited, socket)
    });
    // The backoff alone would come back after 10 ms.
    let mut conn = client.connect_with(ChatId(1), options()).await.unwrap();
    assert_eq!(next_seq(&mut conn).await, 1);
    assert!(matches!(next(&mut conn).await, ChatEvent::Reconnected(_)));
    assert_eq!(next_seq(&mut conn).await, 2);
    let (waited, _socket) = server.await.unwrap();
    assert!(waited >= Duration::from_millis(950), "{waited:?}");
}

#[tokio::test]
async fn reconnecting_gives_up_after_the_configured_number_of_failures() {
    let (listener, client) = listen().await;
    let server = tokio::spawn(async move {
        let (mut socket, _) = accept(&listener).await;
        push(&mut socket, &message(1)).await;
        close_with(&mut socket, 1001).await;
        // The listener goes away: every reconnect is refused by the operating system.
        drop(listener);
    });
    let mut conn = client
        .connect_with(ChatId(1), options().max_failures(Some(3)))
        .await
        .unwrap();
    assert_eq!(next_seq(&mut conn).await, 1);
    server.await.unwrap();
    let err = end_of(&mut conn).await.expect("an error ends the stream");
    assert!(
        matches!(err, Error::ReconnectFailed { attempts: 3, .. }),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_silent_server_is_pinged_and_then_left_for_a_new_connection() {
    let (listener, client) = listen().await;
    let server = tokio::spawn(async move {
        let (first, _) = accept(&listener).await;
        // Never read: tungstenite answers pings only while reading, so no pong comes.
        let (mut second, upgrade) = accept(&listener).await;
        push(&mut second, &message(1)).await;
        (first, second, upgrade)
    });
    let mut conn = client
        .connect_with(
            ChatId(1),
            options().ping_interval(Duration::from_millis(100)),
        )
        .await
        .unwrap();
    assert!(matches!(next(&mut conn).await, ChatEvent::Reconnected(_)));
    assert_eq!(next_seq(&mut conn).await, 1);
    let (_first, _second, upgrade) = server.await.unwrap();
    assert_eq!(upgrade.path_and_query, "/ws/api/chat/1/?after_seq=0");
}

#[tokio::test]
async fn closing_says_goodbye_and_ends_the_stream() {
    let (listener, client) = listen().await;
    let server = tokio::spawn(async move {
        let (mut socket, _) = accept(&listener).await;
        loop {
            match socket.next().await {
                Some(Ok(WsMessage::Close(_))) | None => return true,
                Some(Ok(_)) => {}
                Some(Err(_)) => return false,
            }
        }
    });
    let conn = client.connect_with(ChatId(1), options()).await.unwrap();
    let sender = conn.sender();
    conn.close().await;
    assert!(server.await.unwrap(), "the server got a close frame");
    let err = sender.send("anyone?").await.unwrap_err();
    assert!(matches!(err, Error::Closed { .. }), "{err:?}");
}
