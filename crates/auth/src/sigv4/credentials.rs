//! The seam between the verifier and wherever access keys live.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

/// A secret access key.
///
/// Deliberately has no `Display`, no equality (comparing secrets is the verifier's job, in
/// constant time) and a `Debug` that prints nothing of the value, so a secret cannot reach a
/// log line by accident. Cloning shares the same allocation.
#[derive(Clone)]
pub struct SecretKey(Arc<str>);

impl SecretKey {
    /// Wraps a secret access key.
    pub fn new(secret: impl Into<Arc<str>>) -> Self {
        Self(secret.into())
    }

    /// The secret's bytes, for key derivation only.
    pub(crate) fn expose(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretKey(<redacted>)")
    }
}

/// Finds the secret for an access key id.
///
/// Called once per verified request, after the request's shape and time have been checked, so
/// it is never asked about requests that fail for other reasons. Implemented for closures
/// `Fn(&str) -> Option<SecretKey>`, for `HashMap<String, SecretKey>` and through `Arc`.
pub trait CredentialLookup {
    /// The secret for `access_key_id`, or `None` if the key is unknown or disabled.
    fn secret_for(&self, access_key_id: &str) -> Option<SecretKey>;
}

impl<F> CredentialLookup for F
where
    F: Fn(&str) -> Option<SecretKey>,
{
    fn secret_for(&self, access_key_id: &str) -> Option<SecretKey> {
        self(access_key_id)
    }
}

impl CredentialLookup for HashMap<String, SecretKey> {
    fn secret_for(&self, access_key_id: &str) -> Option<SecretKey> {
        self.get(access_key_id).cloned()
    }
}

impl<T: CredentialLookup + ?Sized> CredentialLookup for Arc<T> {
    fn secret_for(&self, access_key_id: &str) -> Option<SecretKey> {
        (**self).secret_for(access_key_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_does_not_reveal_the_secret() {
        let secret = SecretKey::new("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY");
        let printed = format!("{secret:?} {:?}", Some(secret.clone()));
        assert!(!printed.contains("wJalr"), "{printed}");
        assert!(printed.contains("redacted"));
    }

    #[test]
    fn lookups_resolve_known_keys_only() {
        let map = HashMap::from([("AKID".to_owned(), SecretKey::new("s"))]);
        assert_eq!(map.secret_for("AKID").unwrap().expose(), b"s");
        assert!(map.secret_for("OTHER").is_none());
        let shared = Arc::new(map);
        assert!(shared.secret_for("AKID").is_some());
        let closure = |id: &str| (id == "AKID").then(|| SecretKey::new("s"));
        assert!(closure.secret_for("AKID").is_some());
        assert!(closure.secret_for("akid").is_none());
    }
}
