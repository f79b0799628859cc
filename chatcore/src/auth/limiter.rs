//! The login limiter: password attempts (logins, sessions, Basic auth) counted per username
//! and per client IP in fixed windows, in memory. An attempt is counted *before* the slow
//! password check and given back when it succeeds, so parallel guesses cannot overrun the
//! budget. Memory is bounded: a username is held as 16 bytes of its SHA-256, counters expire
//! with their window, and past a size cap the oldest counter makes room.

use crate::config::LoginRateLimit;
use crate::error::Error;
use crate::metrics::LOGIN_LIMITER_REFUSALS;
use sha2::{Digest, Sha256};
use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Bytes of a username's SHA-256 kept as its key.
const USER_KEY_BYTES: usize = 16;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Key {
    User([u8; USER_KEY_BYTES]),
    Ip(IpAddr),
}

impl Key {
    /// A fixed-size key, whatever the length of the name.
    fn user(username_key: &str) -> Self {
        let digest = Sha256::digest(username_key.as_bytes());
        let mut bytes = [0u8; USER_KEY_BYTES];
        bytes.copy_from_slice(&digest[..USER_KEY_BYTES]);
        Key::User(bytes)
    }

    fn all(username_key: Option<&str>, ip: Option<IpAddr>) -> impl Iterator<Item = Key> {
        username_key
            .map(Key::user)
            .into_iter()
            .chain(ip.map(Key::Ip))
    }
}

/// Attempts of one key in the window that began at `start`.
#[derive(Debug, Clone, Copy)]
struct Counter {
    start: Instant,
    count: u32,
}

/// The counters, and their keys in the order their windows began (oldest first), so that
/// expiry and eviction take from the front. Every counter has exactly one entry in `order`
/// (with its `start`): counters are removed only through `order`, and a key gets a new
/// counter only after its old one expired and was removed.
#[derive(Debug, Default)]
struct Counters {
    by_key: HashMap<Key, Counter>,
    order: VecDeque<(Instant, Key)>,
}

impl Counters {
    /// Drops the counters whose window has passed.
    fn expire(&mut self, now: Instant, window: Duration) {
        while let Some(&(start, key)) = self.order.front() {
            if now.duration_since(start) < window {
                break;
            }
            self.order.pop_front();
            if self.by_key.get(&key).is_some_and(|c| c.start == start) {
                self.by_key.remove(&key);
            }
        }
    }

    /// The counter of `key`, made (evicting the oldest when `capacity` is reached) if absent.
    fn counter(&mut self, key: Key, now: Instant, capacity: usize) -> &mut Counter {
        if !self.by_key.contains_key(&key) {
            while self.by_key.len() >= capacity {
                match self.order.pop_front() {
                    Some((_, oldest)) => {
                        self.by_key.remove(&oldest);
                    }
                    None => break,
                }
            }
            self.order.push_back((now, key));
        }
        self.by_key.entry(key).or_insert(Counter {
            start: now,
            count: 0,
        })
    }

    /// Takes one attempt off `key`'s count.
    fn give_back(&mut self, key: Key) {
        if let Some(counter) = self.by_key.get_mut(&key) {
            counter.count = counter.count.saturating_sub(1);
        }
    }
}

/// Counts password attempts. A `std` mutex suffices because it is never held across
/// `.await`, and each call holds it for a few map operations.
#[derive(Debug)]
pub struct LoginLimiter {
    limit: LoginRateLimit,
    capacity: usize,
    counters: Mutex<Counters>,
}

impl LoginLimiter {
    /// Counters held at most by [`LoginLimiter::new`] (a few MiB): past it the oldest go first.
    pub const DEFAULT_CAPACITY: usize = 100_000;

    /// A limiter with this budget and [`Self::DEFAULT_CAPACITY`].
    pub fn new(limit: LoginRateLimit) -> Self {
        Self::with_capacity(limit, Self::DEFAULT_CAPACITY)
    }

