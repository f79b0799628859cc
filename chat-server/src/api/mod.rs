//! The REST API: thin handlers that parse the request, call one chatcore service and write
//! its answer. No rule is decided here; authorization and validation live in chatcore.
//!
//! [`serve`] runs what every API route shares: the client's address, authentication (for
//! routes that need it), reading the body, CSRF proof for cookie-authenticated unsafe
//! requests, and turning any error into the JSON error response.

mod accounts;
mod chats;
mod members;
mod messages;
mod meta;
pub mod openapi;
mod users;

use crate::http::auth::{self, Authenticated, Via};
use crate::http::client_ip::{self, PeerAddr};
use crate::http::csrf;
use crate::http::query::Query;
use crate::http::{ApiError, Body, body};
use crate::router::{Auth, Params, RouteId};
use crate::state::AppState;
use bytes::Bytes;
use chatcore::{Actor, ClientInfo, Services};
use http::request::Parts;
use http::{Method, Request, Response};
use serde::de::DeserializeOwned;

/// What an API handler gets: the request (head and read body), its route parameters, the
/// client and, on authenticated routes, who is calling.
pub struct Ctx {
    state: AppState,
    parts: Parts,
    params: Params,
    body: Bytes,
    client: ClientInfo,
    auth: Option<Authenticated>,
}

impl Ctx {
    /// The core's services.
    fn services(&self) -> &Services {
        self.state.services()
    }

    /// The authenticated caller (every route marked `Auth::Required` has one).
    fn actor(&self) -> Result<&Actor, ApiError> {
        self.auth.as_ref().map(|a| &a.actor).ok_or_else(|| {
            ApiError::unauthenticated("Authentication credentials were not provided")
        })
    }

    /// An integer path parameter as an id type; anything else is a 404 (no such resource).
    fn id<T: From<i64>>(&self, name: &str) -> Result<T, ApiError> {
        self.params
            .get(name)
            .and_then(|v| v.parse::<i64>().ok())
            .map(T::from)
            .ok_or_else(ApiError::no_such_path)
    }

    /// The body, parsed by its declared format.
    fn body<T: DeserializeOwned>(&self) -> Result<T, ApiError> {
        body::parse(&self.parts.headers, &self.body)
    }

    /// The query string.
    fn query(&self) -> Result<Query, ApiError> {
        Query::parse(self.parts.uri.query())
    }
}

/// Serves one API request for a matched route.
pub async fn serve(
    state: AppState,
    id: RouteId,
    auth: Auth,
    params: Params,
    req: Request<Body>,
) -> Response<Body> {
    match prepare(state, params, auth, req).await {
        Ok(ctx) => dispatch(id, ctx).await,
        Err(e) => Err(e),
    }
    .unwrap_or_else(ApiError::into_response)
}

/// Authenticates, reads the body and checks CSRF proof.
async fn prepare(
    state: AppState,
    params: Params,
    route_auth: Auth,
    req: Request<Body>,
) -> Result<Ctx, ApiError> {
    let (parts, body) = req.into_parts();
    let peer = parts.extensions.get::<PeerAddr>().map(|p| p.0.ip());
    let client = ClientInfo {
        ip: client_ip::client_ip(peer, &parts.headers, &state.settings().trusted_proxies),
    };
    let auth = match route_auth {
        Auth::Public => None,
        Auth::Required => {
            Some(auth::authenticate(state.services(), &parts.headers, &client).await?)
        }
    };
    let body = if has_body(&parts.method) {
        body::read(body, state.settings().body_limit).await?
    } else {
        Bytes::new()
    };
    if let Some(a) = &auth
        && a.via() == Via::Session
        && csrf::is_unsafe(&parts.method)
    {
        let expected = a.actor.csrf_token().unwrap_or_default();
        csrf::check_token(expected, &parts.headers, &body)?;
    }
    Ok(Ctx {
        state,
        parts,
        params,
        body,
        client,
        auth,
    })
}

/// Whether requests with this method carry a body worth reading.
fn has_body(method: &Method) -> bool {
    matches!(
        *method,
        Method::POST | Method::PUT | Method::PATCH | Method::DELETE
    )
}

async fn dispatch(id: RouteId, ctx: Ctx) -> Result<Response<Body>, ApiError> {
    match id {
        RouteId::Register => accounts::register(ctx).await,
        RouteId::Login => accounts::login(ctx).await,
        RouteId::Logout => accounts::logout(ctx).await,
        RouteId::Me => accounts::me(ctx).await,
        RouteId::UpdateMe => accounts::update_me(ctx).await,
        RouteId::ChangePassword => accounts::change_password(ctx).await,
        RouteId::ListChats => chats::list(ctx).await,
        RouteId::CreateChat => chats::create(ctx).await,
        RouteId::GetChat => chats::get(ctx).await,
        RouteId::RenameChat => chats::rename(ctx).await,
        RouteId::DeleteChat => chats::delete(ctx).await,
        RouteId::ListMessages => messages::list(ctx).await,
        RouteId::PostMessage => messages::post(ctx).await,
        RouteId::ListMembers => members::list(ctx).await,
        RouteId::AddMember => members::add(ctx).await,
        RouteId::RemoveMember => members::remove(ctx).await,
        RouteId::LeaveChat => members::leave(ctx).await,
        RouteId::ListUsers => users::list(ctx).await,
        RouteId::UpdateUser => users::update(ctx).await,
        RouteId::Health => meta::health(ctx).await,
        RouteId::OpenApi => meta::openapi(ctx).await,
    }
}
