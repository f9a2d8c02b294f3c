//! AWS's per-thing request quota (20 shadow requests per second per thing by default, across
//! the thing's classic and named shadows and both APIs): a token bucket per thing, holding one
//! second's worth of requests. Off (`0`) unless configured: it is an adjustable account quota
//! on AWS, and local test suites often hammer one shadow.

use parking_lot::Mutex;
use std::collections::HashMap;
use std::time::Instant;

/// Things tracked before idle (full) buckets are dropped.
const PRUNE_AT: usize = 100_000;

pub(crate) struct ThingRate {
    per_sec: f64,
    buckets: Mutex<HashMap<String, Bucket>>,
}

struct Bucket {
    tokens: f64,
    at: Instant,
}

impl ThingRate {
    /// `per_sec == 0`: unlimited.
    pub(crate) fn new(per_sec: u32) -> Self {
        ThingRate {
            per_sec: f64::from(per_sec),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one request of `thing` from its bucket; `false` when the bucket is empty.
    pub(crate) fn try_take(&self, thing: &str) -> bool {
        if self.per_sec == 0.0 {
            return true;
        }
        let now = Instant::now();
        let mut buckets = self.buckets.lock();
        if buckets.len() >= PRUNE_AT && !buckets.contains_key(thing) {
            let full_after = 1.0;
            buckets.retain(|_, b| now.duration_since(b.at).as_secs_f64() < full_after);
        }
        let bucket = buckets.entry(thing.to_owned()).or_insert(Bucket {
            tokens: self.per_sec,
            at: now,
        });
        let refill = now.duration_since(bucket.at).as_secs_f64() * self.per_sec;
        bucket.tokens = (bucket.tokens + refill).min(self.per_sec);
        bucket.at = now;
        if bucket.tokens < 1.0 {
            return false;
        }
        bucket.tokens -= 1.0;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_beyond_one_second_of_quota_is_refused_per_thing() {
        let rate = ThingRate::new(3);
        assert!((0..3).all(|_| rate.try_take("a")));
        assert!(!rate.try_take("a"), "the fourth request within the second");
        assert!(rate.try_take("b"), "things are counted apart");
        let unlimited = ThingRate::new(0);
        assert!((0..10_000).all(|_| unlimited.try_take("a")));
    }
}
