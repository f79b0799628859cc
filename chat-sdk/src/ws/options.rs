//! How a connection connects and reconnects: [`ConnectOptions`] and the backoff between
//! attempts.

use chatcore::model::UserId;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// How [`Client::connect_with`](crate::Client::connect_with) connects and reconnects.
#[derive(Debug, Clone)]
pub struct ConnectOptions {
    pub(super) after_seq: Option<i64>,
    pub(super) user: Option<UserId>,
    pub(super) admin: Option<bool>,
    pub(super) max_failures: Option<u32>,
    pub(super) initial_backoff: Duration,
    pub(super) max_backoff: Duration,
    pub(super) ping_interval: Duration,
}

impl Default for ConnectOptions {
    fn default() -> Self {
        Self {
            after_seq: None,
            user: None,
            admin: None,
            max_failures: Some(10),
            initial_backoff: Duration::from_millis(250),
            max_backoff: Duration::from_secs(30),
            ping_interval: Duration::from_secs(30),
        }
    }
}

impl ConnectOptions {
    /// Start after this `seq`: the server first replays the stored messages above it
    /// (`0` replays the whole history). Without it, the connection starts at the chat's
    /// current `last_seq` and delivers only what comes next.
    pub fn after_seq(mut self, seq: i64) -> Self {
        self.after_seq = Some(seq);
        self
    }

    /// The signed-in user's id, if already known; otherwise `connect` asks
    /// `GET /api/accounts/me/`. The connection needs it to notice its own removal.
    pub fn user(mut self, user: UserId) -> Self {
        self.user = Some(user);
        self
    }

    /// Whether the signed-in user is an active admin, if already known; otherwise
    /// `connect` asks `GET /api/accounts/me/` (`is_superuser`). An admin may read every
    /// chat, so their removal as a member does not end the stream (a deactivation does):
    /// the rule of [`Event::ends_stream_of`](chatcore::model::Event::ends_stream_of).
    pub fn admin(mut self, is_active_admin: bool) -> Self {
        self.admin = Some(is_active_admin);
        self
    }

    /// Give up after this many failed connection attempts in a row (`None`: never).
    /// Default 10, which with the default backoff is about two minutes of outage.
    pub fn max_failures(mut self, failures: Option<u32>) -> Self {
        self.max_failures = failures;
        self
    }

    /// The first wait after a failed attempt (default 250 ms); it doubles per failure.
    pub fn initial_backoff(mut self, wait: Duration) -> Self {
        self.initial_backoff = wait;
        self
    }

    /// The longest wait between attempts (default 30 s).
    pub fn max_backoff(mut self, wait: Duration) -> Self {
        self.max_backoff = wait;
        self
    }

    /// After this long without a frame the SDK pings; after twice this long without any
    /// answer it treats the connection as dead and reconnects (default 30 s).
    pub fn ping_interval(mut self, interval: Duration) -> Self {
        self.ping_interval = interval;
        self
    }

    /// The wait before the next attempt after `failures` failures in a row: none after a
    /// healthy connection, then `initial_backoff` doubling up to `max_backoff`, plus up to
    /// a quarter of it at random so that clients of a restarted server spread out.
    pub(super) fn backoff(&self, failures: u32) -> Duration {
        if failures == 0 {
            return Duration::ZERO;
        }
        let doubling = 1u32 << (failures - 1).min(16);
        let base = self
            .initial_backoff
            .saturating_mul(doubling)
            .min(self.max_backoff);
        let noise = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0)
            % 256;
        base + base.mul_f64(f64::from(noise) / 1024.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_is_immediate_after_a_healthy_connection_then_doubles_up_to_the_cap() {
        let o = ConnectOptions::default()
            .initial_backoff(Duration::from_millis(100))
            .max_backoff(Duration::from_secs(1));
        assert_eq!(o.backoff(0), Duration::ZERO);
        for (failures, base_ms) in [
            (1, 100),
            (2, 200),
            (3, 400),
            (4, 800),
            (5, 1000),
            (40, 1000),
        ] {
            let wait = o.backoff(failures);
            let base = Duration::from_millis(base_ms);
            assert!(
                wait >= base && wait <= base + base / 4,
                "{failures}: {wait:?}"
            );
        }
    }
}
