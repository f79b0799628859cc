//! Test fixture: a fresh core on a fresh database per test, helpers to make actors, and the
//! `contract_tests!` macro that instantiates a test for every backend.

use chatcore::broker::{Broker, LocalBroker};
use chatcore::model::{
    ChatId, Message, NewChat, NewMessage, PageRequest, Registration, UserFlagsUpdate, UserId,
};
use chatcore::store::Store;
use chatcore::store::postgres::PgStore;
use chatcore::store::sqlite::SqliteStore;
use chatcore::testing::{PgTestSchema, postgres_url};
use chatcore::{
    Actor, ChatCore, ClientInfo, Config, Credential, Error, ErrorKind, NewSession, Posted,
    Subscription,
};
use std::sync::Arc;

/// A strong password that passes every rule.
pub const PASSWORD: &str = "correct horse battery staple";

/// Raw access to the database, for tests that inspect tables.
pub enum Raw {
    /// The SQLite pool.
    Sqlite(sqlx::SqlitePool),
    /// The PostgreSQL pool (its connections use the test schema).
    Postgres(sqlx::PgPool),
}

/// Runs `$body` with `$pool` bound to the pool of either backend.
macro_rules! on_pool {
    ($raw:expr, $pool:ident => $body:expr) => {
        match $raw {
            Raw::Sqlite($pool) => $body,
            Raw::Postgres($pool) => $body,
        }
    };
}

impl Raw {
    /// All values of one text column of a table.
    pub async fn column(&self, table: &str, column: &str) -> Vec<String> {
        let sql = format!("SELECT {column} FROM {table}");
        on_pool!(self, p => sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
            .fetch_all(p)
            .await
            .expect("the column can be read"))
    }

    /// Runs one statement, as an operator would by hand.
    pub async fn execute(&self, sql: &str) {
        on_pool!(self, p => sqlx::query(sqlx::AssertSqlSafe(sql.to_owned()))
            .execute(p)
            .await
            .map(|_| ())
            .expect("the statement runs"))
    }

    /// `SELECT COUNT(*) FROM table`.
    pub async fn count(&self, table: &str) -> i64 {
        let sql = format!("SELECT COUNT(*) FROM {table}");
        on_pool!(self, p => sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
            .fetch_one(p)
            .await
            .expect("the table can be counted"))
    }
}

/// A core on its own database.
pub struct TestCore {
    /// The core under test.
    pub core: ChatCore,
    /// The store under it (the core hands it to no one), for tests that assemble services
    /// of their own on it.
    pub store: Arc<dyn Store>,
    /// The broker under it, likewise.
    pub broker: Arc<LocalBroker>,
    /// Its database, for tests that inspect tables.
    pub raw: Raw,
    sqlite_url: Option<String>,
    _dir: Option<tempfile::TempDir>,
    schema: Option<PgTestSchema>,
}

