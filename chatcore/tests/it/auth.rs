//! Accounts, passwords, tokens and sessions.

use crate::fixture::{PASSWORD, TestCore, contract_tests, kind};
use chatcore::auth::sha256_hex;
use chatcore::model::{ProfileUpdate, Registration, UserFlagsUpdate};
use chatcore::service::CoreAuth;
use chatcore::validate::MAX_USERNAME_CHARS;
use chatcore::{AuthService, ClientInfo, Config, Credential, ErrorKind, LoginRateLimit};
use std::sync::Arc;
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
    names_no_account_can_have_count_against_the_ip_only_and_the_limiter_stays_small,
    concurrent_wrong_logins_get_no_more_guesses_than_the_budget with Config {
        login_rate_limit: LoginRateLimit { max_failures: 3, window: Duration::from_secs(60) },
        ..Config::for_tests()
    },
    only_admins_list_and_search_users,
    profile_updates_are_validated,
    a_login_racing_a_password_change_never_keeps_a_valid_token,
    a_session_opened_during_a_deactivation_never_works_again,
    external_identities_are_provisioned_once,
    an_external_identity_never_takes_an_existing_account,
    an_external_identity_needs_an_issuer_and_a_subject,
    racing_first_requests_of_one_identity_make_one_account,
    basic_credentials_authenticate_like_login,
    a_deactivated_users_held_actor_cannot_read_or_change_the_account,
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

/// U+FDFA is one character that NFKC turns into 18: nine of them (162) are longer than any
/// username can be, so each such attempt must stay out of the store and the limiter's
/// username keys, and count against the client's address only.
async fn names_no_account_can_have_count_against_the_ip_only_and_the_limiter_stays_small(
    t: TestCore,
) {
    const ATTEMPTS: usize = 3000;
    let long = "\u{FDFA}".repeat(9);
    assert!(chatcore::validate::username_key(&long).chars().count() > MAX_USERNAME_CHARS);
    let budget = LoginRateLimit {
        max_failures: 100_000,
        window: Duration::from_secs(60),
    };
    let config = Config {
        login_rate_limit: budget,
        ..Config::for_tests()
    };
    let auth = CoreAuth::new(t.store.clone(), t.broker.clone(), Arc::new(config)).unwrap();
    let client = ClientInfo {
        ip: Some("192.0.2.9".parse().unwrap()),
    };
    for i in 0..ATTEMPTS {
        let name = format!("{long}{i}");
        assert_eq!(
            kind(auth.login(&name, "wrong password!!", &client).await),
            ErrorKind::InvalidCredentials
        );
    }
    let basic = Credential::Basic {
        username: format!("{long}basic"),
        password: "wrong password!!".into(),
    };
    assert_eq!(
        kind(chatcore::Authenticator::authenticate(&auth, &basic, &client).await),
        ErrorKind::InvalidCredentials
    );
    let held = auth.login_limiter().len();
    eprintln!(
        "limiter entries after {} over-long attempts: {held}",
        ATTEMPTS + 1
    );
    assert_eq!(held, 1, "only the client's address is counted");

    // They do count against the address: with a budget of 3, the fourth attempt from it is
    // refused, whatever the name; another address is untouched.
    let strict = CoreAuth::new(
        t.store.clone(),
        t.broker.clone(),
        Arc::new(Config {
            login_rate_limit: LoginRateLimit {
                max_failures: 3,
                ..budget
            },
            ..Config::for_tests()
        }),
    )
    .unwrap();
    t.user("bob").await;
    for i in 0..3 {
        assert_eq!(
            kind(strict.login(&format!("{long}{i}"), PASSWORD, &client).await),
            ErrorKind::InvalidCredentials
        );
    }
    assert_eq!(
        kind(strict.login("bob", PASSWORD, &client).await),
        ErrorKind::RateLimited
    );
    let other = ClientInfo {
        ip: Some("192.0.2.10".parse().unwrap()),
    };
    assert!(strict.login("bob", PASSWORD, &other).await.is_ok());
}

