//! The REST API: thin handlers that parse the request, call one chatcore service and write
//! its answer. No rule is decided here; authorization and validation live in chatcore.
//!
//! What every route shares (the client's address, authentication, the body, CSRF proof) runs
//! before a handler, in [`crate::http::ctx::prepare`]; the route table
//! ([`crate::routes::ROUTES`]) names each handler, and a refusal is rendered as the JSON
//! error shape by the REST front end ([`crate::http::front::Front::Rest`]).

pub mod accounts;
pub mod chats;
pub mod members;
pub mod messages;
pub mod meta;
pub mod users;
