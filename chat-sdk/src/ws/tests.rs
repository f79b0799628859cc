//! The connection against a scripted server.
//!
//! The chat server's WebSocket comes in a later issue; until then these tests play the
//! documented protocol from a small tungstenite server, one scripted connection at a time.

use super::fixtures::{message, removed, text};
use super::{CLOSE_LAGGED, ChatConnection, ConnectOptions};
use crate::client::Client;
use crate::error::Error;
use chatcore::ErrorKind;
use chatcore::model::{ChatId, Event, MessageId, RemovalReason, UserId};
use futures_util::{SinkExt, StreamExt};
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::{self, Message as WsMessage};

type ServerSocket = WebSocketStream<TcpStream>;

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
async fn accept(listener: &TcpListener) -> (ServerSocket, Upgrade) {
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

/// Refuses one upgrade with `status` and the contract's error body.
#[allow(clippy::result_large_err)]
async fn refuse(listener: &TcpListener, status: u16, body: &str) {
    let (tcp, _) = listener.accept().await.unwrap();
    let body = body.to_owned();
    let _ = tokio_tungstenite::accept_hdr_async(
        tcp,
        move |_: &tungstenite::handshake::server::Request,
              _: tungstenite::handshake::server::Response| {
            Err(http::Response::builder()
                .status(status)
                .header("content-type", "application/json")
                .body(Some(body))
                .unwrap())
        },
    )
    .await;
}

async fn push(socket: &mut ServerSocket, event: &Event) {
    socket.send(WsMessage::text(text(event))).await.unwrap();
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

async fn next_seq(conn: &mut ChatConnection) -> i64 {
    let event = tokio::time::timeout(Duration::from_secs(5), conn.next_event())
        .await
        .expect("an event within 5 s")
        .expect("the stream goes on")
        .expect("an event, not an error");
    event.seq().expect("a message event")
}

#[tokio::test]
async fn the_upgrade_carries_the_token_and_after_seq_and_events_arrive_typed() {
    let (listener, client) = listen().await;
    let server = tokio::spawn(async move {
        let (mut socket, upgrade) = accept(&listener).await;
        push(&mut socket, &message(1)).await;
        push(&mut socket, &removed(8, RemovalReason::Left)).await;
        socket
            .send(WsMessage::text(r#"{"type":"typing","user":3}"#))
            .await
            .unwrap();
        push(&mut socket, &message(2)).await;
        (upgrade, socket)
    });
    let mut conn = client
        .connect_with(ChatId(1), options().after_seq(0))
        .await
        .unwrap();
    assert_eq!(next_seq(&mut conn).await, 1);
    let event = conn.next_event().await.unwrap().unwrap();
    assert!(matches!(event, Event::MemberRemoved { ref user, .. } if user.id == UserId(8)));
    // The unknown `typing` frame is skipped.
    assert_eq!(next_seq(&mut conn).await, 2);
    assert_eq!(conn.last_seq(), 2);
    let (upgrade, _socket) = server.await.unwrap();
    assert_eq!(upgrade.path_and_query, "/ws/api/chat/1/?after_seq=0");
    assert_eq!(
        upgrade.authorization.as_deref(),
        Some("Token 0123456789abcdef0123456789abcdef01234567")
    );
}

#[tokio::test]
async fn a_lagged_close_resumes_from_the_last_seq_without_duplicates() {
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
        let (mut second, upgrade) = accept(&listener).await;
        // A replay that overlaps what was delivered: the client drops the duplicate.
        push(&mut second, &message(2)).await;
        push(&mut second, &message(3)).await;
        (upgrade, second)
    });
    let mut conn = client.connect_with(ChatId(1), options()).await.unwrap();
    assert_eq!(next_seq(&mut conn).await, 1);
    assert_eq!(next_seq(&mut conn).await, 2);
    assert_eq!(next_seq(&mut conn).await, 3);
    let (upgrade, _socket) = server.await.unwrap();
    assert_eq!(upgrade.path_and_query, "/ws/api/chat/1/?after_seq=2");
}

#[tokio::test]
async fn send_waits_for_the_ack_and_keeps_events_that_came_first() {
    let (listener, client) = listen().await;
    let server = tokio::spawn(async move {
        let (mut socket, _) = accept(&listener).await;
        let frame = read_text(&mut socket).await;
        push(&mut socket, &message(1)).await;
        socket
            .send(WsMessage::text(
                r#"{"type":"ack","id":101,"seq":1,"client_id":"c-1"}"#,
            ))
            .await
            .unwrap();
        (frame, socket)
    });
    let mut conn = client.connect_with(ChatId(1), options()).await.unwrap();
    let ack = conn.send("hello", "c-1").await.unwrap();
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
async fn a_send_cut_off_before_its_ack_is_sent_again_with_the_same_client_id() {
    let (listener, client) = listen().await;
    let server = tokio::spawn(async move {
        let (mut first, _) = accept(&listener).await;
        let first_frame = read_text(&mut first).await;
        close_with(&mut first, 1001).await;
        let (mut second, upgrade) = accept(&listener).await;
        let second_frame = read_text(&mut second).await;
        second
            .send(WsMessage::text(
                r#"{"type":"ack","id":101,"seq":1,"client_id":"c-9"}"#,
            ))
            .await
            .unwrap();
        (first_frame, second_frame, upgrade, second)
    });
    let mut conn = client.connect_with(ChatId(1), options()).await.unwrap();
    let ack = conn.send("hello", "c-9").await.unwrap();
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
        socket
            .send(WsMessage::text(
                r#"{"type":"error","code":"invalid","error":"content: must not be blank"}"#,
            ))
            .await
            .unwrap();
        push(&mut socket, &message(1)).await;
        socket
    });
    let mut conn = client.connect_with(ChatId(1), options()).await.unwrap();
    let err = conn.send("   ", "c-2").await.unwrap_err();
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
    let event = conn.next_event().await.unwrap().unwrap();
    assert!(matches!(event, Event::MemberRemoved { ref user, .. } if user.id == UserId(7)));
    assert!(conn.next_event().await.is_none());
    assert_eq!(conn.ended(), Some("this user was removed from the chat"));
    let err = conn.send("still here?", "c-3").await.unwrap_err();
    assert!(matches!(err, Error::Closed { .. }), "{err:?}");
    assert!(
        server.await.unwrap(),
        "the client reconnected after its removal"
    );
}

/// Answers one plain HTTP request with a JSON `body`; returns the request line.
async fn answer_http(listener: &TcpListener, body: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let (mut tcp, _) = listener.accept().await.unwrap();
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = tcp.read(&mut buf).await.unwrap();
        assert!(n > 0, "the client closed before its request ended");
        head.extend_from_slice(&buf[..n]);
    }
    let response = format!(
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\
         connection: close\r\n\r\n{body}",
        body.len()
    );
    tcp.write_all(response.as_bytes()).await.unwrap();
    let _ = tcp.shutdown().await;
    let head = String::from_utf8_lossy(&head);
    head.lines().next().unwrap_or_default().to_owned()
}

