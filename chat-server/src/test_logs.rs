//! For unit tests: log output captured in memory (at DEBUG, without colours) for as long as
//! the returned guard lives on this thread.

use std::sync::{Arc, Mutex};
use tracing::subscriber::DefaultGuard;

/// What was logged so far.
#[derive(Clone, Default)]
pub struct Captured(Arc<Mutex<Vec<u8>>>);

impl Captured {
    /// Starts capturing on this thread (use a current-thread runtime in async tests).
    pub fn start() -> (Self, DefaultGuard) {
        let captured = Self::default();
        let writer = captured.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::DEBUG)
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish();
        let guard = tracing::subscriber::set_default(subscriber);
        // A callsite first reached on a thread without a subscriber (another test) caches
        // "never"; recompute so this thread's events are not dropped.
        tracing::callsite::rebuild_interest_cache();
        (captured, guard)
    }

    /// The text logged so far.
    pub fn text(&self) -> String {
        let bytes = self
            .0
            .lock()
            .expect("no test panics while holding the log")
            .clone();
        String::from_utf8_lossy(&bytes).into_owned()
    }
}

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .expect("no test panics while holding the log")
            .extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
