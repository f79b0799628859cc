//! Read markers and unread counts: a marker only moves forward and never beyond the chat's
//! last message, posting moves the poster's own, the chat list counts what each viewer has
//! not read, and a `read` event reaches only the reader's own streams.

use crate::fixture::{TestCore, contract_tests, kind};
use chatcore::model::{ChatId, Event, NewMessage, ReadMarker};
use chatcore::{Actor, ErrorKind, Subscription};
use std::time::Duration;

contract_tests!(
    a_read_marker_moves_forward_only_and_stops_at_the_last_message,
    concurrent_reads_leave_the_furthest_marker,
    only_a_member_may_mark_a_chat_read_and_seq_must_not_be_negative,
    posting_moves_the_posters_own_marker_to_their_message,
    the_chat_list_counts_unread_messages_for_each_viewer,
    a_read_reaches_only_the_readers_own_streams,
    the_chat_list_is_one_snapshot_while_posts_land,
);

fn text(content: &str) -> NewMessage {
    NewMessage {
        content: content.into(),
        client_id: None,
    }
}

async fn post(t: &TestCore, who: &Actor, chat: ChatId, n: usize) {
    for i in 0..n {
        t.core
            .messaging()
            .post(who, chat, text(&format!("message {i}")))
            .await
            .unwrap();
    }
}

async fn mark(t: &TestCore, who: &Actor, chat: ChatId, seq: i64) -> ReadMarker {
    t.core.messaging().mark_read(who, chat, seq).await.unwrap()
}

/// `who`'s unread count of `chat` as their chat list shows it.
async fn unread(t: &TestCore, who: &Actor, chat: ChatId) -> i64 {
    let chats = t.core.membership().list_chats(who).await.unwrap();
    chats.iter().find(|c| c.id == chat).expect("listed").unread
}

fn marker(chat: ChatId, last_read_seq: i64, unread: i64) -> ReadMarker {
    ReadMarker {
        chat,
        last_read_seq,
        unread,
    }
}

async fn a_read_marker_moves_forward_only_and_stops_at_the_last_message(t: TestCore) {
    let admin = t.admin("root").await;
    let alice = t.user("alice").await;
    let bob = t.user("bob").await;
    let chat = t.chat(&admin, "general", &[&alice, &bob]).await;
    assert_eq!(mark(&t, &alice, chat, 0).await, marker(chat, 0, 0));
    assert_eq!(
        mark(&t, &alice, chat, 3).await,
        marker(chat, 0, 0),
        "nothing to read yet: clamped to last_seq 0"
    );
    post(&t, &bob, chat, 5).await;
    assert_eq!(unread(&t, &alice, chat).await, 5);
    assert_eq!(mark(&t, &alice, chat, 2).await, marker(chat, 2, 3));
    assert_eq!(
        mark(&t, &alice, chat, 1).await,
        marker(chat, 2, 3),
        "never back"
    );
    assert_eq!(unread(&t, &alice, chat).await, 3);
    assert_eq!(
        mark(&t, &alice, chat, i64::MAX).await,
        marker(chat, 5, 0),
        "clamped to the last message"
    );
    post(&t, &bob, chat, 1).await;
    assert_eq!(unread(&t, &alice, chat).await, 1);
    assert_eq!(mark(&t, &alice, chat, 6).await, marker(chat, 6, 0));
    assert_eq!(unread(&t, &alice, chat).await, 0);
}

async fn concurrent_reads_leave_the_furthest_marker(t: TestCore) {
    let admin = t.admin("root").await;
    let alice = t.user("alice").await;
    let bob = t.user("bob").await;
    let chat = t.chat(&admin, "general", &[&alice, &bob]).await;
    post(&t, &bob, chat, 30).await;
    let mut tasks = Vec::new();
    // Out of order, some beyond the last message.
    for seq in (0..40).rev().chain(0..40) {
        let msg = t.core.messaging().clone();
        let alice = alice.clone();
        tasks.push(tokio::spawn(async move {
            msg.mark_read(&alice, chat, seq).await.unwrap()
        }));
    }
    for task in tasks {
        let answer = task.await.unwrap();
        assert!(answer.last_read_seq <= 30, "{answer:?}");
        assert_eq!(answer.unread, 30 - answer.last_read_seq);
    }
    assert_eq!(mark(&t, &alice, chat, 0).await, marker(chat, 30, 0));
}

