//! [`Client`]: the REST half of the SDK. One typed method per endpoint, the credential it
//! sends (none, a token, or Basic), and the one place where requests are sent and their
//! answers read (under a size cap, by [`Answer`]): a 2xx body is decoded into the promised
//! type, anything else becomes an [`Error`](crate::Error). Posting makes a `client_id` when the caller
//! gives none and retries with it, so a retry never stores a message twice.

use crate::answer::Answer;
use crate::error::Result;
use crate::routes::{Routes, UserQuery};
use base64::Engine as _;
use chatcore::model::{
    Chat, ChatId, ChatRename, LoginRequest, MAX_PAGE_LIMIT, Message, NewChat, NewMessage, Notice,
    PageRequest, PasswordChange, ProfileUpdate, ReadMarker, ReadRequest, RegisterResponse,
    Registration, TokenResponse, User, UserDetail, UserFlagsUpdate, UserId,
};
use http::{HeaderValue, Method, header};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::sync::Arc;
use std::time::Duration;
use url::Url;

/// How long a REST call may take in all, with the client [`Client::new`] builds.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// How long connecting may take, with the client [`Client::new`] builds.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// The largest answer body read by default (a full history page is about 3 MiB).
const MAX_RESPONSE_BYTES: usize = 32 << 20;
/// How many times a post is sent before its error is returned (same `client_id` each time).
const POST_ATTEMPTS: u32 = 3;
/// The first wait between two attempts of a post, when the server named none; it doubles.
const POST_BACKOFF: Duration = Duration::from_millis(250);
/// A post is not retried when the server asks to wait longer than this.
const MAX_POST_RETRY_WAIT: Duration = Duration::from_secs(10);

/// The answer of `GET /healthz`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Health {
    /// `"ok"` when the server and its store answer.
    pub status: String,
}

/// The credential a [`Client`] sends with every request.
#[derive(Clone)]
enum Auth {
    /// Nothing: only register, login and health work.
    Anonymous,
    /// `Authorization: Token <token>`.
    Token { token: String, header: HeaderValue },
    /// `Authorization: Basic …`; the password is checked on every request.
    Basic {
        username: String,
        header: HeaderValue,
    },
}

impl Auth {
    fn token(token: &str) -> Result<Self> {
        let mut header = HeaderValue::from_str(&format!("Token {token}")).map_err(|_| {
            chatcore::Error::invalid("token", "a token must be printable ASCII without newlines")
        })?;
        header.set_sensitive(true);
        Ok(Auth::Token {
            token: token.to_owned(),
            header,
        })
    }

    fn basic(username: &str, password: &str) -> Self {
        let encoded =
            base64::engine::general_purpose::STANDARD.encode(format!("{username}:{password}"));
        let mut header = HeaderValue::from_str(&format!("Basic {encoded}"))
            .expect("base64 text is always a valid header value");
        header.set_sensitive(true);
        Auth::Basic {
            username: username.to_owned(),
            header,
        }
    }

    fn header(&self) -> Option<&HeaderValue> {
        match self {
            Auth::Anonymous => None,
            Auth::Token { header, .. } | Auth::Basic { header, .. } => Some(header),
        }
    }
}

impl fmt::Debug for Auth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never print a secret: a `Client` ends up in logs.
        match self {
            Auth::Anonymous => f.write_str("Anonymous"),
            Auth::Token { .. } => f.write_str("Token(<redacted>)"),
            Auth::Basic { username, .. } => write!(f, "Basic({username:?}, <redacted>)"),
        }
    }
}

/// A client of one chat server, anonymous or signed in.
///
/// Cloning is cheap and clones share the connection pool; each clone keeps its own
/// credential, so [`Client::with_token`] or [`Client::login`] never change another clone.
/// Every method sends one request (except [`Client::messages_since`], which pages) and
/// returns the typed answer, or an [`Error`](crate::Error) carrying the status and the server's text.
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    routes: Arc<Routes>,
    auth: Auth,
    /// The largest answer body read.
    max_response_bytes: usize,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("base_url", &self.routes.base().as_str())
            .field("auth", &self.auth)
            .finish()
    }
}

