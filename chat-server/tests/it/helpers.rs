//! The test fixture: [`spawn_app`] starts the real server on a random port over a fresh
//! database (a temp SQLite file; a throwaway PostgreSQL schema with [`spawn_app_on`] when
//! `CHAT_TEST_POSTGRES_URL` is set; [`spawn_app_at`] on a given SQLite file and address, so a
//! test can restart the server), with typed helpers to make admins, users and chats
//! through the core and to call the API over raw HTTP. Logs only when `TEST_LOG` is set.

#![allow(dead_code)] // Each test module uses a different subset of the helpers.

use chat_server::Settings;
use chatcore::broker::LocalBroker;
use chatcore::model::{Chat, ChatId, Message, NewChat, NewMessage, Registration, User, UserId};
use chatcore::store::sqlite::SqliteStore;
use chatcore::testing::{PgTestSchema, postgres_url};
use chatcore::{Actor, ChatCore, ClientInfo, Config, Services, Subscription};
use reqwest::{Method, StatusCode};
use serde_json::Value;
use std::net::SocketAddr;
use std::sync::{Arc, Once};
use tokio_util::sync::CancellationToken;

/// A password every rule accepts.
pub const PASSWORD: &str = "correct horse battery staple";

/// Which database a test app runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// A SQLite file in a temp directory.
    Sqlite,
    /// A fresh schema in `CHAT_TEST_POSTGRES_URL`'s database.
    Postgres,
}

/// A running server and handles to its insides.
pub struct TestApp {
    /// Where it listens.
    pub address: SocketAddr,
    /// `http://127.0.0.1:<port>`.
    pub base_url: String,
    /// Where the metrics listener listens ([`spawn_app_with_metrics`] only).
    pub metrics_address: Option<SocketAddr>,
    /// The core's services, for arranging state without HTTP.
    pub services: Services,
    /// A plain HTTP client: no cookies, no redirects.
    pub http: reqwest::Client,
    /// The backend in use.
    pub backend: Backend,
    core: Option<ChatCore>,
    shutdown: CancellationToken,
    server: Option<tokio::task::JoinHandle<()>>,
    _sqlite_dir: Option<tempfile::TempDir>,
    _pg_schema: Option<PgTestSchema>,
}

/// A user made by the helpers, with a valid API token.
#[derive(Debug, Clone)]
pub struct TestUser {
    /// The account.
    pub user: User,
    /// Its password ([`PASSWORD`]).
    pub password: String,
    /// A token from registration or login.
    pub token: String,
}

impl TestUser {
    /// The user's id.
    pub fn id(&self) -> UserId {
        self.user.id
    }

    /// The user's name.
    pub fn username(&self) -> &str {
        &self.user.username
    }
}

/// An answer, read whole: status, headers and body (JSON when it parses).
#[derive(Debug)]
pub struct Answer {
    /// Status code.
    pub status: StatusCode,
    /// Response headers.
    pub headers: reqwest::header::HeaderMap,
    /// Raw body text.
    pub text: String,
    /// The body as JSON (`Value::Null` when it is not JSON).
    pub json: Value,
}

impl Answer {
    /// A header as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The value at `key` of every element of a JSON array body.
    #[track_caller]
    pub fn each(&self, key: &str) -> Vec<Value> {
        self.json
            .as_array()
            .unwrap_or_else(|| panic!("not a JSON array: {}", self.text))
            .iter()
            .map(|element| element[key].clone())
            .collect()
    }

    /// Asserts the status, showing the body when it differs.
    #[track_caller]
    pub fn expect(&self, status: u16) -> &Self {
        assert_eq!(
            self.status.as_u16(),
            status,
            "unexpected status; body: {}",
            self.text
        );
        self
    }

