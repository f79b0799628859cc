//! `chatcore`: the closed team messenger's domain library.
//!
//! Without features this crate is only [`model`] (wire types, events) and [`Error`], which
//! `chat-sdk` uses. With a backend feature (`sqlite`, the default, or `postgres`) it is the
//! whole engine: [`ChatCore::open`] connects the store, applies migrations, starts the
//! group-commit writer and the broker, and hands out the three services
//! ([`AuthService`], [`MembershipService`], [`MessagingService`]) that every front end calls.

mod error;
pub mod model;
pub mod validate;

pub use error::{Error, ErrorBody, ErrorKind, Result};

#[cfg(feature = "engine")]
pub mod auth;
#[cfg(feature = "engine")]
pub mod broker;
#[cfg(feature = "engine")]
pub mod config;
#[cfg(feature = "engine")]
pub mod core;
#[cfg(feature = "engine")]
pub mod metrics;
#[cfg(feature = "engine")]
pub mod service;
#[cfg(feature = "engine")]
pub mod store;
#[cfg(feature = "testing")]
pub mod testing;
#[cfg(feature = "engine")]
mod writer;

#[cfg(feature = "engine")]
pub use crate::{
    auth::{Actor, ClientInfo, Credential},
    config::{CacheConfig, Config, LoginRateLimit, PasswordHashing},
    core::{ChatCore, HealthCheck, Services},
    service::{
        AuthService, Authenticator, ExternalIdentity, MembershipService, MessagingService,
        NewSession, Posted, QueuedPost, SharedEvent, Subscription,
    },
};
