//! Findings of the security review (issue 10), each pinned by a test that failed before its
//! fix.

use crate::helpers::*;
use async_trait::async_trait;
use chat_server::Settings;
use chatcore::model::UserId;
use chatcore::{
    Actor, AuthService, Authenticator, ClientInfo, Config, Credential, Error, Services,
};
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// A plugged-in single sign-on that vouches for a browser by its own cookie: the actor it
/// returns carries no CSRF token.
struct CookieSso {
    auth: Arc<dyn AuthService>,
    user: UserId,
}

#[async_trait]
impl Authenticator for CookieSso {
    async fn authenticate(
        &self,
        credential: &Credential,
        _: &ClientInfo,
    ) -> chatcore::Result<Actor> {
        match credential {
            Credential::Session(id) if id == "sso-cookie" => self.auth.actor_for(self.user).await,
            _ => Err(Error::Unauthenticated),
        }
    }
}

#[tokio::test]
async fn a_cookie_session_without_a_csrf_token_cannot_make_unsafe_requests() {
    let app = spawn_app().await;
    let admin = app.create_admin("root").await;
    let services = Services {
        authenticator: Arc::new(CookieSso {
            auth: app.services.auth.clone(),
            user: admin.id(),
        }),
        ..app.services.clone()
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let shutdown = CancellationToken::new();
    let server = tokio::spawn(chat_server::serve(
        listener,
        services,
        Settings::default(),
        shutdown.clone(),
    ));
    let http = reqwest::Client::new();
    let read = http
        .get(format!("{base}/api/chat/"))
        .header("cookie", "chat_session=sso-cookie")
        .send()
        .await
        .unwrap();
    assert_eq!(read.status().as_u16(), 200, "reading needs no CSRF proof");
    // Same-origin as far as the origin check goes; the empty token must not match "".
    for token in [None, Some("")] {
        let mut req = http
            .post(format!("{base}/api/chat/"))
            .header("cookie", "chat_session=sso-cookie")
            .json(&serde_json::json!({"name": "forged"}));
        if let Some(t) = token {
            req = req.header("x-csrf-token", t);
        }
        let answer = req.send().await.unwrap();
        assert_eq!(answer.status().as_u16(), 403, "token {token:?}");
        let body: serde_json::Value = answer.json().await.unwrap();
        assert_eq!(body["code"], "forbidden");
    }
    let chats = app
        .services
        .membership
        .list_chats(&app.actor(&admin).await)
        .await
        .unwrap();
    assert!(chats.is_empty(), "nothing was created: {chats:?}");
    shutdown.cancel();
    server.await.unwrap().unwrap();
}

/// Reads until the server closes the connection; how long that took.
async fn closed_after(stream: &mut tokio::net::TcpStream, limit: Duration) -> Duration {
    use tokio::io::AsyncReadExt;
    let started = std::time::Instant::now();
    let mut sink = Vec::new();
    let read = tokio::time::timeout(limit, stream.read_to_end(&mut sink)).await;
    assert!(read.is_ok(), "still open after {limit:?}");
    started.elapsed()
}

fn with_idle_timeout(idle: Duration, connection_limit: usize) -> Settings {
    Settings {
        idle_timeout: idle,
        connection_limit,
        ..Settings::default()
    }
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let idle = Duration::from_millis(300);
    let app = spawn_app_with(
        Backend::Sqlite,
        Config::for_tests(),
        with_idle_timeout(idle, 64),
    )
    .await
    .unwrap();
    let mut stream = tokio::net::TcpStream::connect(app.address).await.unwrap();
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n")
        .await
        .unwrap();
    let mut answer = [0u8; 12];
    stream.read_exact(&mut answer).await.unwrap();
    assert_eq!(&answer, b"HTTP/1.1 200");
    // Kept alive after the answer, then closed once nothing moves.
    closed_after(&mut stream, Duration::from_secs(10)).await;
}

#[tokio::test]
async fn a_thousand_idle_connections_are_capped_and_the_server_still_answers() {
    let idle = Duration::from_millis(500);
    let app = spawn_app_with(
        Backend::Sqlite,
        Config::for_tests(),
        with_idle_timeout(idle, 100),
    )
    .await
    .unwrap();
    let mut idlers = Vec::new();
    for _ in 0..1000 {
        idlers.push(tokio::net::TcpStream::connect(app.address).await.unwrap());
    }
    // The cap holds the rest in the backlog; idle ones are closed, so a real client is
    // served soon.
    let answer = tokio::time::timeout(Duration::from_secs(30), app.get("/healthz", As::Anonymous))
        .await
        .expect("the server answers while 1000 idle connections wait");
    answer.expect(200);
    // The idlers that got in were closed; no connection stays open for good.
    for stream in idlers.iter_mut().take(5) {
        closed_after(stream, Duration::from_secs(30)).await;
    }
}
