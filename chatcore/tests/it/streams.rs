//! The edges of live streams: a resume racing a deletion, a removal racing a subscription,
//! the held actor of a deactivated user, admins who are not members losing their streams,
//! where a client resumes from, and the broker forgetting the chats nobody follows.

use crate::fixture::{TestCore, contract_tests, kind, next, text};
use async_trait::async_trait;
use chatcore::broker::{Broker, LocalBroker, Receiver, SharedEvent};
use chatcore::model::{ChatId, Event, PageRequest, RemovalReason, UserFlagsUpdate, UserId};
use chatcore::store::Store;
use chatcore::{Actor, ErrorKind};
use std::sync::{Arc, Mutex};

contract_tests!(
    a_resume_racing_a_deletion_ends_with_chat_deleted,
    a_removal_committed_while_subscribing_is_never_missed,
    a_deactivated_users_held_actor_can_neither_post_nor_read,
    a_non_member_admins_stream_ends_when_deactivated,
    a_non_member_admins_stream_ends_when_demoted,
    a_demoted_member_loses_the_stream_when_removed,
    last_seq_is_the_last_delivered_message,
    the_broker_forgets_deleted_chats_and_chats_nobody_follows,
);

/// The chat is deleted after a resume was accepted and before its backlog is read: the
/// backlog and `chat_deleted`'s `at_seq` are ahead of the stream and no longer stored.
async fn a_resume_racing_a_deletion_ends_with_chat_deleted(t: TestCore) {
    let (admin, [bob], chat) = t.chat_with_members(["bob"]).await;
    for n in 0..3 {
        t.post(&bob, chat, &format!("m{n}")).await;
    }
    let mut resumed = t.subscribe(&bob, chat, Some(0)).await;
    t.core.membership().delete_chat(&admin, chat).await.unwrap();
    assert!(matches!(
        next(&mut resumed).await,
        Some(Event::ChatDeleted { chat: c, .. }) if c == chat
    ));
    assert_eq!(next(&mut resumed).await, None);
}

/// A broker that, when a chat gets a subscriber, first commits a removal (its event gone
/// out just before, to nobody): the window between a subscription's access check and its
/// registration, made deterministic.
struct RemovalWhileSubscribing {
    inner: LocalBroker,
    store: Arc<dyn Store>,
    removal: Mutex<Option<(ChatId, UserId)>>,
}

#[async_trait]
impl Broker for RemovalWhileSubscribing {
    async fn publish(&self, event: SharedEvent) {
        self.inner.publish(event).await;
    }

    fn subscribe(&self, chat: ChatId) -> Receiver {
        let removal = self.removal.lock().unwrap().take();
        if let Some((chat, user)) = removal {
            let store = self.store.clone();
            tokio::task::block_in_place(|| {
                tokio::runtime::Handle::current().block_on(store.remove_member(chat, user))
            })
            .unwrap();
        }
        self.inner.subscribe(chat)
    }

    async fn account_changed(&self, user: UserId) {
        self.inner.account_changed(user);
    }
}

async fn a_removal_committed_while_subscribing_is_never_missed(t: TestCore) {
    let (_, [alice, bob], chat) = t.chat_with_members(["alice", "bob"]).await;
    let core = t.core_with_broker(Arc::new(RemovalWhileSubscribing {
        inner: LocalBroker::new(64),
        store: t.store.clone(),
        removal: Mutex::new(Some((chat, bob.id()))),
    }));
    match core.messaging().subscribe(&bob, chat, None).await {
        Ok(mut stream) => {
            let msg = core.messaging();
            msg.post(&alice, chat, text("members only")).await.unwrap();
            panic!(
                "a removed member's stream was opened and serves {:?}",
                next(&mut stream).await
            );
        }
        Err(e) => assert_eq!(e.kind(), ErrorKind::Forbidden),
    }
    core.shutdown().await;
}

async fn a_deactivated_users_held_actor_can_neither_post_nor_read(t: TestCore) {
    let (admin, [bob], chat) = t.chat_with_members(["bob"]).await;
    let ops = t.admin("ops").await;
    t.post(&bob, chat, "before").await;
    t.set_active(&admin, bob.id(), false).await;
    t.set_active(&admin, ops.id(), false).await;
    let msg = t.core.messaging();
    let members = t.core.membership();
    for held in [&bob, &ops] {
        assert_eq!(
            kind(msg.post(held, chat, text("after")).await),
            ErrorKind::Unauthenticated
        );
        assert_eq!(
            kind(msg.history(held, chat, PageRequest::default()).await),
            ErrorKind::Unauthenticated
        );
        assert_eq!(
            kind(msg.subscribe(held, chat, None).await),
            ErrorKind::Unauthenticated
        );
        assert_eq!(
            kind(members.members(held, chat).await),
            ErrorKind::Unauthenticated
        );
        assert_eq!(
            kind(members.get_chat(held, chat).await),
            ErrorKind::Unauthenticated
        );
    }
    assert_eq!(t.raw.count("messages").await, 1);
}

/// `admin` changes `user`'s flags.
async fn set_flags(t: &TestCore, admin: &Actor, user: UserId, flags: UserFlagsUpdate) {
    t.core.auth().update_user(admin, user, flags).await.unwrap();
}

fn demotion() -> UserFlagsUpdate {
    UserFlagsUpdate {
        is_superuser: Some(false),
        ..Default::default()
    }
}

