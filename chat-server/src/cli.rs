//! The command line: `chat-server [serve] | migrate | createsuperuser | changepassword`.
//! Every flag can also come from a `CHAT_*` environment variable; with no configuration at
//! all, `serve` uses `sqlite://chat.db` in the working directory and `127.0.0.1:8000`.
//! Passwords come from `--password-stdin`, else `CHAT_SUPERUSER_PASSWORD`, else a prompt.

use crate::app::{Application, ServeError, shutdown_on_signals};
use crate::http::client_ip::TrustedProxy;
use crate::settings::{DEFAULT_MAX_HEADER_BYTES, MIN_MAX_HEADER_BYTES, Settings};
use chatcore::model::Registration;
use chatcore::{ChatCore, Config};
use clap::{Args, Parser, Subcommand, ValueEnum};
use std::io::{BufRead, IsTerminal};
use std::net::SocketAddr;
use std::time::Duration;

/// The environment variable a password may come from (never a flag: flags show in `ps`).
pub const PASSWORD_VAR: &str = "CHAT_SUPERUSER_PASSWORD";

/// `chat-server`: the closed team messenger's server.
#[derive(Debug, Parser)]
#[command(
    name = "chat-server",
    version,
    about,
    args_conflicts_with_subcommands = true
)]
pub struct Cli {
    /// What to do (default: serve).
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Flags of `serve`, which runs when no command is given.
    #[command(flatten)]
    pub serve: ServeArgs,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the REST API (the default); applies pending migrations first.
    Serve(ServeArgs),
    /// Apply pending database migrations and exit.
    Migrate(DatabaseArgs),
    /// Create an administrator account.
    #[command(
        after_help = "The password is read from stdin with --password-stdin, else from \
        CHAT_SUPERUSER_PASSWORD, else asked for interactively."
    )]
    Createsuperuser(CreateSuperuserArgs),
    /// Set an account's password (revokes its tokens and sessions).
    #[command(
        after_help = "The password is read from stdin with --password-stdin, else from \
        CHAT_SUPERUSER_PASSWORD, else asked for interactively."
    )]
    Changepassword(ChangePasswordArgs),
}

/// Where the data lives.
#[derive(Debug, Clone, Args)]
pub struct DatabaseArgs {
    /// `sqlite://path` (created if missing) or `postgres://user:pass@host/db`.
    #[arg(long, env = "CHAT_DATABASE_URL", default_value = "sqlite://chat.db")]
    pub database_url: String,
    /// Database connections in the pool.
    #[arg(long, env = "CHAT_DB_MAX_CONNECTIONS", default_value_t = 8)]
    pub db_max_connections: u32,
}

/// Whether anyone may register.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RegistrationMode {
    /// Anyone may create an account.
    Open,
    /// Only `createsuperuser` (and admins, later) create accounts; register answers 403.
    Closed,
}

/// The flags of `serve`.
#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "CHAT_BIND", default_value = "127.0.0.1:8000")]
    pub bind: SocketAddr,
    /// The database.
    #[command(flatten)]
    pub database: DatabaseArgs,
    /// Redis URL for fan-out between several server nodes.
    #[arg(long, env = "CHAT_REDIS_URL")]
    pub redis_url: Option<String>,
    /// Whether anyone may register.
    #[arg(long, env = "CHAT_REGISTRATION", value_enum, default_value_t = RegistrationMode::Open)]
    pub registration: RegistrationMode,
    /// Comma-separated addresses or CIDR blocks of reverse proxies whose X-Forwarded-For
    /// is believed.
    #[arg(long, env = "CHAT_TRUSTED_PROXIES", value_delimiter = ',', value_parser = optional_proxy)]
    pub trusted_proxies: Vec<Option<TrustedProxy>>,
    /// Comma-separated origins (`https://chat.example.com`) allowed to make
    /// cookie-authenticated requests, besides the server's own host.
    #[arg(long, env = "CHAT_ALLOWED_ORIGINS", value_delimiter = ',')]
    pub allowed_origins: Vec<String>,
    /// Longest a request may take, in seconds.
    #[arg(long, env = "CHAT_REQUEST_TIMEOUT", default_value_t = 30)]
    pub request_timeout: u64,
    /// Largest request head (request line and headers) in bytes, at least 8192; larger
    /// ones are answered 431.
    #[arg(
        long,
        env = "CHAT_MAX_HEADER_BYTES",
        default_value_t = DEFAULT_MAX_HEADER_BYTES,
        value_parser = header_bytes
    )]
    pub max_header_bytes: usize,
}

