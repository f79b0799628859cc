//! Serving the chat REST API with a custom authenticator: a company directory.
//!
//! The directory is a static table of employees, each holding an API key the directory
//! issued (40 hex characters, fresh at every start, kept only as SHA-256). A client sends
//! its key as an ordinary `Authorization: Token <key>`; `DirectoryAuthenticator` — an
//! implementation of `chatcore::Authenticator`, the plug-in seam — looks the key up and, for
//! an employee still with the company, provisions the local account through
//! `AuthService::provision` (created on the first request, found afterwards) and returns
//! that `Actor`. Every other credential falls through to the built-in authenticator: local
//! API tokens (so an admin made by trusted code, as the CLI's `createsuperuser` does, logs
//! in with a password as usual), Basic and browser sessions. A former employee's key is
//! refused outright. The server is assembled from `ChatCore::services()` with only the
//! `authenticator` replaced and run with `chat_server::serve` on a listener bound here.
//!
//! Decisions worth knowing before copying this:
//! - Registration is closed. `provision` matches accounts by username, so with open
//!   registration a stranger could register `alice.martin` before Alice's first request and
//!   share her identity. Accounts come from the directory; admins from trusted code.
//! - Admin rights and deactivation stay local: the directory cannot mint an admin (`Actor`
//!   has private fields; `provision` creates ordinary users), an admin promotes one with
//!   `PATCH /api/users/{id}/`, and a locally deactivated account is refused even with a
//!   valid directory key.
//! - The server reads only `Token`, `Basic` and the session cookie and has no hook for a
//!   scheme of our own (say `Authorization: Directory …` or an `X-Employee` header), which
//!   is why the directory's keys have the shape of the server's tokens.
//! - `POST /api/accounts/logout/` with a directory key answers 204 but revokes nothing: the
//!   directory owns its keys. Names and e-mail are copied at the first request only.
//!
//! Run it with `cargo run -p examples --example custom_auth` (127.0.0.1:8001, or `CHAT_BIND`;
//! a SQLite database in a temporary directory; the keys and the admin password are printed),
//! or with `-- --self-test` to drive the server through `chat-sdk` and exit (CI does this).

use async_trait::async_trait;
use chat_sdk::model::{NewChat, PageRequest, Registration, UserFlagsUpdate};
use chat_sdk::{Client, UserQuery};
use chat_server::Settings;
use chatcore::auth::{new_token, random_hex, sha256_hex};
use chatcore::{
    Actor, AuthService, Authenticator, ChatCore, ClientInfo, Config, Credential, Error,
    ExternalIdentity,
};
use std::collections::HashMap;
use std::fmt;
use std::io::IsTerminal;
use std::process::ExitCode;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Where the server listens when `CHAT_BIND` does not say otherwise.
const DEFAULT_BIND: &str = "127.0.0.1:8001";

/// The local administrator's login name (created by trusted code, not by the directory).
const ADMIN_USERNAME: &str = "admin";

// ----- the company directory -----------------------------------------------------------

/// One person in the company directory.
#[derive(Debug)]
struct Employee {
    /// The login name, used as the local username.
    username: &'static str,
    /// Given name.
    first_name: &'static str,
    /// Family name.
    last_name: &'static str,
    /// Work e-mail address.
    email: &'static str,
    /// Where they work (shown in the key list only).
    department: &'static str,
    /// Still with the company; a leaver's key is refused.
    employed: bool,
}

impl Employee {
    /// The identity the directory vouches for, as the core's `provision` takes it.
    fn identity(&self) -> ExternalIdentity {
        ExternalIdentity {
            username: self.username.to_owned(),
            email: self.email.to_owned(),
            first_name: self.first_name.to_owned(),
            last_name: self.last_name.to_owned(),
        }
    }
}

/// The company's staff. A real directory would be LDAP, SCIM or an HR database.
static EMPLOYEES: &[Employee] = &[
    Employee {
        username: "alice.martin",
        first_name: "Alice",
        last_name: "Martin",
        email: "alice.martin@example.com",
        department: "Engineering",
        employed: true,
    },
    Employee {
        username: "bob.nguyen",
        first_name: "Bob",
        last_name: "Nguyen",
        email: "bob.nguyen@example.com",
        department: "Support",
        employed: true,
    },
    Employee {
        username: "dave.oldfield",
        first_name: "Dave",
        last_name: "Oldfield",
        email: "dave.oldfield@example.com",
        department: "Sales",
        employed: false,
    },
];

/// An API key the directory handed to an employee (printed once, as a key issuer would).
struct IssuedKey {
    employee: &'static Employee,
    key: String,
}

