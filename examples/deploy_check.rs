//! Checks a deployment of several chat-server nodes behind nginx: a member's socket, opened
//! through nginx, must receive every message the administrator posts, in `seq` order and
//! once each, including messages posted on another node than the socket's. The check itself
//! is `examples::deploy_check` (`src/deploy_check.rs`); `deploy/run-native.sh` starts
//! PostgreSQL-backed nodes with Redis and nginx (`deploy/nginx.conf`) and runs this program:
//! ```text
//! CHAT_DEPLOY_USERNAME=admin CHAT_DEPLOY_PASSWORD=… \
//!     cargo run -p examples --example deploy_check -- http://127.0.0.1:8080 127.0.0.1:8001 127.0.0.1:8002
//! ```
//! The first argument is nginx; the others are the nodes as nginx names them in its
//! `X-Upstream` header, reachable from here (one message is posted straight to a node). It
//! signs up one member (registration must be open) and creates one chat. Exit status 0 only
//! when a message crossed nodes.

use examples::deploy_check::{self, Deployment};
use std::process::ExitCode;

const USAGE: &str = "usage: CHAT_DEPLOY_USERNAME=… CHAT_DEPLOY_PASSWORD=… \
                     deploy_check <nginx URL> <node address> <node address>…";

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    let deployment = match (
        args.as_slice(),
        var("CHAT_DEPLOY_USERNAME"),
        var("CHAT_DEPLOY_PASSWORD"),
    ) {
        ([proxy, nodes @ ..], Some(username), Some(password)) if nodes.len() >= 2 => Deployment {
            proxy: proxy.clone(),
            nodes: nodes.to_vec(),
            username,
            password,
        },
        _ => {
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    examples::init_logging("warn");
    match deploy_check::run(&deployment).await {
        Ok(report) => {
            for line in report.summary().lines() {
                println!("deploy_check: {line}");
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("deploy_check: FAILED: {e}");
            ExitCode::FAILURE
        }
    }
}
