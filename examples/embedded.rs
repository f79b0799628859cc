//! Embedding `chatcore` in another Rust program, with no server at all.
//!
//! The whole messenger runs in this process on a SQLite file in a temporary directory: an
//! admin creates a chat for two users, they talk, one of them follows the chat live while
//! the other posts, and an outsider is turned away. Every call is a real service call; the
//! rules (who may read, post, manage members) are the core's, not this program's.
//!
//! Run it with `cargo run -p examples --example embedded`.

use chatcore::model::{Event, NewChat, NewMessage, PageRequest, Registration};
use chatcore::{Actor, ChatCore, ClientInfo, Config, Credential, Error, Services, Subscription};
use std::time::Duration;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    // 1. Open the core: the SQLite file is created and migrated, the group-commit writer
    //    and the in-process broker start. `Config::default()` keeps production settings
    //    (argon2id at OWASP cost); `Config::for_tests()` would make hashing cheap.
    let dir = tempfile::tempdir()?;
    let url = format!("sqlite://{}", dir.path().join("chat.db").display());
    let core = ChatCore::open(&url, Config::default()).await?;
    let services = core.services();
    println!("== chatcore embedded, database {url}\n");

    // 2. People. The admin is created by trusted code (what the CLI's `createsuperuser`
    //    does) and then logs in like anyone else; alice and bob register themselves; carol
    //    registers too but will not be in the chat.
    services
        .auth
        .create_superuser(registration("admin", "Ada", "Admin"))
        .await?;
    let admin_token = services
        .auth
        .login("admin", PASSWORD, &ClientInfo::default())
        .await?;
    let admin = actor_from_token(&services, admin_token).await?;
    let alice = register(&services, registration("alice", "Alice", "Liddell")).await?;
    let bob = register(&services, registration("bob", "Bob", "Builder")).await?;
    // Trusted embedding code may also turn a known user id into an actor directly.
    let (carol_user, _token) = services
        .auth
        .register(registration("carol", "Carol", "Outsider"))
        .await?;
    let carol = services.auth.actor_for(carol_user.id).await?;
    for actor in [&admin, &alice, &bob, &carol] {
        let user = actor.user();
        let role = if actor.is_admin() { "admin" } else { "user" };
        println!("user #{} {:<6} ({role})", user.id, user.username);
    }

    // 3. Only an admin creates chats and chooses the members.
    let chat = services
        .membership
        .create_chat(
            &admin,
            NewChat {
                name: "general".into(),
                participants: vec![alice.id(), bob.id()],
            },
        )
        .await?;
    let names: Vec<_> = chat
        .participants
        .iter()
        .map(|u| u.username.as_str())
        .collect();
    println!(
        "\nadmin created chat #{} {:?} with {}",
        chat.id,
        chat.name,
        names.join(", ")
    );

    // 4. Alice and bob exchange messages. Each post returns once the message is committed.
    println!("\n-- posting");
    for (who, text) in [
        (&alice, "Hi Bob, is the build green?"),
        (&bob, "Green since this morning."),
        (&alice, "  Great, shipping it.  "),
    ] {
        let posted = services.messaging.post(who, chat.id, message(text)).await?;
        let m = &posted.message;
        println!(
            "posted  seq {} by {}: {:?}",
            m.seq, m.user.username, m.content
        );
    }
    // A retry carrying the same client_id (say, after a dropped connection) is not stored
    // twice: the second call answers with the stored message.
    let first = services
        .messaging
        .post(&bob, chat.id, message_with_id("On my way.", "bob-42"))
        .await?;
    let retry = services
        .messaging
        .post(&bob, chat.id, message_with_id("On my way.", "bob-42"))
        .await?;
    println!(
        "retried client_id \"bob-42\": first call stored seq {} (created: {}), retry got seq {} (created: {})",
        first.message.seq, first.created, retry.message.seq, retry.created
    );

    // 5. History, oldest first, as bob reads it.
    println!("\n-- history of #{} as bob sees it", chat.id);
    let history = services
        .messaging
        .history(&bob, chat.id, PageRequest::default())
        .await?;
    for m in &history {
        println!(
            "  {:>3}  {}  {:<6} {}",
            m.seq,
            m.timestamp.time(),
            m.user.username,
            m.content
        );
    }

    // 6. Live: alice subscribes; bob posts and the admin renames the chat meanwhile.
    println!("\n-- alice follows the chat live while bob posts");
    let mut live = services.messaging.subscribe(&alice, chat.id, None).await?;
    let poster = {
        let (services, admin, bob, chat) = (services.clone(), admin.clone(), bob.clone(), chat.id);
        tokio::spawn(async move {
            for text in ["Deploy started.", "Deploy finished.", "All checks pass."] {
                services.messaging.post(&bob, chat, message(text)).await?;
            }
            services
                .membership
                .rename_chat(&admin, chat, "releases")
                .await?;
            Ok::<_, Error>(())
        })
    };
    let mut raw_shown = false;
    for _ in 0..4 {
        let event = next_event(&mut live).await?;
        if !raw_shown {
            // Each event is serialized once and these bytes are shared by every subscriber
            // (a WebSocket front end sends them as they are).
            println!(
                "  raw JSON of the first event: {}",
                String::from_utf8_lossy(event.json())
            );
            raw_shown = true;
        }
        println!("  live  {}", describe(event.event()));
    }
    poster.await??;
    let resume_from = live.last_seq();
    drop(live);

    // 7. Reconnecting: a subscriber that knows the last seq it saw misses nothing.
    services
        .messaging
        .post(&bob, chat.id, message("Anyone still here?"))
        .await?;
    println!("\n-- alice reconnects with after_seq = {resume_from}");
    let mut resumed = services
        .messaging
        .subscribe(&alice, chat.id, Some(resume_from))
        .await?;
    println!(
        "  replay {}",
        describe(next_event(&mut resumed).await?.event())
    );

    // 8. The core enforces the rules for every caller: carol is not a member, and only an
    //    admin creates chats.
    println!("\n-- refused by the core");
    expect_forbidden(
        "carol (not a member) reads the history",
        services
            .messaging
            .history(&carol, chat.id, PageRequest::default())
            .await,
    )?;
    expect_forbidden(
        "carol (not a member) posts",
        services
            .messaging
            .post(&carol, chat.id, message("hello?"))
            .await,
    )?;
    expect_forbidden(
        "alice (not an admin) creates a chat",
        services
            .membership
            .create_chat(
                &alice,
                NewChat {
                    name: "secret".into(),
                    participants: vec![],
                },
            )
            .await,
    )?;

    // 9. Stop the writer after everything queued is stored.
    drop(services);
    core.shutdown().await;
    println!("\ndone.");
    Ok(())
}

