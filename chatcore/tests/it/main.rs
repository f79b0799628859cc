//! The chatcore contract suite: every test runs against SQLite and, when
//! `CHAT_TEST_POSTGRES_URL` is set, against PostgreSQL (each test in its own schema).

mod fixture;

mod auth;
mod cache;
mod membership;
mod messaging;
mod migrations;
mod nodes;
mod streams;
mod subscription;
mod times;
mod unread;
