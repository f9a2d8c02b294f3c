//! Per-connection publish limits (`mqtt.max_publishes_per_sec`, `mqtt.max_bytes_per_sec`):
//! a token bucket per limit holding one second's worth, refilled continuously.

use std::time::Duration;

use ferrite_config::MqttConfig;
use tokio::time::Instant;

/// What to do with one inbound publish.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    Pass,
    /// Over a limit: the publish is not routed.
    Refuse,
    /// Still over a limit after the grace: the connection is closed.
    Disconnect,
}

struct Bucket {
    /// Tokens per second, and the most the bucket holds.
    rate: f64,
    tokens: f64,
}

impl Bucket {
    fn new(rate: f64) -> Bucket {
        Bucket { rate, tokens: rate }
    }

    fn refill(&mut self, elapsed: Duration) {
        self.tokens = (self.tokens + elapsed.as_secs_f64() * self.rate).min(self.rate);
    }

    fn full(&self) -> bool {
        self.tokens >= self.rate
    }

    /// Whether `n` tokens may be taken. A cost above the capacity passes when the bucket is
    /// full (so one message larger than a second's bytes is not refused for ever) and leaves
    /// it in debt.
    fn admits(&self, n: f64) -> bool {
        self.tokens >= n.min(self.rate)
    }
}

pub(crate) struct Throttle {
    publishes: Option<Bucket>,
    bytes: Option<Bucket>,
    grace: Duration,
    last: Instant,
    /// When the connection first went over a limit, if it has not since let its buckets
    /// fill up again (a second under its limits).
    over_since: Option<Instant>,
}

impl Throttle {
    /// The connection's throttle, or `None` when no limit is set (the default: a single
    /// branch per publish then).
    pub fn new(cfg: &MqttConfig) -> Option<Box<Throttle>> {
        let publishes = (cfg.max_publishes_per_sec > 0)
            .then(|| Bucket::new(f64::from(cfg.max_publishes_per_sec)));
        let bytes = (cfg.max_bytes_per_sec > 0).then(|| Bucket::new(cfg.max_bytes_per_sec as f64));
        if publishes.is_none() && bytes.is_none() {
            return None;
        }
        Some(Box::new(Throttle {
            publishes,
            bytes,
            grace: Duration::from_secs(u64::from(cfg.throttle_grace_secs)),
            last: Instant::now(),
            over_since: None,
        }))
    }

    /// Accounts for one publish of `bytes` (topic and payload) arriving now.
    pub fn check(&mut self, bytes: usize) -> Verdict {
        let now = Instant::now();
        let elapsed = now.saturating_duration_since(self.last);
        self.last = now;
        let buckets = [&mut self.publishes, &mut self.bytes];
        let mut full = true;
        for bucket in buckets.into_iter().flatten() {
            bucket.refill(elapsed);
            full &= bucket.full();
        }
        if full {
            self.over_since = None;
        }
        let admitted = self.publishes.as_ref().is_none_or(|b| b.admits(1.0))
            && self.bytes.as_ref().is_none_or(|b| b.admits(bytes as f64));
        if admitted {
            if let Some(b) = &mut self.publishes {
                b.tokens -= 1.0;
            }
            if let Some(b) = &mut self.bytes {
                b.tokens -= bytes as f64;
            }
            return Verdict::Pass;
        }
        let since = *self.over_since.get_or_insert(now);
        if now.saturating_duration_since(since) >= self.grace {
            Verdict::Disconnect
        } else {
            Verdict::Refuse
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn throttle(publishes: u32, bytes: u64, grace: u32) -> Box<Throttle> {
        let cfg = MqttConfig {
            max_publishes_per_sec: publishes,
            max_bytes_per_sec: bytes,
            throttle_grace_secs: grace,
            ..MqttConfig::default()
        };
        Throttle::new(&cfg).expect("limits set")
    }

    #[test]
    fn no_limits_no_throttle() {
        assert!(Throttle::new(&MqttConfig::default()).is_none());
    }

    #[tokio::test(start_paused = true)]
    async fn a_second_of_publishes_passes_then_the_rate_refills() {
        let mut t = throttle(10, 0, 10);
        for _ in 0..10 {
            assert_eq!(t.check(1), Verdict::Pass);
        }
        assert_eq!(t.check(1), Verdict::Refuse);
        tokio::time::advance(Duration::from_millis(100)).await;
        assert_eq!(t.check(1), Verdict::Pass);
        assert_eq!(t.check(1), Verdict::Refuse);
    }

    #[tokio::test(start_paused = true)]
    async fn bytes_are_limited_and_one_large_message_passes_a_full_bucket() {
        let mut t = throttle(0, 1000, 10);
        assert_eq!(t.check(600), Verdict::Pass);
        assert_eq!(t.check(600), Verdict::Refuse);
        tokio::time::advance(Duration::from_secs(1)).await;
        // Larger than a second's bytes: passes a full bucket, and leaves it in debt.
        assert_eq!(t.check(5000), Verdict::Pass);
        tokio::time::advance(Duration::from_secs(1)).await;
        assert_eq!(t.check(1), Verdict::Refuse);
    }

    #[tokio::test(start_paused = true)]
    async fn staying_over_past_the_grace_disconnects_and_a_calm_second_forgives() {
        let mut t = throttle(10, 0, 3);
        // Twice the rate, for the grace and a bit: refused, then disconnected.
        let mut verdicts = Vec::new();
        for _ in 0..100 {
            verdicts.push(t.check(1));
            tokio::time::advance(Duration::from_millis(50)).await;
        }
        let first_refusal = verdicts.iter().position(|v| *v == Verdict::Refuse);
        let first_disconnect = verdicts.iter().position(|v| *v == Verdict::Disconnect);
        let (Some(r), Some(d)) = (first_refusal, first_disconnect) else {
            panic!("{verdicts:?}");
        };
        assert!(r < d, "{verdicts:?}");
        // 3 s of 50 ms steps after the first refusal, give or take the refills' admissions.
        assert!((60..=62).contains(&(d - r)), "{r} {d}");

        // A connection that went over and then calmed down for a second starts afresh.
        let mut t = throttle(10, 0, 3);
        while t.check(1) == Verdict::Pass {}
        tokio::time::advance(Duration::from_secs(1)).await;
        assert_eq!(t.check(1), Verdict::Pass);
        tokio::time::advance(Duration::from_secs(5)).await;
        while t.check(1) == Verdict::Pass {}
        assert_eq!(t.check(1), Verdict::Refuse);
    }
}
