//! Several nodes: two cores on one PostgreSQL schema, fanning out through one Redis (the
//! shared test Redis with a prefix of their own, or a private `redis-server` the test kills
//! and restarts). A subscriber on one node gets what the other posts, in `seq` order, once,
//! whatever Redis loses on the way.

use chatcore::broker::redis::{RedisBroker, RedisError, RedisSettings};
use chatcore::broker::{Broker, Delivery};
use chatcore::model::{
    ChatId, Event, NewChat, NewMessage, Registration, RemovalReason, UserFlagsUpdate, UserId,
};
use chatcore::testing::{PgTestSchema, RedisServer, postgres_url, redis_url, unique_prefix};
use chatcore::{Actor, ChatCore, Config, Subscription};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

const PASSWORD: &str = "correct horse battery staple";

/// Two nodes (`a`, `b`) on one database and one Redis.
struct Nodes {
    a: ChatCore,
    /// A's broker (the core hands it to no one), to watch what reaches the node.
    a_broker: Arc<RedisBroker>,
    b: ChatCore,
    _schema: PgTestSchema,
}

/// Both nodes on `redis`, or `None` (after a loud notice) without PostgreSQL.
async fn nodes(redis: &str) -> Option<Nodes> {
    if std::env::var_os("TEST_LOG").is_some() {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_test_writer()
            .try_init();
    }
    let schema = PgTestSchema::create(&postgres_url()?).await.unwrap();
    let settings = RedisSettings::new(redis).with_prefix(unique_prefix());
    let mut cores = Vec::new();
    let mut brokers = Vec::new();
    for _ in 0..2 {
        let config = Config::for_tests();
        let store = schema.store(config.max_connections).await.unwrap();
        let broker = RedisBroker::connect(&settings, config.subscriber_buffer)
            .await
            .expect("the test Redis answers");
        let broker = Arc::new(broker);
        brokers.push(broker.clone());
        cores.push(ChatCore::with_parts(Arc::new(store), broker, config).unwrap());
    }
    let b = cores.pop().unwrap();
    let a = cores.pop().unwrap();
    Some(Nodes {
        a,
        a_broker: brokers.swap_remove(0),
        b,
        _schema: schema,
    })
}

impl Nodes {
    /// Stops both cores (each hands on what it still has queued for Redis).
    async fn stop(self) {
        self.a.shutdown().await;
        self.b.shutdown().await;
    }
}

async fn register(core: &ChatCore, name: &str) -> UserId {
    core.auth()
        .register(Registration {
            username: name.into(),
            password: PASSWORD.into(),
            email: format!("{name}@example.com"),
            ..Registration::default()
        })
        .await
        .unwrap()
        .0
        .id
}

async fn admin(core: &ChatCore, name: &str) -> UserId {
    core.auth()
        .create_superuser(Registration {
            username: name.into(),
            password: PASSWORD.into(),
            ..Registration::default()
        })
        .await
        .unwrap()
        .id
}

/// The actor of `user` as `core` sees them.
async fn on(core: &ChatCore, user: UserId) -> Actor {
    core.auth().actor_for(user).await.unwrap()
}

async fn chat(core: &ChatCore, admin: UserId, members: &[UserId]) -> ChatId {
    core.membership()
        .create_chat(
            &on(core, admin).await,
            NewChat {
                name: "general".into(),
                participants: members.to_vec(),
            },
        )
        .await
        .unwrap()
        .id
}

async fn post(core: &ChatCore, author: &Actor, chat: ChatId, content: String) -> i64 {
    core.messaging()
        .post(
            author,
            chat,
            NewMessage {
                content,
                client_id: None,
            },
        )
        .await
        .unwrap()
        .message
        .seq
}

/// The next event within `patience`; `None` when the stream ended.
async fn next(sub: &mut Subscription, patience: Duration) -> Option<Event> {
    tokio::time::timeout(patience, sub.next())
        .await
        .expect("an event in time")
        .map(|frame| frame.event().clone())
}

