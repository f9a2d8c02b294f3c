//! The derived signing key and its cache.
//!
//! Deriving the key costs four HMACs and it only changes when the date, region, service or
//! secret does, so the verifier, which runs on every API request, keeps derived keys.

use std::collections::HashMap;

use parking_lot::Mutex;
use ring::{digest, hmac};

use super::credentials::SecretKey;
use super::scope::{CredentialScope, TERMINATOR};

/// Derives `kSigning = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service),
/// "aws4_request")`.
pub(crate) fn derive(secret: &SecretKey, date: &str, region: &str, service: &str) -> hmac::Key {
    let mut seed = Vec::with_capacity(4 + secret.expose().len());
    seed.extend_from_slice(b"AWS4");
    seed.extend_from_slice(secret.expose());
    let mut key = hmac::Key::new(hmac::HMAC_SHA256, &seed);
    for part in [date, region, service, TERMINATOR] {
        let tag = hmac::sign(&key, part.as_bytes());
        key = hmac::Key::new(hmac::HMAC_SHA256, tag.as_ref());
    }
    key
}

/// Identifies a derived key without holding the secret itself: a digest of the secret, so a
/// rotated secret misses the cache instead of reusing the old key.
#[derive(Clone, PartialEq, Eq, Hash)]
struct CacheKey {
    secret_digest: [u8; 32],
    /// `date/region/service/aws4_request`.
    scope: Box<str>,
}

/// Beyond this many keys the cache starts over. Live entries are one per active access key and
/// region per day, so the bound is only reached by many keys or by stale days piling up, and
/// re-deriving costs four HMACs.
const MAX_ENTRIES: usize = 4096;

/// Derived signing keys. The lock is a plain mutex held only for a map lookup or insert, never
/// across derivation.
#[derive(Default)]
pub(crate) struct SigningKeyCache {
    keys: Mutex<HashMap<CacheKey, hmac::Key>>,
}

impl SigningKeyCache {
    pub(crate) fn get(&self, secret: &SecretKey, scope: &CredentialScope<'_>) -> hmac::Key {
        let mut secret_digest = [0u8; 32];
        secret_digest.copy_from_slice(digest::digest(&digest::SHA256, secret.expose()).as_ref());
        let cache_key = CacheKey {
            secret_digest,
            scope: scope.scope.into(),
        };
        if let Some(key) = self.keys.lock().get(&cache_key) {
            return key.clone();
        }
        let key = derive(secret, scope.date, scope.region, scope.service);
        let mut keys = self.keys.lock();
        if keys.len() >= MAX_ENTRIES {
            keys.clear();
        }
        keys.insert(cache_key, key.clone());
        key
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.keys.lock().len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sigv4::encoding::hex_lower;

    /// The derived key is not observable through ring's API, so compare what it signs.
    fn fingerprint(key: &hmac::Key) -> String {
        hex_lower(hmac::sign(key, b"fingerprint").as_ref())
    }

    #[test]
    fn derivation_matches_the_aws_documentation_example() {
        // The AWS General Reference's SigV4 walkthrough (secret
        // wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY, 20150830, us-east-1, iam) gives
        // c4afb1cc5771d871763a393e44b703571b55cc28424d1a5e86da6ed3c154a4b9 as kSigning; the
        // value was recomputed here with Python's hmac module.
        let secret = SecretKey::new("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY");
        let derived = derive(&secret, "20150830", "us-east-1", "iam");
        let documented = hmac::Key::new(
            hmac::HMAC_SHA256,
            &crate::sigv4::encoding::hex_decode::<32>(
                "c4afb1cc5771d871763a393e44b703571b55cc28424d1a5e86da6ed3c154a4b9",
            )
            .unwrap(),
        );
        assert_eq!(fingerprint(&derived), fingerprint(&documented));
    }

    #[test]
    fn cache_returns_the_same_key_and_separates_scopes_and_secrets() {
        let cache = SigningKeyCache::default();
        let secret = SecretKey::new("secret");
        let scope = CredentialScope::parse("AKID/20240101/us-east-1/iot/aws4_request").unwrap();
        let first = cache.get(&secret, &scope);
        let second = cache.get(&secret, &scope);
        assert_eq!(fingerprint(&first), fingerprint(&second));
        assert_eq!(cache.len(), 1);

        let next_day = CredentialScope::parse("AKID/20240102/us-east-1/iot/aws4_request").unwrap();
        assert_ne!(
            fingerprint(&cache.get(&secret, &next_day)),
            fingerprint(&first)
        );
        let rotated = cache.get(&SecretKey::new("rotated"), &scope);
        assert_ne!(fingerprint(&rotated), fingerprint(&first));
        assert_eq!(cache.len(), 3);
        assert_eq!(
            fingerprint(&first),
            fingerprint(&derive(&secret, "20240101", "us-east-1", "iot"))
        );
    }

    #[test]
    fn cache_starts_over_when_full() {
        let cache = SigningKeyCache::default();
        let secret = SecretKey::new("secret");
        for n in 0..MAX_ENTRIES + 1 {
            let credential = format!("AKID/20240101/region-{n}/iot/aws4_request");
            cache.get(&secret, &CredentialScope::parse(&credential).unwrap());
        }
        assert_eq!(cache.len(), 1);
    }
}
