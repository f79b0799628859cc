//! The SDK's live stream against the real server: across a server restart (same database,
//! same port) nothing is lost or repeated and `Reconnected` carries what changed; a send
//! from one task while another awaits the stream; a message lost on the way (a relay drops
//! its frame) filled from history; the removal of this user and a revoked credential ending
//! the stream. (`Retry-After` on a refused upgrade is tested against a scripted server in
//! chat-sdk: the real server refuses upgrades with it only under load.)

use crate::helpers::*;
use chat_sdk::model::{ChatId, Event, RemovalReason};
use chat_sdk::{ChatConnection, ChatEvent, Client, ConnectOptions, Error};
use futures_util::StreamExt;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// How long an item the test waits for may take.
const PATIENCE: Duration = Duration::from_secs(15);

/// An SDK client of the server at `address`, signed in as `user`.
fn sdk_as(address: SocketAddr, user: &TestUser) -> Client {
    Client::new(&format!("http://{address}"))
        .expect("a socket address is a valid base URL")
        .with_token(&user.token)
        .expect("a token is a valid header")
}

/// The stream's next item.
async fn next(stream: &mut ChatConnection) -> ChatEvent {
    tokio::time::timeout(PATIENCE, stream.next())
        .await
        .expect("an item in time")
        .expect("the stream goes on")
        .expect("an item, not an error")
}

/// Items until `count` messages came: the messages' `(seq, content)` and every
/// `Reconnected`.
async fn messages(
    stream: &mut ChatConnection,
    count: usize,
) -> (Vec<(i64, String)>, Vec<chat_sdk::Reconnected>) {
    let mut seen = Vec::new();
    let mut reconnects = Vec::new();
    while seen.len() < count {
        match next(stream).await {
            ChatEvent::Reconnected(back) => reconnects.push(back),
            item => {
                if let Some(m) = item.message() {
                    seen.push((m.seq, m.content.clone()));
                }
            }
        }
    }
    (seen, reconnects)
}

fn seqs(seen: &[(i64, String)]) -> Vec<i64> {
    seen.iter().map(|(seq, _)| *seq).collect()
}

#[tokio::test]
async fn the_stream_survives_a_server_restart_without_losing_or_repeating_a_message() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("chat.db");
    let first = spawn_app_at(&db, "127.0.0.1:0".parse().unwrap()).await;
    let address = first.address;
    let admin = first.create_admin("root").await;
    let ann = first.create_user("ann").await;
    let bob = first.create_user("bob").await;
    let chat = first.create_chat(&admin, "general", &[&ann, &bob]).await;
    // After the drop the first attempt is at once (and refused: the server is down); the
    // next waits 2 s, long enough to restart the server and change the chat meanwhile.
    let options = ConnectOptions::default()
        .initial_backoff(Duration::from_secs(2))
        .max_backoff(Duration::from_secs(2));
    let mut stream = sdk_as(address, &ann)
        .connect_with(chat.id, options)
        .await
        .unwrap();
    assert_eq!(stream.send("before, from ann").await.unwrap().seq, 1);
    first.post_message(&bob, chat.id, "before, from bob").await;
    let (before, _) = messages(&mut stream, 2).await;
    assert_eq!(seqs(&before), [1, 2]);

    first.stop().await;
    let second = spawn_app_at(&db, address).await;
    // While the stream is away: three messages, a new member, a new name.
    for i in 3..=5 {
        second
            .post_message(&bob, chat.id, &format!("while away {i}"))
            .await;
    }
    let carol = second.create_user("carol").await;
    let root = second.actor(&admin).await;
    second
        .services
        .membership
        .add_member(&root, chat.id, carol.id())
        .await
        .unwrap();
    second
        .services
        .membership
        .rename_chat(&root, chat.id, "after the restart")
        .await
        .unwrap();

    let (away, reconnects) = messages(&mut stream, 3).await;
    assert_eq!(seqs(&away), [3, 4, 5], "{away:?}");
    let back = reconnects
        .last()
        .expect("Reconnected came before the replay");
    assert_eq!(back.after_seq, 2);
    assert_eq!(back.renamed.as_deref(), Some("after the restart"));
    let joined: Vec<_> = back.joined.iter().map(|u| u.id).collect();
    assert_eq!(joined, [carol.id()]);
    assert!(back.left.is_empty());
    assert_eq!(stream.chat_state().name, "after the restart");
    assert_eq!(stream.chat_state().participants.len(), 3);

    // The stream is live again, both ways.
    second.post_message(&bob, chat.id, "after, from bob").await;
    let ack = stream.send("after, from ann").await.unwrap();
    assert_eq!(ack.seq, 7);
    let (after, more) = messages(&mut stream, 2).await;
    assert_eq!(seqs(&after), [6, 7]);
    assert!(more.is_empty(), "one reconnect only");
    let history = sdk_as(address, &ann)
        .messages_since(chat.id, 0)
        .await
        .unwrap();
    let everything: Vec<_> = before.into_iter().chain(away).chain(after).collect();
    let stored: Vec<_> = history.into_iter().map(|m| (m.seq, m.content)).collect();
    assert_eq!(
        everything, stored,
        "the stream gave exactly the stored history"
    );
    second.stop().await;
}

