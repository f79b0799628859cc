//! The command line: `chat-server [serve] | migrate | createsuperuser | changepassword`.
//! Every flag can also come from a `CHAT_*` environment variable; with no configuration at
//! all, `serve` uses `sqlite://chat.db` in the working directory and `127.0.0.1:8000`.
//! Passwords come from `--password-stdin`, else `CHAT_SUPERUSER_PASSWORD`, else a prompt.

use crate::app::{Application, ServeError, shutdown_on_signals};
use crate::http::client_ip::TrustedProxy;
use crate::settings::{
    DEFAULT_MAX_HEADER_BYTES, MIN_MAX_HEADER_BYTES, SecureCookies, Settings, WsSettings,
};
use chatcore::broker::redis::RedisSettings;
use chatcore::model::Registration;
use chatcore::{CacheConfig, ChatCore, Config, LoginRateLimit};
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
    Serve(Box<ServeArgs>),
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
    #[arg(
        long,
        hide_env_values = true,
        env = "CHAT_DATABASE_URL",
        default_value = "sqlite://chat.db"
    )]
    pub database_url: String,
    /// Database connections in the pool.
    #[arg(
        long,
        hide_env_values = true,
        env = "CHAT_DB_MAX_CONNECTIONS",
        default_value_t = 8
    )]
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

/// Whether the store cache is used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CacheMode {
    /// Credentials, standings and message tails are kept in memory, checked against the
    /// database's change counter before every answer.
    On,
    /// Every request reads the database.
    Off,
}