impl fmt::Debug for IssuedKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Keys are secrets: never in a debug print.
        write!(f, "IssuedKey({}, ..)", self.employee.username)
    }
}

/// The directory's key table. Like the chat store with its own tokens, it keeps only the
/// SHA-256 of each key, so a copy of the table holds no usable key and a lookup by hash
/// reveals nothing through its timing.
struct CompanyDirectory {
    by_key_hash: HashMap<String, &'static Employee>,
}

impl CompanyDirectory {
    /// Issues a fresh key to every employee in `staff`: the directory and the keys to hand
    /// out. Fresh keys at every start keep usable secrets out of this source file.
    fn issue_keys(staff: &'static [Employee]) -> (Self, Vec<IssuedKey>) {
        let issued: Vec<IssuedKey> = staff
            .iter()
            .map(|employee| IssuedKey {
                employee,
                // The shape of the server's own tokens (40 lowercase hex): the REST layer
                // passes `Authorization: Token <key>` through as `Credential::Token`.
                key: new_token(),
            })
            .collect();
        let by_key_hash = issued
            .iter()
            .map(|issued| (sha256_hex(&issued.key), issued.employee))
            .collect();
        (Self { by_key_hash }, issued)
    }

    /// The employee a key was issued to. The token keyword's value is matched ignoring
    /// case, as the built-in authenticator does.
    fn employee_for_key(&self, key: &str) -> Option<&'static Employee> {
        self.by_key_hash
            .get(&sha256_hex(&key.to_ascii_lowercase()))
            .copied()
    }
}

/// The plug-in: directory keys first, then the built-in authenticator.
struct DirectoryAuthenticator {
    directory: CompanyDirectory,
    /// Provisions the local account of a directory employee.
    accounts: Arc<dyn AuthService>,
    /// The built-in authenticator: local tokens, Basic passwords, sessions.
    fallback: Arc<dyn Authenticator>,
}

#[async_trait]
impl Authenticator for DirectoryAuthenticator {
    async fn authenticate(
        &self,
        credential: &Credential,
        client: &ClientInfo,
    ) -> chatcore::Result<Actor> {
        if let Credential::Token(key) = credential
            && let Some(employee) = self.directory.employee_for_key(key)
        {
            if !employee.employed {
                // Refused here; it must not fall through (it would not match anyway).
                return Err(Error::Unauthenticated);
            }
            // Finds the local account, or creates it on the employee's first request. An
            // account an admin deactivated is refused here (`Unauthenticated`).
            return self.accounts.provision(employee.identity()).await;
        }
        self.fallback.authenticate(credential, client).await
    }
}

// ----- the program -----------------------------------------------------------------------

/// What the command line asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Serve until Ctrl-C / SIGTERM.
    Serve,
    /// Serve on a free port, drive the server through the SDK, exit.
    SelfTest,
}

#[tokio::main]
async fn main() -> ExitCode {
    let mode = match std::env::args().skip(1).collect::<Vec<_>>().as_slice() {
        [] => Mode::Serve,
        [flag] if flag == "--self-test" => Mode::SelfTest,
        _ => {
            eprintln!("usage: custom_auth [--self-test]");
            return ExitCode::from(2);
        }
    };
    init_logging(if mode == Mode::Serve { "info" } else { "warn" });
    // One rustls provider for every TLS user, as the server binary does; an error only
    // means one is installed already.
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    match run(mode).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("custom_auth: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Server logs (request lines, warnings) to stderr, `RUST_LOG` or `default` level.
fn init_logging(default: &str) {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default)),
        )
        .init();
}

