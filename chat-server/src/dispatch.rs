//! From a request to its handler: look the path up in the compiled route table, run the
//! shared pipeline ([`crate::http::ctx::prepare`]), call the row's handler, and let the row's
//! front end render any refusal. A path no route serves (404) or a wrong method (405) is
//! answered by the front end the path belongs to ([`Front::for_path`]); `OPTIONS` lists the
//! methods a path allows. Every request is counted and timed here, labelled by its row's path
//! pattern (never the raw path), so the metrics' label set stays bounded.

use crate::http::ctx::prepare;
use crate::http::front::{Front, Rendered};
use crate::http::{ApiError, Body, empty};
use crate::metrics::{RequestTimer, UNMATCHED_ROUTE};
use crate::refusal::{Target, render};
use crate::routes::{Match, Router};
use crate::state::AppState;
use http::header::{ALLOW, HeaderValue};
use http::{Request, Response, StatusCode};

/// Serves one request, and records it in the HTTP metrics by its route's path pattern.
pub async fn handle(state: AppState, router: &Router, req: Request<Body>) -> Response<Body> {
    let found = router.at(req.method(), req.uri().path());
    let route = match &found {
        Match::Found(route, _) => route.path,
        _ => UNMATCHED_ROUTE,
    };
    let timer = RequestTimer::start(route, req.method());
    // One request: the store cache reads the database's change counter once for it.
    let resp = chatcore::store::cache::one_request(answer(state, found, req)).await;
    timer.finish(resp.status());
    resp
}

async fn answer(state: AppState, found: Match, req: Request<Body>) -> Response<Body> {
    let target = Target::of(&req);
    match found {
        Match::Found(route, params) => {
            // Copy what is needed out of the table: no reference into it is held across an
            // await (rustc cannot always prove such futures `Send`).
            let (front, access, handler) = (route.front, route.access, route.handler);
            let answer = match prepare(state, params, access, front, req).await {
                Ok(ctx) => handler(ctx).await,
                Err(refusal) => Err(refusal),
            };
            match answer {
                Ok(mut resp) => {
                    resp.extensions_mut().insert(Rendered);
                    resp
                }
                Err(refusal) => render(front, refusal, &target),
            }
        }
        Match::WrongMethod(front, allow) => {
            render(front, ApiError::method_not_allowed(allow), &target)
        }
        Match::Options(allow) => {
            let mut resp = Response::new(empty());
            *resp.status_mut() = StatusCode::NO_CONTENT;
            if let Ok(v) = HeaderValue::from_str(&allow) {
                resp.headers_mut().insert(ALLOW, v);
            }
            resp.extensions_mut().insert(Rendered);
            resp
        }
        Match::NotFound => render(
            Front::for_path(req.uri().path()),
            ApiError::no_such_path(),
            &target,
        ),
    }
}
