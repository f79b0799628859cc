//! The reusable pieces of the runnable examples next to this crate: what an application
//! would copy into its own code. Each example binary (`embedded.rs`, `custom_auth.rs`,
//! `sdk_bot.rs`, `deploy_check.rs`) is a short `main` around them, and the chat-server
//! integration tests (`chat-server/tests/it/examples.rs`) drive the same pieces against a
//! real server (`deploy_check` needs nginx: `deploy/run-native.sh` runs it).
//!
//! - [`custom_auth`]: a company directory whose API keys authenticate through a
//!   `chatcore::Authenticator` plugged into the server's services.
//! - [`sdk_bot`]: a bot on `chat-sdk` that answers `!ping` with `pong @<author>`.
//! - [`deploy_check`]: proves that a message crossed nodes behind nginx
//!   (`deploy/run-native.sh` runs it).

pub mod custom_auth;
pub mod deploy_check;
pub mod sdk_bot;

/// Sends the program's logs to stderr, filtered by `RUST_LOG` or else by `default` (an
/// `EnvFilter` directive such as `"info"`), coloured only on a terminal.
pub fn init_logging(default: &str) {
    use std::io::IsTerminal;
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default)),
        )
        .init();
}
