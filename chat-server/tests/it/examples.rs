//! The examples' reusable pieces against the real server, through `chat-sdk`: the
//! company-directory authenticator that `examples/custom_auth.rs` serves with, and the ping
//! bot that `examples/sdk_bot.rs` runs. Both come from the `examples` library, so these
//! tests check the code the example binaries run, not a copy.

use crate::helpers::*;
use ::examples::custom_auth::{CompanyDirectory, DirectoryAuthenticator, EMPLOYEES, IssuedKey};
use ::examples::sdk_bot::{BotConfig, Credentials, PingBot};
use chat_sdk::model::{ChatId, Message, NewChat, PageRequest, Registration};
use chat_sdk::{Client, UserQuery};
use chat_server::Settings;
use chatcore::Config;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

// ----- custom_auth: the company directory ---------------------------------------------

/// A server as `custom_auth` assembles it: registration closed and the directory
/// authenticator plugged into the services. Returns it with the keys the directory issued.
async fn directory_app() -> (TestApp, Vec<IssuedKey>) {
    let (directory, keys) = CompanyDirectory::issue_keys(EMPLOYEES);
    let config = Config {
        registration_open: false,
        ..Config::for_tests()
    };
    let app = spawn_app_customized(Backend::Sqlite, config, Settings::default(), |services| {
        services.authenticator = Arc::new(DirectoryAuthenticator::new(directory, services));
    })
    .await
    .expect("SQLite is always available");
    (app, keys)
}

/// An SDK client that sends the directory key issued to `username`.
fn with_key(app: &TestApp, keys: &[IssuedKey], username: &str) -> Client {
    let issued = keys
        .iter()
        .find(|k| k.employee.username == username)
        .unwrap_or_else(|| panic!("the directory issued no key to {username}"));
    app.sdk()
        .with_token(&issued.key)
        .expect("a directory key is a valid header")
}

#[tokio::test]
async fn a_directory_key_provisions_an_ordinary_account_on_the_first_request() {
    let (app, keys) = directory_app().await;
    let alice = with_key(&app, &keys, "alice.martin");
    let me = alice.me().await.unwrap();
    assert_eq!(me.user.username, "alice.martin");
    assert_eq!(
        (me.user.first_name.as_str(), me.user.last_name.as_str()),
        ("Alice", "Martin")
    );
    assert_eq!(me.user.email, "alice.martin@example.com");
    assert!(!me.is_superuser, "the directory cannot mint an admin");
    assert_eq!(alice.me().await.unwrap().user.id, me.user.id, "found again");
    assert!(alice.chats().await.unwrap().is_empty());
}

#[tokio::test]
async fn a_leavers_key_an_unissued_key_basic_and_self_registration_are_refused() {
    let (app, keys) = directory_app().await;
    let dave = with_key(&app, &keys, "dave.oldfield");
    assert_eq!(dave.me().await.unwrap_err().status(), Some(401));
    let stranger = app.sdk().with_token(&"a".repeat(40)).unwrap();
    assert_eq!(stranger.me().await.unwrap_err().status(), Some(401));
    // A directory account has no usable password.
    with_key(&app, &keys, "alice.martin").me().await.unwrap();
    let basic = app
        .sdk()
        .with_basic_auth("alice.martin", "any password at all");
    assert_eq!(basic.me().await.unwrap_err().status(), Some(401));
    let squatter = Registration {
        username: "bob.nguyen".into(),
        password: PASSWORD.into(),
        ..Registration::default()
    };
    let registered = app.sdk().register(&squatter).await;
    assert_eq!(registered.unwrap_err().status(), Some(403));
}

/// The directory has an employee whose login name is the local admin's: their key must
/// not open the admin's account, nor make or change any account.
#[tokio::test]
async fn a_directory_entry_named_like_the_local_admin_gets_nothing() {
    let (app, keys) = directory_app().await;
    let admin = app.sdk_as(&app.create_admin("admin").await);
    let namesake = with_key(&app, &keys, "admin");
    let refused = namesake.me().await.unwrap_err();
    assert_eq!(refused.status(), Some(403), "{refused}");
    assert!(
        refused.to_string().contains("belongs to another account"),
        "{refused}"
    );
    let refused = namesake.users(&UserQuery::all()).await.unwrap_err();
    assert_eq!(refused.status(), Some(403));
    let me = admin.me().await.unwrap();
    assert!(me.is_superuser, "the local admin is still the admin");
    let users = admin.users(&UserQuery::all()).await.unwrap();
    let names: Vec<&str> = users.iter().map(|u| u.user.username.as_str()).collect();
    assert_eq!(names, ["admin"], "no account was made");
}