    /// Asserts a JSON error answer with this status and code (and the 401 header).
    #[track_caller]
    pub fn expect_error(&self, status: u16, code: &str) -> &Self {
        self.expect(status);
        assert_eq!(self.json["code"], code, "body: {}", self.text);
        assert!(self.json["error"].is_string(), "body: {}", self.text);
        assert_eq!(
            self.header("content-type"),
            Some("application/json"),
            "errors are JSON"
        );
        if status == 401 {
            assert_eq!(self.header("www-authenticate"), Some("Token"));
        }
        self
    }
}

/// How a request authenticates.
#[derive(Debug, Clone)]
pub enum As {
    /// No credential.
    Anonymous,
    /// `Authorization: Token …`.
    Token(String),
    /// Any literal `Authorization` header.
    Header(String),
    /// `Authorization: Basic …`.
    Basic(String, String),
    /// The session cookie, with the CSRF token sent as `X-CSRF-Token` when `Some`.
    Session(String, Option<String>),
}

impl From<&TestUser> for As {
    fn from(u: &TestUser) -> Self {
        As::Token(u.token.clone())
    }
}

/// A request body.
#[derive(Debug, Clone)]
pub enum Send {
    /// None.
    Nothing,
    /// JSON.
    Json(Value),
    /// A form from pairs.
    Form(Vec<(String, String)>),
    /// Raw bytes with a content type (`None`: no header).
    Raw(Option<String>, Vec<u8>),
}

fn init_logs() {
    static INIT: Once = Once::new();
    INIT.call_once(|| {
        if std::env::var_os("TEST_LOG").is_some() {
            let _ = tracing_subscriber::fmt()
                .with_env_filter(
                    tracing_subscriber::EnvFilter::try_from_default_env()
                        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("debug")),
                )
                .with_test_writer()
                .try_init();
        }
    });
}

/// A server on SQLite with test settings.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(Backend::Sqlite, Config::for_tests(), Settings::default())
        .await
        .expect("SQLite is always available")
}

/// A server on SQLite with this core config and the default HTTP settings.
pub async fn spawn_app_with_config(config: Config) -> TestApp {
    spawn_app_with(Backend::Sqlite, config, Settings::default())
        .await
        .expect("SQLite is always available")
}

/// A server on `backend`; `None` (after a notice on stderr) when PostgreSQL is not configured.
pub async fn spawn_app_on(backend: Backend) -> Option<TestApp> {
    spawn_app_with(backend, Config::for_tests(), Settings::default()).await
}

/// Every backend available in this run (SQLite always, PostgreSQL when configured).
pub async fn every_backend() -> Vec<TestApp> {
    let mut apps = vec![spawn_app().await];
    if let Some(app) = spawn_app_on(Backend::Postgres).await {
        apps.push(app);
    }
    apps
}

/// A server with explicit core config and HTTP settings.
pub async fn spawn_app_with(
    backend: Backend,
    config: Config,
    settings: Settings,
) -> Option<TestApp> {
    spawn_app_customized(backend, config, settings, |_| {}).await
}

/// A server whose services `customize` changes before they are served (say, to plug in an
/// authenticator); the app's `services` are the ones served.
pub async fn spawn_app_customized(
    backend: Backend,
    config: Config,
    settings: Settings,
    customize: impl FnOnce(&mut Services),
) -> Option<TestApp> {
    spawn(backend, config, settings, customize, false).await
}

/// A server on SQLite with this core config that also serves metrics on a listener of its
/// own (`TestApp::metrics_address`), as `--metrics-bind` does.
pub async fn spawn_app_with_metrics(config: Config) -> TestApp {
    spawn(Backend::Sqlite, config, Settings::default(), |_| {}, true)
        .await
        .expect("SQLite is always available")
}