impl TestCore {
    /// A core on a fresh SQLite file in a temporary directory.
    pub async fn sqlite(config: Config) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("chat.db").display());
        let store = SqliteStore::open(&url, 8).await.unwrap();
        let raw = Raw::Sqlite(store.pool().clone());
        let mut t = Self::assemble(Arc::new(store), raw, config, Some(dir), None);
        t.sqlite_url = Some(url);
        t
    }

    /// A core in a fresh schema of `CHAT_TEST_POSTGRES_URL`'s database; `None` (after a
    /// loud notice) when PostgreSQL is not configured.
    pub async fn postgres(config: Config) -> Option<Self> {
        let url = postgres_url()?;
        let schema = PgTestSchema::create(&url).await.unwrap();
        let store: PgStore = schema.store(8).await.unwrap();
        let raw = Raw::Postgres(store.pool().clone());
        Some(Self::assemble(
            Arc::new(store),
            raw,
            config,
            None,
            Some(schema),
        ))
    }

    /// Logs go to the test output only when `TEST_LOG` is set.
    fn init_logs() {
        if std::env::var_os("TEST_LOG").is_some() {
            let _ = tracing_subscriber::fmt()
                .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
                .with_test_writer()
                .try_init();
        }
    }

    fn assemble(
        store: Arc<dyn Store>,
        raw: Raw,
        config: Config,
        dir: Option<tempfile::TempDir>,
        schema: Option<PgTestSchema>,
    ) -> Self {
        Self::init_logs();
        let broker = Arc::new(LocalBroker::new(config.subscriber_buffer));
        let core = ChatCore::with_parts(store.clone(), broker.clone(), config).unwrap();
        Self {
            core,
            store,
            broker,
            raw,
            sqlite_url: None,
            _dir: dir,
            schema,
        }
    }

    /// A second store on this core's database, with its own connections: what another
    /// process or node sees.
    pub async fn second_store(&self) -> Arc<dyn Store> {
        match (&self.sqlite_url, &self.schema) {
            (Some(url), _) => Arc::new(SqliteStore::open(url, 8).await.unwrap()),
            (None, Some(schema)) => Arc::new(schema.store(8).await.unwrap()),
            (None, None) => unreachable!("a test core is on SQLite or PostgreSQL"),
        }
    }

    /// A second core (another process or node) on this core's database: its own
    /// connections, its own store cache, its own in-process broker.
    pub async fn second_core(&self) -> ChatCore {
        let store = self.second_store().await;
        let config = self.core.config().clone();
        let broker = Arc::new(LocalBroker::new(config.subscriber_buffer));
        ChatCore::with_parts(store, broker, config).unwrap()
    }

    /// A second core on this core's database with another broker (a test double, or a
    /// broker the test keeps a handle on). Actors of either core work on both.
    pub fn core_with_broker(&self, broker: Arc<dyn Broker>) -> ChatCore {
        let config = self.core.config().clone();
        ChatCore::with_parts(self.store.clone(), broker, config).unwrap()
    }

    /// Registers `name` and returns the actor with their token.
    pub async fn user_with_token(&self, name: &str) -> (Actor, String) {
        let (_, token) = self.core.auth().register(registration(name)).await.unwrap();
        let actor = self.by_token(&token).await.unwrap();
        (actor, token)
    }

    /// Registers `name` and returns the actor.
    pub async fn user(&self, name: &str) -> Actor {
        self.user_with_token(name).await.0
    }

    /// Creates an admin `name` (as the CLI's `createsuperuser` does) and returns the actor.
    pub async fn admin(&self, name: &str) -> Actor {
        let user = self
            .core
            .auth()
            .create_superuser(registration(name))
            .await
            .unwrap();
        self.core.auth().actor_for(user.id).await.unwrap()
    }

    /// The actor an API token authenticates as.
    pub async fn by_token(&self, token: &str) -> Result<Actor, Error> {
        self.core
            .services()
            .authenticator
            .authenticate(&Credential::Token(token.into()), &ClientInfo::default())
            .await
    }

    /// An admin `root`, users named `names`, and a chat `general` the admin made with all
    /// of them as members.
    pub async fn chat_with_members<const N: usize>(
        &self,
        names: [&str; N],
    ) -> (Actor, [Actor; N], ChatId) {
        let admin = self.admin("root").await;
        let mut users = Vec::with_capacity(N);
        for name in names {
            users.push(self.user(name).await);
        }
        let members: Vec<&Actor> = users.iter().collect();
        let chat = self.chat(&admin, "general", &members).await;
        let users = users
            .try_into()
            .unwrap_or_else(|_| unreachable!("one user per name"));
        (admin, users, chat)
    }

    /// A subscription to `chat` as `who`, resuming after `after_seq` (`None`: from the next
    /// message on); it must be allowed.
    pub async fn subscribe(
        &self,
        who: &Actor,
        chat: ChatId,
        after_seq: Option<i64>,
    ) -> Subscription {
        self.core
            .messaging()
            .subscribe(who, chat, after_seq)
            .await
            .expect("the subscription is allowed")
    }

    /// Posts `content` to `chat` as `who`; the post must be stored.
    pub async fn post(&self, who: &Actor, chat: ChatId, content: &str) -> Posted {
        self.core
            .messaging()
            .post(who, chat, text(content))
            .await
            .expect("the post is stored")
    }

    /// The newest page of `chat`'s history as `who` sees it; reading must be allowed.
    pub async fn history(&self, who: &Actor, chat: ChatId) -> Vec<Message> {
        self.core
            .messaging()
            .history(who, chat, PageRequest::default())
            .await
            .expect("reading the history is allowed")
    }

    /// Sets `user`'s `is_active` flag as `admin`; the change must be allowed.
    pub async fn set_active(&self, admin: &Actor, user: UserId, active: bool) {
        let flags = UserFlagsUpdate {
            is_active: Some(active),
            ..Default::default()
        };
        self.core
            .auth()
            .update_user(admin, user, flags)
            .await
            .expect("the admin changes the flag");
    }

    /// Opens a browser session for `name` with [`PASSWORD`].
    pub async fn session(&self, name: &str) -> NewSession {
        self.core
            .auth()
            .create_session(name, PASSWORD, &ClientInfo::default())
            .await
            .expect("the user can open a session")
    }

    /// The actor a browser session id authenticates as.
    pub async fn by_session(&self, id: &str) -> Result<Actor, Error> {
        self.core
            .services()
            .authenticator
            .authenticate(&Credential::Session(id.into()), &ClientInfo::default())
            .await
    }

    /// An admin-made chat with these members.
    pub async fn chat(&self, admin: &Actor, name: &str, members: &[&Actor]) -> ChatId {
        let participants: Vec<UserId> = members.iter().map(|a| a.id()).collect();
        self.core
            .membership()
            .create_chat(
                admin,
                NewChat {
                    name: name.into(),
                    participants,
                },
            )
            .await
            .unwrap()
            .id
    }
}

