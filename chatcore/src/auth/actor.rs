//! Who is acting: the result of authentication, handed to every service call.

use crate::model::{Message, User, UserId};
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

    /// `user` as this actor may see it: the one place that decides e-mail visibility. The
    /// address stays for the user themself and for admins; everyone else gets the
    /// [hidden form](User::hidden) (`email` is `""`).
    pub fn view_of(&self, user: User) -> User {
        if self.sees_address_of(user.id) {
            user
        } else {
            user.hidden()
        }
    }

    /// Whether this actor sees `user`'s e-mail address ([`Actor::view_of`]'s rule).
    pub fn sees_address_of(&self, user: UserId) -> bool {
        self.is_admin || self.user.id == user
    }

    /// Each of `users` as this actor may see it ([`Actor::view_of`]).
    pub fn view_users(&self, users: impl IntoIterator<Item = User>) -> Vec<User> {
        users.into_iter().map(|u| self.view_of(u)).collect()
    }

    /// `message` with its author as this actor may see it ([`Actor::view_of`]).
    pub fn view_message(&self, mut message: Message) -> Message {
        message.user = self.view_of(message.user);
        message
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

#[cfg(test)]
mod tests {
    use super::*;

    fn user(id: i64) -> User {
        User {
            id: UserId(id),
            first_name: String::new(),
            last_name: String::new(),
            username: format!("user{id}"),
            email: format!("user{id}@example.com"),
        }
    }

    #[test]
    fn only_the_user_themself_and_admins_see_an_address() {
        // (viewer id, viewer is admin, seen user id, address shown)
        for (viewer, admin, seen, shown) in [
            (1, false, 1, true),
            (1, false, 2, false),
            (1, true, 2, true),
            (1, true, 1, true),
        ] {
            let actor = Actor::new(user(viewer), admin);
            let view = actor.view_of(user(seen));
            assert_eq!(view.email.is_empty(), !shown, "{viewer} {admin} {seen}");
            assert_eq!(view.username, format!("user{seen}"));
        }
        let member = Actor::new(user(1), false);
        let emails: Vec<_> = member
            .view_users([user(1), user(2)])
            .into_iter()
            .map(|u| u.email)
            .collect();
        assert_eq!(emails, ["user1@example.com", ""]);
    }

    #[test]
    fn the_hidden_form_keeps_every_field_but_the_address() {
        let hidden = user(3).hidden();
        assert_eq!(hidden.email, "");
        assert_eq!(hidden.username, "user3");
    }
}
