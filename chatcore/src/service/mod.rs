//! The three services every front end calls, as async traits, and the core's built-in
//! implementations of them: [`CoreAuth`], [`CoreMembership`] and [`CoreMessaging`].
//! Every method takes the acting user; **all authorization is decided here**.

mod access;
mod auth;
mod membership;
mod messaging;
mod subscription;

pub use crate::broker::SharedEvent;
pub use auth::CoreAuth;
pub use membership::CoreMembership;
pub use messaging::CoreMessaging;
pub use subscription::Subscription;

use crate::auth::{Actor, ClientInfo, Credential};
use crate::error::Result;
use crate::model::{
    Chat, ChatId, Message, NewChat, NewMessage, Notice, PageRequest, ProfileUpdate, ReadMarker,
    Registration, User, UserDetail, UserFlagsUpdate, UserId,
};
use async_trait::async_trait;
use time::OffsetDateTime;

/// The plug-in seam for authentication: turns a credential into an [`Actor`]. The built-in
/// one checks tokens, Basic passwords and sessions against the store; an application can
/// supply its own (a company directory, say) that provisions local users through
/// [`AuthService::provision`].
#[async_trait]
pub trait Authenticator: Send + Sync {
    /// Checks `credential`; a wrong one is `Unauthenticated` (tokens, sessions) or
    /// `InvalidCredentials` (Basic), an inactive user is refused the same way.
    async fn authenticate(&self, credential: &Credential, client: &ClientInfo) -> Result<Actor>;
}

/// A newly created browser session.
#[derive(Debug, Clone)]
pub struct NewSession {
    /// The cookie value (64 hex characters); the store keeps only its SHA-256.
    pub id: String,
    /// The CSRF token forms and unsafe requests must carry.
    pub csrf_token: String,
    /// When the session ends.
    pub expires_at: OffsetDateTime,
    /// The logged-in user.
    pub actor: Actor,
}

/// An identity vouched for by an external authenticator. It is linked to the local account
/// it makes by (`issuer`, `subject`), never by username.
#[derive(Debug, Clone, Default)]
pub struct ExternalIdentity {
    /// Who vouches: the directory or identity provider (e.g. its URL); 1–255 characters.
    pub issuer: String,
    /// The issuer's stable id of the person (never reassigned); 1–255 characters.
    pub subject: String,
    /// The username the account gets when it is made (taken names are refused).
    pub username: String,
    /// E-mail address, may be empty.
    pub email: String,
    /// Given name.
    pub first_name: String,
    /// Family name.
    pub last_name: String,
}

/// Accounts, passwords, tokens and sessions.
#[async_trait]
pub trait AuthService: Authenticator {
    /// Creates an account and returns it with its first API token. `Forbidden` when
    /// registration is closed, `Conflict` when the username is taken.
    async fn register(&self, registration: Registration) -> Result<(User, String)>;
    /// Checks a password and mints a new API token.
    async fn login(&self, username: &str, password: &str, client: &ClientInfo) -> Result<String>;
    /// Revokes one API token (the one the client presented).
    async fn logout(&self, token: &str) -> Result<()>;
    /// Checks a password and opens a browser session.
    async fn create_session(
        &self,
        username: &str,
        password: &str,
        client: &ClientInfo,
    ) -> Result<NewSession>;
    /// Ends a browser session (unknown ids are ignored).
    async fn end_session(&self, session_id: &str) -> Result<()>;
    /// The actor's own account, with flags.
    async fn me(&self, actor: &Actor) -> Result<UserDetail>;
    /// Changes the actor's names or e-mail.
    async fn update_profile(&self, actor: &Actor, update: ProfileUpdate) -> Result<UserDetail>;
    /// Changes the actor's password after checking the old one; revokes every token and
    /// session of the user and returns a fresh token.
    async fn change_password(&self, actor: &Actor, old: &str, new: &str) -> Result<String>;
    /// Lists accounts matching `query` (admins only), ordered by id: `limit` of them (checked
    /// as a [`PageLimit`](crate::model::PageLimit), 1–200) after skipping `offset`.
    async fn list_users(
        &self,
        actor: &Actor,
        query: &str,
        limit: u32,
        offset: u32,
    ) -> Result<Vec<UserDetail>>;
    /// Sets `is_active` / `is_superuser` of an account (admins only). Deactivation revokes
    /// the user's tokens and sessions and ends their subscriptions.
    async fn update_user(
        &self,
        actor: &Actor,
        user: UserId,
        update: UserFlagsUpdate,
    ) -> Result<UserDetail>;
    /// Creates an admin account (the CLI's `createsuperuser`; trusted caller, no actor).
    async fn create_superuser(&self, registration: Registration) -> Result<User>;
    /// Sets a password by username (the CLI's `changepassword`; trusted caller, no actor).
    async fn set_password(&self, username: &str, password: &str) -> Result<()>;
    /// The actor for an existing active user (for trusted embedding code).
    async fn actor_for(&self, user: UserId) -> Result<Actor>;
    /// Finds the local account linked to an externally authenticated identity, or makes an
    /// ordinary one and links it. Never links an account that exists already (a local
    /// password account, an admin, another identity's): a taken username is `Forbidden`.
    async fn provision(&self, identity: ExternalIdentity) -> Result<Actor>;
}

