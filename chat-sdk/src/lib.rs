//! Typed client for the chat server.
