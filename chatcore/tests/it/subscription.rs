//! Live subscriptions: backlog then live, no gap and no duplicate, membership events, lag.

use crate::fixture::{TestCore, contract_tests, kind, next, text};
use chatcore::model::{Event, RemovalReason};
use chatcore::{Config, ErrorKind};

contract_tests!(
    resuming_while_others_post_misses_nothing_and_repeats_nothing,
    a_removed_member_is_told_and_the_stream_ends,
    a_deactivated_member_is_told_and_the_stream_ends,
    a_deleted_chat_ends_every_stream,
    a_slow_subscriber_is_told_it_lagged with Config { subscriber_buffer: 4, ..Config::for_tests() },
    a_rename_reaches_subscribers,
    resuming_beyond_the_last_message_is_invalid,
);

async fn resuming_while_others_post_misses_nothing_and_repeats_nothing(t: TestCore) {
    const TOTAL: i64 = 600;
    let (_, [alice, bob], chat) = t.chat_with_members(["alice", "bob"]).await;
    let msg = t.core.messaging().clone();
    for n in 0..100 {
        t.post(&alice, chat, &format!("early {n}")).await;
    }
    let poster = {
        let msg = msg.clone();
        tokio::spawn(async move {
            for n in 100..TOTAL {
                msg.post(&alice, chat, text(&format!("live {n}")))
                    .await
                    .unwrap();
            }
        })
    };
    // Subscribe mid-stream, resuming from seq 40, and again later from 0 and from None.
    tokio::task::yield_now().await;
    let mut from_40 = t.subscribe(&bob, chat, Some(40)).await;
    let mut seqs = Vec::new();
    while seqs.last() != Some(&TOTAL) {
        match next(&mut from_40).await {
            Some(Event::Message(m)) => seqs.push(m.message.seq),
            other => panic!("unexpected {other:?}"),
        }
    }
    poster.await.unwrap();
    assert_eq!(seqs, (41..=TOTAL).collect::<Vec<_>>());
    assert_eq!(from_40.last_seq(), TOTAL);
    let mut from_0 = t.subscribe(&bob, chat, Some(0)).await;
    for expected in 1..=TOTAL {
        assert_eq!(
            next(&mut from_0).await.and_then(|e| e.seq()),
            Some(expected)
        );
    }
    // Without after_seq only new messages arrive.
    let mut live = t.subscribe(&bob, chat, None).await;
    let posted = t.post(&bob, chat, "after").await;
    assert_eq!(
        next(&mut live).await.and_then(|e| e.seq()),
        Some(posted.message.seq)
    );
    assert_eq!(
        next(&mut from_0).await.and_then(|e| e.seq()),
        Some(posted.message.seq)
    );
}

async fn a_removed_member_is_told_and_the_stream_ends(t: TestCore) {
    let (admin, [alice, bob], chat) = t.chat_with_members(["alice", "bob"]).await;
    let mut bobs = t.subscribe(&bob, chat, None).await;
    let mut alices = t.subscribe(&alice, chat, None).await;
    t.post(&alice, chat, "before").await;
    t.core
        .membership()
        .remove_member(&admin, chat, bob.id())
        .await
        .unwrap();
    t.post(&alice, chat, "after").await;
    assert_eq!(next(&mut bobs).await.and_then(|e| e.seq()), Some(1));
    let removed = next(&mut bobs).await.unwrap();
    assert!(
        matches!(&removed, Event::MemberRemoved { user, reason: RemovalReason::Removed, at_seq: 1, .. } if user.id == bob.id())
    );
    assert_eq!(
        next(&mut bobs).await,
        None,
        "the stream ends after the removal"
    );
    // Alice sees the removal and keeps receiving.
    assert_eq!(next(&mut alices).await.and_then(|e| e.seq()), Some(1));
    assert!(matches!(
        next(&mut alices).await,
        Some(Event::MemberRemoved { .. })
    ));
    assert_eq!(next(&mut alices).await.and_then(|e| e.seq()), Some(2));
    // Bob can no longer subscribe.
    assert!(
        t.core
            .messaging()
            .subscribe(&bob, chat, None)
            .await
            .is_err()
    );
}

