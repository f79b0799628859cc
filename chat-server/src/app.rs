//! The server's life: [`serve`] accepts connections on a listener the caller bound (tests
//! bind port 0), serves each with hyper-util's auto (HTTP/1.1 + HTTP/2) builder with
//! upgrades, and on shutdown stops accepting, lets open requests finish (bounded by the
//! grace period) and waits for tracked tasks such as WebSocket sessions.
//! [`serve_with_metrics`] adds the metrics listener beside it. [`Application`] is the binary's
//! path: open the core, bind, serve until a signal.

use crate::conn::ClientSocket;
use crate::http::client_ip::PeerAddr;
use crate::layers;
use crate::settings::{MIN_MAX_HEADER_BYTES, Settings};
use crate::state::AppState;
use chatcore::broker::redis::{RedisBroker, RedisError, RedisSettings};
use chatcore::{ChatCore, Config, Services};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower::ServiceExt;

/// Why the server could not start or run.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The core could not open its database.
    #[error("cannot open the database: {0}")]
    Core(#[from] chatcore::Error),
    /// The Redis of several nodes did not answer at start.
    #[error("{0}")]
    Redis(#[from] RedisError),
    /// A socket error.
    #[error("{0}")]
    Io(#[from] io::Error),
    /// A configured origin is invalid.
    #[error("invalid allowed origin: {0}")]
    Origin(#[from] tower_http::csrf::ConfigError),
}

/// Serves HTTP on `listener` until `shutdown` is cancelled.
///
/// Shutdown: the listener is dropped at once; open requests and tracked tasks (WebSocket
/// sessions, which see the same token) get one `shutdown_grace` in all; whatever is still
/// open then is closed. With nothing open, it returns at once.
///
/// # Errors
/// An invalid allowed origin in `settings`.
pub async fn serve(
    listener: TcpListener,
    services: Services,
    settings: Settings,
    shutdown: CancellationToken,
) -> Result<(), ServeError> {
    let force_close = CancellationToken::new();
    let state = AppState::new(
        services,
        settings.clone(),
        shutdown.clone(),
        force_close.clone(),
    );
    let service = layers::service::<hyper::body::Incoming>(state.clone())?;
    let mut builder = auto::Builder::new(TokioExecutor::new());
    // HTTP/1 answers 431 (and closes) once a head outgrows the read buffer.
    let max_header_bytes = settings.max_header_bytes.max(MIN_MAX_HEADER_BYTES);
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(settings.header_read_timeout)
        .max_buf_size(max_header_bytes);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_header_list_size(u32::try_from(max_header_bytes).unwrap_or(u32::MAX));
    let graceful = GracefulShutdown::new();
    let permits = Arc::new(Semaphore::new(settings.connection_limit.max(1)));
    let connections = TaskTracker::new();
    loop {
        // At the cap, wait for a connection to close before accepting the next one.
        let permit = tokio::select! {
            permit = permits.clone().acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_closed) => break,
            },
            () = shutdown.cancelled() => break,
        };
        let Some((stream, peer)) = crate::conn::accept(&listener, &shutdown).await else {
            break;
        };
        let service = service.clone();
        let hyper_service = hyper::service::service_fn(move |mut req| {
            req.extensions_mut().insert(PeerAddr(peer));
            service.clone().oneshot(req)
        });
        let socket = ClientSocket::new(stream, settings.idle_timeout, Some(permit));
        let conn = builder.serve_connection_with_upgrades(TokioIo::new(socket), hyper_service);
        let conn = graceful.watch(conn.into_owned());
        let force_close = force_close.clone();
        connections.spawn(async move {
            tokio::select! {
                result = conn => if let Err(e) = result {
                    tracing::debug!(error = %e, %peer, "connection ended with an error");
                },
                () = force_close.cancelled() => {
                    tracing::debug!(%peer, "connection closed at the end of the shutdown grace");
                }
            }
        });
    }
    drop(listener);
    tracing::info!("shutting down: no new connections; finishing open requests");
    let deadline = tokio::time::Instant::now() + settings.shutdown_grace;
    if tokio::time::timeout_at(deadline, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("open requests did not finish in time; closing their connections");
    }
    state.tasks().close();
    if tokio::time::timeout_at(deadline, state.tasks().wait())
        .await
        .is_err()
    {
        tracing::warn!("long-lived tasks did not finish in time; closing them");
    }
    force_close.cancel();
    connections.close();
    connections.wait().await;
    state.tasks().wait().await;
    Ok(())
}

/// [`serve`], and beside it, when `metrics` is a listener, the Prometheus metrics on it
/// ([`crate::metrics::serve`]); both stop with `shutdown`, the metrics once [`serve`] has
/// returned.
///
/// # Errors
/// See [`serve`].
pub async fn serve_with_metrics(
    listener: TcpListener,
    metrics: Option<TcpListener>,
    services: Services,
    settings: Settings,
    shutdown: CancellationToken,
) -> Result<(), ServeError> {
    let stop_metrics = shutdown.child_token();
    let metrics = metrics.map(|l| tokio::spawn(crate::metrics::serve(l, stop_metrics.clone())));
    let result = serve(listener, services, settings, shutdown).await;
    stop_metrics.cancel();
    if let Some(task) = metrics
        && let Err(e) = task.await
    {
        tracing::warn!(error = %e, "the metrics listener failed");
    }
    result
}

/// The binary's server: a core on its database and a bound listener (and one for metrics
/// with [`Application::with_metrics`]).
pub struct Application {
    core: ChatCore,
    listener: TcpListener,
    metrics: Option<TcpListener>,
    settings: Settings,
}

impl Application {
    /// Opens the database at `database_url` (applying migrations) and binds `bind`.
    ///
    /// # Errors
    /// The database cannot be opened or the address cannot be bound.
    pub async fn build(
        database_url: &str,
        config: Config,
        bind: SocketAddr,
        settings: Settings,
    ) -> Result<Self, ServeError> {
        let core = ChatCore::open(database_url, config).await?;
        let listener = TcpListener::bind(bind).await?;
        Ok(Self {
            core,
            listener,
            metrics: None,
            settings,
        })
    }

    /// [`Application::build`] for one of several nodes behind one database: events fan out
    /// to the other nodes through Redis. Redis must answer at start; if it goes away later,
    /// the node serves its own clients, reconnects, and catches up from the database.
    ///
    /// # Errors
    /// Redis does not answer, the database cannot be opened or the address cannot be bound.
    pub async fn build_with_redis(
        database_url: &str,
        redis: &RedisSettings,
        config: Config,
        bind: SocketAddr,
        settings: Settings,
    ) -> Result<Self, ServeError> {
        let broker = RedisBroker::connect(redis, config.subscriber_buffer).await?;
        let core = ChatCore::open_with_broker(database_url, Arc::new(broker), config).await?;
        let listener = TcpListener::bind(bind).await?;
        Ok(Self {
            core,
            listener,
            metrics: None,
            settings,
        })
    }

    /// The address actually bound (port 0 resolved).
    ///
    /// # Errors
    /// The socket is gone.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Also serves the Prometheus metrics on `bind`, a listener apart from the public one.
    ///
    /// # Errors
    /// The address cannot be bound.
    pub async fn with_metrics(mut self, bind: SocketAddr) -> Result<Self, ServeError> {
        self.metrics = Some(TcpListener::bind(bind).await?);
        Ok(self)
    }

    /// The metrics listener's address, if metrics are served.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics.as_ref().and_then(|l| l.local_addr().ok())
    }

    /// Serves until `shutdown` is cancelled, then stores every queued message and stops.
    ///
    /// # Errors
    /// See [`serve`].
    pub async fn run_until_stopped(self, shutdown: CancellationToken) -> Result<(), ServeError> {
        let services = self.core.services();
        let result = serve_with_metrics(
            self.listener,
            self.metrics,
            services,
            self.settings,
            shutdown,
        )
        .await;
        self.core.shutdown().await;
        result
    }
}

/// A token cancelled on SIGINT (Ctrl-C) or SIGTERM; a second signal exits the process at
/// once (status 130), without waiting for the shutdown grace.
pub fn shutdown_on_signals() -> CancellationToken {
    let token = CancellationToken::new();
    let cancel = token.clone();
    tokio::spawn(async move {
        #[cfg(unix)]
        let mut terminate =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(sig) => Some(sig),
                Err(e) => {
                    tracing::warn!(error = %e, "cannot listen for SIGTERM");
                    None
                }
            };
        for second in [false, true] {
            #[cfg(unix)]
            let sigterm = async {
                match terminate.as_mut() {
                    Some(sig) => {
                        sig.recv().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            };
            #[cfg(not(unix))]
            let sigterm = std::future::pending::<()>();
            tokio::select! {
                _ = tokio::signal::ctrl_c() => tracing::info!("SIGINT received"),
                () = sigterm => tracing::info!("SIGTERM received"),
            }
            if second {
                // Straight to stderr: `process::exit` skips the log thread's final flush.
                eprintln!("second signal: exiting without waiting for open connections");
                std::process::exit(130);
            }
            cancel.cancel();
        }
    });
    token
}
