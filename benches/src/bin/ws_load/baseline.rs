//! The broadcast-only WebSocket server: what this machine can do without auth or storage,
//! the limit `chat-server` is compared with. The same stack (hyper 1's HTTP/1.1 connection
//! with upgrades, hyper-tungstenite with the real server's frame and buffer limits), the
//! same client frames (`chat_server::ws::protocol::ClientFrame::parse`) and `ack`, the same
//! `message` event (`chatcore`'s `Event::Message`, with an author, a timestamp, an id and a
//! `seq`, serialized once with `serde_json` as the core's `EventFrame` does; its constructor
//! is the core's own), the same shape of session (a `select!`
//! over the client's frames and the chat's channel, a bounded queue to a writer task).
//! What it leaves out: authentication, membership, the database, the group-commit writer
//! and the core's `Subscription` (its `seq` bookkeeping). Each chat is one
//! `tokio::sync::broadcast` channel of the real server's buffer size; its `seq` is
//! assigned, and the event sent into the channel, under the chat's lock, so channel order
//! is `seq` order.

use bytes::Bytes;
use chat_server::ws::outbound::write_queued;
use chat_server::ws::protocol::{AckFrame, ClientFrame, ErrorFrame, to_text};
use chatcore::model::{ChatId, Event, Message, MessageEvent, MessageId, User, UserId, timestamp};
use futures_util::{SinkExt, StreamExt};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_tungstenite::HyperWebsocket;
use hyper_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use hyper_tungstenite::tungstenite::protocol::{CloseFrame, WebSocketConfig};
use hyper_tungstenite::tungstenite::{Message as Frame, Utf8Bytes};
use hyper_util::rt::TokioIo;
use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use tokio::net::TcpListener;
use tokio::sync::{broadcast, mpsc};
use tokio_util::sync::CancellationToken;

/// Events a socket may fall behind its chat's channel (chatcore's default
/// `subscriber_buffer`, which `chat-server` uses).
const CHANNEL: usize = 1024;
/// Frames queued for one socket's writer (`chat-server`'s default `--ws-outbound-queue`).
const QUEUE: usize = 256;
/// The real server's largest frame and read buffer.
const MAX_MESSAGE: usize = 64 * 1024;
const READ_BUFFER: usize = 4 * 1024;

/// The chats, created on first use.
#[derive(Default)]
struct Hub {
    /// A `std` mutex: held only to find or insert a chat, never across `.await`.
    chats: Mutex<HashMap<i64, Arc<Room>>>,
    /// The next message id, over all chats.
    next_id: AtomicI64,
    /// The next author id (one per socket: there are no accounts).
    next_user: AtomicI64,
}

/// One chat: its `seq` counter and its channel.
struct Room {
    /// A `std` mutex held while the event is built and sent, never across `.await`.
    seq: Mutex<i64>,
    events: broadcast::Sender<Bytes>,
}

impl Hub {
    fn room(&self, chat: i64) -> Arc<Room> {
        let mut chats = self.chats.lock().expect("the chat map is never poisoned");
        chats
            .entry(chat)
            .or_insert_with(|| {
                Arc::new(Room {
                    seq: Mutex::new(0),
                    events: broadcast::channel(CHANNEL).0,
                })
            })
            .clone()
    }
}

/// Serves WebSockets on `listener` until `shutdown` is cancelled.
pub(crate) async fn serve(listener: TcpListener, shutdown: CancellationToken) {
    let hub = Arc::new(Hub::default());
    loop {
        let (stream, _) = tokio::select! {
            () = shutdown.cancelled() => return,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    eprintln!("baseline: accept failed: {e}");
                    continue;
                }
            },
        };
        let _ = stream.set_nodelay(true);
        let hub = hub.clone();
        let shutdown = shutdown.clone();
        tokio::spawn(async move {
            let service = service_fn(move |request| {
                let hub = hub.clone();
                let shutdown = shutdown.clone();
                async move { Ok::<_, std::convert::Infallible>(answer(request, hub, shutdown)) }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .with_upgrades()
                .await;
        });
    }
}

type Body = http_body_util::Full<Bytes>;

