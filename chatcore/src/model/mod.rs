//! The wire types: ids, users, chats, messages, read markers, pages (`PageLimit`,
//! `PageRequest`) and events, with the rules of which event reaches and which ends whose
//! stream (`Event::reaches`, `Event::ends_stream_of`).
//! Everything here is plain data with serde; `chat-sdk` uses this module alone (chatcore
//! without features).

mod chat;
mod event;
mod ids;
mod message;
mod page;
mod read;
pub mod timestamp;
mod user;

pub use chat::{Chat, NewChat};
pub use event::{EVENT_TYPES, Event, LegacyMessageFields, MessageEvent, RemovalReason, StreamEnd};
pub use ids::{ChatId, MessageId, UserId};
pub use message::{Message, NewMessage};
pub use page::{Cursor, DEFAULT_PAGE_LIMIT, MAX_PAGE_LIMIT, PageLimit, PageRequest};
pub use read::{ReadMarker, ReadRequest};
pub use user::{ProfileUpdate, Registration, User, UserDetail, UserFlagsUpdate};

use serde::{Deserialize, Serialize};

/// Answer of register: a token and the new account.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RegisterResponse {
    /// The API token (40 lowercase hex characters).
    pub token: String,
    /// The new account.
    pub user: User,
}

/// Answer of login: a fresh token.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TokenResponse {
    /// The API token (40 lowercase hex characters).
    pub token: String,
}

/// What `Debug` shows in place of a password.
const REDACTED: &str = "***";

/// Username and password, as login takes them. Its `Debug` hides the password.
#[derive(Clone, Serialize, Deserialize)]
pub struct LoginRequest {
    /// The login name (case is ignored).
    pub username: String,
    /// The password.
    pub password: String,
}

impl std::fmt::Debug for LoginRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginRequest")
            .field("username", &self.username)
            .field("password", &REDACTED)
            .finish()
    }
}

/// A password change. Its `Debug` hides both passwords.
#[derive(Clone, Serialize, Deserialize)]
pub struct PasswordChange {
    /// The current password.
    pub old_password: String,
    /// The new password; the same rules as at registration.
    pub new_password: String,
}

impl std::fmt::Debug for PasswordChange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PasswordChange")
            .field("old_password", &REDACTED)
            .field("new_password", &REDACTED)
            .finish()
    }
}

/// The `{"message": "…"}` answer of membership changes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notice {
    /// Human-readable text, e.g. `User user4 added to chat`.
    pub message: String,
}

/// A chat rename.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ChatRename {
    /// New name, 1–100 characters after trimming.
    pub name: String,
}

#[cfg(test)]
mod secret_tests {
    use super::*;

    #[test]
    fn passwords_never_show_in_debug_output() {
        let shown = [
            format!(
                "{:?}",
                LoginRequest {
                    username: "ann".into(),
                    password: "hunter2-secret".into(),
                }
            ),
            format!(
                "{:?}",
                PasswordChange {
                    old_password: "hunter2-secret".into(),
                    new_password: "hunter3-secret".into(),
                }
            ),
            format!(
                "{:?}",
                Registration {
                    username: "ann".into(),
                    password: "hunter2-secret".into(),
                    ..Registration::default()
                }
            ),
        ];
        for text in &shown {
            assert!(!text.contains("secret"), "{text}");
        }
        assert!(shown[0].contains("ann"), "the username stays: {}", shown[0]);
    }
}
