//! The chat-server integration tests: one binary (each file under `tests/` would be a
//! separate link). Every test starts the real server on a random port.

mod accounts;
mod auth;
mod chats;
mod cli;
mod defects;
mod flow;
mod hardening;
mod helpers;
mod hostile;
mod matrix;
mod members;
mod messages;
mod meta;
mod props;
mod reads;
mod sdk;
mod sockets;
mod users;
mod wire;
