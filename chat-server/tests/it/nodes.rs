//! Several server nodes: two `chat_server::serve` instances on one PostgreSQL schema and
//! one Redis (with a channel prefix of their own). A WebSocket on node A receives what is
//! posted on node B, over REST and over B's own sockets.

use chatcore::broker::redis::{RedisBroker, RedisSettings};
use chatcore::model::{ChatId, NewChat, Registration, UserId};
use chatcore::testing::{PgTestSchema, postgres_url, redis_url, unique_prefix};
use chatcore::{ChatCore, Config};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_util::sync::CancellationToken;

const PASSWORD: &str = "correct horse battery staple";

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// One server node: its core and where it listens.
struct Node {
    core: ChatCore,
    address: SocketAddr,
    server: tokio::task::JoinHandle<()>,
}

/// Two nodes sharing a schema and a Redis prefix.
struct Cluster {
    a: Node,
    b: Node,
    shutdown: CancellationToken,
    _schema: PgTestSchema,
}

/// Both nodes, or `None` (after a loud notice) without PostgreSQL or Redis.
async fn cluster() -> Option<Cluster> {
    let redis = RedisSettings::new(redis_url()?).with_prefix(unique_prefix());
    let schema = PgTestSchema::create(&postgres_url()?).await.unwrap();
    let shutdown = CancellationToken::new();
    let mut nodes = Vec::new();
    for _ in 0..2 {
        let config = Config::for_tests();
        let store = schema.store(config.max_connections).await.unwrap();
        let broker = RedisBroker::connect(&redis, config.subscriber_buffer)
            .await
            .expect("the test Redis answers");
        let core = ChatCore::with_parts(Arc::new(store), Arc::new(broker), config).unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let server = tokio::spawn({
            let (services, shutdown) = (core.services(), shutdown.clone());
            async move {
                chat_server::serve(
                    listener,
                    services,
                    chat_server::Settings::default(),
                    shutdown,
                )
                .await
                .expect("the node serves");
            }
        });
        nodes.push(Node {
            core,
            address,
            server,
        });
    }
    let b = nodes.pop().unwrap();
    let a = nodes.pop().unwrap();
    Some(Cluster {
        a,
        b,
        shutdown,
        _schema: schema,
    })
}

impl Cluster {
    async fn stop(self) {
        self.shutdown.cancel();
        for node in [self.a, self.b] {
            node.server.await.unwrap();
            node.core.shutdown().await;
        }
    }
}

/// Registers `name` (on either node: they share the database) and returns the id and a token.
async fn user(node: &Node, name: &str) -> (UserId, String) {
    let (user, token) = node
        .core
        .auth()
        .register(Registration {
            username: name.into(),
            password: PASSWORD.into(),
            email: format!("{name}@example.com"),
            ..Registration::default()
        })
        .await
        .unwrap();
    (user.id, token)
}

async fn chat(node: &Node, members: &[UserId]) -> ChatId {
    let root = node
        .core
        .auth()
        .create_superuser(Registration {
            username: "root".into(),
            password: PASSWORD.into(),
            ..Registration::default()
        })
        .await
        .unwrap();
    let root = node.core.auth().actor_for(root.id).await.unwrap();
    node.core
        .membership()
        .create_chat(
            &root,
            NewChat {
                name: "general".into(),
                participants: members.to_vec(),
            },
        )
        .await
        .unwrap()
        .id
}

async fn socket(node: &Node, token: &str, chat: ChatId) -> Socket {
    let mut request = format!("ws://{}/ws/api/chat/{chat}/", node.address)
        .into_client_request()
        .unwrap();
    request
        .headers_mut()
        .insert("authorization", format!("Token {token}").parse().unwrap());
    tokio_tungstenite::connect_async(request)
        .await
        .expect("the socket opens")
        .0
}

