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
    force_close: CancellationToken,
}

impl AppState {
    /// Assembles the state; `shutdown` is cancelled when the server should stop (tracked
    /// tasks finish on their own, e.g. a WebSocket closes with 1001), `force_close` when the
    /// shutdown grace is over (tracked tasks still running are dropped).
    pub fn new(
        services: Services,
        settings: Settings,
        shutdown: CancellationToken,
        force_close: CancellationToken,
    ) -> Self {
        Self(Arc::new(Shared {
            services,
            settings,
            tasks: TaskTracker::new(),
            shutdown,
            force_close,
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
    /// waits for it (it should end by itself once [`AppState::shutdown`] is cancelled; it
    /// is dropped when the shutdown grace is over), and inside the current span, so every
    /// line it logs carries the request id of the request that started it.
    pub fn spawn_tracked<F>(&self, task: F) -> JoinHandle<()>
    where
        F: Future<Output = ()> + Send + 'static,
    {
        spawn_in_current_span(&self.0.tasks, self.0.force_close.clone(), task)
    }
}

/// Spawns `task` on `tracker` inside the current span, dropped when `force_close` fires.
fn spawn_in_current_span<F>(
    tracker: &TaskTracker,
    force_close: CancellationToken,
    task: F,
) -> JoinHandle<()>
where
    F: Future<Output = ()> + Send + 'static,
{
    let task = async move {
        tokio::select! {
            () = task => {}
            () = force_close.cancelled() => {
                tracing::debug!("closed at the end of the shutdown grace");
            }
        }
    };
    tracker.spawn(task.instrument(tracing::Span::current()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_logs::Captured;

    #[tokio::test(flavor = "current_thread")]
    async fn a_long_lived_task_logs_inside_the_request_that_started_it() {
        let (captured, _guard) = Captured::start();
        let tracker = TaskTracker::new();
        let started = {
            let _request = tracing::info_span!("request", id = "req-42").entered();
            spawn_in_current_span(&tracker, CancellationToken::new(), async {
                tokio::task::yield_now().await;
                tracing::info!("socket closed");
            })
        };
        tracing::info!("outside any request");
        started.await.unwrap();
        let text = captured.text();
        let line = text.lines().find(|l| l.contains("socket closed")).unwrap();
        assert!(
            line.contains("id=\"req-42\"") || line.contains("id=req-42"),
            "{text}"
        );
        let outside = text.lines().find(|l| l.contains("outside")).unwrap();
        assert!(!outside.contains("req-42"), "{text}");
    }
}
