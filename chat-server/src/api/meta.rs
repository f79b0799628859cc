//! About the server itself: health and the OpenAPI document.

use super::Ctx;
use crate::http::response::{JSON, json};
use crate::http::{ApiError, Body, full};
use http::header::{CACHE_CONTROL, CONTENT_TYPE, HeaderValue};
use http::{Response, StatusCode};
use serde_json::json;

/// `GET /healthz` → 200 `{"status":"ok"}` when the store answers, else 503.
pub async fn health(ctx: Ctx) -> Result<Response<Body>, ApiError> {
    match ctx.services().health.check().await {
        Ok(()) => Ok(json(StatusCode::OK, &json!({"status": "ok"}))),
        Err(e) => {
            tracing::warn!(error = %e, "health check failed");
            Err(ApiError::from(match e {
                unavailable @ chatcore::Error::Unavailable { .. } => unavailable,
                _ => chatcore::Error::Unavailable {
                    retry_after: std::time::Duration::from_secs(1),
                },
            }))
        }
    }
}

/// `GET /api/openapi.json` → the OpenAPI 3.1 document (built once).
pub async fn openapi(_: Ctx) -> Result<Response<Body>, ApiError> {
    let mut resp = Response::new(full(super::openapi::document_bytes()));
    resp.headers_mut().insert(CONTENT_TYPE, JSON);
    resp.headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    Ok(resp)
}
