//! Shared HTTP plumbing for every front end (REST now; HTML pages and WebSockets next): the
//! request pipeline (`ctx`: client address, credentials, body, CSRF), body types and
//! parsing, path parameters, the front ends and how each renders a refusal (`front`), and
//! the one error type every refusal starts as (`error`).

pub mod auth;
pub mod body;
pub mod client_ip;
pub mod cookies;
pub mod csrf;
pub mod ctx;
pub mod error;
pub mod form;
pub mod front;
pub mod params;
pub mod query;
pub mod response;

use bytes::Bytes;
use http_body_util::combinators::UnsyncBoxBody;

/// Any error a body or a layer may produce.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The body of every response the server writes (and of requests once they enter the
/// router): boxed, so buffered JSON, embedded files and streams share one type.
pub type Body = UnsyncBoxBody<Bytes, BoxError>;

pub use error::ApiError;

/// Boxes a buffered body.
pub fn full(bytes: impl Into<Bytes>) -> Body {
    use http_body_util::BodyExt;
    http_body_util::Full::new(bytes.into())
        .map_err(|never| match never {})
        .boxed_unsync()
}

/// An empty body.
pub fn empty() -> Body {
    full(Bytes::new())
}
