//! The built-in [`AuthService`] and [`Authenticator`]: accounts in the store, argon2id
//! passwords, API tokens and sessions kept as SHA-256 hashes.

use super::access::{current_account, require_admin};
use super::{AuthService, Authenticator, ExternalIdentity, NewSession};
use crate::auth::{
    Actor, ClientInfo, Credential, LoginLimiter, PasswordHasher, new_token, random_hex, sha256_hex,
};
use crate::broker::{Broker, EventFrame};
use crate::config::Config;
use crate::error::{Error, Result};
use crate::metrics::LOGIN_FAILURES;
use crate::model::{
    Event, PageLimit, ProfileUpdate, Registration, RemovalReason, User, UserDetail,
    UserFlagsUpdate, UserId, timestamp,
};
use crate::store::{NewUserRecord, Store, UserRecord};
use crate::validate::{self, PasswordContext, Username};
use async_trait::async_trait;
use std::sync::Arc;

/// A password hash no password matches (accounts provisioned by an external authenticator).
const UNUSABLE_PASSWORD: &str = "!external";

/// The core's built-in [`AuthService`] and [`Authenticator`]: accounts, passwords, tokens
/// and sessions on a [`Store`].
pub struct CoreAuth {
    store: Arc<dyn Store>,
    broker: Arc<dyn Broker>,
    hasher: PasswordHasher,
    limiter: LoginLimiter,
    config: Arc<Config>,
}

impl CoreAuth {
    /// Builds the service; makes the dummy hash with the configured cost.
    pub fn new(
        store: Arc<dyn Store>,
        broker: Arc<dyn Broker>,
        config: Arc<Config>,
    ) -> Result<Self> {
        Ok(Self {
            hasher: PasswordHasher::new(
                config.password_hashing,
                config.hash_concurrency,
                config.hash_wait,
            )?,
            limiter: LoginLimiter::new(config.login_rate_limit),
            store,
            broker,
            config,
        })
    }

    /// The login limiter shared by login, sessions and Basic auth (its size, for tests and
    /// metrics).
    pub fn login_limiter(&self) -> &LoginLimiter {
        &self.limiter
    }

    /// Checks a username and password, throttled per username and IP. Unknown users,
    /// inactive users and wrong passwords all cost one verification and answer
    /// `InvalidCredentials`. The attempt is counted before the verification (and given back
    /// on success), so parallel guesses get no more than the budget. A name no account can
    /// have (too long) costs none: it is refused before the store and counted against the
    /// client's address only, so a flood of such names cannot grow the limiter.
    async fn check_password(
        &self,
        username: &str,
        password: &str,
        client: &ClientInfo,
    ) -> Result<UserRecord> {
        let Some(key) = validate::login_username_key(username) else {
            self.limiter.reserve(None, client.ip)?;
            metrics::counter!(LOGIN_FAILURES).increment(1);
            return Err(Error::InvalidCredentials);
        };
        self.limiter.reserve(Some(&key), client.ip)?;
        match self.verify_password(&key, password).await {
            Ok(Some(record)) => {
                self.limiter.succeeded(&key, client.ip);
                Ok(record)
            }
            Ok(None) => {
                metrics::counter!(LOGIN_FAILURES).increment(1);
                Err(Error::InvalidCredentials)
            }
            Err(e) => {
                // The store or the hashing pool failed: no password was checked.
                self.limiter.refund(Some(&key), client.ip);
                Err(e)
            }
        }
    }

    /// The active account `key` names, if `password` is its password; one verification
    /// whatever the answer.
    async fn verify_password(&self, key: &str, password: &str) -> Result<Option<UserRecord>> {
        // No username holds NUL, and PostgreSQL refuses it in a query: such a name matches
        // nobody (and still costs one verification below).
        let record = if key.contains('\0') {
            None
        } else {
            self.store.user_by_key(key).await?
        };
        let matches = self
            .hasher
            .verify(password, record.as_ref().map(|r| r.password_hash.as_str()))
            .await?;
        Ok(record.filter(|r| matches && r.is_active))
    }

    /// Mints a token for `record`, whose credentials were just verified: it is stored only
    /// if they still hold (a password change or deactivation meanwhile answers
    /// `InvalidCredentials`, never a token that outlives them).
    async fn mint_token(&self, record: &UserRecord) -> Result<String> {
        let token = new_token();
        let stored = self
            .store
            .insert_token(
                record.id,
                &record.password_hash,
                &sha256_hex(&token),
                timestamp::now(),
            )
            .await?;
        if stored {
            Ok(token)
        } else {
            Err(Error::InvalidCredentials)
        }
    }

