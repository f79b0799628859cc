//! The SDK's one error type: transport failures, the server's own `{"error", "code"}` answers
//! (with the status and the server's text), bodies that do not match the contract, and the
//! WebSocket's failures. Also the pure function that turns an error response into an [`Error`].

use chatcore::{ErrorBody, ErrorKind};
use serde::Deserialize;

/// Result with the SDK's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong when talking to the chat server.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The server answered with an error status; `message` is its `error` text.
    #[error("server answered {status}: {message}")]
    Api {
        /// The HTTP status code (also the status of a refused WebSocket upgrade).
        status: u16,
        /// The machine-readable `code`, when the server sent a known one.
        kind: Option<ErrorKind>,
        /// The server's `error` text (or a short description when the body had none).
        message: String,
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
    /// The server answered, but not with what the API promises for this request.
    #[error("unexpected answer from {context}: {reason}; body starts with {snippet:?}")]
    Decode {
        /// What was being read, e.g. `GET http://host/api/chat/` or `WebSocket frame`.
        context: String,
        /// The HTTP status of the answer, if it was an HTTP answer.
        status: Option<u16>,
        /// Why the body does not fit.
        reason: String,
        /// The start of the body, for the log.
        snippet: String,
    },
    /// The SDK refused to send the request: an argument failed validation (a base URL that
    /// is not `http(s)`, a token that cannot be a header, a history page out of range…).
    #[error("invalid request: {0}")]
    Invalid(#[from] chatcore::Error),
    /// The chat connection is closed: the server ended it (you were removed, the chat was
    /// deleted), it was closed by [`crate::ChatConnection::close`], or it closed before the
    /// server acknowledged a frame it could not take (such as one over the size limit).
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

    /// A decode error for `body`, keeping only its start.
    pub(crate) fn decode(
        context: impl Into<String>,
        status: Option<u16>,
        reason: impl ToString,
        body: &[u8],
    ) -> Self {
        Error::Decode {
            context: context.into(),
            status,
            reason: reason.to_string(),
            snippet: snippet(body),
        }
    }
}

impl From<tokio_tungstenite::tungstenite::Error> for Error {
    fn from(e: tokio_tungstenite::tungstenite::Error) -> Self {
        use tokio_tungstenite::tungstenite::Error as WsError;
        match e {
            // A refused upgrade is an ordinary error answer: keep its status and text.
            WsError::Http(response) => {
                let status = response.status().as_u16();
                let body = response.body().as_deref().unwrap_or_default();
                api_error(status, body)
            }
            other => Error::WebSocket(Box::new(other)),
        }
    }
}

/// How many characters of an unexpected body an error keeps.
const SNIPPET_CHARS: usize = 200;

/// The start of `body` as text, cut at a character boundary.
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
pub(crate) fn api_error(status: u16, body: &[u8]) -> Error {
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
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_error_body_gives_status_kind_and_the_servers_text() {
        let e = api_error(
            403,
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
        let e = api_error(400, r#"{"error": "Invalid credentials"}"#.as_bytes());
        assert!(matches!(
            e,
            Error::Api { status: 400, kind: None, ref message } if message == "Invalid credentials"
        ));
    }

    #[test]
    fn an_unknown_code_keeps_the_text_and_drops_the_kind() {
        let e = api_error(418, br#"{"error": "short and stout", "code": "teapot"}"#);
        assert_eq!(e.kind(), None);
        assert_eq!(e.server_message(), Some("short and stout"));
    }

    #[test]
    fn a_non_json_error_page_becomes_an_api_error_with_its_start() {
        let e = api_error(502, b"<html><body>Bad Gateway</body></html>");
        assert_eq!(e.status(), Some(502));
        assert_eq!(e.kind(), None);
        assert_eq!(
            e.server_message(),
            Some("HTTP 502: <html><body>Bad Gateway</body></html>")
        );
    }

    #[test]
    fn an_empty_error_body_says_so() {
        let e = api_error(401, b"");
        assert_eq!(e.server_message(), Some("HTTP 401 with an empty body"));
        assert!(e.is_unauthenticated());
    }

    #[test]
    fn a_long_body_is_cut_in_the_decode_error() {
        let body = "é".repeat(300);
        let e = Error::decode("GET /x", Some(200), "expected an array", body.as_bytes());
        let Error::Decode {
            snippet, status, ..
        } = &e
        else {
            panic!("not a decode error: {e:?}")
        };
        assert_eq!(*status, Some(200));
        assert!(snippet.ends_with('…'));
        assert_eq!(snippet.chars().count(), 201, "{snippet}");
        assert_eq!(e.status(), Some(200));
    }

    #[test]
    fn a_refused_websocket_upgrade_is_an_api_error() {
        let response = http::Response::builder()
            .status(404)
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