/// Whether `event` is the removal of `user` for `reason`.
fn removal_of(event: Option<Event>, user: &Actor, reason: RemovalReason) -> bool {
    matches!(event, Some(Event::MemberRemoved { user: u, reason: r, .. }) if u.id == user.id() && r == reason)
}

async fn a_non_member_admins_stream_ends_when_deactivated(t: TestCore) {
    let (admin, [bob], chat) = t.chat_with_members(["bob"]).await;
    let ops = t.admin("ops").await;
    let mut ops_stream = t.subscribe(&ops, chat, None).await;
    let mut bobs = t.subscribe(&bob, chat, None).await;
    t.set_active(&admin, ops.id(), false).await;
    let ended = next(&mut ops_stream).await;
    assert!(
        removal_of(ended.clone(), &ops, RemovalReason::Deactivated),
        "{ended:?}"
    );
    assert_eq!(next(&mut ops_stream).await, None);
    // The members' streams learn nothing of it and go on.
    let posted = t.post(&bob, chat, "still here").await;
    assert_eq!(
        next(&mut bobs).await.and_then(|e| e.seq()),
        Some(posted.message.seq)
    );
}

async fn a_non_member_admins_stream_ends_when_demoted(t: TestCore) {
    let (admin, [bob], chat) = t.chat_with_members(["bob"]).await;
    let ops = t.admin("ops").await;
    let mut ops_stream = t.subscribe(&ops, chat, None).await;
    set_flags(&t, &admin, ops.id(), demotion()).await;
    let ended = next(&mut ops_stream).await;
    assert!(
        removal_of(ended.clone(), &ops, RemovalReason::Removed),
        "{ended:?}"
    );
    assert_eq!(next(&mut ops_stream).await, None);
    // The held actor says admin; the account does not.
    let msg = t.core.messaging();
    assert_eq!(
        kind(msg.subscribe(&ops, chat, None).await),
        ErrorKind::Forbidden
    );
    assert_eq!(
        kind(msg.history(&ops, chat, PageRequest::default()).await),
        ErrorKind::Forbidden
    );
    t.post(&bob, chat, "members only").await;
}

/// An admin who is a member keeps the stream when demoted; a removal afterwards ends it
/// (an admin's stream would survive it).
async fn a_demoted_member_loses_the_stream_when_removed(t: TestCore) {
    let admin = t.admin("root").await;
    let ops = t.admin("ops").await;
    let chat = t.chat(&admin, "general", &[&ops]).await;
    let mut ops_stream = t.subscribe(&ops, chat, None).await;
    set_flags(&t, &admin, ops.id(), demotion()).await;
    let posted = t.post(&ops, chat, "demoted, still a member").await;
    assert_eq!(
        next(&mut ops_stream).await.and_then(|e| e.seq()),
        Some(posted.message.seq)
    );
    t.core
        .membership()
        .remove_member(&admin, chat, ops.id())
        .await
        .unwrap();
    let ended = next(&mut ops_stream).await;
    assert!(
        removal_of(ended.clone(), &ops, RemovalReason::Removed),
        "{ended:?}"
    );
    assert_eq!(next(&mut ops_stream).await, None);
}

async fn last_seq_is_the_last_delivered_message(t: TestCore) {
    let (_, [bob], chat) = t.chat_with_members(["bob"]).await;
    for n in 0..5 {
        t.post(&bob, chat, &format!("m{n}")).await;
    }
    let mut resumed = t.subscribe(&bob, chat, Some(0)).await;
    assert_eq!(resumed.last_seq(), 0);
    assert_eq!(next(&mut resumed).await.and_then(|e| e.seq()), Some(1));
    assert_eq!(
        resumed.last_seq(),
        1,
        "one message delivered, four still queued"
    );
    let resume_from = resumed.last_seq();
    drop(resumed);
    let mut again = t.subscribe(&bob, chat, Some(resume_from)).await;
    for expected in 2..=5 {
        assert_eq!(next(&mut again).await.and_then(|e| e.seq()), Some(expected));
        assert_eq!(again.last_seq(), expected);
    }
}

async fn the_broker_forgets_deleted_chats_and_chats_nobody_follows(t: TestCore) {
    let broker = Arc::new(LocalBroker::new(64));
    let core = t.core_with_broker(broker.clone());
    let admin = t.admin("root").await;
    let bob = t.user("bob").await;
    let outsider = t.user("eve").await;
    let doomed = t.chat(&admin, "doomed", &[&bob]).await;
    let kept = t.chat(&admin, "kept", &[&bob]).await;
    let msg = core.messaging();
    let mut doomed_stream = msg.subscribe(&bob, doomed, None).await.unwrap();
    let kept_stream = msg.subscribe(&bob, kept, None).await.unwrap();
    assert_eq!(broker.channels(), 2);
    core.membership().delete_chat(&admin, doomed).await.unwrap();
    assert_eq!(
        broker.channels(),
        1,
        "a deleted chat's channel goes at once"
    );
    assert!(matches!(
        next(&mut doomed_stream).await,
        Some(Event::ChatDeleted { .. })
    ));
    assert_eq!(next(&mut doomed_stream).await, None);
    drop(kept_stream);
    assert_eq!(
        broker.channels(),
        0,
        "the last subscriber takes the channel along"
    );
    // A refused subscription leaves nothing behind either.
    assert_eq!(
        kind(msg.subscribe(&outsider, kept, None).await),
        ErrorKind::Forbidden
    );
    assert_eq!(
        kind(msg.subscribe(&bob, doomed, None).await),
        ErrorKind::NotFound
    );
    assert_eq!(broker.channels(), 0);
    core.shutdown().await;
}