/// The flags of `serve`.
#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(
        long,
        hide_env_values = true,
        env = "CHAT_BIND",
        default_value = "127.0.0.1:8000"
    )]
    pub bind: SocketAddr,
    /// Address of a separate listener serving Prometheus metrics at `/metrics` (keep it
    /// off the public network). Unset: no metrics listener.
    #[arg(long, hide_env_values = true, env = "CHAT_METRICS_BIND")]
    pub metrics_bind: Option<SocketAddr>,
    /// The database.
    #[command(flatten)]
    pub database: DatabaseArgs,
    /// Redis URL for fan-out between several server nodes sharing one PostgreSQL
    /// database (`redis://[:password@]host[:port][/db]`). Without it, one node.
    #[arg(long, hide_env_values = true, env = "CHAT_REDIS_URL")]
    pub redis_url: Option<String>,
    /// Prefix of the Redis channel names; nodes that serve each other use the same one.
    #[arg(long, hide_env_values = true, env = "CHAT_REDIS_PREFIX", default_value = chatcore::broker::redis::DEFAULT_PREFIX)]
    pub redis_prefix: String,
    /// Whether anyone may register.
    #[arg(long, hide_env_values = true, env = "CHAT_REGISTRATION", value_enum, default_value_t = RegistrationMode::Open)]
    pub registration: RegistrationMode,
    /// The store cache: what every request reads (the account behind a token, membership,
    /// a chat's newest 200 messages), answered from memory when the database's change
    /// counter says nothing changed.
    #[arg(long, hide_env_values = true, env = "CHAT_CACHE", value_enum, default_value_t = CacheMode::On)]
    pub cache: CacheMode,
    /// Most bytes of message tails the cache keeps, in MiB.
    #[arg(
        long,
        hide_env_values = true,
        env = "CHAT_CACHE_TAIL_MIB",
        default_value_t = 64
    )]
    pub cache_tail_mib: usize,
    /// Comma-separated addresses or CIDR blocks of reverse proxies whose X-Forwarded-For
    /// is believed.
    #[arg(long, hide_env_values = true, env = "CHAT_TRUSTED_PROXIES", value_delimiter = ',', value_parser = optional_proxy)]
    pub trusted_proxies: Vec<Option<TrustedProxy>>,
    /// Comma-separated origins (`https://chat.example.com`) allowed to make
    /// cookie-authenticated requests, besides the server's own host.
    #[arg(
        long,
        hide_env_values = true,
        env = "CHAT_ALLOWED_ORIGINS",
        value_delimiter = ','
    )]
    pub allowed_origins: Vec<String>,
    /// Longest a request may take, in seconds.
    #[arg(
        long,
        hide_env_values = true,
        env = "CHAT_REQUEST_TIMEOUT",
        default_value_t = 30
    )]
    pub request_timeout: u64,
    /// Largest request head (request line and headers) in bytes, at least 8192; larger
    /// ones are answered 431.
    #[arg(
        long,
        hide_env_values = true,
        env = "CHAT_MAX_HEADER_BYTES",
        default_value_t = DEFAULT_MAX_HEADER_BYTES,
        value_parser = header_bytes
    )]
    pub max_header_bytes: usize,
    /// Seconds a connection may stay open without a byte moving either way.
    #[arg(long, hide_env_values = true, env = "CHAT_IDLE_TIMEOUT", default_value_t = 75,
          value_parser = clap::value_parser!(u64).range(1..=86400))]
    pub idle_timeout: u64,
    /// Seconds a client may take to send a request head.
    #[arg(long, hide_env_values = true, env = "CHAT_HEADER_READ_TIMEOUT", default_value_t = 10,
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub header_read_timeout: u64,
    /// Most client connections open at once (more wait until one closes).
    #[arg(long, hide_env_values = true, env = "CHAT_CONNECTION_LIMIT", default_value_t = 4096,
          value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub connection_limit: u64,
    /// Seconds shutdown waits for open requests and sockets before closing them.
    #[arg(long, hide_env_values = true, env = "CHAT_SHUTDOWN_GRACE", default_value_t = 10,
          value_parser = clap::value_parser!(u64).range(0..=3600))]
    pub shutdown_grace: u64,
    /// Failed logins allowed per username and per client address within the window.
    #[arg(long, hide_env_values = true, env = "CHAT_LOGIN_MAX_FAILURES", default_value_t = 10,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub login_max_failures: u32,
    /// The login limiter's window, in seconds.
    #[arg(long, hide_env_values = true, env = "CHAT_LOGIN_WINDOW", default_value_t = 300,
          value_parser = clap::value_parser!(u64).range(1..=86400))]
    pub login_window: u64,
    /// When cookies carry `Secure`: `auto` = when a trusted proxy says
    /// `X-Forwarded-Proto: https`.
    #[arg(long, hide_env_values = true, env = "CHAT_SECURE_COOKIES", value_enum, default_value_t = CookieMode::Auto)]
    pub secure_cookies: CookieMode,
    /// Lifetime of a browser session, in seconds (default 14 days).
    #[arg(long, hide_env_values = true, env = "CHAT_SESSION_TTL", default_value_t = 14 * 24 * 3600,
          value_parser = clap::value_parser!(u64).range(60..=366 * 24 * 3600))]
    pub session_ttl: u64,
    /// Largest WebSocket frame or message from a client, in bytes (larger: close 1009).
    #[arg(long, hide_env_values = true, env = "CHAT_WS_MAX_MESSAGE", default_value_t = 64 * 1024,
          value_parser = clap::value_parser!(u64).range(1024..=16 * 1024 * 1024))]
    pub ws_max_message: u64,
    /// A WebSocket's read buffer, in bytes.
    #[arg(long, hide_env_values = true, env = "CHAT_WS_READ_BUFFER", default_value_t = 4 * 1024,
          value_parser = clap::value_parser!(u64).range(512..=1024 * 1024))]
    pub ws_read_buffer: u64,
    /// Events queued for one WebSocket before it counts as too slow and is closed (4000).
    #[arg(long, hide_env_values = true, env = "CHAT_WS_OUTBOUND_QUEUE", default_value_t = 256,
          value_parser = clap::value_parser!(u64).range(1..=65536))]
    pub ws_outbound_queue: u64,
    /// Seconds between the server's WebSocket pings; no answer by the next one closes it.
    #[arg(long, hide_env_values = true, env = "CHAT_WS_PING_INTERVAL", default_value_t = 30,
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub ws_ping_interval: u64,
    /// Messages one WebSocket may send per second, on average.
    #[arg(long, hide_env_values = true, env = "CHAT_WS_SEND_PER_SECOND", default_value_t = 5,
          value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub ws_send_per_second: u32,
    /// Messages one WebSocket may send at once before the rate applies.
    #[arg(long, hide_env_values = true, env = "CHAT_WS_SEND_BURST", default_value_t = 20,
          value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub ws_send_burst: u32,
}

/// When cookies carry `Secure` (see [`SecureCookies`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CookieMode {
    /// When a trusted proxy says the client came over https.
    Auto,
    /// Always.
    Always,
    /// Never.
    Never,
}

