//! About the server itself: health. (The OpenAPI document is served by `routes::openapi`,
//! beside the table it is made from.)

use crate::http::ctx::Ctx;
use crate::http::response::json;
use crate::http::{ApiError, Body};
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
