//! The `client_id`s the SDK makes for posts and sends that come without one: random, so that
//! two programs of the same user never pick the same id (the server would take the second
//! message for a retry of the first and not store it).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// A fresh `client_id`: `sdk-` and 128 random bits in hex (36 characters, within the
/// server's 64).
pub(crate) fn new_client_id() -> String {
    let mut bytes = [0u8; 16];
    if let Err(e) = getrandom::fill(&mut bytes) {
        // No system randomness (a very unusual sandbox): the time, the process and a
        // counter still make an id no other program of this user will make.
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        tracing::warn!(error = %e, "no system randomness for a client_id; using time and pid");
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let count = COUNTER.fetch_add(1, Ordering::Relaxed);
        let mixed = nanos ^ (u128::from(std::process::id()) << 96) ^ u128::from(count) << 64;
        bytes = mixed.to_be_bytes();
    }
    let mut id = String::with_capacity(36);
    id.push_str("sdk-");
    for byte in bytes {
        id.push_str(&format!("{byte:02x}"));
    }
    id
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_fresh_and_fit_the_servers_rule() {
        let a = new_client_id();
        let b = new_client_id();
        assert_ne!(a, b);
        assert_eq!(a.len(), 36);
        chatcore::validate::client_id(&a).unwrap();
    }
}