async fn spawn(
    backend: Backend,
    config: Config,
    settings: Settings,
    customize: impl FnOnce(&mut Services),
    with_metrics: bool,
) -> Option<TestApp> {
    init_logs();
    let (core, sqlite_dir, pg_schema) = match backend {
        Backend::Sqlite => {
            let dir = tempfile::tempdir().expect("a temp dir can be made");
            let url = format!("sqlite://{}", dir.path().join("chat.db").display());
            let store = SqliteStore::open(&url, config.max_connections)
                .await
                .expect("a fresh SQLite database opens");
            let broker = Arc::new(LocalBroker::new(config.subscriber_buffer));
            let core =
                ChatCore::with_parts(Arc::new(store), broker, config).expect("the core assembles");
            (core, Some(dir), None)
        }
        Backend::Postgres => {
            let url = postgres_url()?;
            let schema = PgTestSchema::create(&url)
                .await
                .expect("the test schema can be created");
            let store = schema
                .store(config.max_connections)
                .await
                .expect("the test schema migrates");
            let broker = Arc::new(LocalBroker::new(config.subscriber_buffer));
            let core =
                ChatCore::with_parts(Arc::new(store), broker, config).expect("the core assembles");
            (core, None, Some(schema))
        }
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a port is free");
    let metrics = if with_metrics {
        Some(
            tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("a port is free"),
        )
    } else {
        None
    };
    Some(start(
        core,
        (listener, metrics),
        settings,
        backend,
        sqlite_dir,
        pg_schema,
        customize,
    ))
}

/// A server on the SQLite database file `path` (made if missing), listening on `address`
/// (port 0: any). The caller keeps the file, so a test can stop the server and start another
/// on the same database and the same port.
pub async fn spawn_app_at(path: &std::path::Path, address: SocketAddr) -> TestApp {
    init_logs();
    let config = Config::for_tests();
    let url = format!("sqlite://{}", path.display());
    let store = SqliteStore::open(&url, config.max_connections)
        .await
        .expect("the SQLite database opens");
    let broker = Arc::new(LocalBroker::new(config.subscriber_buffer));
    let core = ChatCore::with_parts(Arc::new(store), broker, config).expect("the core assembles");
    let listener = tokio::net::TcpListener::bind(address)
        .await
        .expect("the address is free");
    start(
        core,
        (listener, None),
        Settings::default(),
        Backend::Sqlite,
        None,
        None,
        |_| {},
    )
}

/// Serves `core` on the first listener (and metrics on the second, if any), its services
/// changed by `customize` first.
fn start(
    core: ChatCore,
    (listener, metrics): (tokio::net::TcpListener, Option<tokio::net::TcpListener>),
    settings: Settings,
    backend: Backend,
    sqlite_dir: Option<tempfile::TempDir>,
    pg_schema: Option<PgTestSchema>,
    customize: impl FnOnce(&mut Services),
) -> TestApp {
    let address = listener.local_addr().expect("the listener has an address");
    let metrics_address = metrics
        .as_ref()
        .map(|l| l.local_addr().expect("the listener has an address"));
    let mut services = core.services();
    customize(&mut services);
    let shutdown = CancellationToken::new();
    let server = tokio::spawn(chat_server_task(
        listener,
        metrics,
        services.clone(),
        settings,
        shutdown.clone(),
    ));
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("the client builds");
    TestApp {
        address,
        base_url: format!("http://{address}"),
        metrics_address,
        services,
        http,
        backend,
        core: Some(core),
        shutdown,
        server: Some(server),
        _sqlite_dir: sqlite_dir,
        _pg_schema: pg_schema,
    }
}

async fn chat_server_task(
    listener: tokio::net::TcpListener,
    metrics: Option<tokio::net::TcpListener>,
    services: Services,
    settings: Settings,
    shutdown: CancellationToken,
) {
    chat_server::serve_with_metrics(listener, metrics, services, settings, shutdown)
        .await
        .expect("the server runs");
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

impl TestApp {
    /// The absolute URL of `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    /// Stops the server and the core, waiting for both.
    pub async fn stop(mut self) {
        self.shutdown.cancel();
        if let Some(server) = self.server.take() {
            server.await.expect("the server task ends cleanly");
        }
        if let Some(core) = self.core.take() {
            core.shutdown().await;
        }
    }

    /// An anonymous `chat-sdk` client of this server.
    pub fn sdk(&self) -> chat_sdk::Client {
        chat_sdk::Client::new(&self.base_url)
            .expect("the test server's address is a valid base URL")
    }

    /// A `chat-sdk` client that sends `user`'s token.
    pub fn sdk_as(&self, user: &TestUser) -> chat_sdk::Client {
        self.sdk()
            .with_token(&user.token)
            .expect("a server token is a valid header")
    }

    /// Registers `username` through the SDK: a signed-in client and the new user.
    pub async fn sdk_register(&self, username: &str) -> (chat_sdk::Client, User) {
        let registration = Registration {
            username: username.to_owned(),
            password: PASSWORD.to_owned(),
            email: format!("{username}@example.com"),
            ..Registration::default()
        };
        self.sdk()
            .register(&registration)
            .await
            .unwrap_or_else(|e| panic!("registering {username}: {e}"))
    }

    /// An admin `admin` (made through the core, as `createsuperuser` does) behind an SDK
    /// client that uses the admin's token.
    pub async fn sdk_admin(&self) -> (chat_sdk::Client, User) {
        let admin = self.create_admin("admin").await;
        (self.sdk_as(&admin), admin.user)
    }

    /// [`TestApp::sdk_admin`], users named `names` registered through the SDK (each a
    /// signed-in client), and a chat `room` the admin made with all of them as members.
    pub async fn sdk_chat_with_members<const N: usize>(
        &self,
        names: [&str; N],
    ) -> (chat_sdk::Client, [(chat_sdk::Client, User); N], ChatId) {
        let (admin, _) = self.sdk_admin().await;
        let mut members = Vec::with_capacity(N);
        for name in names {
            members.push(self.sdk_register(name).await);
        }
        let chat = admin
            .create_chat(&NewChat {
                name: "room".to_owned(),
                participants: members.iter().map(|(_, user)| user.id).collect(),
            })
            .await
            .expect("the admin creates a chat")
            .id;
        let members = members
            .try_into()
            .unwrap_or_else(|_| unreachable!("one member per name"));
        (admin, members, chat)
    }

    /// The actor for a user (as the core sees them).
    pub async fn actor(&self, user: &TestUser) -> Actor {
        self.services
            .auth
            .actor_for(user.id())
            .await
            .expect("the user exists and is active")
    }

    /// Registers a user through the core and returns them with a token.
    pub async fn create_user(&self, username: &str) -> TestUser {
        let (user, token) = self
            .services
            .auth
            .register(Registration {
                username: username.into(),
                password: PASSWORD.into(),
                email: format!("{}@example.com", username.to_lowercase()),
                ..Registration::default()
            })
            .await
            .expect("the user can register");
        TestUser {
            user,
            password: PASSWORD.into(),
            token,
        }
    }

    /// Creates an administrator through the core and logs them in.
    pub async fn create_admin(&self, username: &str) -> TestUser {
        let user = self
            .services
            .auth
            .create_superuser(Registration {
                username: username.into(),
                password: PASSWORD.into(),
                email: format!("{}@example.com", username.to_lowercase()),
                ..Registration::default()
            })
            .await
            .expect("the admin can be created");
        let token = self
            .services
            .auth
            .login(username, PASSWORD, &ClientInfo::default())
            .await
            .expect("the admin can log in");
        TestUser {
            user,
            password: PASSWORD.into(),
            token,
        }
    }

    /// Creates a chat (as `admin`) with `members`.
    pub async fn create_chat(&self, admin: &TestUser, name: &str, members: &[&TestUser]) -> Chat {
        self.services
            .membership
            .create_chat(
                &self.actor(admin).await,
                NewChat {
                    name: name.into(),
                    participants: members.iter().map(|m| m.id()).collect(),
                },
            )
            .await
            .expect("the chat can be created")
    }

    /// Posts a message through the core.
    pub async fn post_message(&self, author: &TestUser, chat: ChatId, content: &str) -> Message {
        self.services
            .messaging
            .post(
                &self.actor(author).await,
                chat,
                NewMessage {
                    content: content.into(),
                    client_id: None,
                },
            )
            .await
            .expect("the member can post")
            .message
    }

    /// An admin `root`, users named `names`, and a chat `general` the admin made with all
    /// of them as members.
    pub async fn chat_with_members<const N: usize>(
        &self,
        names: [&str; N],
    ) -> (TestUser, [TestUser; N], Chat) {
        let admin = self.create_admin("root").await;
        let mut users = Vec::with_capacity(N);
        for name in names {
            users.push(self.create_user(name).await);
        }
        let members: Vec<&TestUser> = users.iter().collect();
        let chat = self.create_chat(&admin, "general", &members).await;
        let users = users
            .try_into()
            .unwrap_or_else(|_| unreachable!("one user per name"));
        (admin, users, chat)
    }

    /// An admin `root` and a chat `general` with the admin as its only member (admins post
    /// only where they are members).
    pub async fn admin_with_own_chat(&self) -> (TestUser, Chat) {
        let admin = self.create_admin("root").await;
        let chat = self.create_chat(&admin, "general", &[&admin]).await;
        (admin, chat)
    }

    /// A live subscription to `chat` as `user`, through the core, from the next message on.
    pub async fn subscribe(&self, user: &TestUser, chat: ChatId) -> Subscription {
        self.services
            .messaging
            .subscribe(&self.actor(user).await, chat, None)
            .await
            .expect("the user may follow the chat")
    }

    /// Sets `user`'s `is_active` flag over HTTP (`PATCH /api/users/{id}/` as `admin`),
    /// expecting 200.
    pub async fn set_active(&self, admin: &TestUser, user: &TestUser, active: bool) {
        self.patch(
            &format!("/api/users/{}/", user.id()),
            admin,
            serde_json::json!({ "is_active": active }),
        )
        .await
        .expect(200);
    }

    /// Logs in through the core and returns a browser session (cookie id, CSRF token).
    pub async fn create_session(&self, user: &TestUser) -> (String, String) {
        let session = self
            .services
            .auth
            .create_session(user.username(), &user.password, &ClientInfo::default())
            .await
            .expect("the user can log in");
        (session.id, session.csrf_token)
    }

    /// Sends a request and reads the whole answer.
    pub async fn call(&self, method: Method, path: &str, who: impl Into<As>, body: Send) -> Answer {
        let mut req = self.http.request(method, self.url(path));
        req = match who.into() {
            As::Anonymous => req,
            As::Token(t) => req.header("Authorization", format!("Token {t}")),
            As::Header(h) => req.header("Authorization", h),
            As::Basic(u, p) => req.basic_auth(u, Some(p)),
            As::Session(id, csrf) => {
                let req = req.header("Cookie", format!("chat_session={id}"));
                match csrf {
                    Some(token) => req.header("X-CSRF-Token", token),
                    None => req,
                }
            }
        };
        req = match body {
            Send::Nothing => req,
            Send::Json(v) => req.json(&v),
            Send::Form(pairs) => req.form(&pairs),
            Send::Raw(content_type, bytes) => {
                let req = match content_type {
                    Some(ct) => req.header("Content-Type", ct),
                    None => req,
                };
                req.body(bytes)
            }
        };
        let resp = req.send().await.expect("the server answers");
        let status = resp.status();
        let headers = resp.headers().clone();
        let text = resp.text().await.expect("the body can be read");
        let json = serde_json::from_str(&text).unwrap_or(Value::Null);
        Answer {
            status,
            headers,
            text,
            json,
        }
    }

    /// `GET path`.
    pub async fn get(&self, path: &str, who: impl Into<As>) -> Answer {
        self.call(Method::GET, path, who, Send::Nothing).await
    }

    /// `POST path` with a JSON body.
    pub async fn post(&self, path: &str, who: impl Into<As>, body: Value) -> Answer {
        self.call(Method::POST, path, who, Send::Json(body)).await
    }

    /// `POST path` without a body.
    pub async fn post_nothing(&self, path: &str, who: impl Into<As>) -> Answer {
        self.call(Method::POST, path, who, Send::Nothing).await
    }

    /// `POST /api/accounts/register/` with `body`, anonymously.
    pub async fn post_register(&self, body: Value) -> Answer {
        self.post("/api/accounts/register/", As::Anonymous, body)
            .await
    }

    /// `POST /api/accounts/login/` with a JSON username and password, anonymously.
    pub async fn post_login(&self, username: &str, password: &str) -> Answer {
        let body = serde_json::json!({ "username": username, "password": password });
        self.post("/api/accounts/login/", As::Anonymous, body).await
    }

    /// `PATCH path` with a JSON body.
    pub async fn patch(&self, path: &str, who: impl Into<As>, body: Value) -> Answer {
        self.call(Method::PATCH, path, who, Send::Json(body)).await
    }

    /// `PUT path` without a body.
    pub async fn put(&self, path: &str, who: impl Into<As>) -> Answer {
        self.call(Method::PUT, path, who, Send::Nothing).await
    }

    /// `DELETE path`.
    pub async fn delete(&self, path: &str, who: impl Into<As>) -> Answer {
        self.call(Method::DELETE, path, who, Send::Nothing).await
    }
}

/// Sets `user`'s `is_active` flag through the SDK as `admin`; the user as the admin sees
/// them afterwards.
pub async fn sdk_set_active(
    admin: &chat_sdk::Client,
    user: UserId,
    active: bool,
) -> chat_sdk::model::UserDetail {
    let flags = chat_sdk::model::UserFlagsUpdate {
        is_active: Some(active),
        is_superuser: None,
    };
    admin
        .update_user(user, &flags)
        .await
        .expect("the admin changes the flag")
}

/// Form pairs from literals.
pub fn form(pairs: &[(&str, &str)]) -> Send {
    Send::Form(
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
    )
}

/// Redacts an id after checking it is an integer.
pub fn redact_id(value: insta::internals::Content, _: insta::internals::ContentPath<'_>) -> String {
    assert!(value.as_i64().is_some(), "an id is an integer: {value:?}");
    "[id]".into()
}

/// Redacts a timestamp after checking it is in the wire format
/// (`2026-11-24T09:21:11.386088+00:00`).
pub fn redact_time(
    value: insta::internals::Content,
    _: insta::internals::ContentPath<'_>,
) -> String {
    let text = value.as_str().expect("a timestamp is a string");
    assert!(is_wire_time(text), "not the wire time format: {text}");
    "[timestamp]".into()
}

/// Whether `text` is RFC 3339 in UTC with six fractional digits and a numeric offset.
pub fn is_wire_time(text: &str) -> bool {
    let parsed = time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339);
    let fraction = text.split('.').nth(1).unwrap_or_default();
    parsed.is_ok() && fraction.len() == "123456+00:00".len() && text.ends_with("+00:00")
}

/// Redacts an API token after checking it is 40 lowercase hex characters.
pub fn redact_token(
    value: insta::internals::Content,
    _: insta::internals::ContentPath<'_>,
) -> String {
    let text = value.as_str().expect("a token is a string");
    assert!(
        text.len() == 40
            && text
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)),
        "not a token: {text}"
    );
    "[token]".into()
}

/// `insta::assert_json_snapshot!` with the wire redactions: ids, timestamps and tokens, each
/// checked for its format before it is replaced.
#[macro_export]
macro_rules! assert_wire_snapshot {
    ($name:expr, $value:expr) => {
        insta::assert_json_snapshot!($name, $value, {
            ".**.id" => insta::dynamic_redaction($crate::helpers::redact_id),
            ".**.chat" => insta::dynamic_redaction($crate::helpers::redact_id),
            ".**.timestamp" => insta::dynamic_redaction($crate::helpers::redact_time),
            ".**.created_at" => insta::dynamic_redaction($crate::helpers::redact_time),
            ".**.token" => insta::dynamic_redaction($crate::helpers::redact_token),
        })
    };
}
