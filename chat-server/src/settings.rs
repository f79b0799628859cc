//! The HTTP front end's settings (the core has its own, `chatcore::Config`): limits,
//! timeouts, trusted proxies and origins, cookies and WebSocket limits. Production defaults;
//! the CLI fills them from flags and `CHAT_*` variables, tests build them in code.

pub use crate::http::client_ip::SecureCookies;
use crate::http::client_ip::TrustedProxy;
use std::time::Duration;

/// Largest request body, in bytes (DESIGN.md: 64 KiB).
pub const DEFAULT_BODY_LIMIT: usize = 64 * 1024;

/// Largest request head (request line and headers), in bytes (DESIGN.md: 16 KiB); a
/// larger one is answered 431.
pub const DEFAULT_MAX_HEADER_BYTES: usize = 16 * 1024;

/// The smallest head limit hyper's HTTP/1 reader accepts; smaller settings are raised to it.
pub const MIN_MAX_HEADER_BYTES: usize = 8 * 1024;

/// How the HTTP server behaves.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Largest request body; larger ones are refused with 413.
    pub body_limit: usize,
    /// Largest request head (request line and headers); larger ones are refused with 431.
    /// At least [`MIN_MAX_HEADER_BYTES`].
    pub max_header_bytes: usize,
    /// Longest a request may take, body included (503 with `Retry-After` after).
    pub request_timeout: Duration,
    /// Longest a client may take to send the request head (slow-loris protection).
    pub header_read_timeout: Duration,
    /// How long a connection may stay open without a byte moving either way (HTTP/1
    /// keep-alive, HTTP/2, WebSockets: keep it above `ws.ping_interval` and
    /// `request_timeout`).
    pub idle_timeout: Duration,
    /// Most connections open at once; more wait in the listen backlog until one closes.
    pub connection_limit: usize,
    /// How long shutdown waits for open requests and sockets before closing them.
    pub shutdown_grace: Duration,
    /// Peers whose `X-Forwarded-For` (client address) and `X-Forwarded-Proto` (https or
    /// not) are believed.
    pub trusted_proxies: Vec<TrustedProxy>,
    /// The public origins (`https://chat.example.com`) besides the server's own (`Host`)
    /// from which cookie-authenticated requests and browser WebSocket upgrades are accepted.
    pub allowed_origins: Vec<String>,
    /// When cookies the server sets carry `Secure`.
    pub secure_cookies: SecureCookies,
    /// WebSocket limits.
    pub ws: WsSettings,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            body_limit: DEFAULT_BODY_LIMIT,
            max_header_bytes: DEFAULT_MAX_HEADER_BYTES,
            request_timeout: Duration::from_secs(30),
            header_read_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(75),
            connection_limit: 4096,
            shutdown_grace: Duration::from_secs(10),
            trusted_proxies: Vec::new(),
            allowed_origins: Vec::new(),
            secure_cookies: SecureCookies::Auto,
            ws: WsSettings::default(),
        }
    }
}

/// Limits of one WebSocket connection.
#[derive(Debug, Clone)]
pub struct WsSettings {
    /// Largest frame and message from a client, in bytes; larger ones close the socket with
    /// 1009.
    pub max_message: usize,
    /// The socket's read buffer, in bytes.
    pub read_buffer: usize,
    /// Events queued for one socket before it counts as too slow and is closed with 4000
    /// (the client resumes with `after_seq`).
    pub outbound_queue: usize,
    /// How often the server pings (and re-checks the socket's credential); a socket that
    /// has not answered for two intervals is closed.
    pub ping_interval: Duration,
    /// Messages one socket may send per second, on average (more: an `error` frame with
    /// `rate_limited`; the socket stays open).
    pub send_per_second: u32,
    /// Messages one socket may send at once before the rate applies.
    pub send_burst: u32,
}

impl Default for WsSettings {
    fn default() -> Self {
        Self {
            max_message: 64 * 1024,
            read_buffer: 4 * 1024,
            outbound_queue: 256,
            ping_interval: Duration::from_secs(30),
            send_per_second: 5,
            send_burst: 20,
        }
    }
}