/// Chats and who is in them.
#[async_trait]
pub trait MembershipService: Send + Sync {
    /// Creates a chat with initial members (admins only).
    async fn create_chat(&self, actor: &Actor, chat: NewChat) -> Result<Chat>;
    /// Renames a chat (admins only).
    async fn rename_chat(&self, actor: &Actor, chat: ChatId, name: &str) -> Result<Chat>;
    /// Deletes a chat with its history (admins only).
    async fn delete_chat(&self, actor: &Actor, chat: ChatId) -> Result<()>;
    /// One chat (members and admins).
    async fn get_chat(&self, actor: &Actor, chat: ChatId) -> Result<Chat>;
    /// The actor's chats; an admin gets every chat.
    async fn list_chats(&self, actor: &Actor) -> Result<Vec<Chat>>;
    /// Adds a member (admins only). Adding a member again is not an error.
    async fn add_member(&self, actor: &Actor, chat: ChatId, user: UserId) -> Result<Notice>;
    /// Removes a member (admins; any member may remove themself, which is leaving).
    async fn remove_member(&self, actor: &Actor, chat: ChatId, user: UserId) -> Result<Notice>;
    /// The actor leaves the chat.
    async fn leave(&self, actor: &Actor, chat: ChatId) -> Result<Notice>;
    /// The chat's members (members and admins).
    async fn members(&self, actor: &Actor, chat: ChatId) -> Result<Vec<User>>;
}

/// The result of a post: the stored message, and whether this call stored it (`false` when a
/// retried `client_id` found the message stored before).
#[derive(Debug, Clone)]
pub struct Posted {
    /// The stored message.
    pub message: Message,
    /// Whether this call stored it.
    pub created: bool,
}

/// A post queued by [`MessagingService::queue_post`]: await it for the stored message.
pub struct QueuedPost(std::pin::Pin<Box<dyn std::future::Future<Output = Result<Posted>> + Send>>);

impl QueuedPost {
    /// A queued post whose outcome `committed` resolves to (for implementations of
    /// [`MessagingService::queue_post`]).
    pub fn new(
        committed: impl std::future::Future<Output = Result<Posted>> + Send + 'static,
    ) -> Self {
        Self(Box::pin(committed))
    }
}

impl std::future::Future for QueuedPost {
    type Output = Result<Posted>;

    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Self::Output> {
        self.0.as_mut().poll(cx)
    }
}

impl std::fmt::Debug for QueuedPost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("QueuedPost(..)")
    }
}

/// Messages: post, read, subscribe, and read markers.
#[async_trait]
pub trait MessagingService: Send + Sync {
    /// Stores a message (members only) and fans it out after commit; the poster's read
    /// marker moves to it.
    async fn post(&self, actor: &Actor, chat: ChatId, message: NewMessage) -> Result<Posted>;
    /// [`post`](MessagingService::post) in two steps, for a sender that does not wait for
    /// one message to be stored before sending the next (a socket): the message is
    /// validated and queued, in the order of calls, when this returns; the [`QueuedPost`]
    /// resolves once it is stored (or refused). An implementation without a queue posts
    /// here and hands back the result.
    async fn queue_post(
        &self,
        actor: &Actor,
        chat: ChatId,
        message: NewMessage,
    ) -> Result<QueuedPost> {
        let posted = self.post(actor, chat, message).await;
        Ok(QueuedPost::new(std::future::ready(posted)))
    }
    /// A page of history, oldest first (members and admins).
    async fn history(&self, actor: &Actor, chat: ChatId, page: PageRequest)
    -> Result<Vec<Message>>;
    /// The same page as the JSON list the REST API answers (`[` messages `]`, compact):
    /// byte for byte `serde_json::to_vec` of [`MessagingService::history`]'s answer, which
    /// is what this default does. The core's own answers from its cache, where each message
    /// is serialized once.
    async fn history_json(
        &self,
        actor: &Actor,
        chat: ChatId,
        page: PageRequest,
    ) -> Result<Vec<u8>> {
        let messages = self.history(actor, chat, page).await?;
        serde_json::to_vec(&messages).map_err(|e| crate::Error::internal("serialize a page", e))
    }
    /// Marks `chat` read up to `seq` for the actor (members only; `seq` 0 or more, else
    /// `Invalid`). The marker only moves forward and stops at the chat's last message; when
    /// it moves, the actor's streams of the chat get a `read` event (no one else's).
    async fn mark_read(&self, actor: &Actor, chat: ChatId, seq: i64) -> Result<ReadMarker>;
    /// Live events of a chat (members and admins): first the stored messages after
    /// `after_seq` (none when `None`), then live events, without gaps or duplicates.
    /// `after_seq` beyond the chat's last message is `Invalid`.
    async fn subscribe(
        &self,
        actor: &Actor,
        chat: ChatId,
        after_seq: Option<i64>,
    ) -> Result<Subscription>;
}
