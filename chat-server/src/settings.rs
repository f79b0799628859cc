//! The HTTP front end's settings (the core has its own, `chatcore::Config`): limits,
//! timeouts, trusted proxies and origins. Production defaults; the CLI fills them from flags
//! and `CHAT_*` variables, tests build them in code.

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
    /// Longest a request may take, body included (408 after).
    pub request_timeout: Duration,
    /// Longest a client may take to send the request head (slow-loris protection).
    pub header_read_timeout: Duration,
    /// How long shutdown waits for open connections to finish.
    pub shutdown_grace: Duration,
    /// Peers whose `X-Forwarded-For` names the real client.
    pub trusted_proxies: Vec<TrustedProxy>,
    /// Origins (`https://chat.example.com`) allowed to make cookie-authenticated requests
    /// besides the server's own (`Host`).
    pub allowed_origins: Vec<String>,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            body_limit: DEFAULT_BODY_LIMIT,
            max_header_bytes: DEFAULT_MAX_HEADER_BYTES,
            request_timeout: Duration::from_secs(30),
            header_read_timeout: Duration::from_secs(10),
            shutdown_grace: Duration::from_secs(10),
            trusted_proxies: Vec::new(),
            allowed_origins: Vec::new(),
        }
    }
}
