//! Fan-out under load over the wire: 50 API sockets on one chat while 10 senders post 200
//! messages each, some as `send` frames on their sockets, some over REST. Every socket gets
//! every message once, in `seq` order.

use crate::helpers::*;
use crate::sockets::{Socket, socket};
use chat_sdk::model::NewMessage;
use chat_server::Settings;
use chatcore::Config;
use futures_util::{SinkExt, StreamExt};
use serde::Deserialize;
use serde_json::json;
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::Message;

const SOCKETS: usize = 50;
const SENDERS: usize = 10;
/// Senders posting over REST (the others send frames on their sockets).
const REST_SENDERS: usize = 3;
const PER_SENDER: usize = 200;
const TOTAL: i64 = (SENDERS * PER_SENDER) as i64;

/// The fields of a server frame this test reads.
#[derive(Deserialize)]
struct Frame {
    #[serde(rename = "type")]
    kind: String,
    seq: Option<i64>,
}

/// What one socket saw: the `seq` of every `message` event in arrival order, and its acks.
#[derive(Default)]
struct Seen {
    seqs: Vec<i64>,
    acks: usize,
}

/// Reads `stream` until the message with `seq` [`TOTAL`] (and, on a sender's socket, its
/// acks) have come.
async fn read_all(mut stream: futures_util::stream::SplitStream<Socket>, acks_due: usize) -> Seen {
    let mut seen = Seen::default();
    while seen.seqs.last() != Some(&TOTAL) || seen.acks < acks_due {
        let frame = tokio::time::timeout(Duration::from_secs(30), stream.next())
            .await
            .expect("a frame within 30 s")
            .expect("the socket stays open")
            .expect("the frame is readable");
        let Message::Text(text) = frame else { continue };
        let frame: Frame = serde_json::from_str(&text).unwrap();
        match (frame.kind.as_str(), frame.seq) {
            ("message", Some(seq)) => seen.seqs.push(seq),
            ("ack", _) => seen.acks += 1,
            _ => panic!("unexpected frame {text}"),
        }
    }
    seen
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_sockets_get_two_thousand_messages_from_ten_senders_in_order_once() {
    let mut settings = Settings::default();
    settings.ws.send_per_second = 100_000;
    settings.ws.send_burst = 100_000;
    settings.ws.outbound_queue = 4096;
    let config = Config {
        subscriber_buffer: 4096,
        ..Config::for_tests()
    };
    let app = spawn_app_with(Backend::Sqlite, config, settings)
        .await
        .unwrap();
    let admin = app.create_admin("root").await;
    let mut users = Vec::new();
    for n in 0..SENDERS {
        users.push(app.create_user(&format!("user{n}")).await);
    }
    let members: Vec<&TestUser> = users.iter().collect();
    let chat = app.create_chat(&admin, "load", &members).await.id;

    // Five sockets per user; each socket-sending user sends on its first socket. Every
    // sink is kept until the end, so no socket closes early.
    let mut readers = Vec::new();
    let mut idle_sinks = Vec::new();
    let mut sending_sinks = Vec::new();
    for n in 0..SOCKETS {
        let user = &users[n % SENDERS];
        let (sink, stream) = socket(&app, user, chat).await.split();
        let sends = n < SENDERS - REST_SENDERS;
        readers.push(tokio::spawn(read_all(
            stream,
            if sends { PER_SENDER } else { 0 },
        )));
        if sends {
            sending_sinks.push((n, sink));
        } else {
            idle_sinks.push(sink);
        }
    }
    let started = Instant::now();
    let socket_senders: Vec<_> = sending_sinks
        .into_iter()
        .map(|(n, mut sink)| {
            tokio::spawn(async move {
                for i in 0..PER_SENDER {
                    let frame = json!({
                        "type": "send",
                        "content": format!("socket sender {n}: {i}"),
                        "client_id": format!("s{n}-{i}"),
                    });
                    sink.send(Message::Text(frame.to_string().into()))
                        .await
                        .unwrap();
                }
                sink
            })
        })
        .collect();
    let rest_senders: Vec<_> = users[SENDERS - REST_SENDERS..]
        .iter()
        .map(|user| {
            let (client, name) = (app.sdk_as(user), user.username().to_owned());
            tokio::spawn(async move {
                for i in 0..PER_SENDER {
                    let message = NewMessage {
                        content: format!("REST sender {name}: {i}"),
                        client_id: Some(format!("r-{name}-{i}")),
                    };
                    client.post_message(chat, &message).await.unwrap();
                }
            })
        })
        .collect();
    for sender in rest_senders {
        sender.await.unwrap();
    }
    for sender in socket_senders {
        idle_sinks.push(sender.await.unwrap());
    }
    for (n, reader) in readers.into_iter().enumerate() {
        let seen = reader.await.unwrap();
        assert_eq!(
            seen.seqs.len(),
            TOTAL as usize,
            "socket {n}: every message once"
        );
        assert!(
            seen.seqs
                .iter()
                .zip(1..)
                .all(|(&seq, expected)| seq == expected),
            "socket {n}: in seq order"
        );
    }
    eprintln!(
        "{SOCKETS} sockets x {TOTAL} messages from {SENDERS} senders in {:?}",
        started.elapsed()
    );
    let history = app
        .sdk_as(&users[0])
        .messages_since(chat, TOTAL - 1)
        .await
        .unwrap();
    assert_eq!(history.len(), 1, "the history holds all {TOTAL}");
}
