//! The one route table. Each [`Route`] names its method, path pattern, handler id, whether it
//! needs authentication, and what the OpenAPI document says about it; the same table builds
//! the `matchit` router and the document, and a test checks that they agree.
//!
//! Every path answers with and without its trailing slash (no redirects). An unknown path is
//! a JSON 404, a known path with another method a 405 with `Allow`. Routes belong to a front
//! end ([`Front`]): the REST API now; WebSocket upgrades (`/ws/api/chat/{id}/`) and HTML
//! pages join as `Front::Ws` and `Front::Web` with their issues.

use crate::http::{ApiError, Body, empty};
use crate::state::AppState;
use http::header::{ALLOW, HeaderValue};
use http::{Method, Request, Response, StatusCode};

/// Which front end serves a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Front {
    /// The JSON REST API (`api/`).
    Api,
}

/// Identifies a handler.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RouteId {
    /// `POST /api/accounts/register/`.
    Register,
    /// `POST /api/accounts/login/`.
    Login,
    /// `POST /api/accounts/logout/`.
    Logout,
    /// `GET /api/accounts/me/`.
    Me,
    /// `PATCH /api/accounts/me/`.
    UpdateMe,
    /// `POST /api/accounts/password/`.
    ChangePassword,
    /// `GET /api/chat/`.
    ListChats,
    /// `POST /api/chat/`.
    CreateChat,
    /// `GET /api/chat/{id}/`.
    GetChat,
    /// `PATCH /api/chat/{id}/`.
    RenameChat,
    /// `DELETE /api/chat/{id}/`.
    DeleteChat,
    /// `GET /api/chat/{id}/message/`.
    ListMessages,
    /// `POST /api/chat/{id}/message/`.
    PostMessage,
    /// `GET /api/chat/{id}/members/`.
    ListMembers,
    /// `PUT /api/chat/{id}/user/{uid}/`.
    AddMember,
    /// `DELETE /api/chat/{id}/user/{uid}/`.
    RemoveMember,
    /// `POST /api/chat/{id}/leave/`.
    LeaveChat,
    /// `GET /api/users/`.
    ListUsers,
    /// `PATCH /api/users/{id}/`.
    UpdateUser,
    /// `GET /healthz`.
    Health,
    /// `GET /api/openapi.json`.
    OpenApi,
}

/// Whether a route needs a credential.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Auth {
    /// Anyone may call it.
    Public,
    /// A Token, Basic or session credential is required (401 otherwise). What the actor
    /// may then do is decided by chatcore, never here.
    Required,
}

