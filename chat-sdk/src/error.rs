//! The SDK's one error type: transport failures, the server's own `{"error", "code"}` answers
//! (with the status, the server's text, `Retry-After` and the request id), bodies that do
//! not match the contract (described by length and position, never quoted), and the
//! WebSocket's failures. Also the pure function that turns an error answer into an [`Error`].

use crate::answer_meta::AnswerMeta;
use chatcore::{ErrorBody, ErrorKind};
use serde::Deserialize;
use std::time::Duration;

/// Result with the SDK's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong when talking to the chat server.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The server answered with an error status; `message` is its `error` text.
    #[error("server answered {status}: {message}")]
    #[non_exhaustive]
    Api {
        /// The HTTP status code (also the status of a refused WebSocket upgrade).
        status: u16,
        /// The machine-readable `code`, when the server sent a known one.
        kind: Option<ErrorKind>,
        /// The server's `error` text (or a short description when the body had none).
        message: String,
        /// How long the server asked the client to wait (`Retry-After`), if it did.
        retry_after: Option<Duration>,
        /// The `x-request-id` the server logged the request under, if it sent one.
        request_id: Option<String>,
    },
    /// The server answered a WebSocket frame with an `error` event.
    #[error("server refused the frame: {message}")]
    Rejected {
        /// The machine-readable `code`, when the server sent a known one.
        kind: Option<ErrorKind>,
        /// The server's `error` text.
        message: String,
    },
    /// The request never got an answer: connection refused, timeout, TLS failure…
    #[error("HTTP transport error: {0}")]
    Transport(#[from] reqwest::Error),
    /// The WebSocket failed below the chat protocol (handshake, I/O, protocol violation).
    #[error("WebSocket error: {0}")]
    WebSocket(#[source] Box<tokio_tungstenite::tungstenite::Error>),
    /// The server answered, but not with what the API promises for this request. The body
    /// itself is not kept (it may hold a token): only its length and where parsing failed.
    #[error("unexpected answer from {context}: {reason} (a body of {length} bytes)")]
    #[non_exhaustive]
    Decode {
        /// What was being read, e.g. `GET http://host/api/chat/` or `WebSocket frame`.
        context: String,
        /// The HTTP status of the answer, if it was an HTTP answer.
        status: Option<u16>,
        /// Why the body does not fit, and where (`… at line 1 column 17`).
        reason: String,
        /// The body's length in bytes.
        length: usize,
        /// The `x-request-id` of the answer, if it had one.
        request_id: Option<String>,
    },
    /// The SDK refused to send the request: an argument failed validation (a base URL that
    /// is not `http(s)`, a token that cannot be a header, a history page out of range…).
    #[error("invalid request: {0}")]
    Invalid(#[from] chatcore::Error),
    /// The chat connection is closed: the server ended it (you were removed, the chat was
    /// deleted, the credential was revoked), it was closed by
    /// [`crate::ChatConnection::close`], or it closed before the server acknowledged a frame
    /// it could not take (such as one over the size limit).
    #[error("chat connection closed: {reason}")]
    Closed {
        /// The WebSocket close code, when the server sent one.
        code: Option<u16>,
        /// Why.
        reason: String,
    },
    /// The chat connection kept failing to come back and gave up.
    #[error("gave up reconnecting after {attempts} attempts: {last}")]
    ReconnectFailed {
        /// How many connection attempts failed in a row.
        attempts: u32,
        /// The last attempt's error.
        last: Box<Error>,
    },
}

impl Error {
    /// The HTTP status of an error answer (`Api`), or of the answer that did not decode.
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::Api { status, .. } => Some(*status),
            Error::Decode { status, .. } => *status,
            Error::Transport(e) => e.status().map(|s| s.as_u16()),
            Error::ReconnectFailed { last, .. } => last.status(),
            _ => None,
        }
    }

    /// The server's error kind (`Api`, `Rejected`) or the kind of a local validation failure.
    pub fn kind(&self) -> Option<ErrorKind> {
        match self {
            Error::Api { kind, .. } | Error::Rejected { kind, .. } => *kind,
            Error::Invalid(e) => Some(e.kind()),
            Error::ReconnectFailed { last, .. } => last.kind(),
            _ => None,
        }
    }

    /// The server's `error` text, when the server sent one.
    pub fn server_message(&self) -> Option<&str> {
        match self {
            Error::Api { message, .. } | Error::Rejected { message, .. } => Some(message),
            Error::ReconnectFailed { last, .. } => last.server_message(),
            _ => None,
        }
    }

    /// How long the server asked to wait before trying again (its `Retry-After` header, on
    /// a 429 or 503 answer or a refused WebSocket upgrade).
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Error::Api { retry_after, .. } => *retry_after,
            Error::ReconnectFailed { last, .. } => last.retry_after(),
            _ => None,
        }
    }

    /// The id the server logged the request under (its `x-request-id` header): quote it
    /// when asking the server's operators what happened.
    pub fn request_id(&self) -> Option<&str> {
        match self {
            Error::Api { request_id, .. } | Error::Decode { request_id, .. } => {
                request_id.as_deref()
            }
            Error::ReconnectFailed { last, .. } => last.request_id(),
            _ => None,
        }
    }

    /// Whether the same request may succeed later: the network failed (no answer, a dropped
    /// socket), the server was busy or unavailable (408, 429, 502, 503, 504, or any answer
    /// with `Retry-After`), a socket closed for going away (1001), an internal error
    /// (1011–1013) or falling behind (4000), or a frame was refused for its rate. Refusals of
    /// the request itself (400, 401, 403, 404, 409…), answers that do not decode, and a
    /// connection that gave up are not. A retried post is safe when it carries the same
    /// `client_id` (the SDK makes one when the caller gives none).
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::Api {
                status,
                retry_after,
                ..
            } => retry_after.is_some() || matches!(status, 408 | 429 | 502 | 503 | 504),
            Error::Rejected { kind, .. } => {
                matches!(kind, Some(ErrorKind::RateLimited | ErrorKind::Unavailable))
            }
            Error::Transport(e) => {
                e.is_timeout() || e.is_connect() || e.is_request() || e.is_body()
            }
            Error::WebSocket(e) => matches!(
                **e,
                tokio_tungstenite::tungstenite::Error::Io(_)
                    | tokio_tungstenite::tungstenite::Error::ConnectionClosed
                    | tokio_tungstenite::tungstenite::Error::AlreadyClosed
            ),
            Error::Closed { code, .. } => matches!(code, Some(1001 | 1011..=1013 | 4000)),
            Error::Decode { .. } | Error::Invalid(_) | Error::ReconnectFailed { .. } => false,
        }
    }

    /// True when the server answered 401 (no or a bad credential).
    pub fn is_unauthenticated(&self) -> bool {
        self.status() == Some(401)
    }

    /// True when the server answered 403 (known, but not allowed).
    pub fn is_forbidden(&self) -> bool {
        self.status() == Some(403)
    }

    /// True when the server answered 404.
    pub fn is_not_found(&self) -> bool {
        self.status() == Some(404)
    }

    /// A decode error: what was read, why it does not fit, and the body's length only.
    pub(crate) fn decode(
        context: impl Into<String>,
        status: Option<u16>,
        reason: impl ToString,
        length: usize,
        request_id: Option<String>,
    ) -> Self {
        Error::Decode {
            context: context.into(),
            status,
            reason: reason.to_string(),
            length,
            request_id,
        }
    }
}

