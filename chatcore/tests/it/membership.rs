//! Chats and membership: the authorization matrix and every rule of DESIGN.md.

use crate::fixture::{TestCore, contract_tests, kind, text};
use chatcore::model::{
    ChatId, Event, NewChat, PageRequest, RemovalReason, UserFlagsUpdate, UserId,
};
use chatcore::{Actor, ErrorKind};

contract_tests!(
    the_authorization_matrix_holds_for_every_call,
    a_missing_chat_is_not_found_for_everyone,
    membership_changes_answer_the_originals_messages,
    members_leave_and_admins_remove,
    chat_names_and_participants_are_validated,
    only_admins_and_themselves_see_email_addresses,
    admins_list_every_chat_and_members_their_own,
    chat_lists_carry_the_last_message,
    a_deactivation_racing_an_add_never_leaves_an_inactive_member,
    ids_of_deleted_chats_and_messages_never_come_back,
    a_standing_reads_what_the_separate_lookups_read,
);

/// `Store::standing` (one query in the SQL stores) answers what `user_by_id`, `chat` and
/// `is_member` answer one by one: for a member, a non-member, an admin, a deactivated
/// member (whose membership row stays), a user and a chat that do not exist.
async fn a_standing_reads_what_the_separate_lookups_read(t: TestCore) {
    let (admin, [alice, bob, carol], chat) = t.chat_with_members(["alice", "bob", "carol"]).await;
    let dave = t.user("dave").await;
    let deactivate = UserFlagsUpdate {
        is_active: Some(false),
        is_superuser: None,
    };
    t.core
        .auth()
        .update_user(&admin, carol.id(), deactivate)
        .await
        .unwrap();
    t.core
        .membership()
        .remove_member(&admin, chat, bob.id())
        .await
        .unwrap();
    let missing_user = UserId(i64::from(i32::MAX));
    let missing_chat = ChatId(i64::from(i32::MAX));
    let users = [
        alice.id(),
        bob.id(),
        carol.id(),
        dave.id(),
        admin.id(),
        missing_user,
    ];
    let mut seen = Vec::new();
    for user in users {
        for chat in [chat, missing_chat] {
            let standing = t.store.standing(user, chat).await.unwrap();
            let account = t.store.user_by_id(user).await.unwrap();
            let record = t.store.chat(chat).await.unwrap();
            let member = t.store.is_member(chat, user).await.unwrap();
            let view = |a: &Option<chatcore::store::UserRecord>| {
                a.as_ref().map(|a| {
                    (
                        a.id,
                        a.username.clone(),
                        a.password_hash.clone(),
                        a.is_admin,
                        a.is_active,
                    )
                })
            };
            assert_eq!(
                view(&standing.account),
                view(&account),
                "{user:?} in {chat:?}"
            );
            let chat_view = |c: &Option<chatcore::store::ChatRecord>| {
                c.as_ref()
                    .map(|c| (c.id, c.name.clone(), c.created_at, c.last_seq))
            };
            assert_eq!(
                chat_view(&standing.chat),
                chat_view(&record),
                "{user:?} in {chat:?}"
            );
            assert_eq!(standing.member, member, "{user:?} in {chat:?}");
            seen.push((
                standing.account.map(|a| a.is_active),
                standing.chat.is_some(),
                standing.member,
            ));
        }
    }
    // Every case the rules tell apart came up.
    for case in [
        (Some(true), true, true),
        (Some(true), true, false),
        (Some(false), true, true),
        (None, true, false),
        (Some(true), false, false),
    ] {
        assert!(seen.contains(&case), "{case:?} in {seen:?}");
    }
}

/// Deleting the newest chat (with the newest messages) must not free its id, nor its
/// messages' ids, for what is created next: clients and logs keep them.
async fn ids_of_deleted_chats_and_messages_never_come_back(t: TestCore) {
    let admin = t.admin("root").await;
    let alice = t.user("alice").await;
    let kept = t.chat(&admin, "kept", &[&alice]).await;
    let doomed = t.chat(&admin, "doomed", &[&alice]).await;
    let post = |chat| t.core.messaging().post(&alice, chat, text("hi"));
    post(kept).await.unwrap();
    let doomed_message = post(doomed).await.unwrap().message.id;
    t.core
        .membership()
        .delete_chat(&admin, doomed)
        .await
        .unwrap();
    let next_chat = t.chat(&admin, "next", &[&alice]).await;
    assert!(
        next_chat.0 > doomed.0,
        "chat id {doomed:?} came back as {next_chat:?}"
    );
    let next_message = post(kept).await.unwrap().message.id;
    assert!(
        next_message.0 > doomed_message.0,
        "message id {doomed_message:?} came back as {next_message:?}"
    );
}

