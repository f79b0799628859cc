//! The one route table, data only: each [`Route`] names its method, path pattern, front end,
//! whether it needs a credential, its handler, and what the documentation says about it.
//! Adding an endpoint is one row here plus one handler. The same table builds the router
//! ([`matcher`]) and the OpenAPI document ([`openapi`], REST rows only), and tests check that
//! they agree.
//!
//! Every path answers with and without its trailing slash (no redirects), except the root
//! `/` and catch-all patterns (`/static/{*path}`), which have one form.

pub mod matcher;
pub mod openapi;

use crate::api::{accounts, chats, members, messages, meta, users};
use crate::http::ctx::{Access, Ctx};
use crate::http::front::Front;
use crate::http::{ApiError, Body};
use crate::web::{accounts as web_accounts, admin, assets, chats as web_chats};
use crate::ws;
use http::{Method, Response};
use std::future::Future;
use std::pin::Pin;

pub use matcher::{Match, Router};

/// The future a handler returns.
pub type HandlerFuture = Pin<Box<dyn Future<Output = Result<Response<Body>, ApiError>> + Send>>;

/// A route's handler: it gets the prepared request; an error is rendered by the route's
/// front end.
pub type Handler = fn(Ctx) -> HandlerFuture;

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

/// What the documentation says about a route.
#[derive(Debug, Clone, Copy)]
pub struct Doc {
    /// The operation's name (the OpenAPI `operationId`), unique in the table.
    pub name: &'static str,
    /// One line.
    pub summary: &'static str,
    /// Who may call it (as chatcore decides).
    pub who: &'static str,
    /// Query parameters.
    pub query: &'static [QueryParam],
    /// Request body.
    pub request: Schema,
    /// Status of success.
    pub status: u16,
    /// Response body on success.
    pub response: Schema,
    /// The error statuses its handler's own outcomes give (validation, authorization,
    /// conflicts); what the pipeline and layers add is derived in [`Route::answers`].
    pub errors: &'static [u16],
}

