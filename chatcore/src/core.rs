//! Assembly: [`ChatCore`] wires a store, a broker and the writer into the three services,
//! and [`Services`] is the bundle of trait objects a front end is built from.

use crate::broker::{Broker, LocalBroker};
use crate::config::Config;
use crate::error::Result;
use crate::service::{
    AuthService, Authenticator, CoreAuth, CoreMembership, CoreMessaging, MembershipService,
    MessagingService,
};
use crate::store::cache::CachedStore;
use crate::store::{self, Store};
use crate::writer::Writer;
use async_trait::async_trait;
use std::sync::Arc;

/// Whether the core can serve (the store answers).
#[async_trait]
pub trait HealthCheck: Send + Sync {
    /// `Ok` when healthy, `Unavailable` otherwise.
    async fn check(&self) -> Result<()>;
}

struct StoreHealth(Arc<dyn Store>);

#[async_trait]
impl HealthCheck for StoreHealth {
    async fn check(&self) -> Result<()> {
        self.0.ping().await
    }
}

/// The services a front end needs, as replaceable trait objects: swap `authenticator` (and
/// `auth`) to plug in another identity source.
#[derive(Clone)]
pub struct Services {
    /// Accounts, passwords, tokens, sessions.
    pub auth: Arc<dyn AuthService>,
    /// Turns credentials into actors.
    pub authenticator: Arc<dyn Authenticator>,
    /// Chats and members.
    pub membership: Arc<dyn MembershipService>,
    /// Messages and subscriptions.
    pub messaging: Arc<dyn MessagingService>,
    /// Readiness of the backing store.
    pub health: Arc<dyn HealthCheck>,
}

/// The running core: store, broker, group-commit writer and services.
///
/// Embedding code reaches the data only through the services, whose every call takes an
/// [`Actor`](crate::Actor) only the auth service can make: the core hands out neither its
/// store, nor its broker, nor its writer, and no one outside the crate can make an event for
/// subscribers. The way in compiles:
///
/// ```no_run
/// async fn the_way_in(core: &chatcore::ChatCore, event: &chatcore::SharedEvent) {
///     let _services = (core.auth(), core.membership(), core.messaging(), event.event());
/// }
/// ```
///
/// Each of these is a compile error:
///
/// ```compile_fail,E0599
/// async fn set_myself_admin(core: &chatcore::ChatCore) {
///     let _store = core.store();
/// }
/// ```
///
/// ```compile_fail,E0599
/// async fn publish_a_fake_message(core: &chatcore::ChatCore) {
///     let _broker = core.broker();
/// }
/// ```
///
/// ```compile_fail,E0624
/// fn forge_an_event(event: chatcore::model::Event) {
///     let _frame = chatcore::broker::EventFrame::new(event);
/// }
/// ```
///
/// ```compile_fail,E0603
/// fn reach_the_writer() -> usize {
///     std::mem::size_of::<chatcore::writer::Writer>()
/// }
/// ```
pub struct ChatCore {
    broker: Arc<dyn Broker>,
    writer: Arc<Writer>,
    services: Services,
    config: Arc<Config>,
}

impl ChatCore {
    /// Opens the database `url` names (`sqlite://…`, `postgres://…`), applies migrations and
    /// starts the writer with the in-process broker.
    pub async fn open(url: &str, config: Config) -> Result<Self> {
        let broker = Arc::new(LocalBroker::new(config.subscriber_buffer));
        Self::open_with_broker(url, broker, config).await
    }

    /// [`ChatCore::open`] with another broker, e.g. the Redis one of several nodes
    /// (`broker::redis::RedisBroker::connect`, feature `redis`).
    pub async fn open_with_broker(
        url: &str,
        broker: Arc<dyn Broker>,
        config: Config,
    ) -> Result<Self> {
        let store = store::open(url, config.max_connections).await?;
        Self::with_parts(store, broker, config)
    }

    /// Builds the core on an opened store and a broker (Redis, or a shared local one).
    pub fn with_parts(
        store: Arc<dyn Store>,
        broker: Arc<dyn Broker>,
        config: Config,
    ) -> Result<Self> {
        let config = Arc::new(config);
        let store: Arc<dyn Store> = match config.cache.enabled {
            true => Arc::new(CachedStore::new(store, &config.cache)),
            false => store,
        };
        // SQLite has one writer per process (it has one write lock anyway).
        let shards = match store.backend() {
            "sqlite" => 1,
            _ => config.pg_writers,
        };
        let writer = Arc::new(Writer::start(
            store.clone(),
            broker.clone(),
            shards,
            config.max_batch,
        ));
        let auth = Arc::new(CoreAuth::new(
            store.clone(),
            broker.clone(),
            config.clone(),
        )?);
        let services = Services {
            authenticator: auth.clone(),
            auth,
            membership: Arc::new(CoreMembership::new(store.clone(), broker.clone())),
            messaging: Arc::new(CoreMessaging::new(
                store.clone(),
                broker.clone(),
                writer.clone(),
                config.clone(),
            )),
            health: Arc::new(StoreHealth(store.clone())),
        };
        Ok(Self {
            broker,
            writer,
            services,
            config,
        })
    }

    /// The service bundle (cheap to clone).
    pub fn services(&self) -> Services {
        self.services.clone()
    }

    /// Accounts and authentication.
    pub fn auth(&self) -> &Arc<dyn AuthService> {
        &self.services.auth
    }

    /// Chats and members.
    pub fn membership(&self) -> &Arc<dyn MembershipService> {
        &self.services.membership
    }

    /// Messages and subscriptions.
    pub fn messaging(&self) -> &Arc<dyn MessagingService> {
        &self.services.messaging
    }

    /// The settings in force.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Stops taking posts and waits until every queued one is stored and handed to the
    /// broker (which passes on what it still has for other nodes). Services still held
    /// elsewhere answer `Unavailable` to posts afterwards.
    pub async fn shutdown(self) {
        self.writer.shutdown().await;
        self.broker.shutdown().await;
    }
}