/// Who is asking.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Who {
    NonMember,
    Member,
    Admin,
}

/// Expected outcome per caller: `Ok(())` or the error kind.
type Expect = [(Who, Result<(), ErrorKind>); 3];

async fn the_authorization_matrix_holds_for_every_call(t: TestCore) {
    use ErrorKind::Forbidden;
    let admin = t.admin("root").await;
    let member = t.user("member").await;
    let outsider = t.user("outsider").await;
    let extra = t.user("extra").await;
    let chat = t.chat(&admin, "general", &[&member]).await;
    let actor = |who: Who| -> &Actor {
        match who {
            Who::NonMember => &outsider,
            Who::Member => &member,
            Who::Admin => &admin,
        }
    };
    let reads: Expect = [
        (Who::NonMember, Err(Forbidden)),
        (Who::Member, Ok(())),
        (Who::Admin, Ok(())),
    ];
    let admin_only: Expect = [
        (Who::NonMember, Err(Forbidden)),
        (Who::Member, Err(Forbidden)),
        (Who::Admin, Ok(())),
    ];
    // Admins read every chat but post only where they are members.
    let post: Expect = [
        (Who::NonMember, Err(Forbidden)),
        (Who::Member, Ok(())),
        (Who::Admin, Err(Forbidden)),
    ];
    let m = t.core.membership();
    let msg = t.core.messaging();
    for (who, expected) in reads {
        let a = actor(who);
        assert_eq!(
            m.get_chat(a, chat).await.map(drop).map_err(|e| e.kind()),
            expected,
            "get_chat {who:?}"
        );
        assert_eq!(
            m.members(a, chat).await.map(drop).map_err(|e| e.kind()),
            expected,
            "members {who:?}"
        );
        assert_eq!(
            msg.history(a, chat, PageRequest::default())
                .await
                .map(drop)
                .map_err(|e| e.kind()),
            expected,
            "history {who:?}"
        );
        assert_eq!(
            msg.subscribe(a, chat, None)
                .await
                .map(drop)
                .map_err(|e| e.kind()),
            expected,
            "subscribe {who:?}"
        );
    }
    for (who, expected) in post {
        let posted = msg.post(actor(who), chat, text("hi")).await;
        assert_eq!(
            posted.map(drop).map_err(|e| e.kind()),
            expected,
            "post {who:?}"
        );
    }
    for (who, expected) in admin_only {
        let a = actor(who);
        let new = NewChat {
            name: "x".into(),
            participants: vec![],
        };
        assert_eq!(
            m.create_chat(a, new).await.map(drop).map_err(|e| e.kind()),
            expected,
            "create {who:?}"
        );
        assert_eq!(
            m.rename_chat(a, chat, "renamed")
                .await
                .map(drop)
                .map_err(|e| e.kind()),
            expected,
            "rename {who:?}"
        );
        assert_eq!(
            m.add_member(a, chat, extra.id())
                .await
                .map(drop)
                .map_err(|e| e.kind()),
            expected,
            "add {who:?}"
        );
        let removed = m.remove_member(a, chat, extra.id()).await;
        assert_eq!(
            removed.map(drop).map_err(|e| e.kind()),
            expected,
            "remove {who:?}"
        );
    }
    // Users: admins only.
    assert_eq!(
        kind(t.core.auth().list_users(&member, "", 10, 0).await),
        Forbidden
    );
    let flags = UserFlagsUpdate {
        is_active: Some(true),
        ..Default::default()
    };
    assert_eq!(
        kind(t.core.auth().update_user(&member, extra.id(), flags).await),
        Forbidden
    );
    // Delete last: non-admins are refused, the admin succeeds.
    assert_eq!(kind(m.delete_chat(&outsider, chat).await), Forbidden);
    assert_eq!(kind(m.delete_chat(&member, chat).await), Forbidden);
    m.delete_chat(&admin, chat).await.unwrap();
    assert_eq!(
        t.raw.count("chats").await,
        1,
        "only the chat made by the matrix remains"
    );
}

