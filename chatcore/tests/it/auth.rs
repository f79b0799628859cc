//! Accounts, passwords, tokens and sessions.

use crate::fixture::{PASSWORD, TestCore, contract_tests, kind};
use chatcore::auth::sha256_hex;
use chatcore::model::{ProfileUpdate, Registration, UserFlagsUpdate};
use chatcore::{ClientInfo, Config, Credential, ErrorKind, LoginRateLimit};
use std::time::Duration;

contract_tests!(
    every_registration_rule_rejects_and_stores_nothing,
    usernames_clash_ignoring_case_and_login_ignores_case,
    unknown_inactive_and_wrong_password_all_answer_invalid_credentials,
    tokens_and_sessions_are_stored_only_as_hashes,
    logout_revokes_only_the_presented_token,
    a_deactivated_user_cannot_authenticate_by_any_means,
    a_password_change_revokes_every_token_and_session,
    admins_cannot_demote_themselves_and_the_last_admin_stays,
    closed_registration_is_forbidden with Config { registration_open: false, ..Config::for_tests() },
    repeated_login_failures_are_rate_limited with Config {
        login_rate_limit: LoginRateLimit { max_failures: 3, window: Duration::from_secs(60) },
        ..Config::for_tests()
    },
    only_admins_list_and_search_users,
    profile_updates_are_validated,
    external_identities_are_provisioned_once,
    basic_credentials_authenticate_like_login,
);

fn reg(username: &str, password: &str, email: &str) -> Registration {
    Registration {
        username: username.into(),
        password: password.into(),
        email: email.into(),
        ..Default::default()
    }
}

async fn every_registration_rule_rejects_and_stores_nothing(t: TestCore) {
    let auth = t.core.auth();
    let cases = [
        reg("bad name!", PASSWORD, ""),
        reg("", PASSWORD, ""),
        reg(&"a".repeat(151), PASSWORD, ""),
        reg("user1", "1", ""),
        reg("user1", "short7!", ""),
        reg("user1", "1234567890", ""),
        reg("user1", "password123", ""),
        reg("alexander", "alexander1", ""),
        reg("user1", PASSWORD, "not-an-email"),
        reg("user1", PASSWORD, "a@b"),
        Registration {
            first_name: "x".repeat(151),
            ..reg("user1", PASSWORD, "")
        },
    ];
    for case in cases {
        let username = case.username.clone();
        let result = auth.register(case).await;
        assert_eq!(kind(result), ErrorKind::Invalid, "{username}");
    }
    assert_eq!(t.raw.count("users").await, 0);
    assert_eq!(t.raw.count("api_tokens").await, 0);
    auth.register(reg("user1", PASSWORD, "user1@example.com"))
        .await
        .unwrap();
    assert_eq!(t.raw.count("users").await, 1);
}

async fn usernames_clash_ignoring_case_and_login_ignores_case(t: TestCore) {
    let auth = t.core.auth();
    let (user, _) = auth.register(reg("Иван", PASSWORD, "")).await.unwrap();
    assert_eq!(user.username, "Иван");
    let clash = auth.register(reg("иван", PASSWORD, "")).await;
    assert_eq!(kind(clash), ErrorKind::Conflict);
    let token = auth
        .login("ИВАН", PASSWORD, &ClientInfo::default())
        .await
        .unwrap();
    assert_eq!(t.by_token(&token).await.unwrap().id(), user.id);
    assert_eq!(t.raw.count("users").await, 1);
}

async fn unknown_inactive_and_wrong_password_all_answer_invalid_credentials(t: TestCore) {
    let admin = t.admin("root").await;
    let bob = t.user("bob").await;
    let auth = t.core.auth();
    let client = ClientInfo::default();
    assert_eq!(
        kind(auth.login("nobody", PASSWORD, &client).await),
        ErrorKind::InvalidCredentials
    );
    assert_eq!(
        kind(auth.login("bob", "wrong password here", &client).await),
        ErrorKind::InvalidCredentials
    );
    t.set_active(&admin, bob.id(), false).await;
    assert_eq!(
        kind(auth.login("bob", PASSWORD, &client).await),
        ErrorKind::InvalidCredentials
    );
}

async fn tokens_and_sessions_are_stored_only_as_hashes(t: TestCore) {
    let (_, token) = t.user_with_token("bob").await;
    let session = t.session("bob").await;
    assert_eq!(token.len(), 40);
    assert!(
        token
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
    );
    let stored_tokens = t.raw.column("api_tokens", "token_hash").await;
    assert_eq!(stored_tokens, vec![sha256_hex(&token)]);
    let stored_sessions = t.raw.column("sessions", "session_hash").await;
    assert_eq!(stored_sessions, vec![sha256_hex(&session.id)]);
    assert!(!stored_sessions.contains(&session.id));
    let via_session = t.by_session(&session.id).await.unwrap();
    assert_eq!(via_session.csrf_token(), Some(session.csrf_token.as_str()));
    t.core.auth().end_session(&session.id).await.unwrap();
    assert_eq!(t.raw.count("sessions").await, 0);
}

