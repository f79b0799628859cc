//! The chat-server integration tests: one binary (each file under `tests/` would be a
//! separate link). Every test starts the real server on a random port.

mod accounts;
mod auth;
mod chats;
mod flow;
mod helpers;
mod members;
mod messages;
mod sdk;
mod users;