    /// Validates a registration and stores the account.
    async fn create_account(&self, reg: Registration, is_admin: bool) -> Result<UserRecord> {
        let username = Username::parse(&reg.username)?;
        let email = validate::email(&reg.email)?;
        let first_name = validate::person_name("first_name", &reg.first_name)?;
        let last_name = validate::person_name("last_name", &reg.last_name)?;
        validate::password(
            &reg.password,
            PasswordContext {
                username: username.as_str(),
                email: &email,
                first_name: &first_name,
                last_name: &last_name,
            },
        )?;
        if self.store.user_by_key(username.key()).await?.is_some() {
            return Err(taken());
        }
        let password_hash = self.hasher.hash(&reg.password).await?;
        let record = new_user_record(
            username,
            email,
            first_name,
            last_name,
            password_hash,
            is_admin,
        );
        self.store.insert_user(record).await
    }

    /// Validates and hashes a new password for `record`.
    async fn new_password_hash(&self, record: &UserRecord, password: &str) -> Result<String> {
        validate::password(
            password,
            PasswordContext {
                username: &record.username,
                email: &record.email,
                first_name: &record.first_name,
                last_name: &record.last_name,
            },
        )?;
        self.hasher.hash(password).await
    }

    async fn record(&self, id: UserId) -> Result<UserRecord> {
        self.store
            .user_by_id(id)
            .await?
            .ok_or(Error::NotFound("User"))
    }
}

fn taken() -> Error {
    Error::conflict("A user with that username already exists.")
}

fn active_actor(record: UserRecord) -> Result<Actor> {
    if record.is_active {
        Ok(Actor::new(record.user(), record.is_admin))
    } else {
        Err(Error::Unauthenticated)
    }
}