async fn run(mode: Mode) -> Result<(), BoxError> {
    // 1. The core on a fresh SQLite database, registration closed (see the module comment).
    let dir = tempfile::tempdir()?;
    let database_url = format!("sqlite://{}", dir.path().join("chat.db").display());
    let config = Config {
        registration_open: false,
        ..Config::default()
    };
    let core = ChatCore::open(&database_url, config).await?;

    // 2. A local administrator, made by trusted code as `chat-server createsuperuser` does.
    let admin_password = format!("admin-{}", random_hex(12));
    core.auth()
        .create_superuser(Registration {
            username: ADMIN_USERNAME.into(),
            password: admin_password.clone(),
            email: "admin@example.com".into(),
            first_name: "Ada".into(),
            last_name: "Admin".into(),
        })
        .await?;

    // 3. The services with the authenticator replaced; everything else is the core's.
    let (directory, keys) = CompanyDirectory::issue_keys(EMPLOYEES);
    let mut services = core.services();
    services.authenticator = Arc::new(DirectoryAuthenticator {
        directory,
        accounts: services.auth.clone(),
        fallback: services.authenticator.clone(),
    });

    // 4. Bind, then serve. The self-test takes any free port so it never collides.
    let bind = match mode {
        Mode::Serve => std::env::var("CHAT_BIND").unwrap_or_else(|_| DEFAULT_BIND.into()),
        Mode::SelfTest => "127.0.0.1:0".into(),
    };
    let listener = TcpListener::bind(&bind)
        .await
        .map_err(|e| format!("cannot listen on {bind}: {e}"))?;
    let base_url = format!("http://{}", listener.local_addr()?);
    let shutdown = match mode {
        Mode::Serve => chat_server::shutdown_on_signals(),
        Mode::SelfTest => CancellationToken::new(),
    };
    let server = tokio::spawn(chat_server::serve(
        listener,
        services,
        Settings::default(),
        shutdown.clone(),
    ));

    let outcome = match mode {
        Mode::Serve => {
            print_instructions(&base_url, &database_url, &keys, &admin_password);
            Ok(())
        }
        Mode::SelfTest => {
            println!("== custom_auth self-test against {base_url}\n");
            let outcome = self_test(&base_url, &keys, &admin_password).await;
            shutdown.cancel();
            outcome
        }
    };
    // Serving mode waits here until a signal; both modes then store what is queued.
    let served = server.await;
    core.shutdown().await;
    outcome?;
    served??;
    if mode == Mode::SelfTest {
        println!("\nself-test passed.");
    }
    Ok(())
}

/// Tells a human how to talk to the server.
fn print_instructions(base: &str, database_url: &str, keys: &[IssuedKey], admin_password: &str) {
    println!("custom_auth: the chat REST API with a company-directory authenticator");
    println!("  listening on {base}");
    println!("  database     {database_url} (removed on exit)\n");
    println!(
        "Directory API keys, issued afresh at every start (send `Authorization: Token <key>`):"
    );
    for IssuedKey { employee, key } in keys {
        let name = format!("{} {}", employee.first_name, employee.last_name);
        let note = if employee.employed {
            ""
        } else {
            "  (left the company: refused)"
        };
        println!(
            "  {:<14} {:<15} {:<12} {key}{note}",
            employee.username, name, employee.department
        );
    }
    println!("\nLocal admin (built-in password login): {ADMIN_USERNAME} / {admin_password}\n");
    if let Some(first) = keys.first() {
        println!("Try:");
        println!("  # an employee's first request creates their account");
        println!(
            "  curl -s -H 'Authorization: Token {}' {base}/api/accounts/me/",
            first.key
        );
        println!("  # the admin logs in with a password and gets a local token");
        println!(
            "  curl -s -H 'Content-Type: application/json' -d '{{\"username\":\"{ADMIN_USERNAME}\",\"password\":\"{admin_password}\"}}' {base}/api/accounts/login/"
        );
        println!("  # the admin lists accounts, then creates a chat with some of them");
        println!("  curl -s -H 'Authorization: Token ADMIN_TOKEN' {base}/api/users/");
        println!(
            "  curl -s -H 'Authorization: Token ADMIN_TOKEN' -H 'Content-Type: application/json' -d '{{\"name\":\"general\",\"participants\":[2]}}' {base}/api/chat/"
        );
    }
    println!("\nCtrl-C stops the server.");
}

// ----- the self-test ---------------------------------------------------------------------

