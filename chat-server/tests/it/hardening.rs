//! Findings of the security review (issue 10), each pinned by a test that failed before its
//! fix.

use crate::helpers::*;
use async_trait::async_trait;
use chatcore::model::UserId;
use chatcore::{Actor, AuthService, Authenticator, ClientInfo, Credential, Error, Services};
use std::sync::Arc;
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
        chat_server::Settings::default(),
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
