//! The chat-server integration tests: one binary (each file under `tests/` would be a
//! separate link). Every test starts the real server on a random port.

mod accounts;
mod auth;
mod chats;
mod cli;
mod defects;
mod examples;
mod flow;
mod hardening;
mod helpers;
mod hostile;
mod matrix;
mod members;
mod messages;
mod meta;
mod metrics;
mod nodes;
mod props;
mod reads;
mod sdk;
mod sdk_stream;
mod sockets;
mod sockets_fanout;
mod users;
mod web;
mod web_e2e;
mod wire;