#[tokio::test]
async fn a_send_from_one_task_is_acknowledged_while_another_awaits_the_stream() {
    let app = spawn_app().await;
    let admin = app.create_admin("root").await;
    let ann = app.create_user("ann").await;
    let chat = app.create_chat(&admin, "general", &[&ann]).await;
    let mut stream = sdk_as(app.address, &ann).connect(chat.id).await.unwrap();
    let sender = stream.sender();
    let reader = tokio::spawn(async move {
        let (seen, _) = messages(&mut stream, 3).await;
        seqs(&seen)
    });
    // Let the reader park on the stream first.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut acked = Vec::new();
    for i in 1..=3 {
        let ack = tokio::time::timeout(PATIENCE, sender.send(&format!("hello {i}")))
            .await
            .expect("the ack in time")
            .unwrap();
        acked.push(ack.seq);
    }
    assert_eq!(acked, [1, 2, 3]);
    assert_eq!(reader.await.unwrap(), [1, 2, 3]);
}

#[tokio::test]
async fn a_message_lost_on_the_way_is_filled_from_history() {
    let app = spawn_app().await;
    let admin = app.create_admin("root").await;
    let ann = app.create_user("ann").await;
    let bob = app.create_user("bob").await;
    let chat = app.create_chat(&admin, "general", &[&ann, &bob]).await;
    let relay = LossyRelay::start(app.address, 2).await;
    let mut stream = sdk_as(relay.address, &ann).connect(chat.id).await.unwrap();
    for i in 1..=3 {
        app.post_message(&bob, chat.id, &format!("m{i}")).await;
    }
    let (seen, reconnects) = messages(&mut stream, 3).await;
    assert_eq!(relay.dropped(), 1, "the relay dropped message 2's frame");
    assert_eq!(seen, [(1, "m1".into()), (2, "m2".into()), (3, "m3".into())]);
    assert!(
        reconnects.is_empty(),
        "filled from history, not by a resume"
    );
}

#[tokio::test]
async fn the_removal_of_this_user_ends_the_stream() {
    let app = spawn_app().await;
    let admin = app.create_admin("root").await;
    let ann = app.create_user("ann").await;
    let bob = app.create_user("bob").await;
    let chat = app.create_chat(&admin, "general", &[&ann, &bob]).await;
    let mut stream = sdk_as(app.address, &ann).connect(chat.id).await.unwrap();
    let sender = stream.sender();
    app.services
        .membership
        .remove_member(&app.actor(&admin).await, chat.id, ann.id())
        .await
        .unwrap();
    match next(&mut stream).await {
        ChatEvent::Event(Event::MemberRemoved { user, reason, .. }) => {
            assert_eq!((user.id, reason), (ann.id(), RemovalReason::Removed));
        }
        other => panic!("expected ann's removal, got {other:?}"),
    }
    let end = tokio::time::timeout(PATIENCE, stream.next()).await.unwrap();
    assert!(end.is_none(), "the stream ends: {end:?}");
    assert_eq!(stream.ended(), Some("this user was removed from the chat"));
    let err = sender.send("still here?").await.unwrap_err();
    assert!(matches!(err, Error::Closed { .. }), "{err:?}");
    // Bob's stream is not affected.
    let mut bobs = sdk_as(app.address, &bob).connect(chat.id).await.unwrap();
    app.post_message(&bob, chat.id, "ann is gone").await;
    let (seen, _) = messages(&mut bobs, 1).await;
    assert_eq!(seqs(&seen), [1]);
}

#[tokio::test]
async fn a_revoked_token_ends_the_stream_with_close_4001() {
    let mut settings = chat_server::Settings::default();
    // The server re-checks a socket's credential at every ping.
    settings.ws.ping_interval = Duration::from_millis(200);
    let app = spawn_app_with(Backend::Sqlite, chatcore::Config::for_tests(), settings)
        .await
        .unwrap();
    let admin = app.create_admin("root").await;
    let ann = app.create_user("ann").await;
    let chat = app.create_chat(&admin, "general", &[&ann]).await;
    let client = sdk_as(app.address, &ann);
    let mut stream = client.connect(chat.id).await.unwrap();
    client.logout().await.unwrap();
    let last = tokio::time::timeout(PATIENCE, stream.next())
        .await
        .unwrap()
        .expect("an error before the end");
    let err = last.expect_err("the stream ends with an error");
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
    assert!(!err.is_retryable());
    assert!(
        tokio::time::timeout(PATIENCE, stream.next())
            .await
            .unwrap()
            .is_none()
    );
    assert!(stream.ended().is_some());
}