/// The budget is spent before the slow verification: of 40 simultaneous wrong guesses with a
/// budget of 3, exactly 3 are checked and the rest refused.
async fn concurrent_wrong_logins_get_no_more_guesses_than_the_budget(t: TestCore) {
    t.user("bob").await;
    let auth = t.core.auth().clone();
    let client = ClientInfo {
        ip: Some("192.0.2.11".parse().unwrap()),
    };
    let attempts: Vec<_> = (0..40)
        .map(|i| {
            let auth = auth.clone();
            tokio::spawn(async move {
                auth.login("bob", &format!("wrong password {i}"), &client)
                    .await
            })
        })
        .collect();
    let (mut invalid, mut limited) = (0, 0);
    for attempt in attempts {
        match kind(attempt.await.unwrap()) {
            ErrorKind::InvalidCredentials => invalid += 1,
            ErrorKind::RateLimited => limited += 1,
            other => panic!("unexpected {other:?}"),
        }
    }
    eprintln!("40 concurrent wrong logins: {invalid} invalid credentials, {limited} rate limited");
    assert_eq!((invalid, limited), (3, 37));

    // A success gives its attempt back: two misses, a hit, then a third miss is still
    // checked from this address, and only then is the address out of budget.
    t.user("ann").await;
    let other = ClientInfo {
        ip: Some("192.0.2.12".parse().unwrap()),
    };
    for _ in 0..2 {
        assert_eq!(
            kind(auth.login("ann", "wrong password!!", &other).await),
            ErrorKind::InvalidCredentials
        );
    }
    assert!(auth.login("ann", PASSWORD, &other).await.is_ok());
    assert_eq!(
        kind(auth.login("ann", "wrong password!!", &other).await),
        ErrorKind::InvalidCredentials
    );
    assert_eq!(
        kind(auth.login("ann", PASSWORD, &other).await),
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

/// The identity `subject` of the directory `issuer`, who would like the username `username`.
fn external(issuer: &str, subject: &str, username: &str) -> chatcore::ExternalIdentity {
    chatcore::ExternalIdentity {
        issuer: issuer.into(),
        subject: subject.into(),
        username: username.into(),
        email: format!("{username}@corp.example"),
        ..Default::default()
    }
}

async fn external_identities_are_provisioned_once(t: TestCore) {
    let identity = external("https://sso.corp.example", "E1001", "carol");
    let first = t.core.auth().provision(identity.clone()).await.unwrap();
    let second = t.core.auth().provision(identity.clone()).await.unwrap();
    assert_eq!(first.id(), second.id());
    assert!(!first.is_admin());
    assert_eq!(t.raw.count("users").await, 1);
    assert_eq!(t.raw.count("external_identities").await, 1);
    // The link is the (issuer, subject) pair: the directory may change the name it sends.
    let renamed = chatcore::ExternalIdentity {
        username: "carol.jones".into(),
        ..identity
    };
    let third = t.core.auth().provision(renamed).await.unwrap();
    assert_eq!(third.id(), first.id());
    // A provisioned account has no usable password.
    let login = t
        .core
        .auth()
        .login("carol", "", &ClientInfo::default())
        .await;
    assert_eq!(kind(login), ErrorKind::InvalidCredentials);
}

/// An identity is linked to the account it made, never to one that was there: not a local
/// password account (an admin least of all), not another directory's or subject's account.
async fn an_external_identity_never_takes_an_existing_account(t: TestCore) {
    let auth = t.core.auth();
    let root = t.admin("root").await;
    let bob = t.user("bob").await;
    let sso = "https://sso.corp.example";
    let carol = auth.provision(external(sso, "E1", "carol")).await.unwrap();
    let cases = [
        (external(sso, "E2", "root"), "the local admin's name"),
        (
            external(sso, "E3", "ROOT"),
            "the local admin's name in capitals",
        ),
        (
            external(sso, "E4", "bob"),
            "a local password account's name",
        ),
        (external(sso, "E5", "carol"), "another subject's account"),
        (
            external("https://other.example", "E1", "carol"),
            "another issuer's account",
        ),
    ];
    for (identity, case) in cases {
        let taken = auth.provision(identity).await;
        assert_eq!(kind(taken), ErrorKind::Forbidden, "{case}");
    }
    assert_eq!(
        t.raw.count("users").await,
        3,
        "no account was made or changed"
    );
    assert_eq!(t.raw.count("external_identities").await, 1);
    let root_now = auth.actor_for(root.id()).await.unwrap();
    assert!(root_now.is_admin());
    assert_eq!(auth.actor_for(bob.id()).await.unwrap().id(), bob.id());
    let again = auth.provision(external(sso, "E1", "carol")).await.unwrap();
    assert_eq!(again.id(), carol.id());
}

async fn an_external_identity_needs_an_issuer_and_a_subject(t: TestCore) {
    let auth = t.core.auth();
    let long = "x".repeat(256);
    for identity in [
        external("", "E1", "carol"),
        external("https://sso.corp.example", "", "carol"),
        external(&long, "E1", "carol"),
        external("https://sso.corp.example", &long, "carol"),
        external("https://sso.corp.example", "E1", "bad name!"),
    ] {
        assert_eq!(kind(auth.provision(identity).await), ErrorKind::Invalid);
    }
    assert_eq!(t.raw.count("users").await, 0);
}

async fn racing_first_requests_of_one_identity_make_one_account(t: TestCore) {
    let identity = external("https://sso.corp.example", "E7", "dora");
    let attempts = (0..8).map(|_| t.core.auth().provision(identity.clone()));
    let actors = futures_util::future::join_all(attempts).await;
    let ids: std::collections::BTreeSet<_> = actors.into_iter().map(|a| a.unwrap().id()).collect();
    assert_eq!(ids.len(), 1, "one account: {ids:?}");
    assert_eq!(t.raw.count("users").await, 1);
    assert_eq!(t.raw.count("external_identities").await, 1);
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

/// A login with the old password runs alongside a password change, many times over. The
/// change revokes every credential that exists when it commits, so the login either fails
/// or its token was revoked: never a token minted from a password that no longer holds.
async fn a_login_racing_a_password_change_never_keeps_a_valid_token(t: TestCore) {
    let auth = t.core.auth();
    let mut passwords = vec![PASSWORD.to_owned()];
    let user = t.user("racer").await;
    for round in 0..30 {
        let old = passwords.last().unwrap().clone();
        let new = format!("{old}-{round}");
        let client = ClientInfo::default();
        let login = auth.login("racer", &old, &client);
        let change = auth.change_password(&user, &old, &new);
        let (logged_in, changed) = tokio::join!(login, change);
        changed.expect("the change succeeds");
        passwords.push(new);
        if let Ok(token) = logged_in {
            assert!(
                t.by_token(&token).await.is_err(),
                "round {round}: a token minted with the old password still works"
            );
        }
    }
}

/// A session opened while an admin deactivates the user must not come back to life when the
/// user is reactivated.
async fn a_session_opened_during_a_deactivation_never_works_again(t: TestCore) {
    let admin = t.admin("root").await;
    let auth = t.core.auth();
    let user = t.user("racer").await;
    let flags = |active| UserFlagsUpdate {
        is_active: Some(active),
        is_superuser: None,
    };
    for round in 0..30 {
        let client = ClientInfo::default();
        let open = auth.create_session("racer", PASSWORD, &client);
        let off = auth.update_user(&admin, user.id(), flags(false));
        let (opened, deactivated) = tokio::join!(open, off);
        deactivated.expect("the deactivation succeeds");
        auth.update_user(&admin, user.id(), flags(true))
            .await
            .expect("the reactivation succeeds");
        if let Ok(session) = opened {
            let credential = Credential::Session(session.id);
            let again = t
                .core
                .services()
                .authenticator
                .authenticate(&credential, &ClientInfo::default())
                .await;
            assert!(again.is_err(), "round {round}: the session works again");
        }
    }
}

/// An `Actor` held from before a deactivation (an open socket's, an embedder's) no longer
/// reads or changes the account: `Unauthenticated`, as its revoked credentials answer.
async fn a_deactivated_users_held_actor_cannot_read_or_change_the_account(t: TestCore) {
    let root = t.admin("root").await;
    let bob = t.user("bob").await;
    let auth = t.core.auth();
    let before = auth.me(&bob).await.unwrap();
    t.set_active(&root, bob.id(), false).await;
    assert_eq!(kind(auth.me(&bob).await), ErrorKind::Unauthenticated);
    let update = ProfileUpdate {
        first_name: Some("Robert".into()),
        ..Default::default()
    };
    assert_eq!(
        kind(auth.update_profile(&bob, update).await),
        ErrorKind::Unauthenticated
    );
    let changed = auth
        .change_password(&bob, PASSWORD, "another correct horse battery")
        .await;
    assert_eq!(kind(changed), ErrorKind::Unauthenticated);
    t.set_active(&root, bob.id(), true).await;
    let me = auth.me(&bob).await.unwrap();
    assert_eq!(
        me.user.first_name, before.user.first_name,
        "nothing changed while inactive"
    );
    let login = auth.login("bob", PASSWORD, &ClientInfo::default()).await;
    assert!(login.is_ok(), "the password did not change");
}