/// The flags of `createsuperuser`.
#[derive(Debug, Clone, Args)]
pub struct CreateSuperuserArgs {
    /// The database.
    #[command(flatten)]
    pub database: DatabaseArgs,
    /// Login name of the new administrator.
    #[arg(long, env = "CHAT_SUPERUSER_USERNAME")]
    pub username: String,
    /// E-mail address.
    #[arg(long, env = "CHAT_SUPERUSER_EMAIL", default_value = "")]
    pub email: String,
    /// Read the password from the first line of stdin.
    #[arg(long)]
    pub password_stdin: bool,
}

/// The flags of `changepassword`.
#[derive(Debug, Clone, Args)]
pub struct ChangePasswordArgs {
    /// The database.
    #[command(flatten)]
    pub database: DatabaseArgs,
    /// Whose password to set.
    #[arg(long, env = "CHAT_SUPERUSER_USERNAME")]
    pub username: String,
    /// Read the password from the first line of stdin.
    #[arg(long)]
    pub password_stdin: bool,
}

/// Why a command failed.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// Serving failed.
    #[error(transparent)]
    Serve(#[from] ServeError),
    /// The core refused (bad input, taken username, unknown user, database trouble).
    #[error("{0}")]
    Core(#[from] chatcore::Error),
    /// Reading the password failed.
    #[error("cannot read the password: {0}")]
    Password(String),
    /// A feature that comes with a later release.
    #[error("{0}")]
    NotYet(&'static str),
}

/// Runs the parsed command line.
///
/// # Errors
/// Whatever the command failed with, ready to print.
pub async fn run(cli: Cli) -> Result<(), CliError> {
    match cli.command {
        None => serve(cli.serve).await,
        Some(Command::Serve(args)) => serve(args).await,
        Some(Command::Migrate(db)) => {
            let core = open(&db, Config::default()).await?;
            core.shutdown().await;
            println!("Migrations applied to {}.", redact(&db.database_url));
            Ok(())
        }
        Some(Command::Createsuperuser(args)) => {
            let password = password(args.password_stdin, true)?;
            let core = open(&args.database, Config::default()).await?;
            let result = core
                .auth()
                .create_superuser(Registration {
                    username: args.username,
                    password,
                    email: args.email,
                    ..Registration::default()
                })
                .await;
            core.shutdown().await;
            let user = result?;
            println!("Superuser {} created (id {}).", user.username, user.id);
            Ok(())
        }
        Some(Command::Changepassword(args)) => {
            let password = password(args.password_stdin, true)?;
            let core = open(&args.database, Config::default()).await?;
            let result = core.auth().set_password(&args.username, &password).await;
            core.shutdown().await;
            result?;
            println!("Password changed for {}.", args.username);
            Ok(())
        }
    }
}

async fn open(db: &DatabaseArgs, mut config: Config) -> Result<ChatCore, CliError> {
    config.max_connections = db.db_max_connections;
    Ok(ChatCore::open(&db.database_url, config).await?)
}

async fn serve(args: ServeArgs) -> Result<(), CliError> {
    if args.redis_url.is_some() {
        return Err(CliError::NotYet(
            "--redis-url / CHAT_REDIS_URL: fan-out through Redis between several nodes comes \
             in a later release; run a single node without it for now",
        ));
    }
    let config = Config {
        registration_open: args.registration == RegistrationMode::Open,
        max_connections: args.database.db_max_connections,
        ..Config::default()
    };
    let settings = settings(&args);
    let app = Application::build(&args.database.database_url, config, args.bind, settings).await?;
    let addr = app.local_addr().map_err(ServeError::from)?;
    tracing::info!(%addr, database = %redact(&args.database.database_url), "listening");
    app.run_until_stopped(shutdown_on_signals()).await?;
    Ok(())
}

/// The HTTP settings the flags describe.
pub fn settings(args: &ServeArgs) -> Settings {
    Settings {
        trusted_proxies: args.trusted_proxies.iter().flatten().copied().collect(),
        allowed_origins: args
            .allowed_origins
            .iter()
            .map(|o| o.trim())
            .filter(|o| !o.is_empty())
            .map(str::to_owned)
            .collect(),
        request_timeout: Duration::from_secs(args.request_timeout.max(1)),
        max_header_bytes: args.max_header_bytes,
        ..Settings::default()
    }
}

/// A head size limit: a byte count hyper's HTTP/1 reader can honour.
fn header_bytes(s: &str) -> Result<usize, String> {
    let bytes: usize = s
        .trim()
        .parse()
        .map_err(|_| format!("`{s}` is not a number of bytes"))?;
    if bytes < MIN_MAX_HEADER_BYTES {
        return Err(format!("must be at least {MIN_MAX_HEADER_BYTES} bytes"));
    }
    Ok(bytes)
}

/// A trusted proxy; an empty item (`CHAT_TRUSTED_PROXIES=` or `a,,b`) is none.
fn optional_proxy(s: &str) -> Result<Option<TrustedProxy>, String> {
    if s.trim().is_empty() {
        Ok(None)
    } else {
        s.parse().map(Some)
    }
}

/// The password: stdin's first line with `--password-stdin`, else the environment, else a
/// prompt (asked twice when `confirm`).
fn password(from_stdin: bool, confirm: bool) -> Result<String, CliError> {
    if from_stdin {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .map_err(|e| CliError::Password(e.to_string()))?;
        return Ok(line.trim_end_matches(['\r', '\n']).to_owned());
    }
    if let Ok(p) = std::env::var(PASSWORD_VAR)
        && !p.is_empty()
    {
        return Ok(p);
    }
    if !std::io::stdin().is_terminal() {
        return Err(CliError::Password(format!(
            "no terminal to ask on; use --password-stdin or set {PASSWORD_VAR}"
        )));
    }
    let first =
        rpassword::prompt_password("Password: ").map_err(|e| CliError::Password(e.to_string()))?;
    if confirm {
        let second = rpassword::prompt_password("Password (again): ")
            .map_err(|e| CliError::Password(e.to_string()))?;
        if first != second {
            return Err(CliError::Password("the passwords did not match".into()));
        }
    }
    Ok(first)
}

/// A database URL without its password, for messages and logs.
pub fn redact(database_url: &str) -> String {
    match url::Url::parse(database_url) {
        Ok(mut url) if url.password().is_some() => {
            // Setting a password only fails for URLs that cannot have one.
            let _ = url.set_password(Some("***"));
            url.to_string()
        }
        _ => database_url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("chat-server").chain(args.iter().copied()))
    }

    #[test]
    fn the_command_line_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }

    #[test]
    fn no_arguments_means_serve_with_the_defaults() {
        let cli = parse(&[]).unwrap();
        assert!(cli.command.is_none());
        assert_eq!(cli.serve.bind.to_string(), "127.0.0.1:8000");
        assert_eq!(cli.serve.database.database_url, "sqlite://chat.db");
        assert_eq!(cli.serve.registration, RegistrationMode::Open);
        assert!(cli.serve.redis_url.is_none());
    }

    #[test]
    fn serve_flags_work_with_and_without_the_subcommand() {
        let cli = parse(&[
            "--bind",
            "0.0.0.0:9000",
            "--trusted-proxies",
            "10.0.0.0/8,::1",
        ])
        .unwrap();
        assert_eq!(cli.serve.bind.port(), 9000);
        assert_eq!(cli.serve.trusted_proxies.len(), 2);
        let cli = parse(&["serve", "--registration", "closed"]).unwrap();
        match cli.command {
            Some(Command::Serve(args)) => assert_eq!(args.registration, RegistrationMode::Closed),
            other => panic!("{other:?}"),
        }
        assert!(parse(&["--trusted-proxies", "nonsense"]).is_err());
    }

    #[test]
    fn the_request_head_limit_defaults_to_16_kib_and_has_a_floor() {
        let cli = parse(&[]).unwrap();
        assert_eq!(cli.serve.max_header_bytes, 16 * 1024);
        assert_eq!(settings(&cli.serve).max_header_bytes, 16 * 1024);
        let cli = parse(&["--max-header-bytes", "32768"]).unwrap();
        assert_eq!(settings(&cli.serve).max_header_bytes, 32768);
        assert!(parse(&["--max-header-bytes", "4096"]).is_err());
        assert!(parse(&["--max-header-bytes", "lots"]).is_err());
        use clap::CommandFactory;
        let command = Cli::command();
        let arg = command
            .get_arguments()
            .find(|a| a.get_id() == "max_header_bytes")
            .unwrap();
        assert_eq!(
            arg.get_env().and_then(|v| v.to_str()),
            Some("CHAT_MAX_HEADER_BYTES")
        );
    }

    #[test]
    fn management_commands_take_their_flags() {
        let cli = parse(&["createsuperuser", "--username", "root", "--password-stdin"]).unwrap();
        match cli.command {
            Some(Command::Createsuperuser(a)) => {
                assert_eq!(a.username, "root");
                assert!(a.password_stdin);
                assert_eq!(a.email, "");
            }
            other => panic!("{other:?}"),
        }
        assert!(
            parse(&["changepassword"]).is_err(),
            "--username is required"
        );
        assert!(parse(&["migrate", "--database-url", "sqlite://x.db"]).is_ok());
    }

    #[test]
    fn passwords_in_database_urls_are_not_printed() {
        assert_eq!(
            redact("postgres://chat:hunter2@db/chat"),
            "postgres://chat:***@db/chat"
        );
        assert_eq!(redact("sqlite://chat.db"), "sqlite://chat.db");
    }
}