/// Whether `s` can be an API token at all (40 lowercase hex), to skip the store otherwise.
fn looks_like_token(s: &str) -> bool {
    s.len() == 40 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

#[async_trait]
impl Authenticator for CoreAuth {
    async fn authenticate(&self, credential: &Credential, client: &ClientInfo) -> Result<Actor> {
        match credential {
            Credential::Token(token) => {
                let token = token.to_ascii_lowercase();
                if !looks_like_token(&token) {
                    return Err(Error::Unauthenticated);
                }
                let record = self.store.token_user(&sha256_hex(&token)).await?;
                active_actor(record.ok_or(Error::Unauthenticated)?)
            }
            Credential::Basic { username, password } => {
                let record = self.check_password(username, password, client).await?;
                active_actor(record)
            }
            Credential::Session(id) => {
                let found = self
                    .store
                    .session_user(&sha256_hex(id), timestamp::now())
                    .await?;
                let (record, csrf) = found.ok_or(Error::Unauthenticated)?;
                Ok(active_actor(record)?.with_csrf_token(csrf))
            }
        }
    }
}

#[async_trait]
impl AuthService for CoreAuth {
    async fn register(&self, registration: Registration) -> Result<(User, String)> {
        if !self.config.registration_open {
            return Err(Error::forbidden("Registration is closed"));
        }
        let record = self.create_account(registration, false).await?;
        let token = self.mint_token(&record).await?;
        Ok((record.user(), token))
    }

    async fn login(&self, username: &str, password: &str, client: &ClientInfo) -> Result<String> {
        let record = self.check_password(username, password, client).await?;
        self.mint_token(&record).await
    }

    async fn logout(&self, token: &str) -> Result<()> {
        self.store
            .delete_token(&sha256_hex(&token.to_ascii_lowercase()))
            .await
    }

    async fn create_session(
        &self,
        username: &str,
        password: &str,
        client: &ClientInfo,
    ) -> Result<NewSession> {
        let record = self.check_password(username, password, client).await?;
        let id = random_hex(32);
        let csrf_token = random_hex(32);
        let expires_at = timestamp::now() + self.config.session_ttl;
        let stored = self
            .store
            .insert_session(
                &sha256_hex(&id),
                record.id,
                &record.password_hash,
                &csrf_token,
                expires_at,
            )
            .await?;
        if !stored {
            return Err(Error::InvalidCredentials);
        }
        let actor = active_actor(record)?.with_csrf_token(csrf_token.clone());
        Ok(NewSession {
            id,
            csrf_token,
            expires_at,
            actor,
        })
    }

    async fn end_session(&self, session_id: &str) -> Result<()> {
        self.store
            .delete_session(&sha256_hex(session_id), timestamp::now())
            .await
    }

    async fn me(&self, actor: &Actor) -> Result<UserDetail> {
        Ok(current_account(&*self.store, actor).await?.detail())
    }

    async fn update_profile(&self, actor: &Actor, update: ProfileUpdate) -> Result<UserDetail> {
        let current = current_account(&*self.store, actor).await?;
        let first_name = match &update.first_name {
            Some(v) => validate::person_name("first_name", v)?,
            None => current.first_name.clone(),
        };
        let last_name = match &update.last_name {
            Some(v) => validate::person_name("last_name", v)?,
            None => current.last_name.clone(),
        };
        let email = match &update.email {
            Some(v) => validate::email(v)?,
            None => current.email.clone(),
        };
        let search_key =
            validate::user_search_key(&current.username, &first_name, &last_name, &email);
        let record = self
            .store
            .update_profile(actor.id(), &first_name, &last_name, &email, &search_key)
            .await?;
        Ok(record.detail())
    }

    async fn change_password(&self, actor: &Actor, old: &str, new: &str) -> Result<String> {
        let record = current_account(&*self.store, actor).await?;
        if !self.hasher.verify(old, Some(&record.password_hash)).await? {
            return Err(Error::invalid(
                "old_password",
                "Your old password was entered incorrectly.",
            ));
        }
        let hash = self.new_password_hash(&record, new).await?;
        self.store.set_password_hash(record.id, &hash).await?;
        let changed = UserRecord {
            password_hash: hash,
            ..record
        };
        self.mint_token(&changed).await
    }

    async fn list_users(
        &self,
        actor: &Actor,
        query: &str,
        limit: u32,
        offset: u32,
    ) -> Result<Vec<UserDetail>> {
        require_admin(&*self.store, actor).await?;
        let limit = PageLimit::try_from(i64::from(limit))?;
        let pattern = (!query.trim().is_empty()).then(|| validate::like_pattern(query));
        let records = self
            .store
            .list_users(pattern.as_deref(), limit, offset)
            .await?;
        Ok(records.iter().map(UserRecord::detail).collect())
    }

    async fn update_user(
        &self,
        actor: &Actor,
        user: UserId,
        update: UserFlagsUpdate,
    ) -> Result<UserDetail> {
        require_admin(&*self.store, actor).await?;
        let demotes = update.is_superuser == Some(false) || update.is_active == Some(false);
        if user == actor.id() && demotes {
            return Err(Error::conflict("You cannot demote or deactivate yourself"));
        }
        let change = self
            .store
            .set_user_flags(user, update.is_superuser, update.is_active)
            .await?;
        // One event per chat, shown to every subscriber: the hidden form.
        let public = change.user.user().hidden();
        for (chat, at_seq) in change.deactivated_in {
            let event = Event::MemberRemoved {
                chat,
                user: public.clone(),
                reason: RemovalReason::Deactivated,
                at_seq,
            };
            self.broker.publish(EventFrame::new(event)).await;
        }
        // The user's streams of chats they are not a member of (an admin's) learn it here.
        if update.is_active.is_some() || update.is_superuser.is_some() {
            self.broker.account_changed(user).await;
        }
        Ok(change.user.detail())
    }

    async fn create_superuser(&self, registration: Registration) -> Result<User> {
        Ok(self.create_account(registration, true).await?.user())
    }

    async fn set_password(&self, username: &str, password: &str) -> Result<()> {
        let record = self
            .store
            .user_by_key(&validate::username_key(username))
            .await?
            .ok_or(Error::NotFound("User"))?;
        let hash = self.new_password_hash(&record, password).await?;
        self.store.set_password_hash(record.id, &hash).await
    }

    async fn actor_for(&self, user: UserId) -> Result<Actor> {
        active_actor(self.record(user).await?)
    }

    async fn provision(&self, identity: ExternalIdentity) -> Result<Actor> {
        let ExternalIdentity {
            issuer,
            subject,
            username,
            email,
            first_name,
            last_name,
        } = identity;
        validate::external_key("issuer", &issuer)?;
        validate::external_key("subject", &subject)?;
        if let Some(record) = self.store.user_by_external(&issuer, &subject).await? {
            return active_actor(record);
        }
        let record = new_user_record(
            Username::parse(&username)?,
            validate::email(&email)?,
            validate::person_name("first_name", &first_name)?,
            validate::person_name("last_name", &last_name)?,
            UNUSABLE_PASSWORD.into(),
            false,
        );
        let record = match self
            .store
            .insert_external_user(record, &issuer, &subject)
            .await
        {
            Err(Error::Conflict(_)) => {
                match self.store.user_by_external(&issuer, &subject).await? {
                    // Two first requests of the same person raced: the other one made it.
                    Some(record) => record,
                    // The name belongs to an account this identity did not make.
                    None => {
                        return Err(Error::forbidden(
                            "This username belongs to another account; an administrator must \
                         resolve the clash before you can sign in.",
                        ));
                    }
                }
            }
            other => other?,
        };
        active_actor(record)
    }
}

/// A validated account about to be stored, with its search key and creation time.
fn new_user_record(
    username: Username,
    email: String,
    first_name: String,
    last_name: String,
    password_hash: String,
    is_admin: bool,
) -> NewUserRecord {
    NewUserRecord {
        search_key: validate::user_search_key(username.as_str(), &first_name, &last_name, &email),
        username: username.as_str().to_owned(),
        username_key: username.key().to_owned(),
        email,
        first_name,
        last_name,
        password_hash,
        is_admin,
        created_at: timestamp::now(),
    }
}
