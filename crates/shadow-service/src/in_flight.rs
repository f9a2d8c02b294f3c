//! AWS's limit of requests one connection may have waiting for an answer (10): the service
//! counts each MQTT client's unanswered shadow requests and rejects the ones beyond the limit
//! with 429 before they are queued, so one chatty device cannot fill the queues others share.

use std::collections::HashMap;
use std::sync::Arc;

use parking_lot::Mutex;

pub(crate) struct InFlight {
    limit: usize,
    counts: Mutex<HashMap<Arc<str>, usize>>,
}

impl InFlight {
    pub(crate) fn new(limit: usize) -> Self {
        InFlight {
            limit,
            counts: Mutex::new(HashMap::new()),
        }
    }

    /// Counts one more request of `client`; `false` (and nothing counted) when it already has
    /// `limit` unanswered ones.
    pub(crate) fn try_acquire(&self, client: &Arc<str>) -> bool {
        let mut counts = self.counts.lock();
        let count = counts.entry(client.clone()).or_insert(0);
        if *count >= self.limit {
            return false;
        }
        *count += 1;
        true
    }

    /// One request of `client` was answered.
    pub(crate) fn release(&self, client: &Arc<str>) {
        let mut counts = self.counts.lock();
        if let Some(count) = counts.get_mut(client) {
            *count -= 1;
            if *count == 0 {
                counts.remove(client);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_request_past_the_limit_is_refused_until_one_is_answered() {
        let limit = InFlight::new(2);
        let a: Arc<str> = Arc::from("a");
        let b: Arc<str> = Arc::from("b");
        assert!(limit.try_acquire(&a));
        assert!(limit.try_acquire(&a));
        assert!(!limit.try_acquire(&a), "a third unanswered request");
        assert!(limit.try_acquire(&b), "clients are counted apart");
        limit.release(&a);
        assert!(limit.try_acquire(&a));
        limit.release(&a);
        limit.release(&a);
        limit.release(&b);
        assert!(
            limit.counts.lock().is_empty(),
            "answered clients are forgotten"
        );
    }
}
