//! The `chat-server` binary: parse the command line, set up logging (`RUST_LOG`, default
//! `info`, to stderr) and the TLS crypto provider, run the command.

use clap::Parser;
use std::io::IsTerminal;
use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = chat_server::cli::Cli::parse();
    // Logs go to stderr (stdout is for the commands' own output), coloured only on a terminal.
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    // One rustls provider for every TLS user (PostgreSQL over TLS); an error only means one
    // is installed already.
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    match chat_server::cli::run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
