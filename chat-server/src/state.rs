//! The shared state every request handler sees: a cheap-clone handle (`Arc`) over the core's
//! services, the settings, and what long-lived tasks (WebSocket sessions) need to stop
//! cleanly: a [`TaskTracker`] that shutdown waits for, and the shutdown token.
//!
//! The compiled route table is not here: it belongs to the dispatcher (`layers::service`),
//! so the table's handlers may take this state without a cycle.

use crate::settings::Settings;
use chatcore::Services;
use std::future::Future;
use std::sync::Arc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::Instrument;

/// Cheap-clone handle to the server's shared state.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

struct Shared {
    services: Services,
    settings: Settings,
    tasks: TaskTracker,
    shutdown: CancellationToken,
}

impl AppState {
    /// Assembles the state; `shutdown` is cancelled when the server should stop.
    pub fn new(services: Services, settings: Settings, shutdown: CancellationToken) -> Self {
        Self(Arc::new(Shared {
            services,
            settings,
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

    /// Tracks tasks that outlive their request (upgraded connections); shutdown waits for them.
    pub fn tasks(&self) -> &TaskTracker {
        &self.0.tasks
    }

    /// Cancelled when the server shuts down.
    pub fn shutdown(&self) -> &CancellationToken {
        &self.0.shutdown
    }

    /// Spawns a task that outlives its request (a WebSocket session): tracked, so shutdown
    /// waits for it, and inside the current span, so every line it logs carries the request
    /// id of the request that started it.
    pub fn spawn_tracked<F>(&self, task: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.0
            .tasks
            .spawn(task.instrument(tracing::Span::current()))
    }
}
