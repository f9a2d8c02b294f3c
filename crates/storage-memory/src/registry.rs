//! `RegistryStore`: versioned documents in one ordered map, batches decided against an
//! overlay of their own earlier writes and applied only when every condition holds.

use std::collections::HashMap;
use std::ops::Bound;

use ferrite_storage::{
    Change, Expect, Page, Record, RegistryStore, StorageError, StoreFuture, Write, WriteOutcome,
};

use crate::{MemoryStore, State};

type Key = (String, String);

impl RegistryStore for MemoryStore {
    fn get<'a>(&'a self, kind: &'a str, key: &'a str) -> StoreFuture<'a, Option<Record>> {
        self.run(|state| {
            let found = state.registry.get(&(kind.to_owned(), key.to_owned()));
            Ok(found.map(|(version, doc)| Record {
                kind: kind.to_owned(),
                key: key.to_owned(),
                version: *version,
                doc: doc.clone(),
            }))
        })
    }

    fn list<'a>(
        &'a self,
        kind: &'a str,
        prefix: &'a str,
        after: Option<&'a str>,
        limit: usize,
    ) -> StoreFuture<'a, Page> {
        self.run(|state| Ok(state.list(kind, prefix, after, limit.max(1))))
    }

    fn write(&self, batch: Vec<Write>) -> StoreFuture<'_, WriteOutcome> {
        self.run(|state| state.write(batch))
    }

    fn clear(&self) -> StoreFuture<'_, ()> {
        self.run(|state| {
            state.registry.clear();
            Ok(())
        })
    }

    fn next_sequence(&self) -> StoreFuture<'_, u64> {
        self.run(|state| {
            state.sequence += 1;
            Ok(state.sequence)
        })
    }
}

impl State {
    fn list(&self, kind: &str, prefix: &str, after: Option<&str>, limit: usize) -> Page {
        let start = match after {
            Some(a) if a >= prefix => Bound::Excluded((kind.to_owned(), a.to_owned())),
            _ => Bound::Included((kind.to_owned(), prefix.to_owned())),
        };
        let mut matching = self
            .registry
            .range((start, Bound::Unbounded))
            .take_while(|((k, key), _)| k == kind && key.starts_with(prefix));
        let records: Vec<Record> = matching
            .by_ref()
            .take(limit)
            .map(|((kind, key), (version, doc))| Record {
                kind: kind.clone(),
                key: key.clone(),
                version: *version,
                doc: doc.clone(),
            })
            .collect();
        let next_after = match matching.next() {
            Some(_) => records.last().map(|r| r.key.clone()),
            None => None,
        };
        Page {
            records,
            next_after,
        }
    }

    fn write(&mut self, batch: Vec<Write>) -> Result<WriteOutcome, StorageError> {
        refuse_nul(&batch)?;
        // What the batch has done so far: a later write sees an earlier one's effect.
        let mut pending: HashMap<Key, Option<(u64, String)>> = HashMap::new();
        for (index, w) in batch.into_iter().enumerate() {
            let key = (w.kind, w.key);
            let current = match pending.get(&key) {
                Some(p) => p.as_ref().map(|(v, _)| *v),
                None => self.registry.get(&key).map(|(v, _)| *v),
            };
            let holds = match w.expect {
                Expect::Any => true,
                Expect::Absent => current.is_none(),
                Expect::Present => current.is_some(),
                Expect::Version(v) => current == Some(v),
            };
            if !holds {
                return Ok(WriteOutcome::Conflict { index });
            }
            match w.change {
                Change::Put(doc) => {
                    pending.insert(key, Some((current.map_or(1, |v| v + 1), doc)));
                }
                Change::Delete => {
                    pending.insert(key, None);
                }
                Change::Check => {}
            }
        }
        for (key, change) in pending {
            match change {
                Some(record) => self.registry.insert(key, record),
                None => self.registry.remove(&key),
            };
        }
        Ok(WriteOutcome::Applied)
    }
}

/// NUL cannot be stored by PostgreSQL, so no backend stores it (see the trait's contract).
fn refuse_nul(batch: &[Write]) -> Result<(), StorageError> {
    match ferrite_storage::nul_field(batch) {
        None => Ok(()),
        Some(field) => Err(StorageError::Backend(format!(
            "registry: a record's {field} contains a NUL character, which cannot be stored"
        ))),
    }
}