/// The flags of `createsuperuser`.
#[derive(Debug, Clone, Args)]
pub struct CreateSuperuserArgs {
    /// The database.
    #[command(flatten)]
    pub database: DatabaseArgs,
    /// Login name of the new administrator.
    #[arg(long, hide_env_values = true, env = "CHAT_SUPERUSER_USERNAME")]
    pub username: String,
    /// E-mail address.
    #[arg(
        long,
        hide_env_values = true,
        env = "CHAT_SUPERUSER_EMAIL",
        default_value = ""
    )]
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
    #[arg(long, hide_env_values = true, env = "CHAT_SUPERUSER_USERNAME")]
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
}

/// Runs the parsed command line.
///
/// # Errors
/// Whatever the command failed with, ready to print.
pub async fn run(cli: Cli) -> Result<(), CliError> {
    match cli.command {
        None => serve(cli.serve).await,
        Some(Command::Serve(args)) => serve(*args).await,
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
    let config = Config {
        registration_open: args.registration == RegistrationMode::Open,
        max_connections: args.database.db_max_connections,
        cache: CacheConfig {
            enabled: args.cache == CacheMode::On,
            tail_bytes: args.cache_tail_mib.saturating_mul(1024 * 1024),
            ..CacheConfig::default()
        },
        session_ttl: Duration::from_secs(args.session_ttl),
        login_rate_limit: LoginRateLimit {
            max_failures: args.login_max_failures,
            window: Duration::from_secs(args.login_window),
        },
        ..Config::default()
    };
    let settings = settings(&args);
    let database_url = &args.database.database_url;
    // An empty `CHAT_REDIS_URL=` means none.
    let redis_url = args
        .redis_url
        .as_deref()
        .filter(|url| !url.trim().is_empty());
    let app = match redis_url {
        Some(url) => {
            let redis = RedisSettings::new(url).with_prefix(args.redis_prefix.as_str());
            Application::build_with_redis(database_url, &redis, config, args.bind, settings).await?
        }
        None => Application::build(database_url, config, args.bind, settings).await?,
    };
    let app = match args.metrics_bind {
        Some(bind) => app.with_metrics(bind).await?,
        None => app,
    };
    let addr = app.local_addr().map_err(ServeError::from)?;
    let fan_out = redis_url.map_or_else(|| "in-process (one node)".to_owned(), redact);
    tracing::info!(%addr, database = %redact(database_url), %fan_out, "listening");
    if let Some(metrics) = app.metrics_addr() {
        tracing::info!(%metrics, "serving metrics at /metrics");
    }
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
        idle_timeout: Duration::from_secs(args.idle_timeout),
        header_read_timeout: Duration::from_secs(args.header_read_timeout),
        connection_limit: bytes(args.connection_limit),
        shutdown_grace: Duration::from_secs(args.shutdown_grace),
        secure_cookies: match args.secure_cookies {
            CookieMode::Auto => SecureCookies::Auto,
            CookieMode::Always => SecureCookies::Always,
            CookieMode::Never => SecureCookies::Never,
        },
        ws: WsSettings {
            max_message: bytes(args.ws_max_message),
            read_buffer: bytes(args.ws_read_buffer),
            outbound_queue: bytes(args.ws_outbound_queue),
            ping_interval: Duration::from_secs(args.ws_ping_interval),
            send_per_second: args.ws_send_per_second,
            send_burst: args.ws_send_burst,
        },
        ..Settings::default()
    }
}

