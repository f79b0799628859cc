//! Shared HTTP plumbing for every front end (REST now; HTML pages and WebSockets later):
//! body types, credential extraction, body parsing, the client's address, CSRF, and the one
//! place where errors become responses.

pub mod auth;
pub mod body;
pub mod client_ip;
pub mod csrf;
pub mod error;
pub mod form;
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