async fn only_a_member_may_mark_a_chat_read_and_seq_must_not_be_negative(t: TestCore) {
    let admin = t.admin("root").await;
    let alice = t.user("alice").await;
    let bob = t.user("bob").await;
    let eve = t.user("eve").await;
    let chat = t.chat(&admin, "general", &[&alice, &bob]).await;
    post(&t, &bob, chat, 2).await;
    let msg = t.core.messaging();
    assert_eq!(
        kind(msg.mark_read(&eve, chat, 1).await),
        ErrorKind::Forbidden
    );
    assert_eq!(
        kind(msg.mark_read(&admin, chat, 1).await),
        ErrorKind::Forbidden,
        "an admin reads every chat but has a marker only where a member"
    );
    assert_eq!(
        kind(msg.mark_read(&alice, ChatId(999_999), 1).await),
        ErrorKind::NotFound
    );
    assert_eq!(
        kind(msg.mark_read(&alice, chat, -1).await),
        ErrorKind::Invalid
    );
    t.core
        .membership()
        .remove_member(&admin, chat, bob.id())
        .await
        .unwrap();
    assert_eq!(
        kind(msg.mark_read(&bob, chat, 1).await),
        ErrorKind::Forbidden
    );
    // Nothing moved by the refusals.
    assert_eq!(unread(&t, &alice, chat).await, 2);
}

async fn posting_moves_the_posters_own_marker_to_their_message(t: TestCore) {
    const EACH: usize = 40;
    let admin = t.admin("root").await;
    let alice = t.user("alice").await;
    let bob = t.user("bob").await;
    let carol = t.user("carol").await;
    let chat = t.chat(&admin, "general", &[&alice, &bob, &carol]).await;
    post(&t, &alice, chat, 2).await;
    post(&t, &bob, chat, 1).await;
    assert_eq!(unread(&t, &alice, chat).await, 1, "bob's one message");
    assert_eq!(unread(&t, &bob, chat).await, 0);
    assert_eq!(unread(&t, &carol, chat).await, 3);
    // Concurrent posters share group-commit batches: each ends at their own last message.
    let mut tasks = Vec::new();
    for poster in [alice.clone(), bob.clone()] {
        let msg = t.core.messaging().clone();
        tasks.push(tokio::spawn(async move {
            let mut last = 0;
            for n in 0..EACH {
                last = msg
                    .post(&poster, chat, text(&format!("{n}")))
                    .await
                    .unwrap()
                    .message
                    .seq;
            }
            last
        }));
    }
    let mut lasts = Vec::new();
    for task in tasks {
        lasts.push(task.await.unwrap());
    }
    let total = 3 + 2 * EACH as i64;
    for (poster, last) in [&alice, &bob].into_iter().zip(lasts) {
        assert_eq!(unread(&t, poster, chat).await, total - last);
    }
    assert_eq!(unread(&t, &carol, chat).await, total);
}

async fn the_chat_list_counts_unread_messages_for_each_viewer(t: TestCore) {
    let admin = t.admin("root").await;
    let alice = t.user("alice").await;
    let bob = t.user("bob").await;
    let general = t.chat(&admin, "general", &[&alice, &bob]).await;
    let quiet = t.chat(&admin, "quiet", &[&alice]).await;
    post(&t, &bob, general, 4).await;
    assert_eq!(unread(&t, &alice, general).await, 4);
    assert_eq!(unread(&t, &alice, quiet).await, 0);
    assert_eq!(unread(&t, &bob, general).await, 0);
    // An admin who is not a member sees every chat, with nothing unread.
    assert_eq!(unread(&t, &admin, general).await, 0);
    let membership = t.core.membership();
    assert_eq!(
        membership.get_chat(&alice, general).await.unwrap().unread,
        4
    );
    assert_eq!(
        membership.get_chat(&admin, general).await.unwrap().unread,
        0
    );
    mark(&t, &alice, general, 3).await;
    assert_eq!(unread(&t, &alice, general).await, 1);
    assert_eq!(
        membership.get_chat(&alice, general).await.unwrap().unread,
        1
    );
}