async fn logout_revokes_only_the_presented_token(t: TestCore) {
    let (bob, first) = t.user_with_token("bob").await;
    let second = t
        .core
        .auth()
        .login("bob", PASSWORD, &ClientInfo::default())
        .await
        .unwrap();
    assert_ne!(first, second);
    t.core.auth().logout(&first).await.unwrap();
    assert_eq!(kind(t.by_token(&first).await), ErrorKind::Unauthenticated);
    assert_eq!(t.by_token(&second).await.unwrap().id(), bob.id());
    assert_eq!(
        kind(t.by_token("not-a-token").await),
        ErrorKind::Unauthenticated
    );
}

async fn a_deactivated_user_cannot_authenticate_by_any_means(t: TestCore) {
    let admin = t.admin("root").await;
    let (bob, token) = t.user_with_token("bob").await;
    let session = t.session("bob").await;
    t.set_active(&admin, bob.id(), false).await;
    let authenticator = t.core.services().authenticator;
    let client = ClientInfo::default();
    assert_eq!(kind(t.by_token(&token).await), ErrorKind::Unauthenticated);
    let basic = Credential::Basic {
        username: "bob".into(),
        password: PASSWORD.into(),
    };
    assert_eq!(
        kind(authenticator.authenticate(&basic, &client).await),
        ErrorKind::InvalidCredentials
    );
    assert_eq!(
        kind(t.by_session(&session.id).await),
        ErrorKind::Unauthenticated
    );
    assert_eq!(
        kind(t.core.auth().actor_for(bob.id()).await),
        ErrorKind::Unauthenticated
    );
    assert_eq!(t.raw.count("api_tokens").await, 0);
    assert_eq!(t.raw.count("sessions").await, 0);
}

async fn a_password_change_revokes_every_token_and_session(t: TestCore) {
    let (bob, old_token) = t.user_with_token("bob").await;
    let auth = t.core.auth();
    let session = t.session("bob").await;
    let wrong = auth
        .change_password(&bob, "not my password", "another fine passphrase")
        .await;
    assert_eq!(kind(wrong), ErrorKind::Invalid);
    let weak = auth.change_password(&bob, PASSWORD, "12345678").await;
    assert_eq!(kind(weak), ErrorKind::Invalid);
    let new_token = auth
        .change_password(&bob, PASSWORD, "another fine passphrase")
        .await
        .unwrap();
    assert_eq!(
        kind(t.by_token(&old_token).await),
        ErrorKind::Unauthenticated
    );
    assert_eq!(
        kind(t.by_session(&session.id).await),
        ErrorKind::Unauthenticated
    );
    assert_eq!(t.by_token(&new_token).await.unwrap().id(), bob.id());
    let client = ClientInfo::default();
    assert!(
        auth.login("bob", "another fine passphrase", &client)
            .await
            .is_ok()
    );
    assert_eq!(
        kind(auth.login("bob", PASSWORD, &client).await),
        ErrorKind::InvalidCredentials
    );
}

async fn admins_cannot_demote_themselves_and_the_last_admin_stays(t: TestCore) {
    let root = t.admin("root").await;
    let bob = t.user("bob").await;
    let auth = t.core.auth();
    let demote = UserFlagsUpdate {
        is_superuser: Some(false),
        ..Default::default()
    };
    let promote = UserFlagsUpdate {
        is_superuser: Some(true),
        ..Default::default()
    };
    assert_eq!(
        kind(auth.update_user(&root, root.id(), demote.clone()).await),
        ErrorKind::Conflict
    );
    assert_eq!(
        kind(auth.update_user(&bob, bob.id(), promote.clone()).await),
        ErrorKind::Forbidden
    );
    let promoted = auth.update_user(&root, bob.id(), promote).await.unwrap();
    assert!(promoted.is_superuser);
    // Bob (now admin, re-authenticated) demotes root: allowed, another admin remains.
    let bob = auth.actor_for(bob.id()).await.unwrap();
    assert!(
        !auth
            .update_user(&bob, root.id(), demote.clone())
            .await
            .unwrap()
            .is_superuser
    );
    // Root, no longer an admin, is refused; bob cannot demote himself as the last admin.
    let root = auth.actor_for(root.id()).await.unwrap();
    assert_eq!(
        kind(auth.update_user(&root, bob.id(), demote.clone()).await),
        ErrorKind::Forbidden
    );
    assert_eq!(
        kind(auth.update_user(&bob, bob.id(), demote).await),
        ErrorKind::Conflict
    );
    assert_eq!(
        kind(
            auth.update_user(
                &bob,
                chatcore::model::UserId(9999),
                UserFlagsUpdate::default()
            )
            .await
        ),
        ErrorKind::NotFound
    );
}

