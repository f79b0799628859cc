//! The core's metrics, recorded through the `metrics` facade and named here, in one place.
//! Nothing is exported from this crate: with no recorder installed every call is a no-op,
//! and a front end that wants them installs a recorder and serves it (chat-server's
//! `--metrics-bind`), calling [`describe`] once after installing it.
//!
//! Not recorded yet: cache hits and misses (issue 13). There is no cache; the caching `Store`
//! decorator, when it comes, names its counters here and records them where it looks up.

use metrics::{Unit, describe_counter, describe_histogram};

/// Messages stored by one writer transaction (histogram).
pub const WRITER_BATCH_SIZE: &str = "chat_writer_batch_size";
/// Seconds one writer transaction took, from its start to its commit or failure (histogram).
pub const WRITER_COMMIT_SECONDS: &str = "chat_writer_commit_seconds";
/// Seconds from a post entering the writer's queue until its message was published to the
/// broker (the wait for earlier batches, its own transaction, the publish), per stored
/// message (histogram).
pub const WRITER_POST_SECONDS: &str = "chat_writer_post_seconds";
/// Password checks that failed: unknown user, inactive user or wrong password (counter).
pub const LOGIN_FAILURES: &str = "chat_login_failures_total";
/// Password checks the login limiter refused before any password work (counter).
pub const LOGIN_LIMITER_REFUSALS: &str = "chat_login_limiter_refusals_total";

/// Describes the core's metrics to the installed recorder (their `# HELP` lines).
pub fn describe() {
    describe_histogram!(
        WRITER_BATCH_SIZE,
        Unit::Count,
        "Messages stored by one group-commit transaction."
    );
    describe_histogram!(
        WRITER_COMMIT_SECONDS,
        Unit::Seconds,
        "Time one group-commit transaction took, from its start to its commit."
    );
    describe_histogram!(
        WRITER_POST_SECONDS,
        Unit::Seconds,
        "Time from a post entering the writer's queue until its message was published."
    );
    describe_counter!(
        LOGIN_FAILURES,
        Unit::Count,
        "Password checks that failed (unknown user, inactive user or wrong password)."
    );
    describe_counter!(
        LOGIN_LIMITER_REFUSALS,
        Unit::Count,
        "Password checks refused by the login rate limiter."
    );
}