async fn a_missing_chat_is_not_found_for_everyone(t: TestCore) {
    let admin = t.admin("root").await;
    let user = t.user("bob").await;
    let missing = ChatId(4242);
    let m = t.core.membership();
    let msg = t.core.messaging();
    for a in [&admin, &user] {
        assert_eq!(kind(m.get_chat(a, missing).await), ErrorKind::NotFound);
        assert_eq!(kind(m.members(a, missing).await), ErrorKind::NotFound);
        assert_eq!(
            kind(m.rename_chat(a, missing, "x").await),
            ErrorKind::NotFound
        );
        assert_eq!(kind(m.delete_chat(a, missing).await), ErrorKind::NotFound);
        assert_eq!(
            kind(m.add_member(a, missing, user.id()).await),
            ErrorKind::NotFound
        );
        assert_eq!(
            kind(m.remove_member(a, missing, user.id()).await),
            ErrorKind::NotFound
        );
        assert_eq!(kind(m.leave(a, missing).await), ErrorKind::NotFound);
        assert_eq!(
            kind(msg.history(a, missing, PageRequest::default()).await),
            ErrorKind::NotFound
        );
        assert_eq!(
            kind(msg.subscribe(a, missing, None).await),
            ErrorKind::NotFound
        );
        let post = msg.post(a, missing, text("hi")).await;
        assert_eq!(kind(post), ErrorKind::NotFound);
    }
}

async fn membership_changes_answer_the_originals_messages(t: TestCore) {
    let admin = t.admin("root").await;
    let user4 = t.user("user4").await;
    let chat = t.chat(&admin, "general", &[]).await;
    let m = t.core.membership();
    let mut events = t
        .core
        .messaging()
        .subscribe(&admin, chat, None)
        .await
        .unwrap();
    let added = m.add_member(&admin, chat, user4.id()).await.unwrap();
    assert_eq!(added.message, "User user4 added to chat");
    // Adding again: same answer, no second event.
    assert_eq!(m.add_member(&admin, chat, user4.id()).await.unwrap(), added);
    let removed = m.remove_member(&admin, chat, user4.id()).await.unwrap();
    assert_eq!(removed.message, "User user4 removed from chat");
    // Removing a non-member: 404.
    assert_eq!(
        kind(m.remove_member(&admin, chat, user4.id()).await),
        ErrorKind::NotFound
    );
    assert_eq!(
        kind(m.add_member(&admin, chat, UserId(999)).await),
        ErrorKind::NotFound
    );
    let first = events.next().await.unwrap();
    assert!(
        matches!(first.event(), Event::MemberAdded { user, at_seq: 0, .. } if user.id == user4.id())
    );
    let second = events.next().await.unwrap();
    assert!(matches!(
        second.event(),
        Event::MemberRemoved {
            reason: RemovalReason::Removed,
            ..
        }
    ));
    // An inactive user cannot be added.
    t.set_active(&admin, user4.id(), false).await;
    assert_eq!(
        kind(m.add_member(&admin, chat, user4.id()).await),
        ErrorKind::Conflict
    );
}

async fn members_leave_and_admins_remove(t: TestCore) {
    let (admin, [alice, bob], chat) = t.chat_with_members(["alice", "bob"]).await;
    let m = t.core.membership();
    // A member cannot remove someone else.
    assert_eq!(
        kind(m.remove_member(&alice, chat, bob.id()).await),
        ErrorKind::Forbidden
    );
    // Removing oneself is leaving.
    let left = m.remove_member(&alice, chat, alice.id()).await.unwrap();
    assert_eq!(left.message, "User alice removed from chat");
    assert_eq!(kind(m.get_chat(&alice, chat).await), ErrorKind::Forbidden);
    assert_eq!(kind(m.leave(&alice, chat).await), ErrorKind::NotFound);
    m.leave(&bob, chat).await.unwrap();
    assert!(
        m.get_chat(&admin, chat)
            .await
            .unwrap()
            .participants
            .is_empty()
    );
}

async fn chat_names_and_participants_are_validated(t: TestCore) {
    let admin = t.admin("root").await;
    let m = t.core.membership();
    for name in ["", "   ", &"x".repeat(101)] {
        let r = m
            .create_chat(
                &admin,
                NewChat {
                    name: name.into(),
                    participants: vec![],
                },
            )
            .await;
        assert_eq!(kind(r), ErrorKind::Invalid, "{name:?}");
    }
    let unknown = NewChat {
        name: "ok".into(),
        participants: vec![UserId(777)],
    };
    assert_eq!(
        kind(m.create_chat(&admin, unknown).await),
        ErrorKind::Invalid
    );
    assert_eq!(t.raw.count("chats").await, 0);
    let chat = m
        .create_chat(
            &admin,
            NewChat {
                name: "  trimmed  ".into(),
                participants: vec![admin.id(), admin.id()],
            },
        )
        .await
        .unwrap();
    assert_eq!(chat.name, "trimmed");
    assert_eq!(chat.participants.len(), 1);
    assert_eq!(
        kind(m.rename_chat(&admin, chat.id, " ").await),
        ErrorKind::Invalid
    );
    assert_eq!(
        m.rename_chat(&admin, chat.id, "new name")
            .await
            .unwrap()
            .name,
        "new name"
    );
}