/// The JSON a route takes or returns, for the OpenAPI document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Schema {
    /// No body.
    None,
    /// One object of the named component schema.
    One(&'static str),
    /// A bare JSON array of the named component schema.
    List(&'static str),
}

/// A query parameter, for the OpenAPI document.
#[derive(Debug, Clone, Copy)]
pub struct QueryParam {
    /// Its name.
    pub name: &'static str,
    /// `integer` or `string`.
    pub kind: &'static str,
    /// What it does.
    pub description: &'static str,
}

/// One row of the route table.
#[derive(Debug)]
pub struct Route {
    /// HTTP method.
    pub method: Method,
    /// Path pattern with its trailing slash where it has one (`{name}` parameters).
    pub path: &'static str,
    /// The handler.
    pub id: RouteId,
    /// The front end serving it.
    pub front: Front,
    /// Whether a credential is required.
    pub auth: Auth,
    /// One line for the document.
    pub summary: &'static str,
    /// Who may call it (as chatcore decides), for the document.
    pub who: &'static str,
    /// Query parameters.
    pub query: &'static [QueryParam],
    /// Request body.
    pub request: Schema,
    /// Status of success.
    pub status: u16,
    /// Response body on success.
    pub response: Schema,
    /// Error statuses it may answer with (beyond 405/413/415/5xx every route may give).
    pub errors: &'static [u16],
}

const LIMIT: QueryParam = QueryParam {
    name: "limit",
    kind: "integer",
    description: "Page size, 1–200 (default 50).",
};

const HISTORY_QUERY: &[QueryParam] = &[
    LIMIT,
    QueryParam {
        name: "before_seq",
        kind: "integer",
        description: "Return the messages just below this seq.",
    },
    QueryParam {
        name: "after_seq",
        kind: "integer",
        description: "Return the messages from this seq + 1 upward (not with before_seq).",
    },
];

const USERS_QUERY: &[QueryParam] = &[
    QueryParam {
        name: "q",
        kind: "string",
        description: "Search in usernames, names and e-mail addresses.",
    },
    LIMIT,
    QueryParam {
        name: "offset",
        kind: "integer",
        description: "How many matches to skip (default 0).",
    },
];

macro_rules! routes {
    ($(
        $method:ident $path:literal => $id:ident, $auth:ident, $who:literal, $summary:literal,
        query: $query:expr, request: $req:expr, $status:literal $resp:expr, errors: $errors:expr;
    )*) => {
        /// Every route the server serves.
        pub static ROUTES: &[Route] = &[$(
            Route {
                method: Method::$method,
                path: $path,
                id: RouteId::$id,
                front: Front::Api,
                auth: Auth::$auth,
                summary: $summary,
                who: $who,
                query: $query,
                request: $req,
                status: $status,
                response: $resp,
                errors: $errors,
            },
        )*];
    };
}

use Schema::{List, None as NoBody, One};

routes! {
    POST "/api/accounts/register/" => Register, Public, "anyone (unless registration is closed)",
        "Create an account and get its first API token",
        query: &[], request: One("Registration"), 201 One("RegisterResponse"), errors: &[400, 403, 409];
    POST "/api/accounts/login/" => Login, Public, "anyone",
        "Exchange a username and password for a new API token",
        query: &[], request: One("LoginRequest"), 200 One("TokenResponse"), errors: &[400, 429, 503];
    POST "/api/accounts/logout/" => Logout, Required, "any user",
        "Revoke the presented API token (or end the session)",
        query: &[], request: NoBody, 204 NoBody, errors: &[401, 403];
    GET "/api/accounts/me/" => Me, Required, "any user",
        "The caller's own account, with flags",
        query: &[], request: NoBody, 200 One("UserDetail"), errors: &[401];
    PATCH "/api/accounts/me/" => UpdateMe, Required, "any user",
        "Change the caller's names or e-mail",
        query: &[], request: One("ProfileUpdate"), 200 One("UserDetail"), errors: &[400, 401, 403];
    POST "/api/accounts/password/" => ChangePassword, Required, "any user",
        "Change the caller's password; revokes every token and session and returns a new token",
        query: &[], request: One("PasswordChange"), 200 One("TokenResponse"), errors: &[400, 401, 403];
    GET "/api/chat/" => ListChats, Required, "any user (an admin sees every chat)",
        "The caller's chats",
        query: &[], request: NoBody, 200 List("Chat"), errors: &[401];
    POST "/api/chat/" => CreateChat, Required, "admin",
        "Create a chat with its first members",
        query: &[], request: One("NewChat"), 201 One("Chat"), errors: &[400, 401, 403, 409];
    GET "/api/chat/{id}/" => GetChat, Required, "member or admin",
        "One chat with its members",
        query: &[], request: NoBody, 200 One("Chat"), errors: &[401, 403, 404];
    PATCH "/api/chat/{id}/" => RenameChat, Required, "admin",
        "Rename a chat",
        query: &[], request: One("ChatRename"), 200 One("Chat"), errors: &[400, 401, 403, 404];
    DELETE "/api/chat/{id}/" => DeleteChat, Required, "admin",
        "Delete a chat with its history",
        query: &[], request: NoBody, 204 NoBody, errors: &[401, 403, 404];
    GET "/api/chat/{id}/message/" => ListMessages, Required, "member or admin",
        "A page of history, oldest first (the newest page without a cursor)",
        query: HISTORY_QUERY, request: NoBody, 200 List("Message"), errors: &[400, 401, 403, 404];
    POST "/api/chat/{id}/message/" => PostMessage, Required, "member",
        "Post a message (a repeated client_id answers the stored message)",
        query: &[], request: One("NewMessage"), 201 One("Message"), errors: &[400, 401, 403, 404];
    GET "/api/chat/{id}/members/" => ListMembers, Required, "member or admin",
        "The chat's members",
        query: &[], request: NoBody, 200 List("User"), errors: &[401, 403, 404];
    PUT "/api/chat/{id}/user/{uid}/" => AddMember, Required, "admin",
        "Add a member (adding a member again is not an error)",
        query: &[], request: NoBody, 200 One("Notice"), errors: &[401, 403, 404, 409];
    DELETE "/api/chat/{id}/user/{uid}/" => RemoveMember, Required, "admin, or the member themself (leaving)",
        "Remove a member",
        query: &[], request: NoBody, 200 One("Notice"), errors: &[401, 403, 404];
    POST "/api/chat/{id}/leave/" => LeaveChat, Required, "member",
        "Leave a chat",
        query: &[], request: NoBody, 200 One("Notice"), errors: &[401, 403, 404];
    GET "/api/users/" => ListUsers, Required, "admin",
        "List or search accounts",
        query: USERS_QUERY, request: NoBody, 200 List("UserDetail"), errors: &[400, 401, 403];
    PATCH "/api/users/{id}/" => UpdateUser, Required, "admin",
        "Activate, deactivate, promote or demote an account",
        query: &[], request: One("UserFlagsUpdate"), 200 One("UserDetail"), errors: &[400, 401, 403, 404, 409];
    GET "/healthz" => Health, Public, "anyone",
        "Whether the server and its database answer",
        query: &[], request: NoBody, 200 One("Health"), errors: &[503];
    GET "/api/openapi.json" => OpenApi, Public, "anyone",
        "This document",
        query: &[], request: NoBody, 200 NoBody, errors: &[];
}

/// The path parameters of a matched route, by name.
#[derive(Debug, Default, Clone)]
pub struct Params(Vec<(String, String)>);

impl Params {
    /// The raw value of parameter `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// The outcome of looking up a request.
#[derive(Debug)]
pub enum Match {
    /// A route serves it.
    Found(&'static Route, Params),
    /// The path exists but not with this method; the methods it allows.
    WrongMethod(String),
    /// `OPTIONS` on a known path; the methods it allows.
    Options(String),
    /// No such path.
    NotFound,
}

/// The compiled route table.
pub struct Router {
    paths: matchit::Router<usize>,
    groups: Vec<Vec<&'static Route>>,
}

impl Default for Router {
    fn default() -> Self {
        Self::new()
    }
}

impl Router {
    /// Compiles [`ROUTES`].
    pub fn new() -> Self {
        Self::try_new(ROUTES).expect("the route table has no conflicting paths (tested)")
    }

    /// Compiles a route table; fails on overlapping patterns.
    pub fn try_new(routes: &'static [Route]) -> Result<Self, matchit::InsertError> {
        let mut paths = matchit::Router::new();
        let mut groups: Vec<Vec<&'static Route>> = Vec::new();
        let mut patterns: Vec<&'static str> = Vec::new();
        for route in routes {
            match patterns.iter().position(|p| *p == route.path) {
                Some(i) => groups[i].push(route),
                None => {
                    patterns.push(route.path);
                    groups.push(vec![route]);
                }
            }
        }
        for (i, pattern) in patterns.iter().enumerate() {
            let other = match pattern.strip_suffix('/') {
                Some(bare) => bare.to_owned(),
                None => format!("{pattern}/"),
            };
            paths.insert(*pattern, i)?;
            paths.insert(other, i)?;
        }
        Ok(Self { paths, groups })
    }

    /// Finds the route for a method and path.
    pub fn at(&self, method: &Method, path: &str) -> Match {
        let Ok(found) = self.paths.at(path) else {
            return Match::NotFound;
        };
        let group = &self.groups[*found.value];
        let wanted = if *method == Method::HEAD {
            &Method::GET
        } else {
            method
        };
        if let Some(route) = group.iter().find(|r| r.method == *wanted) {
            let params = found
                .params
                .iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect();
            return Match::Found(route, Params(params));
        }
        let mut allow: Vec<&str> = group.iter().map(|r| r.method.as_str()).collect();
        if allow.contains(&"GET") {
            allow.push("HEAD");
        }
        allow.push("OPTIONS");
        let allow = allow.join(", ");
        if *method == Method::OPTIONS {
            Match::Options(allow)
        } else {
            Match::WrongMethod(allow)
        }
    }
}

/// Routes a request to its front end.
pub async fn handle(state: AppState, req: Request<Body>) -> Response<Body> {
    let found = state.router().at(req.method(), req.uri().path());
    match found {
        // Copy what the handler needs out of the table: no reference into it is held
        // across an await (rustc cannot always prove such futures `Send`).
        Match::Found(route, params) => {
            let (front, id, auth) = (route.front, route.id, route.auth);
            match front {
                Front::Api => crate::api::serve(state, id, auth, params, req).await,
            }
        }
        Match::WrongMethod(allow) => ApiError::method_not_allowed(allow).into_response(),
        Match::Options(allow) => {
            let mut resp = Response::new(empty());
            *resp.status_mut() = StatusCode::NO_CONTENT;
            if let Ok(v) = HeaderValue::from_str(&allow) {
                resp.headers_mut().insert(ALLOW, v);
            }
            resp
        }
        Match::NotFound => ApiError::no_such_path().into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(method: Method, path: &str) -> String {
        match Router::new().at(&method, path) {
            Match::Found(route, params) => {
                let mut s = format!("{:?}", route.id);
                for name in ["id", "uid"] {
                    if let Some(v) = params.get(name) {
                        s.push_str(&format!(" {name}={v}"));
                    }
                }
                s
            }
            Match::WrongMethod(allow) => format!("405 {allow}"),
            Match::Options(allow) => format!("options {allow}"),
            Match::NotFound => "404".into(),
        }
    }

    #[test]
    fn the_route_table_compiles_without_conflicts() {
        assert!(Router::try_new(ROUTES).is_ok());
    }

    #[test]
    fn paths_match_with_and_without_the_trailing_slash() {
        assert_eq!(check(Method::GET, "/api/chat/"), "ListChats");
        assert_eq!(check(Method::GET, "/api/chat"), "ListChats");
        assert_eq!(
            check(Method::POST, "/api/chat/7/message"),
            "PostMessage id=7"
        );
        assert_eq!(
            check(Method::PUT, "/api/chat/7/user/9"),
            "AddMember id=7 uid=9"
        );
        assert_eq!(
            check(Method::DELETE, "/api/chat/7/user/9/"),
            "RemoveMember id=7 uid=9"
        );
        assert_eq!(check(Method::GET, "/healthz"), "Health");
        assert_eq!(check(Method::GET, "/healthz/"), "Health");
        assert_eq!(check(Method::HEAD, "/api/openapi.json"), "OpenApi");
    }

    #[test]
    fn unknown_paths_and_wrong_methods_are_told_apart() {
        assert_eq!(check(Method::GET, "/api/nope/"), "404");
        assert_eq!(check(Method::GET, "/api/chat/1/message/extra"), "404");
        assert_eq!(
            check(Method::DELETE, "/api/chat/"),
            "405 GET, POST, HEAD, OPTIONS"
        );
        assert_eq!(
            check(Method::GET, "/api/accounts/login"),
            "405 POST, OPTIONS"
        );
        assert_eq!(
            check(Method::OPTIONS, "/api/chat/1/"),
            "options GET, PATCH, DELETE, HEAD, OPTIONS"
        );
    }

    #[test]
    fn every_route_is_unique() {
        for (i, a) in ROUTES.iter().enumerate() {
            for b in &ROUTES[i + 1..] {
                assert!(
                    !(a.method == b.method && a.path == b.path) && a.id != b.id,
                    "{a:?} and {b:?} clash"
                );
            }
        }
    }
}
