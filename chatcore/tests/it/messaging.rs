//! Posting and history: validation, seq without gaps under concurrency, idempotency, pages.

use crate::fixture::{TestCore, contract_tests, kind, text};
use chatcore::model::{NewMessage, PageRequest, timestamp};
use chatcore::{Config, ErrorKind};
use std::collections::HashSet;

contract_tests!(
    content_and_client_ids_are_validated_and_nothing_is_stored,
    concurrent_posters_get_seq_without_gaps_in_history_order,
    concurrent_posters_without_group_commit_still_get_gapless_seq with Config { max_batch: 1, ..Config::for_tests() },
    the_same_client_id_posted_concurrently_is_stored_once,
    one_batch_of_stored_new_and_repeated_client_ids_answers_each_by_its_author,
    thousands_of_client_ids_in_one_batch_are_each_stored with Config { max_batch: usize::MAX / 2, ..Config::for_tests() },
    history_pages_follow_the_cursors,
    a_stored_message_reads_back_identical,
    after_shutdown_posts_are_refused_and_queued_ones_kept,
    a_max_batch_beyond_the_bind_parameter_limits_still_stores_every_post with Config { max_batch: usize::MAX / 2, ..Config::for_tests() },
);

/// 7 000 posts queued at once against a `max_batch` no database could take in one
/// statement (6 bind parameters a row; SQLite allows 32 766, PostgreSQL 65 535): the writer
/// clamps its batches, so every post is stored.
async fn a_max_batch_beyond_the_bind_parameter_limits_still_stores_every_post(t: TestCore) {
    let admin = t.admin("root").await;
    let alice = t.user("alice").await;
    let chat = t.chat(&admin, "general", &[&alice]).await;
    let msg = t.core.messaging();
    let posts = (0..7000).map(|i| msg.post(&alice, chat, text(&format!("m{i}"))));
    let results = futures_util::future::join_all(posts).await;
    assert!(
        results.iter().all(Result::is_ok),
        "{:?}",
        results.iter().find(|r| r.is_err())
    );
    assert_eq!(t.raw.count("messages").await, 7000);
}

async fn content_and_client_ids_are_validated_and_nothing_is_stored(t: TestCore) {
    let (_, [alice], chat) = t.chat_with_members(["alice"]).await;
    let msg = t.core.messaging();
    for bad in ["", "   ", "\n\t", &"я".repeat(4097)] {
        assert_eq!(
            kind(msg.post(&alice, chat, text(bad)).await),
            ErrorKind::Invalid
        );
    }
    for bad_id in ["", &"k".repeat(65), "a\u{0}b"] {
        let post = NewMessage {
            content: "ok".into(),
            client_id: Some(bad_id.into()),
        };
        assert_eq!(kind(msg.post(&alice, chat, post).await), ErrorKind::Invalid);
    }
    assert_eq!(t.raw.count("messages").await, 0);
    let longest = t
        .post(&alice, chat, &format!("  {}  ", "я".repeat(4096)))
        .await;
    assert_eq!(longest.message.content.chars().count(), 4096);
    assert_eq!(longest.message.seq, 1);
}

async fn concurrent_posters_get_seq_without_gaps_in_history_order(t: TestCore) {
    posters_get_gapless_seq(t).await
}

async fn concurrent_posters_without_group_commit_still_get_gapless_seq(t: TestCore) {
    posters_get_gapless_seq(t).await
}