/// Every account in this example uses one password that passes the core's rules.
const PASSWORD: &str = "lantern-orbit-7";

fn registration(username: &str, first_name: &str, last_name: &str) -> Registration {
    Registration {
        username: username.into(),
        password: PASSWORD.into(),
        email: format!("{username}@example.com"),
        first_name: first_name.into(),
        last_name: last_name.into(),
    }
}

/// Registers an account and authenticates with the API token registration returns.
async fn register(services: &Services, registration: Registration) -> Result<Actor, Error> {
    let (_user, token) = services.auth.register(registration).await?;
    actor_from_token(services, token).await
}

async fn actor_from_token(services: &Services, token: String) -> Result<Actor, Error> {
    services
        .authenticator
        .authenticate(&Credential::Token(token), &ClientInfo::default())
        .await
}

fn message(content: &str) -> NewMessage {
    NewMessage {
        content: content.into(),
        client_id: None,
    }
}

fn message_with_id(content: &str, client_id: &str) -> NewMessage {
    NewMessage {
        content: content.into(),
        client_id: Some(client_id.into()),
    }
}

/// The next event of a subscription, or an error if none comes within five seconds.
async fn next_event(subscription: &mut Subscription) -> Result<chatcore::SharedEvent, BoxError> {
    let chat = subscription.chat();
    match tokio::time::timeout(Duration::from_secs(5), subscription.next()).await {
        Ok(Some(event)) => Ok(event),
        Ok(None) => Err(format!("the subscription to chat {chat} ended early").into()),
        Err(_) => Err(format!("no event on chat {chat} within 5 s").into()),
    }
}

fn describe(event: &Event) -> String {
    match event {
        Event::Message(m) => format!(
            "message     seq {} by {}: {}",
            m.message.seq, m.message.user.username, m.message.content
        ),
        Event::MemberAdded { user, at_seq, .. } => {
            format!("member_added {} (at seq {at_seq})", user.username)
        }
        Event::MemberRemoved {
            user,
            reason,
            at_seq,
            ..
        } => format!(
            "member_removed {} ({reason:?}, at seq {at_seq})",
            user.username
        ),
        Event::ChatRenamed { name, at_seq, .. } => {
            format!("chat_renamed to {name:?} (at seq {at_seq})")
        }
        Event::ChatDeleted { at_seq, .. } => format!("chat_deleted (at seq {at_seq})"),
        Event::Lagged { last_seq, .. } => format!("lagged (resume after seq {last_seq})"),
        Event::Read { seq, unread, .. } => format!("read        up to seq {seq} ({unread} unread)"),
    }
}

/// Prints a refusal; anything but `Forbidden` means the core broke its own rules.
fn expect_forbidden<T>(what: &str, result: Result<T, Error>) -> Result<(), BoxError> {
    match result {
        Err(e @ Error::Forbidden(_)) => {
            println!("  {what:<38} -> {}: {e}", e.kind().as_str());
            Ok(())
        }
        Err(other) => Err(format!("{what}: expected Forbidden, got {other:?}").into()),
        Ok(_) => Err(format!("{what}: expected Forbidden, but it was allowed").into()),
    }
}
