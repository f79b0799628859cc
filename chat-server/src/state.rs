//! The shared state every request handler sees: a cheap-clone handle (`Arc`) over the core's
//! services, the settings, the route table, and what long-lived tasks (WebSocket sessions,
//! coming next) need to stop cleanly: a [`TaskTracker`] and the shutdown token.

use crate::router::Router;
use crate::settings::Settings;
use chatcore::Services;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// Cheap-clone handle to the server's shared state.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

struct Shared {
    services: Services,
    settings: Settings,
    router: Router,
    tasks: TaskTracker,
    shutdown: CancellationToken,
}

impl AppState {
    /// Assembles the state; `shutdown` is cancelled when the server should stop.
    pub fn new(services: Services, settings: Settings, shutdown: CancellationToken) -> Self {
        Self(Arc::new(Shared {
            services,
            settings,
            router: Router::new(),
            tasks: TaskTracker::new(),
            shutdown,
        }))
    }

    /// The core's services.
    pub fn services(&self) -> &Services {
        &self.0.services
    }

    /// The HTTP settings.
    pub fn settings(&self) -> &Settings {
        &self.0.settings
    }

    /// The route table, compiled.
    pub fn router(&self) -> &Router {
        &self.0.router
    }

    /// Tracks tasks that outlive their request (upgraded connections); shutdown waits for them.
    pub fn tasks(&self) -> &TaskTracker {
        &self.0.tasks
    }

    /// Cancelled when the server shuts down.
    pub fn shutdown(&self) -> &CancellationToken {
        &self.0.shutdown
    }
}
