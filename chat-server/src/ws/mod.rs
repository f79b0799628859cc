//! WebSockets: the chat's live stream for API clients (`/ws/api/chat/{id}/`, `Authorization:
//! Token …` or Basic; never the session cookie, which a browser would attach for any page)
//! and for the browser page (`/ws/chat/{id}/`, the session cookie, with `Origin` checked:
//! browsers apply no CORS to WebSockets). Both are `Front::WebSocket` rows of the route
//! table: the pipeline has authenticated the upgrade, and every refusal (401, 403, 404, 400,
//! 426) is a JSON answer instead of the `101`.
//!
//! `?after_seq=N` resumes: the stored messages after `N`, then live events, with no gap
//! and no duplicate (the core's [`chatcore::Subscription`]). The session itself is
//! [`session::run`]; the frames are in [`protocol`].

pub mod outbound;
pub mod protocol;
pub mod session;

use crate::http::auth::Via;
use crate::http::csrf;
use crate::http::ctx::Ctx;
use crate::http::query::QueryInt;
use crate::http::{ApiError, Body};
use chatcore::model::ChatId;
use http::{Request, Response};
use http_body_util::BodyExt;
use hyper_tungstenite::tungstenite::protocol::WebSocketConfig;
use session::Session;

/// `GET /ws/api/chat/{id}/` (upgrade): the API client's socket.
pub async fn api_socket(ctx: Ctx) -> Result<Response<Body>, ApiError> {
    if ctx.authenticated().is_some_and(|a| a.via() == Via::Session) {
        return Err(ApiError::unauthenticated(
            "This socket takes `Authorization: Token …`; browsers use /ws/chat/{id}/",
        ));
    }
    upgrade(ctx).await
}

/// `GET /ws/chat/{id}/` (upgrade): the browser page's socket, by session cookie, from the
/// server's own origin (or a configured one) only.
pub async fn browser_socket(ctx: Ctx) -> Result<Response<Body>, ApiError> {
    if ctx.authenticated().is_some_and(|a| a.via() == Via::Session)
        && !csrf::origin_allowed(
            &ctx.parts().headers,
            &ctx.state().settings().allowed_origins,
        )
    {
        return Err(ApiError::csrf(
            "Cross-origin WebSocket refused: the Origin is not this server's",
        ));
    }
    upgrade(ctx).await
}

/// The query of an upgrade.
#[derive(Debug, serde::Deserialize)]
struct SocketQuery {
    after_seq: Option<QueryInt>,
}

/// Subscribes (refusing before the `101` what the core refuses), then answers the upgrade and
/// runs the session as a tracked task in the request's span.
async fn upgrade(mut ctx: Ctx) -> Result<Response<Body>, ApiError> {
    if !hyper_tungstenite::is_upgrade_request(&Request::from_parts(ctx.parts().clone(), ())) {
        return Err(ApiError::upgrade_required());
    }
    let chat: ChatId = ctx.id("id")?;
    let query: SocketQuery = ctx.query()?;
    let after_seq = query.after_seq.map(|q| q.0);
    // Whether `after_seq` may be resumed from (0 ≤ after_seq ≤ last_seq) is chatcore's rule.
    let Some(authenticated) = ctx.authenticated().cloned() else {
        return Err(ApiError::unauthenticated(
            "Authentication credentials were not provided",
        ));
    };
    let subscription = ctx
        .services()
        .messaging
        .subscribe(&authenticated.actor, chat, after_seq)
        .await?;
    let limits = &ctx.state().settings().ws;
    let config = WebSocketConfig::default()
        .max_message_size(Some(limits.max_message))
        .max_frame_size(Some(limits.max_message))
        .read_buffer_size(limits.read_buffer);
    let state = ctx.state().clone();
    let (parts, ()) = Request::new(()).into_parts();
    let mut request = Request::from_parts(std::mem::replace(ctx.parts_mut(), parts), ());
    let (response, socket) = hyper_tungstenite::upgrade(&mut request, Some(config))
        .map_err(|e| ApiError::malformed(format!("WebSocket upgrade: {e}")))?;
    let session = Session {
        state: state.clone(),
        actor: authenticated.actor,
        credential: authenticated.credential,
        chat,
        subscription,
    };
    state.spawn_tracked(session::run(session, socket));
    Ok(response.map(|body| body.map_err(|never| match never {}).boxed_unsync()))
}
