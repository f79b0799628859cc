//! `chat-server`: the closed team messenger's HTTP server on `chatcore`.
//!
//! It is assembled from chatcore's service traits ([`chatcore::Services`]), so an
//! application can plug in its own authentication or mount [`layers::service`] inside its
//! own hyper stack. [`serve`] runs it on a listener the caller bound; [`Application`] is
//! the binary's path (open the database, bind, serve until a signal); [`cli`] is the
//! command line.
//!
//! Modules by concern: `routes` (the one route table, data only, and the OpenAPI document
//! made from it), `dispatch` (from a request to its row's handler), `api` (REST handlers),
//! `http` (the request pipeline and plumbing shared by every front end), `layers` (the
//! tower stack), `app` (accept loop and shutdown), `metrics` (the Prometheus listener),
//! `ws` (WebSockets) and `web` (the browser UI's pages), each as rows of the same table.

#![warn(missing_docs)]

pub mod api;
pub mod app;
pub mod cli;
pub mod conn;
pub mod dispatch;
pub mod http;
pub mod layers;
pub mod metrics;
pub mod refusal;
pub mod routes;
pub mod settings;
pub mod state;
#[cfg(test)]
mod test_logs;
pub mod web;
pub mod ws;

pub use app::{Application, ServeError, serve, serve_with_metrics, shutdown_on_signals};
pub use settings::Settings;
pub use state::AppState;
