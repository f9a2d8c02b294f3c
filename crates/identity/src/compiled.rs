//! Compiled policies, shared: a policy document attached to a thousand devices is parsed
//! once and its compiled form shared by all their connections, instead of once per
//! connection and per refresh.

use std::collections::HashMap;

use ferrite_policy::Policy;
use parking_lot::Mutex;

/// Distinct documents kept before the cache starts over (a policy edit makes a new
/// document; old ones simply age out this way).
const CAPACITY: usize = 4096;

#[derive(Default)]
pub struct PolicyCache {
    by_document: Mutex<HashMap<String, Policy>>,
}

impl PolicyCache {
    /// The compiled form of each stored document; one that no longer parses (it was valid
    /// when stored) is skipped, which can only take permissions away.
    pub fn compile<'a>(&self, docs: impl Iterator<Item = (&'a str, &'a str)>) -> Vec<Policy> {
        docs.filter_map(|(name, doc)| self.get(name, doc)).collect()
    }

    fn get(&self, name: &str, doc: &str) -> Option<Policy> {
        if let Some(p) = self.by_document.lock().get(doc) {
            return Some(p.clone());
        }
        match Policy::parse(doc) {
            Ok(p) => {
                let mut cache = self.by_document.lock();
                if cache.len() >= CAPACITY {
                    cache.clear();
                }
                cache.insert(doc.to_owned(), p.clone());
                Some(p)
            }
            Err(e) => {
                tracing::warn!(policy = name, error = %e, "stored policy does not parse; ignored");
                None
            }
        }
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.by_document.lock().len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iot:*","Resource":"*"}]}"#;

    #[test]
    fn one_document_compiles_once_and_bad_ones_are_skipped() {
        let cache = PolicyCache::default();
        let docs = [("a", DOC), ("b", DOC), ("broken", "{not json")];
        let first = cache.compile(docs.iter().copied());
        let second = cache.compile(docs.iter().copied());
        assert_eq!(first.len(), 2);
        assert_eq!(second.len(), 2);
        assert_eq!(cache.len(), 1);
    }
}
