//! The core's metrics, recorded through the `metrics` facade and named here, in one place.
//! Nothing is exported from this crate: with no recorder installed every call is a no-op,
//! and a front end that wants them installs a recorder and serves it (chat-server's
//! `--metrics-bind`), calling [`describe`] once after installing it.

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

/// Lookups the store cache answered from memory, by `cache` (`token`, `standing`, `tail`)
/// (counter).
pub const CACHE_HITS: &str = "chat_cache_hits_total";
/// Lookups the store cache passed to the store, by `cache` (counter).
pub const CACHE_MISSES: &str = "chat_cache_misses_total";
/// Times the store cache was emptied because the database's change counter moved: a
/// revocation, an account, membership or chat change (counter).
pub const CACHE_FLUSHES: &str = "chat_cache_flushes_total";

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
    describe_counter!(
        CACHE_HITS,
        Unit::Count,
        "Store cache lookups answered from memory, by cache (token, standing, tail)."
    );
    describe_counter!(
        CACHE_MISSES,
        Unit::Count,
        "Store cache lookups passed to the store, by cache (token, standing, tail)."
    );
    describe_counter!(
        CACHE_FLUSHES,
        Unit::Count,
        "Times the store cache was emptied because the database's change counter moved."
    );
}
