//! The request pipeline every front end shares: the client's address, the credential (on
//! routes that need one), the body (on front ends that read one) and the CSRF proof for
//! cookie-authenticated unsafe requests. [`prepare`] turns a matched request into a [`Ctx`];
//! a failure is an [`ApiError`] that the route's front end renders (JSON, an HTML page or a
//! redirect, a refusal before the WebSocket `101`).

use super::auth::{self, Authenticated, Via};
use super::client_ip::{self, PeerAddr};
use super::front::Front;
use super::params::Params;
use super::{ApiError, Body, body, csrf};
use crate::state::AppState;
use bytes::Bytes;
use chatcore::{Actor, ClientInfo, Services};
use http::request::Parts;
use http::{Method, Request};
use serde::de::DeserializeOwned;

/// Whether a route needs a credential.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone may call it.
    Public,
    /// A Token, Basic or session credential is required (401 otherwise). What the actor
    /// may then do is decided by chatcore, never here.
    Required,
}

/// What a handler gets: the request (head and read body), its route parameters, the client
/// and, on routes that need it, who is calling.
pub struct Ctx {
    state: AppState,
    parts: Parts,
    params: Params,
    body: Bytes,
    client: ClientInfo,
    auth: Option<Authenticated>,
}

impl Ctx {
    /// The shared server state.
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// The core's services.
    pub fn services(&self) -> &Services {
        self.state.services()
    }

    /// Whether cookies set in answer to this request carry `Secure` (and the `__Host-`
    /// prefix): configured so, or a trusted proxy says the request came over https.
    pub fn secure_cookies(&self) -> bool {
        let settings = self.state().settings();
        client_ip::secure_cookies(
            settings.secure_cookies,
            self.parts().extensions.get::<PeerAddr>().map(|p| p.0.ip()),
            &self.parts().headers,
            &settings.trusted_proxies,
        )
    }

    /// The request head.
    pub fn parts(&self) -> &Parts {
        &self.parts
    }

    /// The request head, mutable (a WebSocket upgrade takes its `OnUpgrade` from it).
    pub fn parts_mut(&mut self) -> &mut Parts {
        &mut self.parts
    }

    /// The client's address and what the core needs to know about it.
    pub fn client(&self) -> &ClientInfo {
        &self.client
    }

    /// The credential and actor, on routes that require one.
    pub fn authenticated(&self) -> Option<&Authenticated> {
        self.auth.as_ref()
    }

    /// The authenticated caller (every route marked [`Access::Required`] has one).
    pub fn actor(&self) -> Result<&Actor, ApiError> {
        self.auth.as_ref().map(|a| &a.actor).ok_or_else(|| {
            ApiError::unauthenticated("Authentication credentials were not provided")
        })
    }

    /// A raw path parameter.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params.get(name)
    }

    /// An integer path parameter as an id type; anything else is a 404 (no such resource).
    pub fn id<T: From<i64>>(&self, name: &str) -> Result<T, ApiError> {
        self.params
            .get(name)
            .and_then(|v| v.parse::<i64>().ok())
            .map(T::from)
            .ok_or_else(ApiError::no_such_path)
    }

    /// The body, parsed by its declared format (JSON or form).
    pub fn body<T: DeserializeOwned>(&self) -> Result<T, ApiError> {
        body::parse(&self.parts.headers, &self.body)
    }

    /// The query string as `T` (see [`super::query::parse`]).
    pub fn query<T: DeserializeOwned>(&self) -> Result<T, ApiError> {
        super::query::parse(self.parts.uri.query())
    }
}

/// Runs the shared steps for a matched request: client address, authentication (when
/// `access` requires it), the body (when the `front` end reads one), CSRF proof for
/// cookie-authenticated unsafe requests.
///
/// # Errors
/// The refusal to render: 401 (no or bad credential), 403 (CSRF), 413/400 (body).
pub async fn prepare(
    state: AppState,
    params: Params,
    access: Access,
    front: Front,
    req: Request<Body>,
) -> Result<Ctx, ApiError> {
    let (parts, body) = req.into_parts();
    let peer = parts.extensions.get::<PeerAddr>().map(|p| p.0.ip());
    let client = ClientInfo {
        ip: client_ip::client_ip(peer, &parts.headers, &state.settings().trusted_proxies),
    };
    let auth = match access {
        Access::Public => None,
        Access::Required => {
            Some(auth::authenticate(state.services(), &parts.headers, &client).await?)
        }
    };
    let body = if front.reads_body() && has_body(&parts.method) {
        body::read(body, state.settings().body_limit).await?
    } else {
        Bytes::new()
    };
    if let Some(a) = &auth
        && a.via() == Via::Session
        && csrf::is_unsafe(&parts.method)
    {
        // A session an authenticator vouched for without a CSRF token cannot prove
        // anything: refused, never compared against an empty string.
        let expected = a
            .actor
            .csrf_token()
            .filter(|t| !t.is_empty())
            .ok_or_else(|| ApiError::csrf("This session has no CSRF token"))?;
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