/// The next `message` event (other frames, such as an `ack`, skipped).
async fn next_message(socket: &mut Socket) -> Value {
    loop {
        let frame = tokio::time::timeout(Duration::from_secs(10), socket.next())
            .await
            .expect("a frame arrives in time")
            .expect("the socket is open")
            .expect("the frame is readable");
        if let Message::Text(text) = frame {
            let event: Value = serde_json::from_str(&text).unwrap();
            if event["type"] == "message" {
                return event;
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_socket_on_one_node_receives_what_is_posted_on_another() {
    let Some(cluster) = cluster().await else {
        return;
    };
    let (a, b) = (&cluster.a, &cluster.b);
    let (alice, alice_token) = user(a, "alice").await;
    let (bob, bob_token) = user(b, "bob").await;
    let chat = chat(a, &[alice, bob]).await;
    let mut bob_on_a = socket(a, &bob_token, chat).await;

    // Over REST on node B.
    let posted: Value = reqwest::Client::new()
        .post(format!("http://{}/api/chat/{chat}/message/", b.address))
        .header("authorization", format!("Token {alice_token}"))
        .json(&json!({"content": "hello from node B"}))
        .send()
        .await
        .unwrap()
        .error_for_status()
        .unwrap()
        .json()
        .await
        .unwrap();
    let event = next_message(&mut bob_on_a).await;
    assert_eq!(event["content"], "hello from node B");
    assert_eq!(
        event["message"], "hello from node B",
        "the original's flat field"
    );
    assert_eq!(event["id"], posted["id"]);
    assert_eq!(event["seq"], 1);
    assert_eq!(
        event["user"]["email"], "",
        "a broadcast event hides addresses"
    );

    // Over a socket on node B: its sender gets the ack there, bob gets the message on A.
    let mut alice_on_b = socket(b, &alice_token, chat).await;
    alice_on_b
        .send(Message::Text(
            json!({"type": "send", "content": "from a socket on B", "client_id": "c-1"})
                .to_string()
                .into(),
        ))
        .await
        .unwrap();
    let event = next_message(&mut bob_on_a).await;
    assert_eq!(
        (event["content"].clone(), event["seq"].clone()),
        (json!("from a socket on B"), json!(2))
    );
    assert_eq!(next_message(&mut alice_on_b).await["seq"], 2);
    drop((bob_on_a, alice_on_b));
    cluster.stop().await;
}

/// Each node's store cache answers what the other node changed at once: a post stored on B
/// is in A's next page, a member removed on B gets 403 on A, a token logged out on B gets
/// 401 on A (the database's change counter is read before every cached answer).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn each_node_answers_what_the_other_changed_on_its_next_request() {
    let Some(cluster) = cluster().await else {
        return;
    };
    let (a, b) = (&cluster.a, &cluster.b);
    let (alice, alice_token) = user(a, "alice").await;
    let (bob, bob_token) = user(b, "bob").await;
    let chat = chat(a, &[alice, bob]).await;
    let root_token = b
        .core
        .auth()
        .login("root", PASSWORD, &Default::default())
        .await
        .unwrap();
    let http = reqwest::Client::new();
    let call = |node: &Node, method: reqwest::Method, path: &str, token: &str| {
        http.request(method, format!("http://{}{path}", node.address))
            .header("authorization", format!("Token {token}"))
    };
    let page = format!("/api/chat/{chat}/message/");
    let contents = |answer: Value| -> Vec<String> {
        answer
            .as_array()
            .expect("a page is a list")
            .iter()
            .map(|m| m["content"].as_str().unwrap().to_owned())
            .collect()
    };
    let read = |node: &Node, token: &str| call(node, reqwest::Method::GET, &page, token).send();

    // Cached on A: the same page twice.
    for _ in 0..2 {
        let answer = read(a, &bob_token).await.unwrap();
        assert_eq!(answer.status(), 200);
        assert!(contents(answer.json().await.unwrap()).is_empty());
    }
    // A post acknowledged on B is in A's very next page.
    let posted = call(b, reqwest::Method::POST, &page, &alice_token)
        .json(&json!({"content": "stored on B"}))
        .send()
        .await
        .unwrap();
    assert_eq!(posted.status(), 201);
    let answer = read(a, &bob_token).await.unwrap();
    assert_eq!(contents(answer.json().await.unwrap()), ["stored on B"]);

    // Bob removed on B: 403 on A at once.
    let removal = format!("/api/chat/{chat}/user/{}/", bob.0);
    let removed = call(b, reqwest::Method::DELETE, &removal, &root_token)
        .send()
        .await
        .unwrap();
    assert!(removed.status().is_success(), "{}", removed.status());
    assert_eq!(read(a, &bob_token).await.unwrap().status(), 403);

    // Alice logs out on B: her token is refused on A at once.
    assert_eq!(read(a, &alice_token).await.unwrap().status(), 200);
    let logout = call(
        b,
        reqwest::Method::POST,
        "/api/accounts/logout/",
        &alice_token,
    )
    .send()
    .await
    .unwrap();
    assert!(logout.status().is_success(), "{}", logout.status());
    assert_eq!(read(a, &alice_token).await.unwrap().status(), 401);
    cluster.stop().await;
}
