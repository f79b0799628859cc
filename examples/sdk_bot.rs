//! A bot on `chat-sdk` that answers `!ping` with `pong @<author>` in the chats it is a
//! member of, over a live connection per chat. The bot itself (`PingBot`: sign-in, the
//! chats' streams, the reply rule) is `examples::sdk_bot` (`src/sdk_bot.rs`); this program
//! reads its configuration and runs it until Ctrl-C.
//!
//! Run it against a server (`cargo run -p chat-server`) with an account of its own, which
//! an admin adds to chats:
//! ```text
//! CHAT_BOT_USERNAME=pingbot CHAT_BOT_PASSWORD=… cargo run -p examples --example sdk_bot
//! ```
//! `CHAT_BOT_TOKEN` may stand in for the username and password; `CHAT_BASE_URL` (default
//! `http://127.0.0.1:8000`) and `CHAT_BOT_POLL_MS` (how often it looks for chats it was
//! added to, default 1000) are optional. With `-- --check` the bot signs in, connects to
//! its chats, lists them and exits: a check of the configuration. `chat-server/tests/it/examples.rs` runs the same bot against a test server.

use examples::sdk_bot::{BotConfig, DEFAULT_BASE_URL, PingBot};
use std::process::ExitCode;
use tokio_util::sync::CancellationToken;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

const USAGE: &str = "usage: CHAT_BOT_USERNAME=… CHAT_BOT_PASSWORD=… (or CHAT_BOT_TOKEN=…) \
                     [CHAT_BASE_URL=…] [CHAT_BOT_POLL_MS=1000] sdk_bot [--check]";

#[tokio::main]
async fn main() -> ExitCode {
    let check = match std::env::args().skip(1).collect::<Vec<_>>().as_slice() {
        [] => false,
        [flag] if flag == "--check" => true,
        _ => {
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    examples::init_logging("info");
    // One rustls provider for every TLS user (an `https://` base URL); an error only means
    // one is installed already.
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let config = match BotConfig::from_env() {
        Ok(config) => config,
        Err(e) => {
            eprintln!("sdk_bot: {e}\n{USAGE} (the server defaults to {DEFAULT_BASE_URL})");
            return ExitCode::from(2);
        }
    };
    match run(config, check).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("sdk_bot: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Signs the bot in; then, unless `check_only`, runs it until Ctrl-C or a revoked token.
async fn run(config: BotConfig, check_only: bool) -> Result<(), BoxError> {
    let bot = PingBot::start(&config).await.map_err(|e| {
        format!(
            "cannot sign in as {:?} on {}: {e}",
            config.credentials, config.base_url
        )
    })?;
    if check_only {
        println!(
            "sdk_bot: signed in to {}, following {} chat(s) {:?}; the configuration works",
            config.base_url,
            bot.chats().len(),
            bot.chats()
        );
        return Ok(());
    }
    let shutdown = CancellationToken::new();
    let on_ctrl_c = shutdown.clone();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            on_ctrl_c.cancel();
        }
    });
    tracing::info!(
        "answering pings; looking for new chats every {:?}; Ctrl-C stops me",
        config.poll_interval
    );
    let answered = bot.run(shutdown).await?;
    tracing::info!("stopped after answering {answered} ping(s)");
    Ok(())
}
