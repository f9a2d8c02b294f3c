//! Shadows in the `RegistryStore`: one versioned document per shadow, kind `shadow`, key
//! `{thing}` for the classic shadow and `{thing}/{shadow}` for named ones (thing names
//! cannot contain `/`, so a thing's named shadows list under the prefix `{thing}/`).

use std::sync::Arc;

use ferrite_shadow::{ShadowId, StoredShadow};
use ferrite_storage::{Expect, RegistryStore, StorageError, Write, WriteOutcome};

pub(crate) const KIND: &str = "shadow";

#[derive(Clone)]
pub struct ShadowStore {
    store: Arc<dyn RegistryStore>,
}

pub(crate) fn key(id: &ShadowId) -> String {
    match id.shadow() {
        None => id.thing().as_str().to_owned(),
        Some(name) => format!("{}/{}", id.thing().as_str(), name.as_str()),
    }
}

impl ShadowStore {
    pub fn new(store: Arc<dyn RegistryStore>) -> Self {
        ShadowStore { store }
    }

    /// The stored shadow (live or a deletion tombstone) and its record version.
    pub async fn load(&self, id: &ShadowId) -> Result<Option<(StoredShadow, u64)>, StorageError> {
        self.load_key(&key(id)).await
    }

    pub(crate) async fn load_key(
        &self,
        key: &str,
    ) -> Result<Option<(StoredShadow, u64)>, StorageError> {
        match self.store.get(KIND, key).await? {
            None => Ok(None),
            Some(r) => {
                let shadow = serde_json::from_str(&r.doc)
                    .map_err(|e| StorageError::Corrupt(format!("shadow {:?}: {e}", r.key)))?;
                Ok(Some((shadow, r.version)))
            }
        }
    }

    /// Writes a batch of shadow puts atomically: `Ok(false)` when another writer changed one
    /// of them since it was read (nothing was applied).
    pub(crate) async fn write(&self, writes: Vec<Write>) -> Result<bool, StorageError> {
        Ok(self.store.write(writes).await? == WriteOutcome::Applied)
    }

    /// The deletion of every shadow of `thing`, classic and named, live or tombstone: what
    /// DeleteThing adds to its batch when shadows go with their thing.
    pub async fn deletes_for_thing(&self, thing: &str) -> Result<Vec<Write>, StorageError> {
        let mut writes = Vec::new();
        if self.store.get(KIND, thing).await?.is_some() {
            writes.push(Write::delete(KIND, thing, Expect::Any));
        }
        let prefix = format!("{thing}/");
        let mut cursor: Option<String> = None;
        loop {
            let page = self
                .store
                .list(KIND, &prefix, cursor.as_deref(), 500)
                .await?;
            writes.extend(
                page.records
                    .iter()
                    .map(|r| Write::delete(KIND, &r.key, Expect::Any)),
            );
            match page.next_after {
                Some(k) => cursor = Some(k),
                None => return Ok(writes),
            }
        }
    }

    /// Named shadows of `thing` (live ones only), in name order after `after`.
    pub async fn list_named(
        &self,
        thing: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<(Vec<String>, bool), StorageError> {
        let prefix = format!("{thing}/");
        let mut cursor = after.map(|a| format!("{prefix}{a}"));
        let mut names = Vec::new();
        loop {
            let page = self
                .store
                .list(KIND, &prefix, cursor.as_deref(), 500)
                .await?;
            for r in &page.records {
                let live = matches!(
                    serde_json::from_str::<StoredShadow>(&r.doc),
                    Ok(StoredShadow::Live(_))
                );
                if !live {
                    continue;
                }
                if names.len() == limit {
                    return Ok((names, true));
                }
                names.push(r.key[prefix.len()..].to_owned());
            }
            match page.next_after {
                Some(k) => cursor = Some(k),
                None => return Ok((names, false)),
            }
        }
    }

    /// Stores `shadow` if the record is still at `read_version` (absent when `None`).
    /// `Ok(false)`: someone else wrote first.
    pub async fn save(
        &self,
        id: &ShadowId,
        shadow: &StoredShadow,
        read_version: Option<u64>,
    ) -> Result<bool, StorageError> {
        self.write(vec![put(&key(id), shadow, read_version)?]).await
    }
}

/// The conditional put of `shadow` at `key`, read at `read_version` (absent when `None`).
pub(crate) fn put(
    key: &str,
    shadow: &StoredShadow,
    read_version: Option<u64>,
) -> Result<Write, StorageError> {
    let doc = serde_json::to_string(shadow)
        .map_err(|e| StorageError::Backend(format!("encoding a shadow: {e}")))?;
    let expect = match read_version {
        Some(v) => Expect::Version(v),
        None => Expect::Absent,
    };
    Ok(Write::put(KIND, key, expect, doc))
}
