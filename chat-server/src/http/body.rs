//! Reading request bodies: at most the configured size (413 beyond), JSON or
//! `application/x-www-form-urlencoded` wherever a body is read (415 for anything else), and
//! a body that does not fit the expected shape (an array, a wrong type, a missing field)
//! is a 400, never a 500.

use super::{ApiError, Body, form};
use bytes::{Bytes, BytesMut};
use http::HeaderMap;
use http::header::CONTENT_TYPE;
use http_body_util::{BodyExt, LengthLimitError};
use serde::de::DeserializeOwned;

/// The formats a request body may have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `application/json` (or any `…+json`).
    Json,
    /// `application/x-www-form-urlencoded`.
    Form,
    /// No `Content-Type` at all (only acceptable with an empty body).
    Unspecified,
}

/// The format the `Content-Type` header declares; 415 for other types.
pub fn format(headers: &HeaderMap) -> Result<Format, ApiError> {
    let Some(value) = headers.get(CONTENT_TYPE) else {
        return Ok(Format::Unspecified);
    };
    let value = value
        .to_str()
        .map_err(|_| ApiError::unsupported_media_type())?;
    let essence = value
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    match essence.as_str() {
        "application/json" => Ok(Format::Json),
        "application/x-www-form-urlencoded" => Ok(Format::Form),
        e if e.starts_with("application/") && e.ends_with("+json") => Ok(Format::Json),
        _ => Err(ApiError::unsupported_media_type()),
    }
}

/// Reads the whole body, refusing more than `limit` bytes with 413.
pub async fn read(mut body: Body, limit: usize) -> Result<Bytes, ApiError> {
    // A plain loop rather than `http_body_util::Limited`: its `Into<BoxError>` bound over
    // our boxed body trips rustc's higher-ranked check when the future must be `Send`.
    let mut buf = BytesMut::new();
    while let Some(frame) = body.frame().await {
        let frame = match frame {
            Ok(frame) => frame,
            Err(e) if is_length_limit(&*e) => return Err(ApiError::payload_too_large(limit)),
            Err(e) => {
                tracing::debug!(error = %e, "reading the request body failed");
                return Err(ApiError::malformed("the request body could not be read"));
            }
        };
        if let Ok(data) = frame.into_data() {
            if buf.len() + data.len() > limit {
                return Err(ApiError::payload_too_large(limit));
            }
            buf.extend_from_slice(&data);
        }
    }
    Ok(buf.freeze())
}

/// Whether a body error (or one of its sources) is the length limit of a tower layer.
fn is_length_limit(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut current: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = current {
        if err.is::<LengthLimitError>() {
            return true;
        }
        current = err.source();
    }
    false
}

/// Parses a read body as `T`, by its declared format. An empty body without a
/// `Content-Type` is read as `{}` (so optional-only bodies may be left out).
pub fn parse<T: DeserializeOwned>(headers: &HeaderMap, body: &[u8]) -> Result<T, ApiError> {
    match format(headers)? {
        Format::Json => {
            // serde reads a struct from an array too (`["hi"]` as `{content: "hi"}`); every
            // body of this API is an object, so anything else is refused up front.
            let first = body.iter().find(|b| !b.is_ascii_whitespace());
            if first.is_some_and(|b| *b != b'{') {
                return Err(ApiError::malformed("the body must be a JSON object"));
            }
            serde_json::from_slice(body).map_err(ApiError::malformed)
        }
        Format::Form => form::from_bytes(body).map_err(ApiError::malformed),
        Format::Unspecified if body.iter().all(u8::is_ascii_whitespace) => {
            serde_json::from_slice(b"{}").map_err(ApiError::malformed)
        }
        Format::Unspecified => Err(ApiError::unsupported_media_type()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)] // Read by Debug only.
    struct Login {
        username: String,
        password: String,
    }

    fn headers(ct: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(CONTENT_TYPE, HeaderValue::from_str(ct).unwrap());
        h
    }

    fn status(ct: &str, body: &str) -> u16 {
        match parse::<Login>(&headers(ct), body.as_bytes()) {
            Ok(_) => 200,
            Err(e) => e.status().as_u16(),
        }
    }

    #[test]
    fn json_and_forms_are_read_and_other_types_refused() {
        let json = r#"{"username":"a","password":"b"}"#;
        assert_eq!(status("application/json", json), 200);
        assert_eq!(status("application/json; charset=utf-8", json), 200);
        assert_eq!(
            status("application/x-www-form-urlencoded", "username=a&password=b"),
            200
        );
        assert_eq!(status("text/plain", json), 415);
        assert_eq!(status("multipart/form-data; boundary=x", json), 415);
    }

    #[test]
    fn arrays_wrong_types_and_garbage_are_400() {
        assert_eq!(status("application/json", "[1,2]"), 400);
        assert_eq!(status("application/json", r#"["a","b"]"#), 400);
        assert_eq!(
            status("application/json", r#"{"username":1,"password":"b"}"#),
            400
        );
        assert_eq!(status("application/json", "{"), 400);
        assert_eq!(status("application/json", ""), 400);
        assert_eq!(status("application/json", "null"), 400);
    }

    #[tokio::test]
    async fn a_body_over_the_limit_is_413() {
        let e = read(crate::http::full(vec![b'x'; 11]), 10)
            .await
            .unwrap_err();
        assert_eq!(e.status().as_u16(), 413);
        assert_eq!(read(crate::http::full("ok"), 10).await.unwrap(), "ok");
    }
}
