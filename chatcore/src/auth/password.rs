//! argon2id hashing on the blocking pool, behind a semaphore so a flood of logins cannot
//! take every core from message delivery; a wait over the configured limit is `Unavailable`.

use crate::config::PasswordHashing;
use crate::error::Error;
use argon2::{Algorithm, Argon2, Params, PasswordHasher as _, PasswordVerifier as _, Version};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Semaphore;

/// Hashes and verifies passwords.
#[derive(Clone)]
pub struct PasswordHasher {
    argon: Argon2<'static>,
    permits: Arc<Semaphore>,
    wait: Duration,
    /// A hash of a random password made at start with the configured parameters: unknown
    /// users are verified against it, so timing does not reveal who exists.
    dummy_hash: Arc<str>,
}

impl PasswordHasher {
    /// A hasher with the given cost, at most `concurrency` hashes at once (`None` = half the
    /// cores, at least one), and at most `wait` queueing for a slot.
    pub fn new(
        cost: PasswordHashing,
        concurrency: Option<usize>,
        wait: Duration,
    ) -> Result<Self, Error> {
        let params = Params::new(cost.memory_kib, cost.iterations, cost.parallelism, None)
            .map_err(|e| Error::internal("argon2 parameters", e))?;
        let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
        let concurrency = concurrency.unwrap_or_else(|| {
            std::thread::available_parallelism().map_or(1, |n| (n.get() / 2).max(1))
        });
        let dummy_hash = hash_with(&argon, &super::random_hex(16))?.into();
        Ok(Self {
            argon,
            permits: Arc::new(Semaphore::new(concurrency.max(1))),
            wait,
            dummy_hash,
        })
    }

    /// Hashes a new password.
    pub async fn hash(&self, password: &str) -> Result<String, Error> {
        let argon = self.argon.clone();
        let password = password.to_owned();
        self.run(move || hash_with(&argon, &password)).await?
    }

    /// Checks `password` against `stored` (a PHC string), or against the dummy hash when the
    /// user is unknown (`None`, answering `false` after the same work).
    pub async fn verify(&self, password: &str, stored: Option<&str>) -> Result<bool, Error> {
        let argon = self.argon.clone();
        let password = password.to_owned();
        let known = stored.is_some();
        let hash: Arc<str> = stored.map_or_else(|| self.dummy_hash.clone(), Arc::from);
        let ok = self
            .run(move || argon.verify_password(password.as_bytes(), &*hash).is_ok())
            .await?;
        Ok(known && ok)
    }

    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, Error> {
        let busy = Error::Unavailable {
            retry_after: Duration::from_secs(1),
        };
        let permit = tokio::time::timeout(self.wait, self.permits.clone().acquire_owned())
            .await
            .map_err(|_| busy.clone())?
            .map_err(|_| busy)?;
        tokio::task::spawn_blocking(move || {
            let out = work();
            drop(permit);
            out
        })
        .await
        .map_err(|e| Error::internal("password hashing task", e))
    }
}

fn hash_with(argon: &Argon2<'static>, password: &str) -> Result<String, Error> {
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).expect("the OS random number generator is available");
    argon
        .hash_password_with_salt(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| Error::internal("argon2 hash", e))
}
