//! How long to wait before trying again: the one rule for every retry `runner` makes (a batch,
//! a refresh, a webhook), doubling from a first wait up to a cap.

use std::time::Duration;

/// Waits of `first`, `2·first`, `4·first`, … for attempts 1, 2, 3, …, doubling at most
/// `doublings` times, so a long run of failures settles at a steady pace instead of growing
/// without bound.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// The wait before the second attempt.
    pub first: Duration,
    /// How many times the wait doubles before it stays the same.
    pub doublings: u32,
}

impl Backoff {
    /// Batches: short waits, since a halved batch often goes through at once.
    pub const BATCH: Backoff = Backoff { first: Duration::from_millis(200), doublings: 5 };
    /// Refreshes and notifications: a server or endpoint that needs a moment.
    pub const SERVICE: Backoff = Backoff { first: Duration::from_millis(500), doublings: 4 };

    /// The wait after failed attempt `attempt` (1-based; 0 counts as 1).
    pub fn wait(self, attempt: u32) -> Duration {
        self.first * (1u32 << attempt.saturating_sub(1).min(self.doublings))
    }

    /// Sleeps [`Backoff::wait`], returning early if a stop is requested (SIGINT/SIGTERM), so
    /// that a retry loop never holds up shutdown.
    pub async fn sleep(self, attempt: u32) {
        let until = tokio::time::Instant::now() + self.wait(attempt);
        while tokio::time::Instant::now() < until && crate::interrupt::requested().is_none() {
            let left = until - tokio::time::Instant::now();
            tokio::time::sleep(left.min(Duration::from_millis(50))).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_then_levels_off() {
        let b = Backoff { first: Duration::from_millis(100), doublings: 2 };
        let waits: Vec<u128> = (0..=5).map(|a| b.wait(a).as_millis()).collect();
        assert_eq!(waits, [100, 100, 200, 400, 400, 400]);
    }
}