/// Drives the running server through `chat-sdk`: directory keys, refusals, the admin's
/// password login, a chat and its history. Any surprise is an error.
async fn self_test(base: &str, keys: &[IssuedKey], admin_password: &str) -> Result<(), BoxError> {
    let anonymous = Client::new(base)?;
    let key_of = |username: &str| -> Result<&str, BoxError> {
        keys.iter()
            .find(|k| k.employee.username == username)
            .map(|k| k.key.as_str())
            .ok_or_else(|| format!("no key issued to {username}").into())
    };
    let alice = anonymous.with_token(key_of("alice.martin")?)?;
    let bob = anonymous.with_token(key_of("bob.nguyen")?)?;
    let dave = anonymous.with_token(key_of("dave.oldfield")?)?;

    println!("-- 1. a directory key is a Token; the first request provisions the account");
    let alice_me = alice.me().await?;
    println!(
        "   alice's key -> user #{} {} ({} {}, {}), admin: {}",
        alice_me.user.id,
        alice_me.user.username,
        alice_me.user.first_name,
        alice_me.user.last_name,
        alice_me.user.email,
        alice_me.is_superuser
    );
    ensure(
        alice_me.user.username == "alice.martin" && !alice_me.is_superuser,
        "alice is provisioned as an ordinary user",
    )?;
    let again = alice.me().await?;
    ensure(
        again.user.id == alice_me.user.id,
        "a second request finds the same account",
    )?;
    let alice_chats = alice.chats().await?;
    ensure(alice_chats.is_empty(), "a new account is in no chat")?;
    println!(
        "   second request -> the same user #{}; chats: none yet",
        again.user.id
    );
    let bob_me = bob.me().await?;
    println!(
        "   bob's key   -> user #{} {}",
        bob_me.user.id, bob_me.user.username
    );

    println!("\n-- 2. refused");
    expect_status("a former employee's key", 401, dave.me().await.map(|_| ()))?;
    expect_status(
        "a key nobody issued",
        401,
        anonymous.with_token(&new_token())?.me().await.map(|_| ()),
    )?;
    expect_status(
        "Basic for a directory account (no password)",
        401,
        anonymous
            .with_basic_auth("alice.martin", "any password at all")
            .me()
            .await
            .map(|_| ()),
    )?;
    expect_status(
        "self-registration (closed)",
        403,
        anonymous
            .register(&Registration {
                username: "alice.martin".into(),
                password: "lantern-orbit-7".into(),
                email: "mallory@example.com".into(),
                first_name: "Not".into(),
                last_name: "Alice".into(),
            })
            .await
            .map(|_| ()),
    )?;

    println!("\n-- 3. the built-in authenticator still serves the local admin");
    let admin = anonymous.login(ADMIN_USERNAME, admin_password).await?;
    let users = admin.users(&UserQuery::all()).await?;
    for u in &users {
        println!(
            "   user #{} {:<14} admin: {:<5} active: {}",
            u.user.id, u.user.username, u.is_superuser, u.is_active
        );
    }
    let names: Vec<&str> = users.iter().map(|u| u.user.username.as_str()).collect();
    ensure(
        names == [ADMIN_USERNAME, "alice.martin", "bob.nguyen"],
        format!("the accounts are the admin and the two employees who called (got {names:?})"),
    )?;

    println!("\n-- 4. the admin creates a chat; alice and bob talk with their directory keys");
    let chat = admin
        .create_chat(&NewChat {
            name: "launch-plan".into(),
            participants: vec![alice_me.user.id, bob_me.user.id],
        })
        .await?;
    println!("   admin created chat #{} {:?}", chat.id, chat.name);
    let alice_chats = alice.chats().await?;
    ensure(
        alice_chats.iter().map(|c| c.id).eq([chat.id]),
        "alice sees the new chat",
    )?;
    alice
        .post(chat.id, "The launch checklist is in the wiki.")
        .await?;
    bob.post(chat.id, "Support is briefed and ready.").await?;
    let history = bob.messages(chat.id, PageRequest::default()).await?;
    for m in &history {
        println!("   #{} {:<13} {}", m.seq, m.user.username, m.content);
    }
    let authors: Vec<&str> = history.iter().map(|m| m.user.username.as_str()).collect();
    ensure(
        history.iter().map(|m| m.seq).eq([1, 2]) && authors == ["alice.martin", "bob.nguyen"],
        format!("bob reads both messages in order (got {authors:?})"),
    )?;

    println!("\n-- 5. directory accounts follow the core's rules like any other");
    expect_status(
        "alice creates a chat (admins only)",
        403,
        alice
            .create_chat(&NewChat {
                name: "side-project".into(),
                participants: vec![],
            })
            .await
            .map(|_| ()),
    )?;
    admin
        .update_user(
            bob_me.user.id,
            &UserFlagsUpdate {
                is_active: Some(false),
                is_superuser: None,
            },
        )
        .await?;
    expect_status(
        "bob's valid key after a local deactivation",
        401,
        bob.me().await.map(|_| ()),
    )?;
    Ok(())
}

/// `Ok` when `condition` holds, otherwise an error saying what was expected.
fn ensure(condition: bool, expectation: impl fmt::Display) -> Result<(), BoxError> {
    if condition {
        Ok(())
    } else {
        Err(format!("self-test: expected {expectation}").into())
    }
}

/// Prints a refusal with the expected status; anything else is an error.
fn expect_status(what: &str, status: u16, result: chat_sdk::Result<()>) -> Result<(), BoxError> {
    match result {
        Err(e) if e.status() == Some(status) => {
            println!(
                "   {what:<46} -> {status} {}",
                e.server_message().unwrap_or_default()
            );
            Ok(())
        }
        Err(e) => Err(format!("self-test: {what}: expected {status}, got {e}").into()),
        Ok(()) => Err(format!("self-test: {what}: expected {status}, but it was allowed").into()),
    }
}