impl From<tokio_tungstenite::tungstenite::Error> for Error {
    fn from(e: tokio_tungstenite::tungstenite::Error) -> Self {
        use tokio_tungstenite::tungstenite::Error as WsError;
        match e {
            // A refused upgrade is an ordinary error answer: keep its status, headers and text.
            WsError::Http(response) => {
                let status = response.status().as_u16();
                let meta = AnswerMeta::from_headers(response.headers());
                let body = response.body().as_deref().unwrap_or_default();
                api_error(status, &meta, body)
            }
            other => Error::WebSocket(Box::new(other)),
        }
    }
}

/// How many characters of a non-JSON error page an error keeps.
const SNIPPET_CHARS: usize = 200;

/// The start of an error page as text, cut at a character boundary.
fn snippet(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let mut chars = text.chars();
    let mut cut: String = chars.by_ref().take(SNIPPET_CHARS).collect();
    if chars.next().is_some() {
        cut.push('…');
    }
    cut
}

/// The error body of an older or foreign server: `error` text, `code` not one we know.
#[derive(Deserialize)]
struct LenientErrorBody {
    error: String,
}

/// Turns an error answer into [`Error::Api`]. The body is the contract's
/// `{"error": …, "code": …}` when the server wrote it; anything else (a proxy's HTML page,
/// an empty body) still gives an `Api` error with the status and a short description.
pub(crate) fn api_error(status: u16, meta: &AnswerMeta, body: &[u8]) -> Error {
    let (kind, message) = if let Ok(body) = serde_json::from_slice::<ErrorBody>(body) {
        (body.code, body.error)
    } else if let Ok(body) = serde_json::from_slice::<LenientErrorBody>(body) {
        (None, body.error)
    } else if body.iter().all(u8::is_ascii_whitespace) {
        (None, format!("HTTP {status} with an empty body"))
    } else {
        (None, format!("HTTP {status}: {}", snippet(body)))
    };
    Error::Api {
        status,
        kind,
        message,
        retry_after: meta.retry_after,
        request_id: meta.request_id.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_error_body_gives_status_kind_and_the_servers_text() {
        let e = api_error(
            403,
            &AnswerMeta::default(),
            br#"{"error": "You are not a member of this chat", "code": "forbidden"}"#,
        );
        assert_eq!(e.status(), Some(403));
        assert_eq!(e.kind(), Some(ErrorKind::Forbidden));
        assert_eq!(
            e.server_message(),
            Some("You are not a member of this chat")
        );
        assert!(e.is_forbidden());
        assert_eq!(
            e.to_string(),
            "server answered 403: You are not a member of this chat"
        );
    }

    #[test]
    fn an_error_body_without_a_code_is_still_read() {
        let e = api_error(
            400,
            &AnswerMeta::default(),
            r#"{"error": "Invalid credentials"}"#.as_bytes(),
        );
        assert!(matches!(
            e,
            Error::Api { status: 400, kind: None, ref message, .. } if message == "Invalid credentials"
        ));
    }

    #[test]
    fn an_unknown_code_keeps_the_text_and_drops_the_kind() {
        let e = api_error(
            418,
            &AnswerMeta::default(),
            br#"{"error": "short and stout", "code": "teapot"}"#,
        );
        assert_eq!(e.kind(), None);
        assert_eq!(e.server_message(), Some("short and stout"));
    }

    #[test]
    fn a_non_json_error_page_becomes_an_api_error_with_its_start() {
        let e = api_error(
            502,
            &AnswerMeta::default(),
            b"<html><body>Bad Gateway</body></html>",
        );
        assert_eq!(e.status(), Some(502));
        assert_eq!(e.kind(), None);
        assert_eq!(
            e.server_message(),
            Some("HTTP 502: <html><body>Bad Gateway</body></html>")
        );
    }

    #[test]
    fn an_empty_error_body_says_so() {
        let e = api_error(401, &AnswerMeta::default(), b"");
        assert_eq!(e.server_message(), Some("HTTP 401 with an empty body"));
        assert!(e.is_unauthenticated());
    }

    #[test]
    fn a_refused_websocket_upgrade_is_an_api_error() {
        let response = http::Response::builder()
            .status(404)
            .header("x-request-id", "up-1")
            .body(Some(
                br#"{"error":"Chat not found","code":"not_found"}"#.to_vec(),
            ))
            .unwrap();
        let e = Error::from(tokio_tungstenite::tungstenite::Error::Http(Box::new(
            response,
        )));
        assert_eq!(e.status(), Some(404));
        assert_eq!(e.kind(), Some(ErrorKind::NotFound));
        assert_eq!(e.server_message(), Some("Chat not found"));
        assert_eq!(e.request_id(), Some("up-1"));
    }

    fn headers(pairs: &[(&'static str, &str)]) -> http::HeaderMap {
        pairs
            .iter()
            .map(|(name, value)| (http::HeaderName::from_static(name), value.parse().unwrap()))
            .collect()
    }

    #[test]
    fn an_error_answer_keeps_retry_after_and_the_request_id() {
        let e = api_error(
            503,
            &AnswerMeta::from_headers(&headers(&[
                ("retry-after", "7"),
                ("x-request-id", "req-42"),
            ])),
            br#"{"error":"Try again later","code":"unavailable"}"#,
        );
        assert_eq!(e.retry_after(), Some(Duration::from_secs(7)));
        assert_eq!(e.request_id(), Some("req-42"));
        assert!(e.is_retryable());
        assert_eq!(e.status(), Some(503));
    }

    #[test]
    fn retry_after_may_be_an_http_date() {
        let now = time::macros::datetime!(2015-10-21 07:27:00 UTC);
        let value = http::HeaderValue::from_static("Wed, 21 Oct 2015 07:28:00 GMT");
        assert_eq!(
            crate::answer_meta::retry_after(&value, now),
            Some(Duration::from_secs(60))
        );
        // A date in the past means "now"; junk means nothing.
        let past = http::HeaderValue::from_static("Wed, 21 Oct 2015 07:00:00 GMT");
        assert_eq!(
            crate::answer_meta::retry_after(&past, now),
            Some(Duration::ZERO)
        );
        let junk = http::HeaderValue::from_static("soon");
        assert_eq!(crate::answer_meta::retry_after(&junk, now), None);
    }

    #[test]
    fn a_request_id_that_is_not_printable_is_dropped() {
        let meta = AnswerMeta::from_headers(&headers(&[("x-request-id", "a b")]));
        assert_eq!(meta.request_id.as_deref(), Some("a b"));
        let mut map = http::HeaderMap::new();
        map.insert(
            "x-request-id",
            http::HeaderValue::from_bytes(b"caf\xc3\xa9").unwrap(),
        );
        assert_eq!(AnswerMeta::from_headers(&map).request_id, None);
    }

    #[test]
    fn which_errors_are_worth_retrying() {
        let api = |status, retry_after| {
            api_error(
                status,
                &AnswerMeta {
                    retry_after,
                    request_id: None,
                },
                b"",
            )
        };
        for status in [408, 429, 502, 503, 504] {
            assert!(api(status, None).is_retryable(), "{status}");
        }
        for status in [400, 401, 403, 404, 409, 413, 500] {
            assert!(!api(status, None).is_retryable(), "{status}");
        }
        // A server that says when to come back is worth coming back to.
        assert!(api(500, Some(Duration::from_secs(1))).is_retryable());
        let io = Error::WebSocket(Box::new(tokio_tungstenite::tungstenite::Error::Io(
            std::io::Error::from(std::io::ErrorKind::ConnectionReset),
        )));
        assert!(io.is_retryable());
        assert!(!Error::from(chatcore::Error::invalid("limit", "too big")).is_retryable());
        let away = Error::Closed {
            code: Some(1001),
            reason: "the server is shutting down".into(),
        };
        assert!(away.is_retryable());
        let revoked = Error::Closed {
            code: Some(4001),
            reason: "the credential was revoked".into(),
        };
        assert!(!revoked.is_retryable());
        let rate_limited = Error::Rejected {
            kind: Some(ErrorKind::RateLimited),
            message: "slow down".into(),
        };
        assert!(rate_limited.is_retryable());
        let decode = Error::decode("GET /x", Some(200), "not JSON", 3, None);
        assert!(!decode.is_retryable());
    }

    #[test]
    fn a_local_validation_failure_has_the_invalid_kind() {
        let e = Error::from(chatcore::Error::invalid("limit", "must be from 1 to 200"));
        assert_eq!(e.kind(), Some(ErrorKind::Invalid));
        assert_eq!(e.status(), None);
        assert_eq!(
            e.to_string(),
            "invalid request: limit: must be from 1 to 200"
        );
    }
}
