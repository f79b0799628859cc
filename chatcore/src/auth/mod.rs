//! Authentication building blocks: the [`Actor`], credentials, password hashing on a bounded
//! blocking pool, random secrets stored as SHA-256, and the login rate limiter.

mod actor;
mod limiter;
mod password;
mod secrets;

pub use actor::{Actor, ClientInfo, Credential};
pub use limiter::LoginLimiter;
pub use password::PasswordHasher;
pub use secrets::{constant_time_eq, new_token, random_hex, sha256_hex};