/// A size or count the flag's range already bounds (far below `usize::MAX` on every platform
/// we build).
fn bytes(n: u64) -> usize {
    usize::try_from(n).unwrap_or(usize::MAX)
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

/// A database URL without its passwords (in the user part and in query parameters such as
/// `password` or `sslpassword`), for messages and logs.
pub fn redact(database_url: &str) -> String {
    let Ok(mut url) = url::Url::parse(database_url) else {
        return database_url.to_owned();
    };
    if url.password().is_some() {
        // Setting a password only fails for URLs that cannot have one.
        let _ = url.set_password(Some("***"));
    }
    let secret = |key: &str| key.to_ascii_lowercase().contains("password");
    if url.query_pairs().any(|(k, _)| secret(&k)) {
        let pairs: Vec<(String, String)> = url
            .query_pairs()
            .map(|(k, v)| {
                let v = if secret(&k) {
                    "***".into()
                } else {
                    v.into_owned()
                };
                (k.into_owned(), v)
            })
            .collect();
        url.query_pairs_mut().clear().extend_pairs(pairs);
    }
    url.to_string()
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
        assert!(
            cli.serve.metrics_bind.is_none(),
            "no metrics listener by default"
        );
        assert_eq!(cli.serve.cache, CacheMode::On, "the cache is on by default");
    }

    #[test]
    fn the_cache_goes_off_with_one_setting() {
        let cli = parse(&["--cache", "off"]).unwrap();
        assert_eq!(cli.serve.cache, CacheMode::Off);
        assert!(parse(&["--cache", "maybe"]).is_err());
        let cli = parse(&["--cache-tail-mib", "8"]).unwrap();
        assert_eq!(cli.serve.cache_tail_mib, 8);
    }

    #[test]
    fn metrics_get_their_own_listener_only_when_asked() {
        let cli = parse(&["--metrics-bind", "127.0.0.1:9100"]).unwrap();
        assert_eq!(
            cli.serve.metrics_bind.map(|a| a.to_string()).as_deref(),
            Some("127.0.0.1:9100")
        );
        let cli = parse(&["serve", "--metrics-bind", "[::1]:9100"]).unwrap();
        match cli.command {
            Some(Command::Serve(args)) => assert_eq!(args.metrics_bind.unwrap().port(), 9100),
            other => panic!("{other:?}"),
        }
        assert!(parse(&["--metrics-bind", "not an address"]).is_err());
        // Its CHAT_METRICS_BIND and hidden value: the tests over every flag below.
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
    fn the_settings_for_cookies_sessions_and_websockets_have_flags() {
        let cli = parse(&[]).unwrap();
        let defaults = settings(&cli.serve);
        assert_eq!(defaults.secure_cookies, SecureCookies::Auto);
        assert_eq!(defaults.ws.max_message, 64 * 1024);
        assert_eq!(defaults.ws.read_buffer, 4 * 1024);
        assert_eq!(defaults.ws.ping_interval, Duration::from_secs(30));
        assert_eq!(cli.serve.session_ttl, 14 * 24 * 3600);
        let cli = parse(&[
            "--secure-cookies",
            "always",
            "--session-ttl",
            "3600",
            "--ws-max-message",
            "2048",
            "--ws-read-buffer",
            "1024",
            "--ws-outbound-queue",
            "8",
            "--ws-ping-interval",
            "5",
        ])
        .unwrap();
        let s = settings(&cli.serve);
        assert_eq!(s.secure_cookies, SecureCookies::Always);
        assert_eq!(cli.serve.session_ttl, 3600);
        assert_eq!(
            (s.ws.max_message, s.ws.read_buffer, s.ws.outbound_queue),
            (2048, 1024, 8)
        );
        assert_eq!(s.ws.ping_interval, Duration::from_secs(5));
        assert!(
            parse(&["--ws-max-message", "10"]).is_err(),
            "below the range"
        );
        assert!(
            parse(&["--ws-outbound-queue", "0"]).is_err(),
            "below the range"
        );
        assert!(parse(&["--secure-cookies", "sometimes"]).is_err());
    }

    #[test]
    fn every_serve_flag_is_also_a_chat_variable() {
        use clap::CommandFactory;
        let command = Cli::command();
        let serve = command
            .get_subcommands()
            .find(|c| c.get_name() == "serve")
            .unwrap();
        for arg in serve.get_arguments() {
            let id = arg.get_id().as_str();
            if ["help", "version"].contains(&id) {
                continue;
            }
            let env = arg.get_env().and_then(|e| e.to_str());
            assert!(
                env.is_some_and(|e| e.starts_with("CHAT_")),
                "--{id} has no CHAT_* variable"
            );
        }
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
        for url in [
            "postgres://db/chat?password=hunter2",
            "postgres://db/chat?sslmode=require&PASSWORD=hunter2",
            "postgres://chat:hunter2@db/chat?password=hunter2",
            "postgres://db/chat?sslpassword=hunter2",
        ] {
            let shown = redact(url);
            assert!(!shown.contains("hunter2"), "{url} -> {shown}");
        }
        assert_eq!(
            redact("postgres://db/chat?sslmode=require"),
            "postgres://db/chat?sslmode=require"
        );
    }

    #[test]
    fn help_never_prints_the_current_value_of_a_variable() {
        use clap::CommandFactory;
        let command = Cli::command();
        let mut commands = vec![&command];
        commands.extend(command.get_subcommands());
        for c in commands {
            for arg in c.get_arguments() {
                if arg.get_env().is_some() {
                    assert!(
                        arg.is_hide_env_values_set(),
                        "{} --{}: `--help` would print its value",
                        c.get_name(),
                        arg.get_id()
                    );
                }
            }
        }
    }
}