/// The upgrade of `/ws/api/chat/{id}/` (with or without the slash), or 404 / 400.
fn answer(
    mut request: Request<Incoming>,
    hub: Arc<Hub>,
    shutdown: CancellationToken,
) -> Response<Body> {
    let status = |code: http::StatusCode| {
        let mut response = Response::new(Body::default());
        *response.status_mut() = code;
        response
    };
    let Some(chat) = request
        .uri()
        .path()
        .strip_prefix("/ws/api/chat/")
        .map(|rest| rest.trim_end_matches('/'))
        .and_then(|id| id.parse::<i64>().ok())
    else {
        return status(http::StatusCode::NOT_FOUND);
    };
    let config = WebSocketConfig::default()
        .max_message_size(Some(MAX_MESSAGE))
        .max_frame_size(Some(MAX_MESSAGE))
        .read_buffer_size(READ_BUFFER);
    match hyper_tungstenite::upgrade(&mut request, Some(config)) {
        Ok((response, socket)) => {
            let user = hub.next_user.fetch_add(1, Ordering::Relaxed) + 1;
            let author = User {
                id: UserId(user),
                first_name: String::new(),
                last_name: String::new(),
                username: format!("member{user}"),
                email: String::new(),
            };
            tokio::spawn(session(hub, chat, author, socket, shutdown));
            response
        }
        Err(_) => status(http::StatusCode::BAD_REQUEST),
    }
}

/// One socket: its frames are posted into the chat, the chat's events go out through a
/// bounded queue to a writer task; a socket that falls behind the channel is closed (4000).
async fn session(
    hub: Arc<Hub>,
    chat: i64,
    author: User,
    socket: HyperWebsocket,
    shutdown: CancellationToken,
) {
    let Ok(socket) = socket.await else { return };
    let room = hub.room(chat);
    let mut events = room.events.subscribe();
    let (sink, mut stream) = socket.split();
    let (queue, mut queued) = mpsc::channel::<Frame>(QUEUE);
    let writer = tokio::spawn(async move {
        let mut sink = sink;
        // Written as chat-server writes: what is queued goes out in one flush.
        while let Some(frame) = queued.recv().await {
            let closing = matches!(frame, Frame::Close(_));
            if closing {
                let _ = sink.send(frame).await;
                break;
            }
            if write_queued(&mut sink, frame, &mut queued).await.is_err() {
                break;
            }
        }
        let _ = sink.close().await;
    });
    let close = |code: u16, reason: &str| {
        Frame::Close(Some(CloseFrame {
            code: CloseCode::from(code),
            reason: reason.to_owned().into(),
        }))
    };
    loop {
        tokio::select! {
            biased;
            () = shutdown.cancelled() => {
                let _ = queue.send(close(1001, "the server is shutting down")).await;
                break;
            }
            frame = stream.next() => match frame {
                Some(Ok(Frame::Text(text))) => {
                    let answer = post(&hub, &room, chat, &author, &text);
                    if queue.send(Frame::Text(answer.into())).await.is_err() {
                        break;
                    }
                }
                Some(Ok(Frame::Close(_)) | Err(_)) | None => break,
                Some(Ok(_)) => {}
            },
            event = events.recv() => match event {
                Ok(json) => {
                    let text = Utf8Bytes::try_from(json).unwrap_or_else(|_| Utf8Bytes::from_static("{}"));
                    if queue.send(Frame::Text(text)).await.is_err() {
                        break;
                    }
                }
                Err(broadcast::error::RecvError::Lagged(_)) => {
                    let _ = queue.send(close(4000, "fell behind; reconnect")).await;
                    break;
                }
                Err(broadcast::error::RecvError::Closed) => break,
            },
        }
    }
    drop(queue);
    let _ = writer.await;
}

/// A client frame: a `send` becomes a `message` event in the chat (its `ack` is the
/// answer); anything else is refused with an `error`, as the real server would.
fn post(hub: &Hub, room: &Room, chat: i64, author: &User, text: &str) -> String {
    let message = match ClientFrame::parse(text) {
        Ok(ClientFrame::Send { message, .. }) => message,
        Ok(ClientFrame::Read { .. }) => {
            let refusal = chatcore::Error::invalid("type", "read markers need a database");
            return to_text(&ErrorFrame::from(&refusal));
        }
        Err(e) => return to_text(&ErrorFrame::from(&e)),
    };
    let id = MessageId(hub.next_id.fetch_add(1, Ordering::Relaxed) + 1);
    let client_id = message.client_id.clone();
    let mut seq = room.seq.lock().expect("a seq counter is never poisoned");
    *seq += 1;
    let event = Event::Message(MessageEvent::new(Message {
        id,
        chat: ChatId(chat),
        user: author.clone(),
        content: message.content.trim().to_owned(),
        timestamp: timestamp::now(),
        seq: *seq,
        client_id: message.client_id,
    }));
    let json = serde_json::to_vec(&event).expect("events serialize to JSON infallibly");
    // No receiver is not an error: the event is simply not delivered.
    let _ = room.events.send(Bytes::from(json));
    to_text(&AckFrame::new(client_id, id, *seq))
}