async fn next(sub: &mut Subscription) -> Option<Event> {
    tokio::time::timeout(Duration::from_secs(10), sub.next())
        .await
        .expect("an event within 10 s")
        .map(|frame| frame.event().clone())
}

async fn a_read_reaches_only_the_readers_own_streams(t: TestCore) {
    let admin = t.admin("root").await;
    let alice = t.user("alice").await;
    let bob = t.user("bob").await;
    let chat = t.chat(&admin, "general", &[&alice, &bob]).await;
    let msg = t.core.messaging();
    let mut phone = msg.subscribe(&alice, chat, None).await.unwrap();
    let mut laptop = msg.subscribe(&alice, chat, None).await.unwrap();
    let mut bobs = msg.subscribe(&bob, chat, None).await.unwrap();
    let mut admins = msg.subscribe(&admin, chat, None).await.unwrap();
    post(&t, &bob, chat, 2).await;
    mark(&t, &alice, chat, 2).await;
    // A read that moves nothing tells nobody.
    mark(&t, &alice, chat, 1).await;
    post(&t, &bob, chat, 1).await;

    let read = Event::Read {
        chat,
        user: alice.id(),
        seq: 2,
        unread: 0,
    };
    for stream in [&mut phone, &mut laptop] {
        assert_eq!(next(stream).await.and_then(|e| e.seq()), Some(1));
        assert_eq!(next(stream).await.and_then(|e| e.seq()), Some(2));
        assert_eq!(next(stream).await, Some(read.clone()));
        assert_eq!(next(stream).await.and_then(|e| e.seq()), Some(3));
        assert_eq!(stream.last_seq(), 3, "a read has no seq of its own");
    }
    for stream in [&mut bobs, &mut admins] {
        for seq in 1..=3 {
            assert_eq!(next(stream).await.and_then(|e| e.seq()), Some(seq));
        }
    }
    // The wire form the user's other sockets get.
    mark(&t, &alice, chat, 3).await;
    let frame = tokio::time::timeout(Duration::from_secs(10), phone.next())
        .await
        .unwrap()
        .unwrap();
    let json: serde_json::Value = serde_json::from_slice(frame.json()).unwrap();
    assert_eq!(
        json,
        serde_json::json!({"type": "read", "chat": chat.0, "user": alice.id().0, "seq": 3, "unread": 0})
    );
}

/// The chat list reads chats, members and last messages as one snapshot: however posts
/// interleave, each chat's last message is the one its `last_seq` names and its unread
/// count is what that `last_seq` leaves.
async fn the_chat_list_is_one_snapshot_while_posts_land(t: TestCore) {
    let (_root, [alice, bob], chat) = t.chat_with_members(["alice", "bob"]).await;
    let messaging = t.core.messaging().clone();
    let poster = tokio::spawn(async move {
        for i in 0..300 {
            messaging
                .post(&alice, chat, text(&format!("message {i}")))
                .await
                .unwrap();
        }
    });
    let mut lists = 0;
    while !poster.is_finished() {
        for listed in t.core.membership().list_chats(&bob).await.unwrap() {
            let last = listed.last_message.as_ref().map_or(0, |m| m.seq);
            assert_eq!(
                last, listed.last_seq,
                "last message and last_seq of one moment"
            );
            assert_eq!(listed.unread, listed.last_seq, "bob read nothing");
        }
        lists += 1;
    }
    poster.await.unwrap();
    assert!(lists > 1, "the list was read while posts landed");
}
