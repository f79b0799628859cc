//! The one place where failures become responses: a [`chatcore::Error`] kind or an HTTP-level
//! refusal (unknown path, wrong method, oversized or unparsable body, timeout, panic) turns
//! into a status and the body `{"error": text, "code": kind}`. Every 401 carries
//! `WWW-Authenticate: Token`; 429 and 503 carry `Retry-After`.

use super::{Body, response};
use chatcore::{Error, ErrorBody, ErrorKind};
use http::header::{ALLOW, HeaderValue, RETRY_AFTER, WWW_AUTHENTICATE};
use http::{Response, StatusCode};
use std::time::Duration;

/// A failed request: what the client is told, and with which status.
#[derive(Debug, Clone)]
pub struct ApiError {
    status: StatusCode,
    message: String,
    code: ErrorKind,
    retry_after: Option<Duration>,
    allow: Option<String>,
}

impl ApiError {
    fn new(status: StatusCode, code: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
            code,
            retry_after: None,
            allow: None,
        }
    }

    /// 401: no valid credential (the text says which problem).
    pub fn unauthenticated(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            ErrorKind::Unauthenticated,
            message,
        )
    }

    /// 401 for a Basic credential with a wrong username or password.
    pub fn bad_basic_credentials() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            ErrorKind::InvalidCredentials,
            Error::InvalidCredentials.to_string(),
        )
    }

    /// 404 for a path no route serves (or an id that is not an integer).
    pub fn no_such_path() -> Self {
        Self::new(StatusCode::NOT_FOUND, ErrorKind::NotFound, "Not found")
    }

    /// 405 with the methods the path does allow.
    pub fn method_not_allowed(allow: String) -> Self {
        let mut e = Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            ErrorKind::Invalid,
            "Method not allowed",
        );
        e.allow = Some(allow);
        e
    }

    /// 413: the body is larger than `limit` bytes.
    pub fn payload_too_large(limit: usize) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            ErrorKind::Invalid,
            format!("Request body is larger than {limit} bytes"),
        )
    }

    /// 415: the body is neither JSON nor a form.
    pub fn unsupported_media_type() -> Self {
        Self::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ErrorKind::Invalid,
            "Unsupported media type: send application/json or application/x-www-form-urlencoded",
        )
    }

    /// 400: the body or query could not be parsed (`detail` says why).
    pub fn malformed(detail: impl std::fmt::Display) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            ErrorKind::Invalid,
            format!("Malformed request: {detail}"),
        )
    }

    /// 426: a WebSocket endpoint reached without an upgrade.
    pub fn upgrade_required() -> Self {
        Self::new(
            StatusCode::UPGRADE_REQUIRED,
            ErrorKind::Invalid,
            "This endpoint is a WebSocket: send an upgrade request",
        )
    }

    /// 400: a query parameter that is not what it must be (`limit: must be an integer…`).
    pub fn invalid_parameter(name: &str, reason: impl std::fmt::Display) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            ErrorKind::Invalid,
            format!("{name}: {reason}"),
        )
    }

    /// 403: a cookie-authenticated unsafe request without a valid CSRF proof.
    pub fn csrf(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, ErrorKind::Forbidden, message)
    }

    /// 503 with `Retry-After`: the request took longer than the server allows. (Not 408,
    /// which clients retry by themselves: a POST without `client_id` would be stored twice.)
    pub fn timeout() -> Self {
        let mut e = Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            ErrorKind::Unavailable,
            "Request timed out",
        );
        e.retry_after = Some(Duration::from_secs(1));
        e
    }

    /// 500: a bug (panic or unexpected failure); details are only in the log.
    pub fn internal() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            ErrorKind::Internal,
            Error::Internal.to_string(),
        )
    }

    /// The error shape for a bare status a tower layer produced (used when rewriting such
    /// responses as JSON).
    pub fn for_status(status: StatusCode) -> Self {
        match status {
            // Only the timeout layer answers a bare 503.
            StatusCode::SERVICE_UNAVAILABLE => Self::timeout(),
            StatusCode::INTERNAL_SERVER_ERROR => Self::internal(),
            StatusCode::NOT_FOUND => Self::no_such_path(),
            StatusCode::UNAUTHORIZED => Self::unauthenticated(Error::Unauthenticated.to_string()),
            StatusCode::FORBIDDEN => Self::new(status, ErrorKind::Forbidden, "Forbidden"),
            StatusCode::TOO_MANY_REQUESTS => Self::from(Error::RateLimited {
                retry_after: Duration::from_secs(1),
            }),
            s if s.is_server_error() => Self::new(
                s,
                ErrorKind::Internal,
                s.canonical_reason().unwrap_or("Server error"),
            ),
            s => Self::new(
                s,
                ErrorKind::Invalid,
                s.canonical_reason().unwrap_or("Bad request"),
            ),
        }
    }

    /// The status this error answers with.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The client-facing text.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The machine-readable kind.
    pub fn code(&self) -> ErrorKind {
        self.code
    }

    /// A refusal made by a tower layer, before any front end saw the request: an empty
    /// response of this error's status carrying the error, which the finishing layer renders
    /// by the front end of the request's path (`layers::Finish`).
    pub fn into_refusal(self) -> Response<Body> {
        let mut resp = Response::new(super::empty());
        *resp.status_mut() = self.status;
        resp.extensions_mut().insert(self);
        resp
    }

    /// The response: JSON body plus the headers the status requires.
    pub fn into_response(self) -> Response<Body> {
        let body = ErrorBody {
            error: self.message,
            code: Some(self.code),
        };
        let mut resp = response::json(self.status, &body);
        let headers = resp.headers_mut();
        if self.status == StatusCode::UNAUTHORIZED {
            headers.insert(WWW_AUTHENTICATE, HeaderValue::from_static("Token"));
        }
        if let Some(after) = self.retry_after {
            // Whole seconds, rounded up, at least one.
            let secs = after.as_secs() + u64::from(after.subsec_nanos() > 0);
            headers.insert(RETRY_AFTER, HeaderValue::from(secs.max(1)));
        }
        if let Some(allow) = self.allow
            && let Ok(v) = HeaderValue::from_str(&allow)
        {
            headers.insert(ALLOW, v);
        }
        resp
    }
}

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        let status = match &e {
            Error::NotFound(_) => StatusCode::NOT_FOUND,
            Error::Forbidden(_) => StatusCode::FORBIDDEN,
            Error::Unauthenticated => StatusCode::UNAUTHORIZED,
            // Login answers 400 like the original; Basic maps to 401 where it is read.
            Error::InvalidCredentials => StatusCode::BAD_REQUEST,
            Error::Conflict(_) => StatusCode::CONFLICT,
            Error::Invalid { .. } => StatusCode::BAD_REQUEST,
            Error::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            Error::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
            Error::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        };
        let retry_after = match &e {
            Error::RateLimited { retry_after } | Error::Unavailable { retry_after } => {
                Some(*retry_after)
            }
            _ => None,
        };
        Self {
            status,
            code: e.kind(),
            message: e.to_string(),
            retry_after,
            allow: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(e: impl Into<ApiError>, status: u16, code: &str) {
        let e = e.into();
        assert_eq!(e.status().as_u16(), status, "{e:?}");
        assert_eq!(e.code().as_str(), code, "{e:?}");
    }

    #[test]
    fn every_core_error_kind_has_its_status() {
        check(Error::NotFound("Chat"), 404, "not_found");
        check(Error::forbidden("no"), 403, "forbidden");
        check(Error::Unauthenticated, 401, "unauthenticated");
        check(Error::InvalidCredentials, 400, "invalid_credentials");
        check(Error::conflict("taken"), 409, "conflict");
        check(Error::invalid("name", "blank"), 400, "invalid");
        let d = Duration::from_millis(1500);
        check(Error::RateLimited { retry_after: d }, 429, "rate_limited");
        check(Error::Unavailable { retry_after: d }, 503, "unavailable");
        check(Error::Internal, 500, "internal");
    }

    #[test]
    fn a_401_names_the_token_scheme_and_a_429_says_when_to_retry() {
        let r = ApiError::unauthenticated("no").into_response();
        assert_eq!(r.headers()[WWW_AUTHENTICATE], "Token");
        let r = ApiError::from(Error::RateLimited {
            retry_after: Duration::from_millis(1500),
        })
        .into_response();
        assert_eq!(r.headers()[RETRY_AFTER], "2");
    }
}
