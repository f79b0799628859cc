//! What the SDK keeps of an answer's headers: `x-request-id` (the id the server logged the
//! request under) and `Retry-After` (as a wait from now). Errors carry both.

use http::{HeaderMap, HeaderValue};
use std::time::Duration;
use time::OffsetDateTime;

/// The longest `x-request-id` the SDK keeps (the server makes ids of 64 characters at most).
const MAX_REQUEST_ID: usize = 128;

/// What the SDK keeps of an answer's headers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct AnswerMeta {
    /// `x-request-id`: the id the server logged the request under.
    pub(crate) request_id: Option<String>,
    /// `Retry-After`, as a wait from now.
    pub(crate) retry_after: Option<Duration>,
}

impl AnswerMeta {
    /// Reads `x-request-id` (printable ASCII, bounded) and `Retry-After` from `headers`.
    pub(crate) fn from_headers(headers: &HeaderMap) -> Self {
        let request_id = headers
            .get("x-request-id")
            .and_then(|v| v.to_str().ok())
            .filter(|id| !id.is_empty() && id.len() <= MAX_REQUEST_ID)
            .map(str::to_owned);
        let retry_after = headers
            .get(http::header::RETRY_AFTER)
            .and_then(|v| retry_after(v, OffsetDateTime::now_utc()));
        Self {
            request_id,
            retry_after,
        }
    }
}

/// A `Retry-After` value as a wait from `now`: delay-seconds, or an HTTP date (a date in the
/// past is no wait at all). Anything else is ignored.
pub(crate) fn retry_after(value: &HeaderValue, now: OffsetDateTime) -> Option<Duration> {
    let text = value.to_str().ok()?.trim();
    if let Ok(seconds) = text.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let format = time::macros::format_description!(
        "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
    );
    let at = time::PrimitiveDateTime::parse(text, format)
        .ok()?
        .assume_utc();
    Some(Duration::try_from(at - now).unwrap_or(Duration::ZERO))
}
