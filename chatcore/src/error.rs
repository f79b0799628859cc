//! The one error type of the domain. Front ends map its kind to a status code; its text is
//! safe to show to the client (internals are logged, never put in the message).

use serde::{Deserialize, Serialize};
use std::time::Duration;

/// What went wrong, by kind. The `Display` text is the client-facing `error` message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The thing does not exist (or the viewer may not know it exists).
    #[error("{0} not found")]
    NotFound(&'static str),
    /// The actor is known but not allowed to do this.
    #[error("{0}")]
    Forbidden(String),
    /// No valid credential was presented.
    #[error("Authentication credentials were not provided or are invalid")]
    Unauthenticated,
    /// Login with a wrong username or password (400 on login, 401 on Basic).
    #[error("Invalid credentials")]
    InvalidCredentials,
    /// The request clashes with the current state (duplicate username, inactive user…).
    #[error("{0}")]
    Conflict(String),
    /// A field failed validation.
    #[error("{field}: {reason}")]
    Invalid {
        /// The offending field.
        field: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// Too many attempts; try again later.
    #[error("Too many attempts, try again later")]
    RateLimited {
        /// When trying again makes sense.
        retry_after: Duration,
    },
    /// The service is overloaded or a dependency is down.
    #[error("Service temporarily unavailable")]
    Unavailable {
        /// When trying again makes sense.
        retry_after: Duration,
    },
    /// A bug or an unexpected failure; details are only in the server log.
    #[error("Internal server error")]
    Internal,
}

/// The machine-readable kind of an [`Error`], the `code` field on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// See [`Error::NotFound`].
    NotFound,
    /// See [`Error::Forbidden`].
    Forbidden,
    /// See [`Error::Unauthenticated`].
    Unauthenticated,
    /// See [`Error::InvalidCredentials`].
    InvalidCredentials,
    /// See [`Error::Conflict`].
    Conflict,
    /// See [`Error::Invalid`].
    Invalid,
    /// See [`Error::RateLimited`].
    RateLimited,
    /// See [`Error::Unavailable`].
    Unavailable,
    /// See [`Error::Internal`].
    Internal,
}

impl ErrorKind {
    /// The wire name (`"not_found"`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::NotFound => "not_found",
            ErrorKind::Forbidden => "forbidden",
            ErrorKind::Unauthenticated => "unauthenticated",
            ErrorKind::InvalidCredentials => "invalid_credentials",
            ErrorKind::Conflict => "conflict",
            ErrorKind::Invalid => "invalid",
            ErrorKind::RateLimited => "rate_limited",
            ErrorKind::Unavailable => "unavailable",
            ErrorKind::Internal => "internal",
        }
    }
}

impl Error {
    /// A validation failure of `field`.
    pub fn invalid(field: &'static str, reason: impl Into<String>) -> Self {
        Error::Invalid {
            field,
            reason: reason.into(),
        }
    }

    /// A permission failure with a message for the client.
    pub fn forbidden(message: impl Into<String>) -> Self {
        Error::Forbidden(message.into())
    }

    /// A conflict with a message for the client.
    pub fn conflict(message: impl Into<String>) -> Self {
        Error::Conflict(message.into())
    }

    /// Logs `source` (which may hold SQL or other internals) and returns the opaque
    /// [`Error::Internal`].
    #[cfg(feature = "engine")]
    pub fn internal(context: &str, source: impl std::fmt::Display) -> Self {
        tracing::error!(%source, "{context}");
        Error::Internal
    }

    /// The kind, for status codes and the wire `code`.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::NotFound(_) => ErrorKind::NotFound,
            Error::Forbidden(_) => ErrorKind::Forbidden,
            Error::Unauthenticated => ErrorKind::Unauthenticated,
            Error::InvalidCredentials => ErrorKind::InvalidCredentials,
            Error::Conflict(_) => ErrorKind::Conflict,
            Error::Invalid { .. } => ErrorKind::Invalid,
            Error::RateLimited { .. } => ErrorKind::RateLimited,
            Error::Unavailable { .. } => ErrorKind::Unavailable,
            Error::Internal => ErrorKind::Internal,
        }
    }
}

/// The JSON body of every error response: `{"error": text, "code": kind}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// Human-readable English text.
    pub error: String,
    /// Machine-readable kind (absent from the original's answers, so optional when reading).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<ErrorKind>,
}

impl From<&Error> for ErrorBody {
    fn from(e: &Error) -> Self {
        ErrorBody {
            error: e.to_string(),
            code: Some(e.kind()),
        }
    }
}

/// Result with the domain error.
pub type Result<T, E = Error> = std::result::Result<T, E>;