async fn a_deactivated_member_is_told_and_the_stream_ends(t: TestCore) {
    let admin = t.admin("root").await;
    let bob = t.user("bob").await;
    let ops = t.admin("ops").await;
    let chat = t.chat(&admin, "general", &[&bob, &ops]).await;
    let mut bobs = t.subscribe(&bob, chat, None).await;
    let mut ops_stream = t.subscribe(&ops, chat, None).await;
    t.set_active(&admin, bob.id(), false).await;
    t.set_active(&admin, ops.id(), false).await;
    assert!(matches!(
        next(&mut bobs).await,
        Some(Event::MemberRemoved {
            reason: RemovalReason::Deactivated,
            ..
        })
    ));
    assert_eq!(next(&mut bobs).await, None);
    // A deactivated admin loses the stream too, after seeing bob go.
    let seen = next(&mut ops_stream).await;
    assert!(matches!(seen, Some(Event::MemberRemoved { user, .. }) if user.id == bob.id()));
    let own = next(&mut ops_stream).await;
    assert!(matches!(own, Some(Event::MemberRemoved { user, .. }) if user.id == ops.id()));
    assert_eq!(next(&mut ops_stream).await, None);
}

async fn a_deleted_chat_ends_every_stream(t: TestCore) {
    let (admin, [bob], chat) = t.chat_with_members(["bob"]).await;
    let mut bobs = t.subscribe(&bob, chat, None).await;
    let mut admins = t.subscribe(&admin, chat, None).await;
    t.core.membership().delete_chat(&admin, chat).await.unwrap();
    for sub in [&mut bobs, &mut admins] {
        assert!(matches!(next(sub).await, Some(Event::ChatDeleted { .. })));
        assert_eq!(next(sub).await, None);
    }
    assert_eq!(t.raw.count("memberships").await, 0);
}

async fn a_slow_subscriber_is_told_it_lagged(t: TestCore) {
    let (_, [bob], chat) = t.chat_with_members(["bob"]).await;
    let mut slow = t.subscribe(&bob, chat, None).await;
    for n in 0..20 {
        t.post(&bob, chat, &format!("m{n}")).await;
    }
    // The buffer holds 4: the stream reports the loss instead of blocking the chat.
    assert_eq!(
        next(&mut slow).await,
        Some(Event::Lagged { chat, last_seq: 0 })
    );
    assert_eq!(next(&mut slow).await, None);
    // Resuming from the reported seq gets everything.
    let mut resumed = t.subscribe(&bob, chat, Some(0)).await;
    for expected in 1..=20 {
        assert_eq!(
            next(&mut resumed).await.and_then(|e| e.seq()),
            Some(expected)
        );
    }
}

async fn a_rename_reaches_subscribers(t: TestCore) {
    let (admin, [bob], chat) = t.chat_with_members(["bob"]).await;
    let mut bobs = t.subscribe(&bob, chat, None).await;
    t.core
        .membership()
        .rename_chat(&admin, chat, "renamed")
        .await
        .unwrap();
    assert_eq!(
        next(&mut bobs).await,
        Some(Event::ChatRenamed {
            chat,
            name: "renamed".into(),
            at_seq: 0
        })
    );
}

async fn resuming_beyond_the_last_message_is_invalid(t: TestCore) {
    let admin = t.admin("root").await;
    let bob = t.user("bob").await;
    let chat = t.chat(&admin, "general", &[&bob]).await;
    let msg = t.core.messaging();
    msg.subscribe(&bob, chat, Some(0)).await.unwrap();
    assert_eq!(
        kind(msg.subscribe(&bob, chat, Some(1)).await),
        ErrorKind::Invalid,
        "an empty chat has nothing after seq 0"
    );
    for n in 0..2 {
        msg.post(&bob, chat, text(&format!("{n}"))).await.unwrap();
    }
    msg.subscribe(&bob, chat, Some(2)).await.unwrap();
    assert_eq!(
        kind(msg.subscribe(&bob, chat, Some(3)).await),
        ErrorKind::Invalid
    );
    assert_eq!(
        kind(msg.subscribe(&admin, chat, Some(3)).await),
        ErrorKind::Invalid
    );
}