    /// A limiter holding at most `capacity` counters (at least 2: one username, one IP).
    pub fn with_capacity(limit: LoginRateLimit, capacity: usize) -> Self {
        Self {
            limit,
            capacity: capacity.max(2),
            counters: Mutex::new(Counters::default()),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Counters> {
        // A panic while holding the lock would be a bug in the few map operations above;
        // the counters stay consistent enough to go on with, so recover them.
        self.counters
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Counts one attempt against the username (`None`: a name no account can have) and
    /// the client IP, before any password work. `RateLimited`, counting nothing, when either
    /// has used up its budget in this window. Follow a counted attempt with
    /// [`Self::succeeded`] or [`Self::refund`] unless it failed.
    pub fn reserve(&self, username_key: Option<&str>, ip: Option<IpAddr>) -> Result<(), Error> {
        let now = Instant::now();
        let window = self.limit.window;
        let mut counters = self.lock();
        counters.expire(now, window);
        for key in Key::all(username_key, ip) {
            if let Some(counter) = counters.by_key.get(&key)
                && counter.count >= self.limit.max_failures
            {
                let left = window.saturating_sub(now.duration_since(counter.start));
                metrics::counter!(LOGIN_LIMITER_REFUSALS).increment(1);
                return Err(Error::RateLimited {
                    retry_after: left.max(Duration::from_secs(1)),
                });
            }
        }
        for key in Key::all(username_key, ip) {
            counters.counter(key, now, self.capacity).count += 1;
        }
        Ok(())
    }

    /// After a successful attempt: forgets the username's failures and gives the IP its
    /// attempt back.
    pub fn succeeded(&self, username_key: &str, ip: Option<IpAddr>) {
        let mut counters = self.lock();
        if let Some(counter) = counters.by_key.get_mut(&Key::user(username_key)) {
            counter.count = 0;
        }
        if let Some(ip) = ip {
            counters.give_back(Key::Ip(ip));
        }
    }

    /// Gives back an attempt that checked no password (the store or the hashing pool was
    /// unavailable).
    pub fn refund(&self, username_key: Option<&str>, ip: Option<IpAddr>) {
        let mut counters = self.lock();
        for key in Key::all(username_key, ip) {
            counters.give_back(key);
        }
    }

    /// Counters held now (expired ones go at the next attempt): for tests and metrics.
    pub fn len(&self) -> usize {
        self.lock().by_key.len()
    }

    /// Whether no counter is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limit(max_failures: u32, window: Duration) -> LoginRateLimit {
        LoginRateLimit {
            max_failures,
            window,
        }
    }

    fn limited(r: Result<(), Error>) -> bool {
        matches!(r, Err(Error::RateLimited { .. }))
    }

    #[test]
    fn a_username_and_an_ip_are_refused_after_their_budget() {
        let limiter = LoginLimiter::new(limit(2, Duration::from_secs(60)));
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        assert!(limiter.reserve(Some("bob"), Some(ip)).is_ok());
        assert!(limiter.reserve(Some("bob"), Some(ip)).is_ok());
        assert!(limited(limiter.reserve(Some("bob"), None)));
        assert!(limited(limiter.reserve(Some("alice"), Some(ip))));
        assert!(limiter.reserve(Some("alice"), None).is_ok());
        // A refused attempt counted nothing: alice has used one of two.
        assert!(limiter.reserve(Some("alice"), None).is_ok());
        assert!(limited(limiter.reserve(Some("alice"), None)));
    }

    #[test]
    fn success_forgets_the_username_and_gives_the_ip_its_attempt_back() {
        let limiter = LoginLimiter::new(limit(2, Duration::from_secs(60)));
        let ip: IpAddr = "10.0.0.2".parse().unwrap();
        limiter.reserve(Some("bob"), Some(ip)).unwrap();
        limiter.reserve(Some("bob"), Some(ip)).unwrap();
        limiter.succeeded("bob", Some(ip));
        limiter.reserve(Some("bob"), Some(ip)).unwrap();
        assert!(limited(limiter.reserve(Some("carol"), Some(ip))));
        limiter.refund(Some("bob"), Some(ip));
        limiter.reserve(Some("carol"), Some(ip)).unwrap();
    }

    #[test]
    fn keys_are_fixed_size_whatever_the_name() {
        let long = "\u{FDFA}".repeat(10_000);
        assert_eq!(Key::user(&long), Key::user(&long));
        assert_ne!(Key::user(&long), Key::user("bob"));
        assert!(std::mem::size_of::<Key>() <= 24);
    }

    #[test]
    fn the_number_of_counters_is_capped_oldest_first() {
        let limiter = LoginLimiter::with_capacity(limit(5, Duration::from_secs(60)), 64);
        for i in 0..5000 {
            limiter.reserve(Some(&format!("user{i}")), None).unwrap();
            assert!(limiter.len() <= 64);
        }
        assert_eq!(limiter.len(), 64);
        // The newest are kept.
        for _ in 0..4 {
            limiter.reserve(Some("user4999"), None).unwrap();
        }
        assert!(limited(limiter.reserve(Some("user4999"), None)));
        // The oldest went: user0 starts afresh.
        assert!(limiter.reserve(Some("user0"), None).is_ok());
        assert_eq!(limiter.len(), 64);
    }

    #[test]
    fn counters_expire_with_their_window() {
        let window = Duration::from_millis(300);
        let limiter = LoginLimiter::new(limit(1, window));
        for i in 0..100 {
            limiter.reserve(Some(&format!("user{i}")), None).unwrap();
        }
        assert!(limited(limiter.reserve(Some("user0"), None)));
        assert_eq!(limiter.len(), 100);
        std::thread::sleep(window + Duration::from_millis(50));
        limiter.reserve(Some("user0"), None).unwrap();
        assert_eq!(limiter.len(), 1);
    }
}