#[tokio::test]
async fn the_local_admin_signs_in_with_a_password_and_sees_the_employees_who_called() {
    let (app, keys) = directory_app().await;
    app.create_admin("admin").await;
    for username in ["alice.martin", "bob.nguyen"] {
        with_key(&app, &keys, username).me().await.unwrap();
    }
    let admin = app.sdk().login("admin", PASSWORD).await.unwrap();
    let users = admin.users(&UserQuery::all()).await.unwrap();
    let names: Vec<&str> = users.iter().map(|u| u.user.username.as_str()).collect();
    assert_eq!(names, ["admin", "alice.martin", "bob.nguyen"]);
}

#[tokio::test]
async fn directory_accounts_talk_in_an_admins_chat_under_the_cores_rules() {
    let (app, keys) = directory_app().await;
    let admin = app.sdk_as(&app.create_admin("admin").await);
    let alice = with_key(&app, &keys, "alice.martin");
    let bob = with_key(&app, &keys, "bob.nguyen");
    let alice_user = alice.me().await.unwrap().user;
    let bob_user = bob.me().await.unwrap().user;
    let chat = admin
        .create_chat(&NewChat {
            name: "launch-plan".into(),
            participants: vec![alice_user.id, bob_user.id],
        })
        .await
        .unwrap();
    alice
        .post(chat.id, "The checklist is in the wiki.")
        .await
        .unwrap();
    bob.post(chat.id, "Support is briefed.").await.unwrap();
    let history = bob.messages(chat.id, PageRequest::default()).await.unwrap();
    let lines: Vec<(i64, &str)> = history
        .iter()
        .map(|m| (m.seq, m.user.username.as_str()))
        .collect();
    assert_eq!(lines, [(1, "alice.martin"), (2, "bob.nguyen")]);

    let side_project = NewChat {
        name: "side-project".into(),
        participants: vec![],
    };
    let refused = alice.create_chat(&side_project).await.unwrap_err();
    assert_eq!(refused.status(), Some(403), "admins only");
    sdk_set_active(&admin, bob_user.id, false).await;
    let locked_out = bob.me().await.unwrap_err();
    assert_eq!(
        locked_out.status(),
        Some(401),
        "a deactivated account, valid key"
    );
}

// ----- sdk_bot: the ping bot ---------------------------------------------------------------

/// A running bot: the number of pings it answered, or the error that stopped it.
type BotTask = tokio::task::JoinHandle<chat_sdk::Result<u64>>;

/// A server with an admin, the bot's account, alice, and a chat "ops" of the bot and alice.
struct BotWorld {
    app: TestApp,
    admin: TestUser,
    bot: TestUser,
    alice: Client,
    alice_user: TestUser,
    ops: ChatId,
}

impl BotWorld {
    async fn new() -> Self {
        let app = spawn_app().await;
        let admin = app.create_admin("admin").await;
        let bot = app.create_user("pingbot").await;
        let alice_user = app.create_user("alice").await;
        let ops = app
            .create_chat(&admin, "ops", &[&bot, &alice_user])
            .await
            .id;
        Self {
            alice: app.sdk_as(&alice_user),
            admin,
            app,
            bot,
            alice_user,
            ops,
        }
    }

    /// Starts the bot signed in with `credentials`, reading the chat list every 50 ms: the
    /// token that stops it and its task (the number of pings answered, or the error that
    /// stopped it).
    async fn start_bot(&self, credentials: Credentials) -> (CancellationToken, BotTask) {
        self.start_bot_looking_every(credentials, Duration::from_millis(50))
            .await
    }

    /// [`BotWorld::start_bot`], reading the chat list every `poll_interval`.
    async fn start_bot_looking_every(
        &self,
        credentials: Credentials,
        poll_interval: Duration,
    ) -> (CancellationToken, BotTask) {
        let config = BotConfig {
            base_url: self.app.base_url.clone(),
            credentials,
            poll_interval,
        };
        let bot = PingBot::start(&config).await.expect("the bot signs in");
        let stop = CancellationToken::new();
        (stop.clone(), tokio::spawn(bot.run(stop)))
    }

    /// The bot's password login.
    fn password(&self) -> Credentials {
        Credentials::Password {
            username: self.bot.username().to_owned(),
            password: self.bot.password.clone(),
        }
    }

