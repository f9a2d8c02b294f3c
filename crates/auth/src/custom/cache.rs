//! Answers of authorizer functions, kept for the `refreshAfterInSeconds` each answer gives, so
//! devices reconnecting with the same credentials do not call the function every time (AWS
//! caches custom-authorizer results the same way).
//!
//! Keys are digests of the credentials (never the credentials themselves) together with the
//! authorizer's name and record version, so changing an authorizer orphans what was cached for
//! its old configuration. The cache is bounded: when full, expired entries go first, then the
//! one closest to expiry.

use std::collections::HashMap;
use std::time::Instant;

use parking_lot::Mutex;

use super::CustomAuthOutcome;

/// Entries kept at most.
pub const DEFAULT_CAPACITY: usize = 10_000;

/// A SHA-256 digest of what identifies one answer (see [`key`]).
pub type Key = [u8; 32];

/// Answers by key, each with its expiry.
pub struct Cache {
    capacity: usize,
    entries: Mutex<HashMap<Key, (Instant, CustomAuthOutcome)>>,
}

impl Cache {
    /// An empty cache holding at most `capacity` answers (0 caches nothing).
    pub fn new(capacity: usize) -> Cache {
        Cache {
            capacity,
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// The answer stored under `key`, if it has not expired at `now`.
    pub fn get(&self, key: &Key, now: Instant) -> Option<CustomAuthOutcome> {
        let mut entries = self.entries.lock();
        match entries.get(key) {
            Some((expires, outcome)) if *expires > now => Some(outcome.clone()),
            Some(_) => {
                entries.remove(key);
                None
            }
            None => None,
        }
    }

    /// Keeps `outcome` under `key` until `expires`.
    pub fn insert(&self, key: Key, outcome: CustomAuthOutcome, expires: Instant, now: Instant) {
        if self.capacity == 0 {
            return;
        }
        let mut entries = self.entries.lock();
        if entries.len() >= self.capacity && !entries.contains_key(&key) {
            entries.retain(|_, (e, _)| *e > now);
            if entries.len() >= self.capacity
                && let Some(soonest) = entries.iter().min_by_key(|(_, (e, _))| *e).map(|(k, _)| *k)
            {
                entries.remove(&soonest);
            }
        }
        entries.insert(key, (expires, outcome));
    }

    /// Answers held, expired ones included until they are dropped.
    pub fn len(&self) -> usize {
        self.entries.lock().len()
    }

    /// True when no answer is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The digest of an authorizer's identity and a client's credentials: each part is length-
/// prefixed so that no two different inputs can run together into the same bytes.
pub fn key(parts: &[Option<&[u8]>]) -> Key {
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    for part in parts {
        match part {
            None => ctx.update(&[0]),
            Some(bytes) => {
                ctx.update(&[1]);
                ctx.update(&(bytes.len() as u64).to_be_bytes());
                ctx.update(bytes);
            }
        }
    }
    let mut out = [0; 32];
    out.copy_from_slice(ctx.finish().as_ref());
    out
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn outcome(principal: &str) -> CustomAuthOutcome {
        CustomAuthOutcome {
            authorizer_name: "a".into(),
            principal_id: principal.into(),
            policies: Vec::new(),
            disconnect_after: Duration::from_secs(300),
            refresh_after: Duration::from_secs(300),
        }
    }

    #[test]
    fn entries_expire() {
        let cache = Cache::new(10);
        let t0 = Instant::now();
        let k = key(&[Some(b"a"), None]);
        cache.insert(k, outcome("p"), t0 + Duration::from_secs(300), t0);
        assert_eq!(
            cache
                .get(&k, t0 + Duration::from_secs(299))
                .unwrap()
                .principal_id,
            "p"
        );
        assert!(cache.get(&k, t0 + Duration::from_secs(300)).is_none());
        assert!(cache.is_empty());
    }

    #[test]
    fn a_full_cache_drops_expired_then_soonest_entries() {
        let cache = Cache::new(2);
        let t0 = Instant::now();
        let s = Duration::from_secs;
        let (a, b, c, d) = (
            key(&[Some(b"a")]),
            key(&[Some(b"b")]),
            key(&[Some(b"c")]),
            key(&[Some(b"d")]),
        );
        cache.insert(a, outcome("a"), t0 + s(10), t0);
        cache.insert(b, outcome("b"), t0 + s(500), t0);
        // a has expired by now: it makes room.
        cache.insert(c, outcome("c"), t0 + s(400), t0 + s(20));
        assert_eq!(cache.len(), 2);
        assert!(cache.get(&b, t0 + s(20)).is_some());
        // Nothing expired: the soonest to expire (c) makes room.
        cache.insert(d, outcome("d"), t0 + s(600), t0 + s(30));
        assert_eq!(cache.len(), 2);
        assert!(cache.get(&c, t0 + s(30)).is_none());
        assert!(cache.get(&b, t0 + s(30)).is_some());
        assert!(cache.get(&d, t0 + s(30)).is_some());
    }

    #[test]
    fn keys_do_not_run_together() {
        assert_ne!(
            key(&[Some(b"ab"), Some(b"c")]),
            key(&[Some(b"a"), Some(b"bc")])
        );
        assert_ne!(key(&[None, Some(b"")]), key(&[Some(b""), None]));
    }
}
