//! Serving the chat REST API with a custom authenticator: a company directory whose API keys
//! sign employees in. The directory and its `DirectoryAuthenticator` are in
//! `examples::custom_auth` (`src/custom_auth.rs`; read its comment before copying this).
//!
//! The server is assembled from `ChatCore::services()` with only the `authenticator`
//! replaced, and runs with `chat_server::serve` on a listener bound here until Ctrl-C or
//! SIGTERM; then it finishes open requests and stores what is queued.
//!
//! Run it with `cargo run -p examples --example custom_auth` (127.0.0.1:8001, or
//! `CHAT_BIND`; a SQLite database in a temporary directory; the keys and the admin password
//! are printed). `chat-server/tests/it/examples.rs` drives the same authenticator.

use chat_server::Settings;
use chatcore::auth::random_hex;
use chatcore::model::Registration;
use chatcore::{ChatCore, Config};
use examples::custom_auth::{CompanyDirectory, DirectoryAuthenticator, EMPLOYEES, IssuedKey};
use std::process::ExitCode;
use std::sync::Arc;
use tokio::net::TcpListener;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Where the server listens when `CHAT_BIND` does not say otherwise.
const DEFAULT_BIND: &str = "127.0.0.1:8001";

#[tokio::main]
async fn main() -> ExitCode {
    if std::env::args().len() > 1 {
        eprintln!(
            "usage: custom_auth (no arguments; it listens on CHAT_BIND, default {DEFAULT_BIND})"
        );
        return ExitCode::from(2);
    }
    examples::init_logging("info");
    // One rustls provider for every TLS user, as the server binary does; an error only
    // means one is installed already.
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("custom_auth: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), BoxError> {
    // 1. The core on a fresh SQLite database. Registration is closed: accounts come from
    //    the directory (see `examples::custom_auth` for why).
    let dir = tempfile::tempdir()?;
    let database_url = format!("sqlite://{}", dir.path().join("chat.db").display());
    let config = Config {
        registration_open: false,
        ..Config::default()
    };
    let core = ChatCore::open(&database_url, config).await?;

    // 2. A local administrator, made by trusted code as `chat-server createsuperuser` does.
    let admin_password = format!("admin-{}", random_hex(12));
    core.auth()
        .create_superuser(Registration {
            username: "admin".into(),
            password: admin_password.clone(),
            email: "admin@example.com".into(),
            first_name: "Ada".into(),
            last_name: "Admin".into(),
        })
        .await?;

    // 3. The services with the authenticator replaced; everything else is the core's.
    let (directory, keys) = CompanyDirectory::issue_keys(EMPLOYEES);
    let mut services = core.services();
    services.authenticator = Arc::new(DirectoryAuthenticator::new(directory, &services));

    // 4. Bind, then serve until a signal.
    let bind = std::env::var("CHAT_BIND").unwrap_or_else(|_| DEFAULT_BIND.into());
    let listener = TcpListener::bind(&bind)
        .await
        .map_err(|e| format!("cannot listen on {bind}: {e}"))?;
    let base_url = format!("http://{}", listener.local_addr()?);
    print_instructions(&base_url, &database_url, &keys, &admin_password);
    let shutdown = chat_server::shutdown_on_signals();
    let served = chat_server::serve(listener, services, Settings::default(), shutdown).await;

    // 5. Store what is queued, then report how serving ended.
    core.shutdown().await;
    Ok(served?)
}

/// Tells a human how to talk to the server.
fn print_instructions(base: &str, database_url: &str, keys: &[IssuedKey], admin_password: &str) {
    println!("custom_auth: the chat REST API with a company-directory authenticator");
    println!("  listening on {base}");
    println!("  database     {database_url} (removed on exit)\n");
    println!(
        "Directory API keys, issued afresh at every start (send `Authorization: Token <key>`):"
    );
    for IssuedKey { employee, key } in keys {
        let name = format!("{} {}", employee.first_name, employee.last_name);
        let note = match (employee.employed, employee.username) {
            (false, _) => "  (left the company: refused)",
            (true, "admin") => "  (named like the local admin: refused, never linked to it)",
            (true, _) => "",
        };
        let (username, department) = (employee.username, employee.department);
        println!("  {username:<14} {name:<15} {department:<12} {key}{note}");
    }
    println!("\nLocal admin (built-in password login): admin / {admin_password}\n");
    if let Some(first) = keys.first() {
        let login = format!(r#"{{"username":"admin","password":"{admin_password}"}}"#);
        let json = "-H 'Content-Type: application/json'";
        println!("Try:");
        println!("  # an employee's first request creates their account");
        println!(
            "  curl -s -H 'Authorization: Token {}' {base}/api/accounts/me/",
            first.key
        );
        println!("  # the admin logs in with a password and gets a local token");
        println!("  curl -s {json} -d '{login}' {base}/api/accounts/login/");
        println!("  # the admin lists accounts, then creates a chat with some of them");
        println!("  curl -s -H 'Authorization: Token ADMIN_TOKEN' {base}/api/users/");
        println!(
            r#"  curl -s -H 'Authorization: Token ADMIN_TOKEN' {json} -d '{{"name":"general","participants":[2]}}' {base}/api/chat/"#
        );
    }
    println!("\nCtrl-C stops the server.");
}