    /// The first message by the bot after `after_seq` in `chat`, read as alice, waiting up
    /// to `patience`.
    async fn reply_after(
        &self,
        chat: ChatId,
        after_seq: i64,
        patience: Duration,
    ) -> Option<Message> {
        let deadline = Instant::now() + patience;
        loop {
            let messages = self.alice.messages_since(chat, after_seq).await.unwrap();
            let reply = messages.into_iter().find(|m| m.user.id == self.bot.id());
            if reply.is_some() || Instant::now() >= deadline {
                return reply;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

#[tokio::test]
async fn the_bot_answers_a_ping_once_and_leaves_pings_from_before_it_started_alone() {
    let world = BotWorld::new().await;
    // Before the bot starts: never answered.
    world.alice.post(world.ops, "!ping").await.unwrap();
    let (stop, bot) = world.start_bot(world.password()).await;
    world
        .alice
        .post(world.ops, "morning, everyone")
        .await
        .unwrap();
    let ping = world.alice.post(world.ops, "!PING anyone?").await.unwrap();
    let pong = world
        .reply_after(world.ops, ping.seq, Duration::from_secs(10))
        .await
        .expect("a pong within 10 s");
    assert_eq!(pong.content, "pong @alice");
    assert_eq!(
        pong.client_id,
        Some(format!("pong-{}-{}", world.ops, ping.seq))
    );
    // A few more rounds: still exactly one reply, and none to the ping before the start.
    tokio::time::sleep(Duration::from_millis(200)).await;
    stop.cancel();
    assert_eq!(bot.await.unwrap().unwrap(), 1, "pings answered");
    let from_bot: Vec<i64> = world
        .alice
        .messages_since(world.ops, 0)
        .await
        .unwrap()
        .into_iter()
        .filter(|m| m.user.id == world.bot.id())
        .map(|m| m.seq)
        .collect();
    assert_eq!(from_bot, [pong.seq]);
}

/// The chat list is read once an hour here, so a pong can only come from the chat's live
/// stream; a removal ends that stream and the bot stops answering there.
#[tokio::test]
async fn the_bot_answers_from_the_live_stream_and_stops_where_it_was_removed() {
    let world = BotWorld::new().await;
    let (stop, bot) = world
        .start_bot_looking_every(world.password(), Duration::from_secs(3600))
        .await;
    let ping = world.alice.post(world.ops, "!ping").await.unwrap();
    let pong = world
        .reply_after(world.ops, ping.seq, Duration::from_secs(5))
        .await
        .expect("a pong within 5 s, without polling");
    assert_eq!(pong.content, "pong @alice");

    let admin = world.app.sdk_as(&world.admin);
    admin
        .remove_member(world.ops, world.bot.id())
        .await
        .unwrap();
    let unanswered = world
        .alice
        .post(world.ops, "!ping still there?")
        .await
        .unwrap();
    assert_eq!(
        world
            .reply_after(world.ops, unanswered.seq, Duration::from_millis(500))
            .await,
        None,
        "no longer a member"
    );
    stop.cancel();
    assert_eq!(bot.await.unwrap().unwrap(), 1, "pings answered");
}

#[tokio::test]
async fn the_bot_notices_a_chat_made_while_it_runs() {
    let world = BotWorld::new().await;
    let (stop, _bot) = world.start_bot(world.password()).await;
    let incidents = world
        .app
        .create_chat(&world.admin, "incidents", &[&world.bot, &world.alice_user])
        .await
        .id;
    // A ping in the moment before the bot's next round goes unanswered (it reads a new chat
    // from its end), so alice pings again after a short wait, as a person would.
    let deadline = Instant::now() + Duration::from_secs(10);
    let pong = loop {
        let ping = world
            .alice
            .post(incidents, "!ping are you here too?")
            .await
            .unwrap();
        if let Some(pong) = world
            .reply_after(incidents, ping.seq, Duration::from_millis(300))
            .await
        {
            break pong;
        }
        assert!(
            Instant::now() < deadline,
            "no pong in the new chat within 10 s"
        );
    };
    assert_eq!(pong.content, "pong @alice");
    stop.cancel();
}

#[tokio::test]
async fn the_bot_stops_when_its_account_is_deactivated() {
    let world = BotWorld::new().await;
    let (stop, bot) = world
        .start_bot(Credentials::Token(world.bot.token.clone()))
        .await;
    sdk_set_active(&world.app.sdk_as(&world.admin), world.bot.id(), false).await;
    let ended = tokio::time::timeout(Duration::from_secs(10), bot).await;
    stop.cancel();
    let error = ended
        .expect("the bot stops within 10 s")
        .expect("the bot task does not panic")
        .expect_err("the bot stops with an error");
    assert!(error.is_unauthenticated(), "{error:?}");
}
