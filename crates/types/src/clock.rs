//! The wall clock. Everything that stamps or compares wall-clock times (message expiry,
//! session disconnect times, creation dates) reads it through a [`Clock`], so tests can run
//! on Tokio's paused clock and still see wall time move with it.

use std::time::{SystemTime, UNIX_EPOCH};

/// A source of wall-clock time in milliseconds since the Unix epoch. Cheap to copy.
#[derive(Debug, Clone, Copy, Default)]
pub enum Clock {
    /// The operating system's clock.
    #[default]
    System,
    /// `base_ms` at `start`, advancing with Tokio's clock (which tests may pause and advance).
    FollowTokio {
        base_ms: i64,
        start: tokio::time::Instant,
    },
}

impl Clock {
    pub fn system() -> Clock {
        Clock::System
    }

    /// A clock that reads `base_ms` now and then advances exactly as `tokio::time` does.
    /// Call inside a Tokio runtime.
    pub fn following_tokio(base_ms: i64) -> Clock {
        Clock::FollowTokio {
            base_ms,
            start: tokio::time::Instant::now(),
        }
    }

    /// Now as a `SystemTime`, for APIs that take one (SigV4 verification, policy time
    /// conditions).
    pub fn now_system_time(&self) -> SystemTime {
        UNIX_EPOCH + std::time::Duration::from_millis(u64::try_from(self.now_ms()).unwrap_or(0))
    }

    pub fn now_ms(&self) -> i64 {
        match self {
            Clock::System => system_now_ms(),
            Clock::FollowTokio { base_ms, start } => {
                base_ms + i64::try_from(start.elapsed().as_millis()).unwrap_or(i64::MAX)
            }
        }
    }
}

/// The operating system's wall clock, in ms since the epoch (0 before 1970).
#[allow(clippy::disallowed_methods)]
pub fn system_now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test(start_paused = true)]
    async fn a_tokio_following_clock_moves_with_the_paused_clock() {
        let clock = Clock::following_tokio(1_000_000);
        assert_eq!(clock.now_ms(), 1_000_000);
        tokio::time::advance(Duration::from_secs(90)).await;
        assert_eq!(clock.now_ms(), 1_090_000);
    }

    #[test]
    fn the_system_clock_is_after_2020() {
        assert!(Clock::system().now_ms() > 1_577_836_800_000);
    }
}
