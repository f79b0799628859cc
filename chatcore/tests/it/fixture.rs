//! Test fixture: a fresh core on a fresh database per test, helpers to make actors, and the
//! `contract_tests!` macro that instantiates a test for every backend.

use chatcore::broker::LocalBroker;
use chatcore::model::{ChatId, NewChat, Registration, UserId};
use chatcore::store::Store;
use chatcore::store::postgres::PgStore;
use chatcore::store::sqlite::SqliteStore;
use chatcore::testing::{PgTestSchema, postgres_url};
use chatcore::{Actor, ChatCore, ClientInfo, Config, Credential, Error, ErrorKind};
use std::sync::Arc;

/// A strong password that passes every rule.
pub const PASSWORD: &str = "correct horse battery staple";

/// Raw access to the database, for tests that inspect tables.
pub enum Raw {
    Sqlite(sqlx::SqlitePool),
    Postgres(sqlx::PgPool),
}

impl Raw {
    /// All values of one text column of a table.
    pub async fn column(&self, table: &str, column: &str) -> Vec<String> {
        let sql = format!("SELECT {column} FROM {table}");
        match self {
            Raw::Sqlite(p) => sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
                .fetch_all(p)
                .await
                .unwrap(),
            Raw::Postgres(p) => sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
                .fetch_all(p)
                .await
                .unwrap(),
        }
    }

    /// `SELECT COUNT(*) FROM table`.
    pub async fn count(&self, table: &str) -> i64 {
        let sql = format!("SELECT COUNT(*) FROM {table}");
        match self {
            Raw::Sqlite(p) => sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
                .fetch_one(p)
                .await
                .unwrap(),
            Raw::Postgres(p) => sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
                .fetch_one(p)
                .await
                .unwrap(),
        }
    }
}

/// A core on its own database.
pub struct TestCore {
    pub core: ChatCore,
    pub raw: Raw,
    _dir: Option<tempfile::TempDir>,
    _schema: Option<PgTestSchema>,
}

impl TestCore {
    pub async fn sqlite(config: Config) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("chat.db").display());
        let store = SqliteStore::open(&url, 8).await.unwrap();
        let raw = Raw::Sqlite(store.pool().clone());
        Self::assemble(Arc::new(store), raw, config, Some(dir), None)
    }

    /// `None` (after a loud notice) when PostgreSQL is not configured.
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
        let core = ChatCore::with_parts(store, broker, config).unwrap();
        Self {
            core,
            raw,
            _dir: dir,
            _schema: schema,
        }
    }

    /// Registers `name` and returns the actor with their token.
    pub async fn user_with_token(&self, name: &str) -> (Actor, String) {
        let (_, token) = self
            .core
            .auth()
            .register(Registration {
                username: name.into(),
                password: PASSWORD.into(),
                email: format!("{name}@example.com"),
                ..Default::default()
            })
            .await
            .unwrap();
        let actor = self.by_token(&token).await.unwrap();
        (actor, token)
    }

    pub async fn user(&self, name: &str) -> Actor {
        self.user_with_token(name).await.0
    }

    pub async fn admin(&self, name: &str) -> Actor {
        let user = self
            .core
            .auth()
            .create_superuser(Registration {
                username: name.into(),
                password: PASSWORD.into(),
                email: format!("{name}@example.com"),
                ..Default::default()
            })
            .await
            .unwrap();
        self.core.auth().actor_for(user.id).await.unwrap()
    }

    pub async fn by_token(&self, token: &str) -> Result<Actor, Error> {
        self.core
            .services()
            .authenticator
            .authenticate(&Credential::Token(token.into()), &ClientInfo::default())
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

/// The kind of an error result, for compact assertions.
pub fn kind<T: std::fmt::Debug>(r: Result<T, Error>) -> ErrorKind {
    r.expect_err("expected an error").kind()
}

/// Instantiates each listed `async fn name(t: TestCore)` for SQLite and PostgreSQL, with
/// `Config::for_tests()` or the config returned by an optional `config_for_<name>()`.
macro_rules! contract_tests {
    ($($name:ident $(with $config:expr)?),* $(,)?) => {
        mod sqlite {
            #[allow(unused_imports)]
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    #[allow(unused_mut, unused_assignments)]
                    let mut config = chatcore::Config::for_tests();
                    $( config = $config; )?
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
                    #[allow(unused_mut, unused_assignments)]
                    let mut config = chatcore::Config::for_tests();
                    $( config = $config; )?
                    let Some(t) = crate::fixture::TestCore::postgres(config).await else { return };
                    super::$name(t).await
                }
            )*
        }
    };
}
pub(crate) use contract_tests;
