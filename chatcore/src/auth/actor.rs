//! Who is acting: the result of authentication, handed to every service call.

use crate::model::{User, UserId};
use std::net::IpAddr;

/// An authenticated, active user. Fields are private: only the core (an [`Authenticator`]
/// or [`AuthService::actor_for`]) builds one, so embedding code cannot forge admin rights.
///
/// [`Authenticator`]: crate::Authenticator
/// [`AuthService::actor_for`]: crate::AuthService::actor_for
#[derive(Debug, Clone)]
pub struct Actor {
    user: User,
    is_admin: bool,
    csrf_token: Option<String>,
}

impl Actor {
    pub(crate) fn new(user: User, is_admin: bool) -> Self {
        Self {
            user,
            is_admin,
            csrf_token: None,
        }
    }

    pub(crate) fn with_csrf_token(mut self, token: String) -> Self {
        self.csrf_token = Some(token);
        self
    }

    /// The acting user's id.
    pub fn id(&self) -> UserId {
        self.user.id
    }

    /// The acting user (with their own e-mail).
    pub fn user(&self) -> &User {
        &self.user
    }

    /// Whether the acting user is an administrator.
    pub fn is_admin(&self) -> bool {
        self.is_admin
    }

    /// The session's CSRF token when the actor was authenticated by a browser session;
    /// unsafe requests must present it.
    pub fn csrf_token(&self) -> Option<&str> {
        self.csrf_token.as_deref()
    }

    /// Whether this actor may see `user`'s e-mail address.
    pub(crate) fn may_see_email_of(&self, user: UserId) -> bool {
        self.is_admin || self.user.id == user
    }

    /// `user` as this actor may see it.
    pub(crate) fn view(&self, user: User) -> User {
        if self.may_see_email_of(user.id) {
            user
        } else {
            user.without_email()
        }
    }
}

/// A credential presented by a client.
#[derive(Clone)]
pub enum Credential {
    /// `Authorization: Token <40 hex>`.
    Token(String),
    /// `Authorization: Basic …`.
    Basic {
        /// Username.
        username: String,
        /// Password.
        password: String,
    },
    /// The `chat_session` cookie's value.
    Session(String),
}

impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Secrets never reach logs.
        match self {
            Credential::Token(_) => f.write_str("Token(..)"),
            Credential::Basic { username, .. } => write!(f, "Basic({username}, ..)"),
            Credential::Session(_) => f.write_str("Session(..)"),
        }
    }
}

/// What the core knows of the client, for rate limiting.
#[derive(Debug, Clone, Copy, Default)]
pub struct ClientInfo {
    /// The client's address (after trusted-proxy resolution), if known.
    pub ip: Option<IpAddr>,
}
