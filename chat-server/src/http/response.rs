//! Building successful responses: JSON (UTF-8, unescaped, `application/json`) and empty ones.

use super::{Body, empty, full};
use http::header::{CACHE_CONTROL, CONTENT_TYPE, HeaderValue};
use http::{Response, StatusCode};
use serde::Serialize;

/// The `Content-Type` of every JSON answer.
pub const JSON: HeaderValue = HeaderValue::from_static("application/json");

/// `value` as a JSON response with `status`. API answers are per-user, so none is cached.
pub fn json<T: Serialize + ?Sized>(status: StatusCode, value: &T) -> Response<Body> {
    match serde_json::to_vec(value) {
        Ok(bytes) => json_bytes(status, bytes),
        Err(e) => {
            // Our wire types always serialize; reaching this is a bug.
            tracing::error!(error = %e, "a response failed to serialize");
            let mut resp = Response::new(full(
                &br#"{"error":"Internal server error","code":"internal"}"#[..],
            ));
            *resp.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
            resp.headers_mut().insert(CONTENT_TYPE, JSON);
            resp
        }
    }
}

/// JSON already serialized (a history page the core assembled from cached messages) as a
/// response with `status`, with the headers of [`json`].
pub fn json_bytes(status: StatusCode, bytes: Vec<u8>) -> Response<Body> {
    let mut resp = Response::new(full(bytes));
    *resp.status_mut() = status;
    resp.headers_mut().insert(CONTENT_TYPE, JSON);
    resp.headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

/// 204 without a body.
pub fn no_content() -> Response<Body> {
    let mut resp = Response::new(empty());
    *resp.status_mut() = StatusCode::NO_CONTENT;
    resp
}