async fn only_admins_and_themselves_see_email_addresses(t: TestCore) {
    let (admin, [alice, bob], chat) = t.chat_with_members(["alice", "bob"]).await;
    t.post(&bob, chat, "hello").await;
    let seen_by_alice = t.core.membership().get_chat(&alice, chat).await.unwrap();
    for u in &seen_by_alice.participants {
        let expected = if u.id == alice.id() {
            "alice@example.com"
        } else {
            ""
        };
        assert_eq!(u.email, expected);
    }
    assert_eq!(t.history(&alice, chat).await[0].user.email, "");
    assert_eq!(t.history(&bob, chat).await[0].user.email, "bob@example.com");
    let by_admin = t.core.membership().members(&admin, chat).await.unwrap();
    assert!(by_admin.iter().all(|u| !u.email.is_empty()));
}

async fn admins_list_every_chat_and_members_their_own(t: TestCore) {
    let admin = t.admin("root").await;
    let alice = t.user("alice").await;
    let one = t.chat(&admin, "one", &[&alice]).await;
    let two = t.chat(&admin, "two", &[]).await;
    let m = t.core.membership();
    let ids =
        |chats: Vec<chatcore::model::Chat>| chats.into_iter().map(|c| c.id).collect::<Vec<_>>();
    assert_eq!(ids(m.list_chats(&admin).await.unwrap()), [one, two]);
    assert_eq!(ids(m.list_chats(&alice).await.unwrap()), [one]);
}

async fn chat_lists_carry_the_last_message(t: TestCore) {
    let admin = t.admin("root").await;
    let alice = t.user("alice").await;
    let chat = t.chat(&admin, "one", &[&alice]).await;
    for content in ["first", "second"] {
        t.post(&alice, chat, content).await;
    }
    let listed = t.core.membership().list_chats(&alice).await.unwrap();
    assert_eq!(listed[0].last_seq, 2);
    assert_eq!(listed[0].last_message.as_ref().unwrap().content, "second");
}

/// An admin adds a user to a chat while another admin deactivates them, many times over:
/// either the add is refused (409), or the deactivation finds the membership and its
/// `member_removed{deactivated}` event reaches the chat; never an inactive member behind
/// the subscribers' backs.
async fn a_deactivation_racing_an_add_never_leaves_an_inactive_member(t: TestCore) {
    let admin = t.admin("root").await;
    let chat = t.chat(&admin, "general", &[]).await;
    let mut events = t
        .core
        .messaging()
        .subscribe(&admin, chat, None)
        .await
        .unwrap();
    let deactivate = UserFlagsUpdate {
        is_active: Some(false),
        is_superuser: None,
    };
    for round in 0..40 {
        let user = t.user(&format!("racer{round}")).await;
        let add = t.core.membership().add_member(&admin, chat, user.id());
        let off = t
            .core
            .auth()
            .update_user(&admin, user.id(), deactivate.clone());
        let (added, deactivated) = tokio::join!(add, off);
        deactivated.expect("the deactivation succeeds");
        let member = match &added {
            Ok(_) => t
                .core
                .membership()
                .members(&admin, chat)
                .await
                .unwrap()
                .iter()
                .any(|m| m.id == user.id()),
            Err(e) => {
                assert_eq!(e.kind(), ErrorKind::Conflict, "round {round}: {e}");
                false
            }
        };
        if member {
            // Its removal must be on the stream (after the `member_added`).
            let mut removed = false;
            while let Ok(Some(frame)) =
                tokio::time::timeout(std::time::Duration::from_secs(5), events.next()).await
            {
                if let Event::MemberRemoved {
                    user: u, reason, ..
                } = frame.event()
                    && u.id == user.id()
                {
                    assert_eq!(*reason, RemovalReason::Deactivated);
                    removed = true;
                    break;
                }
            }
            assert!(removed, "round {round}: an inactive member and no event");
        }
    }
}