/// Reads messages until `last` and returns their `seq`s in delivery order; any other event
/// fails the test.
async fn messages_until(sub: &mut Subscription, last: i64, patience: Duration) -> Vec<i64> {
    let mut seqs = Vec::new();
    while seqs.last().is_none_or(|&seq| seq < last) {
        match next(sub, patience).await {
            Some(Event::Message(m)) => seqs.push(m.message.seq),
            other => panic!("expected a message, got {other:?} after {seqs:?}"),
        }
    }
    seqs
}

/// Lost and repeated `seq`s among `seqs` against `1..=last`, in order: `(lost, repeated,
/// out of order)`.
fn tally(seqs: &[i64], last: i64) -> (usize, usize, usize) {
    let mut seen: HashMap<i64, usize> = HashMap::new();
    for seq in seqs {
        *seen.entry(*seq).or_default() += 1;
    }
    let lost = (1..=last).filter(|s| !seen.contains_key(s)).count();
    let repeated = seen.values().map(|n| n - 1).sum();
    let out_of_order = seqs.windows(2).filter(|w| w[1] <= w[0]).count();
    (lost, repeated, out_of_order)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_subscriber_on_one_node_gets_what_another_posts_in_order_once() {
    let Some(redis) = redis_url() else { return };
    let Some(nodes) = nodes(&redis).await else {
        return;
    };
    let (a, b) = (&nodes.a, &nodes.b);
    let root = admin(a, "root").await;
    let alice = register(a, "alice").await;
    let bob = register(b, "bob").await;
    let carol = register(a, "carol").await;
    let chat = chat(b, root, &[alice, bob]).await;

    // The broker itself, under the subscription: no event may reach a node twice.
    let mut raw = nodes.a_broker.subscribe(chat);
    let mut sub = a
        .messaging()
        .subscribe(&on(a, bob).await, chat, None)
        .await
        .unwrap();
    // Both nodes post at once: B's messages reach A through Redis, A's own directly.
    let (on_a, on_b) = (on(a, alice).await, on(b, alice).await);
    let posters = [
        (a.messaging().clone(), on_a, 100),
        (b.messaging().clone(), on_b, 200),
    ]
    .map(|(messaging, author, count)| {
        tokio::spawn(async move {
            for n in 0..count {
                let content = format!("message {n}");
                let new = NewMessage {
                    content,
                    client_id: None,
                };
                messaging.post(&author, chat, new).await.unwrap();
            }
        })
    });
    let seqs = messages_until(&mut sub, 300, Duration::from_secs(20)).await;
    for poster in posters {
        poster.await.unwrap();
    }
    assert_eq!(
        seqs,
        (1..=300).collect::<Vec<_>>(),
        "every message, in order"
    );

    // Membership and chat events made on B reach A's subscriber.
    let root_b = on(b, root).await;
    b.membership()
        .add_member(&root_b, chat, carol)
        .await
        .unwrap();
    b.membership()
        .rename_chat(&root_b, chat, "renamed")
        .await
        .unwrap();
    let seq = post(b, &on(b, alice).await, chat, "after the changes".into()).await;
    b.membership()
        .remove_member(&root_b, chat, bob)
        .await
        .unwrap();
    let patience = Duration::from_secs(10);
    match next(&mut sub, patience).await {
        Some(Event::MemberAdded { user, .. }) => assert_eq!(user.id, carol),
        other => panic!("expected member_added, got {other:?}"),
    }
    match next(&mut sub, patience).await {
        Some(Event::ChatRenamed { name, .. }) => assert_eq!(name, "renamed"),
        other => panic!("expected chat_renamed, got {other:?}"),
    }
    match next(&mut sub, patience).await {
        Some(Event::Message(m)) => assert_eq!(m.message.seq, seq),
        other => panic!("expected the message, got {other:?}"),
    }
    match next(&mut sub, patience).await {
        Some(Event::MemberRemoved { user, reason, .. }) => {
            assert_eq!((user.id, reason), (bob, RemovalReason::Removed));
        }
        other => panic!("expected member_removed, got {other:?}"),
    }
    assert!(next(&mut sub, patience).await.is_none(), "the stream ends");

    // Whatever the broker delivered on A, it delivered once.
    let mut events: HashMap<String, usize> = HashMap::new();
    while let Ok(delivery) = raw.try_recv() {
        if let Delivery::Event(frame) = delivery {
            let key = match frame.event() {
                Event::Message(m) => format!("message {}", m.message.seq),
                other => serde_json::to_value(other).unwrap()["type"].to_string(),
            };
            *events.entry(key).or_default() += 1;
        }
    }
    let twice: Vec<_> = events.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "delivered more than once on A: {twice:?}");
    assert_eq!(events.get("\"member_removed\""), Some(&1), "{events:?}");
    nodes.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_redis_restart_mid_stream_loses_nothing_and_repeats_nothing() {
    let Some(mut server) = RedisServer::start() else {
        return;
    };
    let Some(nodes) = nodes(&server.url()).await else {
        return;
    };
    let (a, b) = (&nodes.a, &nodes.b);
    let root = admin(a, "root").await;
    let alice = register(a, "alice").await;
    let bob = register(a, "bob").await;
    let chat = chat(a, root, &[alice, bob]).await;
    let mut sub = a
        .messaging()
        .subscribe(&on(a, bob).await, chat, None)
        .await
        .unwrap();
    let author = on(b, alice).await;
    // The first message tells that A follows the chat (through Redis or its resync).
    let first = post(b, &author, chat, "hello".into()).await;
    assert_eq!(
        messages_until(&mut sub, first, Duration::from_secs(10)).await,
        [first]
    );

    // Redis is killed while B posts, and comes back on the same port 1 s later.
    const TOTAL: i64 = 400;
    let poster = {
        let (messaging, author) = (b.messaging().clone(), author.clone());
        tokio::spawn(async move {
            for n in 2..=TOTAL {
                let new = NewMessage {
                    content: format!("message {n}"),
                    client_id: None,
                };
                let posted = messaging.post(&author, chat, new).await.unwrap();
                assert_eq!(posted.message.seq, n, "posting goes on without Redis");
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
    };
    let outage = tokio::task::spawn_blocking(move || {
        std::thread::sleep(Duration::from_millis(400));
        server.kill();
        std::thread::sleep(Duration::from_millis(1000));
        server.restart();
        server
    });
    let mut seqs = vec![first];
    seqs.extend(messages_until(&mut sub, TOTAL, Duration::from_secs(30)).await);
    poster.await.unwrap();
    let mut server = outage.await.unwrap();
    let (lost, repeated, out_of_order) = tally(&seqs, TOTAL);
    eprintln!(
        "redis restart mid-stream: posted {TOTAL}, delivered {}, lost {lost}, repeated \
         {repeated}, out of order {out_of_order}",
        seqs.len()
    );
    assert_eq!((lost, repeated, out_of_order), (0, 0, 0));

    // A loss followed by silence: messages posted while Redis is down, and nothing after.
    server.kill();
    let mut last = TOTAL;
    for n in 0..5 {
        last = post(b, &author, chat, format!("in the dark {n}")).await;
    }
    server.restart();
    let seqs = messages_until(&mut sub, last, Duration::from_secs(30)).await;
    assert_eq!(seqs, (TOTAL + 1..=last).collect::<Vec<_>>());
    nodes.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_publish_lost_on_one_node_alone_reaches_the_other_by_its_resync_notice() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let Some(nodes) = nodes(&server.url()).await else {
        return;
    };
    let (a, b) = (&nodes.a, &nodes.b);
    let root = admin(a, "root").await;
    let alice = register(a, "alice").await;
    let bob = register(a, "bob").await;
    let chat = chat(a, root, &[alice, bob]).await;
    let mut sub = a
        .messaging()
        .subscribe(&on(a, bob).await, chat, None)
        .await
        .unwrap();
    let author = on(b, alice).await;
    let first = post(b, &author, chat, "hello".into()).await;
    messages_until(&mut sub, first, Duration::from_secs(10)).await;

    // Only the publishing connections drop (A's listening one stays, so A sees no
    // outage): B's next publish fails, and nothing is posted after it.
    server.command("CLIENT KILL TYPE normal");
    let lost = post(b, &author, chat, "lost on the way".into()).await;
    let seqs = messages_until(&mut sub, lost, Duration::from_secs(15)).await;
    assert_eq!(seqs, [lost]);
    nodes.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_node_removed_from_a_chat_while_redis_was_down_ends_the_stream_on_resync() {
    let Some(mut server) = RedisServer::start() else {
        return;
    };
    let Some(nodes) = nodes(&server.url()).await else {
        return;
    };
    let (a, b) = (&nodes.a, &nodes.b);
    let root = admin(a, "root").await;
    let alice = register(a, "alice").await;
    let bob = register(a, "bob").await;
    let chat = chat(a, root, &[alice, bob]).await;
    let mut sub = a
        .messaging()
        .subscribe(&on(a, bob).await, chat, None)
        .await
        .unwrap();
    let first = post(b, &on(b, alice).await, chat, "hello".into()).await;
    messages_until(&mut sub, first, Duration::from_secs(10)).await;

    // Bob is removed on B while Redis is down: the event is lost, the store knows.
    server.kill();
    b.membership()
        .remove_member(&on(b, root).await, chat, bob)
        .await
        .unwrap();
    server.restart();
    match next(&mut sub, Duration::from_secs(15)).await {
        Some(Event::MemberRemoved { user, reason, .. }) => {
            assert_eq!((user.id, reason), (bob, RemovalReason::Removed));
            assert_eq!(user.email, "", "events carry the hidden form");
        }
        other => panic!("expected member_removed, got {other:?}"),
    }
    assert!(next(&mut sub, Duration::from_secs(5)).await.is_none());
    nodes.stop().await;
}

#[tokio::test]
async fn a_node_does_not_start_without_its_redis() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("redis://:secret@127.0.0.1:{port}");
    let err = RedisBroker::connect(&RedisSettings::new(&url), 16)
        .await
        .expect_err("nothing listens there");
    assert!(matches!(err, RedisError::Unreachable { .. }), "{err:?}");
    let text = err.to_string();
    assert!(
        text.starts_with(&format!(
            "cannot connect to Redis at redis://:***@127.0.0.1:{port}"
        )),
        "{text}"
    );
    assert!(!text.contains("secret"), "{text}");

    let err = RedisBroker::connect(&RedisSettings::new("http://example.com"), 16)
        .await
        .expect_err("not a Redis URL");
    assert!(matches!(err, RedisError::InvalidUrl { .. }), "{err:?}");
}

/// An admin who is not a member follows a chat on node A; node B demotes them. Only the
/// account notice through Redis can tell A (the chat's own channel carries nothing).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_admin_demoted_on_one_node_loses_the_stream_on_the_other() {
    let Some(redis) = redis_url() else { return };
    let Some(nodes) = nodes(&redis).await else {
        return;
    };
    let (a, b) = (&nodes.a, &nodes.b);
    let root = admin(a, "root").await;
    let ops = admin(a, "ops").await;
    let alice = register(a, "alice").await;
    let chat = chat(a, root, &[alice]).await;
    let mut sub = a
        .messaging()
        .subscribe(&on(a, ops).await, chat, None)
        .await
        .unwrap();
    // Once B's message arrives, A's subscription to the chat's channel (and the resync
    // that follows it) is behind us.
    let first = post(b, &on(b, alice).await, chat, "hello".into()).await;
    messages_until(&mut sub, first, Duration::from_secs(10)).await;
    let demotion = UserFlagsUpdate {
        is_superuser: Some(false),
        ..UserFlagsUpdate::default()
    };
    b.auth()
        .update_user(&on(b, root).await, ops, demotion)
        .await
        .unwrap();
    let ended = next(&mut sub, Duration::from_secs(10)).await;
    assert!(
        matches!(&ended, Some(Event::MemberRemoved { user, reason: RemovalReason::Removed, .. }) if user.id == ops),
        "{ended:?}"
    );
    assert_eq!(next(&mut sub, Duration::from_secs(10)).await, None);
    nodes.stop().await;
}