impl Client {
    /// An anonymous client of the server at `base_url` (`http://127.0.0.1:8000`, or with a
    /// path prefix such as `https://example.com/chat/`). Requests time out after 30 s and
    /// redirects are not followed (the API never redirects).
    pub fn new(base_url: &str) -> Result<Self> {
        let http = reqwest::Client::builder()
            .user_agent(concat!("chat-sdk/", env!("CARGO_PKG_VERSION")))
            .timeout(REQUEST_TIMEOUT)
            .connect_timeout(CONNECT_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        Self::with_http_client(base_url, http)
    }

    /// Like [`Client::new`], with a `reqwest::Client` you configured (proxy, timeouts, TLS
    /// roots…). Do not give it a default `Authorization` header: the SDK sets its own.
    pub fn with_http_client(base_url: &str, http: reqwest::Client) -> Result<Self> {
        Ok(Self {
            http,
            routes: Arc::new(Routes::new(base_url)?),
            auth: Auth::Anonymous,
            max_response_bytes: MAX_RESPONSE_BYTES,
        })
    }

    /// The same client, reading answer bodies of at most `bytes` (default 32 MiB). A larger
    /// success body is an [`Error::Decode`](crate::Error::Decode), read no further than the limit.
    pub fn max_response_bytes(mut self, bytes: usize) -> Self {
        self.max_response_bytes = bytes;
        self
    }

    /// The server's base URL (normalised to end with `/`).
    pub fn base_url(&self) -> &Url {
        self.routes.base()
    }

    /// The API token this client sends, if it uses one.
    pub fn token(&self) -> Option<&str> {
        match &self.auth {
            Auth::Token { token, .. } => Some(token),
            _ => None,
        }
    }

    /// True when the client sends a credential (token or Basic).
    pub fn is_authenticated(&self) -> bool {
        !matches!(self.auth, Auth::Anonymous)
    }

    /// A client of the same server that sends no credential.
    pub fn anonymous(&self) -> Client {
        self.with_auth(Auth::Anonymous)
    }

    /// A client of the same server that sends `Authorization: Token <token>` (a token you
    /// kept from an earlier [`Client::login`]). Fails only when `token` cannot be a header.
    pub fn with_token(&self, token: &str) -> Result<Client> {
        Ok(self.with_auth(Auth::token(token)?))
    }

    /// A client of the same server that sends HTTP Basic credentials with every request.
    /// The server checks the password each time (slow by design); prefer a token.
    pub fn with_basic_auth(&self, username: &str, password: &str) -> Client {
        self.with_auth(Auth::basic(username, password))
    }

    fn with_auth(&self, auth: Auth) -> Client {
        Client {
            http: self.http.clone(),
            routes: Arc::clone(&self.routes),
            auth,
            max_response_bytes: self.max_response_bytes,
        }
    }

    pub(crate) fn routes(&self) -> &Routes {
        &self.routes
    }

    /// The `Authorization` header value, for the WebSocket upgrade.
    pub(crate) fn authorization(&self) -> Option<&HeaderValue> {
        self.auth.header()
    }

    // ----- accounts -------------------------------------------------------------------

    /// `POST /api/accounts/register/`: creates an account and returns a client signed in
    /// with its first token, and the new user.
    pub async fn register(&self, registration: &Registration) -> Result<(Client, User)> {
        let answer: RegisterResponse = self
            .json(Method::POST, self.routes.register(), Some(registration))
            .await?;
        Ok((self.with_token(&answer.token)?, answer.user))
    }

    /// `POST /api/accounts/login/`: a client signed in with a fresh token. Wrong username
    /// or password: `Api { status: 400, kind: Some(InvalidCredentials), .. }`.
    pub async fn login(&self, username: &str, password: &str) -> Result<Client> {
        let body = LoginRequest {
            username: username.to_owned(),
            password: password.to_owned(),
        };
        let answer: TokenResponse = self
            .json(Method::POST, self.routes.login(), Some(&body))
            .await?;
        self.with_token(&answer.token)
    }

    /// `POST /api/accounts/logout/`: revokes the token this client sends. The client (and
    /// every clone with the same token) is signed out afterwards: its calls answer 401.
    pub async fn logout(&self) -> Result<()> {
        self.no_content(Method::POST, self.routes.logout(), None::<&()>)
            .await
    }

    /// `GET /api/accounts/me/`: the signed-in user, with e-mail and flags.
    pub async fn me(&self) -> Result<UserDetail> {
        self.json(Method::GET, self.routes.me(), None::<&()>).await
    }

    /// `PATCH /api/accounts/me/`: changes one's own names or e-mail.
    pub async fn update_me(&self, update: &ProfileUpdate) -> Result<UserDetail> {
        self.json(Method::PATCH, self.routes.me(), Some(update))
            .await
    }

    /// `POST /api/accounts/password/`: changes the password. The server revokes every token
    /// and session of the user and answers a new token, which this client uses from now on
    /// (other clones keep the revoked one).
    pub async fn change_password(&mut self, old_password: &str, new_password: &str) -> Result<()> {
        let body = PasswordChange {
            old_password: old_password.to_owned(),
            new_password: new_password.to_owned(),
        };
        let answer: TokenResponse = self
            .json(Method::POST, self.routes.password(), Some(&body))
            .await?;
        self.auth = Auth::token(&answer.token)?;
        Ok(())
    }

    // ----- chats ----------------------------------------------------------------------

    /// `GET /api/chat/`: the chats the user belongs to (an admin: every chat).
    pub async fn chats(&self) -> Result<Vec<Chat>> {
        self.json(Method::GET, self.routes.chats(), None::<&()>)
            .await
    }

    /// `POST /api/chat/` (admin): creates a chat with its first members.
    pub async fn create_chat(&self, chat: &NewChat) -> Result<Chat> {
        self.json(Method::POST, self.routes.chats(), Some(chat))
            .await
    }

    /// `GET /api/chat/{id}/` (member or admin): one chat with its members and `last_seq`.
    pub async fn chat(&self, chat: ChatId) -> Result<Chat> {
        self.json(Method::GET, self.routes.chat(chat), None::<&()>)
            .await
    }

    /// `PATCH /api/chat/{id}/` (admin): renames a chat.
    pub async fn rename_chat(&self, chat: ChatId, name: &str) -> Result<Chat> {
        let body = ChatRename {
            name: name.to_owned(),
        };
        self.json(Method::PATCH, self.routes.chat(chat), Some(&body))
            .await
    }

    /// `DELETE /api/chat/{id}/` (admin): deletes a chat and its history.
    pub async fn delete_chat(&self, chat: ChatId) -> Result<()> {
        self.no_content(Method::DELETE, self.routes.chat(chat), None::<&()>)
            .await
    }

    // ----- messages -------------------------------------------------------------------

    /// `GET /api/chat/{id}/message/`: one page of history, oldest first. Use
    /// [`PageRequest::default()`] for the newest 50, [`PageRequest::before`] to page back
    /// and [`PageRequest::after`] to catch up.
    pub async fn messages(&self, chat: ChatId, page: PageRequest) -> Result<Vec<Message>> {
        self.json(Method::GET, self.routes.history(chat, &page), None::<&()>)
            .await
    }

    /// Every message after `after_seq`, oldest first: pages of 200 until a short page.
    pub async fn messages_since(&self, chat: ChatId, after_seq: i64) -> Result<Vec<Message>> {
        let mut all = Vec::new();
        let mut cursor = after_seq;
        loop {
            let page = self
                .messages(chat, PageRequest::after(cursor, MAX_PAGE_LIMIT)?)
                .await?;
            let full = page.len() >= MAX_PAGE_LIMIT as usize;
            match page.last() {
                Some(last) if last.seq > cursor => cursor = last.seq,
                // An empty page, or one that does not move forward, ends the catch-up.
                _ => {
                    all.extend(page);
                    return Ok(all);
                }
            }
            all.extend(page);
            if !full {
                return Ok(all);
            }
        }
    }

    /// `POST /api/chat/{id}/message/` (member): posts a message. Without a `client_id` the
    /// SDK makes one (a random 128-bit id), so that retrying is safe: the server answers the
    /// stored message to a repeated `client_id` instead of storing it twice. A post that
    /// fails in a way worth retrying ([`Error::is_retryable`](crate::Error::is_retryable): no answer, a timeout, 429 or
    /// 503…) is sent again, up to three times in all, after the server's `Retry-After`
    /// (unless it is over 10 s) or a short backoff. The stored message carries the
    /// `client_id` it was posted with.
    pub async fn post_message(&self, chat: ChatId, message: &NewMessage) -> Result<Message> {
        let message = NewMessage {
            content: message.content.clone(),
            client_id: Some(
                message
                    .client_id
                    .clone()
                    .unwrap_or_else(crate::client_id::new_client_id),
            ),
        };
        let mut attempt = 1;
        loop {
            let result = self
                .json(Method::POST, self.routes.messages(chat), Some(&message))
                .await;
            let wait = match &result {
                Err(e) if e.is_retryable() && attempt < POST_ATTEMPTS => e
                    .retry_after()
                    .unwrap_or(POST_BACKOFF * 2u32.pow(attempt - 1)),
                _ => return result,
            };
            if wait > MAX_POST_RETRY_WAIT {
                return result;
            }
            tracing::debug!(%chat, attempt, ?wait, "retrying a post with the same client_id");
            tokio::time::sleep(wait).await;
            attempt += 1;
        }
    }

    /// Posts `content` with a `client_id` the SDK makes (see [`Client::post_message`]).
    pub async fn post(&self, chat: ChatId, content: &str) -> Result<Message> {
        let message = NewMessage {
            content: content.to_owned(),
            client_id: None,
        };
        self.post_message(chat, &message).await
    }

    /// `POST /api/chat/{id}/read/` (member): marks the chat read up to `seq` and answers the
    /// marker with the unread count. The marker never moves back, and a `seq` beyond the
    /// newest message counts as the newest; a negative `seq` is refused. The user's sockets
    /// on the chat get a `read` event when it moved.
    pub async fn mark_read(&self, chat: ChatId, seq: i64) -> Result<ReadMarker> {
        self.json(
            Method::POST,
            self.routes.read(chat),
            Some(&ReadRequest { seq }),
        )
        .await
    }

    // ----- membership -----------------------------------------------------------------

    /// `GET /api/chat/{id}/members/` (member or admin): the chat's members, e-mail hidden
    /// unless the viewer may see it.
    pub async fn members(&self, chat: ChatId) -> Result<Vec<User>> {
        self.json(Method::GET, self.routes.members(chat), None::<&()>)
            .await
    }

    /// `PUT /api/chat/{id}/user/{uid}/` (admin): adds a member; adding a member again
    /// answers the same notice.
    pub async fn add_member(&self, chat: ChatId, user: UserId) -> Result<Notice> {
        self.json(Method::PUT, self.routes.member(chat, user), None::<&()>)
            .await
    }

    /// `DELETE /api/chat/{id}/user/{uid}/` (admin; any member for their own id, which is
    /// leaving): removes a member.
    pub async fn remove_member(&self, chat: ChatId, user: UserId) -> Result<Notice> {
        self.json(Method::DELETE, self.routes.member(chat, user), None::<&()>)
            .await
    }

    /// `POST /api/chat/{id}/leave/` (member): leaves the chat.
    pub async fn leave_chat(&self, chat: ChatId) -> Result<Notice> {
        self.json(Method::POST, self.routes.leave(chat), None::<&()>)
            .await
    }

    // ----- users (admin) --------------------------------------------------------------

    /// `GET /api/users/` (admin): users, optionally searched and paged.
    pub async fn users(&self, query: &UserQuery) -> Result<Vec<UserDetail>> {
        self.json(Method::GET, self.routes.users(query), None::<&()>)
            .await
    }

    /// `PATCH /api/users/{id}/` (admin): activates, deactivates, promotes or demotes a user.
    pub async fn update_user(&self, user: UserId, update: &UserFlagsUpdate) -> Result<UserDetail> {
        self.json(Method::PATCH, self.routes.user(user), Some(update))
            .await
    }

    // ----- service --------------------------------------------------------------------

    /// `GET /healthz`: `{"status": "ok"}`; a 503 (store unreachable) is an `Api` error.
    pub async fn health(&self) -> Result<Health> {
        self.json(Method::GET, self.routes.health(), None::<&()>)
            .await
    }

    /// `GET /api/openapi.json`: the server's OpenAPI 3.1 document, untyped.
    pub async fn openapi(&self) -> Result<serde_json::Value> {
        self.json(Method::GET, self.routes.openapi(), None::<&()>)
            .await
    }

    // ----- plumbing -------------------------------------------------------------------

    /// Sends one request and reads its answer (the body up to the client's limit).
    async fn send<B: Serialize + ?Sized>(
        &self,
        method: Method,
        url: Url,
        body: Option<&B>,
        context: &str,
    ) -> Result<Answer> {
        let mut request = self
            .http
            .request(method, url)
            .header(header::ACCEPT, "application/json");
        if let Some(value) = self.auth.header() {
            request = request.header(header::AUTHORIZATION, value.clone());
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await?;
        Answer::read(response, self.max_response_bytes, context).await
    }

    /// A request whose 2xx answer has a JSON body of type `T`.
    async fn json<T: DeserializeOwned, B: Serialize + ?Sized>(
        &self,
        method: Method,
        url: Url,
        body: Option<&B>,
    ) -> Result<T> {
        let context = format!("{method} {url}");
        self.send(method, url, body, &context)
            .await?
            .decode(&context)
    }

    /// A request whose 2xx answer has no body worth reading (204).
    async fn no_content<B: Serialize + ?Sized>(
        &self,
        method: Method,
        url: Url,
        body: Option<&B>,
    ) -> Result<()> {
        let context = format!("{method} {url}");
        match self.send(method, url, body, &context).await?.error() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::answer_meta::AnswerMeta;
    use crate::error::Error;
    use chatcore::ErrorKind;

    /// Reads a body as `client.rs` does, without a server.
    fn decode<T: DeserializeOwned>(context: &str, status: u16, body: &[u8]) -> Result<T> {
        Answer {
            status,
            meta: AnswerMeta::default(),
            body: bytes::Bytes::copy_from_slice(body),
        }
        .decode(context)
    }

    #[test]
    fn a_success_body_decodes_into_the_promised_type() {
        let body = br#"{"id":2,"first_name":"","last_name":"","username":"user1","email":"u@example.com","is_active":true,"is_superuser":false}"#;
        let me: UserDetail = decode("GET /api/accounts/me/", 200, body).unwrap();
        assert_eq!(me.user.username, "user1");
        assert_eq!(me.user.id, UserId(2));
        assert!(me.is_active && !me.is_superuser);
    }

    #[test]
    fn a_chat_list_decodes_with_the_wire_timestamp() {
        let body = r#"[{"id":1,"name":"general","participants":[{"id":2,"first_name":"","last_name":"","username":"user1","email":""}],"created_at":"2026-11-24T09:20:54.740351+00:00","last_seq":0,"last_message":null}]"#;
        let chats: Vec<Chat> = decode("GET /api/chat/", 200, body.as_bytes()).unwrap();
        assert_eq!(chats.len(), 1);
        assert_eq!(chats[0].name, "general");
        assert_eq!(chats[0].created_at.microsecond(), 740_351);
    }

    #[test]
    fn a_success_body_of_the_wrong_shape_is_a_decode_error_not_a_panic() {
        let err =
            decode::<Vec<Chat>>("GET http://h/api/chat/", 200, br#"{"chats": []}"#).unwrap_err();
        match &err {
            Error::Decode {
                context,
                status,
                length,
                ..
            } => {
                assert_eq!(context, "GET http://h/api/chat/");
                assert_eq!(*status, Some(200));
                assert_eq!(*length, 13);
            }
            other => panic!("expected a decode error, got {other:?}"),
        }
        assert!(
            err.to_string()
                .starts_with("unexpected answer from GET http://h/api/chat/")
        );
    }

    #[test]
    fn a_decode_error_never_quotes_the_body_only_its_length_and_where_parsing_failed() {
        // A login or register answer carries the token; a body of the wrong shape must not
        // put it (or any other part of the body) into an error that ends up in a log.
        let secret = "0f1e2d3c4b5a69788796a5b4c3d2e1f000112233";
        let bodies = [
            format!(r#"{{"token":"{secret}","user":"{secret}"}}"#),
            format!(r#"{{"token":"{secret}","#),
            format!(r#"{{"token":"{secret}" garbage}}"#),
            format!(r#"{{"{secret}":1}}"#),
        ];
        for body in &bodies {
            let err = decode::<chatcore::model::RegisterResponse>(
                "POST http://h/api/accounts/register/",
                201,
                body.as_bytes(),
            )
            .unwrap_err();
            let shown = format!("{err} {err:?}");
            assert!(!shown.contains(secret), "{shown}");
            assert!(!shown.contains("0f1e2d"), "{shown}");
            assert!(shown.contains(&format!("{} bytes", body.len())), "{shown}");
            assert!(shown.contains("line 1 column"), "{shown}");
        }
    }

    #[test]
    fn an_error_status_wins_over_the_body_shape() {
        let err = decode::<Chat>(
            "GET /api/chat/9/",
            404,
            br#"{"error":"Chat not found","code":"not_found"}"#,
        )
        .unwrap_err();
        assert_eq!(err.status(), Some(404));
        assert_eq!(err.kind(), Some(ErrorKind::NotFound));
    }

    #[test]
    fn a_token_that_cannot_be_a_header_is_refused_before_any_request() {
        let client = Client::new("http://127.0.0.1:1").unwrap();
        let err = client.with_token("abc\ndef").unwrap_err();
        assert_eq!(err.kind(), Some(ErrorKind::Invalid));
        assert!(!client.is_authenticated());
    }

    #[test]
    fn credentials_are_sent_in_the_expected_header_form() {
        let client = Client::new("http://127.0.0.1:1").unwrap();
        let token = client.with_token("0123456789abcdef").unwrap();
        assert_eq!(token.token(), Some("0123456789abcdef"));
        assert_eq!(
            token.authorization().unwrap().to_str().unwrap(),
            "Token 0123456789abcdef"
        );
        let basic = client.with_basic_auth("user1", "pa:ss wörd");
        assert_eq!(basic.token(), None);
        assert!(basic.is_authenticated());
        let header = basic.authorization().unwrap().to_str().unwrap().to_owned();
        let encoded = header.strip_prefix("Basic ").unwrap();
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .unwrap();
        assert_eq!(decoded, "user1:pa:ss wörd".as_bytes());
        assert!(client.authorization().is_none());
    }

    #[test]
    fn debug_output_never_shows_a_secret() {
        let client = Client::new("http://127.0.0.1:1").unwrap();
        let token = client.with_token("secret0token").unwrap();
        let basic = client.with_basic_auth("user1", "hunter2hunter2");
        let printed = format!("{token:?} {basic:?}");
        assert!(!printed.contains("secret0token"), "{printed}");
        assert!(!printed.contains("hunter2"), "{printed}");
        assert!(printed.contains("user1"), "{printed}");
    }

    async fn scripted() -> (tokio::net::TcpListener, Client) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let client = Client::new(&base).unwrap().with_token("t0ken").unwrap();
        (listener, client)
    }

    #[tokio::test]
    async fn a_body_over_the_limit_is_refused_whether_its_length_is_announced_or_not() {
        let (listener, client) = scripted().await;
        let client = client.max_response_bytes(1024);
        let big = format!("[{}]", vec!["1"; 2000].join(","));
        let server = tokio::spawn(async move {
            crate::scripted::answer(&listener, "200 OK", &[], big.as_bytes()).await;
            // No length announced: the SDK stops reading at its limit.
            let mut unannounced = b"HTTP/1.1 200 OK\r\nconnection: close\r\n\r\n".to_vec();
            unannounced.extend_from_slice(big.as_bytes());
            crate::scripted::answer_raw(&listener, &unannounced).await;
        });
        for _ in 0..2 {
            let err = client.chats().await.unwrap_err();
            assert!(matches!(err, Error::Decode { .. }), "{err:?}");
            assert!(err.to_string().contains("limit of 1024 bytes"), "{err}");
        }
        server.await.unwrap();
    }

    #[tokio::test]
    async fn post_without_a_client_id_sends_a_generated_one_and_retries_with_it() {
        let (listener, client) = scripted().await;
        let server = tokio::spawn(async move {
            let first = crate::scripted::answer(
                &listener,
                "503 Service Unavailable",
                &[("retry-after", "0"), ("content-type", "application/json")],
                br#"{"error":"The server is busy","code":"unavailable"}"#,
            )
            .await;
            let client_id = first.json()["client_id"].as_str().unwrap().to_owned();
            let stored = serde_json::json!({
                "id": 9, "chat": 1, "seq": 1, "content": "hi", "client_id": client_id,
                "timestamp": "2026-11-24T09:21:11.386088+00:00",
                "user": {"id": 2, "first_name": "", "last_name": "", "username": "ann", "email": ""},
            });
            let second = crate::scripted::answer(
                &listener,
                "201 Created",
                &[("content-type", "application/json")],
                stored.to_string().as_bytes(),
            )
            .await;
            let third = crate::scripted::hang_up(&listener).await;
            (first, second, third)
        });
        let message = client.post(ChatId(1), "hi").await.unwrap();
        let again = client.post(ChatId(1), "hi").await;
        let (first, second, third) = server.await.unwrap();
        assert!(again.is_err());
        assert_eq!(first.line, "POST /api/chat/1/message/ HTTP/1.1");
        let id = first.json()["client_id"].as_str().unwrap().to_owned();
        assert!((1..=64).contains(&id.chars().count()), "{id}");
        assert_eq!(
            second.json()["client_id"],
            id.as_str(),
            "a retry sends the same id"
        );
        assert_eq!(message.client_id.as_deref(), Some(id.as_str()));
        assert_eq!(first.line, third.line);
        assert_ne!(
            third.json()["client_id"],
            id.as_str(),
            "a new post gets a new id"
        );
    }

    #[tokio::test]
    async fn post_keeps_the_callers_client_id() {
        let (listener, client) = scripted().await;
        let server = tokio::spawn(async move { crate::scripted::hang_up(&listener).await });
        let message = NewMessage {
            content: "hi".into(),
            client_id: Some("mine-1".into()),
        };
        let _ = client.post_message(ChatId(1), &message).await;
        let request = server.await.unwrap();
        assert_eq!(request.json()["client_id"], "mine-1");
    }

    #[tokio::test]
    async fn a_server_that_is_not_there_is_a_transport_error() {
        // Port 1 on loopback: nothing listens there, the connection is refused at once.
        let client = Client::new("http://127.0.0.1:1").unwrap();
        let err = client.health().await.unwrap_err();
        assert!(matches!(err, Error::Transport(_)), "{err:?}");
        assert_eq!(err.status(), None);
    }
}
