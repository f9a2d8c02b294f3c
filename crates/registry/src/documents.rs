//! Versioned JSON documents over a [`RegistryStore`], and the optimistic cycle every
//! control-plane write takes: read, decide, write one conditional batch, and on a conflict read
//! and decide again. The registry is built on it; other control-plane services that keep their
//! documents in the same store (topic rules) use it too, so every service retries, pages and
//! reports corrupt records alike.

use std::future::Future;
use std::ops::ControlFlow;
use std::sync::Arc;

use ferrite_storage::{Record, RegistryStore, StorageError, Write, WriteOutcome};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::{Output, RegistryError, token};

/// Attempts of an optimistic read-decide-write cycle before giving up with a conflict.
const MAX_ATTEMPTS: usize = 16;

/// Records read per store call while filtering a listing or reading every record of one.
const SCAN_BATCH: usize = 500;

/// JSON documents in one store.
#[derive(Clone)]
pub struct Documents {
    store: Arc<dyn RegistryStore>,
}

impl Documents {
    pub fn new(store: Arc<dyn RegistryStore>) -> Documents {
        Documents { store }
    }

    pub fn store(&self) -> &Arc<dyn RegistryStore> {
        &self.store
    }

    /// The document of `kind`/`key` and its version, if it exists.
    pub async fn get<T: DeserializeOwned>(
        &self,
        kind: &str,
        key: &str,
    ) -> Result<Option<(T, u64)>, RegistryError> {
        match self.store.get(kind, key).await? {
            None => Ok(None),
            Some(r) => Ok(Some((decode(&r)?, r.version))),
        }
    }

    /// Runs `attempt` until its batch applies; `attempt` returns the writes and what it
    /// decided. Also tells whether the batch that applied wrote anything (an empty batch is
    /// not written). Gives up with [`RegistryError::Busy`] (as `E`) when concurrent writers
    /// keep winning.
    pub async fn retry_wrote<T, E, F, Fut>(&self, mut attempt: F) -> Result<(T, bool), E>
    where
        E: From<RegistryError>,
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<(Vec<Write>, T), E>>,
    {
        for _ in 0..MAX_ATTEMPTS {
            let (writes, output) = attempt().await?;
            if writes.is_empty() {
                return Ok((output, false));
            }
            match self
                .store
                .write(writes)
                .await
                .map_err(RegistryError::from)?
            {
                WriteOutcome::Applied => return Ok((output, true)),
                WriteOutcome::Conflict { .. } => continue,
            }
        }
        Err(RegistryError::Busy.into())
    }

    /// Calls `visit` with the records of `kind` under `prefix` after the key `after`, in key
    /// order, until it breaks or none is left.
    pub async fn scan_until(
        &self,
        kind: &str,
        prefix: &str,
        mut after: Option<String>,
        mut visit: impl FnMut(&Record) -> Result<ControlFlow<()>, RegistryError>,
    ) -> Result<(), RegistryError> {
        loop {
            let page = self
                .store
                .list(kind, prefix, after.as_deref(), SCAN_BATCH)
                .await?;
            for r in &page.records {
                if visit(r)?.is_break() {
                    return Ok(());
                }
            }
            match page.next_after {
                Some(k) => after = Some(k),
                None => return Ok(()),
            }
        }
    }

    /// One page of a listing: records of `kind` under `prefix`, after the position `token`
    /// stands for, rendered by `render` (which returns `None` for records a filter rejects).
    /// Returns the items and the token of the next page, present only when another item
    /// follows, so the last page never points at an empty one.
    pub async fn page<T, F>(
        &self,
        kind: &str,
        prefix: &str,
        next_token: Option<&str>,
        limit: usize,
        mut render: F,
    ) -> Result<(Vec<Output>, Option<String>), RegistryError>
    where
        T: DeserializeOwned,
        F: FnMut(&Record, T) -> Option<Output>,
    {
        let mut items = Vec::new();
        let mut last_included: Option<String> = None;
        let mut more = false;
        self.scan_until(kind, prefix, token::decode(next_token)?, |r| {
            let Some(item) = render(r, decode(r)?) else {
                return Ok(ControlFlow::Continue(()));
            };
            if items.len() == limit {
                more = true;
                return Ok(ControlFlow::Break(()));
            }
            items.push(item);
            last_included = Some(r.key.clone());
            Ok(ControlFlow::Continue(()))
        })
        .await?;
        let next = last_included.filter(|_| more).map(|k| token::encode(&k));
        Ok((items, next))
    }
}

/// A document's stored form.
pub fn encode<T: Serialize>(doc: &T) -> String {
    serde_json::to_string(doc).expect("registry documents serialise")
}

/// A record's document; one that does not decode is a corrupt record.
pub fn decode<T: DeserializeOwned>(r: &Record) -> Result<T, RegistryError> {
    serde_json::from_str(&r.doc).map_err(|e| {
        RegistryError::Storage(StorageError::Corrupt(format!(
            "{} record {:?}: {e}",
            r.kind, r.key
        )))
    })
}
