//! The login limiter: failed logins (and failed Basic auth) counted per username and per
//! client IP in fixed windows, in memory. A key over its budget is refused before any
//! password work is done.

use crate::config::LoginRateLimit;
use crate::error::Error;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    User(String),
    Ip(IpAddr),
}

/// Counts failures; a `std` mutex suffices because it is never held across `.await`.
#[derive(Debug)]
pub struct LoginLimiter {
    limit: LoginRateLimit,
    failures: Mutex<HashMap<Key, (Instant, u32)>>,
}

impl LoginLimiter {
    /// A limiter with this budget.
    pub fn new(limit: LoginRateLimit) -> Self {
        Self {
            limit,
            failures: Mutex::new(HashMap::new()),
        }
    }

    fn keys(username_key: &str, ip: Option<IpAddr>) -> impl Iterator<Item = Key> {
        std::iter::once(Key::User(username_key.to_owned())).chain(ip.map(Key::Ip))
    }

    /// `RateLimited` when the username or the IP has used up its failures in this window.
    pub fn check(&self, username_key: &str, ip: Option<IpAddr>) -> Result<(), Error> {
        let now = Instant::now();
        let map = self
            .failures
            .lock()
            .expect("limiter mutex is never poisoned");
        for key in Self::keys(username_key, ip) {
            if let Some(&(start, count)) = map.get(&key) {
                let elapsed = now.duration_since(start);
                if elapsed < self.limit.window && count >= self.limit.max_failures {
                    return Err(Error::RateLimited {
                        retry_after: (self.limit.window - elapsed).max(Duration::from_secs(1)),
                    });
                }
            }
        }
        Ok(())
    }

    /// Records a failed attempt.
    pub fn failed(&self, username_key: &str, ip: Option<IpAddr>) {
        let now = Instant::now();
        let mut map = self
            .failures
            .lock()
            .expect("limiter mutex is never poisoned");
        if map.len() > 100_000 {
            let window = self.limit.window;
            map.retain(|_, (start, _)| now.duration_since(*start) < window);
        }
        for key in Self::keys(username_key, ip) {
            let entry = map.entry(key).or_insert((now, 0));
            if now.duration_since(entry.0) >= self.limit.window {
                *entry = (now, 0);
            }
            entry.1 += 1;
        }
    }

    /// Forgets the username's failures after a successful login.
    pub fn succeeded(&self, username_key: &str) {
        let mut map = self
            .failures
            .lock()
            .expect("limiter mutex is never poisoned");
        map.remove(&Key::User(username_key.to_owned()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_username_is_refused_after_its_failures() {
        let limiter = LoginLimiter::new(LoginRateLimit {
            max_failures: 2,
            window: Duration::from_secs(60),
        });
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        assert!(limiter.check("bob", Some(ip)).is_ok());
        limiter.failed("bob", Some(ip));
        limiter.failed("bob", Some(ip));
        assert!(matches!(
            limiter.check("bob", None),
            Err(Error::RateLimited { .. })
        ));
        assert!(matches!(
            limiter.check("alice", Some(ip)),
            Err(Error::RateLimited { .. })
        ));
        assert!(limiter.check("alice", None).is_ok());
    }
}