/// 8 posters × 500 messages into one chat: `seq` is exactly 1..=4000 and history order is
/// `seq` order, with each poster's own messages in the order they were sent.
async fn posters_get_gapless_seq(t: TestCore) {
    const POSTERS: usize = 8;
    const EACH: usize = 500;
    let admin = t.admin("root").await;
    let mut posters = Vec::new();
    for i in 0..POSTERS {
        posters.push(t.user(&format!("poster{i}")).await);
    }
    let members: Vec<_> = posters.iter().collect();
    let chat = t.chat(&admin, "busy", &members).await;
    let mut tasks = Vec::new();
    for poster in posters {
        let msg = t.core.messaging().clone();
        tasks.push(tokio::spawn(async move {
            let mut seqs = Vec::new();
            for n in 0..EACH {
                let posted = msg
                    .post(
                        &poster,
                        chat,
                        text(&format!("{} {n}", poster.user().username)),
                    )
                    .await
                    .unwrap();
                seqs.push(posted.message.seq);
            }
            seqs
        }));
    }
    let mut all = Vec::new();
    for task in tasks {
        let seqs = task.await.unwrap();
        assert!(
            seqs.windows(2).all(|w| w[0] < w[1]),
            "a poster's messages keep their order"
        );
        all.extend(seqs);
    }
    all.sort_unstable();
    assert_eq!(all, (1..=(POSTERS * EACH) as i64).collect::<Vec<_>>());
    let mut history = Vec::new();
    let mut after = 0;
    loop {
        let page = t
            .core
            .messaging()
            .history(&admin, chat, PageRequest::after(after, 200).unwrap())
            .await
            .unwrap();
        if page.is_empty() {
            break;
        }
        after = page.last().unwrap().seq;
        history.extend(page);
    }
    let seqs: Vec<i64> = history.iter().map(|m| m.seq).collect();
    assert_eq!(seqs, (1..=(POSTERS * EACH) as i64).collect::<Vec<_>>());
    assert!(
        history
            .windows(2)
            .all(|w| w[0].timestamp <= w[1].timestamp && w[0].id < w[1].id)
    );
    let listed = t.core.membership().get_chat(&admin, chat).await.unwrap();
    assert_eq!(listed.last_seq, (POSTERS * EACH) as i64);
}

async fn the_same_client_id_posted_concurrently_is_stored_once(t: TestCore) {
    let (_, [alice, bob], chat) = t.chat_with_members(["alice", "bob"]).await;
    let post = || NewMessage {
        content: "once".into(),
        client_id: Some("retry-1".into()),
    };
    let mut tasks = Vec::new();
    for _ in 0..10 {
        let msg = t.core.messaging().clone();
        let alice = alice.clone();
        let post = post();
        tasks.push(tokio::spawn(async move {
            msg.post(&alice, chat, post).await.unwrap()
        }));
    }
    let mut ids = HashSet::new();
    let mut created = 0;
    for task in tasks {
        let posted = task.await.unwrap();
        ids.insert(posted.message.id);
        created += usize::from(posted.created);
        assert_eq!(posted.message.seq, 1);
        assert_eq!(posted.message.client_id.as_deref(), Some("retry-1"));
    }
    assert_eq!(ids.len(), 1);
    assert_eq!(created, 1);
    // Another user may use the same key; a later retry answers the stored message.
    let bobs = t.core.messaging().post(&bob, chat, post()).await.unwrap();
    assert!(bobs.created);
    assert_eq!(bobs.message.seq, 2);
    let again = t.core.messaging().post(&alice, chat, post()).await.unwrap();
    assert!(!again.created);
    assert_eq!(again.message.seq, 1);
    assert_eq!(t.raw.count("messages").await, 2);
    // The retry did not burn a seq.
    let next = t.post(&alice, chat, "next").await;
    assert_eq!(next.message.seq, 3);
}

/// A message with `content` and `client_id`.
fn keyed(content: &str, client_id: &str) -> NewMessage {
    NewMessage {
        content: content.into(),
        client_id: Some(client_id.into()),
    }
}

/// Posts queued back to back (one batch when the writer is busy, several otherwise: the
/// answers are the same) mixing keys already stored by two authors under the same name, new
/// keys, a repeat within the queue and no key: each retry answers its own author's message.
async fn one_batch_of_stored_new_and_repeated_client_ids_answers_each_by_its_author(t: TestCore) {
    let (_, [alice, bob], chat) = t.chat_with_members(["alice", "bob"]).await;
    let msg = t.core.messaging();
    let alices = msg.post(&alice, chat, keyed("a", "k1")).await.unwrap();
    let bobs = msg.post(&bob, chat, keyed("b", "k1")).await.unwrap();
    let queue = [
        (&alice, keyed("a again", "k1")),
        (&bob, keyed("b again", "k1")),
        (&alice, keyed("new", "k2")),
        (&bob, keyed("new too", "k3")),
        (&alice, text("no key")),
        (&alice, keyed("new, repeated", "k2")),
    ];
    let mut queued = Vec::new();
    for (author, message) in queue {
        queued.push(msg.queue_post(author, chat, message).await.unwrap());
    }
    let answers: Vec<(i64, bool, String)> = futures_util::future::join_all(queued)
        .await
        .into_iter()
        .map(|posted| {
            let posted = posted.unwrap();
            (posted.message.seq, posted.created, posted.message.content)
        })
        .collect();
    let expected = [
        (alices.message.seq, false, "a"),
        (bobs.message.seq, false, "b"),
        (3, true, "new"),
        (4, true, "new too"),
        (5, true, "no key"),
        (3, false, "new"),
    ]
    .map(|(seq, created, content)| (seq, created, content.to_owned()));
    assert_eq!(answers, expected);
    assert_eq!(t.raw.count("messages").await, 5);
}

