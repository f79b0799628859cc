//! Users as the wire shows them.

use super::ids::UserId;
use serde::{Deserialize, Serialize};

/// A user as every endpoint shows it (the original's five fields). `email` is always
/// present and is `""` where the viewer may not see it: only the user themself and admins
/// see addresses. The core decides that in one place, `Actor::view_of`; anything serialized
/// once for many viewers carries [`User::hidden`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    /// The account's id.
    pub id: UserId,
    /// Given name, may be empty.
    pub first_name: String,
    /// Family name, may be empty.
    pub last_name: String,
    /// Login name, NFKC-normalised, unique ignoring case.
    pub username: String,
    /// E-mail address, or `""` when unknown or hidden from the viewer.
    pub email: String,
}

impl User {
    /// The hidden form: the same user with `email` set to `""`. It is what every viewer
    /// may see, so it is the form of anything serialized once for many viewers (the events
    /// a broker carries, whose author or member is shown to every subscriber alike).
    pub fn hidden(mut self) -> Self {
        self.email.clear();
        self
    }
}

/// A user with the account flags, as admins and the user themself see it
/// (`GET /api/accounts/me/`, `GET /api/users/`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserDetail {
    /// The public fields.
    #[serde(flatten)]
    pub user: User,
    /// Whether the account may log in (wire name of the original).
    pub is_active: bool,
    /// Whether the account is an administrator (wire name of the original).
    pub is_superuser: bool,
}

/// What a new account is made of. Its `Debug` hides the password.
#[derive(Clone, Default, Serialize, Deserialize)]
pub struct Registration {
    /// Wanted login name.
    pub username: String,
    /// Plain password; validated, then only its argon2id hash is kept.
    pub password: String,
    /// Optional e-mail address (`""` for none).
    #[serde(default)]
    pub email: String,
    /// Optional given name.
    #[serde(default)]
    pub first_name: String,
    /// Optional family name.
    #[serde(default)]
    pub last_name: String,
}

impl std::fmt::Debug for Registration {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registration")
            .field("username", &self.username)
            .field("password", &super::REDACTED)
            .field("email", &self.email)
            .field("first_name", &self.first_name)
            .field("last_name", &self.last_name)
            .finish()
    }
}

/// A change to one's own profile; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ProfileUpdate {
    /// New given name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_name: Option<String>,
    /// New family name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_name: Option<String>,
    /// New e-mail address (`""` clears it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
}

/// An admin's change to another account's flags; `None` leaves a flag as it is.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct UserFlagsUpdate {
    /// Activate or deactivate the account.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_active: Option<bool>,
    /// Grant or revoke admin rights.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_superuser: Option<bool>,
}
