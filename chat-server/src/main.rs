//! The `chat-server` binary: tell glibc's malloc to give large blocks back, start the
//! runtime, parse the command line, set up logging (`RUST_LOG`, default `info`, to stderr)
//! and the TLS crypto provider, run the command.

use clap::Parser;
use std::io::IsTerminal;
use std::process::ExitCode;

fn main() -> ExitCode {
    return_large_blocks_to_the_system();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(run())
}

/// Keeps glibc from pooling large freed blocks. By default its malloc raises the size above
/// which blocks are mapped (and unmapped when freed) after the first large block is freed,
/// and from then on keeps blocks that size in its per-thread arenas: every password hash
/// frees a 19 MiB argon2id buffer, so after a burst of logins each arena holds one (436 MiB
/// resident after 100 registrations, measured by `ws_load`). A fixed threshold (glibc's
/// default, 128 KiB) gives them back when freed; small allocations are served as before.
/// Called before any other thread exists.
fn return_large_blocks_to_the_system() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: `mallopt` only sets a malloc tunable; no other thread is running yet.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 128 * 1024);
    }
}

async fn run() -> ExitCode {
    let cli = chat_server::cli::Cli::parse();
    // Logs go to stderr (stdout is for the commands' own output), coloured only on a terminal.
    // A thread of their own writes them, buffered and flushed whenever it has caught up: a
    // request does not wait for a write to stderr (one per line), and under load many lines
    // go out in one. Never lossy: a full queue makes the logging call wait (as a write to
    // stderr did). Dropping the guard flushes what is left.
    let (writer, flush_at_exit) = tracing_appender::non_blocking::NonBlockingBuilder::default()
        .lossy(false)
        .finish(std::io::BufWriter::new(std::io::stderr()));
    tracing_subscriber::fmt()
        .with_writer(writer)
        .with_ansi(std::io::stderr().is_terminal())
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    // One rustls provider for every TLS user (PostgreSQL over TLS); an error only means one
    // is installed already.
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let outcome = chat_server::cli::run(cli).await;
    // The log lines first, then the final error after them.
    drop(flush_at_exit);
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