/// 5 000 posts with distinct `client_id`s queued at once, then all retried: one lookup of
/// stored keys per batch must not outgrow what a statement may hold.
async fn thousands_of_client_ids_in_one_batch_are_each_stored(t: TestCore) {
    let (_, [alice], chat) = t.chat_with_members(["alice"]).await;
    let msg = t.core.messaging();
    for round in ["first", "retry"] {
        let posts = (0..5000).map(|i| msg.post(&alice, chat, keyed(round, &format!("k{i}"))));
        let results = futures_util::future::join_all(posts).await;
        for (i, result) in results.into_iter().enumerate() {
            let posted = result.unwrap_or_else(|e| panic!("{round} post {i}: {e:?}"));
            assert_eq!(posted.created, round == "first");
            assert_eq!(posted.message.content, "first");
            assert_eq!(posted.message.client_id, Some(format!("k{i}")));
        }
    }
    assert_eq!(t.raw.count("messages").await, 5000);
}

async fn history_pages_follow_the_cursors(t: TestCore) {
    let (_, [alice], chat) = t.chat_with_members(["alice"]).await;
    for n in 1..=7 {
        t.post(&alice, chat, &format!("m{n}")).await;
    }
    // The seqs of one page, by `before_seq`, `after_seq` and `limit`.
    let seqs = async |before, after, limit| -> Vec<i64> {
        let page = PageRequest::new(before, after, limit).unwrap();
        let messages = t.core.messaging().history(&alice, chat, page).await;
        messages.unwrap().into_iter().map(|m| m.seq).collect()
    };
    assert_eq!(seqs(None, None, None).await, [1, 2, 3, 4, 5, 6, 7]);
    assert_eq!(seqs(None, None, Some(3)).await, [5, 6, 7]);
    assert_eq!(seqs(Some(5), None, Some(3)).await, [2, 3, 4]);
    assert_eq!(seqs(Some(2), None, Some(3)).await, [1]);
    assert_eq!(seqs(None, Some(2), Some(3)).await, [3, 4, 5]);
    assert_eq!(seqs(None, Some(7), None).await, Vec::<i64>::new());
    for (b, a, l) in [
        (Some(1), Some(1), None),
        (None, None, Some(0)),
        (None, None, Some(201)),
        (Some(0), None, None),
        (None, Some(-1), None),
    ] {
        assert_eq!(
            PageRequest::new(b, a, l).unwrap_err().kind(),
            ErrorKind::Invalid,
            "{b:?} {a:?} {l:?}"
        );
    }
}

async fn a_stored_message_reads_back_identical(t: TestCore) {
    let (_, [alice], chat) = t.chat_with_members(["alice"]).await;
    let before = timestamp::now();
    let posted = t.post(&alice, chat, "  Привет  ").await.message;
    assert_eq!(posted.content, "Привет");
    assert!(posted.timestamp >= before);
    assert_eq!(
        posted.timestamp.nanosecond() % 1000,
        0,
        "microsecond precision"
    );
    assert_eq!(t.history(&alice, chat).await, vec![posted]);
}

async fn after_shutdown_posts_are_refused_and_queued_ones_kept(t: TestCore) {
    let (_, [alice], chat) = t.chat_with_members(["alice"]).await;
    let services = t.core.services();
    let mut queued = Vec::new();
    for n in 0..50 {
        let msg = services.messaging.clone();
        let alice = alice.clone();
        queued.push(tokio::spawn(async move {
            msg.post(&alice, chat, text(&format!("m{n}"))).await
        }));
    }
    tokio::task::yield_now().await;
    t.core.shutdown().await;
    let late = services
        .messaging
        .post(&alice, chat, text("too late"))
        .await;
    assert_eq!(kind(late), ErrorKind::Unavailable);
    let mut stored = 0;
    for task in queued {
        match task.await.unwrap() {
            Ok(_) => stored += 1,
            Err(e) => assert_eq!(e.kind(), ErrorKind::Unavailable),
        }
    }
    // Everything acknowledged is in the table; nothing else is.
    assert_eq!(t.raw.count("messages").await, stored);
}