#[tokio::test]
async fn connect_asks_whether_the_user_is_an_admin_who_reads_on_after_a_removal() {
    let (listener, client) = listen().await;
    let server = tokio::spawn(async move {
        let request = answer_http(
            &listener,
            r#"{"id":7,"first_name":"","last_name":"","username":"root","email":"",
                "is_active":true,"is_superuser":true}"#,
        )
        .await;
        let (mut socket, _) = accept(&listener).await;
        push(&mut socket, &removed(7, RemovalReason::Removed)).await;
        push(&mut socket, &message(1)).await;
        (request, socket)
    });
    let mut conn = client
        .connect_with(ChatId(1), ConnectOptions::default().after_seq(0))
        .await
        .unwrap();
    let event = conn.next_event().await.unwrap().unwrap();
    assert!(matches!(event, Event::MemberRemoved { ref user, .. } if user.id == UserId(7)));
    assert_eq!(next_seq(&mut conn).await, 1);
    assert_eq!(conn.ended(), None);
    let (request, _socket) = server.await.unwrap();
    assert_eq!(request, "GET /api/accounts/me/ HTTP/1.1");
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
            r#"{"error":"You are not a member of this chat","code":"forbidden"}"#,
        )
        .await;
    });
    let mut conn = client.connect_with(ChatId(1), options()).await.unwrap();
    assert_eq!(next_seq(&mut conn).await, 1);
    let err = conn.next_event().await.unwrap().unwrap_err();
    assert_eq!(err.status(), Some(403), "{err:?}");
    assert!(conn.next_event().await.is_none());
    server.await.unwrap();
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
    let err = tokio::time::timeout(Duration::from_secs(5), conn.next_event())
        .await
        .unwrap()
        .unwrap()
        .unwrap_err();
    assert!(
        matches!(err, Error::ReconnectFailed { attempts: 3, .. }),
        "{err:?}"
    );
    assert!(conn.next_event().await.is_none());
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
    assert_eq!(next_seq(&mut conn).await, 1);
    let (_first, _second, upgrade) = server.await.unwrap();
    assert_eq!(upgrade.path_and_query, "/ws/api/chat/1/?after_seq=0");
}