async fn closed_registration_is_forbidden(t: TestCore) {
    let result = t.core.auth().register(reg("bob", PASSWORD, "")).await;
    assert_eq!(kind(result), ErrorKind::Forbidden);
    assert_eq!(t.raw.count("users").await, 0);
    // The CLI's way in still works.
    t.admin("root").await;
}

async fn repeated_login_failures_are_rate_limited(t: TestCore) {
    t.user("bob").await;
    let auth = t.core.auth();
    let client = ClientInfo {
        ip: Some("192.0.2.7".parse().unwrap()),
    };
    for _ in 0..3 {
        assert_eq!(
            kind(auth.login("bob", "wrong password!!", &client).await),
            ErrorKind::InvalidCredentials
        );
    }
    // Even the right password is refused while the username is locked out.
    assert_eq!(
        kind(auth.login("bob", PASSWORD, &ClientInfo::default()).await),
        ErrorKind::RateLimited
    );
    // And the same IP is locked out for other usernames.
    assert_eq!(
        kind(auth.login("alice", PASSWORD, &client).await),
        ErrorKind::RateLimited
    );
}

async fn only_admins_list_and_search_users(t: TestCore) {
    let root = t.admin("root").await;
    let bob = t.user("bob").await;
    t.user("alice").await;
    t.user("a_b").await;
    let auth = t.core.auth();
    assert_eq!(
        kind(auth.list_users(&bob, "", 50, 0).await),
        ErrorKind::Forbidden
    );
    let all = auth.list_users(&root, "", 50, 0).await.unwrap();
    let names: Vec<_> = all.iter().map(|u| u.user.username.as_str()).collect();
    assert_eq!(names, ["root", "bob", "alice", "a_b"]);
    assert_eq!(all[1].user.email, "bob@example.com");
    let found = auth.list_users(&root, "ALI", 50, 0).await.unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].user.username, "alice");
    // `_` is a literal, not a wildcard.
    let found = auth.list_users(&root, "a_", 50, 0).await.unwrap();
    assert_eq!(
        found
            .iter()
            .map(|u| u.user.username.as_str())
            .collect::<Vec<_>>(),
        ["a_b"]
    );
    let page = auth.list_users(&root, "", 2, 1).await.unwrap();
    assert_eq!(
        page.iter()
            .map(|u| u.user.username.as_str())
            .collect::<Vec<_>>(),
        ["bob", "alice"]
    );
    assert_eq!(
        kind(auth.list_users(&root, "", 0, 0).await),
        ErrorKind::Invalid
    );
    assert_eq!(
        kind(auth.list_users(&root, "", 201, 0).await),
        ErrorKind::Invalid
    );
}

async fn profile_updates_are_validated(t: TestCore) {
    let bob = t.user("bob").await;
    let auth = t.core.auth();
    let bad = auth
        .update_profile(
            &bob,
            ProfileUpdate {
                email: Some("nope".into()),
                ..Default::default()
            },
        )
        .await;
    assert_eq!(kind(bad), ErrorKind::Invalid);
    let me = auth
        .update_profile(
            &bob,
            ProfileUpdate {
                first_name: Some("  Bob ".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(me.user.first_name, "Bob");
    assert_eq!(me.user.email, "bob@example.com");
    assert_eq!(auth.me(&bob).await.unwrap(), me);
}

async fn external_identities_are_provisioned_once(t: TestCore) {
    let identity = chatcore::ExternalIdentity {
        username: "carol".into(),
        email: "carol@corp.example".into(),
        ..Default::default()
    };
    let first = t.core.auth().provision(identity.clone()).await.unwrap();
    let second = t.core.auth().provision(identity).await.unwrap();
    assert_eq!(first.id(), second.id());
    assert!(!first.is_admin());
    assert_eq!(t.raw.count("users").await, 1);
    // A provisioned account has no usable password.
    let login = t
        .core
        .auth()
        .login("carol", "", &ClientInfo::default())
        .await;
    assert_eq!(kind(login), ErrorKind::InvalidCredentials);
}

async fn basic_credentials_authenticate_like_login(t: TestCore) {
    let bob = t.user("bob").await;
    let authenticator = t.core.services().authenticator;
    let good = Credential::Basic {
        username: "BOB".into(),
        password: PASSWORD.into(),
    };
    let actor = authenticator
        .authenticate(&good, &ClientInfo::default())
        .await
        .unwrap();
    assert_eq!(actor.id(), bob.id());
    assert_eq!(actor.csrf_token(), None);
    let bad = Credential::Basic {
        username: "bob".into(),
        password: "wrong wrong wrong".into(),
    };
    assert_eq!(
        kind(
            authenticator
                .authenticate(&bad, &ClientInfo::default())
                .await
        ),
        ErrorKind::InvalidCredentials
    );
}