#[tokio::test]
async fn a_missing_chat_or_a_stranger_is_refused_before_any_stream() {
    let app = spawn_app().await;
    let admin = app.create_admin("root").await;
    let ann = app.create_user("ann").await;
    let eve = app.create_user("eve").await;
    let chat = app.create_chat(&admin, "general", &[&ann]).await;
    let err = sdk_as(app.address, &eve)
        .connect(chat.id)
        .await
        .unwrap_err();
    assert!(err.is_forbidden(), "{err:?}");
    let err = sdk_as(app.address, &ann)
        .connect(ChatId(999_999))
        .await
        .unwrap_err();
    assert!(err.is_not_found(), "{err:?}");
    assert!(
        err.request_id().is_some(),
        "the server's request id is kept"
    );
}

/// A TCP relay in front of a server: HTTP passes through unchanged; on a WebSocket it
/// drops the server's `message` frame of one `seq`, as a lossy network path would.
struct LossyRelay {
    address: SocketAddr,
    dropped: Arc<AtomicUsize>,
}

impl LossyRelay {
    async fn start(upstream: SocketAddr, drop_seq: i64) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let dropped = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&dropped);
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                tokio::spawn(relay(client, upstream, drop_seq, Arc::clone(&counter)));
            }
        });
        Self { address, dropped }
    }

    /// How many frames it dropped.
    fn dropped(&self) -> usize {
        self.dropped.load(Ordering::SeqCst)
    }
}

/// Reads until the end of an HTTP head; everything read (the head and what followed it).
async fn read_head(stream: &mut (impl AsyncReadExt + Unpin)) -> Option<(Vec<u8>, usize)> {
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        if let Some(at) = seen.windows(4).position(|w| w == b"\r\n\r\n") {
            return Some((seen, at + 4));
        }
        let n = stream.read(&mut buf).await.ok()?;
        if n == 0 {
            return None;
        }
        seen.extend_from_slice(&buf[..n]);
    }
}

/// One server frame at the start of `buf` (servers never mask): its whole length, its
/// opcode and its payload, once all of it is there.
fn server_frame(buf: &[u8]) -> Option<(usize, u8, &[u8])> {
    let [first, second, ..] = *buf else {
        return None;
    };
    let (length, at) = match second & 0x7f {
        126 => (
            usize::from(u16::from_be_bytes(buf.get(2..4)?.try_into().ok()?)),
            4,
        ),
        127 => (
            usize::try_from(u64::from_be_bytes(buf.get(2..10)?.try_into().ok()?)).ok()?,
            10,
        ),
        short => (usize::from(short), 2),
    };
    let payload = buf.get(at..at + length)?;
    Some((at + length, first & 0x0f, payload))
}

async fn relay(
    mut client: TcpStream,
    upstream: SocketAddr,
    drop_seq: i64,
    dropped: Arc<AtomicUsize>,
) {
    let Ok(mut server) = TcpStream::connect(upstream).await else {
        return;
    };
    let Some((request, _)) = read_head(&mut client).await else {
        return;
    };
    if server.write_all(&request).await.is_err() {
        return;
    }
    let is_upgrade = String::from_utf8_lossy(&request)
        .to_ascii_lowercase()
        .contains("upgrade: websocket");
    if !is_upgrade {
        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
        return;
    }
    let (mut client_read, mut client_write) = client.into_split();
    let (mut server_read, mut server_write) = server.into_split();
    let upstream_copy = tokio::spawn(async move {
        let _ = tokio::io::copy(&mut client_read, &mut server_write).await;
    });
    let Some((response, head_end)) = read_head(&mut server_read).await else {
        return;
    };
    if client_write.write_all(&response[..head_end]).await.is_err() {
        return;
    }
    let mut pending = response[head_end..].to_vec();
    let mut buf = [0u8; 8192];
    'frames: loop {
        while let Some((length, opcode, payload)) = server_frame(&pending) {
            let lost = opcode == 1
                && serde_json::from_slice::<serde_json::Value>(payload)
                    .is_ok_and(|frame| frame["type"] == "message" && frame["seq"] == drop_seq);
            if lost {
                dropped.fetch_add(1, Ordering::SeqCst);
            } else if client_write.write_all(&pending[..length]).await.is_err() {
                break 'frames;
            }
            pending.drain(..length);
        }
        match server_read.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => pending.extend_from_slice(&buf[..n]),
        }
    }
    upstream_copy.abort();
}
