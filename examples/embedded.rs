//! Embedding `chatcore` in another Rust program, with no server at all.
//!
//! The whole messenger runs in this process on a SQLite file in a temporary directory: an
//! admin creates a chat for two users, they talk, one of them follows the chat live while
//! the other posts, and an outsider is turned away. Every call is a real service call; the
//! rules (who may read, post, manage members) are the core's, not this program's.
//!
//! Run it with `cargo run -p examples --example embedded`.

use chatcore::model::{Event, NewChat, NewMessage, PageRequest, Registration, UserId};
use chatcore::{Actor, ChatCore, ClientInfo, Config, Credential, Error, Services};
use std::time::Duration;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Every account in this example uses one password that passes the core's rules.
const PASSWORD: &str = "lantern-orbit-7";

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    // 1. Open the core: the SQLite file is created and migrated, the group-commit writer
    //    and the in-process broker start. `Config::default()` keeps production settings
    //    (argon2id at OWASP cost). The services are cheap-clone trait objects.
    let dir = tempfile::tempdir()?;
    let url = format!("sqlite://{}", dir.path().join("chat.db").display());
    let core = ChatCore::open(&url, Config::default()).await?;
    let Services {
        auth,
        authenticator,
        membership,
        messaging,
        ..
    } = core.services();
    println!("== chatcore embedded, database {url}\n");

    // 2. People. The admin is made by trusted code (what the CLI's `createsuperuser` does),
    //    which may turn a user id into an actor directly. The others register and sign in
    //    with the token they get, as a front end would authenticate them.
    let admin = auth.create_superuser(registration("admin")).await?;
    let admin = auth.actor_for(admin.id).await?;
    let register = async |name: &str| -> Result<Actor, Error> {
        let (_user, token) = auth.register(registration(name)).await?;
        let credential = Credential::Token(token);
        let client = ClientInfo::default();
        authenticator.authenticate(&credential, &client).await
    };
    let alice = register("alice").await?;
    let bob = register("bob").await?;
    let carol = register("carol").await?;

    // 3. Only an admin creates chats and chooses the members.
    let chat = new_chat("general", vec![alice.id(), bob.id()]);
    let chat = membership.create_chat(&admin, chat).await?;
    println!("admin created chat #{} {:?}", chat.id, chat.name);

    // 4. Alice and bob talk. Each post returns once the message is committed. A retry that
    //    carries the same client_id (after a dropped connection, say) is not stored twice.
    for (who, text, client_id) in [
        (&alice, "Hi Bob, is the build green?", None),
        (&bob, "  Green since this morning.  ", None),
        (&bob, "On my way.", Some("bob-42")),
        (&bob, "On my way.", Some("bob-42")),
    ] {
        let posted = messaging
            .post(who, chat.id, message(text, client_id))
            .await?;
        let (m, created) = (&posted.message, posted.created);
        println!(
            "seq {} {:<5} {:?} (created: {created})",
            m.seq, m.user.username, m.content
        );
    }

    // 5. History, oldest first, as bob reads it.
    println!("\n-- history of #{} as bob sees it", chat.id);
    let everything = PageRequest::default();
    for m in messaging.history(&bob, chat.id, everything).await? {
        println!("  {:>3}  {:<6} {}", m.seq, m.user.username, m.content);
    }

    // 6. Live: alice subscribes, and each message bob posts reaches her stream once it is
    //    stored. A subscriber that reconnects with the last seq it saw (`Some(seq)` instead
    //    of `None`) misses nothing.
    println!("\n-- alice follows the chat live while bob posts");
    let mut live = messaging.subscribe(&alice, chat.id, None).await?;
    for text in ["Deploy started.", "Deploy finished."] {
        messaging.post(&bob, chat.id, message(text, None)).await?;
        let event = tokio::time::timeout(Duration::from_secs(5), live.next())
            .await
            .map_err(|_| "no event within 5 s")?
            .ok_or("the subscription ended early")?;
        if let Event::Message(posted) = event.event() {
            let m = &posted.message;
            println!(
                "  live  seq {} by {}: {}",
                m.seq, m.user.username, m.content
            );
        }
    }

    // 7. The core enforces the rules for every caller.
    println!("\n-- refused by the core");
    let history = messaging.history(&carol, chat.id, everything).await;
    expect_forbidden("carol (not a member) reads the history", history)?;
    let secret = new_chat("secret", vec![]);
    let created = membership.create_chat(&alice, secret).await;
    expect_forbidden("alice (not an admin) creates a chat", created)?;

    // 8. Stop the writer after everything queued is stored.
    core.shutdown().await;
    println!("\ndone.");
    Ok(())
}

/// A new chat named `name` with these members.
fn new_chat(name: &str, participants: Vec<UserId>) -> NewChat {
    NewChat {
        name: name.into(),
        participants,
    }
}

/// A message with `content` and an optional idempotency key.
fn message(content: &str, client_id: Option<&str>) -> NewMessage {
    NewMessage {
        content: content.into(),
        client_id: client_id.map(Into::into),
    }
}

/// A registration for `username` with [`PASSWORD`] and an address at example.com.
fn registration(username: &str) -> Registration {
    Registration {
        username: username.into(),
        password: PASSWORD.into(),
        email: format!("{username}@example.com"),
        ..Registration::default()
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