/// One row of the route table.
#[derive(Debug)]
pub struct Route {
    /// HTTP method.
    pub method: Method,
    /// Path pattern with its trailing slash where it has one (`{name}` parameters,
    /// `{*name}` for a catch-all).
    pub path: &'static str,
    /// The front end serving it: how its refusals look, whether its body is read, whether
    /// it is in the OpenAPI document.
    pub front: Front,
    /// Whether a credential is required.
    pub access: Access,
    /// The handler.
    pub handler: Handler,
    /// What the documentation says.
    pub doc: Doc,
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

const SOCKET_QUERY: &[QueryParam] = &[QueryParam {
    name: "after_seq",
    kind: "integer",
    description: "Resume: the stored messages after this seq first, then live events.",
}];

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

impl Route {
    /// Every error status this route can answer with, sorted: the handler's own
    /// ([`Doc::errors`]) and what the pipeline and the layers add — 500 and 503 (a bug, a
    /// handler timeout, the store away) everywhere; 403 on unsafe methods (the cross-origin
    /// check, a session's CSRF token); 401 and 429 where a credential is read (Basic
    /// failures are rate limited); 400, 413 and 415 where a body is read. (405 is the
    /// path's, not the route's.)
    pub fn answers(&self) -> Vec<u16> {
        let mut statuses = self.doc.errors.to_vec();
        statuses.extend([500, 503]);
        if !matches!(self.method, Method::GET | Method::HEAD | Method::OPTIONS) {
            statuses.push(403);
        }
        if self.access == Access::Required {
            statuses.extend([401, 429]);
        }
        if self.doc.request != Schema::None {
            statuses.extend([400, 413, 415]);
        }
        statuses.sort_unstable();
        statuses.dedup();
        statuses
    }
}

macro_rules! routes {
    ($(
        $front:ident $method:ident $path:literal => $name:ident = $handler:path, $access:ident, $who:literal,
        $summary:literal, query: $query:expr, request: $req:expr, $status:literal $resp:expr,
        errors: $errors:expr;
    )*) => {
        /// Every route the server serves.
        pub static ROUTES: &[Route] = &[$(
            Route {
                method: Method::$method,
                path: $path,
                front: Front::$front,
                access: Access::$access,
                handler: |ctx| -> HandlerFuture { Box::pin($handler(ctx)) },
                doc: Doc {
                    name: stringify!($name),
                    summary: $summary,
                    who: $who,
                    query: $query,
                    request: $req,
                    status: $status,
                    response: $resp,
                    errors: $errors,
                },
            },
        )*];
    };
}

use Schema::{List, None as NoBody, One};

routes! {
    Rest POST "/api/accounts/register/" => register = accounts::register, Public, "anyone (unless registration is closed)",
        "Create an account and get its first API token",
        query: &[], request: One("Registration"), 201 One("RegisterResponse"), errors: &[400, 403, 409];
    Rest POST "/api/accounts/login/" => login = accounts::login, Public, "anyone",
        "Exchange a username and password for a new API token",
        query: &[], request: One("LoginRequest"), 200 One("TokenResponse"), errors: &[400, 429, 503];
    Rest POST "/api/accounts/logout/" => logout = accounts::logout, Required, "any user",
        "Revoke the presented API token (or end the session)",
        query: &[], request: NoBody, 204 NoBody, errors: &[401, 403];
    Rest GET "/api/accounts/me/" => me = accounts::me, Required, "any user",
        "The caller's own account, with flags",
        query: &[], request: NoBody, 200 One("UserDetail"), errors: &[401];
    Rest PATCH "/api/accounts/me/" => updateMe = accounts::update_me, Required, "any user",
        "Change the caller's names or e-mail",
        query: &[], request: One("ProfileUpdate"), 200 One("UserDetail"), errors: &[400, 401, 403];
    Rest POST "/api/accounts/password/" => changePassword = accounts::change_password, Required, "any user",
        "Change the caller's password; revokes every token and session and returns a new token",
        query: &[], request: One("PasswordChange"), 200 One("TokenResponse"), errors: &[400, 401, 403];
    Rest GET "/api/chat/" => listChats = chats::list, Required, "any user (an admin sees every chat)",
        "The caller's chats",
        query: &[], request: NoBody, 200 List("Chat"), errors: &[401];
    Rest POST "/api/chat/" => createChat = chats::create, Required, "admin",
        "Create a chat with its first members",
        query: &[], request: One("NewChat"), 201 One("Chat"), errors: &[400, 401, 403, 409];
    Rest GET "/api/chat/{id}/" => getChat = chats::get, Required, "member or admin",
        "One chat with its members",
        query: &[], request: NoBody, 200 One("Chat"), errors: &[401, 403, 404];
    Rest PATCH "/api/chat/{id}/" => renameChat = chats::rename, Required, "admin",
        "Rename a chat",
        query: &[], request: One("ChatRename"), 200 One("Chat"), errors: &[400, 401, 403, 404];
    Rest DELETE "/api/chat/{id}/" => deleteChat = chats::delete, Required, "admin",
        "Delete a chat with its history",
        query: &[], request: NoBody, 204 NoBody, errors: &[401, 403, 404];
    Rest GET "/api/chat/{id}/message/" => listMessages = messages::list, Required, "member or admin",
        "A page of history, oldest first (the newest page without a cursor)",
        query: HISTORY_QUERY, request: NoBody, 200 List("Message"), errors: &[400, 401, 403, 404];
    Rest POST "/api/chat/{id}/message/" => postMessage = messages::post, Required, "member",
        "Post a message (a repeated client_id answers the stored message)",
        query: &[], request: One("NewMessage"), 201 One("Message"), errors: &[400, 401, 403, 404];
    Rest POST "/api/chat/{id}/read/" => markRead = messages::read, Required, "member",
        "Mark the chat read up to a seq (never back, never beyond the last message)",
        query: &[], request: One("ReadRequest"), 200 One("ReadMarker"), errors: &[400, 401, 403, 404];
    Rest GET "/api/chat/{id}/members/" => listMembers = members::list, Required, "member or admin",
        "The chat's members",
        query: &[], request: NoBody, 200 List("User"), errors: &[401, 403, 404];
    Rest PUT "/api/chat/{id}/user/{uid}/" => addMember = members::add, Required, "admin",
        "Add a member (adding a member again is not an error)",
        query: &[], request: NoBody, 200 One("Notice"), errors: &[401, 403, 404, 409];
    Rest DELETE "/api/chat/{id}/user/{uid}/" => removeMember = members::remove, Required, "admin, or the member themself (leaving)",
        "Remove a member",
        query: &[], request: NoBody, 200 One("Notice"), errors: &[401, 403, 404];
    Rest POST "/api/chat/{id}/leave/" => leaveChat = members::leave, Required, "member",
        "Leave a chat",
        query: &[], request: NoBody, 200 One("Notice"), errors: &[401, 403, 404];
    Rest GET "/api/users/" => listUsers = users::list, Required, "admin",
        "List or search accounts",
        query: USERS_QUERY, request: NoBody, 200 List("UserDetail"), errors: &[400, 401, 403];
    Rest PATCH "/api/users/{id}/" => updateUser = users::update, Required, "admin",
        "Activate, deactivate, promote or demote an account",
        query: &[], request: One("UserFlagsUpdate"), 200 One("UserDetail"), errors: &[400, 401, 403, 404, 409];
    WebSocket GET "/ws/api/chat/{id}/" => chatSocket = ws::api_socket, Required, "member or admin",
        "The chat's live stream for API clients (Token or Basic)",
        query: SOCKET_QUERY, request: NoBody, 101 NoBody, errors: &[400, 401, 403, 404, 426];
    WebSocket GET "/ws/chat/{id}/" => browserChatSocket = ws::browser_socket, Required, "member or admin",
        "The chat's live stream for the browser page (session cookie, same origin)",
        query: SOCKET_QUERY, request: NoBody, 101 NoBody, errors: &[400, 401, 403, 404, 426];
    Rest GET "/healthz" => health = meta::health, Public, "anyone",
        "Whether the server and its database answer",
        query: &[], request: NoBody, 200 One("Health"), errors: &[503];
    Rest GET "/api/openapi.json" => openApi = openapi::serve, Public, "anyone",
        "This document",
        query: &[], request: NoBody, 200 NoBody, errors: &[];
    Page GET "/" => homePage = web_chats::home, Public, "anyone",
        "Home: who you are and where to go",
        query: &[], request: NoBody, 200 NoBody, errors: &[];
    Page GET "/accounts/signup/" => signupPage = web_accounts::signup_page, Public, "anyone",
        "The sign-up form",
        query: &[], request: NoBody, 200 NoBody, errors: &[400];
    Page POST "/accounts/signup/" => signupForm = web_accounts::signup, Public, "anyone (unless registration is closed)",
        "Create an account and sign in",
        query: &[], request: One("Registration"), 303 NoBody, errors: &[400, 403, 409];
    Page GET "/accounts/login/" => loginPage = web_accounts::login_page, Public, "anyone",
        "The login form (`?next=` a local path)",
        query: &[], request: NoBody, 200 NoBody, errors: &[400];
    Page POST "/accounts/login/" => loginForm = web_accounts::login, Public, "anyone",
        "Open a browser session",
        query: &[], request: One("LoginRequest"), 303 NoBody, errors: &[400, 403, 429, 503];
    Page POST "/accounts/logout/" => logoutForm = web_accounts::logout, Required, "any user",
        "End the browser session",
        query: &[], request: NoBody, 303 NoBody, errors: &[];
    Page GET "/chats/" => chatsPage = web_chats::list, Required, "any user (an admin sees every chat)",
        "My chats, most recently active first",
        query: &[], request: NoBody, 200 NoBody, errors: &[];
    Page GET "/chats/{id}/" => roomPage = web_chats::room, Required, "member or admin",
        "The chat room: history, live messages, the composer",
        query: HISTORY_QUERY, request: NoBody, 200 NoBody, errors: &[400, 403, 404];
    Page POST "/chats/{id}/messages/" => roomPost = web_chats::post_message, Required, "member",
        "Post from the room's form (without scripts)",
        query: &[], request: One("NewMessage"), 303 NoBody, errors: &[400, 403, 404, 429];
    Page GET "/chats/{id}/leave/" => leavePage = web_chats::leave_page, Required, "member or admin",
        "Confirm leaving a chat",
        query: &[], request: NoBody, 200 NoBody, errors: &[403, 404];
    Page POST "/chats/{id}/leave/" => leaveForm = web_chats::leave, Required, "member",
        "Leave a chat",
        query: &[], request: NoBody, 303 NoBody, errors: &[403, 404];
    Page GET "/admin/" => adminPage = admin::index, Required, "admin",
        "Administration overview",
        query: &[], request: NoBody, 200 NoBody, errors: &[403];
    Page GET "/admin/users/" => adminUsersPage = admin::users, Required, "admin",
        "Users: search and manage accounts",
        query: USERS_QUERY, request: NoBody, 200 NoBody, errors: &[400, 403];
    Page POST "/admin/users/{id}/" => adminUserForm = admin::update_user, Required, "admin",
        "Make or remove admin, deactivate or reactivate an account",
        query: &[], request: One("UserAction"), 303 NoBody, errors: &[400, 403, 404, 409];
    Page GET "/admin/chats/" => adminChatsPage = admin::chats, Required, "admin",
        "Chats: every chat and the form to create one",
        query: &[], request: NoBody, 200 NoBody, errors: &[403];
    Page POST "/admin/chats/" => adminCreateChat = admin::create_chat, Required, "admin",
        "Create a chat",
        query: &[], request: One("ChatRename"), 303 NoBody, errors: &[400, 403, 409];
    Page GET "/admin/chats/{id}/" => adminChatPage = admin::chat, Required, "admin",
        "A chat's members, name and deletion",
        query: &[], request: NoBody, 200 NoBody, errors: &[403, 404];
    Page POST "/admin/chats/{id}/" => adminRenameChat = admin::rename_chat, Required, "admin",
        "Rename a chat",
        query: &[], request: One("ChatRename"), 303 NoBody, errors: &[400, 403, 404];
    Page GET "/admin/chats/{id}/delete/" => adminDeletePage = admin::delete_page, Required, "admin",
        "Confirm deleting a chat",
        query: &[], request: NoBody, 200 NoBody, errors: &[403, 404];
    Page POST "/admin/chats/{id}/delete/" => adminDeleteChat = admin::delete_chat, Required, "admin",
        "Delete a chat with its history",
        query: &[], request: NoBody, 303 NoBody, errors: &[403, 404];
    Page POST "/admin/chats/{id}/members/" => adminAddMember = admin::add_member, Required, "admin",
        "Add a member by username",
        query: &[], request: One("MemberForm"), 303 NoBody, errors: &[400, 403, 404, 409];
    Page POST "/admin/chats/{id}/members/{uid}/remove/" => adminRemoveMember = admin::remove_member, Required, "admin",
        "Remove a member",
        query: &[], request: NoBody, 303 NoBody, errors: &[403, 404];
    Static GET "/static/{*path}" => staticFile = assets::serve, Public, "anyone",
        "An embedded static file (stylesheet, script, font, icon)",
        query: &[], request: NoBody, 200 NoBody, errors: &[404];
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_method_and_path_pair_and_every_name_is_unique() {
        for (i, a) in ROUTES.iter().enumerate() {
            for b in &ROUTES[i + 1..] {
                assert!(
                    !(a.method == b.method && a.path == b.path),
                    "{} {} is in the table twice",
                    a.method,
                    a.path
                );
                assert_ne!(a.doc.name, b.doc.name, "two routes share a name");
            }
        }
    }
}