/// A registration for `name` with [`PASSWORD`] and an address at example.com.
fn registration(name: &str) -> Registration {
    Registration {
        username: name.into(),
        password: PASSWORD.into(),
        email: format!("{name}@example.com"),
        ..Default::default()
    }
}

/// A message with `content` and no `client_id`.
pub fn text(content: &str) -> NewMessage {
    NewMessage {
        content: content.into(),
        client_id: None,
    }
}

/// The next event of a subscription (`None` once it has ended); panics after 10 s.
pub async fn next(sub: &mut Subscription) -> Option<chatcore::model::Event> {
    tokio::time::timeout(std::time::Duration::from_secs(10), sub.next())
        .await
        .expect("an event within 10 s")
        .map(|frame| frame.event().clone())
}

/// The kind of an error result, for compact assertions.
pub fn kind<T: std::fmt::Debug>(r: Result<T, Error>) -> ErrorKind {
    r.expect_err("expected an error").kind()
}

/// Instantiates each listed `async fn name(t: TestCore)` for SQLite and PostgreSQL, with
/// `Config::for_tests()` or the config given after `with` (`name with Config { .. }`).
macro_rules! contract_tests {
    (@config) => { chatcore::Config::for_tests() };
    (@config $config:expr) => { $config };
    ($($name:ident $(with $config:expr)?),* $(,)?) => {
        mod sqlite {
            #[allow(unused_imports)]
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    let config = crate::fixture::contract_tests!(@config $($config)?);
                    super::$name(crate::fixture::TestCore::sqlite(config).await).await
                }
            )*
        }
        mod postgres {
            #[allow(unused_imports)]
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    let config = crate::fixture::contract_tests!(@config $($config)?);
                    let Some(t) = crate::fixture::TestCore::postgres(config).await else { return };
                    super::$name(t).await
                }
            )*
        }
    };
}
pub(crate) use contract_tests;
